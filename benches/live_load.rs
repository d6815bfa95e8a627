//! Live subscription figures (issue 5): the real `gateway serve` process over
//! a throwaway cluster, 10,000 websocket clients driven from this process,
//! and rows written straight into the database as the superuser (no gateway
//! in the write path), so each figure runs from commit to the client.
//!
//! 1. Loads 10,000 users, one chat conversation each (with one hour-old seed
//!    message), and a workspace whose first 1,000 users are members (with an
//!    alert rule and one hour-old seed alert).
//! 2. Starts the gateway with the per-user connection limit raised and the
//!    open-file limit raised for itself and this process; reads its RSS.
//! 3. Opens one graphql-transport-ws connection per user and subscribes
//!    `chatMessages(sessionId, after)`; `after` is a cursor from before the
//!    seed message, so the set-up's catch-up read sends the seed back, which
//!    tells the client its subscription is registered. RSS with them held.
//! 4. Commit-to-delivery latency, one event for one subscriber among the
//!    10,000: sequential single-message inserts into a random conversation;
//!    then the statements of one delivery (`log_statement = all`).
//! 5. Fan-out: the 1,000 members also subscribe `alerts(workspaceId, after)`
//!    on their connection; one `analytics.alert_history` row per round.
//! 6. Sustained events: writers insert messages into random conversations at
//!    stepped rates, then unthrottled; deliveries are counted against inserts,
//!    and `/readyz` is timed as the writers stop and after the drain.
//! 7. Closes every connection; RSS after.
//!
//! `cargo bench --bench live_load` prints the figures; docs/benchmarks.md
//! records them. Environment: `BENCH_USERS` (10000), `BENCH_MEMBERS` (1000),
//! `BENCH_LATENCY_SAMPLES` (200), `BENCH_FANOUT_ROUNDS` (10),
//! `BENCH_STAGE_SECS` (10), `BENCH_RATES` (`100,250,500,1000,max`),
//! `BENCH_WRITERS` (4), `BENCH_POOL_SIZE` (the gateway's `DB_POOL_SIZE`;
//! unset: the gateway's default), `BENCH_CONNECT_CONCURRENCY` (200
//! subscriptions being set up at once at most), `BENCH_DRAIN_SECS` (15: how
//! long a stage waits for one more delivery after its writers stop),
//! `BENCH_IDLE_SECS` (15), `BENCH_GATEWAY_LOG` (the gateway's `RUST_LOG`,
//! `warn`), `BENCH_HELD_ONLY` (unset; `1`: stop after the idle period with
//! the subscriptions held, skipping steps 4 to 6, to measure memory alone),
//! `BENCH_HOLD_SECS` (0: how long to pause with the subscriptions held,
//! before the idle period, e.g. to inspect the gateway's memory from outside;
//! the gateway's pid is printed).

#[path = "common/mod.rs"]
mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use gateway::db::embedded::{Cluster, ClusterOptions};
use gateway::live::Cursor;
use sea_orm::sqlx::{self, Connection, PgConnection, Row};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

const DB_NAME: &str = "bench_live";
const SECRET: &str = "live-load-bench-secret-not-for-production";
/// Open files wanted for each of the two processes (10,000 sockets each,
/// plus the database connections and the usual descriptors).
const NOFILE: u64 = 65_536;

const CHAT_SUBSCRIPTION: &str = "subscription Chat($s: UUID!, $after: String) { chatMessages(sessionId: $s, after: $after) { cursor message { id content } } }";
const ALERT_SUBSCRIPTION: &str = "subscription Alerts($w: UUID!, $after: String) { alerts(workspaceId: $w, after: $after) { cursor alert { id } } }";

const INSERT_MESSAGE: &str =
    "INSERT INTO chat.chat_messages (id, session_id, user_id, client_id, role, content) \
     VALUES ($1, $2, $3, $1::text, 'user', $4)";
const INSERT_ALERT: &str = "INSERT INTO analytics.alert_history (id, alert_rule_id, workspace_id, metric_value, threshold_value) \
     VALUES ($1, $2, $3, 12.5, 10)";

struct Settings {
    users: usize,
    members: usize,
    samples: usize,
    fanout_rounds: usize,
    stage_secs: u64,
    /// Target insert rates per stage; `None`: as fast as the writers can.
    rates: Vec<Option<u32>>,
    writers: usize,
    pool_size: Option<u32>,
    connect_concurrency: usize,
    /// How long a sustained stage waits, after its writers stop, for a
    /// delivery before it counts the rest as lost.
    drain_quiet: Duration,
    /// `RUST_LOG` of the gateway.
    gateway_log: String,
    /// Stop after the idle period with the subscriptions held.
    held_only: bool,
    /// Pause with the subscriptions held, before the idle period.
    hold: Duration,
}

