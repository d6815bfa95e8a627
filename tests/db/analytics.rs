//! Tests of the `analytics` schema: rollups, percentiles, materialized views
//! and their member views, alerts, retention, RLS and constraints.

use crate::common::{self, sqlx, TestDb, Tx};
use rust_decimal::Decimal;
use sqlx::Row;
use std::str::FromStr;
use uuid::Uuid;

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// alice owns W1 (carol member, dave viewer), bob owns W2; agents A1, A2 in
/// W1 and B1 in W2. Every user and membership dates from 2024-01-01, so
/// rollups of fixed past days have known inputs.
struct Fx {
    alice: Uuid,
    bob: Uuid,
    carol: Uuid,
    dave: Uuid,
    w1: Uuid,
    w2: Uuid,
    a1: Uuid,
    a2: Uuid,
    b1: Uuid,
}

async fn exec(db: &TestDb, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn fixture(db: &TestDb) -> Fx {
    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;
    let carol = db.create_user("carol@example.com").await;
    let dave = db.create_user("dave@example.com").await;
    let ws = |name: &str, owner: Uuid| {
        let pool = db.pool.clone();
        let name = name.to_string();
        async move {
            sqlx::query_scalar::<_, Uuid>(
                "INSERT INTO public.workspaces (name, owner_id, created_at) \
                 VALUES ($1, $2, '2024-01-01T00:00:00Z') RETURNING id",
            )
            .bind(name)
            .bind(owner)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let w1 = ws("W1", alice).await;
    let w2 = ws("W2", bob).await;
    for (user, role) in [(carol, "member"), (dave, "viewer")] {
        sqlx::query("INSERT INTO public.workspace_members (workspace_id, user_id, role) VALUES ($1, $2, $3)")
            .bind(w1)
            .bind(user)
            .bind(role)
            .execute(&db.pool)
            .await
            .unwrap();
    }
    exec(
        db,
        "UPDATE public.workspace_members SET joined_at = '2024-01-01T00:00:00Z'; \
         UPDATE public.users SET created_at = '2024-01-01T00:00:00Z'",
    )
    .await;
    let agent = |ws: Uuid, name: &str| {
        let pool = db.pool.clone();
        let name = name.to_string();
        async move {
            sqlx::query_scalar::<_, Uuid>(
                "INSERT INTO public.agents (workspace_id, name) VALUES ($1, $2) RETURNING id",
            )
            .bind(ws)
            .bind(name)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let a1 = agent(w1, "A1").await;
    let a2 = agent(w1, "A2").await;
    let b1 = agent(w2, "B1").await;
    Fx {
        alice,
        bob,
        carol,
        dave,
        w1,
        w2,
        a1,
        a2,
        b1,
    }
}

#[allow(clippy::too_many_arguments)]
async fn run(
    db: &TestDb,
    agent: Uuid,
    ws: Uuid,
    user: Option<Uuid>,
    status: &str,
    started_at: &str,
    runtime: Option<&str>,
    credits: &str,
    model: Option<&str>,
    error_type: Option<&str>,
) {
    sqlx::query(
        "INSERT INTO public.agent_runs \
           (agent_id, workspace_id, user_id, status, started_at, runtime_seconds, credits_consumed, model, error_type) \
         VALUES ($1, $2, $3, $4, ($5)::timestamptz, ($6)::numeric, ($7)::numeric, $8, $9)",
    )
    .bind(agent)
    .bind(ws)
    .bind(user)
    .bind(status)
    .bind(started_at)
    .bind(runtime)
    .bind(credits)
    .bind(model)
    .bind(error_type)
    .execute(&db.pool)
    .await
    .unwrap();
}

async fn event(
    db: &TestDb,
    user: Uuid,
    ws: Option<Uuid>,
    event_type: &str,
    name: Option<&str>,
    session: Option<Uuid>,
    at: &str,
) {
    sqlx::query(
        "INSERT INTO analytics.user_activity (user_id, workspace_id, event_type, event_name, session_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, ($6)::timestamptz)",
    )
    .bind(user)
    .bind(ws)
    .bind(event_type)
    .bind(name)
    .bind(session)
    .bind(at)
    .execute(&db.pool)
    .await
    .unwrap();
}

async fn count(tx: &mut Tx, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&mut **tx)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn pool_count(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The activity of 2024-03-10 (UTC) described in `aggregate_daily_metrics_*`.
async fn day_fixture(db: &TestDb, f: &Fx) {
    let day = "2024-03-10";
    run(
        db,
        f.a1,
        f.w1,
        Some(f.alice),
        "completed",
        &format!("{day}T10:00:00Z"),
        Some("1"),
        "1.50",
        Some("gpt"),
        None,
    )
    .await;
    run(
        db,
        f.a1,
        f.w1,
        Some(f.alice),
        "completed",
        &format!("{day}T11:00:00Z"),
        Some("2"),
        "2.00",
        Some("gpt"),
        None,
    )
    .await;
    run(
        db,
        f.a1,
        f.w1,
        Some(f.alice),
        "failed",
        &format!("{day}T12:00:00Z"),
        Some("3"),
        "0.50",
        Some("claude"),
        Some("timeout"),
    )
    .await;
    run(
        db,
        f.a2,
        f.w1,
        Some(f.carol),
        "cancelled",
        &format!("{day}T13:00:00Z"),
        Some("4"),
        "0",
        None,
        None,
    )
    .await;
    run(
        db,
        f.b1,
        f.w2,
        Some(f.bob),
        "completed",
        &format!("{day}T15:00:00Z"),
        Some("10"),
        "3.00",
        Some("gpt"),
        None,
    )
    .await;
    // Outside the day: earlier (makes alice a returning user) and the next
    // day's first instant (exclusive upper bound).
    run(
        db,
        f.a1,
        f.w1,
        Some(f.alice),
        "completed",
        "2024-03-01T12:00:00Z",
        Some("100"),
        "50",
        Some("gpt"),
        None,
    )
    .await;
    run(
        db,
        f.a1,
        f.w1,
        Some(f.alice),
        "failed",
        "2024-03-11T00:00:00Z",
        Some("100"),
        "50",
        Some("gpt"),
        Some("oom"),
    )
    .await;
    let s1 = Uuid::new_v4();
    let s2 = Uuid::new_v4();
    let s3 = Uuid::new_v4();
    event(
        db,
        f.alice,
        Some(f.w1),
        "error",
        Some("boom"),
        Some(s1),
        &format!("{day}T09:00:00Z"),
    )
    .await;
    event(
        db,
        f.alice,
        Some(f.w1),
        "page_view",
        None,
        Some(s1),
        &format!("{day}T09:01:30Z"),
    )
    .await;
    event(
        db,
        f.carol,
        Some(f.w1),
        "page_view",
        None,
        Some(s2),
        &format!("{day}T09:05:00Z"),
    )
    .await;
    event(
        db,
        f.bob,
        None,
        "login",
        None,
        Some(s3),
        &format!("{day}T23:59:59Z"),
    )
    .await;
    // dave signs up that day (a new platform user, not a new W1 member).
    sqlx::query("UPDATE public.users SET created_at = '2024-03-10T08:00:00Z' WHERE id = $1")
        .bind(f.dave)
        .execute(&db.pool)
        .await
        .unwrap();
}

async fn aggregate(db: &TestDb, date: &str, ws: Option<Uuid>) -> i32 {
    let mut tx = db.as_service().await;
    let n: i32 = sqlx::query_scalar("SELECT analytics.aggregate_daily_metrics(($1)::date, $2)")
        .bind(date)
        .bind(ws)
        .fetch_one(&mut *tx)
        .await
        .expect("aggregate_daily_metrics");
    tx.commit().await.unwrap();
    n
}

async fn daily_row(db: &TestDb, date: &str, ws: Option<Uuid>) -> sqlx::postgres::PgRow {
    sqlx::query(
        "SELECT *, credits_by_model::text AS cbm, errors_by_type::text AS ebt, top_agents::text AS ta \
         FROM analytics.daily_metrics WHERE metric_date = ($1)::date AND workspace_id IS NOT DISTINCT FROM $2",
    )
    .bind(date)
    .bind(ws)
    .fetch_one(&db.pool)
    .await
    .expect("daily_metrics row")
}

fn int(row: &sqlx::postgres::PgRow, col: &str) -> i32 {
    row.get::<i32, _>(col)
}

fn num(row: &sqlx::postgres::PgRow, col: &str) -> Option<Decimal> {
    row.get::<Option<Decimal>, _>(col)
}

#[tokio::test]
async fn aggregate_daily_metrics_computes_known_values() {
    let db = TestDb::new().await;
    let f = fixture(&db).await;
    day_fixture(&db, &f).await;
    // W1, W2 and the platform-wide row.
    assert_eq!(aggregate(&db, "2024-03-10", None).await, 3);

    let w1 = daily_row(&db, "2024-03-10", Some(f.w1)).await;
    assert_eq!(int(&w1, "total_users"), 3);
    assert_eq!(int(&w1, "new_users"), 0);
    assert_eq!(int(&w1, "active_users"), 2);
    assert_eq!(int(&w1, "returning_users"), 1);
    assert_eq!(int(&w1, "total_sessions"), 2);
    assert_eq!(num(&w1, "avg_session_duration_seconds"), Some(dec("45")));
    assert_eq!(num(&w1, "bounce_rate"), Some(dec("50")));
    assert_eq!(int(&w1, "total_runs"), 4);
    assert_eq!(int(&w1, "successful_runs"), 2);
    assert_eq!(int(&w1, "failed_runs"), 1);
    assert_eq!(int(&w1, "cancelled_runs"), 1);
    assert_eq!(num(&w1, "avg_runtime_seconds"), Some(dec("2.5")));
    assert_eq!(num(&w1, "median_runtime_seconds"), Some(dec("2.5")));
    assert_eq!(num(&w1, "p95_runtime_seconds"), Some(dec("3.85")));
    assert_eq!(num(&w1, "p99_runtime_seconds"), Some(dec("3.97")));
    assert_eq!(num(&w1, "total_credits_consumed"), Some(dec("4")));
    assert_eq!(num(&w1, "avg_credits_per_run"), Some(dec("1")));
    assert_eq!(
        w1.get::<String, _>("cbm"),
        r#"{"gpt": 3.50, "claude": 0.50, "unknown": 0.00}"#
    );
    assert_eq!(int(&w1, "unique_agents_run"), 2);
    assert_eq!(
        w1.get::<String, _>("ta"),
        format!(
            r#"[{{"runs": 3, "credits": 4.00, "agent_id": "{}"}}, {{"runs": 1, "credits": 0.00, "agent_id": "{}"}}]"#,
            f.a1, f.a2
        )
    );
    assert_eq!(int(&w1, "total_errors"), 2);
    assert_eq!(num(&w1, "error_rate"), Some(dec("25")));
    assert_eq!(w1.get::<String, _>("ebt"), r#"{"boom": 1, "timeout": 1}"#);

    let w2 = daily_row(&db, "2024-03-10", Some(f.w2)).await;
    assert_eq!(
        (
            int(&w2, "total_users"),
            int(&w2, "active_users"),
            int(&w2, "returning_users")
        ),
        (1, 1, 0)
    );
    assert_eq!(int(&w2, "total_sessions"), 0);
    assert_eq!(num(&w2, "bounce_rate"), None);
    assert_eq!(int(&w2, "total_runs"), 1);
    assert_eq!(num(&w2, "median_runtime_seconds"), Some(dec("10")));
    assert_eq!(num(&w2, "p99_runtime_seconds"), Some(dec("10")));
    assert_eq!(num(&w2, "error_rate"), Some(dec("0")));
    assert_eq!(int(&w2, "total_errors"), 0);
    assert_eq!(w2.get::<String, _>("ebt"), "{}");

    let all = daily_row(&db, "2024-03-10", None).await;
    assert_eq!(int(&all, "total_users"), 4);
    assert_eq!(int(&all, "new_users"), 1);
    assert_eq!(int(&all, "active_users"), 3);
    assert_eq!(int(&all, "returning_users"), 1);
    assert_eq!(int(&all, "total_sessions"), 3);
    assert_eq!(num(&all, "avg_session_duration_seconds"), Some(dec("30")));
    assert_eq!(num(&all, "bounce_rate"), Some(dec("66.67")));
    assert_eq!(int(&all, "total_runs"), 5);
    assert_eq!(int(&all, "successful_runs"), 3);
    assert_eq!(num(&all, "avg_runtime_seconds"), Some(dec("4")));
    assert_eq!(num(&all, "median_runtime_seconds"), Some(dec("3")));
    assert_eq!(num(&all, "p95_runtime_seconds"), Some(dec("8.8")));
    assert_eq!(num(&all, "p99_runtime_seconds"), Some(dec("9.76")));
    assert_eq!(num(&all, "total_credits_consumed"), Some(dec("7")));
    assert_eq!(num(&all, "avg_credits_per_run"), Some(dec("1.4")));
    assert_eq!(int(&all, "unique_agents_run"), 3);
    assert_eq!(num(&all, "error_rate"), Some(dec("20")));
    let top: serde_json::Value = serde_json::from_str(&all.get::<String, _>("ta")).unwrap();
    let order: Vec<&str> = top
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["agent_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        vec![f.a1.to_string(), f.b1.to_string(), f.a2.to_string()]
    );
}

#[tokio::test]
async fn aggregate_daily_metrics_is_idempotent_and_uses_utc_days() {
    let db = TestDb::new().await;
    let f = fixture(&db).await;
    day_fixture(&db, &f).await;
    assert_eq!(aggregate(&db, "2024-03-10", None).await, 3);
    let before: Vec<(Uuid, Option<Uuid>, i32, Option<Decimal>)> = sqlx::query_as(
        "SELECT id, workspace_id, total_runs, p95_runtime_seconds FROM analytics.daily_metrics ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();

    // Again, from a session in another time zone: same rows, same numbers.
    let mut tx = db.as_service().await;
    sqlx::query("SET LOCAL TimeZone = 'Pacific/Auckland'")
        .execute(&mut *tx)
        .await
        .unwrap();
    let n: i32 = sqlx::query_scalar("SELECT analytics.aggregate_daily_metrics('2024-03-10')")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(n, 3);
    let after: Vec<(Uuid, Option<Uuid>, i32, Option<Decimal>)> = sqlx::query_as(
        "SELECT id, workspace_id, total_runs, p95_runtime_seconds FROM analytics.daily_metrics ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(before, after);

    // New data is picked up by the upsert, and bumps updated_at (the
    // trigger would override any backdating, so compare with a mark taken
    // before the call instead).
    let mark: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT clock_timestamp()")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    run(
        &db,
        f.a2,
        f.w1,
        None,
        "completed",
        "2024-03-10T20:00:00Z",
        Some("5"),
        "1",
        None,
        None,
    )
    .await;
    assert_eq!(aggregate(&db, "2024-03-10", Some(f.w1)).await, 1);
    let w1 = daily_row(&db, "2024-03-10", Some(f.w1)).await;
    assert_eq!(int(&w1, "total_runs"), 5);
    assert_eq!(num(&w1, "median_runtime_seconds"), Some(dec("3")));
    let rewritten: Vec<Option<Uuid>> = sqlx::query_scalar(
        "SELECT workspace_id FROM analytics.daily_metrics WHERE updated_at > $1",
    )
    .bind(mark)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(rewritten, vec![Some(f.w1)], "only the W1 row was rewritten");
    assert_eq!(
        pool_count(&db, "SELECT count(*) FROM analytics.daily_metrics").await,
        3
    );

    // The platform-wide row is unique per day too (NULLS NOT DISTINCT).
    let e = common::db_error(
        sqlx::query("INSERT INTO analytics.daily_metrics (metric_date) VALUES ('2024-03-10')")
            .execute(&db.pool)
            .await,
    );
    assert_eq!(e.code, common::UNIQUE_VIOLATION);
    assert_eq!(
        e.constraint.as_deref(),
        Some("daily_metrics_metric_date_workspace_id_key")
    );
}

#[tokio::test]
async fn calculate_percentiles_interpolates_like_percentile_cont() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let mut tx = db.as_user(alice).await;
    let got: Vec<Decimal> = sqlx::query_scalar(
        "SELECT analytics.calculate_percentiles(ARRAY[4, 1, NULL, 3, 2]::numeric[], ARRAY[0.5, 0.95, 0.99, 0, 1, 0.25]::numeric[])",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(
        got,
        vec![
            dec("2.5"),
            dec("3.85"),
            dec("3.97"),
            dec("1"),
            dec("4"),
            dec("1.75")
        ]
    );
    let single: Vec<Decimal> = sqlx::query_scalar(
        "SELECT analytics.calculate_percentiles(ARRAY[10.5]::numeric[], ARRAY[0.1, 0.9]::numeric[])",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(single, vec![dec("10.5"), dec("10.5")]);
    let empty: Option<Vec<Decimal>> = sqlx::query_scalar(
        "SELECT analytics.calculate_percentiles(ARRAY[]::numeric[], ARRAY[0.5]::numeric[])",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(empty, None);
    drop(tx);

    let mut tx = db.as_user(alice).await;
    let e = common::db_error(
        sqlx::query(
            "SELECT analytics.calculate_percentiles(ARRAY[1]::numeric[], ARRAY[1.5]::numeric[])",
        )
        .execute(&mut *tx)
        .await,
    );
    assert_eq!(e.code, "22003");
}

#[tokio::test]
async fn maintenance_functions_are_service_role_only() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let calls = [
        "SELECT analytics.refresh_all_materialized_views()",
        "SELECT analytics.aggregate_daily_metrics('2024-03-10')",
        "SELECT * FROM analytics.cleanup_old_data()",
        "SELECT analytics.evaluate_alert_rules()",
    ];
    for sql in calls {
        for mut tx in [db.as_user(alice).await, db.as_anon().await] {
            let e = common::db_error(sqlx::query(sql).execute(&mut *tx).await);
            assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "{sql}");
        }
        // The guard inside holds even for a role that may execute it.
        let mut tx = db
            .as_role(
                "postgres",
                serde_json::json!({ "sub": alice, "role": "authenticated" }),
            )
            .await;
        let e = common::db_error(sqlx::query(sql).execute(&mut *tx).await);
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "guard of {sql}");
        let mut tx = db.as_service().await;
        sqlx::query(sql)
            .execute(&mut *tx)
            .await
            .unwrap_or_else(|e| panic!("service role: {sql}: {e}"));
    }
}

async fn refresh(db: &TestDb) {
    let mut tx = db.as_service().await;
    sqlx::query("SELECT analytics.refresh_all_materialized_views()")
        .execute(&mut *tx)
        .await
        .expect("refresh");
    tx.commit().await.unwrap();
}

/// `k` UTC days ago at noon.
fn days_ago(k: i32) -> String {
    let d = chrono::Utc::now().date_naive() - chrono::Duration::days(k as i64);
    format!("{d}T12:00:00Z")
}

#[tokio::test]
async fn mv_active_users_counts_rolling_distinct_users() {
    let db = TestDb::new().await;
    let f = fixture(&db).await;
    for k in [0, 3, 10] {
        event(
            &db,
            f.alice,
            Some(f.w1),
            "page_view",
            None,
            None,
            &days_ago(k),
        )
        .await;
    }
    // alice twice the same day counts once.
    event(&db, f.alice, Some(f.w1), "login", None, None, &days_ago(0)).await;
    run(
        &db,
        f.a1,
        f.w1,
        Some(f.carol),
        "completed",
        &days_ago(1),
        Some("1"),
        "1",
        None,
        None,
    )
    .await;
    event(
        &db,
        f.carol,
        Some(f.w1),
        "page_view",
        None,
        None,
        &days_ago(20),
    )
    .await;
    event(
        &db,
        f.dave,
        Some(f.w1),
        "page_view",
        None,
        None,
        &days_ago(25),
    )
    .await;
    event(
        &db,
        f.dave,
        Some(f.w1),
        "page_view",
        None,
        None,
        &days_ago(100),
    )
    .await;
    event(
        &db,
        f.bob,
        Some(f.w2),
        "page_view",
        None,
        None,
        &days_ago(0),
    )
    .await;
    event(&db, f.bob, None, "login", None, None, &days_ago(0)).await;
    refresh(&db).await;

    let mut tx = db.as_service().await;
    let rows: Vec<(chrono::NaiveDate, Uuid, i64, i64, i64)> = sqlx::query_as(
        "SELECT activity_date, workspace_id, daily_active_users, weekly_active_users, monthly_active_users \
         FROM analytics.mv_active_users ORDER BY workspace_id = $1 DESC, activity_date DESC",
    )
    .bind(f.w1)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    drop(tx);
    let today = chrono::Utc::now().date_naive();
    let d = |k: i64| today - chrono::Duration::days(k);
    assert_eq!(
        rows,
        vec![
            (d(0), f.w1, 1, 2, 3),
            (d(1), f.w1, 1, 2, 3),
            (d(3), f.w1, 1, 1, 3),
            (d(10), f.w1, 1, 1, 3),
            (d(20), f.w1, 1, 2, 2),
            (d(25), f.w1, 1, 1, 1),
            (d(0), f.w2, 1, 1, 1),
        ]
    );

    // Members read their workspaces' rows through the view only.
    let mut tx = db.as_user(f.carol).await;
    assert_eq!(
        count(&mut tx, "SELECT count(*) FROM analytics.v_active_users").await,
        6
    );
    let mut tx = db.as_user(f.bob).await;
    assert_eq!(
        count(&mut tx, "SELECT count(*) FROM analytics.v_active_users").await,
        1
    );
    let mut tx = db.as_service().await;
    assert_eq!(
        count(&mut tx, "SELECT count(*) FROM analytics.v_active_users").await,
        7
    );
    for mv in ["mv_active_users", "mv_top_agents", "mv_workspace_summary"] {
        let mut tx = db.as_user(f.alice).await;
        let e = common::db_error(
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM analytics.{mv}")))
                .execute(&mut *tx)
                .await,
        );
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "{mv}");
    }
    for v in ["v_active_users", "v_top_agents", "v_workspace_summary"] {
        let mut tx = db.as_anon().await;
        let e = common::db_error(
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM analytics.{v}")))
                .execute(&mut *tx)
                .await,
        );
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "anon {v}");
    }
}

#[tokio::test]
async fn mv_top_agents_and_workspace_summary_have_true_totals() {
    let db = TestDb::new().await;
    let f = fixture(&db).await;
    let now = |h: i32| (chrono::Utc::now() - chrono::Duration::hours(h as i64)).to_rfc3339();
    run(
        &db,
        f.a1,
        f.w1,
        Some(f.alice),
        "completed",
        &now(1),
        Some("1"),
        "1.00",
        None,
        None,
    )
    .await;
    run(
        &db,
        f.a1,
        f.w1,
        Some(f.carol),
        "completed",
        &now(2),
        Some("3"),
        "2.00",
        None,
        None,
    )
    .await;
    run(
        &db,
        f.a1,
        f.w1,
        Some(f.alice),
        "failed",
        &now(3),
        Some("5"),
        "0.50",
        None,
        None,
    )
    .await;
    run(
        &db,
        f.a1,
        f.w1,
        Some(f.alice),
        "completed",
        &days_ago(40),
        Some("99"),
        "99",
        None,
        None,
    )
    .await;
    run(
        &db,
        f.b1,
        f.w2,
        Some(f.bob),
        "completed",
        &days_ago(40),
        Some("99"),
        "99",
        None,
        None,
    )
    .await;
    refresh(&db).await;

    type Top = (
        Uuid,
        String,
        i64,
        i64,
        Decimal,
        Option<Decimal>,
        Option<Decimal>,
        Decimal,
        i64,
        bool,
    );
    let mut tx = db.as_service().await;
    let top: Vec<Top> = sqlx::query_as(
        "SELECT agent_id, agent_name, total_runs_30d, successful_runs_30d, success_rate, avg_runtime, \
                median_runtime, total_credits_30d, unique_users_30d, last_run_at IS NOT NULL \
         FROM analytics.mv_top_agents ORDER BY agent_name",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    assert_eq!(
        top,
        vec![
            (
                f.a1,
                "A1".into(),
                3,
                2,
                dec("66.67"),
                Some(dec("3")),
                Some(dec("3")),
                dec("3.5"),
                2,
                true
            ),
            (
                f.a2,
                "A2".into(),
                0,
                0,
                dec("0"),
                None,
                None,
                dec("0"),
                0,
                false
            ),
            (
                f.b1,
                "B1".into(),
                0,
                0,
                dec("0"),
                None,
                None,
                dec("0"),
                0,
                false
            ),
        ]
    );

    type Sum = (Uuid, String, i64, i64, i64, Decimal, Option<Decimal>, i64);
    let sums: Vec<Sum> = sqlx::query_as(
        "SELECT workspace_id, workspace_name, total_members, total_agents, total_runs_30d, \
                total_credits_30d, avg_runtime_30d, active_users_30d \
         FROM analytics.mv_workspace_summary ORDER BY workspace_name",
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    drop(tx);
    // The seed's join of members x agents x runs would have given W1 10.50.
    assert_eq!(
        sums,
        vec![
            (f.w1, "W1".into(), 3, 2, 3, dec("3.5"), Some(dec("3")), 2),
            (f.w2, "W2".into(), 1, 1, 0, dec("0"), None, 0),
        ]
    );

    let mut tx = db.as_user(f.dave).await;
    let agents: Vec<Uuid> =
        sqlx::query_scalar("SELECT agent_id FROM analytics.v_top_agents ORDER BY agent_name")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    assert_eq!(agents, vec![f.a1, f.a2]);
    let wss: Vec<Uuid> =
        sqlx::query_scalar("SELECT workspace_id FROM analytics.v_workspace_summary")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    assert_eq!(wss, vec![f.w1]);
    drop(tx);
    let mut tx = db.as_user(f.bob).await;
    let wss: Vec<Uuid> =
        sqlx::query_scalar("SELECT workspace_id FROM analytics.v_workspace_summary")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    assert_eq!(wss, vec![f.w2]);
    assert_eq!(
        count(&mut tx, "SELECT count(*) FROM analytics.v_top_agents").await,
        1
    );
}

async fn metrics_row(db: &TestDb, date: &str, ws: Option<Uuid>, error_rate: &str, failed: i32) {
    sqlx::query(
        "INSERT INTO analytics.daily_metrics (metric_date, workspace_id, error_rate, failed_runs, total_runs) \
         VALUES (($1)::date, $2, ($3)::numeric, $4, 10)",
    )
    .bind(date)
    .bind(ws)
    .bind(error_rate)
    .bind(failed)
    .execute(&db.pool)
    .await
    .unwrap();
}

#[allow(clippy::too_many_arguments)]
async fn rule(
    db: &TestDb,
    ws: Uuid,
    name: &str,
    metric: &str,
    cond: &str,
    threshold: &str,
    window: i32,
    active: bool,
) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO analytics.alert_rules (workspace_id, name, metric_type, condition, threshold_value, evaluation_window_minutes, is_active) \
         VALUES ($1, $2, $3, $4, ($5)::numeric, $6, $7) RETURNING id",
    )
    .bind(ws)
    .bind(name)
    .bind(metric)
    .bind(cond)
    .bind(threshold)
    .bind(window)
    .bind(active)
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

async fn evaluate(db: &TestDb) -> i32 {
    let mut tx = db.as_service().await;
    let n: i32 = sqlx::query_scalar("SELECT analytics.evaluate_alert_rules()")
        .fetch_one(&mut *tx)
        .await
        .expect("evaluate_alert_rules");
    tx.commit().await.unwrap();
    n
}

#[tokio::test]
async fn evaluate_alert_rules_fires_matching_rules_once_per_window() {
    let db = TestDb::new().await;
    let f = fixture(&db).await;
    metrics_row(&db, "2024-03-09", Some(f.w1), "50", 5).await;
    metrics_row(&db, "2024-03-10", Some(f.w1), "25", 2).await;
    // Hourly: this hour 4 runs, last hour 3, three hours ago 100 (outside).
    exec(
        &db,
        &format!(
            "INSERT INTO analytics.hourly_metrics (metric_hour, workspace_id, total_runs) VALUES \
             (date_trunc('hour', now()), '{w}', 4), \
             (date_trunc('hour', now()) - interval '1 hour', '{w}', 3), \
             (date_trunc('hour', now()) - interval '3 hours', '{w}', 100)",
            w = f.w1
        ),
    )
    .await;
    let r1 = rule(
        &db,
        f.w1,
        "error rate high",
        "error_rate",
        "greater_than",
        "20",
        5,
        true,
    )
    .await;
    let r2 = rule(
        &db,
        f.w1,
        "error rate low",
        "error_rate",
        "less_than",
        "20",
        5,
        true,
    )
    .await;
    let r3 = rule(
        &db,
        f.w1,
        "two failures",
        "failed_runs",
        "equals",
        "2",
        5,
        true,
    )
    .await;
    let r4 = rule(
        &db,
        f.w1,
        "inactive",
        "error_rate",
        "greater_than",
        "0",
        5,
        false,
    )
    .await;
    let r5 = rule(
        &db,
        f.w1,
        "busy hour",
        "hourly_total_runs",
        "greater_than",
        "5",
        60,
        true,
    )
    .await;
    let r6 = rule(
        &db,
        f.w2,
        "no data",
        "total_runs",
        "greater_than",
        "0",
        5,
        true,
    )
    .await;

    assert_eq!(evaluate(&db).await, 3);
    type Fired = (Uuid, Option<Uuid>, Option<Decimal>, Option<Decimal>, String);
    let mut fired: Vec<Fired> = sqlx::query_as(
        "SELECT alert_rule_id, workspace_id, metric_value, threshold_value, notification_status FROM analytics.alert_history",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    fired.sort();
    let mut want = vec![
        (
            r1,
            Some(f.w1),
            Some(dec("25")),
            Some(dec("20")),
            "pending".to_string(),
        ),
        (
            r3,
            Some(f.w1),
            Some(dec("2")),
            Some(dec("2")),
            "pending".to_string(),
        ),
        (
            r5,
            Some(f.w1),
            Some(dec("7")),
            Some(dec("5")),
            "pending".to_string(),
        ),
    ];
    want.sort();
    assert_eq!(fired, want);
    for (r, n, triggered) in [
        (r1, 1, true),
        (r2, 0, false),
        (r3, 1, true),
        (r4, 0, false),
        (r5, 1, true),
        (r6, 0, false),
    ] {
        let (count, last): (i32, bool) = sqlx::query_as(
            "SELECT trigger_count, last_triggered_at IS NOT NULL FROM analytics.alert_rules WHERE id = $1",
        )
        .bind(r)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!((count, last), (n, triggered));
    }

    // Within the window nothing fires again; once the window has passed the
    // rule fires again.
    assert_eq!(evaluate(&db).await, 0);
    sqlx::query("UPDATE analytics.alert_rules SET last_triggered_at = now() - interval '6 minutes' WHERE id = $1")
        .bind(r1)
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(evaluate(&db).await, 1);
    let count: i32 =
        sqlx::query_scalar("SELECT trigger_count FROM analytics.alert_rules WHERE id = $1")
            .bind(r1)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(count, 2);
}

#[tokio::test]
async fn cleanup_old_data_applies_retention() {
    let db = TestDb::new().await;
    let f = fixture(&db).await;
    exec(
        &db,
        &format!(
            "INSERT INTO analytics.user_activity (user_id, event_type, created_at) VALUES \
             ('{a}', 'login', now() - interval '91 days'), ('{a}', 'login', now() - interval '89 days'); \
             INSERT INTO analytics.hourly_metrics (metric_hour, workspace_id) VALUES \
             (now() - interval '31 days', '{w}'), (now() - interval '29 days', '{w}'); \
             INSERT INTO analytics.daily_metrics (metric_date, workspace_id) VALUES ('2000-01-01', '{w}')",
            a = f.alice,
            w = f.w1
        ),
    )
    .await;
    let mut tx = db.as_service().await;
    let (activity, hourly): (i64, i64) =
        sqlx::query_as("SELECT * FROM analytics.cleanup_old_data()")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((activity, hourly), (1, 1));
    assert_eq!(
        pool_count(&db, "SELECT count(*) FROM analytics.user_activity").await,
        1
    );
    assert_eq!(
        pool_count(&db, "SELECT count(*) FROM analytics.hourly_metrics").await,
        1
    );
    assert_eq!(
        pool_count(&db, "SELECT count(*) FROM analytics.daily_metrics").await,
        1
    );
}

#[tokio::test]
async fn updated_at_triggers_bump_on_update() {
    let db = TestDb::new().await;
    let f = fixture(&db).await;
    let old = "'2000-01-01T00:00:00Z'";
    exec(
        &db,
        &format!(
            "INSERT INTO analytics.daily_metrics (metric_date, workspace_id, created_at, updated_at) VALUES ('2024-01-01', '{w}', {old}, {old}); \
             INSERT INTO analytics.agent_performance (agent_id, workspace_id, metric_date, created_at, updated_at) VALUES ('{a}', '{w}', '2024-01-01', {old}, {old}); \
             INSERT INTO analytics.user_cohorts (cohort_period, cohort_date, workspace_id, initial_users, retention_data, created_at, updated_at) VALUES ('weekly', '2024-01-01', '{w}', 5, '{{}}', {old}, {old}); \
             INSERT INTO analytics.alert_rules (workspace_id, name, metric_type, condition, threshold_value, created_at, updated_at) VALUES ('{w}', 'r', 'total_runs', 'equals', 1, {old}, {old}); \
             INSERT INTO analytics.hourly_metrics (metric_hour, workspace_id) VALUES ('2024-01-01T00:00:00Z', '{w}')",
            w = f.w1,
            a = f.a1
        ),
    )
    .await;
    for (table, set) in [
        ("daily_metrics", "total_runs = 1"),
        ("agent_performance", "total_runs = 1"),
        ("user_cohorts", "initial_users = 6"),
        ("alert_rules", "threshold_value = 2"),
    ] {
        exec(&db, &format!("UPDATE analytics.{table} SET {set}")).await;
        let (created_old, updated_new): (bool, bool) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT created_at = {old}, updated_at > now() - interval '1 minute' FROM analytics.{table}"
        )))
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert!(created_old && updated_new, "{table}");
    }
}

/// One row per workspace (W1, W2) and a platform-wide one in each rollup table.
async fn rollup_rows(db: &TestDb, f: &Fx) {
    exec(
        db,
        &format!(
            "INSERT INTO analytics.daily_metrics (metric_date, workspace_id) VALUES ('2024-01-01', '{w1}'), ('2024-01-01', '{w2}'), ('2024-01-01', NULL); \
             INSERT INTO analytics.hourly_metrics (metric_hour, workspace_id) VALUES ('2024-01-01', '{w1}'), ('2024-01-01', '{w2}'), ('2024-01-01', NULL); \
             INSERT INTO analytics.agent_performance (agent_id, workspace_id, metric_date) VALUES ('{a1}', '{w1}', '2024-01-01'), ('{b1}', '{w2}', '2024-01-01'), ('{a2}', '{w1}', '2024-01-01'); \
             INSERT INTO analytics.user_cohorts (cohort_period, cohort_date, workspace_id, initial_users, retention_data) VALUES \
               ('daily', '2024-01-01', '{w1}', 3, '{{\"day_1\": 66}}'), ('daily', '2024-01-01', '{w2}', 1, '{{}}'), ('daily', '2024-01-01', NULL, 4, '{{}}')",
            w1 = f.w1,
            w2 = f.w2,
            a1 = f.a1,
            a2 = f.a2,
            b1 = f.b1
        ),
    )
    .await;
}

#[tokio::test]
async fn rollup_tables_are_readable_by_members_and_written_by_service_only() {
    let db = TestDb::new().await;
    let f = fixture(&db).await;
    rollup_rows(&db, &f).await;
    // (table, rows of W1, rows of W2, all rows)
    for (table, w1_rows, w2_rows, all) in [
        ("daily_metrics", 1, 1, 3),
        ("hourly_metrics", 1, 1, 3),
        ("agent_performance", 2, 1, 3),
        ("user_cohorts", 1, 1, 3),
    ] {
        let sql = format!("SELECT count(*) FROM analytics.{table}");
        for (user, want) in [(f.alice, w1_rows), (f.dave, w1_rows), (f.bob, w2_rows)] {
            let mut tx = db.as_user(user).await;
            assert_eq!(count(&mut tx, &sql).await, want, "{table}");
        }
        let mut tx = db.as_service().await;
        assert_eq!(count(&mut tx, &sql).await, all, "service {table}");
        drop(tx);

        let writes = [
            format!("INSERT INTO analytics.{table} DEFAULT VALUES"),
            format!("UPDATE analytics.{table} SET created_at = now()"),
            format!("DELETE FROM analytics.{table}"),
            sql.clone(),
        ];
        for (i, w) in writes.iter().enumerate() {
            // Members (even owners) cannot write rollups; anon cannot even read.
            let mut tx = if i < 3 {
                db.as_user(f.alice).await
            } else {
                db.as_anon().await
            };
            let e = common::db_error(
                sqlx::query(sqlx::AssertSqlSafe(w.clone()))
                    .execute(&mut *tx)
                    .await,
            );
            assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "{w}");
        }
    }
    // The service role writes them.
    let mut tx = db.as_service().await;
    let res = sqlx::query("UPDATE analytics.daily_metrics SET total_runs = 7")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(res.rows_affected(), 3);
}

#[tokio::test]
async fn user_activity_is_private_to_the_user_and_their_workspaces() {
    let db = TestDb::new().await;
    let f = fixture(&db).await;
    // Own events, in no workspace and in one's workspace.
    let mut tx = db.as_user(f.alice).await;
    sqlx::query(
        "INSERT INTO analytics.user_activity (user_id, workspace_id, event_type, ip_address, metadata) \
         VALUES ($1, NULL, 'login', '10.0.0.1', '{\"k\": 1}'), ($1, $2, 'page_view', NULL, '{}')",
    )
    .bind(f.alice)
    .bind(f.w1)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    event(
        &db,
        f.carol,
        Some(f.w1),
        "page_view",
        None,
        None,
        "2024-03-10T00:00:00Z",
    )
    .await;
    event(
        &db,
        f.carol,
        None,
        "login",
        None,
        None,
        "2024-03-10T00:00:00Z",
    )
    .await;
    event(
        &db,
        f.bob,
        Some(f.w2),
        "page_view",
        None,
        None,
        "2024-03-10T00:00:00Z",
    )
    .await;
    event(
        &db,
        f.bob,
        None,
        "login",
        None,
        None,
        "2024-03-10T00:00:00Z",
    )
    .await;

    // alice: her 2 + carol's W1 event; not carol's private login, not bob's.
    for (user, want) in [(f.alice, 3), (f.carol, 3), (f.dave, 2), (f.bob, 2)] {
        let mut tx = db.as_user(user).await;
        assert_eq!(
            count(&mut tx, "SELECT count(*) FROM analytics.user_activity").await,
            want
        );
    }
    let mut tx = db.as_service().await;
    assert_eq!(
        count(&mut tx, "SELECT count(*) FROM analytics.user_activity").await,
        6
    );
    drop(tx);
    let mut tx = db.as_anon().await;
    let e = common::db_error(
        sqlx::query("SELECT count(*) FROM analytics.user_activity")
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);

    // Refused: events in bob's name, events in bob's workspace, backdating.
    let refused: [(&str, Uuid, Option<Uuid>); 2] = [
        ("INSERT INTO analytics.user_activity (user_id, workspace_id, event_type) VALUES ($1, $2, 'login')", f.bob, None),
        ("INSERT INTO analytics.user_activity (user_id, workspace_id, event_type) VALUES ($1, $2, 'login')", f.alice, Some(f.w2)),
    ];
    for (sql, user, ws) in refused {
        let mut tx = db.as_user(f.alice).await;
        let e = common::db_error(sqlx::query(sql).bind(user).bind(ws).execute(&mut *tx).await);
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "{user} {ws:?}");
    }
    for sql in [
        "INSERT INTO analytics.user_activity (user_id, event_type, created_at) VALUES (auth.uid(), 'login', '2000-01-01')",
        "UPDATE analytics.user_activity SET event_name = 'x'",
        "DELETE FROM analytics.user_activity",
    ] {
        let mut tx = db.as_user(f.alice).await;
        let e = common::db_error(sqlx::query(sql).execute(&mut *tx).await);
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "{sql}");
    }
    assert_eq!(
        pool_count(&db, "SELECT count(*) FROM analytics.user_activity").await,
        6
    );
}

#[tokio::test]
async fn alert_rules_are_managed_by_contributors_of_the_workspace() {
    let db = TestDb::new().await;
    let f = fixture(&db).await;
    let insert = "INSERT INTO analytics.alert_rules (workspace_id, name, metric_type, condition, threshold_value, created_by) \
                  VALUES ($1, $2, 'error_rate', 'greater_than', 10, $3) RETURNING id";
    let mut tx = db.as_user(f.carol).await;
    let mine: Uuid = sqlx::query_scalar(insert)
        .bind(f.w1)
        .bind("carol's")
        .bind(f.carol)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let bobs = rule(
        &db,
        f.w2,
        "bob's",
        "total_runs",
        "greater_than",
        "1",
        5,
        true,
    )
    .await;

    // viewer dave; alice into W2; alice as bob.
    for (user, ws, creator) in [
        (f.dave, f.w1, f.dave),
        (f.alice, f.w2, f.alice),
        (f.alice, f.w1, f.bob),
    ] {
        let mut tx = db.as_user(user).await;
        let e = common::db_error(
            sqlx::query(insert)
                .bind(ws)
                .bind("x")
                .bind(creator)
                .fetch_one(&mut *tx)
                .await,
        );
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    }

    let mut tx = db.as_user(f.alice).await;
    let seen: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM analytics.alert_rules")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(seen, vec![mine]);
    // Another contributor of W1 edits it; bob's rule is out of reach.
    let res = sqlx::query("UPDATE analytics.alert_rules SET threshold_value = 15 WHERE id = $1")
        .bind(mine)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(res.rows_affected(), 1);
    for sql in [
        "UPDATE analytics.alert_rules SET threshold_value = 0 WHERE id = $1",
        "DELETE FROM analytics.alert_rules WHERE id = $1",
    ] {
        let res = sqlx::query(sql).bind(bobs).execute(&mut *tx).await.unwrap();
        assert_eq!(res.rows_affected(), 0, "{sql}");
    }
    tx.commit().await.unwrap();

    // The viewer can read but not change or delete.
    let mut tx = db.as_user(f.dave).await;
    assert_eq!(
        count(&mut tx, "SELECT count(*) FROM analytics.alert_rules").await,
        1
    );
    for sql in [
        "UPDATE analytics.alert_rules SET threshold_value = 0 WHERE id = $1",
        "DELETE FROM analytics.alert_rules WHERE id = $1",
    ] {
        let res = sqlx::query(sql).bind(mine).execute(&mut *tx).await.unwrap();
        assert_eq!(res.rows_affected(), 0, "{sql}");
    }
    drop(tx);

    // The system's counters and the ownership columns are not user-writable.
    for sql in [
        "UPDATE analytics.alert_rules SET trigger_count = 0 WHERE id = $1",
        "UPDATE analytics.alert_rules SET last_triggered_at = NULL WHERE id = $1",
        "UPDATE analytics.alert_rules SET workspace_id = NULL WHERE id = $1",
        "UPDATE analytics.alert_rules SET created_by = NULL WHERE id = $1",
    ] {
        let mut tx = db.as_user(f.carol).await;
        let e = common::db_error(sqlx::query(sql).bind(mine).execute(&mut *tx).await);
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "{sql}");
    }
    let mut tx = db.as_anon().await;
    let e = common::db_error(
        sqlx::query("SELECT count(*) FROM analytics.alert_rules")
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);

    let threshold: Decimal =
        sqlx::query_scalar("SELECT threshold_value FROM analytics.alert_rules WHERE id = $1")
            .bind(bobs)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(threshold, dec("1"));
    let mut tx = db.as_service().await;
    assert_eq!(
        count(&mut tx, "SELECT count(*) FROM analytics.alert_rules").await,
        2
    );
    drop(tx);

    // A contributor deletes a rule of their workspace.
    let mut tx = db.as_user(f.alice).await;
    let res = sqlx::query("DELETE FROM analytics.alert_rules WHERE id = $1")
        .bind(mine)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(res.rows_affected(), 1);
}

