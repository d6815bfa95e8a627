//! Fuzz target: generated GraphQL documents, variables and raw bodies sent
//! through the whole HTTP path of the real gateway (`spawn_app`: router,
//! auth, limits, one transaction per request on a real PostgreSQL), for a
//! bounded number of cases or time.
//!
//! Asserts, for every case: the process does not panic or abort, the
//! gateway answers, no 5xx status except 503, and every error of every
//! GraphQL response (batches included) has an `extensions.code`, none of
//! them `INTERNAL`; `/healthz` keeps answering. Findings are kept per kind
//! with the smallest request that showed each, shrunk further by deleting
//! parts of it while the finding still shows, and printed at the end.
//!
//! Knobs (environment): `FUZZ_CASES` (default 3000), `FUZZ_SECS` (time
//! budget of the generated cases, default 40), `FUZZ_SEED` (the second
//! half's seed; random by default, printed), `FUZZ_CONCURRENCY` (requests
//! in flight, default 4), `FUZZ_MAX_WHERE_DEPTH` (default 200),
//! `FUZZ_MAX_NEST` (other nesting, default 1000), `FUZZ_SHRINK_STEPS`
//! (requests spent shrinking each finding, default 300; 0 turns it off),
//! `FUZZ_SHRINK_SECS` (all shrinking, default 15), `FUZZ_VERBOSE` (print
//! failed fixtures), `FUZZ_REPLAY` (a file of cases, one JSON object a line
//! as in `fuzz-inflight.jsonl`: send those instead and print the answers).
//! Run: `cargo test --test fuzz -- --nocapture`. docs/testing.md has more.

#[path = "../common/mod.rs"]
mod common;
mod gen;
mod schema;

use common::app::{spawn_app_with, TestApp};
use futures_util::stream::{FuturesUnordered, StreamExt};
use gen::{excerpt, Auth, Case, Gen, Knobs};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The first half of the cases comes from this seed, every run the same.
const FIXED_SEED: u64 = 0x5eed_f022_0014_0001;
/// Bodies larger than this are over the gateway's default body limit.
const OVER_LIMIT_BYTES: usize = 1_048_576;
/// How long one request may take before it counts as a hang.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

// ----- settings -----

struct Settings {
    cases: usize,
    secs: u64,
    seed: u64,
    concurrency: usize,
    shrink_steps: usize,
    shrink_secs: u64,
    knobs: Knobs,
    replay: Option<PathBuf>,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

impl Settings {
    fn from_env() -> Settings {
        let random_seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Settings {
            cases: env_or("FUZZ_CASES", 3000),
            secs: env_or("FUZZ_SECS", 40),
            seed: std::env::var("FUZZ_SEED")
                .ok()
                .and_then(|v| {
                    let v = v.trim();
                    match v.strip_prefix("0x") {
                        Some(hex) => u64::from_str_radix(hex, 16).ok(),
                        None => v.parse().ok(),
                    }
                })
                .unwrap_or(random_seed),
            concurrency: env_or("FUZZ_CONCURRENCY", 4usize).max(1),
            shrink_steps: env_or("FUZZ_SHRINK_STEPS", 300),
            shrink_secs: env_or("FUZZ_SHRINK_SECS", 15),
            knobs: Knobs {
                max_where_depth: env_or("FUZZ_MAX_WHERE_DEPTH", 200usize).max(1),
                max_nest: env_or("FUZZ_MAX_NEST", 1000usize).max(1),
            },
            replay: std::env::var_os("FUZZ_REPLAY").map(PathBuf::from),
        }
    }
}

fn runner(seed: u64) -> TestRunner {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(
            &(seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)).to_le_bytes(),
        );
    }
    TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    )
}

// ----- what the process does besides answering -----

/// Panics anywhere in the process while the run is armed.
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static ARMED: AtomicBool = AtomicBool::new(false);
/// ERROR and WARN events the gateway logged: level -> message -> count.
static LOGGED: Mutex<BTreeMap<String, BTreeMap<String, usize>>> = Mutex::new(BTreeMap::new());
/// The error messages of the latest ERROR events (what an `INTERNAL` hid),
/// for telling findings' causes apart.
static RECENT_ERRORS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if ARMED.load(Ordering::SeqCst) {
            let thread = std::thread::current().name().unwrap_or("?").to_string();
            PANICS.lock().unwrap().push(format!("[{thread}] {info}"));
        }
        previous(info);
    }));
}

/// Counts the gateway's ERROR and WARN events (not printed: the summary
/// lists them).
struct LogCounter;

#[derive(Default)]
struct MessageVisitor {
    text: String,
    error: Option<String>,
}

