//! Inputs of the chat domain: `where` filters, `orderBy` entries and the
//! mutation inputs.

use super::types::{ChatMessageRole, ChatPreferenceSection, ChatTier};
use crate::graphql::filter::{combine, opt};
use crate::graphql::filter::{BooleanFilter, DateTimeFilter, IntFilter, StringFilter, UuidFilter};
use crate::graphql::pagination::{SortDirection, SortKey};
use async_graphql::{Enum, InputObject, Json};
use chrono::{DateTime, Utc};
use entity::chat::{chat_messages, chat_sessions, user_activity_log};
use sea_orm::{ColumnTrait, Condition};
use uuid::Uuid;

/// Filter on a message role.
#[derive(InputObject, Clone, Debug, Default)]
pub struct ChatMessageRoleFilter {
    /// Equal to.
    pub eq: Option<ChatMessageRole>,
    /// One of.
    #[graphql(name = "in")]
    pub in_list: Option<Vec<ChatMessageRole>>,
}

impl ChatMessageRoleFilter {
    /// The condition on `column`.
    pub fn condition(&self, column: impl ColumnTrait) -> Condition {
        let mut c = Condition::all();
        if let Some(v) = self.eq {
            c = c.add(column.eq(v.as_db()));
        }
        if let Some(v) = &self.in_list {
            c = c.add(column.is_in(v.iter().map(|r| r.as_db())));
        }
        c
    }
}

/// Which chat sessions to return.
#[derive(InputObject, Clone, Debug, Default)]
pub struct ChatSessionWhere {
    /// Session id.
    pub id: Option<UuidFilter>,
    /// The client's conversation id.
    pub client_id: Option<StringFilter>,
    /// Title.
    pub title: Option<StringFilter>,
    /// Active flag.
    pub is_active: Option<BooleanFilter>,
    /// Number of messages.
    pub message_count: Option<IntFilter>,
    /// Creation time.
    pub created_at: Option<DateTimeFilter>,
    /// Last change.
    pub updated_at: Option<DateTimeFilter>,
    /// All of these.
    pub and: Option<Vec<ChatSessionWhere>>,
    /// Any of these.
    pub or: Option<Vec<ChatSessionWhere>>,
    /// Not this.
    pub not: Option<Box<ChatSessionWhere>>,
}

impl ChatSessionWhere {
    /// The SQL condition.
    pub fn condition(&self) -> Condition {
        use chat_sessions::Column as C;
        let mut c = Condition::all();
        c = opt(c, &self.id, |f| f.condition(C::Id));
        c = opt(c, &self.client_id, |f| f.condition(C::ClientId));
        c = opt(c, &self.title, |f| f.condition(C::Title));
        c = opt(c, &self.is_active, |f| f.condition(C::IsActive));
        c = opt(c, &self.message_count, |f| f.condition(C::MessageCount));
        c = opt(c, &self.created_at, |f| f.condition(C::CreatedAt));
        c = opt(c, &self.updated_at, |f| f.condition(C::UpdatedAt));
        combine(c, &self.and, &self.or, &self.not, Self::condition)
    }
}

/// Which chat messages to return.
#[derive(InputObject, Clone, Debug, Default)]
pub struct ChatMessageWhere {
    /// Message id.
    pub id: Option<UuidFilter>,
    /// The session.
    pub session_id: Option<UuidFilter>,
    /// The client's message id.
    pub client_id: Option<StringFilter>,
    /// Author role.
    pub role: Option<ChatMessageRoleFilter>,
    /// Text.
    pub content: Option<StringFilter>,
    /// Model.
    pub model: Option<StringFilter>,
    /// Failed responses.
    pub has_error: Option<BooleanFilter>,
    /// When the message was sent.
    pub timestamp: Option<DateTimeFilter>,
    /// All of these.
    pub and: Option<Vec<ChatMessageWhere>>,
    /// Any of these.
    pub or: Option<Vec<ChatMessageWhere>>,
    /// Not this.
    pub not: Option<Box<ChatMessageWhere>>,
}

