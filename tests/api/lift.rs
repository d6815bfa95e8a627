//! API tests of the lift domain: the real gateway over HTTP on a fresh
//! database per test. Fixtures that need fixed timestamps go in through the
//! superuser pool; everything else through the API.

use crate::common::app::{spawn_app, GqlResponse, TestApp};
use crate::common::sqlx;
use serde_json::{json, Value};
use std::collections::HashSet;
use uuid::Uuid;

const SESSION_FIELDS: &str = "id userId status source originalInput currentIr currentCode \
     revisionCount draftCount holeCount metadata createdAt updatedAt finalizedAt";

/// Runs `query` as `user` and returns `data`, asserting there were no errors.
async fn ok(app: &TestApp, user: Uuid, query: &str, vars: Value) -> Value {
    let resp = app.as_user(user, query, vars).await;
    resp.data().clone()
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

async fn create_session(app: &TestApp, user: Uuid, input: &str) -> Uuid {
    let data = ok(
        app,
        user,
        "mutation($input: CreateLiftSessionInput!) { createLiftSession(input: $input) { session { id } } }",
        json!({ "input": { "source": "PROMPT", "originalInput": input } }),
    )
    .await;
    data["createLiftSession"]["session"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn add_revision(app: &TestApp, user: Uuid, session: Uuid) -> (Uuid, i64) {
    let data = ok(
        app,
        user,
        "mutation($input: AddLiftRevisionInput!) { addLiftRevision(input: $input) { revision { id revisionNumber } } }",
        json!({ "input": { "sessionId": session, "source": "REFINEMENT", "irContent": { "v": 1 }, "changedFields": ["name"] } }),
    )
    .await;
    let r = &data["addLiftRevision"]["revision"];
    (
        r["id"].as_str().unwrap().parse().unwrap(),
        r["revisionNumber"].as_i64().unwrap(),
    )
}

async fn add_draft(app: &TestApp, user: Uuid, input: Value) -> GqlResponse {
    app.as_user(
        user,
        "mutation($input: AddLiftDraftInput!) { addLiftDraft(input: $input) { draft { id draftNumber irRevisionId sessionId } } }",
        json!({ "input": input }),
    )
    .await
}

fn draft_input(session: Uuid) -> Value {
    json!({
        "sessionId": session,
        "source": "INITIAL_GENERATION",
        "codeContent": "print('hi')",
        "syntaxValid": true,
        "astValid": false
    })
}

/// A session inserted as the superuser, with a fixed creation time.
#[allow(clippy::too_many_arguments)]
async fn insert_session(
    app: &TestApp,
    user: Uuid,
    status: &str,
    source: &str,
    input: &str,
    metadata: Value,
    current_ir: Option<Value>,
    created_at: &str,
) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO lift.sessions (user_id, status, source, original_input, metadata, current_ir, created_at)
         VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::timestamptz) RETURNING id",
    )
    .bind(user)
    .bind(status)
    .bind(source)
    .bind(input)
    .bind(metadata.to_string())
    .bind(current_ir.map(|v| v.to_string()))
    .bind(created_at)
    .fetch_one(&app.db.pool)
    .await
    .expect("insert session")
}

/// A draft inserted as the superuser (numbered by the trigger).
#[allow(clippy::too_many_arguments)]
async fn insert_draft(
    app: &TestApp,
    session: Uuid,
    revision: Option<Uuid>,
    language: &str,
    syntax_valid: bool,
    ast_valid: bool,
    generation_ms: Option<i32>,
    tokens: Option<i32>,
    cost: Option<&str>,
    created_at: &str,
) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO lift.session_drafts (session_id, ir_revision_id, source, code_content, language,
             syntax_valid, ast_valid, generation_time_ms, llm_tokens_used, llm_cost_usd, created_at)
         VALUES ($1, $2, 'initial_generation', 'x = 1', $3, $4, $5, $6, $7, $8::numeric, $9::timestamptz)
         RETURNING id",
    )
    .bind(session)
    .bind(revision)
    .bind(language)
    .bind(syntax_valid)
    .bind(ast_valid)
    .bind(generation_ms)
    .bind(tokens)
    .bind(cost)
    .bind(created_at)
    .fetch_one(&app.db.pool)
    .await
    .expect("insert draft")
}

async fn insert_revision(app: &TestApp, session: Uuid, created_at: &str) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO lift.session_revisions (session_id, source, ir_content, created_at)
         VALUES ($1, 'refinement', '{\"k\": 1}'::jsonb, $2::timestamptz) RETURNING id",
    )
    .bind(session)
    .bind(created_at)
    .fetch_one(&app.db.pool)
    .await
    .expect("insert revision")
}

