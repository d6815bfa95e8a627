//! The authentication matrix: every way a token can be right or wrong.

use super::*;
use jsonwebtoken::crypto::sign;
use serde_json::json;

const SECRET: &str = "test-only-hs256-secret-at-least-32-bytes";
const OTHER_SECRET: &str = "another-test-only-secret-of-32-bytes!!";
const USER: &str = "6f1c2a4e-1d0b-4f59-9d52-2c9b2f1e7a10";

const JWKS: &str = include_str!("../../tests/fixtures/auth/jwks.json");
const RSA_PRIVATE: &str = include_str!("../../tests/fixtures/auth/rsa_private.pem");
const RSA_PUBLIC: &str = include_str!("../../tests/fixtures/auth/rsa_public.pem");
const RSA_OTHER_PRIVATE: &str = include_str!("../../tests/fixtures/auth/rsa_other_private.pem");
const EC_PRIVATE: &str = include_str!("../../tests/fixtures/auth/ec_private.pem");

fn config(secret: Option<&str>) -> AuthConfig {
    AuthConfig {
        jwt_secret: secret.map(str::to_owned),
        jwks_file: None,
        audience: "authenticated".into(),
        issuer: None,
        leeway_secs: 30,
    }
}

fn hs_only() -> Authenticator {
    Authenticator::build(&config(Some(SECRET)), None).unwrap()
}

fn jwks_only() -> Authenticator {
    Authenticator::build(&config(None), Some(jwks::parse(JWKS).unwrap())).unwrap()
}

fn both() -> Authenticator {
    Authenticator::build(&config(Some(SECRET)), Some(jwks::parse(JWKS).unwrap())).unwrap()
}

fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

fn claims(role: &str, sub: Option<&str>) -> Value {
    let mut c = json!({
        "role": role,
        "aud": "authenticated",
        "exp": now() + 600,
        "iat": now(),
        "email": "ada@example.com",
    });
    if let Some(sub) = sub {
        c["sub"] = sub.into();
    }
    c
}

