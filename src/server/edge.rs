//! The browser-facing edge of the HTTP server: CORS, the websocket `Origin`
//! check, response compression and caching headers.
//!
//! [`apply`] wraps the router, outermost first:
//!
//! 1. [`response_headers`]: `Cache-Control: private, no-store` on the answer
//!    to any request carrying `Authorization`, and no `Access-Control-*`
//!    header at all on an answer without `Access-Control-Allow-Origin` (a
//!    preflight from an origin not on the list gets none).
//! 2. tower-http's CORS layer, when any origin is allowed: preflights
//!    (`OPTIONS`) are answered here, before any route.
//! 3. tower-http's compression (gzip, br, zstd by `Accept-Encoding`) of
//!    bodies of at least `--compression-min-bytes`.
//!
//! The websocket upgrade (`ws::graphql_ws`) checks `Origin` with
//! [`EdgeConfig::ws_origin_allowed`]: the same allow-list, plus the
//! gateway's own origin.

use axum::extract::Request;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The origins allowed by default with the embedded development database.
pub const DEV_ORIGINS: &str = "http://localhost:*,http://127.0.0.1:*";

/// Request headers a cross-origin page may send (the preflight's
/// `Access-Control-Allow-Headers`): the token, the body's type, what the
/// common clients add (urql and Apollo `accept`; Apollo's CSRF-prevention
/// headers and client awareness; GraphQL Hive's client identification).
pub const ALLOWED_HEADERS: [&str; 10] = [
    "authorization",
    "content-type",
    "accept",
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "apollographql-client-name",
    "apollographql-client-version",
    "graphql-client-name",
    "x-graphql-client-name",
    "x-graphql-client-version",
];

/// Response headers a cross-origin page may read besides the safelisted
/// ones (`Content-Type`, `Cache-Control`, ...): when to retry after a 429 or
/// 503, and why a 401.
const EXPOSED_HEADERS: [HeaderName; 2] = [header::RETRY_AFTER, header::WWW_AUTHENTICATE];

/// `Cache-Control` of every answer to a request with `Authorization`.
pub const PRIVATE_NO_STORE: &str = "private, no-store";

/// Settings of the edge (flags and environment variables).
#[derive(Clone, Debug, clap::Args)]
pub struct EdgeConfig {
    /// Origins a browser page may call the gateway from (CORS, and the
    /// websocket `Origin` check), comma-separated: `https://app.example.com`,
    /// `http://localhost:*` (any port), `https://*.example.com` (any
    /// subdomain), `*` (any origin); `none` for same-origin only. Unset:
    /// `http://localhost:*,http://127.0.0.1:*` with the embedded database,
    /// same-origin only with DATABASE_URL.
    #[arg(long = "cors-origins", env = "CORS_ORIGINS")]
    pub cors_origins: Option<Origins>,
    /// How long a browser may reuse a preflight answer, in seconds
    /// (Chromium caps it at 7200).
    #[arg(
        long = "cors-max-age-secs",
        env = "CORS_MAX_AGE_SECS",
        default_value_t = 600
    )]
    pub cors_max_age_secs: u64,
    /// Refuse (403) a websocket upgrade whose `Origin` is neither the
    /// gateway's own nor allowed by `--cors-origins`. A request without
    /// `Origin` (not from a browser) is never refused.
    #[arg(long = "ws-check-origin", env = "WS_CHECK_ORIGIN", default_value_t = true, action = clap::ArgAction::Set)]
    pub ws_check_origin: bool,
    /// Compress responses (gzip, br or zstd, as `Accept-Encoding` asks).
    #[arg(long = "compression", env = "HTTP_COMPRESSION", default_value_t = true, action = clap::ArgAction::Set)]
    pub compression: bool,
    /// Smallest body compressed, in bytes (at most 65535).
    #[arg(
        long = "compression-min-bytes",
        env = "HTTP_COMPRESSION_MIN_BYTES",
        default_value_t = 1024
    )]
    pub compression_min_bytes: u16,
    /// Compression level of every encoding, 1 (fastest) to 9; brotli's own
    /// default (11) costs far too much CPU for dynamic responses.
    #[arg(
        long = "compression-level",
        env = "HTTP_COMPRESSION_LEVEL",
        default_value_t = 4,
        value_parser = clap::value_parser!(u8).range(1..=9)
    )]
    pub compression_level: u8,
}

