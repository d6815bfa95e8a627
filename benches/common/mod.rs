//! Helpers shared by the benches that drive the real gateway process
//! (`api_load`, `live_load`): included with `#[path = "common/mod.rs"] mod common;`.
//! Each bench uses only some of them.

#![allow(dead_code)]

use sea_orm::sqlx::{self, PgConnection};
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// `name` parsed from the environment, or `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Microseconds as milliseconds with one decimal.
pub fn ms(us: u64) -> String {
    format!("{:.1} ms", us as f64 / 1000.0)
}

/// xorshift64*: no `rand` crate in this workspace, and uniformity is all we need.
pub struct Rng(u64);

impl Default for Rng {
    fn default() -> Self {
        Self::new()
    }
}

impl Rng {
    /// Seeded from a random UUID.
    pub fn new() -> Self {
        let seed = Uuid::new_v4().as_u128() as u64 | 1;
        Rng(seed)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
    }
}

/// Runs `sql` (one or more statements, no parameters); panics with the
/// statement on error.
pub async fn exec(conn: &mut PgConnection, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{e}\n--- in ---\n{sql}"));
}

// ---------------------------------------------------------------------------
// The gateway process
// ---------------------------------------------------------------------------

/// The gateway child process; killed on drop (also while unwinding from a
/// panic), and by the kernel if this process dies first (PDEATHSIG).
pub struct GatewayProcess {
    pub child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
}

impl GatewayProcess {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stop(mut self) {
        self.kill();
    }

    pub fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SIGTERM first (graceful shutdown), SIGKILL after 5 s.
            unsafe {
                libc::kill(self.child.id() as i32, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// Starts `gateway serve` (the release build `cargo bench` made of this
/// package's binary, or the one `BENCH_GATEWAY_BIN` names, to compare two
/// builds on one data set) with `DATABASE_URL`, `JWT_SECRET`, a free
/// `LISTEN_ADDR`, `RUST_LOG=warn` and `env` (must run on the main thread:
/// PDEATHSIG follows the spawning thread). The child inherits this
/// process's resource limits (see [`raise_nofile`]).
pub fn spawn_gateway(database_url: &str, secret: &str, env: &[(&str, String)]) -> GatewayProcess {
    let port = free_port();
    let binary = std::env::var("BENCH_GATEWAY_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_gateway").to_string());
    let mut command = Command::new(binary);
    command
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("JWT_SECRET", secret)
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        // Figures of throughput, not of the per-viewer limit.
        .env("RATE_LIMIT_PER_SECOND", "0")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let child = command.spawn().expect("spawn the gateway");
    GatewayProcess {
        child,
        base_url: format!("http://127.0.0.1:{port}"),
    }
}

/// Raises this process's open-file limit (inherited by children spawned
/// afterwards) to `want`, or as far as the hard limit allows when raising
/// the hard limit is not permitted; returns the soft limit now in force.
pub fn raise_nofile(want: u64) -> u64 {
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut current);
    }
    if current.rlim_cur >= want {
        return current.rlim_cur;
    }
    let raised = libc::rlimit {
        rlim_cur: want,
        rlim_max: want.max(current.rlim_max),
    };
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        return want;
    }
    let capped = libc::rlimit {
        rlim_cur: current.rlim_max,
        rlim_max: current.rlim_max,
    };
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &capped) } == 0 {
        current.rlim_max
    } else {
        current.rlim_cur
    }
}

