//! GraphQL object types of the builder domain, with their relations loaded
//! through the request's dataloader.

use crate::graphql::builder::inputs::{
    normalize, BuilderPromptOrder, BuilderPromptOrderField, BuilderResponseOrder,
    BuilderResponseOrderField, BuilderStepOrder, BuilderStepOrderField, OrderEntry, OrderField,
    Ordering,
};
use crate::graphql::builder::loaders::{
    loader, shared, BuilderLoader, PromptById, PromptsOfSession, ResponsesOfPrompt, SessionById,
    StepsOfSession,
};
use crate::graphql::error::{ApiError, ApiResult, ResultExt};
use crate::graphql::loading::{nested_connection, ChildModel, ChildRelation};
use crate::graphql::pagination::{ApiConnection, SortDirection, DEFAULT_PAGE_SIZE};
use async_graphql::{ComplexObject, Context, Json, OutputType, SimpleObject};
use chrono::{DateTime, FixedOffset, NaiveDate};
use entity::builder::{analytics, prompts, responses, sessions, steps};
use uuid::Uuid;

/// A model-builder session of one user.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct BuilderSession {
    /// The session id.
    pub id: Uuid,
    /// The owner.
    pub user_id: Uuid,
    /// What the session is about.
    pub description: Option<String>,
    /// The kind of problem.
    pub problem_type: Option<String>,
    /// `active`, `completed`, `archived`, or null.
    pub status: Option<String>,
    /// When it was created.
    pub created_at: DateTime<FixedOffset>,
    /// Last change (maintained by the database).
    pub updated_at: DateTime<FixedOffset>,
}

impl From<sessions::Model> for BuilderSession {
    fn from(m: sessions::Model) -> Self {
        Self {
            id: m.id,
            user_id: m.user_id,
            description: m.description,
            problem_type: m.problem_type,
            status: m.status,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// A prompt entered in a builder session.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct BuilderPrompt {
    /// The prompt id.
    pub id: Uuid,
    /// The session it belongs to.
    pub session_id: Uuid,
    /// The owner.
    pub user_id: Uuid,
    /// The prompt text.
    pub prompt_text: String,
    /// When it was entered.
    pub created_at: DateTime<FixedOffset>,
}

impl From<prompts::Model> for BuilderPrompt {
    fn from(m: prompts::Model) -> Self {
        Self {
            id: m.id,
            session_id: m.session_id,
            user_id: m.user_id,
            prompt_text: m.prompt_text,
            created_at: m.created_at,
        }
    }
}

/// An LLM response to a builder prompt.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct BuilderResponse {
    /// The response id.
    pub id: Uuid,
    /// The prompt answered.
    pub prompt_id: Uuid,
    /// The owner.
    pub user_id: Uuid,
    /// The response text.
    pub response_text: String,
    /// When it was recorded.
    pub created_at: DateTime<FixedOffset>,
}

impl From<responses::Model> for BuilderResponse {
    fn from(m: responses::Model) -> Self {
        Self {
            id: m.id,
            prompt_id: m.prompt_id,
            user_id: m.user_id,
            response_text: m.response_text,
            created_at: m.created_at,
        }
    }
}

/// A step or action taken in a builder session.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct BuilderStep {
    /// The step id.
    pub id: Uuid,
    /// The session it belongs to.
    pub session_id: Uuid,
    /// The owner.
    pub user_id: Uuid,
    /// The step type; `model_deploy` steps are decisions.
    pub step_type: String,
    /// Free-form data of the step.
    pub step_data: Option<Json<serde_json::Value>>,
    /// When it was recorded.
    pub created_at: DateTime<FixedOffset>,
}

impl From<steps::Model> for BuilderStep {
    fn from(m: steps::Model) -> Self {
        Self {
            id: m.id,
            session_id: m.session_id,
            user_id: m.user_id,
            step_type: m.step_type,
            step_data: m.step_data.map(Json),
            created_at: m.created_at,
        }
    }
}

/// The viewer's model-builder dashboard counters: live counts of their
/// sessions, prompts, responses and decisions (`model_deploy` steps), kept
/// by the database. A user who has not built anything yet gets zeros and a
/// null `updatedAt`.
#[derive(SimpleObject, Clone, Debug)]
pub struct BuilderAnalytics {
    /// The user counted.
    pub user_id: Uuid,
    /// Sessions.
    pub total_sessions: i32,
    /// Prompts.
    pub total_prompts: i32,
    /// Responses.
    pub total_responses: i32,
    /// Decisions (`model_deploy` steps).
    pub total_decisions: i32,
    /// When a counter last changed; null while nothing was counted yet.
    pub updated_at: Option<DateTime<FixedOffset>>,
}

impl BuilderAnalytics {
    /// The counters of a user who has no row yet.
    pub fn zeros(user_id: Uuid) -> Self {
        Self {
            user_id,
            total_sessions: 0,
            total_prompts: 0,
            total_responses: 0,
            total_decisions: 0,
            updated_at: None,
        }
    }
}

impl From<analytics::Model> for BuilderAnalytics {
    fn from(m: analytics::Model) -> Self {
        Self {
            user_id: m.user_id,
            total_sessions: m.total_sessions,
            total_prompts: m.total_prompts,
            total_responses: m.total_responses,
            total_decisions: m.total_decisions,
            updated_at: Some(m.updated_at),
        }
    }
}

