//! Tests of the `chat` schema (seed 003): the profile sync trigger on
//! `auth.users`, session statistics and timestamps, the sync / usage /
//! preferences / tier / export / cleanup / health functions, the
//! `api_user_summary` view, owner isolation, constraints and the entities.

use crate::common::{self, sqlx, TestDb};
use serde_json::{json, Value};
use uuid::Uuid;

/// SQLSTATE `invalid_parameter_value`, raised by the functions on bad input.
const INVALID_PARAMETER: &str = "22023";

/// A conversation of `user` with client id `client_id`, written as the superuser.
async fn session(db: &TestDb, user: Uuid, client_id: &str) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO chat.chat_sessions (user_id, client_id, title) VALUES ($1, $2, 'Chat') RETURNING id",
    )
    .bind(user)
    .bind(client_id)
    .fetch_one(&db.pool)
    .await
    .expect("insert session")
}

/// A message in `session`, written as the superuser.
#[allow(clippy::too_many_arguments)]
async fn message(
    db: &TestDb,
    user: Uuid,
    session: Uuid,
    client_id: &str,
    role: &str,
    content: &str,
    tokens: (i32, i32),
    at: &str,
) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO chat.chat_messages
           (session_id, user_id, client_id, role, content, model, input_tokens, output_tokens, message_timestamp)
         VALUES ($1, $2, $3, $4, $5, CASE WHEN $4 = 'assistant' THEN 'openai/gpt-4o-mini' END, $6, $7, $8::timestamptz)
         RETURNING id",
    )
    .bind(session)
    .bind(user)
    .bind(client_id)
    .bind(role)
    .bind(content)
    .bind(tokens.0)
    .bind(tokens.1)
    .bind(at)
    .fetch_one(&db.pool)
    .await
    .expect("insert message")
}

/// `(message_count, total_tokens, last_message_preview, last_model)` of a session.
async fn stats(db: &TestDb, session: Uuid) -> (i32, i64, Option<String>, Option<String>) {
    sqlx::query_as(
        "SELECT message_count, total_tokens, last_message_preview, last_model
         FROM chat.chat_sessions WHERE id = $1",
    )
    .bind(session)
    .fetch_one(&db.pool)
    .await
    .expect("session stats")
}

async fn count(db: &TestDb, sql: &'static str, user: Uuid) -> i64 {
    sqlx::query_scalar(sql)
        .bind(user)
        .fetch_one(&db.pool)
        .await
        .expect("count")
}

/// How many activity log rows of `user` have `action`.
async fn logged(db: &TestDb, user: Uuid, action: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM chat.user_activity_log WHERE user_id = $1 AND action = $2",
    )
    .bind(user)
    .bind(action)
    .fetch_one(&db.pool)
    .await
    .expect("count log")
}

/// A sync payload: conversation `c1` with a user message and its answer, and
/// an empty conversation `c2`.
fn payload() -> Value {
    json!([
        {"id": "c1", "title": "Trip to Rome", "created_at": "2026-01-01T09:00:00Z", "messages": [
            {"id": "m1", "role": "user", "content": "Plan 3 days in Rome",
             "timestamp": "2026-01-01T09:00:01Z"},
            {"id": "m2", "role": "assistant", "content": "Day 1: Colosseum", "model": "openai/gpt-4o-mini",
             "input_tokens": 12, "output_tokens": 30, "completion_id": "gen-1", "user_message_id": "m1",
             "elapsed_ms": 850, "timestamp": "2026-01-01T09:00:05Z"}
        ]},
        {"id": "c2", "messages": []}
    ])
}

async fn sync(db: &TestDb, user: Uuid, data: &Value) -> Result<Value, sqlx::Error> {
    let mut tx = db.as_user(user).await;
    let result = sqlx::query_scalar("SELECT chat.sync_user_conversations($1, $2)")
        .bind(user)
        .bind(data)
        .fetch_one(&mut *tx)
        .await;
    if result.is_ok() {
        tx.commit().await.expect("commit");
    }
    result
}

// ---------------------------------------------------------------------------
// Profile sync trigger (scenarios: first sign-in, returning sign-in)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn first_sign_in_creates_profile_log_and_usage_stats() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let (email, full_name, tier, prefs, usage, last_active): (
        String,
        Option<String>,
        String,
        Value,
        Value,
        Option<chrono::DateTime<chrono::Utc>>,
    ) = sqlx::query_as(
        "SELECT email, full_name, subscription_tier, preferences, usage_stats, last_active
         FROM chat.profiles WHERE id = $1",
    )
    .bind(alice)
    .fetch_one(&db.pool)
    .await
    .expect("profile created");
    assert_eq!(email, "alice@example.com");
    assert_eq!(full_name.as_deref(), Some("alice"));
    assert_eq!(tier, "free");
    assert_eq!(prefs, json!({"ui": {}, "session": {}, "model": {}}));
    assert_eq!(
        usage,
        json!({"messages_sent": 0, "messages_received": 0, "input_tokens": 0, "output_tokens": 0,
               "total_tokens": 0, "sessions_created": 0, "active_minutes": 0})
    );
    assert!(last_active.is_some());
    assert_eq!(logged(&db, alice, "profile_created").await, 1);
    assert_eq!(logged(&db, alice, "profile_synced").await, 0);
    let details: Value = sqlx::query_scalar(
        "SELECT details FROM chat.user_activity_log WHERE user_id = $1 AND action = 'profile_created'",
    )
    .bind(alice)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(details["email"], "alice@example.com");
}

#[tokio::test]
async fn returning_sign_in_syncs_fields_and_logs_at_most_hourly_unless_email_changes() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    sqlx::query("UPDATE chat.profiles SET last_active = now() - interval '3 days' WHERE id = $1")
        .bind(alice)
        .execute(&db.pool)
        .await
        .unwrap();
    let sign_in =
        "UPDATE auth.users SET last_sign_in_at = now(), raw_user_meta_data = $2 WHERE id = $1";
    sqlx::query(sign_in)
        .bind(alice)
        .bind(json!({"full_name": "Alice Liddell", "avatar_url": "https://img/a.png"}))
        .execute(&db.pool)
        .await
        .unwrap();
    let (full_name, avatar, recent): (Option<String>, Option<String>, bool) = sqlx::query_as(
        "SELECT full_name, avatar_url, last_active > now() - interval '1 minute' FROM chat.profiles WHERE id = $1",
    )
    .bind(alice)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(full_name.as_deref(), Some("Alice Liddell"));
    assert_eq!(avatar.as_deref(), Some("https://img/a.png"));
    assert!(recent, "last_active moved to now");
    assert_eq!(logged(&db, alice, "profile_synced").await, 1);

    // Metadata without the fields keeps them; a sign-in within the hour is not logged again.
    sqlx::query(sign_in)
        .bind(alice)
        .bind(json!({}))
        .execute(&db.pool)
        .await
        .unwrap();
    let full_name: Option<String> =
        sqlx::query_scalar("SELECT full_name FROM chat.profiles WHERE id = $1")
            .bind(alice)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(full_name.as_deref(), Some("Alice Liddell"));
    assert_eq!(logged(&db, alice, "profile_synced").await, 1);

    // An email change is always logged.
    sqlx::query("UPDATE auth.users SET email = 'alice@new.example' WHERE id = $1")
        .bind(alice)
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(logged(&db, alice, "profile_synced").await, 2);
    let email: String = sqlx::query_scalar("SELECT email FROM chat.profiles WHERE id = $1")
        .bind(alice)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(email, "alice@new.example");

    // Once the last sync is over an hour old, the next sign-in is logged.
    sqlx::query(
        "UPDATE chat.user_activity_log SET \"timestamp\" = now() - interval '2 hours' WHERE user_id = $1",
    )
    .bind(alice)
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query(sign_in)
        .bind(alice)
        .bind(json!({}))
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(logged(&db, alice, "profile_synced").await, 3);
}

