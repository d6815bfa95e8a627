//! GraphQL over HTTP's answers: the media type a client accepts, the HTTP
//! status of each outcome, and the body, always a GraphQL response (errors
//! with an `extensions.code`), never plain text.
//!
//! Statuses, one per code (the GraphQL-over-HTTP draft and its
//! `graphql-http` audit): a request error (the document did not parse,
//! validate or pass a limit; variables that do not coerce) is 200 under
//! `application/json` and 400 under `application/graphql-response+json`,
//! where the body then has no `data` entry; `SERVICE_UNAVAILABLE` is 503
//! with `Retry-After`, `METHOD_NOT_ALLOWED` 405 with `Allow`, and
//! `RATE_LIMITED` 429 with `Retry-After`; the refusals at the edge carry
//! their own (401, 400, 406, 408, 413, 415).

use crate::graphql::limits::{error_code, SERVICE_UNAVAILABLE};
use crate::server::http::BAD_REQUEST;
use async_graphql::{BatchResponse, Response as GqlResponse, ServerError, Value};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// `extensions.code` of a mutation sent with GET (HTTP 405).
pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
/// `extensions.code` of too many requests (HTTP 429).
pub const RATE_LIMITED: &str = "RATE_LIMITED";
/// Seconds a client is told to wait (`Retry-After`) after a 503.
const RETRY_AFTER_SECS: &str = "1";

/// The media type of a GraphQL response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    /// `application/json`: the default, and what `*/*` gets.
    Json,
    /// `application/graphql-response+json`: request errors are 4xx.
    GraphqlResponse,
}

impl Media {
    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Media::Json => "application/json; charset=utf-8",
            Media::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
        })
    }

    /// The media type the request's `Accept` prefers (highest `q`, the
    /// first listed on a tie); no `Accept` is `application/json`; `None`
    /// when it accepts neither JSON type.
    pub fn negotiate(headers: &HeaderMap) -> Option<Media> {
        let mut values = headers.get_all(header::ACCEPT).iter().peekable();
        if values.peek().is_none() {
            return Some(Media::Json);
        }
        let mut best: Option<(f32, Media)> = None;
        let ranges = values
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','));
        for range in ranges {
            let mut parts = range.split(';');
            let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let media = match essence.as_str() {
                "application/graphql-response+json" => Media::GraphqlResponse,
                "application/json" | "application/*" | "*/*" => Media::Json,
                _ => continue,
            };
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, media));
            }
        }
        best.map(|(_, media)| media)
    }
}

/// A request error: nothing was executed, so there is no data (the
/// document did not parse, validate or pass a limit, a variable did not
/// coerce, a persisted operation was unknown).
fn is_request_error(response: &GqlResponse) -> bool {
    response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
        && !has_code(response, SERVICE_UNAVAILABLE)
}

fn has_code(response: &GqlResponse, code: &str) -> bool {
    response.errors.iter().any(|e| error_code(e) == Some(code))
}

/// The status of one response, and the headers that go with it.
fn status_of(
    response: &GqlResponse,
    media: Media,
) -> (StatusCode, Option<(header::HeaderName, &'static str)>) {
    if has_code(response, SERVICE_UNAVAILABLE) {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some((header::RETRY_AFTER, RETRY_AFTER_SECS)),
        )
    } else if has_code(response, RATE_LIMITED) {
        (
            StatusCode::TOO_MANY_REQUESTS,
            Some((header::RETRY_AFTER, RETRY_AFTER_SECS)),
        )
    } else if has_code(response, METHOD_NOT_ALLOWED) {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            Some((header::ALLOW, "POST")),
        )
    } else if has_code(response, BAD_REQUEST)
        || (media == Media::GraphqlResponse && is_request_error(response))
    {
        (StatusCode::BAD_REQUEST, None)
    } else {
        (StatusCode::OK, None)
    }
}

/// The HTTP answer to an executed request in `media`.
pub fn respond(response: BatchResponse, media: Media) -> Response {
    let (status, extra, body) = match &response {
        BatchResponse::Single(single) => {
            let (status, extra) = status_of(single, media);
            (status, extra, encode(single, media))
        }
        BatchResponse::Batch(items) => {
            // A batch is 200 unless an item could not reach the database.
            let unavailable = items.iter().any(|r| has_code(r, SERVICE_UNAVAILABLE));
            let (status, extra) = if unavailable {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Some((header::RETRY_AFTER, RETRY_AFTER_SECS)),
                )
            } else {
                (StatusCode::OK, None)
            };
            let parts: Vec<Vec<u8>> = items.iter().map(|r| encode(r, media)).collect();
            let mut body =
                Vec::with_capacity(parts.iter().map(Vec::len).sum::<usize>() + parts.len() + 1);
            body.push(b'[');
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(part);
            }
            body.push(b']');
            (status, extra, body)
        }
    };
    let mut http = (status, body).into_response();
    let headers = http.headers_mut();
    headers.insert(header::CONTENT_TYPE, media.content_type());
    if let Some((name, value)) = extra {
        headers.insert(name, HeaderValue::from_static(value));
    }
    http
}

