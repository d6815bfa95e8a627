//! `spawn_app`: the real gateway (router, auth, per-request transactions) on
//! 127.0.0.1 over a fresh database, plus an HTTP client and token helpers.

use super::TestDb;
use gateway::auth::{AuthConfig, Authenticator, Role};
use gateway::graphql::limits::Limits;
use gateway::live::LiveConfig;
use gateway::server::edge::EdgeConfig;
use gateway::server::metrics::Metrics;
use gateway::server::persisted::{Persisted, PersistedConfig};
use gateway::server::shutdown::Shutdown;
use gateway::server::AppState;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

/// The HS256 secret of test apps.
pub const TEST_SECRET: &str = "test-secret-for-the-gateway-test-suite";

/// A running gateway.
pub struct TestApp {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http://addr`.
    pub base_url: String,
    /// Its database (fixtures go through `db.pool`, as the superuser).
    pub db: TestDb,
    /// Token minting with the app's secret.
    pub auth: Authenticator,
    /// HTTP client.
    pub client: reqwest::Client,
    /// Every SQL statement the app sent, in order (see `statements`).
    statements: Arc<Mutex<Vec<String>>>,
    /// Triggers the app's graceful shutdown.
    pub shutdown: Shutdown,
}

/// The auth configuration of test apps.
pub fn test_auth_config() -> AuthConfig {
    AuthConfig {
        jwt_secret: Some(TEST_SECRET.to_string()),
        jwks_file: None,
        audience: "authenticated".to_string(),
        issuer: None,
        leeway_secs: 0,
    }
}

/// Starts a gateway with default limits on a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(Limits::default()).await
}

/// Starts a gateway with `limits` on a fresh database.
pub async fn spawn_app_with(limits: Limits) -> TestApp {
    spawn_app_live(limits, LiveConfig::default()).await
}

/// Starts a gateway with `limits` and live settings on a fresh database.
pub async fn spawn_app_live(limits: Limits, live: LiveConfig) -> TestApp {
    spawn_app_config(AppConfig {
        limits,
        live,
        ..AppConfig::default()
    })
    .await
}

/// Starts a gateway verifying tokens as `auth` says (a JWKS file, say) on a
/// fresh database. The app's own token helpers still mint HS256 tokens with
/// [`TEST_SECRET`], which this gateway may refuse.
pub async fn spawn_app_with_auth(auth: AuthConfig) -> TestApp {
    spawn_app_config(AppConfig {
        auth,
        ..AppConfig::default()
    })
    .await
}

/// Everything a test gateway can be configured with.
pub struct AppConfig {
    /// Operation limits.
    pub limits: Limits,
    /// Live settings.
    pub live: LiveConfig,
    /// Token verification.
    pub auth: AuthConfig,
    /// CORS, websocket origins, compression, caching headers.
    pub edge: EdgeConfig,
    /// Persisted operations.
    pub persisted: PersistedConfig,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            limits: Limits::default(),
            live: LiveConfig::default(),
            auth: test_auth_config(),
            edge: EdgeConfig::default(),
            persisted: PersistedConfig::default(),
        }
    }
}

/// Starts a gateway configured by `config` on a fresh database.
pub async fn spawn_app_config(config: AppConfig) -> TestApp {
    let db = TestDb::new().await;
    let statements = Arc::new(Mutex::new(Vec::new()));
    let (addr, shutdown) = serve(&db, config, Some(statements.clone())).await;
    TestApp {
        addr,
        base_url: format!("http://{addr}"),
        db,
        auth: Authenticator::new(&test_auth_config()).expect("authenticator"),
        client: reqwest::Client::new(),
        statements,
        shutdown,
    }
}

/// A second gateway process's worth of state (own pool, own LISTEN
/// connection, own hub) serving the same database.
pub struct Replica {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Triggers its graceful shutdown.
    pub shutdown: Shutdown,
}

/// Starts a gateway on `db` and returns its address and shutdown handle;
/// with `statements`, every SQL statement it sends is recorded there.
async fn serve(
    db: &TestDb,
    config: AppConfig,
    statements: Option<Arc<Mutex<Vec<String>>>>,
) -> (SocketAddr, Shutdown) {
    let AppConfig {
        limits,
        live,
        auth,
        edge,
        persisted,
    } = config;
    let mut pool = gateway::db::connect(&db.url_as("gateway"), 8)
        .await
        .expect("connect as the gateway role");
    if let Some(sink) = statements {
        pool.set_metric_callback(move |info| {
            sink.lock().unwrap().push(info.statement.sql.clone());
        });
    }
    let auth = Authenticator::new(&auth).expect("authenticator");
    let rate = gateway::server::rate::RateLimits::new(&limits);
    let state = AppState {
        live: gateway::live::Live::start(&pool, live),
        health: gateway::server::health::Health::start(&pool).await,
        db: pool,
        schema: gateway::graphql::build_schema(&limits),
        auth,
        limits,
        metrics: Metrics::new(),
        statement_timeout: Duration::from_secs(5),
        shutdown: Shutdown::new(),
        edge,
        persisted: Persisted::new(&persisted).expect("persisted operations"),
        rate,
    };
    // Ready as a deployment would be: /readyz waits for the listener too.
    for _ in 0..500 {
        if state.live.stats.listening() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(state.live.stats.listening(), "the live listener connects");
    let shutdown = state.shutdown.clone();
    let signal = shutdown.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            gateway::server::router(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { signal.triggered().await })
        .await
        .expect("serve");
    });
    (addr, shutdown)
}

