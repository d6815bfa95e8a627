//! The one LISTEN connection of a gateway process: receives every
//! notification on [`CHANNEL`] and publishes it to the hub, reconnecting with
//! backoff when the connection or the database goes away. After a reconnect
//! it tells every subscription to read what it missed.

use super::event::{LiveEvent, CHANNEL};
use super::hub::Hub;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// First and largest wait between reconnection attempts: small, so the
/// listener (and `/readyz`, which waits for it) is back within about half a
/// second of the database.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(50), Duration::from_millis(500));
/// Longest one connection attempt may take (the pool retries a refused
/// connection within it).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// While the database stays unreachable, one failed attempt in this many
/// is logged at WARN (the others at DEBUG).
const WARN_EVERY: u32 = 20;

/// Counters of the listener, for `/metrics` and tests.
#[derive(Clone, Default)]
pub struct ListenerStats {
    /// Times the LISTEN connection was (re-)established.
    pub connects: Arc<AtomicU64>,
    /// Notifications whose payload did not parse (ignored).
    pub malformed: Arc<AtomicU64>,
    /// Whether the LISTEN connection is up right now.
    pub listening: Arc<AtomicBool>,
}

impl ListenerStats {
    /// Times the LISTEN connection was (re-)established.
    pub fn connects(&self) -> u64 {
        self.connects.load(Ordering::Relaxed)
    }

    /// Whether the LISTEN connection is up: while it is down, committed
    /// changes reach subscribers only once it is back (as a catch-up).
    pub fn listening(&self) -> bool {
        self.listening.load(Ordering::Relaxed)
    }
}

/// Starts the listener task on its own connection (not one of the request
/// pool's), named `gateway-live` in `pg_stat_activity`.
pub fn spawn(options: PgConnectOptions, hub: Hub) -> ListenerStats {
    let stats = ListenerStats::default();
    let options = options.application_name("gateway-live");
    tokio::spawn(run(options, hub, stats.clone()));
    stats
}

async fn run(options: PgConnectOptions, hub: Hub, stats: ListenerStats) {
    let mut wait = BACKOFF.0;
    let mut failures: u32 = 0;
    loop {
        match listen(&options).await {
            Ok(mut listener) => {
                wait = BACKOFF.0;
                failures = 0;
                if stats.connects.fetch_add(1, Ordering::Relaxed) > 0 {
                    // Listening again: whatever was committed while the
                    // connection was down must now be read from the tables.
                    tracing::info!("live listener reconnected");
                    hub.publish_gap();
                }
                stats.listening.store(true, Ordering::Relaxed);
                pump(&mut listener, &hub, &stats).await;
                stats.listening.store(false, Ordering::Relaxed);
                tracing::warn!("live listener lost its connection");
                hub.publish_gap();
            }
            Err(err) => {
                let retry_in_ms = wait.as_millis() as u64;
                if failures.is_multiple_of(WARN_EVERY) {
                    tracing::warn!(error = %err, retry_in_ms, failures, "live listener cannot connect");
                } else {
                    tracing::debug!(error = %err, retry_in_ms, "live listener cannot connect");
                }
                failures = failures.wrapping_add(1);
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(BACKOFF.1);
            }
        }
    }
}

async fn listen(options: &PgConnectOptions) -> Result<PgListener, sea_orm::sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_lazy_with(options.clone());
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Publishes notifications until the connection fails.
async fn pump(listener: &mut PgListener, hub: &Hub, stats: &ListenerStats) {
    loop {
        match listener.try_recv().await {
            Ok(Some(note)) => match LiveEvent::parse(note.payload()) {
                Ok(event) => hub.publish(event),
                Err(err) => {
                    stats.malformed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %err, "ignoring a malformed live notification");
                }
            },
            Ok(None) | Err(_) => return,
        }
    }
}
