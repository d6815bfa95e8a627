//! Inputs of the workspace analytics domain: `where` filters, `orderBy`
//! lists, date ranges, aggregate groupings and the mutation inputs.

use super::types::{
    ActivityEventType, AgentRunStatus, AlertCondition, AlertMetricType, WorkspaceRole,
};
use crate::graphql::error::{ApiError, ApiResult};
use crate::graphql::filter::enum_filter;
use crate::graphql::filter::{combine, opt};
use crate::graphql::filter::{
    BooleanFilter, DateTimeFilter, DecimalFilter, IntFilter, StringFilter, UuidFilter,
};
pub use crate::graphql::ordering::{normalize_order, OrderEntry};
use crate::graphql::ordering::{order_input, with_tiebreak};
use crate::graphql::pagination::{SortDirection, SortKey};
use async_graphql::{Enum, InputObject, Json};
use chrono::NaiveDate;
use entity::analytics::{
    agent_performance, alert_history, daily_metrics, hourly_metrics, user_activity, user_cohorts,
    v_active_users, v_top_agents,
};
use entity::public::{agent_runs, agents, workspaces};
use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, Condition};
use uuid::Uuid;

/// An inclusive range of UTC days; either end may be open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DateRange {
    /// First day.
    pub from: Option<NaiveDate>,
    /// Last day.
    pub to: Option<NaiveDate>,
}

impl DateRange {
    /// The range, BAD_USER_INPUT on `from` when it ends before it starts.
    pub fn new(from: Option<NaiveDate>, to: Option<NaiveDate>) -> ApiResult<Self> {
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                return Err(ApiError::bad_input("from", "from must not be after to"));
            }
        }
        Ok(Self { from, to })
    }

    /// `column BETWEEN from AND to`, open ends omitted.
    pub fn condition(&self, column: impl ColumnTrait) -> Condition {
        Condition::all()
            .add_option(self.from.map(|f| column.gte(f)))
            .add_option(self.to.map(|t| column.lte(t)))
    }
}

enum_filter!(
    /// Filter on a run status.
    AgentRunStatusFilter,
    AgentRunStatus
);
enum_filter!(
    /// Filter on an activity event type.
    ActivityEventTypeFilter,
    ActivityEventType
);

/// Which workspaces to return (always only the viewer's).
#[derive(InputObject, Clone, Debug, Default)]
pub struct WorkspaceWhere {
    /// Workspace id.
    pub id: Option<UuidFilter>,
    /// Name.
    pub name: Option<StringFilter>,
    /// Owner.
    pub owner_id: Option<UuidFilter>,
    /// Creation time.
    pub created_at: Option<DateTimeFilter>,
    /// All of these.
    pub and: Option<Vec<WorkspaceWhere>>,
    /// Any of these.
    pub or: Option<Vec<WorkspaceWhere>>,
    /// Not this.
    pub not: Option<Box<WorkspaceWhere>>,
}

impl WorkspaceWhere {
    /// The SQL condition.
    pub fn condition(&self) -> Condition {
        use workspaces::Column as C;
        let mut c = Condition::all();
        c = opt(c, &self.id, |f| f.condition(C::Id));
        c = opt(c, &self.name, |f| f.condition(C::Name));
        c = opt(c, &self.owner_id, |f| f.condition(C::OwnerId));
        c = opt(c, &self.created_at, |f| f.condition(C::CreatedAt));
        combine(c, &self.and, &self.or, &self.not, Self::condition)
    }
}

/// Which agents to return (always only those of the viewer's workspaces).
#[derive(InputObject, Clone, Debug, Default)]
pub struct AgentWhere {
    /// Agent id.
    pub id: Option<UuidFilter>,
    /// The workspace.
    pub workspace_id: Option<UuidFilter>,
    /// Name.
    pub name: Option<StringFilter>,
    /// Default model.
    pub model: Option<StringFilter>,
    /// Whether the agent is active.
    pub is_active: Option<BooleanFilter>,
    /// Who created it.
    pub created_by: Option<UuidFilter>,
    /// Creation time.
    pub created_at: Option<DateTimeFilter>,
    /// All of these.
    pub and: Option<Vec<AgentWhere>>,
    /// Any of these.
    pub or: Option<Vec<AgentWhere>>,
    /// Not this.
    pub not: Option<Box<AgentWhere>>,
}

