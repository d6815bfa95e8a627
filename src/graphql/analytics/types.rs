//! GraphQL object types of the workspace analytics domain (seed 002):
//! workspaces with their members, agents and runs, the rollup tables, the
//! member views of the materialized views, aggregate rows and payloads.

use super::inputs::{
    normalize_order, run_direction, AgentOrder, AgentRunOrder, AnalyticsActiveUsersOrder,
    AnalyticsAgentPerformanceOrder, AnalyticsAlertOrder, AnalyticsDailyMetricsOrder,
    AnalyticsHourlyMetricsOrder, AnalyticsTopAgentOrder, AnalyticsUserCohortOrder, DateRange,
    ACTIVE_USERS_DEFAULT_ORDER, AGENT_DEFAULT_ORDER, AGENT_PERFORMANCE_DEFAULT_ORDER,
    ALERT_DEFAULT_ORDER, COHORT_DEFAULT_ORDER, DAILY_METRICS_DEFAULT_ORDER,
    HOURLY_METRICS_DEFAULT_ORDER, TOP_AGENT_DEFAULT_ORDER,
};
use super::loaders::AnalyticsLoader;
use super::loaders::{
    load_one, ActiveUsersOfWorkspace, AgentPerformanceOfWorkspace, AgentsOfWorkspace,
    AlertHistoryOfWorkspace, AlertRulesOfWorkspace, CohortsOfWorkspace, DailyMetricsOfWorkspace,
    HourRange, HourlyMetricsOfWorkspace, MembersOfWorkspace, RunsOfAgent, SummaryOfWorkspace,
    TopAgentsOfWorkspace, UserById,
};
use crate::graphql::error::ResultExt;
use crate::graphql::loading::nested_connection;
use crate::graphql::pagination::{ApiConnection, DEFAULT_PAGE_SIZE};
use crate::graphql::viewer::User;
use async_graphql::{Context, Json, Object, SimpleObject};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use entity::analytics::{
    agent_performance, alert_history, alert_rules, daily_metrics, hourly_metrics, user_activity,
    user_cohorts, v_active_users, v_top_agents, v_workspace_summary,
};
use entity::public::{agent_runs, agents, workspace_members, workspaces};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::graphql::enums::db_enum;

db_enum!(
    /// A member's role in a workspace.
    WorkspaceRole {
        /// Owns the workspace.
        Owner => "owner",
        /// Manages members and settings.
        Admin => "admin",
        /// Creates agents, runs and alert rules.
        Member => "member",
        /// Reads only.
        Viewer => "viewer",
    }
);

db_enum!(
    /// State of an agent run.
    AgentRunStatus {
        /// Queued.
        Pending => "pending",
        /// In progress.
        Running => "running",
        /// Finished successfully.
        Completed => "completed",
        /// Finished with an error.
        Failed => "failed",
        /// Stopped before finishing.
        Cancelled => "cancelled",
    }
);

db_enum!(
    /// Kind of an activity event (the seed's CHECK list).
    ActivityEventType {
        /// A page was viewed.
        PageView => "page_view",
        /// An agent was run.
        AgentRun => "agent_run",
        /// Signed in.
        Login => "login",
        /// Signed out.
        Logout => "logout",
        /// Switched workspace.
        WorkspaceSwitch => "workspace_switch",
        /// Used a feature.
        FeatureUse => "feature_use",
        /// An error was shown.
        Error => "error",
        /// An API call.
        ApiCall => "api_call",
        /// An export.
        Export => "export",
        /// A report was viewed.
        ReportView => "report_view",
    }
);

db_enum!(
    /// Period of a retention cohort.
    CohortPeriod {
        /// Daily cohorts.
        Daily => "daily",
        /// Weekly cohorts.
        Weekly => "weekly",
        /// Monthly cohorts.
        Monthly => "monthly",
    }
);

db_enum!(
    /// Metric an alert rule watches: daily ones read the workspace's latest
    /// daily metrics, HOURLY_* ones sum the hourly metrics over the window.
    AlertMetricType {
        /// Runs of the day.
        TotalRuns => "total_runs",
        /// Completed runs of the day.
        SuccessfulRuns => "successful_runs",
        /// Failed runs of the day.
        FailedRuns => "failed_runs",
        /// Cancelled runs of the day.
        CancelledRuns => "cancelled_runs",
        /// Errors of the day.
        TotalErrors => "total_errors",
        /// Percent of failed runs.
        ErrorRate => "error_rate",
        /// Credits of the day.
        TotalCreditsConsumed => "total_credits_consumed",
        /// Active users of the day.
        ActiveUsers => "active_users",
        /// Average runtime.
        AvgRuntimeSeconds => "avg_runtime_seconds",
        /// 95th percentile runtime.
        P95RuntimeSeconds => "p95_runtime_seconds",
        /// Runs in the window.
        HourlyTotalRuns => "hourly_total_runs",
        /// Failed runs in the window.
        HourlyFailedRuns => "hourly_failed_runs",
        /// Credits in the window.
        HourlyTotalCredits => "hourly_total_credits",
        /// Active users in the window.
        HourlyActiveUsers => "hourly_active_users",
    }
);

