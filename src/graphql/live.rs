//! The GraphQL side of live subscriptions: how a subscription resolver takes
//! part in the websocket executor's phases (set up, catch up, deliver), and
//! the two shapes of feed built on them: row feeds (rows with a cursor, such
//! as activity, chat messages and alerts) and state feeds (one object re-read
//! after every change, such as a lift session or the dashboard).
//!
//! A subscription operation is executed once per phase, each time as the
//! viewer (a transaction opened on first use in a delivery lane, or a
//! batched read that reads as each of its viewers), so RLS decides what
//! every delivery contains, nested fields and dataloaders included. The executor (`server::ws`) owns
//! the loop; resolvers only answer "what does this phase yield".

use crate::auth::Viewer;
use crate::graphql::context::{viewer, RequestTx};
use crate::graphql::error::{ApiError, ApiResult};
use crate::live::{Batchers, Cursor, Filter, Hub, Key, LiveEvent, Registration};
use async_graphql::{Context, OutputType};
use chrono::{DateTime, FixedOffset, Utc};
use futures_util::stream::{self, BoxStream, StreamExt};
use sea_orm::DatabaseTransaction;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// Rows one catch-up execution sends at most; the executor asks again from
/// the last cursor while a page comes back full.
pub const CATCH_UP_PAGE: u64 = 500;

/// What the websocket executor asks of one execution of a subscription.
#[derive(Clone)]
pub enum LivePhase {
    /// First run: check access, register with the hub, then send what the
    /// client missed since its `after` cursor (row feeds) or the current
    /// state (state feeds).
    Setup(Hub),
    /// Notifications may have been lost: send the rows after `after`,
    /// except those in `skip` (already delivered), or the current state.
    CatchUp {
        /// Where to read from.
        after: Cursor,
        /// Row ids already delivered.
        skip: Arc<HashSet<Uuid>>,
    },
    /// These events arrived: send their rows, or the new state.
    Deliver(Arc<[Arc<LiveEvent>]>),
}

/// How the executor treats a subscription's events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FeedKind {
    /// Rows identified by cursor: deliveries are deduplicated by row id and
    /// resumed by cursor.
    #[default]
    Rows,
    /// Changes to rows that keep changing: every event is delivered (no
    /// deduplication by id); resumed by the rows' update time.
    Changes,
    /// One object: any batch of events means "send the state again".
    State,
}

/// What happened to a followed row.
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeOp {
    /// The row was created.
    Created,
    /// The row was changed.
    Updated,
    /// The row was deleted.
    Deleted,
}

impl From<crate::live::Op> for ChangeOp {
    fn from(op: crate::live::Op) -> Self {
        match op {
            crate::live::Op::Insert => ChangeOp::Created,
            crate::live::Op::Update => ChangeOp::Updated,
            crate::live::Op::Delete => ChangeOp::Deleted,
        }
    }
}

/// What one execution reports back to the websocket executor.
#[derive(Default)]
pub struct LiveOutput {
    /// The hub registration made by the setup phase.
    pub registration: Option<Registration>,
    /// The feed's kind (set by the setup phase).
    pub kind: FeedKind,
    /// Where the feed starts: the client's `after`, or the moment of set-up.
    pub floor: Option<Cursor>,
    /// Cursors of the rows sent, in order.
    pub sent: Vec<Cursor>,
    /// A catch-up page came back full: more rows follow.
    pub more: bool,
    /// The followed object is gone: the subscription ends.
    pub end: bool,
}

/// The executor's handle on [`LiveOutput`], put in each execution's data.
#[derive(Clone, Default)]
pub struct LiveSlot(Arc<Mutex<LiveOutput>>);

impl LiveSlot {
    /// Takes what the execution reported.
    pub fn take(&self) -> LiveOutput {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LiveOutput> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A feed of rows with cursors (oldest first).
#[async_graphql::async_trait::async_trait]
pub trait RowFeed: Send + Sync + 'static {
    /// What the subscription yields per row.
    type Item: OutputType + Send + 'static;

    /// How the executor treats this feed's events.
    const KIND: FeedKind = FeedKind::Rows;

    /// Checks that the viewer may follow this feed (errors otherwise) and
    /// says where its events are published and which of them matter.
    async fn route(&self, tx: &DatabaseTransaction, viewer: &Viewer) -> ApiResult<(Key, Filter)>;

    /// The rows after `after`, oldest first, at most `limit`.
    async fn after(
        &self,
        tx: &DatabaseTransaction,
        after: Cursor,
        limit: u64,
    ) -> ApiResult<Vec<(Cursor, Self::Item)>>;

    /// The rows of these events that the viewer may see, oldest first.
    async fn rows(
        &self,
        tx: &DatabaseTransaction,
        events: &[Arc<LiveEvent>],
    ) -> ApiResult<Vec<(Cursor, Self::Item)>>;

    /// [`RowFeed::rows`] as one read shared with the other subscribers of
    /// the same events (`live::batch`), for feeds whose events fan out to
    /// many viewers; `None` (the default) reads in the viewer's own
    /// transaction instead.
    async fn batched_rows(
        &self,
        _batchers: &Batchers,
        _viewer: &Viewer,
        _events: &[Arc<LiveEvent>],
    ) -> Option<ApiResult<Vec<(Cursor, Self::Item)>>> {
        None
    }
}

/// A feed of one object's state.
#[async_graphql::async_trait::async_trait]
pub trait StateFeed: Send + Sync + 'static {
    /// The state sent after each change; `None` once the object is gone.
    type Item: OutputType + Send + 'static;

    /// Checks that the viewer may follow this object and says where its
    /// events are published and which of them matter.
    async fn route(&self, tx: &DatabaseTransaction, viewer: &Viewer) -> ApiResult<(Key, Filter)>;

