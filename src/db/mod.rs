//! Database access: where the database is (embedded cluster or `DATABASE_URL`),
//! creating it, migrating it, and connecting to it.

pub mod embedded;
pub mod request;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::{self, Connection, PgConnection};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use std::time::Duration;

/// Errors reaching, creating or migrating the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The embedded cluster could not start.
    #[error(transparent)]
    Embedded(#[from] embedded::EmbeddedError),
    /// A sea-orm error (connection, migration).
    #[error("database: {0}")]
    Orm(#[from] DbErr),
    /// A raw driver error (database creation).
    #[error("database: {0}")]
    Driver(#[from] sqlx::Error),
}

/// Creates `database` on the server behind `admin_url` unless it exists.
/// `admin_url` must name an existing database (usually `postgres`).
pub async fn ensure_database(admin_url: &str, database: &str) -> Result<(), DbError> {
    let mut conn = PgConnection::connect(admin_url).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(database)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        let sql = format!("CREATE DATABASE {}", quote_ident(database));
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await?;
    }
    conn.close().await?;
    Ok(())
}

/// Applies every pending migration on the database at `url`, then closes.
pub async fn migrate(url: &str) -> Result<(), DbError> {
    let mut options = ConnectOptions::new(url);
    options.max_connections(1).sqlx_logging(false);
    let db = Database::connect(options).await?;
    Migrator::up(&db, None).await?;
    db.close().await?;
    Ok(())
}

/// How long a request waits for a pool connection (`--db-acquire-timeout-ms`)
/// unless configured otherwise.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_millis(2000);

/// How long start-up keeps retrying while the database refuses connections
/// (it may still be starting); requests never wait this long.
const STARTUP_WAIT: Duration = Duration::from_secs(10);

/// Settings of the request pool.
#[derive(Clone, Debug)]
pub struct PoolSettings {
    /// Most connections open at once.
    pub max_connections: u32,
    /// Longest wait for a connection, opening a new one included: past it
    /// the request fails (`SERVICE_UNAVAILABLE` when the database is down)
    /// instead of waiting for the database to come back. Also bounds each
    /// connection attempt (the pool has no separate connect timeout).
    pub acquire_timeout: Duration,
}

impl PoolSettings {
    /// `max_connections` with the default acquire timeout.
    pub fn new(max_connections: u32) -> Self {
        Self {
            max_connections,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
        }
    }
}

/// Opens a pool of at most `max_connections` on `url`, with the default
/// acquire timeout.
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbError> {
    connect_with(url, &PoolSettings::new(max_connections)).await
}

/// Opens a pool on `url` as `settings` say. The first connection is
/// retried for a few seconds while the server is unreachable (it may still
/// be starting); after that, every acquisition waits at most
/// `settings.acquire_timeout`.
pub async fn connect_with(
    url: &str,
    settings: &PoolSettings,
) -> Result<DatabaseConnection, DbError> {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(settings.max_connections)
        .min_connections(1)
        .connect_timeout(settings.acquire_timeout)
        .acquire_timeout(settings.acquire_timeout)
        .sqlx_logging(false);
    let give_up = std::time::Instant::now() + STARTUP_WAIT;
    loop {
        match Database::connect(options.clone()).await {
            Ok(db) => return Ok(db),
            Err(err) if is_unavailable(&err) && std::time::Instant::now() < give_up => {
                tracing::warn!(error = %err, "database not reachable yet, retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(err) => return Err(err.into()),
        }
    }
}

/// True when `err` says the database cannot be reached right now rather
/// than that the statement was wrong: no connection within the acquire
/// timeout, a closed pool, a broken or refused connection (I/O, TLS), or
/// a server that is shutting down or starting (SQLSTATE class `08`,
/// `57P01`-`57P03`, and `53300` too many connections). A statement timeout
/// (`57014`) is not one of them.
pub fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    match err {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => sqlx_unavailable(e),
        _ => false,
    }
}

fn sqlx_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

/// True when every known migration has been applied. Reads the ledger
/// directly: sea-orm's own status check first tries to create the ledger
/// table, which the unprivileged `gateway` role may not.
pub async fn migrations_applied(db: &DatabaseConnection) -> Result<bool, DbError> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT version FROM public.seaql_migrations",
        ))
        .await?;
    let applied = rows
        .iter()
        .map(|row| row.try_get::<String>("", "version"))
        .collect::<Result<std::collections::HashSet<_>, _>>()?;
    Ok(Migrator::migrations()
        .iter()
        .all(|m| applied.contains(m.name())))
}

/// Quotes a PostgreSQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A migrated database, ready to serve, and the embedded cluster behind it
/// when there is one (stopped when this is dropped).
pub struct Started {
    /// Pool connected as the `gateway` login role (embedded) or `DATABASE_URL`.
    pub db: DatabaseConnection,
    /// The embedded cluster, when no `DATABASE_URL` was given.
    pub cluster: Option<embedded::Cluster>,
}

/// Reaches the configured database (starting and creating the embedded one
/// when there is no `DATABASE_URL`), migrates it, and connects the pool.
pub async fn start(config: &crate::config::DbConfig) -> Result<Started, DbError> {
    let pool = PoolSettings {
        max_connections: config.pool_size,
        acquire_timeout: Duration::from_millis(config.acquire_timeout_ms),
    };
    if let Some(url) = &config.database_url {
        let db = connect_with(url, &pool).await?;
        // The gateway usually connects as an unprivileged role that may not
        // run DDL: migrate only when something is pending (an owner's URL is
        // needed then: `gateway migrate` or `cargo run -p migration -- up`).
        if !migrations_applied(&db).await.unwrap_or(false) {
            migrate(url).await.map_err(|err| {
                DbError::Orm(DbErr::Migration(format!(
                    "migrations are pending and could not be applied as this user ({err}); \
                     run `gateway migrate` with DATABASE_URL of the database owner first"
                )))
            })?;
        }
        return Ok(Started { db, cluster: None });
    }
    let options = embedded::ClusterOptions::persistent(&config.data_dir);
    let cluster = tokio::task::spawn_blocking(move || embedded::Cluster::start(options))
        .await
        .expect("cluster start task panicked")?;
    ensure_database(&cluster.url("postgres", "postgres"), &config.db_name).await?;
    migrate(&cluster.url("postgres", &config.db_name)).await?;
    let db = connect_with(&cluster.url("gateway", &config.db_name), &pool).await?;
    Ok(Started {
        db,
        cluster: Some(cluster),
    })
}