/// One response as JSON; a request error under
/// `application/graphql-response+json` has no `data` entry.
fn encode(response: &GqlResponse, media: Media) -> Vec<u8> {
    if media == Media::GraphqlResponse && is_request_error(response) {
        let body = serde_json::json!({ "errors": &response.errors });
        return serde_json::to_vec(&body).unwrap_or_default();
    }
    serde_json::to_vec(response).unwrap_or_default()
}

/// A refusal before any operation ran: one coded error in `media`, with
/// `status` (401 also says `WWW-Authenticate: Bearer`).
pub fn refuse(status: StatusCode, error: ServerError, media: Media) -> Response {
    let body = serde_json::to_vec(&serde_json::json!({ "errors": [error] })).unwrap_or_default();
    let mut http = (status, body).into_response();
    let headers = http.headers_mut();
    headers.insert(header::CONTENT_TYPE, media.content_type());
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    if status == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
    }
    http
}

/// The answer to a request whose handler panicked (caught by the router's
/// `CatchPanicLayer`): 500 with an `INTERNAL` GraphQL error, never a
/// dropped connection or a stack trace. The request's transaction was
/// dropped with the handler, so rolled back.
pub fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %detail, "a request handler panicked");
    let mut error = ServerError::new(crate::graphql::limits::INTERNAL_MESSAGE, None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", crate::graphql::limits::INTERNAL);
    error.extensions = Some(ext);
    refuse(StatusCode::INTERNAL_SERVER_ERROR, error, Media::Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_with_a_graphql_body() {
        use tower::ServiceExt;
        let app = axum::Router::new()
            .route(
                "/boom",
                axum::routing::get(|| async {
                    panic!("secret detail");
                    #[allow(unreachable_code)]
                    ""
                }),
            )
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked));
        let request = axum::http::Request::get("/boom")
            .body(axum::body::Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "INTERNAL");
        assert!(!body.to_string().contains("secret"), "{body}");
    }

    #[test]
    fn accept_is_negotiated() {
        assert_eq!(Media::negotiate(&HeaderMap::new()), Some(Media::Json));
        assert_eq!(Media::negotiate(&accept("*/*")), Some(Media::Json));
        assert_eq!(
            Media::negotiate(&accept("application/json")),
            Some(Media::Json)
        );
        assert_eq!(
            Media::negotiate(&accept(
                "application/graphql-response+json, application/json;q=0.9"
            )),
            Some(Media::GraphqlResponse)
        );
        assert_eq!(
            Media::negotiate(&accept(
                "application/json, application/graphql-response+json"
            )),
            Some(Media::Json)
        );
        assert_eq!(
            Media::negotiate(&accept(
                "application/graphql-response+json;q=0.5, */*;q=0.8"
            )),
            Some(Media::Json)
        );
        assert_eq!(Media::negotiate(&accept("text/plain")), None);
        assert_eq!(Media::negotiate(&accept("application/json;q=0")), None);
    }

    #[test]
    fn request_errors_are_400_without_data_under_graphql_response_json() {
        let mut err = ServerError::new("bad", None);
        let mut ext = async_graphql::ErrorExtensionValues::default();
        ext.set("code", "GRAPHQL_PARSE_FAILED");
        err.extensions = Some(ext);
        let response = GqlResponse::from_errors(vec![err]);
        assert_eq!(status_of(&response, Media::Json).0, StatusCode::OK);
        assert_eq!(
            status_of(&response, Media::GraphqlResponse).0,
            StatusCode::BAD_REQUEST
        );
        let body: serde_json::Value =
            serde_json::from_slice(&encode(&response, Media::GraphqlResponse)).unwrap();
        assert!(body.get("data").is_none(), "{body}");
        let body: serde_json::Value =
            serde_json::from_slice(&encode(&response, Media::Json)).unwrap();
        assert!(body.get("data").is_some(), "{body}");
    }
}
