//! The HTTP edge (`server::edge`): CORS preflights and headers, the
//! websocket `Origin` check, response compression and caching headers,
//! against the real gateway. The browser's side of CORS is in
//! `tests/cross_origin_page.rs`.
//!
//! The test client is reqwest built without its decompression features, so
//! it sends no `Accept-Encoding` of its own and hands back the bytes as they
//! came over the wire.

use crate::common::app::{spawn_app, spawn_app_config, AppConfig, TestApp};
use crate::common::sqlx;
use futures_util::{SinkExt, StreamExt};
use gateway::server::edge::EdgeConfig;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

/// Every header of `headers` whose name starts with `access-control-`.
fn cors_headers(headers: &HeaderMap) -> Vec<String> {
    headers
        .keys()
        .map(|k| k.as_str().to_owned())
        .filter(|k| k.starts_with("access-control-"))
        .collect()
}

/// One header as text ("" when absent; repeated headers joined by ", ").
fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The comma-separated items of a header, lower case.
fn items(headers: &HeaderMap, name: &str) -> Vec<String> {
    header(headers, name)
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `OPTIONS /graphql` as a browser sends it before a POST with a token.
async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, format!("{}/graphql", app.base_url))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap()
}

/// A POST of `{ __typename }` from `origin`.
async fn post_from(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/graphql", app.base_url))
        .header("origin", origin)
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap()
}

fn origins(list: &str) -> EdgeConfig {
    EdgeConfig {
        cors_origins: Some(list.parse().unwrap()),
        ..EdgeConfig::default()
    }
}

async fn spawn_with_edge(edge: EdgeConfig) -> TestApp {
    spawn_app_config(AppConfig {
        edge,
        ..AppConfig::default()
    })
    .await
}

#[tokio::test]
async fn preflight_from_an_allowed_origin_gets_the_cors_headers() {
    // The default (development) settings allow localhost on any port.
    let app = spawn_app().await;
    let res = preflight(&app, "http://localhost:3000").await;
    assert!(res.status().is_success(), "{}", res.status());
    let h = res.headers();
    assert_eq!(
        header(h, "access-control-allow-origin"),
        "http://localhost:3000"
    );
    let methods = items(h, "access-control-allow-methods");
    for m in ["get", "post", "options"] {
        assert!(methods.contains(&m.to_owned()), "{methods:?}");
    }
    let allowed = items(h, "access-control-allow-headers");
    for name in [
        "authorization",
        "content-type",
        "accept",
        "apollo-require-preflight",
        "x-apollo-operation-name",
        "apollographql-client-name",
        "apollographql-client-version",
        "graphql-client-name",
    ] {
        assert!(allowed.contains(&name.to_owned()), "{name}: {allowed:?}");
    }
    assert_eq!(header(h, "access-control-max-age"), "600");
    assert!(items(h, "vary").contains(&"origin".to_owned()), "{h:?}");
    // No cookies are involved: tokens travel in Authorization.
    assert_eq!(header(h, "access-control-allow-credentials"), "");

    // The request itself: the origin echoed, Vary, the readable headers.
    let res = post_from(&app, "http://127.0.0.1:5173").await;
    assert_eq!(res.status(), 200);
    let h = res.headers();
    assert_eq!(
        header(h, "access-control-allow-origin"),
        "http://127.0.0.1:5173"
    );
    assert!(items(h, "vary").contains(&"origin".to_owned()), "{h:?}");
    let exposed = items(h, "access-control-expose-headers");
    assert!(exposed.contains(&"retry-after".to_owned()), "{exposed:?}");
    assert!(
        exposed.contains(&"www-authenticate".to_owned()),
        "{exposed:?}"
    );
}

#[tokio::test]
async fn a_disallowed_origin_gets_no_cors_headers() {
    let app = spawn_app().await;
    for origin in [
        "http://evil.example",
        "https://localhost:3000",
        "http://localhost.evil.example:3000",
        "null",
    ] {
        let res = preflight(&app, origin).await;
        assert_eq!(
            cors_headers(res.headers()),
            Vec::<String>::new(),
            "{origin}"
        );
        // The response still varies by origin, for caches.
        assert!(items(res.headers(), "vary").contains(&"origin".to_owned()));
        let res = post_from(&app, origin).await;
        assert_eq!(
            cors_headers(res.headers()),
            Vec::<String>::new(),
            "{origin}"
        );
    }
}

