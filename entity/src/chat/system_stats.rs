//! `chat.system_stats`: system-wide figures, one row per day (service role only).

use sea_orm::entity::prelude::*;

/// The figures of one day.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "chat", table_name = "system_stats")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub stat_date: Date,
    pub total_users: i32,
    pub active_users: i32,
    pub new_users: i32,
    pub total_sessions: i32,
    pub total_messages: i64,
    pub total_tokens: i64,
    #[sea_orm(column_type = "JsonBinary")]
    pub details: Json,
    pub created_at: DateTimeWithTimeZone,
}

/// No foreign keys.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
