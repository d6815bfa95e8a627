//! API load figures: the real `gateway serve` process over a throwaway cluster
//! loaded with 1,000 users x 20 lift sessions x (5 revisions + 5 drafts),
//! driven at concurrency 32 with two read queries (Q1: a user's sessions with
//! nested drafts and revisions; Q2: one session with its drafts), then the
//! same SQL through pgbench as the ceiling.
//!
//! `cargo bench --bench api_load` prints the figures; docs/benchmarks.md
//! records them. Environment: `BENCH_SECS` (20), `BENCH_CONCURRENCY` (32),
//! `BENCH_POOL_SIZES` (comma-separated `DB_POOL_SIZE` values to run the
//! gateway with, default 8; the last one is the one reported against
//! pgbench).
//!
//! The pgbench scripts are not written by hand: the bench turns
//! `log_statement = all` on, runs Q1 and Q2 once through the gateway, reads the
//! statements (with their bound parameters) back from the server log, and
//! replaces the viewer's id, claims and session ids by pgbench variables
//! picked per transaction from helper tables.

#[path = "common/mod.rs"]
mod common;

use base64::Engine;
use common::*;
use gateway::auth::Role;
use gateway::db::embedded::{find_bin_dir, Cluster, ClusterOptions};
use sea_orm::sqlx::{self, Connection, PgConnection, Row};
use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

const DB_NAME: &str = "bench_api";
const USERS: usize = 1_000;
const SESSIONS_PER_USER: usize = 20;
const SECRET: &str = "api-load-bench-secret-not-for-production";
const STATEMENT_TIMEOUT_MS: u64 = 5000;

const Q1: &str = "query Q1 { liftSessions(first: 20, orderBy: [{field: CREATED_AT, direction: DESC}]) { nodes { id status createdAt drafts(first: 5, orderBy: [{field: DRAFT_NUMBER, direction: DESC}]) { nodes { id draftNumber codeContent syntaxValid astValid } } revisions(first: 5, orderBy: [{field: REVISION_NUMBER, direction: ASC}]) { nodes { id revisionNumber } } } } }";

const Q2: &str = "query Q2($id: UUID!) { liftSession(id: $id) { id status createdAt drafts(first: 5, orderBy: [{field: DRAFT_NUMBER, direction: DESC}]) { nodes { id draftNumber codeContent syntaxValid astValid } } } }";

// ---------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------

const LOAD_SQL: &str = r#"
INSERT INTO auth.users (id, email, raw_user_meta_data, created_at, updated_at)
SELECT gen_random_uuid(), 'bench' || g || '@example.com',
       jsonb_build_object('full_name', 'Bench User ' || g),
       now() - interval '400 days', now() - interval '400 days'
FROM generate_series(1, 1000) AS g;

CREATE TABLE public.bench_users AS
SELECT (row_number() OVER (ORDER BY u.id))::int AS n, u.id
FROM auth.users AS u WHERE u.email LIKE 'bench%@example.com';

-- Bulk load of derived rows: the counters and numbers are supplied, so the
-- per-row triggers (numbering, counters) and FK checks are skipped.
SET session_replication_role = replica;

INSERT INTO lift.sessions (id, user_id, status, source, original_input, current_ir, current_code,
                          revision_count, draft_count, metadata, created_at, updated_at, finalized_at)
SELECT gen_random_uuid(), u.id,
       (ARRAY['active', 'paused', 'finalized', 'error'])[1 + s % 4],
       CASE WHEN s % 3 = 0 THEN 'code' ELSE 'prompt' END,
       'Write a function that validates order #' || s || ' of customer ' || u.n
         || ', sums its line items and rejects negative quantities.',
       jsonb_build_object('entities', jsonb_build_array(jsonb_build_object('name', 'Order',
         'fields', jsonb_build_array('id', 'items', 'total'))), 'version', 5),
       'def validate_order(order):' || chr(10) || '    return sum(i["qty"] * i["price"] for i in order["items"])',
       5, 5, jsonb_build_object('model', 'gpt-4o-mini', 'batch', u.n % 7),
       now() - make_interval(days => 200 - s * 9, mins => u.n % 600),
       now() - make_interval(days => 200 - s * 9, mins => u.n % 600) + interval '30 minutes',
       CASE WHEN s % 4 = 2 THEN now() - make_interval(days => 200 - s * 9, mins => u.n % 600)
                                + interval '30 minutes' END
