//! Hostile input over HTTP and websockets: inputs nested far past their
//! limits, oversized and slow bodies, ambiguous credentials. Each is
//! refused with a coded GraphQL error, and the process keeps serving.

use crate::common::app::{spawn_app, spawn_app_with, GqlResponse, TestApp};
use crate::common::ws::{WsClient, PROTOCOLS};
use gateway::graphql::limits::Limits;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `levels` of `key` (`and`/`or`: a list; `not`: an object) around a leaf
/// filter.
fn nested_where(levels: usize, key: &str) -> String {
    let (open, close) = if key == "not" {
        ("{not:".to_string(), "}")
    } else {
        (format!("{{{key}:["), "]}")
    };
    format!(
        "{}{{id:{{isNull:false}}}}{}",
        open.repeat(levels),
        close.repeat(levels)
    )
}

/// Asserts one `LIMIT_EXCEEDED` error whose `limit` is one of `limits`.
fn assert_refused(response: &Value, limits: &[&str], what: &str) {
    let errors = response["errors"].as_array().expect(what);
    assert_eq!(errors.len(), 1, "{what}: {response}");
    assert_eq!(errors[0]["extensions"]["code"], "LIMIT_EXCEEDED", "{what}");
    let limit = errors[0]["extensions"]["limit"].as_str().unwrap_or("");
    assert!(limits.contains(&limit), "{what}: limit {limit}");
}

/// Asserts exactly one error, `BAD_USER_INPUT` with `field`.
fn assert_one_bad_input(response: &GqlResponse, field: &str) {
    assert_eq!(
        response.error_codes(),
        vec!["BAD_USER_INPUT"],
        "{}",
        response.body
    );
    assert_eq!(
        response.body["errors"][0]["extensions"]["field"], field,
        "{}",
        response.body
    );
}

async fn assert_still_serving(app: &TestApp) {
    let ok = app.as_anon("{ viewer { role } }", json!({})).await;
    assert_eq!(ok.data()["viewer"]["role"], "ANON");
}

/// The issue's crash: an anonymous `where` nested 10, 100 and 1,000 times
/// past the limit, on three root fields of two domains, as a literal and as
/// a variable. The limit itself passes.
#[tokio::test]
async fn deep_where_filters_are_refused_and_the_process_keeps_serving() {
    let app = spawn_app().await;
    let max = Limits::default().max_where_depth;
    let fields = [
        "publicPrompts(first: 1, where: W) { nodes { id } }",
        "liftSessions(first: 1, where: W) { nodes { id } }",
        "liftSessionAggregate(where: W) { count }",
    ];
    for field in fields {
        for key in ["and", "or", "not"] {
            let at = format!("{{ {} }}", field.replace('W', &nested_where(max, key)));
            let ok = app.as_anon(&at, json!({})).await;
            let codes = ok.error_codes();
            assert!(
                !codes.contains(&"LIMIT_EXCEEDED".to_string()),
                "{key} x{max}: {}",
                ok.body
            );
            for levels in [max * 10, max * 100, max * 1000] {
                let query = format!("{{ {} }}", field.replace('W', &nested_where(levels, key)));
                let response = app.as_anon(&query, json!({})).await;
                assert_refused(
                    &response.body,
                    &["where_depth", "input_depth", "nesting"],
                    &format!("{key} x{levels}"),
                );
            }
        }
    }
    // As a variable (JSON nests at most 128 deep before the body is refused).
    let mut w = json!({ "id": { "isNull": false } });
    for _ in 0..(max + 1) {
        w = json!({ "not": w });
    }
    let query =
        "query($w: LiftSessionWhere) { liftSessions(first: 1, where: $w) { nodes { id } } }";
    let response = app.as_anon(query, json!({ "w": w })).await;
    assert_refused(&response.body, &["where_depth"], "variable");
    assert_still_serving(&app).await;
}