fn ids(nodes: &Value) -> Vec<String> {
    nodes
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn session_lifecycle() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    let data = ok(
        &app,
        user,
        &format!(
            "mutation($input: CreateLiftSessionInput!) {{ createLiftSession(input: $input) {{ session {{ {SESSION_FIELDS} }} }} }}"
        ),
        json!({ "input": { "source": "CODE", "originalInput": "def f(): pass", "metadata": { "tag": "t1" } } }),
    )
    .await;
    let s = &data["createLiftSession"]["session"];
    assert_eq!(s["userId"], user.to_string());
    assert_eq!(s["status"], "ACTIVE");
    assert_eq!(s["source"], "CODE");
    assert_eq!(s["originalInput"], "def f(): pass");
    assert_eq!(s["metadata"], json!({ "tag": "t1" }));
    assert_eq!(s["revisionCount"], 0);
    assert!(s["finalizedAt"].is_null());
    let id = s["id"].as_str().unwrap().to_string();

    let data = ok(
        &app,
        user,
        "mutation($input: UpdateLiftSessionInput!) { updateLiftSession(input: $input) { session { status currentIr currentCode metadata finalizedAt } } }",
        json!({ "input": { "id": id, "status": "PAUSED", "currentIr": { "fn": "f" }, "currentCode": "def f(): return 1", "metadata": { "tag": "t2" } } }),
    )
    .await;
    let s = &data["updateLiftSession"]["session"];
    assert_eq!(s["status"], "PAUSED");
    assert_eq!(s["currentIr"], json!({ "fn": "f" }));
    assert_eq!(s["currentCode"], "def f(): return 1");
    assert_eq!(s["metadata"], json!({ "tag": "t2" }));

    let data = ok(
        &app,
        user,
        "mutation($id: UUID!) { finalizeLiftSession(input: { id: $id }) { session { status finalizedAt } } }",
        json!({ "id": id }),
    )
    .await;
    let s = &data["finalizeLiftSession"]["session"];
    assert_eq!(s["status"], "FINALIZED");
    let finalized_at = s["finalizedAt"]
        .as_str()
        .expect("finalizedAt set")
        .to_string();
    // Finalizing again keeps the first timestamp.
    let data = ok(
        &app,
        user,
        "mutation($id: UUID!) { finalizeLiftSession(input: { id: $id }) { session { finalizedAt } } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(
        data["finalizeLiftSession"]["session"]["finalizedAt"],
        finalized_at
    );

    let data = ok(
        &app,
        user,
        "query($id: UUID!) { liftSession(id: $id) { id status } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(data["liftSession"]["id"], id);

    let data = ok(
        &app,
        user,
        "mutation($id: UUID!) { deleteLiftSession(input: { id: $id }) { deletedId } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(data["deleteLiftSession"]["deletedId"], id);
    let data = ok(
        &app,
        user,
        "query($id: UUID!) { liftSession(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await;
    assert!(data["liftSession"].is_null());
    let resp = app
        .as_user(
            user,
            "mutation($id: UUID!) { deleteLiftSession(input: { id: $id }) { deletedId } }",
            json!({ "id": id }),
        )
        .await;
    assert_error(&resp, "NOT_FOUND", None);
}

#[tokio::test]
async fn revisions_drafts_and_holes_are_recorded_and_numbered() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    let session = create_session(&app, user, "a parser").await;
    let (rev1, n1) = add_revision(&app, user, session).await;
    let (_rev2, n2) = add_revision(&app, user, session).await;
    assert_eq!((n1, n2), (1, 2));

    let mut input = draft_input(session);
    input["irRevisionId"] = json!(rev1);
    input["language"] = json!("rust");
    input["generationTimeMs"] = json!(120);
    input["llmCostUsd"] = json!("0.001500");
    input["validationErrors"] = json!([{ "line": 1 }]);
    let resp = app
        .as_user(
            user,
            "mutation($input: AddLiftDraftInput!) { addLiftDraft(input: $input) { draft { draftNumber irRevisionId language syntaxValid astValid generationTimeMs llmCostUsd validationErrors source } } }",
            json!({ "input": input }),
        )
        .await;
    let d = &resp.data()["addLiftDraft"]["draft"];
    assert_eq!(d["draftNumber"], 1);
    assert_eq!(d["irRevisionId"], rev1.to_string());
    assert_eq!(d["language"], "rust");
    assert_eq!(d["generationTimeMs"], 120);
    assert_eq!(d["llmCostUsd"], "0.001500");
    assert_eq!(d["validationErrors"], json!([{ "line": 1 }]));
    assert_eq!(d["source"], "INITIAL_GENERATION");
    let resp = add_draft(&app, user, draft_input(session)).await;
    assert_eq!(resp.data()["addLiftDraft"]["draft"]["draftNumber"], 2);

    let data = ok(
        &app,
        user,
        "mutation($input: ResolveLiftHoleInput!) { resolveLiftHole(input: $input) { holeResolution { holeId holeType resolutionMethod resolvedValue confidenceScore irRevisionId suggestionsProvided } } }",
        json!({ "input": { "sessionId": session, "irRevisionId": rev1, "holeId": "h1", "holeType": "RETURN_VALUE",
                            "resolutionMethod": "AI_SUGGESTION", "resolvedValue": "int", "confidenceScore": "0.85" } }),
    )
    .await;
    let h = &data["resolveLiftHole"]["holeResolution"];
    assert_eq!(h["holeType"], "RETURN_VALUE");
    assert_eq!(h["resolutionMethod"], "AI_SUGGESTION");
    assert_eq!(h["resolvedValue"], "int");
    assert_eq!(h["confidenceScore"], "0.85");
    assert_eq!(h["suggestionsProvided"], json!([]));

    let data = ok(
        &app,
        user,
        "query($id: UUID!) { liftSession(id: $id) { revisionCount draftCount holeCount } }",
        json!({ "id": session }),
    )
    .await;
    assert_eq!(
        data["liftSession"],
        json!({ "revisionCount": 2, "draftCount": 2, "holeCount": 1 })
    );
}

#[tokio::test]
async fn mutation_errors_have_codes_and_fields() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    let other = app.db.create_user("bob@example.com").await;
    let session = create_session(&app, user, "task").await;
    let foreign = create_session(&app, other, "other task").await;
    let (rev, _) = add_revision(&app, user, session).await;
    let (foreign_rev, _) = add_revision(&app, other, foreign).await;
    let create = "mutation($input: CreateLiftSessionInput!) { createLiftSession(input: $input) { session { id } } }";

    let resp = app
        .as_user(
            user,
            create,
            json!({ "input": { "source": "PROMPT", "originalInput": "   " } }),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("originalInput"));
    let resp = app
        .as_user(
            user,
            create,
            json!({ "input": { "source": "PROMPT", "originalInput": "x", "metadata": [1] } }),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("metadata"));
    // An unknown enum value is refused by schema validation, before any
    // resolver runs, as bad input naming the argument path.
    let resp = app
        .as_user(
            user,
            create,
            json!({ "input": { "source": "EMAIL", "originalInput": "x" } }),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("input.source"));
    let resp = app
        .as_user(
            user,
            "mutation { updateLiftSession(input: { id: \"00000000-0000-0000-0000-000000000000\", status: DONE }) { session { id } } }",
            json!({}),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("input.status"));

    for (field, value) in [
        ("generationTimeMs", json!(-1)),
        ("validationTimeMs", json!(-5)),
        ("llmTokensUsed", json!(-10)),
        ("llmCostUsd", json!("-0.5")),
        ("codeContent", json!("  ")),
        ("language", json!("")),
        ("validationErrors", json!({ "not": "an array" })),
    ] {
        let mut input = draft_input(session);
        input[field] = value;
        let resp = add_draft(&app, user, input).await;
        assert_error(&resp, "BAD_USER_INPUT", Some(field));
    }
    // A revision of another session (here: another user's) is refused by the
    // composite foreign key, named as the input field.
    let mut input = draft_input(session);
    input["irRevisionId"] = json!(foreign_rev);
    let resp = add_draft(&app, user, input).await;
    assert_error(&resp, "BAD_USER_INPUT", Some("irRevisionId"));

    let resolve = "mutation($input: ResolveLiftHoleInput!) { resolveLiftHole(input: $input) { holeResolution { id } } }";
    let hole = |hole_id: &str, score: &str| {
        json!({ "input": { "sessionId": session, "irRevisionId": rev, "holeId": hole_id, "holeType": "TYPE",
                           "resolutionMethod": "USER_SELECTION", "resolvedValue": { "t": "int" }, "confidenceScore": score } })
    };
    let resp = app.as_user(user, resolve, hole(" ", "0.5")).await;
    assert_error(&resp, "BAD_USER_INPUT", Some("holeId"));
    let resp = app.as_user(user, resolve, hole("h1", "1.5")).await;
    assert_error(&resp, "BAD_USER_INPUT", Some("confidenceScore"));
    app.as_user(user, resolve, hole("h1", "0.5")).await.data();
    let resp = app.as_user(user, resolve, hole("h1", "0.7")).await;
    assert_error(&resp, "CONFLICT", None);

    // Unknown and foreign sessions are both NOT_FOUND.
    for target in [Uuid::new_v4(), foreign] {
        let resp = add_draft(&app, user, draft_input(target)).await;
        assert_error(&resp, "NOT_FOUND", None);
        let resp = app
            .as_user(
                user,
                "mutation($input: AddLiftRevisionInput!) { addLiftRevision(input: $input) { revision { id } } }",
                json!({ "input": { "sessionId": target, "source": "INITIAL", "irContent": {} } }),
            )
            .await;
        assert_error(&resp, "NOT_FOUND", None);
        let resp = app
            .as_user(
                user,
                resolve,
                json!({ "input": { "sessionId": target, "holeId": "h", "holeType": "TYPE",
                                   "resolutionMethod": "DEFAULT", "resolvedValue": 1 } }),
            )
            .await;
        assert_error(&resp, "NOT_FOUND", None);
        for m in [
            "mutation($id: UUID!) { updateLiftSession(input: { id: $id, status: ERROR }) { session { id } } }",
            "mutation($id: UUID!) { updateLiftSession(input: { id: $id }) { session { id } } }",
            "mutation($id: UUID!) { finalizeLiftSession(input: { id: $id }) { session { id } } }",
            "mutation($id: UUID!) { deleteLiftSession(input: { id: $id }) { deletedId } }",
        ] {
            let resp = app.as_user(user, m, json!({ "id": target })).await;
            assert_error(&resp, "NOT_FOUND", None);
        }
    }

    // Anon may not write (nor read) anything in lift.
    for (m, vars) in [
        (
            create,
            json!({ "input": { "source": "PROMPT", "originalInput": "x" } }),
        ),
        (
            "mutation($id: UUID!) { finalizeLiftSession(input: { id: $id }) { session { id } } }",
            json!({ "id": session }),
        ),
        (
            "mutation($id: UUID!) { deleteLiftSession(input: { id: $id }) { deletedId } }",
            json!({ "id": session }),
        ),
        ("query { liftSessions { nodes { id } } }", json!({})),
        ("query { liftDraftAggregate { count } }", json!({})),
    ] {
        let resp = app.as_anon(m, vars).await;
        assert_error(&resp, "UNAUTHENTICATED", None);
    }
    let resp = add_draft(&app, user, draft_input(session)).await;
    assert_eq!(resp.data()["addLiftDraft"]["draft"]["draftNumber"], 1);
    let data = ok(
        &app,
        user,
        "query($id: UUID!) { liftSession(id: $id) { status draftCount holeCount } }",
        json!({ "id": session }),
    )
    .await;
    // Only the successful writes happened; the session is untouched otherwise.
    assert_eq!(
        data["liftSession"],
        json!({ "status": "ACTIVE", "draftCount": 1, "holeCount": 1 })
    );
}

#[tokio::test]
async fn filters_cover_every_operator_kind() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    let a = insert_session(
        &app,
        user,
        "active",
        "prompt",
        "Build a Parser",
        json!({ "team": "red", "n": 1 }),
        Some(json!({ "kind": "fn" })),
        "2024-03-01T10:00:00Z",
    )
    .await;
    let b = insert_session(
        &app,
        user,
        "paused",
        "code",
        "lint the code",
        json!({ "team": "blue" }),
        None,
        "2024-03-02T10:00:00Z",
    )
    .await;
    let c = insert_session(
        &app,
        user,
        "finalized",
        "prompt",
        "parse json",
        json!({ "team": "red" }),
        Some(json!({ "kind": "class" })),
        "2024-03-03T10:00:00Z",
    )
    .await;
    let d = insert_session(
        &app,
        user,
        "error",
        "code",
        "other",
        json!({}),
        None,
        "2024-03-04T10:00:00Z",
    )
    .await;
    let q = "query($w: LiftSessionWhere) { liftSessions(where: $w, orderBy: [{ field: CREATED_AT, direction: ASC }]) { totalCount nodes { id } } }";
    let run = |w: Value| {
        let app = &app;
        async move {
            let data = ok(app, user, q, json!({ "w": w })).await;
            let found = ids(&data["liftSessions"]["nodes"]);
            assert_eq!(
                data["liftSessions"]["totalCount"].as_u64().unwrap() as usize,
                found.len()
            );
            found
        }
    };
    let s = |ids: &[Uuid]| ids.iter().map(|i| i.to_string()).collect::<Vec<_>>();

    assert_eq!(run(json!({ "id": { "eq": b } })).await, s(&[b]));
    assert_eq!(run(json!({ "id": { "neq": b } })).await, s(&[a, c, d]));
    assert_eq!(
        run(json!({ "status": { "in": ["ACTIVE", "ERROR"] } })).await,
        s(&[a, d])
    );
    assert_eq!(
        run(json!({ "status": { "neq": "ACTIVE" } })).await,
        s(&[b, c, d])
    );
    assert_eq!(run(json!({ "source": { "eq": "CODE" } })).await, s(&[b, d]));
    assert_eq!(
        run(json!({ "createdAt": { "lt": "2024-03-02T10:00:00Z" } })).await,
        s(&[a])
    );
    assert_eq!(
        run(json!({ "createdAt": { "lte": "2024-03-02T10:00:00Z" } })).await,
        s(&[a, b])
    );
    assert_eq!(
        run(json!({ "createdAt": { "gt": "2024-03-03T10:00:00Z" } })).await,
        s(&[d])
    );
    assert_eq!(
        run(
            json!({ "createdAt": { "gte": "2024-03-02T10:00:00Z", "lt": "2024-03-04T00:00:00Z" } })
        )
        .await,
        s(&[b, c])
    );
    assert_eq!(
        run(json!({ "finalizedAt": { "isNull": false } })).await,
        s(&[c])
    );
    assert_eq!(
        run(json!({ "currentIr": { "isNull": true } })).await,
        s(&[b, d])
    );
    assert_eq!(
        run(json!({ "metadata": { "contains": { "team": "red" } } })).await,
        s(&[a, c])
    );
    assert_eq!(
        run(json!({ "currentIr": { "contains": { "kind": "fn" } } })).await,
        s(&[a])
    );
    assert_eq!(
        run(json!({ "originalInput": { "ilike": "%PARSE%" } })).await,
        s(&[a, c])
    );
    assert_eq!(
        run(json!({ "originalInput": { "like": "%Parse%" } })).await,
        s(&[a])
    );
    assert_eq!(
        run(json!({ "updatedAt": { "isNull": false } })).await.len(),
        4
    );
    assert_eq!(
        run(json!({ "and": [{ "source": { "eq": "PROMPT" } }, { "metadata": { "contains": { "team": "red" } } }], "status": { "eq": "FINALIZED" } })).await,
        s(&[c])
    );
    assert_eq!(
        run(json!({ "or": [{ "status": { "eq": "PAUSED" } }, { "id": { "eq": d } }] })).await,
        s(&[b, d])
    );
    assert_eq!(
        run(json!({ "not": { "or": [{ "status": { "eq": "PAUSED" } }, { "id": { "eq": d } }] } }))
            .await,
        s(&[a, c])
    );

    // Draft filters: int, boolean, decimal, text, uuid.
    insert_draft(
        &app,
        a,
        None,
        "python",
        true,
        true,
        Some(100),
        Some(10),
        Some("0.010000"),
        "2024-03-01T11:00:00Z",
    )
    .await;
    insert_draft(
        &app,
        a,
        None,
        "rust",
        true,
        false,
        Some(300),
        None,
        Some("0.030000"),
        "2024-03-01T12:00:00Z",
    )
    .await;
    insert_draft(
        &app,
        c,
        None,
        "python",
        false,
        false,
        None,
        Some(5),
        None,
        "2024-03-03T11:00:00Z",
    )
    .await;
    let dq = "query($w: LiftDraftWhere) { liftDrafts(where: $w) { totalCount nodes { sessionId draftNumber language } } }";
    let count = |w: Value| {
        let app = &app;
        async move {
            let data = ok(app, user, dq, json!({ "w": w })).await;
            data["liftDrafts"]["totalCount"].as_i64().unwrap()
        }
    };
    assert_eq!(count(json!({ "sessionId": { "eq": a } })).await, 2);
    assert_eq!(
        count(json!({ "syntaxValid": { "eq": true }, "astValid": { "eq": false } })).await,
        1
    );
    assert_eq!(
        count(json!({ "generationTimeMs": { "gte": 100, "lt": 300 } })).await,
        1
    );
    assert_eq!(
        count(json!({ "generationTimeMs": { "isNull": true } })).await,
        1
    );
    assert_eq!(count(json!({ "llmCostUsd": { "gt": "0.015" } })).await, 1);
    assert_eq!(
        count(json!({ "language": { "in": ["rust", "go"] } })).await,
        1
    );
    assert_eq!(count(json!({ "draftNumber": { "eq": 2 } })).await, 1);
    assert_eq!(
        count(json!({ "not": { "language": { "eq": "python" } } })).await,
        1
    );
}