#[tokio::test]
async fn profile_updated_at_trigger_and_user_column_grants() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    sqlx::query("UPDATE chat.profiles SET updated_at = '2020-01-01Z' WHERE id = $1")
        .bind(alice)
        .execute(&db.pool)
        .await
        .unwrap();
    // The trigger overrides the explicit value too.
    let after: bool =
        sqlx::query_scalar("SELECT updated_at > '2020-01-02Z' FROM chat.profiles WHERE id = $1")
            .bind(alice)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(after);

    let mut tx = db.as_user(alice).await;
    let name: String = sqlx::query_scalar(
        "UPDATE chat.profiles SET full_name = 'Al', preferences = '{\"ui\": {\"theme\": \"dark\"}}'
         WHERE id = $1 RETURNING full_name",
    )
    .bind(alice)
    .fetch_one(&mut *tx)
    .await
    .expect("user edits own name and preferences");
    assert_eq!(name, "Al");
    tx.commit().await.unwrap();

    for forbidden in [
        "UPDATE chat.profiles SET subscription_tier = 'enterprise' WHERE id = $1",
        "UPDATE chat.profiles SET usage_stats = '{}' WHERE id = $1",
        "UPDATE chat.profiles SET email = 'x@y.z' WHERE id = $1",
        "DELETE FROM chat.profiles WHERE id = $1",
    ] {
        let mut tx = db.as_user(alice).await;
        let e = common::db_error(sqlx::query(forbidden).bind(alice).execute(&mut *tx).await);
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "{forbidden}");
    }
}

#[tokio::test]
async fn sync_profile_from_auth_restores_profile_and_checks_caller() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;
    sqlx::query(
        "UPDATE chat.profiles SET email = 'stale@example.com', full_name = NULL WHERE id = $1",
    )
    .bind(alice)
    .execute(&db.pool)
    .await
    .unwrap();
    let mut tx = db.as_user(alice).await;
    let (email, name): (String, Option<String>) =
        sqlx::query_as("SELECT email, full_name FROM chat.sync_profile_from_auth($1)")
            .bind(alice)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(email, "alice@example.com");
    assert_eq!(name.as_deref(), Some("alice"));
    tx.commit().await.unwrap();

    let mut tx = db.as_user(alice).await;
    let e = common::db_error(
        sqlx::query("SELECT chat.sync_profile_from_auth($1)")
            .bind(bob)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
}

#[tokio::test]
async fn deleting_the_auth_user_removes_all_chat_data() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let s = session(&db, alice, "c1").await;
    message(&db, alice, s, "m1", "user", "hi", (0, 0), "2026-01-01Z").await;
    sqlx::query("DELETE FROM auth.users WHERE id = $1")
        .bind(alice)
        .execute(&db.pool)
        .await
        .expect("cascade delete");
    for sql in [
        "SELECT count(*) FROM chat.profiles WHERE id = $1",
        "SELECT count(*) FROM chat.user_activity_log WHERE user_id = $1",
        "SELECT count(*) FROM chat.chat_sessions WHERE user_id = $1",
        "SELECT count(*) FROM chat.chat_messages WHERE user_id = $1",
    ] {
        assert_eq!(count(&db, sql, alice).await, 0, "{sql}");
    }
}

// ---------------------------------------------------------------------------
// Sessions and messages (scenarios: send/receive, rename, delete, clear all)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn message_triggers_keep_session_stats_on_insert_update_delete() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let s = session(&db, alice, "c1").await;
    sqlx::query("UPDATE chat.chat_sessions SET updated_at = '2020-01-01Z' WHERE id = $1")
        .bind(s)
        .execute(&db.pool)
        .await
        .unwrap();

    // The user sends a message and gets a response, through the API role.
    let mut tx = db.as_user(alice).await;
    for (client_id, role, content, tokens, at) in [
        (
            "m1",
            "user",
            "What is Rust?",
            (0, 0),
            "2026-01-01T10:00:00Z",
        ),
        (
            "m2",
            "assistant",
            "A systems language.",
            (10, 25),
            "2026-01-01T10:00:04Z",
        ),
    ] {
        sqlx::query(
            "INSERT INTO chat.chat_messages
               (session_id, user_id, client_id, role, content, model, input_tokens, output_tokens, message_timestamp)
             VALUES ($1, $2, $3, $4, $5, CASE WHEN $4 = 'assistant' THEN 'openai/gpt-4o-mini' END, $6, $7, $8::timestamptz)",
        )
        .bind(s)
        .bind(alice)
        .bind(client_id)
        .bind(role)
        .bind(content)
        .bind(tokens.0)
        .bind(tokens.1)
        .bind(at)
        .execute(&mut *tx)
        .await
        .expect("user inserts a message in own session");
    }
    tx.commit().await.unwrap();
    assert_eq!(
        stats(&db, s).await,
        (
            2,
            35,
            Some("A systems language.".into()),
            Some("openai/gpt-4o-mini".into())
        )
    );
    let (last_ts, bumped, activity): (chrono::DateTime<chrono::Utc>, bool, bool) = sqlx::query_as(
        "SELECT last_message_timestamp, updated_at > '2020-01-02Z', last_activity > '2020-01-02Z'
         FROM chat.chat_sessions WHERE id = $1",
    )
    .bind(s)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(last_ts.to_rfc3339(), "2026-01-01T10:00:04+00:00");
    assert!(bumped && activity, "on_session_updated stamped the session");

    // An older message arriving late does not become the preview.
    message(
        &db,
        alice,
        s,
        "m0",
        "system",
        "Be brief.",
        (3, 0),
        "2026-01-01T09:59:00Z",
    )
    .await;
    assert_eq!(
        stats(&db, s).await,
        (
            3,
            38,
            Some("A systems language.".into()),
            Some("openai/gpt-4o-mini".into())
        )
    );

    // Editing token counts moves the total by the difference.
    sqlx::query("UPDATE chat.chat_messages SET output_tokens = 5 WHERE session_id = $1 AND client_id = 'm2'")
        .bind(s)
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(stats(&db, s).await.1, 18);

    // Deleting the latest message recomputes the preview from what is left.
    sqlx::query("DELETE FROM chat.chat_messages WHERE session_id = $1 AND client_id = 'm2'")
        .bind(s)
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        stats(&db, s).await,
        (2, 3, Some("What is Rust?".into()), None)
    );

    // Long content is cut to 100 characters in the preview.
    let long = "x".repeat(250);
    message(&db, alice, s, "m3", "user", &long, (0, 0), "2026-01-02Z").await;
    assert_eq!(stats(&db, s).await.2.map(|p| p.len()), Some(100));
}

#[tokio::test]
async fn rename_bumps_updated_at_and_users_cannot_forge_counters() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let s = session(&db, alice, "c1").await;
    sqlx::query("UPDATE chat.chat_sessions SET updated_at = '2020-01-01Z', last_activity = '2020-01-01Z' WHERE id = $1")
        .bind(s)
        .execute(&db.pool)
        .await
        .unwrap();
    let mut tx = db.as_user(alice).await;
    let n = sqlx::query("UPDATE chat.chat_sessions SET title = 'Renamed' WHERE id = $1")
        .bind(s)
        .execute(&mut *tx)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(n, 1);
    tx.commit().await.unwrap();
    let (title, bumped): (String, bool) = sqlx::query_as(
        "SELECT title, updated_at > '2020-01-02Z' AND last_activity > '2020-01-02Z' FROM chat.chat_sessions WHERE id = $1",
    )
    .bind(s)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(title, "Renamed");
    assert!(bumped);

    for forbidden in [
        "UPDATE chat.chat_sessions SET message_count = 99 WHERE id = $1",
        "UPDATE chat.chat_sessions SET total_tokens = 0 WHERE id = $1",
        "UPDATE chat.chat_sessions SET user_id = gen_random_uuid() WHERE id = $1",
    ] {
        let mut tx = db.as_user(alice).await;
        let e = common::db_error(sqlx::query(forbidden).bind(s).execute(&mut *tx).await);
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "{forbidden}");
    }
}

#[tokio::test]
async fn deleting_a_conversation_cascades_its_messages_without_error() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let s1 = session(&db, alice, "c1").await;
    let s2 = session(&db, alice, "c2").await;
    message(&db, alice, s1, "m1", "user", "a", (1, 0), "2026-01-01Z").await;
    message(
        &db,
        alice,
        s1,
        "m2",
        "assistant",
        "b",
        (1, 2),
        "2026-01-02Z",
    )
    .await;
    message(&db, alice, s2, "m1", "user", "c", (4, 0), "2026-01-01Z").await;

    let mut tx = db.as_user(alice).await;
    let n = sqlx::query("DELETE FROM chat.chat_sessions WHERE id = $1")
        .bind(s1)
        .execute(&mut *tx)
        .await
        .expect("delete conversation")
        .rows_affected();
    assert_eq!(n, 1);
    tx.commit().await.unwrap();
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM chat.chat_messages WHERE session_id = $1")
            .bind(s1)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(left, 0);
    assert_eq!(stats(&db, s2).await, (1, 4, Some("c".into()), None));
}

