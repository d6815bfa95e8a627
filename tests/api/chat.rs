//! API tests of the chat domain (seed 003): every scenario and endpoint of
//! the seed as GraphQL operations over HTTP, the reads with their error
//! cases, isolation between users, sync idempotency and atomicity, and the
//! statement count of the nested sessions → messages query.

use crate::common::app::{spawn_app, GqlResponse, TestApp};
use crate::common::sqlx;
use serde_json::{json, Value};
use uuid::Uuid;

const FREE_MODEL: &str = "deepseek/deepseek-r1-0528:free";
const PRO_MODEL: &str = "openai/gpt-4o-mini";

const SEND: &str = "mutation($input: SendChatMessageInput!) { sendChatMessage(input: $input) {
    session { id clientId title messageCount totalTokens lastModel lastMessagePreview
              lastMessageTimestamp updatedAt }
    userMessage { id clientId role content model inputTokens outputTokens totalTokens }
    assistantMessage { id clientId role content model outputTokens userMessageId completionId elapsedMs }
    usageToday { usageDate messagesSent messagesReceived inputTokens outputTokens totalTokens
                 modelsUsed sessionsCreated } } }";

const SYNC: &str = "mutation($input: SyncChatConversationsInput!) { syncChatConversations(input: $input) {
    conversations sessionsCreated sessionsUpdated messagesInserted messagesUpdated messagesUnchanged } }";

/// Runs `query` as `user` and returns `data`, asserting there were no errors.
async fn ok(app: &TestApp, user: Uuid, query: &str, vars: Value) -> Value {
    app.as_user(user, query, vars).await.data().clone()
}

/// Runs `query` with the service role and returns `data`.
async fn service_ok(app: &TestApp, query: &str, vars: Value) -> Value {
    app.post(Some(&app.service_token()), query, vars)
        .await
        .data()
        .clone()
}

/// Asserts `resp` failed with `code` (and `field`, when given).
#[track_caller]
fn assert_error(resp: &GqlResponse, code: &str, field: Option<&str>) {
    assert_eq!(resp.error_code(), code, "{}", resp.body);
    if let Some(field) = field {
        assert_eq!(
            resp.body["errors"][0]["extensions"]["field"], field,
            "{}",
            resp.body
        );
    }
}

fn send_input(session: Option<Uuid>, content: &str, model: &str) -> Value {
    json!({ "input": {
        "sessionId": session,
        "model": model,
        "message": { "content": content, "inputTokens": 10 },
        "response": { "content": format!("answer to {content}"), "outputTokens": 25,
                      "completionId": "cmpl-1", "elapsedMs": 120 }
    }})
}

/// Sends one exchange as `user`; returns the payload.
async fn send(app: &TestApp, user: Uuid, session: Option<Uuid>, content: &str) -> Value {
    ok(app, user, SEND, send_input(session, content, FREE_MODEL)).await["sendChatMessage"].clone()
}

fn id(v: &Value) -> Uuid {
    v.as_str().expect("id").parse().expect("uuid")
}

async fn count(app: &TestApp, sql: &'static str, user: Uuid) -> i64 {
    sqlx::query_scalar(sql)
        .bind(user)
        .fetch_one(&app.db.pool)
        .await
        .expect("count")
}

async fn sessions_of(app: &TestApp, user: Uuid) -> i64 {
    count(
        app,
        "SELECT count(*) FROM chat.chat_sessions WHERE user_id = $1",
        user,
    )
    .await
}

async fn messages_of(app: &TestApp, user: Uuid) -> i64 {
    count(
        app,
        "SELECT count(*) FROM chat.chat_messages WHERE user_id = $1",
        user,
    )
    .await
}

async fn actions(app: &TestApp, user: Uuid) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT action::text FROM chat.user_activity_log WHERE user_id = $1 ORDER BY \"timestamp\", id",
    )
    .bind(user)
    .fetch_all(&app.db.pool)
    .await
    .expect("actions")
}

