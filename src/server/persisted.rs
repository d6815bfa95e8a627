//! Persisted operations: automatic persisted queries (Apollo's protocol) and
//! trusted documents (a manifest of the only operations allowed to run).
//!
//! [`Persisted::resolve`] runs first on every operation (HTTP, each batch
//! item, websocket queries, mutations and subscriptions), before anything
//! parses or checks the document:
//!
//! - `extensions.persistedQuery = {"version": 1, "sha256Hash": "<id>"}`
//!   names a stored document. Trusted documents (the manifest) are looked up
//!   first, by their id as written in the manifest (GraphQL Codegen's
//!   `sha256:...`/hex hashes, Relay's ids, Apollo's manifest ids); then the
//!   automatic persisted queries (APQ), by SHA-256.
//! - APQ: an unknown hash without a document is `PERSISTED_QUERY_NOT_FOUND`
//!   (message `PersistedQueryNotFound`, which Apollo's persisted-query link
//!   answers by sending the document with the hash); a hash with a document
//!   is checked (`PERSISTED_QUERY_HASH_MISMATCH`), remembered and run. The
//!   store is an LRU of `--apq-cache-size` entries and keeps the parsed
//!   document, so a known hash is not parsed again (the request gets the
//!   stored text too: the limits read it).
//! - `--trusted-documents-mode require`: only documents of the manifest run,
//!   by id or as their full text; anything else is refused with
//!   `PERSISTED_QUERY_NOT_ALLOWED` before it is parsed (the text is hashed,
//!   never parsed).

use crate::graphql::input_bounds;
use crate::graphql::limits::Limits;
use crate::server::http::BAD_REQUEST;
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{ErrorExtensionValues, Request, ServerError, Value};
use lru::LruCache;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// `extensions.code` of a hash the server does not know (the client sends
/// the document with it next). Apollo's link also matches the message,
/// [`NOT_FOUND_MESSAGE`].
pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
/// The message of [`PERSISTED_QUERY_NOT_FOUND`], as Apollo's protocol has it.
pub const NOT_FOUND_MESSAGE: &str = "PersistedQueryNotFound";
/// `extensions.code` of a hash when automatic persisted queries are off
/// (`--apq-cache-size 0`): Apollo's link then stops sending hashes.
pub const PERSISTED_QUERY_NOT_SUPPORTED: &str = "PERSISTED_QUERY_NOT_SUPPORTED";
/// The message of [`PERSISTED_QUERY_NOT_SUPPORTED`], as Apollo's protocol
/// has it.
pub const NOT_SUPPORTED_MESSAGE: &str = "PersistedQueryNotSupported";
/// `extensions.code` of a document that does not match the hash (or the
/// trusted document's id) sent with it.
pub const PERSISTED_QUERY_HASH_MISMATCH: &str = "PERSISTED_QUERY_HASH_MISMATCH";
/// `extensions.code` of an operation that is not a trusted document when
/// only trusted documents may run.
pub const PERSISTED_QUERY_NOT_ALLOWED: &str = "PERSISTED_QUERY_NOT_ALLOWED";

/// The request extension of Apollo's protocol.
const EXTENSION: &str = "persistedQuery";
/// Documents longer than this are not kept by the APQ store (they still
/// run): the store is bounded by its number of entries, and this bounds each
/// entry (with the default 1000 entries, at most ~64 MB of text plus its
/// parsed form). Ordinary operations are a few kilobytes.
const APQ_MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// Documents longer than this are parsed in place of a worker
/// (`block_in_place`), as `graphql::limits` does.
const LARGE_DOCUMENT_BYTES: usize = 16 * 1024;

/// Which operations may run, given the trusted-document manifest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum TrustedMode {
    /// The manifest is not used.
    #[default]
    Off,
    /// Manifest documents can be called by id; any other document still runs.
    Allow,
    /// Only manifest documents run (by id, or as their exact text).
    Require,
}

impl std::fmt::Display for TrustedMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TrustedMode::Off => "off",
            TrustedMode::Allow => "allow",
            TrustedMode::Require => "require",
        })
    }
}

