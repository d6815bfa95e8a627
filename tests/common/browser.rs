//! A headless Chromium driven over the DevTools protocol, for the browser
//! tests (`tests/graphiql_page.rs`, `tests/cross_origin_page.rs`): finding
//! or installing Chromium, launching it on one page, and a small WebSocket
//! client speaking just enough of the protocol (no extra crates).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The Chromium to drive: `$CHROMIUM`, one on PATH, or one installed now.
pub fn chromium() -> Option<PathBuf> {
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
pub struct Cdp {
    stream: BufReader<TcpStream>,
    next_id: u64,
    /// Events received while waiting for replies, in order.
    pub events: Vec<Value>,
}

impl Cdp {
    pub async fn connect(ws_url: &str) -> Cdp {
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
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
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
    pub async fn wait_event(&mut self, method: &str) {
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
    pub async fn eval(&mut self, expression: &str) -> Value {
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
pub struct BrowserPage {
    pub cdp: Cdp,
    _browser: Browser,
    _profile: tempfile::TempDir,
}

impl BrowserPage {
    /// Starts Chromium, connects to its page target and loads `url`.
    pub async fn open(browser: &Path, url: &str) -> BrowserPage {
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
