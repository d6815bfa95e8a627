//! Configuration from command-line flags and the environment.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Where the database is and how to reach it.
#[derive(Clone, Debug, clap::Args)]
pub struct DbConfig {
    /// PostgreSQL URL. Without it, an embedded cluster is started in `--data-dir`.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Data folder of the embedded cluster.
    #[arg(long, env = "GATEWAY_DATA_DIR", default_value = ".data/postgres")]
    pub data_dir: PathBuf,
    /// Database name on the embedded cluster.
    #[arg(long, env = "GATEWAY_DB_NAME", default_value = "workbench")]
    pub db_name: String,
    /// Maximum connections in the pool.
    #[arg(long, env = "DB_POOL_SIZE", default_value_t = 16)]
    pub pool_size: u32,
    /// Longest a request waits for a pool connection (opening one
    /// included), in milliseconds; past it the request fails with
    /// `SERVICE_UNAVAILABLE` instead of waiting for the database.
    #[arg(
        long = "db-acquire-timeout-ms",
        env = "DB_ACQUIRE_TIMEOUT_MS",
        default_value_t = 2000
    )]
    pub acquire_timeout_ms: u64,
}

/// HTTP server settings.
#[derive(Clone, Debug, clap::Args)]
pub struct ServerConfig {
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Longest a single SQL statement of a request may run, in milliseconds.
    #[arg(long, env = "STATEMENT_TIMEOUT_MS", default_value_t = 5000)]
    pub statement_timeout_ms: u64,
}
