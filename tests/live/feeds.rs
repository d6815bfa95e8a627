//! `liftSession`, `activity`, `dashboard` and `alerts`: what each delivers,
//! and that nobody else receives it.

use crate::common::app::{spawn_app, TestApp};
use crate::common::sqlx;
use crate::common::ws::{Delivery, WsClient, PROTOCOLS};
use crate::{chat_message, chat_session, connect, cursor_now, ok, settle};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;
use uuid::Uuid;

async fn lift_session(app: &TestApp, user: Uuid) -> Uuid {
    let data = ok(
        app,
        user,
        "mutation($i: CreateLiftSessionInput!) { createLiftSession(input: $i) { session { id } } }",
        json!({ "i": { "source": "PROMPT", "originalInput": "sort a list" } }),
    )
    .await;
    data["createLiftSession"]["session"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn add_draft(app: &TestApp, user: Uuid, session: Uuid, valid: bool) {
    ok(
        app,
        user,
        "mutation($i: AddLiftDraftInput!) { addLiftDraft(input: $i) { draft { id } } }",
        json!({ "i": { "sessionId": session, "source": "INITIAL_GENERATION",
                       "codeContent": "fn main() {}", "syntaxValid": valid, "astValid": valid } }),
    )
    .await;
}

/// A builder session of `user` with one `model_deploy` step.
async fn builder_step(app: &TestApp, user: Uuid) {
    let builder = ok(
        app,
        user,
        "mutation { createBuilderSession(input: { description: \"d\" }) { session { id } } }",
        json!({}),
    )
    .await["createBuilderSession"]["session"]["id"]
        .clone();
    ok(
        app,
        user,
        "mutation($i: RecordBuilderStepInput!) { recordBuilderStep(input: $i) { step { id } } }",
        json!({ "i": { "sessionId": builder, "stepType": "model_deploy" } }),
    )
    .await;
}

const LIFT_SESSION: &str = "subscription($id: UUID!) { liftSession(id: $id) {
    id status draftCount drafts(first: 1) { nodes { draftNumber syntaxValid } } } }";

#[tokio::test]
async fn lift_session_sends_its_state_after_every_change_until_deleted() {
    let app = spawn_app().await;
    let alice = app.db.create_user("alice@example.com").await;
    let session = lift_session(&app, alice).await;
    let mut client = connect(&app, PROTOCOLS[1], alice).await;
    let sub = client.start(LIFT_SESSION, json!({ "id": session })).await;
    let first = client.next_data(&sub, "liftSession").await;
    assert_eq!(first["status"], "ACTIVE");
    assert_eq!(first["draftCount"], 0);
    add_draft(&app, alice, session, true).await;
    let state = client.next_data(&sub, "liftSession").await;
    assert_eq!(state["draftCount"], 1, "{state}");
    assert_eq!(state["drafts"]["nodes"][0]["syntaxValid"], true);
    // A change the selection does not show (a revision: `revisionCount` is
    // not selected) leads to the same state, which is not sent again.
    ok(
        &app,
        alice,
        "mutation($i: AddLiftRevisionInput!) { addLiftRevision(input: $i) { revision { id } } }",
        json!({ "i": { "sessionId": session, "source": "INITIAL", "irContent": { "k": 1 } } }),
    )
    .await;
    client.assert_silent(Duration::from_millis(500)).await;
    ok(
        &app,
        alice,
        "mutation($i: UpdateLiftSessionInput!) { updateLiftSession(input: $i) { session { id } } }",
        json!({ "i": { "id": session, "status": "PAUSED" } }),
    )
    .await;
    let state = client.next_data(&sub, "liftSession").await;
    assert_eq!(state["status"], "PAUSED", "{state}");
    ok(
        &app,
        alice,
        "mutation($i: DeleteLiftSessionInput!) { deleteLiftSession(input: $i) { deletedId } }",
        json!({ "i": { "id": session } }),
    )
    .await;
    let gone = client.next(&sub).await;
    assert!(gone["data"]["liftSession"].is_null(), "{gone}");
    let (_, end) = client.next_any().await;
    assert!(
        matches!(end, crate::common::ws::Delivery::Complete),
        "{end:?}"
    );
}

