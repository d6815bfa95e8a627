//! The server around the schema: health, readiness, metrics, and the
//! websocket endpoint's handshake and `connection_init` authentication.

use crate::common::app::spawn_app;
use crate::common::ws::{WsClient, PROTOCOLS};
use serde_json::json;

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.0, 200);
    assert_eq!(app.get("/readyz").await, (200, "ready".to_string()));
}

#[tokio::test]
async fn readiness_fails_when_a_migration_is_missing() {
    let app = spawn_app().await;
    sqlx_delete_last_migration(&app).await;
    // /readyz answers from the background check, which reads the ledger
    // every 2 s (gateway::server::health::MIGRATION_RECHECK).
    let mut state = app.get("/readyz").await;
    for _ in 0..60 {
        if state.0 == 503 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        state = app.get("/readyz").await;
    }
    assert_eq!(state, (503, "migrations pending".to_string()));
}

async fn sqlx_delete_last_migration(app: &crate::common::app::TestApp) {
    crate::common::sqlx::query(
        "DELETE FROM seaql_migrations WHERE version = (SELECT max(version) FROM seaql_migrations)",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn metrics_count_requests_by_type_and_outcome() {
    let app = spawn_app().await;
    app.as_anon("{ viewer { role } }", json!({})).await;
    app.post_raw(
        Some("Bearer nope"),
        json!({ "query": "{ viewer { role } }" }),
    )
    .await;
    let (_, text) = app.get("/metrics").await;
    let sample = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no sample {name} in\n{text}"))
    };
    assert_eq!(
        sample(r#"gateway_graphql_requests_total{operation_type="query",outcome="ok"}"#),
        1.0
    );
    assert_eq!(
        sample(r#"gateway_graphql_requests_total{operation_type="query",outcome="rejected"}"#),
        1.0
    );
    assert!(text.contains("gateway_graphql_request_duration_seconds_bucket"));
    assert!(text.contains(r#"gateway_db_pool_connections{state="idle"}"#));
    assert!(text.contains("gateway_ws_connections_active"));
}

#[tokio::test]
async fn websocket_init_with_a_token_acks_and_runs_queries_as_the_viewer() {
    let app = spawn_app().await;
    let alice = app.db.create_user("alice@example.com").await;
    for protocol in PROTOCOLS {
        let mut client = WsClient::connect(app.addr, protocol, Some(&app.token(alice)))
            .await
            .expect("connection_ack");
        // Queries run over the socket too, in their own transaction as the
        // connection's viewer.
        let q = client
            .start("{ viewer { user { email } } }", json!({}))
            .await;
        let viewer = client.next_data(&q, "viewer").await;
        assert_eq!(viewer["user"]["email"], "alice@example.com", "{protocol}");
        client.close().await;
    }
}

#[tokio::test]
async fn websocket_init_with_a_bad_token_is_closed_4403() {
    let app = spawn_app().await;
    for protocol in PROTOCOLS {
        let refused = WsClient::connect(app.addr, protocol, Some("not-a-token")).await;
        let frame = refused.err().flatten().expect("a close frame");
        assert_eq!(u16::from(frame.code), 4403, "{protocol}");
    }
}

#[tokio::test]
async fn shutdown_closes_websockets_with_going_away() {
    let app = spawn_app().await;
    let mut client = WsClient::connect(app.addr, PROTOCOLS[0], None)
        .await
        .expect("connection_ack");
    app.shutdown.trigger();
    let frame = client.closed().await.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1001);
    assert!(
        app.shutdown
            .drained(std::time::Duration::from_secs(5))
            .await
    );
    // No new connections once shut down.
    let refused = app
        .client
        .get(format!("{}/healthz", app.base_url))
        .send()
        .await;
    assert!(refused.is_err(), "the listener is closed");
}

#[tokio::test]
async fn the_per_request_statement_timeout_cuts_slow_statements() {
    use gateway::auth::Viewer;
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let app = spawn_app().await;
    let pool = app.gateway_pool().await;
    let tx = gateway::db::request::begin_as(&pool, &Viewer::anon(), 100)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let slow = tx
        .execute_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pg_sleep(5)",
        ))
        .await
        .expect_err("cut off by the statement timeout");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "cut off early"
    );
    let api_error = gateway::graphql::error::ApiError::from(slow);
    assert_eq!(api_error.code(), "INTERNAL");
    assert_eq!(api_error.to_string(), "internal error", "no detail leaks");
}

#[tokio::test]
async fn requests_run_as_the_viewers_role_with_its_claims() {
    use gateway::auth::{Role, Viewer};
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let app = spawn_app().await;
    let pool = app.gateway_pool().await;
    let user = uuid::Uuid::new_v4();
    let viewer = Viewer {
        user_id: Some(user),
        role: Role::Authenticated,
        claims: json!({ "sub": user, "role": "authenticated", "email": "x@example.com" }),
    };
    let tx = gateway::db::request::begin_as(&pool, &viewer, 1000)
        .await
        .unwrap();
    let row = tx
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_user::text AS who, auth.uid() AS uid, auth.jwt() ->> 'email' AS email",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<String>("", "who").unwrap(), "authenticated");
    assert_eq!(row.try_get::<uuid::Uuid>("", "uid").unwrap(), user);
    assert_eq!(row.try_get::<String>("", "email").unwrap(), "x@example.com");
}

#[tokio::test]
async fn the_demo_user_is_created_once_with_data_to_show() {
    let app = spawn_app().await;
    let pool = app.gateway_pool().await;
    let first = gateway::demo::ensure_demo_user(&pool).await.unwrap();
    let again = gateway::demo::ensure_demo_user(&pool).await.unwrap();
    assert_eq!(first, again, "idempotent");
    let response = app
        .as_user(
            first,
            "{ viewer { user { email } } builderSessions { totalCount } }",
            json!({}),
        )
        .await;
    let data = response.data();
    assert_eq!(data["viewer"]["user"]["email"], gateway::demo::DEMO_EMAIL);
    assert_eq!(
        data["builderSessions"]["totalCount"], 3,
        "seeded once, not twice"
    );
}

#[tokio::test]
async fn an_unprivileged_database_url_starts_when_migrations_are_applied() {
    let app = spawn_app().await;
    let config = gateway::config::DbConfig {
        database_url: Some(app.db.url_as("gateway")),
        data_dir: "unused".into(),
        db_name: "unused".into(),
        pool_size: 2,
        acquire_timeout_ms: 2000,
    };
    let started = gateway::db::start(&config)
        .await
        .expect("the gateway role needs no DDL when nothing is pending");
    assert!(started.cluster.is_none());
    drop(started);

    // With a migration pending, it says what to do instead of failing on DDL.
    crate::common::sqlx::query(
        "DELETE FROM seaql_migrations WHERE version = (SELECT max(version) FROM seaql_migrations)",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    let err = match gateway::db::start(&config).await {
        Ok(_) => panic!("pending migrations cannot be applied by the gateway role"),
        Err(err) => err.to_string(),
    };
    assert!(err.contains("gateway migrate"), "{err}");
}