#[tokio::test]
async fn clear_all_deletes_only_the_viewers_conversations() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;
    for c in ["c1", "c2", "c3"] {
        let s = session(&db, alice, c).await;
        message(&db, alice, s, "m1", "user", "hi", (1, 1), "2026-01-01Z").await;
    }
    let b = session(&db, bob, "c1").await;
    message(&db, bob, b, "m1", "user", "bob", (1, 1), "2026-01-01Z").await;

    let mut tx = db.as_user(alice).await;
    // The endpoint deletes "all"; RLS narrows it to the viewer's rows.
    let n = sqlx::query("DELETE FROM chat.chat_sessions")
        .execute(&mut *tx)
        .await
        .expect("clear all")
        .rows_affected();
    assert_eq!(n, 3);
    tx.commit().await.unwrap();
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM chat.chat_sessions WHERE user_id = $1",
            alice
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM chat.chat_messages WHERE user_id = $1",
            alice
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM chat.chat_messages WHERE user_id = $1",
            bob
        )
        .await,
        1
    );
    assert_eq!(stats(&db, b).await.0, 1);
}

// ---------------------------------------------------------------------------
// sync_user_conversations
// ---------------------------------------------------------------------------

/// Everything sync writes, with timestamps, to compare before and after a replay.
async fn snapshot(db: &TestDb, user: Uuid) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT to_jsonb(s)::text FROM chat.chat_sessions s WHERE s.user_id = $1
         UNION ALL
         SELECT to_jsonb(m)::text FROM chat.chat_messages m WHERE m.user_id = $1
         ORDER BY 1",
    )
    .bind(user)
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn sync_twice_is_idempotent() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let first = sync(&db, alice, &payload()).await.expect("first sync");
    assert_eq!(
        first,
        json!({"conversations": 2, "sessions_created": 2, "sessions_updated": 0,
               "messages_inserted": 2, "messages_updated": 0, "messages_unchanged": 0})
    );
    let s: Uuid = sqlx::query_scalar(
        "SELECT id FROM chat.chat_sessions WHERE user_id = $1 AND client_id = 'c1'",
    )
    .bind(alice)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        stats(&db, s).await,
        (
            2,
            42,
            Some("Day 1: Colosseum".into()),
            Some("openai/gpt-4o-mini".into())
        )
    );
    let (title, created): (String, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as("SELECT title, created_at FROM chat.chat_sessions WHERE id = $1")
            .bind(s)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(title, "Trip to Rome");
    assert_eq!(created.to_rfc3339(), "2026-01-01T09:00:00+00:00");

    let before = snapshot(&db, alice).await;
    let second = sync(&db, alice, &payload()).await.expect("second sync");
    assert_eq!(
        second,
        json!({"conversations": 2, "sessions_created": 0, "sessions_updated": 0,
               "messages_inserted": 0, "messages_updated": 0, "messages_unchanged": 2})
    );
    assert_eq!(
        snapshot(&db, alice).await,
        before,
        "a replay changes no row, not even updated_at"
    );

    // A changed payload updates in place: rename, edited message, new message.
    let mut changed = payload();
    changed[0]["title"] = json!("Rome, 3 days");
    changed[0]["messages"][1]["content"] = json!("Day 1: Colosseum and Forum");
    changed[0]["messages"][1]["output_tokens"] = json!(40);
    changed[0]["messages"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "m3", "role": "user", "content": "Thanks", "timestamp": "2026-01-01T09:01:00Z"}));
    let third = sync(&db, alice, &changed).await.expect("third sync");
    assert_eq!(
        third,
        json!({"conversations": 2, "sessions_created": 0, "sessions_updated": 1,
               "messages_inserted": 1, "messages_updated": 1, "messages_unchanged": 1})
    );
    assert_eq!(
        stats(&db, s).await,
        (
            3,
            52,
            Some("Thanks".into()),
            Some("openai/gpt-4o-mini".into())
        )
    );
}

#[tokio::test]
async fn sync_is_all_or_nothing_and_validates_the_payload() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let mut bad = payload();
    // The second conversation is valid, the third has a bad message in the middle.
    bad.as_array_mut()
        .unwrap()
        .push(json!({"id": "c3", "messages": [
            {"id": "m1", "role": "user", "content": "ok"},
            {"id": "m2", "role": "robot", "content": "bad role"},
            {"id": "m3", "role": "user", "content": "never reached"}
        ]}));
    let e = common::db_error(sync(&db, alice, &bad).await);
    assert_eq!(e.code, INVALID_PARAMETER);
    assert!(
        e.message.contains("conversation 2 message 1"),
        "{}",
        e.message
    );
    assert_eq!(
        snapshot(&db, alice).await,
        Vec::<String>::new(),
        "nothing of the payload was kept"
    );

    for (payload, what) in [
        (json!("not an array"), "array"),
        (json!([42]), "not an object"),
        (json!([{"title": "no id"}]), "no id"),
        (
            json!([{"id": "c1", "messages": {"id": "m1"}}]),
            "must be an array",
        ),
        (
            json!([{"id": "c1", "messages": [{"id": "m1", "role": "user"}]}]),
            "no content",
        ),
        (
            json!([{"id": "c1", "messages": [{"role": "user", "content": "x"}]}]),
            "no id",
        ),
        (
            json!([{"id": "c1", "messages": [{"id": "m1", "role": "user", "content": "x", "input_tokens": -1}]}]),
            "non-negative",
        ),
        (
            json!([{"id": "c1", "messages": [{"id": "m1", "role": "user", "content": "x", "input_tokens": 1.5}]}]),
            "non-negative",
        ),
        (
            json!([{"id": "c1", "messages": [{"id": "m1", "role": "user", "content": "x", "timestamp": "soon"}]}]),
            "not a timestamp",
        ),
        (
            json!([{"id": "c1", "messages": [{"id": "m1", "role": "user", "content": 7}]}]),
            "must be a string",
        ),
    ] {
        let e = common::db_error(sync(&db, alice, &payload).await);
        assert_eq!(e.code, INVALID_PARAMETER, "{payload}");
        assert!(e.message.contains(what), "{payload}: {}", e.message);
    }
    assert_eq!(snapshot(&db, alice).await, Vec::<String>::new());
    // The wrapped form {"conversations": [...]} is accepted too.
    let ok = sync(&db, alice, &json!({"conversations": payload()}))
        .await
        .unwrap();
    assert_eq!(ok["messages_inserted"], 2);
}

#[tokio::test]
async fn sync_is_scoped_to_the_caller() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;
    sync(&db, alice, &payload()).await.unwrap();
    let alice_before = snapshot(&db, alice).await;
    // Bob uses the same client ids: he gets his own rows, Alice's are untouched.
    let mut his = payload();
    his[0]["title"] = json!("Bob's trip");
    let r = sync(&db, bob, &his).await.unwrap();
    assert_eq!(r["sessions_created"], 2);
    assert_eq!(snapshot(&db, alice).await, alice_before);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM chat.chat_messages WHERE user_id = $1",
            bob
        )
        .await,
        2
    );

    // Bob cannot sync into Alice's account.
    let mut tx = db.as_user(bob).await;
    let e = common::db_error(
        sqlx::query("SELECT chat.sync_user_conversations($1, $2)")
            .bind(alice)
            .bind(payload())
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    // The service role may.
    let mut tx = db.as_service().await;
    let r: Value = sqlx::query_scalar("SELECT chat.sync_user_conversations($1, $2)")
        .bind(alice)
        .bind(payload())
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(r["messages_unchanged"], 2);
}

// ---------------------------------------------------------------------------
// Reading sessions
// ---------------------------------------------------------------------------

