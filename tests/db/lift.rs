//! Tests of the `lift` schema (seed 001): counter, numbering, `updated_at`,
//! `finalized_at` and immutability triggers; same-session revision links; the
//! four views against hand-computed fixtures; owner isolation per table;
//! constraints; and every entity against its table or view.

use crate::common::{self, sqlx, TestDb};
use rust_decimal::Decimal;
use std::str::FromStr;
use std::sync::Arc;
use uuid::Uuid;

/// The four data tables of the schema.
const TABLES: [&str; 4] = [
    "sessions",
    "session_revisions",
    "session_drafts",
    "hole_resolutions",
];

/// The four views of the schema.
const VIEWS: [&str; 4] = [
    "session_summary",
    "user_analytics",
    "recent_activity",
    "draft_validation_stats",
];

fn q(sql: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql)
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).expect("decimal literal")
}

/// A session of `user`, written as the superuser.
async fn session(db: &TestDb, user: Uuid, status: &str) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO lift.sessions (user_id, status, original_input)
         VALUES ($1, $2, 'sort a list') RETURNING id",
    )
    .bind(user)
    .bind(status)
    .fetch_one(&db.pool)
    .await
    .expect("insert session")
}

/// A revision with the next number, written as the superuser.
async fn revision(db: &TestDb, session: Uuid) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO lift.session_revisions (session_id, source, ir_content)
         VALUES ($1, 'refinement', '{\"intent\": \"sort\"}') RETURNING id",
    )
    .bind(session)
    .fetch_one(&db.pool)
    .await
    .expect("insert revision")
}

/// Validation and cost figures of one draft fixture.
struct Draft {
    rev: Option<Uuid>,
    syntax: bool,
    ast: bool,
    gen_ms: Option<i32>,
    val_ms: Option<i32>,
    tokens: Option<i32>,
    cost: Option<&'static str>,
}

/// A draft with the next number, written as the superuser.
async fn draft(db: &TestDb, session: Uuid, d: Draft) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO lift.session_drafts (session_id, ir_revision_id, source, code_content,
           syntax_valid, ast_valid, generation_time_ms, validation_time_ms, llm_tokens_used,
           llm_cost_usd)
         VALUES ($1, $2, 'initial_generation', 'def f(): pass', $3, $4, $5, $6, $7, $8::numeric)
         RETURNING id",
    )
    .bind(session)
    .bind(d.rev)
    .bind(d.syntax)
    .bind(d.ast)
    .bind(d.gen_ms)
    .bind(d.val_ms)
    .bind(d.tokens)
    .bind(d.cost)
    .fetch_one(&db.pool)
    .await
    .expect("insert draft")
}

/// A plain draft (no revision, no figures).
async fn plain_draft(db: &TestDb, session: Uuid) -> Uuid {
    draft(
        db,
        session,
        Draft {
            rev: None,
            syntax: true,
            ast: true,
            gen_ms: None,
            val_ms: None,
            tokens: None,
            cost: None,
        },
    )
    .await
}

/// A hole resolution, written as the superuser.
async fn resolution(db: &TestDb, session: Uuid, rev: Option<Uuid>, hole: &str) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO lift.hole_resolutions (session_id, ir_revision_id, hole_id, hole_type,
           resolution_method, resolved_value, confidence_score)
         VALUES ($1, $2, $3, 'type', 'ai_suggestion', '\"int\"', 0.85) RETURNING id",
    )
    .bind(session)
    .bind(rev)
    .bind(hole)
    .fetch_one(&db.pool)
    .await
    .expect("insert resolution")
}

/// `(revision_count, draft_count, hole_count)` of a session.
async fn counters(db: &TestDb, session: Uuid) -> (i32, i32, i32) {
    sqlx::query_as(
        "SELECT revision_count, draft_count, hole_count FROM lift.sessions WHERE id = $1",
    )
    .bind(session)
    .fetch_one(&db.pool)
    .await
    .expect("read counters")
}

/// Sets a session's timestamps with triggers off (fixtures only).
async fn set_times(
    db: &TestDb,
    session: Uuid,
    created: &str,
    updated: &str,
    finalized: Option<&str>,
) {
    let mut tx = db.pool.begin().await.expect("begin");
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .expect("disable triggers");
    sqlx::query(
        "UPDATE lift.sessions SET created_at = $2::timestamptz, updated_at = $3::timestamptz,
           finalized_at = $4::timestamptz WHERE id = $1",
    )
    .bind(session)
    .bind(created)
    .bind(updated)
    .bind(finalized)
    .execute(&mut *tx)
    .await
    .expect("set times");
    tx.commit().await.expect("commit");
}

/// Row count of `schema.relation` as seen by the transaction.
async fn count(tx: &mut common::Tx, relation: &str) -> i64 {
    sqlx::query_scalar(q(format!("SELECT count(*) FROM lift.{relation}")))
        .fetch_one(&mut **tx)
        .await
        .unwrap_or_else(|e| panic!("count lift.{relation}: {e}"))
}

/// The hand-computed fixture behind the view tests.
struct Fixture {
    alice: Uuid,
    bob: Uuid,
    /// Alice: finalized after 1 h, 2 revisions, 3 drafts, 2 resolutions.
    s1: Uuid,
    /// Alice: active, 1 revision, 2 drafts.
    s2: Uuid,
    /// Alice: error, nothing in it.
    s3: Uuid,
    /// Alice: finalized after 30 min, nothing in it.
    s4: Uuid,
    /// Bob: one session with one expensive draft.
    b1: Uuid,
    r1: Uuid,
    d1: Uuid,
}

async fn fixture(db: &TestDb) -> Fixture {
    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;

    let s1 = session(db, alice, "finalized").await;
    let r1 = revision(db, s1).await;
    let r2 = revision(db, s1).await;
    let d1 = draft(
        db,
        s1,
        Draft {
            rev: Some(r1),
            syntax: true,
            ast: false,
            gen_ms: Some(100),
            val_ms: Some(10),
            tokens: Some(1000),
            cost: Some("0.010000"),
        },
    )
    .await;
    draft(
        db,
        s1,
        Draft {
            rev: Some(r2),
            syntax: false,
            ast: false,
            gen_ms: Some(200),
            val_ms: None,
            tokens: Some(2000),
            cost: Some("0.020000"),
        },
    )
    .await;
    // The latest draft is the only fully valid one.
    draft(
        db,
        s1,
        Draft {
            rev: None,
            syntax: true,
            ast: true,
            gen_ms: None,
            val_ms: Some(30),
            tokens: None,
            cost: Some("0.005000"),
        },
    )
    .await;
    resolution(db, s1, Some(r1), "h1").await;
    resolution(db, s1, Some(r2), "h2").await;

    let s2 = session(db, alice, "active").await;
    let r3 = revision(db, s2).await;
    // Fully valid first, invalid latest.
    draft(
        db,
        s2,
        Draft {
            rev: Some(r3),
            syntax: true,
            ast: true,
            gen_ms: Some(50),
            val_ms: Some(5),
            tokens: Some(100),
            cost: Some("0.001000"),
        },
    )
    .await;
    draft(
        db,
        s2,
        Draft {
            rev: Some(r3),
            syntax: true,
            ast: false,
            gen_ms: Some(70),
            val_ms: Some(7),
            tokens: Some(300),
            cost: Some("0.002000"),
        },
    )
    .await;

    let s3 = session(db, alice, "error").await;
    let s4 = session(db, alice, "finalized").await;

    let b1 = session(db, bob, "active").await;
    draft(
        db,
        b1,
        Draft {
            rev: None,
            syntax: true,
            ast: true,
            gen_ms: Some(9),
            val_ms: Some(9),
            tokens: Some(9999),
            cost: Some("1.000000"),
        },
    )
    .await;

    set_times(
        db,
        s1,
        "2026-01-01T00:00:00Z",
        "2026-01-01T02:00:00Z",
        Some("2026-01-01T01:00:00Z"),
    )
    .await;
    set_times(db, s2, "2026-01-02T00:00:00Z", "2026-01-02T00:10:00Z", None).await;
    set_times(db, s3, "2026-01-03T00:00:00Z", "2026-01-03T00:00:00Z", None).await;
    set_times(
        db,
        s4,
        "2026-01-04T00:00:00Z",
        "2026-01-04T00:30:00Z",
        Some("2026-01-04T00:30:00Z"),
    )
    .await;
    set_times(db, b1, "2026-02-01T00:00:00Z", "2026-02-01T00:00:00Z", None).await;

    Fixture {
        alice,
        bob,
        s1,
        s2,
        s3,
        s4,
        b1,
        r1,
        d1,
    }
}

