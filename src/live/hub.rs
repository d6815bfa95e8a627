//! The in-process fan-out: subscriptions register under one key (a user, a
//! session or a workspace) with a filter, and each event reaches the matching
//! ones through a bounded buffer. Publishing never waits: a subscriber whose
//! buffer is full is dropped and told it fell behind.

use super::event::LiveEvent;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use uuid::Uuid;

/// What a subscription is registered under; an event reaches the
/// subscriptions of each key it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    /// Events whose `user_id` is this user.
    User(Uuid),
    /// Events whose `session_id` is this session or conversation.
    Session(Uuid),
    /// Events whose `workspace_id` is this workspace.
    Workspace(Uuid),
}

impl Key {
    fn of(event: &LiveEvent) -> impl Iterator<Item = Key> {
        [
            event.user_id.map(Key::User),
            event.session_id.map(Key::Session),
            event.workspace_id.map(Key::Workspace),
        ]
        .into_iter()
        .flatten()
    }
}

/// Which events of its key a subscription wants.
pub type Filter = Arc<dyn Fn(&LiveEvent) -> bool + Send + Sync>;

/// What a subscription receives.
#[derive(Clone, Debug)]
pub enum Signal {
    /// A committed change.
    Event(Arc<LiveEvent>),
    /// Notifications may have been lost (the LISTEN connection was
    /// re-established): read what was missed from the tables.
    Gap,
}

struct Subscriber {
    tx: mpsc::Sender<Signal>,
    filter: Filter,
    lagged: Arc<AtomicBool>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    by_key: HashMap<Key, HashMap<u64, Subscriber>>,
}

/// The fan-out hub of one gateway process; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Mutex<Inner>>,
    buffer: usize,
    published: Arc<AtomicU64>,
}

impl Hub {
    /// A hub whose subscribers may fall `buffer` signals behind before they
    /// are dropped.
    pub fn new(buffer: usize) -> Self {
        Self {
            inner: Arc::default(),
            buffer: buffer.max(1),
            published: Arc::default(),
        }
    }

    /// Registers a subscription; it ends when the [`Registration`] is dropped.
    pub fn register(&self, key: Key, filter: Filter) -> Registration {
        let (tx, rx) = mpsc::channel(self.buffer);
        let lagged = Arc::new(AtomicBool::new(false));
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        inner.by_key.entry(key).or_default().insert(
            id,
            Subscriber {
                tx,
                filter,
                lagged: lagged.clone(),
            },
        );
        Registration {
            rx,
            hub: self.clone(),
            key,
            id,
            lagged,
        }
    }

    /// Delivers `event` to every matching subscription without waiting.
    pub fn publish(&self, event: LiveEvent) {
        self.published.fetch_add(1, Ordering::Relaxed);
        let event = Arc::new(event);
        let mut inner = self.lock();
        for key in Key::of(&event) {
            let Some(subs) = inner.by_key.get_mut(&key) else {
                continue;
            };
            subs.retain(|_, sub| {
                if !(sub.filter)(&event) {
                    return !sub.tx.is_closed();
                }
                offer(sub, Signal::Event(event.clone()))
            });
            if subs.is_empty() {
                inner.by_key.remove(&key);
            }
        }
    }

    /// Tells every subscription that notifications may have been lost.
    pub fn publish_gap(&self) {
        let mut inner = self.lock();
        for subs in inner.by_key.values_mut() {
            subs.retain(|_, sub| offer(sub, Signal::Gap));
        }
        inner.by_key.retain(|_, subs| !subs.is_empty());
    }

    /// Subscriptions currently registered.
    pub fn subscribers(&self) -> usize {
        self.lock().by_key.values().map(HashMap::len).sum()
    }

    /// Events published since start.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the maps consistent (every
        // mutation is a single insert/remove), so a poisoned lock is usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn unregister(&self, key: Key, id: u64) {
        let mut inner = self.lock();
        if let Some(subs) = inner.by_key.get_mut(&key) {
            subs.remove(&id);
            if subs.is_empty() {
                inner.by_key.remove(&key);
            }
        }
    }
}

/// Sends without waiting; `false` (drop the subscriber) when it is gone or
/// its buffer is full, in which case it is marked as lagged.
fn offer(sub: &Subscriber, signal: Signal) -> bool {
    match sub.tx.try_send(signal) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            sub.lagged.store(true, Ordering::Release);
            false
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}

/// One registered subscription: receives its signals, and unregisters on drop.
pub struct Registration {
    rx: mpsc::Receiver<Signal>,
    hub: Hub,
    key: Key,
    id: u64,
    lagged: Arc<AtomicBool>,
}

impl Registration {
    /// The next signal; `None` once the hub dropped this subscription (see
    /// [`Registration::lagged`]).
    pub async fn recv(&mut self) -> Option<Signal> {
        self.rx.recv().await
    }

    /// A signal already buffered, without waiting.
    pub fn try_recv(&mut self) -> Option<Signal> {
        self.rx.try_recv().ok()
    }

    /// Whether the hub dropped this subscription because its buffer was full.
    pub fn lagged(&self) -> bool {
        self.lagged.load(Ordering::Acquire)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.unregister(self.key, self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::event::Op;

    fn event(user: Uuid, session: Option<Uuid>) -> LiveEvent {
        LiveEvent {
            table: "chat.chat_messages".into(),
            op: Op::Insert,
            id: Uuid::new_v4(),
            user_id: Some(user),
            session_id: session,
            workspace_id: None,
            ts: chrono::Utc::now(),
        }
    }

    fn all() -> Filter {
        Arc::new(|_| true)
    }

    #[tokio::test]
    async fn delivers_only_to_matching_keys_and_filters() {
        let hub = Hub::new(8);
        let (a, b, s) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let mut for_a = hub.register(Key::User(a), all());
        let mut for_b = hub.register(Key::User(b), all());
        let mut for_s = hub.register(Key::Session(s), all());
        let mut none = hub.register(Key::User(a), Arc::new(|_| false));
        hub.publish(event(a, Some(s)));
        assert!(matches!(for_a.try_recv(), Some(Signal::Event(_))));
        assert!(matches!(for_s.try_recv(), Some(Signal::Event(_))));
        assert!(for_b.try_recv().is_none());
        assert!(none.try_recv().is_none());
        assert_eq!(hub.subscribers(), 4);
        drop(for_b);
        assert_eq!(hub.subscribers(), 3);
    }

    #[tokio::test]
    async fn a_full_buffer_drops_only_that_subscriber() {
        let hub = Hub::new(2);
        let a = Uuid::new_v4();
        let mut slow = hub.register(Key::User(a), all());
        let mut fast = hub.register(Key::User(a), all());
        for _ in 0..3 {
            hub.publish(event(a, None));
            assert!(fast.try_recv().is_some());
        }
        assert!(slow.lagged());
        assert!(!fast.lagged());
        assert!(slow.recv().await.is_some());
        assert!(slow.recv().await.is_some());
        assert!(slow.recv().await.is_none(), "dropped after its buffer");
        assert_eq!(hub.subscribers(), 1);
    }

    #[tokio::test]
    async fn gaps_reach_everyone() {
        let hub = Hub::new(4);
        let mut a = hub.register(Key::User(Uuid::new_v4()), all());
        let mut w = hub.register(Key::Workspace(Uuid::new_v4()), all());
        hub.publish_gap();
        assert!(matches!(a.try_recv(), Some(Signal::Gap)));
        assert!(matches!(w.try_recv(), Some(Signal::Gap)));
    }
}