/// Settings of persisted operations (flags and environment variables).
#[derive(Clone, Debug, PartialEq, Eq, clap::Args)]
pub struct PersistedConfig {
    /// Automatic persisted queries kept (parsed), least recently used
    /// dropped first; 0 turns automatic persisted queries off.
    #[arg(long, env = "APQ_CACHE_SIZE", default_value_t = 1000)]
    pub apq_cache_size: usize,
    /// Trusted-document manifest: a JSON object `{"<id>": "<document>"}`
    /// (GraphQL Codegen's persisted-documents.json, Relay's
    /// persisted_queries.json) or an Apollo persisted query manifest.
    #[arg(long, env = "TRUSTED_DOCUMENTS")]
    pub trusted_documents: Option<PathBuf>,
    /// off: the manifest is not used; allow: its documents can be called by
    /// id, others still run; require: only its documents run.
    #[arg(long, env = "TRUSTED_DOCUMENTS_MODE", value_enum, default_value_t = TrustedMode::Off)]
    pub trusted_documents_mode: TrustedMode,
}

impl Default for PersistedConfig {
    fn default() -> Self {
        PersistedConfig {
            apq_cache_size: 1000,
            trusted_documents: None,
            trusted_documents_mode: TrustedMode::Off,
        }
    }
}

/// A stored document: its text (the limits read it) and, when it could be
/// parsed ahead, its parsed form (handed to the request instead of parsing).
struct Stored {
    query: Box<str>,
    document: Option<ExecutableDocument>,
}

impl Stored {
    /// Gives `request` this document: its text (unless it already has it)
    /// and its parsed form.
    fn fill(&self, request: &mut Request) {
        if *request.query != *self.query {
            request.query = self.query.to_string();
        }
        if let Some(document) = &self.document {
            // Copying the tree costs a fraction of parsing it again.
            request.set_parsed_query(document.clone());
        }
    }
}

/// The automatic persisted queries, by SHA-256 of their text.
type Apq = Mutex<LruCache<[u8; 32], Arc<Stored>>>;

/// What the requests share.
struct Inner {
    mode: TrustedMode,
    /// Trusted documents by their manifest id.
    trusted: HashMap<String, Arc<Stored>>,
    /// Trusted documents by the SHA-256 of their text (`require` accepts a
    /// listed document sent as text).
    trusted_texts: HashMap<[u8; 32], Arc<Stored>>,
    /// `None` when automatic persisted queries are off.
    apq: Option<Apq>,
}

/// The persisted-operation store, shared by every request; cheap to clone.
#[derive(Clone)]
pub struct Persisted(Arc<Inner>);

impl Default for Persisted {
    /// Automatic persisted queries with the default store size, no manifest.
    fn default() -> Self {
        Self::new(&PersistedConfig::default()).expect("the default reads no file")
    }
}

/// Marks a request already resolved (a websocket operation is resolved
/// before its type is known, then again on the way into `execute_one`).
struct Resolved;

impl Persisted {
    /// The store for `config` (reads the trusted-document manifest, if any).
    pub fn new(config: &PersistedConfig) -> anyhow::Result<Self> {
        let mode = config.trusted_documents_mode;
        let (trusted, trusted_texts) = match (&config.trusted_documents, mode) {
            (None, TrustedMode::Off) => Default::default(),
            (Some(path), TrustedMode::Off) => {
                tracing::warn!(
                    manifest = %path.display(),
                    "a trusted-document manifest is set but --trusted-documents-mode \
                     (TRUSTED_DOCUMENTS_MODE) is off: the manifest is not used"
                );
                Default::default()
            }
            (None, mode) => anyhow::bail!(
                "--trusted-documents-mode {mode} (TRUSTED_DOCUMENTS_MODE) needs a manifest: \
                 set --trusted-documents <file> (TRUSTED_DOCUMENTS)"
            ),
            (Some(path), mode) => {
                let manifest = load_manifest(path)?;
                tracing::info!(
                    manifest = %path.display(),
                    documents = manifest.0.len(),
                    %mode,
                    "trusted documents loaded"
                );
                manifest
            }
        };
        let apq = NonZeroUsize::new(config.apq_cache_size).map(|n| Mutex::new(LruCache::new(n)));
        Ok(Self(Arc::new(Inner {
            mode,
            trusted,
            trusted_texts,
            apq,
        })))
    }

