//! `/graphql/ws`: graphql-transport-ws and the legacy graphql-ws.
//!
//! The gateway reads `connection_init` itself (its token gives the same
//! `Viewer` as HTTP), then hands the socket to async-graphql's protocol
//! handling with a per-connection [`WsExecutor`]: queries and mutations run
//! one-shot in their own transaction as the viewer, and subscriptions run as
//! a loop over hub signals, executing the operation once per delivery as the
//! viewer (in a delivery lane's transaction, or from a batched read; see
//! `live::lanes` and `live::batch`) so RLS decides what each delivery
//! contains.

use super::operation::execute_one;
use super::rate::{retry_after_secs, RateKey};
use super::AppState;
use crate::auth::Viewer;
use crate::graphql::context::RequestTx;
use crate::graphql::error::ApiError;
use crate::graphql::limits::{check_parsed, finish_stream, LimitError, Limits};
use crate::graphql::live::{FeedKind, LiveOutput, LivePhase, LiveSlot};
use crate::graphql::prepare_request;
use crate::live::{Cursor, LiveEvent, Signal};
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Data, Executor, Request, Response, ServerError, Variables};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket};
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::response::Response as HttpResponse;
use axum::Extension;
use futures_util::stream::{BoxStream, SplitSink};
use futures_util::{SinkExt, Stream, StreamExt};
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Read buffer of a websocket connection: kept for the connection's whole
/// life (10 MB per 10,000 idle connections at 1 KiB). Client messages are
/// small (subscribe, pong); a larger frame gets room for all of it once its
/// header is read, then is read this many bytes per call.
const WS_READ_BUFFER: usize = 1024;
/// How long a client has to send `connection_init`.
const WS_INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Events handled in one delivery at most.
const MAX_BATCH: usize = 256;
/// How far back a catch-up after lost notifications reaches before the last
/// delivered row: rows of transactions that committed out of timestamp
/// order (up to the statement timeout apart) are still found; duplicates
/// are dropped by id.
const CATCH_UP_SLACK: Duration = Duration::from_secs(5);
/// Row ids remembered per subscription for deduplication.
const SEEN_IDS: usize = 4096;

/// `GET /graphql/ws`.
pub(super) async fn graphql_ws(
    State(app): State<AppState>,
    protocol: GraphQLProtocol,
    headers: axum::http::HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    upgrade: WebSocketUpgrade,
) -> HttpResponse {
    // Cross-site websocket hijacking: a page on another origin must not
    // open a socket in its visitor's name. Refused before upgrading.
    if !app.edge.ws_origin_allowed(&headers) {
        return origin_refused();
    }
    let legacy = is_legacy(&headers);
    let address = peer.map(|Extension(ConnectInfo(addr))| addr.ip());
    let max_message = app.limits.max_body_bytes;
    // Boxed: the connection's task keeps what its closure captured for as
    // long as the connection lives, next to the future it started.
    let app = Box::new(app);
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        // Small buffers that grow on demand: tungstenite's 128 KiB defaults
        // cost ~140 KiB per idle connection (1.4 GB at 10,000), 4 KiB cost
        // 40 MB.
        .read_buffer_size(WS_READ_BUFFER)
        .write_buffer_size(0)
        // Incoming messages are bounded like HTTP bodies.
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .on_upgrade(move |socket| serve_ws(app, protocol, legacy, address, socket))
}