impl tracing::field::Visit for MessageVisitor {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        let _ = write!(self.text, "{}={:?} ", field.name(), value);
        if matches!(field.name(), "error.message" | "error") {
            self.error = Some(format!("{value:?}"));
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for LogCounter {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let level = *event.metadata().level();
        if level > tracing::Level::WARN {
            return;
        }
        let mut visitor = MessageVisitor::default();
        event.record(&mut visitor);
        if level == tracing::Level::ERROR {
            let mut recent = RECENT_ERRORS.lock().unwrap();
            if recent.len() < 1000 {
                recent.push(
                    visitor
                        .error
                        .clone()
                        .unwrap_or_else(|| visitor.text.clone()),
                );
            }
        }
        let message = format!(
            "{}: {}",
            event.metadata().target(),
            excerpt(visitor.text.trim(), 200)
        );
        *LOGGED
            .lock()
            .unwrap()
            .entry(level.to_string())
            .or_default()
            .entry(message)
            .or_default() += 1;
    }
}

fn install_log_counter() {
    use tracing_subscriber::layer::SubscriberExt;
    let subscriber = tracing_subscriber::registry().with(LogCounter);
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// What the SIGABRT handler writes: a note, then the file of the requests
/// in flight (a stack overflow aborts the whole process, harness included).
static ABORT_NOTE: OnceLock<(Vec<u8>, std::ffi::CString)> = OnceLock::new();

extern "C" fn on_abort(_signal: libc::c_int) {
    // Only async-signal-safe calls: write(2), open(2), read(2).
    if let Some((note, path)) = ABORT_NOTE.get() {
        unsafe {
            libc::write(2, note.as_ptr().cast(), note.len());
            let fd = libc::open(path.as_ptr(), libc::O_RDONLY);
            if fd >= 0 {
                let mut buf = [0u8; 4096];
                let mut left = 64 * 1024;
                while left > 0 {
                    let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
                    if n <= 0 {
                        break;
                    }
                    libc::write(2, buf.as_ptr().cast(), n as usize);
                    left -= n.min(left);
                }
                libc::close(fd);
            }
        }
    }
    // SA_RESETHAND: returning lets abort() go on and end the process.
}

fn install_abort_note(inflight: &std::path::Path, excerpts: &std::path::Path) {
    let note = format!(
        "\n\nfuzz: the process aborted (a stack overflow?) while these requests were in flight \
         (in full in {}; replay with FUZZ_REPLAY=<that file>):\n",
        inflight.display()
    );
    let path = std::ffi::CString::new(excerpts.as_os_str().as_encoded_bytes()).expect("a path");
    let _ = ABORT_NOTE.set((note.into_bytes(), path));
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_abort as *const () as usize;
        action.sa_flags = libc::SA_ONSTACK | libc::SA_RESETHAND;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGABRT, &action, std::ptr::null_mut());
    }
}

// ----- cases as text (in-flight file, findings, replay) -----

fn auth_label(auth: &Auth) -> String {
    match auth {
        Auth::None => "none".into(),
        Auth::User => "user".into(),
        Auth::Service => "service".into(),
        Auth::Raw(v) => format!("raw:{v}"),
        Auth::Bytes(_) => "bytes".into(),
        Auth::WrongSecret => "wrong-secret".into(),
        Auth::Duplicate(valid_first) => {
            if *valid_first {
                "duplicate:valid-first".into()
            } else {
                "duplicate:garbage-first".into()
            }
        }
    }
}

fn parse_auth(label: &str) -> Auth {
    match label {
        "none" => Auth::None,
        "user" => Auth::User,
        "service" => Auth::Service,
        "bytes" => Auth::Bytes(vec![b'B', 0xff, 0xfe]),
        "wrong-secret" => Auth::WrongSecret,
        "duplicate:valid-first" => Auth::Duplicate(true),
        "duplicate:garbage-first" => Auth::Duplicate(false),
        other => Auth::Raw(other.strip_prefix("raw:").unwrap_or(other).to_string()),
    }
}

/// One JSON line describing `case` (the body in full).
fn case_line(case: &Case) -> String {
    let mut line = json!({
        "kind": case.kind,
        "method": case.method,
        "auth": auth_label(&case.auth),
        "content_type": case.content_type,
    });
    match std::str::from_utf8(&case.body) {
        Ok(text) => line["body"] = json!(text),
        Err(_) => {
            let hex: String = case.body.iter().map(|b| format!("{b:02x}")).collect();
            line["body_hex"] = json!(hex);
        }
    }
    line.to_string()
}

fn parse_case_line(line: &str) -> Option<Case> {
    let v: Value = serde_json::from_str(line).ok()?;
    let body = if let Some(text) = v["body"].as_str() {
        text.as_bytes().to_vec()
    } else {
        let hex = v["body_hex"].as_str()?;
        (0..hex.len() / 2)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0))
            .collect()
    };
    let method = match v["method"].as_str().unwrap_or("POST") {
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        "GET" => "GET",
        _ => "POST",
    };
    Some(Case {
        kind: v["kind"].as_str().unwrap_or("replay").to_string(),
        method,
        auth: parse_auth(v["auth"].as_str().unwrap_or("none")),
        content_type: v["content_type"].as_str().map(str::to_string),
        body,
    })
}

/// The requests in flight, mirrored to files before each is sent: in full
/// (`path`, for `FUZZ_REPLAY`) and cut short (`excerpt_path`, what the
/// abort handler prints).
struct InFlight {
    path: PathBuf,
    excerpt_path: PathBuf,
    cases: BTreeMap<usize, (String, String)>,
}

impl InFlight {
    fn write(&self) {
        let (mut full, mut short) = (String::new(), String::new());
        for (line, excerpt) in self.cases.values() {
            full.push_str(line);
            full.push('\n');
            short.push_str(excerpt);
            short.push('\n');
        }
        let _ = std::fs::write(&self.path, full);
        let _ = std::fs::write(&self.excerpt_path, short);
    }

    fn start(&mut self, id: usize, case: &Case) {
        let short = format!(
            "- {} {} auth={} content-type={:?}: {}",
            case.method,
            case.kind,
            auth_label(&case.auth),
            case.content_type,
            case.body_excerpt(2000)
        );
        self.cases.insert(id, (case_line(case), short));
        self.write();
    }