#[tokio::test]
async fn recent_sessions_and_session_with_messages() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;
    let s1 = session(&db, alice, "c1").await;
    let s2 = session(&db, alice, "c2").await;
    let s3 = session(&db, alice, "c3").await;
    session(&db, bob, "c9").await;
    // The BEFORE UPDATE trigger stamps now(); disable it for this fixture only.
    sqlx::query("ALTER TABLE chat.chat_sessions DISABLE TRIGGER on_session_updated")
        .execute(&db.pool)
        .await
        .unwrap();
    for (s, at) in [
        (s1, "2026-01-03Z"),
        (s2, "2026-01-01Z"),
        (s3, "2026-01-02Z"),
    ] {
        sqlx::query("UPDATE chat.chat_sessions SET updated_at = $2::timestamptz WHERE id = $1")
            .bind(s)
            .bind(at)
            .execute(&db.pool)
            .await
            .unwrap();
    }
    sqlx::query("ALTER TABLE chat.chat_sessions ENABLE TRIGGER on_session_updated")
        .execute(&db.pool)
        .await
        .unwrap();
    let mut tx = db.as_user(alice).await;
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT client_id FROM chat.get_user_recent_sessions($1, 2)")
            .bind(alice)
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    assert_eq!(ids, ["c1", "c3"]);
    let all: i64 = sqlx::query_scalar("SELECT count(*) FROM chat.get_user_recent_sessions($1)")
        .bind(alice)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(all, 3, "never another user's sessions");
    tx.commit().await.unwrap();

    message(
        &db,
        alice,
        s1,
        "m2",
        "assistant",
        "second",
        (1, 1),
        "2026-01-01T00:00:02Z",
    )
    .await;
    message(
        &db,
        alice,
        s1,
        "m1",
        "user",
        "first",
        (0, 0),
        "2026-01-01T00:00:01Z",
    )
    .await;
    let mut tx = db.as_user(alice).await;
    let doc: Value = sqlx::query_scalar("SELECT chat.get_session_with_messages('c1', $1)")
        .bind(alice)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(doc["session"]["client_id"], "c1");
    assert_eq!(doc["session"]["message_count"], 2);
    let contents: Vec<&str> = doc["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["first", "second"]);
    // Bob's conversation id does not exist for Alice.
    let none: Option<Value> = sqlx::query_scalar("SELECT chat.get_session_with_messages('c9', $1)")
        .bind(alice)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(none, None);
    tx.commit().await.unwrap();

    for sql in [
        "SELECT chat.get_session_with_messages('c9', $1)",
        "SELECT count(*) FROM chat.get_user_recent_sessions($1)",
    ] {
        let mut tx = db.as_user(alice).await;
        let e = common::db_error(sqlx::query(sql).bind(bob).execute(&mut *tx).await);
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "{sql}");
    }
    let mut tx = db.as_user(alice).await;
    let e = common::db_error(
        sqlx::query("SELECT * FROM chat.get_user_recent_sessions($1, 0)")
            .bind(alice)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, INVALID_PARAMETER);
}

// ---------------------------------------------------------------------------
// Usage, models, tiers, preferences
// ---------------------------------------------------------------------------

#[tokio::test]
async fn track_user_usage_accumulates_per_day_and_lifetime() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let mut tx = db.as_user(alice).await;
    let sql = "SELECT messages_sent, messages_received, input_tokens, output_tokens, total_tokens,
                      models_used, sessions_created, active_minutes
               FROM chat.track_user_usage($1, $2, $3, $4, $5, $6, $7, $8)";
    type Row = (i32, i32, i64, i64, i64, Vec<String>, i32, i32);
    /// `(sent, received, input, output, model, sessions, minutes)` of one call.
    type Call = (i32, i32, i32, i32, Option<&'static str>, i32, i32);
    let calls: [Call; 3] = [
        (1, 1, 10, 25, Some("openai/gpt-4o-mini"), 1, 2),
        (2, 1, 5, 5, Some("anthropic/claude-3-haiku"), 0, 3),
        (1, 0, 0, 0, Some("openai/gpt-4o-mini"), 0, 0),
    ];
    let mut last: Option<Row> = None;
    for c in calls {
        last = Some(
            sqlx::query_as(sql)
                .bind(alice)
                .bind(c.0)
                .bind(c.1)
                .bind(c.2)
                .bind(c.3)
                .bind(c.4)
                .bind(c.5)
                .bind(c.6)
                .fetch_one(&mut *tx)
                .await
                .expect("track usage"),
        );
    }
    tx.commit().await.unwrap();
    assert_eq!(
        last.unwrap(),
        (
            4,
            2,
            15,
            30,
            45,
            vec![
                "anthropic/claude-3-haiku".to_string(),
                "openai/gpt-4o-mini".to_string()
            ],
            1,
            5
        )
    );
    let rows: i64 = count(
        &db,
        "SELECT count(*) FROM chat.user_usage_daily WHERE user_id = $1",
        alice,
    )
    .await;
    assert_eq!(rows, 1, "one row per day");
    let usage: Value = sqlx::query_scalar("SELECT usage_stats FROM chat.profiles WHERE id = $1")
        .bind(alice)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(usage["messages_sent"], 4);
    assert_eq!(usage["messages_received"], 2);
    assert_eq!(usage["total_tokens"], 45);
    assert_eq!(usage["sessions_created"], 1);
    assert_eq!(usage["active_minutes"], 5);

    // A usage row from yesterday is a different row and is left alone.
    sqlx::query("UPDATE chat.user_usage_daily SET usage_date = usage_date - 1 WHERE user_id = $1")
        .bind(alice)
        .execute(&db.pool)
        .await
        .unwrap();
    let mut tx = db.as_user(alice).await;
    let sent: i32 = sqlx::query_scalar("SELECT messages_sent FROM chat.track_user_usage($1, 7)")
        .bind(alice)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(sent, 7);
    tx.commit().await.unwrap();
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM chat.user_usage_daily WHERE user_id = $1",
            alice
        )
        .await,
        2
    );

    let bob = db.create_user("bob@example.com").await;
    let mut tx = db.as_user(alice).await;
    let e = common::db_error(
        sqlx::query("SELECT chat.track_user_usage($1, 1)")
            .bind(bob)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    let mut tx = db.as_user(alice).await;
    let e = common::db_error(
        sqlx::query("SELECT chat.track_user_usage($1, -1)")
            .bind(alice)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, INVALID_PARAMETER);
    // Users read their usage but cannot write it directly.
    let mut tx = db.as_user(alice).await;
    let e = common::db_error(
        sqlx::query("UPDATE chat.user_usage_daily SET messages_sent = 0 WHERE user_id = $1")
            .bind(alice)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
}

async fn allowed(db: &TestDb, user: Uuid) -> Vec<(String, String, Option<i32>)> {
    let mut tx = db.as_user(user).await;
    sqlx::query_as("SELECT model_id::text, tier::text, daily_limit FROM chat.get_user_allowed_models($1) ORDER BY 1")
        .bind(user)
        .fetch_all(&mut *tx)
        .await
        .unwrap()
}

async fn can_use(db: &TestDb, user: Uuid, model: &str) -> bool {
    let mut tx = db.as_user(user).await;
    sqlx::query_scalar("SELECT chat.can_user_use_model($1, $2)")
        .bind(user)
        .bind(model)
        .fetch_one(&mut *tx)
        .await
        .unwrap()
}

async fn set_tier(db: &TestDb, user: Uuid, tier: &str) -> Result<String, sqlx::Error> {
    let mut tx = db.as_service().await;
    let r = sqlx::query_scalar("SELECT subscription_tier::text FROM chat.update_user_tier($1, $2)")
        .bind(user)
        .bind(tier)
        .fetch_one(&mut *tx)
        .await;
    if r.is_ok() {
        tx.commit().await.unwrap();
    }
    r
}

#[tokio::test]
async fn allowed_models_follow_the_tier_hierarchy() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let free = allowed(&db, alice).await;
    assert_eq!(
        free,
        vec![
            (
                "deepseek/deepseek-r1-0528:free".into(),
                "free".into(),
                Some(50)
            ),
            (
                "google/gemini-2.0-flash-exp:free".into(),
                "free".into(),
                Some(50)
            ),
        ]
    );
    assert!(can_use(&db, alice, "google/gemini-2.0-flash-exp:free").await);
    assert!(!can_use(&db, alice, "openai/gpt-4o-mini").await);

    assert_eq!(set_tier(&db, alice, "pro").await.unwrap(), "pro");
    let pro = allowed(&db, alice).await;
    // deepseek is listed for free and pro: once, with the pro limits.
    assert_eq!(pro.len(), 4);
    assert!(pro.contains(&(
        "deepseek/deepseek-r1-0528:free".into(),
        "pro".into(),
        Some(500)
    )));
    assert!(can_use(&db, alice, "openai/gpt-4o-mini").await);
    assert!(!can_use(&db, alice, "openai/gpt-4o").await);

    set_tier(&db, alice, "enterprise").await.unwrap();
    assert_eq!(allowed(&db, alice).await.len(), 6);
    assert!(can_use(&db, alice, "openai/gpt-4o").await);

    // An inactive entry is not allowed.
    sqlx::query("UPDATE chat.model_access SET is_active = false WHERE model_id = 'openai/gpt-4o'")
        .execute(&db.pool)
        .await
        .unwrap();
    assert!(!can_use(&db, alice, "openai/gpt-4o").await);

    let bob = db.create_user("bob@example.com").await;
    let mut tx = db.as_user(alice).await;
    let e = common::db_error(
        sqlx::query("SELECT chat.can_user_use_model($1, 'openai/gpt-4o')")
            .bind(bob)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
}

#[tokio::test]
async fn update_user_tier_is_service_only_validated_and_logged() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let mut tx = db.as_user(alice).await;
    let e = common::db_error(
        sqlx::query("SELECT chat.update_user_tier($1, 'enterprise')")
            .bind(alice)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    let e = common::db_error(set_tier(&db, alice, "platinum").await);
    assert_eq!(e.code, INVALID_PARAMETER);
    let e = common::db_error(set_tier(&db, Uuid::new_v4(), "pro").await);
    assert_eq!(e.code, "P0002");

    set_tier(&db, alice, "pro").await.unwrap();
    let details: Value = sqlx::query_scalar(
        "SELECT details FROM chat.user_activity_log WHERE user_id = $1 AND action = 'tier_updated'",
    )
    .bind(alice)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(details, json!({"old_tier": "free", "new_tier": "pro"}));
}

#[tokio::test]
async fn jsonb_deep_merge_known_answers() {
    let db = TestDb::new().await;
    let cases = [
        (
            json!({"a": 1, "b": {"c": 2, "d": 3}}),
            json!({"b": {"d": 4, "e": 5}, "f": 6}),
            json!({"a": 1, "b": {"c": 2, "d": 4, "e": 5}, "f": 6}),
        ),
        (
            json!({"x": {"y": {"z": 1, "k": 1}}}),
            json!({"x": {"y": {"z": 2}}}),
            json!({"x": {"y": {"z": 2, "k": 1}}}),
        ),
        (json!({"a": [1, 2]}), json!({"a": [3]}), json!({"a": [3]})),
        (json!({"a": {"b": 1}}), json!({"a": 5}), json!({"a": 5})),
        (
            json!({"a": 5}),
            json!({"a": {"b": 1}}),
            json!({"a": {"b": 1}}),
        ),
        (json!({"a": 1}), json!({}), json!({"a": 1})),
        (json!([1]), json!({"a": 1}), json!({"a": 1})),
    ];
    let mut tx = db.as_anon().await;
    for (a, b, expected) in cases {
        let got: Value = sqlx::query_scalar("SELECT chat.jsonb_deep_merge($1, $2)")
            .bind(&a)
            .bind(&b)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(got, expected, "merge {a} with {b}");
    }
    let null_b: Value = sqlx::query_scalar("SELECT chat.jsonb_deep_merge('{\"a\": 1}', NULL)")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(null_b, json!({"a": 1}));
}

#[tokio::test]
async fn update_user_preferences_deep_merges_one_section_and_logs() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let call = "SELECT chat.update_user_preferences($1, $2, $3)";
    let mut tx = db.as_user(alice).await;
    sqlx::query(call)
        .bind(alice)
        .bind("ui")
        .bind(json!({"theme": "dark", "font": {"size": 14, "family": "mono"}}))
        .execute(&mut *tx)
        .await
        .unwrap();
    let prefs: Value = sqlx::query_scalar(call)
        .bind(alice)
        .bind("ui")
        .bind(json!({"font": {"size": 16}}))
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        prefs,
        json!({"ui": {"theme": "dark", "font": {"size": 16, "family": "mono"}}, "session": {}, "model": {}})
    );
    let mut tx = db.as_user(alice).await;
    let prefs: Value = sqlx::query_scalar(call)
        .bind(alice)
        .bind("model")
        .bind(json!({"default_model": "openai/gpt-4o-mini", "temperature": 0.7}))
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        prefs["model"],
        json!({"default_model": "openai/gpt-4o-mini", "temperature": 0.7})
    );
    assert_eq!(prefs["ui"]["theme"], "dark");
    assert_eq!(logged(&db, alice, "preferences_updated").await, 3);

    for (kind, value) in [
        ("billing", json!({"a": 1})),
        ("ui", json!([1, 2])),
        ("ui", json!("dark")),
    ] {
        let mut tx = db.as_user(alice).await;
        let e = common::db_error(
            sqlx::query(call)
                .bind(alice)
                .bind(kind)
                .bind(&value)
                .execute(&mut *tx)
                .await,
        );
        assert_eq!(e.code, INVALID_PARAMETER, "{kind} {value}");
    }
    let bob = db.create_user("bob@example.com").await;
    let mut tx = db.as_user(alice).await;
    let e = common::db_error(
        sqlx::query(call)
            .bind(bob)
            .bind("ui")
            .bind(json!({"theme": "pink"}))
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    let bob_prefs: Value =
        sqlx::query_scalar("SELECT preferences FROM chat.profiles WHERE id = $1")
            .bind(bob)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(bob_prefs["ui"], json!({}));
}

