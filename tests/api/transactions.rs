//! One operation, one transaction: every mutation of an operation commits
//! together or not at all, each failed mutation reports its own error (each
//! runs in a savepoint, so one failure does not poison the next), and a
//! mutation that succeeded but was rolled back with the rest says so
//! (`ROLLED_BACK`). The operations of a batch are independent.

use crate::common::app::spawn_app;
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn each_mutation_reports_its_own_error_and_nothing_is_committed() {
    let app = spawn_app().await;
    let user = app.db.create_user("tx@example.com").await;
    let created = app
        .as_user(
            user,
            r#"mutation { createLiftSession(input: { source: PROMPT, originalInput: "x" }) { session { id } } }"#,
            json!({}),
        )
        .await;
    let session = created.data()["createLiftSession"]["session"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let revision = app
        .as_user(
            user,
            "mutation($s: UUID!) { addLiftRevision(input: { sessionId: $s, source: INITIAL, irContent: {} }) { revision { id } } }",
            json!({ "s": session }),
        )
        .await;
    let revision = revision.data()["addLiftRevision"]["revision"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let hole = format!(
        r#"resolveLiftHole(input: {{ sessionId: "{session}", irRevisionId: "{revision}", holeId: "h1",
            holeType: TYPE, resolutionMethod: USER_SELECTION, resolvedValue: 1 }}) {{ holeResolution {{ id }} }}"#
    );
    app.as_user(user, &format!("mutation {{ {hole} }}"), json!({}))
        .await
        .data();

    // A database-level failure first (the hole is already resolved), then a
    // mutation that would succeed, then one on an unknown session.
    let document = format!(
        r#"mutation {{
          a: {hole}
          b: createLiftSession(input: {{ source: CODE, originalInput: "lost" }}) {{ session {{ id }} }}
          c: addLiftRevision(input: {{ sessionId: "{}", source: INITIAL, irContent: {{}} }}) {{ revision {{ id }} }}
        }}"#,
        Uuid::new_v4()
    );
    let response = app.as_user(user, &document, json!({})).await;
    assert_eq!(
        response.error_codes(),
        vec!["CONFLICT", "NOT_FOUND", "ROLLED_BACK"],
        "{}",
        response.body
    );
    // b ran, and says it was taken back: no id of a row that never was.
    assert!(response.body["data"].is_null(), "{}", response.body);
    assert_eq!(response.body["errors"][2]["path"], json!(["b"]));

    // ... and yet nothing of it stayed.
    let count = app
        .as_user(user, "{ liftSessions { totalCount } }", json!({}))
        .await;
    assert_eq!(count.data()["liftSessions"]["totalCount"], 1);
}

/// The transaction opens when a resolver first needs it: a document refused
/// before execution (by parsing, validation, operation selection, or as a
/// subscription over HTTP) sends no SQL at all, and neither does a query
/// that reads nothing from the database.
#[tokio::test]
async fn a_request_that_reads_nothing_opens_no_transaction() {
    let app = spawn_app().await;
    for (query, code) in [
        ("{ viewer { ", "GRAPHQL_PARSE_FAILED"),
        ("{ viewer { noSuchField } }", "GRAPHQL_VALIDATION_FAILED"),
        (
            "query A { viewer { role } } query B { viewer { id } }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            "subscription($s: UUID!) { chatMessages(sessionId: $s) { cursor } }",
            "GRAPHQL_VALIDATION_FAILED",
        ),
    ] {
        app.reset_statements();
        let response = app.as_anon(query, json!({ "s": Uuid::new_v4() })).await;
        assert_eq!(response.error_code(), code, "{query}: {}", response.body);
        assert!(
            response.body["data"].is_null(),
            "{query}: {}",
            response.body
        );
        assert_eq!(app.raw_statement_count(), 0, "{query}: SQL was sent");
    }
    app.reset_statements();
    let response = app.as_anon("{ viewer { role } }", json!({})).await;
    assert_eq!(response.data()["viewer"]["role"], "ANON");
    assert_eq!(app.raw_statement_count(), 0, "no transaction for no SQL");
}

const CREATE: &str = r#"mutation($input: String!) {
    createLiftSession(input: { source: PROMPT, originalInput: $input }) { session { id } } }"#;

