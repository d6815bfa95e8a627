//! GraphQL object types of the chat domain: profile, sessions, messages,
//! daily usage, models, activity, the summary view and mutation payloads.

use super::inputs::{direction_of, ChatMessageOrder};
use super::loaders::{load_session, ChatLoader, MessagesOfSession};
use crate::graphql::error::ResultExt;
use crate::graphql::loading::nested_connection;
use crate::graphql::pagination::{ApiConnection, SortDirection, DEFAULT_PAGE_SIZE};
use async_graphql::{Context, Json, Object, SimpleObject};
use chrono::{DateTime, FixedOffset, NaiveDate};
use entity::chat::{
    api_user_summary, chat_messages, chat_sessions, profiles, user_activity_log, user_usage_daily,
};
use uuid::Uuid;

use crate::graphql::enums::db_enum;

db_enum!(
    /// Subscription tier; tiers are cumulative (free < pro < enterprise).
    ChatTier {
        /// Free.
        Free => "free",
        /// Pro.
        Pro => "pro",
        /// Enterprise.
        Enterprise => "enterprise",
    }
);

db_enum!(
    /// Who wrote a chat message.
    ChatMessageRole {
        /// The user.
        User => "user",
        /// The model.
        Assistant => "assistant",
        /// A system prompt.
        System => "system",
    }
);

db_enum!(
    /// A section of the chat preferences.
    ChatPreferenceSection {
        /// Interface settings.
        Ui => "ui",
        /// Session settings.
        Session => "session",
        /// Model settings.
        Model => "model",
    }
);

/// The viewer's chat profile (`chat.profiles`), synced from sign-ins.
#[derive(Clone, Debug)]
pub struct ChatProfile(pub profiles::Model);

#[Object]
impl ChatProfile {
    /// Same id as the user.
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// Email address (from the last sign-in).
    async fn email(&self) -> &str {
        &self.0.email
    }
    /// Display name.
    async fn full_name(&self) -> Option<&str> {
        self.0.full_name.as_deref()
    }
    /// Avatar URL.
    async fn avatar_url(&self) -> Option<&str> {
        self.0.avatar_url.as_deref()
    }
    /// Subscription tier.
    async fn tier(&self) -> async_graphql::Result<ChatTier> {
        ChatTier::from_db(&self.0.subscription_tier).gql()
    }
    /// Preferences: an object with the sections `ui`, `session`, `model`.
    async fn preferences(&self) -> Json<serde_json::Value> {
        Json(self.0.preferences.clone())
    }
    /// Lifetime usage totals (messages, tokens, sessions, active minutes).
    async fn usage_stats(&self) -> Json<serde_json::Value> {
        Json(self.0.usage_stats.clone())
    }
    /// Last sign-in or usage.
    async fn last_active(&self) -> Option<DateTime<FixedOffset>> {
        self.0.last_active
    }
    /// Created at the first sign-in.
    async fn created_at(&self) -> DateTime<FixedOffset> {
        self.0.created_at
    }
    /// Last change.
    async fn updated_at(&self) -> DateTime<FixedOffset> {
        self.0.updated_at
    }
}

/// A conversation (`chat.chat_sessions`).
#[derive(Clone, Debug)]
pub struct ChatSession(pub chat_sessions::Model);

#[Object]
impl ChatSession {
    /// Session id.
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// The client's conversation id (unique per user; the sync key).
    async fn client_id(&self) -> &str {
        &self.0.client_id
    }
    /// Title.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Active flag.
    async fn is_active(&self) -> bool {
        self.0.is_active
    }
    /// Number of messages (kept by trigger).
    async fn message_count(&self) -> i32 {
        self.0.message_count
    }
    /// Tokens over all messages (kept by trigger).
    async fn total_tokens(&self) -> i64 {
        self.0.total_tokens
    }
    /// Model of the latest message that named one.
    async fn last_model(&self) -> Option<&str> {
        self.0.last_model.as_deref()
    }
    /// First 100 characters of the latest message.
    async fn last_message_preview(&self) -> Option<&str> {
        self.0.last_message_preview.as_deref()
    }
    /// Time of the latest message.
    async fn last_message_timestamp(&self) -> Option<DateTime<FixedOffset>> {
        self.0.last_message_timestamp
    }
    /// Creation time.
    async fn created_at(&self) -> DateTime<FixedOffset> {
        self.0.created_at
    }
    /// Last change (a message or a rename).
    async fn updated_at(&self) -> DateTime<FixedOffset> {
        self.0.updated_at
    }
    /// Last activity.
    async fn last_activity(&self) -> DateTime<FixedOffset> {
        self.0.last_activity
    }

