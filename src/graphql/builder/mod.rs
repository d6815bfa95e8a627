//! The model-builder domain (seed 000): sessions, their prompts, responses
//! and steps, the viewer's dashboard counters, aggregates and mutations.

pub mod inputs;
pub mod loaders;
pub mod service;
pub mod types;

use crate::graphql::context::require_signed_in;
use crate::graphql::context::{require_user, tx, viewer};
use crate::graphql::error::{ApiError, ResultExt};
use crate::graphql::pagination::{root_page, wants_total};
use crate::graphql::pagination::{ApiConnection, SortDirection, DEFAULT_PAGE_SIZE};
use async_graphql::{Context, Object, SimpleObject};
use inputs::{
    normalize, sort_keys, where_condition, AddBuilderPromptInput, AddBuilderResponseInput,
    BuilderPromptOrder, BuilderPromptOrderField, BuilderPromptWhere, BuilderResponseOrder,
    BuilderResponseOrderField, BuilderResponseWhere, BuilderSessionGroupBy, BuilderSessionOrder,
    BuilderSessionOrderField, BuilderSessionWhere, BuilderStepGroupBy, BuilderStepOrder,
    BuilderStepOrderField, BuilderStepWhere, CreateBuilderSessionInput, DeleteBuilderSessionInput,
    RecordBuilderStepInput, UpdateBuilderSessionInput,
};
pub use loaders::register_loaders;
pub use service::seed_demo;
use types::{
    BuilderAnalytics, BuilderPrompt, BuilderResponse, BuilderSession, BuilderSessionGroup,
    BuilderStep, BuilderStepGroup,
};
use uuid::Uuid;

/// Root fields of the builder domain.
#[derive(Default)]
pub struct BuilderQuery;

