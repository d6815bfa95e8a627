//! Dataloaders of the analytics domain: rows by id and per-workspace (or
//! per-agent) child pages, one statement per relation and distinct
//! arguments, whatever the number of parents. They read through the
//! request's transaction, so RLS (and the member views' filter) applies.

use super::inputs::{
    active_users_sort_keys, agent_performance_sort_keys, agent_sort_keys, alert_sort_keys,
    cohort_sort_keys, daily_metrics_sort_keys, hourly_metrics_sort_keys, top_agent_sort_keys,
    AgentOrderField, AnalyticsActiveUsersOrderField, AnalyticsAgentPerformanceOrderField,
    AnalyticsAlertOrderField, AnalyticsDailyMetricsOrderField, AnalyticsHourlyMetricsOrderField,
    AnalyticsTopAgentOrderField, AnalyticsUserCohortOrderField, DateRange,
};
use super::types::CohortPeriod;
use crate::graphql::context::RequestTx;
use crate::graphql::error::{ApiError, ApiResult};
use crate::graphql::loading::children_loader;
use crate::graphql::loading::row_loader;
pub use crate::graphql::loading::{ChildRelation, ChildrenKey};
use crate::graphql::pagination::{SortDirection, SortKey};
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, Request};
use chrono::{DateTime, Utc};
use entity::analytics::{
    agent_performance, alert_history, alert_rules, daily_metrics, hourly_metrics, user_cohorts,
    v_active_users, v_top_agents, v_workspace_summary,
};
use entity::public::{agent_runs, agents, users, workspace_members};
use sea_orm::{ColumnTrait, Condition};
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

/// Every analytics loader of one request, over its transaction.
pub struct AnalyticsLoader {
    tx: RequestTx,
}

/// The analytics dataloader as stored in the request data.
pub type AnalyticsDataLoader = DataLoader<AnalyticsLoader>;

/// Adds the analytics dataloader over `tx` to `request`.
pub fn register_loaders(request: Request, tx: &RequestTx) -> Request {
    request.data(DataLoader::new(
        AnalyticsLoader { tx: tx.clone() },
        tokio::spawn,
    ))
}

/// Loads `key` through the request's analytics dataloader.
pub async fn load_one<K>(
    ctx: &Context<'_>,
    key: K,
) -> async_graphql::Result<Option<<AnalyticsLoader as Loader<K>>::Value>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    AnalyticsLoader: Loader<K, Error = Arc<ApiError>>,
{
    crate::graphql::loading::load_one::<AnalyticsLoader, K>(ctx, key).await
}

row_loader!(
    /// A user row by id (visible when the user shares a workspace with the
    /// viewer).
    AnalyticsLoader: UserById => users by Id(id)
);

row_loader!(
    /// The `v_workspace_summary` row of a workspace.
    AnalyticsLoader: SummaryOfWorkspace => v_workspace_summary by WorkspaceId(workspace_id)
);

children_loader!(AnalyticsLoader);