#[tokio::test]
async fn the_allow_list_is_configurable_and_none_means_same_origin_only() {
    let app = spawn_with_edge(origins(
        "https://app.example.com, https://*.preview.example.com",
    ))
    .await;
    for allowed in [
        "https://app.example.com",
        "https://pr-12.preview.example.com",
    ] {
        let res = preflight(&app, allowed).await;
        assert_eq!(
            header(res.headers(), "access-control-allow-origin"),
            allowed
        );
    }
    for refused in ["http://localhost:3000", "https://preview.example.com"] {
        let res = preflight(&app, refused).await;
        assert!(cors_headers(res.headers()).is_empty(), "{refused}");
    }

    // Same-origin only (the default with an external DATABASE_URL): no
    // CORS at all; OPTIONS is not a method of /graphql.
    let app = spawn_with_edge(origins("none")).await;
    let res = preflight(&app, "http://localhost:3000").await;
    assert_eq!(res.status(), 405);
    assert!(cors_headers(res.headers()).is_empty());
    let res = post_from(&app, "http://localhost:3000").await;
    assert_eq!(res.status(), 200);
    assert!(cors_headers(res.headers()).is_empty());
}

/// Opens `/graphql/ws` with `origin` (if any), completes the
/// graphql-transport-ws handshake and runs one query; `Err(status)` when the
/// upgrade is refused.
async fn ws_from(app: &TestApp, origin: Option<&str>) -> Result<Value, u16> {
    let mut request = format!("ws://{}/graphql/ws", app.addr)
        .into_client_request()
        .unwrap();
    let headers = request.headers_mut();
    headers.insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    // Compression must leave the upgrade alone.
    headers.insert("accept-encoding", "gzip, br, zstd".parse().unwrap());
    if let Some(origin) = origin {
        headers.insert("origin", origin.parse().unwrap());
    }
    let (mut socket, response) = match tokio_tungstenite::connect_async(request).await {
        Ok(ok) => ok,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            return Err(response.status().as_u16())
        }
        Err(err) => panic!("connect: {err}"),
    };
    assert_eq!(response.status(), 101);
    assert!(response.headers().get("content-encoding").is_none());
    let send = |v: Value| Message::text(v.to_string());
    socket
        .send(send(json!({"type": "connection_init", "payload": {}})))
        .await
        .unwrap();
    socket
        .send(send(
            json!({"id": "1", "type": "subscribe", "payload": {"query": "{ __typename }"}}),
        ))
        .await
        .unwrap();
    loop {
        let message = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
            .await
            .expect("an answer within 10 s")
            .expect("the socket stays open")
            .unwrap();
        if let Message::Text(text) = message {
            let msg: Value = serde_json::from_str(&text).unwrap();
            if msg["type"] == "next" {
                return Ok(msg["payload"].clone());
            }
        }
    }
}

#[tokio::test]
async fn websocket_upgrades_are_checked_against_the_allowed_origins() {
    let app = spawn_with_edge(origins("http://localhost:3000")).await;
    let ok = json!({"data": {"__typename": "QueryRoot"}});
    assert_eq!(
        ws_from(&app, Some("http://localhost:3000")).await,
        Ok(ok.clone())
    );
    // Not a browser: no Origin, no check.
    assert_eq!(ws_from(&app, None).await, Ok(ok.clone()));
    // A page served by the gateway itself (GraphiQL).
    let own = format!("http://{}", app.addr);
    assert_eq!(ws_from(&app, Some(&own)).await, Ok(ok.clone()));
    // Cross-site websocket hijacking.
    assert_eq!(ws_from(&app, Some("http://evil.example")).await, Err(403));
    assert_eq!(ws_from(&app, Some("http://localhost:3001")).await, Err(403));
    assert_eq!(ws_from(&app, Some("null")).await, Err(403));

    // The refusal says why, as a GraphQL error.
    let res = app
        .client
        .get(format!("{}/graphql/ws", app.base_url))
        .header("origin", "http://evil.example")
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-protocol", "graphql-transport-ws")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );

    // The check can be turned off.
    let app = spawn_with_edge(EdgeConfig {
        ws_check_origin: false,
        ..origins("http://localhost:3000")
    })
    .await;
    assert_eq!(ws_from(&app, Some("http://evil.example")).await, Ok(ok));
}

/// 100 lift sessions of `user`, with the kind of content real ones have.
async fn insert_sessions(app: &TestApp, user: Uuid) {
    sqlx::query(
        r#"INSERT INTO lift.sessions (user_id, status, source, original_input, current_ir,
                                     current_code, metadata, created_at, finalized_at)
           SELECT $1,
                  (ARRAY['active', 'paused', 'finalized', 'error'])[1 + s % 4],
                  CASE WHEN s % 3 = 0 THEN 'code' ELSE 'prompt' END,
                  'Write a function that validates order #' || s || ' of customer ' || (s * 37) % 101
                    || ', sums its line items and rejects negative quantities.',
                  jsonb_build_object('entities', jsonb_build_array(jsonb_build_object(
                    'name', 'Order', 'fields', jsonb_build_array('id', 'items', 'total'))),
                    'version', s % 5),
                  'def validate_order(order):' || chr(10)
                    || '    return sum(i["qty"] * i["price"] for i in order["items"])',
                  jsonb_build_object('model', 'gpt-4o-mini', 'batch', s % 7),
                  now() - make_interval(mins => s * 17),
                  CASE WHEN s % 4 = 2 THEN now() - make_interval(mins => s * 11) END
           FROM generate_series(1, 100) AS s"#,
    )
    .bind(user)
    .execute(&app.db.pool)
    .await
    .expect("insert 100 lift sessions");
}

