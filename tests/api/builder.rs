//! API tests of the builder domain: lists, filters, ordering, keyset paging
//! both ways, nested relations through the dataloaders (and their statement
//! count), analytics, aggregates, every mutation with its errors, isolation
//! between users and all-or-nothing requests.

use crate::common::app::{spawn_app, GqlResponse, TestApp};
use crate::common::sqlx;
use serde_json::{json, Value};
use std::collections::HashSet;
use uuid::Uuid;

// ---------------------------------------------------------------------------
// Fixtures (inserted as the superuser; the counter triggers still fire)
// ---------------------------------------------------------------------------

async fn insert_session(
    app: &TestApp,
    user: Uuid,
    description: Option<&str>,
    problem_type: Option<&str>,
    status: Option<&str>,
    created_at: &str,
) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO builder.sessions (user_id, description, problem_type, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5::timestamptz, $5::timestamptz) RETURNING id",
    )
    .bind(user)
    .bind(description)
    .bind(problem_type)
    .bind(status)
    .bind(created_at)
    .fetch_one(&app.db.pool)
    .await
    .expect("insert session")
}

async fn insert_prompt(app: &TestApp, user: Uuid, session: Uuid, text: &str, at: &str) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO builder.prompts (session_id, user_id, prompt_text, created_at)
         VALUES ($1, $2, $3, $4::timestamptz) RETURNING id",
    )
    .bind(session)
    .bind(user)
    .bind(text)
    .bind(at)
    .fetch_one(&app.db.pool)
    .await
    .expect("insert prompt")
}

async fn insert_response(app: &TestApp, user: Uuid, prompt: Uuid, text: &str, at: &str) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO builder.responses (prompt_id, user_id, response_text, created_at)
         VALUES ($1, $2, $3, $4::timestamptz) RETURNING id",
    )
    .bind(prompt)
    .bind(user)
    .bind(text)
    .bind(at)
    .fetch_one(&app.db.pool)
    .await
    .expect("insert response")
}

async fn insert_step(
    app: &TestApp,
    user: Uuid,
    session: Uuid,
    step_type: &str,
    data: Option<Value>,
    at: &str,
) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO builder.steps (session_id, user_id, step_type, step_data, created_at)
         VALUES ($1, $2, $3, $4, $5::timestamptz) RETURNING id",
    )
    .bind(session)
    .bind(user)
    .bind(step_type)
    .bind(data)
    .bind(at)
    .fetch_one(&app.db.pool)
    .await
    .expect("insert step")
}

/// `2024-01-01T00:00:00Z` plus `minutes`.
fn at(minutes: i64) -> String {
    let base = chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap();
    (base + chrono::Duration::minutes(minutes)).to_rfc3339()
}

