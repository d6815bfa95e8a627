//! CORS as a browser enforces it: a page served from a second server (another
//! origin: another port of 127.0.0.1) runs a mutation and a query against
//! the real gateway with `fetch` and an `Authorization: Bearer` header (so
//! the browser sends a preflight first), and opens its websocket, in a
//! headless Chromium. With the page's origin allowed all three work; with
//! the gateway allowing another origin, Chromium refuses both fetches and
//! the gateway refuses the socket.
//!
//! The browser is driven over the DevTools protocol, with the small client
//! and launch flags shared with `tests/graphiql_page.rs`
//! (`tests/common/browser.rs`). It needs Chromium: it runs
//! `scripts/install-chromium.sh` when none is found (set `CHROMIUM` to use a
//! particular binary) and skips, saying so, only when that fails. Run:
//! `cargo test --test cross_origin_page`.

#[path = "common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::response::Html;
use axum::routing::get;
use axum::Router;
use common::app::{spawn_app_config, AppConfig, TestApp};
use common::browser::{chromium, BrowserPage};
use gateway::server::edge::EdgeConfig;
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// The page: on load it runs a mutation, then a query, then opens the
/// websocket, writing each outcome into the DOM as JSON; `window.done`
/// settles when all three are there.
const PAGE: &str = r#"<!doctype html>
<html>
<head><meta charset="utf-8"><title>cross-origin client</title></head>
<body>
<pre id="mutation">pending</pre>
<pre id="query">pending</pre>
<pre id="socket">pending</pre>
<script>
const GATEWAY = "__GATEWAY__";
const TOKEN = "__TOKEN__";
const show = (id, value) => { document.getElementById(id).textContent = JSON.stringify(value); };
async function graphql(query, variables) {
  try {
    const res = await fetch(GATEWAY + "/graphql", {
      method: "POST",
      headers: { "Authorization": "Bearer " + TOKEN, "Content-Type": "application/json" },
      body: JSON.stringify({ query, variables }),
    });
    return { status: res.status, cacheControl: res.headers.get("cache-control"), body: await res.json() };
  } catch (e) {
    return { error: String(e) };
  }
}
function socket() {
  return new Promise((resolve) => {
    const url = GATEWAY.replace("http://", "ws://") + "/graphql/ws";
    const ws = new WebSocket(url, "graphql-transport-ws");
    const timer = setTimeout(() => resolve({ outcome: "timeout" }), 10000);
    const done = (outcome) => { clearTimeout(timer); resolve(outcome); };
    ws.onopen = () => ws.send(JSON.stringify({ type: "connection_init", payload: { Authorization: "Bearer " + TOKEN } }));
    ws.onmessage = (m) => {
      if (JSON.parse(m.data).type === "connection_ack") { ws.close(1000); done({ outcome: "acked" }); }
    };
    ws.onerror = () => done({ outcome: "error" });
    ws.onclose = (e) => done({ outcome: "closed", code: e.code });
  });
}
window.done = (async () => {
  show("mutation", await graphql(
    "mutation Create($input: CreateLiftSessionInput!) { createLiftSession(input: $input) { session { id originalInput } } }",
    { input: { source: "PROMPT", originalInput: "typed in a cross-origin page" } }));
  show("query", await graphql("query Mine { liftSessions(first: 10) { nodes { id originalInput } } }", {}));
  show("socket", await socket());
})();
</script>
</body>
</html>
"#;

/// Reads the three outcomes back from the page's DOM once it is done.
const READ_RESULTS: &str = r#"(async () => {
  await window.done;
  const read = (id) => JSON.parse(document.getElementById(id).textContent);
  return { mutation: read("mutation"), query: read("query"), socket: read("socket") };
})()"#;

/// Serves the page on 127.0.0.1:<any>, an origin other than the gateway's.
async fn spawn_page_server() -> (SocketAddr, tokio::sync::oneshot::Sender<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // The gateway's address and a token are known only once it runs, and
    // its configuration needs this server's origin first.
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    tokio::spawn(async move {
        let page = rx.await.unwrap();
        let app = Router::new().route("/", get(move || async move { Html(page) }));
        axum::serve(listener, app).await.unwrap();
    });
    (addr, tx)
}

