//! The workspace analytics domain (seed 002): the viewer's workspaces with
//! members, agents and runs, the rollups, cohorts, alerts and the member
//! views of the materialized views, aggregates over runs and activity, the
//! members' writes and the service-role maintenance operations. Isolation is
//! the database's (workspace membership RLS); this layer adds input checks
//! and refuses service-only operations before any SQL.

pub mod inputs;
pub mod loaders;
pub mod service;
pub mod subscription;
pub mod types;

pub use loaders::register_loaders;
pub use subscription::AnalyticsSubscription;

use crate::graphql::context::require_signed_in;
use crate::graphql::context::{require_user, tx, viewer};
use crate::graphql::error::{ApiError, ApiResult, ResultExt};
use crate::graphql::pagination::{root_page, wants_total};
use crate::graphql::pagination::{ApiConnection, ConnectionTotal, DEFAULT_PAGE_SIZE};
use async_graphql::connection::Connection;
use async_graphql::{Context, Object};
use inputs::{
    AcknowledgeAlertInput, ActivityEventGroupBy, ActivityEventOrder, ActivityEventWhere,
    AddWorkspaceMemberInput, AgentRunGroupBy, AgentRunOrder, AgentRunWhere, AgentWhere,
    AggregateDailyMetricsInput, CreateAlertRuleInput, CreateWorkspaceInput, DeleteAlertRuleInput,
    RecordActivityEventInput, RemoveWorkspaceMemberInput, UpdateAlertRuleInput,
    UpdateWorkspaceMemberRoleInput, WorkspaceWhere,
};
use types::{
    AcknowledgeAlertPayload, ActivityEventAggregateRow, AddWorkspaceMemberPayload, Agent, AgentRun,
    AgentRunAggregateRow, AggregateDailyMetricsPayload, AnalyticsActivityEvent,
    CleanupAnalyticsDataPayload, CreateAlertRulePayload, CreateWorkspacePayload,
    DeleteAlertRulePayload, EvaluateAlertRulesPayload, RecordActivityEventPayload,
    RefreshAnalyticsViewsPayload, RemoveWorkspaceMemberPayload, UpdateAlertRulePayload,
    UpdateWorkspaceMemberRolePayload, Workspace,
};
use uuid::Uuid;

/// FORBIDDEN unless the request runs as the service role; checked before
/// any SQL (the database functions refuse other roles too).
fn service_only(ctx: &Context<'_>) -> ApiResult<()> {
    if !viewer(ctx).is_service() {
        return Err(ApiError::Forbidden("service role required".into()));
    }
    Ok(())
}

/// Root queries of the analytics domain.
#[derive(Default)]
pub struct AnalyticsQuery;

#[Object]
impl AnalyticsQuery {
    /// The workspaces the viewer is a member of (oldest first).
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "first.or(last).map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn workspaces(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(name = "where")] filter: Option<WorkspaceWhere>,
    ) -> async_graphql::Result<ApiConnection<Workspace>> {
        require_signed_in(ctx).gql()?;
        let page = root_page(ctx, first, after, last, before).gql()?;
        service::list_workspaces(tx(ctx).await.gql()?, filter, &page, wants_total(ctx))
            .await
            .gql()
    }

    /// One workspace by id; null when it does not exist or the viewer is
    /// not a member.
    async fn workspace(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<Option<Workspace>> {
        require_signed_in(ctx).gql()?;
        service::get_workspace(tx(ctx).await.gql()?, id).await.gql()
    }

    /// Agents of the viewer's workspaces (oldest first); the way to page
    /// past a workspace's nested `agents`.
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "first.or(last).map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn agents(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(name = "where")] filter: Option<AgentWhere>,
    ) -> async_graphql::Result<ApiConnection<Agent>> {
        require_signed_in(ctx).gql()?;
        let page = root_page(ctx, first, after, last, before).gql()?;
        service::list_agents(tx(ctx).await.gql()?, filter, &page, wants_total(ctx))
            .await
            .gql()
    }

    /// Agent runs of the viewer's workspaces (default: newest first).
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "first.or(last).map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn agent_runs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(name = "where")] filter: Option<AgentRunWhere>,
        order_by: Option<Vec<AgentRunOrder>>,
    ) -> async_graphql::Result<ApiConnection<AgentRun>> {
        require_signed_in(ctx).gql()?;
        let page = root_page(ctx, first, after, last, before).gql()?;
        service::list_runs(
            tx(ctx).await.gql()?,
            filter,
            order_by,
            &page,
            wants_total(ctx),
        )
        .await
        .gql()
    }

    /// Activity events: the viewer's own and those of the viewer's
    /// workspaces (default: newest first).
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "first.or(last).map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn activity_events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(name = "where")] filter: Option<ActivityEventWhere>,
        order_by: Option<Vec<ActivityEventOrder>>,
    ) -> async_graphql::Result<ApiConnection<AnalyticsActivityEvent>> {
        require_signed_in(ctx).gql()?;
        let page = root_page(ctx, first, after, last, before).gql()?;
        service::list_activity(
            tx(ctx).await.gql()?,
            filter,
            order_by,
            &page,
            wants_total(ctx),
        )
        .await
        .gql()
    }

    /// Run counts, credits, tokens and average runtime of the runs (of the
    /// viewer's workspaces) matching `where`, per `groupBy` keys (one row
    /// without keys).
    async fn agent_run_aggregate(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "where")] filter: Option<AgentRunWhere>,
        #[graphql(default)] group_by: Vec<AgentRunGroupBy>,
    ) -> async_graphql::Result<Vec<AgentRunAggregateRow>> {
        require_signed_in(ctx).gql()?;
        service::run_aggregate(tx(ctx).await.gql()?, filter, &group_by)
            .await
            .gql()
    }

    /// Event counts and distinct users of the activity events visible to
    /// the viewer matching `where`, per `groupBy` keys (one row without
    /// keys).
    async fn activity_event_aggregate(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "where")] filter: Option<ActivityEventWhere>,
        #[graphql(default)] group_by: Vec<ActivityEventGroupBy>,
    ) -> async_graphql::Result<Vec<ActivityEventAggregateRow>> {
        require_signed_in(ctx).gql()?;
        service::activity_aggregate(tx(ctx).await.gql()?, filter, &group_by)
            .await
            .gql()
    }
}