db_enum!(
    /// Comparison of an alert rule's metric with its threshold.
    AlertCondition {
        /// Fires above the threshold.
        GreaterThan => "greater_than",
        /// Fires below the threshold.
        LessThan => "less_than",
        /// Fires at the threshold.
        Equals => "equals",
    }
);

db_enum!(
    /// Delivery state of an alert's notifications.
    AlertNotificationStatus {
        /// Not sent yet.
        Pending => "pending",
        /// Sent.
        Sent => "sent",
        /// Sent to some channels.
        Partial => "partial",
        /// Could not be sent.
        Failed => "failed",
    }
);

/// A workspace the viewer is a member of (`public.workspaces`).
#[derive(Clone, Debug)]
pub struct Workspace(pub workspaces::Model);

#[Object]
impl Workspace {
    /// Workspace id.
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The owner; null once the owner's account is gone.
    async fn owner_id(&self) -> Option<Uuid> {
        self.0.owner_id
    }
    /// Creation time.
    async fn created_at(&self) -> DateTime<FixedOffset> {
        self.0.created_at
    }
    /// Last change.
    async fn updated_at(&self) -> DateTime<FixedOffset> {
        self.0.updated_at
    }

    /// The workspace's members, oldest first.
    #[graphql(
        complexity = "first.map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
    ) -> async_graphql::Result<ApiConnection<WorkspaceMember>> {
        nested_connection::<AnalyticsLoader, MembersOfWorkspace, _>(
            ctx,
            self.0.id,
            first,
            (),
            WorkspaceMember,
        )
        .await
    }

    /// The workspace's agents (default: oldest first). To page further, use
    /// `agents(where: {workspaceId: ...})`.
    #[graphql(
        complexity = "first.map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn agents(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        order_by: Option<Vec<AgentOrder>>,
    ) -> async_graphql::Result<ApiConnection<Agent>> {
        let order = normalize_order(order_by, AGENT_DEFAULT_ORDER);
        nested_connection::<AnalyticsLoader, AgentsOfWorkspace, _>(
            ctx,
            self.0.id,
            first,
            (order, ()),
            Agent,
        )
        .await
    }

    /// Daily rollups between `from` and `to` (UTC days, inclusive)
    /// (default: newest first).
    #[graphql(
        complexity = "first.map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn daily_metrics(
        &self,
        ctx: &Context<'_>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        first: Option<i32>,
        order_by: Option<Vec<AnalyticsDailyMetricsOrder>>,
    ) -> async_graphql::Result<ApiConnection<AnalyticsDailyMetrics>> {
        let range = DateRange::new(from, to).gql()?;
        let order = normalize_order(order_by, DAILY_METRICS_DEFAULT_ORDER);
        nested_connection::<AnalyticsLoader, DailyMetricsOfWorkspace, _>(
            ctx,
            self.0.id,
            first,
            (order, range),
            AnalyticsDailyMetrics::from,
        )
        .await
    }

    /// Hourly rollups with `metricHour` in `[from, to]` (default: newest
    /// first).
    #[graphql(
        complexity = "first.map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn hourly_metrics(
        &self,
        ctx: &Context<'_>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        first: Option<i32>,
        order_by: Option<Vec<AnalyticsHourlyMetricsOrder>>,
    ) -> async_graphql::Result<ApiConnection<AnalyticsHourlyMetrics>> {
        let range = HourRange::new(from, to).gql()?;
        let order = normalize_order(order_by, HOURLY_METRICS_DEFAULT_ORDER);
        nested_connection::<AnalyticsLoader, HourlyMetricsOfWorkspace, _>(
            ctx,
            self.0.id,
            first,
            (order, range),
            AnalyticsHourlyMetrics::from,
        )
        .await
    }

    /// Per-agent daily performance between `from` and `to` (inclusive)
    /// (default: newest first).
    #[graphql(
        complexity = "first.map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn agent_performance(
        &self,
        ctx: &Context<'_>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        first: Option<i32>,
        order_by: Option<Vec<AnalyticsAgentPerformanceOrder>>,
    ) -> async_graphql::Result<ApiConnection<AnalyticsAgentPerformance>> {
        let range = DateRange::new(from, to).gql()?;
        let order = normalize_order(order_by, AGENT_PERFORMANCE_DEFAULT_ORDER);
        nested_connection::<AnalyticsLoader, AgentPerformanceOfWorkspace, _>(
            ctx,
            self.0.id,
            first,
            (order, range),
            AnalyticsAgentPerformance::from,
        )
        .await
    }

    /// Retention cohorts (of one period when given) (default: newest
    /// first).
    #[graphql(
        complexity = "first.map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn cohorts(
        &self,
        ctx: &Context<'_>,
        period: Option<CohortPeriod>,
        first: Option<i32>,
        order_by: Option<Vec<AnalyticsUserCohortOrder>>,
    ) -> async_graphql::Result<ApiConnection<AnalyticsUserCohort>> {
        let order = normalize_order(order_by, COHORT_DEFAULT_ORDER);
        nested_connection::<AnalyticsLoader, CohortsOfWorkspace, _>(
            ctx,
            self.0.id,
            first,
            (order, period),
            AnalyticsUserCohort,
        )
        .await
    }

    /// Alert rules, oldest first.
    #[graphql(
        complexity = "first.map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn alert_rules(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
    ) -> async_graphql::Result<ApiConnection<AnalyticsAlertRule>> {
        nested_connection::<AnalyticsLoader, AlertRulesOfWorkspace, _>(
            ctx,
            self.0.id,
            first,
            (),
            AnalyticsAlertRule,
        )
        .await
    }

    /// Fired alerts (only unacknowledged ones when `unacknowledgedOnly`)
    /// (default: newest first).
    #[graphql(
        complexity = "first.map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn alert_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] unacknowledged_only: bool,
        first: Option<i32>,
        order_by: Option<Vec<AnalyticsAlertOrder>>,
    ) -> async_graphql::Result<ApiConnection<AnalyticsAlert>> {
        let order = normalize_order(order_by, ALERT_DEFAULT_ORDER);
        nested_connection::<AnalyticsLoader, AlertHistoryOfWorkspace, _>(
            ctx,
            self.0.id,
            first,
            (order, unacknowledged_only),
            AnalyticsAlert,
        )
        .await
    }

    /// Daily, weekly and monthly active users per day (`v_active_users`,
    /// as of the last refresh) between `from` and `to` (default: newest
    /// first).
    #[graphql(
        complexity = "first.map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn active_users(
        &self,
        ctx: &Context<'_>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        first: Option<i32>,
        order_by: Option<Vec<AnalyticsActiveUsersOrder>>,
    ) -> async_graphql::Result<ApiConnection<AnalyticsActiveUsers>> {
        let range = DateRange::new(from, to).gql()?;
        let order = normalize_order(order_by, ACTIVE_USERS_DEFAULT_ORDER);
        nested_connection::<AnalyticsLoader, ActiveUsersOfWorkspace, _>(
            ctx,
            self.0.id,
            first,
            (order, range),
            AnalyticsActiveUsers::from,
        )
        .await
    }

    /// Agents by runs in the last 30 days (`v_top_agents`, as of the last
    /// refresh) (default: most runs first).
    #[graphql(
        complexity = "first.map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn top_agents(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        order_by: Option<Vec<AnalyticsTopAgentOrder>>,
    ) -> async_graphql::Result<ApiConnection<AnalyticsTopAgent>> {
        let order = normalize_order(order_by, TOP_AGENT_DEFAULT_ORDER);
        nested_connection::<AnalyticsLoader, TopAgentsOfWorkspace, _>(
            ctx,
            self.0.id,
            first,
            (order, ()),
            AnalyticsTopAgent::from,
        )
        .await
    }

    /// Workspace totals (`v_workspace_summary`, as of the last refresh);
    /// null before the first refresh that saw the workspace.
    async fn summary(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<AnalyticsWorkspaceSummary>> {
        let row = load_one(ctx, SummaryOfWorkspace(self.0.id)).await?;
        Ok(row.map(AnalyticsWorkspaceSummary::from))
    }
}

