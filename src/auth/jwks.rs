//! Public keys for RS256/ES256 tokens, loaded once at start-up from a JWKS document.
//!
//! Only keys that can be selected unambiguously and used safely are kept: each
//! needs a `kid`, and its key type fixes the one algorithm it may verify
//! (RSA -> RS256, EC P-256 -> ES256). Symmetric (`oct`) keys are ignored on
//! purpose: HS256 is verified with the configured shared secret only, so a JWKS
//! can never turn a public key into an HMAC secret.

use std::collections::HashMap;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use super::AuthError;

/// RSA moduli shorter than this (in bytes) are refused: below 2048 bits RS256
/// is no longer considered safe.
const MIN_RSA_MODULUS_BYTES: usize = 256;

/// Length of one P-256 coordinate in bytes.
const P256_COORDINATE_BYTES: usize = 32;

/// A verification key and the only algorithm it may be used with.
#[derive(Clone)]
pub(crate) struct JwkKey {
    pub(crate) alg: Algorithm,
    pub(crate) key: DecodingKey,
}

/// The usable keys of a JWKS document, by `kid`.
#[derive(Clone, Default)]
pub(crate) struct JwkStore {
    keys: HashMap<String, JwkKey>,
}

impl JwkStore {
    /// The key with this `kid`, if the document had a usable one.
    pub(crate) fn get(&self, kid: &str) -> Option<&JwkKey> {
        self.keys.get(kid)
    }

    /// The key ids, sorted, for diagnostics (key ids are not secret).
    pub(crate) fn kids(&self) -> Vec<&str> {
        let mut kids: Vec<&str> = self.keys.keys().map(String::as_str).collect();
        kids.sort_unstable();
        kids
    }
}

/// Reads and parses a JWKS file.
pub(crate) fn load_file(path: &Path) -> Result<JwkStore, AuthError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| AuthError::Config(format!("cannot read JWKS file {}: {e}", path.display())))?;
    parse(&text)
}

/// Parses a JWKS document (`{"keys": [...]}`) and keeps its usable keys.
///
/// Keys of unsupported types, curves or algorithms are skipped with a warning,
/// because provider documents often list more than one kind of key; a key of a
/// supported type with broken parameters is an error, because the operator
/// clearly meant to use it.
pub(crate) fn parse(json: &str) -> Result<JwkStore, AuthError> {
    let doc: Value = serde_json::from_str(json)
        .map_err(|e| AuthError::Config(format!("JWKS is not valid JSON: {e}")))?;
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| AuthError::Config("JWKS has no \"keys\" array".into()))?;

    let mut store = JwkStore::default();
    for (index, jwk) in keys.iter().enumerate() {
        let Some(kid) = jwk
            .get("kid")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
        else {
            tracing::warn!(
                index,
                "JWKS key without a kid skipped: tokens select keys by kid"
            );
            continue;
        };
        let Some(key) = parse_key(kid, jwk)? else {
            continue;
        };
        if store.keys.insert(kid.to_owned(), key).is_some() {
            return Err(AuthError::Config(format!(
                "JWKS has more than one key with kid {kid:?}"
            )));
        }
    }
    if store.keys.is_empty() {
        return Err(AuthError::Config(
            "JWKS contains no usable RS256 (RSA) or ES256 (EC P-256) key with a kid".into(),
        ));
    }
    Ok(store)
}

/// One key: `Ok(None)` when it is of a kind this gateway does not accept.
fn parse_key(kid: &str, jwk: &Value) -> Result<Option<JwkKey>, AuthError> {
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    if let Some(usage) = text("use") {
        if usage != "sig" {
            tracing::warn!(kid, usage, "JWKS key not meant for signatures skipped");
            return Ok(None);
        }
    }
    match text("kty") {
        Some("RSA") => {
            if !alg_matches(kid, text("alg"), "RS256") {
                return Ok(None);
            }
            let n = decode_param(kid, "n", text("n"))?;
            let e = decode_param(kid, "e", text("e"))?;
            let significant = n.iter().skip_while(|b| **b == 0).count();
            if significant < MIN_RSA_MODULUS_BYTES {
                return Err(AuthError::Config(format!(
                    "JWKS RSA key {kid:?} is shorter than 2048 bits"
                )));
            }
            if e.iter().all(|b| *b == 0) {
                return Err(AuthError::Config(format!(
                    "JWKS RSA key {kid:?} has an invalid exponent"
                )));
            }
            Ok(Some(JwkKey {
                alg: Algorithm::RS256,
                key: DecodingKey::from_rsa_raw_components(&n, &e),
            }))
        }
        Some("EC") => {
            if text("crv") != Some("P-256") {
                tracing::warn!(kid, "JWKS EC key on a curve other than P-256 skipped");
                return Ok(None);
            }
            if !alg_matches(kid, text("alg"), "ES256") {
                return Ok(None);
            }
            let x = decode_param(kid, "x", text("x"))?;
            let y = decode_param(kid, "y", text("y"))?;
            if x.len() != P256_COORDINATE_BYTES || y.len() != P256_COORDINATE_BYTES {
                return Err(AuthError::Config(format!(
                    "JWKS EC key {kid:?} has coordinates of the wrong length for P-256"
                )));
            }
            // An uncompressed SEC1 point, the form the ES256 verifier expects.
            let mut point = Vec::with_capacity(1 + 2 * P256_COORDINATE_BYTES);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            let key = DecodingKey::from_ec_der(&point);
            // Building a verifier parses the point, so a point off the curve is
            // caught here rather than as a bad signature on every request.
            if jsonwebtoken::crypto::verify("", b"", &key, Algorithm::ES256).is_err() {
                return Err(AuthError::Config(format!(
                    "JWKS EC key {kid:?} is not a valid P-256 public key"
                )));
            }
            Ok(Some(JwkKey {
                alg: Algorithm::ES256,
                key,
            }))
        }
        Some("oct") => {
            tracing::warn!(
                kid,
                "JWKS symmetric key skipped: HS256 tokens are verified with JWT_SECRET only"
            );
            Ok(None)
        }
        other => {
            tracing::warn!(
                kid,
                kty = other.unwrap_or(""),
                "JWKS key of unsupported type skipped"
            );
            Ok(None)
        }
    }
}