/// Walks `liftSessions` forwards with `first` and backwards with `last`,
/// checking order, page flags and that every row shows up exactly once.
#[tokio::test]
async fn cursor_paging_walks_both_ways() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    let mut expected = Vec::new();
    for day in 1..=7 {
        let status = if day % 2 == 0 { "paused" } else { "active" };
        let id = insert_session(
            &app,
            user,
            status,
            "prompt",
            &format!("s{day}"),
            json!({}),
            None,
            &format!("2024-05-0{day}T00:00:00Z"),
        )
        .await;
        expected.push(id.to_string());
    }
    // Default order: newest first.
    expected.reverse();
    let q = "query($first: Int, $after: String, $last: Int, $before: String) {
        liftSessions(first: $first, after: $after, last: $last, before: $before) {
          totalCount edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let data = ok(&app, user, q, json!({ "first": 3, "after": after })).await;
        let conn = &data["liftSessions"];
        assert_eq!(conn["totalCount"], 7);
        let edges = conn["edges"].as_array().unwrap();
        seen.extend(
            edges
                .iter()
                .map(|e| e["node"]["id"].as_str().unwrap().to_string()),
        );
        assert_eq!(conn["pageInfo"]["hasPreviousPage"], pages > 0);
        pages += 1;
        if !conn["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        assert_eq!(edges.len(), 3);
        after = conn["pageInfo"]["endCursor"].as_str().map(str::to_string);
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, expected);

    let mut seen_back: Vec<String> = Vec::new();
    let mut before: Option<String> = None;
    pages = 0;
    loop {
        let data = ok(&app, user, q, json!({ "last": 3, "before": before })).await;
        let conn = &data["liftSessions"];
        let edges = conn["edges"].as_array().unwrap();
        let page: Vec<String> = edges
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_string())
            .collect();
        // Each backward page is still in forward order, preceding the last.
        seen_back.splice(0..0, page);
        assert_eq!(conn["pageInfo"]["hasNextPage"], pages > 0);
        pages += 1;
        if !conn["pageInfo"]["hasPreviousPage"].as_bool().unwrap() {
            break;
        }
        before = conn["pageInfo"]["startCursor"].as_str().map(str::to_string);
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen_back, expected);
    assert_eq!(seen_back.iter().collect::<HashSet<_>>().len(), 7);

    // A multi-key ordering: status ASC, then creation time DESC.
    let data = ok(
        &app,
        user,
        "{ liftSessions(orderBy: [{ field: STATUS }, { field: CREATED_AT, direction: DESC }]) { nodes { originalInput status } } }",
        json!({}),
    )
    .await;
    let inputs: Vec<&str> = data["liftSessions"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["originalInput"].as_str().unwrap())
        .collect();
    assert_eq!(inputs, ["s7", "s5", "s3", "s1", "s6", "s4", "s2"]);

    // Paging through that ordering with a cursor continues where it left off.
    let data = ok(
        &app,
        user,
        "{ liftSessions(first: 5, orderBy: [{ field: STATUS }, { field: CREATED_AT, direction: DESC }]) { pageInfo { endCursor } } }",
        json!({}),
    )
    .await;
    let cursor = data["liftSessions"]["pageInfo"]["endCursor"].clone();
    let data = ok(
        &app,
        user,
        "query($c: String) { liftSessions(after: $c, orderBy: [{ field: STATUS }, { field: CREATED_AT, direction: DESC }]) { nodes { originalInput } } }",
        json!({ "c": cursor }),
    )
    .await;
    assert_eq!(
        data["liftSessions"]["nodes"],
        json!([{ "originalInput": "s4" }, { "originalInput": "s2" }])
    );

    let resp = app
        .as_user(
            user,
            "{ liftSessions(after: \"garbage\") { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("after"));
}