#[tokio::test]
async fn alert_history_is_acknowledged_by_members_as_themselves() {
    let db = TestDb::new().await;
    let f = fixture(&db).await;
    let r1 = rule(&db, f.w1, "r1", "error_rate", "greater_than", "1", 5, true).await;
    let r2 = rule(&db, f.w2, "r2", "error_rate", "greater_than", "1", 5, true).await;
    let mut tx = db.as_service().await;
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "INSERT INTO analytics.alert_history (alert_rule_id, workspace_id, metric_value, threshold_value) \
         VALUES ($1, $2, 5, 1), ($3, $4, 5, 1) RETURNING id",
    )
    .bind(r1)
    .bind(f.w1)
    .bind(r2)
    .bind(f.w2)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (h1, h2) = (ids[0], ids[1]);

    let ack = "UPDATE analytics.alert_history SET acknowledged_by = $2, acknowledged_at = now(), notes = 'on it' WHERE id = $1";
    let mut tx = db.as_user(f.dave).await;
    assert_eq!(
        count(&mut tx, "SELECT count(*) FROM analytics.alert_history").await,
        1
    );
    let res = sqlx::query(ack)
        .bind(h1)
        .bind(f.dave)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(res.rows_affected(), 1);
    // bob's alert is invisible to dave.
    let res = sqlx::query(ack)
        .bind(h2)
        .bind(f.dave)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(res.rows_affected(), 0);
    tx.commit().await.unwrap();

    // Acknowledging in someone else's name, or touching the alert itself.
    let mut tx = db.as_user(f.carol).await;
    let e = common::db_error(
        sqlx::query(ack)
            .bind(h1)
            .bind(f.alice)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    for sql in [
        "UPDATE analytics.alert_history SET metric_value = 0",
        "DELETE FROM analytics.alert_history",
        "INSERT INTO analytics.alert_history (alert_rule_id, workspace_id) SELECT id, workspace_id FROM analytics.alert_rules",
    ] {
        let mut tx = db.as_user(f.alice).await;
        let e = common::db_error(sqlx::query(sql).execute(&mut *tx).await);
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "{sql}");
    }
    let mut tx = db.as_anon().await;
    let e = common::db_error(
        sqlx::query("SELECT count(*) FROM analytics.alert_history")
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);

    let (by, notes): (Option<Uuid>, Option<String>) =
        sqlx::query_as("SELECT acknowledged_by, notes FROM analytics.alert_history WHERE id = $1")
            .bind(h1)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((by, notes.as_deref()), (Some(f.dave), Some("on it")));
    let by2: Option<Uuid> =
        sqlx::query_scalar("SELECT acknowledged_by FROM analytics.alert_history WHERE id = $1")
            .bind(h2)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(by2, None);

    // History stays in its rule's workspace.
    let e = common::db_error(
        sqlx::query(
            "INSERT INTO analytics.alert_history (alert_rule_id, workspace_id) VALUES ($1, $2)",
        )
        .bind(r1)
        .bind(f.w2)
        .execute(&db.pool)
        .await,
    );
    assert_eq!(e.code, common::FOREIGN_KEY_VIOLATION);
    assert_eq!(
        e.constraint.as_deref(),
        Some("alert_history_rule_workspace_fkey")
    );
}