// ---------------------------------------------------------------------------
// Triggers
// ---------------------------------------------------------------------------

#[tokio::test]
async fn counters_follow_inserts_and_deletes() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let s = session(&db, alice, "active").await;
    assert_eq!(counters(&db, s).await, (0, 0, 0));

    // Writes as the owner: the counters move although she may not update them.
    let mut tx = db.as_user(alice).await;
    let mut revs = Vec::new();
    for _ in 0..3 {
        let id: Uuid = sqlx::query_scalar(
            "INSERT INTO lift.session_revisions (session_id, source, ir_content)
             VALUES ($1, 'initial', '{}') RETURNING id",
        )
        .bind(s)
        .fetch_one(&mut *tx)
        .await
        .expect("insert revision as owner");
        revs.push(id);
    }
    for _ in 0..2 {
        sqlx::query(
            "INSERT INTO lift.session_drafts (session_id, source, code_content)
             VALUES ($1, 'user_edit', 'x = 1')",
        )
        .bind(s)
        .execute(&mut *tx)
        .await
        .expect("insert draft as owner");
    }
    for hole in ["a", "b"] {
        sqlx::query(
            "INSERT INTO lift.hole_resolutions (session_id, hole_id, hole_type,
               resolution_method, resolved_value) VALUES ($1, $2, 'entity', 'inference', '1')",
        )
        .bind(s)
        .bind(hole)
        .execute(&mut *tx)
        .await
        .expect("insert resolution as owner");
    }
    tx.commit().await.expect("commit");
    assert_eq!(counters(&db, s).await, (3, 2, 2));

    let mut tx = db.as_user(alice).await;
    sqlx::query("DELETE FROM lift.session_revisions WHERE id = $1")
        .bind(revs[0])
        .execute(&mut *tx)
        .await
        .expect("delete revision");
    sqlx::query("DELETE FROM lift.session_drafts WHERE draft_number = 1 AND session_id = $1")
        .bind(s)
        .execute(&mut *tx)
        .await
        .expect("delete draft");
    sqlx::query("DELETE FROM lift.hole_resolutions WHERE hole_id = 'a'")
        .execute(&mut *tx)
        .await
        .expect("delete resolution");
    tx.commit().await.expect("commit");
    assert_eq!(counters(&db, s).await, (2, 1, 1));

    // A multi-row delete decrements once per row.
    sqlx::query("DELETE FROM lift.session_revisions WHERE session_id = $1")
        .bind(s)
        .execute(&db.pool)
        .await
        .expect("delete all revisions");
    assert_eq!(counters(&db, s).await, (0, 1, 1));

    // Deleting the session cascades to its children; the decrement triggers
    // find no parent and do not fail.
    revision(&db, s).await;
    let mut tx = db.as_user(alice).await;
    let deleted = sqlx::query("DELETE FROM lift.sessions WHERE id = $1")
        .bind(s)
        .execute(&mut *tx)
        .await
        .expect("delete session with children")
        .rows_affected();
    tx.commit().await.expect("commit");
    assert_eq!(deleted, 1);
    for table in TABLES {
        let n: i64 = sqlx::query_scalar(q(format!("SELECT count(*) FROM lift.{table}")))
            .fetch_one(&db.pool)
            .await
            .expect("count");
        assert_eq!(n, 0, "lift.{table} after cascade");
    }
}

#[tokio::test]
async fn deleting_the_user_cascades_to_lift() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let s = session(&db, alice, "active").await;
    let r = revision(&db, s).await;
    draft(
        &db,
        s,
        Draft {
            rev: Some(r),
            syntax: true,
            ast: true,
            gen_ms: None,
            val_ms: None,
            tokens: None,
            cost: None,
        },
    )
    .await;
    resolution(&db, s, Some(r), "h").await;
    sqlx::query("DELETE FROM auth.users WHERE id = $1")
        .bind(alice)
        .execute(&db.pool)
        .await
        .expect("delete user");
    for table in TABLES {
        let n: i64 = sqlx::query_scalar(q(format!("SELECT count(*) FROM lift.{table}")))
            .fetch_one(&db.pool)
            .await
            .expect("count");
        assert_eq!(n, 0, "lift.{table} after the user was deleted");
    }
}

#[tokio::test]
async fn users_cannot_forge_counters_ownership_or_timestamps() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;
    let s = session(&db, alice, "active").await;

    for set in [
        "revision_count = 99",
        "draft_count = 99",
        "hole_count = 99",
        "user_id = '00000000-0000-0000-0000-000000000000'",
        "created_at = now() - interval '1 day'",
        "updated_at = now() - interval '1 day'",
        "finalized_at = now()",
        "original_input = 'other'",
        "source = 'code'",
    ] {
        let mut tx = db.as_user(alice).await;
        let e = common::db_error(
            sqlx::query(q(format!("UPDATE lift.sessions SET {set} WHERE id = $1")))
                .bind(s)
                .execute(&mut *tx)
                .await,
        );
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "SET {set}: {e:?}");
    }
    // Moving a session to another user is refused too (no grant on user_id).
    let mut tx = db.as_user(alice).await;
    let e = common::db_error(
        sqlx::query("UPDATE lift.sessions SET user_id = $2 WHERE id = $1")
            .bind(s)
            .bind(bob)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);

    // Counters cannot be seeded on insert either.
    let mut tx = db.as_user(alice).await;
    let e = common::db_error(
        sqlx::query(
            "INSERT INTO lift.sessions (user_id, original_input, revision_count) VALUES ($1, 'x', 5)",
        )
        .bind(alice)
        .execute(&mut *tx)
        .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);

    // The columns she may update work.
    let mut tx = db.as_user(alice).await;
    let n = sqlx::query(
        "UPDATE lift.sessions SET status = 'paused', current_code = 'x', current_ir = '{}',
           metadata = '{\"tag\": 1}' WHERE id = $1",
    )
    .bind(s)
    .execute(&mut *tx)
    .await
    .expect("update allowed columns")
    .rows_affected();
    assert_eq!(n, 1);
    tx.commit().await.expect("commit");
    assert_eq!(counters(&db, s).await, (0, 0, 0));
}

