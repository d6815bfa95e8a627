//! `chat.api_user_summary` (view, security_invoker): per user, the sessions
//! and messages stored now and the usage of today and of the last 30 days.

use sea_orm::entity::prelude::*;

/// One user's summary. Read-only. "Today" and "last 30 days" are UTC days,
/// today included; message figures count sent plus received.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "chat", table_name = "api_user_summary")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    pub email: String,
    pub full_name: Option<String>,
    pub subscription_tier: String,
    pub created_at: DateTimeWithTimeZone,
    pub last_active: Option<DateTimeWithTimeZone>,
    /// Conversations stored now.
    pub total_sessions: i64,
    /// Conversations with `is_active`.
    pub active_sessions: i64,
    /// Messages stored now, over all conversations.
    pub total_messages: i64,
    /// Tokens of the messages stored now.
    pub total_session_tokens: i64,
    pub last_message_at: Option<DateTimeWithTimeZone>,
    pub messages_today: i64,
    pub tokens_today: i64,
    pub messages_last_30_days: i64,
    pub tokens_last_30_days: i64,
}

/// Read-only view: no foreign keys declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
