//! API tests of the workspace analytics domain (seed 002): the real gateway
//! over HTTP on a fresh database per test. Workspaces, agents, runs and
//! rollups that need fixed timestamps go in through the superuser pool;
//! everything the API writes goes through the API.

use crate::common::app::{spawn_app, GqlResponse, TestApp};
use crate::common::sqlx;
use serde_json::{json, Value};
use uuid::Uuid;

/// Runs `query` as `user` and returns `data`, asserting there were no errors.
async fn ok(app: &TestApp, user: Uuid, query: &str, vars: Value) -> Value {
    app.as_user(user, query, vars).await.data().clone()
}

/// Runs `query` as the service role and returns `data`.
async fn service(app: &TestApp, query: &str, vars: Value) -> Value {
    app.post(Some(&app.service_token()), query, vars)
        .await
        .data()
        .clone()
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

fn id(v: &Value) -> Uuid {
    v.as_str().expect("an id").parse().expect("a uuid")
}

/// A workspace owned by `owner` (the trigger makes them its owner member),
/// created long ago so every rollup day sees it.
async fn workspace(app: &TestApp, owner: Uuid, name: &str) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO public.workspaces (name, owner_id, created_at)
         VALUES ($1, $2, '2024-01-01T00:00:00Z') RETURNING id",
    )
    .bind(name)
    .bind(owner)
    .fetch_one(&app.db.pool)
    .await
    .expect("insert workspace")
}

async fn member(app: &TestApp, ws: Uuid, user: Uuid, role: &str) {
    sqlx::query(
        "INSERT INTO public.workspace_members (workspace_id, user_id, role) VALUES ($1, $2, $3)",
    )
    .bind(ws)
    .bind(user)
    .bind(role)
    .execute(&app.db.pool)
    .await
    .expect("insert member");
}

async fn agent(app: &TestApp, ws: Uuid, name: &str) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO public.agents (workspace_id, name, created_at)
         VALUES ($1, $2, '2024-01-01T00:00:00Z') RETURNING id",
    )
    .bind(ws)
    .bind(name)
    .fetch_one(&app.db.pool)
    .await
    .expect("insert agent")
}

/// A run started at `started_at` (SQL expression, e.g. a literal or
/// `now() - interval '1 hour'`).
async fn run(
    app: &TestApp,
    agent: Uuid,
    ws: Uuid,
    user: Uuid,
    status: &str,
    started_at: &str,
) -> Uuid {
    let sql = format!(
        "INSERT INTO public.agent_runs
           (agent_id, workspace_id, user_id, status, started_at, runtime_seconds, credits_consumed, tokens_used, model)
         VALUES ($1, $2, $3, $4, {started_at}, 10, 1.5, 100, 'gpt') RETURNING id"
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(agent)
        .bind(ws)
        .bind(user)
        .bind(status)
        .fetch_one(&app.db.pool)
        .await
        .expect("insert run")
}

/// Two users with one workspace each: A's `w1` has an agent with two runs
/// on 2024-06-01, B's `w2` an agent with one run; C is in no workspace.
struct World {
    a: Uuid,
    b: Uuid,
    c: Uuid,
    w1: Uuid,
    w2: Uuid,
    agent1: Uuid,
}

async fn world(app: &TestApp) -> World {
    let a = app.db.create_user("ada@example.com").await;
    let b = app.db.create_user("bob@example.com").await;
    let c = app.db.create_user("cy@example.com").await;
    let w1 = workspace(app, a, "Ada's").await;
    let w2 = workspace(app, b, "Bob's").await;
    let agent1 = agent(app, w1, "summarizer").await;
    let agent2 = agent(app, w2, "other").await;
    run(app, agent1, w1, a, "completed", "'2024-06-01T10:00:00Z'").await;
    run(app, agent1, w1, a, "failed", "'2024-06-01T11:00:00Z'").await;
    run(app, agent2, w2, b, "completed", "'2024-06-01T12:00:00Z'").await;
    World {
        a,
        b,
        c,
        w1,
        w2,
        agent1,
    }
}

const TREE: &str = "{ workspaces(first: 5) { totalCount nodes { id name
    members(first: 5) { nodes { userId role user { email } } }
    agents(first: 5) { nodes { id name runs(first: 5) { totalCount nodes { id status creditsConsumed } } } } } } }";