FROM public.bench_users AS u CROSS JOIN generate_series(1, 20) AS s;

INSERT INTO lift.session_revisions (id, session_id, revision_number, source, ir_content,
                                    validation_result, changed_fields, change_summary, metadata,
                                    created_at)
SELECT gen_random_uuid(), s.id, r,
       CASE r WHEN 1 THEN 'initial' WHEN 2 THEN 'refinement' WHEN 3 THEN 'repair'
              WHEN 4 THEN 'user_edit' ELSE 'refinement' END,
       jsonb_build_object(
         'entities', jsonb_build_array(jsonb_build_object('name', 'Order',
            'fields', jsonb_build_array(jsonb_build_object('name', 'id', 'type', 'int'),
                                        jsonb_build_object('name', 'items', 'type', 'list[Item]'),
                                        jsonb_build_object('name', 'total', 'type', 'decimal')))),
         'functions', jsonb_build_array(jsonb_build_object('name', 'validate_order',
            'params', jsonb_build_array('order'), 'returns', 'decimal')),
         'holes', CASE WHEN r < 3 THEN jsonb_build_array(jsonb_build_object('id', 'h' || r,
            'type', 'return_value')) ELSE '[]'::jsonb END),
       jsonb_build_object('valid', r > 2, 'warnings', r % 3),
       CASE WHEN r = 1 THEN ARRAY[]::text[] ELSE ARRAY['functions', 'holes'] END,
       'Revision ' || r || ': refined the return type and closed open holes',
       '{}'::jsonb,
       s.created_at + make_interval(mins => r * 2)
FROM lift.sessions AS s CROSS JOIN generate_series(1, 5) AS r;

INSERT INTO lift.session_drafts (id, session_id, ir_revision_id, draft_number, source, code_content,
                                 language, syntax_valid, ast_valid, validation_errors,
                                 generation_time_ms, validation_time_ms, llm_tokens_used,
                                 llm_cost_usd, metadata, created_at)
SELECT gen_random_uuid(), r.session_id, r.id, r.revision_number,
       CASE r.revision_number WHEN 1 THEN 'initial_generation' WHEN 2 THEN 'ast_repair'
            WHEN 3 THEN 'llm_regeneration' WHEN 4 THEN 'user_edit' ELSE 'ast_repair' END,
       'from decimal import Decimal' || chr(10) || chr(10)
         || 'def validate_order(order: dict) -> Decimal:' || chr(10)
         || '    """Validate order draft ' || r.revision_number || ' and return its total."""' || chr(10)
         || '    items = order.get("items", [])' || chr(10)
         || '    if any(i["qty"] < 0 for i in items):' || chr(10)
         || '        raise ValueError("negative quantity")' || chr(10)
         || '    return sum(Decimal(i["price"]) * i["qty"] for i in items)' || chr(10),
       'python',
       r.revision_number <> 2, r.revision_number > 2,
       CASE WHEN r.revision_number <= 2
            THEN jsonb_build_array(jsonb_build_object('line', 4, 'message', 'unexpected indent'))
            ELSE '[]'::jsonb END,
       800 + (r.revision_number * 137) % 900, 20 + r.revision_number * 3,
       400 + r.revision_number * 50, (0.0004 * r.revision_number)::numeric(10, 6),
       '{}'::jsonb,
       r.created_at + interval '1 minute'
FROM lift.session_revisions AS r;

RESET session_replication_role;
"#;

/// Helper tables for pgbench (read as the `gateway` role before each
/// transaction): users with their claims and their 20 sessions, newest first,
/// and every session with its owner.
fn helper_sql(exp: u64, iat: u64) -> String {
    let claims = format!(
        "format('{{\"aud\":\"authenticated\",\"exp\":{exp},\"iat\":{iat},\"role\":\"authenticated\",\"sub\":\"%s\"}}', u.id)"
    );
    let cols: Vec<String> = (1..=SESSIONS_PER_USER)
        .map(|k| format!("(array_agg(s.id ORDER BY s.created_at DESC, s.id DESC))[{k}] AS s{k}"))
        .collect();
    format!(
        "CREATE TABLE public.bench_user_pages AS
         SELECT u.n, u.id, {claims} AS claims, {cols}
         FROM public.bench_users AS u JOIN lift.sessions AS s ON s.user_id = u.id
         GROUP BY u.n, u.id;
         ALTER TABLE public.bench_user_pages ADD PRIMARY KEY (n);
         CREATE TABLE public.bench_sessions AS
         SELECT (row_number() OVER (ORDER BY s.id))::int AS n, s.id, s.user_id,
                {claims} AS claims
         FROM lift.sessions AS s JOIN public.bench_users AS u ON u.id = s.user_id;
         ALTER TABLE public.bench_sessions ADD PRIMARY KEY (n);
         GRANT SELECT ON public.bench_user_pages, public.bench_sessions TO gateway;",
        cols = cols.join(", ")
    )
}

