//! Database health for `/readyz`, kept up to date in the background so a
//! readiness probe answers at once from what the process already knows and
//! never waits on the database.
//!
//! A task pings the database every [`PING_INTERVAL`] (`SELECT 1`, at most
//! [`PING_TIMEOUT`]) on a connection of its own (`application_name`
//! `gateway-health`, outside the request pool: a busy pool is not an
//! outage, and the pings stay out of the pool's statement log). It checks
//! the migration ledger when it starts, after every time the database comes
//! back, and every [`MIGRATION_RECHECK`] in between (not on every ping).
//! The database counts as up while the last ping succeeded less than
//! [`STALE_AFTER`] ago.

use sea_orm::sqlx::postgres::PgPoolOptions;
use sea_orm::{ConnectionTrait, DatabaseConnection, SqlxPostgresConnector};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// Time between pings.
pub const PING_INTERVAL: Duration = Duration::from_millis(500);
/// Longest a ping (connecting included) or a migration check may take.
pub const PING_TIMEOUT: Duration = Duration::from_secs(1);
/// A successful ping older than this no longer counts.
pub const STALE_AFTER: Duration = Duration::from_secs(2);
/// Time between migration checks while the database stays up.
pub const MIGRATION_RECHECK: Duration = Duration::from_secs(2);

const MIGRATIONS_UNKNOWN: u8 = 0;
const MIGRATIONS_APPLIED: u8 = 1;
const MIGRATIONS_PENDING: u8 = 2;

/// What the pinger last saw. Cheap to clone; the pinger stops once every
/// clone is dropped.
#[derive(Clone)]
pub struct Health(Arc<Inner>);

struct Inner {
    /// The clock the millisecond stamps below count from.
    epoch: Instant,
    /// Milliseconds since `epoch` of the last successful ping (0: none yet).
    last_ok_ms: AtomicU64,
    /// Whether the last ping succeeded.
    up: AtomicBool,
    /// `MIGRATIONS_*`.
    migrations: AtomicU8,
    /// Milliseconds since `epoch` of the last migration check.
    migrations_checked_ms: AtomicU64,
}

/// Why the database side is not ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotReady {
    /// The last ping failed, or none succeeded in the last [`STALE_AFTER`].
    DatabaseUnreachable,
    /// A known migration is not in the ledger.
    MigrationsPending,
    /// The ledger could not be read.
    MigrationStatusUnknown,
}

impl NotReady {
    /// What `/readyz` says.
    pub fn reason(self) -> &'static str {
        match self {
            NotReady::DatabaseUnreachable => "database unreachable",
            NotReady::MigrationsPending => "migrations pending",
            NotReady::MigrationStatusUnknown => "migration status unknown",
        }
    }
}

impl Health {
    /// Checks the database once (bounded by [`PING_TIMEOUT`] per step), then
    /// keeps checking in a background task. Connects with `db`'s options,
    /// on a one-connection pool of its own.
    pub async fn start(db: &DatabaseConnection) -> Health {
        let options = (*db.get_postgres_connection_pool().connect_options())
            .clone()
            .application_name("gateway-health");
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .acquire_timeout(PING_TIMEOUT)
            .connect_lazy_with(options);
        let probe = SqlxPostgresConnector::from_sqlx_postgres_pool(pool);
        let health = Health(Arc::new(Inner {
            epoch: Instant::now(),
            last_ok_ms: AtomicU64::new(0),
            up: AtomicBool::new(false),
            migrations: AtomicU8::new(MIGRATIONS_UNKNOWN),
            migrations_checked_ms: AtomicU64::new(0),
        }));
        health.0.check(&probe).await;
        tokio::spawn(run(Arc::downgrade(&health.0), probe));
        health
    }

    /// `Ok` when the database answered a ping within the last
    /// [`STALE_AFTER`] and every migration is applied; never waits.
    pub fn status(&self) -> Result<(), NotReady> {
        if !self.database_up() {
            return Err(NotReady::DatabaseUnreachable);
        }
        match self.0.migrations.load(Ordering::Relaxed) {
            MIGRATIONS_APPLIED => Ok(()),
            MIGRATIONS_PENDING => Err(NotReady::MigrationsPending),
            _ => Err(NotReady::MigrationStatusUnknown),
        }
    }

    /// Whether the last ping succeeded, less than [`STALE_AFTER`] ago.
    pub fn database_up(&self) -> bool {
        let inner = &self.0;
        if !inner.up.load(Ordering::Relaxed) {
            return false;
        }
        let last = inner.last_ok_ms.load(Ordering::Relaxed);
        last > 0 && inner.now_ms().saturating_sub(last) < STALE_AFTER.as_millis() as u64
    }
}

async fn run(health: Weak<Inner>, probe: DatabaseConnection) {
    let mut ticker = tokio::time::interval(PING_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await; // the first tick is immediate: `start` just checked
    loop {
        ticker.tick().await;
        let Some(inner) = health.upgrade() else { break };
        inner.check(&probe).await;
    }
    let _ = probe.close().await;
}

impl Inner {
    /// Milliseconds since `epoch`, at least 1 (0 means "never").
    fn now_ms(&self) -> u64 {
        (self.epoch.elapsed().as_millis() as u64).max(1)
    }

    /// One ping, and a migration check when one is due.
    async fn check(&self, probe: &DatabaseConnection) {
        let ping = tokio::time::timeout(PING_TIMEOUT, probe.execute_unprepared("SELECT 1")).await;
        let failure = match ping {
            Ok(Ok(_)) => None,
            Ok(Err(err)) => Some(err.to_string()),
            Err(_) => Some(format!("no answer within {} ms", PING_TIMEOUT.as_millis())),
        };
        if let Some(error) = failure {
            if self.up.swap(false, Ordering::Relaxed) {
                tracing::warn!(%error, "database unreachable");
            }
            return;
        }
        let now = self.now_ms();
        let previous = self.last_ok_ms.swap(now, Ordering::Relaxed);
        let came_back = !self.up.swap(true, Ordering::Relaxed);
        if came_back && previous > 0 {
            tracing::info!("database reachable again");
        }
        let recheck_due = now.saturating_sub(self.migrations_checked_ms.load(Ordering::Relaxed))
            >= MIGRATION_RECHECK.as_millis() as u64;
        let unknown = self.migrations.load(Ordering::Relaxed) == MIGRATIONS_UNKNOWN;
        if came_back || recheck_due || unknown {
            self.check_migrations(probe).await;
        }
    }

    async fn check_migrations(&self, probe: &DatabaseConnection) {
        let state =
            match tokio::time::timeout(PING_TIMEOUT, crate::db::migrations_applied(probe)).await {
                Ok(Ok(true)) => MIGRATIONS_APPLIED,
                Ok(Ok(false)) => MIGRATIONS_PENDING,
                Ok(Err(err)) => {
                    tracing::warn!(error = %err, "cannot read the migration ledger");
                    MIGRATIONS_UNKNOWN
                }
                Err(_) => MIGRATIONS_UNKNOWN,
            };
        self.migrations.store(state, Ordering::Relaxed);
        self.migrations_checked_ms
            .store(self.now_ms(), Ordering::Relaxed);
    }
}
