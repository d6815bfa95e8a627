//! API tests of the prompt lab domain: the real gateway over HTTP on a fresh
//! database per test. Fixtures go in through the API, except counters that
//! need fixed values (through the superuser pool).

use crate::common::app::{spawn_app, GqlResponse, TestApp};
use crate::common::sqlx;
use serde_json::{json, Value};
use uuid::Uuid;

const PROMPT_FIELDS: &str = "id userId title goal template variables isPublic createdAt updatedAt";
const TEMPLATE_FIELDS: &str =
    "id promptId userId category tags likesCount usesCount createdAt updatedAt";

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

const CREATE_PROMPT: &str = "mutation($input: CreatePromptInput!) { createPrompt(input: $input) { prompt { id userId title goal template variables isPublic answers { totalCount nodes { questionId questionText answer } } } } }";

async fn create_prompt_raw(app: &TestApp, user: Option<Uuid>, input: Value) -> GqlResponse {
    let vars = json!({ "input": input });
    match user {
        Some(user) => app.as_user(user, CREATE_PROMPT, vars).await,
        None => app.as_anon(CREATE_PROMPT, vars).await,
    }
}

/// A prompt of `user` made through the API, with one answer.
async fn create_prompt(app: &TestApp, user: Uuid, title: &str, goal: &str, public: bool) -> Uuid {
    let resp = create_prompt_raw(
        app,
        Some(user),
        json!({
            "title": title, "goal": goal, "template": "Write {{topic}}",
            "variables": ["topic"], "isPublic": public,
            "answers": [{ "questionId": "tone", "questionText": "Which tone?", "answer": "calm" }]
        }),
    )
    .await;
    resp.data()["createPrompt"]["prompt"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn publish_raw(app: &TestApp, user: Option<Uuid>, input: Value) -> GqlResponse {
    let query = format!(
        "mutation($input: PublishTemplateInput!) {{ publishTemplate(input: $input) {{ template {{ {TEMPLATE_FIELDS} }} }} }}"
    );
    let vars = json!({ "input": input });
    match user {
        Some(user) => app.as_user(user, &query, vars).await,
        None => app.as_anon(&query, vars).await,
    }
}

/// Publishes `prompt` of `user` as a template of `category`.
async fn publish(app: &TestApp, user: Uuid, prompt: Uuid, category: Option<&str>) -> Uuid {
    let resp = publish_raw(
        app,
        Some(user),
        json!({ "promptId": prompt, "category": category, "tags": ["a", "b"] }),
    )
    .await;
    resp.data()["publishTemplate"]["template"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// A prompt published as a template, in one go.
async fn template(
    app: &TestApp,
    user: Uuid,
    title: &str,
    goal: &str,
    category: Option<&str>,
) -> Uuid {
    let prompt = create_prompt(app, user, title, goal, false).await;
    publish(app, user, prompt, category).await
}

/// Sets a template's counters directly (as the superuser).
async fn set_counts(app: &TestApp, template: Uuid, likes: i32, uses: i32) {
    sqlx::query(
        "UPDATE prompt_lab.prompt_templates SET likes_count = $2, uses_count = $3 WHERE id = $1",
    )
    .bind(template)
    .bind(likes)
    .bind(uses)
    .execute(&app.db.pool)
    .await
    .expect("set counts");
}

async fn count_rows(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM prompt_lab.{table}"
    )))
    .fetch_one(&app.db.pool)
    .await
    .expect("count")
}

fn ids(nodes: &Value) -> Vec<String> {
    nodes
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect()
}

/// Runs a one-template mutation (`likeTemplate`, ...) as `user` (anon when
/// None), selecting `selection` of the payload.
async fn template_mutation(
    app: &TestApp,
    user: Option<Uuid>,
    name: &str,
    template: Uuid,
    selection: &str,
) -> GqlResponse {
    let input = format!("{}{}Input", name[..1].to_uppercase(), &name[1..]);
    let query = format!("mutation($input: {input}!) {{ {name}(input: $input) {{ {selection} }} }}");
    let vars = json!({ "input": { "templateId": template } });
    match user {
        Some(user) => app.as_user(user, &query, vars).await,
        None => app.as_anon(&query, vars).await,
    }
}

#[tokio::test]
async fn prompt_lifecycle() {
    let app = spawn_app().await;
    let ada = app.db.create_user("ada@example.com").await;
    let resp = create_prompt_raw(
        &app,
        Some(ada),
        json!({
            "title": "Blog post", "goal": "Write a post", "template": "About {{topic}}",
            "variables": ["topic"],
            "answers": [
                { "questionId": "audience", "questionText": "Who reads it?", "answer": "devs" },
                { "questionId": "length", "answer": "short" }
            ]
        }),
    )
    .await;
    let p = resp.data()["createPrompt"]["prompt"].clone();
    assert_eq!(p["userId"], ada.to_string());
    assert_eq!(p["title"], "Blog post");
    assert_eq!(p["variables"], json!(["topic"]));
    assert_eq!(p["isPublic"], false);
    assert_eq!(p["answers"]["totalCount"], 2);
    assert_eq!(
        p["answers"]["nodes"],
        json!([
            { "questionId": "audience", "questionText": "Who reads it?", "answer": "devs" },
            { "questionId": "length", "questionText": "length", "answer": "short" }
        ])
    );
    let id = p["id"].as_str().unwrap().to_string();

    let data = ok(
        &app,
        ada,
        &format!("mutation($input: UpdatePromptInput!) {{ updatePrompt(input: $input) {{ prompt {{ {PROMPT_FIELDS} }} }} }}"),
        json!({ "input": { "id": id, "title": "Blog post v2", "isPublic": true, "variables": ["topic", "tone"] } }),
    )
    .await;
    let p = &data["updatePrompt"]["prompt"];
    assert_eq!(p["title"], "Blog post v2");
    assert_eq!(p["goal"], "Write a post");
    assert_eq!(p["isPublic"], true);
    assert_eq!(p["variables"], json!(["topic", "tone"]));

    // An update without changes returns the prompt as it is.
    let data = ok(
        &app,
        ada,
        "mutation($input: UpdatePromptInput!) { updatePrompt(input: $input) { prompt { title } } }",
        json!({ "input": { "id": id } }),
    )
    .await;
    assert_eq!(data["updatePrompt"]["prompt"]["title"], "Blog post v2");

    let data = ok(
        &app,
        ada,
        "query($id: UUID!) { promptLabPrompt(id: $id) { id title } promptLabPrompts { totalCount nodes { id } } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(data["promptLabPrompt"]["title"], "Blog post v2");
    assert_eq!(data["promptLabPrompts"]["totalCount"], 1);

    let data = ok(
        &app,
        ada,
        "mutation($input: DeletePromptInput!) { deletePrompt(input: $input) { deletedId } }",
        json!({ "input": { "id": id } }),
    )
    .await;
    assert_eq!(data["deletePrompt"]["deletedId"], id);
    assert_eq!(count_rows(&app, "prompts").await, 0);
    assert_eq!(count_rows(&app, "prompt_answers").await, 0);
    let resp = app
        .as_user(
            ada,
            "mutation($input: DeletePromptInput!) { deletePrompt(input: $input) { deletedId } }",
            json!({ "input": { "id": id } }),
        )
        .await;
    assert_error(&resp, "NOT_FOUND", None);
}

#[tokio::test]
async fn create_prompt_validates_input() {
    let app = spawn_app().await;
    let ada = app.db.create_user("ada@example.com").await;
    let base = json!({ "title": "T", "goal": "G", "template": "x" });
    let with = |patch: Value| {
        let mut v = base.clone();
        for (k, val) in patch.as_object().unwrap() {
            v[k] = val.clone();
        }
        v
    };
    let resp = create_prompt_raw(&app, Some(ada), with(json!({ "title": "  " }))).await;
    assert_error(&resp, "BAD_USER_INPUT", Some("title"));
    let resp = create_prompt_raw(&app, Some(ada), with(json!({ "title": "x".repeat(256) }))).await;
    assert_error(&resp, "BAD_USER_INPUT", Some("title"));
    let resp = create_prompt_raw(&app, Some(ada), with(json!({ "goal": "" }))).await;
    assert_error(&resp, "BAD_USER_INPUT", Some("goal"));
    let resp = create_prompt_raw(
        &app,
        Some(ada),
        with(json!({ "answers": [{ "questionId": " ", "answer": "a" }] })),
    )
    .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("answers"));
    let resp = create_prompt_raw(&app, None, base.clone()).await;
    assert_error(&resp, "UNAUTHENTICATED", None);
    assert_eq!(count_rows(&app, "prompts").await, 0);
}

/// A duplicate question in the middle of the answers fails inside the
/// database, after the prompt row and the first answers were written: none
/// of it stays, and the request's other work is unaffected.
#[tokio::test]
async fn create_prompt_is_all_or_nothing() {
    let app = spawn_app().await;
    let ada = app.db.create_user("ada@example.com").await;
    let resp = create_prompt_raw(
        &app,
        Some(ada),
        json!({
            "title": "T", "goal": "G", "template": "x",
            "answers": [
                { "questionId": "q1", "answer": "a" },
                { "questionId": "q2", "answer": "b" },
                { "questionId": "q1", "answer": "again" },
                { "questionId": "q3", "answer": "c" }
            ]
        }),
    )
    .await;
    assert_error(&resp, "CONFLICT", None);
    assert_eq!(count_rows(&app, "prompts").await, 0);
    assert_eq!(count_rows(&app, "prompt_answers").await, 0);

    // Two creates in one request, the second failing: the request rolls back
    // as a whole.
    let resp = app
        .as_user(
            ada,
            "mutation($a: CreatePromptInput!, $b: CreatePromptInput!) {
               a: createPrompt(input: $a) { prompt { id } }
               b: createPrompt(input: $b) { prompt { id } } }",
            json!({
                "a": { "title": "A", "goal": "G", "template": "x", "answers": [{ "questionId": "q", "answer": "1" }] },
                "b": { "title": "B", "goal": "G", "template": "x",
                       "answers": [{ "questionId": "q", "answer": "1" }, { "questionId": "q", "answer": "2" }] }
            }),
        )
        .await;
    assert_eq!(
        resp.error_codes(),
        vec!["CONFLICT", "ROLLED_BACK"],
        "{}",
        resp.body
    );
    assert_eq!(count_rows(&app, "prompts").await, 0);
    assert_eq!(count_rows(&app, "prompt_answers").await, 0);
}