    /// Resolves a request's persisted operation in place, before it is
    /// parsed: fills in `query` from a known hash, remembers a new one, or
    /// refuses it with a coded error.
    pub fn resolve(&self, request: &mut Request) -> Result<(), ServerError> {
        if request
            .data
            .contains_key(&std::any::TypeId::of::<Resolved>())
        {
            return Ok(());
        }
        let inner = &*self.0;
        let id = match request.extensions.remove(EXTENSION) {
            None => None,
            Some(value) => Some(persisted_id(value)?),
        };
        let Some(id) = id else {
            if inner.mode != TrustedMode::Require {
                return Ok(());
            }
            // A full document: only a listed one, recognised by its hash
            // (never parsed when it is not listed).
            let stored = inner
                .trusted_texts
                .get(&sha256(&request.query))
                .ok_or_else(not_allowed_text)?;
            stored.fill(request);
            request.data.insert(Resolved);
            return Ok(());
        };
        if inner.mode != TrustedMode::Off {
            if let Some(stored) = inner.trusted.get(&id) {
                if !request.query.is_empty() && *request.query != *stored.query {
                    return Err(coded(
                        PERSISTED_QUERY_HASH_MISMATCH,
                        format!("the document sent is not trusted document `{id}`"),
                    ));
                }
                stored.fill(request);
                if inner.mode == TrustedMode::Require {
                    request.data.insert(Resolved);
                }
                return Ok(());
            }
            if inner.mode == TrustedMode::Require {
                return Err(coded(
                    PERSISTED_QUERY_NOT_ALLOWED,
                    format!("`{id}` is not a trusted document of this server"),
                ));
            }
        }
        let Some(apq) = &inner.apq else {
            if request.query.is_empty() {
                return Err(coded(PERSISTED_QUERY_NOT_SUPPORTED, NOT_SUPPORTED_MESSAGE));
            }
            // With the document, the hash is only an optimisation.
            return Ok(());
        };
        let hash = decode_sha256(&id);
        if request.query.is_empty() {
            let stored = hash.and_then(|hash| lock(apq).get(&hash).cloned());
            let stored =
                stored.ok_or_else(|| coded(PERSISTED_QUERY_NOT_FOUND, NOT_FOUND_MESSAGE))?;
            stored.fill(request);
            return Ok(());
        }
        let actual = sha256(&request.query);
        if hash != Some(actual) {
            return Err(coded(
                PERSISTED_QUERY_HASH_MISMATCH,
                "provided sha does not match query",
            ));
        }
        let known = lock(apq).get(&actual).cloned();
        if let Some(stored) = known {
            stored.fill(request);
            return Ok(());
        }
        if request.query.len() > APQ_MAX_DOCUMENT_BYTES {
            return Ok(());
        }
        // A document that does not parse is not kept: the request goes on
        // and reports why.
        if let Some(stored) = Stored::parse(&request.query) {
            let stored = Arc::new(stored);
            stored.fill(request);
            lock(apq).put(actual, stored);
        }
        Ok(())
    }

    /// How many automatic persisted queries are stored.
    pub fn apq_len(&self) -> usize {
        self.0.apq.as_ref().map_or(0, |apq| lock(apq).len())
    }
}

impl Stored {
    /// `query` with its parsed form; `None` when it does not parse. A
    /// document nesting brackets deeper than the default limits allow is
    /// kept as text only: the limits parse it (or refuse it) per request,
    /// with the configured bounds.
    fn parse(query: &str) -> Option<Stored> {
        let document = if input_bounds::bracket_depth(query) > parse_ahead_depth() {
            None
        } else {
            Some(parse_off_turn(query).ok()?)
        };
        Some(Stored {
            query: query.into(),
            document,
        })
    }
}

/// Bracket nesting parsed ahead (a document within the default limits).
fn parse_ahead_depth() -> usize {
    input_bounds::max_bracket_depth(&Limits::default())
}

/// Parses `query`; a large one in place of a worker (`block_in_place`) on
/// the multi-threaded runtime, so the other tasks of that worker move on.
fn parse_off_turn(query: &str) -> async_graphql::parser::Result<ExecutableDocument> {
    let multi_threaded = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if query.len() > LARGE_DOCUMENT_BYTES && multi_threaded {
        tokio::task::block_in_place(|| async_graphql::parser::parse_query(query))
    } else {
        async_graphql::parser::parse_query(query)
    }
}

fn lock(apq: &Apq) -> std::sync::MutexGuard<'_, LruCache<[u8; 32], Arc<Stored>>> {
    apq.lock().unwrap_or_else(PoisonError::into_inner)
}

fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// The 32 bytes of a SHA-256 written in hex (either case); `None` for
/// anything else.
fn decode_sha256(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

/// The id of `extensions.persistedQuery`: version 1 and a `sha256Hash`
/// string, else `BAD_REQUEST`.
fn persisted_id(value: Value) -> Result<String, ServerError> {
    let Value::Object(mut fields) = value else {
        return Err(coded(
            BAD_REQUEST,
            "`extensions.persistedQuery` must be an object with `version` and `sha256Hash`",
        ));
    };
    match fields.get("version") {
        Some(Value::Number(n)) if n.as_u64() == Some(1) => {}
        Some(other) => {
            return Err(coded(
                BAD_REQUEST,
                format!("unsupported persisted query version {other}: only version 1 is supported"),
            ))
        }
        None => {
            return Err(coded(
                BAD_REQUEST,
                "`extensions.persistedQuery` has no `version` (only version 1 is supported)",
            ))
        }
    }
    match fields.swap_remove("sha256Hash") {
        Some(Value::String(id)) if !id.is_empty() => Ok(id),
        _ => Err(coded(
            BAD_REQUEST,
            "`extensions.persistedQuery.sha256Hash` must be a non-empty string",
        )),
    }
}

fn not_allowed_text() -> ServerError {
    coded(
        PERSISTED_QUERY_NOT_ALLOWED,
        "only trusted documents may run on this server: send a document of its manifest \
         (by id in `extensions.persistedQuery.sha256Hash`)",
    )
}

fn coded(code: &str, message: impl Into<String>) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut ext = ErrorExtensionValues::default();
    ext.set("code", code);
    error.extensions = Some(ext);
    error
}

/// Trusted documents by id and by the hash of their text.
type Manifest = (HashMap<String, Arc<Stored>>, HashMap<[u8; 32], Arc<Stored>>);

/// Apollo's persisted query manifest
/// (`@apollo/generate-persisted-query-manifest`).
#[derive(serde::Deserialize)]
struct ApolloManifest {
    format: String,
    version: u32,
    operations: Vec<ApolloOperation>,
}

#[derive(serde::Deserialize)]
struct ApolloOperation {
    id: String,
    body: String,
}

