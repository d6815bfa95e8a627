//! `chatMessages` and `chatSessions`: order, both protocols, every writer,
//! resume by cursor, and isolation.

use crate::common::app::spawn_app;
use crate::common::ws::{WsClient, PROTOCOLS};
use crate::{chat_message, chat_session, connect, cursor_now, follow_chat, next_message, ok};
use serde_json::json;
use std::time::Duration;

const SEND: &str = "mutation($input: SendChatMessageInput!) { sendChatMessage(input: $input) {
    session { id } userMessage { id } assistantMessage { id } } }";

fn send_input(session: uuid::Uuid, content: &str) -> serde_json::Value {
    json!({ "input": {
        "sessionId": session,
        "model": "deepseek/deepseek-r1-0528:free",
        "message": { "content": content, "inputTokens": 3 },
        "response": { "content": format!("re: {content}"), "outputTokens": 5 }
    }})
}

#[tokio::test]
async fn chat_messages_arrive_in_order_from_every_writer_over_both_protocols() {
    let app = spawn_app().await;
    let alice = app.db.create_user("alice@example.com").await;
    let session = chat_session(&app, alice, "conv").await;
    for protocol in PROTOCOLS {
        let mut client = connect(&app, protocol, alice).await;
        let after = cursor_now(&app).await;
        let sub = follow_chat(&mut client, session, Some(&after)).await;
        // The gateway as writer: one mutation stores two messages.
        ok(&app, alice, SEND, send_input(session, protocol)).await;
        // A job writing SQL directly.
        chat_message(&app, session, alice, "from a job").await;
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(next_message(&mut client, &sub).await.0);
        }
        assert_eq!(
            got,
            [
                protocol.to_string(),
                format!("re: {protocol}"),
                "from a job".to_string()
            ],
            "{protocol}"
        );
        client.assert_silent(Duration::from_millis(300)).await;
        client.stop(&sub).await;
        client.close().await;
    }
}

#[tokio::test]
async fn a_reconnecting_client_resumes_after_its_cursor_without_loss_or_duplicates() {
    let app = spawn_app().await;
    let alice = app.db.create_user("alice@example.com").await;
    let session = chat_session(&app, alice, "conv").await;
    let mut client = connect(&app, PROTOCOLS[0], alice).await;
    let after = cursor_now(&app).await;
    let sub = follow_chat(&mut client, session, Some(&after)).await;
    for text in ["m1", "m2"] {
        chat_message(&app, session, alice, text).await;
    }
    assert_eq!(next_message(&mut client, &sub).await.0, "m1");
    let (_, last_cursor, _) = next_message(&mut client, &sub).await;
    client.close().await;
    // Missed while away.
    for text in ["m3", "m4", "m5"] {
        chat_message(&app, session, alice, text).await;
    }
    let mut client = connect(&app, PROTOCOLS[1], alice).await;
    let sub = follow_chat(&mut client, session, Some(&last_cursor)).await;
    for text in ["m3", "m4", "m5"] {
        assert_eq!(next_message(&mut client, &sub).await.0, text);
    }
    chat_message(&app, session, alice, "m6").await;
    assert_eq!(next_message(&mut client, &sub).await.0, "m6");
    client.assert_silent(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_bad_cursor_or_session_id_is_bad_user_input() {
    let app = spawn_app().await;
    let alice = app.db.create_user("alice@example.com").await;
    let session = chat_session(&app, alice, "conv").await;
    let mut client = connect(&app, PROTOCOLS[0], alice).await;
    let sub = follow_chat(&mut client, session, Some("not-a-cursor")).await;
    let error = client.ends_with_error(&sub).await;
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{error}");
    assert_eq!(error["extensions"]["field"], "after", "{error}");
    let sub = client
        .start(
            "subscription { chatMessages(sessionId: \"nope\") { cursor } }",
            json!({}),
        )
        .await;
    let error = client.ends_with_error(&sub).await;
    assert!(
        error["message"].as_str().unwrap().contains("UUID"),
        "{error}"
    );
}

#[tokio::test]
async fn another_users_conversation_is_not_found_and_nothing_of_it_reaches_them() {
    let app = spawn_app().await;
    let alice = app.db.create_user("alice@example.com").await;
    let bob = app.db.create_user("bob@example.com").await;
    let session = chat_session(&app, alice, "conv").await;
    let mut client = connect(&app, PROTOCOLS[0], bob).await;
    let sub = follow_chat(&mut client, session, None).await;
    let error = client.ends_with_error(&sub).await;
    assert_eq!(error["extensions"]["code"], "NOT_FOUND", "{error}");
    // Bob's own feeds stay silent while Alice chats.
    let after = cursor_now(&app).await;
    client
        .start(
            "subscription($a: String) { chatSessions(after: $a) { op sessionId } }",
            json!({ "a": after }),
        )
        .await;
    client
        .start(
            "subscription($a: String) { activity(after: $a) { kind id } }",
            json!({ "a": after }),
        )
        .await;
    // Following Alice's session id through the activity feed gives nothing either.
    client
        .start(
            "subscription($s: UUID!, $a: String) { activity(sessionId: $s, after: $a) { kind id } }",
            json!({ "s": session, "a": after }),
        )
        .await;
    ok(&app, alice, SEND, send_input(session, "secret")).await;
    chat_message(&app, session, alice, "secret too").await;
    client.assert_silent(Duration::from_millis(800)).await;
    // Anonymous connections may not follow conversations.
    let mut anon = WsClient::connect(app.addr, PROTOCOLS[1], None)
        .await
        .expect("ack");
    let sub = anon
        .start("subscription { chatSessions { op } }", json!({}))
        .await;
    let error = anon.ends_with_error(&sub).await;
    assert_eq!(error["extensions"]["code"], "UNAUTHENTICATED", "{error}");
}

#[tokio::test]
async fn chat_sessions_reports_created_renamed_and_deleted_conversations() {
    let app = spawn_app().await;
    let alice = app.db.create_user("alice@example.com").await;
    let mut client = connect(&app, PROTOCOLS[0], alice).await;
    let sub = client
        .start(
            "subscription { chatSessions { cursor op sessionId session { title messageCount } } }",
            json!({}),
        )
        .await;
    crate::settle().await;
    let session = chat_session(&app, alice, "conv").await;
    let created = client.next_data(&sub, "chatSessions").await;
    assert_eq!(created["op"], "CREATED", "{created}");
    assert_eq!(created["sessionId"], session.to_string());
    assert_eq!(created["session"]["title"], "New Chat");
    ok(
        &app,
        alice,
        "mutation($i: RenameChatSessionInput!) { renameChatSession(input: $i) { session { id } } }",
        json!({ "i": { "id": session, "title": "Renamed" } }),
    )
    .await;
    let renamed = client.next_data(&sub, "chatSessions").await;
    assert_eq!(renamed["op"], "UPDATED", "{renamed}");
    assert_eq!(renamed["session"]["title"], "Renamed");
    chat_message(&app, session, alice, "hi").await;
    let stats = client.next_data(&sub, "chatSessions").await;
    assert_eq!(stats["session"]["messageCount"], 1, "{stats}");
    ok(
        &app,
        alice,
        "mutation($i: DeleteChatSessionInput!) { deleteChatSession(input: $i) { deletedId } }",
        json!({ "i": { "id": session } }),
    )
    .await;
    let deleted = client.next_data(&sub, "chatSessions").await;
    assert_eq!(deleted["op"], "DELETED", "{deleted}");
    assert_eq!(deleted["sessionId"], session.to_string());
    assert!(deleted["session"].is_null());
}