/// Ids of `nodes` at `value` (a connection).
fn node_ids(connection: &Value) -> Vec<Uuid> {
    connection["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("not a connection: {connection}"))
        .iter()
        .map(|n| n["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

fn set(ids: &[Uuid]) -> HashSet<Uuid> {
    ids.iter().copied().collect()
}

#[track_caller]
fn assert_error(response: &GqlResponse, code: &str, field: Option<&str>) {
    assert_eq!(response.error_code(), code, "{}", response.body);
    if let Some(field) = field {
        assert_eq!(
            response.body["errors"][0]["extensions"]["field"], field,
            "{}",
            response.body
        );
    }
}

const SESSIONS: &str = r#"
query($first: Int, $after: String, $last: Int, $before: String,
      $where: BuilderSessionWhere, $orderBy: [BuilderSessionOrder!]) {
  builderSessions(first: $first, after: $after, last: $last, before: $before,
                  where: $where, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id } }
    nodes { id userId description problemType status createdAt updatedAt }
  }
}"#;

async fn sessions(app: &TestApp, user: Uuid, vars: Value) -> Value {
    let response = app.as_user(user, SESSIONS, vars).await;
    response.data()["builderSessions"].clone()
}

async fn session_ids_where(app: &TestApp, user: Uuid, filter: Value) -> HashSet<Uuid> {
    let connection = sessions(app, user, json!({ "first": 100, "where": filter })).await;
    set(&node_ids(&connection))
}

// ---------------------------------------------------------------------------
// Queries, filters, ordering, paging
// ---------------------------------------------------------------------------

#[tokio::test]
async fn session_filters_cover_every_operator_kind() {
    let app = spawn_app().await;
    let a = app.db.create_user("a@example.com").await;
    let s1 = insert_session(
        &app,
        a,
        Some("Churn model"),
        Some("classification"),
        Some("active"),
        &at(1),
    )
    .await;
    let s2 = insert_session(
        &app,
        a,
        Some("Sales FORECAST"),
        Some("regression"),
        Some("completed"),
        &at(2),
    )
    .await;
    let s3 = insert_session(
        &app,
        a,
        Some("churn again"),
        Some("classification"),
        Some("archived"),
        &at(3),
    )
    .await;
    let s4 = insert_session(&app, a, None, None, None, &at(4)).await;

    let ids = |list: &[Uuid]| set(list);
    assert_eq!(
        session_ids_where(&app, a, json!({ "id": { "eq": s2 } })).await,
        ids(&[s2])
    );
    assert_eq!(
        session_ids_where(&app, a, json!({ "id": { "in": [s1, s3] } })).await,
        ids(&[s1, s3])
    );
    assert_eq!(
        session_ids_where(&app, a, json!({ "status": { "eq": "active" } })).await,
        ids(&[s1])
    );
    // neq is SQL `<>`: the null status matches neither eq nor neq.
    assert_eq!(
        session_ids_where(&app, a, json!({ "status": { "neq": "active" } })).await,
        ids(&[s2, s3])
    );
    assert_eq!(
        session_ids_where(
            &app,
            a,
            json!({ "status": { "in": ["completed", "archived"] } })
        )
        .await,
        ids(&[s2, s3])
    );
    assert_eq!(
        session_ids_where(&app, a, json!({ "status": { "isNull": true } })).await,
        ids(&[s4])
    );
    assert_eq!(
        session_ids_where(&app, a, json!({ "problemType": { "isNull": false } })).await,
        ids(&[s1, s2, s3])
    );
    assert_eq!(
        session_ids_where(&app, a, json!({ "description": { "ilike": "%churn%" } })).await,
        ids(&[s1, s3])
    );
    assert_eq!(
        session_ids_where(&app, a, json!({ "description": { "like": "%churn%" } })).await,
        ids(&[s3])
    );
    assert_eq!(
        session_ids_where(
            &app,
            a,
            json!({ "problemType": { "gt": "classification" } })
        )
        .await,
        ids(&[s2])
    );
    assert_eq!(
        session_ids_where(
            &app,
            a,
            json!({ "createdAt": { "gte": at(2), "lt": at(4) } })
        )
        .await,
        ids(&[s2, s3])
    );
    assert_eq!(
        session_ids_where(&app, a, json!({ "createdAt": { "lte": at(1) } })).await,
        ids(&[s1])
    );
    assert_eq!(
        session_ids_where(&app, a, json!({ "updatedAt": { "gt": at(3) } })).await,
        ids(&[s4])
    );
    // and / or / not, nested.
    assert_eq!(
        session_ids_where(
            &app,
            a,
            json!({ "and": [
                { "problemType": { "eq": "classification" } },
                { "status": { "neq": "archived" } }
            ] })
        )
        .await,
        ids(&[s1])
    );
    assert_eq!(
        session_ids_where(
            &app,
            a,
            json!({ "or": [
                { "status": { "eq": "completed" } },
                { "status": { "isNull": true } }
            ] })
        )
        .await,
        ids(&[s2, s4])
    );
    assert_eq!(
        session_ids_where(
            &app,
            a,
            json!({ "not": { "problemType": { "eq": "classification" } } })
        )
        .await,
        ids(&[s2])
    );
    assert_eq!(
        session_ids_where(
            &app,
            a,
            json!({ "description": { "ilike": "%churn%" },
                    "not": { "or": [{ "status": { "eq": "active" } }] } })
        )
        .await,
        ids(&[s3])
    );

    // Nesting beyond the bound (one for every domain) is refused.
    let mut deep = json!({ "status": { "eq": "active" } });
    for _ in 0..10 {
        deep = json!({ "not": deep });
    }
    let response = app
        .as_user(a, SESSIONS, json!({ "first": 5, "where": deep }))
        .await;
    assert_error(&response, "LIMIT_EXCEEDED", None);
    assert_eq!(
        response.body["errors"][0]["extensions"]["limit"],
        "where_depth"
    );
}

#[tokio::test]
async fn sessions_order_and_page_both_ways_without_gaps() {
    let app = spawn_app().await;
    let a = app.db.create_user("a@example.com").await;
    // Ties on created_at are broken by id, so every ordering is total.
    let mut rows = Vec::new();
    for i in 0..7 {
        let minute = [1, 2, 2, 3, 3, 3, 4][i];
        let id = insert_session(
            &app,
            a,
            Some(&format!("s{i}")),
            None,
            Some("active"),
            &at(minute),
        )
        .await;
        rows.push((minute, id));
    }
    let mut asc = rows.clone();
    asc.sort();
    let asc: Vec<Uuid> = asc.into_iter().map(|(_, id)| id).collect();
    let desc: Vec<Uuid> = asc.iter().rev().copied().collect();

    // Default: newest first.
    let all = sessions(&app, a, json!({ "first": 100 })).await;
    assert_eq!(node_ids(&all), desc);
    assert_eq!(all["totalCount"], 7);
    let order_asc = json!([{ "field": "CREATED_AT", "direction": "ASC" }]);
    let all = sessions(&app, a, json!({ "first": 100, "orderBy": order_asc })).await;
    assert_eq!(node_ids(&all), asc);
    let by_id = sessions(
        &app,
        a,
        json!({ "first": 100, "orderBy": [{ "field": "ID", "direction": "DESC" }] }),
    )
    .await;
    let mut ids_desc = asc.clone();
    ids_desc.sort();
    ids_desc.reverse();
    assert_eq!(node_ids(&by_id), ids_desc);

    for (order, expected) in [
        (json!(null), desc.clone()),
        (order_asc.clone(), asc.clone()),
    ] {
        // Forwards.
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = sessions(
                &app,
                a,
                json!({ "first": 3, "after": after, "orderBy": order }),
            )
            .await;
            let ids = node_ids(&page);
            assert_eq!(page["pageInfo"]["hasPreviousPage"], pages > 0);
            let edge_ids: Vec<Uuid> = page["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["id"].as_str().unwrap().parse().unwrap())
                .collect();
            assert_eq!(edge_ids, ids);
            seen.extend(ids);
            pages += 1;
            if page["pageInfo"]["hasNextPage"] == false {
                break;
            }
            after = page["pageInfo"]["endCursor"].as_str().map(str::to_string);
            assert!(pages < 10, "paging does not end");
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, expected, "forward walk");

        // Backwards from the end.
        let mut seen_back: Vec<Uuid> = Vec::new();
        let mut before: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = sessions(
                &app,
                a,
                json!({ "last": 3, "before": before, "orderBy": order }),
            )
            .await;
            let ids = node_ids(&page);
            assert_eq!(page["pageInfo"]["hasNextPage"], pages > 0);
            let mut chunk = ids.clone();
            chunk.extend(seen_back);
            seen_back = chunk;
            pages += 1;
            if page["pageInfo"]["hasPreviousPage"] == false {
                break;
            }
            before = page["pageInfo"]["startCursor"].as_str().map(str::to_string);
            assert!(pages < 10, "paging does not end");
        }
        assert_eq!(pages, 3);
        assert_eq!(seen_back, expected, "backward walk");
    }

    // A page between two cursors.
    let first = sessions(&app, a, json!({ "first": 1 })).await;
    let all = sessions(&app, a, json!({ "first": 100 })).await;
    let last_cursor = all["edges"][6]["cursor"].clone();
    let middle = sessions(
        &app,
        a,
        json!({ "first": 100, "after": first["pageInfo"]["endCursor"], "before": last_cursor }),
    )
    .await;
    assert_eq!(node_ids(&middle), desc[1..6].to_vec());

    // Bad paging input.
    let both = app
        .as_user(a, SESSIONS, json!({ "first": 1, "last": 1 }))
        .await;
    assert_error(&both, "BAD_USER_INPUT", Some("first"));
    let bad_cursor = app
        .as_user(a, SESSIONS, json!({ "first": 1, "after": "not-a-cursor" }))
        .await;
    assert_error(&bad_cursor, "BAD_USER_INPUT", Some("after"));
    let negative = app.as_user(a, SESSIONS, json!({ "first": -1 })).await;
    assert_error(&negative, "BAD_USER_INPUT", None);
}

#[tokio::test]
async fn single_session_and_session_fields() {
    let app = spawn_app().await;
    let a = app.db.create_user("a@example.com").await;
    let s = insert_session(
        &app,
        a,
        Some("desc"),
        Some("regression"),
        Some("archived"),
        &at(5),
    )
    .await;
    let query = "query($id: UUID!) { builderSession(id: $id) { id userId description problemType status createdAt updatedAt } }";
    let response = app.as_user(a, query, json!({ "id": s })).await;
    let node = &response.data()["builderSession"];
    assert_eq!(node["id"], s.to_string());
    assert_eq!(node["userId"], a.to_string());
    assert_eq!(node["description"], "desc");
    assert_eq!(node["problemType"], "regression");
    assert_eq!(node["status"], "archived");
    let created =
        chrono::DateTime::parse_from_rfc3339(node["createdAt"].as_str().unwrap()).unwrap();
    assert_eq!(
        created,
        chrono::DateTime::parse_from_rfc3339(&at(5)).unwrap()
    );
    let missing = app.as_user(a, query, json!({ "id": Uuid::new_v4() })).await;
    assert_eq!(missing.data()["builderSession"], Value::Null);
}

// ---------------------------------------------------------------------------
// Children: root lists and nested relations
// ---------------------------------------------------------------------------

struct Tree {
    sessions: Vec<Uuid>,
    /// Per session, its prompts in creation order.
    prompts: Vec<Vec<Uuid>>,
    /// Per prompt (flattened in session order), its responses in creation order.
    responses: Vec<Vec<Uuid>>,
    /// Per session, its steps in creation order.
    steps: Vec<Vec<Uuid>>,
}

/// `n` sessions of `user`, session `i` with `i + 1` prompts (each with two
/// responses) and `i + 1` steps, the last one a `model_deploy`.
async fn tree(app: &TestApp, user: Uuid, n: usize, label: &str) -> Tree {
    let mut t = Tree {
        sessions: vec![],
        prompts: vec![],
        responses: vec![],
        steps: vec![],
    };
    let mut clock = 0;
    let mut tick = || {
        clock += 1;
        at(clock)
    };
    for i in 0..n {
        let s = insert_session(
            app,
            user,
            Some(&format!("{label} {i}")),
            Some("classification"),
            Some("active"),
            &tick(),
        )
        .await;
        t.sessions.push(s);
        let mut ps = vec![];
        for j in 0..=i {
            let p = insert_prompt(app, user, s, &format!("{label} prompt {i}.{j}"), &tick()).await;
            let mut rs = vec![];
            for k in 0..2 {
                rs.push(
                    insert_response(
                        app,
                        user,
                        p,
                        &format!("{label} answer {i}.{j}.{k}"),
                        &tick(),
                    )
                    .await,
                );
            }
            t.responses.push(rs);
            ps.push(p);
        }
        t.prompts.push(ps);
        let mut st = vec![];
        for j in 0..=i {
            let kind = if j == i {
                "model_deploy"
            } else {
                "data_upload"
            };
            st.push(
                insert_step(
                    app,
                    user,
                    s,
                    kind,
                    Some(json!({ "n": j, "label": label })),
                    &tick(),
                )
                .await,
            );
        }
        t.steps.push(st);
    }
    t
}

const TREE_QUERY: &str = r#"
query($first: Int!) {
  builderSessions(first: 20, orderBy: [{ field: CREATED_AT, direction: ASC }]) {
    nodes {
      id
      prompts(first: $first) {
        totalCount
        pageInfo { hasNextPage }
        nodes {
          id
          session { id }
          responses(first: 5) { nodes { id prompt { id } } }
        }
      }
      steps(first: $first, orderBy: [{ field: CREATED_AT, direction: DESC }]) {
        totalCount
        nodes { id stepType stepData session { id } }
      }
    }
  }
}"#;

#[tokio::test]
async fn nested_relations_both_ways() {
    let app = spawn_app().await;
    let a = app.db.create_user("a@example.com").await;
    let t = tree(&app, a, 3, "a").await;
    let response = app.as_user(a, TREE_QUERY, json!({ "first": 2 })).await;
    let nodes = response.data()["builderSessions"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(nodes.len(), 3);
    let mut flat_prompt = 0;
    for (i, node) in nodes.iter().enumerate() {
        assert_eq!(node["id"], t.sessions[i].to_string());
        let prompts = &node["prompts"];
        // Cut per parent: at most 2, oldest first; totals over all pages.
        let expected: Vec<Uuid> = t.prompts[i].iter().take(2).copied().collect();
        assert_eq!(node_ids(prompts), expected);
        assert_eq!(prompts["totalCount"], (i + 1) as i64);
        assert_eq!(prompts["pageInfo"]["hasNextPage"], i + 1 > 2);
        for (j, p) in prompts["nodes"].as_array().unwrap().iter().enumerate() {
            assert_eq!(p["session"]["id"], t.sessions[i].to_string());
            let responses = &p["responses"];
            assert_eq!(node_ids(responses), t.responses[flat_prompt + j]);
            for r in responses["nodes"].as_array().unwrap() {
                assert_eq!(r["prompt"]["id"], p["id"]);
            }
        }
        flat_prompt += i + 1;
        // Steps newest first, the model_deploy one on top.
        let steps = &node["steps"];
        let expected: Vec<Uuid> = t.steps[i].iter().rev().take(2).copied().collect();
        assert_eq!(node_ids(steps), expected);
        assert_eq!(steps["nodes"][0]["stepType"], "model_deploy");
        assert_eq!(steps["nodes"][0]["stepData"]["n"], i as i64);
        assert_eq!(
            steps["nodes"][0]["session"]["id"],
            t.sessions[i].to_string()
        );
        assert_eq!(steps["totalCount"], (i + 1) as i64);
    }

    // Nested page size is bounded like root pages.
    let too_big = app.as_user(a, TREE_QUERY, json!({ "first": 101 })).await;
    assert!(too_big.body.get("errors").is_some(), "{}", too_big.body);
}

#[tokio::test]
async fn root_child_lists_filter_and_order() {
    let app = spawn_app().await;
    let a = app.db.create_user("a@example.com").await;
    let t = tree(&app, a, 3, "a").await;

    let prompts = "query($where: BuilderPromptWhere, $orderBy: [BuilderPromptOrder!]) {
        builderPrompts(first: 50, where: $where, orderBy: $orderBy) { totalCount nodes { id promptText sessionId } } }";
    let r = app
        .as_user(
            a,
            prompts,
            json!({ "where": { "sessionId": { "eq": t.sessions[2] } },
        "orderBy": [{ "field": "CREATED_AT", "direction": "ASC" }] }),
        )
        .await;
    assert_eq!(node_ids(&r.data()["builderPrompts"]), t.prompts[2]);
    assert_eq!(r.data()["builderPrompts"]["totalCount"], 3);
    let r = app
        .as_user(
            a,
            prompts,
            json!({ "where": { "promptText": { "ilike": "%PROMPT 1.%" } } }),
        )
        .await;
    // Default order: newest first.
    let expected: Vec<Uuid> = t.prompts[1].iter().rev().copied().collect();
    assert_eq!(node_ids(&r.data()["builderPrompts"]), expected);

    let responses = "query($where: BuilderResponseWhere) {
        builderResponses(first: 50, where: $where, orderBy: [{ field: CREATED_AT }]) { nodes { id promptId responseText } } }";
    let r = app
        .as_user(
            a,
            responses,
            json!({ "where": { "promptId": { "eq": t.prompts[1][0] } } }),
        )
        .await;
    assert_eq!(node_ids(&r.data()["builderResponses"]), t.responses[1]);
    let r = app
        .as_user(
            a,
            responses,
            json!({ "where": { "responseText": { "like": "%.1" } } }),
        )
        .await;
    assert_eq!(
        r.data()["builderResponses"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        6
    );

    let steps = "query($where: BuilderStepWhere) {
        builderSteps(first: 50, where: $where, orderBy: [{ field: CREATED_AT, direction: ASC }]) { totalCount nodes { id stepType stepData } } }";
    let r = app
        .as_user(
            a,
            steps,
            json!({ "where": { "stepType": { "eq": "model_deploy" } } }),
        )
        .await;
    let deploys: Vec<Uuid> = t.steps.iter().map(|s| *s.last().unwrap()).collect();
    assert_eq!(node_ids(&r.data()["builderSteps"]), deploys);
    let r = app
        .as_user(
            a,
            steps,
            json!({ "where": { "stepData": { "contains": { "n": 1 } } } }),
        )
        .await;
    assert_eq!(
        node_ids(&r.data()["builderSteps"]),
        vec![t.steps[1][1], t.steps[2][1]]
    );
    let r = app
        .as_user(
            a,
            steps,
            json!({ "where": { "sessionId": { "eq": t.sessions[2] },
        "not": { "stepType": { "eq": "model_deploy" } } } }),
        )
        .await;
    assert_eq!(
        node_ids(&r.data()["builderSteps"]),
        t.steps[2][..2].to_vec()
    );
    assert_eq!(r.data()["builderSteps"]["totalCount"], 2);
}

