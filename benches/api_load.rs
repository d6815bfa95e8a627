//! API load figures: the real `gateway serve` process over a throwaway
//! cluster, driven at concurrency 32 with up to four scenarios, then the same
//! SQL through pgbench as each scenario's ceiling:
//!
//! - Q1: a user's 20 lift sessions with nested drafts and revisions;
//! - Q2: one lift session with its drafts;
//! - Q2P: Q2 sent as its persisted hash (Apollo's protocol; registered once
//!   per gateway run), so the gateway runs its stored, parsed document;
//! - Q3: a user's chat history: the 20 most recently updated conversations,
//!   each with its 20 newest messages;
//! - M1: `sendChatMessage` into a random existing conversation of the user
//!   (both messages, the session stats triggers and today's usage in one
//!   transaction).
//!
//! Data (set-based SQL): 1,000 users; for Q1/Q2 20 lift sessions each with 5
//! revisions + 5 drafts; for Q3/M1 20 chat conversations each with 40
//! messages (user ~270 bytes, assistant ~580 bytes), subscription tiers
//! 70% free, 20% pro, 10% enterprise. Only the data of the selected
//! scenarios is loaded.
//!
//! `cargo bench --bench api_load` prints the figures; docs/benchmarks.md
//! records them. Environment: `BENCH_QUERIES` (comma-separated subset of
//! `q1,q2,q2p,q3,m1`, default all, run in that order), `BENCH_SECS` (20),
//! `BENCH_CONCURRENCY` (32), `BENCH_POOL_SIZES` (comma-separated
//! `DB_POOL_SIZE` values to run the gateway with, default 8; the last one is
//! the one reported against pgbench), `BENCH_GATEWAY_BIN` (run another build
//! of the gateway, e.g. to compare two builds on the same data),
//! `BENCH_SETTLE_SECS` (45: how long after the load the settled idle RSS is
//! read), `BENCH_ACCEPT_ENCODING` (sent with every request, e.g. `gzip`, to
//! measure compression's CPU).
//!
//! The pgbench scripts are not written by hand: the bench turns
//! `log_statement = all` on, runs each scenario once through the gateway,
//! reads the statements (with their bound parameters) back from the server
//! log, and replaces the viewer's id, claims and session ids (M1: also the
//! client message ids, the completion id and the two message timestamps) by
//! pgbench variables picked, or made fresh, per transaction by one lookup of
//! a helper table.

#[path = "common/mod.rs"]
mod common;

use base64::Engine;
use common::*;
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
const MESSAGES_PER_SESSION: usize = 40;
const SECRET: &str = "api-load-bench-secret-not-for-production";
const STATEMENT_TIMEOUT_MS: u64 = 5000;

const Q1: &str = "query Q1 { liftSessions(first: 20, orderBy: [{field: CREATED_AT, direction: DESC}]) { nodes { id status createdAt drafts(first: 5, orderBy: [{field: DRAFT_NUMBER, direction: DESC}]) { nodes { id draftNumber codeContent syntaxValid astValid } } revisions(first: 5, orderBy: [{field: REVISION_NUMBER, direction: ASC}]) { nodes { id revisionNumber } } } } }";

const Q2: &str = "query Q2($id: UUID!) { liftSession(id: $id) { id status createdAt drafts(first: 5, orderBy: [{field: DRAFT_NUMBER, direction: DESC}]) { nodes { id draftNumber codeContent syntaxValid astValid } } } }";

/// Q2P's `extensions.persistedQuery.sha256Hash`: the SHA-256 of Q2's text.
static Q2_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(Q2.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
});

const Q3: &str = "query Q3 { chatSessions(first: 20, orderBy: [{field: UPDATED_AT, direction: DESC}]) { nodes { id title messageCount lastMessageTimestamp updatedAt messages(first: 20, orderBy: [{field: TIMESTAMP, direction: DESC}]) { nodes { id role content model timestamp } } } } }";

const M1: &str = "mutation M1($input: SendChatMessageInput!) { sendChatMessage(input: $input) { session { id messageCount totalTokens lastMessageTimestamp updatedAt } userMessage { id clientId timestamp } assistantMessage { id clientId timestamp } usageToday { messagesSent messagesReceived totalTokens } } }";

/// The model of every chat message: a free-tier model, so every tier may use
/// it (tiers are cumulative).
const CHAT_MODEL: &str = "deepseek/deepseek-r1-0528:free";

/// The user's side of every exchange (loaded and sent; ~270 bytes).
const USER_TEXT: &str = "I am importing orders in batches of five hundred rows. When a batch fails halfway, how do I retry it with exponential backoff without writing duplicate rows to the warehouse, and how do I report the rows that still fail back to the user who started the import?";