#[tokio::test]
async fn workspaces_with_members_agents_and_runs_are_isolated() {
    let app = spawn_app().await;
    let w = world(&app).await;

    let data = ok(&app, w.a, TREE, json!({})).await;
    let nodes = data["workspaces"]["nodes"].as_array().unwrap();
    assert_eq!(data["workspaces"]["totalCount"], 1);
    assert_eq!(id(&nodes[0]["id"]), w.w1);
    assert_eq!(nodes[0]["members"]["nodes"][0]["role"], "OWNER");
    assert_eq!(
        nodes[0]["members"]["nodes"][0]["user"]["email"],
        "ada@example.com"
    );
    let agents = nodes[0]["agents"]["nodes"].as_array().unwrap();
    assert_eq!(agents.len(), 1);
    assert_eq!(agents[0]["runs"]["totalCount"], 2);
    // Newest first by default; oldest first on request.
    assert_eq!(agents[0]["runs"]["nodes"][0]["status"], "FAILED");
    let data = ok(
        &app,
        w.a,
        "{ workspaces(first: 5) { nodes { agents(first: 5) { nodes { runs(first: 1, orderBy: [{ field: STARTED_AT, direction: ASC }]) { totalCount pageInfo { hasNextPage } nodes { status } } } } } } }",
        json!({}),
    )
    .await;
    let runs = &data["workspaces"]["nodes"][0]["agents"]["nodes"][0]["runs"];
    assert_eq!(runs["nodes"][0]["status"], "COMPLETED");
    assert_eq!(runs["totalCount"], 2);
    assert_eq!(runs["pageInfo"]["hasNextPage"], true);

    // B sees only their own; C (in no workspace) nothing.
    let data = ok(&app, w.b, TREE, json!({})).await;
    let nodes = data["workspaces"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(id(&nodes[0]["id"]), w.w2);
    let data = ok(&app, w.c, TREE, json!({})).await;
    assert_eq!(data["workspaces"]["totalCount"], 0);

    // By id: null for non-members.
    let q = "query($id: UUID!) { workspace(id: $id) { id agents { nodes { id } } } }";
    let data = ok(&app, w.a, q, json!({ "id": w.w1 })).await;
    assert_eq!(id(&data["workspace"]["id"]), w.w1);
    for user in [w.b, w.c] {
        let data = ok(&app, user, q, json!({ "id": w.w1 })).await;
        assert!(data["workspace"].is_null());
    }

    // Root runs: only those of the viewer's workspaces.
    let q = "query($w: UuidFilter) { agentRuns(where: { workspaceId: $w }) { totalCount nodes { workspaceId } } }";
    let data = ok(&app, w.a, q, json!({ "w": null })).await;
    assert_eq!(data["agentRuns"]["totalCount"], 2);
    let data = ok(&app, w.b, q, json!({ "w": { "eq": w.w1 } })).await;
    assert_eq!(data["agentRuns"]["totalCount"], 0);
    let data = ok(&app, w.c, q, json!({ "w": null })).await;
    assert_eq!(data["agentRuns"]["totalCount"], 0);

    // A new member sees the workspace, its members and runs.
    member(&app, w.w1, w.c, "viewer").await;
    let data = ok(&app, w.c, TREE, json!({})).await;
    let nodes = data["workspaces"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0]["members"]["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(nodes[0]["agents"]["nodes"][0]["runs"]["totalCount"], 2);

    // Anon: the root lists need a user; viewer.workspaces is empty.
    for q in [
        "{ workspaces { totalCount } }",
        "{ agentRuns { totalCount } }",
        "{ activityEvents { totalCount } }",
        "{ agentRunAggregate { count } }",
        "{ activityEventAggregate { count } }",
    ] {
        let resp = app.as_anon(q, json!({})).await;
        assert_error(&resp, "UNAUTHENTICATED", None);
    }
    let resp = app
        .as_anon(
            "query($id: UUID!) { workspace(id: $id) { id } }",
            json!({ "id": w.w1 }),
        )
        .await;
    assert_error(&resp, "UNAUTHENTICATED", None);
    let resp = app
        .as_anon("{ viewer { workspaces { nodes { id } } } }", json!({}))
        .await;
    assert_eq!(resp.data()["viewer"]["workspaces"]["nodes"], json!([]));
    let data = ok(
        &app,
        w.a,
        "{ viewer { workspaces { nodes { id } } } }",
        json!({}),
    )
    .await;
    assert_eq!(id(&data["viewer"]["workspaces"]["nodes"][0]["id"]), w.w1);

    // Paging and filters.
    let data = ok(
        &app,
        w.a,
        "{ agentRuns(first: 1, orderBy: [{ field: STARTED_AT, direction: ASC }]) { pageInfo { hasNextPage endCursor } nodes { status } } }",
        json!({}),
    )
    .await;
    assert_eq!(data["agentRuns"]["nodes"][0]["status"], "COMPLETED");
    assert_eq!(data["agentRuns"]["pageInfo"]["hasNextPage"], true);
    let resp = app
        .as_user(w.a, "{ workspaces(first: 1000) { totalCount } }", json!({}))
        .await;
    assert_error(&resp, "LIMIT_EXCEEDED", None);
    let data = ok(
        &app,
        w.a,
        "{ workspaces(where: { name: { ilike: \"%nobody%\" } }) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(data["workspaces"]["totalCount"], 0);
}

#[tokio::test]
async fn create_workspace_and_add_members() {
    let app = spawn_app().await;
    let a = app.db.create_user("ada@example.com").await;
    let b = app.db.create_user("bob@example.com").await;
    let c = app.db.create_user("cy@example.com").await;
    let create = "mutation($name: String!) { createWorkspace(input: { name: $name }) { workspace { id name ownerId members { nodes { userId role } } } } }";
    let data = ok(&app, a, create, json!({ "name": "  Lab  " })).await;
    let ws = &data["createWorkspace"]["workspace"];
    assert_eq!(ws["name"], "Lab");
    assert_eq!(id(&ws["ownerId"]), a);
    assert_eq!(ws["members"]["nodes"][0]["role"], "OWNER");
    let w = id(&ws["id"]);

    let resp = app.as_user(a, create, json!({ "name": "  " })).await;
    assert_error(&resp, "BAD_USER_INPUT", Some("name"));
    let resp = app.as_anon(create, json!({ "name": "x" })).await;
    assert_error(&resp, "UNAUTHENTICATED", None);

    let add = "mutation($input: AddWorkspaceMemberInput!) { addWorkspaceMember(input: $input) { member { userId role workspaceId } } }";
    let data = ok(
        &app,
        a,
        add,
        json!({ "input": { "workspaceId": w, "userId": b } }),
    )
    .await;
    assert_eq!(data["addWorkspaceMember"]["member"]["role"], "MEMBER");
    // B now sees it.
    let data = ok(&app, b, "{ workspaces { totalCount } }", json!({})).await;
    assert_eq!(data["workspaces"]["totalCount"], 1);
    // Twice: CONFLICT.
    let resp = app
        .as_user(
            a,
            add,
            json!({ "input": { "workspaceId": w, "userId": b } }),
        )
        .await;
    assert_error(&resp, "CONFLICT", None);
    // A plain member may not add: FORBIDDEN; a non-member: NOT_FOUND.
    let resp = app
        .as_user(
            b,
            add,
            json!({ "input": { "workspaceId": w, "userId": c } }),
        )
        .await;
    assert_error(&resp, "FORBIDDEN", None);
    let resp = app
        .as_user(
            c,
            add,
            json!({ "input": { "workspaceId": w, "userId": c, "role": "ADMIN" } }),
        )
        .await;
    assert_error(&resp, "NOT_FOUND", None);
    // Unknown user: BAD_USER_INPUT; unknown role value: BAD_USER_INPUT.
    let resp = app
        .as_user(
            a,
            add,
            json!({ "input": { "workspaceId": w, "userId": Uuid::new_v4() } }),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT", None);
    let resp = app
        .as_user(
            a,
            add,
            json!({ "input": { "workspaceId": w, "userId": c, "role": "GOD" } }),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT", None);
    let resp = app
        .as_anon(add, json!({ "input": { "workspaceId": w, "userId": c } }))
        .await;
    assert_error(&resp, "UNAUTHENTICATED", None);
    // Nothing of the refused writes stayed.
    let data = ok(
        &app,
        a,
        "query($id: UUID!) { workspace(id: $id) { members { totalCount } } }",
        json!({ "id": w }),
    )
    .await;
    assert_eq!(data["workspace"]["members"]["totalCount"], 2);
}

const REMOVE: &str = "mutation($input: RemoveWorkspaceMemberInput!) { removeWorkspaceMember(input: $input) { removedMember { workspaceId userId role } } }";
const ROLE: &str = "mutation($input: UpdateWorkspaceMemberRoleInput!) { updateWorkspaceMemberRole(input: $input) { member { workspaceId userId role } } }";

/// `userId: role` of every member of `ws`, as the database has them.
async fn roles(app: &TestApp, ws: Uuid) -> Vec<(Uuid, String)> {
    sqlx::query_as(
        "SELECT user_id, role FROM public.workspace_members WHERE workspace_id = $1 ORDER BY role, user_id",
    )
    .bind(ws)
    .fetch_all(&app.db.pool)
    .await
    .expect("members")
}

/// Role changes and removals follow `workspace_members`' policies: owners
/// and admins manage members, everyone may leave, the others get
/// FORBIDDEN, non-members NOT_FOUND; nothing of a refused write stays.
#[tokio::test]
async fn member_roles_change_and_members_leave_or_are_removed() {
    let app = spawn_app().await;
    let owner = app.db.create_user("ada@example.com").await;
    let admin = app.db.create_user("bob@example.com").await;
    let plain = app.db.create_user("cy@example.com").await;
    let reader = app.db.create_user("di@example.com").await;
    let outsider = app.db.create_user("eve@example.com").await;
    let w = workspace(&app, owner, "team").await;
    let other = workspace(&app, outsider, "elsewhere").await;
    member(&app, w, admin, "admin").await;
    member(&app, w, plain, "member").await;
    member(&app, w, reader, "viewer").await;
    let before = roles(&app, w).await;
    let input = |user: Uuid, role: &str| json!({ "input": { "workspaceId": w, "userId": user, "role": role } });
    let who = |user: Uuid| json!({ "input": { "workspaceId": w, "userId": user } });

    // Members and viewers may not change roles or remove others: FORBIDDEN.
    for (actor, target, role) in [
        (plain, reader, "ADMIN"),
        (reader, plain, "VIEWER"),
        (reader, reader, "ADMIN"),
        (reader, reader, "VIEWER"),
    ] {
        let resp = app.as_user(actor, ROLE, input(target, role)).await;
        assert_error(&resp, "FORBIDDEN", None);
        assert!(resp.body["data"].is_null(), "{}", resp.body);
    }
    for (actor, target) in [(plain, reader), (reader, admin), (plain, owner)] {
        let resp = app.as_user(actor, REMOVE, who(target)).await;
        assert_error(&resp, "FORBIDDEN", None);
    }
    // A non-member, a workspace the viewer is not in, a user who is not a
    // member: NOT_FOUND, the same answer whether the membership exists.
    for vars in [input(plain, "ADMIN"), input(Uuid::new_v4(), "ADMIN")] {
        let resp = app.as_user(outsider, ROLE, vars).await;
        assert_error(&resp, "NOT_FOUND", None);
    }
    let resp = app.as_user(outsider, REMOVE, who(plain)).await;
    assert_error(&resp, "NOT_FOUND", None);
    assert!(resp.body["data"].is_null(), "{}", resp.body);
    let resp = app.as_user(owner, REMOVE, who(outsider)).await;
    assert_error(&resp, "NOT_FOUND", None);
    let resp = app
        .as_user(
            owner,
            ROLE,
            json!({ "input": { "workspaceId": other, "userId": outsider, "role": "VIEWER" } }),
        )
        .await;
    assert_error(&resp, "NOT_FOUND", None);
    // Anon: UNAUTHENTICATED; an unknown role: BAD_USER_INPUT on the field.
    let resp = app.as_anon(REMOVE, who(plain)).await;
    assert_error(&resp, "UNAUTHENTICATED", None);
    let resp = app.as_anon(ROLE, input(plain, "ADMIN")).await;
    assert_error(&resp, "UNAUTHENTICATED", None);
    let resp = app.as_user(owner, ROLE, input(plain, "BOSS")).await;
    assert_error(&resp, "BAD_USER_INPUT", Some("input.role"));
    assert_eq!(roles(&app, w).await, before);

    // An admin promotes; the payload is the changed membership.
    let data = ok(&app, admin, ROLE, input(plain, "ADMIN")).await;
    assert_eq!(
        data["updateWorkspaceMemberRole"]["member"],
        json!({ "workspaceId": w, "userId": plain, "role": "ADMIN" })
    );
    // The same role again is accepted from an admin (a viewer got
    // FORBIDDEN above).
    let data = ok(&app, plain, ROLE, input(reader, "VIEWER")).await;
    assert_eq!(
        data["updateWorkspaceMemberRole"]["member"]["role"],
        "VIEWER"
    );

    // Anyone may leave: the viewer removes themselves and sees nothing after.
    let data = ok(&app, reader, REMOVE, who(reader)).await;
    assert_eq!(
        data["removeWorkspaceMember"]["removedMember"],
        json!({ "workspaceId": w, "userId": reader, "role": "VIEWER" })
    );
    let data = ok(&app, reader, "{ workspaces { totalCount } }", json!({})).await;
    assert_eq!(data["workspaces"]["totalCount"], 0);
    // The owner removes an admin.
    let data = ok(&app, owner, REMOVE, who(plain)).await;
    assert_eq!(
        data["removeWorkspaceMember"]["removedMember"]["role"],
        "ADMIN"
    );

    // Atomic per request: a later failure rolls back an earlier removal.
    let both = "mutation($a: RemoveWorkspaceMemberInput!, $b: UpdateWorkspaceMemberRoleInput!) {
        removeWorkspaceMember(input: $a) { removedMember { userId } }
        updateWorkspaceMemberRole(input: $b) { member { userId } } }";
    let resp = app
        .as_user(
            owner,
            both,
            json!({ "a": { "workspaceId": w, "userId": admin },
                    "b": { "workspaceId": w, "userId": outsider, "role": "ADMIN" } }),
        )
        .await;
    assert_error(&resp, "NOT_FOUND", None);
    let mut left = vec![(owner, "owner".to_string()), (admin, "admin".to_string())];
    left.sort_by(|x, y| (&x.1, x.0).cmp(&(&y.1, y.0)));
    assert_eq!(roles(&app, w).await, left);

    // Ownership is the owners' (0008_workspace_owners): an admin may not
    // demote or remove an owner, nor make anyone an owner; the refusal says
    // why, and nothing changes.
    for (query, vars) in [
        (ROLE, input(owner, "MEMBER")),
        (ROLE, input(admin, "OWNER")),
        (REMOVE, who(owner)),
    ] {
        let resp = app.as_user(admin, query, vars).await;
        assert_error(&resp, "FORBIDDEN", None);
        assert!(
            resp.body["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("only an owner")),
            "{}",
            resp.body
        );
    }
    // The last owner can neither step down nor leave.
    for (query, vars) in [(ROLE, input(owner, "ADMIN")), (REMOVE, who(owner))] {
        let resp = app.as_user(owner, query, vars).await;
        assert_error(&resp, "FORBIDDEN", None);
        assert!(
            resp.body["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("at least one owner")),
            "{}",
            resp.body
        );
    }
    assert_eq!(roles(&app, w).await, left);
    // Once the owner has made the admin an owner too, they may leave.
    let data = ok(&app, owner, ROLE, input(admin, "OWNER")).await;
    assert_eq!(data["updateWorkspaceMemberRole"]["member"]["role"], "OWNER");
    ok(&app, owner, REMOVE, who(owner)).await;
    assert_eq!(roles(&app, w).await, vec![(admin, "owner".to_string())]);
}

const RECORD: &str = "mutation($input: RecordActivityEventInput!) { recordActivityEvent(input: $input) { event { id userId workspaceId eventType eventName metadata createdAt } } }";

#[tokio::test]
async fn record_activity_events_and_read_them_isolated() {
    let app = spawn_app().await;
    let w = world(&app).await;
    member(&app, w.w1, w.c, "member").await;

    let data = ok(
        &app,
        w.a,
        RECORD,
        json!({ "input": { "eventType": "PAGE_VIEW", "workspaceId": w.w1, "eventName": "home", "metadata": { "k": 1 } } }),
    )
    .await;
    let event = &data["recordActivityEvent"]["event"];
    assert_eq!(id(&event["userId"]), w.a);
    assert_eq!(event["eventType"], "PAGE_VIEW");
    assert_eq!(event["metadata"], json!({ "k": 1 }));
    ok(
        &app,
        w.a,
        RECORD,
        json!({ "input": { "eventType": "LOGIN" } }),
    )
    .await;
    ok(
        &app,
        w.b,
        RECORD,
        json!({ "input": { "eventType": "EXPORT", "workspaceId": w.w2 } }),
    )
    .await;

    // Errors: a value outside the CHECK list, another's workspace, bad
    // metadata, too long a name, anon.
    let resp = app
        .as_user(w.a, RECORD, json!({ "input": { "eventType": "HACK" } }))
        .await;
    assert_error(&resp, "BAD_USER_INPUT", None);
    let resp = app
        .as_user(
            w.a,
            RECORD,
            json!({ "input": { "eventType": "LOGIN", "workspaceId": w.w2 } }),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("workspaceId"));
    let resp = app
        .as_user(
            w.a,
            RECORD,
            json!({ "input": { "eventType": "LOGIN", "metadata": [1] } }),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("metadata"));
    let resp = app
        .as_user(
            w.a,
            RECORD,
            json!({ "input": { "eventType": "LOGIN", "eventName": "x".repeat(101) } }),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("eventName"));
    let resp = app
        .as_anon(RECORD, json!({ "input": { "eventType": "LOGIN" } }))
        .await;
    assert_error(&resp, "UNAUTHENTICATED", None);

    let q = "{ activityEvents { totalCount nodes { userId eventType } } }";
    // A: both own events.
    let data = ok(&app, w.a, q, json!({})).await;
    assert_eq!(data["activityEvents"]["totalCount"], 2);
    // C (member of w1): A's workspace event, not A's private login.
    let data = ok(&app, w.c, q, json!({})).await;
    assert_eq!(data["activityEvents"]["totalCount"], 1);
    assert_eq!(data["activityEvents"]["nodes"][0]["eventType"], "PAGE_VIEW");
    // B: only their own.
    let data = ok(&app, w.b, q, json!({})).await;
    assert_eq!(data["activityEvents"]["totalCount"], 1);
    assert_eq!(data["activityEvents"]["nodes"][0]["eventType"], "EXPORT");

    // Aggregate by event type, within what the viewer sees.
    let q = "{ activityEventAggregate(groupBy: [EVENT_TYPE]) { eventType count uniqueUsers day } }";
    let data = ok(&app, w.a, q, json!({})).await;
    let rows = data["activityEventAggregate"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["count"] == 1 && r["day"].is_null()));
    let data = ok(
        &app,
        w.c,
        "{ activityEventAggregate(groupBy: [DAY, USER]) { userId count } }",
        json!({}),
    )
    .await;
    let rows = data["activityEventAggregate"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(id(&rows[0]["userId"]), w.a);
}

#[tokio::test]
async fn run_aggregates_group_by_and_respect_membership() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let q = "query($g: [AgentRunGroupBy!]!) { agentRunAggregate(groupBy: $g) { day status agentId workspaceId count totalCredits totalTokens avgRuntimeSeconds } }";
    let data = ok(&app, w.a, q, json!({ "g": [] })).await;
    let rows = data["agentRunAggregate"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["count"], 2);
    assert_eq!(rows[0]["totalTokens"], 200);
    let data = ok(&app, w.a, q, json!({ "g": ["STATUS"] })).await;
    let rows = data["agentRunAggregate"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["status"], "COMPLETED");
    assert_eq!(rows[1]["status"], "FAILED");
    let data = ok(&app, w.a, q, json!({ "g": ["DAY", "AGENT", "WORKSPACE"] })).await;
    let rows = data["agentRunAggregate"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["day"], "2024-06-01");
    assert_eq!(id(&rows[0]["agentId"]), w.agent1);
    assert_eq!(id(&rows[0]["workspaceId"]), w.w1);
    // B: only their one run; C: nothing.
    let data = ok(&app, w.b, q, json!({ "g": ["WORKSPACE"] })).await;
    let rows = data["agentRunAggregate"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(id(&rows[0]["workspaceId"]), w.w2);
    let data = ok(&app, w.c, q, json!({ "g": [] })).await;
    assert_eq!(data["agentRunAggregate"][0]["count"], 0);
    // Filtered.
    let data = ok(
        &app,
        w.a,
        "{ agentRunAggregate(where: { status: { eq: FAILED } }) { count } }",
        json!({}),
    )
    .await;
    assert_eq!(data["agentRunAggregate"][0]["count"], 1);
    let resp = app.as_user(w.a, q, json!({ "g": ["COLOUR"] })).await;
    assert_error(&resp, "BAD_USER_INPUT", None);
}

const CREATE_RULE: &str = "mutation($input: CreateAlertRuleInput!) { createAlertRule(input: $input) { alertRule { id name metricType condition thresholdValue isActive evaluationWindowMinutes createdBy triggerCount } } }";

fn rule_input(ws: Uuid) -> Value {
    json!({ "workspaceId": ws, "name": "too many runs", "metricType": "TOTAL_RUNS", "condition": "GREATER_THAN", "thresholdValue": "1" })
}

#[tokio::test]
async fn alert_rules_crud_is_for_contributors_only() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let viewer = app.db.create_user("vi@example.com").await;
    member(&app, w.w1, viewer, "viewer").await;

    let data = ok(&app, w.a, CREATE_RULE, json!({ "input": rule_input(w.w1) })).await;
    let rule = &data["createAlertRule"]["alertRule"];
    assert_eq!(rule["metricType"], "TOTAL_RUNS");
    assert_eq!(rule["evaluationWindowMinutes"], 5);
    assert_eq!(id(&rule["createdBy"]), w.a);
    let rule_id = id(&rule["id"]);

    // Errors on create.
    let resp = app
        .as_user(viewer, CREATE_RULE, json!({ "input": rule_input(w.w1) }))
        .await;
    assert_error(&resp, "FORBIDDEN", None);
    let resp = app
        .as_user(w.b, CREATE_RULE, json!({ "input": rule_input(w.w1) }))
        .await;
    assert_error(&resp, "NOT_FOUND", None);
    let mut bad = rule_input(w.w1);
    bad["evaluationWindowMinutes"] = json!(0);
    let resp = app.as_user(w.a, CREATE_RULE, json!({ "input": bad })).await;
    assert_error(&resp, "BAD_USER_INPUT", Some("evaluationWindowMinutes"));
    let mut bad = rule_input(w.w1);
    bad["metricType"] = json!("CPU");
    let resp = app.as_user(w.a, CREATE_RULE, json!({ "input": bad })).await;
    assert_error(&resp, "BAD_USER_INPUT", None);
    let mut bad = rule_input(w.w1);
    bad["name"] = json!(" ");
    let resp = app.as_user(w.a, CREATE_RULE, json!({ "input": bad })).await;
    assert_error(&resp, "BAD_USER_INPUT", Some("name"));
    let mut bad = rule_input(w.w1);
    bad["notificationChannels"] = json!({ "email": true });
    let resp = app.as_user(w.a, CREATE_RULE, json!({ "input": bad })).await;
    assert_error(&resp, "BAD_USER_INPUT", Some("notificationChannels"));
    let resp = app
        .as_anon(CREATE_RULE, json!({ "input": rule_input(w.w1) }))
        .await;
    assert_error(&resp, "UNAUTHENTICATED", None);

    // Read: members (viewer included), not B.
    let list =
        "query($id: UUID!) { workspace(id: $id) { alertRules { totalCount nodes { id name } } } }";
    let data = ok(&app, viewer, list, json!({ "id": w.w1 })).await;
    assert_eq!(data["workspace"]["alertRules"]["totalCount"], 1);
    let data = ok(&app, w.b, list, json!({ "id": w.w1 })).await;
    assert!(data["workspace"].is_null());

    // Update.
    let update = "mutation($input: UpdateAlertRuleInput!) { updateAlertRule(input: $input) { alertRule { id name isActive thresholdValue } } }";
    let data = ok(
        &app,
        w.a,
        update,
        json!({ "input": { "id": rule_id, "name": "renamed", "isActive": false, "thresholdValue": "5.5" } }),
    )
    .await;
    let rule = &data["updateAlertRule"]["alertRule"];
    assert_eq!(rule["name"], "renamed");
    assert_eq!(rule["isActive"], false);
    assert_eq!(rule["thresholdValue"], "5.50");
    let resp = app
        .as_user(
            viewer,
            update,
            json!({ "input": { "id": rule_id, "name": "x" } }),
        )
        .await;
    assert_error(&resp, "FORBIDDEN", None);
    let resp = app
        .as_user(
            w.b,
            update,
            json!({ "input": { "id": rule_id, "name": "x" } }),
        )
        .await;
    assert_error(&resp, "NOT_FOUND", None);
    let resp = app
        .as_user(
            w.a,
            update,
            json!({ "input": { "id": rule_id, "evaluationWindowMinutes": 20000 } }),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("evaluationWindowMinutes"));
    let resp = app
        .as_anon(update, json!({ "input": { "id": rule_id, "name": "x" } }))
        .await;
    assert_error(&resp, "UNAUTHENTICATED", None);

    // Delete.
    let delete = "mutation($id: UUID!) { deleteAlertRule(input: { id: $id }) { deletedId } }";
    for (user, code) in [
        (viewer, "FORBIDDEN"),
        (w.b, "NOT_FOUND"),
        (w.c, "NOT_FOUND"),
    ] {
        let resp = app.as_user(user, delete, json!({ "id": rule_id })).await;
        assert_error(&resp, code, None);
    }
    let resp = app.as_anon(delete, json!({ "id": rule_id })).await;
    assert_error(&resp, "UNAUTHENTICATED", None);
    let data = ok(&app, w.a, delete, json!({ "id": rule_id })).await;
    assert_eq!(id(&data["deleteAlertRule"]["deletedId"]), rule_id);
    let resp = app.as_user(w.a, delete, json!({ "id": rule_id })).await;
    assert_error(&resp, "NOT_FOUND", None);
}

#[tokio::test]
async fn service_operations_are_forbidden_to_users_and_anon() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let ops = [
        "mutation { aggregateDailyMetrics(input: { date: \"2024-06-01\" }) { rowsWritten } }",
        "mutation { refreshAnalyticsViews { refreshed } }",
        "mutation { cleanupAnalyticsData { userActivityDeleted hourlyMetricsDeleted } }",
        "mutation { evaluateAlertRules { alertsFired } }",
    ];
    for op in ops {
        for resp in [
            app.as_user(w.a, op, json!({})).await,
            app.as_anon(op, json!({})).await,
        ] {
            assert_error(&resp, "FORBIDDEN", None);
        }
    }
    // Nothing was written by the refused calls.
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM analytics.daily_metrics")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
    // The service role may.
    let data = service(&app, ops[1], json!({})).await;
    assert_eq!(data["refreshAnalyticsViews"]["refreshed"], true);
    let data = service(&app, ops[2], json!({})).await;
    assert_eq!(data["cleanupAnalyticsData"]["userActivityDeleted"], 0);
    let data = service(&app, ops[3], json!({})).await;
    assert_eq!(data["evaluateAlertRules"]["alertsFired"], 0);
}

#[tokio::test]
async fn cleanup_deletes_old_activity_and_hourly_rows() {
    let app = spawn_app().await;
    let w = world(&app).await;
    sqlx::query(
        "INSERT INTO analytics.user_activity (user_id, event_type, created_at) VALUES
           ($1, 'login', now() - interval '100 days'), ($1, 'login', now())",
    )
    .bind(w.a)
    .execute(&app.db.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO analytics.hourly_metrics (workspace_id, metric_hour) VALUES
           ($1, date_trunc('hour', now()) - interval '40 days'), ($1, date_trunc('hour', now()))",
    )
    .bind(w.w1)
    .execute(&app.db.pool)
    .await
    .unwrap();
    let data = service(
        &app,
        "mutation { cleanupAnalyticsData { userActivityDeleted hourlyMetricsDeleted } }",
        json!({}),
    )
    .await;
    assert_eq!(data["cleanupAnalyticsData"]["userActivityDeleted"], 1);
    assert_eq!(data["cleanupAnalyticsData"]["hourlyMetricsDeleted"], 1);
}

const AGGREGATE: &str = "mutation($date: NaiveDate!, $ws: UUID) { aggregateDailyMetrics(input: { date: $date, workspaceId: $ws }) { rowsWritten metrics { id metricDate workspaceId totalRuns successfulRuns failedRuns totalCreditsConsumed errorRate topAgents creditsByModel errorsByType activeUsers } } }";

#[tokio::test]
async fn daily_aggregation_is_idempotent_and_read_by_members_only() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let first = service(&app, AGGREGATE, json!({ "date": "2024-06-01", "ws": null })).await;
    let second = service(&app, AGGREGATE, json!({ "date": "2024-06-01", "ws": null })).await;
    // Two workspaces plus the platform-wide row, the same both times.
    assert_eq!(first["aggregateDailyMetrics"]["rowsWritten"], 3);
    assert_eq!(first, second);
    let rows = first["aggregateDailyMetrics"]["metrics"]
        .as_array()
        .unwrap();
    let w1_row = rows
        .iter()
        .find(|r| r["workspaceId"] == json!(w.w1))
        .expect("w1 row");
    assert_eq!(w1_row["totalRuns"], 2);
    assert_eq!(w1_row["failedRuns"], 1);
    assert_eq!(w1_row["errorRate"], "50.00");
    assert_eq!(w1_row["totalCreditsConsumed"], "3.00");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM analytics.daily_metrics")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(n, 3);
    // One workspace only.
    let data = service(&app, AGGREGATE, json!({ "date": "2024-06-01", "ws": w.w2 })).await;
    assert_eq!(data["aggregateDailyMetrics"]["rowsWritten"], 1);
    assert_eq!(
        data["aggregateDailyMetrics"]["metrics"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let resp = app
        .post(
            Some(&app.service_token()),
            AGGREGATE,
            json!({ "date": "June first", "ws": null }),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT", None);

    // Members read their workspace's rows over a range; others nothing.
    let q = "query($id: UUID!, $from: NaiveDate, $to: NaiveDate) { workspace(id: $id) { dailyMetrics(from: $from, to: $to) { totalCount nodes { metricDate totalRuns } } } }";
    let data = ok(
        &app,
        w.a,
        q,
        json!({ "id": w.w1, "from": "2024-06-01", "to": "2024-06-30" }),
    )
    .await;
    assert_eq!(data["workspace"]["dailyMetrics"]["totalCount"], 1);
    assert_eq!(
        data["workspace"]["dailyMetrics"]["nodes"][0]["totalRuns"],
        2
    );
    let data = ok(
        &app,
        w.a,
        q,
        json!({ "id": w.w1, "from": "2024-06-02", "to": null }),
    )
    .await;
    assert_eq!(data["workspace"]["dailyMetrics"]["totalCount"], 0);
    let resp = app
        .as_user(
            w.a,
            q,
            json!({ "id": w.w1, "from": "2024-06-30", "to": "2024-06-01" }),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("from"));
    for user in [w.b, w.c] {
        let data = ok(
            &app,
            user,
            q,
            json!({ "id": w.w1, "from": null, "to": null }),
        )
        .await;
        assert!(data["workspace"].is_null());
    }
    // B's own workspace shows only its row, never the platform-wide one.
    let data = ok(
        &app,
        w.b,
        q,
        json!({ "id": w.w2, "from": null, "to": null }),
    )
    .await;
    assert_eq!(data["workspace"]["dailyMetrics"]["totalCount"], 1);
    assert_eq!(
        data["workspace"]["dailyMetrics"]["nodes"][0]["totalRuns"],
        1
    );
}

#[tokio::test]
async fn alerts_are_evaluated_by_the_service_and_acknowledged_by_members() {
    let app = spawn_app().await;
    let w = world(&app).await;
    ok(&app, w.a, CREATE_RULE, json!({ "input": rule_input(w.w1) })).await;
    service(&app, AGGREGATE, json!({ "date": "2024-06-01", "ws": null })).await;
    let data = service(
        &app,
        "mutation { evaluateAlertRules { alertsFired } }",
        json!({}),
    )
    .await;
    assert_eq!(data["evaluateAlertRules"]["alertsFired"], 1);

    let q = "query($id: UUID!, $u: Boolean) { workspace(id: $id) { alertRules { nodes { triggerCount lastTriggeredAt } } alertHistory(unacknowledgedOnly: $u) { totalCount nodes { id metricValue thresholdValue notificationStatus acknowledgedBy } } } }";
    let data = ok(&app, w.a, q, json!({ "id": w.w1, "u": true })).await;
    let ws = &data["workspace"];
    assert_eq!(ws["alertRules"]["nodes"][0]["triggerCount"], 1);
    assert_eq!(ws["alertHistory"]["totalCount"], 1);
    let alert = &ws["alertHistory"]["nodes"][0];
    assert_eq!(alert["metricValue"], "2.00");
    assert_eq!(alert["notificationStatus"], "PENDING");
    let alert_id = id(&alert["id"]);

    let ack = "mutation($input: AcknowledgeAlertInput!) { acknowledgeAlert(input: $input) { alert { id acknowledgedBy acknowledgedAt notes } } }";
    for user in [w.b, w.c] {
        let resp = app
            .as_user(user, ack, json!({ "input": { "id": alert_id } }))
            .await;
        assert_error(&resp, "NOT_FOUND", None);
    }
    let resp = app
        .as_anon(ack, json!({ "input": { "id": alert_id } }))
        .await;
    assert_error(&resp, "UNAUTHENTICATED", None);
    let data = ok(
        &app,
        w.a,
        ack,
        json!({ "input": { "id": alert_id, "notes": "looking" } }),
    )
    .await;
    let alert = &data["acknowledgeAlert"]["alert"];
    assert_eq!(id(&alert["acknowledgedBy"]), w.a);
    assert_eq!(alert["notes"], "looking");
    let at = alert["acknowledgedAt"].clone();
    // Acknowledging again (another member) keeps the first acknowledgement.
    member(&app, w.w1, w.c, "viewer").await;
    let data = ok(&app, w.c, ack, json!({ "input": { "id": alert_id } })).await;
    assert_eq!(
        id(&data["acknowledgeAlert"]["alert"]["acknowledgedBy"]),
        w.a
    );
    assert_eq!(data["acknowledgeAlert"]["alert"]["acknowledgedAt"], at);
    let data = ok(&app, w.a, q, json!({ "id": w.w1, "u": true })).await;
    assert_eq!(data["workspace"]["alertHistory"]["totalCount"], 0);
    let data = ok(&app, w.a, q, json!({ "id": w.w1, "u": false })).await;
    assert_eq!(data["workspace"]["alertHistory"]["totalCount"], 1);
    // B's workspace has no alerts.
    let data = ok(&app, w.b, q, json!({ "id": w.w2, "u": false })).await;
    assert_eq!(data["workspace"]["alertHistory"]["totalCount"], 0);
}

#[tokio::test]
async fn materialized_views_reach_members_through_the_member_views() {
    let app = spawn_app().await;
    let w = world(&app).await;
    // Recent activity so the 30/90-day windows see it, on the same UTC day
    // as the activity event below (an hour ago is yesterday before 01:00).
    run(
        &app,
        w.agent1,
        w.w1,
        w.a,
        "completed",
        "greatest(now() - interval '1 hour', date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')",
    )
    .await;
    ok(
        &app,
        w.a,
        RECORD,
        json!({ "input": { "eventType": "PAGE_VIEW", "workspaceId": w.w1 } }),
    )
    .await;
    let q = "query($id: UUID!) { workspace(id: $id) {
        summary { workspaceName totalMembers totalAgents totalRuns30d }
        topAgents { nodes { agentId agentName totalRuns30d successRate } }
        activeUsers { totalCount nodes { activityDate dailyActiveUsers monthlyActiveUsers } } } }";
    // Before the refresh the views know nothing of the new rows.
    let data = ok(&app, w.a, q, json!({ "id": w.w1 })).await;
    assert!(data["workspace"]["summary"].is_null());

    service(
        &app,
        "mutation { refreshAnalyticsViews { refreshed } }",
        json!({}),
    )
    .await;
    let data = ok(&app, w.a, q, json!({ "id": w.w1 })).await;
    let ws = &data["workspace"];
    assert_eq!(ws["summary"]["workspaceName"], "Ada's");
    assert_eq!(ws["summary"]["totalMembers"], 1);
    assert_eq!(ws["summary"]["totalAgents"], 1);
    assert_eq!(ws["summary"]["totalRuns30d"], 1);
    assert_eq!(id(&ws["topAgents"]["nodes"][0]["agentId"]), w.agent1);
    assert_eq!(ws["topAgents"]["nodes"][0]["totalRuns30d"], 1);
    assert_eq!(ws["activeUsers"]["totalCount"], 1);
    assert_eq!(ws["activeUsers"]["nodes"][0]["dailyActiveUsers"], 1);

    // B and C: the workspace is invisible; B's own holds only B's figures.
    for user in [w.b, w.c] {
        let data = ok(&app, user, q, json!({ "id": w.w1 })).await;
        assert!(data["workspace"].is_null());
    }
    let data = ok(&app, w.b, q, json!({ "id": w.w2 })).await;
    let ws = &data["workspace"];
    assert_eq!(ws["summary"]["workspaceName"], "Bob's");
    assert_eq!(ws["topAgents"]["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(ws["topAgents"]["nodes"][0]["agentName"], "other");
    assert_eq!(ws["activeUsers"]["totalCount"], 0);
}

#[tokio::test]
async fn hourly_metrics_performance_and_cohorts_are_member_only() {
    let app = spawn_app().await;
    let w = world(&app).await;
    sqlx::query(
        "INSERT INTO analytics.hourly_metrics (workspace_id, metric_hour, total_runs) VALUES
           ($1, '2024-06-01T10:00:00Z', 3), ($1, '2024-06-01T11:00:00Z', 4), ($2, '2024-06-01T10:00:00Z', 9)",
    )
    .bind(w.w1)
    .bind(w.w2)
    .execute(&app.db.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO analytics.agent_performance (agent_id, workspace_id, metric_date, total_runs) VALUES
           ($1, $2, '2024-06-01', 2), ($1, $2, '2024-06-02', 0)",
    )
    .bind(w.agent1)
    .bind(w.w1)
    .execute(&app.db.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO analytics.user_cohorts (workspace_id, cohort_period, cohort_date, initial_users, retention_data) VALUES
           ($1, 'weekly', '2024-06-03', 10, '{\"day_7\": 80}'), ($1, 'monthly', '2024-06-01', 30, '{}')",
    )
    .bind(w.w1)
    .execute(&app.db.pool)
    .await
    .unwrap();
    let q = "query($id: UUID!) { workspace(id: $id) {
        hourlyMetrics(from: \"2024-06-01T10:30:00Z\") { totalCount nodes { totalRuns } }
        all: hourlyMetrics { totalCount }
        agentPerformance(from: \"2024-06-01\", to: \"2024-06-01\") { totalCount nodes { agentId totalRuns } }
        cohorts(period: WEEKLY) { totalCount nodes { cohortPeriod initialUsers retentionData } }
        allCohorts: cohorts { totalCount } } }";
    let data = ok(&app, w.a, q, json!({ "id": w.w1 })).await;
    let ws = &data["workspace"];
    assert_eq!(ws["hourlyMetrics"]["totalCount"], 1);
    assert_eq!(ws["hourlyMetrics"]["nodes"][0]["totalRuns"], 4);
    assert_eq!(ws["all"]["totalCount"], 2);
    assert_eq!(ws["agentPerformance"]["totalCount"], 1);
    assert_eq!(ws["agentPerformance"]["nodes"][0]["totalRuns"], 2);
    assert_eq!(ws["cohorts"]["totalCount"], 1);
    assert_eq!(
        ws["cohorts"]["nodes"][0]["retentionData"],
        json!({ "day_7": 80 })
    );
    assert_eq!(ws["allCohorts"]["totalCount"], 2);
    for user in [w.b, w.c] {
        let data = ok(&app, user, q, json!({ "id": w.w1 })).await;
        assert!(data["workspace"].is_null());
    }
    let data = ok(&app, w.b, q, json!({ "id": w.w2 })).await;
    let ws = &data["workspace"];
    assert_eq!(ws["all"]["totalCount"], 1);
    assert_eq!(ws["agentPerformance"]["totalCount"], 0);
    assert_eq!(ws["allCohorts"]["totalCount"], 0);
}

/// Runs `sql` (binding `ws`, then `agent` when it has `$2`) as the superuser.
async fn exec(app: &TestApp, sql: &'static str, ws: Uuid, agent: Option<Uuid>) {
    let mut q = sqlx::query(sql).bind(ws);
    if let Some(agent) = agent {
        q = q.bind(agent);
    }
    q.execute(&app.db.pool).await.expect(sql);
}

/// Values of `field` in the nodes of `connection`.
fn column(connection: &Value, field: &str) -> Vec<Value> {
    connection["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n[field].clone())
        .collect()
}

/// Every nested list of a workspace takes `orderBy` on its indexed
/// ordering, both directions, with the documented defaults; each distinct
/// ordering is one statement for all workspaces of the response.
#[tokio::test]
async fn nested_workspace_lists_take_order_by() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let later: Uuid = sqlx::query_scalar(
        "INSERT INTO public.agents (workspace_id, name, created_at)
         VALUES ($1, 'later', '2024-02-01T00:00:00Z') RETURNING id",
    )
    .bind(w.w1)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    exec(
        &app,
        "INSERT INTO analytics.daily_metrics (workspace_id, metric_date, total_runs)
        VALUES ($1, '2024-06-01', 1), ($1, '2024-06-02', 2)",
        w.w1,
        None,
    )
    .await;
    exec(
        &app,
        "INSERT INTO analytics.hourly_metrics (workspace_id, metric_hour, total_runs)
        VALUES ($1, '2024-06-01T10:00:00Z', 1), ($1, '2024-06-01T11:00:00Z', 2)",
        w.w1,
        None,
    )
    .await;
    exec(
        &app,
        "INSERT INTO analytics.agent_performance (workspace_id, agent_id, metric_date, total_runs)
        VALUES ($1, $2, '2024-06-01', 2), ($1, $2, '2024-06-02', 0)",
        w.w1,
        Some(w.agent1),
    )
    .await;
    exec(
        &app,
        "INSERT INTO analytics.agent_performance (workspace_id, agent_id, metric_date, total_runs)
        VALUES ($1, $2, '2024-06-01', 5)",
        w.w1,
        Some(later),
    )
    .await;
    exec(&app, "INSERT INTO analytics.user_cohorts (workspace_id, cohort_period, cohort_date, initial_users, retention_data)
        VALUES ($1, 'weekly', '2024-06-03', 1, '{}'), ($1, 'weekly', '2024-06-10', 2, '{}')", w.w1, None).await;
    exec(&app, "WITH r AS (INSERT INTO analytics.alert_rules (workspace_id, name, metric_type, condition, threshold_value)
          VALUES ($1, 'r', 'total_runs', 'greater_than', 1) RETURNING id)
        INSERT INTO analytics.alert_history (alert_rule_id, workspace_id, triggered_at, metric_value)
        SELECT id, $1, t, v FROM r, (VALUES ('2024-06-01T10:00:00Z'::timestamptz, 1), ('2024-06-02T10:00:00Z', 2)) AS x(t, v)",
        w.w1, None).await;
    // Recent runs (two of `later`, one of agent1) and activity on two days
    // for the materialized views.
    for agent in [later, later, w.agent1] {
        run(
            &app,
            agent,
            w.w1,
            w.a,
            "completed",
            "now() - interval '1 hour'",
        )
        .await;
    }
    exec(&app, "INSERT INTO analytics.user_activity (user_id, workspace_id, event_type, created_at)
        SELECT owner_id, id, 'page_view', now() - interval '3 days' FROM public.workspaces WHERE id = $1",
        w.w1, None).await;
    service(
        &app,
        "mutation { refreshAnalyticsViews { refreshed } }",
        json!({}),
    )
    .await;

    let q = "query($id: UUID!, $d: SortDirection!) { workspace(id: $id) {
        agents(orderBy: [{ field: CREATED_AT, direction: $d }]) { nodes { name } }
        defaultAgents: agents { nodes { name } }
        dailyMetrics(orderBy: [{ field: METRIC_DATE, direction: $d }]) { nodes { totalRuns } }
        hourlyMetrics(orderBy: [{ field: METRIC_HOUR, direction: $d }]) { nodes { totalRuns } }
        agentPerformance(orderBy: [{ field: METRIC_DATE, direction: $d }, { field: TOTAL_RUNS, direction: $d }]) { nodes { totalRuns } }
        cohorts(orderBy: [{ field: COHORT_DATE, direction: $d }]) { nodes { initialUsers } }
        alertHistory(orderBy: [{ field: TRIGGERED_AT, direction: $d }]) { nodes { metricValue } }
        activeUsers(orderBy: [{ field: ACTIVITY_DATE, direction: $d }]) { nodes { activityDate } }
        topAgents(orderBy: [{ field: TOTAL_RUNS_30D, direction: $d }]) { nodes { totalRuns30d } } } }";
    let asc = ok(&app, w.a, q, json!({ "id": w.w1, "d": "ASC" })).await;
    let desc = ok(&app, w.a, q, json!({ "id": w.w1, "d": "DESC" })).await;
    let (asc, desc) = (&asc["workspace"], &desc["workspace"]);
    assert_eq!(
        column(&asc["agents"], "name"),
        [json!("summarizer"), json!("later")]
    );
    assert_eq!(
        column(&desc["agents"], "name"),
        [json!("later"), json!("summarizer")]
    );
    assert_eq!(
        column(&asc["defaultAgents"], "name"),
        column(&asc["agents"], "name")
    );
    assert_eq!(
        column(&asc["dailyMetrics"], "totalRuns"),
        [json!(1), json!(2)]
    );
    assert_eq!(
        column(&desc["dailyMetrics"], "totalRuns"),
        [json!(2), json!(1)]
    );
    assert_eq!(
        column(&asc["hourlyMetrics"], "totalRuns"),
        [json!(1), json!(2)]
    );
    assert_eq!(
        column(&desc["hourlyMetrics"], "totalRuns"),
        [json!(2), json!(1)]
    );
    assert_eq!(
        column(&asc["agentPerformance"], "totalRuns"),
        [json!(2), json!(5), json!(0)]
    );
    assert_eq!(
        column(&desc["agentPerformance"], "totalRuns"),
        [json!(0), json!(5), json!(2)]
    );
    assert_eq!(
        column(&asc["cohorts"], "initialUsers"),
        [json!(1), json!(2)]
    );
    assert_eq!(
        column(&desc["cohorts"], "initialUsers"),
        [json!(2), json!(1)]
    );
    assert_eq!(
        column(&asc["alertHistory"], "metricValue"),
        [json!("1.00"), json!("2.00")]
    );
    assert_eq!(
        column(&desc["alertHistory"], "metricValue"),
        [json!("2.00"), json!("1.00")]
    );
    let days = column(&asc["activeUsers"], "activityDate");
    assert_eq!(days.len(), 2, "{asc}");
    assert!(days[0].as_str() < days[1].as_str());
    let mut reversed = column(&desc["activeUsers"], "activityDate");
    reversed.reverse();
    assert_eq!(days, reversed);
    assert_eq!(
        column(&asc["topAgents"], "totalRuns30d"),
        [json!(1), json!(2)]
    );
    assert_eq!(
        column(&desc["topAgents"], "totalRuns30d"),
        [json!(2), json!(1)]
    );

    // The defaults are unchanged: newest (most runs) first.
    let q = "query($id: UUID!) { workspace(id: $id) { dailyMetrics { nodes { totalRuns } }
        topAgents { nodes { totalRuns30d } } } }";
    let data = ok(&app, w.a, q, json!({ "id": w.w1 })).await;
    assert_eq!(
        column(&data["workspace"]["dailyMetrics"], "totalRuns"),
        [json!(2), json!(1)]
    );
    assert_eq!(
        column(&data["workspace"]["topAgents"], "totalRuns30d"),
        [json!(2), json!(1)]
    );

    // An unknown field is BAD_USER_INPUT; other users see nothing.
    let resp = app
        .as_user(
            w.a,
            "query($id: UUID!) { workspace(id: $id) { agents(orderBy: [{ field: NAME }]) { nodes { id } } } }",
            json!({ "id": w.w1 }),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("orderBy.0.field"));
    for user in [w.b, w.c] {
        let q = "query($id: UUID!) { workspace(id: $id) { agents(orderBy: [{ field: CREATED_AT }]) { nodes { id } } } }";
        let data = ok(&app, user, q, json!({ "id": w.w1 })).await;
        assert!(data["workspace"].is_null());
    }

    // Two orderings of one list over every workspace: one statement each.
    let q = "{ workspaces { nodes { id
        up: dailyMetrics(orderBy: [{ field: METRIC_DATE, direction: ASC }]) { nodes { id } }
        down: dailyMetrics(orderBy: [{ field: METRIC_DATE, direction: DESC }]) { nodes { id } } } } }";
    member(&app, w.w2, w.a, "viewer").await;
    app.reset_statements();
    let data = ok(&app, w.a, q, json!({})).await;
    assert_eq!(data["workspaces"]["nodes"].as_array().unwrap().len(), 2);
    let statements = app.statements();
    assert_eq!(statements.len(), 3, "{statements:#?}");
}