const PAGE: &str = "query Page { liftSessions(first: 100) { nodes { id userId status source \
    originalInput currentIr currentCode revisionCount draftCount holeCount metadata createdAt \
    updatedAt finalizedAt } } }";

/// POSTs `query` with a token, asking for `encoding` (none: no
/// `Accept-Encoding`); the response's headers and raw body.
async fn fetch(
    app: &TestApp,
    token: &str,
    query: &str,
    encoding: Option<&str>,
) -> (HeaderMap, Vec<u8>) {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.base_url))
        .bearer_auth(token)
        .json(&json!({ "query": query }));
    if let Some(encoding) = encoding {
        request = request.header("accept-encoding", encoding);
    }
    let res = request.send().await.unwrap();
    assert_eq!(res.status(), 200);
    let headers = res.headers().clone();
    (headers, res.bytes().await.unwrap().to_vec())
}

/// `body` through `program -dc`, when the program is installed (gzip is on
/// every Debian system; zstd may not be).
fn decompress(program: &str, body: &[u8]) -> Option<Vec<u8>> {
    let mut child = Command::new(program)
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take().unwrap();
    let input = body.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "{program} -dc failed");
    Some(out.stdout)
}

#[tokio::test]
async fn a_100_row_page_is_compressed_by_accept_encoding() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    insert_sessions(&app, user).await;
    let token = app.token(user);

    let (headers, plain) = fetch(&app, &token, PAGE, None).await;
    assert!(headers.get("content-encoding").is_none());
    let page: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(
        page["data"]["liftSessions"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        100,
        "{page}"
    );

    let mut sizes = Vec::new();
    for (encoding, magic) in [
        ("gzip", &[0x1f, 0x8b][..]),
        ("br", &[][..]),
        ("zstd", &[0x28, 0xb5, 0x2f, 0xfd][..]),
    ] {
        let (headers, body) = fetch(&app, &token, PAGE, Some(encoding)).await;
        assert_eq!(header(&headers, "content-encoding"), encoding);
        assert!(items(&headers, "vary").contains(&"accept-encoding".to_owned()));
        assert!(body.starts_with(magic), "{encoding}: {:02x?}", &body[..8]);
        let ratio = plain.len() as f64 / body.len() as f64;
        sizes.push(format!("{encoding} {} bytes ({ratio:.1}x)", body.len()));
        assert!(
            body.len() * 5 <= plain.len(),
            "{encoding}: {} bytes against {} plain",
            body.len(),
            plain.len()
        );
        let program = if encoding == "gzip" {
            Some("gzip")
        } else if encoding == "zstd" {
            Some("zstd")
        } else {
            None
        };
        if let Some(decoded) = program.and_then(|p| decompress(p, &body)) {
            let decoded: Value = serde_json::from_slice(&decoded).unwrap();
            assert_eq!(decoded, page, "{encoding} decodes to the same page");
        }
    }
    eprintln!(
        "100-row liftSessions page: plain {} bytes; {}",
        plain.len(),
        sizes.join("; ")
    );

    // The client's preference decides.
    let (headers, _) = fetch(&app, &token, PAGE, Some("br;q=1.0, gzip;q=0.5")).await;
    assert_eq!(header(&headers, "content-encoding"), "br");
    let (headers, _) = fetch(&app, &token, PAGE, Some("identity")).await;
    assert!(headers.get("content-encoding").is_none());

    // Small answers go as they are.
    let (headers, body) = fetch(&app, &token, "{ __typename }", Some("gzip")).await;
    assert!(headers.get("content-encoding").is_none(), "{headers:?}");
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["data"]["__typename"],
        "QueryRoot"
    );

    // Compression can be turned off.
    let app = spawn_with_edge(EdgeConfig {
        compression: false,
        ..EdgeConfig::default()
    })
    .await;
    let user = app.db.create_user("ada@example.com").await;
    insert_sessions(&app, user).await;
    let (headers, _) = fetch(&app, &app.token(user), PAGE, Some("gzip")).await;
    assert!(headers.get("content-encoding").is_none());
}

#[tokio::test]
async fn signed_in_responses_are_private_and_not_stored() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    let (headers, _) = fetch(&app, &app.token(user), "{ viewer { role } }", None).await;
    assert_eq!(header(&headers, "cache-control"), "private, no-store");

    // A refused token too.
    let res = app
        .client
        .post(format!("{}/graphql", app.base_url))
        .bearer_auth("not.a.token")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(header(res.headers(), "cache-control"), "private, no-store");

    // Anonymous answers are the same for everyone: left alone.
    let res = post_from(&app, "http://localhost:3000").await;
    assert_eq!(res.status(), 200);
    assert!(!header(res.headers(), "cache-control").contains("private"));
}
