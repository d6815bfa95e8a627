//! `chat.chat_sessions`: a user's conversation, keyed for sync by the
//! client's own id (`client_id`, unique per user).

use sea_orm::entity::prelude::*;

/// One conversation. `message_count`, `total_tokens`, `last_model`,
/// `last_message_preview` and `last_message_timestamp` are kept by the
/// `on_message_change` trigger; users may update only `title` and `is_active`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "chat", table_name = "chat_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    /// The frontend's conversation id (unique per user).
    #[sea_orm(column_type = "Text")]
    pub client_id: String,
    pub title: String,
    pub is_active: bool,
    pub message_count: i32,
    pub total_tokens: i64,
    pub last_model: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_message_preview: Option<String>,
    pub last_message_timestamp: Option<DateTimeWithTimeZone>,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
    pub last_activity: DateTimeWithTimeZone,
}

/// Foreign keys from and to `chat.chat_sessions`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The owner (`chat_sessions_user_id_fkey`).
    #[sea_orm(
        belongs_to = "super::profiles::Entity",
        from = "Column::UserId",
        to = "super::profiles::Column::Id",
        on_delete = "Cascade"
    )]
    Profile,
    /// The messages of this conversation.
    #[sea_orm(has_many = "super::chat_messages::Entity")]
    ChatMessages,
}

impl Related<super::profiles::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Profile.def()
    }
}

impl Related<super::chat_messages::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ChatMessages.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
