//! The websocket transport: queries and mutations over the socket, token
//! expiry, limits, slow consumers, and replicas.

use crate::common::app::{spawn_app, spawn_app_live};
use crate::common::sqlx;
use crate::common::ws::{WsClient, PROTOCOLS};
use crate::{
    chat_message, chat_session, connect, cursor_now, follow_chat, kill_listener, next_message,
    settle,
};
use gateway::auth::Role;
use gateway::graphql::limits::Limits;
use gateway::live::LiveConfig;
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn queries_and_mutations_run_over_the_socket_as_the_viewer() {
    let app = spawn_app().await;
    let alice = app.db.create_user("alice@example.com").await;
    for protocol in PROTOCOLS {
        let mut client = connect(&app, protocol, alice).await;
        let q = client
            .start("{ viewer { id user { email } } }", json!({}))
            .await;
        let data = client.next_data(&q, "viewer").await;
        assert_eq!(data["user"]["email"], "alice@example.com");
        let m = client
            .start(
                "mutation { createBuilderSession(input: { description: \"ws\" }) { session { id userId } } }",
                json!({}),
            )
            .await;
        let created = client.next_data(&m, "createBuilderSession").await;
        assert_eq!(created["session"]["userId"], alice.to_string());
        // A failing mutation rolls back and reports its code.
        let bad = client
            .start(
                "mutation { recordBuilderStep(input: { sessionId: \"00000000-0000-0000-0000-000000000000\", stepType: \"x\" }) { step { id } } }",
                json!({}),
            )
            .await;
        let error = client.ends_with_error(&bad).await;
        assert!(error["extensions"]["code"].is_string(), "{error}");
    }
}

/// A subscription or query refused by a document limit is answered before
/// anything runs: no SQL is sent, not even to open a transaction.
#[tokio::test]
async fn operations_refused_by_a_limit_send_no_sql_over_the_socket() {
    let limits = Limits {
        max_aliases: 0,
        ..Limits::default()
    };
    let app = spawn_app_live(limits, LiveConfig::default()).await;
    let alice = app.db.create_user("alice@example.com").await;
    let session = chat_session(&app, alice, "c").await;
    for protocol in PROTOCOLS {
        let mut client = connect(&app, protocol, alice).await;
        app.reset_statements();
        let sub = client
            .start(
                "subscription($s: UUID!) { m: chatMessages(sessionId: $s) { cursor } }",
                json!({ "s": session }),
            )
            .await;
        let error = client.ends_with_error(&sub).await;
        assert_eq!(error["extensions"]["code"], "LIMIT_EXCEEDED", "{error}");
        assert_eq!(error["extensions"]["limit"], "aliases", "{error}");
        let query = client.start("{ v: viewer { id } }", json!({})).await;
        let error = client.ends_with_error(&query).await;
        assert_eq!(error["extensions"]["limit"], "aliases", "{error}");
        assert_eq!(
            app.raw_statement_count(),
            0,
            "{protocol}: SQL was sent: {:?}",
            app.statements()
        );
        client.close().await;
    }
}