#[tokio::test]
async fn nested_relations_resolve_both_ways() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    let s = insert_session(
        &app,
        user,
        "active",
        "prompt",
        "p",
        json!({}),
        None,
        "2024-06-01T00:00:00Z",
    )
    .await;
    let r1 = insert_revision(&app, s, "2024-06-01T01:00:00Z").await;
    let r2 = insert_revision(&app, s, "2024-06-01T02:00:00Z").await;
    let d1 = insert_draft(
        &app,
        s,
        Some(r1),
        "python",
        true,
        true,
        None,
        None,
        None,
        "2024-06-01T03:00:00Z",
    )
    .await;
    let d2 = insert_draft(
        &app,
        s,
        Some(r1),
        "python",
        true,
        true,
        None,
        None,
        None,
        "2024-06-01T04:00:00Z",
    )
    .await;
    let d3 = insert_draft(
        &app,
        s,
        Some(r2),
        "python",
        true,
        true,
        None,
        None,
        None,
        "2024-06-01T05:00:00Z",
    )
    .await;
    ok(
        &app,
        user,
        "mutation($input: ResolveLiftHoleInput!) { resolveLiftHole(input: $input) { holeResolution { id } } }",
        json!({ "input": { "sessionId": s, "irRevisionId": r2, "holeId": "h", "holeType": "ENTITY", "resolutionMethod": "INFERENCE", "resolvedValue": {} } }),
    )
    .await;

    let data = ok(
        &app,
        user,
        "query($id: UUID!) { liftSession(id: $id) {
            drafts(first: 2, orderBy: [{ field: DRAFT_NUMBER, direction: DESC }]) {
              totalCount pageInfo { hasNextPage } nodes { id draftNumber revision { id revisionNumber } session { id } } }
            revisions { totalCount nodes { id revisionNumber session { id } drafts { nodes { id } } } }
            holeResolutions { nodes { holeId revision { id } session { id } } }
        } }",
        json!({ "id": s }),
    )
    .await;
    let sess = &data["liftSession"];
    assert_eq!(sess["drafts"]["totalCount"], 3);
    assert_eq!(sess["drafts"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(
        ids(&sess["drafts"]["nodes"]),
        [d3.to_string(), d2.to_string()]
    );
    assert_eq!(sess["drafts"]["nodes"][0]["revision"]["id"], r2.to_string());
    assert_eq!(sess["drafts"]["nodes"][0]["revision"]["revisionNumber"], 2);
    assert_eq!(sess["drafts"]["nodes"][1]["revision"]["id"], r1.to_string());
    assert_eq!(sess["drafts"]["nodes"][0]["session"]["id"], s.to_string());
    assert_eq!(sess["revisions"]["totalCount"], 2);
    let revs = &sess["revisions"]["nodes"];
    assert_eq!(ids(revs), [r1.to_string(), r2.to_string()]);
    assert_eq!(
        ids(&revs[0]["drafts"]["nodes"]),
        [d1.to_string(), d2.to_string()]
    );
    assert_eq!(ids(&revs[1]["drafts"]["nodes"]), [d3.to_string()]);
    assert_eq!(revs[1]["session"]["id"], s.to_string());
    let hole = &sess["holeResolutions"]["nodes"][0];
    assert_eq!(hole["revision"]["id"], r2.to_string());
    assert_eq!(hole["session"]["id"], s.to_string());

    let resp = app
        .as_user(
            user,
            "query($id: UUID!) { liftSession(id: $id) { drafts(first: 1000) { nodes { id } } } }",
            json!({ "id": s }),
        )
        .await;
    assert!(
        !resp.error_codes().is_empty(),
        "an oversized nested page is refused"
    );
}

#[tokio::test]
async fn views_report_hand_checked_numbers() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    let s1 = insert_session(
        &app,
        user,
        "finalized",
        "prompt",
        "one",
        json!({}),
        None,
        "2024-07-01T00:00:00Z",
    )
    .await;
    let s2 = insert_session(
        &app,
        user,
        "active",
        "code",
        "two",
        json!({}),
        None,
        "2024-07-02T00:00:00Z",
    )
    .await;
    let r = insert_revision(&app, s1, "2024-07-01T00:10:00Z").await;
    insert_draft(
        &app,
        s1,
        Some(r),
        "python",
        true,
        true,
        Some(100),
        Some(50),
        Some("0.100000"),
        "2024-07-01T00:20:00Z",
    )
    .await;
    insert_draft(
        &app,
        s1,
        Some(r),
        "python",
        true,
        false,
        Some(200),
        Some(70),
        Some("0.050000"),
        "2024-07-01T00:30:00Z",
    )
    .await;
    insert_draft(
        &app,
        s1,
        None,
        "python",
        false,
        false,
        None,
        None,
        None,
        "2024-07-01T00:40:00Z",
    )
    .await;
    insert_draft(
        &app,
        s1,
        None,
        "python",
        true,
        true,
        Some(300),
        None,
        Some("0.025000"),
        "2024-07-01T00:50:00Z",
    )
    .await;

    // Every child insert bumps updated_at (counter triggers), so the times
    // are fixed last: created 2 h ago, finalized 1 h later, updated now.
    sqlx::query(
        "UPDATE lift.sessions SET created_at = now() - interval '2 hours', \
         finalized_at = now() - interval '1 hour' WHERE id = $1",
    )
    .bind(s1)
    .execute(&app.db.pool)
    .await
    .unwrap();
    let data = ok(
        &app,
        user,
        "query($id: UUID!) { liftSession(id: $id) {
            summary { sessionId latestRevisionNumber latestDraftNumber latestDraftValid totalGenerationTimeMs totalLlmCostUsd totalLlmTokensUsed sessionDurationSeconds timeToFinalizationSeconds }
            validationStats { totalDrafts syntaxValidCount astValidCount fullyValidCount syntaxValidPercent astValidPercent fullyValidPercent avgGenerationTimeMs avgValidationTimeMs totalLlmCostUsd }
            recentActivity(first: 2) { totalCount pageInfo { hasNextPage } nodes { eventType eventData } }
        } }",
        json!({ "id": s1 }),
    )
    .await;
    let summary = &data["liftSession"]["summary"];
    assert_eq!(summary["sessionId"], s1.to_string());
    assert_eq!(summary["latestRevisionNumber"], 1);
    assert_eq!(summary["latestDraftNumber"], 4);
    assert_eq!(summary["latestDraftValid"], true);
    assert_eq!(summary["totalGenerationTimeMs"], 600);
    assert_eq!(summary["totalLlmCostUsd"], "0.175000");
    assert_eq!(summary["totalLlmTokensUsed"], 120);
    assert_eq!(
        summary["sessionDurationSeconds"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap(),
        7200.0
    );
    assert_eq!(
        summary["timeToFinalizationSeconds"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap(),
        3600.0
    );
    let stats = &data["liftSession"]["validationStats"];
    assert_eq!(stats["totalDrafts"], 4);
    assert_eq!(stats["syntaxValidCount"], 3);
    assert_eq!(stats["astValidCount"], 2);
    assert_eq!(stats["fullyValidCount"], 2);
    assert_eq!(stats["syntaxValidPercent"], "75.00");
    assert_eq!(stats["astValidPercent"], "50.00");
    assert_eq!(stats["fullyValidPercent"], "50.00");
    assert_eq!(stats["avgGenerationTimeMs"], "200.00");
    assert!(stats["avgValidationTimeMs"].is_null());
    assert_eq!(stats["totalLlmCostUsd"], "0.175000");
    // 1 session + 1 revision + 4 drafts; newest first (the session was
    // moved to 2 hours ago, after its 2024 drafts).
    let activity = &data["liftSession"]["recentActivity"];
    assert_eq!(activity["totalCount"], 6);
    assert_eq!(activity["pageInfo"]["hasNextPage"], true);
    assert_eq!(activity["nodes"][0]["eventType"], "session_created");
    assert_eq!(activity["nodes"][1]["eventType"], "draft_created");
    assert_eq!(activity["nodes"][1]["eventData"]["draft_number"], 4);

    let data = ok(
        &app,
        user,
        "{ viewer { liftUserAnalytics { userId totalSessions finalizedSessions activeSessions errorSessions totalRevisions totalDrafts avgRevisionsPerSession avgDraftsPerSession totalLlmCostUsd totalLlmTokensUsed avgTimeToFinalizationSeconds }
                    liftRecentActivity(first: 3) { totalCount nodes { eventType sessionId } } } }",
        json!({}),
    )
    .await;
    let ua = &data["viewer"]["liftUserAnalytics"];
    assert_eq!(ua["userId"], user.to_string());
    assert_eq!(ua["totalSessions"], 2);
    assert_eq!(ua["finalizedSessions"], 1);
    assert_eq!(ua["activeSessions"], 1);
    assert_eq!(ua["errorSessions"], 0);
    assert_eq!(ua["totalRevisions"], 1);
    assert_eq!(ua["totalDrafts"], 4);
    assert_eq!(ua["avgRevisionsPerSession"], "0.50");
    assert_eq!(ua["avgDraftsPerSession"], "2.00");
    assert_eq!(ua["totalLlmCostUsd"], "0.175000");
    assert_eq!(ua["totalLlmTokensUsed"], 120);
    assert_eq!(ua["avgTimeToFinalizationSeconds"], "3600.00");
    let feed = &data["viewer"]["liftRecentActivity"];
    // 2 sessions + 1 revision + 4 drafts; the newest is session one's
    // creation, then session two's.
    assert_eq!(feed["totalCount"], 7);
    assert_eq!(feed["nodes"][0]["eventType"], "session_created");
    assert_eq!(feed["nodes"][0]["sessionId"], s1.to_string());
    assert_eq!(feed["nodes"][1]["eventType"], "session_created");
    assert_eq!(feed["nodes"][1]["sessionId"], s2.to_string());

    let resp = app
        .as_anon("{ viewer { liftUserAnalytics { totalSessions } liftRecentActivity { totalCount nodes { eventId } } } }", json!({}))
        .await;
    assert!(resp.data()["viewer"]["liftUserAnalytics"].is_null());
    assert_eq!(
        resp.data()["viewer"]["liftRecentActivity"]["nodes"],
        json!([])
    );
}

