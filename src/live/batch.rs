//! Batched live reads: the deliveries of one event to many subscribers read
//! its rows in one database call, each subscriber's rows still read as that
//! subscriber (the call sets each one's role and claims before its read; see
//! migration `0010_live_reads`).
//!
//! A delivery asks for its rows under a key (the event's rows, say) and
//! waits. The first request for a key starts a runner at once; requests that
//! arrive while it reads wait for its next round, which takes all of them. A
//! fan-out wakes every subscriber at the same moment, so after the first
//! round nearly all of them share one call.

use super::lanes::Lanes;
use crate::auth::Viewer;
use sea_orm::{DatabaseTransaction, DbErr};
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::oneshot;

/// Viewers read in one call at most: a call's rows come back only when it
/// ends, so smaller calls, several at once, answer the first viewers sooner.
pub const MAX_VIEWERS: usize = 64;

/// A read that can be done for many viewers at once.
#[async_graphql::async_trait::async_trait]
pub trait BatchRead: Send + Sync + 'static {
    /// What identifies the rows wanted (requests with equal keys share calls).
    type Key: Clone + Eq + Hash + Send + Sync + 'static;
    /// One row.
    type Row: Clone + Send + 'static;

    /// The rows of `key` as each of `viewers` may see them, in the order of
    /// `viewers`. `tx` runs as the gateway's own login role.
    async fn read(
        tx: &DatabaseTransaction,
        key: &Self::Key,
        viewers: &[Viewer],
    ) -> Result<Vec<Vec<Self::Row>>, DbErr>;
}

type Reply<R> = oneshot::Sender<Result<Vec<R>, String>>;

/// The requests of one key.
struct Slot<B: BatchRead> {
    /// Requests not taken by a round yet.
    waiting: Vec<(Viewer, Reply<B::Row>)>,
    /// Runners serving the key.
    runners: usize,
}

impl<B: BatchRead> Default for Slot<B> {
    fn default() -> Self {
        Self {
            waiting: Vec::new(),
            runners: 0,
        }
    }
}

/// The keys being served; a key is present while a runner serves it.
type Pending<B> = HashMap<<B as BatchRead>::Key, Slot<B>>;

/// A runner of `key` while it runs; if it stops abnormally (a panic), it is
/// counted out ([`count_out`]) when dropped.
struct Runner<B: BatchRead> {
    /// `None` once the runner has counted itself out.
    batcher: Option<Arc<Batcher<B>>>,
    key: B::Key,
}

impl<B: BatchRead> Drop for Runner<B> {
    fn drop(&mut self) {
        if let Some(batcher) = self.batcher.take() {
            count_out(&mut batcher.lock(), &self.key);
        }
    }
}

/// Counts one runner of `key` out; the last one out removes the key and
/// answers the requests still waiting with an error (they then read on
/// their own; none are left when a runner ends normally).
fn count_out<B: BatchRead>(pending: &mut Pending<B>, key: &B::Key) {
    let Some(slot) = pending.get_mut(key) else {
        return;
    };
    slot.runners = slot.runners.saturating_sub(1);
    if slot.runners == 0 {
        let left = pending.remove(key).map(|s| s.waiting).unwrap_or_default();
        for (_, reply) in left {
            let _ = reply.send(Err("the batched read stopped".into()));
        }
    }
}

/// Counts of batched reads, for `/metrics` and tests.
#[derive(Default)]
struct Counts {
    /// Calls made.
    calls: AtomicU64,
    /// Viewers read, over all calls.
    viewers: AtomicU64,
}

/// The pending requests of one [`BatchRead`] kind.
pub struct Batcher<B: BatchRead> {
    lanes: Lanes,
    counts: Arc<Counts>,
    /// The keys being served.
    pending: Mutex<Pending<B>>,
}

impl<B: BatchRead> Batcher<B> {
    fn new(lanes: Lanes, counts: Arc<Counts>) -> Self {
        Self {
            lanes,
            counts,
            pending: Mutex::default(),
        }
    }