#[tokio::test]
async fn a_nested_query_costs_one_statement_per_relation_whatever_the_fan_out() {
    let app = spawn_app().await;
    let a = app.db.create_user("a@example.com").await;
    let query = r#"{
      builderSessions(first: 20) {
        nodes {
          prompts(first: 5) { nodes { responses(first: 5) { nodes { id } } } }
          steps(first: 5) { nodes { id } }
        }
      }
    }"#;
    let mut counts = Vec::new();
    for extra in [3usize, 7] {
        // 3 sessions, then 3 + 7 = 10 sessions (the later ones with more
        // prompts than the nested page size).
        tree(&app, a, extra, &format!("batch{extra}")).await;
        app.reset_statements();
        let response = app.as_user(a, query, json!({})).await;
        let nodes = response.data()["builderSessions"]["nodes"]
            .as_array()
            .unwrap()
            .len();
        let statements = app.statements();
        counts.push((nodes, statements.len()));
        // sessions, prompts, steps, responses: one SELECT each.
        assert_eq!(statements.len(), 4, "{nodes} sessions: {statements:#?}");
        assert!(
            statements
                .iter()
                .all(|s| s.trim_start().to_ascii_uppercase().starts_with("SELECT")),
            "{statements:#?}"
        );
    }
    assert_eq!(counts[0].0, 3);
    assert_eq!(counts[1].0, 10);
}

