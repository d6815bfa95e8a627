//! Delivery lanes (`gateway::live::lanes`) and batched reads
//! (`gateway::live::batch`) on a real database: a transaction handed on from
//! one subscriber's delivery to the next runs the next one as its own viewer
//! (role, claims, RLS), and a lane is never lost, whether its delivery fails,
//! its holder is stopped, or a waiter gives up; a batched read answers each
//! viewer with that viewer's rows, in calls of bounded size, and falls back
//! to each subscriber's own read when it fails.

use crate::common::app::spawn_app_live;
use crate::common::{sqlx, TestDb};
use crate::feeds::{each_gets_alert, fire_alert, follow_alerts, workspace_with};
use crate::{cursor_now, settle};
use gateway::auth::{Role, Viewer};
use gateway::graphql::limits::Limits;
use gateway::live::lanes::{Lane, Lanes, MAX_USES};
use gateway::live::LiveConfig;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement};
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

fn user(id: Uuid) -> Viewer {
    Viewer {
        user_id: Some(id),
        role: Role::Authenticated,
        claims: json!({ "sub": id, "role": "authenticated", "aud": "authenticated" }),
    }
}

/// What a delivery in `tx` acts as and sees: the current role, `auth.uid()`,
/// the transaction's start time (equal within one transaction) and the
/// conversations RLS lets it read (-1 when the role may not read them at
/// all, as `anon`).
async fn seen(tx: &DatabaseTransaction) -> (String, Option<String>, String, i64) {
    let anon = tx
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_user = 'anon' AS anon",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<bool>("", "anon")
        .unwrap();
    let conversations = if anon {
        "-1::bigint"
    } else {
        "(SELECT count(*) FROM chat.chat_sessions)"
    };
    let row = tx
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT current_user::text AS role, auth.uid()::text AS uid, \
                 now()::text AS began, {conversations} AS conversations"
            ),
        ))
        .await
        .expect("read as the viewer")
        .expect("one row");
    (
        row.try_get("", "role").unwrap(),
        row.try_get("", "uid").unwrap(),
        row.try_get("", "began").unwrap(),
        row.try_get("", "conversations").unwrap(),
    )
}

async fn lanes(db: &TestDb, count: usize) -> Lanes {
    let pool = gateway::db::connect(&db.url_as("gateway"), 4)
        .await
        .expect("connect as the gateway role");
    Lanes::new(pool, count)
}

/// Starts a delivery that waits for a lane; returns once it is in line.
async fn queue(lanes: &Lanes) -> tokio::task::JoinHandle<Lane> {
    let before = lanes.waiting();
    let waiter = tokio::spawn({
        let lanes = lanes.clone();
        async move { lanes.acquire().await }
    });
    while lanes.waiting() == before {
        tokio::task::yield_now().await;
    }
    waiter
}

#[tokio::test]
async fn a_handed_on_transaction_runs_each_delivery_as_its_own_viewer() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;
    sqlx::query("INSERT INTO chat.chat_sessions (user_id, client_id, title) VALUES ($1, 'a', 'A')")
        .bind(alice)
        .execute(&db.pool)
        .await
        .unwrap();
    let lanes = lanes(&db, 1).await;

    let mut lane = lanes.acquire().await;
    assert!(!lane.is_handed_on());
    let tx = lane.begin_as(&user(alice), 5_000).await.unwrap();
    let (role, uid, began, conversations) = seen(&tx).await;
    assert_eq!(role, "authenticated");
    assert_eq!(uid, Some(alice.to_string()));
    assert_eq!(conversations, 1, "alice sees her conversation");

    // Bob's delivery waits; Alice's hands him her open transaction.
    let next = queue(&lanes).await;
    lane.finish(tx, true).await;
    let mut lane = next.await.unwrap();
    assert!(lane.is_handed_on());
    let tx = lane.begin_as(&user(bob), 5_000).await.unwrap();
    let (role, uid, bob_began, conversations) = seen(&tx).await;
    assert_eq!(bob_began, began, "the same transaction");
    assert_eq!(role, "authenticated");
    assert_eq!(uid, Some(bob.to_string()), "bob's claims replace alice's");
    assert_eq!(
        conversations, 0,
        "RLS as bob: alice's conversation is hidden"
    );

    // Then an anonymous subscriber: the role changes too.
    let next = queue(&lanes).await;
    lane.finish(tx, true).await;
    let mut lane = next.await.unwrap();
    let tx = lane.begin_as(&Viewer::anon(), 5_000).await.unwrap();
    let (role, uid, anon_began, conversations) = seen(&tx).await;
    assert_eq!(anon_began, began);
    assert_eq!(role, "anon");
    assert_eq!(uid, None);
    assert_eq!(conversations, -1, "anon may not read conversations at all");

    // Nobody waits: the transaction ends and the lane is free.
    lane.finish(tx, true).await;
    assert_eq!(lanes.idle(), 1);
    let mut lane = lanes.acquire().await;
    assert!(!lane.is_handed_on());
    let tx = lane.begin_as(&user(alice), 5_000).await.unwrap();
    let (_, uid, fresh_began, conversations) = seen(&tx).await;
    assert_ne!(fresh_began, began, "a new transaction");
    assert_eq!(uid, Some(alice.to_string()));
    assert_eq!(conversations, 1);
    lane.finish(tx, true).await;
}

