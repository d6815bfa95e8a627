//! Delivery lanes: the database transactions subscription deliveries run in.
//!
//! Every delivery reads as its subscriber (role and claims set first), so
//! RLS decides what arrives. On its own transaction that is four round trips
//! per subscriber (BEGIN, claims, read, COMMIT), and an event for a thousand
//! subscribers pays them a thousand times. A lane is one of a fixed number of
//! places where a delivery may run; when a delivery ends and another waits in
//! line, the lane goes to it with its transaction still open, and the next
//! delivery only sets its own role and claims on it (transaction-local, so
//! they replace the previous subscriber's) before it reads. A transaction is
//! committed as soon as nobody waits, after [`MAX_USES`] deliveries or
//! [`MAX_AGE`], and it is never handed on after a delivery that reported an
//! error, so an aborted transaction is not reused. Deliveries only read, so
//! sharing a transaction changes nothing they see: each statement takes a
//! fresh snapshot (READ COMMITTED).
//!
//! The lanes also bound how many deliveries hold a pool connection at once:
//! the rest wait here, in arrival order, not inside the pool.

use crate::auth::Viewer;
use crate::db::request::{acting_as, acting_as_gateway};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, Statement, TransactionTrait,
};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Deliveries one transaction serves at most.
pub const MAX_USES: u32 = 100;
/// How long one transaction is handed on at most: it keeps the locks of
/// what it read (`ACCESS SHARE`, which a `REFRESH MATERIALIZED VIEW` or a
/// migration waits for) until it ends.
pub const MAX_AGE: Duration = Duration::from_millis(500);

/// How long a delivery waits for the database to come back before it gives
/// up (each attempt ends at the pool's acquire timeout, a few seconds).
pub const BEGIN_RETRY_FOR: Duration = Duration::from_secs(150);

/// Longest pause between two attempts: deliveries resume within about this
/// long of the database answering again.
const BEGIN_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Statement timeout of batched reads (`Lane::begin_as_gateway`).
pub const BATCH_STATEMENT_TIMEOUT_MS: u64 = 5_000;

/// The lanes of one gateway process; cheap to clone.
#[derive(Clone)]
pub struct Lanes {
    shared: Arc<Shared>,
    count: usize,
}

struct Shared {
    state: Mutex<State>,
    db: DatabaseConnection,
    /// Transactions begun for deliveries.
    begun: AtomicU64,
    /// Deliveries run in a transaction handed on to them.
    handed_on: AtomicU64,
}

struct State {
    /// Lanes nobody holds (they hold no transaction).
    free: usize,
    /// Deliveries waiting for a lane, first come first served.
    waiting: VecDeque<oneshot::Sender<Lane>>,
}

/// The right to run one delivery, with the transaction of the previous
/// delivery when it was handed on. Dropping it frees the lane (an open
/// transaction is rolled back).
pub struct Lane {
    /// The transaction handed on with the lane, until `begin_as` takes it.
    open: Option<DatabaseTransaction>,
    /// Deliveries the lane's transaction has served.
    uses: u32,
    /// When the lane's transaction began.
    since: Instant,
    /// `None` once the lane has been given back.
    shared: Option<Arc<Shared>>,
}

impl Lanes {
    /// `count` lanes over `db`'s pool.
    pub fn new(db: DatabaseConnection, count: usize) -> Self {
        let count = count.max(1);
        Self {
            count,
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    free: count,
                    waiting: VecDeque::new(),
                }),
                db,
                begun: AtomicU64::new(0),
                handed_on: AtomicU64::new(0),
            }),
        }
    }

    /// Waits for a lane, in arrival order.
    pub async fn acquire(&self) -> Lane {
        loop {
            let waiting = {
                let mut state = self.shared.lock();
                if state.free > 0 {
                    state.free -= 1;
                    return Lane::new(self.shared.clone(), None, 0, Instant::now());
                }
                // Waiters that gave up are skipped when a lane is handed
                // on; prune them here too so a long wait cannot pile them up.
                if state.waiting.len() >= 64 {
                    state.waiting.retain(|w| !w.is_closed());
                }
                let (tx, rx) = oneshot::channel();
                state.waiting.push_back(tx);
                rx
            };
            if let Ok(lane) = waiting.await {
                return lane;
            }
        }
    }

    /// How many lanes there are.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Lanes nobody holds right now.
    pub fn idle(&self) -> usize {
        self.shared.lock().free
    }

    /// Deliveries waiting for a lane (some may have given up already).
    pub fn waiting(&self) -> usize {
        self.shared.lock().waiting.len()
    }

    /// Transactions begun for deliveries so far.
    pub fn begun(&self) -> u64 {
        self.shared.begun.load(Ordering::Relaxed)
    }

    /// Deliveries so far that ran in a transaction handed on to them.
    pub fn handed_on(&self) -> u64 {
        self.shared.handed_on.load(Ordering::Relaxed)
    }
}

