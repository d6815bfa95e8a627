//! Auth over HTTP: no header is anon; every bad token is a 401 with
//! `UNAUTHENTICATED` that never reaches the database; RS256/ES256 tokens
//! verify against a JWKS file.

use crate::common::app::{spawn_app, spawn_app_with_auth, TestApp, TEST_SECRET};
use base64::Engine;
use gateway::auth::AuthConfig;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};
use uuid::Uuid;

const WHO: &str = "{ viewer { id role } }";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn claims(sub: Option<Uuid>, role: &str) -> Value {
    let mut c = json!({ "role": role, "aud": "authenticated", "exp": now() + 600, "iat": now() });
    if let Some(sub) = sub {
        c["sub"] = json!(sub);
    }
    c
}

fn hs256(claims: &Value, secret: &str) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// Sends `authorization` and asserts a 401 UNAUTHENTICATED that sent no SQL.
async fn assert_rejected(app: &TestApp, authorization: &str, why: &str) {
    app.reset_statements();
    let response = app
        .post_raw(Some(authorization), json!({ "query": WHO }))
        .await;
    assert_eq!(response.status, 401, "{why}: {}", response.body);
    assert_eq!(response.error_code(), "UNAUTHENTICATED", "{why}");
    assert!(response.body["data"].is_null(), "{why}: no data");
    assert_eq!(
        app.raw_statement_count(),
        0,
        "{why}: the database was touched"
    );
}

#[tokio::test]
async fn no_header_is_anon() {
    let app = spawn_app().await;
    let response = app.as_anon(WHO, json!({})).await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.data()["viewer"],
        json!({ "id": null, "role": "ANON" })
    );
}

#[tokio::test]
async fn valid_tokens_give_their_viewer() {
    let app = spawn_app().await;
    let alice = app.db.create_user("alice@example.com").await;
    let response = app.as_user(alice, WHO, json!({})).await;
    assert_eq!(
        response.data()["viewer"],
        json!({ "id": alice, "role": "AUTHENTICATED" })
    );
    let service = app.post(Some(&app.service_token()), WHO, json!({})).await;
    assert_eq!(service.data()["viewer"]["role"], "SERVICE_ROLE");
    let anon_token = hs256(&claims(None, "anon"), TEST_SECRET);
    let anon = app.post(Some(&anon_token), WHO, json!({})).await;
    assert_eq!(anon.data()["viewer"], json!({ "id": null, "role": "ANON" }));
}

#[tokio::test]
async fn every_bad_token_is_a_401_without_database_access() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let bearer = |t: &str| format!("Bearer {t}");

    let mut expired = claims(Some(user), "authenticated");
    expired["exp"] = json!(now() - 3600);
    assert_rejected(&app, &bearer(&hs256(&expired, TEST_SECRET)), "expired").await;

    let mut early = claims(Some(user), "authenticated");
    early["nbf"] = json!(now() + 3600);
    assert_rejected(&app, &bearer(&hs256(&early, TEST_SECRET)), "not yet valid").await;

    let good = claims(Some(user), "authenticated");
    assert_rejected(
        &app,
        &bearer(&hs256(&good, "another-secret")),
        "bad signature",
    )
    .await;

    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let none = format!(
        "{}.{}.",
        b64(&json!({ "alg": "none", "typ": "JWT" })),
        b64(&good)
    );
    assert_rejected(&app, &bearer(&none), "alg none").await;

    let rsa = EncodingKey::from_rsa_pem(include_bytes!("../fixtures/auth/rsa_private.pem"))
        .expect("test RSA key");
    let rs256 = encode(&Header::new(Algorithm::RS256), &good, &rsa).unwrap();
    assert_rejected(
        &app,
        &bearer(&rs256),
        "RS256 token when only HS256 is configured",
    )
    .await;

    let mut wrong_aud = good.clone();
    wrong_aud["aud"] = json!("someone-else");
    assert_rejected(
        &app,
        &bearer(&hs256(&wrong_aud, TEST_SECRET)),
        "wrong audience",
    )
    .await;

    let no_sub = claims(None, "authenticated");
    assert_rejected(&app, &bearer(&hs256(&no_sub, TEST_SECRET)), "missing sub").await;

    let mut bad_sub = good.clone();
    bad_sub["sub"] = json!("not-a-uuid");
    assert_rejected(&app, &bearer(&hs256(&bad_sub, TEST_SECRET)), "non-uuid sub").await;

    let admin = claims(Some(user), "admin");
    assert_rejected(&app, &bearer(&hs256(&admin, TEST_SECRET)), "unknown role").await;

    let mut no_exp = good.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_rejected(&app, &bearer(&hs256(&no_exp, TEST_SECRET)), "no exp").await;

    assert_rejected(&app, "Bearer not.a.jwt", "malformed").await;
    assert_rejected(&app, "Bearer ", "empty token").await;
    assert_rejected(&app, "Basic dXNlcjpwYXNz", "wrong scheme").await;
    assert_rejected(&app, &hs256(&good, TEST_SECRET), "no scheme").await;
}