fn conversations(n: usize, messages: usize, prefix: &str) -> Value {
    Value::Array(
        (0..n)
            .map(|i| {
                json!({
                    "id": format!("{prefix}-{i}"),
                    "title": format!("Conversation {i}"),
                    "messages": (0..messages).map(|j| json!({
                        "id": format!("{prefix}-{i}-m{j}"),
                        "role": if j % 2 == 0 { "user" } else { "assistant" },
                        "content": format!("message {j} of {i}"),
                        "input_tokens": 1,
                        "output_tokens": 2,
                        "timestamp": format!("2025-01-01T00:00:{:02}Z", j),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

async fn sync(app: &TestApp, user: Uuid, convs: Value) -> GqlResponse {
    app.as_user(user, SYNC, json!({ "input": { "conversations": convs } }))
        .await
}

// ---------------------------------------------------------------------------
// Sign-in scenarios (the auth system's writes, as service operations)
// ---------------------------------------------------------------------------

const SIGN_IN: &str = "mutation($input: RecordSignInInput!) { recordSignIn(input: $input) {
    created profile { id email fullName avatarUrl tier preferences usageStats lastActive } } }";

#[tokio::test]
async fn first_sign_in_creates_the_profile_and_logs_profile_created() {
    let app = spawn_app().await;
    let data = service_ok(
        &app,
        SIGN_IN,
        json!({ "input": { "email": "new@example.com", "fullName": "New User",
                           "avatarUrl": "https://x/a.png" } }),
    )
    .await;
    let p = &data["recordSignIn"];
    assert_eq!(p["created"], true);
    assert_eq!(p["profile"]["email"], "new@example.com");
    assert_eq!(p["profile"]["fullName"], "New User");
    assert_eq!(p["profile"]["avatarUrl"], "https://x/a.png");
    assert_eq!(p["profile"]["tier"], "FREE");
    assert_eq!(
        p["profile"]["preferences"],
        json!({"ui": {}, "session": {}, "model": {}})
    );
    assert_eq!(p["profile"]["usageStats"]["messages_sent"], 0);
    let user = id(&p["profile"]["id"]);
    assert_eq!(actions(&app, user).await, vec!["profile_created"]);

    // The new user sees their profile and the log entry.
    let data = ok(
        &app,
        user,
        "{ viewer { chatProfile { email tier } chatActivity { nodes { action details } } } }",
        json!({}),
    )
    .await;
    assert_eq!(data["viewer"]["chatProfile"]["email"], "new@example.com");
    let log = data["viewer"]["chatActivity"]["nodes"].as_array().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["action"], "profile_created");
    assert_eq!(log[0]["details"]["email"], "new@example.com");
}

#[tokio::test]
async fn returning_sign_in_syncs_the_profile_and_logs_profile_synced_once_an_hour() {
    let app = spawn_app().await;
    let user = app.db.create_user("old@example.com").await;
    let data = service_ok(
        &app,
        SIGN_IN,
        json!({ "input": { "userId": user, "email": "renamed@example.com" } }),
    )
    .await;
    let p = &data["recordSignIn"];
    assert_eq!(p["created"], false);
    assert_eq!(p["profile"]["email"], "renamed@example.com");
    // No name in this sign-in's metadata: the stored one stays.
    assert_eq!(p["profile"]["fullName"], "old");
    assert!(p["profile"]["lastActive"].is_string());
    assert_eq!(
        actions(&app, user).await,
        vec!["profile_created", "profile_synced"]
    );

    // A token refresh right after (same email) syncs but does not log again.
    service_ok(
        &app,
        SIGN_IN,
        json!({ "input": { "userId": user, "email": "renamed@example.com", "fullName": "Renamed" } }),
    )
    .await;
    assert_eq!(
        actions(&app, user).await,
        vec!["profile_created", "profile_synced"]
    );
    let data = ok(
        &app,
        user,
        "{ viewer { chatProfile { fullName } } }",
        json!({}),
    )
    .await;
    assert_eq!(data["viewer"]["chatProfile"]["fullName"], "Renamed");

    // An email change always logs.
    service_ok(
        &app,
        SIGN_IN,
        json!({ "input": { "userId": user, "email": "third@example.com" } }),
    )
    .await;
    assert_eq!(actions(&app, user).await.len(), 3);
}

#[tokio::test]
async fn sign_in_errors() {
    let app = spawn_app().await;
    let user = app.db.create_user("taken@example.com").await;
    let token = app.service_token();
    let resp = app
        .post(
            Some(&token),
            SIGN_IN,
            json!({ "input": { "email": "taken@example.com" } }),
        )
        .await;
    assert_error(&resp, "CONFLICT", None);
    let resp = app
        .post(
            Some(&token),
            SIGN_IN,
            json!({ "input": { "email": "nope" } }),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("input.email"));
    // Users and anon may not play the auth system.
    let resp = app
        .as_user(
            user,
            SIGN_IN,
            json!({ "input": { "userId": user, "email": "x@example.com" } }),
        )
        .await;
    assert_error(&resp, "FORBIDDEN", None);
    let resp = app
        .as_anon(SIGN_IN, json!({ "input": { "email": "y@example.com" } }))
        .await;
    assert_error(&resp, "UNAUTHENTICATED", None);
    assert_eq!(actions(&app, user).await, vec!["profile_created"]);
}

// ---------------------------------------------------------------------------
// /api/chat/messages: send a message and receive a response
// ---------------------------------------------------------------------------

#[tokio::test]
async fn send_message_stores_both_messages_updates_stats_and_tracks_usage() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    let first = send(&app, user, None, "Hello there").await;
    let session = id(&first["session"]["id"]);
    assert_eq!(first["session"]["title"], "Hello there");
    assert_eq!(first["session"]["messageCount"], 2);
    assert_eq!(first["session"]["totalTokens"], 35);
    assert_eq!(first["session"]["lastModel"], FREE_MODEL);
    assert_eq!(
        first["session"]["lastMessagePreview"],
        "answer to Hello there"
    );
    assert_eq!(first["userMessage"]["role"], "USER");
    assert_eq!(first["userMessage"]["inputTokens"], 10);
    assert_eq!(first["assistantMessage"]["role"], "ASSISTANT");
    assert_eq!(first["assistantMessage"]["outputTokens"], 25);
    assert_eq!(
        first["assistantMessage"]["userMessageId"],
        first["userMessage"]["clientId"]
    );
    assert_eq!(first["assistantMessage"]["completionId"], "cmpl-1");
    let usage = &first["usageToday"];
    assert_eq!(usage["messagesSent"], 1);
    assert_eq!(usage["messagesReceived"], 1);
    assert_eq!(usage["totalTokens"], 35);
    assert_eq!(usage["sessionsCreated"], 1);
    assert_eq!(usage["modelsUsed"], json!([FREE_MODEL]));

    let second = send(&app, user, Some(session), "And again").await;
    assert_eq!(second["session"]["id"], first["session"]["id"]);
    assert_eq!(second["session"]["messageCount"], 4);
    assert_eq!(second["session"]["totalTokens"], 70);
    assert_eq!(second["usageToday"]["messagesSent"], 2);
    assert_eq!(second["usageToday"]["sessionsCreated"], 1);
    assert!(
        second["session"]["updatedAt"].as_str() >= first["session"]["updatedAt"].as_str(),
        "the trigger moves updatedAt"
    );

    // Messages in timestamp order; lifetime stats on the profile.
    let data = ok(
        &app,
        user,
        "query($id: UUID!) { chatSession(id: $id) { messages { totalCount nodes { role content } } }
           viewer { chatProfile { usageStats } } }",
        json!({ "id": session }),
    )
    .await;
    let msgs = &data["chatSession"]["messages"];
    assert_eq!(msgs["totalCount"], 4);
    let contents: Vec<&str> = msgs["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        contents,
        vec![
            "Hello there",
            "answer to Hello there",
            "And again",
            "answer to And again"
        ]
    );
    let stats = &data["viewer"]["chatProfile"]["usageStats"];
    assert_eq!(stats["messages_sent"], 2);
    assert_eq!(stats["total_tokens"], 70);
}

#[tokio::test]
async fn send_message_refuses_a_model_outside_the_tier_and_stores_nothing() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    let resp = app
        .as_user(user, SEND, send_input(None, "hi", PRO_MODEL))
        .await;
    assert_error(&resp, "FORBIDDEN", None);
    assert_eq!(sessions_of(&app, user).await, 0);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM chat.user_usage_daily WHERE user_id = $1",
            user
        )
        .await,
        0
    );

    // After an upgrade by the service, the model is allowed.
    service_ok(
        &app,
        "mutation($input: UpdateUserTierInput!) { updateUserTier(input: $input) { profile { tier } } }",
        json!({ "input": { "userId": user, "tier": "PRO" } }),
    )
    .await;
    let data = ok(&app, user, SEND, send_input(None, "hi", PRO_MODEL)).await;
    assert_eq!(data["sendChatMessage"]["session"]["lastModel"], PRO_MODEL);
}

#[tokio::test]
async fn send_message_errors() {
    let app = spawn_app().await;
    let a = app.db.create_user("a@example.com").await;
    let b = app.db.create_user("b@example.com").await;
    let a_session = id(&send(&app, a, None, "mine").await["session"]["id"]);

    let mut input = send_input(None, "  ", FREE_MODEL);
    let resp = app.as_user(a, SEND, input.clone()).await;
    assert_error(&resp, "BAD_USER_INPUT", Some("input.message.content"));

    input = send_input(None, "x", FREE_MODEL);
    input["input"]["message"]["inputTokens"] = json!(-1);
    let resp = app.as_user(a, SEND, input).await;
    assert_error(&resp, "BAD_USER_INPUT", Some("input.message.inputTokens"));

    input = send_input(None, "x", FREE_MODEL);
    input["input"]["title"] = json!("   ");
    let resp = app.as_user(a, SEND, input).await;
    assert_error(&resp, "BAD_USER_INPUT", Some("input.title"));

    // Someone else's session is not found; a missing one neither.
    let resp = app
        .as_user(b, SEND, send_input(Some(a_session), "intrude", FREE_MODEL))
        .await;
    assert_error(&resp, "NOT_FOUND", None);
    let resp = app
        .as_user(b, SEND, send_input(Some(Uuid::new_v4()), "x", FREE_MODEL))
        .await;
    assert_error(&resp, "NOT_FOUND", None);

    // A reused message client id conflicts, and the exchange leaves nothing.
    input = send_input(Some(a_session), "dup", FREE_MODEL);
    input["input"]["message"]["clientId"] = json!("m1");
    ok(&app, a, SEND, input.clone()).await;
    let before = messages_of(&app, a).await;
    let resp = app.as_user(a, SEND, input).await;
    assert_error(&resp, "CONFLICT", None);
    assert_eq!(messages_of(&app, a).await, before);

    let resp = app.as_anon(SEND, send_input(None, "x", FREE_MODEL)).await;
    assert_error(&resp, "UNAUTHENTICATED", None);
    assert_eq!(messages_of(&app, b).await, 0);
    assert_eq!(messages_of(&app, a).await, 4);
}

// ---------------------------------------------------------------------------
// /api/chat/sessions: list, rename, delete; /api/chat/clear-all
// ---------------------------------------------------------------------------

#[tokio::test]
async fn sessions_list_most_recently_updated_first_with_paging() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(id(
            &send(&app, user, None, &format!("chat {i}")).await["session"]["id"]
        ));
    }
    // Touch the oldest: it moves to the top.
    send(&app, user, Some(ids[0]), "bump").await;
    let q = "query($after: String) { chatSessions(first: 2, after: $after) {
        totalCount pageInfo { hasNextPage endCursor }
        nodes { id title messageCount totalTokens lastMessagePreview
                messages(first: 1) { totalCount pageInfo { hasNextPage } nodes { content } } } } }";
    let data = ok(&app, user, q, json!({})).await;
    let conn = &data["chatSessions"];
    assert_eq!(conn["totalCount"], 3);
    assert_eq!(conn["pageInfo"]["hasNextPage"], true);
    let nodes = conn["nodes"].as_array().unwrap();
    assert_eq!(id(&nodes[0]["id"]), ids[0]);
    assert_eq!(id(&nodes[1]["id"]), ids[2]);
    assert_eq!(nodes[0]["messageCount"], 4);
    assert_eq!(nodes[0]["lastMessagePreview"], "answer to bump");
    assert_eq!(nodes[0]["messages"]["totalCount"], 4);
    assert_eq!(nodes[0]["messages"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(nodes[0]["messages"]["nodes"][0]["content"], "chat 0");
    let data = ok(
        &app,
        user,
        q,
        json!({ "after": conn["pageInfo"]["endCursor"] }),
    )
    .await;
    let nodes = data["chatSessions"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(id(&nodes[0]["id"]), ids[1]);

    // Filters, the root message list and bad paging arguments.
    let data = ok(
        &app,
        user,
        "query($id: UUID!) { chatSessions(where: { title: { ilike: \"CHAT 1\" } }) { nodes { id } }
           chatMessages(where: { sessionId: { eq: $id }, role: { eq: ASSISTANT } },
                        orderBy: [{ field: TIMESTAMP, direction: DESC }]) { nodes { content } } }",
        json!({ "id": ids[0] }),
    )
    .await;
    assert_eq!(id(&data["chatSessions"]["nodes"][0]["id"]), ids[1]);
    assert_eq!(
        data["chatMessages"]["nodes"][0]["content"],
        "answer to bump"
    );
    let resp = app
        .as_user(
            user,
            "{ chatSessions(first: 101) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_error(&resp, "LIMIT_EXCEEDED", None);
    let resp = app
        .as_user(
            user,
            "{ chatSessions(first: -1) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("first"));
    let resp = app
        .as_user(
            user,
            "{ chatSessions(after: \"garbage\") { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("after"));
}

const RENAME: &str =
    "mutation($input: RenameChatSessionInput!) { renameChatSession(input: $input) {
    session { id title updatedAt } } }";
const DELETE: &str =
    "mutation($input: DeleteChatSessionInput!) { deleteChatSession(input: $input) { deletedId } }";
const CLEAR: &str = "mutation { clearChatSessions { deletedCount } }";

#[tokio::test]
async fn rename_a_conversation() {
    let app = spawn_app().await;
    let a = app.db.create_user("a@example.com").await;
    let b = app.db.create_user("b@example.com").await;
    let sent = send(&app, a, None, "hello").await;
    let session = id(&sent["session"]["id"]);
    let data = ok(
        &app,
        a,
        RENAME,
        json!({ "input": { "id": session, "title": "  Trip plans " } }),
    )
    .await;
    let s = &data["renameChatSession"]["session"];
    assert_eq!(s["title"], "Trip plans");
    assert!(s["updatedAt"].as_str() >= sent["session"]["updatedAt"].as_str());

    let resp = app
        .as_user(
            a,
            RENAME,
            json!({ "input": { "id": session, "title": " " } }),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("input.title"));
    let resp = app
        .as_user(
            a,
            RENAME,
            json!({ "input": { "id": session, "title": "x".repeat(256) } }),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("input.title"));
    let resp = app
        .as_user(
            b,
            RENAME,
            json!({ "input": { "id": session, "title": "mine" } }),
        )
        .await;
    assert_error(&resp, "NOT_FOUND", None);
    let resp = app
        .as_user(
            a,
            RENAME,
            json!({ "input": { "id": Uuid::new_v4(), "title": "t" } }),
        )
        .await;
    assert_error(&resp, "NOT_FOUND", None);
    let resp = app
        .as_anon(RENAME, json!({ "input": { "id": session, "title": "t" } }))
        .await;
    assert_error(&resp, "UNAUTHENTICATED", None);
    let title: String = sqlx::query_scalar("SELECT title FROM chat.chat_sessions WHERE id = $1")
        .bind(session)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(title, "Trip plans");
}

#[tokio::test]
async fn delete_a_conversation_with_its_messages() {
    let app = spawn_app().await;
    let a = app.db.create_user("a@example.com").await;
    let b = app.db.create_user("b@example.com").await;
    let keep = id(&send(&app, a, None, "keep").await["session"]["id"]);
    let gone = id(&send(&app, a, None, "gone").await["session"]["id"]);

    let resp = app
        .as_user(b, DELETE, json!({ "input": { "id": gone } }))
        .await;
    assert_error(&resp, "NOT_FOUND", None);
    assert_eq!(sessions_of(&app, a).await, 2);

    let data = ok(&app, a, DELETE, json!({ "input": { "id": gone } })).await;
    assert_eq!(id(&data["deleteChatSession"]["deletedId"]), gone);
    assert_eq!(sessions_of(&app, a).await, 1);
    assert_eq!(messages_of(&app, a).await, 2);
    let data = ok(
        &app,
        a,
        "query($id: UUID!) { chatSession(id: $id) { id } chatSessions { nodes { id } } }",
        json!({ "id": gone }),
    )
    .await;
    assert!(data["chatSession"].is_null());
    assert_eq!(id(&data["chatSessions"]["nodes"][0]["id"]), keep);

    let resp = app
        .as_user(a, DELETE, json!({ "input": { "id": gone } }))
        .await;
    assert_error(&resp, "NOT_FOUND", None);
    let resp = app
        .as_anon(DELETE, json!({ "input": { "id": keep } }))
        .await;
    assert_error(&resp, "UNAUTHENTICATED", None);
}

#[tokio::test]
async fn clear_all_conversations_of_the_viewer_only() {
    let app = spawn_app().await;
    let a = app.db.create_user("a@example.com").await;
    let b = app.db.create_user("b@example.com").await;
    for i in 0..3 {
        send(&app, a, None, &format!("a{i}")).await;
    }
    send(&app, b, None, "b's").await;
    let data = ok(&app, a, CLEAR, json!({})).await;
    assert_eq!(data["clearChatSessions"]["deletedCount"], 3);
    assert_eq!(sessions_of(&app, a).await, 0);
    assert_eq!(messages_of(&app, a).await, 0);
    assert_eq!(sessions_of(&app, b).await, 1);
    assert_eq!(messages_of(&app, b).await, 2);
    // Clearing again is a no-op; anon may not.
    let data = ok(&app, a, CLEAR, json!({})).await;
    assert_eq!(data["clearChatSessions"]["deletedCount"], 0);
    assert_error(
        &app.as_anon(CLEAR, json!({})).await,
        "UNAUTHENTICATED",
        None,
    );
    // Usage history survives clearing conversations.
    let data = ok(
        &app,
        a,
        "{ viewer { chatSummary { totalSessions totalMessages messagesToday } } }",
        json!({}),
    )
    .await;
    let s = &data["viewer"]["chatSummary"];
    assert_eq!(s["totalSessions"], 0);
    assert_eq!(s["totalMessages"], 0);
    assert_eq!(s["messagesToday"], 6);
}

// ---------------------------------------------------------------------------
// /api/chat/sync
// ---------------------------------------------------------------------------

async fn snapshot(app: &TestApp, user: Uuid) -> Value {
    ok(
        app,
        user,
        "{ chatSessions(first: 5) { nodes { id clientId title messageCount totalTokens updatedAt
            lastMessagePreview messages(first: 10) { nodes { id clientId content timestamp } } } } }",
        json!({}),
    )
    .await
}