/// The assistant's side of every exchange (~580 bytes).
const ASSISTANT_TEXT: &str = "Give every batch an idempotency key and store it with the rows, in the same transaction as the rows themselves. On a retry the insert skips rows whose key is already stored, so a batch that failed halfway can be replayed safely. Back off exponentially with jitter (1, 2, 4 and 8 seconds plus a random fraction) and give up after five attempts. Collect the rows that still fail in a rejects table with the error text and the batch key, and show the user a summary with a link to download them. Keep batches small enough that one retry stays well under the statement timeout.";

// ---------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------

/// The bench users (the `auth.users` triggers create `public.users` and the
/// chat profiles) and their numbering.
const USERS_SQL: &str = r#"
INSERT INTO auth.users (id, email, raw_user_meta_data, created_at, updated_at)
SELECT gen_random_uuid(), 'bench' || g || '@example.com',
       jsonb_build_object('full_name', 'Bench User ' || g),
       now() - interval '400 days', now() - interval '400 days'
FROM generate_series(1, 1000) AS g;

CREATE TABLE public.bench_users AS
SELECT (row_number() OVER (ORDER BY u.id))::int AS n, u.id
FROM auth.users AS u WHERE u.email LIKE 'bench%@example.com';
"#;

/// Q1/Q2: 20 lift sessions per user, 5 revisions and 5 drafts per session.
const LIFT_SQL: &str = r#"
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

/// Q3/M1: tiers, 20 conversations per user, 40 messages per conversation
/// (user and assistant in turn, two minutes apart). `{user_text}`,
/// `{assistant_text}` and `{model}` are filled in by [`chat_sql`].
const CHAT_SQL: &str = r#"
UPDATE chat.profiles AS p
SET subscription_tier = CASE WHEN u.n % 10 < 7 THEN 'free' WHEN u.n % 10 < 9 THEN 'pro'
                             ELSE 'enterprise' END
FROM public.bench_users AS u WHERE p.id = u.id;

-- Bulk load with the per-row triggers (session stats, live NOTIFY) and FK
-- checks skipped; the stats are computed from the messages afterwards.
SET session_replication_role = replica;

INSERT INTO chat.chat_sessions (id, user_id, client_id, title, created_at, updated_at, last_activity)
SELECT gen_random_uuid(), u.id, 'conv-' || s, 'Order import retries, part ' || s,
       t.at, t.at, t.at
FROM public.bench_users AS u CROSS JOIN generate_series(1, {sessions}) AS s
CROSS JOIN LATERAL (SELECT now() - make_interval(days => 200 - s * 9, mins => u.n % 600) AS at) AS t;

INSERT INTO chat.chat_messages (session_id, user_id, client_id, role, content, model, input_tokens,
                                output_tokens, completion_id, user_message_id, elapsed_ms,
                                message_timestamp, created_at)
SELECT s.id, s.user_id, 'msg-' || m,
       CASE WHEN m % 2 = 1 THEN 'user' ELSE 'assistant' END,
       CASE WHEN m % 2 = 1 THEN '{user_text} (question ' || m || ')'
            ELSE '{assistant_text} (answer ' || m || ')' END,
       '{model}',
       CASE WHEN m % 2 = 1 THEN 40 + m % 30 ELSE 0 END,
       CASE WHEN m % 2 = 0 THEN 120 + (m * 7) % 80 ELSE 0 END,
       CASE WHEN m % 2 = 0 THEN 'gen-' || gen_random_uuid() END,
       CASE WHEN m % 2 = 0 THEN 'msg-' || (m - 1) END,
       CASE WHEN m % 2 = 0 THEN 900 + (m * 37) % 2000 END,
       s.created_at + make_interval(mins => m * 2), s.created_at + make_interval(mins => m * 2)
FROM chat.chat_sessions AS s CROSS JOIN generate_series(1, {messages}) AS m;

-- What update_session_stats would have left: counts, tokens, the latest
-- message's preview, model and time (also updated_at / last_activity, as the
-- BEFORE UPDATE trigger stamps them at each message).
UPDATE chat.chat_sessions AS s
SET message_count = a.n, total_tokens = a.tokens, last_message_timestamp = a.last_at,
    last_message_preview = a.preview, last_model = a.model,
    updated_at = a.last_at, last_activity = a.last_at
FROM (SELECT session_id, count(*)::int AS n, sum(total_tokens) AS tokens,
             max(message_timestamp) AS last_at,
             (array_agg(left(content, 100) ORDER BY message_timestamp DESC, created_at DESC, id DESC))[1] AS preview,
             (array_agg(model ORDER BY message_timestamp DESC, created_at DESC, id DESC)
                FILTER (WHERE model IS NOT NULL))[1] AS model
      FROM chat.chat_messages GROUP BY session_id) AS a
WHERE s.id = a.session_id;

RESET session_replication_role;
"#;

fn chat_sql() -> String {
    CHAT_SQL
        .replace("{user_text}", USER_TEXT)
        .replace("{assistant_text}", ASSISTANT_TEXT)
        .replace("{model}", CHAT_MODEL)
        .replace("{sessions}", &SESSIONS_PER_USER.to_string())
        .replace("{messages}", &MESSAGES_PER_SESSION.to_string())
}