#[tokio::test]
async fn prompts_are_isolated() {
    let app = spawn_app().await;
    let ada = app.db.create_user("ada@example.com").await;
    let bob = app.db.create_user("bob@example.com").await;
    let private = create_prompt(&app, ada, "Private", "secret goal", false).await;
    let public = create_prompt(&app, ada, "Public", "shared goal", true).await;
    let bobs = create_prompt(&app, bob, "Bob's", "bob goal", false).await;

    // The viewer's list: own prompts only, public or not.
    let list = "{ promptLabPrompts { totalCount nodes { id } } }";
    let data = ok(&app, ada, list, json!({})).await;
    assert_eq!(data["promptLabPrompts"]["totalCount"], 2);
    let data = ok(&app, bob, list, json!({})).await;
    assert_eq!(
        ids(&data["promptLabPrompts"]["nodes"]),
        vec![bobs.to_string()]
    );
    assert_error(&app.as_anon(list, json!({})).await, "UNAUTHENTICATED", None);

    // Public prompts: for everyone, anon included, with their answers.
    let feed = "{ publicPrompts { totalCount nodes { id answers { nodes { answer } } testResults { totalCount } } } }";
    for resp in [
        app.as_anon(feed, json!({})).await,
        app.as_user(bob, feed, json!({})).await,
        app.as_user(ada, feed, json!({})).await,
    ] {
        let data = resp.data();
        assert_eq!(
            ids(&data["publicPrompts"]["nodes"]),
            vec![public.to_string()]
        );
        assert_eq!(
            data["publicPrompts"]["nodes"][0]["answers"]["nodes"][0]["answer"],
            "calm"
        );
        assert_eq!(
            data["publicPrompts"]["nodes"][0]["testResults"]["totalCount"],
            0
        );
    }

    // By id: the owner's and public ones; null otherwise.
    let one = "query($id: UUID!) { promptLabPrompt(id: $id) { id answers { totalCount } } }";
    let data = ok(&app, bob, one, json!({ "id": private })).await;
    assert!(data["promptLabPrompt"].is_null());
    let data = app
        .as_anon(one, json!({ "id": private }))
        .await
        .data()
        .clone();
    assert!(data["promptLabPrompt"].is_null());
    let data = app
        .as_anon(one, json!({ "id": public }))
        .await
        .data()
        .clone();
    assert_eq!(data["promptLabPrompt"]["answers"]["totalCount"], 1);
    let data = ok(&app, ada, one, json!({ "id": private })).await;
    assert_eq!(data["promptLabPrompt"]["id"], private.to_string());

    // Writes: the owner only; a public prompt is not writable by others.
    for id in [private, public] {
        let resp = app
            .as_user(
                bob,
                "mutation($input: UpdatePromptInput!) { updatePrompt(input: $input) { prompt { id } } }",
                json!({ "input": { "id": id, "title": "hijacked" } }),
            )
            .await;
        assert_error(&resp, "NOT_FOUND", None);
        let resp = app
            .as_user(
                bob,
                "mutation($input: UpdatePromptInput!) { updatePrompt(input: $input) { prompt { id } } }",
                json!({ "input": { "id": id } }),
            )
            .await;
        assert_error(&resp, "NOT_FOUND", None);
        let resp = app
            .as_user(
                bob,
                "mutation($input: DeletePromptInput!) { deletePrompt(input: $input) { deletedId } }",
                json!({ "input": { "id": id } }),
            )
            .await;
        assert_error(&resp, "NOT_FOUND", None);
        let resp = app
            .as_anon(
                "mutation($input: DeletePromptInput!) { deletePrompt(input: $input) { deletedId } }",
                json!({ "input": { "id": id } }),
            )
            .await;
        assert_error(&resp, "UNAUTHENTICATED", None);
        let resp = app
            .as_anon(
                "mutation($input: UpdatePromptInput!) { updatePrompt(input: $input) { prompt { id } } }",
                json!({ "input": { "id": id, "title": "x" } }),
            )
            .await;
        assert_error(&resp, "UNAUTHENTICATED", None);
    }
    let titles: Vec<String> =
        sqlx::query_scalar("SELECT title FROM prompt_lab.prompts ORDER BY title")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(titles, vec!["Bob's", "Private", "Public"]);
}

