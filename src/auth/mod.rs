//! JWT authentication: an `Authorization` header (or websocket `connection_init`
//! payload) to a typed [`Viewer`], the only way the rest of the gateway learns
//! who is asking.
//!
//! Tokens are Supabase-style: `sub` (user uuid), `role` (`anon` |
//! `authenticated` | `service_role`), `exp`, `aud`, `email`. The algorithm
//! allow-list is explicit: HS256 with the shared secret only, RS256/ES256 with
//! keys from a JWKS file only, selected by `kid` and bound to one algorithm per
//! key, so no token can make the gateway use a public key as an HMAC secret (or
//! the reverse). No header means `anon`; a header that fails any check is an
//! error, never a silent downgrade to `anon`.

mod jwks;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use jwks::JwkStore;

/// Tokens longer than this are refused before any decoding work.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Clock-skew allowance above this is a misconfiguration, not a tolerance.
const MAX_LEEWAY_SECS: u64 = 3600;

/// Secrets shorter than this are accepted but logged as weak.
const MIN_RECOMMENDED_SECRET_BYTES: usize = 32;

/// The database role a request runs as; the only three a token may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// No token, or a token for the `anon` role.
    Anon,
    /// A signed-in user.
    Authenticated,
    /// Trusted back-end callers: bypasses RLS, may call maintenance functions.
    ServiceRole,
}

impl Role {
    /// The PostgreSQL role name this maps to.
    pub fn as_db_role(&self) -> &'static str {
        match self {
            Role::Anon => "anon",
            Role::Authenticated => "authenticated",
            Role::ServiceRole => "service_role",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_db_role())
    }
}

impl FromStr for Role {
    type Err = AuthError;

    /// Exact, case-sensitive names: the value ends up as a database role, so
    /// nothing but the three known spellings may pass.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "anon" => Ok(Role::Anon),
            "authenticated" => Ok(Role::Authenticated),
            "service_role" => Ok(Role::ServiceRole),
            _ => Err(AuthError::UnknownRole),
        }
    }
}

/// Who is asking: built once per request (or websocket connection) at the edge.
#[derive(Clone, Debug)]
pub struct Viewer {
    /// The user's id (`sub`); `None` for anon and for service tokens without `sub`.
    pub user_id: Option<Uuid>,
    /// The database role the request runs as.
    pub role: Role,
    /// The token's claims (a JSON object), normalised to carry `role`.
    pub claims: Value,
}

impl Viewer {
    /// The viewer of a request without a token.
    pub fn anon() -> Viewer {
        Viewer {
            user_id: None,
            role: Role::Anon,
            claims: serde_json::json!({ "role": "anon" }),
        }
    }

    /// The JSON for `request.jwt.claims`: the claims with `role` set to
    /// [`Viewer::role`] and `sub` set to [`Viewer::user_id`] (removed when there
    /// is none), so `auth.uid()`/`auth.role()` in SQL always agree with the
    /// typed fields even if `claims` was edited by hand.
    pub fn claims_json(&self) -> String {
        let mut claims = match &self.claims {
            Value::Object(map) => map.clone(),
            _ => Map::new(),
        };
        claims.insert("role".into(), self.role.as_db_role().into());
        match self.user_id {
            Some(id) => {
                claims.insert("sub".into(), id.to_string().into());
            }
            None => {
                claims.remove("sub");
            }
        }
        Value::Object(claims).to_string()
    }

    /// Whether this is a `service_role` caller.
    pub fn is_service(&self) -> bool {
        self.role == Role::ServiceRole
    }
}

/// How tokens are verified (and dev tokens minted).
#[derive(Clone, Debug, clap::Args)]
pub struct AuthConfig {
    /// Shared secret for HS256 tokens (the Supabase JWT secret).
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// JWKS JSON file with the RS256/ES256 public keys tokens may be signed with.
    #[arg(long, env = "JWT_JWKS_FILE")]
    pub jwks_file: Option<PathBuf>,
    /// Required `aud` claim.
    #[arg(long, env = "JWT_AUDIENCE", default_value = "authenticated")]
    pub audience: String,
    /// Required `iss` claim, when set.
    #[arg(long, env = "JWT_ISSUER")]
    pub issuer: Option<String>,
    /// Clock-skew allowance for `exp` and `nbf`, in seconds.
    #[arg(long, env = "JWT_LEEWAY_SECS", default_value_t = 30)]
    pub leeway_secs: u64,
}