#[tokio::test]
async fn updated_at_is_set_on_every_update() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let s = session(&db, alice, "active").await;
    set_times(&db, s, "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", None).await;

    let mut tx = db.as_user(alice).await;
    sqlx::query("UPDATE lift.sessions SET current_code = 'print(1)' WHERE id = $1")
        .bind(s)
        .execute(&mut *tx)
        .await
        .expect("update");
    let (is_now, created_kept): (bool, bool) = sqlx::query_as(
        "SELECT updated_at = now(), created_at = '2020-01-01T00:00:00Z'::timestamptz
         FROM lift.sessions WHERE id = $1",
    )
    .bind(s)
    .fetch_one(&mut *tx)
    .await
    .expect("read");
    assert!(is_now, "updated_at must be the update's time");
    assert!(created_kept, "created_at must not move");
    tx.rollback().await.expect("rollback");

    // A child insert touches the session (its counter changes) and so bumps
    // updated_at as well.
    set_times(&db, s, "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", None).await;
    revision(&db, s).await;
    let bumped: bool = sqlx::query_scalar(
        "SELECT updated_at > '2020-01-01T00:00:00Z'::timestamptz FROM lift.sessions WHERE id = $1",
    )
    .bind(s)
    .fetch_one(&db.pool)
    .await
    .expect("read");
    assert!(bumped);
}

#[tokio::test]
async fn finalized_at_follows_status() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;

    let mut tx = db.as_user(alice).await;
    let (s, fin_is_null): (Uuid, bool) = sqlx::query_as(
        "INSERT INTO lift.sessions (user_id, original_input) VALUES ($1, 'x')
         RETURNING id, finalized_at IS NULL",
    )
    .bind(alice)
    .fetch_one(&mut *tx)
    .await
    .expect("insert");
    assert!(fin_is_null);
    let fin_is_now: bool = sqlx::query_scalar(
        "UPDATE lift.sessions SET status = 'finalized' WHERE id = $1 RETURNING finalized_at = now()",
    )
    .bind(s)
    .fetch_one(&mut *tx)
    .await
    .expect("finalize");
    assert!(fin_is_now);
    let fin_is_null: bool = sqlx::query_scalar(
        "UPDATE lift.sessions SET status = 'active' WHERE id = $1 RETURNING finalized_at IS NULL",
    )
    .bind(s)
    .fetch_one(&mut *tx)
    .await
    .expect("reopen");
    assert!(fin_is_null, "reopening clears finalized_at");
    let fin_is_now: bool = sqlx::query_scalar(
        "INSERT INTO lift.sessions (user_id, original_input, status) VALUES ($1, 'y', 'finalized')
         RETURNING finalized_at = now()",
    )
    .bind(alice)
    .fetch_one(&mut *tx)
    .await
    .expect("insert finalized");
    assert!(fin_is_now);
    tx.commit().await.expect("commit");

    // The service role may backfill an explicit finalization time.
    let mut tx = db.as_service().await;
    let kept: bool = sqlx::query_scalar(
        "UPDATE lift.sessions SET status = 'finalized', finalized_at = '2026-01-01T00:00:00Z'
         WHERE id = $1 RETURNING finalized_at = '2026-01-01T00:00:00Z'::timestamptz",
    )
    .bind(s)
    .fetch_one(&mut *tx)
    .await
    .expect("backfill");
    assert!(kept);
}

#[tokio::test]
async fn numbers_are_assigned_per_session() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let s1 = session(&db, alice, "active").await;
    let s2 = session(&db, alice, "active").await;

    let mut tx = db.as_user(alice).await;
    let mut got = Vec::new();
    for s in [s1, s1, s2, s1, s2] {
        let n: i32 = sqlx::query_scalar(
            "INSERT INTO lift.session_revisions (session_id, source, ir_content)
             VALUES ($1, 'refinement', '{}') RETURNING revision_number",
        )
        .bind(s)
        .fetch_one(&mut *tx)
        .await
        .expect("insert revision");
        got.push(n);
    }
    assert_eq!(got, vec![1, 2, 1, 3, 2]);

    // A supplied number is kept; the next assigned one follows the maximum.
    let n: i32 = sqlx::query_scalar(
        "INSERT INTO lift.session_drafts (session_id, draft_number, source, code_content)
         VALUES ($1, 7, 'user_edit', 'x') RETURNING draft_number",
    )
    .bind(s1)
    .fetch_one(&mut *tx)
    .await
    .expect("insert numbered draft");
    assert_eq!(n, 7);
    let n: i32 = sqlx::query_scalar(
        "INSERT INTO lift.session_drafts (session_id, source, code_content)
         VALUES ($1, 'user_edit', 'x') RETURNING draft_number",
    )
    .bind(s1)
    .fetch_one(&mut *tx)
    .await
    .expect("insert draft");
    assert_eq!(n, 8);
    tx.commit().await.expect("commit");

    // A supplied duplicate hits the UNIQUE constraint.
    let mut tx = db.as_user(alice).await;
    let e = common::db_error(
        sqlx::query(
            "INSERT INTO lift.session_revisions (session_id, revision_number, source, ir_content)
             VALUES ($1, 2, 'repair', '{}')",
        )
        .bind(s1)
        .execute(&mut *tx)
        .await,
    );
    assert_eq!(e.code, common::UNIQUE_VIOLATION);
    assert_eq!(
        e.constraint.as_deref(),
        Some("session_revisions_session_id_revision_number_key")
    );
    let mut tx = db.as_user(alice).await;
    let e = common::db_error(
        sqlx::query(
            "INSERT INTO lift.session_drafts (session_id, draft_number, source, code_content)
             VALUES ($1, 8, 'user_edit', 'x')",
        )
        .bind(s1)
        .execute(&mut *tx)
        .await,
    );
    assert_eq!(e.code, common::UNIQUE_VIOLATION);
    assert_eq!(
        e.constraint.as_deref(),
        Some("session_drafts_session_id_draft_number_key")
    );
}

/// Inserts one row into `table` of `session` as `user` in its own
/// transaction, after every writer has opened its transaction, and returns
/// the assigned number.
async fn concurrent_insert(
    pool: sqlx::PgPool,
    barrier: Arc<tokio::sync::Barrier>,
    user: Uuid,
    session: Uuid,
    table: &'static str,
) -> i32 {
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)")
        .bind(serde_json::json!({ "sub": user, "role": "authenticated" }).to_string())
        .execute(&mut *tx)
        .await
        .expect("claims");
    barrier.wait().await;
    let sql = match table {
        "session_revisions" => {
            "INSERT INTO lift.session_revisions (session_id, source, ir_content)
             VALUES ($1, 'refinement', '{}') RETURNING revision_number"
        }
        _ => {
            "INSERT INTO lift.session_drafts (session_id, source, code_content)
             VALUES ($1, 'llm_regeneration', 'x') RETURNING draft_number"
        }
    };
    let n: i32 = sqlx::query_scalar(sql)
        .bind(session)
        .fetch_one(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("concurrent insert into {table}: {e}"));
    tx.commit().await.expect("commit");
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn numbers_are_gap_free_under_concurrent_writers() {
    const WRITERS: usize = 8;
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let s = session(&db, alice, "active").await;
    // Existing rows: numbering continues after them.
    revision(&db, s).await;
    plain_draft(&db, s).await;

    for table in ["session_revisions", "session_drafts"] {
        let barrier = Arc::new(tokio::sync::Barrier::new(WRITERS));
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..WRITERS {
            set.spawn(concurrent_insert(
                db.pool.clone(),
                barrier.clone(),
                alice,
                s,
                table,
            ));
        }
        let mut numbers = Vec::new();
        while let Some(n) = set.join_next().await {
            numbers.push(n.expect("writer task"));
        }
        numbers.sort_unstable();
        let expected: Vec<i32> = (2..=(WRITERS as i32 + 1)).collect();
        assert_eq!(
            numbers, expected,
            "{table}: numbers 2..=N+1, no gap, no duplicate"
        );

        let column = if table == "session_revisions" {
            "revision_number"
        } else {
            "draft_number"
        };
        let stored: Vec<i32> = sqlx::query_scalar(q(format!(
            "SELECT {column} FROM lift.{table} WHERE session_id = $1 ORDER BY 1"
        )))
        .bind(s)
        .fetch_all(&db.pool)
        .await
        .expect("read numbers");
        let all: Vec<i32> = (1..=(WRITERS as i32 + 1)).collect();
        assert_eq!(stored, all, "{table}");
    }
    let n = WRITERS as i32 + 1;
    assert_eq!(counters(&db, s).await, (n, n, 0));
}

