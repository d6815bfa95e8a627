//! GraphQL over HTTP: GET and POST, `Accept` negotiation, the status of each
//! outcome, refusals as GraphQL bodies, and the CSRF rule on POST bodies.

use crate::common::app::{spawn_app, spawn_app_with, TestApp};
use crate::common::ws::{WsClient, PROTOCOLS};
use gateway::graphql::limits::Limits;
use reqwest::header::RETRY_AFTER;
use reqwest::header::{ACCEPT, ALLOW, CONTENT_TYPE, WWW_AUTHENTICATE};
use serde_json::{json, Value};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

struct Answer {
    status: u16,
    content_type: String,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        content_type,
        headers,
        body,
    }
}

fn url(app: &TestApp) -> String {
    format!("{}/graphql", app.base_url)
}

async fn get(app: &TestApp, params: &[(&str, &str)], accept: Option<&str>) -> Answer {
    let mut request = app.client.get(url(app)).query(params);
    if let Some(accept) = accept {
        request = request.header(ACCEPT, accept);
    }
    answer(request.send().await.unwrap()).await
}

async fn post(
    app: &TestApp,
    body: &str,
    content_type: Option<&str>,
    accept: Option<&str>,
) -> Answer {
    let mut request = app.client.post(url(app)).body(body.to_string());
    if let Some(content_type) = content_type {
        request = request.header(CONTENT_TYPE, content_type);
    }
    if let Some(accept) = accept {
        request = request.header(ACCEPT, accept);
    }
    answer(request.send().await.unwrap()).await
}

fn code(answer: &Answer) -> &str {
    answer.body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}

#[tokio::test]
async fn get_runs_queries_and_refuses_mutations() {
    let app = spawn_app().await;
    let ok = get(&app, &[("query", "{ viewer { role } }")], None).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.content_type.starts_with("application/json"));
    assert_eq!(ok.body["data"]["viewer"]["role"], "ANON");

    let with_variables = get(
        &app,
        &[
            (
                "query",
                "query($n: Int) { publicPrompts(first: $n) { totalCount } }",
            ),
            ("variables", r#"{"n": 2}"#),
        ],
        Some(GRAPHQL_RESPONSE),
    )
    .await;
    assert_eq!(with_variables.status, 200, "{}", with_variables.body);
    assert!(with_variables.content_type.starts_with(GRAPHQL_RESPONSE));

    let mutation = get(
        &app,
        &[("query", "mutation { clearChatSessions { deletedCount } }")],
        None,
    )
    .await;
    assert_eq!(mutation.status, 405, "{}", mutation.body);
    assert_eq!(mutation.headers.get(ALLOW).unwrap(), "POST");
    assert_eq!(code(&mutation), "METHOD_NOT_ALLOWED");

    let bad_variables = get(
        &app,
        &[("query", "{ viewer { role } }"), ("variables", "{")],
        None,
    )
    .await;
    assert_eq!(bad_variables.status, 400);
    assert_eq!(code(&bad_variables), "BAD_REQUEST");

    // A browser navigating to the endpoint gets GraphiQL; a client asking
    // for JSON without a query is told what is missing.
    let page = get(&app, &[], Some("text/html,application/xhtml+xml,*/*;q=0.8")).await;
    assert_eq!(page.status, 200);
    assert!(page.content_type.starts_with("text/html"));
    let missing = get(&app, &[], Some("application/json")).await;
    assert_eq!(missing.status, 400);
    assert_eq!(code(&missing), "BAD_REQUEST");
}

#[tokio::test]
async fn accept_decides_the_media_type_and_the_status_of_request_errors() {
    let app = spawn_app().await;
    let body = json!({ "query": "{ viewer { role } }" }).to_string();
    for (accept, want) in [
        (None, "application/json"),
        (Some("*/*"), "application/json"),
        (Some("application/json"), "application/json"),
        (Some(GRAPHQL_RESPONSE), GRAPHQL_RESPONSE),
    ] {
        let ok = post(&app, &body, Some("application/json"), accept).await;
        assert_eq!(ok.status, 200, "{accept:?}");
        assert!(
            ok.content_type.starts_with(want),
            "{accept:?}: {}",
            ok.content_type
        );
    }
    let refused = post(&app, &body, Some("application/json"), Some("text/plain")).await;
    assert_eq!(refused.status, 406);
    assert_eq!(code(&refused), "NOT_ACCEPTABLE");

    // Request errors: 200 with the errors under application/json, 400 and no
    // `data` entry under application/graphql-response+json.
    for (query, variables, want) in [
        ("{ viewer { ", json!({}), "GRAPHQL_PARSE_FAILED"),
        (
            "{ viewer { nope } }",
            json!({}),
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "query($n: Int) { publicPrompts(first: $n) { totalCount } }",
            json!({ "n": "x" }),
            "BAD_USER_INPUT",
        ),
    ] {
        let body = json!({ "query": query, "variables": variables }).to_string();
        let json_answer = post(
            &app,
            &body,
            Some("application/json"),
            Some("application/json"),
        )
        .await;
        assert_eq!(json_answer.status, 200, "{query}");
        assert_eq!(code(&json_answer), want, "{query}: {}", json_answer.body);
        let strict = post(
            &app,
            &body,
            Some("application/json"),
            Some(GRAPHQL_RESPONSE),
        )
        .await;
        assert_eq!(strict.status, 400, "{query}: {}", strict.body);
        assert_eq!(code(&strict), want);
        assert!(
            strict.body.get("data").is_none(),
            "{query}: {}",
            strict.body
        );
    }
    // A parse error is one line; its place is in `locations`.
    let parse = post(
        &app,
        r#"{"query": "{ viewer { "}"#,
        Some("application/json"),
        None,
    )
    .await;
    let message = parse.body["errors"][0]["message"].as_str().unwrap();
    assert!(!message.contains('\n'), "{message}");
    assert!(message.starts_with("syntax error at line 1"), "{message}");
}

