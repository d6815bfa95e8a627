//! Real GraphQL clients against the real gateway, driven from Node: the
//! scripts of `tests/clients/` (their packages pinned in
//! `tests/clients/package.json`) run against a gateway spawned here, and
//! each prints one `PASS`/`FAIL` line per check and exits non-zero when any
//! check failed.
//!
//! - `audit.mjs`: the GraphQL-over-HTTP audit (`graphql-http`'s
//!   `serverAudits`): every MUST and SHOULD audit must pass, MAY audits are
//!   reported;
//! - `urql.mjs`: `@urql/core` with its defaults (queries as GET), a query and
//!   a mutation;
//! - `apollo.mjs`: `@apollo/client` with `HttpLink` behind the persisted-query
//!   link: hash-only, `PERSISTED_QUERY_NOT_FOUND`, the document, then the
//!   hash alone; the code of a 401 read from the error;
//! - `graphql-ws.mjs`: `graphql-ws`'s client with `ws`, a `chatSessions`
//!   subscription's first event, and an anonymous subscription's error.
//!
//! Needs `node` (20+) on PATH and `tests/clients/node_modules`
//! (`scripts/install-node-deps.sh`, which `scripts/test.sh` runs). Without
//! `node` the tests skip, saying so; without the packages they fail.
//! Run: `cargo test --test clients -- --nocapture`.

#[path = "common/mod.rs"]
mod common;

use common::app::{spawn_app, TestApp};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The longest one script may run before it is killed.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(45);

/// What a script did.
struct NodeRun {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl NodeRun {
    /// The `FAIL` lines.
    fn failures(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|line| line.starts_with("FAIL"))
            .collect()
    }

    /// Asserts the script passed every check: exit status 0, no `FAIL` line,
    /// and at least `min_passes` `PASS` lines.
    #[track_caller]
    fn assert_passed(&self, script: &str, min_passes: usize) {
        let passes = self
            .stdout
            .lines()
            .filter(|line| line.starts_with("PASS"))
            .count();
        let failures = self.failures();
        assert!(
            self.status.success() && failures.is_empty() && passes >= min_passes,
            "{script}: exit {:?}, {passes} checks passed (at least {min_passes} expected), {} failed:\n{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status.code(),
            failures.len(),
            failures.join("\n"),
            self.stdout,
            self.stderr,
        );
    }
}

/// `tests/clients`.
fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// Whether `node` runs; when it does not, prints why the test is skipped.
fn node_available(test: &str) -> bool {
    match Command::new("node").arg("--version").output() {
        Ok(output) if output.status.success() => true,
        Ok(output) => {
            println!(
                "SKIPPED {test}: `node --version` failed ({:?}): {}",
                output.status.code(),
                String::from_utf8_lossy(&output.stderr)
            );
            false
        }
        Err(error) => {
            println!("SKIPPED {test}: `node` is not on PATH ({error}); install Node 20+ to run the client tests");
            false
        }
    }
}

/// Panics, with the command that fixes it, when a package the scripts
/// import is not installed.
fn assert_packages_installed() {
    let modules = clients_dir().join("node_modules");
    for package in [
        "graphql-http",
        "@urql/core",
        "@apollo/client",
        "graphql-ws",
        "ws",
        "graphql",
    ] {
        assert!(
            modules.join(package).join("package.json").is_file(),
            "{} is missing: run scripts/install-node-deps.sh (npm ci in tests/clients)",
            modules.join(package).display()
        );
    }
}

/// Runs `node tests/clients/<script> <args>` to its end (killed after
/// [`SCRIPT_TIMEOUT`]) and prints what it wrote.
async fn run_node(script: &str, args: Vec<String>) -> NodeRun {
    let script = script.to_string();
    tokio::task::spawn_blocking(move || {
        let dir = clients_dir();
        let start = Instant::now();
        let mut child = Command::new("node")
            .arg(dir.join(&script))
            .args(&args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start node {script}: {e}"));
        let drain = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut text = String::new();
                pipe.read_to_string(&mut text).ok();
                text
            })
        };
        let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
        let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for node") {
                break status;
            }
            if start.elapsed() > SCRIPT_TIMEOUT {
                child.kill().ok();
                let status = child.wait().expect("wait for the killed node");
                println!("{script}: killed after {SCRIPT_TIMEOUT:?}");
                break status;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let run = NodeRun {
            status,
            stdout: stdout.join().expect("stdout reader"),
            stderr: stderr.join().expect("stderr reader"),
            elapsed: start.elapsed(),
        };
        println!(
            "--- node {script} ({:.1} s, exit {:?}) ---\n{}",
            run.elapsed.as_secs_f64(),
            run.status.code(),
            run.stdout.trim_end()
        );
        if !run.stderr.trim().is_empty() {
            println!("--- stderr ---\n{}", run.stderr.trim_end());
        }
        run
    })
    .await
    .expect("the node runner panicked")
}

/// A gateway and a signed-in user's token, or `None` (skip) without node.
async fn setup(test: &str) -> Option<(TestApp, String)> {
    if !node_available(test) {
        return None;
    }
    assert_packages_installed();
    let app = spawn_app().await;
    let user = app.db.create_user("frontend@example.com").await;
    let token = app.token(user);
    Some((app, token))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_graphql_over_http_audit_passes_every_must_and_should() {
    let Some((app, _token)) = setup("the graphql-http audit").await else {
        return;
    };
    let run = run_node("audit.mjs", vec![app.base_url.clone()]).await;
    let summary = run
        .stdout
        .lines()
        .find(|line| line.starts_with("AUDIT passed:"))
        .map(str::to_string);
    run.assert_passed("audit.mjs", 20);
    assert!(summary.is_some(), "the audit printed no summary");
}

#[tokio::test(flavor = "multi_thread")]
async fn urql_with_its_defaults_runs_a_query_over_get_and_a_mutation() {
    let Some((app, token)) = setup("urql").await else {
        return;
    };
    let run = run_node("urql.mjs", vec![app.base_url.clone(), token]).await;
    run.assert_passed("urql.mjs", 7);
}

#[tokio::test(flavor = "multi_thread")]
async fn apollo_falls_back_from_hash_to_document_and_reads_the_401_code() {
    let Some((app, token)) = setup("Apollo Client").await else {
        return;
    };
    let run = run_node("apollo.mjs", vec![app.base_url.clone(), token]).await;
    run.assert_passed("apollo.mjs", 11);
}

#[tokio::test(flavor = "multi_thread")]
async fn graphql_ws_client_gets_the_first_event_and_a_clean_error() {
    let Some((app, token)) = setup("graphql-ws").await else {
        return;
    };
    let run = run_node("graphql-ws.mjs", vec![app.base_url.clone(), token]).await;
    run.assert_passed("graphql-ws.mjs", 3);
}