async fn lift_session_count(app: &crate::common::app::TestApp, user: Uuid) -> i64 {
    app.as_user(user, "{ liftSessions { totalCount } }", json!({}))
        .await
        .data()["liftSessions"]["totalCount"]
        .as_i64()
        .unwrap()
}

/// `a` succeeds, `b` fails when it runs (no such session): nothing is kept
/// and no id of a row that never existed is handed out.
#[tokio::test]
async fn a_write_rolled_back_with_its_request_is_not_reported_done() {
    let app = spawn_app().await;
    let user = app.db.create_user("rb@example.com").await;
    let response = app
        .as_user(
            user,
            &format!(
                r#"mutation {{
                  a: createLiftSession(input: {{ source: PROMPT, originalInput: "ok" }}) {{ session {{ id }} }}
                  b: addLiftRevision(input: {{ sessionId: "{}", source: INITIAL, irContent: {{}} }}) {{ revision {{ id }} }}
                }}"#,
                Uuid::new_v4()
            ),
            json!({}),
        )
        .await;
    assert_eq!(
        response.error_codes(),
        vec!["NOT_FOUND", "ROLLED_BACK"],
        "{}",
        response.body
    );
    assert!(response.body["data"].is_null(), "{}", response.body);
    assert_eq!(response.body["errors"][1]["path"], json!(["a"]));
    assert_eq!(lift_session_count(&app, user).await, 0);

    // The issue's own case, a NUL byte in `b`, is refused before anything
    // runs: one error naming the field, nothing written.
    let response = app
        .as_user(
            user,
            r#"mutation {
              a: createLiftSession(input: { source: PROMPT, originalInput: "ok" }) { session { id } }
              b: createLiftSession(input: { source: PROMPT, originalInput: "a\u0000b" }) { session { id } }
            }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        response.error_codes(),
        vec!["BAD_USER_INPUT"],
        "{}",
        response.body
    );
    assert_eq!(
        response.body["errors"][0]["extensions"]["field"],
        "input.originalInput"
    );
    assert!(response.body["data"].is_null(), "{}", response.body);
    assert_eq!(lift_session_count(&app, user).await, 0);
}

/// Root query fields share the request's transaction without savepoints:
/// after one fails in the database, the others are `ROLLED_BACK` ("not
/// run"), never `INTERNAL`.
#[tokio::test]
async fn query_fields_after_a_database_error_are_not_run_not_internal() {
    let app = spawn_app().await;
    // jsonb cannot hold a NUL: PostgreSQL refuses the filter's value.
    let response = app
        .as_anon(
            "query($j: JSON) { a: publicPrompts(where: { variables: { contains: $j } }) { totalCount }
                 b: publicPrompts { totalCount } }",
            json!({ "j": { "k": "x\u{0}" } }),
        )
        .await;
    let codes = response.error_codes();
    assert!(
        !codes.contains(&"INTERNAL".to_string()),
        "{}",
        response.body
    );
    assert_eq!(codes[0], "BAD_USER_INPUT", "{}", response.body);
    assert!(
        codes.len() == 1 || codes[1] == "ROLLED_BACK",
        "{}",
        response.body
    );
}

/// Each operation of a batch runs in its own transaction: a failing item
/// takes back nothing of another, and each item's answer is the truth.
#[tokio::test]
async fn batch_items_commit_or_roll_back_each_on_its_own() {
    let app = spawn_app().await;
    let user = app.db.create_user("batch@example.com").await;
    let token = app.token(user);
    let batch = json!([
        { "query": CREATE, "variables": { "input": "kept" } },
        { "query": CREATE, "variables": { "input": "a\u{0}b" } },
        { "query": "{ liftSession(id: \"not-a-uuid\") { id } }" },
        { "query": CREATE, "variables": { "input": "kept too" } },
    ]);
    let response = app.post_raw(Some(&format!("Bearer {token}")), batch).await;
    let items = response.body.as_array().expect("a batch answer");
    assert_eq!(items.len(), 4, "{}", response.body);
    assert!(items[0]["errors"].is_null(), "{}", response.body);
    assert!(items[0]["data"]["createLiftSession"]["session"]["id"].is_string());
    assert_eq!(
        items[1]["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    assert!(items[1]["data"].is_null());
    assert_eq!(
        items[2]["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    assert!(items[3]["data"]["createLiftSession"]["session"]["id"].is_string());
    assert_eq!(lift_session_count(&app, user).await, 2);
}