// ---------------------------------------------------------------------------
// Load generator
// ---------------------------------------------------------------------------

struct User {
    id: Uuid,
    bearer: String,
    sessions: Vec<Uuid>,
}

#[derive(Clone, Copy)]
enum Query {
    Q1,
    Q2,
}

impl Query {
    fn body(self, session: Uuid) -> String {
        match self {
            Query::Q1 => serde_json::json!({ "query": Q1 }).to_string(),
            Query::Q2 => {
                serde_json::json!({ "query": Q2, "variables": { "id": session } }).to_string()
            }
        }
    }
}

#[derive(Default)]
struct LoadResult {
    requests: u64,
    errors: u64,
    first_error: Option<String>,
    elapsed: Duration,
    latencies_us: Vec<u64>,
}

impl LoadResult {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    fn pct(&self, p: usize) -> u64 {
        if self.latencies_us.is_empty() {
            return 0;
        }
        let i = (self.latencies_us.len() * p / 100).min(self.latencies_us.len() - 1);
        self.latencies_us[i]
    }
    fn max(&self) -> u64 {
        self.latencies_us.last().copied().unwrap_or(0)
    }
}

async fn one_request(
    client: &reqwest::Client,
    url: &str,
    user: &User,
    query: Query,
    session: Uuid,
) -> Result<(), String> {
    let resp = client
        .post(url)
        .header("content-type", "application/json")
        .header("authorization", &user.bearer)
        .body(query.body(session))
        .send()
        .await
        .map_err(|e| format!("send: {e}"))?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| format!("body: {e}"))?;
    let has_errors = body.windows(8).any(|w| w == b"\"errors\"");
    if status != reqwest::StatusCode::OK || has_errors {
        return Err(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ));
    }
    Ok(())
}

async fn run_load(
    client: &reqwest::Client,
    base_url: &str,
    users: &Arc<Vec<User>>,
    query: Query,
    concurrency: usize,
    secs: u64,
) -> LoadResult {
    let url = format!("{base_url}/graphql");
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, users) = (client.clone(), url.clone(), users.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new();
            let mut out = LoadResult::default();
            while Instant::now() < deadline {
                let user = &users[rng.below(users.len())];
                let session = user.sessions[rng.below(user.sessions.len())];
                let t = Instant::now();
                let result = one_request(&client, &url, user, query, session).await;
                out.latencies_us.push(t.elapsed().as_micros() as u64);
                out.requests += 1;
                if let Err(e) = result {
                    out.errors += 1;
                    out.first_error.get_or_insert(e);
                }
            }
            out
        }));
    }
    let mut total = LoadResult::default();
    for task in tasks {
        let r = task.await.expect("load task");
        total.requests += r.requests;
        total.errors += r.errors;
        if total.first_error.is_none() {
            total.first_error = r.first_error;
        }
        total.latencies_us.extend(r.latencies_us);
    }
    total.elapsed = started.elapsed();
    total.latencies_us.sort_unstable();
    total
}

// ---------------------------------------------------------------------------
// pgbench (statement capture: common)
// ---------------------------------------------------------------------------