// ---------------------------------------------------------------------------
// Mutations and analytics
// ---------------------------------------------------------------------------

const CREATE: &str = "mutation($input: CreateBuilderSessionInput!) {
  createBuilderSession(input: $input) { session { id userId description problemType status } } }";
const UPDATE: &str = "mutation($input: UpdateBuilderSessionInput!) {
  updateBuilderSession(input: $input) { session { id description problemType status updatedAt } } }";
const DELETE: &str = "mutation($input: DeleteBuilderSessionInput!) {
  deleteBuilderSession(input: $input) { deletedId } }";
const ADD_PROMPT: &str = "mutation($input: AddBuilderPromptInput!) {
  addBuilderPrompt(input: $input) { prompt { id promptText sessionId session { id } } } }";
const ADD_RESPONSE: &str = "mutation($input: AddBuilderResponseInput!) {
  addBuilderResponse(input: $input) { response { id responseText promptId prompt { id } } } }";
const RECORD_STEP: &str = "mutation($input: RecordBuilderStepInput!) {
  recordBuilderStep(input: $input) {
    step { id stepType stepData sessionId session { id } }
    analytics { totalSessions totalPrompts totalResponses totalDecisions } } }";
const ANALYTICS: &str = "{ viewer { builderAnalytics {
  userId totalSessions totalPrompts totalResponses totalDecisions updatedAt } } }";