/// A member of a workspace (`public.workspace_members`).
#[derive(Clone, Debug)]
pub struct WorkspaceMember(pub workspace_members::Model);

#[Object]
impl WorkspaceMember {
    /// The workspace.
    async fn workspace_id(&self) -> Uuid {
        self.0.workspace_id
    }
    /// The member's user id.
    async fn user_id(&self) -> Uuid {
        self.0.user_id
    }
    /// The member's role.
    async fn role(&self) -> async_graphql::Result<WorkspaceRole> {
        WorkspaceRole::from_db(&self.0.role).gql()
    }
    /// When the member joined.
    async fn joined_at(&self) -> DateTime<FixedOffset> {
        self.0.joined_at
    }
    /// The member's user row.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let row = load_one(ctx, UserById(self.0.user_id)).await?;
        Ok(row.map(User::from))
    }
}

/// An agent of a workspace (`public.agents`).
#[derive(Clone, Debug)]
pub struct Agent(pub agents::Model);

#[Object]
impl Agent {
    /// Agent id.
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// The workspace.
    async fn workspace_id(&self) -> Uuid {
        self.0.workspace_id
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Description.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// Default model.
    async fn model(&self) -> Option<&str> {
        self.0.model.as_deref()
    }
    /// Whether the agent is active.
    async fn is_active(&self) -> bool {
        self.0.is_active
    }
    /// Who created it.
    async fn created_by(&self) -> Option<Uuid> {
        self.0.created_by
    }
    /// Creation time.
    async fn created_at(&self) -> DateTime<FixedOffset> {
        self.0.created_at
    }
    /// Last change.
    async fn updated_at(&self) -> DateTime<FixedOffset> {
        self.0.updated_at
    }

    /// The agent's runs (default: newest first). To page further, use
    /// `agentRuns(where: {agentId: ...})`.
    #[graphql(
        complexity = "first.map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn runs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        order_by: Option<Vec<AgentRunOrder>>,
    ) -> async_graphql::Result<ApiConnection<AgentRun>> {
        nested_connection::<AnalyticsLoader, RunsOfAgent, _>(
            ctx,
            self.0.id,
            first,
            run_direction(order_by),
            AgentRun,
        )
        .await
    }
}

/// One run of an agent (`public.agent_runs`).
#[derive(Clone, Debug)]
pub struct AgentRun(pub agent_runs::Model);