/// workspaces -> agents -> runs costs one statement per level, whatever the
/// number of workspaces.
#[tokio::test]
async fn nested_workspace_query_costs_constant_statements() {
    let app = spawn_app().await;
    let a = app.db.create_user("ada@example.com").await;
    let seed = |n: usize| {
        let app = &app;
        async move {
            for i in 0..n {
                let ws = workspace(app, a, &format!("w{i}")).await;
                for j in 0..2 {
                    let ag = agent(app, ws, &format!("a{j}")).await;
                    run(app, ag, ws, a, "completed", "'2024-06-01T10:00:00Z'").await;
                    run(app, ag, ws, a, "failed", "'2024-06-01T11:00:00Z'").await;
                }
            }
        }
    };
    let query = "{ workspaces(first: 50) { nodes { id agents(first: 5) { nodes { id runs(first: 5) { nodes { id status } } } } } } }";
    seed(3).await;
    app.reset_statements();
    let data = ok(&app, a, query, json!({})).await;
    let few = app.statements();
    assert_eq!(data["workspaces"]["nodes"].as_array().unwrap().len(), 3);

    seed(7).await;
    app.reset_statements();
    let data = ok(&app, a, query, json!({})).await;
    let many = app.statements();
    let nodes = data["workspaces"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 10);
    for node in nodes {
        let agents = node["agents"]["nodes"].as_array().unwrap();
        assert_eq!(agents.len(), 2);
        for agent in agents {
            assert_eq!(agent["runs"]["nodes"].as_array().unwrap().len(), 2);
        }
    }
    // workspaces, their agents, the agents' runs.
    assert_eq!(few.len(), 3, "{few:#?}");
    assert_eq!(many.len(), 3, "{many:#?}");
}