#[tokio::test]
async fn aggregates_group_and_sum() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    let other = app.db.create_user("bob@example.com").await;
    let s1 = insert_session(
        &app,
        user,
        "active",
        "prompt",
        "1",
        json!({}),
        None,
        "2024-08-01T09:00:00Z",
    )
    .await;
    let s2 = insert_session(
        &app,
        user,
        "active",
        "code",
        "2",
        json!({}),
        None,
        "2024-08-01T15:00:00Z",
    )
    .await;
    let _s3 = insert_session(
        &app,
        user,
        "finalized",
        "prompt",
        "3",
        json!({}),
        None,
        "2024-08-02T09:00:00Z",
    )
    .await;
    let o = insert_session(
        &app,
        other,
        "active",
        "prompt",
        "o",
        json!({}),
        None,
        "2024-08-01T09:00:00Z",
    )
    .await;
    insert_draft(
        &app,
        s1,
        None,
        "python",
        true,
        true,
        Some(100),
        Some(10),
        Some("0.100000"),
        "2024-08-01T10:00:00Z",
    )
    .await;
    insert_draft(
        &app,
        s1,
        None,
        "python",
        true,
        false,
        Some(300),
        Some(30),
        None,
        "2024-08-01T11:00:00Z",
    )
    .await;
    insert_draft(
        &app,
        s2,
        None,
        "rust",
        true,
        true,
        None,
        None,
        Some("0.200000"),
        "2024-08-02T10:00:00Z",
    )
    .await;
    insert_draft(
        &app,
        s2,
        None,
        "python",
        false,
        false,
        Some(50),
        None,
        None,
        "2024-08-02T11:00:00Z",
    )
    .await;
    // Another user's rows never count.
    insert_draft(
        &app,
        o,
        None,
        "python",
        true,
        true,
        Some(9999),
        Some(9999),
        Some("9.000000"),
        "2024-08-01T10:00:00Z",
    )
    .await;

    let data = ok(
        &app,
        user,
        "{ all: liftSessionAggregate { status source day count }
           byStatus: liftSessionAggregate(groupBy: [STATUS]) { status source count }
           byDaySource: liftSessionAggregate(groupBy: [DAY, SOURCE]) { day source count }
           prompts: liftSessionAggregate(where: { source: { eq: PROMPT } }, groupBy: [STATUS]) { status count } }",
        json!({}),
    )
    .await;
    assert_eq!(
        data["all"],
        json!([{ "status": null, "source": null, "day": null, "count": 3 }])
    );
    assert_eq!(
        data["byStatus"],
        json!([{ "status": "ACTIVE", "source": null, "count": 2 }, { "status": "FINALIZED", "source": null, "count": 1 }])
    );
    assert_eq!(
        data["byDaySource"],
        json!([
            { "day": "2024-08-01", "source": "CODE", "count": 1 },
            { "day": "2024-08-01", "source": "PROMPT", "count": 1 },
            { "day": "2024-08-02", "source": "PROMPT", "count": 1 }
        ])
    );
    assert_eq!(
        data["prompts"],
        json!([{ "status": "ACTIVE", "count": 1 }, { "status": "FINALIZED", "count": 1 }])
    );

    let data = ok(
        &app,
        user,
        "{ all: liftDraftAggregate { count totalGenerationTimeMs avgGenerationTimeMs totalLlmCostUsd totalLlmTokensUsed }
           byValidity: liftDraftAggregate(groupBy: [SYNTAX_VALID, AST_VALID]) { syntaxValid astValid language count }
           byLanguage: liftDraftAggregate(groupBy: [LANGUAGE]) { language count totalGenerationTimeMs avgGenerationTimeMs totalLlmCostUsd }
           byDay: liftDraftAggregate(groupBy: [DAY]) { day count totalLlmCostUsd totalLlmTokensUsed }
           bySession: liftDraftAggregate(groupBy: [SESSION], where: { syntaxValid: { eq: true } }) { sessionId count } }",
        json!({}),
    )
    .await;
    assert_eq!(
        data["all"],
        json!([{ "count": 4, "totalGenerationTimeMs": 450, "avgGenerationTimeMs": "150.00",
                 "totalLlmCostUsd": "0.300000", "totalLlmTokensUsed": 40 }])
    );
    assert_eq!(
        data["byValidity"],
        json!([
            { "syntaxValid": false, "astValid": false, "language": null, "count": 1 },
            { "syntaxValid": true, "astValid": false, "language": null, "count": 1 },
            { "syntaxValid": true, "astValid": true, "language": null, "count": 2 }
        ])
    );
    assert_eq!(
        data["byLanguage"],
        json!([
            { "language": "python", "count": 3, "totalGenerationTimeMs": 450, "avgGenerationTimeMs": "150.00", "totalLlmCostUsd": "0.100000" },
            { "language": "rust", "count": 1, "totalGenerationTimeMs": null, "avgGenerationTimeMs": null, "totalLlmCostUsd": "0.200000" }
        ])
    );
    assert_eq!(
        data["byDay"],
        json!([
            { "day": "2024-08-01", "count": 2, "totalLlmCostUsd": "0.100000", "totalLlmTokensUsed": 40 },
            { "day": "2024-08-02", "count": 2, "totalLlmCostUsd": "0.200000", "totalLlmTokensUsed": null }
        ])
    );
    let mut by_session: Vec<(String, i64)> = data["bySession"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["sessionId"].as_str().unwrap().to_string(),
                r["count"].as_i64().unwrap(),
            )
        })
        .collect();
    by_session.sort();
    let mut expected = vec![(s1.to_string(), 2), (s2.to_string(), 1)];
    expected.sort();
    assert_eq!(by_session, expected);

    // The other user sees only their own numbers.
    let data = ok(
        &app,
        other,
        "{ liftDraftAggregate { count totalLlmTokensUsed } liftSessionAggregate { count } }",
        json!({}),
    )
    .await;
    assert_eq!(
        data["liftDraftAggregate"],
        json!([{ "count": 1, "totalLlmTokensUsed": 9999 }])
    );
    assert_eq!(data["liftSessionAggregate"], json!([{ "count": 1 }]));
}