impl ChatMessageWhere {
    /// The SQL condition.
    pub fn condition(&self) -> Condition {
        use chat_messages::Column as C;
        let mut c = Condition::all();
        c = opt(c, &self.id, |f| f.condition(C::Id));
        c = opt(c, &self.session_id, |f| f.condition(C::SessionId));
        c = opt(c, &self.client_id, |f| f.condition(C::ClientId));
        c = opt(c, &self.role, |f| f.condition(C::Role));
        c = opt(c, &self.content, |f| f.condition(C::Content));
        c = opt(c, &self.model, |f| f.condition(C::Model));
        c = opt(c, &self.has_error, |f| f.condition(C::HasError));
        c = opt(c, &self.timestamp, |f| f.condition(C::MessageTimestamp));
        combine(c, &self.and, &self.or, &self.not, Self::condition)
    }
}

/// Which activity log entries to return.
#[derive(InputObject, Clone, Debug, Default)]
pub struct ChatActivityWhere {
    /// Action name (`profile_created`, `tier_updated`, ...).
    pub action: Option<StringFilter>,
    /// When it happened.
    pub timestamp: Option<DateTimeFilter>,
}

impl ChatActivityWhere {
    /// The SQL condition.
    pub fn condition(&self) -> Condition {
        use user_activity_log::Column as C;
        let c = opt(Condition::all(), &self.action, |f| f.condition(C::Action));
        opt(c, &self.timestamp, |f| f.condition(C::Timestamp))
    }
}

/// Sortable fields of chat sessions (indexed: `(user_id, updated_at)`).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChatSessionOrderField {
    /// Last change (a new message or a rename counts).
    UpdatedAt,
}

/// One `orderBy` entry of chat sessions.
#[derive(InputObject, Clone, Copy, Debug)]
pub struct ChatSessionOrder {
    /// The field.
    pub field: ChatSessionOrderField,
    /// The direction.
    #[graphql(default_with = "SortDirection::Desc")]
    pub direction: SortDirection,
}

/// Sortable fields of chat messages (indexed: `(session_id, message_timestamp)`).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChatMessageOrderField {
    /// When the message was sent.
    Timestamp,
}

/// One `orderBy` entry of chat messages.
#[derive(InputObject, Clone, Copy, Debug)]
pub struct ChatMessageOrder {
    /// The field.
    pub field: ChatMessageOrderField,
    /// The direction.
    #[graphql(default_with = "SortDirection::Asc")]
    pub direction: SortDirection,
}

/// The direction of the first entry of `order` (every entity here has one
/// sortable field), or `default`.
pub fn direction_of<O: Copy>(
    order: Option<Vec<O>>,
    default: SortDirection,
    dir: impl Fn(O) -> SortDirection,
) -> SortDirection {
    order
        .and_then(|o| o.first().copied())
        .map(dir)
        .unwrap_or(default)
}

/// Sessions by `updated_at`, then id.
pub fn session_sort_keys(direction: SortDirection) -> Vec<SortKey<chat_sessions::Column>> {
    vec![
        (chat_sessions::Column::UpdatedAt, direction),
        (chat_sessions::Column::Id, direction),
    ]
}

/// Messages by timestamp, then creation time, then id (the order of
/// `get_session_with_messages`).
pub fn message_sort_keys(direction: SortDirection) -> Vec<SortKey<chat_messages::Column>> {
    vec![
        (chat_messages::Column::MessageTimestamp, direction),
        (chat_messages::Column::CreatedAt, direction),
        (chat_messages::Column::Id, direction),
    ]
}

/// Activity newest first.
pub fn activity_sort_keys() -> Vec<SortKey<user_activity_log::Column>> {
    vec![
        (user_activity_log::Column::Timestamp, SortDirection::Desc),
        (user_activity_log::Column::Id, SortDirection::Desc),
    ]
}