/// The captured statements as a pgbench script: parameters equal to one of
/// `vars`' values become that variable, any other becomes a literal.
fn pgbench_script(lookup: &str, statements: &[Captured], vars: &HashMap<String, String>) -> String {
    let mut script = String::from(lookup);
    script.push('\n');
    for st in statements {
        let mut sql = String::new();
        let chars: Vec<char> = st.sql.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if chars[i] == '$' && i + 1 < chars.len() && chars[i + 1].is_ascii_digit() {
                let start = i + 1;
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                let n: usize = chars[start..i].iter().collect::<String>().parse().unwrap();
                match st.params.get(n - 1).cloned().flatten() {
                    None => sql.push_str("NULL"),
                    Some(v) => match vars.get(&v) {
                        Some(var) => {
                            sql.push(':');
                            sql.push_str(var);
                        }
                        None => {
                            sql.push('\'');
                            sql.push_str(&v.replace('\'', "''"));
                            sql.push('\'');
                        }
                    },
                }
            } else {
                sql.push(chars[i]);
                i += 1;
            }
        }
        let sql = sql.replace('\n', " ");
        script.push_str(sql.trim_end_matches(';'));
        script.push_str(";\n");
    }
    script
}

struct PgbenchResult {
    tps: f64,
    latency_avg_ms: f64,
    failed: String,
    latencies_us: Vec<u64>,
    command: String,
    cpu: CpuUse,
}

impl PgbenchResult {
    fn pct(&self, p: usize) -> u64 {
        if self.latencies_us.is_empty() {
            return 0;
        }
        let i = (self.latencies_us.len() * p / 100).min(self.latencies_us.len() - 1);
        self.latencies_us[i]
    }
}

fn run_pgbench(
    dir: &Path,
    name: &str,
    script: &str,
    port: u16,
    postmaster: u32,
    concurrency: usize,
    secs: u64,
) -> PgbenchResult {
    let bin = find_bin_dir().expect("pg bin dir").join("pgbench");
    let script_path = dir.join(format!("{name}.sql"));
    std::fs::write(&script_path, script).unwrap();
    let log_prefix = dir.join(format!("{name}_log"));
    let args: Vec<String> = vec![
        "-h".into(),
        "127.0.0.1".into(),
        "-p".into(),
        port.to_string(),
        "-U".into(),
        "gateway".into(),
        "-n".into(),
        "-M".into(),
        "prepared".into(),
        "-c".into(),
        concurrency.to_string(),
        "-j".into(),
        "2".into(),
        "-T".into(),
        secs.to_string(),
        "-l".into(),
        format!("--log-prefix={}", log_prefix.display()),
        "-f".into(),
        script_path.display().to_string(),
        DB_NAME.into(),
    ];
    let command = format!("{} {}", bin.display(), args.join(" "));
    let child = Command::new(&bin)
        .args(&args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pgbench");
    let sampler = CpuSampler::start(None, postmaster, child.id());
    let output = child.wait_with_output().expect("pgbench output");
    let cpu = sampler.finish();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    if !output.status.success() {
        eprintln!(
            "pgbench {name} failed ({}):\n{stdout}\n{stderr}",
            output.status
        );
    }
    let find = |prefix: &str| -> Option<String> {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(|s| s.trim().to_string()))
    };
    let number = |s: Option<String>| -> f64 {
        s.and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
            .unwrap_or(f64::NAN)
    };
    let tps = number(find("tps = "));
    let latency_avg_ms = number(find("latency average = "));
    let failed = find("number of failed transactions:").unwrap_or_else(|| "?".into());
    // Per-transaction log files: `<prefix>.<pid>[.<thread>]`, 3rd column µs.
    let mut latencies_us = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let file_name = entry.file_name().to_string_lossy().to_string();
        if file_name.starts_with(&format!("{name}_log.")) {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            latencies_us.extend(
                text.lines()
                    .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok()),
            );
        }
    }
    latencies_us.sort_unstable();
    PgbenchResult {
        tps,
        latency_avg_ms,
        failed,
        latencies_us,
        command,
        cpu,
    }
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

struct GatewayRun {
    pool: u32,
    ready_in: Duration,
    rss_idle_kib: u64,
    rss_after_kib: u64,
    q1: LoadResult,
    q2: LoadResult,
    rss_q1_max_kib: u64,
    rss_q2_max_kib: u64,
    cpu_q1: CpuUse,
    cpu_q2: CpuUse,
    captured: Option<(Vec<Captured>, Vec<Captured>)>,
}

