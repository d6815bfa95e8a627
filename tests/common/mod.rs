//! Test harness shared by every test binary: one throwaway PostgreSQL cluster
//! per binary (or the server at `TEST_DATABASE_URL`), a template database
//! migrated once, and a fresh database per test cloned from it.

#![allow(dead_code)]

pub mod app;
pub mod browser;
pub mod ws;

pub use sea_orm::sqlx;

use gateway::db::embedded::{Cluster, ClusterOptions};
use sea_orm::sqlx::postgres::PgPoolOptions;
use sea_orm::sqlx::{Connection, PgConnection, PgPool, Postgres};
use sea_orm::{EntityTrait, Iterable, QuerySelect};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use uuid::Uuid;

/// A transaction running as some role with some claims.
pub type Tx = sqlx::Transaction<'static, Postgres>;

/// The server every test of this binary uses.
struct Server {
    /// Keeps the throwaway cluster alive for the life of the binary.
    _cluster: Option<Cluster>,
    /// `postgres://user@host:port` without a database.
    base_url: String,
    /// The migrated template database.
    template: String,
}

static SERVER: OnceLock<Server> = OnceLock::new();
/// Set by binaries that need a cluster they may restart, whatever
/// `TEST_DATABASE_URL` says.
static OWN_CLUSTER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes this binary use its own throwaway cluster even when
/// `TEST_DATABASE_URL` is set (call before the first `TestDb::new`).
pub fn use_own_cluster() {
    OWN_CLUSTER.store(true, Ordering::SeqCst);
}
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        let external = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|_| !OWN_CLUSTER.load(Ordering::SeqCst));
        let (cluster, base_url) = match external {
            Some(url) => (None, strip_database(&url)),
            None => {
                let cluster = Cluster::start(ClusterOptions::ephemeral().expect("temp dir"))
                    .expect("start the throwaway PostgreSQL cluster");
                let base = format!("postgres://postgres@127.0.0.1:{}", cluster.port());
                (Some(cluster), base)
            }
        };
        let template = format!("gw_template_{}", std::process::id());
        let (base, tpl) = (base_url.clone(), template.clone());
        // Each #[tokio::test] has its own runtime; the template is built on a
        // runtime of its own so no connection outlives the one it was made on.
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(async move {
                    let admin = format!("{base}/postgres");
                    let mut conn = PgConnection::connect(&admin).await.expect("connect admin");
                    let sql = format!("DROP DATABASE IF EXISTS {tpl}");
                    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await
                        .expect("drop old template");
                    conn.close().await.ok();
                    gateway::db::ensure_database(&admin, &tpl)
                        .await
                        .expect("create template");
                    gateway::db::migrate(&format!("{base}/{tpl}"))
                        .await
                        .expect("migrate template");
                })
        })
        .join()
        .expect("template setup panicked");
        Server {
            _cluster: cluster,
            base_url,
            template,
        }
    })
}

/// Restarts this binary's throwaway cluster (every connection drops);
/// `false` when the tests run against `TEST_DATABASE_URL` instead.
pub fn restart_server() -> bool {
    match &server()._cluster {
        Some(cluster) => {
            cluster.restart().expect("restart the cluster");
            true
        }
        None => false,
    }
}