/// The development settings: `localhost` and `127.0.0.1` on any port
/// allowed, the websocket origin check on, compression on.
impl Default for EdgeConfig {
    fn default() -> Self {
        EdgeConfig {
            cors_origins: Some(DEV_ORIGINS.parse().expect("the development origins parse")),
            cors_max_age_secs: 600,
            ws_check_origin: true,
            compression: true,
            compression_min_bytes: 1024,
            compression_level: 4,
        }
    }
}

/// Same-origin only: no origin allowed.
static SAME_ORIGIN_ONLY: Origins = Origins(Vec::new());

impl EdgeConfig {
    /// These settings with the allowed origins decided when
    /// `--cors-origins` is unset: the development origins with the
    /// embedded database, same-origin only with an external one. Logs
    /// which applies.
    pub fn resolved(mut self, embedded: bool) -> Self {
        let origins = match self.cors_origins.take() {
            Some(origins) => {
                tracing::info!("CORS: {} (CORS_ORIGINS)", origins.describe());
                origins
            }
            None if embedded => {
                let origins: Origins = DEV_ORIGINS.parse().expect("the development origins parse");
                tracing::info!(
                    "CORS: {} (the embedded development database's default; set CORS_ORIGINS to change)",
                    origins.describe()
                );
                origins
            }
            None => {
                tracing::info!(
                    "CORS: same-origin only (DATABASE_URL is set; set CORS_ORIGINS to let browser apps on other origins call the gateway)"
                );
                Origins::default()
            }
        };
        if !self.ws_check_origin {
            tracing::warn!(
                "websocket Origin check off (WS_CHECK_ORIGIN=false): any web page may open a socket"
            );
        }
        self.cors_origins = Some(origins);
        self
    }

    /// The allowed origins (none when unset: [`EdgeConfig::resolved`]
    /// decides the default).
    pub fn origins(&self) -> &Origins {
        self.cors_origins.as_ref().unwrap_or(&SAME_ORIGIN_ONLY)
    }

    /// Whether a websocket upgrade request with `headers` may proceed: no
    /// `Origin` (not a browser), the gateway's own origin (its `Host`), or
    /// an allowed one. Always, with the check off.
    pub fn ws_origin_allowed(&self, headers: &HeaderMap) -> bool {
        if !self.ws_check_origin {
            return true;
        }
        let Some(origin) = headers.get(header::ORIGIN) else {
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        self.origins().allows(origin) || same_origin(origin, headers.get(header::HOST))
    }
}

/// Wraps `router` in the edge's layers (see the module documentation).
pub fn apply(router: Router, config: &EdgeConfig) -> Router {
    let mut router = router;
    if config.compression {
        router = router.layer(compression_layer(config));
    }
    if let Some(cors) = cors_layer(config) {
        router = router.layer(cors);
    }
    router.layer(axum::middleware::from_fn(response_headers))
}

/// CORS for the allowed origins; none when only the same origin is.
fn cors_layer(config: &EdgeConfig) -> Option<CorsLayer> {
    let origins = config.origins().clone();
    if origins.is_empty() {
        return None;
    }
    let allowed = move |origin: &HeaderValue, _: &axum::http::request::Parts| {
        origin.to_str().is_ok_and(|origin| origins.allows(origin))
    };
    // `Vary: origin, access-control-request-method,
    // access-control-request-headers` is the layer's default.
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::predicate(allowed))
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers(ALLOWED_HEADERS.map(HeaderName::from_static))
            .expose_headers(EXPOSED_HEADERS)
            .max_age(Duration::from_secs(config.cors_max_age_secs)),
    )
}

/// Compression of bodies of at least the threshold, except images (already
/// compressed) and streams read as they arrive (server-sent events,
/// multipart incremental delivery), which a compressor would hold back.
fn compression_layer(config: &EdgeConfig) -> CompressionLayer<impl Predicate> {
    let predicate = SizeAbove::new(config.compression_min_bytes)
        .and(NotForContentType::GRPC)
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::SSE)
        .and(NotForContentType::const_new("multipart/"));
    CompressionLayer::new()
        .quality(CompressionLevel::Precise(config.compression_level.into()))
        .compress_when(predicate)
}

