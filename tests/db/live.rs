//! Tests of `0007_live`: the `zz_live_notify` triggers announce each committed
//! row change on channel `gateway_live` with the documented payload (exact
//! keys; owner, session and workspace ids; `ts` equal to the feed column for
//! inserts), only at commit, with OLD's values for deletes, once per row, never
//! aborting the write; and the migration goes down and up on its own.
//!
//! Every test reads notifications up to a marker it sends itself on the same
//! channel: notifications arrive in commit order, so whatever precedes the
//! marker is everything committed before it, with no sleeping or timeouts.

use crate::common::{sqlx, TestDb, Tx};
use chrono::{DateTime, Utc};
use migration::{Migrator, MigratorTrait};
use serde_json::Value;
use sqlx::postgres::PgListener;
use std::collections::BTreeSet;
use std::time::Duration;
use uuid::Uuid;

const CHANNEL: &str = "gateway_live";

/// Every table with a `zz_live_notify` trigger.
const TABLES: [&str; 16] = [
    "analytics.alert_history",
    "analytics.daily_metrics",
    "analytics.hourly_metrics",
    "builder.analytics",
    "builder.prompts",
    "builder.responses",
    "builder.sessions",
    "builder.steps",
    "chat.chat_messages",
    "chat.chat_sessions",
    "lift.hole_resolutions",
    "lift.session_drafts",
    "lift.session_revisions",
    "lift.sessions",
    "prompt_lab.prompt_templates",
    "prompt_lab.template_likes",
];

/// The payload's keys, all of them.
const KEYS: [&str; 7] = [
    "id",
    "op",
    "session_id",
    "table",
    "ts",
    "user_id",
    "workspace_id",
];

/// One event without its timestamp, for comparing whole sets of events.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Ev {
    table: String,
    op: String,
    id: Uuid,
    user_id: Option<Uuid>,
    session_id: Option<Uuid>,
    workspace_id: Option<Uuid>,
}

fn ev(
    table: &str,
    op: &str,
    id: Uuid,
    user_id: Option<Uuid>,
    session_id: Option<Uuid>,
    workspace_id: Option<Uuid>,
) -> Ev {
    Ev {
        table: table.to_string(),
        op: op.to_string(),
        id,
        user_id,
        session_id,
        workspace_id,
    }
}

/// One received notification.
#[derive(Debug, Clone)]
struct Received {
    ev: Ev,
    ts: DateTime<Utc>,
}

/// Parses a payload, checking the contract: a JSON object with exactly
/// [`KEYS`], uuids or nulls, and `ts` as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
fn parse(payload: &str) -> Received {
    assert!(payload.len() < 1000, "payload too long: {payload}");
    let value: Value = serde_json::from_str(payload)
        .unwrap_or_else(|e| panic!("payload is not JSON ({e}): {payload}"));
    let obj = value
        .as_object()
        .unwrap_or_else(|| panic!("payload is not an object: {payload}"));
    let keys: BTreeSet<&str> = obj.keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(KEYS), "payload keys: {payload}");
    let text = |key: &str| -> String {
        obj[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} is not a string: {payload}"))
            .to_string()
    };
    let uuid = |key: &str| -> Option<Uuid> {
        match &obj[key] {
            Value::Null => None,
            Value::String(s) => Some(
                s.parse()
                    .unwrap_or_else(|e| panic!("{key} is not a uuid ({e}): {payload}")),
            ),
            other => panic!("{key} is {other}, not a uuid or null: {payload}"),
        }
    };
    let ts_text = text("ts");
    let shape_ok = ts_text.len() == 27
        && ts_text.ends_with('Z')
        && ts_text.as_bytes()[10] == b'T'
        && ts_text.as_bytes()[19] == b'.';
    assert!(shape_ok, "ts is not YYYY-MM-DDTHH:MM:SS.ffffffZ: {payload}");
    // Deserialized the way the gateway does (serde, chrono).
    let ts: DateTime<Utc> = serde_json::from_value(obj["ts"].clone())
        .unwrap_or_else(|e| panic!("ts does not parse ({e}): {payload}"));
    let op = text("op");
    assert!(
        ["INSERT", "UPDATE", "DELETE"].contains(&op.as_str()),
        "op: {payload}"
    );
    Received {
        ev: Ev {
            table: text("table"),
            op,
            id: uuid("id").unwrap_or_else(|| panic!("id is null: {payload}")),
            user_id: uuid("user_id"),
            session_id: uuid("session_id"),
            workspace_id: uuid("workspace_id"),
        },
        ts,
    }
}

/// A LISTEN connection to the test database.
struct Live {
    listener: PgListener,
    pool: sqlx::PgPool,
}

impl Live {
    async fn new(db: &TestDb) -> Self {
        let mut listener = PgListener::connect(&db.url)
            .await
            .expect("listener connects");
        listener.listen(CHANNEL).await.expect("LISTEN gateway_live");
        Self {
            listener,
            pool: db.pool.clone(),
        }
    }

    /// Every event committed since the last call: sends a marker and reads
    /// up to it.
    async fn drain(&mut self) -> Vec<Received> {
        let marker = format!("marker {}", Uuid::new_v4());
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(&marker)
            .execute(&self.pool)
            .await
            .expect("send the marker");
        let mut got = Vec::new();
        loop {
            let n = tokio::time::timeout(Duration::from_secs(20), self.listener.recv())
                .await
                .expect("the marker arrives")
                .expect("receive a notification");
            assert_eq!(n.channel(), CHANNEL);
            if n.payload() == marker {
                return got;
            }
            got.push(parse(n.payload()));
        }
    }
}

