//! Dataloader plumbing shared by the domain modules: loading through the
//! request's loader, batched reads by key, and the loaders' error type.

use crate::graphql::error::ApiError;
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, ErrorExtensions};
use sea_orm::{ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;
use uuid::Uuid;

/// A database error as a loader error (loader errors must be `Clone`).
pub fn load_error(err: DbErr) -> Arc<ApiError> {
    Arc::new(ApiError::from(err))
}

/// Loads `key` through the request's `DataLoader<L>` (registered per request
/// by the domain's `register_loaders`).
pub async fn load_one<L, K>(ctx: &Context<'_>, key: K) -> async_graphql::Result<Option<L::Value>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    L: Loader<K, Error = Arc<ApiError>>,
{
    let loader = ctx.data::<DataLoader<L>>().map_err(|_| {
        ApiError::Internal(format!(
            "dataloader {} not registered",
            std::any::type_name::<L>()
        ))
        .extend()
    })?;
    loader.load_one(key).await.map_err(|e| e.as_ref().extend())
}

/// Rows of `E` whose `column` is one of `ids`, keyed by `key`: one statement
/// for the whole batch.
pub async fn rows_by<E, K>(
    tx: &DatabaseTransaction,
    column: E::Column,
    ids: impl Iterator<Item = Uuid>,
    key: impl Fn(&E::Model) -> K,
) -> Result<HashMap<K, E::Model>, Arc<ApiError>>
where
    E: EntityTrait,
    E::Column: Send + Sync,
    E::Model: Sync,
    K: Hash + Eq,
{
    let ids: Vec<Uuid> = ids.collect();
    let rows = E::find()
        .filter(column.is_in(ids))
        .all(tx)
        .await
        .map_err(load_error)?;
    Ok(rows.into_iter().map(|m| (key(&m), m)).collect())
}
