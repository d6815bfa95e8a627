//! One request, one transaction: every mutation of a request commits
//! together or not at all, and each failed mutation reports its own error
//! (each runs in a savepoint, so one failure does not poison the next).

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
        vec!["CONFLICT".to_string(), "NOT_FOUND".to_string()],
        "{}",
        response.body
    );
    assert!(
        response.body["data"]["b"]["session"]["id"].is_string(),
        "b ran"
    );

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