    /// The rows of `key` that `viewer` may see.
    pub async fn read(
        self: &Arc<Self>,
        key: B::Key,
        viewer: Viewer,
    ) -> Result<Vec<B::Row>, String> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut pending = self.lock();
            let slot = pending.entry(key.clone()).or_default();
            slot.waiting.push((viewer, reply));
            // One runner starts at once; more join while a round's worth
            // waits, so a large fan-out is read by several backends at once
            // and its first answers go out while the rest are read.
            let start = slot.runners == 0
                || (slot.waiting.len() >= MAX_VIEWERS && slot.runners < self.lanes.count());
            if start {
                slot.runners += 1;
            }
            start
        };
        if start {
            tokio::spawn(self.clone().run(key));
        }
        answer
            .await
            .unwrap_or_else(|_| Err("the batched read stopped".into()))
    }

    /// Serves `key`'s requests, round after round, until none is left.
    async fn run(self: Arc<Self>, key: B::Key) {
        // Counts the runner out if it ends abnormally (a panic).
        let mut runner = Runner {
            batcher: Some(self.clone()),
            key: key.clone(),
        };
        loop {
            let round = {
                let mut pending = self.lock();
                let slot = pending.get_mut(&key).filter(|s| !s.waiting.is_empty());
                let Some(slot) = slot else {
                    // Counted out under the same lock as the check: a
                    // request pushed after it finds no runner and starts one.
                    count_out(&mut pending, &key);
                    runner.batcher = None;
                    return;
                };
                let take = slot.waiting.len().min(MAX_VIEWERS);
                slot.waiting.drain(..take).collect::<Vec<_>>()
            };
            let (viewers, replies): (Vec<Viewer>, Vec<Reply<B::Row>>) = round.into_iter().unzip();
            match self.read_round(&key, &viewers).await {
                Ok(rows) => {
                    for (reply, rows) in replies.into_iter().zip(rows) {
                        let _ = reply.send(Ok(rows));
                    }
                }
                Err(err) => {
                    let message = err.to_string();
                    for reply in replies {
                        let _ = reply.send(Err(message.clone()));
                    }
                }
            }
        }
    }

    /// Keys with requests being served (none once every read is answered).
    pub fn keys_in_flight(&self) -> usize {
        self.lock().len()
    }

    async fn read_round(
        &self,
        key: &B::Key,
        viewers: &[Viewer],
    ) -> Result<Vec<Vec<B::Row>>, DbErr> {
        let mut lane = self.lanes.acquire().await;
        let tx = lane.begin_as_gateway().await?;
        self.counts.calls.fetch_add(1, Ordering::Relaxed);
        self.counts
            .viewers
            .fetch_add(viewers.len() as u64, Ordering::Relaxed);
        let rows = B::read(&tx, key, viewers).await;
        let rows = match rows {
            Ok(rows) if rows.len() == viewers.len() => Ok(rows),
            Ok(rows) => Err(DbErr::Custom(format!(
                "batched read returned {} answers for {} viewers",
                rows.len(),
                viewers.len()
            ))),
            Err(err) => Err(err),
        };
        lane.finish(tx, rows.is_ok()).await;
        rows
    }

    fn lock(&self) -> MutexGuard<'_, Pending<B>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One [`Batcher`] per [`BatchRead`] kind, made on first use.
#[derive(Clone)]
pub struct Batchers {
    lanes: Lanes,
    counts: Arc<Counts>,
    by_kind: Arc<Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>>,
}

impl Batchers {
    /// Batchers whose reads run in `lanes`.
    pub fn new(lanes: Lanes) -> Self {
        Self {
            lanes,
            counts: Arc::default(),
            by_kind: Arc::default(),
        }
    }

    /// Batched reads made so far (calls to the database).
    pub fn calls(&self) -> u64 {
        self.counts.calls.load(Ordering::Relaxed)
    }

    /// Viewers read by batched reads so far, over all calls.
    pub fn viewers(&self) -> u64 {
        self.counts.viewers.load(Ordering::Relaxed)
    }

    /// The batcher of `B`.
    pub fn of<B: BatchRead>(&self) -> Arc<Batcher<B>> {
        let mut by_kind = self.by_kind.lock().unwrap_or_else(PoisonError::into_inner);
        let any = by_kind
            .entry(TypeId::of::<B>())
            .or_insert_with(|| Arc::new(Batcher::<B>::new(self.lanes.clone(), self.counts.clone())))
            .clone();
        any.downcast::<Batcher<B>>()
            .expect("batchers are stored under their own type")
    }
}
