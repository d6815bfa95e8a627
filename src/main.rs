//! `gateway`: the command line of the workbench GraphQL gateway.

use clap::{Parser, Subcommand};
use gateway::config::{DbConfig, ServerConfig};
use tracing_subscriber::EnvFilter;

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
}

#[derive(Subcommand)]
enum Command {
    /// Start the database (embedded unless DATABASE_URL is set), migrate, serve (default).
    Serve,
    /// Start the database, apply pending migrations, and exit.
    Migrate,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm_migration=warn")),
        )
        .init();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.db, cli.server).await,
        Command::Migrate => {
            let started = gateway::db::start(&cli.db).await?;
            tracing::info!("database migrated");
            drop(started);
            Ok(())
        }
    }
}

async fn serve(db: DbConfig, server: ServerConfig) -> anyhow::Result<()> {
    let started = gateway::db::start(&db).await?;
    if let Some(cluster) = &started.cluster {
        tracing::info!(
            data_dir = %cluster.data_dir().display(),
            port = cluster.port(),
            "embedded PostgreSQL running and migrated"
        );
    }
    let listener = tokio::net::TcpListener::bind(server.listen).await?;
    let addr = listener.local_addr()?;
    let app = gateway::server::router(gateway::server::AppState {
        db: started.db.clone(),
    });
    println!("gateway ready on http://{addr} (health: /healthz, readiness: /readyz)");
    axum::serve(listener, app)
        .with_graceful_shutdown(gateway::server::shutdown_signal())
        .await?;
    started.db.close().await?;
    tracing::info!("shut down");
    Ok(())
}