impl AgentWhere {
    /// The SQL condition.
    pub fn condition(&self) -> Condition {
        use agents::Column as C;
        let mut c = Condition::all();
        c = opt(c, &self.id, |f| f.condition(C::Id));
        c = opt(c, &self.workspace_id, |f| f.condition(C::WorkspaceId));
        c = opt(c, &self.name, |f| f.condition(C::Name));
        c = opt(c, &self.model, |f| f.condition(C::Model));
        c = opt(c, &self.is_active, |f| f.condition(C::IsActive));
        c = opt(c, &self.created_by, |f| f.condition(C::CreatedBy));
        c = opt(c, &self.created_at, |f| f.condition(C::CreatedAt));
        combine(c, &self.and, &self.or, &self.not, Self::condition)
    }
}

/// Which agent runs to return (always only those of the viewer's
/// workspaces).
#[derive(InputObject, Clone, Debug, Default)]
pub struct AgentRunWhere {
    /// Run id.
    pub id: Option<UuidFilter>,
    /// The agent.
    pub agent_id: Option<UuidFilter>,
    /// The workspace.
    pub workspace_id: Option<UuidFilter>,
    /// Who started it.
    pub user_id: Option<UuidFilter>,
    /// State.
    pub status: Option<AgentRunStatusFilter>,
    /// Start time.
    pub started_at: Option<DateTimeFilter>,
    /// End time.
    pub completed_at: Option<DateTimeFilter>,
    /// Runtime (seconds).
    pub runtime_seconds: Option<DecimalFilter>,
    /// Credits consumed.
    pub credits_consumed: Option<DecimalFilter>,
    /// Tokens used.
    pub tokens_used: Option<IntFilter>,
    /// Model.
    pub model: Option<StringFilter>,
    /// Error kind.
    pub error_type: Option<StringFilter>,
    /// All of these.
    pub and: Option<Vec<AgentRunWhere>>,
    /// Any of these.
    pub or: Option<Vec<AgentRunWhere>>,
    /// Not this.
    pub not: Option<Box<AgentRunWhere>>,
}

impl AgentRunWhere {
    /// The SQL condition.
    pub fn condition(&self) -> Condition {
        use agent_runs::Column as C;
        let mut c = Condition::all();
        c = opt(c, &self.id, |f| f.condition(C::Id));
        c = opt(c, &self.agent_id, |f| f.condition(C::AgentId));
        c = opt(c, &self.workspace_id, |f| f.condition(C::WorkspaceId));
        c = opt(c, &self.user_id, |f| f.condition(C::UserId));
        c = opt(c, &self.status, |f| f.condition(C::Status));
        c = opt(c, &self.started_at, |f| f.condition(C::StartedAt));
        c = opt(c, &self.completed_at, |f| f.condition(C::CompletedAt));
        c = opt(c, &self.runtime_seconds, |f| f.condition(C::RuntimeSeconds));
        c = opt(c, &self.credits_consumed, |f| {
            f.condition(C::CreditsConsumed)
        });
        c = opt(c, &self.tokens_used, |f| f.condition(C::TokensUsed));
        c = opt(c, &self.model, |f| f.condition(C::Model));
        c = opt(c, &self.error_type, |f| f.condition(C::ErrorType));
        combine(c, &self.and, &self.or, &self.not, Self::condition)
    }
}

/// Which activity events to return (the viewer's own and those of the
/// viewer's workspaces).
#[derive(InputObject, Clone, Debug, Default)]
pub struct ActivityEventWhere {
    /// Event id.
    pub id: Option<UuidFilter>,
    /// Who did it.
    pub user_id: Option<UuidFilter>,
    /// The workspace.
    pub workspace_id: Option<UuidFilter>,
    /// Kind of event.
    pub event_type: Option<ActivityEventTypeFilter>,
    /// Event name.
    pub event_name: Option<StringFilter>,
    /// Page path.
    pub page_path: Option<StringFilter>,
    /// Client session.
    pub session_id: Option<UuidFilter>,
    /// When it happened.
    pub created_at: Option<DateTimeFilter>,
    /// All of these.
    pub and: Option<Vec<ActivityEventWhere>>,
    /// Any of these.
    pub or: Option<Vec<ActivityEventWhere>>,
    /// Not this.
    pub not: Option<Box<ActivityEventWhere>>,
}