async fn analytics(app: &TestApp, user: Uuid) -> Value {
    app.as_user(user, ANALYTICS, json!({})).await.data()["viewer"]["builderAnalytics"].clone()
}

fn counters(v: &Value) -> [i64; 4] {
    [
        v["totalSessions"].as_i64().unwrap(),
        v["totalPrompts"].as_i64().unwrap(),
        v["totalResponses"].as_i64().unwrap(),
        v["totalDecisions"].as_i64().unwrap(),
    ]
}

async fn create(app: &TestApp, user: Uuid, input: Value) -> Uuid {
    let r = app.as_user(user, CREATE, json!({ "input": input })).await;
    r.data()["createBuilderSession"]["session"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn add_prompt(app: &TestApp, user: Uuid, session: Uuid, text: &str) -> Uuid {
    let r = app
        .as_user(
            user,
            ADD_PROMPT,
            json!({ "input": { "sessionId": session, "promptText": text } }),
        )
        .await;
    r.data()["addBuilderPrompt"]["prompt"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn add_response(app: &TestApp, user: Uuid, prompt: Uuid, text: &str) -> Uuid {
    let r = app
        .as_user(
            user,
            ADD_RESPONSE,
            json!({ "input": { "promptId": prompt, "responseText": text } }),
        )
        .await;
    r.data()["addBuilderResponse"]["response"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn record_step(app: &TestApp, user: Uuid, session: Uuid, step_type: &str) -> Value {
    let r = app
        .as_user(
            user,
            RECORD_STEP,
            json!({ "input": { "sessionId": session, "stepType": step_type } }),
        )
        .await;
    r.data()["recordBuilderStep"].clone()
}

#[tokio::test]
async fn mutations_write_and_analytics_count_them() {
    let app = spawn_app().await;
    let a = app.db.create_user("a@example.com").await;

    // Nothing built yet: zeros, never counted.
    let before = analytics(&app, a).await;
    assert_eq!(counters(&before), [0, 0, 0, 0]);
    assert_eq!(before["userId"], a.to_string());
    assert_eq!(before["updatedAt"], Value::Null);

    let r = app
        .as_user(a, CREATE, json!({ "input": { "description": "Churn", "problemType": "classification", "status": "active" } }))
        .await;
    let session = &r.data()["createBuilderSession"]["session"];
    assert_eq!(session["userId"], a.to_string());
    assert_eq!(session["description"], "Churn");
    assert_eq!(session["status"], "active");
    let s1: Uuid = session["id"].as_str().unwrap().parse().unwrap();
    let s2 = create(&app, a, json!({})).await;

    let p1 = add_prompt(&app, a, s1, "Which features?").await;
    let p2 = add_prompt(&app, a, s1, "Which model?").await;
    let p3 = add_prompt(&app, a, s2, "Start").await;
    add_response(&app, a, p1, "Usage").await;
    add_response(&app, a, p1, "Tickets").await;
    add_response(&app, a, p2, "Boosting").await;

    let r = app
        .as_user(
            a,
            ADD_PROMPT,
            json!({ "input": { "sessionId": s2, "promptText": "again" } }),
        )
        .await;
    assert_eq!(
        r.data()["addBuilderPrompt"]["prompt"]["session"]["id"],
        s2.to_string()
    );
    let r = app
        .as_user(
            a,
            ADD_RESPONSE,
            json!({ "input": { "promptId": p3, "responseText": "ok" } }),
        )
        .await;
    assert_eq!(
        r.data()["addBuilderResponse"]["response"]["prompt"]["id"],
        p3.to_string()
    );

    // Only model_deploy steps are decisions; the payload has the new counts.
    let step = record_step(&app, a, s1, "data_upload").await;
    assert_eq!(counters(&step["analytics"]), [2, 4, 4, 0]);
    let step = record_step(&app, a, s1, "  model_deploy  ").await;
    assert_eq!(step["step"]["stepType"], "model_deploy");
    assert_eq!(step["step"]["session"]["id"], s1.to_string());
    assert_eq!(counters(&step["analytics"]), [2, 4, 4, 1]);
    let r = app
        .as_user(a, RECORD_STEP, json!({ "input": { "sessionId": s2, "stepType": "model_deploy", "stepData": { "endpoint": "v1" } } }))
        .await;
    let payload = &r.data()["recordBuilderStep"];
    assert_eq!(payload["step"]["stepData"], json!({ "endpoint": "v1" }));
    assert_eq!(counters(&payload["analytics"]), [2, 4, 4, 2]);
    record_step(&app, a, s2, "model_deployment").await;
    let now = analytics(&app, a).await;
    assert_eq!(counters(&now), [2, 4, 4, 2]);
    assert_ne!(now["updatedAt"], Value::Null);

    // Update: absent fields stay, null clears, values are set.
    let r = app
        .as_user(
            a,
            UPDATE,
            json!({ "input": { "id": s1, "status": "completed", "problemType": null } }),
        )
        .await;
    let updated = &r.data()["updateBuilderSession"]["session"];
    assert_eq!(updated["status"], "completed");
    assert_eq!(updated["problemType"], Value::Null);
    assert_eq!(updated["description"], "Churn");
    let r = app
        .as_user(a, UPDATE, json!({ "input": { "id": s1 } }))
        .await;
    assert_eq!(
        r.data()["updateBuilderSession"]["session"]["status"],
        "completed"
    );

    // Delete takes the children (and their counts) with it.
    let r = app
        .as_user(a, DELETE, json!({ "input": { "id": s1 } }))
        .await;
    assert_eq!(
        r.data()["deleteBuilderSession"]["deletedId"],
        s1.to_string()
    );
    assert_eq!(counters(&analytics(&app, a).await), [1, 2, 1, 1]);
    let r = app
        .as_user(
            a,
            "query($id: UUID!) { builderSession(id: $id) { id } }",
            json!({ "id": s1 }),
        )
        .await;
    assert_eq!(r.data()["builderSession"], Value::Null);
    let left = sessions(&app, a, json!({ "first": 10 })).await;
    assert_eq!(node_ids(&left), vec![s2]);
}

#[tokio::test]
async fn mutation_errors_carry_codes_and_fields() {
    let app = spawn_app().await;
    let a = app.db.create_user("a@example.com").await;
    let s = create(&app, a, json!({ "status": "active" })).await;
    let p = add_prompt(&app, a, s, "hello").await;

    let cases: Vec<(&str, Value, &str, Option<&str>)> = vec![
        (
            CREATE,
            json!({ "status": "running" }),
            "BAD_USER_INPUT",
            Some("status"),
        ),
        (
            CREATE,
            json!({ "description": "   " }),
            "BAD_USER_INPUT",
            Some("description"),
        ),
        (
            CREATE,
            json!({ "problemType": "" }),
            "BAD_USER_INPUT",
            Some("problemType"),
        ),
        (
            UPDATE,
            json!({ "id": s, "status": "ACTIVE" }),
            "BAD_USER_INPUT",
            Some("status"),
        ),
        (
            UPDATE,
            json!({ "id": Uuid::new_v4(), "status": "active" }),
            "NOT_FOUND",
            None,
        ),
        (DELETE, json!({ "id": Uuid::new_v4() }), "NOT_FOUND", None),
        (
            ADD_PROMPT,
            json!({ "sessionId": s, "promptText": " \n\t" }),
            "BAD_USER_INPUT",
            Some("promptText"),
        ),
        (
            ADD_PROMPT,
            json!({ "sessionId": Uuid::new_v4(), "promptText": "x" }),
            "NOT_FOUND",
            None,
        ),
        (
            ADD_RESPONSE,
            json!({ "promptId": p, "responseText": "" }),
            "BAD_USER_INPUT",
            Some("responseText"),
        ),
        (
            ADD_RESPONSE,
            json!({ "promptId": Uuid::new_v4(), "responseText": "x" }),
            "NOT_FOUND",
            None,
        ),
        (
            RECORD_STEP,
            json!({ "sessionId": s, "stepType": "  " }),
            "BAD_USER_INPUT",
            Some("stepType"),
        ),
        (
            RECORD_STEP,
            json!({ "sessionId": Uuid::new_v4(), "stepType": "x" }),
            "NOT_FOUND",
            None,
        ),
    ];
    for (mutation, input, code, field) in cases {
        let r = app.as_user(a, mutation, json!({ "input": input })).await;
        assert_error(&r, code, field);
        assert_eq!(r.body["data"], Value::Null, "{}", r.body);
    }
    // Nothing of the failed writes landed.
    assert_eq!(counters(&analytics(&app, a).await), [1, 1, 0, 0]);

    // Anon: every mutation asks to sign in, and no builder row is readable.
    let anon_inputs = [
        (CREATE, json!({})),
        (UPDATE, json!({ "id": s, "status": "archived" })),
        (DELETE, json!({ "id": s })),
        (ADD_PROMPT, json!({ "sessionId": s, "promptText": "x" })),
        (ADD_RESPONSE, json!({ "promptId": p, "responseText": "x" })),
        (
            RECORD_STEP,
            json!({ "sessionId": s, "stepType": "model_deploy" }),
        ),
    ];
    for (mutation, input) in anon_inputs {
        let r = app.as_anon(mutation, json!({ "input": input })).await;
        assert_error(&r, "UNAUTHENTICATED", None);
    }
    for query in [
        "{ builderSessions { nodes { id } } }",
        "{ builderPrompts { nodes { id } } }",
        "{ builderResponses { nodes { id } } }",
        "{ builderSteps { nodes { id } } }",
        "{ builderStepAggregate { count } }",
        "{ builderSessionAggregate { count } }",
    ] {
        let r = app.as_anon(query, json!({})).await;
        assert_error(&r, "UNAUTHENTICATED", None);
    }
    let r = app
        .as_anon(
            "query($id: UUID!) { builderSession(id: $id) { id } }",
            json!({ "id": s }),
        )
        .await;
    assert_error(&r, "UNAUTHENTICATED", None);
    let r = app.as_anon(ANALYTICS, json!({})).await;
    assert_eq!(r.data()["viewer"]["builderAnalytics"], Value::Null);
    // And the session is untouched.
    assert_eq!(counters(&analytics(&app, a).await), [1, 1, 0, 0]);
}

#[tokio::test]
async fn a_request_whose_second_mutation_fails_commits_nothing() {
    let app = spawn_app().await;
    let a = app.db.create_user("a@example.com").await;
    let s = create(&app, a, json!({ "description": "kept" })).await;
    let documents = [
        // Fails in Rust validation.
        format!(
            r#"mutation {{
              a: createBuilderSession(input: {{ description: "lost" }}) {{ session {{ id }} }}
              b: addBuilderPrompt(input: {{ sessionId: "{s}", promptText: "  " }}) {{ prompt {{ id }} }}
            }}"#
        ),
        // Fails on a missing parent.
        format!(
            r#"mutation {{
              a: addBuilderPrompt(input: {{ sessionId: "{s}", promptText: "lost" }}) {{ prompt {{ id }} }}
              b: recordBuilderStep(input: {{ sessionId: "{}", stepType: "model_deploy" }}) {{ step {{ id }} }}
            }}"#,
            Uuid::new_v4()
        ),
    ];
    for (document, code) in documents.iter().zip(["BAD_USER_INPUT", "NOT_FOUND"]) {
        app.reset_statements();
        let r = app.as_user(a, document, json!({})).await;
        // ... and says it was rolled back.
        assert_eq!(r.error_codes(), vec![code, &"ROLLED_BACK"], "{}", r.body);
        // The first mutation ran (its INSERT was sent) ...
        assert!(
            app.statements()
                .iter()
                .any(|s| s.trim_start().starts_with("INSERT")),
            "{:#?}",
            app.statements()
        );
        // ... but was rolled back with the rest.
        assert_eq!(counters(&analytics(&app, a).await), [1, 0, 0, 0]);
        let left = sessions(&app, a, json!({ "first": 10 })).await;
        assert_eq!(node_ids(&left), vec![s]);
    }
    // A request whose mutations all succeed commits all of them.
    let r = app
        .as_user(a, &format!(
            r#"mutation {{
              a: addBuilderPrompt(input: {{ sessionId: "{s}", promptText: "kept" }}) {{ prompt {{ id }} }}
              b: recordBuilderStep(input: {{ sessionId: "{s}", stepType: "model_deploy" }}) {{ step {{ id }} }}
            }}"#
        ), json!({}))
        .await;
    r.data();
    assert_eq!(counters(&analytics(&app, a).await), [1, 1, 0, 1]);
}