#[tokio::test]
async fn sync_is_idempotent() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    let convs = conversations(2, 3, "c");
    let first = sync(&app, user, convs.clone()).await.data().clone();
    let r = &first["syncChatConversations"];
    assert_eq!(r["conversations"], 2);
    assert_eq!(r["sessionsCreated"], 2);
    assert_eq!(r["messagesInserted"], 6);
    let before = snapshot(&app, user).await;
    assert_eq!(before["chatSessions"]["nodes"][0]["messageCount"], 3);
    assert_eq!(before["chatSessions"]["nodes"][0]["totalTokens"], 9);

    let second = sync(&app, user, convs.clone()).await.data().clone();
    let r = &second["syncChatConversations"];
    assert_eq!(r["sessionsCreated"], 0);
    assert_eq!(r["sessionsUpdated"], 0);
    assert_eq!(r["messagesInserted"], 0);
    assert_eq!(r["messagesUpdated"], 0);
    assert_eq!(r["messagesUnchanged"], 6);
    assert_eq!(
        snapshot(&app, user).await,
        before,
        "same state after replay"
    );

    // An edited message updates its own row, not a duplicate.
    let mut edited = convs;
    edited[0]["messages"][0]["content"] = json!("edited");
    let r = sync(&app, user, edited).await.data().clone();
    assert_eq!(r["syncChatConversations"]["messagesUpdated"], 1);
    assert_eq!(messages_of(&app, user).await, 6);
}