/// Runs the page against a gateway allowing `allowed` (the page's origin
/// as `{page}`): the gateway, the three outcomes and the DevTools events.
async fn run_page(
    browser: &std::path::Path,
    allowed: &str,
) -> (TestApp, uuid::Uuid, Value, Vec<Value>) {
    let (page_addr, page) = spawn_page_server().await;
    let page_origin = format!("http://{page_addr}");
    let app = spawn_app_config(AppConfig {
        edge: EdgeConfig {
            cors_origins: Some(allowed.replace("{page}", &page_origin).parse().unwrap()),
            ..EdgeConfig::default()
        },
        ..AppConfig::default()
    })
    .await;
    let user = app.db.create_user("ada@example.com").await;
    let html = PAGE
        .replace("__GATEWAY__", &app.base_url)
        .replace("__TOKEN__", &app.token(user));
    page.send(html).unwrap();
    let (results, events) = tokio::time::timeout(Duration::from_secs(90), async {
        let mut page = BrowserPage::open(browser, &format!("{page_origin}/")).await;
        let results = page.cdp.eval(READ_RESULTS).await;
        // Collect whatever the page logged meanwhile.
        page.cdp
            .call("Runtime.evaluate", json!({"expression": "1"}))
            .await;
        (results, std::mem::take(&mut page.cdp.events))
    })
    .await
    .expect("the browser test took over 90 s");
    (app, user, results, events)
}

/// Lift sessions of `user` in the database.
async fn sessions_of(app: &TestApp, user: uuid::Uuid) -> i64 {
    common::sqlx::query_scalar("SELECT count(*) FROM lift.sessions WHERE user_id = $1")
        .bind(user)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

/// The URLs and methods of the requests Chromium sent to `base`.
fn requests_to(events: &[Value], base: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["method"] == "Network.requestWillBeSent")
        .filter(|e| {
            e["params"]["request"]["url"]
                .as_str()
                .is_some_and(|u| u.starts_with(base))
        })
        .map(|e| {
            format!(
                "{} {} ({})",
                e["params"]["request"]["method"].as_str().unwrap_or(""),
                e["params"]["request"]["url"].as_str().unwrap_or(""),
                e["params"]["type"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[tokio::test]
async fn a_page_from_an_allowed_origin_runs_a_query_and_a_mutation() {
    let Some(browser) = chromium() else {
        eprintln!(
            "SKIPPED a_page_from_an_allowed_origin_runs_a_query_and_a_mutation: no Chromium, and \
             scripts/install-chromium.sh could not install one (set CHROMIUM=/path/to/chromium)"
        );
        return;
    };
    let (app, user, results, events) = run_page(&browser, "{page}").await;
    let context = || {
        format!(
            "{results:#}\nrequests: {:#?}",
            requests_to(&events, &app.base_url)
        )
    };

    let mutation = &results["mutation"];
    assert_eq!(mutation["status"], 200, "{}", context());
    let created = &mutation["body"]["data"]["createLiftSession"]["session"];
    assert_eq!(
        created["originalInput"],
        "typed in a cross-origin page",
        "{}",
        context()
    );
    // The page could read the caching header of a signed-in answer.
    assert_eq!(
        mutation["cacheControl"],
        "private, no-store",
        "{}",
        context()
    );

    let query = &results["query"];
    assert_eq!(query["status"], 200, "{}", context());
    let nodes = query["body"]["data"]["liftSessions"]["nodes"]
        .as_array()
        .unwrap();
    assert_eq!(nodes.len(), 1, "{}", context());
    assert_eq!(nodes[0]["id"], created["id"], "{}", context());
    assert_eq!(sessions_of(&app, user).await, 1);

    assert_eq!(results["socket"]["outcome"], "acked", "{}", context());

    // The browser asked first: the token header forces a preflight (one,
    // then cached for the max-age).
    let preflights = events
        .iter()
        .filter(|e| e["method"] == "Network.requestWillBeSent")
        .filter(|e| e["params"]["initiator"]["type"] == "preflight")
        .filter(|e| e["params"]["request"]["method"] == "OPTIONS")
        .count();
    assert!(preflights >= 1, "no preflight seen: {}", context());
}

#[tokio::test]
async fn a_page_from_an_origin_not_allowed_is_refused() {
    let Some(browser) = chromium() else {
        eprintln!("SKIPPED a_page_from_an_origin_not_allowed_is_refused: no Chromium");
        return;
    };
    // The gateway allows a different origin than the page's.
    let (app, user, results, events) = run_page(&browser, "http://localhost:3000").await;
    let context = || {
        format!(
            "{results:#}\nrequests: {:#?}",
            requests_to(&events, &app.base_url)
        )
    };

    for op in ["mutation", "query"] {
        let error = results[op]["error"].as_str().unwrap_or_default();
        assert!(error.contains("Failed to fetch"), "{op}: {}", context());
    }
    // Chromium says why: the CORS check failed.
    let cors_failures = events
        .iter()
        .filter(|e| e["method"] == "Network.loadingFailed")
        .filter(|e| e["params"]["corsErrorStatus"].is_object())
        .count();
    assert!(cors_failures >= 2, "{}\nevents: {events:#?}", context());
    // The preflight stopped the mutation before it was sent.
    assert_eq!(sessions_of(&app, user).await, 0);

    // The socket is refused at the upgrade (403), before any message.
    assert_ne!(results["socket"]["outcome"], "acked", "{}", context());
    assert_ne!(results["socket"]["outcome"], "timeout", "{}", context());
}
