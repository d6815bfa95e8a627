//! Live subscriptions across a database restart. A binary of its own: the
//! restart drops every connection of this binary's throwaway cluster, which
//! would disturb tests running beside it.

#[path = "../common/mod.rs"]
mod common;

use common::app::spawn_app;
use common::sqlx;
use common::ws::{WsClient, PROTOCOLS};
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

const CHAT_MESSAGES: &str = "subscription($s: UUID!, $after: String) {
    chatMessages(sessionId: $s, after: $after) { cursor message { content } } }";

async fn next_message(client: &mut WsClient, id: &str) -> (String, String) {
    let m = client.next_data(id, "chatMessages").await;
    (
        m["message"]["content"].as_str().unwrap().to_string(),
        m["cursor"].as_str().unwrap().to_string(),
    )
}

/// Inserts a message, retrying while the server comes back.
async fn insert(pool: &sqlx::PgPool, session: Uuid, user: Uuid, content: &str) {
    for _ in 0..100 {
        let done = sqlx::query(
            "INSERT INTO chat.chat_messages (session_id, user_id, client_id, role, content)
             VALUES ($1, $2, $3, 'user', $3)",
        )
        .bind(session)
        .bind(user)
        .bind(content)
        .execute(pool)
        .await;
        if done.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the database did not come back");
}

#[tokio::test]
async fn subscribers_lose_and_duplicate_nothing_across_a_database_restart() {
    common::use_own_cluster();
    let app = spawn_app().await;
    let alice = app.db.create_user("alice@example.com").await;
    let session: Uuid = sqlx::query_scalar(
        "INSERT INTO chat.chat_sessions (user_id, client_id) VALUES ($1, 'c') RETURNING id",
    )
    .bind(alice)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    let now: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let start = gateway::live::Cursor {
        ts: now - chrono::Duration::milliseconds(1),
        id: Uuid::nil(),
    }
    .encode();
    // One subscriber stays connected through the restart; another leaves
    // before it and comes back with its last cursor.
    let token = app.token(alice);
    let mut stays = WsClient::connect(app.addr, PROTOCOLS[0], Some(&token))
        .await
        .unwrap();
    let stays_sub = stays
        .start(CHAT_MESSAGES, json!({ "s": session, "after": start }))
        .await;
    let mut leaves = WsClient::connect(app.addr, PROTOCOLS[1], Some(&token))
        .await
        .unwrap();
    let leaves_sub = leaves
        .start(CHAT_MESSAGES, json!({ "s": session, "after": start }))
        .await;
    for text in ["m1", "m2"] {
        insert(&app.db.pool, session, alice, text).await;
    }
    for text in ["m1", "m2"] {
        assert_eq!(next_message(&mut stays, &stays_sub).await.0, text);
    }
    assert_eq!(next_message(&mut leaves, &leaves_sub).await.0, "m1");
    let (_, last_cursor) = next_message(&mut leaves, &leaves_sub).await;
    leaves.close().await;

    assert!(
        common::restart_server(),
        "runs on its own throwaway cluster"
    );
    for text in ["m3", "m4", "m5"] {
        insert(&app.db.pool, session, alice, text).await;
    }
    for text in ["m3", "m4", "m5"] {
        assert_eq!(next_message(&mut stays, &stays_sub).await.0, text);
    }
    let mut back = WsClient::connect(app.addr, PROTOCOLS[1], Some(&token))
        .await
        .unwrap();
    let back_sub = back
        .start(CHAT_MESSAGES, json!({ "s": session, "after": last_cursor }))
        .await;
    for text in ["m3", "m4", "m5"] {
        assert_eq!(next_message(&mut back, &back_sub).await.0, text);
    }
    // And live again for both.
    tokio::time::sleep(Duration::from_millis(300)).await;
    insert(&app.db.pool, session, alice, "m6").await;
    assert_eq!(next_message(&mut stays, &stays_sub).await.0, "m6");
    assert_eq!(next_message(&mut back, &back_sub).await.0, "m6");
    stays.assert_silent(Duration::from_millis(500)).await;
    back.assert_silent(Duration::from_millis(100)).await;
}