fn hs_token(claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn asym_token(claims: &Value, alg: Algorithm, kid: Option<&str>, pem: &str) -> String {
    let key = match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        Algorithm::ES256 => EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        other => panic!("no test key for {other:?}"),
    };
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// A token with an arbitrary header and payload, correctly HS256-signed with
/// `SECRET`, to reach the checks that run after the signature.
fn signed_raw(header_b64: &str, payload_b64: &str) -> String {
    let message = format!("{header_b64}.{payload_b64}");
    let signature = sign(
        message.as_bytes(),
        &EncodingKey::from_secret(SECRET.as_bytes()),
        Algorithm::HS256,
    )
    .unwrap();
    format!("{message}.{signature}")
}

fn err(result: Result<Viewer, AuthError>) -> AuthError {
    match result {
        Ok(viewer) => panic!("expected an error, got viewer {viewer:?}"),
        Err(e) => e,
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

// ---- valid tokens -------------------------------------------------------

#[test]
fn hs256_authenticated_token_yields_the_user() {
    let auth = hs_only();
    let token = hs_token(&claims("authenticated", Some(USER)), SECRET.as_bytes());
    let viewer = auth.authenticate(Some(&bearer(&token))).unwrap();
    assert_eq!(viewer.role, Role::Authenticated);
    assert_eq!(viewer.user_id, Some(USER.parse().unwrap()));
    assert!(!viewer.is_service());
    assert_eq!(viewer.claims["email"], "ada@example.com");

    let sql: Value = serde_json::from_str(&viewer.claims_json()).unwrap();
    assert_eq!(sql["role"], "authenticated");
    assert_eq!(sql["sub"], USER);
    assert_eq!(sql["email"], "ada@example.com");
}

#[test]
fn sub_is_normalised_to_the_canonical_uuid() {
    let auth = hs_only();
    let upper = USER.to_uppercase();
    let token = hs_token(&claims("authenticated", Some(&upper)), SECRET.as_bytes());
    let viewer = auth.verify(&token).unwrap();
    assert_eq!(viewer.claims["sub"], USER);
}

#[test]
fn service_role_token_may_omit_sub() {
    let auth = hs_only();
    let token = hs_token(&claims("service_role", None), SECRET.as_bytes());
    let viewer = auth.verify(&token).unwrap();
    assert_eq!(viewer.role, Role::ServiceRole);
    assert_eq!(viewer.user_id, None);
    assert!(viewer.is_service());
    let sql: Value = serde_json::from_str(&viewer.claims_json()).unwrap();
    assert_eq!(sql["role"], "service_role");
    assert!(sql.get("sub").is_none());
}

#[test]
fn service_role_token_with_sub_keeps_the_user() {
    let token = hs_token(&claims("service_role", Some(USER)), SECRET.as_bytes());
    let viewer = hs_only().verify(&token).unwrap();
    assert_eq!(viewer.user_id, Some(USER.parse().unwrap()));
    let bad = hs_token(&claims("service_role", Some("root")), SECRET.as_bytes());
    assert_eq!(err(hs_only().verify(&bad)), AuthError::BadSub);
}

#[test]
fn anon_token_yields_an_anon_viewer_without_a_user() {
    let auth = hs_only();
    let token = hs_token(&claims("anon", None), SECRET.as_bytes());
    let viewer = auth.verify(&token).unwrap();
    assert_eq!(viewer.role, Role::Anon);
    assert_eq!(viewer.user_id, None);

    // Even when an anon token carries a sub, SQL must not see a user.
    let token = hs_token(&claims("anon", Some(USER)), SECRET.as_bytes());
    let viewer = auth.verify(&token).unwrap();
    assert_eq!(viewer.user_id, None);
    assert!(viewer.claims.get("sub").is_none());
    assert!(!viewer.claims_json().contains(USER));
}

#[test]
fn no_header_is_anon() {
    let viewer = hs_only().authenticate(None).unwrap();
    assert_eq!(viewer.role, Role::Anon);
    assert_eq!(viewer.user_id, None);
    let sql: Value = serde_json::from_str(&viewer.claims_json()).unwrap();
    assert_eq!(sql, json!({"role": "anon"}));
}

#[test]
fn scheme_is_case_insensitive_and_whitespace_tolerant() {
    let auth = hs_only();
    let token = hs_token(&claims("authenticated", Some(USER)), SECRET.as_bytes());
    for header in [
        format!("bearer {token}"),
        format!("BEARER  {token}"),
        format!("  Bearer\t{token}  "),
    ] {
        let viewer = auth.authenticate(Some(&header)).unwrap();
        assert_eq!(viewer.role, Role::Authenticated, "{header}");
    }
}

#[test]
fn rs256_and_es256_verify_with_jwks_keys_by_kid() {
    let auth = jwks_only();
    let rs = asym_token(
        &claims("authenticated", Some(USER)),
        Algorithm::RS256,
        Some("test-rsa-1"),
        RSA_PRIVATE,
    );
    let viewer = auth.authenticate(Some(&bearer(&rs))).unwrap();
    assert_eq!(viewer.user_id, Some(USER.parse().unwrap()));

    let es = asym_token(
        &claims("service_role", None),
        Algorithm::ES256,
        Some("test-ec-1"),
        EC_PRIVATE,
    );
    let viewer = auth.verify(&es).unwrap();
    assert_eq!(viewer.role, Role::ServiceRole);

    // With both kinds of keys configured, both kinds of tokens work.
    let auth = both();
    assert!(auth.verify(&rs).is_ok());
    assert!(auth.verify(&es).is_ok());
    let hs = hs_token(&claims("authenticated", Some(USER)), SECRET.as_bytes());
    assert!(auth.verify(&hs).is_ok());
}

// ---- time ---------------------------------------------------------------

#[test]
fn expired_token_is_rejected() {
    let mut c = claims("authenticated", Some(USER));
    c["exp"] = (now() - 120).into();
    let token = hs_token(&c, SECRET.as_bytes());
    assert_eq!(
        err(hs_only().authenticate(Some(&bearer(&token)))),
        AuthError::Expired
    );
}

#[test]
fn token_not_yet_valid_is_rejected() {
    let mut c = claims("authenticated", Some(USER));
    c["nbf"] = (now() + 120).into();
    let token = hs_token(&c, SECRET.as_bytes());
    assert_eq!(err(hs_only().verify(&token)), AuthError::NotYetValid);
}

#[test]
fn leeway_is_respected_both_ways() {
    let auth = hs_only(); // 30 s leeway
    let mut c = claims("authenticated", Some(USER));
    c["exp"] = (now() - 10).into();
    c["nbf"] = (now() + 10).into();
    let token = hs_token(&c, SECRET.as_bytes());
    assert!(auth.verify(&token).is_ok());

    let mut strict = config(Some(SECRET));
    strict.leeway_secs = 0;
    let strict = Authenticator::build(&strict, None).unwrap();
    assert_eq!(err(strict.verify(&token)), AuthError::Expired);
}

#[test]
fn exp_is_required_and_times_must_be_numeric() {
    let mut c = claims("authenticated", Some(USER));
    c.as_object_mut().unwrap().remove("exp");
    let token = hs_token(&c, SECRET.as_bytes());
    assert_eq!(
        err(hs_only().verify(&token)),
        AuthError::MissingClaim("exp".into())
    );

    let mut with_nbf = claims("authenticated", Some(USER));
    with_nbf["nbf"] = "soon".into();
    assert_eq!(
        err(hs_only().verify(&hs_token(&with_nbf, SECRET.as_bytes()))),
        AuthError::InvalidClaim("nbf".into())
    );

    // jsonwebtoken treats an exp it cannot read as numeric as absent.
    c["exp"] = "tomorrow".into();
    let token = hs_token(&c, SECRET.as_bytes());
    assert_eq!(
        err(hs_only().verify(&token)),
        AuthError::MissingClaim("exp".into())
    );
}

// ---- signatures and algorithms ------------------------------------------

#[test]
fn bad_signature_is_rejected() {
    let token = hs_token(
        &claims("authenticated", Some(USER)),
        OTHER_SECRET.as_bytes(),
    );
    assert_eq!(err(hs_only().verify(&token)), AuthError::BadSignature);

    let rs = asym_token(
        &claims("authenticated", Some(USER)),
        Algorithm::RS256,
        Some("test-rsa-1"),
        RSA_OTHER_PRIVATE,
    );
    assert_eq!(err(jwks_only().verify(&rs)), AuthError::BadSignature);
}

#[test]
fn tampered_payload_is_rejected() {
    let token = hs_token(&claims("authenticated", Some(USER)), SECRET.as_bytes());
    let parts: Vec<&str> = token.split('.').collect();
    let forged = b64(&claims("service_role", None));
    let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
    assert_eq!(err(hs_only().verify(&tampered)), AuthError::BadSignature);

    let rs = asym_token(
        &claims("authenticated", Some(USER)),
        Algorithm::RS256,
        Some("test-rsa-1"),
        RSA_PRIVATE,
    );
    let parts: Vec<&str> = rs.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
    assert_eq!(err(jwks_only().verify(&tampered)), AuthError::BadSignature);
}

#[test]
fn alg_none_is_rejected() {
    let payload = b64(&claims("service_role", None));
    let valid = hs_token(&claims("service_role", None), SECRET.as_bytes());
    let valid_signature = valid.rsplit('.').next().unwrap();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = b64(&json!({"alg": alg, "typ": "JWT"}));
        let unsigned = format!("{header}.{payload}.");
        assert_eq!(
            err(both().authenticate(Some(&bearer(&unsigned)))),
            AuthError::AlgorithmNotAllowed,
            "{alg}"
        );
        // A signature copied from a real token does not help either.
        let copied = format!("{header}.{payload}.{valid_signature}");
        assert_eq!(
            err(both().verify(&copied)),
            AuthError::AlgorithmNotAllowed,
            "{alg}"
        );
    }
}

#[test]
fn other_algorithms_are_not_allowed_even_with_the_right_key() {
    let c = claims("authenticated", Some(USER));
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let token = jsonwebtoken::encode(
            &Header::new(alg),
            &c,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        assert_eq!(
            err(both().verify(&token)),
            AuthError::AlgorithmNotAllowed,
            "{alg:?}"
        );
    }
    let mut header = Header::new(Algorithm::PS256);
    header.kid = Some("test-rsa-1".into());
    let ps = jsonwebtoken::encode(
        &header,
        &c,
        &EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(err(both().verify(&ps)), AuthError::AlgorithmNotAllowed);
}

#[test]
fn hs_rs_confusion_is_impossible() {
    let c = claims("service_role", None);
    // The classic attack: HMAC-sign with the RSA public key as the secret.
    let forged = hs_token(&c, RSA_PUBLIC.as_bytes());
    let mut with_kid = Header::new(Algorithm::HS256);
    with_kid.kid = Some("test-rsa-1".into());
    let forged_with_kid = jsonwebtoken::encode(
        &with_kid,
        &c,
        &EncodingKey::from_secret(RSA_PUBLIC.as_bytes()),
    )
    .unwrap();
    // JWKS + a different secret: HS256 is checked against the secret only.
    assert_eq!(err(both().verify(&forged)), AuthError::BadSignature);
    assert_eq!(
        err(both().verify(&forged_with_kid)),
        AuthError::BadSignature
    );
    // JWKS only: HS256 is not allowed at all.
    assert_eq!(
        err(jwks_only().verify(&forged)),
        AuthError::AlgorithmNotAllowed
    );
    assert_eq!(
        err(jwks_only().verify(&forged_with_kid)),
        AuthError::AlgorithmNotAllowed
    );

    // The reverse: an RS256 token when only a secret is configured.
    let rs = asym_token(&c, Algorithm::RS256, Some("test-rsa-1"), RSA_PRIVATE);
    assert_eq!(err(hs_only().verify(&rs)), AuthError::AlgorithmNotAllowed);
    let es = asym_token(&c, Algorithm::ES256, Some("test-ec-1"), EC_PRIVATE);
    assert_eq!(err(hs_only().verify(&es)), AuthError::AlgorithmNotAllowed);
}

#[test]
fn key_type_must_match_the_algorithm() {
    let c = claims("authenticated", Some(USER));
    // RS256 naming the EC key, ES256 naming the RSA key.
    let rs = asym_token(&c, Algorithm::RS256, Some("test-ec-1"), RSA_PRIVATE);
    assert_eq!(err(jwks_only().verify(&rs)), AuthError::AlgorithmNotAllowed);
    let es = asym_token(&c, Algorithm::ES256, Some("test-rsa-1"), EC_PRIVATE);
    assert_eq!(err(jwks_only().verify(&es)), AuthError::AlgorithmNotAllowed);
}

#[test]
fn unknown_or_missing_kid_is_rejected() {
    let c = claims("authenticated", Some(USER));
    let unknown = asym_token(&c, Algorithm::RS256, Some("rotated-away"), RSA_PRIVATE);
    assert_eq!(err(jwks_only().verify(&unknown)), AuthError::UnknownKey);
    let missing = asym_token(&c, Algorithm::ES256, None, EC_PRIVATE);
    assert_eq!(err(jwks_only().verify(&missing)), AuthError::UnknownKey);
}

// ---- audience, issuer ---------------------------------------------------

#[test]
fn audience_must_match() {
    let auth = hs_only();
    let mut c = claims("authenticated", Some(USER));
    c["aud"] = "some-other-service".into();
    assert_eq!(
        err(auth.verify(&hs_token(&c, SECRET.as_bytes()))),
        AuthError::WrongAudience
    );

    c["aud"] = json!(["some-other-service", "authenticated"]);
    assert!(auth.verify(&hs_token(&c, SECRET.as_bytes())).is_ok());

    c.as_object_mut().unwrap().remove("aud");
    assert_eq!(
        err(auth.verify(&hs_token(&c, SECRET.as_bytes()))),
        AuthError::MissingClaim("aud".into())
    );

    let mut custom = config(Some(SECRET));
    custom.audience = "workbench".into();
    let custom = Authenticator::build(&custom, None).unwrap();
    let token = hs_token(&claims("authenticated", Some(USER)), SECRET.as_bytes());
    assert_eq!(err(custom.verify(&token)), AuthError::WrongAudience);
}

#[test]
fn issuer_is_checked_when_configured() {
    let mut cfg = config(Some(SECRET));
    cfg.issuer = Some("https://auth.example.com".into());
    let auth = Authenticator::build(&cfg, None).unwrap();

    let mut c = claims("authenticated", Some(USER));
    c["iss"] = "https://auth.example.com".into();
    assert!(auth.verify(&hs_token(&c, SECRET.as_bytes())).is_ok());

    c["iss"] = "https://evil.example.com".into();
    let wrong = hs_token(&c, SECRET.as_bytes());
    assert_eq!(err(auth.verify(&wrong)), AuthError::WrongIssuer);
    // Without a configured issuer, any issuer is fine.
    assert!(hs_only().verify(&wrong).is_ok());

    c.as_object_mut().unwrap().remove("iss");
    assert_eq!(
        err(auth.verify(&hs_token(&c, SECRET.as_bytes()))),
        AuthError::MissingClaim("iss".into())
    );
}

// ---- sub and role -------------------------------------------------------

#[test]
fn authenticated_token_needs_a_uuid_sub() {
    let auth = hs_only();
    let token = hs_token(&claims("authenticated", None), SECRET.as_bytes());
    assert_eq!(err(auth.verify(&token)), AuthError::MissingSub);

    let mut c = claims("authenticated", None);
    c["sub"] = Value::Null;
    assert_eq!(
        err(auth.verify(&hs_token(&c, SECRET.as_bytes()))),
        AuthError::MissingSub
    );
    for sub in [json!("alice"), json!(""), json!(42), json!(true)] {
        c["sub"] = sub.clone();
        assert_eq!(
            err(auth.verify(&hs_token(&c, SECRET.as_bytes()))),
            AuthError::BadSub,
            "{sub}"
        );
    }
    // jsonwebtoken's own claim reader chokes on an array `sub`: still rejected.
    for sub in [json!([USER]), json!({"id": USER})] {
        c["sub"] = sub.clone();
        assert_eq!(
            err(auth.verify(&hs_token(&c, SECRET.as_bytes()))),
            AuthError::Malformed,
            "{sub}"
        );
    }
}

#[test]
fn unknown_or_missing_role_is_rejected() {
    let auth = hs_only();
    // `postgres` matters most: the role ends up in `SET ROLE`.
    for role in [
        json!("postgres"),
        json!("admin"),
        json!("Authenticated"),
        json!(1),
    ] {
        let mut c = claims("authenticated", Some(USER));
        c["role"] = role.clone();
        assert_eq!(
            err(auth.verify(&hs_token(&c, SECRET.as_bytes()))),
            AuthError::UnknownRole,
            "{role}"
        );
    }
    let mut c = claims("authenticated", Some(USER));
    c.as_object_mut().unwrap().remove("role");
    assert_eq!(
        err(auth.verify(&hs_token(&c, SECRET.as_bytes()))),
        AuthError::UnknownRole
    );
}

// ---- shape --------------------------------------------------------------

#[test]
fn malformed_tokens_are_rejected() {
    let auth = both();
    let valid = hs_token(&claims("authenticated", Some(USER)), SECRET.as_bytes());
    let header = b64(&json!({"alg": "HS256", "typ": "JWT"}));
    let payload = b64(&claims("authenticated", Some(USER)));
    let cases = vec![
        "".to_string(),
        "abc".to_string(),
        "a.b".to_string(),
        format!("{valid}.extra"),
        format!(".{payload}.sig"),
        format!("{header}..sig"),
        format!("!!!.{payload}.sig"),
        format!("{}.{payload}.sig", URL_SAFE_NO_PAD.encode("not json")),
        format!("{}.{payload}.sig", b64(&json!({"typ": "JWT"}))),
        format!("{}.{payload}.sig", b64(&json!({"alg": "HS256", "kid": 7}))),
        format!(
            "{}.{payload}.sig",
            b64(&json!({"alg": "HS256", "crit": ["exp"]}))
        ),
        // Correctly signed, but the payload is not base64url / not JSON / not an object.
        signed_raw(&header, "!!!"),
        signed_raw(&header, &URL_SAFE_NO_PAD.encode("not json")),
        signed_raw(&header, &b64(&json!([1, 2, 3]))),
        // Absurdly long.
        format!("{header}.{}.sig", "A".repeat(MAX_TOKEN_BYTES)),
    ];
    for token in cases {
        assert_eq!(
            err(auth.verify(&token)),
            AuthError::Malformed,
            "{token:.80}"
        );
    }
    assert_eq!(err(auth.authenticate(Some("Bearer"))), AuthError::Malformed);
    assert_eq!(
        err(auth.authenticate(Some("Bearer   "))),
        AuthError::Malformed
    );
    // The signed-raw helper itself yields a valid token for a good payload.
    assert!(auth.verify(&signed_raw(&header, &payload)).is_ok());
}

#[test]
fn wrong_scheme_is_rejected_not_downgraded() {
    let auth = hs_only();
    let token = hs_token(&claims("authenticated", Some(USER)), SECRET.as_bytes());
    for header in [
        "Basic dXNlcjpwYXNz".to_string(),
        format!("Token {token}"),
        token.clone(),
        String::new(),
        format!("Bearer{token}"),
    ] {
        assert_eq!(
            err(auth.authenticate(Some(&header))),
            AuthError::BadScheme,
            "{header:.40}"
        );
    }
}

#[test]
fn websocket_init_payload_follows_the_same_rules() {
    let auth = hs_only();
    let token = hs_token(&claims("authenticated", Some(USER)), SECRET.as_bytes());
    let header = bearer(&token);
    for payload in [
        json!({"Authorization": header}),
        json!({"authorization": header}),
        json!({"headers": {"Authorization": header}}),
    ] {
        let viewer = auth.authenticate_init_payload(Some(&payload)).unwrap();
        assert_eq!(viewer.role, Role::Authenticated, "{payload}");
    }
    for payload in [
        None,
        Some(json!(null)),
        Some(json!({})),
        Some(json!({"other": 1})),
    ] {
        let viewer = auth.authenticate_init_payload(payload.as_ref()).unwrap();
        assert_eq!(viewer.role, Role::Anon);
    }
    let bad = json!({"Authorization": bearer(&hs_token(
        &claims("authenticated", Some(USER)),
        OTHER_SECRET.as_bytes()
    ))});
    assert_eq!(
        err(auth.authenticate_init_payload(Some(&bad))),
        AuthError::BadSignature
    );
    assert_eq!(
        err(auth.authenticate_init_payload(Some(&json!({"Authorization": 1})))),
        AuthError::Malformed
    );
}

// ---- minting, configuration, types ---------------------------------------

#[test]
fn minted_tokens_round_trip() {
    let mut cfg = config(Some(SECRET));
    cfg.issuer = Some("gateway-dev".into());
    let auth = Authenticator::build(&cfg, None).unwrap();
    let user: Uuid = USER.parse().unwrap();

    let token = auth
        .mint(
            Some(user),
            Role::Authenticated,
            Duration::from_secs(3600),
            Some("ada@example.com"),
        )
        .unwrap();
    let viewer = auth.verify(&token).unwrap();
    assert_eq!(viewer.user_id, Some(user));
    assert_eq!(viewer.role, Role::Authenticated);
    assert_eq!(viewer.claims["email"], "ada@example.com");
    assert_eq!(viewer.claims["iss"], "gateway-dev");
    assert_eq!(viewer.claims["aud"], "authenticated");
    let exp = viewer.claims["exp"].as_i64().unwrap();
    let iat = viewer.claims["iat"].as_i64().unwrap();
    assert_eq!(exp - iat, 3600);

    let service = auth
        .mint(None, Role::ServiceRole, Duration::from_secs(60), None)
        .unwrap();
    assert!(auth.verify(&service).unwrap().is_service());

    // A token minted with another secret is worthless here.
    let other = Authenticator::build(&config(Some(OTHER_SECRET)), None).unwrap();
    let foreign = other
        .mint(
            Some(user),
            Role::Authenticated,
            Duration::from_secs(60),
            None,
        )
        .unwrap();
    assert_eq!(err(auth.verify(&foreign)), AuthError::BadSignature);
}

#[test]
fn minting_refuses_what_could_not_verify() {
    let user: Uuid = USER.parse().unwrap();
    assert_eq!(
        hs_only().mint(None, Role::Authenticated, Duration::from_secs(60), None),
        Err(AuthError::MissingSub)
    );
    assert_eq!(
        jwks_only().mint(
            Some(user),
            Role::Authenticated,
            Duration::from_secs(60),
            None
        ),
        Err(AuthError::NoKeyConfigured)
    );
    assert!(matches!(
        hs_only().mint(Some(user), Role::Authenticated, Duration::ZERO, None),
        Err(AuthError::Config(_))
    ));
}

#[test]
fn configuration_is_validated() {
    assert_eq!(
        Authenticator::new(&config(None)).unwrap_err(),
        AuthError::NoKeyConfigured
    );
    assert!(matches!(
        Authenticator::new(&config(Some(""))),
        Err(AuthError::Config(_))
    ));
    let mut cfg = config(Some(SECRET));
    cfg.audience = " ".into();
    assert!(matches!(
        Authenticator::new(&cfg),
        Err(AuthError::Config(_))
    ));
    let mut cfg = config(Some(SECRET));
    cfg.leeway_secs = u64::MAX;
    assert!(matches!(
        Authenticator::new(&cfg),
        Err(AuthError::Config(_))
    ));
    let mut cfg = config(Some(SECRET));
    cfg.jwks_file = Some("/nonexistent/jwks.json".into());
    assert!(matches!(
        Authenticator::new(&cfg),
        Err(AuthError::Config(_))
    ));
}

#[test]
fn jwks_file_is_loaded_by_new() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, JWKS).unwrap();
    let mut cfg = config(None);
    cfg.jwks_file = Some(path);
    let auth = Authenticator::new(&cfg).unwrap();
    let token = asym_token(
        &claims("authenticated", Some(USER)),
        Algorithm::ES256,
        Some("test-ec-1"),
        EC_PRIVATE,
    );
    assert_eq!(auth.verify(&token).unwrap().role, Role::Authenticated);
}

#[test]
fn debug_never_prints_the_secret() {
    let debug = format!("{:?}", both());
    assert!(!debug.contains(SECRET), "{debug}");
    assert!(debug.contains("[redacted]"), "{debug}");
    assert!(debug.contains("test-rsa-1"), "{debug}");
}

#[test]
fn error_messages_leak_nothing() {
    let auth = hs_only();
    let token = hs_token(
        &claims("authenticated", Some("not-a-uuid")),
        OTHER_SECRET.as_bytes(),
    );
    let e = err(auth.authenticate(Some(&bearer(&token))));
    let text = e.to_string();
    assert_eq!(e.reason(), "bad_signature");
    assert!(!text.contains(SECRET) && !text.contains(OTHER_SECRET) && !text.contains(&token));
    assert!(!text.contains("not-a-uuid"));
}

#[test]
fn roles_parse_and_map_to_database_roles() {
    for role in [Role::Anon, Role::Authenticated, Role::ServiceRole] {
        assert_eq!(role.as_db_role().parse::<Role>().unwrap(), role);
        assert_eq!(role.to_string(), role.as_db_role());
    }
    assert_eq!(Role::ServiceRole.as_db_role(), "service_role");
    assert_eq!("postgres".parse::<Role>(), Err(AuthError::UnknownRole));
    assert_eq!("ANON".parse::<Role>(), Err(AuthError::UnknownRole));
}

#[test]
fn claims_json_follows_the_typed_fields() {
    let user: Uuid = USER.parse().unwrap();
    let viewer = Viewer {
        user_id: Some(user),
        role: Role::Authenticated,
        claims: json!({"role": "service_role", "sub": "someone-else", "email": "x@y.z"}),
    };
    let sql: Value = serde_json::from_str(&viewer.claims_json()).unwrap();
    assert_eq!(
        sql,
        json!({"role": "authenticated", "sub": USER, "email": "x@y.z"})
    );

    let viewer = Viewer {
        user_id: None,
        role: Role::Anon,
        claims: json!("not an object"),
    };
    let sql: Value = serde_json::from_str(&viewer.claims_json()).unwrap();
    assert_eq!(sql, json!({"role": "anon"}));
}
