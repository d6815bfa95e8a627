//! The lift domain (seed 001, code lifting): sessions, IR revisions, code
//! drafts and hole resolutions as connections with filters and orderings,
//! the reporting views, aggregates for dashboards, and the writes.

pub mod inputs;
pub mod loaders;
pub mod service;
pub mod subscription;
pub mod types;

pub use loaders::register_loaders;
pub use subscription::LiftSubscription;

use crate::graphql::context::require_signed_in;
use crate::graphql::context::{require_user, tx, viewer};
use crate::graphql::error::ResultExt;
use crate::graphql::pagination::{root_page, wants_total};
use crate::graphql::pagination::{ApiConnection, ConnectionTotal, DEFAULT_PAGE_SIZE};
use async_graphql::connection::Connection;
use async_graphql::{Context, Object};
use inputs::{
    normalize_order, AddLiftDraftInput, AddLiftRevisionInput, CreateLiftSessionInput,
    DeleteLiftSessionInput, FinalizeLiftSessionInput, LiftDraftGroupBy, LiftDraftOrder,
    LiftDraftWhere, LiftHoleResolutionOrder, LiftHoleResolutionWhere, LiftRevisionOrder,
    LiftRevisionWhere, LiftSessionGroupBy, LiftSessionOrder, LiftSessionWhere,
    ResolveLiftHoleInput, UpdateLiftSessionInput, DRAFT_DEFAULT_ORDER, RESOLUTION_DEFAULT_ORDER,
    REVISION_DEFAULT_ORDER, SESSION_DEFAULT_ORDER,
};
use types::{
    AddLiftDraftPayload, AddLiftRevisionPayload, CreateLiftSessionPayload,
    DeleteLiftSessionPayload, FinalizeLiftSessionPayload, LiftActivityEvent, LiftDraft,
    LiftDraftAggregateRow, LiftHoleResolution, LiftRevision, LiftSession, LiftSessionAggregateRow,
    LiftUserAnalytics, ResolveLiftHolePayload, UpdateLiftSessionPayload,
};
use uuid::Uuid;

/// Root queries of the lift domain.
#[derive(Default)]
pub struct LiftQuery;

#[Object]
impl LiftQuery {
    /// The viewer's lift sessions (default: newest first).
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "first.or(last).map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn lift_sessions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(name = "where")] filter: Option<LiftSessionWhere>,
        order_by: Option<Vec<LiftSessionOrder>>,
    ) -> async_graphql::Result<ApiConnection<LiftSession>> {
        require_signed_in(ctx).gql()?;
        let page = root_page(ctx, first, after, last, before).gql()?;
        let order = normalize_order(order_by, SESSION_DEFAULT_ORDER);
        service::list_sessions(
            tx(ctx).await.gql()?,
            filter,
            &order,
            &page,
            wants_total(ctx),
        )
        .await
        .gql()
    }

    /// One lift session by id; null when it does not exist or is not the
    /// viewer's.
    async fn lift_session(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<Option<LiftSession>> {
        require_signed_in(ctx).gql()?;
        service::get_session(tx(ctx).await.gql()?, id).await.gql()
    }

    /// IR revisions of the viewer's sessions (default: by revision number).
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "first.or(last).map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn lift_revisions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(name = "where")] filter: Option<LiftRevisionWhere>,
        order_by: Option<Vec<LiftRevisionOrder>>,
    ) -> async_graphql::Result<ApiConnection<LiftRevision>> {
        require_signed_in(ctx).gql()?;
        let page = root_page(ctx, first, after, last, before).gql()?;
        let order = normalize_order(order_by, REVISION_DEFAULT_ORDER);
        service::list_revisions(
            tx(ctx).await.gql()?,
            filter,
            &order,
            &page,
            wants_total(ctx),
        )
        .await
        .gql()
    }

    /// Code drafts of the viewer's sessions (default: by draft number).
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "first.or(last).map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn lift_drafts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(name = "where")] filter: Option<LiftDraftWhere>,
        order_by: Option<Vec<LiftDraftOrder>>,
    ) -> async_graphql::Result<ApiConnection<LiftDraft>> {
        require_signed_in(ctx).gql()?;
        let page = root_page(ctx, first, after, last, before).gql()?;
        let order = normalize_order(order_by, DRAFT_DEFAULT_ORDER);
        service::list_drafts(
            tx(ctx).await.gql()?,
            filter,
            &order,
            &page,
            wants_total(ctx),
        )
        .await
        .gql()
    }

    /// Hole resolutions of the viewer's sessions (default: oldest first).
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "first.or(last).map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn lift_hole_resolutions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(name = "where")] filter: Option<LiftHoleResolutionWhere>,
        order_by: Option<Vec<LiftHoleResolutionOrder>>,
    ) -> async_graphql::Result<ApiConnection<LiftHoleResolution>> {
        require_signed_in(ctx).gql()?;
        let page = root_page(ctx, first, after, last, before).gql()?;
        let order = normalize_order(order_by, RESOLUTION_DEFAULT_ORDER);
        service::list_resolutions(
            tx(ctx).await.gql()?,
            filter,
            &order,
            &page,
            wants_total(ctx),
        )
        .await
        .gql()
    }

    /// Session counts of the viewer's sessions matching `where`, per
    /// `groupBy` keys (one row without keys).
    async fn lift_session_aggregate(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "where")] filter: Option<LiftSessionWhere>,
        #[graphql(default)] group_by: Vec<LiftSessionGroupBy>,
    ) -> async_graphql::Result<Vec<LiftSessionAggregateRow>> {
        require_signed_in(ctx).gql()?;
        service::session_aggregate(tx(ctx).await.gql()?, filter, &group_by)
            .await
            .gql()
    }

    /// Draft counts, generation time, cost and tokens of the viewer's drafts
    /// matching `where`, per `groupBy` keys (one row without keys).
    async fn lift_draft_aggregate(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "where")] filter: Option<LiftDraftWhere>,
        #[graphql(default)] group_by: Vec<LiftDraftGroupBy>,
    ) -> async_graphql::Result<Vec<LiftDraftAggregateRow>> {
        require_signed_in(ctx).gql()?;
        service::draft_aggregate(tx(ctx).await.gql()?, filter, &group_by)
            .await
            .gql()
    }
}