#[Object]
impl BuilderQuery {
    /// The viewer's builder sessions (newest first unless `orderBy` says
    /// otherwise).
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "first.or(last).map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn builder_sessions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(name = "where")] filter: Option<BuilderSessionWhere>,
        order_by: Option<Vec<BuilderSessionOrder>>,
    ) -> async_graphql::Result<ApiConnection<BuilderSession>> {
        async {
            require_signed_in(ctx)?;
            let page = root_page(ctx, first, after, last, before)?;
            let condition = where_condition(filter.as_ref(), BuilderSessionWhere::condition)?;
            let order = normalize(
                order_by,
                (BuilderSessionOrderField::CreatedAt, SortDirection::Desc),
            );
            let keys = sort_keys(&order);
            service::sessions_page(tx(ctx).await?, condition, &keys, &page, wants_total(ctx)).await
        }
        .await
        .gql()
    }

    /// One builder session; null when it does not exist or is not the
    /// viewer's.
    async fn builder_session(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<Option<BuilderSession>> {
        async {
            require_signed_in(ctx)?;
            service::session(tx(ctx).await?, id).await
        }
        .await
        .gql()
    }

    /// The viewer's builder prompts over all sessions (newest first unless
    /// `orderBy` says otherwise).
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "first.or(last).map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn builder_prompts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(name = "where")] filter: Option<BuilderPromptWhere>,
        order_by: Option<Vec<BuilderPromptOrder>>,
    ) -> async_graphql::Result<ApiConnection<BuilderPrompt>> {
        async {
            require_signed_in(ctx)?;
            let page = root_page(ctx, first, after, last, before)?;
            let condition = where_condition(filter.as_ref(), BuilderPromptWhere::condition)?;
            let order = normalize(
                order_by,
                (BuilderPromptOrderField::CreatedAt, SortDirection::Desc),
            );
            let keys = sort_keys(&order);
            service::prompts_page(tx(ctx).await?, condition, &keys, &page, wants_total(ctx)).await
        }
        .await
        .gql()
    }

    /// The viewer's builder responses over all prompts (newest first unless
    /// `orderBy` says otherwise).
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "first.or(last).map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn builder_responses(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(name = "where")] filter: Option<BuilderResponseWhere>,
        order_by: Option<Vec<BuilderResponseOrder>>,
    ) -> async_graphql::Result<ApiConnection<BuilderResponse>> {
        async {
            require_signed_in(ctx)?;
            let page = root_page(ctx, first, after, last, before)?;
            let condition = where_condition(filter.as_ref(), BuilderResponseWhere::condition)?;
            let order = normalize(
                order_by,
                (BuilderResponseOrderField::CreatedAt, SortDirection::Desc),
            );
            let keys = sort_keys(&order);
            service::responses_page(tx(ctx).await?, condition, &keys, &page, wants_total(ctx)).await
        }
        .await
        .gql()
    }

    /// The viewer's builder steps over all sessions (newest first unless
    /// `orderBy` says otherwise).
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "first.or(last).map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn builder_steps(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(name = "where")] filter: Option<BuilderStepWhere>,
        order_by: Option<Vec<BuilderStepOrder>>,
    ) -> async_graphql::Result<ApiConnection<BuilderStep>> {
        async {
            require_signed_in(ctx)?;
            let page = root_page(ctx, first, after, last, before)?;
            let condition = where_condition(filter.as_ref(), BuilderStepWhere::condition)?;
            let order = normalize(
                order_by,
                (BuilderStepOrderField::CreatedAt, SortDirection::Desc),
            );
            let keys = sort_keys(&order);
            service::steps_page(tx(ctx).await?, condition, &keys, &page, wants_total(ctx)).await
        }
        .await
        .gql()
    }

    /// Counts of the viewer's steps matching `where`, grouped by any of step
    /// type, UTC day and session (one total row without `groupBy`).
    async fn builder_step_aggregate(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "where")] filter: Option<BuilderStepWhere>,
        group_by: Option<Vec<BuilderStepGroupBy>>,
    ) -> async_graphql::Result<Vec<BuilderStepGroup>> {
        async {
            require_signed_in(ctx)?;
            let condition = where_condition(filter.as_ref(), BuilderStepWhere::condition)?;
            service::step_aggregate(tx(ctx).await?, condition, &group_by.unwrap_or_default()).await
        }
        .await
        .gql()
    }

    /// Counts of the viewer's sessions matching `where`, grouped by any of
    /// status, problem type and UTC day (one total row without `groupBy`).
    async fn builder_session_aggregate(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "where")] filter: Option<BuilderSessionWhere>,
        group_by: Option<Vec<BuilderSessionGroupBy>>,
    ) -> async_graphql::Result<Vec<BuilderSessionGroup>> {
        async {
            require_signed_in(ctx)?;
            let condition = where_condition(filter.as_ref(), BuilderSessionWhere::condition)?;
            service::session_aggregate(tx(ctx).await?, condition, &group_by.unwrap_or_default())
                .await
        }
        .await
        .gql()
    }
}

/// Builder fields of `viewer`.
#[derive(Default)]
pub struct BuilderViewerFields;

