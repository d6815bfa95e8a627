//! Dataloaders of the builder domain: parents by id (a prompt's session, a
//! response's prompt) and nested pages of children cut per parent in SQL, so
//! a nested query costs one statement per relation and level.

use crate::graphql::builder::inputs::{
    sort_keys, BuilderPromptOrderField, BuilderResponseOrderField, BuilderStepOrderField, Ordering,
};
use crate::graphql::context::RequestTx;
use crate::graphql::error::{ApiError, ApiResult};
use crate::graphql::loading::{children_loader, row_loader, ChildRelation};
use crate::graphql::pagination::SortKey;
use async_graphql::dataloader::DataLoader;
use async_graphql::Context;
use entity::builder::{prompts, responses, sessions, steps};
use std::sync::Arc;

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
        ApiError::NotRun => ApiError::NotRun,
        ApiError::ServiceUnavailable(m) => ApiError::ServiceUnavailable(m.clone()),
        ApiError::Internal(m) => ApiError::Internal(m.clone()),
    }
}

row_loader!(
    /// A session by id.
    BuilderLoader: SessionById => sessions by Id(id)
);

row_loader!(
    /// A prompt by id.
    BuilderLoader: PromptById => prompts by Id(id)
);

children_loader!(BuilderLoader);

/// Declares a builder child relation ordered by the client's `orderBy`.
macro_rules! ordered_relation {
    ($(#[$doc:meta])* $name:ident: $entity:ident by $parent:ident, $field:ty) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub struct $name;

        impl ChildRelation for $name {
            type Entity = $entity::Entity;
            type Args = Ordering<$field>;
            fn parent_column() -> $entity::Column {
                $entity::Column::$parent
            }
            fn sort_keys(order: &Self::Args) -> Vec<SortKey<$entity::Column>> {
                sort_keys(order)
            }
        }
    };
}

ordered_relation!(
    /// A session's prompts.
    PromptsOfSession: prompts by SessionId, BuilderPromptOrderField
);
ordered_relation!(
    /// A session's steps.
    StepsOfSession: steps by SessionId, BuilderStepOrderField
);
ordered_relation!(
    /// A prompt's responses.
    ResponsesOfPrompt: responses by PromptId, BuilderResponseOrderField
);