/// The data a scenario reads and writes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Domain {
    Lift,
    Chat,
}

impl Domain {
    /// The sessions table and the order the list queries use (Q1: newest
    /// created first; Q3: most recently updated first).
    fn sessions(self) -> (&'static str, &'static str) {
        match self {
            Domain::Lift => ("lift.sessions", "s.created_at DESC, s.id DESC"),
            Domain::Chat => ("chat.chat_sessions", "s.updated_at DESC, s.id DESC"),
        }
    }

    /// The helper tables for pgbench: (users with their sessions, sessions
    /// with their user).
    fn helper_tables(self) -> (&'static str, &'static str) {
        match self {
            Domain::Lift => ("public.bench_user_pages", "public.bench_sessions"),
            Domain::Chat => ("public.bench_chat_pages", "public.bench_chat_sessions"),
        }
    }
}

/// Helper tables for pgbench (read as the `gateway` role before each
/// transaction): users with their claims and their 20 sessions in the list
/// query's order, and every session with its owner.
fn helper_sql(domain: Domain, exp: u64, iat: u64) -> String {
    let claims = format!(
        "format('{{\"aud\":\"authenticated\",\"exp\":{exp},\"iat\":{iat},\"role\":\"authenticated\",\"sub\":\"%s\"}}', u.id)"
    );
    let (source, order) = domain.sessions();
    let (pages, sessions) = domain.helper_tables();
    let cols: Vec<String> = (1..=SESSIONS_PER_USER)
        .map(|k| format!("(array_agg(s.id ORDER BY {order}))[{k}] AS s{k}"))
        .collect();
    format!(
        "CREATE TABLE {pages} AS
         SELECT u.n, u.id, {claims} AS claims, {cols}
         FROM public.bench_users AS u JOIN {source} AS s ON s.user_id = u.id
         GROUP BY u.n, u.id;
         ALTER TABLE {pages} ADD PRIMARY KEY (n);
         CREATE TABLE {sessions} AS
         SELECT (row_number() OVER (ORDER BY s.id))::int AS n, s.id, s.user_id,
                {claims} AS claims
         FROM {source} AS s JOIN public.bench_users AS u ON u.id = s.user_id;
         ALTER TABLE {sessions} ADD PRIMARY KEY (n);
         GRANT SELECT ON {pages}, {sessions} TO gateway;",
        cols = cols.join(", ")
    )
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Scenario {
    Q1,
    Q2,
    Q2P,
    Q3,
    M1,
}

impl Scenario {
    const ALL: [Scenario; 5] = [
        Scenario::Q1,
        Scenario::Q2,
        Scenario::Q2P,
        Scenario::Q3,
        Scenario::M1,
    ];

    fn name(self) -> &'static str {
        match self {
            Scenario::Q1 => "Q1",
            Scenario::Q2 => "Q2",
            Scenario::Q2P => "Q2P",
            Scenario::Q3 => "Q3",
            Scenario::M1 => "M1",
        }
    }

    /// `BENCH_QUERIES`: a comma-separated subset of `q1,q2,q2p,q3,m1` (any
    /// case), run in that order; all when unset or empty.
    fn selected() -> Vec<Scenario> {
        let wanted: Vec<String> = std::env::var("BENCH_QUERIES")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_ascii_uppercase())
            .filter(|s| !s.is_empty())
            .collect();
        for w in &wanted {
            assert!(
                Self::ALL.iter().any(|s| s.name() == w),
                "BENCH_QUERIES: unknown scenario {w:?} (expected q1, q2, q2p, q3, m1)"
            );
        }
        Self::ALL
            .into_iter()
            .filter(|s| wanted.is_empty() || wanted.iter().any(|w| w == s.name()))
            .collect()
    }

    fn domain(self) -> Domain {
        match self {
            Scenario::Q1 | Scenario::Q2 | Scenario::Q2P => Domain::Lift,
            Scenario::Q3 | Scenario::M1 => Domain::Chat,
        }
    }

    /// One random session of the user (Q2, M1), or the user's list (Q1, Q3).
    fn one_session(self) -> bool {
        matches!(self, Scenario::Q2 | Scenario::Q2P | Scenario::M1)
    }

    fn body(self, pick: &Pick) -> String {
        let body = match self {
            Scenario::Q1 => serde_json::json!({ "query": Q1 }),
            Scenario::Q2 => serde_json::json!({ "query": Q2, "variables": { "id": pick.session } }),
            Scenario::Q2P => serde_json::json!({ "variables": { "id": pick.session },
                "extensions": { "persistedQuery": { "version": 1, "sha256Hash": *Q2_HASH } } }),
            Scenario::Q3 => serde_json::json!({ "query": Q3 }),
            Scenario::M1 => serde_json::json!({ "query": M1, "variables": { "input": {
                "sessionId": pick.session,
                "model": CHAT_MODEL,
                "message": {
                    "clientId": pick.fresh.user_message,
                    "content": USER_TEXT,
                    "inputTokens": 58,
                },
                "response": {
                    "clientId": pick.fresh.assistant_message,
                    "content": ASSISTANT_TEXT,
                    "outputTokens": 131,
                    "completionId": pick.fresh.completion,
                    "elapsedMs": 1840,
                },
            } } }),
        };
        body.to_string()
    }

    /// The script's first line: picks this transaction's user (and session)
    /// from a helper table, and for M1 makes the fresh values, before BEGIN.
    fn lookup(self) -> String {
        let (pages, sessions) = self.domain().helper_tables();
        if !self.one_session() {
            let cols: Vec<String> = (1..=SESSIONS_PER_USER).map(|k| format!("s{k}")).collect();
            return format!(
                "\\set n random(1, {USERS})\nSELECT id AS uid, claims, {} FROM {pages} WHERE n = :n \\gset",
                cols.join(", ")
            );
        }
        let (fresh, clock) = if self == Scenario::M1 {
            (
                ", gen_random_uuid()::text AS ucid, gen_random_uuid()::text AS acid, \
                 'gen-' || gen_random_uuid() AS ccid, t.at AS t1, t.at + interval '1 microsecond' AS t2",
                ", clock_timestamp() AS t(at)",
            )
        } else {
            ("", "")
        };
        format!(
            "\\set n random(1, {})\nSELECT s.id AS sid, s.user_id AS uid, s.claims{fresh} FROM {sessions} AS s{clock} WHERE s.n = :n \\gset",
            USERS * SESSIONS_PER_USER
        )
    }

    /// The pgbench variable each captured parameter value of `pick`'s
    /// request stands for; other values stay literals.
    fn variables(self, pick: &Pick, captured: &[Captured]) -> HashMap<String, String> {
        let uid = pick.user.id.to_string();
        let params = || captured.iter().flat_map(|st| st.params.iter().flatten());
        let mut vars: HashMap<String, String> = HashMap::new();
        vars.insert(uid.clone(), "uid".into());
        for v in params().filter(|v| v.starts_with('{') && v.contains(&uid)) {
            vars.insert(v.clone(), "claims".into());
        }
        if self.one_session() {
            vars.insert(pick.session.to_string(), "sid".into());
        } else {
            for (k, s) in pick.user.sessions(self.domain()).iter().enumerate() {
                vars.insert(s.to_string(), format!("s{}", k + 1));
            }
        }
        if self == Scenario::M1 {
            vars.insert(pick.fresh.user_message.clone(), "ucid".into());
            vars.insert(pick.fresh.assistant_message.clone(), "acid".into());
            vars.insert(pick.fresh.completion.clone(), "ccid".into());
            // The gateway stamps the question and the answer itself.
            let mut stamps: Vec<&String> = params().filter(|v| looks_like_timestamp(v)).collect();
            stamps.sort();
            stamps.dedup();
            assert_eq!(
                stamps.len(),
                2,
                "M1: expected the two message timestamps among the parameters, found {stamps:?}"
            );
            vars.insert(stamps[0].clone(), "t1".into());
            vars.insert(stamps[1].clone(), "t2".into());
        }
        vars
    }
}