#[tokio::test]
async fn get_user_complete_profile_combines_profile_models_and_usage() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    sqlx::query(
        "INSERT INTO chat.user_usage_daily (user_id, usage_date, messages_sent, messages_received, input_tokens, output_tokens)
         VALUES ($1, (now() AT TIME ZONE 'UTC')::date, 3, 2, 10, 20),
                ($1, (now() AT TIME ZONE 'UTC')::date - 5, 1, 1, 100, 0),
                ($1, (now() AT TIME ZONE 'UTC')::date - 45, 9, 9, 999, 999)",
    )
    .bind(alice)
    .execute(&db.pool)
    .await
    .unwrap();
    let mut tx = db.as_user(alice).await;
    let doc: Value = sqlx::query_scalar("SELECT chat.get_user_complete_profile($1)")
        .bind(alice)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(doc["email"], "alice@example.com");
    assert_eq!(doc["subscription_tier"], "free");
    assert_eq!(doc["allowed_models"].as_array().unwrap().len(), 2);
    assert_eq!(doc["usage_stats"]["today"]["messages_sent"], 3);
    assert_eq!(doc["usage_stats"]["today"]["total_tokens"], 30);
    assert_eq!(doc["usage_stats"]["last_30_days"]["messages_sent"], 4);
    assert_eq!(doc["usage_stats"]["last_30_days"]["total_tokens"], 130);
    assert_eq!(doc["usage_stats"]["last_30_days"]["active_days"], 2);
    assert_eq!(
        doc["preferences"],
        json!({"ui": {}, "session": {}, "model": {}})
    );

    let bob = db.create_user("bob@example.com").await;
    let e = common::db_error(
        sqlx::query("SELECT chat.get_user_complete_profile($1)")
            .bind(bob)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
}

// ---------------------------------------------------------------------------
// Activity log, export, cleanup, health
// ---------------------------------------------------------------------------

#[tokio::test]
async fn log_user_activity_own_only_and_system_actions_reserved() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;
    let mut tx = db.as_user(alice).await;
    sqlx::query("SELECT chat.log_user_activity($1, 'conversation_exported', '{\"format\": \"md\"}', 'c1', '10.1.2.3', 'ua/1')")
        .bind(alice)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (details, session, ip): (Value, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT details, session_id, host(ip_address) FROM chat.user_activity_log
         WHERE user_id = $1 AND action = 'conversation_exported'",
    )
    .bind(alice)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(details, json!({"format": "md"}));
    assert_eq!(session.as_deref(), Some("c1"));
    assert_eq!(ip.as_deref(), Some("10.1.2.3"));

    let cases: [(Uuid, &str, &str); 3] = [
        (bob, "opened", common::INSUFFICIENT_PRIVILEGE),
        (alice, "profile_created", common::INSUFFICIENT_PRIVILEGE),
        (alice, "tier_updated", common::INSUFFICIENT_PRIVILEGE),
    ];
    for (user, action, code) in cases {
        let mut tx = db.as_user(alice).await;
        let e = common::db_error(
            sqlx::query("SELECT chat.log_user_activity($1, $2)")
                .bind(user)
                .bind(action)
                .execute(&mut *tx)
                .await,
        );
        assert_eq!(e.code, code, "{action}");
    }
    let mut tx = db.as_user(alice).await;
    let e = common::db_error(
        sqlx::query("SELECT chat.log_user_activity($1, '  ')")
            .bind(alice)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::CHECK_VIOLATION);
    assert_eq!(
        e.constraint.as_deref(),
        Some("user_activity_log_action_check")
    );
    // No direct writes.
    let mut tx = db.as_user(alice).await;
    let e = common::db_error(
        sqlx::query("INSERT INTO chat.user_activity_log (user_id, action) VALUES ($1, 'x')")
            .bind(alice)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
}