/// User B reaches nothing of user A's: not through any root field, nested
/// field, view or mutation.
#[tokio::test]
async fn other_users_data_is_invisible() {
    let app = spawn_app().await;
    let a = app.db.create_user("ada@example.com").await;
    let b = app.db.create_user("bob@example.com").await;
    let sa = create_session(&app, a, "secret").await;
    let (ra, _) = add_revision(&app, a, sa).await;
    let mut input = draft_input(sa);
    input["irRevisionId"] = json!(ra);
    let da = add_draft(&app, a, input).await.data()["addLiftDraft"]["draft"]["id"].clone();
    ok(
        &app,
        a,
        "mutation($input: ResolveLiftHoleInput!) { resolveLiftHole(input: $input) { holeResolution { id } } }",
        json!({ "input": { "sessionId": sa, "irRevisionId": ra, "holeId": "h", "holeType": "OTHER", "resolutionMethod": "DEFAULT", "resolvedValue": 1 } }),
    )
    .await;
    // B has a session of their own, so nested lists have something to show.
    let sb = create_session(&app, b, "mine").await;

    let data = ok(
        &app,
        b,
        "query($sa: UUID!) {
            liftSessions { totalCount nodes { id drafts { totalCount nodes { id } } revisions { totalCount }
                                              holeResolutions { totalCount } recentActivity { totalCount nodes { eventId } } } }
            liftSession(id: $sa) { id }
            liftRevisions { totalCount }
            liftDrafts { totalCount }
            liftHoleResolutions { totalCount }
            liftSessionAggregate { count }
            liftDraftAggregate { count }
            viewer { liftUserAnalytics { totalSessions totalDrafts } liftRecentActivity { totalCount nodes { sessionId } } }
        }",
        json!({ "sa": sa }),
    )
    .await;
    assert_eq!(data["liftSessions"]["totalCount"], 1);
    let mine = &data["liftSessions"]["nodes"][0];
    assert_eq!(mine["id"], sb.to_string());
    assert_eq!(mine["drafts"]["totalCount"], 0);
    assert_eq!(mine["revisions"]["totalCount"], 0);
    assert_eq!(mine["holeResolutions"]["totalCount"], 0);
    assert_eq!(mine["recentActivity"]["totalCount"], 1);
    assert_eq!(
        mine["recentActivity"]["nodes"][0]["eventId"],
        sb.to_string()
    );
    assert!(data["liftSession"].is_null());
    assert_eq!(data["liftRevisions"]["totalCount"], 0);
    assert_eq!(data["liftDrafts"]["totalCount"], 0);
    assert_eq!(data["liftHoleResolutions"]["totalCount"], 0);
    assert_eq!(data["liftSessionAggregate"], json!([{ "count": 1 }]));
    assert_eq!(data["liftDraftAggregate"], json!([{ "count": 0 }]));
    assert_eq!(data["viewer"]["liftUserAnalytics"]["totalSessions"], 1);
    assert_eq!(data["viewer"]["liftUserAnalytics"]["totalDrafts"], 0);
    assert_eq!(data["viewer"]["liftRecentActivity"]["totalCount"], 1);
    assert_eq!(
        data["viewer"]["liftRecentActivity"]["nodes"][0]["sessionId"],
        sb.to_string()
    );

    // Filtering by A's ids finds nothing either.
    let data = ok(
        &app,
        b,
        "query($sa: UUID!, $ra: UUID!, $da: UUID!) {
            liftDrafts(where: { or: [{ id: { eq: $da } }, { sessionId: { eq: $sa } }] }) { totalCount }
            liftRevisions(where: { id: { eq: $ra } }) { totalCount }
            liftHoleResolutions(where: { sessionId: { eq: $sa } }) { totalCount } }",
        json!({ "sa": sa, "ra": ra, "da": da }),
    )
    .await;
    assert_eq!(data["liftDrafts"]["totalCount"], 0);
    assert_eq!(data["liftRevisions"]["totalCount"], 0);
    assert_eq!(data["liftHoleResolutions"]["totalCount"], 0);

    // B's writes to A's session are NOT_FOUND.
    for (m, vars) in [
        ("mutation($id: UUID!) { updateLiftSession(input: { id: $id, status: ERROR, currentCode: \"pwned\" }) { session { id } } }", json!({ "id": sa })),
        ("mutation($id: UUID!) { finalizeLiftSession(input: { id: $id }) { session { id } } }", json!({ "id": sa })),
        ("mutation($id: UUID!) { deleteLiftSession(input: { id: $id }) { deletedId } }", json!({ "id": sa })),
        (
            "mutation($input: AddLiftRevisionInput!) { addLiftRevision(input: $input) { revision { id } } }",
            json!({ "input": { "sessionId": sa, "source": "USER_EDIT", "irContent": {} } }),
        ),
        (
            "mutation($input: AddLiftDraftInput!) { addLiftDraft(input: $input) { draft { id } } }",
            json!({ "input": draft_input(sa) }),
        ),
        (
            "mutation($input: ResolveLiftHoleInput!) { resolveLiftHole(input: $input) { holeResolution { id } } }",
            json!({ "input": { "sessionId": sa, "holeId": "h2", "holeType": "OTHER", "resolutionMethod": "DEFAULT", "resolvedValue": 1 } }),
        ),
    ] {
        let resp = app.as_user(b, m, vars).await;
        assert_error(&resp, "NOT_FOUND", None);
        assert!(resp.body["data"].is_null() || resp.body["data"].as_object().is_some_and(|d| d.values().all(Value::is_null)));
    }

    // A's data is intact.
    let data = ok(
        &app,
        a,
        "query($id: UUID!) { liftSession(id: $id) { status currentCode revisionCount draftCount holeCount } }",
        json!({ "id": sa }),
    )
    .await;
    assert_eq!(
        data["liftSession"],
        json!({ "status": "ACTIVE", "currentCode": null, "revisionCount": 1, "draftCount": 1, "holeCount": 1 })
    );
}