/// `YYYY-MM-DD HH:MI:SS...` (how the server logs a timestamptz parameter).
fn looks_like_timestamp(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() >= 19
        && b.iter().enumerate().take(19).all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

// ---------------------------------------------------------------------------
// Load generator
// ---------------------------------------------------------------------------

struct User {
    id: Uuid,
    bearer: String,
    /// Lift sessions, newest created first (empty unless Q1/Q2 run).
    lift_sessions: Vec<Uuid>,
    /// Chat sessions, most recently updated first at load time (empty
    /// unless Q3/M1 run).
    chat_sessions: Vec<Uuid>,
}

impl User {
    fn sessions(&self, domain: Domain) -> &[Uuid] {
        match domain {
            Domain::Lift => &self.lift_sessions,
            Domain::Chat => &self.chat_sessions,
        }
    }
}

/// The ids a chat client makes for each exchange (M1; empty otherwise).
#[derive(Default)]
struct Fresh {
    user_message: String,
    assistant_message: String,
    completion: String,
}

impl Fresh {
    fn new() -> Self {
        Fresh {
            user_message: Uuid::new_v4().to_string(),
            assistant_message: Uuid::new_v4().to_string(),
            completion: format!("gen-{}", Uuid::new_v4()),
        }
    }
}

/// One request's choices: the user, one of their sessions, fresh ids.
struct Pick<'a> {
    user: &'a User,
    session: Uuid,
    fresh: Fresh,
}

impl<'a> Pick<'a> {
    fn new(scenario: Scenario, user: &'a User, session_index: usize) -> Self {
        let sessions = user.sessions(scenario.domain());
        Pick {
            user,
            session: sessions[session_index % sessions.len()],
            fresh: if scenario == Scenario::M1 {
                Fresh::new()
            } else {
                Fresh::default()
            },
        }
    }