    fn end(&mut self, id: usize) {
        self.cases.remove(&id);
        self.write();
    }
}

// ----- sending -----

/// What came back.
#[derive(Debug)]
struct Outcome {
    status: Option<u16>,
    body: Vec<u8>,
    /// Transport error (no answer), or timeout.
    error: Option<String>,
}

struct Client<'a> {
    app: &'a TestApp,
    user: uuid::Uuid,
    http: reqwest::Client,
    wrong_secret: gateway::auth::Authenticator,
}

impl Client<'_> {
    fn header_values(&self, auth: &Auth) -> Vec<reqwest::header::HeaderValue> {
        use reqwest::header::HeaderValue;
        let bearer = |t: String| HeaderValue::from_str(&format!("Bearer {t}")).expect("a header");
        match auth {
            Auth::None => vec![],
            Auth::User => vec![bearer(self.app.token(self.user))],
            Auth::Service => vec![bearer(self.app.service_token())],
            Auth::WrongSecret => {
                let token = self
                    .wrong_secret
                    .mint(
                        Some(self.user),
                        gateway::auth::Role::Authenticated,
                        Duration::from_secs(600),
                        None,
                    )
                    .expect("mint");
                vec![bearer(token)]
            }
            Auth::Raw(value) => HeaderValue::from_str(value)
                .map(|v| vec![v])
                .unwrap_or_default(),
            Auth::Bytes(bytes) => HeaderValue::from_bytes(bytes)
                .map(|v| vec![v])
                .unwrap_or_default(),
            Auth::Duplicate(valid_first) => {
                let valid = bearer(self.app.token(self.user));
                let garbage = HeaderValue::from_static("Bearer forged.token.value");
                if *valid_first {
                    vec![valid, garbage]
                } else {
                    vec![garbage, valid]
                }
            }
        }
    }

    async fn send_with(&self, http: &reqwest::Client, case: &Case) -> Outcome {
        let method = reqwest::Method::from_bytes(case.method.as_bytes()).expect("a method");
        let mut request = http
            .request(method, format!("{}/graphql", self.app.base_url))
            .timeout(REQUEST_TIMEOUT)
            .body(case.body.clone());
        if let Some(ct) = &case.content_type {
            match reqwest::header::HeaderValue::from_str(ct) {
                Ok(v) => request = request.header(reqwest::header::CONTENT_TYPE, v),
                Err(_) => {
                    request = request.header(
                        reqwest::header::CONTENT_TYPE,
                        reqwest::header::HeaderValue::from_bytes(ct.as_bytes())
                            .unwrap_or(reqwest::header::HeaderValue::from_static("x/x")),
                    )
                }
            }
        }
        for value in self.header_values(&case.auth) {
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.bytes().await {
                    Ok(body) => Outcome {
                        status: Some(status),
                        body: body.to_vec(),
                        error: None,
                    },
                    Err(e) => Outcome {
                        status: Some(status),
                        body: Vec::new(),
                        error: Some(format!("reading the body: {e}")),
                    },
                }
            }
            Err(e) => Outcome {
                status: None,
                body: Vec::new(),
                error: Some(if e.is_timeout() {
                    format!("no answer within {REQUEST_TIMEOUT:?}")
                } else {
                    format!("{e:?}")
                }),
            },
        }
    }

    /// Sends `case`; a transport error is retried once on a fresh
    /// connection (a pooled connection the server had just closed is not a
    /// finding).
    async fn send(&self, case: &Case) -> Outcome {
        let outcome = self.send_with(&self.http, case).await;
        if outcome.error.is_none()
            || outcome
                .error
                .as_deref()
                .is_some_and(|e| e.starts_with("no answer"))
        {
            return outcome;
        }
        let fresh = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("a client");
        self.send_with(&fresh, case).await
    }
}

// ----- checking -----

/// One failed assertion of one case.
struct Failure {
    /// What kind of failure, for grouping.
    key: String,
    detail: String,
}

/// The response's errors (every response of a batch).
fn graphql_errors(body: &Value) -> Option<Vec<&Value>> {
    let responses: Vec<&Value> = match body {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![body],
        _ => return None,
    };
    if !responses
        .iter()
        .all(|r| r.get("data").is_some() || r.get("errors").is_some())
    {
        return None;
    }
    Some(
        responses
            .iter()
            .filter_map(|r| r.get("errors").and_then(Value::as_array))
            .flatten()
            .collect(),
    )
}

/// The generator family of a kind, e.g. `schema/mutation` of
/// `schema/mutation createLiftSession`.
fn family(kind: &str) -> &str {
    kind.split(' ').next().unwrap_or(kind)
}

#[derive(Default)]
struct Stats {
    statuses: BTreeMap<u16, usize>,
    codes: BTreeMap<String, usize>,
    /// Answers that are not a GraphQL response: (status, start of body).
    non_graphql: BTreeMap<(u16, String), usize>,
    families: BTreeMap<String, usize>,
    slowest: Vec<(Duration, String)>,
    /// Bytes of the largest body sent.
    largest: usize,
}