/// A JSON value nested past the input depth, as a literal and as a
/// variable, is refused before anything is written (it used to be inserted,
/// then fail to decode on `RETURNING` as `INTERNAL`).
#[tokio::test]
async fn deep_json_inputs_and_long_lists_are_refused() {
    let app = spawn_app().await;
    let user = app.db.create_user("deep@example.com").await;
    let max = Limits::default().max_input_depth;
    let mutation = |ir: &str| {
        format!(
            r#"mutation {{ addLiftRevision(input: {{ sessionId: "00000000-0000-0000-0000-000000000000",
                source: INITIAL, irContent: {ir} }}) {{ revision {{ id }} }} }}"#
        )
    };
    for levels in [max * 10, max * 100, max * 1000] {
        let ir = format!("{}1{}", "{a:".repeat(levels), "}".repeat(levels));
        let response = app.as_user(user, &mutation(&ir), json!({})).await;
        assert_refused(&response.body, &["input_depth", "nesting"], "literal");
    }
    let mut ir = json!(1);
    for _ in 0..(max + 8) {
        ir = json!({ "a": ir });
    }
    let query = "mutation($ir: JSON!) { addLiftRevision(input: { sessionId: \"00000000-0000-0000-0000-000000000000\", source: INITIAL, irContent: $ir }) { revision { id } } }";
    let response = app.as_user(user, query, json!({ "ir": ir })).await;
    assert_refused(&response.body, &["input_depth"], "variable");

    let ids: Vec<String> = (0..1001)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    let query =
        "query($ids: [UUID!]) { liftSessions(where: { id: { in: $ids } }) { nodes { id } } }";
    let response = app.as_user(user, query, json!({ "ids": ids })).await;
    assert_refused(&response.body, &["list_length"], "list");
    assert_still_serving(&app).await;
}

/// A required variable that was not sent is the client's mistake:
/// `BAD_USER_INPUT` naming it, not `INTERNAL`.
#[tokio::test]
async fn a_missing_required_variable_is_bad_user_input() {
    let app = spawn_app().await;
    let response = app
        .as_anon(
            "query($id: UUID!) { liftSession(id: $id) { id } }",
            json!({}),
        )
        .await;
    assert_one_bad_input(&response, "$id");
    // Null for a non-null variable is the same mistake.
    let response = app
        .as_anon(
            "query($id: UUID!) { liftSession(id: $id) { id } }",
            json!({ "id": null }),
        )
        .await;
    assert_one_bad_input(&response, "$id");
}