#[Object]
impl BuilderViewerFields {
    /// The viewer's model-builder dashboard counters; null for anon (and for
    /// service tokens without a user), zeros for a user who has built
    /// nothing yet.
    async fn builder_analytics(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<BuilderAnalytics>> {
        let Some(user) = viewer(ctx).user_id else {
            return Ok(None);
        };
        service::analytics(tx(ctx).await?, user)
            .await
            .map(Some)
            .gql()
    }
}

/// The result of `createBuilderSession`.
#[derive(SimpleObject)]
pub struct CreateBuilderSessionPayload {
    /// The new session.
    pub session: BuilderSession,
}

/// The result of `updateBuilderSession`.
#[derive(SimpleObject)]
pub struct UpdateBuilderSessionPayload {
    /// The changed session.
    pub session: BuilderSession,
}

/// The result of `deleteBuilderSession`.
#[derive(SimpleObject)]
pub struct DeleteBuilderSessionPayload {
    /// The id of the deleted session.
    pub deleted_id: Uuid,
}

/// The result of `addBuilderPrompt`.
#[derive(SimpleObject)]
pub struct AddBuilderPromptPayload {
    /// The new prompt.
    pub prompt: BuilderPrompt,
}

/// The result of `addBuilderResponse`.
#[derive(SimpleObject)]
pub struct AddBuilderResponsePayload {
    /// The new response.
    pub response: BuilderResponse,
}

/// The result of `recordBuilderStep`.
#[derive(SimpleObject)]
pub struct RecordBuilderStepPayload {
    /// The new step.
    pub step: BuilderStep,
    /// The viewer's counters after the step (a `model_deploy` step adds a
    /// decision).
    pub analytics: BuilderAnalytics,
}

/// Mutations of the builder domain; each runs in the request's transaction.
#[derive(Default)]
pub struct BuilderMutation;

#[Object]
impl BuilderMutation {
    /// Starts a builder session for the viewer.
    async fn create_builder_session(
        &self,
        ctx: &Context<'_>,
        input: CreateBuilderSessionInput,
    ) -> async_graphql::Result<CreateBuilderSessionPayload> {
        async {
            let user = require_user(ctx)?;
            let session = service::create_session(tx(ctx).await?, user, input).await?;
            Ok::<_, ApiError>(CreateBuilderSessionPayload { session })
        }
        .await
        .gql()
    }

    /// Changes the description, problem type or status of one of the
    /// viewer's sessions.
    async fn update_builder_session(
        &self,
        ctx: &Context<'_>,
        input: UpdateBuilderSessionInput,
    ) -> async_graphql::Result<UpdateBuilderSessionPayload> {
        async {
            require_user(ctx)?;
            let session = service::update_session(tx(ctx).await?, input).await?;
            Ok::<_, ApiError>(UpdateBuilderSessionPayload { session })
        }
        .await
        .gql()
    }

    /// Deletes one of the viewer's sessions with its prompts, responses and
    /// steps.
    async fn delete_builder_session(
        &self,
        ctx: &Context<'_>,
        input: DeleteBuilderSessionInput,
    ) -> async_graphql::Result<DeleteBuilderSessionPayload> {
        async {
            require_user(ctx)?;
            let deleted_id = service::delete_session(tx(ctx).await?, input.id).await?;
            Ok::<_, ApiError>(DeleteBuilderSessionPayload { deleted_id })
        }
        .await
        .gql()
    }

    /// Adds a prompt to one of the viewer's sessions.
    async fn add_builder_prompt(
        &self,
        ctx: &Context<'_>,
        input: AddBuilderPromptInput,
    ) -> async_graphql::Result<AddBuilderPromptPayload> {
        async {
            require_user(ctx)?;
            let prompt = service::add_prompt(tx(ctx).await?, input).await?;
            Ok::<_, ApiError>(AddBuilderPromptPayload { prompt })
        }
        .await
        .gql()
    }

    /// Adds a response to one of the viewer's prompts.
    async fn add_builder_response(
        &self,
        ctx: &Context<'_>,
        input: AddBuilderResponseInput,
    ) -> async_graphql::Result<AddBuilderResponsePayload> {
        async {
            require_user(ctx)?;
            let response = service::add_response(tx(ctx).await?, input).await?;
            Ok::<_, ApiError>(AddBuilderResponsePayload { response })
        }
        .await
        .gql()
    }

    /// Records a step in one of the viewer's sessions; a `model_deploy` step
    /// counts as a decision.
    async fn record_builder_step(
        &self,
        ctx: &Context<'_>,
        input: RecordBuilderStepInput,
    ) -> async_graphql::Result<RecordBuilderStepPayload> {
        async {
            let user = require_user(ctx)?;
            let step = service::record_step(tx(ctx).await?, input).await?;
            let analytics = service::analytics(tx(ctx).await?, user).await?;
            Ok::<_, ApiError>(RecordBuilderStepPayload { step, analytics })
        }
        .await
        .gql()
    }
}