impl TestApp {
    /// Another gateway on this app's database (as a second replica would be).
    pub async fn spawn_replica(&self) -> Replica {
        let (addr, shutdown) = serve(&self.db, AppConfig::default(), None).await;
        Replica { addr, shutdown }
    }
}

/// A GraphQL HTTP response.
#[derive(Debug)]
pub struct GqlResponse {
    /// HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
}

impl GqlResponse {
    /// `data`, asserting there were no errors.
    #[track_caller]
    pub fn data(&self) -> &Value {
        assert!(
            self.body.get("errors").is_none(),
            "unexpected errors: {}",
            self.body
        );
        &self.body["data"]
    }

    /// The `extensions.code` of every error.
    pub fn error_codes(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| e["extensions"]["code"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first error's code, asserting there is one.
    #[track_caller]
    pub fn error_code(&self) -> String {
        let codes = self.error_codes();
        assert!(!codes.is_empty(), "expected an error: {}", self.body);
        codes[0].clone()
    }
}

impl TestApp {
    /// A valid token for `user` (role authenticated).
    pub fn token(&self, user: Uuid) -> String {
        self.auth
            .mint(
                Some(user),
                Role::Authenticated,
                Duration::from_secs(600),
                None,
            )
            .unwrap()
    }

    /// A valid service-role token.
    pub fn service_token(&self) -> String {
        self.auth
            .mint(None, Role::ServiceRole, Duration::from_secs(600), None)
            .unwrap()
    }

    /// POSTs `query` with `variables`, with `Authorization: Bearer <token>`
    /// when a token is given.
    /// `GET path`: status and body text (health, readiness, metrics).
    pub async fn get(&self, path: &str) -> (u16, String) {
        let resp = self
            .client
            .get(format!("{}{path}", self.base_url))
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    pub async fn post(&self, token: Option<&str>, query: &str, variables: Value) -> GqlResponse {
        self.post_raw(
            token.map(|t| format!("Bearer {t}")).as_deref(),
            json!({ "query": query, "variables": variables }),
        )
        .await
    }

    /// POSTs a raw JSON body with a raw Authorization header value.
    pub async fn post_raw(&self, authorization: Option<&str>, body: Value) -> GqlResponse {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.base_url))
            .json(&body);
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        let response = request.send().await.expect("send");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        GqlResponse { status, body }
    }

    /// Runs `query` as `user`.
    pub async fn as_user(&self, user: Uuid, query: &str, variables: Value) -> GqlResponse {
        self.post(Some(&self.token(user)), query, variables).await
    }

    /// Runs `query` as anon.
    pub async fn as_anon(&self, query: &str, variables: Value) -> GqlResponse {
        self.post(None, query, variables).await
    }

    /// A separate small pool on the app's database as the `gateway` login
    /// role, for tests that drive the database layer directly.
    pub async fn gateway_pool(&self) -> sea_orm::DatabaseConnection {
        gateway::db::connect(&self.db.url_as("gateway"), 2)
            .await
            .expect("connect as the gateway role")
    }

    /// Forgets the statements recorded so far.
    pub fn reset_statements(&self) {
        self.statements.lock().unwrap().clear();
    }

    /// Every statement sent since the last reset, transaction control
    /// included.
    pub fn raw_statement_count(&self) -> usize {
        self.statements.lock().unwrap().len()
    }

    /// The statements sent since the last reset, without transaction
    /// control and the per-request role/claims set-up.
    pub fn statements(&self) -> Vec<String> {
        self.statements
            .lock()
            .unwrap()
            .iter()
            .filter(|sql| {
                let s = sql.trim_start().to_ascii_uppercase();
                !(s.starts_with("BEGIN")
                    || s.starts_with("COMMIT")
                    || s.starts_with("ROLLBACK")
                    || s.starts_with("SELECT SET_CONFIG('ROLE'"))
            })
            .cloned()
            .collect()
    }
}