#[tokio::test]
async fn sync_is_all_or_nothing() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    let mut convs = conversations(3, 2, "c");
    // The second conversation's second message is bad: nothing stays.
    convs[1]["messages"][1]["role"] = json!("robot");
    let resp = sync(&app, user, convs).await;
    assert_error(&resp, "BAD_USER_INPUT", Some("input.conversations"));
    assert_eq!(sessions_of(&app, user).await, 0);
    assert_eq!(messages_of(&app, user).await, 0);

    let mut convs = conversations(2, 2, "d");
    convs[1]["messages"][0]["input_tokens"] = json!(-5);
    assert_error(
        &sync(&app, user, convs).await,
        "BAD_USER_INPUT",
        Some("input.conversations"),
    );
    assert_error(
        &sync(&app, user, json!("not an array")).await,
        "BAD_USER_INPUT",
        Some("input.conversations"),
    );
    assert_eq!(sessions_of(&app, user).await, 0);
    assert_error(
        &app.as_anon(SYNC, json!({ "input": { "conversations": [] } }))
            .await,
        "UNAUTHENTICATED",
        None,
    );
}

#[tokio::test]
async fn sync_ids_are_per_user() {
    let app = spawn_app().await;
    let a = app.db.create_user("a@example.com").await;
    let b = app.db.create_user("b@example.com").await;
    sync(&app, a, conversations(1, 2, "same")).await.data();
    // B syncing the same client ids gets B's own rows; A's stay as they were.
    let mut convs = conversations(1, 2, "same");
    convs[0]["messages"][0]["content"] = json!("B's text");
    let r = sync(&app, b, convs).await.data().clone();
    assert_eq!(r["syncChatConversations"]["sessionsCreated"], 1);
    assert_eq!(messages_of(&app, a).await, 2);
    assert_eq!(messages_of(&app, b).await, 2);
    let data = snapshot(&app, a).await;
    assert_eq!(
        data["chatSessions"]["nodes"][0]["messages"]["nodes"][0]["content"],
        "message 0 of 0"
    );
}

