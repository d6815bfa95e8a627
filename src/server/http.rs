//! `/graphql` over HTTP: `POST` (JSON bodies, read within their size and
//! time limits, refused when a browser could have sent them cross-site
//! without a CORS preflight), `GET` (queries from the URL; GraphiQL for a
//! browser navigating there), the viewer authenticated at the edge, each
//! operation run in its own transaction, and the answer in the media type
//! the client accepts ([`super::media`]).

use super::graphiql;
use super::media::{refuse, respond, Media, RATE_LIMITED};
use super::rate::{retry_after_secs, RateKey};
use super::{execute, AppState};
use crate::graphql::limits::{check_batch, LimitError};
use async_graphql::{BatchRequest, ServerError};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tracing::Instrument;

/// `extensions.code` of a request the server cannot read as one (a
/// malformed body or URL, two `Authorization` headers).
pub const BAD_REQUEST: &str = "BAD_REQUEST";
/// `extensions.code` of a body that did not arrive in time.
pub const REQUEST_TIMEOUT: &str = "REQUEST_TIMEOUT";
/// `extensions.code` of a POST body that is not `application/json` (HTTP
/// 415), which is also the CSRF rule.
pub const UNSUPPORTED_MEDIA_TYPE: &str = "UNSUPPORTED_MEDIA_TYPE";
/// `extensions.code` of an `Accept` that allows no JSON (HTTP 406).
pub const NOT_ACCEPTABLE: &str = "NOT_ACCEPTABLE";

/// Headers a browser cannot send cross-site without a CORS preflight, which
/// make a POST with a "simple" content type safe from CSRF (Apollo
/// Router's and Apollo Server's rule).
const PREFLIGHT_HEADERS: [&str; 2] = ["apollo-require-preflight", "x-apollo-operation-name"];

/// A coded error outside any field.
pub(crate) fn coded(code: &str, message: &str) -> ServerError {
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
pub(super) struct Refusal {
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

    fn limit(status: StatusCode, limit: LimitError) -> Self {
        Self {
            status,
            error: Box::new(limit.into_server_error()),
        }
    }

    fn into_response(self, media: Media) -> Response {
        refuse(self.status, *self.error, media)
    }
}

/// Refuses a POST body that a browser could send cross-site without a
/// preflight (no content type, `text/plain`, form types) unless a header
/// forces a preflight; otherwise only `application/json` is read.
fn check_content_type(headers: &HeaderMap) -> Result<(), Refusal> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    if essence.as_deref() == Some("application/json") {
        return Ok(());
    }
    let forced = PREFLIGHT_HEADERS
        .iter()
        .any(|name| headers.get(*name).is_some_and(|v| !v.as_bytes().is_empty()));
    if forced {
        return Ok(());
    }
    Err(Refusal::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        UNSUPPORTED_MEDIA_TYPE,
        "send the body as JSON with `Content-Type: application/json` (bodies a browser \
         could send cross-site without a CORS preflight are refused)",
    ))
}

/// Reads the body within `max_bytes` (413 `LIMIT_EXCEEDED` past it, whether
/// announced by `Content-Length` or found while reading a chunked body) and
/// `timeout` (408), and parses it as a GraphQL request or batch (400).
async fn read_batch(
    request: Request,
    max_bytes: usize,
    timeout: Duration,
) -> Result<BatchRequest, Refusal> {
    let too_large = || {
        Refusal::limit(
            StatusCode::PAYLOAD_TOO_LARGE,
            LimitError::BodySize { max: max_bytes },
        )
    };
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|len| len > max_bytes as u64) {
        return Err(too_large());
    }
    let body = request.into_body();
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
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            BAD_REQUEST,
            "the request body is empty: send {\"query\": \"...\"}",
        ));
    }
    let parsed = if names_document_id(&bytes) {
        serde_json::from_slice(&bytes)
            .and_then(|body| serde_json::from_value(with_document_ids(body)))
    } else {
        serde_json::from_slice(&bytes)
    };
    parsed.map_err(|err| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            BAD_REQUEST,
            &format!("the body is not a GraphQL request: {err}"),
        )
    })
}