/// The user's message of `sendChatMessage`.
#[derive(InputObject, Clone, Debug)]
pub struct ChatUserMessageInput {
    /// The client's message id (generated when omitted; unique per session).
    pub client_id: Option<String>,
    /// The text (not blank).
    pub content: String,
    /// Prompt tokens of the request.
    #[graphql(default)]
    pub input_tokens: i32,
}

/// The assistant's response of `sendChatMessage`.
#[derive(InputObject, Clone, Debug)]
pub struct ChatAssistantMessageInput {
    /// The client's message id (generated when omitted).
    pub client_id: Option<String>,
    /// The text (may be empty when `hasError`).
    pub content: String,
    /// Completion tokens.
    #[graphql(default)]
    pub output_tokens: i32,
    /// The provider's completion id.
    pub completion_id: Option<String>,
    /// How long the response took.
    pub elapsed_ms: Option<i32>,
    /// The response failed.
    #[graphql(default)]
    pub has_error: bool,
    /// Why it failed.
    pub error_message: Option<String>,
}

/// Input of `sendChatMessage`.
#[derive(InputObject, Clone, Debug)]
pub struct SendChatMessageInput {
    /// An existing session of the viewer; omit to start a new conversation.
    pub session_id: Option<Uuid>,
    /// The client's conversation id for a new session (generated when omitted).
    pub client_session_id: Option<String>,
    /// Title of a new session (default: the start of the message).
    pub title: Option<String>,
    /// The model that answered; the viewer's tier must allow it.
    pub model: String,
    /// The user's message.
    pub message: ChatUserMessageInput,
    /// The assistant's response.
    pub response: ChatAssistantMessageInput,
}

/// Input of `renameChatSession`.
#[derive(InputObject, Clone, Debug)]
pub struct RenameChatSessionInput {
    /// The session.
    pub id: Uuid,
    /// New title (1 to 255 characters after trimming).
    pub title: String,
}

/// Input of `deleteChatSession`.
#[derive(InputObject, Clone, Debug)]
pub struct DeleteChatSessionInput {
    /// The session.
    pub id: Uuid,
}

/// Input of `syncChatConversations`.
#[derive(InputObject, Clone, Debug)]
pub struct SyncChatConversationsInput {
    /// The client's conversations: a JSON array of `{id, title?, created_at?,
    /// messages: [{id, role, content, model?, input_tokens?, output_tokens?,
    /// completion_id?, user_message_id?, elapsed_ms?, has_error?,
    /// error_message?, timestamp?}]}` (snake_case, as the seed's client sends).
    pub conversations: Json<serde_json::Value>,
}

/// Input of `updateChatPreferences`.
#[derive(InputObject, Clone, Debug)]
pub struct UpdateChatPreferencesInput {
    /// The section to merge into.
    pub section: ChatPreferenceSection,
    /// A JSON object deep-merged into the section (at most 16 KB).
    pub preferences: Json<serde_json::Value>,
}

/// Input of `updateUserTier` (service role).
#[derive(InputObject, Clone, Debug)]
pub struct UpdateUserTierInput {
    /// The user.
    pub user_id: Uuid,
    /// The new tier.
    pub tier: ChatTier,
}

/// Input of `chatCleanup` (service role).
#[derive(InputObject, Clone, Debug)]
pub struct ChatCleanupInput {
    /// Keep activity logs and daily usage of this many days (at least 1).
    #[graphql(default = 90)]
    pub days_to_keep: i32,
}

/// Input of `recordSignIn` (service role): what the auth system writes to
/// `auth.users` when a user signs in.
#[derive(InputObject, Clone, Debug)]
pub struct RecordSignInInput {
    /// The identity; omitted on a first sign-in (a new id is made).
    pub user_id: Option<Uuid>,
    /// Email address.
    pub email: String,
    /// Display name (`full_name` metadata).
    pub full_name: Option<String>,
    /// Avatar URL (`avatar_url` metadata).
    pub avatar_url: Option<String>,
    /// When the sign-in happened (default: now).
    pub signed_in_at: Option<DateTime<Utc>>,
}