/// A three-level query costs one statement per level and relation, whatever
/// the number of sessions.
#[tokio::test]
async fn nested_query_costs_constant_statements() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    let query = "{ liftSessions(first: 20) { nodes { id
        drafts(first: 5) { nodes { id revision { id } } }
        revisions(first: 5) { nodes { id } } } } }";
    let seed = |n: usize, start: usize| {
        let app = &app;
        async move {
            for i in start..start + n {
                let s = insert_session(
                    app,
                    user,
                    "active",
                    "prompt",
                    &format!("s{i}"),
                    json!({}),
                    None,
                    "2024-09-01T00:00:00Z",
                )
                .await;
                let r = insert_revision(app, s, "2024-09-01T00:00:00Z").await;
                for _ in 0..3 {
                    insert_draft(
                        app,
                        s,
                        Some(r),
                        "python",
                        true,
                        true,
                        None,
                        None,
                        None,
                        "2024-09-01T00:00:00Z",
                    )
                    .await;
                }
                insert_revision(app, s, "2024-09-01T00:00:00Z").await;
            }
        }
    };
    seed(3, 0).await;
    app.reset_statements();
    let data = ok(&app, user, query, json!({})).await;
    let few = app.statements();
    assert_eq!(data["liftSessions"]["nodes"].as_array().unwrap().len(), 3);

    seed(9, 3).await;
    app.reset_statements();
    let data = ok(&app, user, query, json!({})).await;
    let many = app.statements();
    let nodes = data["liftSessions"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 12);
    for node in nodes {
        assert_eq!(node["drafts"]["nodes"].as_array().unwrap().len(), 3);
        assert_eq!(node["revisions"]["nodes"].as_array().unwrap().len(), 2);
        assert!(node["drafts"]["nodes"][0]["revision"]["id"].is_string());
    }
    // sessions, their drafts, their revisions, the drafts' revisions.
    assert_eq!(few.len(), 4, "{few:#?}");
    assert_eq!(many.len(), 4, "{many:#?}");
}