/// Body fields by which Relay's network layers name a persisted document.
const DOCUMENT_ID_FIELDS: [&str; 2] = ["doc_id", "documentId"];

/// Whether the body may name a document by Relay's fields (a byte search,
/// so ordinary bodies are parsed once, straight into requests).
fn names_document_id(body: &[u8]) -> bool {
    DOCUMENT_ID_FIELDS.iter().any(|field| {
        let quoted = format!("\"{field}\"");
        body.windows(quoted.len()).any(|w| w == quoted.as_bytes())
    })
}

/// Relay's `doc_id` / `documentId` as Apollo's persisted-query extension,
/// which is what the persisted-operation store reads.
fn with_document_ids(mut body: serde_json::Value) -> serde_json::Value {
    let requests: Vec<&mut serde_json::Value> = match &mut body {
        serde_json::Value::Array(items) => items.iter_mut().collect(),
        single => vec![single],
    };
    for request in requests {
        let Some(object) = request.as_object_mut() else {
            continue;
        };
        let id = DOCUMENT_ID_FIELDS
            .iter()
            .find_map(|field| object.remove(*field))
            .filter(serde_json::Value::is_string);
        if let Some(id) = id {
            let extensions = object
                .entry("extensions")
                .or_insert_with(|| serde_json::json!({}));
            if let Some(extensions) = extensions.as_object_mut() {
                extensions.insert(
                    "persistedQuery".into(),
                    serde_json::json!({ "version": 1, "sha256Hash": id }),
                );
            }
        }
    }
    body
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

/// The parameters of a GraphQL GET: `query`, `operationName`, and
/// `variables` and `extensions` as JSON text.
fn batch_from_url(query: Option<&str>) -> Result<Option<BatchRequest>, Refusal> {
    let bad = |message: String| Refusal::new(StatusCode::BAD_REQUEST, BAD_REQUEST, &message);
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|err| bad(format!("the URL's parameters do not parse: {err}")))?;
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if get("query").is_none() && get("extensions").is_none() {
        return Ok(None);
    }
    let json = |name: &str| -> Result<serde_json::Value, Refusal> {
        match get(name) {
            None | Some("") => Ok(serde_json::Value::Null),
            Some(text) => serde_json::from_str(text)
                .map_err(|err| bad(format!("`{name}` is not JSON: {err}"))),
        }
    };
    let request = serde_json::json!({
        "query": get("query").unwrap_or(""),
        "operationName": get("operationName"),
        "variables": json("variables")?,
        "extensions": json("extensions")?,
    });
    serde_json::from_value(request)
        .map(|r| Some(BatchRequest::Single(r)))
        .map_err(|err| bad(format!("not a GraphQL request: {err}")))
}

/// `GET /graphql`: a query from the URL's parameters (a mutation is 405),
/// or GraphiQL for a browser navigating there with none.
pub(super) async fn graphql_get(State(app): State<AppState>, request: Request) -> Response {
    let started = Instant::now();
    let Some(media) = Media::negotiate(request.headers()) else {
        if graphiql::wants_page(request.headers()) {
            return graphiql::page_response(request.uri().path());
        }
        return not_acceptable();
    };
    let batch = match batch_from_url(request.uri().query()) {
        Ok(Some(batch)) => batch,
        Ok(None) if graphiql::wants_page(request.headers()) => {
            return graphiql::page_response(request.uri().path())
        }
        Ok(None) => {
            let refusal = Refusal::new(
                StatusCode::BAD_REQUEST,
                BAD_REQUEST,
                "a GraphQL GET needs a `query` parameter",
            );
            return refused(&app, started, "query", refusal, media);
        }
        Err(refusal) => return refused(&app, started, "query", refusal, media),
    };
    let address = client_address(&request);
    serve(app, started, request.headers(), address, batch, media, true).await
}