// ---------------------------------------------------------------------------
// Preferences, export, usage, models, summary, complete profile
// ---------------------------------------------------------------------------

const PREFS: &str = "mutation($input: UpdateChatPreferencesInput!) { updateChatPreferences(input: $input) { preferences } }";

#[tokio::test]
async fn preferences_deep_merge() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    ok(
        &app,
        user,
        PREFS,
        json!({ "input": { "section": "UI", "preferences":
            { "theme": "dark", "font": { "size": 12, "family": "mono" } } } }),
    )
    .await;
    let data = ok(
        &app,
        user,
        PREFS,
        json!({ "input": { "section": "UI", "preferences": { "font": { "size": 14 } } } }),
    )
    .await;
    assert_eq!(
        data["updateChatPreferences"]["preferences"],
        json!({ "ui": { "theme": "dark", "font": { "size": 14, "family": "mono" } },
                "session": {}, "model": {} })
    );
    let data = ok(
        &app,
        user,
        "{ viewer { chatProfile { preferences } chatActivity(where: { action: { eq: \"preferences_updated\" } }) { totalCount } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        data["viewer"]["chatProfile"]["preferences"]["ui"]["font"]["size"],
        14
    );
    assert_eq!(data["viewer"]["chatActivity"]["totalCount"], 2);

    let resp = app
        .as_user(
            user,
            PREFS,
            json!({ "input": { "section": "UI", "preferences": [1, 2] } }),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("input.preferences"));
    let resp = app
        .as_user(
            user,
            PREFS,
            json!({ "input": { "section": "COLOURS", "preferences": {} } }),
        )
        .await;
    assert_eq!(resp.error_code(), "BAD_USER_INPUT", "{}", resp.body);
    let big = "x".repeat(20_000);
    let resp = app
        .as_user(
            user,
            PREFS,
            json!({ "input": { "section": "MODEL", "preferences": { "big": big } } }),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("input.preferences"));
    let resp = app
        .as_anon(
            PREFS,
            json!({ "input": { "section": "UI", "preferences": {} } }),
        )
        .await;
    assert_error(&resp, "UNAUTHENTICATED", None);
}

#[tokio::test]
async fn export_my_data_holds_everything_of_the_viewer_only() {
    let app = spawn_app().await;
    let a = app.db.create_user("a@example.com").await;
    let b = app.db.create_user("b@example.com").await;
    send(&app, a, None, "a's secret").await;
    send(&app, b, None, "b's secret").await;
    let data = ok(&app, a, "mutation { exportMyData { data } }", json!({})).await;
    let export = &data["exportMyData"]["data"];
    assert_eq!(id(&export["user_id"]), a);
    assert_eq!(export["profile"]["email"], "a@example.com");
    let sessions = export["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["messages"].as_array().unwrap().len(), 2);
    assert_eq!(export["usage_daily"].as_array().unwrap().len(), 1);
    assert!(!export["activity_log"].as_array().unwrap().is_empty());
    assert!(!export.to_string().contains("b's secret"));
    assert_error(
        &app.as_anon("mutation { exportMyData { data } }", json!({}))
            .await,
        "UNAUTHENTICATED",
        None,
    );
}

#[tokio::test]
async fn daily_usage_over_a_range_with_totals() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    let other = app.db.create_user("bob@example.com").await;
    for (u, date, sent, tokens, models) in [
        (user, "2025-03-01", 2, 100, vec!["m1"]),
        (user, "2025-03-03", 3, 50, vec!["m1", "m2"]),
        (user, "2025-04-01", 9, 900, vec!["m3"]),
        (other, "2025-03-02", 7, 700, vec!["m9"]),
    ] {
        sqlx::query(
            "INSERT INTO chat.user_usage_daily (user_id, usage_date, messages_sent, messages_received,
               input_tokens, output_tokens, models_used) VALUES ($1, $2::date, $3, $3, $4, 0, $5)",
        )
        .bind(u)
        .bind(date)
        .bind(sent)
        .bind(tokens as i64)
        .bind(models)
        .execute(&app.db.pool)
        .await
        .unwrap();
    }
    let q = "query($from: NaiveDate!, $to: NaiveDate!) { viewer { chatUsage(from: $from, to: $to) {
        days { usageDate messagesSent totalTokens modelsUsed }
        totals { activeDays messagesSent messagesReceived totalTokens modelsUsed } } } }";
    let data = ok(
        &app,
        user,
        q,
        json!({ "from": "2025-03-01", "to": "2025-03-31" }),
    )
    .await;
    let usage = &data["viewer"]["chatUsage"];
    assert_eq!(usage["days"].as_array().unwrap().len(), 2);
    assert_eq!(usage["days"][0]["usageDate"], "2025-03-01");
    assert_eq!(usage["totals"]["activeDays"], 2);
    assert_eq!(usage["totals"]["messagesSent"], 5);
    assert_eq!(usage["totals"]["messagesReceived"], 5);
    assert_eq!(usage["totals"]["totalTokens"], 150);
    assert_eq!(usage["totals"]["modelsUsed"], json!(["m1", "m2"]));

    let resp = app
        .as_user(user, q, json!({ "from": "2025-03-31", "to": "2025-03-01" }))
        .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("from"));
    let resp = app
        .as_user(user, q, json!({ "from": "2020-01-01", "to": "2025-03-01" }))
        .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("to"));
    let data = app
        .as_anon(q, json!({ "from": "2025-03-01", "to": "2025-03-31" }))
        .await
        .data()
        .clone();
    assert_eq!(data["viewer"]["chatUsage"]["days"], json!([]));
}