/// Checks one outcome; `stats` gets the codes and statuses seen.
fn check(case: &Case, outcome: &Outcome, stats: Option<&mut Stats>) -> Vec<Failure> {
    let mut failures = Vec::new();
    let mut codes_seen = Vec::new();
    let mut non_graphql = None;
    if let Some(error) = &outcome.error {
        if case.body.len() > OVER_LIMIT_BYTES && !error.starts_with("no answer") {
            // The server may answer 413 and close before the client has
            // sent it all; a crash would show in the panic hook, /healthz
            // or the next cases.
            non_graphql = Some((0, "connection closed on an over-limit body".to_string()));
        } else {
            failures.push(Failure {
                key: if error.starts_with("no answer") {
                    format!(
                        "no answer within {REQUEST_TIMEOUT:?}: {}",
                        family(&case.kind)
                    )
                } else {
                    "no response (connection dropped: a panic or abort in the gateway?)".to_string()
                },
                detail: error.clone(),
            });
        }
    }
    if let Some(status) = outcome.status {
        if status >= 500 && status != 503 {
            failures.push(Failure {
                key: format!("HTTP {status}: {}", family(&case.kind)),
                detail: excerpt(&String::from_utf8_lossy(&outcome.body), 600),
            });
        }
        match serde_json::from_slice::<Value>(&outcome.body)
            .ok()
            .as_ref()
            .and_then(|b| {
                graphql_errors(b).map(|e| (b.clone(), e.into_iter().cloned().collect::<Vec<_>>()))
            }) {
            Some((_, errors)) => {
                for error in errors {
                    let message = error["message"].as_str().unwrap_or("").to_string();
                    match error["extensions"]["code"].as_str() {
                        Some(code) if !code.is_empty() => {
                            codes_seen.push(code.to_string());
                            if code == "INTERNAL" {
                                let at = error["path"]
                                    .get(0)
                                    .map(|p| {
                                        p.as_str().map(str::to_string).unwrap_or(p.to_string())
                                    })
                                    .unwrap_or_else(|| "request".to_string());
                                failures.push(Failure {
                                    key: format!("INTERNAL at {at}: {}", family(&case.kind)),
                                    detail: error.to_string(),
                                });
                            }
                        }
                        _ => failures.push(Failure {
                            key: format!(
                                "error without extensions.code: {}",
                                excerpt(
                                    &message
                                        .chars()
                                        .map(|c| if c.is_ascii_digit() { '#' } else { c })
                                        .collect::<String>(),
                                    60
                                )
                            ),
                            detail: error.to_string(),
                        }),
                    }
                }
            }
            None => {
                let text = String::from_utf8_lossy(&outcome.body);
                non_graphql = Some((status, excerpt(text.trim(), 50)));
            }
        }
    }
    if let Some(stats) = stats {
        if let Some(status) = outcome.status {
            *stats.statuses.entry(status).or_default() += 1;
        }
        for code in codes_seen {
            *stats.codes.entry(code).or_default() += 1;
        }
        if let Some(key) = non_graphql {
            *stats.non_graphql.entry(key).or_default() += 1;
        }
        *stats
            .families
            .entry(family(&case.kind).to_string())
            .or_default() += 1;
    }
    failures
}

/// A failure kind with the smallest case that showed it.
struct Finding {
    count: usize,
    case: Case,
    status: Option<u16>,
    response: String,
    detail: String,
    shrunk: bool,
    /// A few cases that showed it (for telling causes apart afterwards).
    samples: Vec<Case>,
    /// The failure keys this finding was seen as, with their counts.
    seen_as: BTreeMap<String, usize>,
}

/// Cases kept per failure key for finding out their causes.
const SAMPLES_PER_KEY: usize = 8;

/// An ERROR log message with the request's own names and numbers taken
/// out (`Variable v3 is not defined` -> `Variable $x is not defined`).
fn normalize_cause(message: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for word in message.split_whitespace() {
        let word = if out
            .last()
            .is_some_and(|w| w == "Variable" || w == "variable")
        {
            "$x".to_string()
        } else {
            word.chars()
                .map(|c| if c.is_ascii_digit() { '#' } else { c })
                .collect()
        };
        out.push(word);
    }
    excerpt(&out.join(" "), 200)
}

fn record(
    findings: &mut BTreeMap<String, Finding>,
    case: &Case,
    outcome: &Outcome,
    failures: Vec<Failure>,
) {
    for failure in failures {
        let response = excerpt(&String::from_utf8_lossy(&outcome.body), 1500);
        let entry = findings
            .entry(failure.key.clone())
            .or_insert_with(|| Finding {
                count: 0,
                case: case.clone(),
                status: outcome.status,
                response: response.clone(),
                detail: failure.detail.clone(),
                shrunk: false,
                samples: Vec::new(),
                seen_as: BTreeMap::new(),
            });
        entry.count += 1;
        *entry.seen_as.entry(failure.key).or_default() += 1;
        if entry.samples.len() < SAMPLES_PER_KEY {
            entry.samples.push(case.clone());
        }
        if case.body.len() < entry.case.body.len() {
            entry.case = case.clone();
            entry.status = outcome.status;
            entry.response = response;
            entry.detail = failure.detail;
        }
    }
}

/// Sends `case` alone and returns what came back, the failures, and what
/// the gateway logged at ERROR meanwhile (normalized: the cause of an
/// `INTERNAL`).
async fn probe(client: &Client<'_>, case: &Case) -> (Outcome, Vec<Failure>, Option<String>) {
    RECENT_ERRORS.lock().unwrap().clear();
    let outcome = client.send(case).await;
    let logged = std::mem::take(&mut *RECENT_ERRORS.lock().unwrap());
    let failures = check(case, &outcome, None);
    let cause = logged.first().map(|m| normalize_cause(m));
    (outcome, failures, cause)
}