#[tokio::test]
async fn bad_input_names_the_violated_constraint() {
    let db = TestDb::new().await;
    let f = fixture(&db).await;
    rollup_rows(&db, &f).await;
    let r = rule(&db, f.w1, "r", "total_runs", "equals", "1", 5, true).await;
    let (a, w1, w2, a1) = (f.alice, f.w1, f.w2, f.a1);
    let cases: Vec<(String, &str, &str)> = vec![
        (format!("INSERT INTO analytics.user_activity (user_id, event_type) VALUES ('{a}', 'bogus')"), common::CHECK_VIOLATION, "user_activity_event_type_check"),
        (format!("INSERT INTO analytics.user_activity (user_id, event_type) VALUES ('{}', 'login')", Uuid::new_v4()), common::FOREIGN_KEY_VIOLATION, "user_activity_user_id_fkey"),
        (format!("INSERT INTO analytics.alert_rules (workspace_id, name, metric_type, condition, threshold_value) VALUES ('{w1}', 'x', 'error_rate', 'gte', 1)"), common::CHECK_VIOLATION, "alert_rules_condition_check"),
        (format!("INSERT INTO analytics.alert_rules (workspace_id, name, metric_type, condition, threshold_value) VALUES ('{w1}', 'x', 'bogus', 'equals', 1)"), common::CHECK_VIOLATION, "alert_rules_metric_type_check"),
        (format!("INSERT INTO analytics.alert_rules (workspace_id, name, metric_type, condition, threshold_value, evaluation_window_minutes) VALUES ('{w1}', 'x', 'error_rate', 'equals', 1, 0)"), common::CHECK_VIOLATION, "alert_rules_evaluation_window_check"),
        (format!("INSERT INTO analytics.alert_rules (workspace_id, name, metric_type, condition, threshold_value) VALUES ('{w1}', ' ', 'error_rate', 'equals', 1)"), common::CHECK_VIOLATION, "alert_rules_name_check"),
        (format!("INSERT INTO analytics.alert_history (alert_rule_id, workspace_id, notification_status) VALUES ('{r}', '{w1}', 'lost')"), common::CHECK_VIOLATION, "alert_history_notification_status_check"),
        (format!("INSERT INTO analytics.alert_history (alert_rule_id) VALUES ('{}')", Uuid::new_v4()), common::FOREIGN_KEY_VIOLATION, "alert_history_alert_rule_id_fkey"),
        (format!("INSERT INTO analytics.user_cohorts (cohort_period, cohort_date, workspace_id, initial_users, retention_data) VALUES ('yearly', '2024-01-01', '{w1}', 1, '{{}}')"), common::CHECK_VIOLATION, "user_cohorts_cohort_period_check"),
        ("INSERT INTO analytics.user_cohorts (cohort_period, cohort_date, workspace_id, initial_users, retention_data) VALUES ('daily', '2024-01-01', NULL, 1, '{}')".to_string(), common::UNIQUE_VIOLATION, "user_cohorts_period_date_workspace_key"),
        (format!("INSERT INTO analytics.user_cohorts (cohort_period, cohort_date, workspace_id, initial_users, retention_data) VALUES ('daily', '2024-02-01', '{w1}', -1, '{{}}')"), common::CHECK_VIOLATION, "user_cohorts_initial_users_check"),
        (format!("INSERT INTO analytics.daily_metrics (metric_date, workspace_id, total_runs) VALUES ('2024-02-01', '{w1}', -1)"), common::CHECK_VIOLATION, "daily_metrics_counts_check"),
        (format!("INSERT INTO analytics.daily_metrics (metric_date, workspace_id, error_rate) VALUES ('2024-02-01', '{w1}', 101)"), common::CHECK_VIOLATION, "daily_metrics_rates_check"),
        (format!("INSERT INTO analytics.daily_metrics (metric_date, workspace_id) VALUES ('2024-01-01', '{w1}')"), common::UNIQUE_VIOLATION, "daily_metrics_metric_date_workspace_id_key"),
        ("INSERT INTO analytics.hourly_metrics (metric_hour, workspace_id) VALUES ('2024-01-01', NULL)".to_string(), common::UNIQUE_VIOLATION, "hourly_metrics_metric_hour_workspace_id_key"),
        (format!("INSERT INTO analytics.agent_performance (agent_id, workspace_id, metric_date) VALUES ('{a1}', '{w1}', '2024-01-01')"), common::UNIQUE_VIOLATION, "agent_performance_agent_id_metric_date_key"),
        (format!("INSERT INTO analytics.agent_performance (agent_id, workspace_id, metric_date) VALUES ('{a1}', '{w2}', '2024-02-01')"), common::FOREIGN_KEY_VIOLATION, "agent_performance_agent_id_fkey"),
        (format!("INSERT INTO analytics.agent_performance (agent_id, workspace_id, metric_date, avg_user_rating) VALUES ('{a1}', '{w1}', '2024-02-01', 6)"), common::CHECK_VIOLATION, "agent_performance_rating_check"),
    ];
    for (sql, code, constraint) in cases {
        let e = common::db_error(
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&db.pool)
                .await,
        );
        assert_eq!(e.code, code, "{sql}: {}", e.message);
        assert_eq!(e.constraint.as_deref(), Some(constraint), "{sql}");
    }
    for (sql, column) in [
        (format!("INSERT INTO analytics.user_activity (user_id) VALUES ('{a}')"), "event_type"),
        ("INSERT INTO analytics.daily_metrics (workspace_id) VALUES (NULL)".to_string(), "metric_date"),
        (format!("INSERT INTO analytics.alert_rules (workspace_id, name, condition, threshold_value) VALUES ('{w1}', 'x', 'equals', 1)"), "metric_type"),
    ] {
        let e = common::db_error(
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&db.pool)
                .await,
        );
        assert_eq!(e.code, common::NOT_NULL_VIOLATION, "{sql}");
        assert!(e.message.contains(column), "{sql}: {}", e.message);
    }
}