/// The `Access-Control-*` response headers tower-http's CORS layer sets.
const CORS_HEADERS: [HeaderName; 5] = [
    header::ACCESS_CONTROL_ALLOW_METHODS,
    header::ACCESS_CONTROL_ALLOW_HEADERS,
    header::ACCESS_CONTROL_MAX_AGE,
    header::ACCESS_CONTROL_EXPOSE_HEADERS,
    header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
];

/// Caching headers for signed-in requests, and no CORS headers for an
/// origin that is not allowed.
async fn response_headers(request: Request, next: Next) -> Response {
    let signed_in = request.headers().contains_key(header::AUTHORIZATION);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if signed_in {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(PRIVATE_NO_STORE),
        );
    }
    if !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        for name in CORS_HEADERS {
            headers.remove(name);
        }
    }
    response
}

/// Whether `origin` is the gateway's own: the authority of the `Origin`
/// header is the request's `Host` (as gorilla/websocket's default check).
fn same_origin(origin: &str, host: Option<&HeaderValue>) -> bool {
    let (Some(origin), Some(host)) = (Origin::parse(origin), host.and_then(|h| h.to_str().ok()))
    else {
        return false;
    };
    let Some((host, port)) = split_authority(host) else {
        return false;
    };
    let port = match port {
        Some(p) => match p.parse::<u16>() {
            Ok(p) => normalize_port(origin.scheme, Some(p)),
            Err(_) => return false,
        },
        None => None,
    };
    origin.host.eq_ignore_ascii_case(host) && origin.port == port
}

/// A list of allowed origins ([`FromStr`]: comma-separated patterns, or
/// `none`). Empty: same-origin only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origins(Vec<OriginPattern>);

impl Origins {
    /// Whether no other origin is allowed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the `Origin` header value `origin` is allowed.
    pub fn allows(&self, origin: &str) -> bool {
        if self.0.contains(&OriginPattern::Any) {
            return true;
        }
        let Some(origin) = Origin::parse(origin) else {
            return false;
        };
        self.0.iter().any(|p| p.matches(&origin))
    }

    /// For the startup log.
    fn describe(&self) -> String {
        if self.is_empty() {
            "same-origin only".to_string()
        } else {
            format!("allowing origins {self}")
        }
    }
}

impl fmt::Display for Origins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        for (i, pattern) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{pattern}")?;
        }
        Ok(())
    }
}

impl FromStr for Origins {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("none") {
            return Ok(Origins::default());
        }
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(Origins)
    }
}

/// One allowed origin: `*`, or `scheme://host[:port]` where the host may
/// start with `*.` (any subdomain) and the port may be `*` (any port, or
/// none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OriginPattern {
    /// Any origin.
    Any,
    /// Origins of this scheme, host and port.
    Origin {
        /// Lower case.
        scheme: String,
        /// Lower case.
        host: HostPattern,
        /// Which ports.
        port: PortPattern,
    },
}

/// The host part of an [`OriginPattern`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostPattern {
    /// This host (lower case).
    Exact(String),
    /// Any subdomain of this domain (lower case, without the `*.`), not the
    /// domain itself.
    Subdomains(String),
}

/// The port part of an [`OriginPattern`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortPattern {
    /// No port, or the scheme's default.
    Default,
    /// This port.
    Exact(u16),
    /// Any port, or none.
    Any,
}

impl OriginPattern {
    fn matches(&self, origin: &Origin<'_>) -> bool {
        let OriginPattern::Origin { scheme, host, port } = self else {
            return true;
        };
        let host_ok = match host {
            HostPattern::Exact(h) => origin.host.eq_ignore_ascii_case(h),
            HostPattern::Subdomains(domain) => {
                let n = origin.host.len();
                n > domain.len() + 1
                    && origin.host.is_char_boundary(n - domain.len() - 1)
                    && origin.host[n - domain.len() - 1..].starts_with('.')
                    && origin.host[n - domain.len()..].eq_ignore_ascii_case(domain)
            }
        };
        let port_ok = match port {
            PortPattern::Any => true,
            PortPattern::Default => origin.port.is_none(),
            PortPattern::Exact(p) => origin.port == Some(*p),
        };
        origin.scheme.eq_ignore_ascii_case(scheme) && host_ok && port_ok
    }
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let OriginPattern::Origin { scheme, host, port } = self else {
            return f.write_str("*");
        };
        write!(f, "{scheme}://")?;
        match host {
            HostPattern::Exact(h) => f.write_str(h)?,
            HostPattern::Subdomains(d) => write!(f, "*.{d}")?,
        }
        match port {
            PortPattern::Default => Ok(()),
            PortPattern::Exact(p) => write!(f, ":{p}"),
            PortPattern::Any => f.write_str(":*"),
        }
    }
}