/// Whether a probe shows the finding titled `title`: `INTERNAL: <cause>`
/// titles need an INTERNAL with that cause, others the failure key itself.
fn shows(title: &str, failures: &[Failure], cause: &Option<String>) -> bool {
    match title.strip_prefix("INTERNAL: ") {
        Some(wanted) => {
            failures.iter().any(|f| f.key.starts_with("INTERNAL"))
                && cause.as_deref() == Some(wanted)
        }
        None => failures.iter().any(|f| f.key == title),
    }
}

/// Regroups the run's findings by cause: each INTERNAL key's sample cases
/// are sent again one at a time and grouped by what the gateway logged, so
/// one bug seen at many root fields is one finding, and two bugs behind
/// one root field are two.
async fn by_cause(
    client: &Client<'_>,
    findings: BTreeMap<String, Finding>,
) -> BTreeMap<String, Finding> {
    let mut out: BTreeMap<String, Finding> = BTreeMap::new();
    for (key, finding) in findings {
        if !key.starts_with("INTERNAL") {
            out.insert(key, finding);
            continue;
        }
        let mut placed = false;
        for sample in &finding.samples {
            let (outcome, failures, cause) = probe(client, sample).await;
            if !failures.iter().any(|f| f.key.starts_with("INTERNAL")) {
                continue;
            }
            placed = true;
            let title = format!(
                "INTERNAL: {}",
                cause.unwrap_or_else(|| "(nothing logged at ERROR)".into())
            );
            let response = excerpt(&String::from_utf8_lossy(&outcome.body), 1500);
            let detail = failures
                .iter()
                .find(|f| f.key.starts_with("INTERNAL"))
                .map(|f| f.detail.clone())
                .unwrap_or_default();
            let entry = out.entry(title).or_insert_with(|| Finding {
                count: 0,
                case: sample.clone(),
                status: outcome.status,
                response: response.clone(),
                detail: detail.clone(),
                shrunk: false,
                samples: Vec::new(),
                seen_as: BTreeMap::new(),
            });
            if !entry.seen_as.contains_key(&key) {
                entry.count += finding.count;
                entry.seen_as.insert(key.clone(), finding.count);
            }
            if sample.body.len() < entry.case.body.len() {
                entry.case = sample.clone();
                entry.status = outcome.status;
                entry.response = response;
                entry.detail = detail;
            }
        }
        if !placed {
            // Not shown again when sent alone: kept as it was seen.
            out.insert(format!("{key} (not reproduced alone)"), finding);
        }
    }
    out
}

// ----- shrinking -----

/// Splits a GraphQL document into tokens (names, numbers, strings,
/// punctuation), each with the whitespace before it.
fn tokens(query: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = query.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let start = i;
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= chars.len() {
            out.push(chars[start..].iter().collect());
            break;
        }
        let c = chars[i];
        if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i = (i + 1).min(chars.len());
        } else if c.is_alphanumeric() || c == '_' || c == '-' || c == '.' || c == '$' {
            while i < chars.len()
                && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '-' | '.' | '$' | '+'))
            {
                i += 1;
            }
        } else {
            i += 1;
        }
        out.push(chars[start..i].iter().collect());
    }
    out
}

/// The pieces a case is shrunk over, and how to put a case back together.
enum Pieces {
    /// A `{"query": ...}` body: the document's tokens, the rest of the body.
    Query(Value),
    /// A batch: its items.
    Batch,
    /// Anything else: byte chunks.
    Bytes,
}

fn pieces(case: &Case) -> (Pieces, Vec<String>) {
    if let Ok(value) = serde_json::from_slice::<Value>(&case.body) {
        if let Some(query) = value.get("query").and_then(Value::as_str) {
            return (Pieces::Query(value.clone()), tokens(query));
        }
        if let Value::Array(items) = &value {
            return (Pieces::Batch, items.iter().map(Value::to_string).collect());
        }
    }
    let text = String::from_utf8_lossy(&case.body).into_owned();
    if String::from_utf8(case.body.clone()).is_err() {
        return (Pieces::Bytes, vec![text]);
    }
    let chars: Vec<char> = text.chars().collect();
    (
        Pieces::Bytes,
        chars.chunks(8).map(|c| c.iter().collect()).collect(),
    )
}

fn rebuild(case: &Case, pieces: &Pieces, units: &[String]) -> Case {
    let body = match pieces {
        Pieces::Query(value) => {
            let mut value = value.clone();
            value["query"] = json!(units.concat());
            value.to_string().into_bytes()
        }
        Pieces::Batch => format!("[{}]", units.join(",")).into_bytes(),
        Pieces::Bytes => units.concat().into_bytes(),
    };
    Case {
        body,
        ..case.clone()
    }
}

/// Deletes parts of the finding's case (halves, quarters, ... single
/// tokens; then variables) while the same failure kind still shows, within
/// `steps` requests.
async fn shrink(
    client: &Client<'_>,
    title: &str,
    finding: &mut Finding,
    steps: usize,
    deadline: Instant,
) {
    if title.starts_with("no response")
        || title.starts_with("no answer")
        || title.starts_with("panic")
        || title.starts_with("/healthz")
        || title.ends_with("(not reproduced alone)")
    {
        return;
    }
    let mut budget = steps;
    shrink_variables(client, title, finding, &mut budget, deadline).await;
    shrink_pieces(client, title, finding, &mut budget, deadline).await;
    shrink_variables(client, title, finding, &mut budget, deadline).await;
}

