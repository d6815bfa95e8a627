//! CORS as a browser enforces it: a page served from a second server (another
//! origin: another port of 127.0.0.1) runs a mutation and a query against
//! the real gateway with `fetch` and an `Authorization: Bearer` header (so
//! the browser sends a preflight first), and opens its websocket, in a
//! headless Chromium. With the page's origin allowed all three work; with
//! the gateway allowing another origin, Chromium refuses both fetches and
//! the gateway refuses the socket.
//!
//! The browser is driven over the DevTools protocol, with the same small
//! client and launch flags as `tests/graphiql_page.rs` (copied below). It
//! needs Chromium: it runs `scripts/install-chromium.sh` when none is found
//! (set `CHROMIUM` to use a particular binary) and skips, saying so, only
//! when that fails. Run: `cargo test --test cross_origin_page`.

#[path = "common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::response::Html;
use axum::routing::get;
use axum::Router;
use common::app::{spawn_app_config, AppConfig, TestApp};
use gateway::server::edge::EdgeConfig;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

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

// ---------------------------------------------------------------- browser --

/// The Chromium to drive: `$CHROMIUM`, one on PATH, or one installed now.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let on_path = |name: &str| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
    };
    let names = [
        "chromium",
        "chromium-browser",
        "google-chrome-stable",
        "google-chrome",
    ];
    if let Some(p) = names.iter().find_map(|n| on_path(n)) {
        return Some(p);
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/install-chromium.sh");
    let out = Command::new(&script)
        .stderr(Stdio::inherit())
        .output()
        .ok()?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !path.is_empty()).then(|| PathBuf::from(path))
}

/// Kills the browser when the test ends, however it ends.
struct Browser(Child);

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A DevTools-protocol connection: just enough of RFC 6455 for text frames.
struct Cdp {
    stream: BufReader<TcpStream>,
    next_id: u64,
    /// Events received while waiting for replies, in order.
    events: Vec<Value>,
}

impl Cdp {
    async fn connect(ws_url: &str) -> Cdp {
        let rest = ws_url.strip_prefix("ws://").expect("ws:// DevTools URL");
        let (host, path) = rest.split_once('/').unwrap();
        let mut stream = BufReader::new(TcpStream::connect(host).await.unwrap());
        let request = format!(
            "GET /{path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(stream.read_u8().await.unwrap());
        }
        let head = String::from_utf8_lossy(&head);
        assert!(
            head.starts_with("HTTP/1.1 101"),
            "no WebSocket upgrade: {head}"
        );
        Cdp {
            stream,
            next_id: 0,
            events: Vec::new(),
        }
    }

    async fn send_frame(&mut self, opcode: u8, payload: &[u8]) {
        let mut frame = vec![0x80 | opcode];
        // Clients must mask; the key need not be secret here.
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xffff => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.get_mut().write_all(&frame).await.unwrap();
    }

    async fn read_message(&mut self) -> Value {
        let mut message = Vec::new();
        loop {
            let b0 = self.stream.read_u8().await.unwrap();
            let b1 = self.stream.read_u8().await.unwrap();
            let len = match b1 & 0x7f {
                126 => u64::from(self.stream.read_u16().await.unwrap()),
                127 => self.stream.read_u64().await.unwrap(),
                n => u64::from(n),
            };
            let mut mask = [0u8; 4];
            if b1 & 0x80 != 0 {
                self.stream.read_exact(&mut mask).await.unwrap();
            }
            let mut payload = vec![0u8; len as usize];
            self.stream.read_exact(&mut payload).await.unwrap();
            if b1 & 0x80 != 0 {
                payload
                    .iter_mut()
                    .enumerate()
                    .for_each(|(i, b)| *b ^= mask[i % 4]);
            }
            match b0 & 0x0f {
                0x0 | 0x1 => message.extend_from_slice(&payload),
                0x8 => panic!("DevTools closed the connection"),
                0x9 => {
                    self.send_frame(0xa, &payload).await;
                    continue;
                }
                _ => continue,
            }
            if b0 & 0x80 != 0 {
                return serde_json::from_slice(&message).unwrap();
            }
        }
    }

    /// Sends a command and returns its result; events seen meanwhile are kept.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let text = json!({"id": id, "method": method, "params": params}).to_string();
        self.send_frame(0x1, text.as_bytes()).await;
        loop {
            let msg = self.read_message().await;
            if msg["id"] == id {
                assert!(msg.get("error").is_none(), "{method}: {msg}");
                return msg["result"].clone();
            }
            self.events.push(msg);
        }
    }

    /// Waits for the event `method`, keeping it and everything before it.
    async fn wait_event(&mut self, method: &str) {
        if self.events.iter().any(|e| e["method"] == method) {
            return;
        }
        loop {
            let msg = self.read_message().await;
            let done = msg["method"] == method;
            self.events.push(msg);
            if done {
                return;
            }
        }
    }

    /// Evaluates an async expression in the page and returns its value.
    async fn eval(&mut self, expression: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
            )
            .await;
        assert!(r.get("exceptionDetails").is_none(), "script failed: {r:#}");
        r["result"]["value"].clone()
    }
}

/// A headless Chromium showing one page, driven over the DevTools protocol.
struct BrowserPage {
    cdp: Cdp,
    _browser: Browser,
    _profile: tempfile::TempDir,
}

impl BrowserPage {
    /// Starts Chromium, connects to its page target and loads `url`.
    async fn open(browser: &std::path::Path, url: &str) -> BrowserPage {
        let profile = tempfile::tempdir().unwrap();
        let child = Browser(
            Command::new(browser)
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-component-update",
                    "--disable-sync",
                    "--remote-debugging-address=127.0.0.1",
                    "--remote-debugging-port=0",
                ])
                .arg(format!("--user-data-dir={}", profile.path().display()))
                .arg("about:blank")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", browser.display())),
        );
        // Chromium writes its DevTools port here once it listens.
        let port_file = profile.path().join("DevToolsActivePort");
        let port = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                if let Some(port) = text.lines().next().and_then(|l| l.parse::<u16>().ok()) {
                    break port;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let targets: Value = reqwest::get(format!("http://127.0.0.1:{port}/json/list"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let ws = targets
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "page")
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .expect("a page target")
            .to_owned();
        let mut cdp = Cdp::connect(&ws).await;
        for domain in [
            "Page.enable",
            "Network.enable",
            "Log.enable",
            "Runtime.enable",
        ] {
            cdp.call(domain, json!({})).await;
        }
        cdp.call("Page.navigate", json!({ "url": url })).await;
        cdp.wait_event("Page.loadEventFired").await;
        BrowserPage {
            cdp,
            _browser: child,
            _profile: profile,
        }
    }
}