#[tokio::test]
async fn nobody_else_may_follow_a_lift_session_or_see_its_changes() {
    let app = spawn_app().await;
    let alice = app.db.create_user("alice@example.com").await;
    let bob = app.db.create_user("bob@example.com").await;
    let session = lift_session(&app, alice).await;
    let mut client = connect(&app, PROTOCOLS[0], bob).await;
    let sub = client.start(LIFT_SESSION, json!({ "id": session })).await;
    let error = client.ends_with_error(&sub).await;
    assert_eq!(error["extensions"]["code"], "NOT_FOUND", "{error}");
    // Bob's dashboard does not move when Alice works.
    let dash = client
        .start(
            "subscription { dashboard { liftUserAnalytics { totalSessions } } }",
            json!({}),
        )
        .await;
    client.next_data(&dash, "dashboard").await;
    add_draft(&app, alice, session, false).await;
    lift_session(&app, alice).await;
    client.assert_silent(Duration::from_millis(800)).await;
    let mut anon = WsClient::connect(app.addr, PROTOCOLS[0], None)
        .await
        .expect("ack");
    let chat = chat_session(&app, alice, "c").await;
    let ws = workspace_with(&app, alice, &[]).await;
    for query in [
        LIFT_SESSION,
        "subscription { dashboard { id } }",
        "subscription { activity { id } }",
        "subscription { chatSessions { op } }",
        "subscription($s: UUID!) { chatMessages(sessionId: $s) { cursor } }",
        "subscription($w: UUID!) { alerts(workspaceId: $w) { cursor } }",
    ] {
        let vars = json!({ "id": session, "s": chat, "w": ws });
        let sub = anon.start(query, vars).await;
        let error = anon.ends_with_error(&sub).await;
        let code = error["extensions"]["code"].as_str().unwrap().to_string();
        assert_eq!(code, "UNAUTHENTICATED", "{query}: {error}");
    }
}

/// User B on every subscription at once while user A works in every domain:
/// nothing of A's reaches B, on any of them, until B's own work arrives.
#[tokio::test]
async fn a_user_on_every_subscription_receives_nothing_of_another_users_events() {
    let app = spawn_app().await;
    let alice = app.db.create_user("alice@example.com").await;
    let bob = app.db.create_user("bob@example.com").await;
    let alice_lift = lift_session(&app, alice).await;
    let alice_chat = chat_session(&app, alice, "a").await;
    let alice_ws = workspace_with(&app, alice, &[]).await;
    let bob_ws = workspace_with(&app, bob, &[]).await;
    let after = cursor_now(&app).await;

    let mut client = connect(&app, PROTOCOLS[1], bob).await;
    let activity = client
        .start("subscription { activity { kind id } }", json!({}))
        .await;
    let chats = client
        .start("subscription { chatSessions { op } }", json!({}))
        .await;
    let own_alerts = client
        .start(ALERTS, json!({ "w": bob_ws, "a": after }))
        .await;
    let dashboard = client
        .start(
            "subscription { dashboard { liftUserAnalytics { totalSessions } } }",
            json!({}),
        )
        .await;
    let first = client.next_data(&dashboard, "dashboard").await;
    assert_eq!(
        first,
        json!({ "liftUserAnalytics": null }),
        "no sessions yet"
    );
    // A's objects cannot be followed by B at all.
    for (query, vars) in [
        (LIFT_SESSION, json!({ "id": alice_lift })),
        (
            "subscription($s: UUID!) { chatMessages(sessionId: $s) { cursor } }",
            json!({ "s": alice_chat }),
        ),
        (ALERTS, json!({ "w": alice_ws, "a": after })),
    ] {
        let sub = client.start(query, vars).await;
        let error = client.ends_with_error(&sub).await;
        assert_eq!(error["extensions"]["code"], "NOT_FOUND", "{query}: {error}");
    }

    // A works in every domain that has a feed.
    add_draft(&app, alice, alice_lift, true).await;
    lift_session(&app, alice).await;
    builder_step(&app, alice).await;
    chat_message(&app, alice_chat, alice, "private").await;
    chat_session(&app, alice, "b").await;
    fire_alert(&app, alice_ws).await;
    client.assert_silent(Duration::from_millis(800)).await;

    // B's own work arrives on the same subscriptions, so they were live.
    let own = lift_session(&app, bob).await;
    chat_session(&app, bob, "own").await;
    let alert = fire_alert(&app, bob_ws).await;
    let mut got: HashMap<String, Value> = HashMap::new();
    while got.len() < 4 {
        let (id, delivery) = client.next_any().await;
        let Delivery::Next(payload) = delivery else {
            panic!("{id}: {delivery:?}");
        };
        got.entry(id).or_insert(payload);
    }
    assert_eq!(got[&activity]["data"]["activity"]["id"], own.to_string());
    let dash = &got[&dashboard]["data"]["dashboard"];
    assert_eq!(dash["liftUserAnalytics"]["totalSessions"], 1, "{dash}");
    assert_eq!(got[&chats]["data"]["chatSessions"]["op"], "CREATED");
    let own_alert = &got[&own_alerts]["data"]["alerts"]["alert"]["id"];
    assert_eq!(own_alert, &json!(alert.to_string()));
}

