//! `chat.chat_messages`: one message of a conversation, keyed for sync by the
//! client's message id (`client_id`, unique within its session).

use sea_orm::entity::prelude::*;

/// One message. Its `user_id` is always its session's owner (composite FK
/// `chat_messages_session_id_fkey` on `(session_id, user_id)`).
/// `total_tokens` is a generated column (`input_tokens + output_tokens`):
/// leave it unset when inserting or updating.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "chat", table_name = "chat_messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub session_id: Uuid,
    pub user_id: Uuid,
    /// The frontend's message id (unique within the session).
    #[sea_orm(column_type = "Text")]
    pub client_id: String,
    /// `user`, `assistant` or `system`.
    pub role: String,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    pub model: Option<String>,
    pub input_tokens: i32,
    pub output_tokens: i32,
    pub total_tokens: i32,
    /// The provider's completion id (assistant messages).
    pub completion_id: Option<String>,
    /// `client_id` of the user message an assistant message answers.
    #[sea_orm(column_type = "Text", nullable)]
    pub user_message_id: Option<String>,
    pub elapsed_ms: Option<i32>,
    pub has_error: bool,
    #[sea_orm(column_type = "Text", nullable)]
    pub error_message: Option<String>,
    pub message_timestamp: DateTimeWithTimeZone,
    pub created_at: DateTimeWithTimeZone,
}

/// Foreign keys from `chat.chat_messages`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The session (the database also pins the owner through the composite
    /// key; joining on `session_id` alone is enough since it is the PK).
    #[sea_orm(
        belongs_to = "super::chat_sessions::Entity",
        from = "Column::SessionId",
        to = "super::chat_sessions::Column::Id",
        on_delete = "Cascade"
    )]
    ChatSession,
    /// The owner.
    #[sea_orm(
        belongs_to = "super::profiles::Entity",
        from = "Column::UserId",
        to = "super::profiles::Column::Id",
        on_delete = "Cascade"
    )]
    Profile,
}

impl Related<super::chat_sessions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ChatSession.def()
    }
}

impl Related<super::profiles::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Profile.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
