//! The HTTP server: health and readiness probes (the GraphQL endpoints join
//! them here).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use sea_orm::{ConnectionTrait, DatabaseConnection};

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct AppState {
    /// The database pool.
    pub db: DatabaseConnection,
}

/// The router with every route of the gateway.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(state)
}

/// 200 when the database answers and every migration is applied, else 503.
async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.db.execute_unprepared("SELECT 1").await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "database unreachable");
    }
    match crate::db::migrations_applied(&state.db).await {
        Ok(true) => (StatusCode::OK, "ready"),
        Ok(false) => (StatusCode::SERVICE_UNAVAILABLE, "migrations pending"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "migration status unknown"),
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