impl Settings {
    fn from_env() -> Self {
        let rates = std::env::var("BENCH_RATES")
            .unwrap_or_else(|_| "100,250,500,1000,max".into())
            .split(',')
            .map(|r| r.trim().parse::<u32>().ok())
            .collect();
        Self {
            users: env_or("BENCH_USERS", 10_000),
            members: env_or("BENCH_MEMBERS", 1_000),
            samples: env_or("BENCH_LATENCY_SAMPLES", 200),
            fanout_rounds: env_or("BENCH_FANOUT_ROUNDS", 10),
            stage_secs: env_or("BENCH_STAGE_SECS", 10),
            rates,
            writers: env_or("BENCH_WRITERS", 4),
            pool_size: std::env::var("BENCH_POOL_SIZE")
                .ok()
                .and_then(|v| v.trim().parse().ok()),
            connect_concurrency: env_or("BENCH_CONNECT_CONCURRENCY", 200),
            drain_quiet: Duration::from_secs(env_or("BENCH_DRAIN_SECS", 15)),
            gateway_log: std::env::var("BENCH_GATEWAY_LOG").unwrap_or_else(|_| "warn".into()),
            held_only: env_or("BENCH_HELD_ONLY", 0u8) != 0,
            hold: Duration::from_secs(env_or("BENCH_HOLD_SECS", 0)),
        }
    }
}

// ---------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------

fn load_sql(users: usize) -> String {
    format!(
        "INSERT INTO auth.users (id, email, raw_user_meta_data)
         SELECT gen_random_uuid(), 'live' || g || '@example.com',
                jsonb_build_object('full_name', 'Live User ' || g)
         FROM generate_series(1, {users}) AS g;

         CREATE TABLE public.bench_users AS
         SELECT (row_number() OVER (ORDER BY u.id))::int AS n, u.id
         FROM auth.users AS u WHERE u.email LIKE 'live%@example.com';

         INSERT INTO chat.chat_sessions (user_id, client_id, title)
         SELECT id, 'bench-' || n, 'Bench chat ' || n FROM public.bench_users;

         -- The seed message: what each subscription's first (catch-up) read returns.
         INSERT INTO chat.chat_messages (session_id, user_id, client_id, role, content, created_at)
         SELECT s.id, s.user_id, 'seed', 'system', 'seed', now() - interval '1 hour'
         FROM chat.chat_sessions AS s JOIN public.bench_users AS u ON u.id = s.user_id;"
    )
}

struct Workspace {
    id: Uuid,
    rule: Uuid,
}

/// A workspace owned by user 1 with users 1..=members as members, an alert
/// rule and one hour-old seed alert.
async fn create_workspace(admin: &mut PgConnection, members: usize) -> Workspace {
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO public.workspaces (name, owner_id)
         SELECT 'Bench workspace', id FROM public.bench_users WHERE n = 1 RETURNING id",
    )
    .fetch_one(&mut *admin)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO public.workspace_members (workspace_id, user_id, role)
         SELECT $1, id, 'member' FROM public.bench_users WHERE n BETWEEN 2 AND $2",
    )
    .bind(id)
    .bind(members as i32)
    .execute(&mut *admin)
    .await
    .unwrap();
    let rule: Uuid = sqlx::query_scalar(
        "INSERT INTO analytics.alert_rules (workspace_id, name, metric_type, condition, threshold_value, created_by)
         SELECT $1, 'Bench failed runs', 'failed_runs', 'greater_than', 10, id
         FROM public.bench_users WHERE n = 1 RETURNING id",
    )
    .bind(id)
    .fetch_one(&mut *admin)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO analytics.alert_history (alert_rule_id, workspace_id, triggered_at, metric_value, threshold_value)
         VALUES ($1, $2, now() - interval '1 hour', 11, 10)",
    )
    .bind(rule)
    .bind(id)
    .execute(&mut *admin)
    .await
    .unwrap();
    Workspace { id, rule }
}

#[derive(Clone)]
struct User {
    id: Uuid,
    session: Uuid,
    bearer: String,
}

async fn insert_message(conn: &mut PgConnection, user: &User, id: Uuid) {
    sqlx::query(INSERT_MESSAGE)
        .bind(id)
        .bind(user.session)
        .bind(user.id)
        .bind("live bench message")
        .execute(&mut *conn)
        .await
        .expect("insert a message");
}

// ---------------------------------------------------------------------------
// Websocket clients
// ---------------------------------------------------------------------------

/// The two subscriptions a client may hold (also their operation ids).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Chat,
    Alerts,
}

impl Op {
    fn id(self) -> &'static str {
        match self {
            Op::Chat => "chat",
            Op::Alerts => "alerts",
        }
    }

    fn of(id: &str) -> Option<Op> {
        match id {
            "chat" => Some(Op::Chat),
            "alerts" => Some(Op::Alerts),
            _ => None,
        }
    }
}

/// What a client tells the bench.
#[derive(Debug)]
enum Report {
    /// A `next` message, received at `at`: the row it carries, or the first
    /// error's code.
    Next {
        client: u32,
        op: Op,
        at: Instant,
        row: Option<Uuid>,
        error: Option<String>,
    },
    /// The server ended an operation (`error` or `complete`).
    Ended { client: u32, op: Op, why: String },
    /// The connection failed to open or ended.
    Down { client: u32, why: String },
}

fn subscribe_message(op: Op, variables: Value) -> String {
    let query = match op {
        Op::Chat => CHAT_SUBSCRIPTION,
        Op::Alerts => ALERT_SUBSCRIPTION,
    };
    json!({ "id": op.id(), "type": "subscribe", "payload": { "query": query, "variables": variables } })
        .to_string()
}

