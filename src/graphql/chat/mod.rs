//! The chat domain (seed 003): the viewer's chat profile, conversations with
//! their messages, daily usage, allowed models, activity log and summary,
//! the chat scenarios as mutations (send, rename, delete, clear, sync,
//! preferences, GDPR export) and the service-role operations (sign-in sync,
//! tier changes, cleanup, database health).

pub mod inputs;
pub mod loaders;
pub mod service;
pub mod subscription;
pub mod types;

pub use loaders::register_loaders;
pub use subscription::ChatSubscription;

use crate::auth::Role;
use crate::graphql::context::require_signed_in;
use crate::graphql::context::{require_user, tx, viewer};
use crate::graphql::error::{ApiError, ApiResult, ResultExt};
use crate::graphql::pagination::{root_page, wants_total};
use crate::graphql::pagination::{
    ApiConnection, ConnectionTotal, SortDirection, DEFAULT_PAGE_SIZE,
};
use async_graphql::connection::Connection;
use async_graphql::{Context, Json, Object};
use chrono::NaiveDate;
use inputs::{
    direction_of, ChatActivityWhere, ChatCleanupInput, ChatMessageOrder, ChatMessageWhere,
    ChatSessionOrder, ChatSessionWhere, DeleteChatSessionInput, RecordSignInInput,
    RenameChatSessionInput, SendChatMessageInput, SyncChatConversationsInput,
    UpdateChatPreferencesInput, UpdateUserTierInput,
};
use types::{
    ChatActivity, ChatCleanupPayload, ChatMessage, ChatModel, ChatProfile, ChatSession, ChatUsage,
    ChatUserSummary, ClearChatSessionsPayload, DeleteChatSessionPayload, ExportMyDataPayload,
    RecordSignInPayload, RenameChatSessionPayload, SendChatMessagePayload,
    SyncChatConversationsPayload, UpdateChatPreferencesPayload, UpdateUserTierPayload,
};
use uuid::Uuid;

/// Service-role operations: anon is UNAUTHENTICATED, a user FORBIDDEN (and
/// the database refuses them too: the functions check the role).
fn service_only(ctx: &Context<'_>) -> ApiResult<()> {
    let v = viewer(ctx);
    if v.is_service() {
        return Ok(());
    }
    if matches!(v.role, Role::Anon) {
        return Err(ApiError::Unauthenticated("sign in first".into()));
    }
    Err(ApiError::Forbidden(
        "this operation is for the service role only".into(),
    ))
}

fn empty<N: async_graphql::OutputType>() -> ApiConnection<N> {
    Connection::with_additional_fields(false, false, ConnectionTotal::default())
}

/// Root queries of the chat domain.
#[derive(Default)]
pub struct ChatQuery;