const RECORD_TEST: &str = "mutation($input: RecordTestResultInput!) { recordTestResult(input: $input) { testResult { id promptId userId model temperature variableValues resolvedPrompt result tokensUsed responseTimeMs prompt { id } } } }";

fn test_input(prompt: Uuid) -> Value {
    json!({
        "promptId": prompt, "model": "gpt-4o", "temperature": "0.7",
        "variableValues": { "topic": "rust" }, "resolvedPrompt": "Write rust",
        "result": "fn main() {}", "tokensUsed": 42, "responseTimeMs": 900
    })
}

#[tokio::test]
async fn test_results_are_recorded_and_isolated() {
    let app = spawn_app().await;
    let ada = app.db.create_user("ada@example.com").await;
    let bob = app.db.create_user("bob@example.com").await;
    let private = create_prompt(&app, ada, "Private", "g", false).await;
    let public = create_prompt(&app, ada, "Public", "g", true).await;

    let data = ok(
        &app,
        ada,
        RECORD_TEST,
        json!({ "input": test_input(private) }),
    )
    .await;
    let t = &data["recordTestResult"]["testResult"];
    assert_eq!(t["userId"], ada.to_string());
    assert_eq!(t["model"], "gpt-4o");
    assert_eq!(t["temperature"], "0.70");
    assert_eq!(t["variableValues"], json!({ "topic": "rust" }));
    assert_eq!(t["tokensUsed"], 42);
    assert_eq!(t["prompt"]["id"], private.to_string());
    let mut second = test_input(private);
    second["model"] = json!("claude");
    ok(&app, ada, RECORD_TEST, json!({ "input": second })).await;
    ok(
        &app,
        ada,
        RECORD_TEST,
        json!({ "input": test_input(public) }),
    )
    .await;

    // Bob may test the public prompt, not the private one.
    let resp = app
        .as_user(bob, RECORD_TEST, json!({ "input": test_input(private) }))
        .await;
    assert_error(&resp, "NOT_FOUND", None);
    let data = ok(
        &app,
        bob,
        RECORD_TEST,
        json!({ "input": test_input(public) }),
    )
    .await;
    let bobs_result = data["recordTestResult"]["testResult"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = app
        .as_anon(RECORD_TEST, json!({ "input": test_input(public) }))
        .await;
    assert_error(&resp, "UNAUTHENTICATED", None);
    let resp = app
        .as_user(
            ada,
            RECORD_TEST,
            json!({ "input": test_input(Uuid::new_v4()) }),
        )
        .await;
    assert_error(&resp, "NOT_FOUND", None);

    // Nested: each viewer sees their own runs only.
    let q = "query($id: UUID!) { promptLabPrompt(id: $id) { testResults(orderBy: [{field: MODEL}]) { totalCount nodes { id model userId } } } }";
    let data = ok(&app, ada, q, json!({ "id": private })).await;
    let models: Vec<&str> = data["promptLabPrompt"]["testResults"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["model"].as_str().unwrap())
        .collect();
    assert_eq!(models, vec!["claude", "gpt-4o"]);
    let data = ok(&app, ada, q, json!({ "id": public })).await;
    assert_eq!(data["promptLabPrompt"]["testResults"]["totalCount"], 1);
    assert_eq!(
        data["promptLabPrompt"]["testResults"]["nodes"][0]["userId"],
        ada.to_string()
    );
    let data = ok(&app, bob, q, json!({ "id": public })).await;
    assert_eq!(
        ids(&data["promptLabPrompt"]["testResults"]["nodes"]),
        vec![bobs_result]
    );
    let data = app.as_anon(q, json!({ "id": public })).await.data().clone();
    assert_eq!(data["promptLabPrompt"]["testResults"]["totalCount"], 0);

    // Validation.
    let cases = [
        ("temperature", json!("2.5")),
        ("temperature", json!("-0.1")),
        ("model", json!("  ")),
        ("model", json!("m".repeat(51))),
        ("variableValues", json!(["not", "an", "object"])),
        ("tokensUsed", json!(-1)),
        ("responseTimeMs", json!(-5)),
    ];
    for (field, value) in cases {
        let mut input = test_input(private);
        input[field] = value;
        let resp = app
            .as_user(ada, RECORD_TEST, json!({ "input": input }))
            .await;
        assert_error(&resp, "BAD_USER_INPUT", Some(field));
    }
}

#[tokio::test]
async fn publish_template_and_read_it() {
    let app = spawn_app().await;
    let ada = app.db.create_user("ada@example.com").await;
    let bob = app.db.create_user("bob@example.com").await;
    let prompt = create_prompt(&app, ada, "Cold email", "Sell things", false).await;

    let resp = publish_raw(&app, Some(bob), json!({ "promptId": prompt })).await;
    assert_error(&resp, "NOT_FOUND", None);
    let resp = publish_raw(&app, None, json!({ "promptId": prompt })).await;
    assert_error(&resp, "UNAUTHENTICATED", None);
    let resp = publish_raw(
        &app,
        Some(ada),
        json!({ "promptId": prompt, "category": " " }),
    )
    .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("category"));
    let resp = publish_raw(
        &app,
        Some(ada),
        json!({ "promptId": prompt, "tags": ["ok", ""] }),
    )
    .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("tags"));
    // The failed attempts changed nothing (not even the prompt's visibility).
    assert_eq!(count_rows(&app, "prompt_templates").await, 0);
    let public: bool = sqlx::query_scalar("SELECT is_public FROM prompt_lab.prompts")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert!(!public);

    let resp = publish_raw(
        &app,
        Some(ada),
        json!({ "promptId": prompt, "category": " marketing ", "tags": ["email", "sales"] }),
    )
    .await;
    let t = resp.data()["publishTemplate"]["template"].clone();
    assert_eq!(t["promptId"], prompt.to_string());
    assert_eq!(t["userId"], ada.to_string());
    assert_eq!(t["category"], "marketing");
    assert_eq!(t["tags"], json!(["email", "sales"]));
    assert_eq!(t["likesCount"], 0);
    let id = t["id"].as_str().unwrap().to_string();
    let resp = publish_raw(&app, Some(ada), json!({ "promptId": prompt })).await;
    assert_error(&resp, "CONFLICT", None);

    // Everyone sees it, with its prompt and its author's public card.
    let q = "query($id: UUID!) { promptTemplate(id: $id) { id prompt { id title isPublic answers { nodes { answer } } promptTemplate { id } } author { id fullName avatarUrl } } }";
    for resp in [
        app.as_anon(q, json!({ "id": id })).await,
        app.as_user(bob, q, json!({ "id": id })).await,
    ] {
        let t = &resp.data()["promptTemplate"];
        assert_eq!(t["prompt"]["title"], "Cold email");
        assert_eq!(t["prompt"]["isPublic"], true);
        assert_eq!(t["prompt"]["answers"]["nodes"][0]["answer"], "calm");
        assert_eq!(t["prompt"]["promptTemplate"]["id"], id);
        assert_eq!(
            t["author"],
            json!({ "id": ada.to_string(), "fullName": "ada", "avatarUrl": null })
        );
    }
    // The author card has no email.
    let resp = app
        .as_anon(
            "query($id: UUID!) { promptTemplate(id: $id) { author { email } } }",
            json!({ "id": id }),
        )
        .await;
    assert_error(&resp, "GRAPHQL_VALIDATION_FAILED", None);

    // Unpublished again (the prompt made private): hidden from others, the
    // author still sees it, without a public author card.
    ok(
        &app,
        ada,
        "mutation($input: UpdatePromptInput!) { updatePrompt(input: $input) { prompt { id } } }",
        json!({ "input": { "id": prompt, "isPublic": false } }),
    )
    .await;
    let data = app.as_anon(q, json!({ "id": id })).await.data().clone();
    assert!(data["promptTemplate"].is_null());
    let data = ok(&app, bob, q, json!({ "id": id })).await;
    assert!(data["promptTemplate"].is_null());
    let data = ok(
        &app,
        bob,
        "{ promptTemplates { totalCount } popularTemplates { id } }",
        json!({}),
    )
    .await;
    assert_eq!(data["promptTemplates"]["totalCount"], 0);
    assert_eq!(data["popularTemplates"], json!([]));
    let data = ok(&app, ada, q, json!({ "id": id })).await;
    assert_eq!(data["promptTemplate"]["id"], id);
    assert!(data["promptTemplate"]["author"].is_null());
}