#[tokio::test]
async fn error_messages_leak_no_secret() {
    let app = spawn_app().await;
    let good = claims(Some(Uuid::new_v4()), "authenticated");
    let response = app
        .post_raw(
            Some(&format!("Bearer {}", hs256(&good, "another-secret"))),
            json!({ "query": WHO }),
        )
        .await;
    assert!(!response.body.to_string().contains(TEST_SECRET));
}

/// RS256 or ES256 with `kid`, signed with the PEM private key `pem`.
fn asymmetric(claims: &Value, alg: Algorithm, kid: &str, pem: &[u8]) -> String {
    let key = match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(pem),
        Algorithm::ES256 => EncodingKey::from_ec_pem(pem),
        other => panic!("no test key for {other:?}"),
    }
    .expect("test key");
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    encode(&header, claims, &key).unwrap()
}

/// A gateway configured with the JWKS file only (no HS256 secret), as a
/// deployment behind an identity provider would be: its RS256 and ES256
/// tokens give their viewer, RLS follows it, and anything else is a 401
/// that never reaches the database.
#[tokio::test]
async fn jwks_file_tokens_over_http() {
    let jwks = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/auth/jwks.json");
    let app = spawn_app_with_auth(AuthConfig {
        jwt_secret: None,
        jwks_file: Some(jwks.into()),
        audience: "authenticated".into(),
        issuer: None,
        leeway_secs: 0,
    })
    .await;
    let alice = app.db.create_user("alice@example.com").await;
    let bob = app.db.create_user("bob@example.com").await;
    crate::common::sqlx::query(
        "INSERT INTO lift.sessions (user_id, original_input) VALUES ($1, 'mine')",
    )
    .bind(alice)
    .execute(&app.db.pool)
    .await
    .expect("alice's session");
    let rsa = include_bytes!("../fixtures/auth/rsa_private.pem");
    let ec = include_bytes!("../fixtures/auth/ec_private.pem");
    let bearer = |t: &str| format!("Bearer {t}");
    let query = "{ viewer { id role } liftSessions { totalCount } }";

    let as_alice = asymmetric(
        &claims(Some(alice), "authenticated"),
        Algorithm::RS256,
        "test-rsa-1",
        rsa,
    );
    let response = app
        .post_raw(Some(&bearer(&as_alice)), json!({ "query": query }))
        .await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(
        response.data()["viewer"],
        json!({ "id": alice, "role": "AUTHENTICATED" })
    );
    assert_eq!(response.data()["liftSessions"]["totalCount"], 1);

    let as_bob = asymmetric(
        &claims(Some(bob), "authenticated"),
        Algorithm::ES256,
        "test-ec-1",
        ec,
    );
    let response = app
        .post_raw(Some(&bearer(&as_bob)), json!({ "query": query }))
        .await;
    assert_eq!(response.data()["viewer"]["id"], json!(bob));
    // Bob's own claims, so RLS hides Alice's session.
    assert_eq!(response.data()["liftSessions"]["totalCount"], 0);

    let good = claims(Some(alice), "authenticated");
    let other_key = include_bytes!("../fixtures/auth/rsa_other_private.pem");
    assert_rejected(
        &app,
        &bearer(&asymmetric(
            &good,
            Algorithm::RS256,
            "test-rsa-1",
            other_key,
        )),
        "RS256 signed by a key outside the JWKS",
    )
    .await;
    assert_rejected(
        &app,
        &bearer(&asymmetric(&good, Algorithm::RS256, "no-such-kid", rsa)),
        "unknown kid",
    )
    .await;
    assert_rejected(
        &app,
        &bearer(&asymmetric(&good, Algorithm::ES256, "test-rsa-1", ec)),
        "ES256 under the RSA key's kid",
    )
    .await;
    assert_rejected(
        &app,
        &bearer(&hs256(&good, TEST_SECRET)),
        "HS256 when no secret is configured",
    )
    .await;
    let mut expired = good.clone();
    expired["exp"] = json!(now() - 60);
    assert_rejected(
        &app,
        &bearer(&asymmetric(&expired, Algorithm::RS256, "test-rsa-1", rsa)),
        "expired RS256",
    )
    .await;
}