/// The row id and error code of a `next` payload.
fn parse_next(payload: &Value) -> (Option<Uuid>, Option<String>) {
    if let Some(error) = payload["errors"].get(0) {
        let code = error["extensions"]["code"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| error["message"].to_string());
        return (None, Some(code));
    }
    let row = payload["data"]
        .as_object()
        .and_then(|data| data.values().next())
        .and_then(|event| event.get("message").or_else(|| event.get("alert")))
        .and_then(|row| row["id"].as_str())
        .and_then(|id| id.parse().ok());
    (row, None)
}

/// One websocket client: connects, sends `connection_init`, subscribes
/// `first` after the ack, then reports every `next` and sends whatever
/// `commands` carries (more subscriptions) until `commands` closes, when it
/// closes the socket. Websocket pings are answered by tungstenite;
/// protocol-level pings here. `permit` is released at the first delivery:
/// it bounds the subscriptions being set up at once.
async fn client(
    url: Arc<str>,
    index: u32,
    bearer: String,
    first: String,
    mut commands: mpsc::UnboundedReceiver<String>,
    reports: mpsc::UnboundedSender<Report>,
    permit: OwnedSemaphorePermit,
) {
    let mut permit = Some(permit);
    let down = |why: String| {
        let _ = reports.send(Report::Down { client: index, why });
    };
    let mut request = url.as_ref().into_client_request().expect("request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    // Small buffers: 10,000 of these live in this process.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let mut socket =
        match tokio_tungstenite::connect_async_with_config(request, Some(config), true).await {
            Ok((socket, _)) => socket,
            Err(err) => return down(format!("connect: {err}")),
        };
    let init = json!({ "type": "connection_init", "payload": { "Authorization": bearer } });
    if let Err(err) = socket.send(Message::text(init.to_string())).await {
        return down(format!("send init: {err}"));
    }
    let mut first = Some(first);
    loop {
        tokio::select! {
            message = socket.next() => {
                let text = match message {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(frame))) => return down(format!("closed by the server: {frame:?}")),
                    Some(Ok(_)) => continue,
                    Some(Err(err)) => return down(format!("read: {err}")),
                    None => return down("socket ended".into()),
                };
                let at = Instant::now();
                let msg: Value = serde_json::from_str(text.as_str()).unwrap_or_default();
                let op = msg["id"].as_str().and_then(Op::of);
                match (msg["type"].as_str().unwrap_or_default(), op) {
                    ("connection_ack", _) => {
                        if let Some(first) = first.take() {
                            if let Err(err) = socket.send(Message::text(first)).await {
                                return down(format!("send subscribe: {err}"));
                            }
                        }
                    }
                    ("next", Some(op)) => {
                        permit.take();
                        let (row, error) = parse_next(&msg["payload"]);
                        let _ = reports.send(Report::Next { client: index, op, at, row, error });
                    }
                    ("error" | "complete", Some(op)) => {
                        permit.take();
                        let why = format!("{}: {}", msg["type"], msg["payload"]);
                        let _ = reports.send(Report::Ended { client: index, op, why });
                    }
                    ("ping", _) => {
                        let pong = json!({ "type": "pong" }).to_string();
                        if let Err(err) = socket.send(Message::text(pong)).await {
                            return down(format!("send pong: {err}"));
                        }
                    }
                    _ => {}
                }
            }
            command = commands.recv() => match command {
                Some(text) => {
                    if let Err(err) = socket.send(Message::text(text)).await {
                        return down(format!("send: {err}"));
                    }
                }
                None => {
                    let _ = socket.close(None).await;
                    return;
                }
            },
        }
    }
}

/// The receiving end of every client's reports, with the counts of what
/// went wrong.
struct Collector {
    rx: mpsc::UnboundedReceiver<Report>,
    lagged: u64,
    errors: u64,
    ended: u64,
    down: u64,
    first_problem: Option<String>,
}

impl Collector {
    /// The next report before `deadline`; errors, ends and failures are
    /// counted as they pass.
    async fn next(&mut self, deadline: Instant) -> Option<Report> {
        let report = tokio::time::timeout_at(deadline.into(), self.rx.recv())
            .await
            .ok()
            .flatten()?;
        match &report {
            Report::Next {
                error: Some(code),
                client,
                op,
                ..
            } => {
                if code == "SUBSCRIBER_LAGGED" {
                    self.lagged += 1;
                } else {
                    self.errors += 1;
                }
                self.first_problem
                    .get_or_insert_with(|| format!("client {client} {op:?}: {code}"));
            }
            Report::Ended { client, op, why } => {
                self.ended += 1;
                self.first_problem
                    .get_or_insert_with(|| format!("client {client} {op:?} ended: {why}"));
            }
            Report::Down { client, why } => {
                self.down += 1;
                self.first_problem
                    .get_or_insert_with(|| format!("client {client} down: {why}"));
            }
            Report::Next { .. } => {}
        }
        Some(report)
    }

    fn problems(&self) -> String {
        format!(
            "SUBSCRIBER_LAGGED {}, other errors {}, operations ended {}, connections down {}{}",
            self.lagged,
            self.errors,
            self.ended,
            self.down,
            self.first_problem
                .as_ref()
                .map(|p| format!(" (first: {p})"))
                .unwrap_or_default()
        )
    }

    /// Waits until `op` delivered its first row to every client of
    /// `clients` (the seed: the subscription is registered), or until
    /// nothing has come for `quiet`; the clients that got there.
    async fn await_ready(&mut self, op: Op, clients: usize, quiet: Duration) -> usize {
        let mut ready = HashSet::new();
        while ready.len() < clients {
            match self.next(Instant::now() + quiet).await {
                Some(Report::Next {
                    client,
                    op: got,
                    row: Some(_),
                    ..
                }) if got == op => {
                    ready.insert(client);
                }
                Some(_) => {}
                None => break,
            }
        }
        ready.len()
    }
}