impl FromStr for OriginPattern {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let pattern = s.trim();
        if pattern == "*" {
            return Ok(OriginPattern::Any);
        }
        let bad = |why: &str| {
            format!("origin {pattern:?}: {why} (expected scheme://host[:port], e.g. https://app.example.com or http://localhost:*)")
        };
        let trimmed = pattern.strip_suffix('/').unwrap_or(pattern);
        let (scheme, authority) = trimmed.split_once("://").ok_or_else(|| bad("no scheme"))?;
        if !valid_scheme(scheme) {
            return Err(bad("bad scheme"));
        }
        let scheme = scheme.to_ascii_lowercase();
        if authority.contains(['/', '?', '#', '@']) {
            return Err(bad("an origin has no path, query or user"));
        }
        let (host, port) = split_authority(authority).ok_or_else(|| bad("bad host or port"))?;
        let port = match port {
            Some("*") => PortPattern::Any,
            Some(p) => match p.parse::<u16>() {
                Ok(p) => match normalize_port(&scheme, Some(p)) {
                    Some(p) => PortPattern::Exact(p),
                    None => PortPattern::Default,
                },
                Err(_) => return Err(bad("bad port")),
            },
            None => PortPattern::Default,
        };
        let host = host.to_ascii_lowercase();
        let host = match host.strip_prefix("*.") {
            Some(domain) if !domain.is_empty() && !domain.contains('*') => {
                HostPattern::Subdomains(domain.to_string())
            }
            Some(_) => return Err(bad("bad wildcard host")),
            None if host.contains('*') => {
                return Err(bad("a host wildcard must be a leading `*.`"))
            }
            None => HostPattern::Exact(host),
        };
        Ok(OriginPattern::Origin { scheme, host, port })
    }
}

/// An `Origin` header value, parsed: `scheme://host[:port]`, the port
/// `None` when absent or the scheme's default.
struct Origin<'a> {
    scheme: &'a str,
    host: &'a str,
    port: Option<u16>,
}

impl<'a> Origin<'a> {
    fn parse(value: &'a str) -> Option<Self> {
        let (scheme, authority) = value.split_once("://")?;
        if !valid_scheme(scheme) || authority.contains(['/', '?', '#', '@', '*']) {
            return None;
        }
        let (host, port) = split_authority(authority)?;
        let port = match port {
            Some(p) => Some(p.parse::<u16>().ok()?),
            None => None,
        };
        Some(Origin {
            scheme,
            host,
            port: normalize_port(scheme, port),
        })
    }
}

/// `host[:port]` (the host may be a bracketed IPv6 address) into its parts;
/// `None` when the host is empty.
fn split_authority(authority: &str) -> Option<(&str, Option<&str>)> {
    let (host, rest) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        authority.split_at(end + 1)
    } else {
        match authority.find(':') {
            Some(i) => authority.split_at(i),
            None => (authority, ""),
        }
    };
    if host.is_empty() {
        return None;
    }
    match rest {
        "" => Some((host, None)),
        rest => {
            let port = rest.strip_prefix(':')?;
            (!port.is_empty()).then_some((host, Some(port)))
        }
    }
}

/// `None` for the scheme's default port (browsers leave it out of `Origin`).
fn normalize_port(scheme: &str, port: Option<u16>) -> Option<u16> {
    let default = if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("ws") {
        Some(80)
    } else if scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("wss") {
        Some(443)
    } else {
        None
    };
    port.filter(|p| Some(*p) != default)
}

