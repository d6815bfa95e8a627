//! Live events: the database's change notifications (`LISTEN gateway_live`,
//! sent by the `0007_live` triggers at commit) fanned out in-process to
//! subscriptions. Transport-agnostic: the GraphQL side is
//! `graphql::live`, the websocket side `server::ws`.

pub mod batch;
pub mod event;
pub mod hub;
pub mod lanes;
pub mod listener;

pub use batch::{BatchRead, Batchers};
pub use event::{Cursor, LiveEvent, Op};
pub use hub::{Filter, Hub, Key, Registration, Signal};
pub use lanes::{Lane, Lanes};
pub use listener::ListenerStats;

use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// Limits and buffers of live subscriptions.
#[derive(Clone, Debug, clap::Args)]
pub struct LiveConfig {
    /// Most subscriptions one websocket connection may hold at once.
    #[arg(long, env = "MAX_SUBSCRIPTIONS_PER_CONNECTION", default_value_t = 100)]
    pub max_subscriptions_per_connection: usize,
    /// Most websocket connections one user may hold at once (per process).
    #[arg(
        long = "max-ws-connections-per-user",
        env = "MAX_WS_CONNECTIONS_PER_USER",
        default_value_t = 20
    )]
    pub max_connections_per_user: usize,
    /// Events a subscriber may fall behind before it is told so and closed.
    #[arg(long = "live-buffer", env = "LIVE_BUFFER", default_value_t = 256)]
    pub buffer: usize,
    /// Milliseconds between the server's keep-alive pings on a websocket; a
    /// peer silent for four intervals (not even a pong) is disconnected.
    #[arg(
        long = "ws-keepalive-ms",
        env = "WS_KEEPALIVE_MS",
        default_value_t = 15_000
    )]
    pub keepalive_ms: u64,
    /// Subscription deliveries that may hold a database connection at once
    /// (the delivery lanes, see `live::lanes`); the others wait in line
    /// outside the pool, which keeps room for HTTP requests and keeps
    /// thousands of subscribers from all waiting on the pool at once.
    #[arg(
        long = "live-delivery-concurrency",
        env = "LIVE_DELIVERY_CONCURRENCY",
        default_value_t = 8
    )]
    pub delivery_concurrency: usize,
}

impl Default for LiveConfig {
    fn default() -> Self {
        Self {
            max_subscriptions_per_connection: 100,
            max_connections_per_user: 20,
            buffer: 256,
            keepalive_ms: 15_000,
            delivery_concurrency: 8,
        }
    }
}

/// The live side of one gateway process: the hub, its listener and the
/// per-user connection count. Cheap to clone.
#[derive(Clone)]
pub struct Live {
    /// The in-process fan-out.
    pub hub: Hub,
    /// The LISTEN connection's counters.
    pub stats: ListenerStats,
    /// Limits.
    pub config: LiveConfig,
    /// Where deliveries run (see [`LiveConfig::delivery_concurrency`]).
    pub lanes: Lanes,
    /// Reads shared by the deliveries of one event to many subscribers.
    pub batchers: Batchers,
    connections: Arc<Mutex<HashMap<Uuid, usize>>>,
}

impl Live {
    /// Starts listening on `db`'s server (own connection, same options as the pool).
    pub fn start(db: &DatabaseConnection, config: LiveConfig) -> Live {
        let hub = Hub::new(config.buffer);
        let options = db.get_postgres_connection_pool().connect_options();
        let stats = listener::spawn((*options).clone(), hub.clone());
        let lanes = Lanes::new(db.clone(), config.delivery_concurrency);
        Live {
            hub,
            stats,
            lanes: lanes.clone(),
            batchers: Batchers::new(lanes),
            config,
            connections: Arc::default(),
        }
    }

    /// Counts a websocket connection of `user` (anonymous ones are not
    /// counted: they can subscribe to nothing private), or `None` when the
    /// user already holds the maximum.
    pub fn open_connection(&self, user: Option<Uuid>) -> Option<ConnectionGuard> {
        if let Some(user) = user {
            let mut counts = self.lock();
            let count = counts.entry(user).or_default();
            if *count >= self.config.max_connections_per_user {
                return None;
            }
            *count += 1;
        }
        Some(ConnectionGuard {
            live: self.clone(),
            user,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, usize>> {
        self.connections.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One counted websocket connection; uncounted on drop.
pub struct ConnectionGuard {
    live: Live,
    user: Option<Uuid>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if let Some(user) = self.user {
            let mut counts = self.live.lock();
            if let Some(count) = counts.get_mut(&user) {
                *count -= 1;
                if *count == 0 {
                    counts.remove(&user);
                }
            }
        }
    }
}