/// Asserts the events (timestamps aside) are exactly `want`, in any order.
#[track_caller]
fn assert_events(got: &[Received], mut want: Vec<Ev>) {
    let mut got: Vec<Ev> = got.iter().map(|r| r.ev.clone()).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

/// The `ts` of the one event of `table` / `op` about `id`.
#[track_caller]
fn ts_of(got: &[Received], table: &str, op: &str, id: Uuid) -> DateTime<Utc> {
    let hits: Vec<&Received> = got
        .iter()
        .filter(|r| r.ev.table == table && r.ev.op == op && r.ev.id == id)
        .collect();
    assert_eq!(hits.len(), 1, "one {op} event of {table} {id}: {got:?}");
    hits[0].ts
}

/// A timestamp column of one row, read back as the superuser.
async fn column_ts(db: &TestDb, table: &str, column: &str, id: Uuid) -> DateTime<Utc> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT {column} FROM {table} WHERE id = $1"
    )))
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .unwrap_or_else(|e| panic!("read {table}.{column}: {e}"))
}

async fn id_in(tx: &mut Tx, sql: &'static str, binds: &[Uuid]) -> Uuid {
    let mut query = sqlx::query_scalar(sql);
    for b in binds {
        query = query.bind(*b);
    }
    query
        .fetch_one(&mut **tx)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn id_of(db: &TestDb, sql: &'static str, binds: &[Uuid]) -> Uuid {
    let mut query = sqlx::query_scalar(sql);
    for b in binds {
        query = query.bind(*b);
    }
    query
        .fetch_one(&db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn exec_in(tx: &mut Tx, sql: &'static str, binds: &[Uuid]) {
    let mut query = sqlx::query(sql);
    for b in binds {
        query = query.bind(*b);
    }
    query
        .execute(&mut **tx)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn exec(db: &TestDb, sql: &'static str, binds: &[Uuid]) {
    let mut query = sqlx::query(sql);
    for b in binds {
        query = query.bind(*b);
    }
    query
        .execute(&db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn workspace(db: &TestDb, owner: Uuid) -> Uuid {
    id_of(
        db,
        "INSERT INTO public.workspaces (name, owner_id) VALUES ('W', $1) RETURNING id",
        &[owner],
    )
    .await
}

// ---------------------------------------------------------------------------
// Delivery
// ---------------------------------------------------------------------------

#[tokio::test]
async fn nothing_is_sent_before_commit_or_after_rollback() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let mut live = Live::new(&db).await;
    assert!(live.drain().await.is_empty(), "signing up sends nothing");

    let mut tx = db.as_user(alice).await;
    let session = id_in(
        &mut tx,
        "INSERT INTO lift.sessions (user_id, original_input) VALUES ($1, 'x') RETURNING id",
        &[alice],
    )
    .await;
    assert!(live.drain().await.is_empty(), "nothing before commit");
    tx.commit().await.expect("commit");
    assert_events(
        &live.drain().await,
        vec![ev(
            "lift.sessions",
            "INSERT",
            session,
            Some(alice),
            Some(session),
            None,
        )],
    );

    let mut tx = db.as_user(alice).await;
    exec_in(
        &mut tx,
        "INSERT INTO lift.sessions (user_id, original_input) VALUES ($1, 'y')",
        &[alice],
    )
    .await;
    exec_in(
        &mut tx,
        "UPDATE lift.sessions SET status = 'paused' WHERE id = $1",
        &[session],
    )
    .await;
    tx.rollback().await.expect("rollback");
    assert!(live.drain().await.is_empty(), "nothing after rollback");

    // A savepoint rolled back takes its events with it; the rest commits.
    let mut tx = db.as_user(alice).await;
    exec_in(&mut tx, "SAVEPOINT s", &[]).await;
    exec_in(
        &mut tx,
        "UPDATE lift.sessions SET status = 'paused' WHERE id = $1",
        &[session],
    )
    .await;
    exec_in(&mut tx, "ROLLBACK TO SAVEPOINT s", &[]).await;
    exec_in(
        &mut tx,
        "UPDATE lift.sessions SET status = 'error' WHERE id = $1",
        &[session],
    )
    .await;
    tx.commit().await.expect("commit");
    assert_events(
        &live.drain().await,
        vec![ev(
            "lift.sessions",
            "UPDATE",
            session,
            Some(alice),
            Some(session),
            None,
        )],
    );
}

// ---------------------------------------------------------------------------
// Payload per domain
// ---------------------------------------------------------------------------

#[tokio::test]
async fn lift_writes_notify_the_owner_with_created_at_as_ts() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let mut live = Live::new(&db).await;

    // As the owner, under RLS.
    let mut tx = db.as_user(alice).await;
    let s = id_in(
        &mut tx,
        "INSERT INTO lift.sessions (user_id, original_input) VALUES ($1, 'sort a list') RETURNING id",
        &[alice],
    )
    .await;
    let rev = id_in(
        &mut tx,
        "INSERT INTO lift.session_revisions (session_id, source, ir_content)
         VALUES ($1, 'initial', '{}') RETURNING id",
        &[s],
    )
    .await;
    let draft = id_in(
        &mut tx,
        "INSERT INTO lift.session_drafts (session_id, ir_revision_id, source, code_content)
         VALUES ($1, $2, 'initial_generation', 'def f(): pass') RETURNING id",
        &[s, rev],
    )
    .await;
    let hole = id_in(
        &mut tx,
        "INSERT INTO lift.hole_resolutions (session_id, ir_revision_id, hole_id, hole_type,
           resolution_method, resolved_value) VALUES ($1, $2, 'h1', 'type', 'inference', '\"int\"')
         RETURNING id",
        &[s, rev],
    )
    .await;
    tx.commit().await.expect("commit");

    let got = live.drain().await;
    let owned = |table: &str, op: &str, id: Uuid| ev(table, op, id, Some(alice), Some(s), None);
    assert_events(
        &got,
        vec![
            owned("lift.sessions", "INSERT", s),
            owned("lift.session_revisions", "INSERT", rev),
            owned("lift.session_drafts", "INSERT", draft),
            owned("lift.hole_resolutions", "INSERT", hole),
            // The three counters (revision_count, draft_count, hole_count).
            owned("lift.sessions", "UPDATE", s),
            owned("lift.sessions", "UPDATE", s),
            owned("lift.sessions", "UPDATE", s),
        ],
    );
    // ts is the row's created_at, which is also the event_time of its
    // lift.recent_activity event: a cursor from the event matches the feed.
    for (table, id) in [
        ("lift.sessions", s),
        ("lift.session_revisions", rev),
        ("lift.session_drafts", draft),
        ("lift.hole_resolutions", hole),
    ] {
        let ts = ts_of(&got, table, "INSERT", id);
        assert_eq!(ts, column_ts(&db, table, "created_at", id).await, "{table}");
        let event_time: DateTime<Utc> =
            sqlx::query_scalar("SELECT event_time FROM lift.recent_activity WHERE event_id = $1")
                .bind(id)
                .fetch_one(&db.pool)
                .await
                .expect("recent_activity row");
        assert_eq!(ts, event_time, "{table} vs recent_activity");
    }
    // Updates are stamped by the clock, after the transaction began.
    let created = column_ts(&db, "lift.sessions", "created_at", s).await;
    for r in got.iter().filter(|r| r.ev.op == "UPDATE") {
        assert!(r.ts > created, "{r:?} after {created}");
    }
}

#[tokio::test]
async fn builder_writes_notify_the_owner_and_the_session() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let mut live = Live::new(&db).await;

    let mut tx = db.as_user(alice).await;
    let s = id_in(
        &mut tx,
        "INSERT INTO builder.sessions (user_id, status) VALUES ($1, 'active') RETURNING id",
        &[alice],
    )
    .await;
    let p = id_in(
        &mut tx,
        "INSERT INTO builder.prompts (session_id, user_id, prompt_text)
         VALUES ($1, $2, 'predict churn') RETURNING id",
        &[s, alice],
    )
    .await;
    let r = id_in(
        &mut tx,
        "INSERT INTO builder.responses (prompt_id, user_id, response_text)
         VALUES ($1, $2, 'boosting') RETURNING id",
        &[p, alice],
    )
    .await;
    let st = id_in(
        &mut tx,
        "INSERT INTO builder.steps (session_id, user_id, step_type)
         VALUES ($1, $2, 'model_deploy') RETURNING id",
        &[s, alice],
    )
    .await;
    exec_in(
        &mut tx,
        "UPDATE builder.sessions SET status = 'completed' WHERE id = $1",
        &[s],
    )
    .await;
    tx.commit().await.expect("commit");
    let counters = id_of(
        &db,
        "SELECT id FROM builder.analytics WHERE user_id = $1",
        &[alice],
    )
    .await;

    let got = live.drain().await;
    let owned = |table: &str, op: &str, id: Uuid| ev(table, op, id, Some(alice), Some(s), None);
    let counter = |op: &str| ev("builder.analytics", op, counters, Some(alice), None, None);
    assert_events(
        &got,
        vec![
            owned("builder.sessions", "INSERT", s),
            owned("builder.prompts", "INSERT", p),
            owned("builder.responses", "INSERT", r),
            owned("builder.steps", "INSERT", st),
            owned("builder.sessions", "UPDATE", s),
            // Sessions, prompts, responses, decisions: the first creates the row.
            counter("INSERT"),
            counter("UPDATE"),
            counter("UPDATE"),
            counter("UPDATE"),
        ],
    );
    for (table, id) in [
        ("builder.prompts", p),
        ("builder.responses", r),
        ("builder.steps", st),
    ] {
        assert_eq!(
            ts_of(&got, table, "INSERT", id),
            column_ts(&db, table, "created_at", id).await,
            "{table}"
        );
    }
    // State rows are stamped by the clock, not by created_at.
    let created = column_ts(&db, "builder.sessions", "created_at", s).await;
    assert!(ts_of(&got, "builder.sessions", "INSERT", s) > created);
}

#[tokio::test]
async fn a_chat_message_notifies_itself_and_its_session_update() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let mut live = Live::new(&db).await;

    let mut tx = db.as_user(alice).await;
    let s = id_in(
        &mut tx,
        "INSERT INTO chat.chat_sessions (user_id, client_id, title) VALUES ($1, 'c1', 'Chat')
         RETURNING id",
        &[alice],
    )
    .await;
    tx.commit().await.expect("commit");
    let got = live.drain().await;
    assert_events(
        &got,
        vec![ev(
            "chat.chat_sessions",
            "INSERT",
            s,
            Some(alice),
            Some(s),
            None,
        )],
    );

    // The client's message_timestamp is in the past; the feed orders by
    // created_at.
    let mut tx = db.as_user(alice).await;
    let m = id_in(
        &mut tx,
        "INSERT INTO chat.chat_messages (session_id, user_id, client_id, role, content,
           input_tokens, message_timestamp)
         VALUES ($1, $2, 'm1', 'user', 'hello', 3, '2020-01-01T00:00:00Z') RETURNING id",
        &[s, alice],
    )
    .await;
    tx.commit().await.expect("commit");
    let got = live.drain().await;
    assert_events(
        &got,
        vec![
            ev(
                "chat.chat_messages",
                "INSERT",
                m,
                Some(alice),
                Some(s),
                None,
            ),
            // message_count / total_tokens / preview, by on_message_change.
            ev(
                "chat.chat_sessions",
                "UPDATE",
                s,
                Some(alice),
                Some(s),
                None,
            ),
        ],
    );
    let ts = ts_of(&got, "chat.chat_messages", "INSERT", m);
    assert_eq!(
        ts,
        column_ts(&db, "chat.chat_messages", "created_at", m).await
    );
    assert_ne!(
        ts,
        column_ts(&db, "chat.chat_messages", "message_timestamp", m).await
    );
}

