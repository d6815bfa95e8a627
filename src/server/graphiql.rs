//! GraphiQL, served offline: the page at `GET /graphql` and the vendored
//! JavaScript and CSS it runs on, embedded in the binary.
//!
//! The files under `assets/graphiql/` come from npm (`scripts/vendor-graphiql.sh`
//! reproduces them; versions and licenses in `assets/graphiql/README.md`). The
//! page references no other host, and its Content-Security-Policy makes the
//! browser refuse any, so GraphiQL works with no internet.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::header::{
    ACCEPT, ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY,
    CONTENT_TYPE, ETAG, IF_NONE_MATCH, REFERRER_POLICY, VARY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// Where the assets are served; the page's `src`/`href` all start with it.
pub const ASSETS_PREFIX: &str = "/graphiql/assets/";

/// The Content-Security-Policy of the page: scripts, styles and connections
/// only to this origin (plus `ws:`/`wss:` for subscriptions, which CSP cannot
/// name as "this origin" in every browser); fonts are data URIs in the CSS.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; \
     script-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; \
     img-src 'self' data:; connect-src 'self' ws: wss:; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

const GRAPHIQL_JS: &str = "graphiql-3.9.0.min.js";
const GRAPHIQL_CSS: &str = "graphiql-3.9.0.min.css";
const REACT_JS: &str = "react-18.3.1.production.min.js";
const REACT_DOM_JS: &str = "react-dom-18.3.1.production.min.js";
const BOOT_JS: &str = "gateway-graphiql.js";

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    gzip: Option<&'static [u8]>,
    /// True when the name carries the version, so the bytes behind the URL
    /// never change and browsers may keep them for good.
    immutable: bool,
}

macro_rules! vendored {
    ($name:expr, $file:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/assets/graphiql/",
                $file
            )),
            gzip: Some(include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/assets/graphiql/",
                $file,
                ".gz"
            ))),
            immutable: true,
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

// `include_bytes!` needs literals, hence the names spelled twice; the
// `assets_are_named_consistently` test keeps them in step.
static ASSETS: [Asset; 5] = [
    vendored!(GRAPHIQL_JS, "graphiql-3.9.0.min.js", JS),
    vendored!(GRAPHIQL_CSS, "graphiql-3.9.0.min.css", CSS),
    vendored!(REACT_JS, "react-18.3.1.production.min.js", JS),
    vendored!(REACT_DOM_JS, "react-dom-18.3.1.production.min.js", JS),
    Asset {
        name: BOOT_JS,
        content_type: JS,
        body: include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/assets/graphiql/gateway-graphiql.js"
        )),
        gzip: None,
        immutable: false,
    },
];

/// Strong ETags from the content, computed once: the unversioned boot script
/// relies on them for revalidation.
static ETAGS: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| {
            HeaderValue::from_str(&format!("\"{:016x}\"", fnv1a(a.body)))
                .expect("hex is a valid header value")
        })
        .collect()
});

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The routes of GraphiQL: `GET /graphql` (the page, for requests that accept
/// `text/html`; anything else gets 406 pointing to `POST`) and
/// `GET /graphiql/assets/{file}` (the embedded files). Merge it next to the
/// `POST /graphql` route; when `GET /graphql` must also execute queries, use
/// [`wants_page`] and [`page_response`] in that handler instead and mount
/// only [`assets_router`].
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    assets_router().route("/graphql", get(page_or_not_acceptable))
}

/// Only `GET /graphiql/assets/{file}`.
pub fn assets_router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/graphiql/assets/{file}", get(asset))
}

/// True when a `GET /graphql` comes from a browser navigating to it (it
/// accepts `text/html`), as opposed to a GraphQL-over-HTTP GET, which asks
/// for JSON.
pub fn wants_page(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/html"))
}

/// The page as a response, pointed at `path` (the path it is served at; the
/// page's own URL, so it follows the router wherever it is mounted) and at
/// `path/ws` for subscriptions, with the headers that keep it offline.
pub fn page_response(path: &str) -> Response {
    let html = page(path, &format!("{}/ws", path.trim_end_matches('/')));
    let mut response = html.into_response();
    let h = response.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
    );
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

async fn page_or_not_acceptable(uri: Uri, headers: HeaderMap) -> Response {
    if wants_page(&headers) {
        return page_response(uri.path());
    }
    (
        StatusCode::NOT_ACCEPTABLE,
        [(CONTENT_TYPE, "text/plain; charset=utf-8")],
        "GET /graphql serves GraphiQL to browsers (Accept: text/html); send GraphQL operations with POST /graphql\n",
    )
        .into_response()
}

