//! What a resolver can reach for its request: the viewer, the request's
//! transaction (running as the viewer), and the configured limits.

use crate::auth::Viewer;
use crate::graphql::error::{ApiError, ApiResult};
use crate::graphql::limits::Limits;
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextResolve, ResolveInfo,
};
use async_graphql::{Context, ErrorExtensions, Response, ServerError, ServerResult};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction};
use std::sync::Arc;
use tokio::sync::OnceCell;

/// The request's transaction, shared by every resolver and loader of the
/// request. It is opened as the viewer, so RLS applies to every statement,
/// and only once the operation has been parsed and validated (by
/// [`StartTransaction`]), so a rejected operation sends no SQL at all.
#[derive(Clone)]
pub struct RequestTx(Arc<RequestTxInner>);

struct RequestTxInner {
    db: DatabaseConnection,
    viewer: Viewer,
    statement_timeout_ms: u64,
    tx: OnceCell<DatabaseTransaction>,
}

impl RequestTx {
    /// A transaction for `viewer` on `db`, not opened yet.
    pub fn new(db: DatabaseConnection, viewer: Viewer, statement_timeout_ms: u64) -> Self {
        Self(Arc::new(RequestTxInner {
            db,
            viewer,
            statement_timeout_ms,
            tx: OnceCell::new(),
        }))
    }

    /// Opens the transaction (once; later calls return the same one).
    pub async fn start(&self) -> ApiResult<&DatabaseTransaction> {
        let inner = &self.0;
        inner
            .tx
            .get_or_try_init(|| {
                crate::db::request::begin_as(&inner.db, &inner.viewer, inner.statement_timeout_ms)
            })
            .await
            .map_err(ApiError::from)
    }

    /// The open transaction.
    pub fn get(&self) -> ApiResult<&DatabaseTransaction> {
        self.0
            .tx
            .get()
            .ok_or_else(|| ApiError::Internal("request transaction used before it started".into()))
    }

    /// Takes the transaction back once every resolver and dataloader has let
    /// go of its handle; `Ok(None)` when it was never opened.
    pub async fn finish(mut self) -> Result<Option<DatabaseTransaction>, String> {
        // A dataloader's batch task may drop its handle a moment after it
        // delivered its result.
        for _ in 0..1000 {
            match Arc::try_unwrap(self.0) {
                Ok(inner) => return Ok(inner.tx.into_inner()),
                Err(shared) => {
                    self.0 = shared;
                    tokio::task::yield_now().await;
                }
            }
        }
        Err("the request transaction is still in use after the response".into())
    }
}

/// Opens the request's transaction right before execution, after parsing and
/// validation (and so after every limit check).
pub struct StartTransaction;

impl ExtensionFactory for StartTransaction {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(StartTransactionExtension)
    }
}

struct StartTransactionExtension;

#[async_graphql::async_trait::async_trait]
impl Extension for StartTransactionExtension {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let started = match ctx.data_opt::<RequestTx>() {
            Some(tx) => tx.start().await.map(|_| ()),
            // Every entry point (HTTP, and each websocket operation or
            // subscription phase) goes through `prepare_request`; a request
            // that did not is refused rather than run without the viewer's
            // claims.
            None => Err(ApiError::Internal(
                "operation executed without a request transaction".into(),
            )),
        };
        if let Err(err) = started {
            let gql = err.extend();
            let mut error = ServerError::new(gql.message, None);
            error.extensions = gql.extensions;
            return Response::from_errors(vec![error]);
        }
        next.run(ctx, operation_name).await
    }

    /// Runs each root mutation field inside a savepoint, so a failed
    /// mutation leaves the transaction usable and the next mutation of the
    /// same request reports its own error rather than "transaction aborted".
    /// The request still rolls back as a whole when any of them failed.
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<async_graphql::Value>> {
        let root_mutation = info.parent_type == "MutationRoot" && info.path_node.parent.is_none();
        let tx = match (root_mutation, ctx.data_opt::<RequestTx>()) {
            (true, Some(tx)) => tx.get().ok(),
            _ => None,
        };
        let Some(tx) = tx else {
            return next.run(ctx, info).await;
        };
        let internal = |e: sea_orm::DbErr| {
            let gql = ApiError::from(e).extend();
            let mut error = ServerError::new(gql.message, None);
            error.extensions = gql.extensions;
            error
        };
        tx.execute_unprepared("SAVEPOINT gql_mutation")
            .await
            .map_err(internal)?;
        let result = next.run(ctx, info).await;
        let end = if result.is_ok() {
            "RELEASE SAVEPOINT gql_mutation"
        } else {
            "ROLLBACK TO SAVEPOINT gql_mutation"
        };
        tx.execute_unprepared(end).await.map_err(internal)?;
        result
    }
}

/// The request's viewer (the only way resolvers learn who is asking).
pub fn viewer<'a>(ctx: &Context<'a>) -> &'a Viewer {
    ctx.data_unchecked::<Viewer>()
}

/// The request's transaction.
pub fn tx<'a>(ctx: &Context<'a>) -> &'a DatabaseTransaction {
    ctx.data_unchecked::<RequestTx>()
        .get()
        .expect("StartTransaction opens the transaction before any resolver runs")
}

/// The configured limits.
pub fn limits<'a>(ctx: &Context<'a>) -> &'a Limits {
    ctx.data_unchecked::<Limits>()
}

/// The signed-in user's id, or UNAUTHENTICATED.
pub fn require_user(ctx: &Context<'_>) -> ApiResult<uuid::Uuid> {
    viewer(ctx)
        .user_id
        .ok_or_else(|| ApiError::Unauthenticated("sign in first".into()))
}