#[tokio::test]
async fn activity_is_one_timeline_of_lift_builder_and_chat_events() {
    let app = spawn_app().await;
    let alice = app.db.create_user("alice@example.com").await;
    let bob = app.db.create_user("bob@example.com").await;
    let mut client = connect(&app, PROTOCOLS[0], alice).await;
    let after = cursor_now(&app).await;
    let sub = client
        .start(
            "subscription($a: String) { activity(after: $a) { cursor kind id sessionId occurredAt data } }",
            json!({ "a": after }),
        )
        .await;
    let lift = lift_session(&app, alice).await;
    add_draft(&app, alice, lift, true).await;
    builder_step(&app, alice).await;
    let chat = chat_session(&app, alice, "c").await;
    chat_message(&app, chat, alice, "hello").await;
    // Bob's work is not Alice's activity.
    lift_session(&app, bob).await;
    let mut kinds = Vec::new();
    let mut cursors = Vec::new();
    for _ in 0..4 {
        let event = client.next_data(&sub, "activity").await;
        kinds.push(event["kind"].as_str().unwrap().to_string());
        cursors.push(event["cursor"].as_str().unwrap().to_string());
    }
    assert_eq!(
        kinds,
        [
            "session_created",
            "draft_created",
            "builder_step",
            "chat_message"
        ]
    );
    client.assert_silent(Duration::from_millis(500)).await;
    // Resuming from the second event replays the rest, in the same order.
    let mut again = connect(&app, PROTOCOLS[1], alice).await;
    let sub = again
        .start(
            "subscription($a: String) { activity(after: $a) { kind } }",
            json!({ "a": cursors[1] }),
        )
        .await;
    for kind in &kinds[2..] {
        assert_eq!(&again.next_data(&sub, "activity").await["kind"], kind);
    }
    again.assert_silent(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn dashboard_is_sent_again_when_the_viewers_counters_move() {
    let app = spawn_app().await;
    let alice = app.db.create_user("alice@example.com").await;
    let mut client = connect(&app, PROTOCOLS[0], alice).await;
    let sub = client
        .start(
            "subscription { dashboard { builderAnalytics { totalSessions } liftUserAnalytics { totalSessions } } }",
            json!({}),
        )
        .await;
    let first = client.next_data(&sub, "dashboard").await;
    assert_eq!(first["builderAnalytics"]["totalSessions"], 0, "{first}");
    ok(
        &app,
        alice,
        "mutation { createBuilderSession(input: { description: \"d\" }) { session { id } } }",
        json!({}),
    )
    .await;
    let next = client.next_data(&sub, "dashboard").await;
    assert_eq!(next["builderAnalytics"]["totalSessions"], 1, "{next}");
    lift_session(&app, alice).await;
    let next = client.next_data(&sub, "dashboard").await;
    assert_eq!(next["liftUserAnalytics"]["totalSessions"], 1, "{next}");
}

pub(crate) async fn workspace_with(app: &TestApp, owner: Uuid, members: &[Uuid]) -> Uuid {
    let ws: Uuid = sqlx::query_scalar(
        "INSERT INTO public.workspaces (name, owner_id) VALUES ('W', $1) RETURNING id",
    )
    .bind(owner)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    for member in members {
        sqlx::query(
            "INSERT INTO public.workspace_members (workspace_id, user_id, role) VALUES ($1, $2, 'member')",
        )
        .bind(ws)
        .bind(member)
        .execute(&app.db.pool)
        .await
        .unwrap();
    }
    ws
}

pub(crate) async fn fire_alert(app: &TestApp, ws: Uuid) -> Uuid {
    let rule: Uuid = sqlx::query_scalar(
        "INSERT INTO analytics.alert_rules (workspace_id, name, metric_type, condition, threshold_value)
         VALUES ($1, 'busy', 'total_runs', 'greater_than', 1) RETURNING id",
    )
    .bind(ws)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    sqlx::query_scalar(
        "INSERT INTO analytics.alert_history (alert_rule_id, workspace_id, metric_value) VALUES ($1, $2, 5) RETURNING id",
    )
    .bind(rule)
    .bind(ws)
    .fetch_one(&app.db.pool)
    .await
    .unwrap()
}

/// One connection per user (the two protocols in turn), each following
/// `alerts` of workspace `ws` after `after`.
pub(crate) async fn follow_alerts(
    app: &TestApp,
    users: &[Uuid],
    ws: Uuid,
    after: &str,
) -> Vec<(WsClient, String)> {
    let mut clients = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let mut client = connect(app, PROTOCOLS[i % 2], *user).await;
        let sub = client.start(ALERTS, json!({ "w": ws, "a": after })).await;
        clients.push((client, sub));
    }
    clients
}

/// Each client's next `alerts` delivery is `alert`.
pub(crate) async fn each_gets_alert(clients: &mut [(WsClient, String)], alert: Uuid) {
    for (client, sub) in clients {
        let got = client.next_data(sub, "alerts").await;
        assert_eq!(got["alert"]["id"], alert.to_string(), "{got}");
    }
}

pub(crate) const ALERTS: &str = "subscription($w: UUID!, $a: String) { alerts(workspaceId: $w, after: $a) { cursor alert { id } } }";

#[tokio::test]
async fn alerts_reach_the_workspaces_members_and_nobody_else() {
    let app = spawn_app().await;
    let owner = app.db.create_user("owner@example.com").await;
    let member = app.db.create_user("member@example.com").await;
    let outsider = app.db.create_user("outsider@example.com").await;
    let ws = workspace_with(&app, owner, &[member]).await;
    let other_ws = workspace_with(&app, outsider, &[]).await;
    let after = cursor_now(&app).await;
    let mut clients = follow_alerts(&app, &[owner, member], ws, &after).await;
    let mut outsider_client = connect(&app, PROTOCOLS[1], outsider).await;
    let refused = outsider_client
        .start(ALERTS, json!({ "w": ws, "a": after }))
        .await;
    let error = outsider_client.ends_with_error(&refused).await;
    assert_eq!(error["extensions"]["code"], "NOT_FOUND", "{error}");
    let own = outsider_client
        .start(ALERTS, json!({ "w": other_ws, "a": after }))
        .await;
    let alert = fire_alert(&app, ws).await;
    each_gets_alert(&mut clients, alert).await;
    outsider_client
        .assert_silent(Duration::from_millis(500))
        .await;
    // The outsider's own workspace still works.
    let theirs = fire_alert(&app, other_ws).await;
    let got = outsider_client.next_data(&own, "alerts").await;
    assert_eq!(got["alert"]["id"], theirs.to_string());
    for (client, _) in &mut clients {
        client.assert_silent(Duration::from_millis(300)).await;
    }
    settle().await;
}