#[tokio::test]
async fn prompt_lab_events_go_to_the_template_author() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;
    let prompt = id_of(
        &db,
        "INSERT INTO prompt_lab.prompts (user_id, title, goal, template, is_public)
         VALUES ($1, 'T', 'G', 'Say {{x}}', true) RETURNING id",
        &[alice],
    )
    .await;
    let mut live = Live::new(&db).await;

    let mut tx = db.as_user(alice).await;
    let t = id_in(
        &mut tx,
        "INSERT INTO prompt_lab.prompt_templates (prompt_id, user_id, category)
         VALUES ($1, $2, 'writing') RETURNING id",
        &[prompt, alice],
    )
    .await;
    tx.commit().await.expect("commit");
    let template = |op: &str| {
        ev(
            "prompt_lab.prompt_templates",
            op,
            t,
            Some(alice),
            Some(t),
            None,
        )
    };
    // A like is keyed (user_id, template_id): its id is the liker's.
    let like = |op: &str| {
        ev(
            "prompt_lab.template_likes",
            op,
            bob,
            Some(alice),
            Some(t),
            None,
        )
    };
    assert_events(&live.drain().await, vec![template("INSERT")]);

    // Bob likes: the like, and likes_count on the template.
    let mut tx = db.as_user(bob).await;
    exec_in(&mut tx, "SELECT prompt_lab.increment_likes_count($1)", &[t]).await;
    tx.commit().await.expect("commit");
    let got = live.drain().await;
    assert_events(&got, vec![like("INSERT"), template("UPDATE")]);
    let liked_at: DateTime<Utc> = sqlx::query_scalar(
        "SELECT created_at FROM prompt_lab.template_likes WHERE user_id = $1 AND template_id = $2",
    )
    .bind(bob)
    .bind(t)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        ts_of(&got, "prompt_lab.template_likes", "INSERT", bob),
        liked_at
    );

    // Bob uses it: uses_count.
    let mut tx = db.as_user(bob).await;
    exec_in(&mut tx, "SELECT prompt_lab.increment_uses_count($1)", &[t]).await;
    tx.commit().await.expect("commit");
    assert_events(&live.drain().await, vec![template("UPDATE")]);

    // Bob unlikes.
    let mut tx = db.as_user(bob).await;
    exec_in(&mut tx, "SELECT prompt_lab.decrement_likes_count($1)", &[t]).await;
    tx.commit().await.expect("commit");
    let got = live.drain().await;
    assert_events(&got, vec![like("DELETE"), template("UPDATE")]);
    assert!(ts_of(&got, "prompt_lab.template_likes", "DELETE", bob) > liked_at);

    // The author lookup runs under the writer's RLS: once the template is
    // unpublished, Bob no longer sees it, so his unlike names no author (the
    // likes_count UPDATE, run by the counter's owner, still does).
    like_as_superuser(&db, bob, t).await;
    exec(
        &db,
        "UPDATE prompt_lab.prompts SET is_public = false WHERE id = $1",
        &[prompt],
    )
    .await;
    live.drain().await;
    let mut tx = db.as_user(bob).await;
    exec_in(&mut tx, "SELECT prompt_lab.decrement_likes_count($1)", &[t]).await;
    tx.commit().await.expect("commit");
    assert_events(
        &live.drain().await,
        vec![
            ev(
                "prompt_lab.template_likes",
                "DELETE",
                bob,
                None,
                Some(t),
                None,
            ),
            template("UPDATE"),
        ],
    );
}

