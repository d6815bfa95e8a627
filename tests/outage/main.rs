//! A database outage: with PostgreSQL stopped, requests fail fast with
//! `SERVICE_UNAVAILABLE` (HTTP 503, `Retry-After`), `/readyz` answers at
//! once with 503, and both recover as soon as the database is back. A
//! binary of its own: stopping the cluster would break tests beside it.

#[path = "../common/mod.rs"]
mod common;

use common::app::{spawn_app, TestApp};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Needs the database, three times: the first field to find it down
/// answers for the rest, so the request waits out the pool once, not three
/// times.
const QUERY: &str = "{ a: liftSessions(first: 1) { nodes { id } }
    b: liftSessions(first: 2) { nodes { id } } c: chatSessions(first: 1) { nodes { id } } }";

/// Longest a request may take while the database is down (the pool's
/// acquire timeout is 2 s).
const REQUEST_BOUND: Duration = Duration::from_secs(3);
/// Longest `/readyz` may take, whatever the database does.
const READYZ_BOUND: Duration = Duration::from_millis(500);
/// Longest `/readyz` may stay red once the database accepts connections.
const RECOVERY_BOUND: Duration = Duration::from_secs(2);

struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
    took: Duration,
}

/// A client that gives up rather than hang the test.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap()
}

async fn post(app: &TestApp, http: &reqwest::Client, token: &str) -> Answer {
    let started = Instant::now();
    let response = http
        .post(format!("{}/graphql", app.base_url))
        .bearer_auth(token)
        .json(&json!({ "query": QUERY }))
        .send()
        .await
        .expect("the gateway answers");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap_or("").to_string());
    let body = response.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        retry_after,
        body,
        took: started.elapsed(),
    }
}

async fn readyz(app: &TestApp, http: &reqwest::Client) -> (u16, String, Duration) {
    let started = Instant::now();
    let response = http
        .get(format!("{}/readyz", app.base_url))
        .send()
        .await
        .expect("/readyz answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, text, started.elapsed())
}

/// Polls `/readyz` every 25 ms until it says `want` (status and text), for
/// at most `within`; every answer must come within [`READYZ_BOUND`].
/// Returns how long it took, or what it last said.
async fn readyz_until(
    app: &TestApp,
    http: &reqwest::Client,
    want: (u16, &str),
    within: Duration,
) -> Result<Duration, (u16, String)> {
    let started = Instant::now();
    loop {
        let (status, text, took) = readyz(app, http).await;
        assert!(
            took < READYZ_BOUND,
            "/readyz took {took:?} (said {status} {text:?})"
        );
        if (status, text.as_str()) == want {
            return Ok(started.elapsed());
        }
        if started.elapsed() > within {
            return Err((status, text));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn an_outage_fails_fast_and_readiness_follows_the_database() {
    common::use_own_cluster();
    let app = spawn_app().await;
    let http = client();
    let alice = app.db.create_user("alice@example.com").await;
    let token = app.token(alice);

    let up = post(&app, &http, &token).await;
    assert_eq!(up.status, 200, "{}", up.body);
    assert!(up.body.get("errors").is_none(), "{}", up.body);
    readyz_until(&app, &http, (200, "ready"), Duration::ZERO)
        .await
        .expect("ready before the outage");

    let stopping = Instant::now();
    assert!(
        tokio::task::spawn_blocking(common::stop_server)
            .await
            .unwrap(),
        "runs on its own throwaway cluster"
    );
    eprintln!("cluster stopped in {:?}", stopping.elapsed());
    let stopped = Instant::now();

    // A request that needs the database fails fast, with the code, and
    // meanwhile /readyz says so at once (every answer within READYZ_BOUND).
    let (down, red) = tokio::join!(
        post(&app, &http, &token),
        readyz_until(
            &app,
            &http,
            (503, "database unreachable"),
            Duration::from_secs(4),
        )
    );
    let red = red.expect("/readyz reports the database unreachable");
    eprintln!("/readyz says \"database unreachable\" {red:?} after the stop");
    eprintln!(
        "request while down: HTTP {} in {:?}, Retry-After {:?}: {}",
        down.status, down.took, down.retry_after, down.body
    );
    assert!(
        down.took < REQUEST_BOUND,
        "a request while the database is down took {:?}",
        down.took
    );
    assert_eq!(
        down.body["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE",
        "{}",
        down.body
    );
    assert_eq!(
        down.body["errors"][0]["message"],
        "the database is unavailable, try again shortly"
    );

    // And keeps saying so.
    for _ in 0..10 {
        let (status, text, took) = readyz(&app, &http).await;
        assert_eq!((status, text.as_str()), (503, "database unreachable"));
        assert!(took < READYZ_BOUND, "/readyz took {took:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Still fast for a request that comes while the outage goes on.
    let still_down = post(&app, &http, &token).await;
    assert!(
        still_down.took < REQUEST_BOUND,
        "took {:?}",
        still_down.took
    );
    assert_eq!(
        still_down.body["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE",
        "{}",
        still_down.body
    );
    eprintln!("outage lasted {:?}", stopped.elapsed());

    // Back: /readyz turns green within RECOVERY_BOUND of the database
    // accepting connections (pg_ctl returns once it does).
    assert!(tokio::task::spawn_blocking(common::start_server)
        .await
        .unwrap());
    let green = readyz_until(&app, &http, (200, "ready"), RECOVERY_BOUND)
        .await
        .unwrap_or_else(|last| {
            panic!("/readyz still says {last:?} {RECOVERY_BOUND:?} after the database is back")
        });
    eprintln!("/readyz green {green:?} after the database is back");

    // And the next request works (the pool replaced its dead connections).
    let again = post(&app, &http, &token).await;
    eprintln!(
        "first request after: HTTP {} in {:?}",
        again.status, again.took
    );
    assert_eq!(again.status, 200, "{}", again.body);
    assert!(again.body.get("errors").is_none(), "{}", again.body);
    assert!(again.body["data"]["a"]["nodes"].is_array());

    // The HTTP side of the outage answer (the handler maps the code).
    assert_eq!(down.status, 503, "HTTP status of SERVICE_UNAVAILABLE");
    assert!(
        down.retry_after.is_some(),
        "SERVICE_UNAVAILABLE carries Retry-After"
    );
}