#[Object]
impl AgentRun {
    /// Run id.
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// The agent.
    async fn agent_id(&self) -> Uuid {
        self.0.agent_id
    }
    /// The agent's workspace.
    async fn workspace_id(&self) -> Uuid {
        self.0.workspace_id
    }
    /// Who started it.
    async fn user_id(&self) -> Option<Uuid> {
        self.0.user_id
    }
    /// State.
    async fn status(&self) -> async_graphql::Result<AgentRunStatus> {
        AgentRunStatus::from_db(&self.0.status).gql()
    }
    /// Start time.
    async fn started_at(&self) -> DateTime<FixedOffset> {
        self.0.started_at
    }
    /// End time.
    async fn completed_at(&self) -> Option<DateTime<FixedOffset>> {
        self.0.completed_at
    }
    /// Runtime (seconds).
    async fn runtime_seconds(&self) -> Option<Decimal> {
        self.0.runtime_seconds
    }
    /// Credits consumed.
    async fn credits_consumed(&self) -> Decimal {
        self.0.credits_consumed
    }
    /// Tokens used.
    async fn tokens_used(&self) -> i32 {
        self.0.tokens_used
    }
    /// Model used.
    async fn model(&self) -> Option<&str> {
        self.0.model.as_deref()
    }
    /// Error kind of a failed run.
    async fn error_type(&self) -> Option<&str> {
        self.0.error_type.as_deref()
    }
    /// Error message of a failed run.
    async fn error_message(&self) -> Option<&str> {
        self.0.error_message.as_deref()
    }
    /// The user's rating (0 to 5).
    async fn user_rating(&self) -> Option<Decimal> {
        self.0.user_rating
    }
    /// The user's feedback.
    async fn feedback(&self) -> Option<&str> {
        self.0.feedback.as_deref()
    }
    /// Free-form metadata.
    async fn metadata(&self) -> Json<serde_json::Value> {
        Json(self.0.metadata.clone())
    }
    /// Creation time.
    async fn created_at(&self) -> DateTime<FixedOffset> {
        self.0.created_at
    }
}

/// An activity event (`analytics.user_activity`).
#[derive(Clone, Debug)]
pub struct AnalyticsActivityEvent(pub user_activity::Model);

#[Object]
impl AnalyticsActivityEvent {
    /// Event id.
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// Who did it.
    async fn user_id(&self) -> Uuid {
        self.0.user_id
    }
    /// The workspace it happened in, if any.
    async fn workspace_id(&self) -> Option<Uuid> {
        self.0.workspace_id
    }
    /// Kind of event.
    async fn event_type(&self) -> async_graphql::Result<ActivityEventType> {
        ActivityEventType::from_db(&self.0.event_type).gql()
    }
    /// Event name.
    async fn event_name(&self) -> Option<&str> {
        self.0.event_name.as_deref()
    }
    /// Page path.
    async fn page_path(&self) -> Option<&str> {
        self.0.page_path.as_deref()
    }
    /// Client session.
    async fn session_id(&self) -> Option<Uuid> {
        self.0.session_id
    }
    /// User agent.
    async fn user_agent(&self) -> Option<&str> {
        self.0.user_agent.as_deref()
    }
    /// Referrer.
    async fn referrer(&self) -> Option<&str> {
        self.0.referrer.as_deref()
    }
    /// Free-form metadata.
    async fn metadata(&self) -> Json<serde_json::Value> {
        Json(self.0.metadata.clone())
    }
    /// When it happened (set by the database).
    async fn created_at(&self) -> DateTime<FixedOffset> {
        self.0.created_at
    }
}

/// One day's rollup of a workspace (`analytics.daily_metrics`).
#[derive(SimpleObject, Clone, Debug)]
pub struct AnalyticsDailyMetrics {
    /// Row id.
    pub id: Uuid,
    /// The UTC day.
    pub metric_date: NaiveDate,
    /// The workspace; null for the platform-wide row (service role only).
    pub workspace_id: Option<Uuid>,
    /// Members by the end of the day.
    pub total_users: i32,
    /// Users with a run or an event that day.
    pub active_users: i32,
    /// Members who joined that day.
    pub new_users: i32,
    /// Active users also active before.
    pub returning_users: i32,
    /// Client sessions.
    pub total_sessions: i32,
    /// Average session duration (seconds).
    pub avg_session_duration_seconds: Option<Decimal>,
    /// Percent of single-event sessions.
    pub bounce_rate: Option<Decimal>,
    /// Runs started that day.
    pub total_runs: i32,
    /// Completed runs.
    pub successful_runs: i32,
    /// Failed runs.
    pub failed_runs: i32,
    /// Cancelled runs.
    pub cancelled_runs: i32,
    /// Average runtime (seconds).
    pub avg_runtime_seconds: Option<Decimal>,
    /// Median runtime (seconds).
    pub median_runtime_seconds: Option<Decimal>,
    /// 95th percentile runtime (seconds).
    pub p95_runtime_seconds: Option<Decimal>,
    /// 99th percentile runtime (seconds).
    pub p99_runtime_seconds: Option<Decimal>,
    /// Credits consumed.
    pub total_credits_consumed: Decimal,
    /// Average credits per run.
    pub avg_credits_per_run: Option<Decimal>,
    /// Credits per model (a JSON object).
    pub credits_by_model: Json<serde_json::Value>,
    /// Distinct agents run.
    pub unique_agents_run: i32,
    /// Top 5 agents of the day (a JSON array).
    pub top_agents: Json<serde_json::Value>,
    /// Failed runs plus error events.
    pub total_errors: i32,
    /// Percent of failed runs.
    pub error_rate: Option<Decimal>,
    /// Errors per kind (a JSON object).
    pub errors_by_type: Json<serde_json::Value>,
    /// First computed.
    pub created_at: DateTime<FixedOffset>,
    /// Last recomputed.
    pub updated_at: DateTime<FixedOffset>,
}