#[tokio::test]
async fn a_transaction_is_not_handed_on_after_an_error_or_past_its_uses() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let lanes = lanes(&db, 1).await;

    // A failed statement aborts the transaction: the next delivery gets a
    // new one, which works.
    let mut lane = lanes.acquire().await;
    let tx = lane.begin_as(&user(alice), 5_000).await.unwrap();
    let failed = tx
        .execute_raw(Statement::from_string(DbBackend::Postgres, "SELECT 1 / 0"))
        .await;
    assert!(failed.is_err());
    let next = queue(&lanes).await;
    lane.finish(tx, false).await;
    let mut lane = next.await.unwrap();
    assert!(
        !lane.is_handed_on(),
        "an aborted transaction is not handed on"
    );
    let mut tx = lane.begin_as(&user(alice), 5_000).await.unwrap();
    assert_eq!(seen(&tx).await.1, Some(alice.to_string()));

    // Handed on at most MAX_USES - 1 times in a row.
    let mut handed_on = 0;
    loop {
        let next = queue(&lanes).await;
        lane.finish(tx, true).await;
        lane = next.await.unwrap();
        if !lane.is_handed_on() {
            break;
        }
        handed_on += 1;
        assert!(handed_on < MAX_USES, "never ends its transaction");
        tx = lane.begin_as(&user(alice), 5_000).await.unwrap();
    }
    assert_eq!(handed_on, MAX_USES - 1);
    drop(lane);
    assert_eq!(lanes.idle(), 1);
}

#[tokio::test]
async fn a_lane_comes_back_when_its_holder_stops_or_a_waiter_gives_up() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let lanes = lanes(&db, 2).await;

    // A delivery stopped while it holds a lane and an open transaction.
    let holder = tokio::spawn({
        let lanes = lanes.clone();
        async move {
            let mut lane = lanes.acquire().await;
            let _tx = lane.begin_as(&user(alice), 5_000).await.unwrap();
            std::future::pending::<()>().await;
        }
    });
    while lanes.idle() == 2 {
        tokio::task::yield_now().await;
    }
    holder.abort();
    let _ = holder.await;
    assert_eq!(lanes.idle(), 2, "an aborted holder frees its lane");

    // Both lanes held; a delivery gives up waiting; the lane handed on
    // skips it and, with nobody else in line, is freed.
    let mut first = lanes.acquire().await;
    let second = lanes.acquire().await;
    let gave_up = tokio::time::timeout(Duration::from_millis(20), lanes.acquire()).await;
    assert!(gave_up.is_err());
    assert_eq!(lanes.waiting(), 1);
    let tx = first.begin_as(&user(alice), 5_000).await.unwrap();
    first.finish(tx, true).await;
    drop(second);
    assert_eq!(lanes.waiting(), 0);
    assert_eq!(lanes.idle(), 2, "no lane is lost to a waiter that left");
}

/// The counter `name` in the app's `/metrics`.
async fn counter(app: &crate::common::app::TestApp, name: &str) -> u64 {
    let (_, text) = app.get("/metrics").await;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} in {text}"))
}