/// `user`'s like of `t`, written as the superuser.
async fn like_as_superuser(db: &TestDb, user: Uuid, t: Uuid) {
    exec(
        db,
        "INSERT INTO prompt_lab.template_likes (user_id, template_id) VALUES ($1, $2)",
        &[user, t],
    )
    .await;
}

#[tokio::test]
async fn analytics_events_carry_the_workspace() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let w = workspace(&db, alice).await;
    let mut live = Live::new(&db).await;

    // The service role's rollups, and an alert fired by evaluate_alert_rules.
    let mut tx = db.as_service().await;
    let daily = id_in(
        &mut tx,
        "INSERT INTO analytics.daily_metrics (metric_date, workspace_id, total_runs)
         VALUES (current_date, $1, 5) RETURNING id",
        &[w],
    )
    .await;
    let platform = id_in(
        &mut tx,
        "INSERT INTO analytics.daily_metrics (metric_date, workspace_id, total_runs)
         VALUES (current_date, NULL, 5) RETURNING id",
        &[],
    )
    .await;
    let hourly = id_in(
        &mut tx,
        "INSERT INTO analytics.hourly_metrics (metric_hour, workspace_id, total_runs)
         VALUES (date_trunc('hour', now()), $1, 2) RETURNING id",
        &[w],
    )
    .await;
    let rule = id_in(
        &mut tx,
        "INSERT INTO analytics.alert_rules (workspace_id, name, metric_type, condition, threshold_value)
         VALUES ($1, 'busy', 'total_runs', 'greater_than', 1) RETURNING id",
        &[w],
    )
    .await;
    exec_in(&mut tx, "SELECT analytics.evaluate_alert_rules()", &[]).await;
    tx.commit().await.expect("commit");
    let alert = id_of(
        &db,
        "SELECT id FROM analytics.alert_history WHERE alert_rule_id = $1",
        &[rule],
    )
    .await;
    let got = live.drain().await;
    assert_events(
        &got,
        vec![
            ev(
                "analytics.daily_metrics",
                "INSERT",
                daily,
                None,
                None,
                Some(w),
            ),
            ev(
                "analytics.daily_metrics",
                "INSERT",
                platform,
                None,
                None,
                None,
            ),
            ev(
                "analytics.hourly_metrics",
                "INSERT",
                hourly,
                None,
                None,
                Some(w),
            ),
            ev(
                "analytics.alert_history",
                "INSERT",
                alert,
                None,
                None,
                Some(w),
            ),
        ],
    );
    // An alert's feed column is triggered_at.
    assert_eq!(
        ts_of(&got, "analytics.alert_history", "INSERT", alert),
        column_ts(&db, "analytics.alert_history", "triggered_at", alert).await
    );

    // A backdated alert keeps its own triggered_at.
    let old = id_of(
        &db,
        "INSERT INTO analytics.alert_history (alert_rule_id, workspace_id, triggered_at)
         VALUES ($1, $2, '2026-01-02T03:04:05.678901Z') RETURNING id",
        &[rule, w],
    )
    .await;
    let got = live.drain().await;
    assert_eq!(
        ts_of(&got, "analytics.alert_history", "INSERT", old),
        "2026-01-02T03:04:05.678901Z"
            .parse::<DateTime<Utc>>()
            .unwrap()
    );

    // A member acknowledges: an UPDATE, still the workspace's, no user.
    let mut tx = db.as_user(alice).await;
    exec_in(
        &mut tx,
        "UPDATE analytics.alert_history SET acknowledged_by = $1, acknowledged_at = now()
         WHERE id = $2",
        &[alice, alert],
    )
    .await;
    tx.commit().await.expect("commit");
    assert_events(
        &live.drain().await,
        vec![ev(
            "analytics.alert_history",
            "UPDATE",
            alert,
            None,
            None,
            Some(w),
        )],
    );
}