/// Deletes halves, quarters, ... single pieces of the case (tokens of the
/// document, items of a batch, or chunks of the body).
async fn shrink_pieces(
    client: &Client<'_>,
    title: &str,
    finding: &mut Finding,
    budget: &mut usize,
    deadline: Instant,
) {
    let (kind, mut units) = pieces(&finding.case);
    let mut chunk = units.len().div_ceil(2).max(1);
    while chunk >= 1 && *budget > 0 && Instant::now() < deadline {
        let mut start = 0;
        let mut progress = false;
        while start < units.len() && *budget > 0 && Instant::now() < deadline {
            let end = (start + chunk).min(units.len());
            let mut trial = units.clone();
            trial.drain(start..end);
            let case = rebuild(&finding.case, &kind, &trial);
            *budget -= 1;
            let (outcome, failures, cause) = probe(client, &case).await;
            if shows(title, &failures, &cause) {
                units = trial;
                finding.case = case;
                finding.status = outcome.status;
                finding.response = excerpt(&String::from_utf8_lossy(&outcome.body), 1500);
                finding.shrunk = true;
                progress = true;
            } else if chunk <= 4 {
                // Small chunks at every offset: a name, its colon and its
                // value go together.
                start += 1;
            } else {
                start = end;
            }
        }
        if !progress {
            if chunk == 1 {
                break;
            }
            chunk /= 2;
        }
    }
}

/// Deletes the variables' object members and list items, outermost first,
/// while the finding still shows.
async fn shrink_variables(
    client: &Client<'_>,
    title: &str,
    finding: &mut Finding,
    budget: &mut usize,
    deadline: Instant,
) {
    if let Ok(mut value) = serde_json::from_slice::<Value>(&finding.case.body) {
        let mut index = 0;
        loop {
            let paths = json_paths(&value["variables"]);
            if index >= paths.len() || *budget == 0 || Instant::now() >= deadline {
                break;
            }
            let mut trial = value.clone();
            remove_path(&mut trial["variables"], &paths[index]);
            let case = Case {
                body: trial.to_string().into_bytes(),
                ..finding.case.clone()
            };
            *budget -= 1;
            let (outcome, failures, cause) = probe(client, &case).await;
            if shows(title, &failures, &cause) {
                value = trial;
                finding.case = case;
                finding.status = outcome.status;
                finding.response = excerpt(&String::from_utf8_lossy(&outcome.body), 1500);
                finding.shrunk = true;
            } else {
                index += 1;
            }
        }
    }
}

/// A step into a JSON value.
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

/// The path of every member and item under `value`, parents first.
fn json_paths(value: &Value) -> Vec<Vec<Step>> {
    let mut out = Vec::new();
    let mut queue: std::collections::VecDeque<(Vec<Step>, &Value)> = [(Vec::new(), value)].into();
    while let Some((path, v)) = queue.pop_front() {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    let mut p = path.clone();
                    p.push(Step::Key(k.clone()));
                    out.push(p.clone());
                    queue.push_back((p, child));
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    let mut p = path.clone();
                    p.push(Step::Index(i));
                    out.push(p.clone());
                    queue.push_back((p, child));
                }
            }
            _ => {}
        }
    }
    out
}

fn remove_path(value: &mut Value, path: &[Step]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut v = value;
    for step in parents {
        v = match (step, v) {
            (Step::Key(k), Value::Object(map)) => match map.get_mut(k) {
                Some(child) => child,
                None => return,
            },
            (Step::Index(i), Value::Array(items)) => match items.get_mut(*i) {
                Some(child) => child,
                None => return,
            },
            _ => return,
        };
    }
    match (last, v) {
        (Step::Key(k), Value::Object(map)) => {
            map.remove(k);
        }
        (Step::Index(i), Value::Array(items)) if *i < items.len() => {
            items.remove(*i);
        }
        _ => {}
    }
}

// ----- the run -----

/// Every string in `value` that is a UUID.
fn harvest_ids(value: &Value, out: &mut BTreeSet<String>) {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) if uuid::Uuid::parse_str(s).is_ok() && s.len() == 36 => {
                out.insert(s.clone());
            }
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
}