#[tokio::test]
async fn revision_links_stay_inside_the_session() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let s1 = session(&db, alice, "active").await;
    let s2 = session(&db, alice, "active").await;
    let r1 = revision(&db, s1).await;
    let r1b = revision(&db, s1).await;

    // A revision of another session (even one's own) is refused.
    let mut tx = db.as_user(alice).await;
    let e = common::db_error(
        sqlx::query(
            "INSERT INTO lift.session_drafts (session_id, ir_revision_id, source, code_content)
             VALUES ($1, $2, 'initial_generation', 'x')",
        )
        .bind(s2)
        .bind(r1)
        .execute(&mut *tx)
        .await,
    );
    assert_eq!(e.code, common::FOREIGN_KEY_VIOLATION);
    assert_eq!(
        e.constraint.as_deref(),
        Some("session_drafts_ir_revision_id_fkey")
    );
    let mut tx = db.as_user(alice).await;
    let e = common::db_error(
        sqlx::query(
            "INSERT INTO lift.hole_resolutions (session_id, ir_revision_id, hole_id, hole_type,
               resolution_method, resolved_value) VALUES ($1, $2, 'h', 'type', 'default', '1')",
        )
        .bind(s2)
        .bind(r1)
        .execute(&mut *tx)
        .await,
    );
    assert_eq!(e.code, common::FOREIGN_KEY_VIOLATION);
    assert_eq!(
        e.constraint.as_deref(),
        Some("hole_resolutions_ir_revision_id_fkey")
    );
    // Re-pointing an existing draft at a foreign revision is refused too.
    let d = draft(
        &db,
        s1,
        Draft {
            rev: Some(r1),
            syntax: true,
            ast: true,
            gen_ms: None,
            val_ms: None,
            tokens: None,
            cost: None,
        },
    )
    .await;
    let r2 = revision(&db, s2).await;
    let e = common::db_error(
        sqlx::query("UPDATE lift.session_drafts SET ir_revision_id = $2 WHERE id = $1")
            .bind(d)
            .bind(r2)
            .execute(&db.pool)
            .await,
    );
    assert_eq!(e.code, common::FOREIGN_KEY_VIOLATION);

    // Deleting the revision clears the link and keeps the child in place.
    let h = resolution(&db, s1, Some(r1), "h1").await;
    resolution(&db, s1, Some(r1b), "h1").await;
    sqlx::query("DELETE FROM lift.session_revisions WHERE id = $1")
        .bind(r1)
        .execute(&db.pool)
        .await
        .expect("delete revision");
    let (rev, sess): (Option<Uuid>, Uuid) =
        sqlx::query_as("SELECT ir_revision_id, session_id FROM lift.session_drafts WHERE id = $1")
            .bind(d)
            .fetch_one(&db.pool)
            .await
            .expect("read draft");
    assert_eq!((rev, sess), (None, s1));
    let (rev, sess): (Option<Uuid>, Uuid) = sqlx::query_as(
        "SELECT ir_revision_id, session_id FROM lift.hole_resolutions WHERE id = $1",
    )
    .bind(h)
    .fetch_one(&db.pool)
    .await
    .expect("read resolution");
    assert_eq!((rev, sess), (None, s1));
    // Deleting the second revision too: two unlinked resolutions of hole h1
    // may coexist (NULLs are distinct in the UNIQUE constraint).
    sqlx::query("DELETE FROM lift.session_revisions WHERE id = $1")
        .bind(r1b)
        .execute(&db.pool)
        .await
        .expect("delete second revision");
    let unlinked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM lift.hole_resolutions WHERE session_id = $1 AND ir_revision_id IS NULL",
    )
    .bind(s1)
    .fetch_one(&db.pool)
    .await
    .expect("count");
    assert_eq!(unlinked, 2);
    assert_eq!(counters(&db, s1).await, (0, 1, 2));
}

#[tokio::test]
async fn children_never_move_between_sessions() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let s1 = session(&db, alice, "active").await;
    let s2 = session(&db, alice, "active").await;
    let r = revision(&db, s1).await;
    let d = plain_draft(&db, s1).await;
    let h = resolution(&db, s1, None, "h").await;

    for (table, id) in [
        ("session_revisions", r),
        ("session_drafts", d),
        ("hole_resolutions", h),
    ] {
        // Users hold no UPDATE grant on session_id ...
        let mut tx = db.as_user(alice).await;
        let e = common::db_error(
            sqlx::query(q(format!(
                "UPDATE lift.{table} SET session_id = $2 WHERE id = $1"
            )))
            .bind(id)
            .bind(s2)
            .execute(&mut *tx)
            .await,
        );
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "{table}");
        // ... and even the service role cannot move a row.
        let mut tx = db.as_service().await;
        let e = common::db_error(
            sqlx::query(q(format!(
                "UPDATE lift.{table} SET session_id = $2 WHERE id = $1"
            )))
            .bind(id)
            .bind(s2)
            .execute(&mut *tx)
            .await,
        );
        assert_eq!(e.code, common::CHECK_VIOLATION, "{table}");
        let name = format!("{table}_session_id_immutable");
        assert_eq!(e.constraint.as_deref(), Some(name.as_str()));
    }
    assert_eq!(counters(&db, s1).await, (1, 1, 1));
    assert_eq!(counters(&db, s2).await, (0, 0, 0));
}

#[tokio::test]
async fn trigger_functions_are_not_callable() {
    let db = TestDb::new().await;
    for f in [
        "update_session_revision_count",
        "update_session_draft_count",
        "update_session_hole_count",
        "assign_revision_number",
        "assign_draft_number",
        "update_updated_at_column",
        "set_finalized_at",
        "forbid_session_change",
    ] {
        for role in ["authenticated", "anon"] {
            let mut tx = db.as_role(role, serde_json::json!({ "role": role })).await;
            let e = common::db_error(
                sqlx::query(q(format!("SELECT lift.{f}()")))
                    .execute(&mut *tx)
                    .await,
            );
            assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "{role} lift.{f}()");
        }
    }
}

// ---------------------------------------------------------------------------
// Views against hand-computed figures
// ---------------------------------------------------------------------------