/// Declares a child relation. With `[(column, direction), ...]` the order
/// is fixed; with `order Field => keys` the `orderBy` is part of the
/// arguments (`(order, narrowing)`) and `keys` turns it into sort keys.
/// With narrowing arguments other than `()`, the type's `condition`
/// function narrows the children.
macro_rules! relation {
    ($(#[$doc:meta])* $name:ident, $entity:ident, (), $parent:ident, [$(($col:ident, $dir:ident)),+ $(,)?]) => {
        relation!(@impl $(#[$doc])* $name, $entity, (), $parent, {
            fn sort_keys(_args: &()) -> Vec<SortKey<$entity::Column>> {
                vec![$(($entity::Column::$col, SortDirection::$dir)),+]
            }
        });
    };
    ($(#[$doc:meta])* $name:ident, $entity:ident, $args:ty, $parent:ident, [$(($col:ident, $dir:ident)),+ $(,)?]) => {
        relation!(@impl $(#[$doc])* $name, $entity, $args, $parent, {
            fn sort_keys(_args: &$args) -> Vec<SortKey<$entity::Column>> {
                vec![$(($entity::Column::$col, SortDirection::$dir)),+]
            }
            fn filter(args: &$args) -> ApiResult<Condition> {
                $name::condition(args)
            }
        });
    };
    ($(#[$doc:meta])* $name:ident, $entity:ident, (), $parent:ident, order $field:ty => $keys:path) => {
        relation!(@impl $(#[$doc])* $name, $entity, (Vec<($field, SortDirection)>, ()), $parent, {
            fn sort_keys(args: &Self::Args) -> Vec<SortKey<$entity::Column>> {
                $keys(&args.0)
            }
        });
    };
    ($(#[$doc:meta])* $name:ident, $entity:ident, $args:ty, $parent:ident, order $field:ty => $keys:path) => {
        relation!(@impl $(#[$doc])* $name, $entity, (Vec<($field, SortDirection)>, $args), $parent, {
            fn sort_keys(args: &Self::Args) -> Vec<SortKey<$entity::Column>> {
                $keys(&args.0)
            }
            fn filter(args: &Self::Args) -> ApiResult<Condition> {
                $name::condition(&args.1)
            }
        });
    };
    (@impl $(#[$doc:meta])* $name:ident, $entity:ident, $args:ty, $parent:ident, { $($fns:tt)* }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub struct $name;

        impl ChildRelation for $name {
            type Entity = $entity::Entity;
            type Args = $args;
            fn parent_column() -> $entity::Column {
                $entity::Column::$parent
            }
            $($fns)*
        }
    };
}

relation!(
    /// A workspace's members, oldest first.
    MembersOfWorkspace,
    workspace_members,
    (),
    WorkspaceId,
    [(JoinedAt, Asc), (UserId, Asc)]
);

relation!(
    /// A workspace's agents in the requested order.
    AgentsOfWorkspace,
    agents,
    (),
    WorkspaceId,
    order AgentOrderField => agent_sort_keys
);

/// An agent's runs by start time (the argument: newest or oldest first).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RunsOfAgent;

impl ChildRelation for RunsOfAgent {
    type Entity = agent_runs::Entity;
    type Args = SortDirection;
    fn parent_column() -> agent_runs::Column {
        agent_runs::Column::AgentId
    }
    fn sort_keys(direction: &SortDirection) -> Vec<SortKey<agent_runs::Column>> {
        vec![
            (agent_runs::Column::StartedAt, *direction),
            (agent_runs::Column::Id, *direction),
        ]
    }
}

relation!(
    /// A workspace's daily rollups in a date range, in the requested order.
    DailyMetricsOfWorkspace,
    daily_metrics,
    DateRange,
    WorkspaceId,
    order AnalyticsDailyMetricsOrderField => daily_metrics_sort_keys
);

impl DailyMetricsOfWorkspace {
    fn condition(range: &DateRange) -> ApiResult<Condition> {
        Ok(range.condition(daily_metrics::Column::MetricDate))
    }
}

/// An inclusive range of instants; either end may be open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HourRange {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

impl HourRange {
    /// The range, BAD_USER_INPUT on `from` when it ends before it starts.
    pub fn new(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> ApiResult<Self> {
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                return Err(ApiError::bad_input("from", "from must not be after to"));
            }
        }
        Ok(Self { from, to })
    }
}

relation!(
    /// A workspace's hourly rollups in a range, in the requested order.
    HourlyMetricsOfWorkspace,
    hourly_metrics,
    HourRange,
    WorkspaceId,
    order AnalyticsHourlyMetricsOrderField => hourly_metrics_sort_keys
);

impl HourlyMetricsOfWorkspace {
    fn condition(range: &HourRange) -> ApiResult<Condition> {
        use hourly_metrics::Column as C;
        Ok(Condition::all()
            .add_option(range.from.map(|f| C::MetricHour.gte(f)))
            .add_option(range.to.map(|t| C::MetricHour.lte(t))))
    }
}

relation!(
    /// A workspace's per-agent daily performance in a date range, in the
    /// requested order.
    AgentPerformanceOfWorkspace,
    agent_performance,
    DateRange,
    WorkspaceId,
    order AnalyticsAgentPerformanceOrderField => agent_performance_sort_keys
);

impl AgentPerformanceOfWorkspace {
    fn condition(range: &DateRange) -> ApiResult<Condition> {
        Ok(range.condition(agent_performance::Column::MetricDate))
    }
}

relation!(
    /// A workspace's retention cohorts (of one period), in the requested
    /// order.
    CohortsOfWorkspace,
    user_cohorts,
    Option<CohortPeriod>,
    WorkspaceId,
    order AnalyticsUserCohortOrderField => cohort_sort_keys
);

impl CohortsOfWorkspace {
    fn condition(period: &Option<CohortPeriod>) -> ApiResult<Condition> {
        Ok(Condition::all()
            .add_option(period.map(|p| user_cohorts::Column::CohortPeriod.eq(p.as_db()))))
    }
}

relation!(
    /// A workspace's alert rules, oldest first.
    AlertRulesOfWorkspace,
    alert_rules,
    (),
    WorkspaceId,
    [(CreatedAt, Asc), (Id, Asc)]
);

relation!(
    /// A workspace's fired alerts in the requested order; the flag keeps
    /// only the unacknowledged ones.
    AlertHistoryOfWorkspace,
    alert_history,
    bool,
    WorkspaceId,
    order AnalyticsAlertOrderField => alert_sort_keys
);

impl AlertHistoryOfWorkspace {
    fn condition(unacknowledged_only: &bool) -> ApiResult<Condition> {
        Ok(Condition::all().add_option(
            unacknowledged_only.then(|| alert_history::Column::AcknowledgedAt.is_null()),
        ))
    }
}

relation!(
    /// A workspace's active users per day (member view) in a date range, in
    /// the requested order.
    ActiveUsersOfWorkspace,
    v_active_users,
    DateRange,
    WorkspaceId,
    order AnalyticsActiveUsersOrderField => active_users_sort_keys
);

impl ActiveUsersOfWorkspace {
    fn condition(range: &DateRange) -> ApiResult<Condition> {
        Ok(range.condition(v_active_users::Column::ActivityDate))
    }
}

relation!(
    /// A workspace's agents by runs in the last 30 days (member view), in
    /// the requested order.
    TopAgentsOfWorkspace,
    v_top_agents,
    (),
    WorkspaceId,
    order AnalyticsTopAgentOrderField => top_agent_sort_keys
);
