//! What a resolver can reach for its request: the viewer, the request's
//! transaction (running as the viewer), and the configured limits.

use crate::auth::Viewer;
use crate::graphql::error::{ApiError, ApiResult};
use crate::graphql::limits::Limits;
use crate::live::{Lane, Lanes};
use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::ContainerType;
use async_graphql::{
    Context, ContextSelectionSet, ObjectType, OutputType, Positioned, ServerResult, Value,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction};
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::OnceCell;

/// The request's transaction, shared by every resolver and loader of the
/// request. It is opened as the viewer, so RLS applies to every statement,
/// and only on first use: limits, parsing and validation all run before any
/// resolver, so a rejected operation sends no SQL at all (and neither does
/// one that never reads the database).
#[derive(Clone)]
pub struct RequestTx(Arc<RequestTxInner>);

struct RequestTxInner {
    source: Source,
    viewer: Viewer,
    statement_timeout_ms: u64,
    tx: OnceCell<DatabaseTransaction>,
    /// Opening the transaction failed because the database is unavailable.
    unavailable: AtomicBool,
    /// The delivery lane the transaction runs in (live deliveries only).
    lane: std::sync::Mutex<Option<Lane>>,
}

/// Where a request's transaction comes from.
enum Source {
    /// The pool, directly (HTTP requests, websocket queries and mutations).
    Pool(DatabaseConnection),
    /// A delivery lane, waiting in line for it, and waiting for the
    /// database to come back when it is away (live deliveries).
    Lanes(Lanes),
}

impl RequestTx {
    /// A transaction for `viewer` on `db`, not opened yet.
    pub fn new(db: DatabaseConnection, viewer: Viewer, statement_timeout_ms: u64) -> Self {
        Self::with_source(Source::Pool(db), viewer, statement_timeout_ms)
    }

    /// A live delivery's transaction for `viewer`, opened in one of `lanes`
    /// on first use (a delivery whose rows come from a batched read and that
    /// reads nothing else opens none).
    pub fn in_lanes(lanes: Lanes, viewer: Viewer, statement_timeout_ms: u64) -> Self {
        Self::with_source(Source::Lanes(lanes), viewer, statement_timeout_ms)
    }

    fn with_source(source: Source, viewer: Viewer, statement_timeout_ms: u64) -> Self {
        Self(Arc::new(RequestTxInner {
            source,
            viewer,
            statement_timeout_ms,
            tx: OnceCell::new(),
            unavailable: AtomicBool::new(false),
            lane: std::sync::Mutex::new(None),
        }))
    }

    /// The transaction, opened on the first call; concurrent callers wait
    /// for that one opening, and a failed opening is tried again by the
    /// next caller, unless it failed because the database is unavailable:
    /// then every later caller of the request fails at once, instead of
    /// each waiting out the pool's acquire timeout again.
    pub async fn get(&self) -> ApiResult<&DatabaseTransaction> {
        let inner = &self.0;
        let unavailable = || {
            ApiError::ServiceUnavailable(
                "an earlier field of this request found the database unavailable".into(),
            )
        };
        if inner.unavailable.load(Ordering::Relaxed) {
            return Err(unavailable());
        }
        inner
            .tx
            .get_or_try_init(|| async {
                // Callers that waited for a failed opening land here too.
                if inner.unavailable.load(Ordering::Relaxed) {
                    return Err(unavailable());
                }
                let opened = match &inner.source {
                    Source::Pool(db) => {
                        crate::db::request::begin_as(db, &inner.viewer, inner.statement_timeout_ms)
                            .await
                    }
                    Source::Lanes(lanes) => {
                        let mut lane = lanes.acquire().await;
                        let tx = lane
                            .begin_as_retrying(&inner.viewer, inner.statement_timeout_ms)
                            .await;
                        if tx.is_ok() {
                            *inner.lane.lock().unwrap_or_else(|p| p.into_inner()) = Some(lane);
                        }
                        tx
                    }
                };
                opened.map_err(|err| {
                    let err = ApiError::from(err);
                    if matches!(err, ApiError::ServiceUnavailable(_)) {
                        inner.unavailable.store(true, Ordering::Relaxed);
                    }
                    err
                })
            })
            .await
    }

    /// Takes the transaction back once every resolver and dataloader has let
    /// go of its handle; `Ok(None)` when it was never opened.
    pub async fn finish(self) -> Result<Option<DatabaseTransaction>, String> {
        Ok(self.finish_in_lane().await?.0)
    }

