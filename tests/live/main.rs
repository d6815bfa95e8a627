//! Live subscription tests: the real gateway's `/graphql/ws` (both
//! protocols, driven by a Rust client) on a real PostgreSQL whose `0007_live`
//! triggers notify the gateway's LISTEN connection. Writers are the gateway
//! itself (mutations over HTTP), another gateway process on the same
//! database, and plain SQL, as a job would write.

#[path = "../common/mod.rs"]
mod common;

mod chat;
mod feeds;
mod lanes;
mod resume;
mod transport;

use common::app::TestApp;
use common::sqlx;
use common::ws::WsClient;
use serde_json::{json, Value};
use uuid::Uuid;

/// An acknowledged connection of `user` over `protocol`.
pub async fn connect(app: &TestApp, protocol: &'static str, user: Uuid) -> WsClient {
    WsClient::connect(app.addr, protocol, Some(&app.token(user)))
        .await
        .expect("connection_ack")
}

/// A cursor at the database's current time: subscribing with it as `after`
/// makes the test independent of when the subscription is registered
/// (whatever is committed from now on is delivered once, by catch-up or
/// live).
pub async fn cursor_now(app: &TestApp) -> String {
    let now: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    gateway::live::Cursor {
        ts: now - chrono::Duration::milliseconds(1),
        id: Uuid::nil(),
    }
    .encode()
}

/// A conversation of `user`, written directly in SQL.
pub async fn chat_session(app: &TestApp, user: Uuid, client_id: &str) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO chat.chat_sessions (user_id, client_id) VALUES ($1, $2) RETURNING id",
    )
    .bind(user)
    .bind(client_id)
    .fetch_one(&app.db.pool)
    .await
    .expect("insert chat session")
}

/// A message in `session`, written directly in SQL (as a job would).
pub async fn chat_message(app: &TestApp, session: Uuid, user: Uuid, content: &str) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO chat.chat_messages (session_id, user_id, client_id, role, content)
         VALUES ($1, $2, gen_random_uuid()::text, 'user', $3) RETURNING id",
    )
    .bind(session)
    .bind(user)
    .bind(content)
    .fetch_one(&app.db.pool)
    .await
    .expect("insert chat message")
}

/// Runs `query` as `user` over HTTP and returns `data`.
pub async fn ok(app: &TestApp, user: Uuid, query: &str, vars: Value) -> Value {
    app.as_user(user, query, vars).await.data().clone()
}

/// The chat messages subscription with its resume cursor.
pub const CHAT_MESSAGES: &str = "subscription($s: UUID!, $after: String) {
    chatMessages(sessionId: $s, after: $after) { cursor message { id content role } } }";

/// Subscribes to `session`'s messages after `after`.
pub async fn follow_chat(client: &mut WsClient, session: Uuid, after: Option<&str>) -> String {
    client
        .start(CHAT_MESSAGES, json!({ "s": session, "after": after }))
        .await
}

/// The next chat message delivered on `id`: (content, cursor, message id).
pub async fn next_message(client: &mut WsClient, id: &str) -> (String, String, String) {
    let m = client.next_data(id, "chatMessages").await;
    (
        m["message"]["content"].as_str().unwrap().to_string(),
        m["cursor"].as_str().unwrap().to_string(),
        m["message"]["id"].as_str().unwrap().to_string(),
    )
}

/// Gives a subscription started without `after` time to register.
/// Terminates the gateway's LISTEN connection to this test's database.
pub async fn kill_listener(app: &TestApp) {
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE application_name = 'gateway-live' AND datname = current_database()",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(killed, [true]);
}

pub async fn settle() {
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
}