impl From<daily_metrics::Model> for AnalyticsDailyMetrics {
    fn from(m: daily_metrics::Model) -> Self {
        Self {
            id: m.id,
            metric_date: m.metric_date,
            workspace_id: m.workspace_id,
            total_users: m.total_users,
            active_users: m.active_users,
            new_users: m.new_users,
            returning_users: m.returning_users,
            total_sessions: m.total_sessions,
            avg_session_duration_seconds: m.avg_session_duration_seconds,
            bounce_rate: m.bounce_rate,
            total_runs: m.total_runs,
            successful_runs: m.successful_runs,
            failed_runs: m.failed_runs,
            cancelled_runs: m.cancelled_runs,
            avg_runtime_seconds: m.avg_runtime_seconds,
            median_runtime_seconds: m.median_runtime_seconds,
            p95_runtime_seconds: m.p95_runtime_seconds,
            p99_runtime_seconds: m.p99_runtime_seconds,
            total_credits_consumed: m.total_credits_consumed,
            avg_credits_per_run: m.avg_credits_per_run,
            credits_by_model: Json(m.credits_by_model),
            unique_agents_run: m.unique_agents_run,
            top_agents: Json(m.top_agents),
            total_errors: m.total_errors,
            error_rate: m.error_rate,
            errors_by_type: Json(m.errors_by_type),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// One hour's rollup of a workspace (`analytics.hourly_metrics`).
#[derive(SimpleObject, Clone, Debug)]
pub struct AnalyticsHourlyMetrics {
    /// Row id.
    pub id: Uuid,
    /// Start of the hour.
    pub metric_hour: DateTime<FixedOffset>,
    /// The workspace.
    pub workspace_id: Option<Uuid>,
    /// Active users.
    pub active_users: i32,
    /// Runs.
    pub total_runs: i32,
    /// Completed runs.
    pub successful_runs: i32,
    /// Failed runs.
    pub failed_runs: i32,
    /// Credits.
    pub total_credits: Decimal,
    /// Average response time (ms).
    pub avg_response_time_ms: Option<i32>,
    /// 95th percentile response time (ms).
    pub p95_response_time_ms: Option<i32>,
    /// When written.
    pub created_at: DateTime<FixedOffset>,
}

impl From<hourly_metrics::Model> for AnalyticsHourlyMetrics {
    fn from(m: hourly_metrics::Model) -> Self {
        Self {
            id: m.id,
            metric_hour: m.metric_hour,
            workspace_id: m.workspace_id,
            active_users: m.active_users,
            total_runs: m.total_runs,
            successful_runs: m.successful_runs,
            failed_runs: m.failed_runs,
            total_credits: m.total_credits,
            avg_response_time_ms: m.avg_response_time_ms,
            p95_response_time_ms: m.p95_response_time_ms,
            created_at: m.created_at,
        }
    }
}

/// One agent's performance on one day (`analytics.agent_performance`).
#[derive(SimpleObject, Clone, Debug)]
pub struct AnalyticsAgentPerformance {
    /// Row id.
    pub id: Uuid,
    /// The agent.
    pub agent_id: Uuid,
    /// The day.
    pub metric_date: NaiveDate,
    /// The agent's workspace.
    pub workspace_id: Uuid,
    /// Runs.
    pub total_runs: i32,
    /// Completed runs.
    pub successful_runs: i32,
    /// Failed runs.
    pub failed_runs: i32,
    /// Cancelled runs.
    pub cancelled_runs: i32,
    /// Average runtime (seconds).
    pub avg_runtime_seconds: Option<Decimal>,
    /// Shortest runtime (seconds).
    pub min_runtime_seconds: Option<Decimal>,
    /// Longest runtime (seconds).
    pub max_runtime_seconds: Option<Decimal>,
    /// Median runtime (seconds).
    pub p50_runtime_seconds: Option<Decimal>,
    /// 75th percentile runtime (seconds).
    pub p75_runtime_seconds: Option<Decimal>,
    /// 95th percentile runtime (seconds).
    pub p95_runtime_seconds: Option<Decimal>,
    /// 99th percentile runtime (seconds).
    pub p99_runtime_seconds: Option<Decimal>,
    /// Credits.
    pub total_credits: Decimal,
    /// Average credits per run.
    pub avg_credits_per_run: Option<Decimal>,
    /// Tokens.
    pub total_tokens_used: i64,
    /// Average tokens per run.
    pub avg_tokens_per_run: Option<i32>,
    /// Distinct users.
    pub unique_users: i32,
    /// Average rating (0 to 5).
    pub avg_user_rating: Option<Decimal>,
    /// Feedback count.
    pub total_feedback_count: i32,
    /// Errors per kind (a JSON object).
    pub error_types: Json<serde_json::Value>,
    /// Most common failure reasons (a JSON array).
    pub common_failure_reasons: Json<serde_json::Value>,
    /// First computed.
    pub created_at: DateTime<FixedOffset>,
    /// Last recomputed.
    pub updated_at: DateTime<FixedOffset>,
}

impl From<agent_performance::Model> for AnalyticsAgentPerformance {
    fn from(m: agent_performance::Model) -> Self {
        Self {
            id: m.id,
            agent_id: m.agent_id,
            metric_date: m.metric_date,
            workspace_id: m.workspace_id,
            total_runs: m.total_runs,
            successful_runs: m.successful_runs,
            failed_runs: m.failed_runs,
            cancelled_runs: m.cancelled_runs,
            avg_runtime_seconds: m.avg_runtime_seconds,
            min_runtime_seconds: m.min_runtime_seconds,
            max_runtime_seconds: m.max_runtime_seconds,
            p50_runtime_seconds: m.p50_runtime_seconds,
            p75_runtime_seconds: m.p75_runtime_seconds,
            p95_runtime_seconds: m.p95_runtime_seconds,
            p99_runtime_seconds: m.p99_runtime_seconds,
            total_credits: m.total_credits,
            avg_credits_per_run: m.avg_credits_per_run,
            total_tokens_used: m.total_tokens_used,
            avg_tokens_per_run: m.avg_tokens_per_run,
            unique_users: m.unique_users,
            avg_user_rating: m.avg_user_rating,
            total_feedback_count: m.total_feedback_count,
            error_types: Json(m.error_types),
            common_failure_reasons: Json(m.common_failure_reasons),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// A retention cohort (`analytics.user_cohorts`).
#[derive(Clone, Debug)]
pub struct AnalyticsUserCohort(pub user_cohorts::Model);

#[Object]
impl AnalyticsUserCohort {
    /// Row id.
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// Cohort period.
    async fn cohort_period(&self) -> async_graphql::Result<CohortPeriod> {
        CohortPeriod::from_db(&self.0.cohort_period).gql()
    }
    /// First day of the cohort.
    async fn cohort_date(&self) -> NaiveDate {
        self.0.cohort_date
    }
    /// The workspace.
    async fn workspace_id(&self) -> Option<Uuid> {
        self.0.workspace_id
    }
    /// Users in the cohort.
    async fn initial_users(&self) -> i32 {
        self.0.initial_users
    }
    /// Percent still active per offset, e.g. `{"day_1": 95, "day_7": 80}`.
    async fn retention_data(&self) -> Json<serde_json::Value> {
        Json(self.0.retention_data.clone())
    }
    /// Lifetime value estimate.
    async fn ltv_estimate(&self) -> Option<Decimal> {
        self.0.ltv_estimate
    }
    /// Average revenue per user.
    async fn avg_revenue_per_user(&self) -> Option<Decimal> {
        self.0.avg_revenue_per_user
    }
    /// Churn (percent).
    async fn churn_rate(&self) -> Option<Decimal> {
        self.0.churn_rate
    }
    /// Creation time.
    async fn created_at(&self) -> DateTime<FixedOffset> {
        self.0.created_at
    }
    /// Last change.
    async fn updated_at(&self) -> DateTime<FixedOffset> {
        self.0.updated_at
    }
}

/// An alert rule (`analytics.alert_rules`).
#[derive(Clone, Debug)]
pub struct AnalyticsAlertRule(pub alert_rules::Model);

#[Object]
impl AnalyticsAlertRule {
    /// Rule id.
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// The workspace.
    async fn workspace_id(&self) -> Option<Uuid> {
        self.0.workspace_id
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Description.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// Whether the rule is evaluated.
    async fn is_active(&self) -> bool {
        self.0.is_active
    }
    /// The metric watched.
    async fn metric_type(&self) -> async_graphql::Result<AlertMetricType> {
        AlertMetricType::from_db(&self.0.metric_type).gql()
    }
    /// The comparison.
    async fn condition(&self) -> async_graphql::Result<AlertCondition> {
        AlertCondition::from_db(&self.0.condition).gql()
    }
    /// The threshold.
    async fn threshold_value(&self) -> Decimal {
        self.0.threshold_value
    }
    /// Evaluation window (minutes) of hourly metrics.
    async fn evaluation_window_minutes(&self) -> i32 {
        self.0.evaluation_window_minutes
    }
    /// Notification channels (a JSON array).
    async fn notification_channels(&self) -> Json<serde_json::Value> {
        Json(self.0.notification_channels.clone())
    }
    /// Notification recipients (a JSON array).
    async fn notification_recipients(&self) -> Json<serde_json::Value> {
        Json(self.0.notification_recipients.clone())
    }
    /// When it last fired.
    async fn last_triggered_at(&self) -> Option<DateTime<FixedOffset>> {
        self.0.last_triggered_at
    }
    /// How often it fired.
    async fn trigger_count(&self) -> i32 {
        self.0.trigger_count
    }
    /// Who created it.
    async fn created_by(&self) -> Option<Uuid> {
        self.0.created_by
    }
    /// Creation time.
    async fn created_at(&self) -> DateTime<FixedOffset> {
        self.0.created_at
    }
    /// Last change.
    async fn updated_at(&self) -> DateTime<FixedOffset> {
        self.0.updated_at
    }
}

/// A fired alert (`analytics.alert_history`).
#[derive(Clone, Debug)]
pub struct AnalyticsAlert(pub alert_history::Model);

#[Object]
impl AnalyticsAlert {
    /// Alert id.
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// The rule that fired.
    async fn alert_rule_id(&self) -> Uuid {
        self.0.alert_rule_id
    }
    /// The workspace.
    async fn workspace_id(&self) -> Option<Uuid> {
        self.0.workspace_id
    }
    /// When it fired.
    async fn triggered_at(&self) -> DateTime<FixedOffset> {
        self.0.triggered_at
    }
    /// The metric's value then.
    async fn metric_value(&self) -> Option<Decimal> {
        self.0.metric_value
    }
    /// The rule's threshold then.
    async fn threshold_value(&self) -> Option<Decimal> {
        self.0.threshold_value
    }
    /// Notifications sent (a JSON array).
    async fn notifications_sent(&self) -> Json<serde_json::Value> {
        Json(self.0.notifications_sent.clone())
    }
    /// Delivery state.
    async fn notification_status(&self) -> async_graphql::Result<AlertNotificationStatus> {
        AlertNotificationStatus::from_db(&self.0.notification_status).gql()
    }
    /// Who acknowledged it.
    async fn acknowledged_by(&self) -> Option<Uuid> {
        self.0.acknowledged_by
    }
    /// When it was acknowledged.
    async fn acknowledged_at(&self) -> Option<DateTime<FixedOffset>> {
        self.0.acknowledged_at
    }
    /// Notes of the acknowledgement.
    async fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }
}

/// Active users of a workspace on one day (`v_active_users`).
#[derive(SimpleObject, Clone, Debug)]
pub struct AnalyticsActiveUsers {
    /// The UTC day.
    pub activity_date: NaiveDate,
    /// The workspace.
    pub workspace_id: Uuid,
    /// Distinct users active that day.
    pub daily_active_users: i64,
    /// Distinct users active in the 7 days ending that day.
    pub weekly_active_users: i64,
    /// Distinct users active in the 30 days ending that day.
    pub monthly_active_users: i64,
}

impl From<v_active_users::Model> for AnalyticsActiveUsers {
    fn from(m: v_active_users::Model) -> Self {
        Self {
            activity_date: m.activity_date,
            workspace_id: m.workspace_id,
            daily_active_users: m.daily_active_users,
            weekly_active_users: m.weekly_active_users,
            monthly_active_users: m.monthly_active_users,
        }
    }
}

/// An agent's last-30-days statistics (`v_top_agents`).
#[derive(SimpleObject, Clone, Debug)]
pub struct AnalyticsTopAgent {
    /// The agent.
    pub agent_id: Uuid,
    /// The agent's name.
    pub agent_name: String,
    /// The workspace.
    pub workspace_id: Uuid,
    /// Runs in the last 30 days.
    #[graphql(name = "totalRuns30d")]
    pub total_runs_30d: i64,
    /// Completed runs in the last 30 days.
    #[graphql(name = "successfulRuns30d")]
    pub successful_runs_30d: i64,
    /// Percent completed.
    pub success_rate: Decimal,
    /// Average runtime (seconds).
    pub avg_runtime: Option<Decimal>,
    /// Median runtime (seconds).
    pub median_runtime: Option<Decimal>,
    /// Credits in the last 30 days.
    #[graphql(name = "totalCredits30d")]
    pub total_credits_30d: Decimal,
    /// Distinct users in the last 30 days.
    #[graphql(name = "uniqueUsers30d")]
    pub unique_users_30d: i64,
    /// Last run.
    pub last_run_at: Option<DateTime<FixedOffset>>,
}

impl From<v_top_agents::Model> for AnalyticsTopAgent {
    fn from(m: v_top_agents::Model) -> Self {
        Self {
            agent_id: m.agent_id,
            agent_name: m.agent_name,
            workspace_id: m.workspace_id,
            total_runs_30d: m.total_runs_30d,
            successful_runs_30d: m.successful_runs_30d,
            success_rate: m.success_rate,
            avg_runtime: m.avg_runtime,
            median_runtime: m.median_runtime,
            total_credits_30d: m.total_credits_30d,
            unique_users_30d: m.unique_users_30d,
            last_run_at: m.last_run_at,
        }
    }
}

/// A workspace's totals (`v_workspace_summary`).
#[derive(SimpleObject, Clone, Debug)]
pub struct AnalyticsWorkspaceSummary {
    /// The workspace.
    pub workspace_id: Uuid,
    /// Its name.
    pub workspace_name: String,
    /// Members.
    pub total_members: i64,
    /// Agents.
    pub total_agents: i64,
    /// Runs in the last 30 days.
    #[graphql(name = "totalRuns30d")]
    pub total_runs_30d: i64,
    /// Credits in the last 30 days.
    #[graphql(name = "totalCredits30d")]
    pub total_credits_30d: Decimal,
    /// Average runtime in the last 30 days (seconds).
    #[graphql(name = "avgRuntime30d")]
    pub avg_runtime_30d: Option<Decimal>,
    /// Distinct users with runs in the last 30 days.
    #[graphql(name = "activeUsers30d")]
    pub active_users_30d: i64,
}

impl From<v_workspace_summary::Model> for AnalyticsWorkspaceSummary {
    fn from(m: v_workspace_summary::Model) -> Self {
        Self {
            workspace_id: m.workspace_id,
            workspace_name: m.workspace_name,
            total_members: m.total_members,
            total_agents: m.total_agents,
            total_runs_30d: m.total_runs_30d,
            total_credits_30d: m.total_credits_30d,
            avg_runtime_30d: m.avg_runtime_30d,
            active_users_30d: m.active_users_30d,
        }
    }
}

/// One group of `agentRunAggregate`: keys not grouped by are null.
#[derive(SimpleObject, Clone, Debug)]
pub struct AgentRunAggregateRow {
    /// The start day (UTC), when grouped by DAY.
    pub day: Option<NaiveDate>,
    /// The status, when grouped by STATUS.
    pub status: Option<AgentRunStatus>,
    /// The agent, when grouped by AGENT.
    pub agent_id: Option<Uuid>,
    /// The workspace, when grouped by WORKSPACE.
    pub workspace_id: Option<Uuid>,
    /// Runs in the group.
    pub count: i64,
    /// Credits consumed (0 for an empty group).
    pub total_credits: Decimal,
    /// Tokens used (0 for an empty group).
    pub total_tokens: i64,
    /// Average runtime (seconds); null when no run has one.
    pub avg_runtime_seconds: Option<Decimal>,
}

/// One group of `activityEventAggregate`: keys not grouped by are null.
#[derive(SimpleObject, Clone, Debug)]
pub struct ActivityEventAggregateRow {
    /// The day (UTC), when grouped by DAY.
    pub day: Option<NaiveDate>,
    /// The event type, when grouped by EVENT_TYPE.
    pub event_type: Option<ActivityEventType>,
    /// The workspace, when grouped by WORKSPACE.
    pub workspace_id: Option<Uuid>,
    /// The user, when grouped by USER.
    pub user_id: Option<Uuid>,
    /// Events in the group.
    pub count: i64,
    /// Distinct users in the group.
    pub unique_users: i64,
}

/// The result of `createWorkspace`.
#[derive(SimpleObject)]
pub struct CreateWorkspacePayload {
    /// The new workspace (the viewer is its owner member).
    pub workspace: Workspace,
}

/// The result of `addWorkspaceMember`.
#[derive(SimpleObject)]
pub struct AddWorkspaceMemberPayload {
    /// The new membership.
    pub member: WorkspaceMember,
}

/// The result of `removeWorkspaceMember`.
#[derive(SimpleObject)]
pub struct RemoveWorkspaceMemberPayload {
    /// The removed membership, as it was.
    pub removed_member: WorkspaceMember,
}

/// The result of `updateWorkspaceMemberRole`.
#[derive(SimpleObject)]
pub struct UpdateWorkspaceMemberRolePayload {
    /// The membership with its new role.
    pub member: WorkspaceMember,
}

/// The result of `recordActivityEvent`.
#[derive(SimpleObject)]
pub struct RecordActivityEventPayload {
    /// The stored event.
    pub event: AnalyticsActivityEvent,
}

/// The result of `createAlertRule`.
#[derive(SimpleObject)]
pub struct CreateAlertRulePayload {
    /// The new rule.
    pub alert_rule: AnalyticsAlertRule,
}

/// The result of `updateAlertRule`.
#[derive(SimpleObject)]
pub struct UpdateAlertRulePayload {
    /// The changed rule.
    pub alert_rule: AnalyticsAlertRule,
}

/// The result of `deleteAlertRule`.
#[derive(SimpleObject)]
pub struct DeleteAlertRulePayload {
    /// The id of the deleted rule.
    pub deleted_id: Uuid,
}

/// The result of `acknowledgeAlert`.
#[derive(SimpleObject)]
pub struct AcknowledgeAlertPayload {
    /// The acknowledged alert.
    pub alert: AnalyticsAlert,
}

/// The result of `aggregateDailyMetrics`.
#[derive(SimpleObject)]
pub struct AggregateDailyMetricsPayload {
    /// Rows written (inserted or recomputed).
    pub rows_written: i32,
    /// The day's rows as they are now.
    pub metrics: Vec<AnalyticsDailyMetrics>,
}

/// The result of `refreshAnalyticsViews`.
#[derive(SimpleObject)]
pub struct RefreshAnalyticsViewsPayload {
    /// Always true: the views were refreshed.
    pub refreshed: bool,
}

/// The result of `cleanupAnalyticsData`.
#[derive(SimpleObject)]
pub struct CleanupAnalyticsDataPayload {
    /// Activity events older than 90 days deleted.
    pub user_activity_deleted: i64,
    /// Hourly rollups older than 30 days deleted.
    pub hourly_metrics_deleted: i64,
}

/// The result of `evaluateAlertRules`.
#[derive(SimpleObject)]
pub struct EvaluateAlertRulesPayload {
    /// Alerts fired (rows written to the alert history).
    pub alerts_fired: i32,
}