#[tokio::test]
async fn export_contains_all_of_the_users_data_and_none_of_anyone_else() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;
    sync(&db, alice, &payload()).await.unwrap();
    sync(
        &db,
        bob,
        &json!([{"id": "c1", "title": "bob secret", "messages": [
        {"id": "m1", "role": "user", "content": "bob's secret message"}]}]),
    )
    .await
    .unwrap();
    for user in [alice, bob] {
        let mut tx = db.as_user(user).await;
        sqlx::query("SELECT chat.track_user_usage($1, 1, 1, 5, 5, 'openai/gpt-4o-mini')")
            .bind(user)
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query("SELECT chat.update_user_preferences($1, 'ui', '{\"theme\": \"dark\"}')")
            .bind(user)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let mut tx = db.as_user(alice).await;
    let doc: Value = sqlx::query_scalar("SELECT chat.export_user_data($1)")
        .bind(alice)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(doc["user_id"], json!(alice));
    assert_eq!(doc["profile"]["email"], "alice@example.com");
    let sessions = doc["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let messages: usize = sessions
        .iter()
        .map(|s| s["messages"].as_array().unwrap().len())
        .sum();
    assert_eq!(messages, 2);
    assert_eq!(doc["usage_daily"].as_array().unwrap().len(), 1);
    let actions: Vec<&str> = doc["activity_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["profile_created", "preferences_updated"]);
    let text = doc.to_string();
    assert!(!text.contains(&bob.to_string()), "no id of Bob");
    assert!(!text.contains("bob"), "nothing of Bob");

    let e = common::db_error(
        sqlx::query("SELECT chat.export_user_data($1)")
            .bind(bob)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    // The service role exports for anyone, still only that user's rows.
    let mut tx = db.as_service().await;
    let doc: Value = sqlx::query_scalar("SELECT chat.export_user_data($1)")
        .bind(bob)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(doc["sessions"].as_array().unwrap().len(), 1);
    assert!(!doc.to_string().contains(&alice.to_string()));
}

#[tokio::test]
async fn cleanup_old_data_keeps_recent_rows_profiles_and_sessions() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let s = session(&db, alice, "c1").await;
    message(
        &db,
        alice,
        s,
        "m1",
        "user",
        "old message",
        (0, 0),
        "2020-01-01Z",
    )
    .await;
    sqlx::query(
        "INSERT INTO chat.user_activity_log (user_id, action, \"timestamp\") VALUES
           ($1, 'old', now() - interval '40 days'), ($1, 'older', now() - interval '400 days'),
           ($1, 'recent', now() - interval '29 days')",
    )
    .bind(alice)
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO chat.user_usage_daily (user_id, usage_date, messages_sent) VALUES
           ($1, (now() AT TIME ZONE 'UTC')::date - 31, 1), ($1, (now() AT TIME ZONE 'UTC')::date - 30, 1),
           ($1, (now() AT TIME ZONE 'UTC')::date, 1)",
    )
    .bind(alice)
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO chat.system_cache (key, value, expires_at) VALUES
           ('expired', '1', now() - interval '1 minute'), ('fresh', '2', now() + interval '1 hour'),
           ('forever', '3', NULL)",
    )
    .execute(&db.pool)
    .await
    .unwrap();

    let mut tx = db.as_service().await;
    let r: Value = sqlx::query_scalar("SELECT chat.cleanup_old_data(30)")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        r,
        json!({"activity_logs_deleted": 2, "usage_rows_deleted": 1, "cache_entries_deleted": 1})
    );
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action::text FROM chat.user_activity_log WHERE user_id = $1 ORDER BY 1",
    )
    .bind(alice)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(actions, ["profile_created", "recent"]);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM chat.user_usage_daily WHERE user_id = $1",
            alice
        )
        .await,
        2
    );
    let keys: Vec<String> =
        sqlx::query_scalar("SELECT key::text FROM chat.system_cache ORDER BY 1")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(keys, ["forever", "fresh"]);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM chat.profiles WHERE id = $1",
            alice
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM chat.chat_sessions WHERE user_id = $1",
            alice
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM chat.chat_messages WHERE user_id = $1",
            alice
        )
        .await,
        1
    );

    for days in [0, -5] {
        let mut tx = db.as_service().await;
        let e = common::db_error(
            sqlx::query("SELECT chat.cleanup_old_data($1)")
                .bind(days)
                .execute(&mut *tx)
                .await,
        );
        assert_eq!(e.code, INVALID_PARAMETER);
    }
    let mut tx = db.as_user(alice).await;
    let e = common::db_error(
        sqlx::query("SELECT chat.cleanup_old_data(1)")
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
}

#[tokio::test]
async fn analyze_database_health_is_service_only() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let mut tx = db.as_service().await;
    let doc: Value = sqlx::query_scalar("SELECT chat.analyze_database_health()")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let tables: Vec<&str> = doc["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["table_name"].as_str().unwrap())
        .collect();
    for t in [
        "chat_messages",
        "chat_sessions",
        "model_access",
        "profiles",
        "user_activity_log",
    ] {
        assert!(tables.contains(&t), "{t} in {tables:?}");
    }
    assert!(doc["tables"][0]["total_size_bytes"].as_i64().unwrap() > 0);
    assert!(doc["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["index_name"] == "idx_chat_messages_session_timestamp"));
    for mut tx in [db.as_user(alice).await, db.as_anon().await] {
        let e = common::db_error(
            sqlx::query("SELECT chat.analyze_database_health()")
                .execute(&mut *tx)
                .await,
        );
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    }
}

// ---------------------------------------------------------------------------
// api_user_summary
// ---------------------------------------------------------------------------

#[tokio::test]
async fn api_user_summary_numbers_match_hand_computed_fixture() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;
    // Alice: 2 sessions (one archived) with 3 + 1 messages = 4, tokens 30 + 5 = 35.
    let s1 = session(&db, alice, "c1").await;
    let s2 = session(&db, alice, "c2").await;
    sqlx::query("UPDATE chat.chat_sessions SET is_active = false WHERE id = $1")
        .bind(s2)
        .execute(&db.pool)
        .await
        .unwrap();
    message(
        &db,
        alice,
        s1,
        "m1",
        "user",
        "a",
        (0, 0),
        "2026-01-01T00:00:00Z",
    )
    .await;
    message(
        &db,
        alice,
        s1,
        "m2",
        "assistant",
        "b",
        (10, 20),
        "2026-01-01T00:00:01Z",
    )
    .await;
    message(
        &db,
        alice,
        s1,
        "m3",
        "user",
        "c",
        (0, 0),
        "2026-01-01T00:00:02Z",
    )
    .await;
    message(
        &db,
        alice,
        s2,
        "m1",
        "user",
        "d",
        (5, 0),
        "2026-02-01T00:00:00Z",
    )
    .await;
    // Usage: today 3+2 msgs / 10+20 tokens; 10 days ago 1+1 / 100+0; 40 days ago (outside) 9+9 / 999+999.
    // Three usage rows and two sessions: a naive join would multiply these sums.
    sqlx::query(
        "INSERT INTO chat.user_usage_daily (user_id, usage_date, messages_sent, messages_received, input_tokens, output_tokens)
         VALUES ($1, (now() AT TIME ZONE 'UTC')::date, 3, 2, 10, 20),
                ($1, (now() AT TIME ZONE 'UTC')::date - 10, 1, 1, 100, 0),
                ($1, (now() AT TIME ZONE 'UTC')::date - 40, 9, 9, 999, 999)",
    )
    .bind(alice)
    .execute(&db.pool)
    .await
    .unwrap();

    type Row = (
        Uuid,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        Option<chrono::DateTime<chrono::Utc>>,
    );
    let sql = "SELECT user_id, total_sessions, active_sessions, total_messages, total_session_tokens,
                      messages_today, tokens_today, messages_last_30_days, tokens_last_30_days, last_message_at
               FROM chat.api_user_summary ORDER BY email";
    let mut tx = db.as_user(alice).await;
    let rows: Vec<Row> = sqlx::query_as(sql).fetch_all(&mut *tx).await.unwrap();
    assert_eq!(rows.len(), 1, "a user sees only their own summary");
    let (id, sessions, active, msgs, tokens, msgs_today, tok_today, msgs_30, tok_30, last) =
        rows[0];
    assert_eq!(id, alice);
    assert_eq!((sessions, active, msgs, tokens), (2, 1, 4, 35));
    assert_eq!((msgs_today, tok_today, msgs_30, tok_30), (5, 30, 7, 130));
    assert_eq!(last.unwrap().to_rfc3339(), "2026-02-01T00:00:00+00:00");
    tx.commit().await.unwrap();

    let mut tx = db.as_service().await;
    let rows: Vec<Row> = sqlx::query_as(sql).fetch_all(&mut *tx).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].0, bob);
    assert_eq!(
        (rows[1].1, rows[1].3, rows[1].5, rows[1].8),
        (0, 0, 0, 0),
        "zeros, not NULLs, for Bob"
    );

    let mut tx = db.as_anon().await;
    let e = common::db_error(sqlx::query(sql).fetch_all(&mut *tx).await);
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
}

