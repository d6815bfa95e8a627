//! Loss-free delivery across a dropped LISTEN connection.

use crate::common::app::spawn_app;
use crate::common::ws::PROTOCOLS;
use crate::{
    chat_message, chat_session, connect, cursor_now, follow_chat, kill_listener, next_message,
};
use std::time::Duration;

#[tokio::test]
async fn a_dropped_listen_connection_loses_and_duplicates_nothing() {
    let app = spawn_app().await;
    let alice = app.db.create_user("alice@example.com").await;
    let session = chat_session(&app, alice, "c").await;
    let mut client = connect(&app, PROTOCOLS[0], alice).await;
    let after = cursor_now(&app).await;
    let sub = follow_chat(&mut client, session, Some(&after)).await;
    chat_message(&app, session, alice, "m1").await;
    assert_eq!(next_message(&mut client, &sub).await.0, "m1");
    // Kill the gateway's LISTEN connection and write while it is away.
    kill_listener(&app).await;
    for text in ["m2", "m3", "m4"] {
        chat_message(&app, session, alice, text).await;
    }
    for text in ["m2", "m3", "m4"] {
        assert_eq!(next_message(&mut client, &sub).await.0, text);
    }
    // Live again once reconnected.
    tokio::time::sleep(Duration::from_millis(300)).await;
    chat_message(&app, session, alice, "m5").await;
    assert_eq!(next_message(&mut client, &sub).await.0, "m5");
    client.assert_silent(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn metrics_show_subscriptions_events_and_listener_reconnects() {
    let app = spawn_app().await;
    let alice = app.db.create_user("alice@example.com").await;
    let session = chat_session(&app, alice, "c").await;
    let mut client = connect(&app, PROTOCOLS[0], alice).await;
    let after = cursor_now(&app).await;
    let sub = follow_chat(&mut client, session, Some(&after)).await;
    chat_message(&app, session, alice, "m1").await;
    next_message(&mut client, &sub).await;
    let metrics = || async { app.get("/metrics").await.1 };
    let text = metrics().await;
    assert!(
        text.contains("gateway_live_subscriptions_active 1"),
        "{text}"
    );
    assert!(
        text.contains("gateway_live_listener_connects_total 1"),
        "{text}"
    );
    let events: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("gateway_live_events_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(events >= 2, "the message and its session's stats: {events}");
    client.stop(&sub).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(metrics()
        .await
        .contains("gateway_live_subscriptions_active 0"));
}