/// Analytics fields of `viewer`.
#[derive(Default)]
pub struct AnalyticsViewerFields;

#[Object]
impl AnalyticsViewerFields {
    /// The workspaces the viewer is a member of (oldest first); empty for
    /// anon.
    #[graphql(
        complexity = "first.or(last).map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn workspaces(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<ApiConnection<Workspace>> {
        let page = root_page(ctx, first, after, last, before).gql()?;
        if viewer(ctx).user_id.is_none() {
            return Ok(Connection::with_additional_fields(
                false,
                false,
                ConnectionTotal::default(),
            ));
        }
        service::list_workspaces(tx(ctx).await.gql()?, None, &page, wants_total(ctx))
            .await
            .gql()
    }
}

/// Mutations of the analytics domain. Each runs in the request's
/// transaction.
#[derive(Default)]
pub struct AnalyticsMutation;

#[Object]
impl AnalyticsMutation {
    /// Creates a workspace; the viewer becomes its owner.
    async fn create_workspace(
        &self,
        ctx: &Context<'_>,
        input: CreateWorkspaceInput,
    ) -> async_graphql::Result<CreateWorkspacePayload> {
        let user = require_user(ctx).gql()?;
        let workspace = service::create_workspace(tx(ctx).await.gql()?, user, input)
            .await
            .gql()?;
        Ok(CreateWorkspacePayload { workspace })
    }

    /// Adds a user to a workspace (owners and admins only).
    async fn add_workspace_member(
        &self,
        ctx: &Context<'_>,
        input: AddWorkspaceMemberInput,
    ) -> async_graphql::Result<AddWorkspaceMemberPayload> {
        require_user(ctx).gql()?;
        let member = service::add_member(tx(ctx).await.gql()?, input)
            .await
            .gql()?;
        Ok(AddWorkspaceMemberPayload { member })
    }

    /// Removes a member from a workspace: owners and admins remove anyone,
    /// every member may leave (remove themselves).
    async fn remove_workspace_member(
        &self,
        ctx: &Context<'_>,
        input: RemoveWorkspaceMemberInput,
    ) -> async_graphql::Result<RemoveWorkspaceMemberPayload> {
        require_user(ctx).gql()?;
        let removed_member = service::remove_member(tx(ctx).await.gql()?, input)
            .await
            .gql()?;
        Ok(RemoveWorkspaceMemberPayload { removed_member })
    }

    /// Changes a member's role (owners and admins only).
    async fn update_workspace_member_role(
        &self,
        ctx: &Context<'_>,
        input: UpdateWorkspaceMemberRoleInput,
    ) -> async_graphql::Result<UpdateWorkspaceMemberRolePayload> {
        require_user(ctx).gql()?;
        let member = service::update_member_role(tx(ctx).await.gql()?, input)
            .await
            .gql()?;
        Ok(UpdateWorkspaceMemberRolePayload { member })
    }