// ---------------------------------------------------------------------------
// Updates and deletes
// ---------------------------------------------------------------------------

#[tokio::test]
async fn delete_notifies_with_the_old_values() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let s = id_of(
        &db,
        "INSERT INTO lift.sessions (user_id, original_input) VALUES ($1, 'x') RETURNING id",
        &[alice],
    )
    .await;
    let rev = id_of(
        &db,
        "INSERT INTO lift.session_revisions (session_id, source, ir_content)
         VALUES ($1, 'initial', '{}') RETURNING id",
        &[s],
    )
    .await;
    let draft = id_of(
        &db,
        "INSERT INTO lift.session_drafts (session_id, source, code_content)
         VALUES ($1, 'user_edit', 'x') RETURNING id",
        &[s],
    )
    .await;
    let chat = id_of(
        &db,
        "INSERT INTO chat.chat_sessions (user_id, client_id) VALUES ($1, 'c') RETURNING id",
        &[alice],
    )
    .await;
    let m = id_of(
        &db,
        "INSERT INTO chat.chat_messages (session_id, user_id, client_id, role, content)
         VALUES ($1, $2, 'm', 'user', 'hi') RETURNING id",
        &[chat, alice],
    )
    .await;
    let mut live = Live::new(&db).await;

    // One child: its own values, and the counter update of its session.
    let mut tx = db.as_user(alice).await;
    exec_in(
        &mut tx,
        "DELETE FROM lift.session_drafts WHERE id = $1",
        &[draft],
    )
    .await;
    tx.commit().await.expect("commit");
    let got = live.drain().await;
    assert_events(
        &got,
        vec![
            ev(
                "lift.session_drafts",
                "DELETE",
                draft,
                Some(alice),
                Some(s),
                None,
            ),
            ev("lift.sessions", "UPDATE", s, Some(alice), Some(s), None),
        ],
    );
    let created = column_ts(&db, "lift.sessions", "created_at", s).await;
    assert!(ts_of(&got, "lift.session_drafts", "DELETE", draft) > created);

    // The whole session: the cascaded child's parent is gone by the time its
    // trigger runs, so it names no owner, but still its session.
    let mut tx = db.as_user(alice).await;
    exec_in(&mut tx, "DELETE FROM lift.sessions WHERE id = $1", &[s]).await;
    tx.commit().await.expect("commit");
    assert_events(
        &live.drain().await,
        vec![
            ev("lift.sessions", "DELETE", s, Some(alice), Some(s), None),
            ev("lift.session_revisions", "DELETE", rev, None, Some(s), None),
        ],
    );

    // A chat message: UPDATE with NEW's values, DELETE with OLD's.
    let mut tx = db.as_user(alice).await;
    exec_in(
        &mut tx,
        "UPDATE chat.chat_messages SET content = 'edited' WHERE id = $1",
        &[m],
    )
    .await;
    tx.commit().await.expect("commit");
    let got = live.drain().await;
    let message = |op: &str| ev("chat.chat_messages", op, m, Some(alice), Some(chat), None);
    let session = ev(
        "chat.chat_sessions",
        "UPDATE",
        chat,
        Some(alice),
        Some(chat),
        None,
    );
    assert_eq!(
        got.iter()
            .filter(|r| r.ev.table == "chat.chat_messages")
            .map(|r| r.ev.clone())
            .collect::<Vec<_>>(),
        vec![message("UPDATE")]
    );
    assert!(got
        .iter()
        .filter(|r| r.ev.table != "chat.chat_messages")
        .all(|r| r.ev == session));

    let mut tx = db.as_user(alice).await;
    exec_in(
        &mut tx,
        "DELETE FROM chat.chat_messages WHERE id = $1",
        &[m],
    )
    .await;
    tx.commit().await.expect("commit");
    let got = live.drain().await;
    assert_eq!(
        got.iter()
            .filter(|r| r.ev.table == "chat.chat_messages")
            .map(|r| r.ev.clone())
            .collect::<Vec<_>>(),
        vec![message("DELETE")]
    );
    assert!(got.iter().any(|r| r.ev == session), "stats of the session");
}