/// One group of `builderStepAggregate`; fields not grouped by are null.
#[derive(SimpleObject, Clone, Debug, PartialEq)]
pub struct BuilderStepGroup {
    /// The step type (when grouped by `STEP_TYPE`).
    pub step_type: Option<String>,
    /// The UTC day of creation (when grouped by `DAY`).
    pub day: Option<NaiveDate>,
    /// The session (when grouped by `SESSION`).
    pub session_id: Option<Uuid>,
    /// Steps in the group.
    pub count: i64,
}

/// One group of `builderSessionAggregate`; fields not grouped by are null.
#[derive(SimpleObject, Clone, Debug, PartialEq)]
pub struct BuilderSessionGroup {
    /// The status (when grouped by `STATUS`; null also for sessions without one).
    pub status: Option<String>,
    /// The problem type (when grouped by `PROBLEM_TYPE`).
    pub problem_type: Option<String>,
    /// The UTC day of creation (when grouped by `DAY`).
    pub day: Option<NaiveDate>,
    /// Sessions in the group.
    pub count: i64,
}

/// `parent`'s first children of relation `R` as a connection: `first` rows
/// in `order_by` order (`default` when not given).
async fn nested<R, O, N>(
    ctx: &Context<'_>,
    parent: Uuid,
    first: Option<i32>,
    order_by: Option<Vec<O>>,
    default: (O::Field, SortDirection),
    to_node: fn(ChildModel<R>) -> N,
) -> async_graphql::Result<ApiConnection<N>>
where
    R: ChildRelation<Args = Ordering<O::Field>>,
    O: OrderEntry,
    O::Field: OrderField + std::fmt::Debug,
    <R::Entity as sea_orm::EntityTrait>::Column: Send + Sync,
    ChildModel<R>: Sync,
    N: OutputType,
{
    let order = normalize(order_by, default);
    nested_connection::<BuilderLoader, R, N>(ctx, parent, first, order, to_node).await
}

#[ComplexObject]
impl BuilderSession {
    /// The session's first prompts (oldest first unless `orderBy` says
    /// otherwise). To page further, use the root `builderPrompts` with
    /// `where: { sessionId: { eq: ... } }`.
    #[graphql(
        complexity = "first.map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn prompts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        order_by: Option<Vec<BuilderPromptOrder>>,
    ) -> async_graphql::Result<ApiConnection<BuilderPrompt>> {
        nested::<PromptsOfSession, _, _>(
            ctx,
            self.id,
            first,
            order_by,
            (BuilderPromptOrderField::CreatedAt, SortDirection::Asc),
            BuilderPrompt::from,
        )
        .await
    }

    /// The session's first steps (oldest first unless `orderBy` says
    /// otherwise). To page further, use the root `builderSteps` with
    /// `where: { sessionId: { eq: ... } }`.
    #[graphql(
        complexity = "first.map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn steps(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        order_by: Option<Vec<BuilderStepOrder>>,
    ) -> async_graphql::Result<ApiConnection<BuilderStep>> {
        nested::<StepsOfSession, _, _>(
            ctx,
            self.id,
            first,
            order_by,
            (BuilderStepOrderField::CreatedAt, SortDirection::Asc),
            BuilderStep::from,
        )
        .await
    }
}

/// The session `id` through the dataloader; it always exists for a visible
/// child (same owner, foreign key), so a miss is an error, not a null.
async fn session_of(ctx: &Context<'_>, id: Uuid) -> ApiResult<BuilderSession> {
    loader(ctx)?
        .load_one(SessionById(id))
        .await
        .map_err(shared)?
        .map(BuilderSession::from)
        .ok_or(ApiError::NotFound("session"))
}

#[ComplexObject]
impl BuilderPrompt {
    /// The session the prompt belongs to.
    async fn session(&self, ctx: &Context<'_>) -> async_graphql::Result<BuilderSession> {
        session_of(ctx, self.session_id).await.gql()
    }

    /// The prompt's first responses (oldest first unless `orderBy` says
    /// otherwise). To page further, use the root `builderResponses` with
    /// `where: { promptId: { eq: ... } }`.
    #[graphql(
        complexity = "first.map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn responses(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        order_by: Option<Vec<BuilderResponseOrder>>,
    ) -> async_graphql::Result<ApiConnection<BuilderResponse>> {
        nested::<ResponsesOfPrompt, _, _>(
            ctx,
            self.id,
            first,
            order_by,
            (BuilderResponseOrderField::CreatedAt, SortDirection::Asc),
            BuilderResponse::from,
        )
        .await
    }
}

#[ComplexObject]
impl BuilderResponse {
    /// The prompt answered.
    async fn prompt(&self, ctx: &Context<'_>) -> async_graphql::Result<BuilderPrompt> {
        async {
            loader(ctx)?
                .load_one(PromptById(self.prompt_id))
                .await
                .map_err(shared)?
                .map(BuilderPrompt::from)
                .ok_or(ApiError::NotFound("prompt"))
        }
        .await
        .gql()
    }
}

#[ComplexObject]
impl BuilderStep {
    /// The session the step belongs to.
    async fn session(&self, ctx: &Context<'_>) -> async_graphql::Result<BuilderSession> {
        session_of(ctx, self.session_id).await.gql()
    }
}
