//! Persisted operations: automatic persisted queries (Apollo's protocol)
//! over HTTP, the bound of their store, and trusted documents in `allow`
//! and `require` mode (over HTTP and websockets).

use crate::common::app::{spawn_app_config, AppConfig, GqlResponse, TestApp};
use crate::common::sqlx;
use crate::common::ws::{Delivery, WsClient, PROTOCOLS};
use gateway::server::persisted::{PersistedConfig, TrustedMode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

const VIEWER: &str = "query Viewer { viewer { id role } }";
const CHAT_SESSIONS: &str = "subscription Sessions { chatSessions { op sessionId } }";

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A request body naming its document by `id` (Apollo's protocol), with the
/// document itself when `query` is given.
fn persisted_body(query: Option<&str>, id: &str) -> Value {
    let mut body = json!({
        "extensions": { "persistedQuery": { "version": 1, "sha256Hash": id } },
    });
    if let Some(query) = query {
        body["query"] = json!(query);
    }
    body
}

async fn post(app: &TestApp, user: Option<Uuid>, body: Value) -> GqlResponse {
    let bearer = user.map(|u| format!("Bearer {}", app.token(u)));
    app.post_raw(bearer.as_deref(), body).await
}

/// Asserts `resp` was refused with `code` and that the refusal sent no SQL.
#[track_caller]
fn assert_refused(app: &TestApp, resp: &GqlResponse, code: &str) {
    assert_eq!(resp.error_code(), code, "{}", resp.body);
    assert!(
        resp.body.get("data").is_none_or(Value::is_null),
        "{}",
        resp.body
    );
    assert_eq!(app.raw_statement_count(), 0, "{:?}", app.statements());
}

async fn spawn_with(persisted: PersistedConfig) -> TestApp {
    spawn_app_config(AppConfig {
        persisted,
        ..AppConfig::default()
    })
    .await
}

/// A manifest file `{"<id>": "<document>"}` in `dir`, as GraphQL Codegen's
/// client preset and Relay's compiler write it.
fn manifest(dir: &tempfile::TempDir, documents: &[(&str, &str)]) -> std::path::PathBuf {
    let path = dir.path().join("persisted-documents.json");
    let map: serde_json::Map<String, Value> = documents
        .iter()
        .map(|(id, doc)| (id.to_string(), json!(doc)))
        .collect();
    std::fs::write(&path, Value::Object(map).to_string()).unwrap();
    path
}

#[tokio::test]
async fn apq_unknown_hash_then_document_then_hash() {
    let app = spawn_with(PersistedConfig::default()).await;
    let alice = app.db.create_user("alice@example.com").await;
    let hash = sha256_hex(VIEWER);

    // Apollo's link sends the hash alone first; the server asks for the
    // document (by code and by Apollo's message).
    app.reset_statements();
    let missing = post(&app, Some(alice), persisted_body(None, &hash)).await;
    assert_refused(&app, &missing, "PERSISTED_QUERY_NOT_FOUND");
    assert_eq!(
        missing.body["errors"][0]["message"],
        "PersistedQueryNotFound"
    );

    // Then hash and document: checked, stored and run.
    let registered = post(&app, Some(alice), persisted_body(Some(VIEWER), &hash)).await;
    assert_eq!(registered.status, 200);
    let expected = json!({ "viewer": { "id": alice, "role": "AUTHENTICATED" } });
    assert_eq!(registered.data(), &expected);

    // From now on the hash alone runs the stored (parsed) document.
    let known = post(&app, Some(alice), persisted_body(None, &hash)).await;
    assert_eq!(known.status, 200);
    assert_eq!(known.data(), &expected);

    // Each item of a batch resolves on its own.
    let batch = json!([persisted_body(None, &hash), persisted_body(None, &hash)]);
    let batched = post(&app, Some(alice), batch).await;
    assert_eq!(batched.body[0]["data"], expected, "{}", batched.body);
    assert_eq!(batched.body[1]["data"], expected, "{}", batched.body);

    // Another viewer gets their own answer from the same stored document.
    let bob = app.db.create_user("bob@example.com").await;
    let other = post(&app, Some(bob), persisted_body(None, &hash)).await;
    assert_eq!(other.data()["viewer"]["id"], json!(bob));
}

#[tokio::test]
async fn apq_refuses_a_hash_that_does_not_match_its_document() {
    let app = spawn_with(PersistedConfig::default()).await;
    let wrong = sha256_hex("query Other { viewer { id } }");
    app.reset_statements();
    let resp = post(&app, None, persisted_body(Some(VIEWER), &wrong)).await;
    assert_refused(&app, &resp, "PERSISTED_QUERY_HASH_MISMATCH");
    let not_hex = post(&app, None, persisted_body(Some(VIEWER), "abc")).await;
    assert_refused(&app, &not_hex, "PERSISTED_QUERY_HASH_MISMATCH");
    // Nothing was stored under the wrong hash.
    let resp = post(&app, None, persisted_body(None, &wrong)).await;
    assert_refused(&app, &resp, "PERSISTED_QUERY_NOT_FOUND");
    // Only version 1 of the protocol exists.
    let v2 = json!({
        "query": VIEWER,
        "extensions": { "persistedQuery": { "version": 2, "sha256Hash": sha256_hex(VIEWER) } },
    });
    let resp = post(&app, None, v2).await;
    assert_refused(&app, &resp, "BAD_REQUEST");
}

#[tokio::test]
async fn apq_store_keeps_the_most_recently_used_documents() {
    let app = spawn_with(PersistedConfig {
        apq_cache_size: 2,
        ..PersistedConfig::default()
    })
    .await;
    let documents = [
        "query A { __typename }",
        "query B { __typename }",
        "query C { __typename }",
    ];
    for doc in documents {
        let resp = post(&app, None, persisted_body(Some(doc), &sha256_hex(doc))).await;
        assert_eq!(resp.data(), &json!({ "__typename": "QueryRoot" }));
    }
    // The third evicted the first.
    app.reset_statements();
    let evicted = post(&app, None, persisted_body(None, &sha256_hex(documents[0]))).await;
    assert_refused(&app, &evicted, "PERSISTED_QUERY_NOT_FOUND");
    for doc in &documents[1..] {
        let kept = post(&app, None, persisted_body(None, &sha256_hex(doc))).await;
        assert_eq!(kept.data(), &json!({ "__typename": "QueryRoot" }));
    }
}

#[tokio::test]
async fn apq_off_answers_not_supported() {
    let app = spawn_with(PersistedConfig {
        apq_cache_size: 0,
        ..PersistedConfig::default()
    })
    .await;
    let hash = sha256_hex(VIEWER);
    app.reset_statements();
    let resp = post(&app, None, persisted_body(None, &hash)).await;
    assert_refused(&app, &resp, "PERSISTED_QUERY_NOT_SUPPORTED");
    assert_eq!(
        resp.body["errors"][0]["message"],
        "PersistedQueryNotSupported"
    );
    // With the document, the hash is ignored.
    let resp = post(&app, None, persisted_body(Some(VIEWER), &hash)).await;
    assert_eq!(resp.data()["viewer"]["role"], "ANON");
}

#[tokio::test]
async fn allow_mode_serves_listed_ids_and_still_runs_other_documents() {
    let dir = tempfile::tempdir().unwrap();
    let codegen_id = sha256_hex(VIEWER);
    // Relay's ids are its own (an MD5 by default): any string is an id.
    let relay_id = "4f1c0ed0a6bd6e2f8ad7a8b2c4f0c1a9";
    let path = manifest(
        &dir,
        &[
            (&codegen_id, VIEWER),
            (relay_id, "query RelayViewer { viewer { role } }"),
            ("sessions-subscription", CHAT_SESSIONS),
        ],
    );
    let app = spawn_with(PersistedConfig {
        trusted_documents: Some(path),
        trusted_documents_mode: TrustedMode::Allow,
        ..PersistedConfig::default()
    })
    .await;
    let alice = app.db.create_user("alice@example.com").await;

    let by_hash = post(&app, Some(alice), persisted_body(None, &codegen_id)).await;
    assert_eq!(by_hash.data()["viewer"]["id"], json!(alice));
    let by_relay_id = post(&app, Some(alice), persisted_body(None, relay_id)).await;
    assert_eq!(by_relay_id.data()["viewer"]["role"], "AUTHENTICATED");
    // Relay's own body fields name the document too.
    for field in ["doc_id", "documentId"] {
        let body = json!({ field: relay_id, "variables": {} });
        let resp = post(&app, Some(alice), body).await;
        assert_eq!(resp.data()["viewer"]["role"], "AUTHENTICATED", "{field}");
    }
    // Any other document still runs, and automatic persisted queries work.
    let other = app.as_user(alice, "{ viewer { role } }", json!({})).await;
    assert_eq!(other.data()["viewer"]["role"], "AUTHENTICATED");
    let unknown = sha256_hex("{ __typename }");
    let resp = post(&app, Some(alice), persisted_body(None, &unknown)).await;
    assert_eq!(resp.error_code(), "PERSISTED_QUERY_NOT_FOUND");
    // A listed id with a different document is refused.
    let resp = post(
        &app,
        Some(alice),
        persisted_body(Some("{ __typename }"), relay_id),
    )
    .await;
    assert_eq!(resp.error_code(), "PERSISTED_QUERY_HASH_MISMATCH");

    // Over the websocket: a query and a subscription, each by id alone.
    let mut client = WsClient::connect(app.addr, PROTOCOLS[0], Some(&app.token(alice)))
        .await
        .expect("connection_ack");
    client
        .send(
            json!({ "id": "q", "type": "subscribe", "payload": persisted_body(None, &codegen_id) }),
        )
        .await;
    assert_eq!(client.next_data("q", "viewer").await["id"], json!(alice));
    client
        .send(json!({
            "id": "s",
            "type": "subscribe",
            "payload": persisted_body(None, "sessions-subscription"),
        }))
        .await;
    // Registered once the set-up phase has run.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let session: Uuid = sqlx::query_scalar(
        "INSERT INTO chat.chat_sessions (user_id, client_id) VALUES ($1, 'conv') RETURNING id",
    )
    .bind(alice)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    let created = client.next_data("s", "chatSessions").await;
    assert_eq!(created["op"], "CREATED", "{created}");
    assert_eq!(created["sessionId"], json!(session));
    client.close().await;
}

#[tokio::test]
async fn require_mode_runs_only_listed_documents_and_refuses_the_rest_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let id = sha256_hex(VIEWER);
    let path = manifest(&dir, &[(&id, VIEWER), ("sessions", CHAT_SESSIONS)]);
    let app = spawn_with(PersistedConfig {
        trusted_documents: Some(path),
        trusted_documents_mode: TrustedMode::Require,
        ..PersistedConfig::default()
    })
    .await;
    let alice = app.db.create_user("alice@example.com").await;
    let expected = json!({ "viewer": { "id": alice, "role": "AUTHENTICATED" } });

    // Listed: by hash, and as its full text.
    let by_hash = post(&app, Some(alice), persisted_body(None, &id)).await;
    assert_eq!(by_hash.data(), &expected);
    let by_text = app.as_user(alice, VIEWER, json!({})).await;
    assert_eq!(by_text.data(), &expected);

    // Anything else is refused, and sends no SQL.
    app.reset_statements();
    for (what, body) in [
        (
            "an unlisted document",
            json!({ "query": "{ viewer { id } }" }),
        ),
        (
            "introspection",
            json!({ "query": "{ __schema { queryType { name } } }" }),
        ),
        // Not parsed: a broken document is refused, not a parse failure.
        ("a broken document", json!({ "query": "{ viewer { id " })),
        ("no document at all", json!({ "query": "" })),
        (
            "an unknown hash",
            persisted_body(None, &sha256_hex("{ viewer { id } }")),
        ),
        (
            "a new APQ registration",
            persisted_body(Some("{ viewer { id } }"), &sha256_hex("{ viewer { id } }")),
        ),
    ] {
        let resp = post(&app, Some(alice), body).await;
        assert_eq!(
            resp.error_code(),
            "PERSISTED_QUERY_NOT_ALLOWED",
            "{what}: {}",
            resp.body
        );
        assert!(resp.body.get("data").is_none_or(Value::is_null), "{what}");
    }
    assert_eq!(app.raw_statement_count(), 0, "{:?}", app.statements());

    // Within a batch, each item on its own.
    let batch = json!([persisted_body(None, &id), { "query": "{ viewer { id } }" }]);
    let resp = post(&app, Some(alice), batch).await;
    assert_eq!(resp.body[0]["data"], expected, "{}", resp.body);
    assert_eq!(
        resp.body[1]["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_ALLOWED",
        "{}",
        resp.body
    );

    // Websocket operations too: an unlisted subscription is refused, a
    // listed one runs.
    let mut client = WsClient::connect(app.addr, PROTOCOLS[1], Some(&app.token(alice)))
        .await
        .expect("connection_ack");
    let refused = client
        .start("subscription { chatSessions { op } }", json!({}))
        .await;
    let error = client.ends_with_error(&refused).await;
    assert_eq!(
        error["extensions"]["code"], "PERSISTED_QUERY_NOT_ALLOWED",
        "{error}"
    );
    client
        .send(json!({ "id": "s", "type": "start", "payload": persisted_body(None, "sessions") }))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    sqlx::query("INSERT INTO chat.chat_sessions (user_id, client_id) VALUES ($1, 'conv')")
        .bind(alice)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (got, delivery) = client.next_any().await;
    match delivery {
        Delivery::Next(payload) if got == "s" => {
            assert_eq!(
                payload["data"]["chatSessions"]["op"], "CREATED",
                "{payload}"
            )
        }
        other => panic!("expected a delivery for s, got {got} {other:?}"),
    }
    client.close().await;
}

/// `GET /graphql?variables=...&extensions=...`, as Apollo's link sends
/// hashed queries with `useGETForHashedQueries`.
async fn get_persisted(app: &TestApp, user: Uuid, id: &str) -> GqlResponse {
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": id } });
    let response = app
        .client
        .get(format!("{}/graphql", app.base_url))
        .query(&[("extensions", extensions.to_string())])
        .header("Authorization", format!("Bearer {}", app.token(user)))
        .header("Accept", "application/json")
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    GqlResponse { status, body }
}

#[tokio::test]
async fn persisted_operations_over_get() {
    let dir = tempfile::tempdir().unwrap();
    let mutation = "mutation Clear { clearChatSessions { deletedCount } }";
    let path = manifest(&dir, &[("clear", mutation)]);
    let app = spawn_with(PersistedConfig {
        trusted_documents: Some(path),
        trusted_documents_mode: TrustedMode::Allow,
        ..PersistedConfig::default()
    })
    .await;
    let alice = app.db.create_user("alice@example.com").await;
    let hash = sha256_hex(VIEWER);
    let missing = get_persisted(&app, alice, &hash).await;
    assert_eq!(missing.error_code(), "PERSISTED_QUERY_NOT_FOUND");
    let registered = post(&app, Some(alice), persisted_body(Some(VIEWER), &hash)).await;
    assert_eq!(registered.data()["viewer"]["id"], json!(alice));
    let known = get_persisted(&app, alice, &hash).await;
    assert_eq!(known.status, 200);
    assert_eq!(known.data()["viewer"]["id"], json!(alice));
    // A mutation named by id is still a mutation: not over GET.
    app.reset_statements();
    let refused = get_persisted(&app, alice, "clear").await;
    assert_eq!(refused.status, 405, "{}", refused.body);
    assert_refused(&app, &refused, "METHOD_NOT_ALLOWED");
}
