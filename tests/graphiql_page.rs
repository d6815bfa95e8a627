//! GraphiQL served offline by the gateway: the page references only the
//! gateway's own assets, and a headless Chromium loads it from a running
//! server and runs queries through it.
//!
//! Mostly standalone: the GraphiQL router next to a fake `POST /graphql` that answers
//! `{"data":{"__typename":"Query"}}` and records what it received, so no
//! database is needed. The browser test drives Chromium through the DevTools
//! protocol with a small WebSocket client (no extra crates) in
//! `tests/common/browser.rs`. It needs Chromium: it runs
//! `scripts/install-chromium.sh` when none is found (set `CHROMIUM` to use a
//! particular binary) and skips, saying so, only when that fails. One more
//! test runs a query through the page against the real gateway (`spawn_app`,
//! real database). Run: `cargo test --test graphiql_page`.

#[path = "common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use common::browser::{chromium, BrowserPage};
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// One operation the fake endpoint received.
#[derive(Clone, Debug)]
struct Received {
    query: String,
    authorization: Option<String>,
}

type Log = Arc<Mutex<Vec<Received>>>;

/// Serves the GraphiQL router plus the fake endpoint on 127.0.0.1:<any>.
async fn spawn_app() -> (SocketAddr, Log) {
    let received: Log = Arc::default();
    let log = received.clone();
    let app = Router::new()
        .route(
            "/graphql",
            post(move |headers: HeaderMap, Json(body): Json<Value>| {
                let log = log.clone();
                async move {
                    let query = body["query"].as_str().unwrap_or_default().to_owned();
                    let authorization = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    log.lock().unwrap().push(Received {
                        query: query.clone(),
                        authorization,
                    });
                    // GraphiQL introspects on load; an explicit error keeps its
                    // message apart from the probe's answer in the result pane.
                    if query.contains("__schema") {
                        return Json(
                            json!({"errors": [{"message": "no introspection in this fake"}]}),
                        );
                    }
                    Json(json!({"data": {"__typename": "Query"}}))
                }
            }),
        )
        .merge(gateway::server::graphiql::router::<()>());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, received)
}