#[tokio::test]
async fn an_alert_read_once_for_all_members_reaches_only_those_rls_lets_see_it() {
    // One lane, so the deliveries queue up behind the first read and the
    // rest share the next one.
    let live = LiveConfig {
        delivery_concurrency: 1,
        ..LiveConfig::default()
    };
    let app = spawn_app_live(Limits::default(), live).await;
    let owner = app.db.create_user("owner@example.com").await;
    let mut members = vec![owner];
    for i in 0..4 {
        members.push(app.db.create_user(&format!("m{i}@example.com")).await);
    }
    let leaver = app.db.create_user("leaver@example.com").await;
    let mut invited = members[1..].to_vec();
    invited.push(leaver);
    let ws = workspace_with(&app, owner, &invited).await;
    let after = cursor_now(&app).await;
    let mut everyone = members.clone();
    everyone.push(leaver);
    let mut clients = follow_alerts(&app, &everyone, ws, &after).await;
    // Registered: a first alert reaches everyone.
    let first = fire_alert(&app, ws).await;
    each_gets_alert(&mut clients, first).await;
    // The leaver leaves; her subscription stays registered, but her
    // deliveries now read as a non-member.
    sqlx::query("DELETE FROM public.workspace_members WHERE workspace_id = $1 AND user_id = $2")
        .bind(ws)
        .bind(leaver)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let calls = counter(&app, "gateway_live_batched_reads_total").await;
    let viewers = counter(&app, "gateway_live_batched_viewers_total").await;
    let second = fire_alert(&app, ws).await;
    let (mut leaver_client, _) = clients.pop().unwrap();
    each_gets_alert(&mut clients, second).await;
    leaver_client
        .assert_silent(Duration::from_millis(500))
        .await;
    let calls = counter(&app, "gateway_live_batched_reads_total").await - calls;
    let viewers = counter(&app, "gateway_live_batched_viewers_total").await - viewers;
    assert_eq!(viewers, 6, "every subscriber's rows read by a batched read");
    assert!(calls < viewers, "{viewers} subscribers in {calls} calls");
    settle().await;
}

#[tokio::test]
async fn when_the_batched_read_fails_each_member_still_gets_the_alert_once() {
    let app = spawn_app_live(Limits::default(), LiveConfig::default()).await;
    let owner = app.db.create_user("owner@example.com").await;
    let member = app.db.create_user("member@example.com").await;
    let ws = workspace_with(&app, owner, &[member]).await;
    let after = cursor_now(&app).await;
    let mut clients = follow_alerts(&app, &[owner, member], ws, &after).await;
    let first = fire_alert(&app, ws).await;
    each_gets_alert(&mut clients, first).await;
    // The batched read breaks: the deliveries fail, and the executor reads
    // what was missed again, each member in a transaction of its own.
    sqlx::query("DROP FUNCTION live.alert_history_as(text[], text[], uuid[], uuid)")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let calls = counter(&app, "gateway_live_batched_reads_total").await;
    let second = fire_alert(&app, ws).await;
    each_gets_alert(&mut clients, second).await;
    for (client, _) in &mut clients {
        client.assert_silent(Duration::from_millis(300)).await;
    }
    assert!(counter(&app, "gateway_live_batched_reads_total").await > calls);
    settle().await;
}

/// A batched read that answers each viewer with the `sub` of its own claims,
/// echoed by the database in one statement: it tests the batching (every
/// viewer gets its own answer), not RLS (`live.alert_history_as` has its own
/// tests).
struct EchoUid;

#[async_graphql::async_trait::async_trait]
impl gateway::live::BatchRead for EchoUid {
    type Key = u8;
    type Row = String;

    async fn read(
        tx: &DatabaseTransaction,
        _key: &u8,
        viewers: &[Viewer],
    ) -> Result<Vec<Vec<String>>, sea_orm::DbErr> {
        let claims: Vec<String> = viewers.iter().map(Viewer::claims_json).collect();
        let rows = tx
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT (c::jsonb ->> 'sub') AS sub FROM unnest($1::text[]) WITH ORDINALITY AS t(c, n) ORDER BY n",
                [claims.into()],
            ))
            .await?;
        rows.iter()
            .map(|r| Ok(vec![r.try_get::<String>("", "sub")?]))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batched_read_answers_every_viewer_in_calls_of_bounded_size() {
    let db = TestDb::new().await;
    let lanes = lanes(&db, 4).await;
    let batchers = gateway::live::Batchers::new(lanes.clone());
    let users: Vec<Uuid> = (0..300).map(|_| Uuid::new_v4()).collect();
    let reads = users.iter().map(|u| {
        let batcher = batchers.of::<EchoUid>();
        let viewer = user(*u);
        tokio::spawn(async move { batcher.read(7, viewer).await })
    });
    let answers = futures_util::future::join_all(reads).await;
    for (user, answer) in users.iter().zip(answers) {
        assert_eq!(answer.unwrap().unwrap(), vec![user.to_string()]);
    }
    let calls = batchers.calls();
    assert_eq!(batchers.viewers(), 300);
    assert!(
        (300u64.div_ceil(gateway::live::batch::MAX_VIEWERS as u64)..300).contains(&calls),
        "300 viewers in {calls} calls"
    );
    assert_eq!(batchers.of::<EchoUid>().keys_in_flight(), 0);
    assert_eq!(lanes.idle(), 4, "every lane back");
}