// ---------------------------------------------------------------------------
// Isolation
// ---------------------------------------------------------------------------

#[tokio::test]
async fn user_b_gets_nothing_of_user_a() {
    let app = spawn_app().await;
    let a = app.db.create_user("a@example.com").await;
    let b = app.db.create_user("b@example.com").await;
    let ta = tree(&app, a, 2, "alice").await;
    let tb = tree(&app, b, 1, "bob").await;
    let a_ids: Vec<String> = ta
        .sessions
        .iter()
        .chain(ta.prompts.iter().flatten())
        .chain(ta.responses.iter().flatten())
        .chain(ta.steps.iter().flatten())
        .chain([&a])
        .map(|id| id.to_string())
        .collect();
    let leaks = |r: &GqlResponse| {
        let text = r.body.to_string();
        assert!(!text.contains("alice"), "leaked A's text: {text}");
        for id in &a_ids {
            assert!(!text.contains(id), "leaked A's id {id}: {text}");
        }
    };

    // Root lists: only B's rows, even when filtering on A's ids.
    for (query, field, own) in [
        (
            "{ builderSessions(first: 100) { totalCount nodes { id description } } }",
            "builderSessions",
            tb.sessions.clone(),
        ),
        (
            "{ builderPrompts(first: 100) { totalCount nodes { id promptText } } }",
            "builderPrompts",
            tb.prompts.concat(),
        ),
        (
            "{ builderResponses(first: 100) { totalCount nodes { id responseText } } }",
            "builderResponses",
            tb.responses.concat(),
        ),
        (
            "{ builderSteps(first: 100) { totalCount nodes { id stepData } } }",
            "builderSteps",
            tb.steps.concat(),
        ),
    ] {
        let r = app.as_user(b, query, json!({})).await;
        leaks(&r);
        assert_eq!(set(&node_ids(&r.data()[field])), set(&own), "{field}");
        assert_eq!(r.data()[field]["totalCount"], own.len() as i64);
    }
    let r = app
        .as_user(b, "query($ids: [UUID!]) { builderSessions(where: { id: { in: $ids } }) { nodes { id } } builderPrompts(where: { sessionId: { in: $ids } }) { nodes { id } } builderSteps(where: { sessionId: { in: $ids } }) { nodes { id } } }",
            json!({ "ids": ta.sessions }))
        .await;
    leaks(&r);
    for field in ["builderSessions", "builderPrompts", "builderSteps"] {
        assert!(node_ids(&r.data()[field]).is_empty(), "{field}");
    }
    let r = app
        .as_user(b, "query($p: UUID!) { builderResponses(where: { promptId: { eq: $p } }) { nodes { id } } }",
            json!({ "p": ta.prompts[0][0] }))
        .await;
    leaks(&r);
    assert!(node_ids(&r.data()["builderResponses"]).is_empty());

    // By id: null, as if it did not exist.
    let r = app
        .as_user(b, "query($id: UUID!) { builderSession(id: $id) { id prompts { nodes { id } } steps { nodes { id } } } }",
            json!({ "id": ta.sessions[1] }))
        .await;
    leaks(&r);
    assert_eq!(r.data()["builderSession"], Value::Null);

    // Nested fields of B's own tree reach none of A's rows.
    let r = app.as_user(b, TREE_QUERY, json!({ "first": 3 })).await;
    leaks(&r);
    assert_eq!(node_ids(&r.data()["builderSessions"]), tb.sessions);

    // Aggregates count B's rows only.
    let r = app
        .as_user(
            b,
            "{ builderStepAggregate { count } builderSessionAggregate { count } }",
            json!({}),
        )
        .await;
    assert_eq!(r.data()["builderStepAggregate"], json!([{ "count": 1 }]));
    assert_eq!(r.data()["builderSessionAggregate"], json!([{ "count": 1 }]));
    let r = app
        .as_user(
            b,
            "{ builderStepAggregate(groupBy: [SESSION]) { sessionId count } }",
            json!({}),
        )
        .await;
    leaks(&r);
    assert_eq!(
        r.data()["builderStepAggregate"],
        json!([{ "sessionId": tb.sessions[0], "count": 1 }])
    );

    // Analytics: B's own.
    let r = app.as_user(b, ANALYTICS, json!({})).await;
    leaks(&r);
    assert_eq!(
        counters(&r.data()["viewer"]["builderAnalytics"]),
        [1, 1, 2, 1]
    );

    // Every mutation on A's objects: NOT_FOUND, and nothing changes.
    let before = counters(&analytics(&app, a).await);
    assert_eq!(before, [2, 3, 6, 2]);
    for (mutation, input) in [
        (
            UPDATE,
            json!({ "id": ta.sessions[0], "description": "mine now" }),
        ),
        (DELETE, json!({ "id": ta.sessions[0] })),
        (
            ADD_PROMPT,
            json!({ "sessionId": ta.sessions[0], "promptText": "x" }),
        ),
        (
            ADD_RESPONSE,
            json!({ "promptId": ta.prompts[0][0], "responseText": "x" }),
        ),
        (
            RECORD_STEP,
            json!({ "sessionId": ta.sessions[0], "stepType": "model_deploy" }),
        ),
    ] {
        let r = app.as_user(b, mutation, json!({ "input": input })).await;
        leaks(&r);
        assert_error(&r, "NOT_FOUND", None);
    }
    assert_eq!(counters(&analytics(&app, a).await), before);
    let r = app
        .as_user(
            a,
            "query($id: UUID!) { builderSession(id: $id) { description } }",
            json!({ "id": ta.sessions[0] }),
        )
        .await;
    assert_eq!(r.data()["builderSession"]["description"], "alice 0");
    // B's own counters are untouched by the refused writes.
    assert_eq!(counters(&analytics(&app, b).await), [1, 1, 2, 1]);
}