    /// The session's messages (default: oldest first by timestamp). To page
    /// further, use `chatMessages(where: {sessionId: ...})`.
    #[graphql(
        complexity = "first.map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn messages(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        order_by: Option<Vec<ChatMessageOrder>>,
    ) -> async_graphql::Result<ApiConnection<ChatMessage>> {
        let direction = direction_of(order_by, SortDirection::Asc, |o| o.direction);
        nested_connection::<ChatLoader, MessagesOfSession, _>(
            ctx,
            self.0.id,
            first,
            direction,
            ChatMessage,
        )
        .await
    }
}

/// One message of a conversation (`chat.chat_messages`).
#[derive(Clone, Debug)]
pub struct ChatMessage(pub chat_messages::Model);

#[Object]
impl ChatMessage {
    /// Message id.
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// The session.
    async fn session_id(&self) -> Uuid {
        self.0.session_id
    }
    /// The conversation the message belongs to (loaded in one statement for
    /// every message of a response).
    async fn session(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ChatSession>> {
        Ok(load_session(ctx, self.0.session_id).await?.map(ChatSession))
    }
    /// The client's message id (unique within the session).
    async fn client_id(&self) -> &str {
        &self.0.client_id
    }
    /// Who wrote it.
    async fn role(&self) -> async_graphql::Result<ChatMessageRole> {
        ChatMessageRole::from_db(&self.0.role).gql()
    }
    /// The text.
    async fn content(&self) -> &str {
        &self.0.content
    }
    /// Model.
    async fn model(&self) -> Option<&str> {
        self.0.model.as_deref()
    }
    /// Prompt tokens.
    async fn input_tokens(&self) -> i32 {
        self.0.input_tokens
    }
    /// Completion tokens.
    async fn output_tokens(&self) -> i32 {
        self.0.output_tokens
    }
    /// Input plus output tokens.
    async fn total_tokens(&self) -> i32 {
        self.0.total_tokens
    }
    /// The provider's completion id.
    async fn completion_id(&self) -> Option<&str> {
        self.0.completion_id.as_deref()
    }
    /// `clientId` of the user message this one answers.
    async fn user_message_id(&self) -> Option<&str> {
        self.0.user_message_id.as_deref()
    }
    /// Response time.
    async fn elapsed_ms(&self) -> Option<i32> {
        self.0.elapsed_ms
    }
    /// The response failed.
    async fn has_error(&self) -> bool {
        self.0.has_error
    }
    /// Why it failed.
    async fn error_message(&self) -> Option<&str> {
        self.0.error_message.as_deref()
    }
    /// When it was sent.
    async fn timestamp(&self) -> DateTime<FixedOffset> {
        self.0.message_timestamp
    }
    /// When it was stored.
    async fn created_at(&self) -> DateTime<FixedOffset> {
        self.0.created_at
    }
}

/// The viewer's usage on one UTC day (`chat.user_usage_daily`).
#[derive(SimpleObject, Clone, Debug)]
pub struct ChatUsageDay {
    /// The day (UTC).
    pub usage_date: NaiveDate,
    /// Messages sent.
    pub messages_sent: i32,
    /// Responses received.
    pub messages_received: i32,
    /// Prompt tokens.
    pub input_tokens: i64,
    /// Completion tokens.
    pub output_tokens: i64,
    /// Input plus output tokens.
    pub total_tokens: i64,
    /// Distinct models used, sorted.
    pub models_used: Vec<String>,
    /// Conversations started.
    pub sessions_created: i32,
    /// Active minutes.
    pub active_minutes: i32,
}

impl From<user_usage_daily::Model> for ChatUsageDay {
    fn from(m: user_usage_daily::Model) -> Self {
        Self {
            usage_date: m.usage_date,
            messages_sent: m.messages_sent,
            messages_received: m.messages_received,
            input_tokens: m.input_tokens,
            output_tokens: m.output_tokens,
            total_tokens: m.total_tokens,
            models_used: m.models_used,
            sessions_created: m.sessions_created,
            active_minutes: m.active_minutes,
        }
    }
}

/// Sums over the days of a range.
#[derive(SimpleObject, Clone, Debug, Default)]
pub struct ChatUsageTotals {
    /// Days with usage.
    pub active_days: i32,
    /// Messages sent.
    pub messages_sent: i64,
    /// Responses received.
    pub messages_received: i64,
    /// Prompt tokens.
    pub input_tokens: i64,
    /// Completion tokens.
    pub output_tokens: i64,
    /// Input plus output tokens.
    pub total_tokens: i64,
    /// Conversations started.
    pub sessions_created: i64,
    /// Active minutes.
    pub active_minutes: i64,
    /// Distinct models used over the range, sorted.
    pub models_used: Vec<String>,
}

/// Daily usage over a date range, with totals.
#[derive(SimpleObject, Clone, Debug, Default)]
pub struct ChatUsage {
    /// Days with usage, oldest first (days without usage are absent).
    pub days: Vec<ChatUsageDay>,
    /// Sums over `days`.
    pub totals: ChatUsageTotals,
}

/// A model and its limits for a tier (`chat.model_access`,
/// `get_user_allowed_models`).
#[derive(SimpleObject, Clone, Debug, sea_orm::FromQueryResult)]
pub struct ChatModel {
    /// Model id as the provider names it.
    pub model_id: String,
    /// Display name.
    pub model_name: String,
    /// Description.
    pub model_description: Option<String>,
    /// The tier whose entry gave these limits (`free`, `pro`, `enterprise`).
    pub tier: String,
    /// Messages per day; null is unlimited.
    pub daily_limit: Option<i32>,
    /// Messages per month; null is unlimited.
    pub monthly_limit: Option<i32>,
}

/// One entry of the viewer's activity log (`chat.user_activity_log`).
#[derive(Clone, Debug)]
pub struct ChatActivity(pub user_activity_log::Model);

#[Object]
impl ChatActivity {
    /// Entry id.
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// What happened (`profile_created`, `profile_synced`,
    /// `preferences_updated`, `tier_updated`, ...).
    async fn action(&self) -> &str {
        &self.0.action
    }
    /// Details (a JSON object).
    async fn details(&self) -> Json<serde_json::Value> {
        Json(self.0.details.clone())
    }
    /// The client's conversation id the action was about.
    async fn session_id(&self) -> Option<&str> {
        self.0.session_id.as_deref()
    }
    /// Client IP address.
    async fn ip_address(&self) -> Option<String> {
        self.0.ip_address.map(|ip| ip.to_string())
    }
    /// Client user agent.
    async fn user_agent(&self) -> Option<&str> {
        self.0.user_agent.as_deref()
    }
    /// When it happened.
    async fn timestamp(&self) -> DateTime<FixedOffset> {
        self.0.timestamp
    }
}

/// The viewer's row of `chat.api_user_summary`.
#[derive(Clone, Debug)]
pub struct ChatUserSummary(pub api_user_summary::Model);

#[Object]
impl ChatUserSummary {
    /// The user.
    async fn user_id(&self) -> Uuid {
        self.0.user_id
    }
    /// Email address.
    async fn email(&self) -> &str {
        &self.0.email
    }
    /// Display name.
    async fn full_name(&self) -> Option<&str> {
        self.0.full_name.as_deref()
    }
    /// Subscription tier.
    async fn tier(&self) -> async_graphql::Result<ChatTier> {
        ChatTier::from_db(&self.0.subscription_tier).gql()
    }
    /// Profile creation.
    async fn created_at(&self) -> DateTime<FixedOffset> {
        self.0.created_at
    }
    /// Last activity.
    async fn last_active(&self) -> Option<DateTime<FixedOffset>> {
        self.0.last_active
    }
    /// Conversations stored now.
    async fn total_sessions(&self) -> i64 {
        self.0.total_sessions
    }
    /// Active conversations.
    async fn active_sessions(&self) -> i64 {
        self.0.active_sessions
    }
    /// Messages stored now.
    async fn total_messages(&self) -> i64 {
        self.0.total_messages
    }
    /// Tokens of the messages stored now.
    async fn total_session_tokens(&self) -> i64 {
        self.0.total_session_tokens
    }
    /// Latest message.
    async fn last_message_at(&self) -> Option<DateTime<FixedOffset>> {
        self.0.last_message_at
    }
    /// Messages sent and received today (UTC).
    async fn messages_today(&self) -> i64 {
        self.0.messages_today
    }
    /// Tokens today (UTC).
    async fn tokens_today(&self) -> i64 {
        self.0.tokens_today
    }
    /// Messages over the last 30 days, today included.
    async fn messages_last_30_days(&self) -> i64 {
        self.0.messages_last_30_days
    }
    /// Tokens over the last 30 days, today included.
    async fn tokens_last_30_days(&self) -> i64 {
        self.0.tokens_last_30_days
    }
}

/// The result of `sendChatMessage`.
#[derive(SimpleObject)]
pub struct SendChatMessagePayload {
    /// The session, with the stats the new messages brought.
    pub session: ChatSession,
    /// The stored user message.
    pub user_message: ChatMessage,
    /// The stored assistant response.
    pub assistant_message: ChatMessage,
    /// The viewer's usage of today after this exchange.
    pub usage_today: ChatUsageDay,
}

/// The result of `renameChatSession`.
#[derive(SimpleObject)]
pub struct RenameChatSessionPayload {
    /// The renamed session.
    pub session: ChatSession,
}

/// The result of `deleteChatSession`.
#[derive(SimpleObject)]
pub struct DeleteChatSessionPayload {
    /// The id of the deleted session.
    pub deleted_id: Uuid,
}

/// The result of `clearChatSessions`.
#[derive(SimpleObject)]
pub struct ClearChatSessionsPayload {
    /// How many sessions were deleted (their messages went with them).
    pub deleted_count: i64,
}

/// The result of `syncChatConversations`: what changed.
#[derive(SimpleObject, Default, Debug)]
pub struct SyncChatConversationsPayload {
    /// Conversations in the payload.
    pub conversations: i32,
    /// Sessions created.
    pub sessions_created: i32,
    /// Sessions whose title changed.
    pub sessions_updated: i32,
    /// Messages inserted.
    pub messages_inserted: i32,
    /// Messages changed.
    pub messages_updated: i32,
    /// Messages already stored as sent.
    pub messages_unchanged: i32,
}

/// The result of `updateChatPreferences`.
#[derive(SimpleObject)]
pub struct UpdateChatPreferencesPayload {
    /// All preferences after the merge.
    pub preferences: Json<serde_json::Value>,
}

/// The result of `exportMyData`.
#[derive(SimpleObject)]
pub struct ExportMyDataPayload {
    /// Everything stored about the viewer: profile, sessions with messages,
    /// daily usage, activity log.
    pub data: Json<serde_json::Value>,
}

/// The result of `updateUserTier`.
#[derive(SimpleObject)]
pub struct UpdateUserTierPayload {
    /// The changed profile.
    pub profile: ChatProfile,
}

/// The result of `chatCleanup`.
#[derive(SimpleObject, Default, Debug)]
pub struct ChatCleanupPayload {
    /// Activity log entries deleted.
    pub activity_logs_deleted: i64,
    /// Daily usage rows deleted.
    pub usage_rows_deleted: i64,
    /// Expired cache entries deleted.
    pub cache_entries_deleted: i64,
}

/// The result of `recordSignIn`.
#[derive(SimpleObject)]
pub struct RecordSignInPayload {
    /// The user's profile after the sync trigger ran.
    pub profile: ChatProfile,
    /// True on the first sign-in (the identity was created).
    pub created: bool,
}