// ---------------------------------------------------------------------------
// Every table, once
// ---------------------------------------------------------------------------

#[tokio::test]
async fn an_insert_into_every_listed_table_notifies_exactly_once() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;
    let w = workspace(&db, alice).await;
    let prompt = id_of(
        &db,
        "INSERT INTO prompt_lab.prompts (user_id, title, goal, template, is_public)
         VALUES ($1, 'T', 'G', 'x', true) RETURNING id",
        &[alice],
    )
    .await;
    let rule = id_of(
        &db,
        "INSERT INTO analytics.alert_rules (workspace_id, name, metric_type, condition, threshold_value)
         VALUES ($1, 'r', 'total_runs', 'greater_than', 1) RETURNING id",
        &[w],
    )
    .await;
    let mut live = Live::new(&db).await;

    // (table, insert returning the row's id (a like: its user), binds).
    let mut seen = BTreeSet::new();
    let mut ids: std::collections::HashMap<&str, Uuid> = Default::default();
    let steps: [(&str, &'static str); 16] = [
        (
            "lift.sessions",
            "INSERT INTO lift.sessions (user_id, original_input) VALUES ($1, 'x') RETURNING id",
        ),
        (
            "lift.session_revisions",
            "INSERT INTO lift.session_revisions (session_id, source, ir_content)
             VALUES ($1, 'initial', '{}') RETURNING id",
        ),
        (
            "lift.session_drafts",
            "INSERT INTO lift.session_drafts (session_id, source, code_content)
             VALUES ($1, 'user_edit', 'x') RETURNING id",
        ),
        (
            "lift.hole_resolutions",
            "INSERT INTO lift.hole_resolutions (session_id, hole_id, hole_type, resolution_method,
               resolved_value) VALUES ($1, 'h', 'type', 'default', '1') RETURNING id",
        ),
        (
            "builder.sessions",
            "INSERT INTO builder.sessions (user_id) VALUES ($1) RETURNING id",
        ),
        (
            "builder.prompts",
            "INSERT INTO builder.prompts (session_id, user_id, prompt_text)
             SELECT id, user_id, 'p' FROM builder.sessions WHERE id = $1 RETURNING id",
        ),
        (
            "builder.responses",
            "INSERT INTO builder.responses (prompt_id, user_id, response_text)
             SELECT id, user_id, 'r' FROM builder.prompts WHERE id = $1 RETURNING id",
        ),
        (
            "builder.steps",
            "INSERT INTO builder.steps (session_id, user_id, step_type)
             SELECT id, user_id, 'train' FROM builder.sessions WHERE id = $1 RETURNING id",
        ),
        (
            "builder.analytics",
            "INSERT INTO builder.analytics (user_id) VALUES ($1) RETURNING id",
        ),
        (
            "chat.chat_sessions",
            "INSERT INTO chat.chat_sessions (user_id, client_id) VALUES ($1, 'c') RETURNING id",
        ),
        (
            "chat.chat_messages",
            "INSERT INTO chat.chat_messages (session_id, user_id, client_id, role, content)
             SELECT id, user_id, 'm', 'user', 'hi' FROM chat.chat_sessions WHERE id = $1
             RETURNING id",
        ),
        (
            "prompt_lab.prompt_templates",
            "INSERT INTO prompt_lab.prompt_templates (prompt_id, user_id) VALUES ($1, $2)
             RETURNING id",
        ),
        (
            "prompt_lab.template_likes",
            "INSERT INTO prompt_lab.template_likes (user_id, template_id) VALUES ($2, $1)
             RETURNING user_id",
        ),
        (
            "analytics.alert_history",
            "INSERT INTO analytics.alert_history (alert_rule_id, workspace_id) VALUES ($1, $2)
             RETURNING id",
        ),
        (
            "analytics.daily_metrics",
            "INSERT INTO analytics.daily_metrics (metric_date, workspace_id)
             VALUES (current_date, $1) RETURNING id",
        ),
        (
            "analytics.hourly_metrics",
            "INSERT INTO analytics.hourly_metrics (metric_hour, workspace_id)
             VALUES (date_trunc('hour', now()), $1) RETURNING id",
        ),
    ];
    for (table, sql) in steps {
        let binds: Vec<Uuid> = match table {
            "lift.sessions" | "builder.sessions" | "chat.chat_sessions" => vec![alice],
            "lift.session_revisions" | "lift.session_drafts" | "lift.hole_resolutions" => {
                vec![ids["lift.sessions"]]
            }
            "builder.prompts" | "builder.steps" => vec![ids["builder.sessions"]],
            "builder.responses" => vec![ids["builder.prompts"]],
            "builder.analytics" => vec![bob],
            "chat.chat_messages" => vec![ids["chat.chat_sessions"]],
            "prompt_lab.prompt_templates" => vec![prompt, alice],
            "prompt_lab.template_likes" => vec![ids["prompt_lab.prompt_templates"], bob],
            "analytics.alert_history" => vec![rule, w],
            _ => vec![w],
        };
        let id = id_of(&db, sql, &binds).await;
        ids.insert(table, id);
        let got = live.drain().await;
        let own: Vec<&Received> = got.iter().filter(|r| r.ev.table == table).collect();
        assert_eq!(own.len(), 1, "{table}: {got:?}");
        assert_eq!(
            (own[0].ev.op.as_str(), own[0].ev.id),
            ("INSERT", id),
            "{table}"
        );
        // Side effects are the counters' and statistics' UPDATEs, and the
        // first builder.analytics row of a user.
        for r in got.iter().filter(|r| r.ev.table != table) {
            assert!(
                r.ev.op == "UPDATE"
                    || (table == "builder.sessions" && r.ev.table == "builder.analytics"),
                "{table}: unexpected {r:?}"
            );
        }
        seen.insert(table);
    }
    assert_eq!(seen, BTreeSet::from(TABLES));
}