    /// The current state; `None` when the object no longer exists.
    async fn current(&self, tx: &DatabaseTransaction) -> ApiResult<Option<Self::Item>>;
}

/// The phase, the transaction (opened on first use) and the report slot of
/// this execution.
fn live_request<'a>(ctx: &Context<'a>) -> ApiResult<(LivePhase, &'a RequestTx, &'a LiveSlot)> {
    let (Some(phase), Some(slot), Some(tx)) = (
        ctx.data_opt::<LivePhase>(),
        ctx.data_opt::<LiveSlot>(),
        ctx.data_opt::<RequestTx>(),
    ) else {
        return Err(ApiError::bad_input(
            "subscription",
            "subscriptions are served over the websocket at /graphql/ws",
        ));
    };
    Ok((phase.clone(), tx, slot))
}

/// UNAUTHENTICATED unless the viewer is a signed-in user or the service
/// role: nothing followable is public.
pub fn require_signed_in(viewer: &Viewer) -> ApiResult<()> {
    if viewer.user_id.is_none() && viewer.role != crate::auth::Role::ServiceRole {
        return Err(ApiError::Unauthenticated("sign in first".into()));
    }
    Ok(())
}

/// Parses a client's `after` cursor.
pub fn parse_after(after: Option<&str>) -> ApiResult<Option<Cursor>> {
    after
        .map(|text| {
            Cursor::decode(text)
                .ok_or_else(|| ApiError::bad_input("after", "not a cursor of this feed"))
        })
        .transpose()
}

/// Runs one phase of a row feed: what the subscription resolver returns.
pub async fn row_feed<F: RowFeed>(
    ctx: &Context<'_>,
    feed: F,
    after: Option<Cursor>,
) -> ApiResult<BoxStream<'static, F::Item>> {
    let (phase, tx, slot) = live_request(ctx)?;
    let (rows, page_full) = match phase {
        LivePhase::Setup(hub) => {
            let tx = tx.get().await?;
            let (key, filter) = feed.route(tx, viewer(ctx)).await?;
            // Registered before the catch-up read, so nothing committed in
            // between is lost; the executor drops the duplicates by id.
            let registration = hub.register(key, filter);
            let floor = after.unwrap_or(Cursor {
                ts: Utc::now(),
                id: Uuid::nil(),
            });
            {
                let mut out = slot.lock();
                out.registration = Some(registration);
                out.kind = F::KIND;
                out.floor = Some(floor);
            }
            match after {
                Some(after) => page(&feed, tx, after).await?,
                None => (Vec::new(), false),
            }
        }
        LivePhase::CatchUp { after, skip } => {
            let (mut rows, full) = page(&feed, tx.get().await?, after).await?;
            if full {
                // Resume after the page's last row even when every row of
                // it was already delivered.
                if let Some((last, _)) = rows.last() {
                    slot.lock().sent.push(*last);
                }
            }
            rows.retain(|(cursor, _)| !skip.contains(&cursor.id));
            (rows, full)
        }
        LivePhase::Deliver(events) => {
            let batched = match ctx.data_opt::<Batchers>() {
                Some(batchers) => feed.batched_rows(batchers, viewer(ctx), &events).await,
                None => None,
            };
            match batched {
                Some(rows) => (rows?, false),
                None => (feed.rows(tx.get().await?, &events).await?, false),
            }
        }
    };
    let mut out = slot.lock();
    out.more = page_full;
    out.sent.extend(rows.iter().map(|(cursor, _)| *cursor));
    drop(out);
    Ok(stream::iter(rows.into_iter().map(|(_, item)| item)).boxed())
}

async fn page<F: RowFeed>(
    feed: &F,
    tx: &DatabaseTransaction,
    after: Cursor,
) -> ApiResult<(Vec<(Cursor, F::Item)>, bool)> {
    let rows = feed.after(tx, after, CATCH_UP_PAGE).await?;
    let full = rows.len() as u64 >= CATCH_UP_PAGE;
    Ok((rows, full))
}

/// Runs one phase of a state feed: the state, once per phase; `None` (and
/// the end of the subscription) when the object is gone.
pub async fn state_feed<F: StateFeed>(
    ctx: &Context<'_>,
    feed: F,
) -> ApiResult<BoxStream<'static, Option<F::Item>>> {
    let (phase, tx, slot) = live_request(ctx)?;
    let tx = tx.get().await?;
    if let LivePhase::Setup(hub) = phase {
        let (key, filter) = feed.route(tx, viewer(ctx)).await?;
        let mut out = slot.lock();
        out.registration = Some(hub.register(key, filter));
        out.kind = FeedKind::State;
    }
    let state = feed.current(tx).await?;
    slot.lock().end = state.is_none();
    Ok(stream::once(async move { state }).boxed())
}

/// A row's cursor from its timestamp column and id.
pub fn cursor_of(ts: DateTime<FixedOffset>, id: Uuid) -> Cursor {
    Cursor {
        ts: ts.with_timezone(&Utc),
        id,
    }
}

/// Reads `E` rows with hand-written SQL (keyset conditions on row values
/// that the query builder does not express).
pub async fn select_raw<E>(
    tx: &DatabaseTransaction,
    sql: &str,
    values: Vec<sea_orm::Value>,
) -> ApiResult<Vec<E::Model>>
where
    E: sea_orm::EntityTrait,
{
    use sea_orm::{DbBackend, Statement};
    Ok(E::find()
        .from_raw_sql(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .all(tx)
        .await?)
}

/// The ids of `events`, for `WHERE id = ANY($1)` reads.
pub fn event_ids(events: &[Arc<LiveEvent>]) -> Vec<Uuid> {
    events.iter().map(|e| e.id).collect()
}