/// RFC 3986: a letter, then letters, digits, `+`, `-`, `.`.
fn valid_scheme(scheme: &str) -> bool {
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(s: &str) -> Origins {
        s.parse().unwrap()
    }

    #[test]
    fn exact_origins() {
        let o = list("https://app.example.com, http://localhost:3000/");
        assert!(o.allows("https://app.example.com"));
        assert!(o.allows("https://APP.example.com"));
        assert!(o.allows("https://app.example.com:443"));
        assert!(!o.allows("http://app.example.com"));
        assert!(!o.allows("https://app.example.com:8443"));
        assert!(!o.allows("https://app.example.com.evil.com"));
        assert!(o.allows("http://localhost:3000"));
        assert!(!o.allows("http://localhost:3001"));
        assert!(!o.allows("http://localhost"));
        assert!(!o.allows("null"));
        assert!(!o.allows(""));
    }

    #[test]
    fn wildcard_ports_and_subdomains() {
        let o: Origins = DEV_ORIGINS.parse().unwrap();
        assert!(o.allows("http://localhost:3000"));
        assert!(o.allows("http://localhost"));
        assert!(o.allows("http://127.0.0.1:5173"));
        assert!(!o.allows("https://localhost:3000"));
        assert!(!o.allows("http://localhost.evil.com:3000"));
        assert!(!o.allows("http://127.0.0.2:3000"));
        let o = list("https://*.example.com");
        assert!(o.allows("https://a.example.com"));
        assert!(o.allows("https://a.b.example.com"));
        assert!(!o.allows("https://example.com"));
        assert!(!o.allows("https://evilexample.com"));
        assert!(!o.allows("https://a.example.com:8443"));
        let o = list("http://[::1]:*");
        assert!(o.allows("http://[::1]:8080"));
        assert!(!o.allows("http://[::2]:8080"));
    }

    #[test]
    fn any_none_and_bad_patterns() {
        assert!(list("*").allows("https://anything.example"));
        assert!(list("none").is_empty());
        assert!(list("").is_empty());
        assert_eq!(list(DEV_ORIGINS).to_string(), DEV_ORIGINS);
        for bad in [
            "localhost:3000",
            "http://",
            "http://a.com/path",
            "http://a.com:99999",
            "http://a*.com",
            "http://*.",
            "1http://a.com",
        ] {
            assert!(bad.parse::<OriginPattern>().is_err(), "{bad}");
        }
    }

    #[test]
    fn same_origin_compares_with_host() {
        let host = HeaderValue::from_static("127.0.0.1:8080");
        assert!(same_origin("http://127.0.0.1:8080", Some(&host)));
        assert!(!same_origin("http://127.0.0.1:8081", Some(&host)));
        assert!(!same_origin("http://127.0.0.1:8080", None));
        let host = HeaderValue::from_static("gw.example.com");
        assert!(same_origin("https://gw.example.com", Some(&host)));
        assert!(!same_origin("https://evil.example.com", Some(&host)));
    }

    #[test]
    fn ws_check() {
        let mut config = EdgeConfig {
            cors_origins: Some(list("https://app.example.com")),
            ..EdgeConfig::default()
        };
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("gw.example.com"));
        assert!(config.ws_origin_allowed(&headers), "no Origin");
        headers.insert(header::ORIGIN, HeaderValue::from_static("https://evil.com"));
        assert!(!config.ws_origin_allowed(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://app.example.com"),
        );
        assert!(config.ws_origin_allowed(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://gw.example.com"),
        );
        assert!(config.ws_origin_allowed(&headers), "same origin");
        headers.insert(header::ORIGIN, HeaderValue::from_static("https://evil.com"));
        config.ws_check_origin = false;
        assert!(config.ws_origin_allowed(&headers));
    }

    #[test]
    fn resolved_defaults() {
        let unset = EdgeConfig {
            cors_origins: None,
            ..EdgeConfig::default()
        };
        assert!(unset.origins().is_empty());
        assert_eq!(unset.clone().resolved(true).origins(), &list(DEV_ORIGINS));
        assert!(unset.resolved(false).origins().is_empty());
        let set = EdgeConfig {
            cors_origins: Some(list("https://app.example.com")),
            ..EdgeConfig::default()
        };
        assert_eq!(
            set.resolved(true).origins(),
            &list("https://app.example.com")
        );
    }
}