/// Why a request could not be authenticated (or the configuration is unusable).
///
/// The messages are safe to send to clients: they name the failed check, never
/// a secret, a key or the token. Every variant except [`AuthError::Config`] and
/// [`AuthError::NoKeyConfigured`] is a client error (HTTP 401,
/// `UNAUTHENTICATED`); those two only come from [`Authenticator::new`] and
/// [`Authenticator::mint`].
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// Not a JWT: wrong number of parts, bad base64url, bad JSON, too long.
    #[error("the token is malformed")]
    Malformed,
    /// The Authorization header does not use the Bearer scheme.
    #[error("the Authorization header must use the Bearer scheme")]
    BadScheme,
    /// `alg` is not one this gateway accepts with its configured keys.
    #[error("the token's signing algorithm is not allowed")]
    AlgorithmNotAllowed,
    /// RS256/ES256 token whose `kid` is missing or not in the JWKS.
    #[error("the token's signing key is unknown")]
    UnknownKey,
    /// The signature does not match the token.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `aud` does not name this service.
    #[error("the token is not meant for this service (audience)")]
    WrongAudience,
    /// `iss` is not the configured issuer.
    #[error("the token's issuer is not trusted")]
    WrongIssuer,
    /// A required registered claim (`exp`, `aud`, `iss`) is absent.
    #[error("the token has no `{0}` claim")]
    MissingClaim(String),
    /// A registered claim has the wrong type (e.g. `exp` as a string).
    #[error("the token's `{0}` claim is invalid")]
    InvalidClaim(String),
    /// `role` is absent or not one of anon, authenticated, service_role.
    #[error("the token's role is missing or unknown")]
    UnknownRole,
    /// An `authenticated` token without `sub`.
    #[error("the token has no subject (`sub`)")]
    MissingSub,
    /// `sub` is not a uuid.
    #[error("the token's subject (`sub`) is not a valid user id")]
    BadSub,
    /// Neither a secret nor a JWKS is configured (or minting without a secret).
    #[error("no token signing key is configured")]
    NoKeyConfigured,
    /// The authentication settings are unusable.
    #[error("invalid authentication configuration: {0}")]
    Config(String),
}

impl AuthError {
    /// A stable snake_case name for logs and metrics labels.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::Malformed => "malformed",
            AuthError::BadScheme => "bad_scheme",
            AuthError::AlgorithmNotAllowed => "algorithm_not_allowed",
            AuthError::UnknownKey => "unknown_key",
            AuthError::BadSignature => "bad_signature",
            AuthError::Expired => "expired",
            AuthError::NotYetValid => "not_yet_valid",
            AuthError::WrongAudience => "wrong_audience",
            AuthError::WrongIssuer => "wrong_issuer",
            AuthError::MissingClaim(_) => "missing_claim",
            AuthError::InvalidClaim(_) => "invalid_claim",
            AuthError::UnknownRole => "unknown_role",
            AuthError::MissingSub => "missing_sub",
            AuthError::BadSub => "bad_sub",
            AuthError::NoKeyConfigured => "no_key_configured",
            AuthError::Config(_) => "config",
        }
    }
}

/// The parts of a JOSE header this gateway looks at before choosing a key.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

struct Inner {
    /// HS256 key, from the shared secret only.
    hmac: Option<DecodingKey>,
    /// The same secret for minting dev tokens.
    signing: Option<EncodingKey>,
    jwks: Option<JwkStore>,
    audience: String,
    issuer: Option<String>,
    leeway_secs: u64,
    // One per algorithm, built once: each allows exactly its own algorithm.
    hs256: Validation,
    rs256: Validation,
    es256: Validation,
}

/// Verifies tokens and mints dev tokens; cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("Authenticator")
            .field("hs256_secret", &inner.hmac.as_ref().map(|_| "[redacted]"))
            .field("jwks_kids", &inner.jwks.as_ref().map(JwkStore::kids))
            .field("audience", &inner.audience)
            .field("issuer", &inner.issuer)
            .field("leeway_secs", &inner.leeway_secs)
            .finish()
    }
}

impl Authenticator {
    /// Builds the verifier, loading the JWKS file if one is configured.
    ///
    /// Fails when neither a secret nor a JWKS is given, when the secret is
    /// empty (an empty HMAC key would let anyone sign tokens), when the JWKS
    /// is unreadable or has no usable key, or when the audience is empty.
    pub fn new(config: &AuthConfig) -> Result<Self, AuthError> {
        let jwks = config
            .jwks_file
            .as_deref()
            .map(jwks::load_file)
            .transpose()?;
        Self::build(config, jwks)
    }