// ---------------------------------------------------------------------------
// Aggregates
// ---------------------------------------------------------------------------

#[tokio::test]
async fn aggregates_group_and_filter() {
    let app = spawn_app().await;
    let a = app.db.create_user("a@example.com").await;
    let s1 = insert_session(
        &app,
        a,
        None,
        Some("classification"),
        Some("active"),
        "2024-03-01T10:00:00Z",
    )
    .await;
    let s2 = insert_session(
        &app,
        a,
        None,
        Some("classification"),
        Some("completed"),
        "2024-03-01T23:59:00Z",
    )
    .await;
    let s3 = insert_session(
        &app,
        a,
        None,
        Some("regression"),
        Some("active"),
        "2024-03-02T00:01:00Z",
    )
    .await;
    let _s4 = insert_session(&app, a, None, None, None, "2024-03-02T12:00:00Z").await;
    for (s, kind, when) in [
        (s1, "data_upload", "2024-03-01T11:00:00Z"),
        (s1, "model_deploy", "2024-03-01T12:00:00Z"),
        (s1, "model_deploy", "2024-03-02T12:00:00Z"),
        (s2, "data_upload", "2024-03-02T01:00:00Z"),
        (s3, "model_train", "2024-03-02T02:00:00Z"),
    ] {
        insert_step(&app, a, s, kind, Some(json!({ "kind": kind })), when).await;
    }

    let steps = "query($where: BuilderStepWhere, $groupBy: [BuilderStepGroupBy!]) {
        builderStepAggregate(where: $where, groupBy: $groupBy) { stepType day sessionId count } }";
    let run = |vars: Value| {
        let app = &app;
        async move { app.as_user(a, steps, vars).await.data()["builderStepAggregate"].clone() }
    };
    assert_eq!(
        run(json!({})).await,
        json!([{ "stepType": null, "day": null, "sessionId": null, "count": 5 }])
    );
    assert_eq!(
        run(json!({ "groupBy": ["STEP_TYPE"] })).await,
        json!([
            { "stepType": "data_upload", "day": null, "sessionId": null, "count": 2 },
            { "stepType": "model_deploy", "day": null, "sessionId": null, "count": 2 },
            { "stepType": "model_train", "day": null, "sessionId": null, "count": 1 },
        ])
    );
    assert_eq!(
        run(json!({ "groupBy": ["DAY"] })).await,
        json!([
            { "stepType": null, "day": "2024-03-01", "sessionId": null, "count": 2 },
            { "stepType": null, "day": "2024-03-02", "sessionId": null, "count": 3 },
        ])
    );
    let by_session_type = run(json!({ "groupBy": ["SESSION", "STEP_TYPE"], "where": { "stepType": { "neq": "model_train" } } })).await;
    let mut got: Vec<(String, String, i64)> = by_session_type
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            assert_eq!(g["day"], Value::Null);
            (
                g["sessionId"].as_str().unwrap().to_string(),
                g["stepType"].as_str().unwrap().to_string(),
                g["count"].as_i64().unwrap(),
            )
        })
        .collect();
    got.sort();
    let mut want = vec![
        (s1.to_string(), "data_upload".to_string(), 1),
        (s1.to_string(), "model_deploy".to_string(), 2),
        (s2.to_string(), "data_upload".to_string(), 1),
    ];
    want.sort();
    assert_eq!(got, want);
    assert_eq!(
        run(json!({ "groupBy": ["STEP_TYPE"], "where": { "stepData": { "contains": { "kind": "model_deploy" } } } })).await,
        json!([{ "stepType": "model_deploy", "day": null, "sessionId": null, "count": 2 }])
    );
    // A filter matching nothing still answers (no groups).
    assert_eq!(
        run(json!({ "groupBy": ["DAY"], "where": { "stepType": { "eq": "none" } } })).await,
        json!([])
    );

    let sessions_q = "query($where: BuilderSessionWhere, $groupBy: [BuilderSessionGroupBy!]) {
        builderSessionAggregate(where: $where, groupBy: $groupBy) { status problemType day count } }";
    let run = |vars: Value| {
        let app = &app;
        async move { app.as_user(a, sessions_q, vars).await.data()["builderSessionAggregate"].clone() }
    };
    // Nulls sort last in ascending order.
    assert_eq!(
        run(json!({ "groupBy": ["STATUS"] })).await,
        json!([
            { "status": "active", "problemType": null, "day": null, "count": 2 },
            { "status": "completed", "problemType": null, "day": null, "count": 1 },
            { "status": null, "problemType": null, "day": null, "count": 1 },
        ])
    );
    assert_eq!(
        run(json!({ "groupBy": ["PROBLEM_TYPE", "DAY"], "where": { "problemType": { "isNull": false } } })).await,
        json!([
            { "status": null, "problemType": "classification", "day": "2024-03-01", "count": 2 },
            { "status": null, "problemType": "regression", "day": "2024-03-02", "count": 1 },
        ])
    );
    assert_eq!(
        run(json!({ "where": { "or": [{ "status": { "eq": "active" } }, { "status": { "isNull": true } }] } })).await,
        json!([{ "status": null, "problemType": null, "day": null, "count": 3 }])
    );
}

// ---------------------------------------------------------------------------
// Demo data
// ---------------------------------------------------------------------------

#[tokio::test]
async fn seed_demo_gives_graphiql_something_to_show() {
    let app = spawn_app().await;
    let a = app.db.create_user("demo@example.com").await;
    let db = app.db.orm().await;
    gateway::graphql::builder::seed_demo(&db, a)
        .await
        .expect("seed");
    let r = app.as_user(a, TREE_QUERY, json!({ "first": 3 })).await;
    let nodes = r.data()["builderSessions"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(nodes.len(), 3);
    assert!(nodes.iter().all(|n| !node_ids(&n["prompts"]).is_empty()));
    let stats = counters(&analytics(&app, a).await);
    assert_eq!(stats[0], 3);
    assert_eq!(stats[3], 1, "one model_deploy step");
    assert!(stats[1] >= 3 && stats[2] >= stats[1]);
}