pub async fn wait_ready(gw: &mut GatewayProcess, client: &reqwest::Client) -> Duration {
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = gw.child.try_wait() {
            panic!("the gateway exited before it was ready: {status}");
        }
        if let Ok(resp) = client.get(format!("{}/readyz", gw.base_url)).send().await {
            if resp.status().is_success() {
                return started.elapsed();
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the gateway was not ready within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// VmRSS of `pid` in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

/// A KiB figure of `/proc/<pid>/status` (`VmRSS:`, `RssAnon:`, `RssFile:`).
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Samples the RSS of `pid` every 50 ms until dropped; `max()` is the peak.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    max: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    pub fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let max = Arc::new(AtomicU64::new(0));
        let (s, m) = (stop.clone(), max.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                m.fetch_max(rss_kib(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Self {
            stop,
            max,
            thread: Some(thread),
        }
    }

    pub fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.max.load(Ordering::Relaxed)
    }
}

/// utime + stime of `pid` in clock ticks, with its parent's pid.
pub fn proc_ticks(pid: u32) -> Option<(u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ppid = f.get(1)?.parse().ok()?;
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some((ppid, ticks))
}

/// Latest CPU ticks of every process of the three groups, by pid.
#[derive(Default, Clone)]
pub struct CpuSnapshot {
    server: HashMap<u32, u64>,
    postgres: HashMap<u32, u64>,
    client: HashMap<u32, u64>,
    /// Busy ticks of the whole machine (every process, all CPUs).
    machine: u64,
}

/// Busy ticks of all CPUs (`/proc/stat`: user, nice, system, irq, softirq, steal).
pub fn machine_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0;
    };
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    [0, 1, 2, 5, 6, 7].iter().filter_map(|&i| f.get(i)).sum()
}

pub fn cpu_snapshot(into: &mut CpuSnapshot, server: Option<u32>, postmaster: u32, client: u32) {
    into.machine = machine_ticks();
    if let Some(pid) = server {
        if let Some((_, t)) = proc_ticks(pid) {
            into.server.insert(pid, t);
        }
    }
    if let Some((_, t)) = proc_ticks(client) {
        into.client.insert(client, t);
    }
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            if let Some((ppid, t)) = proc_ticks(pid) {
                if pid == postmaster || ppid == postmaster {
                    into.postgres.insert(pid, t);
                }
            }
        }
    }
}

/// CPU seconds used by the server under test, the PostgreSQL cluster and
/// the load generator while it runs (processes that exit keep their last
/// sample).
pub struct CpuSampler {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<CpuSnapshot>>,
    baseline: CpuSnapshot,
}

#[derive(Clone, Copy, Default)]
pub struct CpuUse {
    pub server_s: f64,
    pub postgres_s: f64,
    pub client_s: f64,
    /// The whole machine's busy CPU seconds (these three and everything else).
    pub machine_s: f64,
}

impl CpuUse {
    /// CPU seconds of the processes other than these three.
    pub fn others_s(&self) -> f64 {
        (self.machine_s - self.server_s - self.postgres_s - self.client_s).max(0.0)
    }
}

impl CpuSampler {
    pub fn start(server: Option<u32>, postmaster: u32, client: u32) -> Self {
        let mut baseline = CpuSnapshot::default();
        cpu_snapshot(&mut baseline, server, postmaster, client);
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let mut latest = baseline.clone();
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                cpu_snapshot(&mut latest, server, postmaster, client);
                std::thread::sleep(Duration::from_millis(100));
            }
            cpu_snapshot(&mut latest, server, postmaster, client);
            latest
        });
        Self {
            stop,
            thread: Some(thread),
            baseline,
        }
    }

    pub fn finish(mut self) -> CpuUse {
        self.stop.store(true, Ordering::Relaxed);
        let latest = self.thread.take().unwrap().join().unwrap();
        let delta = |now: &HashMap<u32, u64>, base: &HashMap<u32, u64>| -> f64 {
            let ticks: u64 = now
                .iter()
                .map(|(pid, t)| t.saturating_sub(base.get(pid).copied().unwrap_or(0)))
                .sum();
            ticks as f64 / 100.0
        };
        CpuUse {
            server_s: delta(&latest.server, &self.baseline.server),
            postgres_s: delta(&latest.postgres, &self.baseline.postgres),
            client_s: delta(&latest.client, &self.baseline.client),
            machine_s: latest.machine.saturating_sub(self.baseline.machine) as f64 / 100.0,
        }
    }
}

pub fn postmaster_pid(data_dir: &Path) -> u32 {
    std::fs::read_to_string(data_dir.join("postmaster.pid"))
        .ok()
        .and_then(|t| t.lines().next()?.trim().parse().ok())
        .expect("postmaster.pid")
}

pub fn cpu_line(name: &str, cpu: &CpuUse, requests: f64, secs: f64) -> String {
    let per = |s: f64| s * 1000.0 / requests;
    format!(
        "| {name} | {:.2} | {:.2} | {:.2} | {:.0}% |",
        per(cpu.server_s),
        per(cpu.postgres_s),
        per(cpu.client_s),
        100.0 * (cpu.server_s + cpu.postgres_s + cpu.client_s) / (2.0 * secs)
    )
}

