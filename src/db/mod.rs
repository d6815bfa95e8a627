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

/// Opens a pool of at most `max_connections` on `url`.
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbError> {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    Ok(Database::connect(options).await?)
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
    if let Some(url) = &config.database_url {
        let db = connect(url, config.pool_size).await?;
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
    let db = connect(&cluster.url("gateway", &config.db_name), config.pool_size).await?;
    Ok(Started {
        db,
        cluster: Some(cluster),
    })
}