    fn build(config: &AuthConfig, jwks: Option<JwkStore>) -> Result<Self, AuthError> {
        if config.audience.trim().is_empty() {
            return Err(AuthError::Config(
                "the JWT audience must not be empty".into(),
            ));
        }
        if config.leeway_secs > MAX_LEEWAY_SECS {
            return Err(AuthError::Config(format!(
                "the JWT leeway must be at most {MAX_LEEWAY_SECS} seconds"
            )));
        }
        if config
            .issuer
            .as_deref()
            .is_some_and(|i| i.trim().is_empty())
        {
            return Err(AuthError::Config(
                "the JWT issuer must not be empty when set".into(),
            ));
        }
        let secret = match config.jwt_secret.as_deref() {
            Some("") => {
                return Err(AuthError::Config("JWT_SECRET must not be empty".into()));
            }
            Some(secret) => {
                if secret.len() < MIN_RECOMMENDED_SECRET_BYTES {
                    tracing::warn!(
                        "JWT_SECRET is shorter than {MIN_RECOMMENDED_SECRET_BYTES} bytes; \
                         use a long random secret outside development"
                    );
                }
                Some(secret.as_bytes())
            }
            None => None,
        };
        if secret.is_none() && jwks.is_none() {
            return Err(AuthError::NoKeyConfigured);
        }

        let validation = |alg: Algorithm| {
            let mut v = Validation::new(alg);
            v.leeway = config.leeway_secs;
            v.validate_exp = true;
            v.validate_nbf = true;
            v.validate_aud = true;
            v.set_audience(&[config.audience.as_str()]);
            let mut required = vec!["exp", "aud"];
            if let Some(issuer) = &config.issuer {
                v.set_issuer(&[issuer.as_str()]);
                required.push("iss");
            }
            v.set_required_spec_claims(&required);
            v
        };

        Ok(Authenticator {
            inner: Arc::new(Inner {
                hmac: secret.map(DecodingKey::from_secret),
                signing: secret.map(EncodingKey::from_secret),
                jwks,
                audience: config.audience.clone(),
                issuer: config.issuer.clone(),
                leeway_secs: config.leeway_secs,
                hs256: validation(Algorithm::HS256),
                rs256: validation(Algorithm::RS256),
                es256: validation(Algorithm::ES256),
            }),
        })
    }

    /// The viewer for an HTTP `Authorization` header value.
    ///
    /// No header: anon. `Bearer <jwt>` (scheme case-insensitive): the verified
    /// token's viewer. Anything else is an error; a present but invalid token is
    /// never downgraded to anon.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Viewer, AuthError> {
        let Some(value) = authorization else {
            return Ok(Viewer::anon());
        };
        let value = value.trim();
        let (scheme, token) = value.split_once([' ', '\t']).unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::BadScheme);
        }
        let token = token.trim();
        if token.is_empty() {
            return Err(AuthError::Malformed);
        }
        self.verify(token)
    }

    /// The viewer for a websocket `connection_init` payload.
    ///
    /// Looks for an `Authorization` entry (any case) at the top level or under
    /// `headers`, with the same format and rules as the HTTP header; no payload
    /// or no entry means anon, an entry that is not a string is malformed.
    pub fn authenticate_init_payload(&self, payload: Option<&Value>) -> Result<Viewer, AuthError> {
        fn find(object: &Map<String, Value>) -> Option<&Value> {
            object
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case("authorization"))
                .map(|(_, value)| value)
        }
        let Some(Value::Object(object)) = payload else {
            return Ok(Viewer::anon());
        };
        let entry = find(object).or_else(|| match object.get("headers") {
            Some(Value::Object(headers)) => find(headers),
            _ => None,
        });
        match entry {
            None => Ok(Viewer::anon()),
            Some(Value::String(value)) => self.authenticate(Some(value)),
            Some(_) => Err(AuthError::Malformed),
        }
    }

    /// Verifies a bare JWT (no scheme) and returns its viewer.
    pub fn verify(&self, token: &str) -> Result<Viewer, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(_signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed);
        };
        if header.is_empty() || payload.is_empty() {
            return Err(AuthError::Malformed);
        }
        let header: RawHeader = decode_json_part(header)?;
        // `crit` names extensions the receiver must understand; we understand none.
        if header.crit.is_some() {
            return Err(AuthError::Malformed);
        }
        let (key, validation) = self.select_key(&header)?;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, key, validation)
            .map_err(map_jwt_error)?;
        viewer_from_claims(data.claims)
    }

    /// The key and validation for this header, by the allow-list: HS256 with
    /// the secret; RS256/ES256 with the JWKS key named by `kid` whose type
    /// fixes that same algorithm; nothing else.
    fn select_key(&self, header: &RawHeader) -> Result<(&DecodingKey, &Validation), AuthError> {
        let inner = &*self.inner;
        let (alg, validation) = match header.alg.as_str() {
            "HS256" => {
                // `kid` is deliberately ignored: HS256 never reads the JWKS.
                let key = inner.hmac.as_ref().ok_or(AuthError::AlgorithmNotAllowed)?;
                return Ok((key, &inner.hs256));
            }
            "RS256" => (Algorithm::RS256, &inner.rs256),
            "ES256" => (Algorithm::ES256, &inner.es256),
            _ => return Err(AuthError::AlgorithmNotAllowed),
        };
        let store = inner.jwks.as_ref().ok_or(AuthError::AlgorithmNotAllowed)?;
        let kid = header.kid.as_deref().ok_or(AuthError::UnknownKey)?;
        let key = store.get(kid).ok_or(AuthError::UnknownKey)?;
        if key.alg != alg {
            return Err(AuthError::AlgorithmNotAllowed);
        }
        Ok((&key.key, validation))
    }

    /// Mints an HS256 token with the configured secret (dev tokens for
    /// `gateway token`): `sub` (the user, omitted for anon), `role`, `aud`,
    /// `iss` (when configured), `iat`, `exp` (now + `ttl`), `email`.
    pub fn mint(
        &self,
        user: Option<Uuid>,
        role: Role,
        ttl: Duration,
        email: Option<&str>,
    ) -> Result<String, AuthError> {
        let inner = &*self.inner;
        let key = inner.signing.as_ref().ok_or(AuthError::NoKeyConfigured)?;
        if role == Role::Authenticated && user.is_none() {
            return Err(AuthError::MissingSub);
        }
        if ttl.as_secs() == 0 {
            return Err(AuthError::Config(
                "the token lifetime must be at least one second".into(),
            ));
        }
        let now = jsonwebtoken::get_current_timestamp();
        let mut claims = Map::new();
        if let (Some(user), false) = (user, role == Role::Anon) {
            claims.insert("sub".into(), user.to_string().into());
        }
        claims.insert("role".into(), role.as_db_role().into());
        claims.insert("aud".into(), inner.audience.clone().into());
        if let Some(issuer) = &inner.issuer {
            claims.insert("iss".into(), issuer.clone().into());
        }
        claims.insert("iat".into(), now.into());
        claims.insert("exp".into(), now.saturating_add(ttl.as_secs()).into());
        if let Some(email) = email {
            claims.insert("email".into(), email.into());
        }
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, key)
            .map_err(|_| AuthError::Config("the token could not be signed".into()))
    }
}