// ---------------------------------------------------------------------------
// Statement capture
// ---------------------------------------------------------------------------

/// One statement the gateway sent, with its bound parameters.
#[derive(Debug)]
pub struct Captured {
    pub sql: String,
    pub params: Vec<Option<String>>,
}

/// `$1 = '...', $2 = NULL` (PostgreSQL's DETAIL line) as values by position.
pub fn parse_params(text: &str) -> Vec<Option<String>> {
    let mut out: Vec<Option<String>> = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '$' {
            i += 1;
            continue;
        }
        i += 1;
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        let index: usize = chars[start..i].iter().collect::<String>().parse().unwrap();
        i += 3; // " = "
        let value = if chars[i..].starts_with(&['N', 'U', 'L', 'L']) {
            i += 4;
            None
        } else {
            assert_eq!(chars[i], '\'', "unexpected parameter syntax in {text}");
            i += 1;
            let mut v = String::new();
            loop {
                if chars[i] == '\'' {
                    if i + 1 < chars.len() && chars[i + 1] == '\'' {
                        v.push('\'');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                v.push(chars[i]);
                i += 1;
            }
            Some(v)
        };
        if out.len() < index {
            out.resize(index, None);
        }
        out[index - 1] = value;
    }
    out
}

/// The statements logged (log_statement = all) after byte `offset` of `log`.
pub fn read_statements(log: &Path, offset: u64) -> Vec<Captured> {
    let mut file = std::fs::File::open(log).expect("server log");
    file.seek(SeekFrom::Start(offset)).unwrap();
    let mut text = String::new();
    file.read_to_string(&mut text).unwrap();
    // Join continuation lines (they start with a tab).
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        match (line.strip_prefix('\t'), lines.last_mut()) {
            (Some(rest), Some(last)) => {
                last.push('\n');
                last.push_str(rest);
            }
            _ => lines.push(line.to_string()),
        }
    }
    let mut out: Vec<Captured> = Vec::new();
    for line in &lines {
        if let Some(pos) = line.find("LOG:  statement: ") {
            out.push(Captured {
                sql: line[pos + "LOG:  statement: ".len()..].to_string(),
                params: Vec::new(),
            });
        } else if let Some(pos) = line.find("LOG:  execute ") {
            let rest = &line[pos + "LOG:  execute ".len()..];
            let sql = rest.split_once(": ").map(|(_, s)| s).unwrap_or(rest);
            out.push(Captured {
                sql: sql.to_string(),
                params: Vec::new(),
            });
        } else if let Some(pos) = line.find("DETAIL:  parameters: ") {
            if let Some(last) = out.last_mut() {
                last.params = parse_params(&line[pos + "DETAIL:  parameters: ".len()..]);
            }
        }
    }
    out
}

/// Runs `run` with `log_statement = all` (set through `admin`, a superuser
/// connection) and returns the statements the server logged meanwhile.
pub async fn capture(
    admin: &mut PgConnection,
    log: &Path,
    run: impl std::future::Future<Output = Result<(), String>>,
) -> Vec<Captured> {
    exec(admin, "ALTER SYSTEM SET log_statement = 'all'").await;
    exec(admin, "SELECT pg_reload_conf()").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let offset = std::fs::metadata(log).map(|m| m.len()).unwrap_or(0);
    run.await.expect("capture request");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let statements = read_statements(log, offset);
    exec(admin, "ALTER SYSTEM RESET log_statement").await;
    exec(admin, "SELECT pg_reload_conf()").await;
    statements
}

/// The benches' token minting: HS256 with `secret`, audience
/// `authenticated`, the gateway's default leeway.
pub fn hs256_authenticator(secret: &str) -> gateway::auth::Authenticator {
    gateway::auth::Authenticator::new(&gateway::auth::AuthConfig {
        jwt_secret: Some(secret.to_string()),
        jwks_file: None,
        audience: "authenticated".to_string(),
        issuer: None,
        leeway_secs: 30,
    })
    .expect("authenticator")
}

/// `Authorization` header value for signed-in `user`, valid for `ttl`.
pub fn bearer(
    auth: &gateway::auth::Authenticator,
    user: uuid::Uuid,
    ttl: std::time::Duration,
) -> String {
    let token = auth
        .mint(Some(user), gateway::auth::Role::Authenticated, ttl, None)
        .expect("mint a bench token");
    format!("Bearer {token}")
}
