//! Dataloaders of the lift domain: rows by id and per-parent child pages, one
//! statement per key type and distinct page arguments, whatever the number of
//! parents. They read through the request's transaction, so RLS applies.

use super::inputs::{
    draft_sort_keys, resolution_sort_keys, revision_sort_keys, LiftDraftOrderField,
    LiftHoleResolutionOrderField, LiftRevisionOrderField,
};
use crate::graphql::context::RequestTx;
use crate::graphql::error::ApiError;
use crate::graphql::loading::children_loader;
use crate::graphql::loading::row_loader;
pub use crate::graphql::loading::{ChildRelation, ChildrenKey};
use crate::graphql::pagination::{SortDirection, SortKey};
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, Request};
use entity::lift::{
    draft_validation_stats, hole_resolutions, recent_activity, session_drafts, session_revisions,
    session_summary, sessions,
};
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

/// Every lift loader of one request, over its transaction.
pub struct LiftLoader {
    tx: RequestTx,
}

/// The lift dataloader as stored in the request data.
pub type LiftDataLoader = DataLoader<LiftLoader>;

/// Adds the lift dataloader over `tx` to `request`.
pub fn register_loaders(request: Request, tx: &RequestTx) -> Request {
    request.data(DataLoader::new(LiftLoader { tx: tx.clone() }, tokio::spawn))
}

/// Loads `key` through the request's lift dataloader.
pub async fn load_one<K>(
    ctx: &Context<'_>,
    key: K,
) -> async_graphql::Result<Option<<LiftLoader as Loader<K>>::Value>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    LiftLoader: Loader<K, Error = Arc<ApiError>>,
{
    crate::graphql::loading::load_one::<LiftLoader, K>(ctx, key).await
}

row_loader!(
    /// A session by id.
    LiftLoader: SessionById => sessions by Id(id)
);

row_loader!(
    /// A revision by id.
    LiftLoader: RevisionById => session_revisions by Id(id)
);

row_loader!(
    /// The `session_summary` row of a session.
    LiftLoader: SummaryOf => session_summary by Id(id)
);

row_loader!(
    /// The `draft_validation_stats` row of a session.
    LiftLoader: StatsOf => draft_validation_stats by SessionId(session_id)
);

children_loader!(LiftLoader);

/// A session's IR revisions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RevisionsOfSession;

impl ChildRelation for RevisionsOfSession {
    type Entity = session_revisions::Entity;
    type Args = Vec<(LiftRevisionOrderField, SortDirection)>;
    fn parent_column() -> session_revisions::Column {
        session_revisions::Column::SessionId
    }
    fn sort_keys(order: &Self::Args) -> Vec<SortKey<session_revisions::Column>> {
        revision_sort_keys(order)
    }
}

/// A session's code drafts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DraftsOfSession;

impl ChildRelation for DraftsOfSession {
    type Entity = session_drafts::Entity;
    type Args = Vec<(LiftDraftOrderField, SortDirection)>;
    fn parent_column() -> session_drafts::Column {
        session_drafts::Column::SessionId
    }
    fn sort_keys(order: &Self::Args) -> Vec<SortKey<session_drafts::Column>> {
        draft_sort_keys(order)
    }
}

/// The drafts generated from a revision.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DraftsOfRevision;

impl ChildRelation for DraftsOfRevision {
    type Entity = session_drafts::Entity;
    type Args = Vec<(LiftDraftOrderField, SortDirection)>;
    fn parent_column() -> session_drafts::Column {
        session_drafts::Column::IrRevisionId
    }
    fn sort_keys(order: &Self::Args) -> Vec<SortKey<session_drafts::Column>> {
        draft_sort_keys(order)
    }
}

/// A session's hole resolutions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResolutionsOfSession;

impl ChildRelation for ResolutionsOfSession {
    type Entity = hole_resolutions::Entity;
    type Args = Vec<(LiftHoleResolutionOrderField, SortDirection)>;
    fn parent_column() -> hole_resolutions::Column {
        hole_resolutions::Column::SessionId
    }
    fn sort_keys(order: &Self::Args) -> Vec<SortKey<hole_resolutions::Column>> {
        resolution_sort_keys(order)
    }
}

/// A session's activity timeline (fixed order: newest first).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ActivityOfSession;

impl ChildRelation for ActivityOfSession {
    type Entity = recent_activity::Entity;
    type Args = Vec<((), SortDirection)>;
    fn parent_column() -> recent_activity::Column {
        recent_activity::Column::SessionId
    }
    fn sort_keys(_: &Self::Args) -> Vec<SortKey<recent_activity::Column>> {
        activity_sort_keys()
    }
}

/// Newest first; (`event_type`, `event_id`) is the view's key.
pub fn activity_sort_keys() -> Vec<SortKey<recent_activity::Column>> {
    use recent_activity::Column as C;
    vec![
        (C::EventTime, SortDirection::Desc),
        (C::EventType, SortDirection::Desc),
        (C::EventId, SortDirection::Desc),
    ]
}