#[tokio::test]
async fn template_search_treats_the_text_as_data() {
    let app = spawn_app().await;
    let ada = app.db.create_user("ada@example.com").await;
    let titles = [
        ("100% done", "finish things"),
        ("snake_case names", "naming"),
        ("back\\slash", "escapes"),
        ("it's quoted", "apostrophes"),
        ("Plain title", "GOAL with Keyword"),
        ("snakeXcase", "decoy one"),
        ("100 percent", "decoy two"),
    ];
    let mut by_title = std::collections::HashMap::new();
    for (title, goal) in titles {
        let id = template(&app, ada, title, goal, None).await;
        by_title.insert(title, id.to_string());
    }
    let q = "query($s: String) { promptTemplates(search: $s, first: 50) { totalCount nodes { id prompt { title } } } }";
    let search = |s: &'static str| {
        let app = &app;
        async move {
            let data = app.as_anon(q, json!({ "s": s })).await.data().clone();
            let mut found: Vec<String> = data["promptTemplates"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["prompt"]["title"].as_str().unwrap().to_string())
                .collect();
            found.sort();
            found
        }
    };
    assert_eq!(search("%").await, vec!["100% done"]);
    assert_eq!(search("_").await, vec!["snake_case names"]);
    assert_eq!(search("e_c").await, vec!["snake_case names"]);
    assert_eq!(search("\\").await, vec!["back\\slash"]);
    assert_eq!(search("'").await, vec!["it's quoted"]);
    assert_eq!(search("it's").await, vec!["it's quoted"]);
    assert_eq!(
        search("'; DROP TABLE prompt_lab.prompts; --").await,
        Vec::<String>::new()
    );
    // Case-insensitive, on the title or the goal.
    assert_eq!(search("SNAKE_CASE").await, vec!["snake_case names"]);
    assert_eq!(search("keyword").await, vec!["Plain title"]);
    // Blank means no text filter.
    assert_eq!(search("  ").await.len(), titles.len());
    assert_eq!(count_rows(&app, "prompts").await, titles.len() as i64);
}

#[tokio::test]
async fn templates_rank_by_popularity_and_recency() {
    let app = spawn_app().await;
    let ada = app.db.create_user("ada@example.com").await;
    let bob = app.db.create_user("bob@example.com").await;
    let a = template(&app, ada, "A", "g", Some("code")).await;
    let b = template(&app, bob, "B", "g", Some("code")).await;
    let c = template(&app, ada, "C", "g", Some("writing")).await;
    let d = template(&app, bob, "D", "g", None).await;
    set_counts(&app, a, 5, 1).await;
    set_counts(&app, b, 5, 9).await;
    set_counts(&app, c, 7, 0).await;
    set_counts(&app, d, 0, 100).await;
    let (a, b, c, d) = (a.to_string(), b.to_string(), c.to_string(), d.to_string());

    let q = "query($category: String, $orderBy: [PromptTemplateOrder!]) { promptTemplates(category: $category, orderBy: $orderBy) { nodes { id } } }";
    let run = |vars: Value| {
        let app = &app;
        async move { ids(&app.as_anon(q, vars).await.data()["promptTemplates"]["nodes"]) }
    };
    // Default: likes, then uses.
    assert_eq!(
        run(json!({})).await,
        vec![c.clone(), b.clone(), a.clone(), d.clone()]
    );
    assert_eq!(
        run(json!({ "category": "code" })).await,
        vec![b.clone(), a.clone()]
    );
    assert_eq!(
        run(json!({ "category": "none-such" })).await,
        Vec::<String>::new()
    );
    // Recency: newest first.
    let recent = json!([{ "field": "CREATED_AT", "direction": "DESC" }]);
    assert_eq!(
        run(json!({ "orderBy": recent })).await,
        vec![d.clone(), c.clone(), b.clone(), a.clone()]
    );
    let by_uses = json!([{ "field": "USES_COUNT", "direction": "DESC" }]);
    assert_eq!(
        run(json!({ "orderBy": by_uses, "category": "code" })).await,
        vec![b.clone(), a.clone()]
    );

    // popularTemplates: the same ranking, through get_popular_templates.
    let pq = "query($limit: Int, $category: String) { popularTemplates(limit: $limit, category: $category) { id title goal category likesCount usesCount template { id tags } } }";
    let data = app.as_anon(pq, json!({})).await.data().clone();
    assert_eq!(
        ids(&data["popularTemplates"]),
        vec![c.clone(), b.clone(), a.clone(), d.clone()]
    );
    assert_eq!(data["popularTemplates"][0]["title"], "C");
    assert_eq!(data["popularTemplates"][0]["likesCount"], 7);
    assert_eq!(data["popularTemplates"][0]["template"]["id"], c);
    let data = ok(&app, bob, pq, json!({ "limit": 1, "category": "code" })).await;
    assert_eq!(ids(&data["popularTemplates"]), vec![b.clone()]);
    let data = ok(&app, bob, pq, json!({ "category": "writing" })).await;
    assert_eq!(ids(&data["popularTemplates"]), vec![c.clone()]);
    let resp = app.as_anon(pq, json!({ "limit": 101 })).await;
    assert_error(&resp, "BAD_USER_INPUT", Some("limit"));
    let resp = app.as_anon(pq, json!({ "limit": -1 })).await;
    assert_error(&resp, "BAD_USER_INPUT", Some("limit"));

    // Keyset pages over the ranking.
    let page = "query($after: String) { promptTemplates(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { id } } }";
    let data = app.as_anon(page, json!({})).await.data().clone();
    assert_eq!(
        ids(&data["promptTemplates"]["nodes"]),
        vec![c.clone(), b.clone()]
    );
    assert_eq!(data["promptTemplates"]["totalCount"], 4);
    assert_eq!(data["promptTemplates"]["pageInfo"]["hasNextPage"], true);
    let cursor = data["promptTemplates"]["pageInfo"]["endCursor"].clone();
    let data = app
        .as_anon(page, json!({ "after": cursor }))
        .await
        .data()
        .clone();
    assert_eq!(ids(&data["promptTemplates"]["nodes"]), vec![a, d]);
    assert_eq!(data["promptTemplates"]["pageInfo"]["hasNextPage"], false);
}