// ---------------------------------------------------------------------------
// Isolation
// ---------------------------------------------------------------------------

/// Alice's rows in every user-data table, plus Bob.
struct Fixture {
    db: TestDb,
    alice: Uuid,
    bob: Uuid,
    session: Uuid,
}

async fn fixture() -> Fixture {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;
    let session = session(&db, alice, "c1").await;
    message(
        &db,
        alice,
        session,
        "m1",
        "user",
        "private",
        (1, 1),
        "2026-01-01Z",
    )
    .await;
    sqlx::query("INSERT INTO chat.user_usage_daily (user_id, messages_sent) VALUES ($1, 1)")
        .bind(alice)
        .execute(&db.pool)
        .await
        .unwrap();
    Fixture {
        db,
        alice,
        bob,
        session,
    }
}

/// `(table, owner column)` of every user-data table.
const USER_TABLES: [(&str, &str); 5] = [
    ("profiles", "id"),
    ("user_activity_log", "user_id"),
    ("chat_sessions", "user_id"),
    ("chat_messages", "user_id"),
    ("user_usage_daily", "user_id"),
];

fn q(sql: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql)
}

#[tokio::test]
async fn another_user_cannot_read_or_change_alices_rows() {
    let f = fixture().await;
    for (table, owner) in USER_TABLES {
        let mut tx = f.db.as_user(f.bob).await;
        let seen: i64 = sqlx::query_scalar(q(format!(
            "SELECT count(*) FROM chat.{table} WHERE {owner} = $1"
        )))
        .bind(f.alice)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert_eq!(seen, 0, "bob reads alice's {table}");
        // Alice sees her own.
        let mut tx = f.db.as_user(f.alice).await;
        let own: i64 = sqlx::query_scalar(q(format!(
            "SELECT count(*) FROM chat.{table} WHERE {owner} = $1"
        )))
        .bind(f.alice)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert!(own >= 1, "alice reads her {table}");
    }
    // Updates and deletes of Alice's rows by Bob touch nothing (or are refused outright).
    for sql in [
        "UPDATE chat.profiles SET full_name = 'pwned' WHERE id = $1",
        "UPDATE chat.chat_sessions SET title = 'pwned' WHERE user_id = $1",
        "DELETE FROM chat.chat_sessions WHERE user_id = $1",
        "UPDATE chat.chat_messages SET content = 'pwned' WHERE user_id = $1",
        "DELETE FROM chat.chat_messages WHERE user_id = $1",
    ] {
        let mut tx = f.db.as_user(f.bob).await;
        let n = sqlx::query(sql)
            .bind(f.alice)
            .execute(&mut *tx)
            .await
            .unwrap()
            .rows_affected();
        assert_eq!(n, 0, "{sql}");
        tx.commit().await.unwrap();
    }
    for sql in [
        "DELETE FROM chat.user_activity_log WHERE user_id = $1",
        "DELETE FROM chat.user_usage_daily WHERE user_id = $1",
        "DELETE FROM chat.profiles WHERE id = $1",
    ] {
        let mut tx = f.db.as_user(f.bob).await;
        let e = common::db_error(sqlx::query(sql).bind(f.alice).execute(&mut *tx).await);
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "{sql}");
    }
    assert_eq!(stats(&f.db, f.session).await.0, 1);
    assert_eq!(
        count(
            &f.db,
            "SELECT count(*) FROM chat.chat_sessions WHERE user_id = $1 AND title = 'Chat'",
            f.alice
        )
        .await,
        1
    );
}

#[tokio::test]
async fn no_insert_for_another_user_or_under_another_users_session() {
    let f = fixture().await;
    // A session owned by Alice, created by Bob.
    let mut tx = f.db.as_user(f.bob).await;
    let e = common::db_error(
        sqlx::query("INSERT INTO chat.chat_sessions (user_id, client_id) VALUES ($1, 'x')")
            .bind(f.alice)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    // A message of Bob's own under Alice's session, and one claiming to be Alice's.
    for owner in [f.bob, f.alice] {
        let mut tx = f.db.as_user(f.bob).await;
        let e = common::db_error(
            sqlx::query(
                "INSERT INTO chat.chat_messages (session_id, user_id, client_id, role, content)
                 VALUES ($1, $2, 'evil', 'user', 'injected')",
            )
            .bind(f.session)
            .bind(owner)
            .execute(&mut *tx)
            .await,
        );
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    }
    // Moving one's own message into Alice's session.
    let bs = session(&f.db, f.bob, "b1").await;
    message(
        &f.db,
        f.bob,
        bs,
        "m1",
        "user",
        "mine",
        (0, 0),
        "2026-01-01Z",
    )
    .await;
    let mut tx = f.db.as_user(f.bob).await;
    let e = common::db_error(
        sqlx::query("UPDATE chat.chat_messages SET session_id = $1 WHERE user_id = $2")
            .bind(f.session)
            .bind(f.bob)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    // Even as the owner, the composite FK keeps a message's user equal to its session's.
    let e = common::db_error(
        sqlx::query(
            "INSERT INTO chat.chat_messages (session_id, user_id, client_id, role, content)
             VALUES ($1, $2, 'x', 'user', 'mismatch')",
        )
        .bind(f.session)
        .bind(f.bob)
        .execute(&f.db.pool)
        .await,
    );
    assert_eq!(e.code, common::FOREIGN_KEY_VIOLATION);
    assert_eq!(
        e.constraint.as_deref(),
        Some("chat_messages_session_id_fkey")
    );
    assert_eq!(stats(&f.db, f.session).await.0, 1);
}

#[tokio::test]
async fn anon_sees_only_the_active_model_catalogue_and_service_sees_all() {
    let f = fixture().await;
    for (table, _) in USER_TABLES {
        let mut tx = f.db.as_anon().await;
        let e = common::db_error(
            sqlx::query(q(format!("SELECT count(*) FROM chat.{table}")))
                .fetch_one(&mut *tx)
                .await,
        );
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "anon reads {table}");
    }
    sqlx::query("UPDATE chat.model_access SET is_active = false WHERE model_id = 'openai/gpt-4o'")
        .execute(&f.db.pool)
        .await
        .unwrap();
    for mut tx in [f.db.as_anon().await, f.db.as_user(f.bob).await] {
        let visible: i64 = sqlx::query_scalar("SELECT count(*) FROM chat.model_access")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(visible, 6, "inactive entries are hidden");
        let e = common::db_error(
            sqlx::query("INSERT INTO chat.model_access (model_id, model_name, tier) VALUES ('m', 'M', 'free')")
                .execute(&mut *tx)
                .await,
        );
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    }
    for table in ["system_cache", "system_stats"] {
        for mut tx in [f.db.as_anon().await, f.db.as_user(f.alice).await] {
            let e = common::db_error(
                sqlx::query(q(format!("SELECT count(*) FROM chat.{table}")))
                    .fetch_one(&mut *tx)
                    .await,
            );
            assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "{table}");
        }
    }

    let mut tx = f.db.as_service().await;
    for (table, expected) in [
        ("profiles", 2),
        ("user_activity_log", 2),
        ("chat_sessions", 1),
        ("chat_messages", 1),
        ("user_usage_daily", 1),
        ("model_access", 7),
    ] {
        let n: i64 = sqlx::query_scalar(q(format!("SELECT count(*) FROM chat.{table}")))
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(n, expected, "service reads all of {table}");
    }
    sqlx::query("INSERT INTO chat.system_cache (key, value) VALUES ('k', '{\"v\": 1}')")
        .execute(&mut *tx)
        .await
        .expect("service writes the cache");
    sqlx::query("INSERT INTO chat.system_stats (stat_date, total_users) VALUES (current_date, 2)")
        .execute(&mut *tx)
        .await
        .expect("service writes stats");
}

