//! Operation limits over HTTP: each trips with a clear, coded error before
//! any SQL runs, and the defaults let ordinary queries through.

use crate::common::app::{spawn_app, spawn_app_with, TestApp};
use gateway::graphql::limits::Limits;
use serde_json::{json, Value};

fn tight() -> Limits {
    Limits {
        max_depth: 3,
        max_complexity: 1000,
        max_aliases: 2,
        max_root_fields: 2,
        max_batch: 2,
        max_body_bytes: 4096,
        max_page_size: 10,
        introspection: false,
        ..Limits::default()
    }
}

/// Posts `query` and asserts a LIMIT_EXCEEDED error for `limit` with no SQL.
async fn assert_limit(app: &TestApp, query: &str, limit: &str) -> Value {
    app.reset_statements();
    let response = app.as_anon(query, json!({})).await;
    let errors = response.body["errors"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        errors
            .iter()
            .any(|e| e["extensions"]["code"] == "LIMIT_EXCEEDED"
                && e["extensions"]["limit"] == limit),
        "expected LIMIT_EXCEEDED/{limit}: {}",
        response.body
    );
    assert_eq!(
        app.raw_statement_count(),
        0,
        "{limit}: SQL ran before the limit"
    );
    response.body
}

#[tokio::test]
async fn depth_trips_one_level_past_the_maximum() {
    let app = spawn_app_with(Limits {
        max_depth: 2,
        ..tight()
    })
    .await;
    let ok = app.as_anon("{ viewer { id } }", json!({})).await;
    assert!(ok.body.get("errors").is_none(), "{}", ok.body);
    assert_limit(&app, "{ viewer { user { id } } }", "depth").await;
}

#[tokio::test]
async fn aliases_and_root_fields_trip_before_any_sql() {
    let app = spawn_app_with(tight()).await;
    let ok = app
        .as_anon("{ a: viewer { id } b: viewer { role } }", json!({}))
        .await;
    assert!(ok.body.get("errors").is_none(), "{}", ok.body);
    assert_limit(&app, "{ viewer { a: id b: role c: id } }", "aliases").await;
    assert_limit(
        &app,
        "{ __typename viewer { id } x: __typename }",
        "root_fields",
    )
    .await;
}

#[tokio::test]
async fn batches_are_bounded() {
    let app = spawn_app_with(tight()).await;
    let one = json!({ "query": "{ viewer { role } }" });
    let ok = app.post_raw(None, json!([one, one])).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body.as_array().map(Vec::len), Some(2));
    app.reset_statements();
    let too_many = app.post_raw(None, json!([one, one, one])).await;
    assert_eq!(too_many.status, 400, "{}", too_many.body);
    assert_eq!(
        too_many.body["errors"][0]["extensions"]["code"],
        "LIMIT_EXCEEDED"
    );
    assert_eq!(too_many.body["errors"][0]["extensions"]["limit"], "batch");
    assert_eq!(app.raw_statement_count(), 0);
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = spawn_app_with(tight()).await;
    let padding = "x".repeat(8192);
    let response = app
        .post_raw(
            None,
            json!({ "query": format!("{{ viewer {{ role }} }} # {padding}") }),
        )
        .await;
    assert_eq!(response.status, 413);
    assert_eq!(
        response.body["errors"][0]["extensions"]["code"],
        "LIMIT_EXCEEDED"
    );
    assert_eq!(
        response.body["errors"][0]["extensions"]["limit"],
        "body_size"
    );
}

#[tokio::test]
async fn introspection_can_be_switched_off() {
    let app = spawn_app_with(tight()).await;
    let response = app
        .as_anon("{ __schema { queryType { name } } }", json!({}))
        .await;
    assert!(response.body.get("errors").is_some(), "{}", response.body);
    assert!(!response.error_code().is_empty());

    let open = spawn_app().await;
    let response = open
        .as_anon("{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(
        response.data()["__schema"]["queryType"]["name"],
        "QueryRoot"
    );
}

#[tokio::test]
async fn malformed_documents_get_codes() {
    let app = spawn_app().await;
    let parse = app.as_anon("{ viewer { ", json!({})).await;
    assert_eq!(parse.error_code(), "GRAPHQL_PARSE_FAILED");
    let invalid = app.as_anon("{ viewer { noSuchField } }", json!({})).await;
    assert_eq!(invalid.error_code(), "GRAPHQL_VALIDATION_FAILED");
}

#[tokio::test]
async fn default_limits_let_graphiql_introspection_through() {
    let app = spawn_app().await;
    let introspection = include_str!("introspection.graphql");
    let response = app.as_anon(introspection, json!({})).await;
    assert!(response.body.get("errors").is_none(), "{}", response.body);
    assert!(
        response.data()["__schema"]["types"]
            .as_array()
            .unwrap()
            .len()
            > 20
    );
}