#[tokio::test]
async fn root_lists_page_with_cursors_and_the_service_role_sees_all() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let w3 = workspace(&app, w.a, "Ada's second").await;
    let q = "query($after: String) { workspaces(first: 1, after: $after) { pageInfo { hasNextPage hasPreviousPage endCursor } nodes { id } } }";
    let data = ok(&app, w.a, q, json!({ "after": null })).await;
    let page = &data["workspaces"];
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let cursor = page["pageInfo"]["endCursor"].clone();
    let data = ok(&app, w.a, q, json!({ "after": cursor })).await;
    let page = &data["workspaces"];
    assert_eq!(page["pageInfo"]["hasNextPage"], false);
    assert_eq!(page["pageInfo"]["hasPreviousPage"], true);
    let first = id(&page["nodes"][0]["id"]);
    assert!(first == w3 || first == w.w1);
    let resp = app
        .as_user(w.a, q, json!({ "after": "not-a-cursor" }))
        .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("after"));
    let resp = app
        .as_user(
            w.a,
            "{ agentRuns(first: 1, last: 1) { totalCount } }",
            json!({}),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("first"));
    // An hourly range that ends before it starts.
    let resp = app
        .as_user(
            w.a,
            "query($id: UUID!) { workspace(id: $id) { hourlyMetrics(from: \"2024-06-02T00:00:00Z\", to: \"2024-06-01T00:00:00Z\") { totalCount } } }",
            json!({ "id": w.w1 }),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("from"));
    // The service role bypasses membership: every workspace and run.
    let data = service(
        &app,
        "{ workspaces { totalCount } agentRuns { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(data["workspaces"]["totalCount"], 3);
    assert_eq!(data["agentRuns"]["totalCount"], 3);
    // B never sees A's workspaces, whatever the filter.
    let data = ok(
        &app,
        w.b,
        "query($ids: [UUID!]) { workspaces(where: { id: { in: $ids } }) { totalCount } }",
        json!({ "ids": [w.w1, w3] }),
    )
    .await;
    assert_eq!(data["workspaces"]["totalCount"], 0);
    // Root agents: the viewer's workspaces' only.
    let q = "query($w: UUID!) { agents(where: { workspaceId: { eq: $w } }) { totalCount nodes { id name } } }";
    let data = ok(&app, w.a, q, json!({ "w": w.w1 })).await;
    assert_eq!(data["agents"]["totalCount"], 1);
    assert_eq!(id(&data["agents"]["nodes"][0]["id"]), w.agent1);
    for user in [w.b, w.c] {
        let data = ok(&app, user, q, json!({ "w": w.w1 })).await;
        assert_eq!(data["agents"]["totalCount"], 0);
    }
    let data = ok(&app, w.b, q, json!({ "w": w.w2 })).await;
    assert_eq!(data["agents"]["totalCount"], 1);
    let resp = app.as_anon(q, json!({ "w": w.w1 })).await;
    assert_error(&resp, "UNAUTHENTICATED", None);
}