/// 403 for a websocket upgrade from an origin that is not allowed (see
/// `edge::EdgeConfig::ws_origin_allowed`), as a GraphQL error body.
fn origin_refused() -> HttpResponse {
    use axum::response::IntoResponse;
    let body = serde_json::json!({"errors": [{
        "message": "websocket origin not allowed (CORS_ORIGINS)",
        "extensions": {"code": "FORBIDDEN"},
    }]});
    (
        axum::http::StatusCode::FORBIDDEN,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Whether the client asked for the legacy `graphql-ws` protocol (the one
/// [`GraphQLProtocol`] picks: the first known name in the header).
fn is_legacy(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all(axum::http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find(|p| *p == "graphql-ws" || *p == "graphql-transport-ws")
        == Some("graphql-ws")
}

type Sink = Arc<tokio::sync::Mutex<SplitSink<WebSocket, WsMessage>>>;

/// Serves one websocket connection. Not an `async fn`: its arguments would
/// stay in the connection's future for its whole life, the socket among them
/// after it is split.
fn serve_ws(
    app: Box<AppState>,
    protocol: GraphQLProtocol,
    legacy: bool,
    address: Option<IpAddr>,
    socket: WebSocket,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let (sink, stream) = socket.split();
    // Shared so the gateway can still send its own close frame after
    // async-graphql is done with the socket.
    let sink: Sink = Arc::new(tokio::sync::Mutex::new(sink));
    serve_split(app, protocol, legacy, address, sink, stream)
}

async fn serve_split(
    app: Box<AppState>,
    protocol: GraphQLProtocol,
    legacy: bool,
    address: Option<IpAddr>,
    sink: Sink,
    mut stream: futures_util::stream::SplitStream<WebSocket>,
) {
    let _open = app.shutdown.socket_guard();
    app.metrics.ws_opened();
    let first = tokio::time::timeout(WS_INIT_TIMEOUT, stream.next()).await;
    let init = match first {
        Ok(Some(Ok(WsMessage::Text(text)))) => Ok(text),
        Ok(Some(Err(err))) if is_too_big(&err) => Err((1009, TOO_BIG.to_string())),
        Ok(_) => Err((4400, "expected connection_init".to_string())),
        Err(_) => Err((4408, "connection initialisation timeout".to_string())),
    };
    let accepted = init.and_then(|init| {
        let message: serde_json::Value = serde_json::from_str(init.as_str()).unwrap_or_default();
        if message["type"] != "connection_init" {
            return Err((4400, "expected connection_init".to_string()));
        }
        let viewer = app
            .auth
            .authenticate_init_payload(message.get("payload"))
            .map_err(|err| (4403, format!("forbidden: {err}")))?;
        let guard = app.live.open_connection(viewer.user_id).ok_or_else(|| {
            let err = LimitError::Connections {
                max: app.live.config.max_connections_per_user,
            };
            (1008, format!("LIMIT_EXCEEDED: {err}"))
        })?;
        Ok((init, viewer, guard))
    });
    let (init, viewer, _counted) = match accepted {
        Ok(accepted) => accepted,
        Err((code, reason)) => {
            close_ws(&sink, code, &reason).await;
            app.metrics.ws_closed();
            return;
        }
    };
    let executor = WsExecutor::new(AppState::clone(&app), viewer, address);
    let alive = Liveness::default();
    let seen = alive.clone();
    let interval = Duration::from_millis(app.live.config.keepalive_ms.max(10));
    let pinger = tokio::spawn(keepalive(sink.clone(), legacy, interval, alive.clone()));
    let shutdown = app.shutdown.clone();
    let ended = async move {
        tokio::select! {
            _ = shutdown.triggered() => {},
            _ = alive.dead.notified() => {},
        }
    };
    let too_big = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let oversized = too_big.clone();
    let replayed = futures_util::stream::once(async move { Ok(WsMessage::Text(init)) })
        .chain(stream)
        .inspect(move |message| {
            seen.touch();
            if message.as_ref().is_err_and(is_too_big) {
                oversized.store(true, Ordering::Relaxed);
            }
        })
        .take_until(Box::pin(ended));
    let shared_sink =
        futures_util::sink::unfold(sink.clone(), |sink, message: WsMessage| async move {
            sink.lock().await.send(message).await?;
            Ok::<_, axum::Error>(sink)
        });
    GraphQLWebSocket::new_with_pair(Box::pin(shared_sink), replayed, executor, protocol)
        .with_data(Data::default())
        .serve()
        .await;
    pinger.abort();
    if too_big.load(Ordering::Relaxed) {
        close_ws(&sink, 1009, TOO_BIG).await;
    } else {
        close_ws(&sink, 1001, "server shutting down").await;
    }
    app.metrics.ws_closed();
}

/// `RATE_LIMITED` for a websocket operation past its viewer's bucket, with
/// `extensions.retryAfter` (seconds), as HTTP says it in `Retry-After`.
fn rate_limited(wait: Duration) -> Response {
    let mut err = ServerError::new("too many requests: slow down", None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", crate::server::media::RATE_LIMITED);
    ext.set("retryAfter", retry_after_secs(wait));
    err.extensions = Some(ext);
    Response::from_errors(vec![err])
}

/// Close reason of a message over the size limit (close code 1009).
const TOO_BIG: &str = "LIMIT_EXCEEDED: message larger than the maximum body size";

/// Whether reading a message failed because it is over the size limit
/// (tungstenite's capacity error, under axum's).
fn is_too_big(err: &axum::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(err) = source {
        let text = err.to_string();
        if text.contains("Space limit exceeded") || text.contains("Message too long") {
            return true;
        }
        source = err.source();
    }
    false
}

/// A peer silent (not even a pong) for this many keep-alive intervals is gone.
const DEAD_AFTER_INTERVALS: u32 = 4;

/// When the peer last sent anything, and the signal that it is gone.
#[derive(Clone)]
struct Liveness {
    last: Arc<std::sync::Mutex<Instant>>,
    dead: Arc<tokio::sync::Notify>,
}

impl Default for Liveness {
    fn default() -> Self {
        Self {
            last: Arc::new(std::sync::Mutex::new(Instant::now())),
            dead: Arc::default(),
        }
    }
}

impl Liveness {
    fn touch(&self) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    fn silent_for(&self) -> Duration {
        self.last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed()
    }
}

/// Keep-alive: a websocket ping every `interval` (browsers and clients
/// answer with a pong), plus the legacy protocol's `ka` message; ends the
/// connection when the peer stays silent for [`DEAD_AFTER_INTERVALS`]. async-graphql's
/// own `keepalive_timeout` only measures client messages, which would close
/// idle subscriptions whose clients never ping.
async fn keepalive(sink: Sink, legacy: bool, interval: Duration, alive: Liveness) {
    let mut tick = tokio::time::interval(interval);
    tick.tick().await;
    loop {
        tick.tick().await;
        if alive.silent_for() >= interval * DEAD_AFTER_INTERVALS {
            alive.dead.notify_one();
            return;
        }
        let mut sink = sink.lock().await;
        let mut sent = sink.send(WsMessage::Ping(Default::default())).await;
        if legacy && sent.is_ok() {
            sent = sink.send(WsMessage::Text(r#"{"type":"ka"}"#.into())).await;
        }
        if sent.is_err() {
            alive.dead.notify_one();
            return;
        }
    }
}

/// Sends a close frame (ignored when the socket is already gone).
async fn close_ws(sink: &Sink, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let mut sink = sink.lock().await;
    let _ = sink.send(WsMessage::Close(Some(frame))).await;
    let _ = sink.close().await;
}

/// Runs the operations of one websocket connection as its viewer. Cheap to
/// clone: async-graphql keeps two copies per connection and every operation
/// task one more, so the state sits behind one `Arc` (a copy of the
/// `AppState` and the viewer's claims per clone would cost ~1 KiB each).
#[derive(Clone)]
pub struct WsExecutor(Arc<ConnState>);

/// What the operations of one connection share.
pub struct ConnState {
    app: AppState,
    viewer: Viewer,
    /// When the connection's token expires.
    expires_at: Option<Instant>,
    /// Subscriptions running on this connection.
    subscriptions: Arc<AtomicUsize>,
    /// The bucket each operation of the connection takes a token from.
    rate: RateKey,
}

impl std::ops::Deref for WsExecutor {
    type Target = ConnState;

    fn deref(&self) -> &ConnState {
        &self.0
    }
}

impl WsExecutor {
    fn new(app: AppState, viewer: Viewer, address: Option<IpAddr>) -> Self {
        let rate = RateKey::of(&viewer, address);
        let expires_at = viewer
            .claims
            .get("exp")
            .and_then(|v| v.as_i64())
            .map(|exp| {
                let left = exp - chrono::Utc::now().timestamp();
                Instant::now() + Duration::from_secs(left.max(0) as u64)
            });
        Self(Arc::new(ConnState {
            app,
            viewer,
            expires_at,
            subscriptions: Arc::default(),
            rate,
        }))
    }

    fn expired(&self) -> bool {
        self.expires_at.is_some_and(|at| Instant::now() >= at)
    }

    /// A query or mutation: one transaction, as over HTTP. `parsed` is the
    /// request's document when it parses (handed to the schema, which then
    /// does not parse it again).
    async fn one_shot(&self, mut request: Request, parsed: Option<Parsed>) -> Response {
        if self.expired() {
            return token_expired();
        }
        let started = Instant::now();
        let op = match parsed.as_ref().and_then(|p| p.operation) {
            Some(OperationType::Mutation) => "mutation",
            _ => "query",
        };
        if let Some(parsed) = parsed {
            request.set_parsed_query(parsed.document);
        }
        let response = execute_one(&self.app, self.viewer.clone(), request, false).await;
        let outcome = if response.is_ok() { "ok" } else { "error" };
        self.app
            .metrics
            .observe_request(op, outcome, started.elapsed());
        response
    }

    /// A subscription: checked here, then [`WsExecutor::live`] sets it up,
    /// catches up and delivers. The checks run before the stream is built so
    /// that the request and its document are not kept in the stream's state
    /// for the subscription's whole life (only the [`Template`] is).
    fn subscribe(
        self,
        request: Request,
        document: ExecutableDocument,
    ) -> BoxStream<'static, Response> {
        let refuse =
            |response: Response| futures_util::stream::once(async move { response }).boxed();
        let max = self.app.live.config.max_subscriptions_per_connection;
        if self.subscriptions.fetch_add(1, Ordering::SeqCst) >= max {
            self.subscriptions.fetch_sub(1, Ordering::SeqCst);
            return refuse(Response::from_errors(vec![LimitError::Subscriptions {
                max,
            }
            .into()]));
        }
        let counted = Counted(self.subscriptions.clone());
        if self.expired() {
            return refuse(token_expired());
        }
        // Once, before the first phase opens a transaction: every phase
        // runs the same document with the same variables.
        if let Err(err) = check_parsed(
            &self.app.limits,
            &request,
            &document,
            crate::graphql::types_of(&self.app.schema),
        ) {
            return refuse(Response::from_errors(vec![err]));
        }
        let template = Template::new(request, document);
        self.live(template, counted).boxed()
    }

    /// A checked subscription: set up, catch up, then deliver until the
    /// client stops, the token expires or the subscriber falls too far
    /// behind.
    fn live(
        self,
        template: Template,
        counted: Counted,
    ) -> impl Stream<Item = Response> + Send + 'static {
        async_stream::stream! {
            let _counted = counted;
            // Boxed: an idle subscription then holds a pointer, not room
            // for a whole execution (multiplied by 10,000 subscriptions).
            let (responses, out) = Box::pin(
                self.run_phase(&template, LivePhase::Setup(self.app.live.hub.clone())),
            )
            .await;
            let LiveOutput { registration, kind, floor, sent, more, end } = out;
            let mut tracker = Tracker::new(kind, floor);
            for response in responses {
                tracker.repeats(&response);
                yield response;
            }
            let Some(mut registration) = registration else {
                return;
            };
            tracker.record(&sent);
            if end {
                return;
            }
            let mut next_phase = more.then(|| tracker.catch_up());
            let expiry = sleep_until(self.expires_at);
            tokio::pin!(expiry);
            loop {
                let phase = match next_phase.take() {
                    Some(phase) => phase,
                    None => {
                        let next = tokio::select! {
                            _ = &mut expiry => None,
                            signal = registration.recv() => Some(signal),
                        };
                        match next {
                            None => {
                                yield token_expired();
                                return;
                            }
                            Some(None) => {
                                yield lagged(tracker.last);
                                return;
                            }
                            Some(Some(first)) => {
                                let mut gap = false;
                                let mut events = Vec::new();
                                let mut signal = Some(first);
                                while let Some(next) = signal.take() {
                                    match next {
                                        Signal::Gap => gap = true,
                                        Signal::Event(event) => events.push(event),
                                    }
                                    if events.len() < MAX_BATCH {
                                        signal = registration.try_recv();
                                    }
                                }
                                if gap {
                                    tracker.catch_up()
                                } else {
                                    let fresh = tracker.fresh(events);
                                    if fresh.is_empty() {
                                        continue;
                                    }
                                    LivePhase::Deliver(fresh.into())
                                }
                            }
                        }
                    }
                };
                let mut failures = 0u32;
                let mut phase = phase;
                loop {
                    let (responses, out) = Box::pin(self.run_phase(&template, phase)).await;
                    let failed = responses.iter().any(|r| !r.errors.is_empty());
                    if failed && failures < 5 {
                        // The rows are still in the tables: read them again
                        // from the last cursor once the database answers.
                        failures += 1;
                        tokio::time::sleep(Duration::from_millis(100 << failures)).await;
                        phase = tracker.catch_up();
                        continue;
                    }
                    for response in responses {
                        if !tracker.repeats(&response) {
                            yield response;
                        }
                    }
                    if failed {
                        return;
                    }
                    tracker.record(&out.sent);
                    if out.end {
                        return;
                    }
                    if !out.more {
                        break;
                    }
                    phase = tracker.catch_up();
                }
            }
        }
    }

    /// Executes the subscription operation once for `phase`, in a
    /// transaction acting as the viewer (its lane's, see `live::lanes`), and
    /// collects what it yields.
    async fn run_phase(
        &self,
        template: &Template,
        phase: LivePhase,
    ) -> (Vec<Response>, LiveOutput) {
        // The transaction is opened in a delivery lane on first use: the
        // lanes bound how many deliveries hold a pool connection, and a
        // delivery whose rows come from a batched read may need none.
        let tx = RequestTx::in_lanes(
            self.app.live.lanes.clone(),
            self.viewer.clone(),
            self.app.statement_timeout.as_millis() as u64,
        );
        let slot = LiveSlot::default();
        let request = template
            .request()
            .data(self.viewer.clone())
            .data(self.app.live.batchers.clone())
            .data(phase)
            .data(slot.clone());
        let request = prepare_request(request, &tx);
        let stream = self.app.schema.execute_stream(request);
        let responses: Vec<Response> = finish_stream(&self.app.limits, stream).collect().await;
        let clean = responses.iter().all(|r| r.errors.is_empty());
        match tx.finish_in_lane().await {
            Ok((Some(tx), Some(lane))) => lane.finish(tx, clean).await,
            Ok(_) => {}
            Err(detail) => tracing::error!(error = %detail, "live delivery transaction leaked"),
        }
        (responses, slot.take())
    }
}

impl Executor for WsExecutor {
    async fn execute(&self, request: Request) -> Response {
        if let Err(wait) = self.app.rate.check(&self.rate, 1) {
            return rate_limited(wait);
        }
        let parsed = Parsed::of(&request, &self.app.limits);
        self.one_shot(request, parsed).await
    }

    fn execute_stream(
        &self,
        mut request: Request,
        _session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        // Each operation runs in a task of its own and hands its responses
        // over through a small outbox. async-graphql polls operations only
        // while the socket accepts writes, so work done inside that poll
        // loop would hold its database connection for as long as a slow
        // client keeps the socket full, and a few slow clients would starve
        // the pool for everyone. In a task, a delivery finishes its
        // transaction first and only then waits for the outbox; a client
        // that keeps it full fills its hub buffer and is told it lagged.
        // The request is parsed (and a subscription checked) here rather
        // than in the task, so that the task's state, kept for the
        // subscription's whole life, holds the stream and not the request.
        if let Err(wait) = self.app.rate.check(&self.rate, 1) {
            return futures_util::stream::once(async move { rate_limited(wait) }).boxed();
        }
        let this = self.clone();
        // A persisted operation becomes its document (or is refused) before
        // it is parsed; a query or mutation passes `execute_one` unchanged.
        if let Err(err) = self.app.persisted.resolve(&mut request) {
            return futures_util::stream::once(async move { Response::from_errors(vec![err]) })
                .boxed();
        }
        let parsed = Parsed::of(&request, &self.app.limits);
        let produced = match parsed {
            Some(Parsed {
                document,
                operation: Some(OperationType::Subscription),
            }) => this.subscribe(request, document),
            // Queries, mutations, and requests that do not parse or
            // select no operation (the schema reports why).
            parsed => {
                futures_util::stream::once(async move { this.one_shot(request, parsed).await })
                    .boxed()
            }
        };
        let (outbox, responses) = tokio::sync::mpsc::channel(OUTBOX);
        let task = tokio::spawn(pump(produced, outbox));
        let guard = AbortOnDrop(task.abort_handle());
        futures_util::stream::unfold((responses, guard), |(mut responses, guard)| async move {
            let response = responses.recv().await?;
            Some((*response, (responses, guard)))
        })
        .boxed()
    }
}

/// Responses an operation may have ready before the socket takes them.
/// Boxed in the channel: tokio's mpsc allocates its slots 32 at a time up
/// front, and 32 inline `Response`s (224 bytes each) made the outbox of an
/// idle subscription cost 7 KiB.
const OUTBOX: usize = 8;

/// An operation's task: hands what `produced` yields over to the outbox until
/// either ends.
async fn pump(
    mut produced: BoxStream<'static, Response>,
    outbox: tokio::sync::mpsc::Sender<Box<Response>>,
) {
    while let Some(response) = produced.next().await {
        if outbox.send(Box::new(response)).await.is_err() {
            break;
        }
    }
}

/// Stops an operation's task when async-graphql drops its stream (the client
/// stopped it, or the connection ended).
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A websocket operation's document, parsed once: its type decides how it
/// runs, and the schema gets the parsed form.
struct Parsed {
    document: ExecutableDocument,
    /// The operation the request selects; `None` when it selects none.
    operation: Option<OperationType>,
}

impl Parsed {
    /// `None` when the query does not parse, or nests too deep to be
    /// parsed safely (`execute` then says why).
    fn of(request: &Request, limits: &Limits) -> Option<Self> {
        crate::graphql::input_bounds::check_text(limits, &request.query).ok()?;
        let document = async_graphql::parser::parse_query(&request.query).ok()?;
        let operation = match &document.operations {
            DocumentOperations::Single(op) => Some(op.node.ty),
            DocumentOperations::Multiple(ops) => match &request.operation_name {
                Some(name) => ops.get(name.as_str()).map(|op| op.node.ty),
                None if ops.len() == 1 => ops.values().next().map(|op| op.node.ty),
                None => None,
            },
        };
        Some(Self {
            document,
            operation,
        })
    }
}

/// The parts of a subscription request that are re-executed per delivery.
struct Template {
    /// The query text, shared like the document.
    query: Arc<str>,
    operation_name: Option<String>,
    variables: Vars,
    /// The parsed query, shared with every subscription of the same text.
    document: Arc<ExecutableDocument>,
}

/// A subscription's variables, kept as JSON text: a `Variables` map costs a
/// whole B-tree node (~1 KiB) however few variables it holds, and is cloned
/// per delivery anyway.
enum Vars {
    Json(Box<str>),
    /// None, or variables that do not come back the same from JSON text.
    Map(Variables),
}

impl Vars {
    fn new(variables: Variables) -> Self {
        if variables.is_empty() {
            // An empty map holds no node.
            return Vars::Map(variables);
        }
        match serde_json::to_string(&variables) {
            // Only when the text gives the same variables back.
            Ok(json)
                if serde_json::from_str::<Variables>(&json).ok().as_ref() == Some(&variables) =>
            {
                Vars::Json(json.into())
            }
            _ => Vars::Map(variables),
        }
    }

    fn get(&self) -> Variables {
        match self {
            Vars::Json(json) => serde_json::from_str(json).unwrap_or_default(),
            Vars::Map(variables) => variables.clone(),
        }
    }
}

impl Template {
    fn new(request: Request, document: ExecutableDocument) -> Self {
        let (query, document) = shared_document(request.query, document);
        Self {
            query,
            document,
            operation_name: request.operation_name,
            variables: Vars::new(request.variables),
        }
    }

    fn request(&self) -> Request {
        let mut request = Request::new(&*self.query).variables(self.variables.get());
        // Copying the tree costs a fraction of parsing it again.
        request.set_parsed_query(ExecutableDocument::clone(&self.document));
        match &self.operation_name {
            Some(name) => request.operation_name(name.clone()),
            None => request,
        }
    }
}

/// Distinct subscription texts whose parsed form is kept.
const DOCUMENTS: usize = 512;

/// The shared text and parsed form of subscription text `query` (`parsed`
/// is its parse), process-wide: a delivery re-executes its subscription, and
/// thousands of clients subscribe with the same few texts, so they share one
/// copy of each. Texts past [`DOCUMENTS`] are not kept.
fn shared_document(
    query: String,
    parsed: ExecutableDocument,
) -> (Arc<str>, Arc<ExecutableDocument>) {
    type Cache = HashMap<Arc<str>, Arc<ExecutableDocument>>;
    static CACHE: LazyLock<Mutex<Cache>> = LazyLock::new(Mutex::default);
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((text, document)) = cache.get_key_value(query.as_str()) {
        return (text.clone(), document.clone());
    }
    let shared = (Arc::<str>::from(query), Arc::new(parsed));
    if cache.len() < DOCUMENTS {
        cache.insert(shared.0.clone(), shared.1.clone());
    }
    shared
}

/// What a subscription has delivered: the resume point, the ids sent
/// recently (row feeds deliver each row once), and a digest of the last
/// state (state feeds send a state only when it changed).
struct Tracker {
    kind: FeedKind,
    floor: Option<Cursor>,
    last: Option<Cursor>,
    seen: HashSet<Uuid>,
    order: VecDeque<Uuid>,
    last_state: Option<u64>,
}

impl Tracker {
    fn new(kind: FeedKind, floor: Option<Cursor>) -> Self {
        Self {
            kind,
            floor,
            last: None,
            seen: HashSet::new(),
            order: VecDeque::new(),
            last_state: None,
        }
    }

    /// Whether `response` of a state feed repeats the last state sent (one
    /// commit often fires several events, say a draft and its session's
    /// counters, and a change outside the selection re-reads the same
    /// state); remembers it otherwise. Errors always go out.
    fn repeats(&mut self, response: &Response) -> bool {
        if self.kind != FeedKind::State || !response.errors.is_empty() {
            return false;
        }
        let Ok(json) = serde_json::to_vec(&response.data) else {
            return false;
        };
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        json.hash(&mut hasher);
        let digest = hasher.finish();
        let repeated = self.last_state == Some(digest);
        self.last_state = Some(digest);
        repeated
    }

    fn record(&mut self, sent: &[Cursor]) {
        for cursor in sent {
            self.last = self.last.max(Some(*cursor));
            if self.kind == FeedKind::Rows && self.seen.insert(cursor.id) {
                self.order.push_back(cursor.id);
                if self.order.len() > SEEN_IDS {
                    if let Some(old) = self.order.pop_front() {
                        self.seen.remove(&old);
                    }
                }
            }
        }
    }

    /// The events not delivered yet (each row once), in arrival order.
    fn fresh(&self, events: Vec<Arc<LiveEvent>>) -> Vec<Arc<LiveEvent>> {
        if self.kind != FeedKind::Rows {
            return events;
        }
        let mut batch = HashSet::new();
        events
            .into_iter()
            .filter(|e| !self.seen.contains(&e.id) && batch.insert(e.id))
            .collect()
    }

    /// Reads what may have been missed: from a little before the last
    /// delivered row (never before where the feed started), skipping the
    /// rows already delivered.
    fn catch_up(&self) -> LivePhase {
        let slack = chrono::Duration::from_std(CATCH_UP_SLACK).unwrap_or_default();
        let from = match self.last {
            Some(last) => Cursor {
                ts: last.ts - slack,
                id: Uuid::nil(),
            },
            None => self.floor.unwrap_or(Cursor {
                ts: chrono::Utc::now() - slack,
                id: Uuid::nil(),
            }),
        };
        let from = match self.floor {
            Some(floor) if floor > from => floor,
            _ => from,
        };
        LivePhase::CatchUp {
            after: from,
            skip: Arc::new(self.seen.clone()),
        }
    }
}

/// Decrements the connection's subscription count on drop.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Resolves at `at`, or never.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

fn token_expired() -> Response {
    Response::from_errors(vec![ApiError::Unauthenticated(
        "token expired: reconnect with a fresh token (resume with `after`)".into(),
    )
    .server_error()])
}

/// The subscriber fell more than its buffer behind and was dropped.
fn lagged(last: Option<Cursor>) -> Response {
    let mut error = ServerError::new(
        "subscriber fell too far behind; resubscribe with `after` set to `extensions.cursor`",
        None,
    );
    let ext = error.extensions.get_or_insert_with(Default::default);
    ext.set("code", "SUBSCRIBER_LAGGED");
    if let Some(cursor) = last {
        ext.set("cursor", cursor.encode());
    }
    Response::from_errors(vec![error])
}