impl ActivityEventWhere {
    /// The SQL condition.
    pub fn condition(&self) -> Condition {
        use user_activity::Column as C;
        let mut c = Condition::all();
        c = opt(c, &self.id, |f| f.condition(C::Id));
        c = opt(c, &self.user_id, |f| f.condition(C::UserId));
        c = opt(c, &self.workspace_id, |f| f.condition(C::WorkspaceId));
        c = opt(c, &self.event_type, |f| f.condition(C::EventType));
        c = opt(c, &self.event_name, |f| f.condition(C::EventName));
        c = opt(c, &self.page_path, |f| f.condition(C::PagePath));
        c = opt(c, &self.session_id, |f| f.condition(C::SessionId));
        c = opt(c, &self.created_at, |f| f.condition(C::CreatedAt));
        combine(c, &self.and, &self.or, &self.not, Self::condition)
    }
}

/// Sortable fields of agent runs.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AgentRunOrderField {
    /// Start time.
    StartedAt,
}

/// One `orderBy` entry of agent runs.
#[derive(InputObject, Clone, Copy, Debug)]
pub struct AgentRunOrder {
    /// The field to sort by.
    pub field: AgentRunOrderField,
    /// The direction (default ASC).
    #[graphql(default_with = "SortDirection::Asc")]
    pub direction: SortDirection,
}

/// Sortable fields of activity events.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActivityEventOrderField {
    /// Event time.
    CreatedAt,
}

/// One `orderBy` entry of activity events.
#[derive(InputObject, Clone, Copy, Debug)]
pub struct ActivityEventOrder {
    /// The field to sort by.
    pub field: ActivityEventOrderField,
    /// The direction (default ASC).
    #[graphql(default_with = "SortDirection::Asc")]
    pub direction: SortDirection,
}

/// The direction of the first entry, or newest first: both orderings have
/// one field, so only the direction can vary.
fn direction_of(order: Option<Vec<SortDirection>>) -> SortDirection {
    order
        .and_then(|o| o.first().copied())
        .unwrap_or(SortDirection::Desc)
}

/// The direction of an agent run ordering (default: newest first).
pub fn run_direction(order: Option<Vec<AgentRunOrder>>) -> SortDirection {
    direction_of(order.map(|o| o.into_iter().map(|e| e.direction).collect()))
}

/// Sort keys of an agent run ordering (primary key as tiebreak).
pub fn run_sort_keys(order: Option<Vec<AgentRunOrder>>) -> Vec<SortKey<agent_runs::Column>> {
    let d = run_direction(order);
    vec![
        (agent_runs::Column::StartedAt, d),
        (agent_runs::Column::Id, d),
    ]
}

/// Sort keys of an activity ordering (primary key as tiebreak).
pub fn activity_sort_keys(
    order: Option<Vec<ActivityEventOrder>>,
) -> Vec<SortKey<user_activity::Column>> {
    let d = direction_of(order.map(|o| o.into_iter().map(|e| e.direction).collect()));
    vec![
        (user_activity::Column::CreatedAt, d),
        (user_activity::Column::Id, d),
    ]
}

order_input!(
    /// One `orderBy` entry of a workspace's agents.
    AgentOrder,
    /// Sortable fields of agents.
    AgentOrderField {
        /// Creation time.
        CreatedAt,
    }
);

order_input!(
    /// One `orderBy` entry of daily rollups.
    AnalyticsDailyMetricsOrder,
    /// Sortable fields of daily rollups.
    AnalyticsDailyMetricsOrderField {
        /// The UTC day.
        MetricDate,
    }
);

order_input!(
    /// One `orderBy` entry of hourly rollups.
    AnalyticsHourlyMetricsOrder,
    /// Sortable fields of hourly rollups.
    AnalyticsHourlyMetricsOrderField {
        /// The hour.
        MetricHour,
    }
);

order_input!(
    /// One `orderBy` entry of per-agent daily performance, e.g.
    /// `[{METRIC_DATE, DESC}, {TOTAL_RUNS, DESC}]` (the busiest agents of
    /// each day first).
    AnalyticsAgentPerformanceOrder,
    /// Sortable fields of per-agent daily performance.
    AnalyticsAgentPerformanceOrderField {
        /// The UTC day.
        MetricDate,
        /// Runs of the day.
        TotalRuns,
    }
);

order_input!(
    /// One `orderBy` entry of retention cohorts.
    AnalyticsUserCohortOrder,
    /// Sortable fields of retention cohorts.
    AnalyticsUserCohortOrderField {
        /// First day of the cohort.
        CohortDate,
    }
);

order_input!(
    /// One `orderBy` entry of fired alerts.
    AnalyticsAlertOrder,
    /// Sortable fields of fired alerts.
    AnalyticsAlertOrderField {
        /// When it fired.
        TriggeredAt,
    }
);