#[tokio::test]
async fn likes_count_once_per_user() {
    let app = spawn_app().await;
    let ada = app.db.create_user("ada@example.com").await;
    let bob = app.db.create_user("bob@example.com").await;
    let t = template(&app, ada, "T", "g", None).await;
    let sel = "template { id likesCount }";

    for expected in [1, 1] {
        let resp = template_mutation(&app, Some(bob), "likeTemplate", t, sel).await;
        assert_eq!(
            resp.data()["likeTemplate"]["template"]["likesCount"],
            expected
        );
    }
    let resp = template_mutation(&app, Some(ada), "likeTemplate", t, sel).await;
    assert_eq!(resp.data()["likeTemplate"]["template"]["likesCount"], 2);
    // Liking twice in one request counts once too.
    let resp = app
        .as_user(
            bob,
            "mutation($i: LikeTemplateInput!) { a: likeTemplate(input: $i) { template { likesCount } } b: likeTemplate(input: $i) { template { likesCount } } }",
            json!({ "i": { "templateId": t } }),
        )
        .await;
    assert_eq!(resp.data()["b"]["template"]["likesCount"], 2);
    assert_eq!(count_rows(&app, "template_likes").await, 2);
    let q = "query($id: UUID!) { promptTemplate(id: $id) { likesCount viewerHasLiked viewerHasFavorited } }";
    let carol = app.db.create_user("carol@example.com").await;
    let data = ok(&app, bob, q, json!({ "id": t })).await;
    assert_eq!(
        data["promptTemplate"],
        json!({ "likesCount": 2, "viewerHasLiked": true, "viewerHasFavorited": false })
    );
    let data = ok(&app, carol, q, json!({ "id": t })).await;
    assert_eq!(data["promptTemplate"]["viewerHasLiked"], false);
    let data = app.as_anon(q, json!({ "id": t })).await.data().clone();
    assert_eq!(data["promptTemplate"]["viewerHasLiked"], false);

    for expected in [1, 1] {
        let resp = template_mutation(
            &app,
            Some(bob),
            "unlikeTemplate",
            t,
            "templateId template { likesCount }",
        )
        .await;
        assert_eq!(
            resp.data()["unlikeTemplate"]["template"]["likesCount"],
            expected
        );
    }

    // anon, missing and invisible templates.
    let resp = template_mutation(&app, None, "likeTemplate", t, sel).await;
    assert_error(&resp, "UNAUTHENTICATED", None);
    let resp = template_mutation(&app, None, "unlikeTemplate", t, "templateId").await;
    assert_error(&resp, "UNAUTHENTICATED", None);
    let resp = template_mutation(&app, Some(bob), "likeTemplate", Uuid::new_v4(), sel).await;
    assert_error(&resp, "NOT_FOUND", None);
    let hidden_prompt = create_prompt(&app, ada, "H", "g", false).await;
    let hidden = publish(&app, ada, hidden_prompt, None).await;
    // Bob likes it while it is published; then it is unpublished.
    template_mutation(&app, Some(bob), "likeTemplate", hidden, sel)
        .await
        .data();
    ok(
        &app,
        ada,
        "mutation($input: UpdatePromptInput!) { updatePrompt(input: $input) { prompt { id } } }",
        json!({ "input": { "id": hidden_prompt, "isPublic": false } }),
    )
    .await;
    let resp = template_mutation(&app, Some(bob), "likeTemplate", hidden, sel).await;
    assert_error(&resp, "NOT_FOUND", None);
    // The like can still be withdrawn; the template stays hidden (null).
    let resp = template_mutation(
        &app,
        Some(bob),
        "unlikeTemplate",
        hidden,
        "templateId template { id }",
    )
    .await;
    assert!(resp.data()["unlikeTemplate"]["template"].is_null());
    let likes: i32 =
        sqlx::query_scalar("SELECT likes_count FROM prompt_lab.prompt_templates WHERE id = $1")
            .bind(hidden)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(likes, 0);
}