#[tokio::test]
async fn analytics_entities_match_their_relations() {
    let db = TestDb::new().await;
    let f = fixture(&db).await;
    rollup_rows(&db, &f).await;
    event(
        &db,
        f.alice,
        Some(f.w1),
        "login",
        None,
        Some(Uuid::new_v4()),
        &days_ago(0),
    )
    .await;
    exec(
        &db,
        &format!(
            "UPDATE analytics.user_activity SET ip_address = '192.168.0.1' WHERE user_id = '{}'",
            f.alice
        ),
    )
    .await;
    run(
        &db,
        f.a1,
        f.w1,
        Some(f.alice),
        "completed",
        &days_ago(1),
        Some("2"),
        "1",
        None,
        None,
    )
    .await;
    let r = rule(&db, f.w1, "r", "total_runs", "equals", "1", 5, true).await;
    exec(
        &db,
        &format!("INSERT INTO analytics.alert_history (alert_rule_id, workspace_id, metric_value) VALUES ('{r}', '{}', 1)", f.w1),
    )
    .await;
    refresh(&db).await;

    use entity::analytics as a;
    common::check_entity::<a::user_activity::Entity>(&db).await;
    common::check_entity::<a::daily_metrics::Entity>(&db).await;
    common::check_entity::<a::hourly_metrics::Entity>(&db).await;
    common::check_entity::<a::agent_performance::Entity>(&db).await;
    common::check_entity::<a::user_cohorts::Entity>(&db).await;
    common::check_entity::<a::alert_rules::Entity>(&db).await;
    common::check_entity::<a::alert_history::Entity>(&db).await;
    common::check_entity::<a::mv_active_users::Entity>(&db).await;
    common::check_entity::<a::mv_top_agents::Entity>(&db).await;
    common::check_entity::<a::mv_workspace_summary::Entity>(&db).await;
    // The superuser sees every row of the owner-rights views too.
    common::check_entity::<a::v_active_users::Entity>(&db).await;
    common::check_entity::<a::v_top_agents::Entity>(&db).await;
    common::check_entity::<a::v_workspace_summary::Entity>(&db).await;

    use sea_orm::{EntityTrait, ModelTrait};
    let orm = db.orm().await;
    let rule = a::alert_rules::Entity::find_by_id(r)
        .one(&orm)
        .await
        .unwrap()
        .unwrap();
    let history = rule
        .find_related(a::alert_history::Entity)
        .all(&orm)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    let ws = rule
        .find_related(entity::public::workspaces::Entity)
        .one(&orm)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ws.id, f.w1);
}
