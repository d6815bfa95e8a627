//! Live analytics: new alert history rows of a workspace the viewer is a
//! member of.

use super::service::visible_workspace;
use super::types::AnalyticsAlert;
use crate::auth::Viewer;
use crate::graphql::error::{ApiResult, ResultExt};
use crate::graphql::live::{
    cursor_of, event_ids, parse_after, require_signed_in, row_feed, select_raw, RowFeed,
};
use crate::live::{Cursor, Filter, Key, LiveEvent};
use async_graphql::{Context, SimpleObject, Subscription};
use entity::analytics::alert_history;
use futures_util::Stream;
use sea_orm::DatabaseTransaction;
use std::sync::Arc;
use uuid::Uuid;

const ALERTS: &str = "analytics.alert_history";

/// An alert delivered by `alerts`, with its resume cursor.
#[derive(SimpleObject)]
pub struct AnalyticsAlertEvent {
    /// Pass as `after:` to resume right after this alert.
    pub cursor: String,
    /// The alert.
    pub alert: AnalyticsAlert,
}

/// The analytics subscriptions.
#[derive(Default)]
pub struct AnalyticsSubscription;

#[Subscription]
impl AnalyticsSubscription {
    /// Alerts fired in a workspace the viewer is a member of, oldest first
    /// (by `triggeredAt`). With `after`, first the alerts fired since then.
    async fn alerts(
        &self,
        ctx: &Context<'_>,
        workspace_id: Uuid,
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = AnalyticsAlertEvent>> {
        let after = parse_after(after.as_deref()).gql()?;
        row_feed(ctx, AlertsFeed { workspace_id }, after)
            .await
            .gql()
    }
}

struct AlertsFeed {
    workspace_id: Uuid,
}

fn deliveries(rows: Vec<alert_history::Model>) -> Vec<(Cursor, AnalyticsAlertEvent)> {
    rows.into_iter()
        .map(|a| {
            let cursor = cursor_of(a.triggered_at, a.id);
            let event = AnalyticsAlertEvent {
                cursor: cursor.encode(),
                alert: AnalyticsAlert(a),
            };
            (cursor, event)
        })
        .collect()
}

#[async_graphql::async_trait::async_trait]
impl RowFeed for AlertsFeed {
    type Item = AnalyticsAlertEvent;

    async fn route(&self, tx: &DatabaseTransaction, viewer: &Viewer) -> ApiResult<(Key, Filter)> {
        require_signed_in(viewer)?;
        // Membership, by RLS: a non-member does not see the workspace.
        visible_workspace(tx, self.workspace_id).await?;
        let filter: Filter = Arc::new(|e: &LiveEvent| e.is_insert_into(ALERTS));
        Ok((Key::Workspace(self.workspace_id), filter))
    }

    async fn after(
        &self,
        tx: &DatabaseTransaction,
        after: Cursor,
        limit: u64,
    ) -> ApiResult<Vec<(Cursor, AnalyticsAlertEvent)>> {
        let rows = select_raw::<alert_history::Entity>(
            tx,
            "SELECT * FROM analytics.alert_history WHERE workspace_id = $1 \
             AND (triggered_at, id) > ($2, $3) ORDER BY triggered_at, id LIMIT $4",
            vec![
                self.workspace_id.into(),
                after.ts.into(),
                after.id.into(),
                (limit as i64).into(),
            ],
        )
        .await?;
        Ok(deliveries(rows))
    }

    async fn rows(
        &self,
        tx: &DatabaseTransaction,
        events: &[Arc<LiveEvent>],
    ) -> ApiResult<Vec<(Cursor, AnalyticsAlertEvent)>> {
        let rows = select_raw::<alert_history::Entity>(
            tx,
            "SELECT * FROM analytics.alert_history WHERE id = ANY($1) AND workspace_id = $2 \
             ORDER BY triggered_at, id",
            vec![event_ids(events).into(), self.workspace_id.into()],
        )
        .await?;
        Ok(deliveries(rows))
    }
}