// ---------------------------------------------------------------------------
// Robustness, privileges, catalog
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_failing_lookup_never_aborts_the_write() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let s = id_of(
        &db,
        "INSERT INTO lift.sessions (user_id, original_input) VALUES ($1, 'x') RETURNING id",
        &[alice],
    )
    .await;
    // The writer may insert drafts but not read sessions: the owner lookup
    // fails with insufficient_privilege inside the trigger.
    exec(&db, "REVOKE SELECT ON lift.sessions FROM service_role", &[]).await;
    let mut live = Live::new(&db).await;
    let mut tx = db.as_service().await;
    let draft = id_in(
        &mut tx,
        "INSERT INTO lift.session_drafts (session_id, draft_number, source, code_content)
         VALUES ($1, 1, 'user_edit', 'x') RETURNING id",
        &[s],
    )
    .await;
    tx.commit().await.expect("the write commits");
    let got = live.drain().await;
    assert_events(
        &got,
        vec![
            ev("lift.session_drafts", "INSERT", draft, None, Some(s), None),
            ev("lift.sessions", "UPDATE", s, Some(alice), Some(s), None),
        ],
    );

    // A table the function has no rule for: the write goes through, silently.
    exec(
        &db,
        "CREATE TRIGGER zz_live_notify AFTER INSERT ON public.workspaces
           FOR EACH ROW EXECUTE FUNCTION live.notify()",
        &[],
    )
    .await;
    workspace(&db, alice).await;
    assert!(live.drain().await.is_empty());
}

