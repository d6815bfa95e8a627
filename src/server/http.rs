//! `POST /graphql`: the body read within its size and time limits, the
//! viewer authenticated at the edge, each operation run in its own
//! transaction, and one HTTP status per error code.
//!
//! Every answer, refusals before execution included, is a GraphQL error
//! body with an `extensions.code`: a client never has to parse plain text
//! or a proxy's page.

use super::{execute, AppState};
use crate::graphql::limits::{check_batch, error_code, LimitError, SERVICE_UNAVAILABLE};
use async_graphql::http::{receive_batch_body, MultipartOptions};
use async_graphql::{BatchRequest, BatchResponse, ServerError};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// `extensions.code` of a request the server cannot read as one (a
/// malformed body, two `Authorization` headers).
pub const BAD_REQUEST: &str = "BAD_REQUEST";
/// `extensions.code` of a body that did not arrive in time.
pub const REQUEST_TIMEOUT: &str = "REQUEST_TIMEOUT";
/// Seconds a client is told to wait (`Retry-After`) when the database is
/// unavailable.
const RETRY_AFTER_SECS: &str = "1";

/// A GraphQL error response with one error carrying `code` (and
/// `extensions` of a limit when it is one).
pub(super) fn error_response(status: StatusCode, error: ServerError) -> Response {
    let body = async_graphql::Response::from_errors(vec![error]);
    (status, Json(body)).into_response()
}

/// A coded error outside any field.
pub(super) fn coded(code: &str, message: &str) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", code);
    error.extensions = Some(ext);
    error
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

/// Why a request was answered before any operation ran.
struct Refusal {
    status: StatusCode,
    /// Boxed: a `ServerError` is large, and this is an `Err` variant.
    error: Box<ServerError>,
}

impl Refusal {
    fn new(status: StatusCode, code: &str, message: &str) -> Self {
        Self {
            status,
            error: Box::new(coded(code, message)),
        }
    }

    fn into_response(self) -> Response {
        error_response(self.status, *self.error)
    }
}

/// Reads the body within `max_bytes` (413 `LIMIT_EXCEEDED` past it, whether
/// announced by `Content-Length` or found while reading a chunked body) and
/// `timeout` (408), and parses it as a GraphQL request or batch (400).
async fn read_batch(
    request: Request,
    max_bytes: usize,
    timeout: Duration,
) -> Result<BatchRequest, Refusal> {
    let too_large = || Refusal {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        error: Box::new(LimitError::BodySize { max: max_bytes }.into_server_error()),
    };
    let (parts, body) = request.into_parts();
    let announced = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|len| len > max_bytes as u64) {
        return Err(too_large());
    }
    let bytes = match tokio::time::timeout(timeout, axum::body::to_bytes(body, max_bytes)).await {
        Err(_) => {
            return Err(Refusal::new(
                StatusCode::REQUEST_TIMEOUT,
                REQUEST_TIMEOUT,
                "the request body did not arrive in time",
            ))
        }
        Ok(Err(err)) if is_length_limit(&err) => return Err(too_large()),
        Ok(Err(_)) => {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                BAD_REQUEST,
                "the request body could not be read",
            ))
        }
        Ok(Ok(bytes)) => bytes,
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    receive_batch_body(content_type, &bytes[..], MultipartOptions::default())
        .await
        .map_err(|err| Refusal::new(StatusCode::BAD_REQUEST, BAD_REQUEST, &err.to_string()))
}

/// Whether reading a body failed on axum's length limit.
fn is_length_limit(err: &axum::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// The `Authorization` header: absent, or exactly one. Two are refused: a
/// proxy that checks one copy and a gateway that reads the other would
/// disagree about who is asking.
fn authorization(headers: &HeaderMap) -> Result<Option<&str>, Refusal> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            BAD_REQUEST,
            "more than one Authorization header",
        ));
    }
    match first.map(HeaderValue::to_str) {
        None => Ok(None),
        Some(Ok(value)) => Ok(Some(value)),
        Some(Err(_)) => Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "malformed Authorization header",
        )),
    }
}

/// The HTTP status of an executed request: 503 (with `Retry-After`) when
/// the database was unavailable to any operation of it, else 200.
fn status_of(response: &BatchResponse) -> StatusCode {
    let errors: Box<dyn Iterator<Item = &ServerError>> = match response {
        BatchResponse::Single(r) => Box::new(r.errors.iter()),
        BatchResponse::Batch(rs) => Box::new(rs.iter().flat_map(|r| r.errors.iter())),
    };
    let unavailable = errors
        .into_iter()
        .any(|e| error_code(e) == Some(SERVICE_UNAVAILABLE));
    if unavailable {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

/// `POST /graphql`: read the body within its limits, authenticate at the
/// edge (a bad token never reaches the database), then run each operation
/// in its own transaction as the viewer. The body is read first so that
/// refusals are counted under the operation's type in `/metrics`.
pub(super) async fn graphql_http(State(app): State<AppState>, request: Request<Body>) -> Response {
    let started = Instant::now();
    let refused = |app: &AppState, op: &str, refusal: Refusal| {
        app.metrics
            .observe_request(op, "rejected", started.elapsed());
        refusal.into_response()
    };
    let headers = request.headers().clone();
    let timeout = Duration::from_millis(app.limits.body_timeout_ms);
    let batch = match read_batch(request, app.limits.max_body_bytes, timeout).await {
        Ok(batch) => batch,
        Err(refusal) => return refused(&app, "unknown", refusal),
    };
    let op = operation_type(&batch);
    let viewer = match authorization(&headers).and_then(|header| {
        app.auth.authenticate(header).map_err(|err| {
            Refusal::new(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                &err.to_string(),
            )
        })
    }) {
        Ok(viewer) => viewer,
        Err(refusal) => return refused(&app, op, refusal),
    };
    if let Err(error) = check_batch(&app.limits, &batch) {
        return refused(
            &app,
            op,
            Refusal {
                status: StatusCode::BAD_REQUEST,
                error: Box::new(error),
            },
        );
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
    let response = execute(&app, viewer, batch).instrument(span.clone()).await;
    let outcome = if response.is_ok() { "ok" } else { "error" };
    app.metrics.observe_request(op, outcome, started.elapsed());
    span.in_scope(|| {
        tracing::info!(
            outcome,
            duration_ms = started.elapsed().as_secs_f64() * 1000.0,
            "graphql operation"
        )
    });
    let status = status_of(&response);
    let mut http = async_graphql_axum::GraphQLResponse::from(response).into_response();
    if status != StatusCode::OK {
        *http.status_mut() = status;
        http.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECS),
        );
    }
    http
}
