//! `gateway`: the command line of the workbench GraphQL gateway.

use clap::{Parser, Subcommand};
use gateway::auth::{AuthConfig, Authenticator, Role};
use gateway::config::{DbConfig, ServerConfig};
use gateway::graphql::limits::Limits;
use gateway::server::metrics::Metrics;
use gateway::server::shutdown::Shutdown;
use gateway::server::AppState;
use std::path::PathBuf;
use std::time::Duration;
use tracing_subscriber::EnvFilter;

/// jemalloc rather than glibc's malloc: a GraphQL response allocates and
/// frees thousands of small values, where glibc spent a fifth of the
/// gateway's CPU, and jemalloc gives memory back after a burst. Compared
/// with glibc and mimalloc in docs/benchmarks.md ("Allocator"). Without the
/// `jemalloc` feature the system allocator is used (for heaptrack).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's own figures, for `gateway_allocator_bytes` in /metrics:
/// `allocated` is live data, `resident` what jemalloc holds in RAM (the
/// difference is its free lists, dirty pages and metadata).
#[cfg(feature = "jemalloc")]
fn jemalloc_stats() -> Vec<(&'static str, u64)> {
    use std::ffi::{c_void, CStr};
    fn read(name: &CStr) -> Option<u64> {
        let mut value: usize = 0;
        let mut len = std::mem::size_of::<usize>();
        // SAFETY: `name` is NUL-terminated and names a size_t statistic;
        // `value` and `len` describe a size_t.
        let rc = unsafe {
            tikv_jemalloc_sys::mallctl(
                name.as_ptr(),
                (&mut value as *mut usize).cast::<c_void>(),
                &mut len,
                std::ptr::null_mut(),
                0,
            )
        };
        (rc == 0).then_some(value as u64)
    }
    // Statistics are a snapshot taken when the epoch advances.
    // SAFETY: "epoch" is a u64 control.
    unsafe { mallctl_write(c"epoch", 1u64) };
    [
        ("allocated", c"stats.allocated"),
        ("active", c"stats.active"),
        ("metadata", c"stats.metadata"),
        ("resident", c"stats.resident"),
        ("mapped", c"stats.mapped"),
        ("retained", c"stats.retained"),
    ]
    .into_iter()
    .filter_map(|(state, name)| Some((state, read(name)?)))
    .collect()
}

/// Turns on jemalloc's background purging thread. Without it, memory freed
/// after a burst is returned to the system only when the allocator is next
/// used, so a gateway that falls idle after a load kept its dirty pages
/// (~7 MiB after the API bench) for as long as it stayed idle. With it,
/// unused pages go back after jemalloc's decay time (10 s), busy or not.
#[cfg(feature = "jemalloc")]
fn jemalloc_background_purge() {
    // SAFETY: "background_thread" is a bool control.
    let rc = unsafe { mallctl_write(c"background_thread", true) };
    if rc != 0 {
        tracing::warn!(rc, "jemalloc background purging unavailable");
    }
}

/// Writes `value` to jemalloc control `name`; jemalloc's return code (0: done).
///
/// # Safety
/// `name` must name a control whose value has type `T` (`epoch`: u64,
/// `background_thread`: bool).
#[cfg(feature = "jemalloc")]
unsafe fn mallctl_write<T: Copy>(name: &std::ffi::CStr, mut value: T) -> i32 {
    // SAFETY: `name` is NUL-terminated and, by the caller's promise, names a
    // control of type `T`, written through `newp` with its size.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            (&mut value as *mut T).cast::<std::ffi::c_void>(),
            std::mem::size_of::<T>(),
        )
    }
}

/// The HS256 secret used when none is configured and the database is the
/// embedded development one. Never used with `DATABASE_URL`.
const DEV_JWT_SECRET: &str = "workbench-gateway-development-secret-not-for-production";

#[derive(Parser)]
#[command(
    name = "gateway",
    version,
    about = "GraphQL gateway for the LLM workbench"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    db: DbConfig,
    #[command(flatten)]
    server: ServerConfig,
    #[command(flatten)]
    auth: AuthConfig,
    #[command(flatten)]
    limits: Limits,
    #[command(flatten)]
    live: gateway::live::LiveConfig,
    #[command(flatten)]
    edge: gateway::server::edge::EdgeConfig,
    #[command(flatten)]
    persisted: gateway::server::persisted::PersistedConfig,
}

#[derive(Subcommand)]
enum Command {
    /// Start the database (embedded unless DATABASE_URL is set), migrate, serve (default).
    Serve,
    /// Start the database, apply pending migrations, and exit.
    Migrate,
    /// Write the schema's SDL to a file (default schema.graphql).
    ExportSchema {
        /// Where to write it; `-` for standard output.
        #[arg(default_value = "schema.graphql")]
        path: PathBuf,
    },
    /// Create the demo user with demo data (idempotent) and print a token for it.
    SeedDemo,
    /// Mint a development token with the configured secret.
    Token {
        /// The user's id (required unless --role anon or service_role).
        #[arg(long)]
        user: Option<uuid::Uuid>,
        /// anon, authenticated or service_role.
        #[arg(long, default_value = "authenticated")]
        role: Role,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
        /// Email claim.
        #[arg(long)]
        email: Option<String>,
    },
}