/// The GraphiQL page: GraphiQL pointed at `endpoint` for queries and mutations
/// and at `ws_endpoint` for subscriptions (graphql-transport-ws; both may be
/// relative to the page, `ws:`/`wss:` follows the page's scheme). The headers
/// editor is open with an `Authorization` hint; while the hint is unchanged,
/// requests go out without it (as `anon`). Every script and stylesheet comes
/// from [`ASSETS_PREFIX`].
pub fn page(endpoint: &str, ws_endpoint: &str) -> String {
    let config = serde_json::json!({
        "endpoint": endpoint,
        "wsEndpoint": ws_endpoint,
        "defaultHeaders": DEFAULT_HEADERS,
        "defaultQuery": DEFAULT_QUERY,
    });
    // `<` escaped so no value can close the script element early.
    let config = config.to_string().replace('<', "\\u003c");
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>GraphiQL · workbench gateway</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{p}{css}">
<style>html, body, #graphiql {{ height: 100%; margin: 0; }}</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script id="graphiql-config" type="application/json">{config}</script>
<script src="{p}{react}"></script>
<script src="{p}{react_dom}"></script>
<script src="{p}{graphiql}"></script>
<script src="{p}{boot}"></script>
</body>
</html>
"#,
        p = ASSETS_PREFIX,
        css = GRAPHIQL_CSS,
        react = REACT_JS,
        react_dom = REACT_DOM_JS,
        graphiql = GRAPHIQL_JS,
        boot = BOOT_JS,
    )
}

const DEFAULT_HEADERS: &str = r#"{
  "Authorization": "Bearer <paste a token from: gateway token --user <uuid>>"
}"#;

const DEFAULT_QUERY: &str = "# Workbench GraphQL gateway.
#
# Without a token you are `anon`. To act as a user, mint a token with
#   gateway token --user <uuid>
# and paste it into the Authorization header below (Headers tab).
# The docs and schema explorer are in the left sidebar.

query {
  __typename
}
";

async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(index) = ASSETS.iter().position(|a| a.name == file) else {
        return (StatusCode::NOT_FOUND, "no such asset\n").into_response();
    };
    let asset = &ASSETS[index];
    let etag = ETAGS[index].clone();

    let cache = if asset.immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut out = HeaderMap::new();
    out.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    out.insert(ETAG, etag.clone());
    out.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if asset.gzip.is_some() {
        out.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    }

    if if_none_match(&headers, &etag) {
        return (StatusCode::NOT_MODIFIED, out).into_response();
    }
    out.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    match asset.gzip {
        Some(gz) if accepts_gzip(&headers) => {
            out.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            (out, gz).into_response()
        }
        _ => (out, asset.body).into_response(),
    }
}

fn if_none_match(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Ok(etag) = etag.to_str() else {
        return false;
    };
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

/// True unless the client leaves gzip out or refuses it with `q=0`.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_are_named_consistently() {
        for name in [GRAPHIQL_JS, GRAPHIQL_CSS, REACT_JS, REACT_DOM_JS, BOOT_JS] {
            let hits = ASSETS.iter().filter(|a| a.name == name).count();
            assert_eq!(hits, 1, "{name} must be embedded exactly once");
        }
        let graphiql = ASSETS.iter().find(|a| a.name == GRAPHIQL_JS).unwrap();
        assert!(
            graphiql.body.len() > 500_000,
            "the GraphiQL bundle is embedded"
        );
        // gzip magic: the .gz files are real gzip streams.
        for a in ASSETS.iter() {
            if let Some(gz) = a.gzip {
                assert_eq!(&gz[..2], &[0x1f, 0x8b], "{} .gz", a.name);
            }
        }
    }

    #[test]
    fn gzip_negotiation() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(ACCEPT_ENCODING, HeaderValue::from_static(v));
            accepts_gzip(&h)
        };
        assert!(with("gzip, deflate, br"));
        assert!(with("br;q=1.0, gzip;q=0.8"));
        assert!(!with("gzip;q=0"));
        assert!(!with("br"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn config_cannot_close_the_script_element() {
        let html = page("/graphql</script><script>alert(1)//", "/ws");
        assert!(!html.contains("</script><script>alert"));
        assert!(html.contains("\\u003c/script>"));
    }
}