#[tokio::test]
async fn allowed_models_follow_the_tier() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    let q = "query($m: String!) { viewer { chatAllowedModels { modelId tier dailyLimit }
        canUseChatModel(modelId: $m) } }";
    let data = ok(&app, user, q, json!({ "m": PRO_MODEL })).await;
    let models: Vec<&str> = data["viewer"]["chatAllowedModels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["modelId"].as_str().unwrap())
        .collect();
    assert_eq!(models, vec![FREE_MODEL, "google/gemini-2.0-flash-exp:free"]);
    assert_eq!(data["viewer"]["canUseChatModel"], false);

    service_ok(
        &app,
        "mutation($input: UpdateUserTierInput!) { updateUserTier(input: $input) { profile { tier } } }",
        json!({ "input": { "userId": user, "tier": "PRO" } }),
    )
    .await;
    let data = ok(&app, user, q, json!({ "m": PRO_MODEL })).await;
    let models = data["viewer"]["chatAllowedModels"].as_array().unwrap();
    assert_eq!(models.len(), 4);
    let deepseek = models.iter().find(|m| m["modelId"] == FREE_MODEL).unwrap();
    assert_eq!(deepseek["tier"], "pro");
    assert_eq!(deepseek["dailyLimit"], 500);
    assert_eq!(data["viewer"]["canUseChatModel"], true);
    assert!(actions(&app, user)
        .await
        .contains(&"tier_updated".to_string()));

    // Anon: nothing allowed, but the public catalogue is readable.
    let data = app
        .as_anon(
            "{ viewer { chatAllowedModels { modelId } canUseChatModel(modelId: \"x\") }
               chatModels { modelId tier } }",
            json!({}),
        )
        .await
        .data()
        .clone();
    assert_eq!(data["viewer"]["chatAllowedModels"], json!([]));
    assert_eq!(data["viewer"]["canUseChatModel"], false);
    assert_eq!(data["chatModels"].as_array().unwrap().len(), 7);
}

#[tokio::test]
async fn summary_and_complete_profile() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    send(&app, user, None, "one").await;
    send(&app, user, None, "two").await;
    let data = ok(
        &app,
        user,
        "{ viewer { chatSummary { userId email tier totalSessions activeSessions totalMessages
             totalSessionTokens lastMessageAt messagesToday tokensToday messagesLast30Days tokensLast30Days }
           chatCompleteProfile } }",
        json!({}),
    )
    .await;
    let s = &data["viewer"]["chatSummary"];
    assert_eq!(id(&s["userId"]), user);
    assert_eq!(s["tier"], "FREE");
    assert_eq!(s["totalSessions"], 2);
    assert_eq!(s["totalMessages"], 4);
    assert_eq!(s["totalSessionTokens"], 70);
    assert_eq!(s["messagesToday"], 4);
    assert_eq!(s["tokensLast30Days"], 70);
    let p = &data["viewer"]["chatCompleteProfile"];
    assert_eq!(p["email"], "ada@example.com");
    assert_eq!(p["allowed_models"].as_array().unwrap().len(), 2);
    assert_eq!(p["usage_stats"]["today"]["messages_sent"], 2);
    assert_eq!(p["usage_stats"]["lifetime"]["total_tokens"], 70);

    let data = app
        .as_anon(
            "{ viewer { chatSummary { userId } chatCompleteProfile chatProfile { id } } }",
            json!({}),
        )
        .await
        .data()
        .clone();
    assert!(data["viewer"]["chatSummary"].is_null());
    assert!(data["viewer"]["chatCompleteProfile"].is_null());
    assert!(data["viewer"]["chatProfile"].is_null());
}

// ---------------------------------------------------------------------------
// Service-role operations
// ---------------------------------------------------------------------------

#[tokio::test]
async fn service_operations_are_refused_to_users_and_anon() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    let ops = [
        (
            "mutation($input: UpdateUserTierInput!) { updateUserTier(input: $input) { profile { tier } } }",
            json!({ "input": { "userId": user, "tier": "ENTERPRISE" } }),
        ),
        (
            "mutation { chatCleanup(input: { daysToKeep: 1 }) { activityLogsDeleted } }",
            json!({}),
        ),
        ("{ chatDatabaseHealth }", json!({})),
        (SIGN_IN, json!({ "input": { "email": "z@example.com" } })),
    ];
    for (q, vars) in &ops {
        let resp = app.as_user(user, q, vars.clone()).await;
        assert_error(&resp, "FORBIDDEN", None);
        let resp = app.as_anon(q, vars.clone()).await;
        assert_error(&resp, "UNAUTHENTICATED", None);
    }
    let tier: String =
        sqlx::query_scalar("SELECT subscription_tier::text FROM chat.profiles WHERE id = $1")
            .bind(user)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(tier, "free");
}

#[tokio::test]
async fn service_tier_cleanup_and_health() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    send(&app, user, None, "hello").await;
    sqlx::query(
        "INSERT INTO chat.user_activity_log (user_id, action, \"timestamp\") VALUES ($1, 'old', now() - interval '200 days')",
    )
    .bind(user)
    .execute(&app.db.pool)
    .await
    .unwrap();
    let token = app.service_token();

    let data = service_ok(
        &app,
        "mutation { chatCleanup(input: {}) { activityLogsDeleted usageRowsDeleted cacheEntriesDeleted } }",
        json!({}),
    )
    .await;
    assert_eq!(data["chatCleanup"]["activityLogsDeleted"], 1);
    assert_eq!(data["chatCleanup"]["usageRowsDeleted"], 0);
    assert_eq!(sessions_of(&app, user).await, 1, "cleanup keeps sessions");
    let resp = app
        .post(
            Some(&token),
            "mutation { chatCleanup(input: { daysToKeep: 0 }) { activityLogsDeleted } }",
            json!({}),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("input.daysToKeep"));

    let data = service_ok(&app, "{ chatDatabaseHealth }", json!({})).await;
    let tables = data["chatDatabaseHealth"]["tables"].as_array().unwrap();
    assert!(tables.iter().any(|t| t["table_name"] == "chat_messages"));

    let q = "mutation($input: UpdateUserTierInput!) { updateUserTier(input: $input) { profile { id tier } } }";
    let data = service_ok(
        &app,
        q,
        json!({ "input": { "userId": user, "tier": "ENTERPRISE" } }),
    )
    .await;
    assert_eq!(data["updateUserTier"]["profile"]["tier"], "ENTERPRISE");
    let resp = app
        .post(
            Some(&token),
            q,
            json!({ "input": { "userId": Uuid::new_v4(), "tier": "PRO" } }),
        )
        .await;
    assert_error(&resp, "NOT_FOUND", None);
    let resp = app
        .post(
            Some(&token),
            q,
            json!({ "input": { "userId": user, "tier": "PLATINUM" } }),
        )
        .await;
    assert_eq!(resp.error_code(), "BAD_USER_INPUT", "{}", resp.body);
}