#[Object]
impl ChatQuery {
    /// The viewer's conversations, most recently updated first.
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "first.or(last).map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn chat_sessions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(name = "where")] filter: Option<ChatSessionWhere>,
        order_by: Option<Vec<ChatSessionOrder>>,
    ) -> async_graphql::Result<ApiConnection<ChatSession>> {
        require_signed_in(ctx).gql()?;
        let page = root_page(ctx, first, after, last, before).gql()?;
        let direction = direction_of(order_by, SortDirection::Desc, |o| o.direction);
        service::list_sessions(
            tx(ctx).await.gql()?,
            filter,
            direction,
            &page,
            wants_total(ctx),
        )
        .await
        .gql()
    }

    /// One conversation by id; null when it does not exist or is not the
    /// viewer's.
    async fn chat_session(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<Option<ChatSession>> {
        require_signed_in(ctx).gql()?;
        service::get_session(tx(ctx).await.gql()?, id).await.gql()
    }

    /// Messages of the viewer's conversations (default: oldest first); page
    /// one conversation with `where: {sessionId: {eq: ...}}`.
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "first.or(last).map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn chat_messages(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(name = "where")] filter: Option<ChatMessageWhere>,
        order_by: Option<Vec<ChatMessageOrder>>,
    ) -> async_graphql::Result<ApiConnection<ChatMessage>> {
        require_signed_in(ctx).gql()?;
        let page = root_page(ctx, first, after, last, before).gql()?;
        let direction = direction_of(order_by, SortDirection::Asc, |o| o.direction);
        service::list_messages(
            tx(ctx).await.gql()?,
            filter,
            direction,
            &page,
            wants_total(ctx),
        )
        .await
        .gql()
    }

    /// The model catalogue: every active (model, tier) entry with its limits.
    /// Public (a pricing page shows it before sign-in).
    async fn chat_models(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ChatModel>> {
        service::model_catalogue(tx(ctx).await.gql()?).await.gql()
    }

    /// Service role: table and index health of the chat schema
    /// (`analyze_database_health`).
    async fn chat_database_health(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Json<serde_json::Value>> {
        service_only(ctx).gql()?;
        service::database_health(tx(ctx).await.gql()?)
            .await
            .map(Json)
            .gql()
    }
}

/// Chat fields of `viewer`.
#[derive(Default)]
pub struct ChatViewerFields;

#[Object]
impl ChatViewerFields {
    /// The viewer's chat profile (preferences, tier, lifetime usage); null
    /// for anon and before the first sign-in.
    async fn chat_profile(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ChatProfile>> {
        let Some(user) = viewer(ctx).user_id else {
            return Ok(None);
        };
        service::profile(tx(ctx).await.gql()?, user).await.gql()
    }

    /// The viewer's daily usage from `from` to `to` (UTC days, inclusive, at
    /// most 366), with totals; empty for anon.
    async fn chat_usage(
        &self,
        ctx: &Context<'_>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> async_graphql::Result<ChatUsage> {
        let Some(user) = viewer(ctx).user_id else {
            return Ok(ChatUsage::default());
        };
        service::usage(tx(ctx).await.gql()?, user, from, to)
            .await
            .gql()
    }

    /// The models the viewer's tier may use, each once with the limits of
    /// the highest tier listing it; empty for anon.
    async fn chat_allowed_models(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<ChatModel>> {
        let Some(user) = viewer(ctx).user_id else {
            return Ok(Vec::new());
        };
        service::allowed_models(tx(ctx).await.gql()?, user)
            .await
            .gql()
    }

    /// Whether the viewer's tier allows `modelId`; false for anon.
    async fn can_use_chat_model(
        &self,
        ctx: &Context<'_>,
        model_id: String,
    ) -> async_graphql::Result<bool> {
        let Some(user) = viewer(ctx).user_id else {
            return Ok(false);
        };
        service::can_use_model(tx(ctx).await.gql()?, user, &model_id)
            .await
            .gql()
    }

    /// The viewer's activity log, newest first; empty for anon.
    #[graphql(
        complexity = "first.or(last).map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn chat_activity(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(name = "where")] filter: Option<ChatActivityWhere>,
    ) -> async_graphql::Result<ApiConnection<ChatActivity>> {
        let page = root_page(ctx, first, after, last, before).gql()?;
        let Some(user) = viewer(ctx).user_id else {
            return Ok(empty());
        };
        service::list_activity(tx(ctx).await.gql()?, user, filter, &page, wants_total(ctx))
            .await
            .gql()
    }

    /// The viewer's row of `api_user_summary`; null for anon.
    async fn chat_summary(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<ChatUserSummary>> {
        let Some(user) = viewer(ctx).user_id else {
            return Ok(None);
        };
        service::summary(tx(ctx).await.gql()?, user).await.gql()
    }

    /// Profile, preferences, allowed models and usage (lifetime, today, last
    /// 30 days) as one document (`get_user_complete_profile`); null for anon.
    async fn chat_complete_profile(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Json<serde_json::Value>>> {
        let Some(user) = viewer(ctx).user_id else {
            return Ok(None);
        };
        Ok(service::complete_profile(tx(ctx).await.gql()?, user)
            .await
            .gql()?
            .map(Json))
    }
}

/// Mutations of the chat domain. Each runs in the request's transaction.
#[derive(Default)]
pub struct ChatMutation;

#[Object]
impl ChatMutation {
    /// Stores a user message and the assistant's response (in a new session
    /// when `sessionId` is omitted) and adds them to today's usage, at once.
    /// FORBIDDEN when the viewer's tier does not include `model`.
    async fn send_chat_message(
        &self,
        ctx: &Context<'_>,
        input: SendChatMessageInput,
    ) -> async_graphql::Result<SendChatMessagePayload> {
        let user = require_user(ctx).gql()?;
        service::send_message(tx(ctx).await.gql()?, user, input)
            .await
            .gql()
    }

    /// Renames one of the viewer's conversations.
    async fn rename_chat_session(
        &self,
        ctx: &Context<'_>,
        input: RenameChatSessionInput,
    ) -> async_graphql::Result<RenameChatSessionPayload> {
        let user = require_user(ctx).gql()?;
        let session = service::rename_session(tx(ctx).await.gql()?, user, input.id, &input.title)
            .await
            .gql()?;
        Ok(RenameChatSessionPayload { session })
    }

    /// Deletes one of the viewer's conversations with its messages.
    async fn delete_chat_session(
        &self,
        ctx: &Context<'_>,
        input: DeleteChatSessionInput,
    ) -> async_graphql::Result<DeleteChatSessionPayload> {
        let user = require_user(ctx).gql()?;
        let deleted_id = service::delete_session(tx(ctx).await.gql()?, user, input.id)
            .await
            .gql()?;
        Ok(DeleteChatSessionPayload { deleted_id })
    }

    /// Deletes all of the viewer's conversations with their messages.
    async fn clear_chat_sessions(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<ClearChatSessionsPayload> {
        let user = require_user(ctx).gql()?;
        let deleted_count = service::clear_sessions(tx(ctx).await.gql()?, user)
            .await
            .gql()?;
        Ok(ClearChatSessionsPayload { deleted_count })
    }

    /// Upserts the client's conversations and messages: idempotent (the same
    /// payload twice changes nothing) and all-or-nothing.
    async fn sync_chat_conversations(
        &self,
        ctx: &Context<'_>,
        input: SyncChatConversationsInput,
    ) -> async_graphql::Result<SyncChatConversationsPayload> {
        let user = require_user(ctx).gql()?;
        service::sync_conversations(tx(ctx).await.gql()?, user, input.conversations.0)
            .await
            .gql()
    }

    /// Deep-merges preferences into one section of the viewer's preferences.
    async fn update_chat_preferences(
        &self,
        ctx: &Context<'_>,
        input: UpdateChatPreferencesInput,
    ) -> async_graphql::Result<UpdateChatPreferencesPayload> {
        let user = require_user(ctx).gql()?;
        let preferences = service::update_preferences(tx(ctx).await.gql()?, user, input)
            .await
            .gql()?;
        Ok(UpdateChatPreferencesPayload {
            preferences: Json(preferences),
        })
    }

    /// Everything stored about the viewer, as JSON (GDPR export).
    async fn export_my_data(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<ExportMyDataPayload> {
        let user = require_user(ctx).gql()?;
        let data = service::export_data(tx(ctx).await.gql()?, user)
            .await
            .gql()?;
        Ok(ExportMyDataPayload { data: Json(data) })
    }

    /// Service role: changes a user's subscription tier (logs `tier_updated`).
    async fn update_user_tier(
        &self,
        ctx: &Context<'_>,
        input: UpdateUserTierInput,
    ) -> async_graphql::Result<UpdateUserTierPayload> {
        service_only(ctx).gql()?;
        let profile = service::update_tier(tx(ctx).await.gql()?, input.user_id, input.tier)
            .await
            .gql()?;
        Ok(UpdateUserTierPayload { profile })
    }

    /// Service role: deletes activity logs and daily usage older than
    /// `daysToKeep` days and expired cache entries (`cleanup_old_data`).
    async fn chat_cleanup(
        &self,
        ctx: &Context<'_>,
        input: ChatCleanupInput,
    ) -> async_graphql::Result<ChatCleanupPayload> {
        service_only(ctx).gql()?;
        service::cleanup(tx(ctx).await.gql()?, input.days_to_keep)
            .await
            .gql()
    }

    /// Service role: a sign-in as the auth system records it (first:
    /// inserts the identity; returning: updates it). The database trigger
    /// creates or syncs the chat profile and logs `profile_created` or
    /// `profile_synced`.
    async fn record_sign_in(
        &self,
        ctx: &Context<'_>,
        input: RecordSignInInput,
    ) -> async_graphql::Result<RecordSignInPayload> {
        service_only(ctx).gql()?;
        service::record_sign_in(tx(ctx).await.gql()?, input)
            .await
            .gql()
    }
}