#[tokio::test]
async fn session_summary_figures() {
    let db = TestDb::new().await;
    let f = fixture(&db).await;
    let mut tx = db.as_user(f.alice).await;

    type Row = (
        i32,
        i32,
        i32,
        Option<i32>,
        Option<i32>,
        Option<bool>,
        i64,
        Decimal,
        i64,
        Decimal,
        Option<Decimal>,
    );
    let sql = "SELECT revision_count, draft_count, hole_count, latest_revision_number,
                 latest_draft_number, latest_draft_valid, total_generation_time_ms,
                 total_llm_cost_usd, total_llm_tokens_used, session_duration_seconds,
                 time_to_finalization_seconds
               FROM lift.session_summary WHERE id = $1";
    let row = |s: Uuid| sqlx::query_as::<_, Row>(sql).bind(s);

    let r: Row = row(f.s1).fetch_one(&mut *tx).await.expect("s1");
    assert_eq!(
        r,
        (
            2,
            3,
            2,
            Some(2),
            Some(3),
            Some(true),
            300,
            dec("0.035"),
            3000,
            dec("7200"),
            Some(dec("3600"))
        )
    );
    let r: Row = row(f.s2).fetch_one(&mut *tx).await.expect("s2");
    assert_eq!(
        r,
        (
            1,
            2,
            0,
            Some(1),
            Some(2),
            Some(false),
            120,
            dec("0.003"),
            400,
            dec("600"),
            None
        )
    );
    let r: Row = row(f.s3).fetch_one(&mut *tx).await.expect("s3");
    assert_eq!(
        r,
        (0, 0, 0, None, None, None, 0, dec("0"), 0, dec("0"), None)
    );
    let r: Row = row(f.s4).fetch_one(&mut *tx).await.expect("s4");
    assert_eq!(r.9, dec("1800"));
    assert_eq!(r.10, Some(dec("1800")));

    // Alice sees her four sessions, not Bob's.
    assert_eq!(count(&mut tx, "session_summary").await, 4);
    let bobs: i64 = sqlx::query_scalar("SELECT count(*) FROM lift.session_summary WHERE id = $1")
        .bind(f.b1)
        .fetch_one(&mut *tx)
        .await
        .expect("bob's row");
    assert_eq!(bobs, 0);
}

#[tokio::test]
async fn user_analytics_figures() {
    let db = TestDb::new().await;
    let f = fixture(&db).await;

    /// One `user_analytics` row, split in two tuples (tuples of more than
    /// twelve fields have no `Debug` / `PartialEq`).
    type Row = (
        (Uuid, i64, i64, i64, i64, i64, i64),
        (
            Decimal,
            Decimal,
            String,
            String,
            Decimal,
            i64,
            Option<Decimal>,
        ),
    );
    fn split(r: sqlx::postgres::PgRow) -> Row {
        use sqlx::Row as _;
        let g = |i: usize| r.try_get::<i64, _>(i).expect("bigint column");
        (
            (r.get(0), g(1), g(2), g(3), g(4), g(5), g(6)),
            (
                r.get(7),
                r.get(8),
                r.get(9),
                r.get(10),
                r.get(11),
                g(12),
                r.get(13),
            ),
        )
    }
    let sql = "SELECT user_id, total_sessions, finalized_sessions, active_sessions,
                 error_sessions, total_revisions, total_drafts, avg_revisions_per_session,
                 avg_drafts_per_session, first_session_at::text, last_session_at::text,
                 total_llm_cost_usd, total_llm_tokens_used, avg_time_to_finalization_seconds
               FROM lift.user_analytics ORDER BY total_sessions DESC";

    let mut tx = db.as_user(f.alice).await;
    let rows: Vec<Row> = sqlx::query(sql)
        .fetch_all(&mut *tx)
        .await
        .expect("alice")
        .into_iter()
        .map(split)
        .collect();
    // Sums are over drafts, not multiplied by the session join: 5 drafts cost
    // 0.010 + 0.020 + 0.005 + 0.001 + 0.002.
    assert_eq!(
        rows,
        vec![(
            (f.alice, 4, 2, 1, 1, 3, 5),
            (
                dec("0.75"),
                dec("1.25"),
                "2026-01-01 00:00:00+00".to_string(),
                "2026-01-04 00:00:00+00".to_string(),
                dec("0.038"),
                3400,
                Some(dec("2700.00"))
            )
        )]
    );
    tx.rollback().await.expect("rollback");

    let mut tx = db.as_user(f.bob).await;
    let rows: Vec<Row> = sqlx::query(sql)
        .fetch_all(&mut *tx)
        .await
        .expect("bob")
        .into_iter()
        .map(split)
        .collect();
    assert_eq!(rows.len(), 1);
    let (a, b) = &rows[0];
    assert_eq!(
        (a.0, a.1, a.6, b.4, b.5, b.6),
        (f.bob, 1, 1, dec("1"), 9999, None)
    );
    tx.rollback().await.expect("rollback");

    // The service role sees both users.
    let mut tx = db.as_service().await;
    let rows: Vec<Row> = sqlx::query(sql)
        .fetch_all(&mut *tx)
        .await
        .expect("service")
        .into_iter()
        .map(split)
        .collect();
    assert_eq!(
        rows.iter().map(|r| r.0 .0).collect::<Vec<_>>(),
        vec![f.alice, f.bob]
    );
}

#[tokio::test]
async fn recent_activity_events() {
    let db = TestDb::new().await;
    let f = fixture(&db).await;
    let mut tx = db.as_user(f.alice).await;

    let per_type: Vec<(String, i64)> = sqlx::query_as(
        "SELECT event_type, count(*) FROM lift.recent_activity GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(&mut *tx)
    .await
    .expect("per type");
    assert_eq!(
        per_type,
        vec![
            ("draft_created".to_string(), 5),
            ("hole_resolved".to_string(), 2),
            ("revision_created".to_string(), 3),
            ("session_created".to_string(), 4),
        ]
    );
    // (event_type, event_id) is a key.
    let distinct: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT (event_type, event_id)) FROM lift.recent_activity",
    )
    .fetch_one(&mut *tx)
    .await
    .expect("distinct");
    assert_eq!(distinct, 14);

    type Ev = (
        Uuid,
        Uuid,
        Option<Uuid>,
        Option<Uuid>,
        Option<Uuid>,
        serde_json::Value,
    );
    let ev: Ev = sqlx::query_as(
        "SELECT session_id, user_id, revision_id, draft_id, resolution_id, event_data
         FROM lift.recent_activity WHERE event_type = 'draft_created' AND event_id = $1",
    )
    .bind(f.d1)
    .fetch_one(&mut *tx)
    .await
    .expect("draft event");
    assert_eq!(
        ev,
        (
            f.s1,
            f.alice,
            Some(f.r1),
            Some(f.d1),
            None,
            serde_json::json!({
                "draft_number": 1, "source": "initial_generation", "language": "python",
                "syntax_valid": true, "ast_valid": false
            })
        )
    );
    let (time, data): (String, serde_json::Value) = sqlx::query_as(
        "SELECT event_time::text, event_data FROM lift.recent_activity
         WHERE event_type = 'session_created' AND event_id = $1",
    )
    .bind(f.s1)
    .fetch_one(&mut *tx)
    .await
    .expect("session event");
    assert_eq!(time, "2026-01-01 00:00:00+00");
    assert_eq!(
        data,
        serde_json::json!({ "status": "finalized", "source": "prompt" })
    );
    let (rev, res, data): (Option<Uuid>, Option<Uuid>, serde_json::Value) = sqlx::query_as(
        "SELECT revision_id, resolution_id, event_data FROM lift.recent_activity
         WHERE event_type = 'hole_resolved' AND event_data ->> 'hole_id' = 'h1'",
    )
    .fetch_one(&mut *tx)
    .await
    .expect("resolution event");
    assert_eq!(rev, Some(f.r1));
    assert!(res.is_some());
    assert_eq!(data["confidence_score"], serde_json::json!(0.85));
    let users: Vec<Uuid> = sqlx::query_scalar("SELECT DISTINCT user_id FROM lift.recent_activity")
        .fetch_all(&mut *tx)
        .await
        .expect("users");
    assert_eq!(users, vec![f.alice]);
    tx.rollback().await.expect("rollback");

    let mut tx = db.as_user(f.bob).await;
    assert_eq!(count(&mut tx, "recent_activity").await, 2);
}