    /// Records an activity event of the viewer (in no workspace, or one the
    /// viewer is a member of).
    async fn record_activity_event(
        &self,
        ctx: &Context<'_>,
        input: RecordActivityEventInput,
    ) -> async_graphql::Result<RecordActivityEventPayload> {
        let user = require_user(ctx).gql()?;
        let event = service::record_activity(tx(ctx).await.gql()?, user, input)
            .await
            .gql()?;
        Ok(RecordActivityEventPayload { event })
    }

    /// Creates an alert rule in a workspace (owners, admins and members).
    async fn create_alert_rule(
        &self,
        ctx: &Context<'_>,
        input: CreateAlertRuleInput,
    ) -> async_graphql::Result<CreateAlertRulePayload> {
        let user = require_user(ctx).gql()?;
        let alert_rule = service::create_alert_rule(tx(ctx).await.gql()?, user, input)
            .await
            .gql()?;
        Ok(CreateAlertRulePayload { alert_rule })
    }

    /// Changes an alert rule (owners, admins and members).
    async fn update_alert_rule(
        &self,
        ctx: &Context<'_>,
        input: UpdateAlertRuleInput,
    ) -> async_graphql::Result<UpdateAlertRulePayload> {
        require_user(ctx).gql()?;
        let alert_rule = service::update_alert_rule(tx(ctx).await.gql()?, input)
            .await
            .gql()?;
        Ok(UpdateAlertRulePayload { alert_rule })
    }

    /// Deletes an alert rule with its history (owners, admins and members).
    async fn delete_alert_rule(
        &self,
        ctx: &Context<'_>,
        input: DeleteAlertRuleInput,
    ) -> async_graphql::Result<DeleteAlertRulePayload> {
        require_user(ctx).gql()?;
        let deleted_id = service::delete_alert_rule(tx(ctx).await.gql()?, input.id)
            .await
            .gql()?;
        Ok(DeleteAlertRulePayload { deleted_id })
    }

    /// Acknowledges a fired alert as the viewer (any member).
    async fn acknowledge_alert(
        &self,
        ctx: &Context<'_>,
        input: AcknowledgeAlertInput,
    ) -> async_graphql::Result<AcknowledgeAlertPayload> {
        let user = require_user(ctx).gql()?;
        let alert = service::acknowledge_alert(tx(ctx).await.gql()?, user, input)
            .await
            .gql()?;
        Ok(AcknowledgeAlertPayload { alert })
    }

    /// Recomputes one UTC day's daily metrics (service role only; running
    /// it again gives the same rows).
    async fn aggregate_daily_metrics(
        &self,
        ctx: &Context<'_>,
        input: AggregateDailyMetricsInput,
    ) -> async_graphql::Result<AggregateDailyMetricsPayload> {
        service_only(ctx).gql()?;
        let (rows_written, metrics) =
            service::aggregate_daily_metrics(tx(ctx).await.gql()?, input.date, input.workspace_id)
                .await
                .gql()?;
        Ok(AggregateDailyMetricsPayload {
            rows_written,
            metrics,
        })
    }

    /// Refreshes the materialized views behind `activeUsers`, `topAgents`
    /// and `summary` (service role only).
    async fn refresh_analytics_views(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<RefreshAnalyticsViewsPayload> {
        service_only(ctx).gql()?;
        service::refresh_views(tx(ctx).await.gql()?).await.gql()?;
        Ok(RefreshAnalyticsViewsPayload { refreshed: true })
    }

    /// Deletes activity older than 90 days and hourly rollups older than 30
    /// days (service role only).
    async fn cleanup_analytics_data(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<CleanupAnalyticsDataPayload> {
        service_only(ctx).gql()?;
        let (user_activity_deleted, hourly_metrics_deleted) =
            service::cleanup(tx(ctx).await.gql()?).await.gql()?;
        Ok(CleanupAnalyticsDataPayload {
            user_activity_deleted,
            hourly_metrics_deleted,
        })
    }

    /// Evaluates the active alert rules against the latest metrics and
    /// writes the alert history (service role only).
    async fn evaluate_alert_rules(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<EvaluateAlertRulesPayload> {
        service_only(ctx).gql()?;
        let alerts_fired = service::evaluate_alert_rules(tx(ctx).await.gql()?)
            .await
            .gql()?;
        Ok(EvaluateAlertRulesPayload { alerts_fired })
    }
}