order_input!(
    /// One `orderBy` entry of daily active users.
    AnalyticsActiveUsersOrder,
    /// Sortable fields of daily active users.
    AnalyticsActiveUsersOrderField {
        /// The UTC day.
        ActivityDate,
    }
);

order_input!(
    /// One `orderBy` entry of top agents.
    AnalyticsTopAgentOrder,
    /// Sortable fields of top agents.
    AnalyticsTopAgentOrderField {
        /// Runs in the last 30 days.
        #[graphql(name = "TOTAL_RUNS_30D")]
        TotalRuns30d,
    }
);

/// Declares the default ordering and the sort-key function of a nested
/// list: `$column` maps each field to its column, `$pk` is the tiebreak.
macro_rules! nested_order {
    ($(#[$doc:meta])* $keys:ident, $default:ident, $entity:ident, $field:ident,
     [$(($dfield:ident, $ddir:ident)),+], { $($variant:ident => $column:ident),+ $(,)? }, $pk:ident) => {
        /// The default `orderBy` of the list (see the sort-key function).
        pub const $default: &[($field, SortDirection)] =
            &[$(($field::$dfield, SortDirection::$ddir)),+];

        $(#[$doc])*
        pub fn $keys(order: &[($field, SortDirection)]) -> Vec<SortKey<$entity::Column>> {
            with_tiebreak(
                order,
                |f| match f {
                    $($field::$variant => $entity::Column::$column),+
                },
                $entity::Column::$pk,
            )
        }
    };
}

nested_order!(
    /// Sort keys of a workspace's agents (default: oldest first).
    agent_sort_keys, AGENT_DEFAULT_ORDER, agents, AgentOrderField,
    [(CreatedAt, Asc)], { CreatedAt => CreatedAt }, Id
);
nested_order!(
    /// Sort keys of daily rollups (default: newest first).
    daily_metrics_sort_keys, DAILY_METRICS_DEFAULT_ORDER, daily_metrics,
    AnalyticsDailyMetricsOrderField, [(MetricDate, Desc)], { MetricDate => MetricDate }, Id
);
nested_order!(
    /// Sort keys of hourly rollups (default: newest first).
    hourly_metrics_sort_keys, HOURLY_METRICS_DEFAULT_ORDER, hourly_metrics,
    AnalyticsHourlyMetricsOrderField, [(MetricHour, Desc)], { MetricHour => MetricHour }, Id
);
nested_order!(
    /// Sort keys of per-agent daily performance (default: newest first).
    agent_performance_sort_keys, AGENT_PERFORMANCE_DEFAULT_ORDER, agent_performance,
    AnalyticsAgentPerformanceOrderField, [(MetricDate, Desc)],
    { MetricDate => MetricDate, TotalRuns => TotalRuns }, Id
);
nested_order!(
    /// Sort keys of retention cohorts (default: newest first).
    cohort_sort_keys, COHORT_DEFAULT_ORDER, user_cohorts, AnalyticsUserCohortOrderField,
    [(CohortDate, Desc)], { CohortDate => CohortDate }, Id
);
nested_order!(
    /// Sort keys of fired alerts (default: newest first).
    alert_sort_keys, ALERT_DEFAULT_ORDER, alert_history, AnalyticsAlertOrderField,
    [(TriggeredAt, Desc)], { TriggeredAt => TriggeredAt }, Id
);
nested_order!(
    /// Sort keys of daily active users (default: newest first; the day is
    /// unique per workspace, the workspace id completes the key).
    active_users_sort_keys, ACTIVE_USERS_DEFAULT_ORDER, v_active_users,
    AnalyticsActiveUsersOrderField, [(ActivityDate, Desc)], { ActivityDate => ActivityDate },
    WorkspaceId
);
nested_order!(
    /// Sort keys of top agents (default: most runs first).
    top_agent_sort_keys, TOP_AGENT_DEFAULT_ORDER, v_top_agents, AnalyticsTopAgentOrderField,
    [(TotalRuns30d, Desc)], { TotalRuns30d => TotalRuns30d }, AgentId
);

/// Grouping keys of `agentRunAggregate`.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AgentRunGroupBy {
    /// By start day (UTC).
    Day,
    /// By status.
    Status,
    /// By agent.
    Agent,
    /// By workspace.
    Workspace,
}

/// Grouping keys of `activityEventAggregate`.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActivityEventGroupBy {
    /// By day (UTC).
    Day,
    /// By event type.
    EventType,
    /// By workspace.
    Workspace,
    /// By user.
    User,
}

