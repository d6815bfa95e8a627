//! Cross-domain live feeds of the viewer: `activity` (lift activity,
//! builder steps and chat messages as one timeline) and `dashboard` (the
//! viewer's counters, re-sent whenever one of them may have changed).

use crate::auth::Viewer as AuthViewer;
use crate::graphql::error::{ApiResult, ResultExt};
use crate::graphql::live::{
    cursor_of, event_ids, parse_after, row_feed, state_feed, RowFeed, StateFeed,
};
use crate::graphql::viewer::Viewer;
use crate::live::{Cursor, Filter, Key, LiveEvent, Op};
use async_graphql::{Context, Json, SimpleObject, Subscription};
use chrono::{DateTime, FixedOffset};
use futures_util::Stream;
use sea_orm::{DatabaseTransaction, DbBackend, FromQueryResult, Statement};
use std::sync::Arc;
use uuid::Uuid;

/// The tables whose inserts are activity events.
const ACTIVITY_TABLES: [&str; 6] = [
    "lift.sessions",
    "lift.session_revisions",
    "lift.session_drafts",
    "lift.hole_resolutions",
    "builder.steps",
    "chat.chat_messages",
];

/// The viewer's timeline: lift's `recent_activity` kinds plus builder steps
/// and chat messages, each row once.
const ACTIVITY_SQL: &str = "SELECT * FROM ( \
      SELECT event_type AS kind, event_id AS id, session_id, user_id, event_time AS ts, event_data AS data \
        FROM lift.recent_activity \
      UNION ALL \
      SELECT 'builder_step', id, session_id, user_id, created_at, \
             jsonb_build_object('step_type', step_type, 'step_data', step_data) \
        FROM builder.steps \
      UNION ALL \
      SELECT 'chat_message', id, session_id, user_id, created_at, \
             jsonb_build_object('role', role, 'model', model, 'preview', left(content, 200)) \
        FROM chat.chat_messages \
    ) AS a WHERE user_id = $1";

/// One event of the viewer's activity timeline.
#[derive(SimpleObject)]
pub struct ActivityEvent {
    /// Pass as `after:` to resume right after this event.
    pub cursor: String,
    /// `session_created`, `revision_created`, `draft_created`,
    /// `hole_resolved` (lift), `builder_step`, `chat_message`.
    pub kind: String,
    /// The row the event is about.
    pub id: Uuid,
    /// The lift or builder session, or the conversation.
    pub session_id: Uuid,
    /// When it happened.
    pub occurred_at: DateTime<FixedOffset>,
    /// A few facts about the row (never whole contents).
    pub data: Option<Json<serde_json::Value>>,
}

#[derive(FromQueryResult)]
struct ActivityRow {
    kind: String,
    id: Uuid,
    session_id: Uuid,
    ts: DateTime<FixedOffset>,
    data: Option<serde_json::Value>,
}

/// Subscriptions that span the domains.
#[derive(Default)]
pub struct ViewerSubscription;

#[Subscription]
impl ViewerSubscription {
    /// The viewer's activity as it happens (lift sessions, revisions,
    /// drafts and hole resolutions, builder steps, chat messages), oldest
    /// first; only one session's with `sessionId`. With `after`, first the
    /// events since then.
    async fn activity(
        &self,
        ctx: &Context<'_>,
        session_id: Option<Uuid>,
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = ActivityEvent>> {
        let after = parse_after(after.as_deref()).gql()?;
        let user = crate::graphql::context::require_user(ctx).gql()?;
        row_feed(ctx, ActivityFeed { user, session_id }, after)
            .await
            .gql()
    }

    /// The viewer's dashboard (select any `viewer` fields, such as the
    /// builder and lift analytics), now and again after every change that
    /// may move its counters.
    async fn dashboard(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = Option<Viewer>>> {
        let user = crate::graphql::context::require_user(ctx).gql()?;
        state_feed(ctx, DashboardFeed { user }).await.gql()
    }
}

struct ActivityFeed {
    user: Uuid,
    session_id: Option<Uuid>,
}

impl ActivityFeed {
    async fn read(
        &self,
        tx: &DatabaseTransaction,
        condition: &str,
        mut values: Vec<sea_orm::Value>,
        limit: Option<u64>,
    ) -> ApiResult<Vec<(Cursor, ActivityEvent)>> {
        let mut sql = format!("{ACTIVITY_SQL} {condition}");
        if let Some(session) = self.session_id {
            values.push(session.into());
            sql.push_str(&format!(" AND session_id = ${}", values.len()));
        }
        sql.push_str(" ORDER BY ts, id");
        if let Some(limit) = limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        let rows = ActivityRow::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .all(tx)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let cursor = cursor_of(r.ts, r.id);
                let event = ActivityEvent {
                    cursor: cursor.encode(),
                    kind: r.kind,
                    id: r.id,
                    session_id: r.session_id,
                    occurred_at: r.ts,
                    data: r.data.map(Json),
                };
                (cursor, event)
            })
            .collect())
    }
}

#[async_graphql::async_trait::async_trait]
impl RowFeed for ActivityFeed {
    type Item = ActivityEvent;

    async fn route(
        &self,
        _tx: &DatabaseTransaction,
        _viewer: &AuthViewer,
    ) -> ApiResult<(Key, Filter)> {
        let filter: Filter = Arc::new(|e: &LiveEvent| {
            e.op == Op::Insert && ACTIVITY_TABLES.contains(&e.table.as_str())
        });
        let key = match self.session_id {
            Some(session) => Key::Session(session),
            None => Key::User(self.user),
        };
        Ok((key, filter))
    }

    async fn after(
        &self,
        tx: &DatabaseTransaction,
        after: Cursor,
        limit: u64,
    ) -> ApiResult<Vec<(Cursor, ActivityEvent)>> {
        self.read(
            tx,
            "AND (ts, id) > ($2, $3)",
            vec![self.user.into(), after.ts.into(), after.id.into()],
            Some(limit),
        )
        .await
    }

    async fn rows(
        &self,
        tx: &DatabaseTransaction,
        events: &[Arc<LiveEvent>],
    ) -> ApiResult<Vec<(Cursor, ActivityEvent)>> {
        self.read(
            tx,
            "AND id = ANY($2)",
            vec![self.user.into(), event_ids(events).into()],
            None,
        )
        .await
    }
}

struct DashboardFeed {
    user: Uuid,
}

#[async_graphql::async_trait::async_trait]
impl StateFeed for DashboardFeed {
    type Item = Viewer;

    async fn route(
        &self,
        _tx: &DatabaseTransaction,
        _viewer: &AuthViewer,
    ) -> ApiResult<(Key, Filter)> {
        let filter: Filter = Arc::new(|e: &LiveEvent| {
            e.table == "builder.analytics" || e.table.starts_with("lift.")
        });
        Ok((Key::User(self.user), filter))
    }

    async fn current(&self, _tx: &DatabaseTransaction) -> ApiResult<Option<Viewer>> {
        Ok(Some(Viewer::default()))
    }
}