fn decode_json_part<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, AuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| AuthError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed)
}

fn map_jwt_error(error: jsonwebtoken::errors::Error) -> AuthError {
    match error.into_kind() {
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidSignature => AuthError::BadSignature,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::MissingRequiredClaim(claim) => AuthError::MissingClaim(claim),
        ErrorKind::InvalidClaimFormat(claim) => AuthError::InvalidClaim(claim),
        ErrorKind::InvalidAlgorithm
        | ErrorKind::MissingAlgorithm
        | ErrorKind::UnsupportedAlgorithm
        | ErrorKind::InvalidAlgorithmName => AuthError::AlgorithmNotAllowed,
        ErrorKind::InvalidToken
        | ErrorKind::Base64(_)
        | ErrorKind::Json(_)
        | ErrorKind::Utf8(_) => AuthError::Malformed,
        other => {
            // A key the crypto backend cannot use: the operator must see it,
            // the client only learns that the signature did not verify.
            tracing::warn!(error = ?other, "JWT verification failed inside the crypto backend");
            AuthError::BadSignature
        }
    }
}

/// The viewer for verified claims: checks `role` and `sub`, normalises `sub`.
fn viewer_from_claims(mut claims: Map<String, Value>) -> Result<Viewer, AuthError> {
    let role = match claims.get("role") {
        Some(Value::String(role)) => role.parse::<Role>()?,
        _ => return Err(AuthError::UnknownRole),
    };
    let user_id = match (role, claims.get("sub")) {
        // An anon token never identifies a user, whatever it carries, so
        // `auth.uid()` stays null for anon in SQL.
        (Role::Anon, _) => None,
        (Role::Authenticated, None | Some(Value::Null)) => return Err(AuthError::MissingSub),
        (Role::ServiceRole, None | Some(Value::Null)) => None,
        (_, Some(Value::String(sub))) => Some(Uuid::parse_str(sub).map_err(|_| AuthError::BadSub)?),
        (_, Some(_)) => return Err(AuthError::BadSub),
    };
    match user_id {
        // The canonical form, so SQL casting `sub` to uuid sees what we saw.
        Some(id) => {
            claims.insert("sub".into(), id.to_string().into());
        }
        None => {
            claims.remove("sub");
        }
    }
    claims.insert("role".into(), role.as_db_role().into());
    Ok(Viewer {
        user_id,
        role,
        claims: Value::Object(claims),
    })
}

#[cfg(test)]
mod tests;