/// Whether the key's optional `alg` allows the one algorithm its type implies.
fn alg_matches(kid: &str, declared: Option<&str>, expected: &str) -> bool {
    match declared {
        None => true,
        Some(alg) if alg == expected => true,
        Some(alg) => {
            tracing::warn!(
                kid,
                alg,
                "JWKS key for an algorithm other than {expected} skipped"
            );
            false
        }
    }
}

fn decode_param(kid: &str, name: &str, value: Option<&str>) -> Result<Vec<u8>, AuthError> {
    let value = value
        .ok_or_else(|| AuthError::Config(format!("JWKS key {kid:?} has no {name:?} parameter")))?;
    let bytes = URL_SAFE_NO_PAD.decode(value).map_err(|_| {
        AuthError::Config(format!(
            "JWKS key {kid:?} has a {name:?} parameter that is not base64url"
        ))
    })?;
    if bytes.is_empty() {
        return Err(AuthError::Config(format!(
            "JWKS key {kid:?} has an empty {name:?} parameter"
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWKS: &str = include_str!("../../tests/fixtures/auth/jwks.json");

    fn config_error(json: &str) -> String {
        match parse(json) {
            Err(AuthError::Config(message)) => message,
            Err(other) => panic!("expected a config error, got {other:?}"),
            Ok(store) => panic!("expected a config error, got keys {:?}", store.kids()),
        }
    }

    #[test]
    fn fixture_keys_are_loaded_with_their_algorithms() {
        let store = parse(JWKS).expect("fixture JWKS parses");
        assert_eq!(store.kids(), vec!["test-ec-1", "test-rsa-1"]);
        assert_eq!(
            store.get("test-rsa-1").map(|k| k.alg),
            Some(Algorithm::RS256)
        );
        assert_eq!(
            store.get("test-ec-1").map(|k| k.alg),
            Some(Algorithm::ES256)
        );
        assert!(store.get("nope").is_none());
    }

    #[test]
    fn symmetric_and_unsupported_keys_are_never_kept() {
        let doc = serde_json::json!({"keys": [
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "AAAA"},
            {"kty": "EC", "kid": "p384", "crv": "P-384", "x": "AAAA", "y": "AAAA"},
        ]});
        let message = config_error(&doc.to_string());
        assert!(message.contains("no usable"), "{message}");
    }

    #[test]
    fn keys_for_other_uses_or_algorithms_are_skipped() {
        let mut doc: Value = serde_json::from_str(JWKS).unwrap();
        let keys = doc["keys"].as_array_mut().unwrap();
        keys[0]["alg"] = "RS512".into();
        keys[1]["use"] = "enc".into();
        let message = config_error(&doc.to_string());
        assert!(message.contains("no usable"), "{message}");
    }

    #[test]
    fn broken_documents_are_config_errors() {
        assert!(config_error("not json").contains("not valid JSON"));
        assert!(config_error("{}").contains("\"keys\""));
        assert!(config_error(r#"{"keys": {}}"#).contains("\"keys\""));

        let mut doc: Value = serde_json::from_str(JWKS).unwrap();
        doc["keys"][0]["n"] = "***".into();
        assert!(config_error(&doc.to_string()).contains("not base64url"));

        let mut doc: Value = serde_json::from_str(JWKS).unwrap();
        doc["keys"][0]["n"] = "AQAB".into();
        assert!(config_error(&doc.to_string()).contains("2048"));

        let mut doc: Value = serde_json::from_str(JWKS).unwrap();
        doc["keys"][1]["x"] = "AQAB".into();
        assert!(config_error(&doc.to_string()).contains("wrong length"));

        let mut doc: Value = serde_json::from_str(JWKS).unwrap();
        doc["keys"][1]["x"] = URL_SAFE_NO_PAD.encode([7u8; 32]).into();
        assert!(config_error(&doc.to_string()).contains("not a valid P-256"));

        let mut doc: Value = serde_json::from_str(JWKS).unwrap();
        doc["keys"][1]["kid"] = "test-rsa-1".into();
        assert!(config_error(&doc.to_string()).contains("more than one key"));
    }

    #[test]
    fn keys_without_kid_are_skipped() {
        let mut doc: Value = serde_json::from_str(JWKS).unwrap();
        doc["keys"][0].as_object_mut().unwrap().remove("kid");
        let store = parse(&doc.to_string()).unwrap();
        assert_eq!(store.kids(), vec!["test-ec-1"]);
    }
}