#[tokio::test]
async fn draft_validation_stats_figures() {
    let db = TestDb::new().await;
    let f = fixture(&db).await;
    let mut tx = db.as_user(f.alice).await;

    type Row = (
        i64,
        i64,
        i64,
        i64,
        Option<Decimal>,
        Option<Decimal>,
        Option<Decimal>,
        Option<Decimal>,
        Option<Decimal>,
        Decimal,
    );
    let sql = "SELECT total_drafts, syntax_valid_count, ast_valid_count, fully_valid_count,
                 syntax_valid_percent, ast_valid_percent, fully_valid_percent,
                 avg_generation_time_ms, avg_validation_time_ms, total_llm_cost_usd
               FROM lift.draft_validation_stats WHERE session_id = $1";
    let get = |s: Uuid| sqlx::query_as::<_, Row>(sql).bind(s);

    let r = get(f.s1).fetch_one(&mut *tx).await.expect("s1");
    assert_eq!(
        r,
        (
            3,
            2,
            1,
            1,
            Some(dec("66.67")),
            Some(dec("33.33")),
            Some(dec("33.33")),
            Some(dec("150.00")),
            Some(dec("20.00")),
            dec("0.035")
        )
    );
    let r = get(f.s2).fetch_one(&mut *tx).await.expect("s2");
    assert_eq!(
        r,
        (
            2,
            2,
            1,
            1,
            Some(dec("100.00")),
            Some(dec("50.00")),
            Some(dec("50.00")),
            Some(dec("60.00")),
            Some(dec("6.00")),
            dec("0.003")
        )
    );
    // No drafts: zero counts, NULL rates (no division by zero).
    let r = get(f.s3).fetch_one(&mut *tx).await.expect("s3");
    assert_eq!(r, (0, 0, 0, 0, None, None, None, None, None, dec("0")));

    // The seed's "success rate for user" query over the view.
    let (avg, attempts): (Option<Decimal>, Option<Decimal>) = sqlx::query_as(
        "SELECT round(avg(fully_valid_percent), 2), sum(total_drafts)
         FROM lift.draft_validation_stats WHERE user_id = $1",
    )
    .bind(f.alice)
    .fetch_one(&mut *tx)
    .await
    .expect("success rate");
    assert_eq!(avg, Some(dec("41.67")));
    assert_eq!(attempts, Some(dec("5")));
    assert_eq!(count(&mut tx, "draft_validation_stats").await, 4);
}

// ---------------------------------------------------------------------------
// Isolation
// ---------------------------------------------------------------------------

/// One row id per table of `user`'s session.
async fn rows_of(db: &TestDb, user: Uuid) -> [(&'static str, Uuid); 4] {
    let s = session(db, user, "active").await;
    let r = revision(db, s).await;
    let d = draft(
        db,
        s,
        Draft {
            rev: Some(r),
            syntax: true,
            ast: true,
            gen_ms: Some(1),
            val_ms: Some(1),
            tokens: Some(1),
            cost: Some("0.1"),
        },
    )
    .await;
    let h = resolution(db, s, Some(r), "h").await;
    [
        ("sessions", s),
        ("session_revisions", r),
        ("session_drafts", d),
        ("hole_resolutions", h),
    ]
}

#[tokio::test]
async fn users_see_and_change_only_their_own_rows() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;
    let mine = rows_of(&db, alice).await;
    let theirs = rows_of(&db, bob).await;

    // Update statements touching a column each table grants to owners.
    let update_sql = |table: &str| match table {
        "sessions" => "UPDATE lift.sessions SET status = 'paused' WHERE id = $1",
        "session_revisions" => {
            "UPDATE lift.session_revisions SET change_summary = 'x' WHERE id = $1"
        }
        "session_drafts" => "UPDATE lift.session_drafts SET ast_valid = false WHERE id = $1",
        _ => "UPDATE lift.hole_resolutions SET user_feedback = 'x' WHERE id = $1",
    };

    let mut tx = db.as_user(alice).await;
    for ((table, own), (_, other)) in mine.iter().zip(theirs.iter()) {
        assert_eq!(
            count(&mut tx, table).await,
            1,
            "alice reads 1 row of {table}"
        );
        let seen: i64 = sqlx::query_scalar(q(format!(
            "SELECT count(*) FROM lift.{table} WHERE id = $1"
        )))
        .bind(other)
        .fetch_one(&mut *tx)
        .await
        .expect("select");
        assert_eq!(seen, 0, "bob's {table} row is invisible");
        let n = sqlx::query(update_sql(table))
            .bind(other)
            .execute(&mut *tx)
            .await
            .expect("update other")
            .rows_affected();
        assert_eq!(n, 0, "update of bob's {table}");
        let n = sqlx::query(update_sql(table))
            .bind(own)
            .execute(&mut *tx)
            .await
            .expect("update own")
            .rows_affected();
        assert_eq!(n, 1, "update of her own {table}");
    }
    // Delete children before the session so each delete is observed.
    for (table, other) in theirs.iter().rev() {
        let n = sqlx::query(q(format!("DELETE FROM lift.{table} WHERE id = $1")))
            .bind(other)
            .execute(&mut *tx)
            .await
            .expect("delete other")
            .rows_affected();
        assert_eq!(n, 0, "delete of bob's {table}");
    }
    for (table, own) in mine.iter().rev() {
        let n = sqlx::query(q(format!("DELETE FROM lift.{table} WHERE id = $1")))
            .bind(own)
            .execute(&mut *tx)
            .await
            .expect("delete own")
            .rows_affected();
        assert_eq!(n, 1, "delete of her own {table}");
    }
    tx.rollback().await.expect("rollback");

    // Bob's rows are untouched.
    for (table, other) in theirs {
        let n: i64 = sqlx::query_scalar(q(format!(
            "SELECT count(*) FROM lift.{table} WHERE id = $1"
        )))
        .bind(other)
        .fetch_one(&db.pool)
        .await
        .expect("count");
        assert_eq!(n, 1, "{table}");
    }
    let status: String = sqlx::query_scalar("SELECT status FROM lift.sessions WHERE id = $1")
        .bind(theirs[0].1)
        .fetch_one(&db.pool)
        .await
        .expect("status");
    assert_eq!(status, "active");
}