/// Two `Authorization` headers are refused whatever their order (the first
/// used to win, so a proxy checking the other copy disagreed).
#[tokio::test]
async fn two_authorization_headers_are_refused() {
    let app = spawn_app().await;
    let user = app.db.create_user("two@example.com").await;
    let valid = format!("Bearer {}", app.token(user));
    for pair in [
        [valid.as_str(), "Bearer forged"],
        ["Bearer forged", valid.as_str()],
    ] {
        let response = app
            .client
            .post(format!("{}/graphql", app.base_url))
            .header("Authorization", pair[0])
            .header("Authorization", pair[1])
            .json(&json!({ "query": "{ viewer { role } }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    }
}

fn small_bodies() -> Limits {
    Limits {
        max_body_bytes: 4096,
        body_timeout_ms: 500,
        ..Limits::default()
    }
}

/// Bodies past the limit are a GraphQL error (`LIMIT_EXCEEDED`,
/// `body_size`, HTTP 413) whether announced or sent chunked; a malformed
/// body is `BAD_REQUEST` with a readable message.
#[tokio::test]
async fn oversized_chunked_and_malformed_bodies_get_coded_errors() {
    let app = spawn_app_with(small_bodies()).await;
    let padding = "x".repeat(8192);
    let body = json!({ "query": format!("{{ viewer {{ role }} }} # {padding}") }).to_string();
    let chunks: Vec<Result<String, std::io::Error>> =
        vec![Ok(body[..4000].to_string()), Ok(body[4000..].to_string())];
    let response = app
        .client
        .post(format!("{}/graphql", app.base_url))
        .header("Content-Type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["limit"], "body_size",
        "{body}"
    );

    let response = app
        .client
        .post(format!("{}/graphql", app.base_url))
        .header("Content-Type", "application/json")
        .body("{\"query\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        !message.contains("InvalidRequest("),
        "debug text: {message}"
    );
}

/// A body that stops arriving is answered 408 after the body timeout
/// instead of holding the connection.
#[tokio::test]
async fn a_half_sent_body_times_out() {
    let app = spawn_app_with(small_bodies()).await;
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                Content-Length: 100\r\n\r\n{\"query\":";
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.unwrap_or(0);
            answer.extend_from_slice(&buf[..n]);
            if n == 0 || answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer within 5 s");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("REQUEST_TIMEOUT"), "{text}");
    assert_still_serving(&app).await;
}

/// A websocket message past the size limit closes the socket with 1009
/// (message too big), not 1001.
#[tokio::test]
async fn an_oversized_websocket_message_closes_with_1009() {
    let app = spawn_app_with(small_bodies()).await;
    for protocol in PROTOCOLS {
        let mut client = WsClient::connect(app.addr, protocol, None)
            .await
            .expect("connected");
        client
            .send(
                json!({ "id": "1", "type": "subscribe", "payload": { "query": "x".repeat(8192) } }),
            )
            .await;
        let frame = client.closed().await.expect("a close frame");
        assert_eq!(u16::from(frame.code), 1009, "{protocol}: {frame:?}");
    }
}

/// An enum value is an enum literal (or a variable): `source: "PROMPT"` is
/// refused, as the spec says; an Int past 32 bits names its field; one
/// mistake is one error.
#[tokio::test]
async fn literal_types_are_checked_with_the_field_named() {
    let app = spawn_app().await;
    let user = app.db.create_user("types@example.com").await;
    let response = app
        .as_user(
            user,
            r#"mutation { createLiftSession(input: { source: "PROMPT", originalInput: "x" }) { session { id } } }"#,
            json!({}),
        )
        .await;
    assert_one_bad_input(&response, "input.source");
    let sessions = app
        .as_user(user, "{ liftSessions { totalCount } }", json!({}))
        .await;
    assert_eq!(
        sessions.data()["liftSessions"]["totalCount"],
        0,
        "nothing written"
    );

    let query = "query($n: Int) { liftSessions(first: $n) { totalCount } }";
    for (value, field) in [(json!(-99_999_999_999i64), "$n"), (json!("abc"), "$n")] {
        let response = app.as_user(user, query, json!({ "n": value })).await;
        assert_one_bad_input(&response, field);
    }
    // The same enum value as a variable is JSON, hence a string: fine.
    let response = app
        .as_user(
            user,
            "mutation($s: LiftSessionSource!) { createLiftSession(input: { source: $s, originalInput: \"x\" }) { session { id } } }",
            json!({ "s": "PROMPT" }),
        )
        .await;
    assert!(response.body.get("errors").is_none(), "{}", response.body);
}

/// A megabyte of document is parsed and validated off the shared async
/// worker: with one worker thread, `/healthz` still answers while it is
/// being parsed (before, it waited for the parse to end).
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_huge_document_does_not_stall_other_requests() {
    let app = spawn_app().await;
    let fields = "a: __typename ".repeat((1 << 20) / 16);
    let body = json!({ "query": format!("{{ {fields} }}") });
    let url = format!("{}/graphql", app.base_url);
    let client = app.client.clone();
    let big = tokio::spawn(async move {
        let response = client.post(url).json(&body).send().await.unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, _) = app.get("/healthz").await;
    assert_eq!(status, 200);
    assert!(
        !big.is_finished(),
        "the document was parsed before /healthz answered: nothing to prove"
    );
    let (status, body) = big.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{body}"
    );
}