// ---------------------------------------------------------------------------
// Constraints
// ---------------------------------------------------------------------------

#[tokio::test]
async fn constraint_violations_name_the_constraint() {
    let f = fixture().await;
    let (db, alice) = (&f.db, f.alice);
    let cases: Vec<(&str, &str, &str)> = vec![
        ("UPDATE chat.profiles SET subscription_tier = 'gold' WHERE id = $1", common::CHECK_VIOLATION, "profiles_subscription_tier_check"),
        ("UPDATE chat.profiles SET preferences = '[]' WHERE id = $1", common::CHECK_VIOLATION, "profiles_preferences_check"),
        ("INSERT INTO chat.chat_sessions (user_id, client_id, title) VALUES ($1, 'c2', '   ')", common::CHECK_VIOLATION, "chat_sessions_title_check"),
        ("INSERT INTO chat.chat_sessions (user_id, client_id) VALUES ($1, '')", common::CHECK_VIOLATION, "chat_sessions_client_id_check"),
        ("INSERT INTO chat.chat_sessions (user_id, client_id) VALUES ($1, 'c1')", common::UNIQUE_VIOLATION, "chat_sessions_user_id_client_id_key"),
        ("INSERT INTO chat.chat_sessions (user_id, client_id) VALUES (gen_random_uuid(), 'zz')", common::FOREIGN_KEY_VIOLATION, "chat_sessions_user_id_fkey"),
        ("INSERT INTO chat.chat_messages (session_id, user_id, client_id, role, content)
          SELECT id, $1, 'm9', 'robot', 'x' FROM chat.chat_sessions WHERE user_id = $1", common::CHECK_VIOLATION, "chat_messages_role_check"),
        ("INSERT INTO chat.chat_messages (session_id, user_id, client_id, role, content, input_tokens)
          SELECT id, $1, 'm9', 'user', 'x', -1 FROM chat.chat_sessions WHERE user_id = $1", common::CHECK_VIOLATION, "chat_messages_input_tokens_check"),
        ("INSERT INTO chat.chat_messages (session_id, user_id, client_id, role, content)
          SELECT id, $1, 'm1', 'user', 'dup' FROM chat.chat_sessions WHERE user_id = $1", common::UNIQUE_VIOLATION, "chat_messages_session_id_client_id_key"),
        ("INSERT INTO chat.user_usage_daily (user_id, messages_sent) VALUES ($1, 1)", common::UNIQUE_VIOLATION, "user_usage_daily_user_id_usage_date_key"),
        ("INSERT INTO chat.user_usage_daily (user_id, usage_date, messages_sent) VALUES ($1, '2020-01-01', -1)", common::CHECK_VIOLATION, "user_usage_daily_counts_check"),
        ("INSERT INTO chat.user_usage_daily (user_id) VALUES (gen_random_uuid())", common::FOREIGN_KEY_VIOLATION, "user_usage_daily_user_id_fkey"),
        ("INSERT INTO chat.user_activity_log (user_id, action) VALUES (gen_random_uuid(), 'x')", common::FOREIGN_KEY_VIOLATION, "user_activity_log_user_id_fkey"),
        ("INSERT INTO chat.model_access (model_id, model_name, tier) VALUES ('openai/gpt-4o', 'dup', 'enterprise')", common::UNIQUE_VIOLATION, "model_access_model_id_tier_key"),
        ("INSERT INTO chat.model_access (model_id, model_name, tier) VALUES ('m', 'M', 'gold')", common::CHECK_VIOLATION, "model_access_tier_check"),
        ("INSERT INTO chat.model_access (model_id, model_name, tier, daily_limit) VALUES ('m', 'M', 'free', 0)", common::CHECK_VIOLATION, "model_access_limits_check"),
        ("INSERT INTO chat.system_stats (stat_date, total_users) VALUES ('2020-01-01', -1)", common::CHECK_VIOLATION, "system_stats_counts_check"),
        ("INSERT INTO chat.profiles (id, email) VALUES (gen_random_uuid(), 'ghost@example.com')", common::FOREIGN_KEY_VIOLATION, "profiles_id_fkey"),
    ];
    for (sql, code, constraint) in cases {
        let mut query = sqlx::query(sql);
        if sql.contains("$1") {
            query = query.bind(alice);
        }
        let e = common::db_error(query.execute(&db.pool).await);
        assert_eq!(
            (e.code.as_str(), e.constraint.as_deref()),
            (code, Some(constraint)),
            "{sql}: {}",
            e.message
        );
    }
    for (sql, column) in [
        (
            "INSERT INTO chat.chat_messages (session_id, user_id, client_id, role, content)
          SELECT id, $1, 'm9', 'user', NULL FROM chat.chat_sessions WHERE user_id = $1",
            "content",
        ),
        (
            "INSERT INTO chat.chat_sessions (user_id, client_id) VALUES ($1, NULL)",
            "client_id",
        ),
        (
            "INSERT INTO chat.system_cache (key, value) VALUES ('k' || $1::text, NULL)",
            "value",
        ),
    ] {
        let e = common::db_error(sqlx::query(sql).bind(alice).execute(&db.pool).await);
        assert_eq!(e.code, common::NOT_NULL_VIOLATION, "{sql}");
        assert!(e.message.contains(column), "{}", e.message);
    }
    let e = common::db_error(
        sqlx::query("INSERT INTO chat.system_cache (key, value) VALUES ('k', '1'), ('k', '2')")
            .execute(&db.pool)
            .await,
    );
    assert_eq!(e.constraint.as_deref(), Some("system_cache_pkey"));
}

// ---------------------------------------------------------------------------
// Entities
// ---------------------------------------------------------------------------

#[tokio::test]
async fn entities_match_their_relations() {
    let f = fixture().await;
    let db = &f.db;
    sqlx::query("SELECT chat.write_activity_log($1, 'with_ip', '{}', 'c1', '10.0.0.1', 'ua')")
        .bind(f.alice)
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO chat.system_cache (key, value, expires_at) VALUES ('k', '{\"v\": 1}', now()) ON CONFLICT DO NOTHING")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO chat.system_stats (stat_date, total_users) VALUES (current_date, 2) ON CONFLICT DO NOTHING")
        .execute(&db.pool)
        .await
        .unwrap();
    common::check_entity::<entity::chat::profiles::Entity>(db).await;
    common::check_entity::<entity::chat::user_activity_log::Entity>(db).await;
    common::check_entity::<entity::chat::chat_sessions::Entity>(db).await;
    common::check_entity::<entity::chat::chat_messages::Entity>(db).await;
    common::check_entity::<entity::chat::user_usage_daily::Entity>(db).await;
    common::check_entity::<entity::chat::model_access::Entity>(db).await;
    common::check_entity::<entity::chat::system_cache::Entity>(db).await;
    common::check_entity::<entity::chat::system_stats::Entity>(db).await;
    common::check_entity::<entity::chat::api_user_summary::Entity>(db).await;
}

#[tokio::test]
async fn entity_relations_join_through_sea_orm() {
    use sea_orm::{EntityTrait, ModelTrait};
    let f = fixture().await;
    let orm = f.db.orm().await;
    let session = entity::chat::chat_sessions::Entity::find_by_id(f.session)
        .one(&orm)
        .await
        .unwrap()
        .expect("session");
    let messages = session
        .find_related(entity::chat::chat_messages::Entity)
        .all(&orm)
        .await
        .unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].total_tokens, 2);
    let owner = session
        .find_related(entity::chat::profiles::Entity)
        .one(&orm)
        .await
        .unwrap()
        .expect("owner");
    assert_eq!(owner.id, f.alice);
    let usage = owner
        .find_related(entity::chat::user_usage_daily::Entity)
        .all(&orm)
        .await
        .unwrap();
    assert_eq!(usage.len(), 1);
    assert_eq!(usage[0].messages_sent, 1);
}