#[tokio::test]
async fn an_expired_token_ends_the_subscription_with_unauthenticated() {
    let app = spawn_app().await;
    let alice = app.db.create_user("alice@example.com").await;
    let session = chat_session(&app, alice, "c").await;
    let token = app
        .auth
        .mint(
            Some(alice),
            Role::Authenticated,
            Duration::from_secs(2),
            None,
        )
        .unwrap();
    let mut client = WsClient::connect(app.addr, PROTOCOLS[0], Some(&token))
        .await
        .expect("ack");
    let sub = follow_chat(&mut client, session, None).await;
    settle().await;
    chat_message(&app, session, alice, "before").await;
    assert_eq!(next_message(&mut client, &sub).await.0, "before");
    let error = client.ends_with_error(&sub).await;
    assert_eq!(error["extensions"]["code"], "UNAUTHENTICATED", "{error}");
    assert!(error["message"].as_str().unwrap().contains("expired"));
    // Nothing more is delivered on it.
    chat_message(&app, session, alice, "after").await;
    client.assert_silent(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn subscriptions_per_connection_and_connections_per_user_are_limited() {
    let live = LiveConfig {
        max_subscriptions_per_connection: 2,
        max_connections_per_user: 2,
        ..LiveConfig::default()
    };
    let app = spawn_app_live(Limits::default(), live).await;
    let alice = app.db.create_user("alice@example.com").await;
    let session = chat_session(&app, alice, "c").await;
    let mut first = connect(&app, PROTOCOLS[0], alice).await;
    follow_chat(&mut first, session, None).await;
    follow_chat(&mut first, session, None).await;
    let third = follow_chat(&mut first, session, None).await;
    let error = first.ends_with_error(&third).await;
    assert_eq!(error["extensions"]["code"], "LIMIT_EXCEEDED", "{error}");
    assert_eq!(error["extensions"]["limit"], "subscriptions_per_connection");
    assert_eq!(error["extensions"]["max"], 2);
    let second = connect(&app, PROTOCOLS[1], alice).await;
    let refused = WsClient::connect(app.addr, PROTOCOLS[0], Some(&app.token(alice))).await;
    let frame = refused.err().flatten().expect("a close frame");
    assert_eq!(u16::from(frame.code), 1008);
    assert!(frame.reason.contains("LIMIT_EXCEEDED"), "{frame:?}");
    // Another user is not affected; a closed connection frees its slot.
    let bob = app.db.create_user("bob@example.com").await;
    connect(&app, PROTOCOLS[0], bob).await;
    second.close().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    connect(&app, PROTOCOLS[0], alice).await;
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_is_told_and_can_resume_while_others_flow() {
    let live = LiveConfig {
        buffer: 4,
        ..LiveConfig::default()
    };
    let app = spawn_app_live(Limits::default(), live).await;
    let alice = app.db.create_user("alice@example.com").await;
    let bob = app.db.create_user("bob@example.com").await;
    let slow_session = chat_session(&app, alice, "slow").await;
    let bob_session = chat_session(&app, bob, "fast").await;
    let after = cursor_now(&app).await;
    let mut slow = connect(&app, PROTOCOLS[0], alice).await;
    let slow_sub = follow_chat(&mut slow, slow_session, Some(&after)).await;
    let mut fast = connect(&app, PROTOCOLS[0], bob).await;
    let fast_sub = follow_chat(&mut fast, bob_session, Some(&after)).await;
    settle().await;
    // Alice stops reading while large messages pile up: her socket fills,
    // her deliveries stall, and the hub drops her subscription.
    let big = "x".repeat(200_000);
    let total = 100;
    for i in 0..total {
        chat_message(&app, slow_session, alice, &format!("{i:03}{big}")).await;
    }
    // Bob is served meanwhile.
    chat_message(&app, bob_session, bob, "for bob").await;
    assert_eq!(next_message(&mut fast, &fast_sub).await.0, "for bob");
    // Alice reads what was sent, then the error with her resume cursor.
    let mut seen = HashSet::new();
    let cursor = loop {
        let (_, delivery) = slow.next_any().await;
        match delivery {
            crate::common::ws::Delivery::Next(p) if p.get("errors").is_none() => {
                let id = p["data"]["chatMessages"]["message"]["id"]
                    .as_str()
                    .unwrap()
                    .to_string();
                assert!(seen.insert(id), "no duplicates");
            }
            crate::common::ws::Delivery::Next(p) => {
                let error = &p["errors"][0];
                assert_eq!(error["extensions"]["code"], "SUBSCRIBER_LAGGED", "{error}");
                break error["extensions"]["cursor"].as_str().unwrap().to_string();
            }
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(seen.len() < total, "dropped before the end");
    let mut again = connect(&app, PROTOCOLS[1], alice).await;
    let sub = follow_chat(&mut again, slow_session, Some(&cursor)).await;
    while seen.len() < total {
        let (_, _, id) = next_message(&mut again, &sub).await;
        assert!(seen.insert(id), "no duplicates after resuming");
    }
    again.assert_silent(Duration::from_millis(300)).await;
    let _ = slow_sub;
}

#[tokio::test]
async fn a_change_through_one_replica_reaches_a_subscriber_on_another() {
    let app = spawn_app().await;
    let replica = app.spawn_replica().await;
    let alice = app.db.create_user("alice@example.com").await;
    let session = chat_session(&app, alice, "c").await;
    let mut client = WsClient::connect(replica.addr, PROTOCOLS[0], Some(&app.token(alice)))
        .await
        .expect("ack");
    let after = cursor_now(&app).await;
    let sub = follow_chat(&mut client, session, Some(&after)).await;
    // Written through the first gateway over HTTP.
    crate::ok(
        &app,
        alice,
        "mutation($i: SendChatMessageInput!) { sendChatMessage(input: $i) { session { id } } }",
        json!({ "i": { "sessionId": session, "model": "deepseek/deepseek-r1-0528:free",
                       "message": { "content": "via A" }, "response": { "content": "answer" } } }),
    )
    .await;
    assert_eq!(next_message(&mut client, &sub).await.0, "via A");
    assert_eq!(next_message(&mut client, &sub).await.0, "answer");
    let count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'gateway-live' AND datname = current_database()",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(count, 2, "one LISTEN connection per process");
    replica.shutdown.trigger();
}

#[tokio::test]
async fn the_server_pings_idle_connections_and_drops_silent_peers() {
    let live = LiveConfig {
        keepalive_ms: 200,
        ..LiveConfig::default()
    };
    let app = spawn_app_live(Limits::default(), live).await;
    let alice = app.db.create_user("alice@example.com").await;
    for protocol in PROTOCOLS {
        let mut client = connect(&app, protocol, alice).await;
        let mut pings = 0;
        let mut kas = 0;
        // Reading answers the pings (tungstenite replies with pongs), so
        // this peer stays connected well past four intervals.
        let until = tokio::time::Instant::now() + Duration::from_millis(1500);
        while tokio::time::Instant::now() < until {
            match client.next_frame(Duration::from_millis(300)).await {
                Some(Some(Message::Ping(_))) => pings += 1,
                Some(Some(Message::Text(t))) if t.contains("\"ka\"") => kas += 1,
                Some(None) => panic!("{protocol}: dropped while answering pings"),
                _ => {}
            }
        }
        assert!(pings >= 3, "{protocol}: {pings} pings");
        if protocol == "graphql-ws" {
            assert!(kas >= 3, "legacy keep-alive messages: {kas}");
        }
        let q = client.start("{ viewer { id } }", json!({})).await;
        assert_eq!(
            client.next_data(&q, "viewer").await["id"],
            alice.to_string()
        );
        client.close().await;
    }
    // A peer that never answers is disconnected after four intervals.
    let mut silent = connect(&app, PROTOCOLS[0], alice).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let ended = async {
        loop {
            match silent.next_frame(Duration::from_secs(3)).await {
                Some(Some(Message::Close(_))) | Some(None) => return true,
                Some(Some(_)) => continue,
                None => return false,
            }
        }
    };
    assert!(ended.await, "the silent peer was disconnected");
}

/// `/readyz` answers 503 while the LISTEN connection cannot come back (the
/// pool's open connections still answer), the gauge says 0, and both
/// recover once it reconnects.
#[tokio::test]
async fn readiness_reports_a_live_listener_that_cannot_reconnect() {
    let app = spawn_app().await;
    assert_eq!(app.get("/readyz").await, (200, "ready".to_string()));
    let (_, metrics) = app.get("/metrics").await;
    assert!(metrics.contains("gateway_live_listener_up 1"), "{metrics}");

    // No new connection to this database from now on (the superuser and
    // the connections already open are not affected), then drop LISTEN.
    let limit = |n: i32| format!("ALTER DATABASE \"{}\" CONNECTION LIMIT {n}", app.db.name);
    sqlx::raw_sql(sqlx::AssertSqlSafe(limit(0)))
        .execute(&app.db.pool)
        .await
        .unwrap();
    kill_listener(&app).await;
    let mut state = app.get("/readyz").await;
    for _ in 0..100 {
        if state.0 == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        state = app.get("/readyz").await;
    }
    assert_eq!(state, (503, "live listener not connected".to_string()));
    let (_, metrics) = app.get("/metrics").await;
    assert!(metrics.contains("gateway_live_listener_up 0"), "{metrics}");

    sqlx::raw_sql(sqlx::AssertSqlSafe(limit(-1)))
        .execute(&app.db.pool)
        .await
        .unwrap();
    for _ in 0..200 {
        state = app.get("/readyz").await;
        if state.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state, (200, "ready".to_string()));
}
