//! The HTTP server: `POST /graphql` (one transaction per request, as the
//! viewer), GraphiQL on `GET /graphql`, `/graphql/ws`, health, readiness and
//! Prometheus metrics.

pub mod edge;
pub mod graphiql;
pub mod health;
pub mod http;
pub mod media;
pub mod metrics;
pub mod operation;
pub mod persisted;
pub mod rate;
pub mod shutdown;
pub mod ws;

use crate::auth::Authenticator;
use crate::graphql::limits::Limits;
use crate::graphql::AppSchema;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics::Metrics;
pub(crate) use operation::execute;
use sea_orm::DatabaseConnection;
use std::time::Duration;

/// Shared state of the HTTP handlers; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The database pool (connected as the unprivileged `gateway` role).
    pub db: DatabaseConnection,
    /// The schema, built once.
    pub schema: AppSchema,
    /// Token verification.
    pub auth: Authenticator,
    /// Operation limits.
    pub limits: Limits,
    /// Request metrics.
    pub metrics: Metrics,
    /// Per-request statement timeout.
    pub statement_timeout: Duration,
    /// Graceful shutdown signal (websockets close on it).
    pub shutdown: shutdown::Shutdown,
    /// Live events: the hub subscriptions register with, and ws limits.
    pub live: crate::live::Live,
    /// What the background database pings last saw (for `/readyz`).
    pub health: health::Health,
    /// CORS, websocket origins, compression, caching headers.
    pub edge: edge::EdgeConfig,
    /// Persisted operations (APQ and trusted documents).
    pub persisted: persisted::Persisted,
    /// Rate limits per viewer.
    pub rate: rate::RateLimits,
}

/// The router with every route of the gateway.
pub fn router(state: AppState) -> Router {
    let edge = state.edge.clone();
    let routes = Router::new()
        .route(
            "/graphql",
            get(http::graphql_get)
                .post(http::graphql_post)
                .fallback(http::graphql_other),
        )
        .route("/graphql/ws", get(ws::graphql_ws))
        .merge(graphiql::assets_router())
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        // A panic in a handler is a 500 GraphQL body, not a dropped
        // connection (the rest of the process serves on either way).
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            media::panicked,
        ))
        .with_state(state);
    // CORS, compression and caching headers around every route.
    edge::apply(routes, &edge)
}

/// 200 when the database answered a ping lately, every migration is
/// applied and the live listener is connected (without it, subscribers of
/// this process get changes only once it is back); else 503 saying which.
/// Answers from state the process holds (see [`health`]), never waiting on
/// the database.
async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if let Err(not_ready) = state.health.status() {
        return (StatusCode::SERVICE_UNAVAILABLE, not_ready.reason());
    }
    if !state.live.stats.listening() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "live listener not connected",
        );
    }
    (StatusCode::OK, "ready")
}

/// Prometheus text exposition.
async fn metrics_text(State(state): State<AppState>) -> Response {
    let pool = state.db.get_postgres_connection_pool();
    let size = pool.size();
    let idle = pool.num_idle() as u32;
    let mut body = state.metrics.render(size.saturating_sub(idle), idle);
    body.push_str(&metrics::render_live(&state.live));
    body.push_str(&metrics::render_allocator());
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], body).into_response()
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
