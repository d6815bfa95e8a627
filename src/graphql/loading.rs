//! Dataloader plumbing shared by the domain modules: loading through the
//! request's loader, batched reads by key, and the loaders' error type.

use crate::graphql::context::RequestTx;
use crate::graphql::error::ResultExt;
use crate::graphql::error::{ApiError, ApiResult};
use crate::graphql::pagination::{
    children_pages, nested_limit, wants_total, ApiConnection, ChildPage, SortKey,
};
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, ErrorExtensions, OutputType};
use sea_orm::{
    ColumnTrait, Condition, DatabaseTransaction, DbErr, EntityTrait, ModelTrait, QueryFilter,
};
use std::collections::HashMap;
use std::fmt::Debug;
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

/// Declares `$key(pub Uuid)`, the key of one `$entity` row by its `$column`
/// (`$field` in the model), and its `Loader` impl on `$loader` (which holds
/// the request transaction as `tx`): one statement per batch of keys, through
/// [`rows_by`].
macro_rules! row_loader {
    ($(#[$doc:meta])* $loader:ty: $key:ident => $entity:ident by $column:ident ($field:ident)) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $key(pub uuid::Uuid);

        impl async_graphql::dataloader::Loader<$key> for $loader {
            type Value = $entity::Model;
            type Error = std::sync::Arc<$crate::graphql::error::ApiError>;

            async fn load(
                &self,
                keys: &[$key],
            ) -> Result<std::collections::HashMap<$key, Self::Value>, Self::Error> {
                let tx = self.tx.get().await.map_err(std::sync::Arc::new)?;
                $crate::graphql::loading::rows_by::<$entity::Entity, _>(
                    tx,
                    $entity::Column::$column,
                    keys.iter().map(|k| k.0),
                    |m| $key(m.$field),
                )
                .await
            }
        }
    };
}
pub(crate) use row_loader;

/// A parent-to-children relation loaded as per-parent pages in a fixed
/// order, optionally narrowed by arguments (a date range, a period).
pub trait ChildRelation: Clone + Debug + PartialEq + Eq + Hash + Send + Sync + 'static {
    /// The child entity.
    type Entity: EntityTrait;
    /// Arguments narrowing the children (part of the loader key).
    type Args: Clone + Debug + PartialEq + Eq + Hash + Send + Sync + 'static;
    /// The children's column pointing at the parent.
    fn parent_column() -> <Self::Entity as EntityTrait>::Column;
    /// Sort keys under `args`, ending with a unique column.
    fn sort_keys(args: &Self::Args) -> Vec<SortKey<<Self::Entity as EntityTrait>::Column>>;
    /// The condition of `args`.
    fn filter(_args: &Self::Args) -> ApiResult<Condition> {
        Ok(Condition::all())
    }
}

/// The first `limit` children of `parent` matching `args`. Keys with the
/// same `limit`, `args` and `with_total` are loaded together in one
/// statement.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChildrenKey<R: ChildRelation> {
    /// The parent's id.
    pub parent: Uuid,
    /// Page size.
    pub limit: u64,
    /// Narrowing arguments.
    pub args: R::Args,
    /// Whether the page's total is wanted (it costs a count of all the
    /// parent's matching children).
    pub with_total: bool,
}

/// The model of relation `R`'s children.
pub type ChildModel<R> = <<R as ChildRelation>::Entity as EntityTrait>::Model;

/// `parent`'s nested connection of relation `R` (its first `first`
/// children), loaded through the request's `DataLoader<L>` together with
/// the same connection of every other parent in the response.
pub async fn nested_connection<L, R, N>(
    ctx: &Context<'_>,
    parent: Uuid,
    first: Option<i32>,
    args: R::Args,
    to_node: impl Fn(ChildModel<R>) -> N,
) -> async_graphql::Result<ApiConnection<N>>
where
    L: Loader<ChildrenKey<R>, Value = ChildPage<ChildModel<R>>, Error = Arc<ApiError>>,
    R: ChildRelation,
    N: OutputType,
    ChildModel<R>: ModelTrait<Entity = R::Entity>,
{
    let limit = nested_limit(ctx, first).gql()?;
    let keys = R::sort_keys(&args);
    let key = ChildrenKey {
        parent,
        limit,
        args,
        with_total: wants_total(ctx),
    };
    let page = load_one::<L, _>(ctx, key).await?;
    page.unwrap_or_default()
        .into_connection(&keys, to_node)
        .gql()
}

/// Implements `Loader<ChildrenKey<R>>` for every relation `R` on `$loader`
/// (which holds the request transaction as `tx`), through
/// [`load_children`].
macro_rules! children_loader {
    ($loader:ty) => {
        impl<R> async_graphql::dataloader::Loader<$crate::graphql::loading::ChildrenKey<R>>
            for $loader
        where
            R: $crate::graphql::loading::ChildRelation,
            <R::Entity as sea_orm::EntityTrait>::Column: Send + Sync,
            <R::Entity as sea_orm::EntityTrait>::Model: Sync,
        {
            type Value =
                $crate::graphql::pagination::ChildPage<$crate::graphql::loading::ChildModel<R>>;
            type Error = std::sync::Arc<$crate::graphql::error::ApiError>;

            async fn load(
                &self,
                keys: &[$crate::graphql::loading::ChildrenKey<R>],
            ) -> Result<
                std::collections::HashMap<$crate::graphql::loading::ChildrenKey<R>, Self::Value>,
                Self::Error,
            > {
                $crate::graphql::loading::load_children(&self.tx, keys).await
            }
        }
    };
}
pub(crate) use children_loader;

/// Loads a batch of [`ChildrenKey`]s through `tx`: keys with the same
/// limit, arguments and totals flag share one statement
/// (`pagination::children_pages`).
pub async fn load_children<R>(
    tx: &RequestTx,
    keys: &[ChildrenKey<R>],
) -> Result<HashMap<ChildrenKey<R>, ChildPage<ChildModel<R>>>, Arc<ApiError>>
where
    R: ChildRelation,
    <R::Entity as EntityTrait>::Column: Send + Sync,
    <R::Entity as EntityTrait>::Model: Sync,
{
    let mut groups: HashMap<(u64, &R::Args, bool), Vec<Uuid>> = HashMap::new();
    for key in keys {
        groups
            .entry((key.limit, &key.args, key.with_total))
            .or_default()
            .push(key.parent);
    }
    let tx = tx.get().await.map_err(Arc::new)?;
    let mut out = HashMap::with_capacity(keys.len());
    for ((limit, args, with_total), parents) in groups {
        let mut pages = children_pages::<R::Entity, _>(
            tx,
            R::parent_column(),
            &parents,
            &R::sort_keys(args),
            limit,
            R::filter(args).map_err(Arc::new)?,
            with_total,
        )
        .await
        .map_err(Arc::new)?;
        for parent in parents {
            // Parents without (visible) children get an empty page.
            let page = pages.remove(&parent).unwrap_or_default();
            let key = ChildrenKey {
                parent,
                limit,
                args: args.clone(),
                with_total,
            };
            out.insert(key, page);
        }
    }
    Ok(out)
}