/// Reads a manifest: `{"<id>": "<document>"}` (GraphQL Codegen's client
/// preset `persisted-documents.json`, Relay's `persisted_queries.json`) or
/// Apollo's `{"format": "apollo-persisted-query-manifest", "version": 1,
/// "operations": [{"id", "body", ...}]}`. Every document must parse.
fn load_manifest(path: &Path) -> anyhow::Result<Manifest> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|err| {
        anyhow::anyhow!("cannot read the trusted-document manifest {shown}: {err}")
    })?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|err| {
        anyhow::anyhow!("the trusted-document manifest {shown} is not JSON: {err}")
    })?;
    let entries: Vec<(String, String)> = if json.get("format").is_some() {
        let manifest: ApolloManifest = serde_json::from_value(json).map_err(|err| {
            anyhow::anyhow!("the trusted-document manifest {shown} is not an Apollo persisted query manifest: {err}")
        })?;
        if manifest.format != "apollo-persisted-query-manifest" || manifest.version != 1 {
            anyhow::bail!(
                "the trusted-document manifest {shown} has format {:?} version {}; \
                 expected apollo-persisted-query-manifest version 1",
                manifest.format,
                manifest.version
            );
        }
        manifest
            .operations
            .into_iter()
            .map(|op| (op.id, op.body))
            .collect()
    } else {
        serde_json::from_value::<HashMap<String, String>>(json)
            .map_err(|err| {
                anyhow::anyhow!(
                    "the trusted-document manifest {shown} must be a JSON object of \
                     {{\"<id>\": \"<document>\"}} (GraphQL Codegen's persisted-documents.json, \
                     Relay's persisted_queries.json) or an Apollo persisted query manifest: {err}"
                )
            })?
            .into_iter()
            .collect()
    };
    if entries.is_empty() {
        anyhow::bail!("the trusted-document manifest {shown} lists no documents");
    }
    let mut by_id = HashMap::with_capacity(entries.len());
    let mut by_text = HashMap::with_capacity(entries.len());
    for (id, query) in entries {
        if id.is_empty() {
            anyhow::bail!("the trusted-document manifest {shown} has an empty id");
        }
        let document = if input_bounds::bracket_depth(&query) > parse_ahead_depth() {
            None
        } else {
            let parsed = async_graphql::parser::parse_query(&query).map_err(|err| {
                let err = err.to_string().replace('\n', " ");
                anyhow::anyhow!(
                    "trusted document `{id}` of {shown} is not a GraphQL document: {err}"
                )
            })?;
            Some(parsed)
        };
        let stored = Arc::new(Stored {
            query: query.as_str().into(),
            document,
        });
        by_text.insert(sha256(&query), stored.clone());
        by_id.insert(id, stored);
    }
    Ok((by_id, by_text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn with_hash(query: &str, hash: &str) -> Request {
        let mut request = Request::new(query);
        request.extensions.insert(
            EXTENSION.to_string(),
            async_graphql::value!({ "version": 1, "sha256Hash": hash }),
        );
        request
    }

    fn hex(bytes: [u8; 32]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn code(err: &ServerError) -> String {
        match err.extensions.as_ref().and_then(|e| e.get("code")) {
            Some(Value::String(code)) => code.clone(),
            other => panic!("no code: {other:?}"),
        }
    }

    /// Whether `request` already holds a parsed document: with the text
    /// replaced by something that does not parse, only a document set
    /// beforehand comes back.
    fn holds_parsed(request: &mut Request) -> bool {
        let text = std::mem::replace(&mut request.query, "{".to_string());
        let parsed = request.parsed_query().is_ok();
        request.query = text;
        parsed
    }

    #[test]
    fn hex_round_trip() {
        let digest = sha256("{ a }");
        assert_eq!(decode_sha256(&hex(digest)), Some(digest));
        assert_eq!(decode_sha256(&hex(digest).to_uppercase()), Some(digest));
        assert_eq!(decode_sha256("abc"), None);
        assert_eq!(decode_sha256(&"zz".repeat(32)), None);
    }

    #[test]
    fn apq_registers_then_serves_the_parsed_document() {
        let persisted = Persisted::default();
        let query = "query Q { a }";
        let hash = hex(sha256(query));
        let err = persisted.resolve(&mut with_hash("", &hash)).unwrap_err();
        assert_eq!(code(&err), PERSISTED_QUERY_NOT_FOUND);
        assert_eq!(err.message, NOT_FOUND_MESSAGE);
        let mut register = with_hash(query, &hash);
        persisted.resolve(&mut register).unwrap();
        assert!(register.extensions.get(EXTENSION).is_none());
        assert!(holds_parsed(&mut register));
        let mut known = with_hash("", &hash);
        persisted.resolve(&mut known).unwrap();
        assert_eq!(known.query, query);
        assert!(holds_parsed(&mut known), "a known hash is not parsed again");
    }

    #[test]
    fn apq_refuses_a_mismatch_and_a_bad_extension() {
        let persisted = Persisted::default();
        let err = persisted
            .resolve(&mut with_hash("{ a }", &hex(sha256("{ b }"))))
            .unwrap_err();
        assert_eq!(code(&err), PERSISTED_QUERY_HASH_MISMATCH);
        let mut request = Request::new("{ a }");
        request.extensions.insert(
            EXTENSION.to_string(),
            async_graphql::value!({ "version": 2, "sha256Hash": "x" }),
        );
        assert_eq!(
            code(&persisted.resolve(&mut request).unwrap_err()),
            BAD_REQUEST
        );
        assert_eq!(persisted.apq_len(), 0);
    }

    #[test]
    fn apq_off_is_not_supported() {
        let persisted = Persisted::new(&PersistedConfig {
            apq_cache_size: 0,
            ..PersistedConfig::default()
        })
        .unwrap();
        let hash = hex(sha256("{ a }"));
        let err = persisted.resolve(&mut with_hash("", &hash)).unwrap_err();
        assert_eq!(code(&err), PERSISTED_QUERY_NOT_SUPPORTED);
        assert_eq!(err.message, NOT_SUPPORTED_MESSAGE);
        persisted.resolve(&mut with_hash("{ a }", &hash)).unwrap();
    }

    #[test]
    fn unparsable_and_oversized_documents_are_not_kept() {
        let persisted = Persisted::default();
        let broken = "{ a";
        persisted
            .resolve(&mut with_hash(broken, &hex(sha256(broken))))
            .unwrap();
        let big = format!("{{ a {} }}", " ".repeat(APQ_MAX_DOCUMENT_BYTES));
        persisted
            .resolve(&mut with_hash(&big, &hex(sha256(&big))))
            .unwrap();
        assert_eq!(persisted.apq_len(), 0);
        let deep = format!("{}{}", "{ a ".repeat(200), "}".repeat(200));
        let hash = hex(sha256(&deep));
        persisted.resolve(&mut with_hash(&deep, &hash)).unwrap();
        assert_eq!(persisted.apq_len(), 1, "kept as text");
        let mut known = with_hash("", &hash);
        persisted.resolve(&mut known).unwrap();
        assert_eq!(known.query, deep);
        assert!(!holds_parsed(&mut known), "left to the limits to parse");
    }

    fn manifest(json: &str, mode: TrustedMode) -> anyhow::Result<Persisted> {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(json.as_bytes()).unwrap();
        Persisted::new(&PersistedConfig {
            trusted_documents: Some(file.path().to_path_buf()),
            trusted_documents_mode: mode,
            ..PersistedConfig::default()
        })
    }

    #[test]
    fn require_refuses_unlisted_documents_before_parsing() {
        let persisted = manifest(r#"{"abc": "query Q { a }"}"#, TrustedMode::Require).unwrap();
        let mut by_id = with_hash("", "abc");
        persisted.resolve(&mut by_id).unwrap();
        assert_eq!(by_id.query, "query Q { a }");
        assert!(holds_parsed(&mut by_id));
        // Resolved once: the second pass (websocket one-shots) is free.
        persisted.resolve(&mut by_id).unwrap();
        let mut by_text = Request::new("query Q { a }");
        persisted.resolve(&mut by_text).unwrap();
        assert!(holds_parsed(&mut by_text));
        for mut refused in [
            Request::new("{ a"),
            Request::new("query Q { b }"),
            with_hash("", "nope"),
            with_hash("{ b }", &hex(sha256("{ b }"))),
        ] {
            let err = persisted.resolve(&mut refused).unwrap_err();
            assert_eq!(code(&err), PERSISTED_QUERY_NOT_ALLOWED, "{refused:?}");
        }
        let err = persisted
            .resolve(&mut with_hash("query Q { b }", "abc"))
            .unwrap_err();
        assert_eq!(code(&err), PERSISTED_QUERY_HASH_MISMATCH);
    }

    #[test]
    fn allow_serves_listed_ids_and_runs_the_rest() {
        let persisted = manifest(
            r#"{"format": "apollo-persisted-query-manifest", "version": 1,
                "operations": [{"id": "x1", "name": "Q", "type": "query", "body": "query Q { a }"}]}"#,
            TrustedMode::Allow,
        )
        .unwrap();
        let mut by_id = with_hash("", "x1");
        persisted.resolve(&mut by_id).unwrap();
        assert_eq!(by_id.query, "query Q { a }");
        persisted.resolve(&mut Request::new("{ other")).unwrap();
        let hash = hex(sha256("{ b }"));
        let err = persisted.resolve(&mut with_hash("", &hash)).unwrap_err();
        assert_eq!(code(&err), PERSISTED_QUERY_NOT_FOUND);
    }

    #[test]
    fn manifest_errors_are_config_errors() {
        let err = |json: &str| {
            manifest(json, TrustedMode::Require)
                .err()
                .expect("refused")
                .to_string()
        };
        assert!(err("[1]").contains("JSON object"), "{}", err("[1]"));
        assert!(err("{").contains("not JSON"));
        assert!(err("{}").contains("no documents"));
        assert!(err(r#"{"a": "{ x"}"#).contains("`a`"));
        assert!(err(r#"{"format": "other", "version": 1, "operations": []}"#).contains("format"));
        let missing = Persisted::new(&PersistedConfig {
            trusted_documents: Some("/nonexistent/manifest.json".into()),
            trusted_documents_mode: TrustedMode::Allow,
            ..PersistedConfig::default()
        });
        assert!(missing.err().unwrap().to_string().contains("cannot read"));
        let no_file = Persisted::new(&PersistedConfig {
            trusted_documents_mode: TrustedMode::Require,
            ..PersistedConfig::default()
        });
        assert!(no_file
            .err()
            .unwrap()
            .to_string()
            .contains("needs a manifest"));
    }
}
