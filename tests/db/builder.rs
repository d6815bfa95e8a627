//! Tests of the `builder` schema (seed 000): counter triggers, the
//! `updated_at` trigger, `ensure_analytics_row` / `recompute_analytics`,
//! owner isolation, constraints and the entities.

use crate::common::{self, sqlx, TestDb};
use uuid::Uuid;

/// The four data tables; each has `id` and `user_id`.
const DATA_TABLES: [&str; 4] = ["sessions", "prompts", "responses", "steps"];

/// `[sessions, prompts, responses, decisions]` of one user.
type Counts = [i32; 4];

fn q(sql: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql)
}

/// A session of `user`, written as the superuser.
async fn session(db: &TestDb, user: Uuid) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO builder.sessions (user_id, description, problem_type, status)
         VALUES ($1, 'churn model', 'classification', 'active') RETURNING id",
    )
    .bind(user)
    .fetch_one(&db.pool)
    .await
    .expect("insert session")
}

async fn prompt(db: &TestDb, user: Uuid, session: Uuid) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO builder.prompts (session_id, user_id, prompt_text)
         VALUES ($1, $2, 'predict churn') RETURNING id",
    )
    .bind(session)
    .bind(user)
    .fetch_one(&db.pool)
    .await
    .expect("insert prompt")
}

async fn response(db: &TestDb, user: Uuid, prompt: Uuid) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO builder.responses (prompt_id, user_id, response_text)
         VALUES ($1, $2, 'use gradient boosting') RETURNING id",
    )
    .bind(prompt)
    .bind(user)
    .fetch_one(&db.pool)
    .await
    .expect("insert response")
}

async fn step(db: &TestDb, user: Uuid, session: Uuid, step_type: &str) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO builder.steps (session_id, user_id, step_type, step_data)
         VALUES ($1, $2, $3, '{\"k\": 1}') RETURNING id",
    )
    .bind(session)
    .bind(user)
    .bind(step_type)
    .fetch_one(&db.pool)
    .await
    .expect("insert step")
}

/// The stored counters of `user`, if the row exists.
async fn counters(db: &TestDb, user: Uuid) -> Option<Counts> {
    let row: Option<(i32, i32, i32, i32)> = sqlx::query_as(
        "SELECT total_sessions, total_prompts, total_responses, total_decisions
         FROM builder.analytics WHERE user_id = $1",
    )
    .bind(user)
    .fetch_optional(&db.pool)
    .await
    .expect("read analytics");
    row.map(|(a, b, c, d)| [a, b, c, d])
}

/// The live counts of `user`, straight from the data tables.
async fn live(db: &TestDb, user: Uuid) -> Counts {
    let (a, b, c, d): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM builder.sessions WHERE user_id = $1),
                (SELECT count(*) FROM builder.prompts WHERE user_id = $1),
                (SELECT count(*) FROM builder.responses WHERE user_id = $1),
                (SELECT count(*) FROM builder.steps WHERE user_id = $1 AND step_type = 'model_deploy')",
    )
    .bind(user)
    .fetch_one(&db.pool)
    .await
    .expect("count live rows");
    [a as i32, b as i32, c as i32, d as i32]
}

async fn exec(db: &TestDb, sql: &'static str, id: Uuid) -> u64 {
    sqlx::query(sql)
        .bind(id)
        .execute(&db.pool)
        .await
        .expect(sql)
        .rows_affected()
}

async fn user_pair(db: &TestDb) -> (Uuid, Uuid) {
    (
        db.create_user("alice@example.com").await,
        db.create_user("bob@example.com").await,
    )
}

// ---------------------------------------------------------------------------
// Counter triggers
// ---------------------------------------------------------------------------