/// Stack of each runtime thread. Inputs are bounded before anything recurses
/// over them (`graphql::input_bounds`); the larger stack (tokio's default is
/// 2 MiB) is headroom on top, paid in address space, not memory.
const THREAD_STACK_BYTES: usize = 8 << 20;

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(THREAD_STACK_BYTES)
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm_migration=warn")),
        )
        .init();
    let mut cli = Cli::parse();
    let command = cli.command.take().unwrap_or(Command::Serve);
    // Only the commands that verify or mint tokens need a key: migrating a
    // production database must not ask for its JWT secret.
    let uses_tokens = matches!(
        command,
        Command::Serve | Command::SeedDemo | Command::Token { .. }
    );
    if uses_tokens && cli.auth.jwt_secret.is_none() && cli.auth.jwks_file.is_none() {
        if cli.db.database_url.is_some() {
            anyhow::bail!("set JWT_SECRET (or JWT_JWKS_FILE) when DATABASE_URL is set");
        }
        tracing::warn!(
            "no JWT_SECRET: using the built-in development secret (embedded database only)"
        );
        cli.auth.jwt_secret = Some(DEV_JWT_SECRET.to_string());
    }
    match command {
        Command::Serve => serve(cli).await,
        Command::Migrate => {
            let started = gateway::db::start(&cli.db).await?;
            tracing::info!("database migrated");
            drop(started);
            Ok(())
        }
        Command::SeedDemo => {
            let started = gateway::db::start(&cli.db).await?;
            let demo = gateway::demo::ensure_demo_user(&started.db).await?;
            let auth = Authenticator::new(&cli.auth)?;
            let token = auth.mint(
                Some(demo),
                Role::Authenticated,
                Duration::from_secs(24 * 3600),
                Some(gateway::demo::DEMO_EMAIL),
            )?;
            println!("demo user {} ({demo})", gateway::demo::DEMO_EMAIL);
            println!("{{\"Authorization\": \"Bearer {token}\"}}");
            Ok(())
        }
        Command::ExportSchema { path } => {
            let sdl = gateway::graphql::sdl();
            if path.as_os_str() == "-" {
                print!("{sdl}");
            } else {
                std::fs::write(&path, sdl)?;
                eprintln!("wrote {}", path.display());
            }
            Ok(())
        }
        Command::Token {
            user,
            role,
            ttl,
            email,
        } => {
            let auth = Authenticator::new(&cli.auth)?;
            let token = auth.mint(user, role, Duration::from_secs(ttl), email.as_deref())?;
            println!("{token}");
            Ok(())
        }
    }
}

async fn serve(cli: Cli) -> anyhow::Result<()> {
    #[cfg(feature = "jemalloc")]
    {
        gateway::server::metrics::set_allocator_stats(jemalloc_stats);
        jemalloc_background_purge();
    }
    let auth = Authenticator::new(&cli.auth)?;
    let started = gateway::db::start(&cli.db).await?;
    if let Some(cluster) = &started.cluster {
        tracing::info!(
            data_dir = %cluster.data_dir().display(),
            port = cluster.port(),
            "embedded PostgreSQL running and migrated"
        );
    }
    let state = AppState {
        db: started.db.clone(),
        schema: gateway::graphql::build_schema(&cli.limits),
        auth,
        limits: cli.limits.clone(),
        metrics: Metrics::new(),
        statement_timeout: Duration::from_millis(cli.server.statement_timeout_ms),
        shutdown: Shutdown::new(),
        live: gateway::live::Live::start(&started.db, cli.live.clone()),
        health: gateway::server::health::Health::start(&started.db).await,
        // The allowed origins' default depends on the database (logged).
        rate: gateway::server::rate::RateLimits::new(&cli.limits),
        edge: cli.edge.clone().resolved(cli.db.database_url.is_none()),
        persisted: gateway::server::persisted::Persisted::new(&cli.persisted)?,
    };
    let shutdown = state.shutdown.clone();
    let listener = tokio::net::TcpListener::bind(cli.server.listen).await?;
    let addr = listener.local_addr()?;
    println!("gateway ready: GraphiQL at http://{addr}/graphql (health /healthz, readiness /readyz, metrics /metrics)");
    if started.cluster.is_some() {
        let demo = gateway::demo::ensure_demo_user(&started.db).await?;
        let token = state.auth.mint(
            Some(demo),
            Role::Authenticated,
            Duration::from_secs(24 * 3600),
            Some(gateway::demo::DEMO_EMAIL),
        )?;
        println!(
            "demo user {} ({demo}); paste into GraphiQL's headers (valid 24 h):",
            gateway::demo::DEMO_EMAIL
        );
        println!("  {{\"Authorization\": \"Bearer {token}\"}}");
        println!(
            "more tokens: cargo run -- token --user <uuid> [--role service_role] [--ttl seconds]"
        );
    }
    let signal = shutdown.clone();
    axum::serve(
        listener,
        gateway::server::router(state)
            .into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        gateway::server::shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests, closing websockets");
        signal.trigger();
    })
    .await?;
    if !shutdown.drained(Duration::from_secs(5)).await {
        tracing::warn!("websockets still open after 5 s; closing anyway");
    }
    started.db.close().await?;
    tracing::info!("shut down");
    Ok(())
}