/// Input of `createWorkspace`.
#[derive(InputObject, Debug)]
pub struct CreateWorkspaceInput {
    /// Name (not blank, at most 255 characters).
    pub name: String,
}

/// Input of `addWorkspaceMember` (owners and admins only).
#[derive(InputObject, Debug)]
pub struct AddWorkspaceMemberInput {
    /// The workspace.
    pub workspace_id: Uuid,
    /// The user to add.
    pub user_id: Uuid,
    /// The role (default MEMBER).
    #[graphql(default_with = "WorkspaceRole::Member")]
    pub role: WorkspaceRole,
}

/// Input of `removeWorkspaceMember`: owners and admins remove anyone, every
/// member may remove themselves (leave).
#[derive(InputObject, Debug)]
pub struct RemoveWorkspaceMemberInput {
    /// The workspace.
    pub workspace_id: Uuid,
    /// The member to remove.
    pub user_id: Uuid,
}

/// Input of `updateWorkspaceMemberRole` (owners and admins only).
#[derive(InputObject, Debug)]
pub struct UpdateWorkspaceMemberRoleInput {
    /// The workspace.
    pub workspace_id: Uuid,
    /// The member.
    pub user_id: Uuid,
    /// The new role.
    pub role: WorkspaceRole,
}

/// Input of `recordActivityEvent`: an event of the viewer.
#[derive(InputObject, Debug)]
pub struct RecordActivityEventInput {
    /// Kind of event.
    pub event_type: ActivityEventType,
    /// The workspace it happened in (one the viewer is a member of).
    pub workspace_id: Option<Uuid>,
    /// Event name (at most 100 characters).
    pub event_name: Option<String>,
    /// Page path (at most 255 characters).
    pub page_path: Option<String>,
    /// Client session.
    pub session_id: Option<Uuid>,
    /// User agent.
    pub user_agent: Option<String>,
    /// Referrer.
    pub referrer: Option<String>,
    /// Free-form metadata (a JSON object; default `{}`).
    pub metadata: Option<Json<serde_json::Value>>,
}

/// Input of `createAlertRule`.
#[derive(InputObject, Debug)]
pub struct CreateAlertRuleInput {
    /// The workspace.
    pub workspace_id: Uuid,
    /// Name (not blank, at most 255 characters).
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Evaluated (default true).
    #[graphql(default = true)]
    pub is_active: bool,
    /// The metric watched.
    pub metric_type: AlertMetricType,
    /// The comparison.
    pub condition: AlertCondition,
    /// The threshold.
    pub threshold_value: Decimal,
    /// Window of hourly metrics, 1 to 10080 minutes (default 5).
    #[graphql(default = 5)]
    pub evaluation_window_minutes: i32,
    /// Notification channels (a JSON array; default `[]`).
    pub notification_channels: Option<Json<serde_json::Value>>,
    /// Notification recipients (a JSON array; default `[]`).
    pub notification_recipients: Option<Json<serde_json::Value>>,
}

/// Input of `updateAlertRule`; omitted fields stay as they are.
#[derive(InputObject, Debug)]
pub struct UpdateAlertRuleInput {
    /// The rule.
    pub id: Uuid,
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// Evaluated or not.
    pub is_active: Option<bool>,
    /// New metric.
    pub metric_type: Option<AlertMetricType>,
    /// New comparison.
    pub condition: Option<AlertCondition>,
    /// New threshold.
    pub threshold_value: Option<Decimal>,
    /// New window (1 to 10080 minutes).
    pub evaluation_window_minutes: Option<i32>,
    /// New channels (a JSON array).
    pub notification_channels: Option<Json<serde_json::Value>>,
    /// New recipients (a JSON array).
    pub notification_recipients: Option<Json<serde_json::Value>>,
}

/// Input of `deleteAlertRule`.
#[derive(InputObject, Debug)]
pub struct DeleteAlertRuleInput {
    /// The rule.
    pub id: Uuid,
}

/// Input of `acknowledgeAlert`.
#[derive(InputObject, Debug)]
pub struct AcknowledgeAlertInput {
    /// The alert.
    pub id: Uuid,
    /// Notes.
    pub notes: Option<String>,
}

/// Input of `aggregateDailyMetrics` (service role only).
#[derive(InputObject, Debug)]
pub struct AggregateDailyMetricsInput {
    /// The UTC day to roll up.
    pub date: NaiveDate,
    /// Only this workspace (default: every workspace plus the platform row).
    pub workspace_id: Option<Uuid>,
}