#[tokio::test]
async fn counters_follow_inserts_made_by_the_user() {
    let db = TestDb::new().await;
    let (alice, bob) = user_pair(&db).await;
    assert_eq!(
        counters(&db, alice).await,
        None,
        "no row before any activity"
    );

    let mut tx = db.as_user(alice).await;
    let mut sessions = Vec::new();
    for _ in 0..2 {
        let id: Uuid = sqlx::query_scalar(
            "INSERT INTO builder.sessions (user_id, status) VALUES (auth.uid(), 'active') RETURNING id",
        )
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        sessions.push(id);
    }
    let mut prompts = Vec::new();
    for s in [sessions[0], sessions[0], sessions[1]] {
        let id: Uuid = sqlx::query_scalar(
            "INSERT INTO builder.prompts (session_id, user_id, prompt_text)
             VALUES ($1, auth.uid(), 'hello') RETURNING id",
        )
        .bind(s)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        prompts.push(id);
    }
    for p in [prompts[0], prompts[2]] {
        sqlx::query(
            "INSERT INTO builder.responses (prompt_id, user_id, response_text)
             VALUES ($1, auth.uid(), 'hi')",
        )
        .bind(p)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    for t in ["model_deploy", "data_upload", "model_deploy"] {
        sqlx::query(
            "INSERT INTO builder.steps (session_id, user_id, step_type) VALUES ($1, auth.uid(), $2)",
        )
        .bind(sessions[1])
        .bind(t)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    // The user reads their own counters through RLS.
    let own: (i32, i32, i32, i32) = sqlx::query_as(
        "SELECT total_sessions, total_prompts, total_responses, total_decisions FROM builder.analytics",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(own, (2, 3, 2, 2));
    tx.commit().await.unwrap();

    assert_eq!(counters(&db, alice).await, Some([2, 3, 2, 2]));
    assert_eq!(live(&db, alice).await, [2, 3, 2, 2]);
    assert_eq!(counters(&db, bob).await, None, "bob untouched");
}

#[tokio::test]
async fn counters_follow_deletes_and_cascades() {
    let db = TestDb::new().await;
    let (alice, _bob) = user_pair(&db).await;
    let s1 = session(&db, alice).await;
    let s2 = session(&db, alice).await;
    let p1 = prompt(&db, alice, s1).await;
    let p2 = prompt(&db, alice, s1).await;
    let p3 = prompt(&db, alice, s2).await;
    let r1 = response(&db, alice, p1).await;
    response(&db, alice, p1).await;
    response(&db, alice, p2).await;
    response(&db, alice, p3).await;
    let d1 = step(&db, alice, s1, "model_deploy").await;
    step(&db, alice, s1, "model_deploy").await;
    step(&db, alice, s1, "feature_select").await;
    step(&db, alice, s2, "model_deploy").await;
    assert_eq!(counters(&db, alice).await, Some([2, 3, 4, 3]));

    // Plain deletes, as the user.
    let mut tx = db.as_user(alice).await;
    let n = sqlx::query("DELETE FROM builder.responses WHERE id = $1")
        .bind(r1)
        .execute(&mut *tx)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(n, 1);
    sqlx::query("DELETE FROM builder.steps WHERE id = $1")
        .bind(d1)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(counters(&db, alice).await, Some([2, 3, 3, 2]));

    // Deleting a prompt cascades to its remaining response (p1 had 2, 1 left).
    exec(&db, "DELETE FROM builder.prompts WHERE id = $1", p1).await;
    assert_eq!(counters(&db, alice).await, Some([2, 2, 2, 2]));

    // Deleting session 1 cascades to p2, its response, and its two steps
    // (one model_deploy).
    exec(&db, "DELETE FROM builder.sessions WHERE id = $1", s1).await;
    assert_eq!(counters(&db, alice).await, Some([1, 1, 1, 1]));
    assert_eq!(live(&db, alice).await, [1, 1, 1, 1]);

    // A non-decision step delete leaves decisions alone.
    let other = step(&db, alice, s2, "data_upload").await;
    exec(&db, "DELETE FROM builder.steps WHERE id = $1", other).await;
    assert_eq!(counters(&db, alice).await, Some([1, 1, 1, 1]));

    exec(&db, "DELETE FROM builder.sessions WHERE id = $1", s2).await;
    assert_eq!(counters(&db, alice).await, Some([0, 0, 0, 0]));
}

#[tokio::test]
async fn decisions_follow_step_type_updates() {
    let db = TestDb::new().await;
    let (alice, _bob) = user_pair(&db).await;
    let s = session(&db, alice).await;
    let a = step(&db, alice, s, "data_upload").await;
    let b = step(&db, alice, s, "model_deploy").await;
    assert_eq!(counters(&db, alice).await.unwrap()[3], 1);

    let mut tx = db.as_user(alice).await;
    for (id, to, expect) in [
        (a, "model_deploy", 2), // to model_deploy: +1
        (b, "model_deploy", 2), // unchanged type: no change
        (a, "evaluate", 1),     // from model_deploy: -1
        (a, "train", 1),        // neither side a decision
    ] {
        sqlx::query(
            "UPDATE builder.steps SET step_type = $2, step_data = '{\"v\": 2}' WHERE id = $1",
        )
        .bind(id)
        .bind(to)
        .execute(&mut *tx)
        .await
        .unwrap();
        let now: i32 = sqlx::query_scalar("SELECT total_decisions FROM builder.analytics")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(now, expect, "after setting {id} to {to}");
    }
    // Only step_data changes: the trigger does not even fire for it.
    sqlx::query("UPDATE builder.steps SET step_data = NULL WHERE id = $1")
        .bind(b)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(counters(&db, alice).await, Some([1, 0, 0, 1]));
    assert_eq!(live(&db, alice).await, [1, 0, 0, 1]);
}

#[tokio::test]
async fn moving_a_session_to_another_user_moves_children_and_counts() {
    let db = TestDb::new().await;
    let (alice, bob) = user_pair(&db).await;
    let s = session(&db, alice).await;
    let kept = session(&db, alice).await;
    let p = prompt(&db, alice, s).await;
    response(&db, alice, p).await;
    step(&db, alice, s, "model_deploy").await;
    step(&db, alice, s, "train").await;
    step(&db, alice, kept, "model_deploy").await;
    assert_eq!(counters(&db, alice).await, Some([2, 1, 1, 2]));

    let mut tx = db.as_service().await;
    sqlx::query("UPDATE builder.sessions SET user_id = $2 WHERE id = $1")
        .bind(s)
        .bind(bob)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    assert_eq!(counters(&db, alice).await, Some([1, 0, 0, 1]));
    assert_eq!(counters(&db, bob).await, Some([1, 1, 1, 1]));
    assert_eq!(live(&db, alice).await, [1, 0, 0, 1]);
    assert_eq!(live(&db, bob).await, [1, 1, 1, 1]);

    // A child cannot be moved away from its session's owner, even by the
    // service role: the composite foreign key refuses it.
    let mut tx = db.as_service().await;
    let e = common::db_error(
        sqlx::query("UPDATE builder.prompts SET user_id = $2 WHERE id = $1")
            .bind(p)
            .bind(alice)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::FOREIGN_KEY_VIOLATION);
    assert_eq!(e.constraint.as_deref(), Some("prompts_session_id_fkey"));
}

#[tokio::test]
async fn deleting_a_user_removes_their_builder_rows_and_counters() {
    let db = TestDb::new().await;
    let (alice, bob) = user_pair(&db).await;
    for user in [alice, bob] {
        let s = session(&db, user).await;
        let p = prompt(&db, user, s).await;
        response(&db, user, p).await;
        step(&db, user, s, "model_deploy").await;
    }
    exec(&db, "DELETE FROM auth.users WHERE id = $1", alice).await;

    assert_eq!(live(&db, alice).await, [0, 0, 0, 0]);
    assert_eq!(counters(&db, alice).await, None);
    assert_eq!(counters(&db, bob).await, Some([1, 1, 1, 1]));
    assert_eq!(live(&db, bob).await, [1, 1, 1, 1]);
}

#[tokio::test]
async fn concurrent_first_inserts_of_one_user_both_count() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;

    let mut first = db.as_user(alice).await;
    sqlx::query("INSERT INTO builder.sessions (user_id) VALUES (auth.uid())")
        .execute(&mut *first)
        .await
        .unwrap();

    // The second transaction's upsert must wait for the first one's
    // uncommitted analytics row, then add to it instead of failing.
    let mut second = db.as_user(alice).await;
    let handle = tokio::spawn(async move {
        sqlx::query("INSERT INTO builder.sessions (user_id) VALUES (auth.uid())")
            .execute(&mut *second)
            .await?;
        second.commit().await
    });
    // Wait (bounded) until the second insert is blocked on the first.
    let mut blocked = false;
    for _ in 0..200 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        if waiting > 0 {
            blocked = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(blocked, "the second insert never waited on the first");
    first.commit().await.unwrap();
    handle.await.unwrap().expect("second insert must succeed");

    assert_eq!(counters(&db, alice).await, Some([2, 0, 0, 0]));
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM builder.analytics WHERE user_id = $1")
        .bind(alice)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(rows, 1);
}

// ---------------------------------------------------------------------------
// updated_at trigger
// ---------------------------------------------------------------------------

#[tokio::test]
async fn session_updated_at_is_maintained_on_update() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let s: Uuid = sqlx::query_scalar(
        "INSERT INTO builder.sessions (user_id, created_at, updated_at)
         VALUES ($1, '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z') RETURNING id",
    )
    .bind(alice)
    .fetch_one(&db.pool)
    .await
    .unwrap();

    let mut tx = db.as_user(alice).await;
    let (created, updated, now): (
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
    ) = sqlx::query_as(
        "UPDATE builder.sessions SET status = 'completed' WHERE id = $1
         RETURNING created_at, updated_at, now()",
    )
    .bind(s)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let epoch = "2020-01-01T00:00:00Z"
        .parse::<chrono::DateTime<chrono::Utc>>()
        .unwrap();
    assert_eq!(created, epoch, "created_at is left alone");
    assert_eq!(updated, now, "updated_at set to the transaction time");
    assert!(updated > epoch);

    // Users cannot write the timestamp themselves (no column grant).
    let mut tx = db.as_user(alice).await;
    let e = common::db_error(
        sqlx::query("UPDATE builder.sessions SET updated_at = '2000-01-01' WHERE id = $1")
            .bind(s)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
}

// ---------------------------------------------------------------------------
// Functions
// ---------------------------------------------------------------------------

#[tokio::test]
async fn ensure_analytics_row_creates_own_row_once_and_refuses_others() {
    let db = TestDb::new().await;
    let (alice, bob) = user_pair(&db).await;

    let mut tx = db.as_user(alice).await;
    for _ in 0..2 {
        sqlx::query("SELECT builder.ensure_analytics_row($1)")
            .bind(alice)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    assert_eq!(counters(&db, alice).await, Some([0, 0, 0, 0]));

    // It never resets existing counters.
    let s = session(&db, alice).await;
    step(&db, alice, s, "model_deploy").await;
    let mut tx = db.as_user(alice).await;
    sqlx::query("SELECT builder.ensure_analytics_row($1)")
        .bind(alice)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(counters(&db, alice).await, Some([1, 0, 0, 1]));

    // Acting for another user is refused.
    let mut tx = db.as_user(alice).await;
    let e = common::db_error(
        sqlx::query("SELECT builder.ensure_analytics_row($1)")
            .bind(bob)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    drop(tx);
    let mut tx = db.as_anon().await;
    let e = common::db_error(
        sqlx::query("SELECT builder.ensure_analytics_row($1)")
            .bind(bob)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    drop(tx);
    assert_eq!(counters(&db, bob).await, None);

    // The service role may act for anyone.
    let mut tx = db.as_service().await;
    sqlx::query("SELECT builder.ensure_analytics_row($1)")
        .bind(bob)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(counters(&db, bob).await, Some([0, 0, 0, 0]));
}

#[tokio::test]
async fn recompute_analytics_rebuilds_counters_for_the_service_role_only() {
    let db = TestDb::new().await;
    let (alice, bob) = user_pair(&db).await;
    let carol = db.create_user("carol@example.com").await;
    let s = session(&db, alice).await;
    let p = prompt(&db, alice, s).await;
    response(&db, alice, p).await;
    response(&db, alice, p).await;
    step(&db, alice, s, "model_deploy").await;
    step(&db, alice, s, "train").await;
    let sb = session(&db, bob).await;
    prompt(&db, bob, sb).await;
    // Corrupt both users' counters behind the triggers' back.
    sqlx::query("UPDATE builder.analytics SET total_prompts = 40, total_decisions = 9")
        .execute(&db.pool)
        .await
        .unwrap();

    // Not for users.
    let mut tx = db.as_user(alice).await;
    let e = common::db_error(
        sqlx::query_scalar::<_, i32>("SELECT builder.recompute_analytics($1)")
            .bind(alice)
            .fetch_one(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    drop(tx);
    // Claiming service_role in the claims while running as authenticated
    // does not help: the EXECUTE grant is missing.
    let mut tx = db
        .as_role(
            "authenticated",
            serde_json::json!({ "role": "service_role" }),
        )
        .await;
    let e = common::db_error(
        sqlx::query_scalar::<_, i32>("SELECT builder.recompute_analytics()")
            .fetch_one(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    drop(tx);

    // One user: only alice's row changes.
    let mut tx = db.as_service().await;
    let changed: i32 = sqlx::query_scalar("SELECT builder.recompute_analytics($1)")
        .bind(alice)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(changed, 1);
    assert_eq!(counters(&db, alice).await, Some([1, 1, 2, 1]));
    assert_eq!(counters(&db, bob).await, Some([1, 40, 0, 9]));

    // Everyone: bob's row is fixed, carol gets a zero row, alice is already
    // right (not counted).
    let mut tx = db.as_service().await;
    let changed: i32 = sqlx::query_scalar("SELECT builder.recompute_analytics()")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(changed, 2);
    assert_eq!(counters(&db, bob).await, Some([1, 1, 0, 0]));
    assert_eq!(counters(&db, carol).await, Some([0, 0, 0, 0]));

    let mut tx = db.as_service().await;
    let changed: i32 = sqlx::query_scalar("SELECT builder.recompute_analytics()")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(changed, 0, "nothing left to fix");
}

#[tokio::test]
async fn internal_counter_functions_are_not_callable() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    for tx_fn in ["authenticated", "service_role"] {
        let mut tx = if tx_fn == "authenticated" {
            db.as_user(alice).await
        } else {
            db.as_service().await
        };
        let e = common::db_error(
            sqlx::query("SELECT builder.adjust_analytics($1, 100, 100, 100, 100)")
                .bind(alice)
                .execute(&mut *tx)
                .await,
        );
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "{tx_fn}");
    }
    assert_eq!(counters(&db, alice).await, None);
}

// ---------------------------------------------------------------------------
// Isolation
// ---------------------------------------------------------------------------

/// Alice and Bob each with one session, prompt, response and step; returns
/// Bob's row id per table, in `DATA_TABLES` order.
async fn two_users_with_data(db: &TestDb) -> (Uuid, Uuid, [Uuid; 4]) {
    let (alice, bob) = user_pair(db).await;
    let sa = session(db, alice).await;
    let pa = prompt(db, alice, sa).await;
    response(db, alice, pa).await;
    step(db, alice, sa, "model_deploy").await;
    let sb = session(db, bob).await;
    let pb = prompt(db, bob, sb).await;
    let rb = response(db, bob, pb).await;
    let tb = step(db, bob, sb, "model_deploy").await;
    (alice, bob, [sb, pb, rb, tb])
}

#[tokio::test]
async fn users_only_read_their_own_rows() {
    let db = TestDb::new().await;
    let (alice, bob, _) = two_users_with_data(&db).await;
    for table in DATA_TABLES.iter().chain(["analytics"].iter()) {
        let mut tx = db.as_user(alice).await;
        let owners: Vec<Uuid> =
            sqlx::query_scalar(q(format!("SELECT user_id FROM builder.{table}")))
                .fetch_all(&mut *tx)
                .await
                .unwrap();
        assert_eq!(owners, vec![alice], "alice sees only her {table}");
        let mut tx = db.as_user(bob).await;
        let owners: Vec<Uuid> =
            sqlx::query_scalar(q(format!("SELECT user_id FROM builder.{table}")))
                .fetch_all(&mut *tx)
                .await
                .unwrap();
        assert_eq!(owners, vec![bob], "bob sees only his {table}");
        // Service role sees everyone's.
        let mut tx = db.as_service().await;
        let n: i64 = sqlx::query_scalar(q(format!("SELECT count(*) FROM builder.{table}")))
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(n, 2, "service sees all of {table}");
        // Nothing is public: anon has no privilege at all.
        let mut tx = db.as_anon().await;
        let e = common::db_error(
            sqlx::query_scalar::<_, i64>(q(format!("SELECT count(*) FROM builder.{table}")))
                .fetch_one(&mut *tx)
                .await,
        );
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "anon on {table}");
    }
}

#[tokio::test]
async fn users_cannot_update_or_delete_other_users_rows() {
    let db = TestDb::new().await;
    let (alice, _bob, bob_ids) = two_users_with_data(&db).await;
    let updates = [
        "UPDATE builder.sessions SET status = 'archived' WHERE id = $1",
        "UPDATE builder.prompts SET prompt_text = 'hijacked' WHERE id = $1",
        "UPDATE builder.responses SET response_text = 'hijacked' WHERE id = $1",
        "UPDATE builder.steps SET step_type = 'hijacked' WHERE id = $1",
    ];
    for ((table, sql), id) in DATA_TABLES.iter().zip(updates).zip(bob_ids) {
        let mut tx = db.as_user(alice).await;
        let n = sqlx::query(sql).bind(id).execute(&mut *tx).await.unwrap();
        assert_eq!(n.rows_affected(), 0, "update of bob's {table}");
        let n = sqlx::query(q(format!("DELETE FROM builder.{table} WHERE id = $1")))
            .bind(id)
            .execute(&mut *tx)
            .await
            .unwrap();
        assert_eq!(n.rows_affected(), 0, "delete of bob's {table}");
        tx.commit().await.unwrap();
        let still: i64 = sqlx::query_scalar(q(format!(
            "SELECT count(*) FROM builder.{table} t WHERE t.id = $1 \
             AND coalesce(to_jsonb(t) ->> 'status', '') <> 'archived' \
             AND coalesce(to_jsonb(t) ->> 'prompt_text', '') <> 'hijacked' \
             AND coalesce(to_jsonb(t) ->> 'response_text', '') <> 'hijacked' \
             AND coalesce(to_jsonb(t) ->> 'step_type', '') <> 'hijacked'"
        )))
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(still, 1, "bob's {table} row is intact");
    }
    // Own rows can be updated (content columns) and deleted.
    let mut tx = db.as_user(alice).await;
    let n = sqlx::query("UPDATE builder.sessions SET status = 'archived', description = 'x'")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n.rows_affected(), 1);
}

#[tokio::test]
async fn users_cannot_insert_rows_for_others_or_under_others_parents() {
    let db = TestDb::new().await;
    let (alice, bob, [sb, pb, _, _]) = two_users_with_data(&db).await;
    let sa: Uuid = sqlx::query_scalar("SELECT id FROM builder.sessions WHERE user_id = $1")
        .bind(alice)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let cases: [(&str, &'static str, Uuid, Uuid); 6] = [
        // Rows owned by bob.
        ("sessions", "INSERT INTO builder.sessions (user_id) VALUES ($2) RETURNING id", sb, bob),
        ("prompts", "INSERT INTO builder.prompts (session_id, user_id, prompt_text) VALUES ($1, $2, 'x') RETURNING id", sb, bob),
        ("responses", "INSERT INTO builder.responses (prompt_id, user_id, response_text) VALUES ($1, $2, 'x') RETURNING id", pb, bob),
        // Alice's own user id under bob's parent.
        ("prompts", "INSERT INTO builder.prompts (session_id, user_id, prompt_text) VALUES ($1, $2, 'x') RETURNING id", sb, alice),
        ("responses", "INSERT INTO builder.responses (prompt_id, user_id, response_text) VALUES ($1, $2, 'x') RETURNING id", pb, alice),
        ("steps", "INSERT INTO builder.steps (session_id, user_id, step_type) VALUES ($1, $2, 'x') RETURNING id", sb, alice),
    ];
    for (table, sql, parent, owner) in cases {
        let mut tx = db.as_user(alice).await;
        let e = common::db_error(
            sqlx::query_scalar::<_, Uuid>(sql)
                .bind(parent)
                .bind(owner)
                .fetch_one(&mut *tx)
                .await,
        );
        assert_eq!(
            e.code,
            common::INSUFFICIENT_PRIVILEGE,
            "{table}: {}",
            e.message
        );
        assert!(
            e.message.contains("row-level security"),
            "{table}: {}",
            e.message
        );
    }
    // Bob's step owned by bob, inserted by alice.
    let mut tx = db.as_user(alice).await;
    let e = common::db_error(
        sqlx::query(
            "INSERT INTO builder.steps (session_id, user_id, step_type) VALUES ($1, $2, 'x')",
        )
        .bind(sb)
        .bind(bob)
        .execute(&mut *tx)
        .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    drop(tx);
    // Her own parent works.
    let mut tx = db.as_user(alice).await;
    sqlx::query("INSERT INTO builder.steps (session_id, user_id, step_type) VALUES ($1, $2, 'x')")
        .bind(sa)
        .bind(alice)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        live(&db, bob).await,
        [1, 1, 1, 1],
        "nothing was added for bob"
    );
    assert_eq!(counters(&db, bob).await, Some([1, 1, 1, 1]));
}

#[tokio::test]
async fn nobody_can_write_the_counters_or_move_rows() {
    let db = TestDb::new().await;
    let (alice, bob, _) = two_users_with_data(&db).await;
    let forge = [
        "UPDATE builder.analytics SET total_prompts = 1000",
        "INSERT INTO builder.analytics (user_id) VALUES (auth.uid())",
        "DELETE FROM builder.analytics",
    ];
    for sql in forge {
        for service in [false, true] {
            let mut tx = if service {
                db.as_service().await
            } else {
                db.as_user(alice).await
            };
            let e = common::db_error(sqlx::query(sql).execute(&mut *tx).await);
            assert_eq!(
                e.code,
                common::INSUFFICIENT_PRIVILEGE,
                "{sql} (service: {service})"
            );
        }
    }
    // Ownership and parent columns are not updatable by users.
    let moves = [
        "UPDATE builder.sessions SET user_id = $1",
        "UPDATE builder.prompts SET user_id = $1",
        "UPDATE builder.responses SET user_id = $1",
        "UPDATE builder.steps SET user_id = $1",
        "UPDATE builder.prompts SET session_id = gen_random_uuid() WHERE $1::uuid IS NOT NULL",
        "UPDATE builder.responses SET prompt_id = gen_random_uuid() WHERE $1::uuid IS NOT NULL",
        "UPDATE builder.steps SET session_id = gen_random_uuid() WHERE $1::uuid IS NOT NULL",
        "UPDATE builder.prompts SET created_at = now() WHERE $1::uuid IS NOT NULL",
    ];
    for sql in moves {
        let mut tx = db.as_user(alice).await;
        let e = common::db_error(sqlx::query(sql).bind(bob).execute(&mut *tx).await);
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "{sql}");
    }
    assert_eq!(counters(&db, alice).await, Some([1, 1, 1, 1]));
    assert_eq!(counters(&db, bob).await, Some([1, 1, 1, 1]));
}

// ---------------------------------------------------------------------------
// Constraints
// ---------------------------------------------------------------------------

async fn expect_violation(
    db: &TestDb,
    sql: &'static str,
    binds: &[Uuid],
    code: &str,
    constraint: Option<&str>,
) {
    let mut query = sqlx::query(sql);
    for b in binds {
        query = query.bind(*b);
    }
    let e = common::db_error(query.execute(&db.pool).await);
    assert_eq!(e.code, code, "{sql}: {}", e.message);
    assert_eq!(e.constraint.as_deref(), constraint, "{sql}: {}", e.message);
}

#[tokio::test]
async fn constraints_name_themselves() {
    let db = TestDb::new().await;
    let (alice, bob) = user_pair(&db).await;
    let s = session(&db, alice).await;
    let p = prompt(&db, alice, s).await;
    let nobody = Uuid::new_v4();
    use common::{
        CHECK_VIOLATION as CHECK, FOREIGN_KEY_VIOLATION as FK, NOT_NULL_VIOLATION as NN,
        UNIQUE_VIOLATION as UQ,
    };

    expect_violation(
        &db,
        "INSERT INTO builder.sessions (user_id, status) VALUES ($1, 'running')",
        &[alice],
        CHECK,
        Some("sessions_status_check"),
    )
    .await;
    expect_violation(
        &db,
        "INSERT INTO builder.prompts (session_id, user_id, prompt_text) VALUES ($1, $2, '  ')",
        &[s, alice],
        CHECK,
        Some("prompts_prompt_text_check"),
    )
    .await;
    expect_violation(
        &db,
        "INSERT INTO builder.steps (session_id, user_id, step_type) VALUES ($1, $2, '')",
        &[s, alice],
        CHECK,
        Some("steps_step_type_check"),
    )
    .await;
    expect_violation(
        &db,
        "UPDATE builder.analytics SET total_sessions = -1 WHERE user_id = $1",
        &[alice],
        CHECK,
        Some("analytics_total_sessions_check"),
    )
    .await;

    expect_violation(
        &db,
        "INSERT INTO builder.sessions (user_id) VALUES ($1)",
        &[nobody],
        FK,
        Some("sessions_user_id_fkey"),
    )
    .await;
    expect_violation(
        &db,
        "INSERT INTO builder.prompts (session_id, user_id, prompt_text) VALUES ($1, $2, 'x')",
        &[nobody, alice],
        FK,
        Some("prompts_session_id_fkey"),
    )
    .await;
    // A session of another owner is refused by the composite key.
    expect_violation(
        &db,
        "INSERT INTO builder.prompts (session_id, user_id, prompt_text) VALUES ($1, $2, 'x')",
        &[s, bob],
        FK,
        Some("prompts_session_id_fkey"),
    )
    .await;
    expect_violation(
        &db,
        "INSERT INTO builder.steps (session_id, user_id, step_type) VALUES ($1, $2, 'x')",
        &[s, bob],
        FK,
        Some("steps_session_id_fkey"),
    )
    .await;
    expect_violation(
        &db,
        "INSERT INTO builder.responses (prompt_id, user_id, response_text) VALUES ($1, $2, 'x')",
        &[p, bob],
        FK,
        Some("responses_prompt_id_fkey"),
    )
    .await;
    expect_violation(
        &db,
        "INSERT INTO builder.analytics (user_id) VALUES ($1)",
        &[nobody],
        FK,
        Some("analytics_user_id_fkey"),
    )
    .await;

    expect_violation(
        &db,
        "INSERT INTO builder.analytics (user_id) VALUES ($1)",
        &[alice],
        UQ,
        Some("analytics_user_id_key"),
    )
    .await;
    expect_violation(
        &db,
        "INSERT INTO builder.sessions (id, user_id) VALUES ($1, $2)",
        &[s, alice],
        UQ,
        Some("sessions_pkey"),
    )
    .await;

    expect_violation(
        &db,
        "INSERT INTO builder.prompts (session_id, user_id) VALUES ($1, $2)",
        &[s, alice],
        NN,
        None,
    )
    .await;
    expect_violation(
        &db,
        "INSERT INTO builder.steps (user_id, step_type) VALUES ($1, 'x')",
        &[alice],
        NN,
        None,
    )
    .await;
    expect_violation(
        &db,
        "INSERT INTO builder.responses (prompt_id, response_text) VALUES ($1, 'x')",
        &[p],
        NN,
        None,
    )
    .await;
    let e = common::db_error(
        sqlx::query("INSERT INTO builder.sessions (user_id) VALUES (NULL)")
            .execute(&db.pool)
            .await,
    );
    assert_eq!(e.code, NN);
    assert!(e.message.contains("\"user_id\""), "{}", e.message);

    // NULL status stays allowed, as in the seed.
    sqlx::query("INSERT INTO builder.sessions (user_id, status) VALUES ($1, NULL)")
        .bind(alice)
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(counters(&db, alice).await, Some([2, 1, 0, 0]));
}

// ---------------------------------------------------------------------------
// Entities
// ---------------------------------------------------------------------------

async fn populated() -> TestDb {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let s = session(&db, alice).await;
    let p = prompt(&db, alice, s).await;
    response(&db, alice, p).await;
    step(&db, alice, s, "model_deploy").await;
    db
}

#[tokio::test]
async fn entity_sessions_matches_table() {
    common::check_entity::<entity::builder::sessions::Entity>(&populated().await).await;
}

#[tokio::test]
async fn entity_prompts_matches_table() {
    common::check_entity::<entity::builder::prompts::Entity>(&populated().await).await;
}

#[tokio::test]
async fn entity_responses_matches_table() {
    common::check_entity::<entity::builder::responses::Entity>(&populated().await).await;
}

#[tokio::test]
async fn entity_steps_matches_table() {
    common::check_entity::<entity::builder::steps::Entity>(&populated().await).await;
}

#[tokio::test]
async fn entity_analytics_matches_table() {
    common::check_entity::<entity::builder::analytics::Entity>(&populated().await).await;
}

#[tokio::test]
async fn entity_relations_join() {
    use sea_orm::{EntityTrait, ModelTrait};
    let db = populated().await;
    let orm = db.orm().await;
    let (session, prompts) = entity::builder::sessions::Entity::find()
        .find_with_related(entity::builder::prompts::Entity)
        .all(&orm)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(prompts.len(), 1);
    let responses = prompts[0]
        .find_related(entity::builder::responses::Entity)
        .all(&orm)
        .await
        .unwrap();
    assert_eq!(responses.len(), 1);
    let owner = session
        .find_related(entity::public::users::Entity)
        .one(&orm)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(owner.email, "alice@example.com");
    let stats = entity::builder::analytics::Entity::find()
        .find_also_related(entity::public::users::Entity)
        .all(&orm)
        .await
        .unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].0.total_decisions, 1);
    assert_eq!(stats[0].1.as_ref().map(|u| u.id), Some(owner.id));
}