/// `POST /graphql`: a JSON body within its size and time limits.
pub(super) async fn graphql_post(State(app): State<AppState>, request: Request) -> Response {
    let started = Instant::now();
    let Some(media) = Media::negotiate(request.headers()) else {
        return not_acceptable();
    };
    if let Err(refusal) = check_content_type(request.headers()) {
        return refused(&app, started, "unknown", refusal, media);
    }
    let headers = request.headers().clone();
    let address = client_address(&request);
    let timeout = Duration::from_millis(app.limits.body_timeout_ms);
    let batch = match read_batch(request, app.limits.max_body_bytes, timeout).await {
        Ok(batch) => batch,
        Err(refusal) => return refused(&app, started, "unknown", refusal, media),
    };
    serve(app, started, &headers, address, batch, media, false).await
}

/// The peer's address (the key of an anonymous client's rate limit).
fn client_address(request: &Request) -> Option<IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
}

/// Any other method on `/graphql`: 405 with `Allow: GET, POST`.
pub(super) async fn graphql_other(method: Method, headers: HeaderMap) -> Response {
    let media = Media::negotiate(&headers).unwrap_or(Media::Json);
    let message = format!("{method} is not served here: use POST (or GET for queries)");
    refuse(
        StatusCode::METHOD_NOT_ALLOWED,
        coded(super::media::METHOD_NOT_ALLOWED, &message),
        media,
    )
}

fn not_acceptable() -> Response {
    refuse(
        StatusCode::NOT_ACCEPTABLE,
        coded(
            NOT_ACCEPTABLE,
            "accept application/graphql-response+json or application/json",
        ),
        Media::Json,
    )
}

fn refused(app: &AppState, started: Instant, op: &str, refusal: Refusal, media: Media) -> Response {
    app.metrics
        .observe_request(op, "rejected", started.elapsed());
    refusal.into_response(media)
}

/// Authenticates at the edge (a bad token never reaches the database), then
/// runs each operation in its own transaction as the viewer. `read_only`:
/// a GET, where mutations are refused.
async fn serve(
    app: AppState,
    started: Instant,
    headers: &HeaderMap,
    address: Option<IpAddr>,
    batch: BatchRequest,
    media: Media,
    read_only: bool,
) -> Response {
    let op = operation_type(&batch);
    let viewer = match authorization(headers).and_then(|header| {
        app.auth.authenticate(header).map_err(|err| {
            Refusal::new(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                &err.to_string(),
            )
        })
    }) {
        Ok(viewer) => viewer,
        Err(refusal) => return refused(&app, started, op, refusal, media),
    };
    if let Err(error) = check_batch(&app.limits, &batch) {
        let refusal = Refusal {
            status: StatusCode::BAD_REQUEST,
            error: Box::new(error),
        };
        return refused(&app, started, op, refusal, media);
    }
    let operations = match &batch {
        BatchRequest::Single(_) => 1,
        BatchRequest::Batch(items) => items.len(),
    };
    if let Err(wait) = app.rate.check(&RateKey::of(&viewer, address), operations) {
        let refusal = Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            RATE_LIMITED,
            "too many requests: slow down and retry after `Retry-After` seconds",
        );
        let mut response = refused(&app, started, op, refusal, media);
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(retry_after_secs(wait)),
        );
        return response;
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
    let response = execute(&app, viewer, batch, read_only)
        .instrument(span.clone())
        .await;
    let outcome = if response.is_ok() { "ok" } else { "error" };
    app.metrics.observe_request(op, outcome, started.elapsed());
    span.in_scope(|| {
        tracing::info!(
            outcome,
            duration_ms = started.elapsed().as_secs_f64() * 1000.0,
            "graphql operation"
        )
    });
    respond(response, media)
}