#[tokio::test]
async fn users_cannot_insert_for_others_or_under_their_sessions() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;
    let bobs = rows_of(&db, bob).await;
    let (bob_session, bob_revision) = (bobs[0].1, bobs[1].1);

    let attempts: [(&str, &str); 4] = [
        (
            "sessions",
            "INSERT INTO lift.sessions (user_id, original_input) VALUES ($1, 'x')",
        ),
        (
            "session_revisions",
            "INSERT INTO lift.session_revisions (session_id, source, ir_content)
             VALUES ($1, 'initial', '{}')",
        ),
        (
            "session_drafts",
            "INSERT INTO lift.session_drafts (session_id, source, code_content)
             VALUES ($1, 'user_edit', 'x')",
        ),
        (
            "hole_resolutions",
            "INSERT INTO lift.hole_resolutions (session_id, hole_id, hole_type,
               resolution_method, resolved_value) VALUES ($1, 'hx', 'other', 'default', '1')",
        ),
    ];
    for (table, sql) in attempts {
        let target = if table == "sessions" {
            bob
        } else {
            bob_session
        };
        let mut tx = db.as_user(alice).await;
        let e = common::db_error(sqlx::query(sql).bind(target).execute(&mut *tx).await);
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "{table}: {e:?}");
        assert!(e.message.contains("row-level security"), "{table}: {e:?}");
    }
    // Nor a draft under bob's session pointing at bob's revision.
    let mut tx = db.as_user(alice).await;
    let e = common::db_error(
        sqlx::query(
            "INSERT INTO lift.session_drafts (session_id, ir_revision_id, source, code_content)
             VALUES ($1, $2, 'user_edit', 'x')",
        )
        .bind(bob_session)
        .bind(bob_revision)
        .execute(&mut *tx)
        .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    // Nor, from her own session, a link to bob's revision.
    let own = session(&db, alice, "active").await;
    let mut tx = db.as_user(alice).await;
    let e = common::db_error(
        sqlx::query(
            "INSERT INTO lift.session_drafts (session_id, ir_revision_id, source, code_content)
             VALUES ($1, $2, 'user_edit', 'x')",
        )
        .bind(own)
        .bind(bob_revision)
        .execute(&mut *tx)
        .await,
    );
    assert_eq!(e.code, common::FOREIGN_KEY_VIOLATION);
    assert_eq!(bobs.len(), 4);
    assert_eq!(counters(&db, bob_session).await, (1, 1, 1));
}

#[tokio::test]
async fn anon_sees_nothing_and_service_sees_everything() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;
    rows_of(&db, alice).await;
    rows_of(&db, bob).await;

    // Nothing in lift is public.
    for relation in TABLES.iter().chain(VIEWS.iter()) {
        let mut tx = db.as_anon().await;
        let e = common::db_error(
            sqlx::query(q(format!("SELECT * FROM lift.{relation}")))
                .fetch_all(&mut *tx)
                .await,
        );
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "anon on {relation}");
    }
    let mut tx = db.as_anon().await;
    let e = common::db_error(
        sqlx::query("INSERT INTO lift.sessions (user_id, original_input) VALUES ($1, 'x')")
            .bind(alice)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);

    // An authenticated request without a subject sees nothing.
    let mut tx = db
        .as_role(
            "authenticated",
            serde_json::json!({ "role": "authenticated" }),
        )
        .await;
    for relation in TABLES.iter().chain(VIEWS.iter()) {
        assert_eq!(count(&mut tx, relation).await, 0, "no sub on {relation}");
    }
    tx.rollback().await.expect("rollback");

    let mut tx = db.as_service().await;
    for table in TABLES {
        assert_eq!(count(&mut tx, table).await, 2, "service on {table}");
    }
    assert_eq!(count(&mut tx, "session_summary").await, 2);
    assert_eq!(count(&mut tx, "user_analytics").await, 2);
    assert_eq!(count(&mut tx, "recent_activity").await, 8);
    assert_eq!(count(&mut tx, "draft_validation_stats").await, 2);
    // The service role writes any user's rows.
    let n = sqlx::query("UPDATE lift.sessions SET status = 'error'")
        .execute(&mut *tx)
        .await
        .expect("service update")
        .rows_affected();
    assert_eq!(n, 2);
    let s: Uuid = sqlx::query_scalar(
        "INSERT INTO lift.sessions (user_id, original_input) VALUES ($1, 'x') RETURNING id",
    )
    .bind(bob)
    .fetch_one(&mut *tx)
    .await
    .expect("service insert");
    let n = sqlx::query("DELETE FROM lift.sessions WHERE id = $1")
        .bind(s)
        .execute(&mut *tx)
        .await
        .expect("service delete")
        .rows_affected();
    assert_eq!(n, 1);
}

// ---------------------------------------------------------------------------
// Constraints
// ---------------------------------------------------------------------------

