//! Dataloaders of the builder domain: parents by id (a prompt's session, a
//! response's prompt) and nested pages of children cut per parent in SQL, so
//! a nested query costs one statement per relation and level.

use crate::graphql::builder::inputs::{
    sort_keys, BuilderPromptOrderField, BuilderResponseOrderField, BuilderStepOrderField,
    OrderField, Ordering,
};
use crate::graphql::context::RequestTx;
use crate::graphql::error::{ApiError, ApiResult};
use crate::graphql::loading::row_loader;
use crate::graphql::pagination::{children_pages, ChildPage};
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::Context;
use entity::builder::{prompts, responses, sessions, steps};
use sea_orm::{Condition, DatabaseTransaction, EntityTrait, FromQueryResult};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;
use uuid::Uuid;

/// Loads builder rows through the request's transaction (so RLS applies).
pub struct BuilderLoader {
    tx: RequestTx,
}

/// The request's builder dataloader.
pub type BuilderDataLoader = DataLoader<BuilderLoader>;

/// Adds the builder dataloader to `request`.
pub fn register_loaders(request: async_graphql::Request, tx: &RequestTx) -> async_graphql::Request {
    request.data(DataLoader::new(
        BuilderLoader { tx: tx.clone() },
        tokio::spawn,
    ))
}

/// The request's builder dataloader, from a resolver.
pub fn loader<'a>(ctx: &Context<'a>) -> ApiResult<&'a BuilderDataLoader> {
    ctx.data::<BuilderDataLoader>()
        .map_err(|_| ApiError::Internal("builder loaders are not registered".into()))
}

/// Turns a loader's shared error back into an API error.
pub fn shared(err: Arc<ApiError>) -> ApiError {
    match err.as_ref() {
        ApiError::Unauthenticated(m) => ApiError::Unauthenticated(m.clone()),
        ApiError::Forbidden(m) => ApiError::Forbidden(m.clone()),
        ApiError::NotFound(what) => ApiError::NotFound(what),
        ApiError::BadUserInput { message, field } => ApiError::BadUserInput {
            message: message.clone(),
            field: field.clone(),
        },
        ApiError::Conflict(m) => ApiError::Conflict(m.clone()),
        ApiError::RateLimited => ApiError::RateLimited,
        ApiError::Internal(m) => ApiError::Internal(m.clone()),
    }
}

/// The page arguments of a nested connection: keys with equal arguments are
/// loaded in one statement, distinct arguments in one statement each.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChildArgs<F> {
    /// Rows per parent.
    pub limit: u64,
    /// Normalised ordering (ends with the id).
    pub order: Ordering<F>,
}

/// One page of a parent's children.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChildrenOf<F> {
    /// The parent's id.
    pub parent: Uuid,
    /// The page wanted.
    pub args: ChildArgs<F>,
}

/// A session's prompts.
pub type PromptsOfSession = ChildrenOf<BuilderPromptOrderField>;
/// A session's steps.
pub type StepsOfSession = ChildrenOf<BuilderStepOrderField>;
/// A prompt's responses.
pub type ResponsesOfPrompt = ChildrenOf<BuilderResponseOrderField>;

/// The pages of `keys`, one `children_pages` statement per distinct args.
async fn pages<E, F>(
    db: &DatabaseTransaction,
    parent_column: E::Column,
    keys: &[ChildrenOf<F>],
) -> ApiResult<HashMap<ChildrenOf<F>, ChildPage<E::Model>>>
where
    E: EntityTrait,
    E::Model: FromQueryResult + Clone,
    F: OrderField<Column = E::Column> + Eq + Hash + Clone,
{
    let mut groups: HashMap<&ChildArgs<F>, Vec<Uuid>> = HashMap::new();
    for key in keys {
        groups.entry(&key.args).or_default().push(key.parent);
    }
    let mut out = HashMap::with_capacity(keys.len());
    for (args, parents) in groups {
        let keys = sort_keys(&args.order);
        let mut found = children_pages::<E, _>(
            db,
            parent_column,
            &parents,
            &keys,
            args.limit,
            Condition::all(),
        )
        .await?;
        for parent in parents {
            // Parents without children get an empty page, not a miss.
            let page = found.remove(&parent).unwrap_or_default();
            out.insert(
                ChildrenOf {
                    parent,
                    args: args.clone(),
                },
                page,
            );
        }
    }
    Ok(out)
}

row_loader!(
    /// A session by id.
    BuilderLoader: SessionById => sessions by Id(id)
);

row_loader!(
    /// A prompt by id.
    BuilderLoader: PromptById => prompts by Id(id)
);

impl Loader<PromptsOfSession> for BuilderLoader {
    type Value = ChildPage<prompts::Model>;
    type Error = Arc<ApiError>;

    async fn load(
        &self,
        keys: &[PromptsOfSession],
    ) -> Result<HashMap<PromptsOfSession, Self::Value>, Self::Error> {
        let db = self.tx.get().await.map_err(Arc::new)?;
        pages::<prompts::Entity, _>(db, prompts::Column::SessionId, keys)
            .await
            .map_err(Arc::new)
    }
}

impl Loader<StepsOfSession> for BuilderLoader {
    type Value = ChildPage<steps::Model>;
    type Error = Arc<ApiError>;

    async fn load(
        &self,
        keys: &[StepsOfSession],
    ) -> Result<HashMap<StepsOfSession, Self::Value>, Self::Error> {
        let db = self.tx.get().await.map_err(Arc::new)?;
        pages::<steps::Entity, _>(db, steps::Column::SessionId, keys)
            .await
            .map_err(Arc::new)
    }
}

impl Loader<ResponsesOfPrompt> for BuilderLoader {
    type Value = ChildPage<responses::Model>;
    type Error = Arc<ApiError>;

    async fn load(
        &self,
        keys: &[ResponsesOfPrompt],
    ) -> Result<HashMap<ResponsesOfPrompt, Self::Value>, Self::Error> {
        let db = self.tx.get().await.map_err(Arc::new)?;
        pages::<responses::Entity, _>(db, responses::Column::PromptId, keys)
            .await
            .map_err(Arc::new)
    }
}