#[tokio::test]
async fn the_function_is_invoker_rights_pinned_and_not_executable_by_public() {
    let db = TestDb::new().await;
    let (definer, config, public_exec): (bool, Vec<String>, bool) = sqlx::query_as(
        "SELECT p.prosecdef, coalesce(p.proconfig, '{}'),
                p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a
                                             WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
           FROM pg_proc p WHERE p.oid = 'live.notify()'::regprocedure",
    )
    .fetch_one(&db.pool)
    .await
    .expect("live.notify() exists");
    assert!(!definer, "SECURITY INVOKER");
    assert_eq!(config, vec!["search_path=pg_catalog, pg_temp".to_string()]);
    assert!(!public_exec, "no EXECUTE for PUBLIC");
    let usage: bool = sqlx::query_scalar(
        "SELECT has_schema_privilege('authenticated', 'live', 'USAGE')
             OR has_schema_privilege('anon', 'live', 'USAGE')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(!usage, "API roles have no use for the live schema");
}

#[tokio::test]
async fn the_triggers_are_after_row_on_exactly_the_listed_tables() {
    let db = TestDb::new().await;
    // tgtype bits: 1 ROW, 2 BEFORE, 4 INSERT, 8 DELETE, 16 UPDATE, 32 TRUNCATE, 64 INSTEAD.
    let rows: Vec<(String, i16, String, bool)> = sqlx::query_as(
        "SELECT n.nspname || '.' || c.relname, t.tgtype, t.tgfoid::regprocedure::text,
                t.tgenabled = 'O'
           FROM pg_trigger t
           JOIN pg_class c ON c.oid = t.tgrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE t.tgname = 'zz_live_notify' OR t.tgfoid = 'live.notify()'::regprocedure
          ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let tables: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(tables, TABLES.to_vec());
    for (table, tgtype, function, enabled) in &rows {
        assert_eq!(
            *tgtype,
            1 | 4 | 8 | 16,
            "{table}: AFTER ROW INSERT/UPDATE/DELETE"
        );
        assert_eq!(function, "live.notify()", "{table}");
        assert!(enabled, "{table}");
    }
}

// ---------------------------------------------------------------------------
// 0010: batched reads
// ---------------------------------------------------------------------------

fn claims_of(user: Uuid) -> String {
    serde_json::json!({ "sub": user, "role": "authenticated", "aud": "authenticated" }).to_string()
}

#[tokio::test]
async fn alert_history_as_reads_each_viewers_rows_as_that_viewer_and_only_for_the_gateway() {
    use sqlx::Connection;
    let db = TestDb::new().await;
    let owner = db.create_user("owner@example.com").await;
    let member = db.create_user("member@example.com").await;
    let outsider = db.create_user("outsider@example.com").await;
    let ws = id_of(
        &db,
        "INSERT INTO public.workspaces (name, owner_id) VALUES ('W', $1) RETURNING id",
        &[owner],
    )
    .await;
    exec(
        &db,
        "INSERT INTO public.workspace_members (workspace_id, user_id, role) VALUES ($1, $2, 'member')",
        &[ws, member],
    )
    .await;
    let rule = id_of(
        &db,
        "INSERT INTO analytics.alert_rules (workspace_id, name, metric_type, condition, threshold_value)
         VALUES ($1, 'busy', 'total_runs', 'greater_than', 1) RETURNING id",
        &[ws],
    )
    .await;
    let alert = id_of(
        &db,
        "INSERT INTO analytics.alert_history (alert_rule_id, workspace_id, metric_value)
         VALUES ($1, $2, 5) RETURNING id",
        &[rule, ws],
    )
    .await;

    let mut gateway = sqlx::PgConnection::connect(&db.url_as("gateway"))
        .await
        .expect("connect as the gateway role");
    let mut tx = gateway.begin().await.unwrap();
    let call = "SELECT viewer, id FROM live.alert_history_as($1, $2, $3, $4) ORDER BY viewer";
    let rows: Vec<(i32, Uuid)> = sqlx::query_as(call)
        .bind(vec![
            "authenticated",
            "service_role",
            "authenticated",
            "authenticated",
            "anon",
        ])
        .bind(vec![
            claims_of(owner),
            r#"{"role":"service_role"}"#.to_string(),
            claims_of(outsider),
            claims_of(member),
            r#"{"role":"anon"}"#.to_string(),
        ])
        .bind(vec![alert])
        .bind(ws)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(
        rows,
        vec![(1, alert), (2, alert), (4, alert)],
        "owner, service role and member see the alert; the outsider (3), read right \
         after the service role (the role must switch back), and anon (5) do not"
    );
    let (user, claims): (String, String) = sqlx::query_as(
        "SELECT current_user::text, coalesce(current_setting('request.jwt.claims', true), '')",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(
        (user.as_str(), claims.as_str()),
        ("gateway", ""),
        "the caller's role is back"
    );
    tx.rollback().await.unwrap();

    // Refusals: mismatched arrays, a role outside the API's three.
    for (roles, claims) in [
        (vec!["authenticated"], vec![]),
        (vec!["postgres"], vec![claims_of(owner)]),
    ] {
        let mut attempt = gateway.begin().await.unwrap();
        let err = crate::common::db_error(
            sqlx::query(call)
                .bind(roles)
                .bind(claims)
                .bind(vec![alert])
                .bind(ws)
                .fetch_all(&mut *attempt)
                .await,
        );
        assert_eq!(err.code, "22023", "{err:?}");
    }

    // Only the gateway may call it: as an API role it is refused.
    let mut as_user = db.as_user(member).await;
    let err = crate::common::db_error(
        sqlx::query(call)
            .bind(vec!["authenticated"])
            .bind(vec![claims_of(owner)])
            .bind(vec![alert])
            .bind(ws)
            .fetch_all(&mut *as_user)
            .await,
    );
    assert_eq!(err.code, "42501", "{err:?}");
    let (definer, config, public_exec): (bool, Vec<String>, bool) = sqlx::query_as(
        "SELECT p.prosecdef, coalesce(p.proconfig, '{}'),
                p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a
                                             WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
           FROM pg_proc p
          WHERE p.oid = 'live.alert_history_as(text[], text[], uuid[], uuid)'::regprocedure",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(!definer, "SECURITY INVOKER");
    assert_eq!(config, vec!["search_path=pg_catalog, pg_temp".to_string()]);
    assert!(!public_exec, "no EXECUTE for PUBLIC");
}

// ---------------------------------------------------------------------------
// The migration on its own
// ---------------------------------------------------------------------------

#[tokio::test]
async fn down_then_up_of_0007_alone_removes_and_restores_the_events() {
    let db = TestDb::new().await;
    let orm = db.orm().await;
    let alice = db.create_user("alice@example.com").await;
    let s = id_of(
        &db,
        "INSERT INTO lift.sessions (user_id, original_input) VALUES ($1, 'x') RETURNING id",
        &[alice],
    )
    .await;
    let mut live = Live::new(&db).await;
    live.drain().await;

    // 0007 and every migration after it go down.
    let after_0006 = Migrator::migrations().len() as u32 - 6;
    Migrator::down(&orm, Some(after_0006))
        .await
        .expect("down to 0006");
    let applied = Migrator::get_applied_migrations(&orm).await.unwrap();
    assert_eq!(
        applied.last().map(|m| m.name().to_string()),
        Some("m20261122_000006_prompt_lab".to_string())
    );
    let (schema, triggers): (bool, i64) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'live'),
                (SELECT count(*) FROM pg_trigger WHERE tgname = 'zz_live_notify')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((schema, triggers), (false, 0));
    // Writes work and stay silent; the domain's own triggers still count.
    exec(
        &db,
        "INSERT INTO lift.session_drafts (session_id, source, code_content)
         VALUES ($1, 'user_edit', 'x')",
        &[s],
    )
    .await;
    assert!(live.drain().await.is_empty());
    let drafts: i32 = sqlx::query_scalar("SELECT draft_count FROM lift.sessions WHERE id = $1")
        .bind(s)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(drafts, 1);

    // Running down.sql again (as `fresh` does) is harmless.
    sqlx::raw_sql(include_str!("../../migration/sql/0007_live/down.sql"))
        .execute(&db.pool)
        .await
        .expect("down.sql twice");

    Migrator::up(&orm, None).await.expect("up again");
    let draft = id_of(
        &db,
        "INSERT INTO lift.session_drafts (session_id, source, code_content)
         VALUES ($1, 'user_edit', 'y') RETURNING id",
        &[s],
    )
    .await;
    assert_events(
        &live.drain().await,
        vec![
            ev(
                "lift.session_drafts",
                "INSERT",
                draft,
                Some(alice),
                Some(s),
                None,
            ),
            ev("lift.sessions", "UPDATE", s, Some(alice), Some(s), None),
        ],
    );
}