#[tokio::test]
async fn constraints_name_themselves() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let s = session(&db, alice, "active").await;
    let r = revision(&db, s).await;
    resolution(&db, s, Some(r), "dup").await;
    let (s_id, r_id) = (s.to_string(), r.to_string());
    let nobody = Uuid::new_v4().to_string();
    let u = alice.to_string();

    let cases: Vec<(String, &str, &str)> = vec![
        (
            format!("INSERT INTO lift.sessions (user_id, original_input, status) VALUES ('{u}', 'x', 'done')"),
            common::CHECK_VIOLATION,
            "sessions_status_check",
        ),
        (
            format!("INSERT INTO lift.sessions (user_id, original_input, source) VALUES ('{u}', 'x', 'file')"),
            common::CHECK_VIOLATION,
            "sessions_source_check",
        ),
        (
            format!("INSERT INTO lift.sessions (user_id, original_input) VALUES ('{u}', '')"),
            common::CHECK_VIOLATION,
            "sessions_original_input_check",
        ),
        (
            format!("INSERT INTO lift.sessions (user_id, original_input) VALUES ('{nobody}', 'x')"),
            common::FOREIGN_KEY_VIOLATION,
            "sessions_user_id_fkey",
        ),
        (
            format!("UPDATE lift.sessions SET draft_count = -1 WHERE id = '{s_id}'"),
            common::CHECK_VIOLATION,
            "sessions_draft_count_check",
        ),
        (
            format!("INSERT INTO lift.session_revisions (session_id, source, ir_content) VALUES ('{s_id}', 'guess', '{{}}')"),
            common::CHECK_VIOLATION,
            "session_revisions_source_check",
        ),
        (
            format!("INSERT INTO lift.session_revisions (session_id, revision_number, source, ir_content) VALUES ('{s_id}', 0, 'initial', '{{}}')"),
            common::CHECK_VIOLATION,
            "session_revisions_revision_number_check",
        ),
        (
            format!("INSERT INTO lift.session_revisions (session_id, source, ir_content) VALUES ('{nobody}', 'initial', '{{}}')"),
            common::FOREIGN_KEY_VIOLATION,
            "session_revisions_session_id_fkey",
        ),
        (
            format!("INSERT INTO lift.session_drafts (session_id, source, code_content) VALUES ('{s_id}', 'magic', 'x')"),
            common::CHECK_VIOLATION,
            "session_drafts_source_check",
        ),
        (
            format!("INSERT INTO lift.session_drafts (session_id, source, code_content) VALUES ('{s_id}', 'user_edit', '')"),
            common::CHECK_VIOLATION,
            "session_drafts_code_content_check",
        ),
        (
            format!("INSERT INTO lift.session_drafts (session_id, draft_number, source, code_content) VALUES ('{s_id}', -3, 'user_edit', 'x')"),
            common::CHECK_VIOLATION,
            "session_drafts_draft_number_check",
        ),
        (
            format!("INSERT INTO lift.session_drafts (session_id, source, code_content, llm_cost_usd) VALUES ('{s_id}', 'user_edit', 'x', -0.5)"),
            common::CHECK_VIOLATION,
            "session_drafts_llm_cost_usd_check",
        ),
        (
            format!("INSERT INTO lift.session_drafts (session_id, source, code_content, generation_time_ms) VALUES ('{s_id}', 'user_edit', 'x', -1)"),
            common::CHECK_VIOLATION,
            "session_drafts_generation_time_ms_check",
        ),
        (
            format!("INSERT INTO lift.session_drafts (session_id, source, code_content, validation_errors) VALUES ('{s_id}', 'user_edit', 'x', '{{}}')"),
            common::CHECK_VIOLATION,
            "session_drafts_validation_errors_check",
        ),
        (
            format!("INSERT INTO lift.session_drafts (session_id, source, code_content) VALUES ('{nobody}', 'user_edit', 'x')"),
            common::FOREIGN_KEY_VIOLATION,
            "session_drafts_session_id_fkey",
        ),
        (
            format!("INSERT INTO lift.hole_resolutions (session_id, hole_id, hole_type, resolution_method, resolved_value) VALUES ('{s_id}', 'h', 'shape', 'default', '1')"),
            common::CHECK_VIOLATION,
            "hole_resolutions_hole_type_check",
        ),
        (
            format!("INSERT INTO lift.hole_resolutions (session_id, hole_id, hole_type, resolution_method, resolved_value) VALUES ('{s_id}', 'h', 'type', 'guess', '1')"),
            common::CHECK_VIOLATION,
            "hole_resolutions_resolution_method_check",
        ),
        (
            format!("INSERT INTO lift.hole_resolutions (session_id, hole_id, hole_type, resolution_method, resolved_value, confidence_score) VALUES ('{s_id}', 'h', 'type', 'default', '1', 1.5)"),
            common::CHECK_VIOLATION,
            "hole_resolutions_confidence_score_check",
        ),
        (
            format!("INSERT INTO lift.hole_resolutions (session_id, ir_revision_id, hole_id, hole_type, resolution_method, resolved_value) VALUES ('{s_id}', '{r_id}', 'dup', 'type', 'default', '1')"),
            common::UNIQUE_VIOLATION,
            "hole_resolutions_session_id_ir_revision_id_hole_id_key",
        ),
        (
            format!("INSERT INTO lift.hole_resolutions (session_id, hole_id, hole_type, resolution_method, resolved_value) VALUES ('{nobody}', 'h', 'type', 'default', '1')"),
            common::FOREIGN_KEY_VIOLATION,
            "hole_resolutions_session_id_fkey",
        ),
    ];
    for (sql, code, constraint) in cases {
        let e = common::db_error(sqlx::query(q(sql.clone())).execute(&db.pool).await);
        assert_eq!(e.code, code, "{sql}: {e:?}");
        assert_eq!(e.constraint.as_deref(), Some(constraint), "{sql}: {e:?}");
    }

    // NOT NULL violations name the column.
    let not_null: [(&str, &str); 4] = [
        (
            "INSERT INTO lift.sessions (user_id) VALUES ($1)",
            "original_input",
        ),
        (
            "INSERT INTO lift.session_revisions (session_id, source) VALUES ($1, 'initial')",
            "ir_content",
        ),
        (
            "INSERT INTO lift.session_drafts (session_id, code_content) VALUES ($1, 'x')",
            "source",
        ),
        (
            "INSERT INTO lift.hole_resolutions (session_id, hole_id, hole_type, resolution_method)
             VALUES ($1, 'h', 'type', 'default')",
            "resolved_value",
        ),
    ];
    for (i, (sql, column)) in not_null.into_iter().enumerate() {
        let bind = if i == 0 { alice } else { s };
        let e = common::db_error(sqlx::query(sql).bind(bind).execute(&db.pool).await);
        assert_eq!(e.code, common::NOT_NULL_VIOLATION, "{sql}");
        assert!(e.message.contains(column), "{sql}: {e:?}");
    }
    // Nothing of the failed inserts counted.
    assert_eq!(counters(&db, s).await, (1, 0, 1));
}

// ---------------------------------------------------------------------------
// Entities
// ---------------------------------------------------------------------------

#[tokio::test]
async fn entity_sessions() {
    let db = TestDb::new().await;
    fixture(&db).await;
    common::check_entity::<entity::lift::sessions::Entity>(&db).await;
}

#[tokio::test]
async fn entity_session_revisions() {
    let db = TestDb::new().await;
    fixture(&db).await;
    common::check_entity::<entity::lift::session_revisions::Entity>(&db).await;
}

#[tokio::test]
async fn entity_session_drafts() {
    let db = TestDb::new().await;
    fixture(&db).await;
    common::check_entity::<entity::lift::session_drafts::Entity>(&db).await;
}

#[tokio::test]
async fn entity_hole_resolutions() {
    let db = TestDb::new().await;
    fixture(&db).await;
    common::check_entity::<entity::lift::hole_resolutions::Entity>(&db).await;
}

#[tokio::test]
async fn entity_session_summary() {
    let db = TestDb::new().await;
    fixture(&db).await;
    common::check_entity::<entity::lift::session_summary::Entity>(&db).await;
}

#[tokio::test]
async fn entity_user_analytics() {
    let db = TestDb::new().await;
    fixture(&db).await;
    common::check_entity::<entity::lift::user_analytics::Entity>(&db).await;
}

#[tokio::test]
async fn entity_recent_activity() {
    let db = TestDb::new().await;
    fixture(&db).await;
    common::check_entity::<entity::lift::recent_activity::Entity>(&db).await;
}

#[tokio::test]
async fn entity_draft_validation_stats() {
    let db = TestDb::new().await;
    fixture(&db).await;
    common::check_entity::<entity::lift::draft_validation_stats::Entity>(&db).await;
}

#[tokio::test]
async fn entity_relations_join() {
    use entity::lift::{session_drafts, session_revisions, sessions};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    let db = TestDb::new().await;
    let f = fixture(&db).await;
    let orm = db.orm().await;

    let with_revisions = sessions::Entity::find_by_id(f.s1)
        .find_with_related(session_revisions::Entity)
        .all(&orm)
        .await
        .expect("sessions with revisions");
    assert_eq!(with_revisions.len(), 1);
    let mut numbers: Vec<i32> = with_revisions[0]
        .1
        .iter()
        .map(|r| r.revision_number)
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, vec![1, 2]);

    let draft_with_rev = session_drafts::Entity::find()
        .filter(session_drafts::Column::Id.eq(f.d1))
        .find_also_related(session_revisions::Entity)
        .one(&orm)
        .await
        .expect("draft with revision")
        .expect("draft exists");
    assert_eq!(draft_with_rev.1.map(|r| r.id), Some(f.r1));

    let owner = sessions::Entity::find_by_id(f.b1)
        .find_also_related(entity::public::users::Entity)
        .one(&orm)
        .await
        .expect("session with owner")
        .expect("session exists");
    assert_eq!(owner.1.map(|u| u.id), Some(f.bob));
}