impl Lane {
    fn new(
        shared: Arc<Shared>,
        open: Option<DatabaseTransaction>,
        uses: u32,
        since: Instant,
    ) -> Self {
        Self {
            open,
            uses,
            since,
            shared: Some(shared),
        }
    }

    /// Whether this lane came with an open transaction.
    pub fn is_handed_on(&self) -> bool {
        self.open.is_some()
    }

    /// A transaction acting as `viewer`: the open one this lane came with,
    /// or a new one (also when setting the viewer on the open one fails).
    pub async fn begin_as(
        &mut self,
        viewer: &Viewer,
        statement_timeout_ms: u64,
    ) -> Result<DatabaseTransaction, DbErr> {
        self.open(acting_as(viewer, statement_timeout_ms)).await
    }

    /// The lane's open transaction, or a new one, after `acting` (who the
    /// rest of the transaction runs as) ran on it.
    async fn open(&mut self, acting: Statement) -> Result<DatabaseTransaction, DbErr> {
        let shared = self
            .shared
            .clone()
            .expect("a lane in use is not given back");
        if let Some(tx) = self.open.take() {
            if tx.execute_raw(acting.clone()).await.is_ok() {
                shared.handed_on.fetch_add(1, Ordering::Relaxed);
                return Ok(tx);
            }
        }
        let tx = shared.db.begin().await?;
        tx.execute_raw(acting).await?;
        shared.begun.fetch_add(1, Ordering::Relaxed);
        self.uses = 0;
        self.since = Instant::now();
        Ok(tx)
    }

    /// [`Lane::begin_as`], waiting for the database to come back (with
    /// backoff, for up to [`BEGIN_RETRY_FOR`]) when it is away, as during a
    /// restart.
    pub async fn begin_as_retrying(
        &mut self,
        viewer: &Viewer,
        statement_timeout_ms: u64,
    ) -> Result<DatabaseTransaction, DbErr> {
        let started = std::time::Instant::now();
        let mut wait = Duration::from_millis(50);
        loop {
            match self.begin_as(viewer, statement_timeout_ms).await {
                Ok(tx) => return Ok(tx),
                Err(err) if started.elapsed() >= BEGIN_RETRY_FOR => return Err(err),
                Err(_) => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(BEGIN_BACKOFF_MAX);
                }
            }
        }
    }

    /// A transaction running as the gateway's own login role (no viewer, no
    /// claims), for batched reads that set each viewer themselves
    /// (`live::batch`): the open one this lane came with, its viewer reset,
    /// or a new one. Statements time out after [`BATCH_STATEMENT_TIMEOUT_MS`].
    pub async fn begin_as_gateway(&mut self) -> Result<DatabaseTransaction, DbErr> {
        self.open(acting_as_gateway(BATCH_STATEMENT_TIMEOUT_MS))
            .await
    }

    /// Ends a delivery that ran in `tx` (from [`Lane::begin_as`]): hands the
    /// lane on with `tx` open when `clean` (the delivery reported no error)
    /// and another delivery waits, otherwise commits `tx` and frees the lane.
    pub async fn finish(mut self, tx: DatabaseTransaction, clean: bool) {
        let Some(shared) = self.shared.take() else {
            return;
        };
        let uses = self.uses + 1;
        let tx = if clean && uses < MAX_USES && self.since.elapsed() < MAX_AGE {
            match shared.hand_on(Some(tx), uses, self.since) {
                Ok(()) => return,
                Err(tx) => tx,
            }
        } else {
            Some(tx)
        };
        // Freed even when this task is stopped during the commit.
        let _free = Release(shared);
        if let Some(tx) = tx {
            // Read-only: the commit only ends the transaction.
            let _ = tx.commit().await;
        }
    }
}

impl Drop for Lane {
    fn drop(&mut self) {
        // An open transaction is dropped with the lane (sea-orm rolls it back).
        if let Some(shared) = self.shared.take() {
            drop(Release(shared));
        }
    }
}

/// Frees a lane when dropped.
struct Release(Arc<Shared>);

impl Drop for Release {
    fn drop(&mut self) {
        // With nobody waiting, `hand_on` counts the lane free.
        let _ = self.0.hand_on(None, 0, Instant::now());
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Gives a lane (with `open`, when given) to the first delivery still
    /// waiting. With nobody waiting, an open transaction comes back as
    /// `Err` for the caller to end, and a lane without one is counted free;
    /// both under one lock, so no waiter can slip in between unseen.
    fn hand_on(
        self: &Arc<Self>,
        mut open: Option<DatabaseTransaction>,
        uses: u32,
        since: Instant,
    ) -> Result<(), Option<DatabaseTransaction>> {
        let mut state = self.lock();
        while let Some(waiter) = state.waiting.pop_front() {
            match waiter.send(Lane::new(self.clone(), open.take(), uses, since)) {
                Ok(()) => return Ok(()),
                Err(mut lane) => {
                    // That delivery gave up waiting.
                    open = lane.open.take();
                    lane.shared = None;
                }
            }
        }
        if open.is_none() {
            state.free += 1;
        }
        Err(open)
    }
}
