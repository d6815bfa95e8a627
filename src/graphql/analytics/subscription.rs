//! Live analytics: new alert history rows of a workspace the viewer is a
//! member of.

use super::service::visible_workspace;
use super::types::AnalyticsAlert;
use crate::auth::Viewer;
use crate::graphql::error::{ApiError, ApiResult, ResultExt};
use crate::graphql::live::{
    cursor_of, event_ids, parse_after, require_signed_in, row_feed, select_raw, RowFeed,
};
use crate::live::{BatchRead, Batchers, Cursor, Filter, Key, LiveEvent};
use async_graphql::{Context, SimpleObject, Subscription};
use entity::analytics::alert_history;
use futures_util::Stream;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, FromQueryResult, Statement};
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

    /// An alert goes to every member of the workspace: one read for all of
    /// them, each member's rows read as that member.
    async fn batched_rows(
        &self,
        batchers: &Batchers,
        viewer: &Viewer,
        events: &[Arc<LiveEvent>],
    ) -> Option<ApiResult<Vec<(Cursor, AnalyticsAlertEvent)>>> {
        let mut ids = event_ids(events);
        ids.sort_unstable();
        ids.dedup();
        let rows = batchers
            .of::<AlertRowsAs>()
            .read((self.workspace_id, ids), viewer.clone())
            .await
            .map_err(ApiError::Internal);
        Some(rows.map(deliveries))
    }
}

/// The alert history rows `ids` of a workspace, read for many viewers in one
/// call of `live.alert_history_as` (migration `0010_live_reads`).
struct AlertRowsAs;

#[async_graphql::async_trait::async_trait]
impl BatchRead for AlertRowsAs {
    type Key = (Uuid, Vec<Uuid>);
    type Row = alert_history::Model;

    async fn read(
        tx: &DatabaseTransaction,
        (workspace_id, ids): &Self::Key,
        viewers: &[Viewer],
    ) -> Result<Vec<Vec<alert_history::Model>>, DbErr> {
        let roles: Vec<String> = viewers
            .iter()
            .map(|v| v.role.as_db_role().to_owned())
            .collect();
        let claims: Vec<String> = viewers.iter().map(Viewer::claims_json).collect();
        let rows = tx
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT * FROM live.alert_history_as($1, $2, $3, $4)",
                [
                    roles.into(),
                    claims.into(),
                    ids.clone().into(),
                    (*workspace_id).into(),
                ],
            ))
            .await?;
        let mut per_viewer = vec![Vec::new(); viewers.len()];
        for row in rows {
            let viewer: i32 = row.try_get("", "viewer")?;
            let model = alert_history::Model::from_query_result(&row, "")?;
            let slot = usize::try_from(viewer - 1)
                .ok()
                .and_then(|i| per_viewer.get_mut(i))
                .ok_or_else(|| DbErr::Custom(format!("no viewer {viewer} in the batch")))?;
            slot.push(model);
        }
        Ok(per_viewer)
    }
}