/// Every `src="..."` and `href="..."` value in `html`.
fn references(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(i) = rest.find(attr) {
            rest = &rest[i + attr.len()..];
            let end = rest.find('"').expect("attribute closes");
            out.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    out
}

async fn get_page(client: &reqwest::Client, addr: SocketAddr) -> reqwest::Response {
    client
        .get(format!("http://{addr}/graphql"))
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn page_references_only_the_gateways_own_assets() {
    let (addr, _) = spawn_app().await;
    let client = reqwest::Client::new();

    let res = get_page(&client, addr).await;
    assert_eq!(res.status(), 200);
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    assert!(header("content-type").starts_with("text/html"));
    let csp = header("content-security-policy");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = res.text().await.unwrap();

    assert!(!html.contains("http://"), "page names a host:\n{html}");
    assert!(!html.contains("https://"), "page names a host:\n{html}");
    assert!(!html.contains("\"//"), "protocol-relative URL:\n{html}");
    assert!(html.contains("Authorization"), "no Authorization hint");
    assert!(
        html.contains("gateway token --user"),
        "hint says where tokens come from"
    );

    let refs = references(&html);
    assert!(
        refs.len() >= 6,
        "css, icon, react, react-dom, graphiql, boot: {refs:?}"
    );
    for r in &refs {
        // Inline data (the empty favicon) names no host and costs no request.
        if r.starts_with("data:") {
            continue;
        }
        assert!(r.starts_with("/graphiql/assets/"), "foreign reference {r}");
        let res = client
            .get(format!("http://{addr}{r}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{r}");
        let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
        let want = if r.ends_with(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(ct.starts_with(want), "{r}: {ct}");
        assert!(res.headers().contains_key("cache-control"), "{r}");
        assert!(res.headers().contains_key("etag"), "{r}");
        let body = res.bytes().await.unwrap();
        assert!(body.len() > 1000, "{r} is {} bytes", body.len());
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains("url(http"), "{r} pulls a remote resource");
    }
    assert!(refs
        .iter()
        .any(|r| r.contains("graphiql") && r.ends_with(".min.js")));
    assert!(refs.iter().any(|r| r.contains("react-dom")));
}

#[tokio::test]
async fn assets_are_cacheable_and_compressed() {
    let (addr, _) = spawn_app().await;
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/graphiql/assets/graphiql-3.9.0.min.js");

    let plain = client.get(&url).send().await.unwrap();
    assert_eq!(plain.status(), 200);
    let cache = plain.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cache.contains("immutable") && cache.contains("max-age=31536000"),
        "{cache}"
    );
    let etag = plain.headers()["etag"].clone();
    let plain_len = plain.bytes().await.unwrap().len();

    let gz = client
        .get(&url)
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    assert_eq!(gz.headers()["vary"], "Accept-Encoding");
    let gz = gz.bytes().await.unwrap();
    assert_eq!(&gz[..2], &[0x1f, 0x8b]);
    assert!(gz.len() * 2 < plain_len, "gzip {} vs {plain_len}", gz.len());

    let again = client
        .get(&url)
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    // The boot script is unversioned: revalidated on every use.
    let boot = client
        .get(format!("http://{addr}/graphiql/assets/gateway-graphiql.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(boot.status(), 200);
    assert_eq!(boot.headers()["cache-control"], "no-cache");

    let missing = client
        .get(format!("http://{addr}/graphiql/assets/../Cargo.toml"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let missing = client
        .get(format!("http://{addr}/graphiql/assets/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn only_browsers_get_the_page() {
    let (addr, received) = spawn_app().await;
    let client = reqwest::Client::new();
    let res = client
        .get(format!("http://{addr}/graphql?query=%7B__typename%7D"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 406);
    // The page is on GET only: POST still reaches the GraphQL endpoint.
    let res = client
        .post(format!("http://{addr}/graphql"))
        .json(&json!({"query": "{ __typename }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["data"]["__typename"],
        "Query"
    );
    assert_eq!(received.lock().unwrap().len(), 1);
}

/// Shared by the scripts below: wait for a condition, set an editor, run.
const PAGE_HELPERS: &str = r#"
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, f) {
  for (let i = 0; i < 300; i++) {
    const v = f();
    if (v) return v;
    await sleep(50);
  }
  throw new Error('timed out waiting for ' + what + '; page text: ' +
    document.body.innerText.slice(0, 400));
}
const mirror = (sel) => { const e = document.querySelector(sel); return e && e.CodeMirror; };
const headersEditor = () => Array.from(document.querySelectorAll('.graphiql-editor-tool .CodeMirror'))
  .map((e) => e.CodeMirror).find((cm) => cm && cm.getValue().includes('Authorization'));
"#;

/// Waits for GraphiQL, reports what it shows, runs a probe query through the
/// run button and returns the response pane's text.
const FIRST_RUN: &str = r#"(async () => {
  HELPERS
  const query = await until('the query editor', () => mirror('.graphiql-query-editor .CodeMirror'));
  const headers = await until('the headers editor', headersEditor);
  const headersShown = headers.getWrapperElement().offsetParent !== null;
  const initialHeaders = headers.getValue();
  // The schema fetch's answer in the result pane means GraphiQL is wired up;
  // a click before that can land before the run button has its editors.
  await until('the schema fetch result', () => {
    const cm = mirror('.graphiql-response .CodeMirror');
    return cm && cm.getValue().includes('no introspection in this fake');
  });
  query.setValue('query GraphiqlBrowserProbe { __typename }');
  document.querySelector('.graphiql-execute-button').click();
  const response = await until('the probe response', () => {
    const cm = mirror('.graphiql-response .CodeMirror');
    const text = cm && cm.getValue();
    return text && text.includes('"__typename": "Query"') ? text : null;
  });
  return {
    rendered: !!document.querySelector('.graphiql-container'),
    headersShown, initialHeaders, response,
  };
})()"#;

/// Puts a token into the headers editor and runs a second probe.
const SECOND_RUN: &str = r#"(async () => {
  HELPERS
  headersEditor().setValue('{"Authorization": "Bearer header.payload.signature"}');
  mirror('.graphiql-query-editor .CodeMirror').setValue('query GraphiqlBrowserProbeTwo { __typename }');
  document.querySelector('.graphiql-execute-button').click();
  return true;
})()"#;

#[tokio::test]
async fn headless_chromium_renders_graphiql_and_runs_a_query() {
    let Some(browser) = chromium() else {
        eprintln!(
            "SKIPPED headless_chromium_renders_graphiql_and_runs_a_query: no Chromium, and \
             scripts/install-chromium.sh could not install one (set CHROMIUM=/path/to/chromium)"
        );
        return;
    };
    let (addr, received) = spawn_app().await;
    let outcome = tokio::time::timeout(Duration::from_secs(90), async {
        let mut page = BrowserPage::open(&browser, &format!("http://{addr}/graphql")).await;
        let cdp = &mut page.cdp;

        let first = cdp.eval(&FIRST_RUN.replace("HELPERS", PAGE_HELPERS)).await;
        cdp.eval(&SECOND_RUN.replace("HELPERS", PAGE_HELPERS)).await;
        let second = loop {
            let hit = received
                .lock()
                .unwrap()
                .iter()
                .find(|r| r.query.contains("GraphiqlBrowserProbeTwo"))
                .cloned();
            if let Some(hit) = hit {
                break hit;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // Collect whatever the page logged while we waited.
        cdp.call("Runtime.evaluate", json!({"expression": "1"}))
            .await;
        (first, second, std::mem::take(&mut page.cdp.events))
    })
    .await;
    let (first, second, events) = outcome.expect("the browser test took over 90 s");

    assert_eq!(first["rendered"], true, "{first:#}");
    assert_eq!(
        first["headersShown"], true,
        "headers editor not open: {first:#}"
    );
    let initial = first["initialHeaders"].as_str().unwrap();
    assert!(initial.contains("Bearer <paste a token"), "{initial}");
    assert!(
        first["response"].as_str().unwrap().contains("Query"),
        "{first:#}"
    );

    let log = received.lock().unwrap().clone();
    let probe = log
        .iter()
        .find(|r| r.query.contains("GraphiqlBrowserProbe {"))
        .unwrap_or_else(|| panic!("the fake endpoint never saw the probe: {log:#?}"));
    assert_eq!(probe.authorization, None, "the placeholder token was sent");
    assert_eq!(
        second.authorization.as_deref(),
        Some("Bearer header.payload.signature"),
        "the token typed into the headers editor was not sent"
    );

    // Everything the page requested came from the gateway itself.
    let origin = format!("http://{addr}/");
    let urls: Vec<&str> = events
        .iter()
        .filter(|e| e["method"] == "Network.requestWillBeSent")
        .filter_map(|e| e["params"]["request"]["url"].as_str())
        .collect();
    assert!(
        urls.iter().any(|u| u.ends_with("graphiql-3.9.0.min.js")),
        "{urls:#?}"
    );
    for url in &urls {
        assert!(
            url.starts_with(&origin) || url.starts_with("data:"),
            "the page requested {url}"
        );
    }
    // No exceptions, no refused or failed loads (CSP reports land in "security").
    let problems: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["method"] == "Runtime.exceptionThrown"
                || e["method"] == "Network.loadingFailed"
                || (e["method"] == "Log.entryAdded"
                    && ["security", "network"]
                        .contains(&e["params"]["entry"]["source"].as_str().unwrap_or("")))
        })
        .collect();
    assert!(
        problems.is_empty(),
        "the page reported problems: {problems:#?}"
    );
}

/// Runs a query typed into GraphiQL against the real gateway; retries the
/// click until the schema has loaded and the button answers.
const REAL_RUN: &str = r#"(async () => {
  HELPERS
  const query = await until('the query editor', () => mirror('.graphiql-query-editor .CodeMirror'));
  query.setValue('query RealGatewayProbe { viewer { role } }');
  for (let attempt = 0; attempt < 20; attempt++) {
    document.querySelector('.graphiql-execute-button').click();
    for (let i = 0; i < 20; i++) {
      const cm = mirror('.graphiql-response .CodeMirror');
      const text = cm && cm.getValue();
      if (text && text.includes('"role": "ANON"')) return text;
      await sleep(50);
    }
  }
  throw new Error('no answer from the gateway; page text: ' + document.body.innerText.slice(0, 400));
})()"#;

#[tokio::test]
async fn headless_chromium_runs_a_query_against_the_real_gateway() {
    let Some(browser) = chromium() else {
        eprintln!("SKIPPED headless_chromium_runs_a_query_against_the_real_gateway: no Chromium");
        return;
    };
    let app = common::app::spawn_app().await;
    let url = format!("{}/graphql", app.base_url);
    let response = tokio::time::timeout(Duration::from_secs(90), async {
        let mut page = BrowserPage::open(&browser, &url).await;
        page.cdp
            .eval(&REAL_RUN.replace("HELPERS", PAGE_HELPERS))
            .await
    })
    .await
    .expect("the browser test took over 90 s");
    let text = response.as_str().unwrap_or_default();
    assert!(text.contains("\"role\": \"ANON\""), "{response:#}");
    // The answer came through the gateway's request pipeline (which counts
    // every operation it runs), not from anywhere else.
    let (_, metrics) = app.get("/metrics").await;
    let ran = metrics
        .lines()
        .find(|l| {
            l.starts_with(r#"gateway_graphql_requests_total{operation_type="query",outcome="ok"}"#)
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_default();
    assert!(ran > 0.0, "the gateway ran no request:\n{metrics}");
}