async fn healthy(app: &TestApp) -> Result<(), String> {
    let response = reqwest::Client::new()
        .get(format!("{}/healthz", app.base_url))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map_err(|e| format!("{e}"))?;
    if response.status().as_u16() == 200 {
        Ok(())
    } else {
        Err(format!("status {}", response.status()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_http() {
    let settings = Settings::from_env();
    let started = Instant::now();
    install_panic_hook();
    install_log_counter();
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let inflight_path = out_dir.join("fuzz-inflight.jsonl");
    let excerpt_path = out_dir.join("fuzz-inflight.txt");
    let findings_path = out_dir.join("fuzz-findings.txt");
    install_abort_note(&inflight_path, &excerpt_path);

    let model = schema::Model::load();
    // Rate limits off: the run sends far more than one viewer may.
    let app = spawn_app_with(gateway::graphql::limits::Limits {
        rate_limit_per_second: 0,
        ..Default::default()
    })
    .await;
    let user = app.db.create_user("fuzz-a@example.com").await;
    let other = app.db.create_user("fuzz-b@example.com").await;
    let client = Client {
        app: &app,
        user,
        http: reqwest::Client::new(),
        wrong_secret: gateway::auth::Authenticator::new(&gateway::auth::AuthConfig {
            jwt_secret: Some("not-the-secret-of-the-gateway-under-test".into()),
            ..common::app::test_auth_config()
        })
        .expect("authenticator"),
    };
    let mut stats = Stats::default();
    let mut findings: BTreeMap<String, Finding> = BTreeMap::new();
    let mut inflight = InFlight {
        path: inflight_path.clone(),
        excerpt_path,
        cases: BTreeMap::new(),
    };
    ARMED.store(true, Ordering::SeqCst);

    if let Some(path) = &settings.replay {
        let text = std::fs::read_to_string(path).expect("read FUZZ_REPLAY");
        for case in text.lines().filter_map(parse_case_line) {
            inflight.start(0, &case);
            let outcome = client.send(&case).await;
            inflight.end(0);
            let errors: Vec<String> = serde_json::from_slice::<Value>(&outcome.body)
                .ok()
                .as_ref()
                .and_then(graphql_errors)
                .unwrap_or_default()
                .iter()
                .map(|e| {
                    format!(
                        "{} {}",
                        e["extensions"]["code"],
                        excerpt(e["message"].as_str().unwrap_or(""), 160)
                    )
                })
                .collect();
            println!(
                "{} {} -> status {:?}{}\n  errors: {errors:?}\n  {}",
                case.kind,
                case.body_excerpt(300),
                outcome.status,
                outcome
                    .error
                    .as_deref()
                    .map(|e| format!(" error {e}"))
                    .unwrap_or_default(),
                excerpt(&String::from_utf8_lossy(&outcome.body), 1000)
            );
            for failure in check(&case, &outcome, None) {
                println!("  FAILS: {}: {}", failure.key, failure.detail);
            }
        }
        ARMED.store(false, Ordering::SeqCst);
        return;
    }

    // Fixtures, so ids in arguments can hit real rows: as the fixture user,
    // each create mutation (valid arguments, drawn from a fixed seed), then
    // every other mutation that adds or changes (with the ids from the
    // first round), then a few lists.
    let mut ids: BTreeSet<String> = [user.to_string(), other.to_string()].into();
    let verbose = std::env::var_os("FUZZ_VERBOSE").is_some();
    let mut fixtures_ok = 0usize;
    let mut fixtures_total = 0usize;
    let mut fixture_runner = runner(FIXED_SEED ^ 1);
    for round in 0..2 {
        let known: Vec<String> = ids.iter().cloned().collect();
        let mut gen = Gen::new(&mut fixture_runner, &model, &known, &settings.knobs);
        let mut cases = Vec::new();
        for field in model.fields(&model.mutation) {
            let name = field.name.as_str();
            let creates = name.starts_with("create") || name == "sendChatMessage";
            let destroys = [
                "delete",
                "clear",
                "cleanup",
                "remove",
                "unpublish",
                "unlike",
                "unfavorite",
            ]
            .iter()
            .any(|p| name.starts_with(p));
            if (round == 0 && creates) || (round == 1 && !creates && !destroys) {
                for _ in 0..if round == 0 { 4 } else { 2 } {
                    cases.push(Case {
                        kind: format!("fixture/mutation {name}"),
                        method: "POST",
                        auth: Auth::User,
                        content_type: Some("application/json".into()),
                        body: gen.valid_body("mutation", name),
                    });
                }
            }
        }
        if round == 1 {
            for name in [
                "liftSessions",
                "builderSessions",
                "chatSessions",
                "publicPrompts",
                "workspaces",
            ] {
                cases.push(Case {
                    kind: format!("fixture/query {name}"),
                    method: "POST",
                    auth: Auth::User,
                    content_type: Some("application/json".into()),
                    body: gen.valid_body("query", name),
                });
            }
        }
        fixtures_total += cases.len();
        for case in cases {
            inflight.start(0, &case);
            let outcome = client.send(&case).await;
            inflight.end(0);
            let failures = check(&case, &outcome, Some(&mut stats));
            record(&mut findings, &case, &outcome, failures);
            if let Ok(body) = serde_json::from_slice::<Value>(&outcome.body) {
                harvest_ids(&body["data"], &mut ids);
                if body.get("errors").is_none() {
                    fixtures_ok += 1;
                } else if verbose {
                    println!(
                        "fuzz: fixture {} failed: {}",
                        case.kind,
                        excerpt(&body.to_string(), 400)
                    );
                }
            }
        }
    }
    let ids: Vec<String> = ids.into_iter().collect();
    let setup = started.elapsed();
    println!(
        "fuzz: seeds {FIXED_SEED:#x} (first half) and {:#x} (FUZZ_SEED, second half); \
         fixtures {fixtures_ok} of {fixtures_total} without errors, {} ids; in-flight requests mirrored to {}",
        settings.seed,
        ids.len(),
        inflight_path.display()
    );

    // The run: the first half of the cases from the fixed seed, the rest
    // from the run's seed, `concurrency` requests in flight.
    let loop_started = Instant::now();
    let budget = Duration::from_secs(settings.secs);
    let mut sent = 0usize;
    let mut done = 0usize;
    let half = settings.cases / 2;
    let mut fixed_runner = runner(FIXED_SEED);
    let mut seeded_runner = runner(settings.seed);
    let mut fixed_gen = Gen::new(&mut fixed_runner, &model, &ids, &settings.knobs);
    let mut seeded_gen = Gen::new(&mut seeded_runner, &model, &ids, &settings.knobs);
    let mut pending = FuturesUnordered::new();
    let mut last_health = 0usize;
    loop {
        while pending.len() < settings.concurrency
            && sent < settings.cases
            && loop_started.elapsed() < budget
        {
            let case = if sent < half {
                fixed_gen.case()
            } else {
                seeded_gen.case()
            };
            let id = sent;
            sent += 1;
            inflight.start(id, &case);
            let client = &client;
            pending.push(async move {
                let t = Instant::now();
                let outcome = client.send(&case).await;
                (id, case, outcome, t.elapsed())
            });
        }
        let Some((id, case, outcome, took)) = pending.next().await else {
            break;
        };
        inflight.end(id);
        done += 1;
        let failures = check(&case, &outcome, Some(&mut stats));
        record(&mut findings, &case, &outcome, failures);
        stats
            .slowest
            .push((took, format!("{} ({} bytes)", case.kind, case.body.len())));
        stats.slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
        stats.slowest.truncate(5);
        stats.largest = stats.largest.max(case.body.len());
        let panics: Vec<String> = std::mem::take(&mut *PANICS.lock().unwrap());
        for panic in panics {
            let failure = Failure {
                key: format!(
                    "panic: {}",
                    excerpt(panic.lines().next().unwrap_or(""), 120)
                ),
                detail: panic,
            };
            record(&mut findings, &case, &outcome, vec![failure]);
        }
        if done - last_health >= 50 {
            last_health = done;
            if let Err(e) = healthy(&app).await {
                let failure = Failure {
                    key: "/healthz stopped answering".into(),
                    detail: e,
                };
                record(&mut findings, &case, &outcome, vec![failure]);
            }
        }
    }
    let run_time = loop_started.elapsed();
    if let Err(e) = healthy(&app).await {
        findings.insert(
            "/healthz stopped answering".into(),
            Finding {
                count: 1,
                case: Case {
                    kind: "after the run".into(),
                    method: "GET",
                    auth: Auth::None,
                    content_type: None,
                    body: Vec::new(),
                },
                status: None,
                response: String::new(),
                detail: e,
                shrunk: false,
                samples: Vec::new(),
                seen_as: BTreeMap::new(),
            },
        );
    }

    // Group the findings by cause (asking the gateway's log what each
    // INTERNAL hid, one request at a time now), then shrink each one's
    // smallest case.
    let kinds_seen = findings.len();
    let mut findings = by_cause(&client, findings).await;
    let shrink_deadline = Instant::now() + Duration::from_secs(settings.shrink_secs);
    if settings.shrink_steps > 0 {
        for (title, finding) in findings.iter_mut() {
            shrink(
                &client,
                title,
                finding,
                settings.shrink_steps,
                shrink_deadline,
            )
            .await;
        }
    }
    ARMED.store(false, Ordering::SeqCst);

    // Report.
    let mut report = String::new();
    {
        use std::fmt::Write;
        let _ = writeln!(
            report,
            "fuzz: {done} cases in {:.1} s ({:.1} cases/s; setup {:.1} s, {:.1} s in all); concurrency {}; \
             seeds {FIXED_SEED:#x} and {:#x}; where depth up to {}, nesting up to {}",
            run_time.as_secs_f64(),
            done as f64 / run_time.as_secs_f64().max(0.001),
            setup.as_secs_f64(),
            started.elapsed().as_secs_f64(),
            settings.concurrency,
            settings.seed,
            settings.knobs.max_where_depth,
            settings.knobs.max_nest,
        );
        let _ = writeln!(report, "  by generator: {:?}", stats.families);
        let _ = writeln!(report, "  HTTP statuses: {:?}", stats.statuses);
        let _ = writeln!(
            report,
            "  error codes seen ({}): {:?}",
            stats.codes.len(),
            stats.codes
        );
        let _ = writeln!(report, "  answers that are not GraphQL responses:");
        for ((status, start), n) in &stats.non_graphql {
            let _ = writeln!(report, "    {n:>4} x {status} {start:?}");
        }
        let _ = writeln!(
            report,
            "  slowest: {:?}; largest body {} bytes",
            stats.slowest, stats.largest
        );
        for (level, messages) in LOGGED.lock().unwrap().iter() {
            let total: usize = messages.values().sum();
            let _ = writeln!(report, "  gateway {level} log events: {total}");
            for (message, n) in messages.iter().take(12) {
                let _ = writeln!(report, "    {n:>4} x {message}");
            }
        }
        let _ = writeln!(
            report,
            "  findings: {} ({kinds_seen} failure kinds, grouped by cause)",
            findings.len()
        );
        for (title, f) in &findings {
            let seen: Vec<String> = f
                .seen_as
                .iter()
                .map(|(key, n)| format!("{key} ({n})"))
                .collect();
            let _ = writeln!(
                report,
                "\n  FINDING {title}\n    seen as: {}\n    request{}: {} {} auth={} content-type={:?}\n    body: {}\n    status: {:?}\n    response: {}\n    detail: {}",
                seen.join("; "),
                if f.shrunk { " (shrunk)" } else { "" },
                f.case.method,
                f.case.kind,
                auth_label(&f.case.auth),
                f.case.content_type,
                f.case.body_excerpt(1500),
                f.status,
                f.response,
                excerpt(&f.detail, 600),
            );
            let _ = writeln!(
                report,
                "    replay line: {}",
                excerpt(&case_line(&f.case), 3000)
            );
        }
    }
    println!("{report}");
    let _ = std::fs::write(&findings_path, &report);
    assert!(
        findings.is_empty(),
        "the fuzz run found {} failures (above; also in {})",
        findings.len(),
        findings_path.display()
    );
}