fn main() {
    let secs: u64 = env_or("BENCH_SECS", 20);
    let concurrency: usize = env_or("BENCH_CONCURRENCY", 32);
    let pool_sizes: Vec<u32> = std::env::var("BENCH_POOL_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|p| p.trim().parse().ok()).collect())
        .filter(|v: &Vec<u32>| !v.is_empty())
        .unwrap_or_else(|| vec![8]);

    let started = Instant::now();
    let cluster = Cluster::start(ClusterOptions::ephemeral().expect("temp dir")).expect("start");
    let log = cluster.data_dir().join("server.log");
    let work_dir = tempfile::tempdir().expect("work dir");
    println!(
        "cluster started in {:.0} ms (port {})",
        started.elapsed().as_secs_f64() * 1000.0,
        cluster.port()
    );

    // One thread: the load generator should take as little CPU from the
    // gateway and PostgreSQL as possible, and the gateway must be spawned on
    // the main thread (PDEATHSIG).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let admin_url = cluster.url("postgres", DB_NAME);
        gateway::db::ensure_database(&cluster.url("postgres", "postgres"), DB_NAME)
            .await
            .unwrap();
        let t = Instant::now();
        gateway::db::migrate(&admin_url).await.unwrap();
        println!("migrated in {:.0} ms", t.elapsed().as_secs_f64() * 1000.0);

        // --- load -----------------------------------------------------------
        let mut admin = PgConnection::connect(&admin_url).await.unwrap();
        let t = Instant::now();
        exec(&mut admin, LOAD_SQL).await;
        let insert_time = t.elapsed();
        let t2 = Instant::now();
        exec(&mut admin, "VACUUM ANALYZE").await;
        let vacuum_time = t2.elapsed();
        let counts = sqlx::query(
            "SELECT (SELECT count(*) FROM public.users), (SELECT count(*) FROM lift.sessions),
                    (SELECT count(*) FROM lift.session_revisions),
                    (SELECT count(*) FROM lift.session_drafts),
                    pg_size_pretty(pg_database_size(current_database()))",
        )
        .fetch_one(&mut admin)
        .await
        .unwrap();
        println!(
            "loaded {} users, {} sessions, {} revisions, {} drafts ({}) in {:.1} s (inserts {:.1} s, VACUUM ANALYZE {:.1} s)",
            counts.get::<i64, _>(0),
            counts.get::<i64, _>(1),
            counts.get::<i64, _>(2),
            counts.get::<i64, _>(3),
            counts.get::<String, _>(4),
            t.elapsed().as_secs_f64(),
            insert_time.as_secs_f64(),
            vacuum_time.as_secs_f64()
        );

        // --- tokens -----------------------------------------------------------
        let auth = hs256_authenticator(SECRET);
        let rows = sqlx::query(
            "SELECT u.id, array_agg(s.id ORDER BY s.created_at DESC, s.id DESC)
             FROM public.bench_users AS u JOIN lift.sessions AS s ON s.user_id = u.id
             GROUP BY u.id ORDER BY u.id",
        )
        .fetch_all(&mut admin)
        .await
        .unwrap();
        let mut iat_exp = (0u64, 0u64);
        let users: Vec<User> = rows
            .iter()
            .map(|r| {
                let id: Uuid = r.get(0);
                let token = auth
                    .mint(Some(id), Role::Authenticated, Duration::from_secs(3600), None)
                    .unwrap();
                User {
                    id,
                    bearer: format!("Bearer {token}"),
                    sessions: r.get(1),
                }
            })
            .collect();
        {
            // iat/exp of the tokens, for the pgbench claims.
            let payload = users[0].bearer.split('.').nth(1).unwrap();
            let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap();
            let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
            iat_exp = (
                v["iat"].as_u64().unwrap_or(iat_exp.0),
                v["exp"].as_u64().unwrap_or(iat_exp.1),
            );
        }
        assert_eq!(users.len(), USERS);
        let users = Arc::new(users);
        exec(&mut admin, &helper_sql(iat_exp.1, iat_exp.0)).await;
        exec(&mut admin, "VACUUM ANALYZE public.bench_user_pages, public.bench_sessions").await;

        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(concurrency)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .build()
            .unwrap();
        let gateway_url = cluster.url("gateway", DB_NAME);
        let postmaster = postmaster_pid(cluster.data_dir());

        // --- gateway runs ---------------------------------------------------------
        let mut runs: Vec<GatewayRun> = Vec::new();
        for (i, &pool) in pool_sizes.iter().enumerate() {
            let mut gw = spawn_gateway(
                &gateway_url,
                SECRET,
                &[
                    ("DB_POOL_SIZE", pool.to_string()),
                    ("STATEMENT_TIMEOUT_MS", STATEMENT_TIMEOUT_MS.to_string()),
                ],
            );
            let ready_in = wait_ready(&mut gw, &client).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            let rss_idle_kib = rss_kib(gw.pid());
            println!(
                "gateway (DB_POOL_SIZE={pool}) ready in {:.0} ms, idle RSS {}",
                ready_in.as_secs_f64() * 1000.0,
                mib(rss_idle_kib)
            );
            let url = format!("{}/graphql", gw.base_url);
            let user = &users[0];
            let captured = if i == 0 {
                let q1 = capture(&mut admin, &log, one_request(&client, &url, user, Query::Q1, user.sessions[0])).await;
                let q2 = capture(&mut admin, &log, one_request(&client, &url, user, Query::Q2, user.sessions[3])).await;
                Some((q1, q2))
            } else {
                None
            };
            let sampler = RssSampler::start(gw.pid());
            let cpu = CpuSampler::start(Some(gw.pid()), postmaster, std::process::id());
            let q1 = run_load(&client, &gw.base_url, &users, Query::Q1, concurrency, secs).await;
            let cpu_q1 = cpu.finish();
            let rss_q1_max_kib = sampler.finish();
            report_load("Q1", pool, &q1, rss_q1_max_kib);
            let sampler = RssSampler::start(gw.pid());
            let cpu = CpuSampler::start(Some(gw.pid()), postmaster, std::process::id());
            let q2 = run_load(&client, &gw.base_url, &users, Query::Q2, concurrency, secs).await;
            let cpu_q2 = cpu.finish();
            let rss_q2_max_kib = sampler.finish();
            report_load("Q2", pool, &q2, rss_q2_max_kib);
            tokio::time::sleep(Duration::from_secs(2)).await;
            let rss_after_kib = rss_kib(gw.pid());
            gw.stop();
            runs.push(GatewayRun {
                pool,
                ready_in,
                rss_idle_kib,
                rss_after_kib,
                q1,
                q2,
                rss_q1_max_kib,
                rss_q2_max_kib,
                cpu_q1,
                cpu_q2,
                captured,
            });
        }
        admin.close().await.ok();

        // --- pgbench ceiling ------------------------------------------------------
        let (cap_q1, cap_q2) = runs[0].captured.take().expect("captured statements");
        let user = &users[0];
        let mut vars_q1: HashMap<String, String> = HashMap::new();
        vars_q1.insert(user.id.to_string(), "uid".into());
        for (k, s) in user.sessions.iter().enumerate() {
            vars_q1.insert(s.to_string(), format!("s{}", k + 1));
        }
        let mut vars_q2: HashMap<String, String> = HashMap::new();
        vars_q2.insert(user.id.to_string(), "uid".into());
        vars_q2.insert(user.sessions[3].to_string(), "sid".into());
        for st in cap_q1.iter().chain(cap_q2.iter()) {
            for v in st.params.iter().flatten() {
                if v.contains(&user.id.to_string()) && v.starts_with('{') {
                    vars_q1.insert(v.clone(), "claims".into());
                    vars_q2.insert(v.clone(), "claims".into());
                }
            }
        }
        let s_cols: Vec<String> = (1..=SESSIONS_PER_USER).map(|k| format!("s{k}")).collect();
        let lookup_q1 = format!(
            "\\set n random(1, {USERS})\nSELECT id AS uid, claims, {} FROM public.bench_user_pages WHERE n = :n \\gset",
            s_cols.join(", ")
        );
        let lookup_q2 = format!(
            "\\set n random(1, {})\nSELECT id AS sid, user_id AS uid, claims FROM public.bench_sessions WHERE n = :n \\gset",
            USERS * SESSIONS_PER_USER
        );
        let script_q1 = pgbench_script(&lookup_q1, &cap_q1, &vars_q1);
        let script_q2 = pgbench_script(&lookup_q2, &cap_q2, &vars_q2);
        println!("\n--- statements per request: Q1 {} (incl. BEGIN/COMMIT), Q2 {} ---", cap_q1.len(), cap_q2.len());
        println!("--- pgbench script Q1 ---\n{script_q1}--- pgbench script Q2 ---\n{script_q2}");
        let pg_q1 = run_pgbench(work_dir.path(), "q1", &script_q1, cluster.port(), postmaster, concurrency, secs);
        println!("pgbench Q1: {:.0} tps, latency average {:.2} ms, failed {}", pg_q1.tps, pg_q1.latency_avg_ms, pg_q1.failed);
        let pg_q2 = run_pgbench(work_dir.path(), "q2", &script_q2, cluster.port(), postmaster, concurrency, secs);
        println!("pgbench Q2: {:.0} tps, latency average {:.2} ms, failed {}", pg_q2.tps, pg_q2.latency_avg_ms, pg_q2.failed);
        println!("pgbench command: {}", pg_q1.command);

        // --- table ------------------------------------------------------------------
        println!("\n## API load: c={concurrency}, {secs} s per run, 2 cores\n");
        println!("| run | DB_POOL_SIZE | req/s | p50 | p90 | p99 | max | errors | % of pgbench |");
        println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        for r in &runs {
            for (name, res, pg) in [("Q1 gateway", &r.q1, &pg_q1), ("Q2 gateway", &r.q2, &pg_q2)] {
                println!(
                    "| {name} | {} | {:.0} | {} | {} | {} | {} | {} | {:.0}% |",
                    r.pool,
                    res.rps(),
                    ms(res.pct(50)),
                    ms(res.pct(90)),
                    ms(res.pct(99)),
                    ms(res.max()),
                    res.errors,
                    100.0 * res.rps() / pg.tps
                );
            }
        }
        for (name, pg) in [("Q1 pgbench", &pg_q1), ("Q2 pgbench", &pg_q2)] {
            println!(
                "| {name} | ({concurrency} conns) | {:.0} | {} | {} | {} | {} | {} | 100% |",
                pg.tps,
                ms(pg.pct(50)),
                ms(pg.pct(90)),
                ms(pg.pct(99)),
                ms(pg.latencies_us.last().copied().unwrap_or(0)),
                pg.failed
            );
        }
        println!("\n| gateway RSS | DB_POOL_SIZE | idle (after start) | max under Q1 | max under Q2 | idle after load | ready in |");
        println!("| --- | --- | --- | --- | --- | --- | --- |");
        for r in &runs {
            println!(
                "| | {} | {} | {} | {} | {} | {:.0} ms |",
                r.pool,
                mib(r.rss_idle_kib),
                mib(r.rss_q1_max_kib),
                mib(r.rss_q2_max_kib),
                mib(r.rss_after_kib),
                r.ready_in.as_secs_f64() * 1000.0
            );
        }
        println!("\n| CPU per request (ms) | gateway | PostgreSQL | load generator | of 2 cores |");
        println!("| --- | --- | --- | --- | --- |");
        for r in &runs {
            for (name, res, cpu) in [("Q1", &r.q1, &r.cpu_q1), ("Q2", &r.q2, &r.cpu_q2)] {
                let label = format!("{name} gateway, pool {}", r.pool);
                println!("{}", cpu_line(&label, cpu, res.requests as f64, res.elapsed.as_secs_f64()));
            }
        }
        for (name, pg) in [("Q1 pgbench", &pg_q1), ("Q2 pgbench", &pg_q2)] {
            let transactions = pg.latencies_us.len() as f64;
            println!("{}", cpu_line(name, &pg.cpu, transactions, secs as f64));
        }
        for r in &runs {
            for (name, res) in [("Q1", &r.q1), ("Q2", &r.q2)] {
                if let Some(e) = &res.first_error {
                    println!("first {name} error (pool {}): {e}", r.pool);
                }
            }
        }
    });
    drop(work_dir);
    cluster.stop().expect("stop");
}

fn report_load(name: &str, pool: u32, r: &LoadResult, rss_max_kib: u64) {
    println!(
        "{name} (pool {pool}): {} requests, {:.0} req/s, p50 {}, p90 {}, p99 {}, max {}, errors {}, max RSS {}",
        r.requests,
        r.rps(),
        ms(r.pct(50)),
        ms(r.pct(90)),
        ms(r.pct(99)),
        ms(r.max()),
        r.errors,
        mib(rss_max_kib)
    );
    if let Some(e) = &r.first_error {
        println!("  first error: {e}");
    }
}