    fn random(scenario: Scenario, users: &'a [User], rng: &mut Rng) -> Self {
        let user = &users[rng.below(users.len())];
        Self::new(scenario, user, rng.below(SESSIONS_PER_USER))
    }
}

/// The `p`th percentile of sorted latencies (0 when empty).
fn percentile(sorted_us: &[u64], p: usize) -> u64 {
    match sorted_us.len() {
        0 => 0,
        n => sorted_us[(n * p / 100).min(n - 1)],
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
        percentile(&self.latencies_us, p)
    }
    fn max(&self) -> u64 {
        self.latencies_us.last().copied().unwrap_or(0)
    }
}

/// `BENCH_ACCEPT_ENCODING` (e.g. `gzip`): sent with every request, to
/// measure the gateway's CPU with response compression.
static ACCEPT_ENCODING: std::sync::LazyLock<Option<String>> =
    std::sync::LazyLock::new(|| std::env::var("BENCH_ACCEPT_ENCODING").ok());

async fn one_request(
    client: &reqwest::Client,
    url: &str,
    scenario: Scenario,
    pick: &Pick<'_>,
) -> Result<(), String> {
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .header("authorization", &pick.user.bearer);
    if let Some(encoding) = ACCEPT_ENCODING.as_deref() {
        request = request.header("accept-encoding", encoding);
    }
    let resp = request
        .body(scenario.body(pick))
        .send()
        .await
        .map_err(|e| format!("send: {e}"))?;
    let status = resp.status();
    let compressed = resp.headers().contains_key("content-encoding");
    let body = resp.bytes().await.map_err(|e| format!("body: {e}"))?;
    // A compressed body cannot be searched; its status still counts.
    let has_errors = !compressed && body.windows(8).any(|w| w == b"\"errors\"");
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
    scenario: Scenario,
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
                let pick = Pick::random(scenario, &users, &mut rng);
                let t = Instant::now();
                let result = one_request(&client, &url, scenario, &pick).await;
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

/// `v` as an SQL string literal that pgbench leaves alone: pgbench reads
/// `:name` anywhere in a statement as a variable (e.g. the `:free` of a model
/// id), so a value with a colon is written as a Unicode-escape literal
/// (`U&'...\003A...'`, the same string to the server).
fn sql_literal(v: &str) -> String {
    let quoted = v.replace('\'', "''");
    if v.contains(':') {
        format!(
            "U&'{}'",
            quoted.replace('\\', "\\005C").replace(':', "\\003A")
        )
    } else {
        format!("'{quoted}'")
    }
}

/// A parameter's value in a pgbench script: the variable holding it, an
/// array of the variables holding its elements (a parameter like the
/// parent ids of a nested page, `{id1,id2,...}`), or a literal.
fn script_value(v: &str, vars: &HashMap<String, String>) -> String {
    let var = |v: &str| vars.get(v).map(|var| format!(":{var}"));
    if let Some(found) = var(v) {
        return found;
    }
    let elements = v
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
        .filter(|inner| !inner.is_empty() && !inner.contains(['"', '\\']))
        .map(|inner| inner.split(',').collect::<Vec<_>>());
    match elements {
        Some(elements) if elements.iter().any(|e| vars.contains_key(*e)) => {
            let items: Vec<String> = elements
                .iter()
                .map(|e| var(e).unwrap_or_else(|| sql_literal(e)))
                .collect();
            format!("ARRAY[{}]", items.join(", "))
        }
        _ => sql_literal(v),
    }
}

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
                    Some(v) => sql.push_str(&script_value(&v, vars)),
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

/// With `BENCH_EXPLAIN=1`: the plans of a scenario's captured reads, each
/// re-run under `EXPLAIN (ANALYZE, BUFFERS)` with the request's role and
/// claims, in a transaction rolled back afterwards (writes are not re-run).
async fn explain(admin: &mut PgConnection, name: &str, statements: &[Captured]) {
    exec(admin, "BEGIN").await;
    for st in statements {
        let sql = pgbench_script("", std::slice::from_ref(st), &HashMap::new());
        let sql = sql.trim().trim_end_matches(';');
        let upper = sql.to_ascii_uppercase();
        if upper.starts_with("SELECT SET_CONFIG") {
            exec(admin, sql).await;
        } else if upper.starts_with("SELECT") {
            let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "EXPLAIN (ANALYZE, BUFFERS) {sql}"
            )))
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_else(|e| panic!("{e}\n--- in ---\n{sql}"));
            println!("--- plan ({name}) of: {sql}");
            for row in rows {
                println!("{}", row.get::<String, _>(0));
            }
        }
    }
    exec(admin, "ROLLBACK").await;
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
        percentile(&self.latencies_us, p)
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
    // A client that hits an error other than a serialization failure or
    // deadlock stops (the run then says so on stderr): count those too.
    let aborted = stderr.matches(" aborted in command ").count();
    let failed = find("number of failed transactions:").unwrap_or_else(|| "?".into());
    let failed = match aborted {
        0 => failed,
        n => format!("{failed}; {n} clients aborted"),
    };
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