#[tokio::test]
async fn early_refusals_are_graphql_bodies() {
    let app = spawn_app().await;
    // A bad token: 401, a body Apollo can read, WWW-Authenticate.
    let response = app
        .client
        .post(url(&app))
        .header("Authorization", "Bearer nope")
        .header(ACCEPT, GRAPHQL_RESPONSE)
        .json(&json!({ "query": "{ viewer { role } }" }))
        .send()
        .await
        .unwrap();
    let unauthorized = answer(response).await;
    assert_eq!(unauthorized.status, 401);
    assert!(unauthorized.content_type.starts_with(GRAPHQL_RESPONSE));
    assert_eq!(
        unauthorized.headers.get(WWW_AUTHENTICATE).unwrap(),
        "Bearer"
    );
    assert_eq!(code(&unauthorized), "UNAUTHENTICATED");

    for (body, want) in [
        ("", "BAD_REQUEST"),
        ("{\"query\": ", "BAD_REQUEST"),
        ("{\"query\": 5}", "BAD_REQUEST"),
    ] {
        let refused = post(&app, body, Some("application/json"), None).await;
        assert_eq!(refused.status, 400, "{body:?}");
        assert_eq!(code(&refused), want, "{body:?}");
        let message = refused.body["errors"][0]["message"].as_str().unwrap();
        assert!(!message.contains("Error("), "debug text: {message}");
    }
    let put = answer(app.client.put(url(&app)).send().await.unwrap()).await;
    assert_eq!(put.status, 405);
    assert_eq!(code(&put), "METHOD_NOT_ALLOWED");
}

/// CSRF: a POST a browser could send cross-site without a preflight (no
/// content type, `text/plain`, a form type) is refused, unless a header
/// that forces a preflight comes with it.
#[tokio::test]
async fn simple_post_bodies_are_refused_unless_a_preflight_was_forced() {
    let app = spawn_app().await;
    let body = json!({ "query": "{ viewer { role } }" }).to_string();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let refused = post(&app, &body, content_type, None).await;
        assert_eq!(refused.status, 415, "{content_type:?}");
        assert_eq!(code(&refused), "UNSUPPORTED_MEDIA_TYPE");
    }
    let response = app
        .client
        .post(url(&app))
        .header(CONTENT_TYPE, "text/plain")
        .header("apollo-require-preflight", "true")
        .body(body)
        .send()
        .await
        .unwrap();
    let allowed = answer(response).await;
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    assert_eq!(allowed.body["data"]["viewer"]["role"], "ANON");
}

/// Each viewer has a token bucket: past it, 429 `RATE_LIMITED` with
/// `Retry-After`; another viewer is not affected; it refills.
#[tokio::test]
async fn rate_limits_trip_per_viewer_and_recover() {
    let app = spawn_app_with(Limits {
        rate_limit_per_second: 5,
        rate_limit_burst: 3,
        ..Limits::default()
    })
    .await;
    let user = app.db.create_user("rate@example.com").await;
    let query = json!({ "query": "{ viewer { role } }" }).to_string();
    for _ in 0..3 {
        let ok = post(&app, &query, Some("application/json"), None).await;
        assert_eq!(ok.status, 200, "{}", ok.body);
    }
    let limited = post(&app, &query, Some("application/json"), None).await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert_eq!(code(&limited), "RATE_LIMITED");
    let wait: u64 = limited
        .headers
        .get(RETRY_AFTER)
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 1);
    // A signed-in user has a bucket of their own.
    let other = app.as_user(user, "{ viewer { role } }", json!({})).await;
    assert_eq!(other.status, 200, "{}", other.body);
    // A batch takes a token per operation.
    let batch = Value::Array(vec![json!({ "query": "{ viewer { role } }" }); 4]);
    let too_big = app
        .post_raw(Some(&format!("Bearer {}", app.token(user))), batch)
        .await;
    assert_eq!(too_big.status, 429, "{}", too_big.body);
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let again = post(&app, &query, Some("application/json"), None).await;
    assert_eq!(again.status, 200, "recovers: {}", again.body);
}

/// Websocket operations take tokens from the same bucket (keyed by the
/// connection's viewer): past it, `RATE_LIMITED` with `retryAfter`.
#[tokio::test]
async fn websocket_operations_are_rate_limited_too() {
    let app = spawn_app_with(Limits {
        rate_limit_per_second: 1,
        rate_limit_burst: 2,
        ..Limits::default()
    })
    .await;
    let user = app.db.create_user("wsrate@example.com").await;
    let token = app.token(user);
    let mut client = WsClient::connect(app.addr, PROTOCOLS[0], Some(&token))
        .await
        .expect("connected");
    for _ in 0..2 {
        let id = client.start("{ viewer { role } }", json!({})).await;
        let payload = client.next(&id).await;
        assert!(payload.get("errors").is_none(), "{payload}");
    }
    let id = client.start("{ viewer { role } }", json!({})).await;
    let error = client.ends_with_error(&id).await;
    assert_eq!(error["extensions"]["code"], "RATE_LIMITED", "{error}");
    assert!(error["extensions"]["retryAfter"].as_u64().unwrap() >= 1);
}