/// Stops this binary's throwaway cluster (fast shutdown, as `pg_ctl stop -m
/// fast`: every connection drops and new ones are refused) and waits until
/// it is down; `false` when the tests run against `TEST_DATABASE_URL`
/// instead. [`start_server`] brings it back.
pub fn stop_server() -> bool {
    let Some(cluster) = &server()._cluster else {
        return false;
    };
    let pid_file = cluster.data_dir().join("postmaster.pid");
    let pid: libc::pid_t = std::fs::read_to_string(&pid_file)
        .expect("read postmaster.pid")
        .lines()
        .next()
        .and_then(|line| line.trim().parse().ok())
        .expect("the postmaster's pid");
    // SAFETY: sends a signal to a process; no memory is involved.
    let rc = unsafe { libc::kill(pid, libc::SIGINT) };
    assert_eq!(rc, 0, "signal the postmaster to stop");
    for _ in 0..600 {
        if !pid_file.exists() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the cluster did not stop within 30 s");
}

/// Starts the cluster [`stop_server`] stopped, with the same settings and
/// port, and waits until it accepts connections (`pg_ctl restart` starts a
/// stopped server with the options it last ran with).
pub fn start_server() -> bool {
    match &server()._cluster {
        Some(cluster) => {
            cluster.restart().expect("start the cluster again");
            true
        }
        None => false,
    }
}

fn strip_database(url: &str) -> String {
    let scheme_end = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[scheme_end..].find('/') {
        Some(i) => url[..scheme_end + i].to_string(),
        None => url.to_string(),
    }
}

/// A fresh database for one test, cloned from the migrated template.
pub struct TestDb {
    /// Database name.
    pub name: String,
    /// URL as the superuser.
    pub url: String,
    /// Pool connected as the superuser (owner; bypasses RLS): for fixtures.
    pub pool: PgPool,
}

impl TestDb {
    /// Creates a new database from the template and connects to it.
    pub async fn new() -> Self {
        let server = server();
        let name = format!(
            "gw_test_{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::SeqCst)
        );
        let mut admin = PgConnection::connect(&format!("{}/postgres", server.base_url))
            .await
            .expect("connect admin");
        // WAL_LOG (PostgreSQL 15's default) over FILE_COPY: FILE_COPY forces
        // two checkpoints per clone, which spike to ~150 ms (benches/db_setup.rs).
        let sql = format!(
            "CREATE DATABASE {name} TEMPLATE {} STRATEGY WAL_LOG",
            server.template
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
            .expect("clone the template database");
        admin.close().await.ok();
        let url = format!("{}/{name}", server.base_url);
        let pool = PgPoolOptions::new()
            .max_connections(12)
            .connect(&url)
            .await
            .expect("connect to the test database");
        Self { name, url, pool }
    }

    /// A URL for this database as another login role (e.g. `gateway`).
    pub fn url_as(&self, user: &str) -> String {
        let server = server();
        let rest = server
            .base_url
            .split_once('@')
            .map(|(_, host)| host)
            .unwrap_or("");
        format!("postgres://{user}@{rest}/{}", self.name)
    }

    /// A sea-orm connection as the superuser.
    pub async fn orm(&self) -> sea_orm::DatabaseConnection {
        sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(self.pool.clone())
    }

    /// Signs up a user (an `auth.users` row, as Supabase Auth would) and
    /// returns its id. Triggers create the dependent rows.
    pub async fn create_user(&self, email: &str) -> Uuid {
        let name = email.split('@').next().unwrap_or(email);
        sqlx::query_scalar(
            "INSERT INTO auth.users (email, raw_user_meta_data) VALUES ($1, $2) RETURNING id",
        )
        .bind(email)
        .bind(serde_json::json!({ "full_name": name }))
        .fetch_one(&self.pool)
        .await
        .expect("create user")
    }

    /// A transaction as `role` with `claims` as `request.jwt.claims`.
    pub async fn as_role(&self, role: &str, claims: serde_json::Value) -> Tx {
        let mut tx = self.pool.begin().await.expect("begin");
        sqlx::query(
            "SELECT set_config('role', $1, true), set_config('request.jwt.claims', $2, true)",
        )
        .bind(role)
        .bind(claims.to_string())
        .execute(&mut *tx)
        .await
        .expect("set role and claims");
        tx
    }

    /// A transaction as the signed-in `user`.
    pub async fn as_user(&self, user: Uuid) -> Tx {
        self.as_role(
            "authenticated",
            serde_json::json!({ "sub": user, "role": "authenticated", "aud": "authenticated" }),
        )
        .await
    }

    /// A transaction as an anonymous visitor.
    pub async fn as_anon(&self) -> Tx {
        self.as_role("anon", serde_json::json!({ "role": "anon" }))
            .await
    }

    /// A transaction as the service role (bypasses RLS).
    pub async fn as_service(&self) -> Tx {
        self.as_role(
            "service_role",
            serde_json::json!({ "role": "service_role" }),
        )
        .await
    }
}

/// What a failed statement reported.
#[derive(Debug, Clone)]
pub struct DbError {
    /// SQLSTATE, e.g. `23505`.
    pub code: String,
    /// The violated constraint, when there is one.
    pub constraint: Option<String>,
    /// The server's message.
    pub message: String,
}

/// The database error of a result that must have failed.
#[track_caller]
pub fn db_error<T: std::fmt::Debug>(result: Result<T, sqlx::Error>) -> DbError {
    match result {
        Ok(value) => panic!("expected a database error, got Ok({value:?})"),
        Err(sqlx::Error::Database(e)) => DbError {
            code: e.code().map(|c| c.to_string()).unwrap_or_default(),
            constraint: e.constraint().map(str::to_string),
            message: e.message().to_string(),
        },
        Err(other) => panic!("expected a database error, got {other}"),
    }
}

/// SQLSTATE for a refused privilege (`42501`).
pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
/// SQLSTATE for a unique violation.
pub const UNIQUE_VIOLATION: &str = "23505";
/// SQLSTATE for a foreign key violation.
pub const FOREIGN_KEY_VIOLATION: &str = "23503";
/// SQLSTATE for a CHECK violation.
pub const CHECK_VIOLATION: &str = "23514";
/// SQLSTATE for a NOT NULL violation.
pub const NOT_NULL_VIOLATION: &str = "23502";

/// Asserts that entity `E` matches its table or view: the same column names,
/// compatible types, no non-optional field over a nullable table column, and
/// rows of the relation (there must be at least one) decode through it.
pub async fn check_entity<E>(db: &TestDb)
where
    E: EntityTrait + Default,
{
    let entity = E::default();
    let schema = entity.schema_name().unwrap_or("public").to_string();
    let table = entity.table_name().to_string();
    let rows: Vec<(String, String, bool, String)> = sqlx::query_as(
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, c.relkind::text
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
    )
    .bind(&schema)
    .bind(&table)
    .fetch_all(&db.pool)
    .await
    .expect("read the catalog");
    assert!(!rows.is_empty(), "{schema}.{table} does not exist");
    let catalog: BTreeMap<String, (String, bool, String)> = rows
        .into_iter()
        .map(|(name, ty, not_null, kind)| (name, (ty, not_null, kind)))
        .collect();

    let mut entity_columns = Vec::new();
    for column in E::Column::iter() {
        use sea_orm::{ColumnTrait, IdenStatic};
        let name = column.as_str().to_string();
        let def = column.def();
        let (pg_type, not_null, kind) = catalog
            .get(&name)
            .unwrap_or_else(|| panic!("{schema}.{table} has no column `{name}`"));
        let rust_type = format!("{:?}", def.get_column_type());
        assert!(
            type_compatible(&rust_type, pg_type),
            "{schema}.{table}.{name}: entity type {rust_type} vs column type {pg_type}"
        );
        // Views lose NOT NULL in the catalog; only tables are checked.
        if kind == "r" && !not_null {
            assert!(
                def.is_null(),
                "{schema}.{table}.{name} is nullable but the entity field is not Option"
            );
        }
        entity_columns.push(name);
    }
    let missing: Vec<&String> = catalog
        .keys()
        .filter(|c| !entity_columns.contains(c))
        .collect();
    assert!(
        missing.is_empty(),
        "{schema}.{table} columns missing from the entity: {missing:?}"
    );

    let orm = db.orm().await;
    let models = E::find()
        .limit(100)
        .all(&orm)
        .await
        .unwrap_or_else(|e| panic!("select through the {schema}.{table} entity: {e}"));
    assert!(
        !models.is_empty(),
        "{schema}.{table}: put at least one row in it before check_entity"
    );
}

/// Whether a sea-orm column type (its Debug form) reads a PostgreSQL type.
fn type_compatible(rust: &str, pg: &str) -> bool {
    if pg.ends_with("[]") {
        return rust.starts_with("Array");
    }
    let base = pg.split('(').next().unwrap_or(pg).trim();
    let accepted: &[&str] = match base {
        "uuid" => &["Uuid"],
        "text" | "character varying" | "character" | "name" | "citext" => {
            &["String", "Text", "Char"]
        }
        "smallint" => &["SmallInteger"],
        "integer" => &["Integer"],
        "bigint" => &["BigInteger"],
        "numeric" => &["Decimal", "Money"],
        "real" => &["Float"],
        "double precision" => &["Double"],
        "boolean" => &["Boolean"],
        "timestamp with time zone" => &["TimestampWithTimeZone"],
        "timestamp without time zone" => &["DateTime", "Timestamp"],
        "date" => &["Date"],
        "time without time zone" => &["Time"],
        "interval" => &["Interval"],
        "jsonb" => &["JsonBinary", "Json"],
        "json" => &["Json"],
        "inet" => &["Inet"],
        "cidr" => &["Cidr"],
        "bytea" => &["Binary", "VarBinary", "Blob"],
        _ => return false,
    };
    accepted.iter().any(|a| rust.starts_with(a))
}