/// One scenario through the gateway.
struct Measured {
    scenario: Scenario,
    load: LoadResult,
    rss_max_kib: u64,
    cpu: CpuUse,
}

struct GatewayRun {
    pool: u32,
    ready_in: Duration,
    rss_idle_kib: u64,
    rss_after_kib: u64,
    /// Idle RSS once the load generator's connections are closed.
    rss_closed_kib: u64,
    /// Idle RSS `BENCH_SETTLE_SECS` after the load.
    rss_settled_kib: u64,
    measured: Vec<Measured>,
}

/// A scenario's pgbench script, made from the statements captured once.
struct Script {
    scenario: Scenario,
    statements: usize,
    text: String,
}

fn main() {
    let secs: u64 = env_or("BENCH_SECS", 20);
    let concurrency: usize = env_or("BENCH_CONCURRENCY", 32);
    let settle = Duration::from_secs(env_or("BENCH_SETTLE_SECS", 45));
    let pool_sizes: Vec<u32> = std::env::var("BENCH_POOL_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|p| p.trim().parse().ok()).collect())
        .filter(|v: &Vec<u32>| !v.is_empty())
        .unwrap_or_else(|| vec![8]);
    let scenarios = Scenario::selected();
    let domains: Vec<Domain> = [Domain::Lift, Domain::Chat]
        .into_iter()
        .filter(|d| scenarios.iter().any(|s| s.domain() == *d))
        .collect();
    let names: Vec<&str> = scenarios.iter().map(|s| s.name()).collect();
    println!("scenarios: {}", names.join(", "));

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
        exec(&mut admin, USERS_SQL).await;
        if domains.contains(&Domain::Lift) {
            exec(&mut admin, LIFT_SQL).await;
        }
        if domains.contains(&Domain::Chat) {
            exec(&mut admin, &chat_sql()).await;
        }
        let insert_time = t.elapsed();
        let t2 = Instant::now();
        exec(&mut admin, "VACUUM ANALYZE").await;
        let vacuum_time = t2.elapsed();
        let counts = sqlx::query(
            "SELECT (SELECT count(*) FROM public.users), (SELECT count(*) FROM lift.sessions),
                    (SELECT count(*) FROM lift.session_revisions),
                    (SELECT count(*) FROM lift.session_drafts),
                    (SELECT count(*) FROM chat.chat_sessions),
                    (SELECT count(*) FROM chat.chat_messages),
                    pg_size_pretty(pg_database_size(current_database()))",
        )
        .fetch_one(&mut admin)
        .await
        .unwrap();
        println!(
            "loaded {} users, {} lift sessions, {} revisions, {} drafts, {} chat sessions, {} chat messages ({}) in {:.1} s (inserts {:.1} s, VACUUM ANALYZE {:.1} s)",
            counts.get::<i64, _>(0),
            counts.get::<i64, _>(1),
            counts.get::<i64, _>(2),
            counts.get::<i64, _>(3),
            counts.get::<i64, _>(4),
            counts.get::<i64, _>(5),
            counts.get::<String, _>(6),
            t.elapsed().as_secs_f64(),
            insert_time.as_secs_f64(),
            vacuum_time.as_secs_f64()
        );

        // --- tokens -----------------------------------------------------------
        let auth = hs256_authenticator(SECRET);
        let rows = sqlx::query(
            "SELECT u.id,
                    coalesce((SELECT array_agg(s.id ORDER BY s.created_at DESC, s.id DESC)
                              FROM lift.sessions AS s WHERE s.user_id = u.id), '{}'),
                    coalesce((SELECT array_agg(s.id ORDER BY s.updated_at DESC, s.id DESC)
                              FROM chat.chat_sessions AS s WHERE s.user_id = u.id), '{}')
             FROM public.bench_users AS u ORDER BY u.id",
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
                    bearer: bearer(&auth, id, Duration::from_secs(3600)),
                    lift_sessions: r.get(1),
                    chat_sessions: r.get(2),
                }
            })
            .collect();
        // iat/exp of the tokens, for the pgbench claims.
        let (iat, exp) = {
            let payload = users[0].bearer.split('.').nth(1).unwrap();
            let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap();
            let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
            (v["iat"].as_u64().unwrap(), v["exp"].as_u64().unwrap())
        };
        assert_eq!(users.len(), USERS);
        let users = Arc::new(users);
        for &domain in &domains {
            exec(&mut admin, &helper_sql(domain, exp, iat)).await;
            let (pages, sessions) = domain.helper_tables();
            exec(&mut admin, &format!("VACUUM ANALYZE {pages}, {sessions}")).await;
        }

        // One client per gateway run, dropped after it: the gateway's idle
        // RSS is measured with the 32 keep-alive connections still open and
        // again once they are closed.
        let new_client = || {
            reqwest::Client::builder()
                .pool_max_idle_per_host(concurrency)
                .pool_idle_timeout(Duration::from_secs(90))
                .tcp_nodelay(true)
                .build()
                .unwrap()
        };
        let gateway_url = cluster.url("gateway", DB_NAME);
        let postmaster = postmaster_pid(cluster.data_dir());

        // --- gateway runs ---------------------------------------------------------
        let mut runs: Vec<GatewayRun> = Vec::new();
        let mut scripts: Vec<Script> = Vec::new();
        for (i, &pool) in pool_sizes.iter().enumerate() {
            let client = new_client();
            let mut gw = spawn_gateway(
                &gateway_url,
                SECRET,
                &[
                    ("DB_POOL_SIZE", pool.to_string()),
                    ("STATEMENT_TIMEOUT_MS", STATEMENT_TIMEOUT_MS.to_string()),
                ],
            );
            let ready_in = wait_ready(&mut gw, &client).await;
            if scenarios.contains(&Scenario::Q2P) {
                register_q2(&client, &gw.base_url, &users[0]).await;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            let rss_idle_kib = rss_kib(gw.pid());
            println!(
                "gateway (DB_POOL_SIZE={pool}) ready in {:.0} ms, idle RSS {}",
                ready_in.as_secs_f64() * 1000.0,
                mib(rss_idle_kib)
            );
            if i == 0 {
                let url = format!("{}/graphql", gw.base_url);
                for &scenario in &scenarios {
                    let pick = Pick::new(scenario, &users[0], 3);
                    let statements =
                        capture(&mut admin, &log, one_request(&client, &url, scenario, &pick)).await;
                    if std::env::var_os("BENCH_EXPLAIN").is_some() {
                        explain(&mut admin, scenario.name(), &statements).await;
                    }
                    let vars = scenario.variables(&pick, &statements);
                    scripts.push(Script {
                        scenario,
                        statements: statements.len(),
                        text: pgbench_script(&scenario.lookup(), &statements, &vars),
                    });
                }
            }
            let mut measured = Vec::new();
            for &scenario in &scenarios {
                let sampler = RssSampler::start(gw.pid());
                let cpu = CpuSampler::start(Some(gw.pid()), postmaster, std::process::id());
                let load = run_load(&client, &gw.base_url, &users, scenario, concurrency, secs).await;
                let cpu = cpu.finish();
                let rss_max_kib = sampler.finish();
                report_load(scenario.name(), pool, &load, rss_max_kib);
                measured.push(Measured {
                    scenario,
                    load,
                    rss_max_kib,
                    cpu,
                });
            }
            let loaded = Instant::now();
            tokio::time::sleep(Duration::from_secs(2)).await;
            let rss_after_kib = rss_kib(gw.pid());
            let probe = new_client();
            let metrics_url = format!("{}/metrics", gw.base_url);
            println!(
                "2 s after the load: RSS {}; {}",
                mib(rss_after_kib),
                gateway_memory(gw.pid(), &probe, &metrics_url).await
            );
            drop(client);
            tokio::time::sleep(Duration::from_secs(2)).await;
            let rss_closed_kib = rss_kib(gw.pid());
            tokio::time::sleep((loaded + settle).saturating_duration_since(Instant::now())).await;
            let rss_settled_kib = rss_kib(gw.pid());
            println!(
                "{} s after the load, clients gone: RSS {}; {}",
                settle.as_secs(),
                mib(rss_settled_kib),
                gateway_memory(gw.pid(), &probe, &metrics_url).await
            );
            gw.stop();
            runs.push(GatewayRun {
                pool,
                ready_in,
                rss_idle_kib,
                rss_after_kib,
                rss_closed_kib,
                rss_settled_kib,
                measured,
            });
        }
        admin.close().await.ok();

        // --- pgbench ceiling ------------------------------------------------------
        let counts: Vec<String> = scripts
            .iter()
            .map(|s| format!("{} {}", s.scenario.name(), s.statements))
            .collect();
        println!("\n--- statements per request (incl. BEGIN/COMMIT): {} ---", counts.join(", "));
        for s in &scripts {
            println!("--- pgbench script {} ---\n{}", s.scenario.name(), s.text);
        }
        let mut ceilings: HashMap<Scenario, PgbenchResult> = HashMap::new();
        for s in &scripts {
            let name = s.scenario.name();
            let pg = run_pgbench(
                work_dir.path(),
                &name.to_lowercase(),
                &s.text,
                cluster.port(),
                postmaster,
                concurrency,
                secs,
            );
            println!(
                "pgbench {name}: {:.0} tps, latency average {:.2} ms, failed {}",
                pg.tps, pg.latency_avg_ms, pg.failed
            );
            println!("pgbench command: {}", pg.command);
            ceilings.insert(s.scenario, pg);
        }

        // --- tables -----------------------------------------------------------------
        println!("\n## API load: c={concurrency}, {secs} s per run, 2 cores\n");
        println!("| run | DB_POOL_SIZE | req/s | p50 | p90 | p99 | max | errors | % of pgbench |");
        println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        for r in &runs {
            for m in &r.measured {
                let res = &m.load;
                println!(
                    "| {} gateway | {} | {:.0} | {} | {} | {} | {} | {} | {:.0}% |",
                    m.scenario.name(),
                    r.pool,
                    res.rps(),
                    ms(res.pct(50)),
                    ms(res.pct(90)),
                    ms(res.pct(99)),
                    ms(res.max()),
                    res.errors,
                    100.0 * res.rps() / ceilings[&m.scenario].tps
                );
            }
        }
        for &scenario in &scenarios {
            let pg = &ceilings[&scenario];
            println!(
                "| {} pgbench | ({concurrency} conns) | {:.0} | {} | {} | {} | {} | {} | 100% |",
                scenario.name(),
                pg.tps,
                ms(pg.pct(50)),
                ms(pg.pct(90)),
                ms(pg.pct(99)),
                ms(pg.latencies_us.last().copied().unwrap_or(0)),
                pg.failed
            );
        }
        let under: Vec<String> = names.iter().map(|n| format!("max under {n}")).collect();
        println!(
            "\n| gateway RSS | DB_POOL_SIZE | idle (after start) | {} | idle after load | idle, clients gone | idle {} s after the load | ready in |",
            under.join(" | "),
            settle.as_secs()
        );
        println!("|{}", " --- |".repeat(7 + names.len()));
        for r in &runs {
            let peaks: Vec<String> = r.measured.iter().map(|m| mib(m.rss_max_kib)).collect();
            println!(
                "| | {} | {} | {} | {} | {} | {} | {:.0} ms |",
                r.pool,
                mib(r.rss_idle_kib),
                peaks.join(" | "),
                mib(r.rss_after_kib),
                mib(r.rss_closed_kib),
                mib(r.rss_settled_kib),
                r.ready_in.as_secs_f64() * 1000.0
            );
        }
        println!("\n| CPU per request (ms) | gateway | PostgreSQL | load generator | of 2 cores |");
        println!("| --- | --- | --- | --- | --- |");
        for r in &runs {
            for m in &r.measured {
                let label = format!("{} gateway, pool {}", m.scenario.name(), r.pool);
                let (requests, elapsed) = (m.load.requests as f64, m.load.elapsed.as_secs_f64());
                println!("{}", cpu_line(&label, &m.cpu, requests, elapsed));
            }
        }
        for &scenario in &scenarios {
            let pg = &ceilings[&scenario];
            let label = format!("{} pgbench", scenario.name());
            let transactions = pg.latencies_us.len() as f64;
            println!("{}", cpu_line(&label, &pg.cpu, transactions, secs as f64));
        }
        for r in &runs {
            for m in &r.measured {
                if let Some(e) = &m.load.first_error {
                    println!("first {} error (pool {}): {e}", m.scenario.name(), r.pool);
                }
            }
        }
    });
    drop(work_dir);
    cluster.stop().expect("stop");
}

