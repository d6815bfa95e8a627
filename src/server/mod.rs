//! The HTTP server: `POST /graphql` (one transaction per request, as the
//! viewer), GraphiQL on `GET /graphql`, `/graphql/ws`, health, readiness and
//! Prometheus metrics.

pub mod graphiql;
pub mod metrics;
pub mod shutdown;
pub mod ws;

use crate::auth::{Authenticator, Viewer};
use crate::graphql::context::RequestTx;
use crate::graphql::limits::{self, check_batch, Limits};
use crate::graphql::{prepare_request, AppSchema};
use async_graphql::{BatchRequest, BatchResponse, ServerError};
use async_graphql_axum::GraphQLBatchRequest;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use metrics::Metrics;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use std::time::{Duration, Instant};
use tracing::Instrument;

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
}

/// The router with every route of the gateway.
pub fn router(state: AppState) -> Router {
    let body_limit = state.limits.max_body_bytes;
    Router::new()
        .route("/graphql", post(graphql_http))
        .route("/graphql/ws", get(ws::graphql_ws))
        .merge(graphiql::router())
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        // async-graphql-axum reads the body itself, past axum's
        // DefaultBodyLimit: the limit must sit on the body stream.
        .layer(tower_http::limit::RequestBodyLimitLayer::new(body_limit))
        .with_state(state)
}

/// A GraphQL error response with one error carrying `code`.
fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let mut error = ServerError::new(message, None);
    error.extensions = Some({
        let mut ext = async_graphql::ErrorExtensionValues::default();
        ext.set("code", code);
        ext
    });
    let body = async_graphql::Response::from_errors(vec![error]);
    (status, Json(body)).into_response()
}

fn operation_type(batch: &BatchRequest) -> &'static str {
    let first_word = |r: &async_graphql::Request| {
        let q = r.query.trim_start();
        if q.starts_with("mutation") {
            "mutation"
        } else if q.starts_with("subscription") {
            "subscription"
        } else {
            "query"
        }
    };
    match batch {
        BatchRequest::Single(r) => first_word(r),
        BatchRequest::Batch(_) => "batch",
    }
}

/// `POST /graphql`: authenticate at the edge (a bad token never reaches the
/// database), run the whole request in one transaction as the viewer, and
/// commit only when every operation of it succeeded.
async fn graphql_http(
    State(app): State<AppState>,
    headers: HeaderMap,
    request: GraphQLBatchRequest,
) -> Response {
    let started = Instant::now();
    let batch = request.into_inner();
    let op = operation_type(&batch);
    let authorization = match headers.get(header::AUTHORIZATION).map(|v| v.to_str()) {
        None => None,
        Some(Ok(v)) => Some(v),
        Some(Err(_)) => {
            app.metrics
                .observe_request(op, "rejected", started.elapsed());
            return error_response(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "malformed Authorization header",
            );
        }
    };
    let viewer = match app.auth.authenticate(authorization) {
        Ok(viewer) => viewer,
        Err(err) => {
            app.metrics
                .observe_request(op, "rejected", started.elapsed());
            return error_response(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                &err.to_string(),
            );
        }
    };
    if let Err(err) = check_batch(&app.limits, &batch) {
        app.metrics
            .observe_request(op, "rejected", started.elapsed());
        let body = async_graphql::Response::from_errors(vec![err]);
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    let operation_name = match &batch {
        BatchRequest::Single(r) => r.operation_name.clone().unwrap_or_default(),
        BatchRequest::Batch(rs) => format!("batch of {}", rs.len()),
    };
    let span = tracing::info_span!(
        "graphql",
        operation_type = op,
        operation_name = %operation_name,
        user = ?viewer.user_id,
    );
    let response = match execute(&app, viewer, batch).instrument(span.clone()).await {
        Ok(response) => response,
        Err(message) => {
            tracing::error!(error = %message, "request failed outside the schema");
            app.metrics.observe_request(op, "error", started.elapsed());
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "internal error",
            );
        }
    };
    let outcome = if response.is_ok() { "ok" } else { "error" };
    app.metrics.observe_request(op, outcome, started.elapsed());
    span.in_scope(|| {
        tracing::info!(
            outcome,
            duration_ms = started.elapsed().as_secs_f64() * 1000.0,
            "graphql operation"
        )
    });
    async_graphql_axum::GraphQLResponse::from(response).into_response()
}

/// Runs `batch` in one transaction as `viewer` (opened by the first
/// resolver that needs it, so never for a request refused by a limit,
/// parsing or validation): committed when every response is free of errors,
/// rolled back otherwise.
pub(crate) async fn execute(
    app: &AppState,
    viewer: Viewer,
    batch: BatchRequest,
) -> Result<BatchResponse, String> {
    let tx = RequestTx::new(
        app.db.clone(),
        viewer.clone(),
        app.statement_timeout.as_millis() as u64,
    );
    let prepare = |r: async_graphql::Request| prepare_request(r.data(viewer.clone()), &tx);
    let batch = match batch {
        BatchRequest::Single(r) => BatchRequest::Single(prepare(r)),
        BatchRequest::Batch(rs) => BatchRequest::Batch(rs.into_iter().map(prepare).collect()),
    };
    let response = limits::execute_batch(&app.schema, &app.limits, batch).await;
    if let Some(tx) = tx.finish().await? {
        if response.is_ok() {
            tx.commit().await.map_err(|e| e.to_string())?;
        } else {
            tx.rollback().await.map_err(|e| e.to_string())?;
        }
    }
    Ok(response)
}

/// 200 when the database answers, every migration is applied and the live
/// listener is connected (without it, subscribers of this process get
/// changes only once it is back); else 503 saying which.
async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.db.execute_unprepared("SELECT 1").await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "database unreachable");
    }
    match crate::db::migrations_applied(&state.db).await {
        Ok(true) if !state.live.stats.listening() => (
            StatusCode::SERVICE_UNAVAILABLE,
            "live listener not connected",
        ),
        Ok(true) => (StatusCode::OK, "ready"),
        Ok(false) => (StatusCode::SERVICE_UNAVAILABLE, "migrations pending"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "migration status unknown"),
    }
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