/// Lift fields of `viewer`.
#[derive(Default)]
pub struct LiftViewerFields;

#[Object]
impl LiftViewerFields {
    /// The viewer's lift usage totals; null for anon and before the first
    /// session.
    async fn lift_user_analytics(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<LiftUserAnalytics>> {
        let Some(user) = viewer(ctx).user_id else {
            return Ok(None);
        };
        service::user_analytics(tx(ctx).await.gql()?, user)
            .await
            .gql()
    }

    /// The viewer's lift activity (sessions, revisions, drafts, resolutions),
    /// newest first; empty for anon.
    #[graphql(
        complexity = "first.or(last).map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn lift_recent_activity(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<ApiConnection<LiftActivityEvent>> {
        let page = root_page(ctx, first, after, last, before).gql()?;
        let Some(user) = viewer(ctx).user_id else {
            return Ok(Connection::with_additional_fields(
                false,
                false,
                ConnectionTotal::default(),
            ));
        };
        service::user_activity(tx(ctx).await.gql()?, user, &page, wants_total(ctx))
            .await
            .gql()
    }
}

/// Mutations of the lift domain. Each runs in the request's transaction.
#[derive(Default)]
pub struct LiftMutation;

#[Object]
impl LiftMutation {
    /// Starts a lift session from a prompt or from code.
    async fn create_lift_session(
        &self,
        ctx: &Context<'_>,
        input: CreateLiftSessionInput,
    ) -> async_graphql::Result<CreateLiftSessionPayload> {
        let user = require_user(ctx).gql()?;
        let session = service::create_session(tx(ctx).await.gql()?, user, input)
            .await
            .gql()?;
        Ok(CreateLiftSessionPayload { session })
    }

    /// Changes a session's status, current IR, current code or metadata.
    async fn update_lift_session(
        &self,
        ctx: &Context<'_>,
        input: UpdateLiftSessionInput,
    ) -> async_graphql::Result<UpdateLiftSessionPayload> {
        require_signed_in(ctx).gql()?;
        let session = service::update_session(tx(ctx).await.gql()?, input)
            .await
            .gql()?;
        Ok(UpdateLiftSessionPayload { session })
    }

    /// Finalizes a session (sets `finalizedAt`; finalizing again keeps it).
    async fn finalize_lift_session(
        &self,
        ctx: &Context<'_>,
        input: FinalizeLiftSessionInput,
    ) -> async_graphql::Result<FinalizeLiftSessionPayload> {
        require_signed_in(ctx).gql()?;
        let session = service::finalize_session(tx(ctx).await.gql()?, input.id)
            .await
            .gql()?;
        Ok(FinalizeLiftSessionPayload { session })
    }

    /// Deletes a session with its revisions, drafts and hole resolutions.
    async fn delete_lift_session(
        &self,
        ctx: &Context<'_>,
        input: DeleteLiftSessionInput,
    ) -> async_graphql::Result<DeleteLiftSessionPayload> {
        require_signed_in(ctx).gql()?;
        let deleted_id = service::delete_session(tx(ctx).await.gql()?, input.id)
            .await
            .gql()?;
        Ok(DeleteLiftSessionPayload { deleted_id })
    }

    /// Adds the next IR revision of a session (numbered by the database).
    async fn add_lift_revision(
        &self,
        ctx: &Context<'_>,
        input: AddLiftRevisionInput,
    ) -> async_graphql::Result<AddLiftRevisionPayload> {
        require_signed_in(ctx).gql()?;
        let revision = service::add_revision(tx(ctx).await.gql()?, input)
            .await
            .gql()?;
        Ok(AddLiftRevisionPayload { revision })
    }

    /// Adds the next code draft of a session (numbered by the database).
    async fn add_lift_draft(
        &self,
        ctx: &Context<'_>,
        input: AddLiftDraftInput,
    ) -> async_graphql::Result<AddLiftDraftPayload> {
        require_signed_in(ctx).gql()?;
        let draft = service::add_draft(tx(ctx).await.gql()?, input)
            .await
            .gql()?;
        Ok(AddLiftDraftPayload { draft })
    }

    /// Records how a typed hole was resolved (once per hole and revision).
    async fn resolve_lift_hole(
        &self,
        ctx: &Context<'_>,
        input: ResolveLiftHoleInput,
    ) -> async_graphql::Result<ResolveLiftHolePayload> {
        require_signed_in(ctx).gql()?;
        let hole_resolution = service::resolve_hole(tx(ctx).await.gql()?, input)
            .await
            .gql()?;
        Ok(ResolveLiftHolePayload { hole_resolution })
    }
}