// ---------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------

/// Nearest-rank percentile of sorted microseconds.
fn pct(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn micros(from: Instant, to: Instant) -> u64 {
    to.saturating_duration_since(from).as_micros() as u64
}

fn summary(sorted: &[u64]) -> String {
    format!(
        "p50 {}, p95 {}, p99 {}, max {}",
        ms(pct(sorted, 50.0)),
        ms(pct(sorted, 95.0)),
        ms(pct(sorted, 99.0)),
        ms(sorted.last().copied().unwrap_or(0))
    )
}

/// `gateway_ws_connections_active` from `/metrics`.
async fn ws_active(http: &reqwest::Client, base_url: &str) -> Option<u64> {
    let text = http
        .get(format!("{base_url}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("gateway_ws_connections_active "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
}

/// Closes every client connection, waits for the gateway to count them
/// closed, and returns its RSS 3 s later.
async fn close_all(
    commands: Vec<mpsc::UnboundedSender<String>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    http: &reqwest::Client,
    base_url: &str,
    pid: u32,
) -> u64 {
    let t = Instant::now();
    drop(commands);
    for task in tasks {
        let _ = task.await;
    }
    let mut remaining = ws_active(http, base_url).await;
    while remaining != Some(0) && t.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        remaining = ws_active(http, base_url).await;
    }
    println!(
        "closed all connections in {:.1} s (gateway_ws_connections_active {remaining:?})",
        t.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    rss_kib(pid)
}

/// Prints the gateway's allocator figures (`gateway_allocator_bytes` in
/// `/metrics`), when it reports them.
async fn print_allocator(http: &reqwest::Client, base_url: &str) {
    let Ok(text) = async {
        http.get(format!("{base_url}/metrics"))
            .send()
            .await?
            .text()
            .await
    }
    .await
    else {
        return;
    };
    let figures: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("gateway_allocator_bytes{state=\""))
        .filter_map(|l| {
            let (state, value) = l.split_once("\"} ")?;
            Some(format!(
                "{state} {}",
                mib(value.trim().parse::<f64>().ok()? as u64 / 1024)
            ))
        })
        .collect();
    if !figures.is_empty() {
        println!("gateway allocator: {}", figures.join(", "));
    }
}

/// `GET /readyz` (one `SELECT 1` through the gateway's pool): status and time.
async fn readyz(http: &reqwest::Client, base_url: &str, wait: Duration) -> String {
    let t = Instant::now();
    let answer = http
        .get(format!("{base_url}/readyz"))
        .timeout(wait)
        .send()
        .await;
    let took = t.elapsed().as_secs_f64() * 1000.0;
    match answer {
        Ok(resp) => format!("/readyz {} in {took:.0} ms", resp.status()),
        Err(err) if err.is_timeout() => format!("/readyz no answer within {took:.0} ms"),
        Err(err) => format!("/readyz failed after {took:.0} ms: {err}"),
    }
}

fn alive(gw: &mut GatewayProcess, phase: &str) {
    if let Ok(Some(status)) = gw.child.try_wait() {
        panic!("the gateway exited during {phase}: {status}");
    }
}

/// CPU seconds of the gateway, the cluster and this process, as text.
fn cpu_text(cpu: &CpuUse, secs: f64, per: Option<(f64, &str)>) -> String {
    let mut text = format!(
        "CPU: gateway {:.2} s, PostgreSQL {:.2} s, bench {:.2} s ({:.0}% of 2 cores over {:.1} s; rest of the machine {:.2} s)",
        cpu.server_s,
        cpu.postgres_s,
        cpu.client_s,
        100.0 * (cpu.server_s + cpu.postgres_s + cpu.client_s) / (2.0 * secs),
        secs,
        cpu.others_s()
    );
    if let Some((n, what)) = per {
        if n > 0.0 {
            text.push_str(&format!(
                "; per {what}: gateway {:.3} ms, PostgreSQL {:.3} ms",
                cpu.server_s * 1000.0 / n,
                cpu.postgres_s * 1000.0 / n
            ));
        }
    }
    text
}

struct Stage {
    target: Option<u32>,
    inserted: usize,
    insert_rate: f64,
    delivered: usize,
    delivered_in_window: usize,
    delivery_rate: f64,
    drain: Duration,
    latencies: Vec<u64>,
    lagged: u64,
    queue_usage: f64,
    cpu: CpuUse,
    secs: f64,
}

/// One writer of a sustained stage: inserts into random conversations at
/// `rate` (per second; `None`: back to back) until `until`; the ids with
/// their commit instants.
async fn writer(
    mut conn: PgConnection,
    users: Arc<Vec<User>>,
    rate: Option<f64>,
    until: Instant,
) -> (PgConnection, Vec<(Uuid, Instant)>) {
    let mut rng = Rng::new();
    let mut out = Vec::new();
    let mut tick = rate.map(|r| tokio::time::interval(Duration::from_secs_f64(1.0 / r)));
    loop {
        if let Some(tick) = tick.as_mut() {
            tick.tick().await;
        }
        if Instant::now() >= until {
            break;
        }
        let user = &users[rng.below(users.len())];
        let id = Uuid::new_v4();
        insert_message(&mut conn, user, id).await;
        out.push((id, Instant::now()));
    }
    (conn, out)
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

fn main() {
    let settings = Settings::from_env();
    assert!(settings.members <= settings.users && settings.members >= 1);
    let nofile = raise_nofile(NOFILE);
    println!("open-file limit (this process and the gateway): {nofile}");
    assert!(
        nofile as usize > settings.users + 1000,
        "the open-file limit ({nofile}) is too low for {} connections",
        settings.users
    );

    let started = Instant::now();
    let cluster = Cluster::start(ClusterOptions::ephemeral().expect("temp dir")).expect("start");
    println!(
        "cluster started in {:.0} ms (port {})",
        started.elapsed().as_secs_f64() * 1000.0,
        cluster.port()
    );

    // Two workers for the 10,000 client tasks, the writers and the
    // collector; the main thread drives the bench (and spawns the gateway:
    // PDEATHSIG follows the spawning thread).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(&cluster, &settings));
    cluster.stop().expect("stop");
}

async fn run(cluster: &Cluster, s: &Settings) {
    let admin_url = cluster.url("postgres", DB_NAME);
    gateway::db::ensure_database(&cluster.url("postgres", "postgres"), DB_NAME)
        .await
        .unwrap();
    gateway::db::migrate(&admin_url).await.unwrap();

    // --- data -------------------------------------------------------------------
    let mut admin = PgConnection::connect(&admin_url).await.unwrap();
    let t = Instant::now();
    exec(&mut admin, &load_sql(s.users)).await;
    let workspace = create_workspace(&mut admin, s.members).await;
    exec(&mut admin, "VACUUM ANALYZE").await;
    let auth = hs256_authenticator(SECRET);
    let rows = sqlx::query(
        "SELECT u.id, s.id FROM public.bench_users AS u
         JOIN chat.chat_sessions AS s ON s.user_id = u.id ORDER BY u.n",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    let users: Vec<User> = rows
        .iter()
        .map(|r| {
            let id: Uuid = r.get(0);
            User {
                id,
                session: r.get(1),
                bearer: bearer(&auth, id, Duration::from_secs(6 * 3600)),
            }
        })
        .collect();
    assert_eq!(users.len(), s.users);
    let users = Arc::new(users);
    println!(
        "loaded {} users with a conversation each, a workspace of {} members, tokens minted, in {:.1} s",
        s.users,
        s.members,
        t.elapsed().as_secs_f64()
    );

    // --- gateway -----------------------------------------------------------------
    let http = reqwest::Client::new();
    let mut env = vec![
        ("MAX_WS_CONNECTIONS_PER_USER", "100000".to_string()),
        ("MAX_SUBSCRIPTIONS_PER_CONNECTION", "100".to_string()),
        ("RUST_LOG", s.gateway_log.clone()),
    ];
    if let Some(pool) = s.pool_size {
        env.push(("DB_POOL_SIZE", pool.to_string()));
    }
    let postmaster = postmaster_pid(cluster.data_dir());
    let me = std::process::id();
    let mut gw = spawn_gateway(&cluster.url("gateway", DB_NAME), SECRET, &env);
    let ready_in = wait_ready(&mut gw, &http).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle = rss_kib(gw.pid());
    println!(
        "gateway (pid {}, {}) ready in {:.0} ms (DB_POOL_SIZE {}), idle RSS {}",
        gw.pid(),
        gw.base_url,
        ready_in.as_secs_f64() * 1000.0,
        s.pool_size
            .map(|p| p.to_string())
            .unwrap_or_else(|| "default".into()),
        mib(rss_idle)
    );
    let ws_url: Arc<str> = format!("{}/graphql/ws", gw.base_url.replacen("http", "ws", 1)).into();

    // --- 10,000 subscriptions -------------------------------------------------------
    // Before the seed rows: each subscription's set-up reads its seed back.
    let before_seeds = Cursor {
        ts: chrono::Utc::now() - chrono::Duration::hours(2),
        id: Uuid::nil(),
    }
    .encode();
    let (report_tx, report_rx) = mpsc::unbounded_channel();
    let mut collector = Collector {
        rx: report_rx,
        lagged: 0,
        errors: 0,
        ended: 0,
        down: 0,
        first_problem: None,
    };
    let setups = Arc::new(Semaphore::new(s.connect_concurrency));
    let rss_peak = RssSampler::start(gw.pid());
    let cpu = CpuSampler::start(Some(gw.pid()), postmaster, me);
    let t = Instant::now();
    let mut commands = Vec::with_capacity(s.users);
    let mut tasks = Vec::with_capacity(s.users);
    for (i, user) in users.iter().enumerate() {
        let permit = tokio::time::timeout(Duration::from_secs(60), setups.clone().acquire_owned())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no subscription set-up finished for 60 s after {i} connections; {}",
                    collector.problems()
                )
            })
            .unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        commands.push(tx);
        let first = subscribe_message(
            Op::Chat,
            json!({ "s": user.session, "after": before_seeds }),
        );
        tasks.push(tokio::spawn(client(
            ws_url.clone(),
            i as u32,
            user.bearer.clone(),
            first,
            rx,
            report_tx.clone(),
            permit,
        )));
    }
    drop(report_tx);
    let ready = collector
        .await_ready(Op::Chat, s.users, Duration::from_secs(30))
        .await;
    let setup_time = t.elapsed();
    let setup_cpu = cpu.finish();
    let rss_setup_peak = rss_peak.finish();
    alive(&mut gw, "the subscription set-up");
    println!(
        "{ready} of {} subscriptions set up in {:.1} s ({:.0}/s); {}; {}",
        s.users,
        setup_time.as_secs_f64(),
        ready as f64 / setup_time.as_secs_f64(),
        cpu_text(
            &setup_cpu,
            setup_time.as_secs_f64(),
            Some((ready as f64, "subscription"))
        ),
        collector.problems()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_held = rss_kib(gw.pid());
    let active = ws_active(&http, &gw.base_url).await;
    println!(
        "gateway RSS with {ready} subscriptions held: {} (peak during set-up {}), gateway_ws_connections_active {active:?}, bench RSS {}",
        mib(rss_held),
        mib(rss_setup_peak),
        mib(rss_kib(me))
    );

    print_allocator(&http, &gw.base_url).await;
    if !s.hold.is_zero() {
        println!(
            "holding {ready} subscriptions for {} s (gateway pid {})",
            s.hold.as_secs(),
            gw.pid()
        );
        tokio::time::sleep(s.hold).await;
    }

    let idle_secs: u64 = env_or("BENCH_IDLE_SECS", 15);
    let cpu = CpuSampler::start(Some(gw.pid()), postmaster, me);
    tokio::time::sleep(Duration::from_secs(idle_secs)).await;
    let idle_cpu = cpu.finish();
    println!(
        "idle for {idle_secs} s with {ready} subscriptions held (keep-alive pings every 15 s): {}; gateway RSS {}",
        cpu_text(&idle_cpu, idle_secs as f64, None),
        mib(rss_kib(gw.pid()))
    );
    if s.held_only {
        let rss_after = close_all(commands, tasks, &http, &gw.base_url, gw.pid()).await;
        print_allocator(&http, &gw.base_url).await;
        alive(&mut gw, "the close");
        gw.stop();
        admin.close().await.ok();
        println!(
            "\n## Live subscriptions, memory only: {} connections x 1 chatMessages subscription\n",
            s.users
        );
        println!("| gateway RSS | idle after start | peak during set-up | {ready} subscriptions held | after closing all |");
        println!("| --- | --- | --- | --- | --- |");
        println!(
            "| | {} | {} | {} | {} |",
            mib(rss_idle),
            mib(rss_setup_peak),
            mib(rss_held),
            mib(rss_after)
        );
        println!("\nproblems over the whole run: {}", collector.problems());
        return;
    }

    // --- latency: one event, one subscriber among the 10,000 ---------------------
    let mut rng = Rng::new();
    let mut latencies = Vec::with_capacity(s.samples);
    let mut insert_us = Vec::with_capacity(s.samples);
    let mut missed = 0;
    let mut misrouted = 0;
    let cpu = CpuSampler::start(Some(gw.pid()), postmaster, me);
    let t = Instant::now();
    for _ in 0..s.samples {
        let target = rng.below(users.len());
        let id = Uuid::new_v4();
        let sent = Instant::now();
        insert_message(&mut admin, &users[target], id).await;
        let committed = Instant::now();
        insert_us.push(micros(sent, committed));
        let deadline = committed + Duration::from_secs(5);
        loop {
            match collector.next(deadline).await {
                Some(Report::Next {
                    client,
                    row: Some(row),
                    at,
                    ..
                }) if row == id => {
                    if client as usize != target {
                        misrouted += 1;
                    }
                    latencies.push(micros(committed, at));
                    break;
                }
                Some(_) => {}
                None => {
                    missed += 1;
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let latency_cpu = cpu.finish();
    let latency_secs = t.elapsed().as_secs_f64();
    latencies.sort_unstable();
    insert_us.sort_unstable();
    alive(&mut gw, "the latency run");
    println!(
        "latency, commit to client, {} events to one subscriber each among {ready}: {}; missed {missed}, misrouted {misrouted}; insert round trip p50 {}; {}",
        s.samples,
        summary(&latencies),
        ms(pct(&insert_us, 50.0)),
        cpu_text(&latency_cpu, latency_secs, Some((latencies.len() as f64, "delivery")))
    );

    // --- what one delivery asks of the database ---------------------------------------
    let log = cluster.data_dir().join("server.log");
    let mut probe_conn = PgConnection::connect(&admin_url).await.unwrap();
    let probe_user = users[rng.below(users.len())].clone();
    let probe_id = Uuid::new_v4();
    let probe_collector = &mut collector;
    let statements = capture(&mut admin, &log, async {
        insert_message(&mut probe_conn, &probe_user, probe_id).await;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match probe_collector.next(deadline).await {
                Some(Report::Next { row: Some(row), .. }) if row == probe_id => return Ok(()),
                Some(_) => {}
                None => return Err("the probe message was not delivered".to_string()),
            }
        }
    })
    .await;
    probe_conn.close().await.ok();
    let delivery: Vec<&Captured> = statements
        .iter()
        .filter(|st| !st.sql.contains("INSERT INTO chat.chat_messages"))
        .collect();
    println!(
        "one chatMessages delivery sent {} statements (log_statement = all, the bench's insert left out):",
        delivery.len()
    );
    for st in &delivery {
        let params: Vec<String> = st
            .params
            .iter()
            .map(|p| match p {
                Some(v) if v.len() > 60 => format!("'{}...'", &v[..60]),
                Some(v) => format!("'{v}'"),
                None => "NULL".into(),
            })
            .collect();
        println!("  {}  [{}]", st.sql, params.join(", "));
    }

    // --- fan-out: one event, 1,000 subscribers --------------------------------------
    let t = Instant::now();
    for command in commands.iter().take(s.members) {
        let _ = command.send(subscribe_message(
            Op::Alerts,
            json!({ "w": workspace.id, "after": before_seeds }),
        ));
    }
    let members_ready = collector
        .await_ready(Op::Alerts, s.members, Duration::from_secs(30))
        .await;
    println!(
        "{members_ready} of {} members subscribed to alerts(workspaceId) in {:.2} s (on their existing connections)",
        s.members,
        t.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut fanout_all: Vec<u64> = Vec::new();
    let mut fanout_rounds: Vec<(usize, u64, u64, u64)> = Vec::new();
    let cpu = CpuSampler::start(Some(gw.pid()), postmaster, me);
    let t = Instant::now();
    for _ in 0..s.fanout_rounds {
        let id = Uuid::new_v4();
        sqlx::query(INSERT_ALERT)
            .bind(id)
            .bind(workspace.rule)
            .bind(workspace.id)
            .execute(&mut admin)
            .await
            .expect("insert an alert");
        let committed = Instant::now();
        let deadline = committed + Duration::from_secs(15);
        let mut round = Vec::with_capacity(s.members);
        let mut who = HashSet::new();
        while round.len() < members_ready {
            match collector.next(deadline).await {
                Some(Report::Next {
                    client,
                    op: Op::Alerts,
                    row: Some(row),
                    at,
                    ..
                }) if row == id => {
                    if who.insert(client) {
                        round.push(micros(committed, at));
                    }
                }
                Some(_) => {}
                None => break,
            }
        }
        round.sort_unstable();
        fanout_rounds.push((
            round.len(),
            pct(&round, 50.0),
            pct(&round, 99.0),
            round.last().copied().unwrap_or(0),
        ));
        fanout_all.extend(round);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let fanout_cpu = cpu.finish();
    let fanout_secs = t.elapsed().as_secs_f64();
    fanout_all.sort_unstable();
    alive(&mut gw, "the fan-out run");
    for (i, (n, p50, p99, max)) in fanout_rounds.iter().enumerate() {
        println!(
            "  fan-out round {}: {n} of {members_ready} delivered, p50 {}, p99 {}, last {}",
            i + 1,
            ms(*p50),
            ms(*p99),
            ms(*max)
        );
    }
    let fanout_delivered = fanout_all.len();
    println!(
        "fan-out, {} alerts x {members_ready} subscribers: {fanout_delivered} of {} delivered; {}; {}",
        s.fanout_rounds,
        s.fanout_rounds * members_ready,
        summary(&fanout_all),
        cpu_text(&fanout_cpu, fanout_secs, Some((fanout_delivered as f64, "delivery")))
    );

    // --- sustained events ----------------------------------------------------------------
    let mut writer_conns = Vec::new();
    for _ in 0..s.writers {
        writer_conns.push(PgConnection::connect(&admin_url).await.unwrap());
    }
    let mut stages: Vec<Stage> = Vec::new();
    for &target in &s.rates {
        let lagged_before = collector.lagged;
        let cpu = CpuSampler::start(Some(gw.pid()), postmaster, me);
        let start = Instant::now();
        let until = start + Duration::from_secs(s.stage_secs);
        let per_writer = target.map(|r| r as f64 / s.writers as f64);
        let handles: Vec<_> = writer_conns
            .drain(..)
            .map(|conn| tokio::spawn(writer(conn, users.clone(), per_writer, until)))
            .collect();
        let mut received: HashMap<Uuid, Instant> = HashMap::new();
        let collect = |report: Report, received: &mut HashMap<Uuid, Instant>| {
            if let Report::Next {
                op: Op::Chat,
                row: Some(row),
                at,
                ..
            } = report
            {
                received.insert(row, at);
            }
        };
        while Instant::now() < until {
            if let Some(report) = collector.next(until).await {
                collect(report, &mut received);
            }
        }
        let mut inserted: Vec<(Uuid, Instant)> = Vec::new();
        for handle in handles {
            let (conn, ids) = handle.await.expect("writer");
            writer_conns.push(conn);
            inserted.extend(ids);
        }
        let queue_usage: f64 = sqlx::query_scalar("SELECT pg_notification_queue_usage()")
            .fetch_one(&mut admin)
            .await
            .unwrap_or(f64::NAN);
        let window_end = Instant::now();
        // Whether plain requests still get a pool connection at the peak.
        let probe_at_peak = readyz(&http, &gw.base_url, Duration::from_secs(5)).await;
        let delivered_in_window = inserted
            .iter()
            .filter(|(id, _)| received.contains_key(id))
            .count();
        // Drain: until every insert arrived or nothing came for a while
        // (longer than the gateway's 10 s pool acquire timeout).
        let expected: HashSet<Uuid> = inserted.iter().map(|(id, _)| *id).collect();
        let mut got = expected
            .iter()
            .filter(|id| received.contains_key(id))
            .count();
        while got < expected.len() {
            match collector.next(Instant::now() + s.drain_quiet).await {
                Some(report) => {
                    if let Report::Next { row: Some(row), .. } = &report {
                        if expected.contains(row) && !received.contains_key(row) {
                            got += 1;
                        }
                    }
                    collect(report, &mut received);
                }
                None => break,
            }
        }
        let stage_cpu = cpu.finish();
        let mut latencies: Vec<u64> = inserted
            .iter()
            .filter_map(|(id, committed)| received.get(id).map(|at| micros(*committed, *at)))
            .collect();
        latencies.sort_unstable();
        let last = inserted
            .iter()
            .filter_map(|(id, _)| received.get(id))
            .max()
            .copied()
            .unwrap_or(start);
        let stage = Stage {
            target,
            inserted: inserted.len(),
            insert_rate: inserted.len() as f64 / s.stage_secs as f64,
            delivered: latencies.len(),
            delivered_in_window,
            delivery_rate: latencies.len() as f64
                / last
                    .saturating_duration_since(start)
                    .as_secs_f64()
                    .max(1e-3),
            drain: last.saturating_duration_since(window_end),
            latencies,
            lagged: collector.lagged - lagged_before,
            queue_usage,
            cpu: stage_cpu,
            secs: last
                .max(window_end)
                .saturating_duration_since(start)
                .as_secs_f64(),
        };
        alive(&mut gw, "the sustained run");
        let probe = readyz(&http, &gw.base_url, Duration::from_secs(30)).await;
        println!(
            "sustained, target {}: inserted {} ({:.0}/s), delivered {} ({} within the window, the rest {:.1} s after it), lost {}, delivered {:.0}/s; {}; SUBSCRIBER_LAGGED {}; NOTIFY queue usage {:.4}; {}; {probe_at_peak} as the writers stopped, {probe} after the drain",
            target
                .map(|r| format!("{r}/s"))
                .unwrap_or_else(|| format!("max ({} writers)", s.writers)),
            stage.inserted,
            stage.insert_rate,
            stage.delivered,
            stage.delivered_in_window,
            stage.drain.as_secs_f64(),
            stage.inserted - stage.delivered,
            stage.delivery_rate,
            summary(&stage.latencies),
            stage.lagged,
            stage.queue_usage,
            cpu_text(&stage.cpu, stage.secs, Some((stage.delivered as f64, "delivery")))
        );
        stages.push(stage);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    for conn in writer_conns {
        conn.close().await.ok();
    }
    let rss_loaded = rss_kib(gw.pid());

    // --- close everything -------------------------------------------------------------
    let rss_after = close_all(commands, tasks, &http, &gw.base_url, gw.pid()).await;
    alive(&mut gw, "the close");
    gw.stop();
    admin.close().await.ok();

    // --- tables ---------------------------------------------------------------------------
    println!(
        "\n## Live subscriptions: {} connections x 1 chatMessages subscription, {} of them also alerts, 2 cores shared with the clients\n",
        s.users, s.members
    );
    println!("| gateway RSS | idle after start | peak during set-up | {ready} subscriptions held | after the event runs (held) | after closing all |");
    println!("| --- | --- | --- | --- | --- | --- |");
    println!(
        "| | {} | {} | {} | {} | {} |",
        mib(rss_idle),
        mib(rss_setup_peak),
        mib(rss_held),
        mib(rss_loaded),
        mib(rss_after)
    );
    println!("\n| latency from commit | events | delivered | p50 | p95 | p99 | max |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    println!(
        "| one subscriber among {ready} | {} | {} | {} | {} | {} | {} |",
        s.samples,
        latencies.len(),
        ms(pct(&latencies, 50.0)),
        ms(pct(&latencies, 95.0)),
        ms(pct(&latencies, 99.0)),
        ms(latencies.last().copied().unwrap_or(0))
    );
    println!(
        "| fan-out to {members_ready} (all deliveries of {} rounds) | {} | {} | {} | {} | {} | {} |",
        s.fanout_rounds,
        s.fanout_rounds * members_ready,
        fanout_delivered,
        ms(pct(&fanout_all, 50.0)),
        ms(pct(&fanout_all, 95.0)),
        ms(pct(&fanout_all, 99.0)),
        ms(fanout_all.last().copied().unwrap_or(0))
    );
    println!("\n| sustained ({} s per stage) | inserted/s | inserted | delivered | lost | delivered/s | p50 | p99 | max | lagged | gateway CPU per delivery | PostgreSQL CPU per delivery |", s.stage_secs);
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for st in &stages {
        let per = |secs: f64| {
            if st.delivered > 0 {
                format!("{:.2} ms", secs * 1000.0 / st.delivered as f64)
            } else {
                "–".into()
            }
        };
        println!(
            "| {} | {:.0} | {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} |",
            st.target
                .map(|r| format!("target {r}/s"))
                .unwrap_or_else(|| format!("unthrottled, {} writers", s.writers)),
            st.insert_rate,
            st.inserted,
            st.delivered,
            st.inserted - st.delivered,
            st.delivery_rate,
            ms(pct(&st.latencies, 50.0)),
            ms(pct(&st.latencies, 99.0)),
            ms(st.latencies.last().copied().unwrap_or(0)),
            st.lagged,
            per(st.cpu.server_s),
            per(st.cpu.postgres_s)
        );
    }
    println!("\nproblems over the whole run: {}", collector.problems());
}