#[tokio::test]
async fn favorites_are_per_user() {
    let app = spawn_app().await;
    let ada = app.db.create_user("ada@example.com").await;
    let bob = app.db.create_user("bob@example.com").await;
    let t1 = template(&app, ada, "T1", "g", None).await;
    let t2 = template(&app, ada, "T2", "g", None).await;
    let sel = "template { id }";
    template_mutation(&app, Some(bob), "favoriteTemplate", t1, sel)
        .await
        .data();
    template_mutation(&app, Some(bob), "favoriteTemplate", t1, sel)
        .await
        .data();
    template_mutation(&app, Some(bob), "favoriteTemplate", t2, sel)
        .await
        .data();
    template_mutation(&app, Some(ada), "favoriteTemplate", t2, sel)
        .await
        .data();

    let q = "{ viewer { promptLabFavorites { totalCount nodes { templateId createdAt template { id prompt { title } } } } } }";
    let data = ok(&app, bob, q, json!({})).await;
    let favs = &data["viewer"]["promptLabFavorites"];
    assert_eq!(favs["totalCount"], 2);
    let mut titles: Vec<&str> = favs["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["template"]["prompt"]["title"].as_str().unwrap())
        .collect();
    titles.sort();
    assert_eq!(titles, vec!["T1", "T2"]);
    let data = ok(&app, ada, q, json!({})).await;
    assert_eq!(data["viewer"]["promptLabFavorites"]["totalCount"], 1);
    assert_eq!(
        data["viewer"]["promptLabFavorites"]["nodes"][0]["templateId"],
        t2.to_string()
    );
    let flags = "{ promptTemplates { nodes { id viewerHasFavorited } } }";
    let data = ok(&app, bob, flags, json!({})).await;
    for node in data["promptTemplates"]["nodes"].as_array().unwrap() {
        assert_eq!(node["viewerHasFavorited"], true, "{node}");
    }
    let data = app.as_anon(flags, json!({})).await.data().clone();
    for node in data["promptTemplates"]["nodes"].as_array().unwrap() {
        assert_eq!(node["viewerHasFavorited"], false, "{node}");
    }
    let data = app.as_anon(q, json!({})).await.data().clone();
    assert_eq!(data["viewer"]["promptLabFavorites"]["totalCount"], 0);

    let resp = template_mutation(
        &app,
        Some(bob),
        "unfavoriteTemplate",
        t1,
        "templateId template { id }",
    )
    .await;
    assert_eq!(
        resp.data()["unfavoriteTemplate"]["template"]["id"],
        t1.to_string()
    );
    template_mutation(&app, Some(bob), "unfavoriteTemplate", t1, "templateId")
        .await
        .data();
    let data = ok(&app, bob, q, json!({})).await;
    assert_eq!(data["viewer"]["promptLabFavorites"]["totalCount"], 1);

    let resp = template_mutation(&app, None, "favoriteTemplate", t1, sel).await;
    assert_error(&resp, "UNAUTHENTICATED", None);
    let resp = template_mutation(&app, None, "unfavoriteTemplate", t1, "templateId").await;
    assert_error(&resp, "UNAUTHENTICATED", None);
    let resp = template_mutation(&app, Some(bob), "favoriteTemplate", Uuid::new_v4(), sel).await;
    assert_error(&resp, "NOT_FOUND", None);
    // A template that is not visible cannot be favorited.
    let hidden_prompt = create_prompt(&app, ada, "H", "g", false).await;
    let hidden = publish(&app, ada, hidden_prompt, None).await;
    ok(
        &app,
        ada,
        "mutation($input: UpdatePromptInput!) { updatePrompt(input: $input) { prompt { id } } }",
        json!({ "input": { "id": hidden_prompt, "isPublic": false } }),
    )
    .await;
    let resp = template_mutation(&app, Some(bob), "favoriteTemplate", hidden, sel).await;
    assert_error(&resp, "NOT_FOUND", None);
    assert_eq!(count_rows(&app, "user_favorites").await, 2);

    // A favorite whose template gets unpublished stays listed, without the
    // template; it can still be removed.
    ok(
        &app,
        ada,
        "mutation($input: UpdatePromptInput!) { updatePrompt(input: $input) { prompt { id } } }",
        json!({ "input": { "id": prompt_of(&app, t2).await, "isPublic": false } }),
    )
    .await;
    let data = ok(&app, bob, q, json!({})).await;
    let favs = &data["viewer"]["promptLabFavorites"];
    assert_eq!(favs["totalCount"], 1);
    assert_eq!(favs["nodes"][0]["templateId"], t2.to_string());
    assert!(favs["nodes"][0]["template"].is_null());
    let resp = template_mutation(
        &app,
        Some(bob),
        "unfavoriteTemplate",
        t2,
        "templateId template { id }",
    )
    .await;
    assert!(resp.data()["unfavoriteTemplate"]["template"].is_null());
    let data = ok(&app, bob, q, json!({})).await;
    assert_eq!(data["viewer"]["promptLabFavorites"]["totalCount"], 0);
}

/// The prompt of template `template` (as the superuser).
async fn prompt_of(app: &TestApp, template: Uuid) -> Uuid {
    sqlx::query_scalar("SELECT prompt_id FROM prompt_lab.prompt_templates WHERE id = $1")
        .bind(template)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn template_uses_are_counted() {
    let app = spawn_app().await;
    let ada = app.db.create_user("ada@example.com").await;
    let bob = app.db.create_user("bob@example.com").await;
    let t = template(&app, ada, "T", "g", None).await;
    let sel = "template { usesCount updatedAt }";
    let first = template_mutation(&app, Some(bob), "recordTemplateUse", t, sel).await;
    assert_eq!(
        first.data()["recordTemplateUse"]["template"]["usesCount"],
        1
    );
    let second = template_mutation(&app, Some(bob), "recordTemplateUse", t, sel).await;
    assert_eq!(
        second.data()["recordTemplateUse"]["template"]["usesCount"],
        2
    );
    let third = template_mutation(&app, Some(ada), "recordTemplateUse", t, sel).await;
    assert_eq!(
        third.data()["recordTemplateUse"]["template"]["usesCount"],
        3
    );
    // A use is not an edit.
    assert_eq!(
        first.data()["recordTemplateUse"]["template"]["updatedAt"],
        third.data()["recordTemplateUse"]["template"]["updatedAt"]
    );
    let resp = template_mutation(&app, None, "recordTemplateUse", t, sel).await;
    assert_error(&resp, "UNAUTHENTICATED", None);
    let resp = template_mutation(&app, Some(bob), "recordTemplateUse", Uuid::new_v4(), sel).await;
    assert_error(&resp, "NOT_FOUND", None);
}

/// promptTemplates -> prompt -> answers costs one statement per level,
/// whatever the number of templates.
#[tokio::test]
async fn nested_query_costs_constant_statements() {
    let app = spawn_app().await;
    let ada = app.db.create_user("ada@example.com").await;
    let query = "{ promptTemplates(first: 20) { nodes { id prompt { id answers(first: 5) { nodes { questionId } } } } } }";
    for i in 0..3 {
        template(&app, ada, &format!("t{i}"), "g", None).await;
    }
    app.reset_statements();
    let data = app.as_anon(query, json!({})).await.data().clone();
    let few = app.statements();
    assert_eq!(
        data["promptTemplates"]["nodes"].as_array().unwrap().len(),
        3
    );

    for i in 3..10 {
        template(&app, ada, &format!("t{i}"), "g", None).await;
    }
    app.reset_statements();
    let data = app.as_anon(query, json!({})).await.data().clone();
    let many = app.statements();
    let nodes = data["promptTemplates"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 10);
    for node in nodes {
        assert_eq!(node["prompt"]["answers"]["nodes"][0]["questionId"], "tone");
    }
    // templates, their prompts, the prompts' answers.
    assert_eq!(few.len(), 3, "{few:#?}");
    assert_eq!(many.len(), 3, "{many:#?}");

    // prompts -> answers + testResults: also constant.
    let query = "{ promptLabPrompts(first: 20) { nodes { id answers { nodes { id } } testResults { nodes { id } } } } }";
    app.reset_statements();
    ok(&app, ada, query, json!({})).await;
    assert_eq!(app.statements().len(), 3, "{:#?}", app.statements());
}

#[tokio::test]
async fn bad_page_arguments_are_rejected() {
    let app = spawn_app().await;
    let ada = app.db.create_user("ada@example.com").await;
    let resp = app
        .as_anon(
            "{ promptTemplates(first: 1000) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_error(&resp, "LIMIT_EXCEEDED", None);
    let resp = app
        .as_anon(
            "{ publicPrompts(after: \"nope\") { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("after"));
    let resp = app
        .as_user(
            ada,
            "{ promptLabPrompts(first: 1) { nodes { answers(first: -1) { totalCount } } } }",
            json!({}),
        )
        .await;
    assert!(
        resp.body["errors"].is_null() || resp.error_code() == "BAD_USER_INPUT",
        "{}",
        resp.body
    );
    let data = ok(
        &app,
        ada,
        "{ promptLabPrompts(where: { title: { ilike: \"%x%\" }, isPublic: { eq: false } }) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(data["promptLabPrompts"]["totalCount"], 0);
}

#[tokio::test]
async fn prompt_lists_filter_and_order() {
    let app = spawn_app().await;
    let ada = app.db.create_user("ada@example.com").await;
    let bob = app.db.create_user("bob@example.com").await;
    let p1 = create_prompt(&app, ada, "First", "alpha", true)
        .await
        .to_string();
    let p2 = create_prompt(&app, ada, "Second", "beta", false)
        .await
        .to_string();
    let p3 = create_prompt(&app, ada, "Third", "alpha beta", true)
        .await
        .to_string();
    let p4 = create_prompt(&app, bob, "Bob's", "alpha", true)
        .await
        .to_string();

    let q = "query($where: PromptLabPromptWhere, $orderBy: [PromptLabPromptOrder!], $last: Int) {
        promptLabPrompts(where: $where, orderBy: $orderBy, last: $last) { totalCount nodes { id } } }";
    let run = |vars: Value| {
        let app = &app;
        async move { ok(app, ada, q, vars).await["promptLabPrompts"].clone() }
    };
    assert_eq!(
        ids(&run(json!({})).await["nodes"]),
        vec![p3.clone(), p2.clone(), p1.clone()]
    );
    let asc = json!([{ "field": "CREATED_AT", "direction": "ASC" }]);
    assert_eq!(
        ids(&run(json!({ "orderBy": asc })).await["nodes"]),
        vec![p1.clone(), p2.clone(), p3.clone()]
    );
    assert_eq!(
        ids(&run(json!({ "last": 1 })).await["nodes"]),
        vec![p1.clone()]
    );
    let public = json!({ "isPublic": { "eq": true } });
    assert_eq!(
        ids(&run(json!({ "where": public })).await["nodes"]),
        vec![p3.clone(), p1.clone()]
    );
    let either =
        json!({ "or": [{ "title": { "eq": "Second" } }, { "goal": { "ilike": "%BETA" } }] });
    assert_eq!(
        ids(&run(json!({ "where": either })).await["nodes"]),
        vec![p3.clone(), p2.clone()]
    );

    // The public feed spans users; anon filters it the same way.
    let feed = "query($where: PromptLabPromptWhere) { publicPrompts(where: $where) { totalCount nodes { id userId } } }";
    let data = app.as_anon(feed, json!({})).await.data().clone();
    assert_eq!(
        ids(&data["publicPrompts"]["nodes"]),
        vec![p4.clone(), p3.clone(), p1.clone()]
    );
    let data = app
        .as_anon(feed, json!({ "where": { "goal": { "eq": "alpha" } } }))
        .await
        .data()
        .clone();
    assert_eq!(ids(&data["publicPrompts"]["nodes"]), vec![p4, p1]);
}

const ANSWERS: &str = "query($where: PromptLabAnswerWhere, $first: Int, $after: String, $order: [PromptLabAnswerOrder!]) {
    promptLabAnswers(where: $where, first: $first, after: $after, orderBy: $order) {
        totalCount pageInfo { hasNextPage endCursor } nodes { id promptId questionId answer } } }";
const TEST_RESULTS: &str = "query($where: PromptLabTestResultWhere, $first: Int, $after: String, $order: [PromptLabTestResultOrder!]) {
    promptLabTestResults(where: $where, first: $first, after: $after, orderBy: $order) {
        totalCount pageInfo { hasNextPage endCursor } nodes { id promptId userId model } } }";

/// The root answers list holds what RLS shows: the viewer's own prompts'
/// answers and public prompts' answers; the root test results list only
/// the viewer's own runs. Both page with cursors, filter and order.
#[tokio::test]
async fn root_answers_and_test_results_are_rls_scoped() {
    let app = spawn_app().await;
    let ada = app.db.create_user("ada@example.com").await;
    let bob = app.db.create_user("bob@example.com").await;
    let private = create_prompt(&app, ada, "Private", "g", false).await;
    let public = create_prompt(&app, ada, "Public", "g", true).await;
    let bobs = create_prompt(&app, bob, "Bob's", "g", false).await;
    let more = json!({ "title": "Many", "goal": "g", "template": "t", "answers": [
        { "questionId": "a", "answer": "1" }, { "questionId": "b", "answer": "2" },
        { "questionId": "c", "answer": "3" } ] });
    let many: Uuid = create_prompt_raw(&app, Some(ada), more).await.data()["createPrompt"]
        ["prompt"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    // Ada: her four prompts' answers (1 + 1 + 3); Bob: his own and the public one.
    let data = ok(&app, ada, ANSWERS, json!({})).await;
    assert_eq!(data["promptLabAnswers"]["totalCount"], 5);
    let data = ok(&app, bob, ANSWERS, json!({})).await;
    let prompts: Vec<Value> = data["promptLabAnswers"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["promptId"].clone())
        .collect();
    assert_eq!(data["promptLabAnswers"]["totalCount"], 2);
    assert!(prompts.contains(&json!(public)) && prompts.contains(&json!(bobs)));
    // Anon: the public prompt's answers only; Bob filtering on Ada's private
    // prompt: nothing.
    let resp = app.as_anon(ANSWERS, json!({})).await;
    assert_eq!(
        resp.data()["promptLabAnswers"]["nodes"][0]["promptId"],
        json!(public)
    );
    assert_eq!(resp.data()["promptLabAnswers"]["totalCount"], 1);
    let data = ok(
        &app,
        bob,
        ANSWERS,
        json!({ "where": { "promptId": { "eq": private } } }),
    )
    .await;
    assert_eq!(data["promptLabAnswers"]["totalCount"], 0);

    // One prompt's answers, paged in both orders.
    let vars = |after: Value, dir: &str| {
        json!({ "where": { "promptId": { "eq": many } }, "first": 2, "after": after,
                "order": [{ "field": "QUESTION_ID", "direction": dir }] })
    };
    let data = ok(&app, ada, ANSWERS, vars(Value::Null, "DESC")).await;
    let page = &data["promptLabAnswers"];
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let first: Vec<&str> = page["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["questionId"].as_str().unwrap())
        .collect();
    assert_eq!(first, ["c", "b"]);
    let data = ok(
        &app,
        ada,
        ANSWERS,
        vars(page["pageInfo"]["endCursor"].clone(), "DESC"),
    )
    .await;
    assert_eq!(data["promptLabAnswers"]["nodes"][0]["questionId"], "a");
    assert_eq!(data["promptLabAnswers"]["pageInfo"]["hasNextPage"], false);
    let resp = app
        .as_user(ada, ANSWERS, json!({ "after": "garbage" }))
        .await;
    assert_error(&resp, "BAD_USER_INPUT", Some("after"));

    // Test results: Ada runs her private and the public prompt, Bob the
    // public one twice.
    for (user, prompt, model) in [
        (ada, private, "m1"),
        (ada, public, "m2"),
        (bob, public, "m3"),
        (bob, public, "m4"),
    ] {
        let mut input = test_input(prompt);
        input["model"] = json!(model);
        ok(&app, user, RECORD_TEST, json!({ "input": input })).await;
    }
    let data = ok(
        &app,
        ada,
        TEST_RESULTS,
        json!({ "order": [{ "field": "MODEL", "direction": "ASC" }] }),
    )
    .await;
    let models: Vec<Value> = data["promptLabTestResults"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["model"].clone())
        .collect();
    assert_eq!(models, [json!("m1"), json!("m2")]);
    let data = ok(
        &app,
        bob,
        TEST_RESULTS,
        json!({ "where": { "promptId": { "eq": public } }, "first": 1 }),
    )
    .await;
    let page = &data["promptLabTestResults"];
    assert_eq!(page["totalCount"], 2);
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    assert_eq!(page["nodes"][0]["userId"], json!(bob));
    // Default order: newest first.
    assert_eq!(page["nodes"][0]["model"], "m4");
    let data = ok(
        &app,
        bob,
        TEST_RESULTS,
        json!({ "where": { "model": { "eq": "m1" } } }),
    )
    .await;
    assert_eq!(data["promptLabTestResults"]["totalCount"], 0);
    let resp = app.as_anon(TEST_RESULTS, json!({})).await;
    assert_error(&resp, "UNAUTHENTICATED", None);
    assert!(resp.body["data"].is_null(), "{}", resp.body);
}

const UPDATE_TEMPLATE: &str =
    "mutation($input: UpdateTemplateInput!) { updateTemplate(input: $input) {
    template { id category tags updatedAt likesCount } } }";

/// Only the author edits (category, tags) and unpublishes a template:
/// others get FORBIDDEN for a published one, NOT_FOUND for an unpublished
/// one, anon UNAUTHENTICATED. Unpublishing hides it from everyone else and
/// keeps its likes and favorites.
#[tokio::test]
async fn templates_are_edited_and_unpublished_by_their_author_only() {
    let app = spawn_app().await;
    let ada = app.db.create_user("ada@example.com").await;
    let bob = app.db.create_user("bob@example.com").await;
    let t = template(&app, ada, "Shared", "g", Some("writing")).await;

    // Edit: a new category and tags; null removes the category; omitted
    // fields stay.
    let data = ok(
        &app,
        ada,
        UPDATE_TEMPLATE,
        json!({ "input": { "templateId": t, "category": "  code ", "tags": ["x"] } }),
    )
    .await;
    assert_eq!(data["updateTemplate"]["template"]["category"], "code");
    assert_eq!(data["updateTemplate"]["template"]["tags"], json!(["x"]));
    let data = ok(
        &app,
        ada,
        UPDATE_TEMPLATE,
        json!({ "input": { "templateId": t, "category": null } }),
    )
    .await;
    assert_eq!(data["updateTemplate"]["template"]["category"], Value::Null);
    assert_eq!(data["updateTemplate"]["template"]["tags"], json!(["x"]));
    // Bad values: BAD_USER_INPUT on the field, nothing changed.
    for (input, field) in [
        (json!({ "templateId": t, "category": " " }), "category"),
        (
            json!({ "templateId": t, "category": "c".repeat(101) }),
            "category",
        ),
        (json!({ "templateId": t, "tags": ["ok", " "] }), "tags"),
    ] {
        let resp = app
            .as_user(ada, UPDATE_TEMPLATE, json!({ "input": input }))
            .await;
        assert_error(&resp, "BAD_USER_INPUT", Some(field));
    }
    // Others: FORBIDDEN while published, anon UNAUTHENTICATED, unknown id
    // NOT_FOUND; never data.
    let bob_edits = || {
        let input = json!({ "input": { "templateId": t, "tags": ["mine"] } });
        app.as_user(bob, UPDATE_TEMPLATE, input)
    };
    let resp = bob_edits().await;
    assert_error(&resp, "FORBIDDEN", None);
    assert!(resp.body["data"].is_null(), "{}", resp.body);
    let resp = template_mutation(&app, Some(bob), "unpublishTemplate", t, "template { id }").await;
    assert_error(&resp, "FORBIDDEN", None);
    let resp = template_mutation(&app, None, "unpublishTemplate", t, "template { id }").await;
    assert_error(&resp, "UNAUTHENTICATED", None);
    let resp = app
        .as_anon(
            UPDATE_TEMPLATE,
            json!({ "input": { "templateId": t, "tags": [] } }),
        )
        .await;
    assert_error(&resp, "UNAUTHENTICATED", None);
    let resp = template_mutation(
        &app,
        Some(ada),
        "unpublishTemplate",
        Uuid::new_v4(),
        "template { id }",
    )
    .await;
    assert_error(&resp, "NOT_FOUND", None);
    let tags: Vec<String> =
        sqlx::query_scalar("SELECT tags FROM prompt_lab.prompt_templates WHERE id = $1")
            .bind(t)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(tags, ["x"]);

    // Bob likes and favorites it, then Ada unpublishes it.
    template_mutation(&app, Some(bob), "likeTemplate", t, "template { id }")
        .await
        .data();
    template_mutation(&app, Some(bob), "favoriteTemplate", t, "template { id }")
        .await
        .data();
    let resp = template_mutation(
        &app,
        Some(ada),
        "unpublishTemplate",
        t,
        "template { id likesCount prompt { isPublic } }",
    )
    .await;
    let unpublished = &resp.data()["unpublishTemplate"]["template"];
    assert_eq!(unpublished["id"], json!(t));
    assert_eq!(unpublished["likesCount"], 1);
    assert_eq!(unpublished["prompt"]["isPublic"], false);
    // Again: no change, no error.
    template_mutation(&app, Some(ada), "unpublishTemplate", t, "template { id }")
        .await
        .data();
    // Now hidden: Bob and anon do not see it, and Bob's writes are NOT_FOUND.
    let q = "query($id: UUID!) { promptTemplate(id: $id) { id } }";
    assert!(ok(&app, bob, q, json!({ "id": t })).await["promptTemplate"].is_null());
    assert!(app.as_anon(q, json!({ "id": t })).await.data()["promptTemplate"].is_null());
    let resp = bob_edits().await;
    assert_error(&resp, "NOT_FOUND", None);
    let resp = template_mutation(&app, Some(bob), "unpublishTemplate", t, "template { id }").await;
    assert_error(&resp, "NOT_FOUND", None);
    // The author still sees and edits it; Bob can still withdraw his like.
    let data = ok(
        &app,
        ada,
        UPDATE_TEMPLATE,
        json!({ "input": { "templateId": t, "tags": ["y"] } }),
    )
    .await;
    assert_eq!(data["updateTemplate"]["template"]["tags"], json!(["y"]));
    let resp = template_mutation(&app, Some(bob), "unlikeTemplate", t, "template { id }").await;
    assert!(resp.data()["unlikeTemplate"]["template"].is_null());
    assert_eq!(count_rows(&app, "user_favorites").await, 1);
}