// ---------------------------------------------------------------------------
// Isolation
// ---------------------------------------------------------------------------

#[tokio::test]
async fn user_b_gets_nothing_of_user_a() {
    let app = spawn_app().await;
    let a = app.db.create_user("a@example.com").await;
    let b = app.db.create_user("b@example.com").await;
    let a_session = id(&send(&app, a, None, "a's secret").await["session"]["id"]);
    ok(
        &app,
        a,
        PREFS,
        json!({ "input": { "section": "UI", "preferences": { "theme": "a" } } }),
    )
    .await;

    let data = ok(
        &app,
        b,
        "query($id: UUID!) {
           chatSessions { totalCount nodes { id } }
           chatSession(id: $id) { id messages { nodes { id } } }
           chatMessages { totalCount }
           byId: chatMessages(where: { sessionId: { eq: $id } }) { totalCount }
           viewer { chatProfile { email preferences usageStats }
             chatActivity { nodes { action details } }
             chatUsage(from: \"2000-01-01\", to: \"2000-12-31\") { totals { messagesSent } }
             chatSummary { email totalSessions messagesToday }
             chatCompleteProfile } }",
        json!({ "id": a_session }),
    )
    .await;
    assert_eq!(data["chatSessions"]["totalCount"], 0);
    assert!(data["chatSession"].is_null());
    assert_eq!(data["chatMessages"]["totalCount"], 0);
    assert_eq!(data["byId"]["totalCount"], 0);
    let v = &data["viewer"];
    assert_eq!(v["chatProfile"]["email"], "b@example.com");
    assert_eq!(v["chatProfile"]["preferences"]["ui"], json!({}));
    assert_eq!(v["chatProfile"]["usageStats"]["messages_sent"], 0);
    let log = v["chatActivity"]["nodes"].as_array().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["details"]["email"], "b@example.com");
    assert_eq!(v["chatSummary"]["email"], "b@example.com");
    assert_eq!(v["chatSummary"]["totalSessions"], 0);
    assert_eq!(v["chatSummary"]["messagesToday"], 0);
    assert_eq!(v["chatCompleteProfile"]["email"], "b@example.com");
    let today = chrono::Utc::now().date_naive().to_string();
    let data = ok(
        &app,
        b,
        "query($d: NaiveDate!) { viewer { chatUsage(from: $d, to: $d) { days { usageDate } } } }",
        json!({ "d": today }),
    )
    .await;
    assert_eq!(data["viewer"]["chatUsage"]["days"], json!([]));

    // Mutations on A's session are NOT_FOUND; B's export holds nothing of A.
    for (q, vars) in [
        (
            RENAME,
            json!({ "input": { "id": a_session, "title": "pwned" } }),
        ),
        (DELETE, json!({ "input": { "id": a_session } })),
        (SEND, send_input(Some(a_session), "x", FREE_MODEL)),
    ] {
        assert_error(&app.as_user(b, q, vars).await, "NOT_FOUND", None);
    }
    ok(&app, b, CLEAR, json!({})).await;
    let data = ok(&app, b, "mutation { exportMyData { data } }", json!({})).await;
    assert!(!data.to_string().contains("a's secret"));
    assert!(!data.to_string().contains("a@example.com"));
    assert_eq!(sessions_of(&app, a).await, 1);
    assert_eq!(messages_of(&app, a).await, 2);

    // Anon: root lists refuse, viewer fields are empty.
    for q in [
        "{ chatSessions { nodes { id } } }",
        "{ chatMessages { nodes { id } } }",
    ] {
        assert_error(&app.as_anon(q, json!({})).await, "UNAUTHENTICATED", None);
    }
    let resp = app
        .as_anon(
            "query($id: UUID!) { chatSession(id: $id) { id } }",
            json!({ "id": a_session }),
        )
        .await;
    assert_error(&resp, "UNAUTHENTICATED", None);
    let data = app
        .as_anon(
            "{ viewer { chatActivity { totalCount nodes { id } } } }",
            json!({}),
        )
        .await
        .data()
        .clone();
    assert_eq!(data["viewer"]["chatActivity"]["nodes"], json!([]));
}

// ---------------------------------------------------------------------------
// Statement count
// ---------------------------------------------------------------------------

#[tokio::test]
async fn nested_sessions_messages_query_costs_constant_statements() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    let query = "{ chatSessions(first: 20) { nodes { id title messageCount
        messages(first: 5) { nodes { id content } } } } }";

    sync(&app, user, conversations(3, 4, "a")).await.data();
    app.reset_statements();
    let data = ok(&app, user, query, json!({})).await;
    let few = app.statements();
    assert_eq!(data["chatSessions"]["nodes"].as_array().unwrap().len(), 3);

    sync(&app, user, conversations(7, 4, "b")).await.data();
    app.reset_statements();
    let data = ok(&app, user, query, json!({})).await;
    let many = app.statements();
    let nodes = data["chatSessions"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 10);
    for node in nodes {
        assert_eq!(node["messages"]["nodes"].as_array().unwrap().len(), 4);
    }
    // The sessions page, then every session's messages in one statement.
    assert_eq!(few.len(), 2, "{few:#?}");
    assert_eq!(many.len(), 2, "{many:#?}");
    // The parents go in as one array: 3 or 10 sessions, the same statement
    // (one prepared statement, not one per parent count).
    assert_eq!(few[1], many[1]);
}