#[tokio::test]
async fn parallel_drafts_get_gap_free_numbers() {
    let app = std::sync::Arc::new(spawn_app().await);
    let user = app.db.create_user("ada@example.com").await;
    let session = create_session(&app, user, "race").await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let resp = add_draft(&app, user, draft_input(session)).await;
            resp.data()["addLiftDraft"]["draft"]["draftNumber"]
                .as_i64()
                .unwrap()
        }));
    }
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(task.await.expect("task"));
    }
    numbers.sort();
    assert_eq!(numbers, (1..=10).collect::<Vec<i64>>());
    let data = ok(
        &app,
        user,
        "query($id: UUID!) { liftSession(id: $id) { draftCount summary { latestDraftNumber } } }",
        json!({ "id": session }),
    )
    .await;
    assert_eq!(data["liftSession"]["draftCount"], 10);
    assert_eq!(data["liftSession"]["summary"]["latestDraftNumber"], 10);
}

#[tokio::test]
async fn a_failing_operation_rolls_back_the_whole_request() {
    let app = spawn_app().await;
    let user = app.db.create_user("ada@example.com").await;
    let session = create_session(&app, user, "keep").await;
    let resp = app
        .as_user(
            user,
            "mutation($s: UUID!, $missing: UUID!) {
                a: createLiftSession(input: { source: PROMPT, originalInput: \"new\" }) { session { id } }
                b: addLiftDraft(input: { sessionId: $s, source: USER_EDIT, codeContent: \"x\", syntaxValid: true, astValid: true }) { draft { id } }
                c: addLiftDraft(input: { sessionId: $missing, source: USER_EDIT, codeContent: \"x\", syntaxValid: true, astValid: true }) { draft { id } } }",
            json!({ "s": session, "missing": Uuid::new_v4() }),
        )
        .await;
    assert_error(&resp, "NOT_FOUND", None);
    let data = ok(
        &app,
        user,
        "{ liftSessions { totalCount nodes { draftCount } } liftDrafts { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(data["liftSessions"]["totalCount"], 1);
    assert_eq!(data["liftSessions"]["nodes"][0]["draftCount"], 0);
    assert_eq!(data["liftDrafts"]["totalCount"], 0);
}