/// Q2P: sends Q2 with its hash once (as Apollo's link does after
/// `PERSISTED_QUERY_NOT_FOUND`), so the gateway stores it and the load can
/// send the hash alone.
async fn register_q2(client: &reqwest::Client, base_url: &str, user: &User) {
    let pick = Pick::new(Scenario::Q2P, user, 0);
    let mut body: serde_json::Value = serde_json::from_str(&Scenario::Q2P.body(&pick)).unwrap();
    body["query"] = Q2.into();
    let url = format!("{base_url}/graphql");
    let resp = client
        .post(url)
        .header("content-type", "application/json")
        .header("authorization", &user.bearer)
        .body(body.to_string())
        .send()
        .await
        .expect("register Q2");
    let text = resp.text().await.unwrap_or_default();
    assert!(
        !text.contains("\"errors\""),
        "registering Q2's hash: {text}"
    );
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

/// What the gateway's RSS is made of (anonymous and file-backed pages) and
/// its pool and allocator figures from `/metrics`, as one line.
async fn gateway_memory(pid: u32, client: &reqwest::Client, metrics_url: &str) -> String {
    let rss = format!(
        "RssAnon {}, RssFile {}",
        mib(status_kib(pid, "RssAnon:")),
        mib(status_kib(pid, "RssFile:"))
    );
    let Ok(text) = async { client.get(metrics_url).send().await?.text().await }.await else {
        return format!("{rss}; no /metrics");
    };
    let metrics = text
        .lines()
        .filter(|l| {
            l.starts_with("gateway_allocator_bytes") || l.starts_with("gateway_db_pool_connections")
        })
        .map(|l| {
            let (name, value) = l.rsplit_once(' ').unwrap_or((l, ""));
            let name = name.trim_start_matches("gateway_");
            match name.starts_with("allocator") {
                true => format!("{name} {}", mib(value.parse::<u64>().unwrap_or(0) / 1024)),
                false => format!("{name} {value}"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!("{rss}; {metrics}")
}
