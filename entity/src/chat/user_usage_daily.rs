//! `chat.user_usage_daily`: a user's usage on one UTC day, accumulated by
//! `chat.track_user_usage`.

use sea_orm::entity::prelude::*;

/// One (user, day). `total_tokens` is generated (`input_tokens + output_tokens`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "chat", table_name = "user_usage_daily")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub usage_date: Date,
    pub messages_sent: i32,
    pub messages_received: i32,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub total_tokens: i64,
    /// Distinct model ids used that day, sorted.
    pub models_used: Vec<String>,
    pub sessions_created: i32,
    pub active_minutes: i32,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
}

/// Foreign keys from `chat.user_usage_daily`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The user (`user_usage_daily_user_id_fkey`).
    #[sea_orm(
        belongs_to = "super::profiles::Entity",
        from = "Column::UserId",
        to = "super::profiles::Column::Id",
        on_delete = "Cascade"
    )]
    Profile,
}

impl Related<super::profiles::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Profile.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