    /// [`RequestTx::finish`], with the lane the transaction ran in.
    pub async fn finish_in_lane(
        mut self,
    ) -> Result<(Option<DatabaseTransaction>, Option<Lane>), String> {
        // A dataloader's batch task may drop its handle a moment after it
        // delivered its result.
        for _ in 0..1000 {
            match Arc::try_unwrap(self.0) {
                Ok(inner) => {
                    let lane = inner.lane.into_inner().unwrap_or_else(|p| p.into_inner());
                    return Ok((inner.tx.into_inner(), lane));
                }
                Err(shared) => {
                    self.0 = shared;
                    tokio::task::yield_now().await;
                }
            }
        }
        Err("the request transaction is still in use after the response".into())
    }
}

/// The request's [`RequestTx`]. Every entry point (HTTP, and each websocket
/// operation or subscription phase) adds it in `prepare_request`; a request
/// that did not is refused rather than run without the viewer's claims.
fn request_tx<'a>(ctx: &Context<'a>) -> ApiResult<&'a RequestTx> {
    ctx.data_opt::<RequestTx>().ok_or_else(|| {
        ApiError::Internal("operation executed without a request transaction".into())
    })
}

/// The schema's mutation root: `M` (the merged mutations) with each root
/// mutation field run inside a savepoint, so a failed mutation leaves the
/// transaction usable and the next mutation of the same request reports its
/// own error rather than "transaction aborted". The request still rolls back
/// as a whole when any of them failed.
///
/// A wrapper rather than an async-graphql extension: any extension sends
/// every field of every operation down async-graphql's slow path (a
/// registry lookup and a boxed future per extension per field), while this
/// runs once per root mutation field (async-graphql resolves them one after
/// another). It is `M` to the schema: same name, same type information, so
/// the SDL does not change.
#[derive(Default)]
pub struct Savepoints<M>(pub M);

impl<M: OutputType> OutputType for Savepoints<M> {
    fn type_name() -> Cow<'static, str> {
        M::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        M::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        // Only root fields get savepoints: as a value, it is `M`.
        self.0.resolve(ctx, field).await
    }
}

impl<M: ContainerType> ContainerType for Savepoints<M> {
    async fn resolve_field(&self, ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        let tx = request_tx(ctx)
            .map_err(|err| err.server_error())?
            .get()
            .await
            .map_err(|err| err.server_error())?;
        let internal = |e: sea_orm::DbErr| ApiError::from(e).server_error();
        tx.execute_unprepared("SAVEPOINT gql_mutation")
            .await
            .map_err(internal)?;
        let result = self.0.resolve_field(ctx).await;
        let end = if result.is_ok() {
            "RELEASE SAVEPOINT gql_mutation"
        } else {
            "ROLLBACK TO SAVEPOINT gql_mutation"
        };
        tx.execute_unprepared(end).await.map_err(internal)?;
        result
    }
}

impl<M: ObjectType> ObjectType for Savepoints<M> {}

/// The request's viewer (the only way resolvers learn who is asking).
pub fn viewer<'a>(ctx: &Context<'a>) -> &'a Viewer {
    ctx.data_unchecked::<Viewer>()
}

/// The request's transaction, opened on first use.
pub async fn tx<'a>(ctx: &Context<'a>) -> ApiResult<&'a DatabaseTransaction> {
    request_tx(ctx)?.get().await
}

/// The configured limits.
pub fn limits<'a>(ctx: &Context<'a>) -> &'a Limits {
    ctx.data_unchecked::<Limits>()
}

/// UNAUTHENTICATED for anon: the domains whose data is all private tell
/// anon to sign in rather than answer an empty list that reads as "you have
/// none". A service-role request passes.
pub fn require_signed_in(ctx: &Context<'_>) -> ApiResult<()> {
    if viewer(ctx).role == crate::auth::Role::Anon {
        return Err(ApiError::Unauthenticated("sign in first".into()));
    }
    Ok(())
}

/// The signed-in user's id, or UNAUTHENTICATED.
pub fn require_user(ctx: &Context<'_>) -> ApiResult<uuid::Uuid> {
    viewer(ctx)
        .user_id
        .ok_or_else(|| ApiError::Unauthenticated("sign in first".into()))
}
