//! Live lift: one session's state (status, counts, latest drafts) after
//! every change to it or its revisions, drafts and hole resolutions.

use super::service::get_session;
use super::types::LiftSession;
use crate::auth::Viewer;
use crate::graphql::error::{ApiError, ApiResult, ResultExt};
use crate::graphql::live::{require_signed_in, state_feed, StateFeed};
use crate::live::{Filter, Key, LiveEvent};
use async_graphql::{Context, Subscription};
use futures_util::Stream;
use sea_orm::DatabaseTransaction;
use std::sync::Arc;
use uuid::Uuid;

/// The lift subscriptions.
#[derive(Default)]
pub struct LiftSubscription;

#[Subscription]
impl LiftSubscription {
    /// The session now, then again after every committed change to it or
    /// to its revisions, drafts and hole resolutions (bursts are coalesced).
    /// Yields null and ends when the session is deleted.
    async fn lift_session(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<impl Stream<Item = Option<LiftSession>>> {
        state_feed(ctx, SessionFeed { id }).await.gql()
    }
}

struct SessionFeed {
    id: Uuid,
}

#[async_graphql::async_trait::async_trait]
impl StateFeed for SessionFeed {
    type Item = LiftSession;

    async fn route(&self, tx: &DatabaseTransaction, viewer: &Viewer) -> ApiResult<(Key, Filter)> {
        require_signed_in(viewer)?;
        // RLS: another user's (or a missing) session is not found.
        get_session(tx, self.id)
            .await?
            .ok_or(ApiError::NotFound("lift session"))?;
        let filter: Filter = Arc::new(|e: &LiveEvent| e.table.starts_with("lift."));
        Ok((Key::Session(self.id), filter))
    }

    async fn current(&self, tx: &DatabaseTransaction) -> ApiResult<Option<LiftSession>> {
        get_session(tx, self.id).await
    }
}