/// Each conversation's page is cut in SQL, oldest or newest first, with
/// `hasNextPage` right at the page boundary and the conversation's total
/// when it is asked for; one request may mix all of these.
#[tokio::test]
async fn nested_message_pages_are_cut_per_conversation() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    let long = id(&send(&app, user, None, "m0").await["session"]["id"]);
    for i in 1..4 {
        send(&app, user, Some(long), &format!("m{i}")).await;
    }
    let short = id(&send(&app, user, None, "s0").await["session"]["id"]);
    let q = "{ chatSessions { nodes { id
        oldest: messages(first: 3) { totalCount pageInfo { hasNextPage } nodes { content } }
        newest: messages(first: 2, orderBy: [{ field: TIMESTAMP, direction: DESC }]) {
            pageInfo { hasNextPage } nodes { content } }
        two: messages(first: 2) { totalCount pageInfo { hasNextPage } nodes { content } } } } }";
    app.reset_statements();
    let data = ok(&app, user, q, json!({})).await;
    // The sessions, then one statement per distinct page (size, order,
    // total or not), each for both conversations.
    assert_eq!(app.statements().len(), 4, "{:#?}", app.statements());
    let nodes = data["chatSessions"]["nodes"].as_array().unwrap();
    let node = |session: Uuid| {
        nodes
            .iter()
            .find(|n| id(&n["id"]) == session)
            .expect("session listed")
    };
    let contents = |page: &Value| -> Vec<String> {
        page["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["content"].as_str().unwrap().to_owned())
            .collect()
    };
    let (l, s) = (node(long), node(short));
    assert_eq!(contents(&l["oldest"]), ["m0", "answer to m0", "m1"]);
    assert_eq!(l["oldest"]["totalCount"], 8);
    assert_eq!(l["oldest"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(contents(&l["newest"]), ["answer to m3", "m3"]);
    assert_eq!(l["newest"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(contents(&s["oldest"]), ["s0", "answer to s0"]);
    assert_eq!(s["oldest"]["totalCount"], 2);
    assert_eq!(s["oldest"]["pageInfo"]["hasNextPage"], false);
    // Exactly a page: no next page.
    assert_eq!(contents(&s["two"]), ["s0", "answer to s0"]);
    assert_eq!(s["two"]["totalCount"], 2);
    assert_eq!(s["two"]["pageInfo"]["hasNextPage"], false);
    assert_eq!(l["two"]["totalCount"], 8);

    // Another user asking for the same pages gets nothing of Ada's.
    let bob = app.db.create_user("bob@example.com").await;
    let data = ok(&app, bob, q, json!({})).await;
    assert_eq!(data["chatSessions"]["nodes"], json!([]));
}

/// sessions -> messages -> each message's session -> that session's
/// messages: one statement per level whatever the page sizes and the number
/// of sessions; the back-reference is the viewer's own session only.
#[tokio::test]
async fn three_level_chat_query_costs_one_statement_per_level() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    let other = app.db.create_user("bob@example.com").await;
    let query = "query($s: Int, $m: Int) { chatSessions(first: $s) { nodes { id
        messages(first: $m) { nodes { id sessionId
            session { id title messages(first: 2) { totalCount nodes { id } } } } } } } }";
    let run = |sessions: i32, messages: i32| {
        let app = &app;
        async move {
            app.reset_statements();
            let data = ok(app, user, query, json!({ "s": sessions, "m": messages })).await;
            (data, app.statements())
        }
    };

    sync(&app, user, conversations(2, 3, "a")).await.data();
    sync(&app, other, conversations(2, 3, "b")).await.data();
    let (data, few) = run(1, 1).await;
    assert_eq!(data["chatSessions"]["nodes"].as_array().unwrap().len(), 1);

    sync(&app, user, conversations(8, 5, "c")).await.data();
    let (data, many) = run(10, 10).await;
    let sessions = data["chatSessions"]["nodes"].as_array().unwrap();
    assert_eq!(sessions.len(), 10);
    let mut messages = 0;
    for session in sessions {
        for message in session["messages"]["nodes"].as_array().unwrap() {
            messages += 1;
            // The back-reference is the parent session, with its own page.
            assert_eq!(message["session"]["id"], session["id"]);
            assert_eq!(message["sessionId"], session["id"]);
            let nested = &message["session"]["messages"];
            assert_eq!(nested["nodes"].as_array().unwrap().len(), 2);
            assert_eq!(
                nested["totalCount"],
                session["messages"]["nodes"].as_array().unwrap().len()
            );
        }
    }
    assert_eq!(messages, 2 * 3 + 8 * 5);
    // sessions, their messages, the messages' sessions, those sessions'
    // messages: four statements for 1 message or 46.
    assert_eq!(few.len(), 4, "{few:#?}");
    assert_eq!(many.len(), 4, "{many:#?}");

    // The root message list with the back-reference: two statements; Bob
    // reaches none of Ada's sessions through it, anon nothing at all.
    app.reset_statements();
    let data = ok(
        &app,
        other,
        "{ chatMessages(first: 100) { nodes { sessionId session { id title } } } }",
        json!({}),
    )
    .await;
    let nodes = data["chatMessages"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2 * 3);
    for node in nodes {
        assert_eq!(node["session"]["id"], node["sessionId"]);
    }
    assert_eq!(app.statements().len(), 2, "{:#?}", app.statements());
    let resp = app
        .as_anon(
            "{ chatMessages { nodes { id session { id } } } }",
            json!({}),
        )
        .await;
    assert!(
        resp.body["data"]["chatMessages"]["nodes"]
            .as_array()
            .is_none_or(|n| n.is_empty()),
        "{}",
        resp.body
    );
}

#[tokio::test]
async fn a_failed_exchange_in_a_request_rolls_back_the_whole_request() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    let q = "mutation($ok: SendChatMessageInput!, $bad: SendChatMessageInput!) {
        a: sendChatMessage(input: $ok) { session { id } }
        b: sendChatMessage(input: $bad) { session { id } } }";
    let resp = app
        .as_user(
            user,
            q,
            json!({ "ok": send_input(None, "first", FREE_MODEL)["input"],
                    "bad": send_input(None, "second", PRO_MODEL)["input"] }),
        )
        .await;
    assert_eq!(
        resp.error_codes(),
        vec!["FORBIDDEN", "ROLLED_BACK"],
        "{}",
        resp.body
    );
    assert_eq!(sessions_of(&app, user).await, 0);
    assert_eq!(messages_of(&app, user).await, 0);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM chat.user_usage_daily WHERE user_id = $1",
            user
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_new_session_takes_the_clients_id_once() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    let mut input = send_input(None, "hello", FREE_MODEL);
    input["input"]["clientSessionId"] = json!("conv_1");
    input["input"]["title"] = json!("My chat");
    let data = ok(&app, user, SEND, input.clone()).await;
    assert_eq!(data["sendChatMessage"]["session"]["clientId"], "conv_1");
    assert_eq!(data["sendChatMessage"]["session"]["title"], "My chat");
    assert_error(&app.as_user(user, SEND, input).await, "CONFLICT", None);
    assert_eq!(sessions_of(&app, user).await, 1);
    // Another user may use the same client id.
    let other = app.db.create_user("bob@example.com").await;
    let mut input = send_input(None, "hello", FREE_MODEL);
    input["input"]["clientSessionId"] = json!("conv_1");
    ok(&app, other, SEND, input).await;
}
