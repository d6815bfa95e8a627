//! Domain functions of the analytics API: lists, aggregates, writes and the
//! service-role maintenance operations, each over any connection (the
//! request transaction in practice, so RLS applies and a request's writes
//! commit together).

use super::inputs::{
    activity_sort_keys, run_sort_keys, AcknowledgeAlertInput, ActivityEventGroupBy,
    ActivityEventOrder, ActivityEventWhere, AddWorkspaceMemberInput, AgentRunGroupBy,
    AgentRunOrder, AgentRunWhere, AgentWhere, CreateAlertRuleInput, CreateWorkspaceInput,
    RecordActivityEventInput, RemoveWorkspaceMemberInput, UpdateAlertRuleInput,
    UpdateWorkspaceMemberRoleInput, WorkspaceWhere,
};
use super::types::{
    ActivityEventAggregateRow, ActivityEventType, Agent, AgentRun, AgentRunAggregateRow,
    AgentRunStatus, AnalyticsActivityEvent, AnalyticsAlert, AnalyticsAlertRule,
    AnalyticsDailyMetrics, Workspace, WorkspaceMember,
};
use crate::graphql::error::{db_err, ApiError, ApiResult};
use crate::graphql::pagination::{paginate, ApiConnection, Page, SortDirection};
use chrono::NaiveDate;
use entity::analytics::{alert_history, alert_rules, daily_metrics, user_activity};
use entity::public::{agent_runs, agents, workspace_members, workspaces};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, Order};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr,
    EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Statement,
};
use serde_json::Value as JsonValue;
use uuid::Uuid;

fn text(field: &str, value: &str, max: usize) -> ApiResult<String> {
    let trimmed = value.trim();
    let len = trimmed.chars().count();
    if len == 0 || len > max {
        return Err(ApiError::bad_input(
            field,
            format!("{field} must be 1 to {max} characters"),
        ));
    }
    Ok(trimmed.to_string())
}

fn max_len(field: &str, value: &Option<String>, max: usize) -> ApiResult<()> {
    match value {
        Some(v) if v.chars().count() > max => Err(ApiError::bad_input(
            field,
            format!("{field} must be at most {max} characters"),
        )),
        _ => Ok(()),
    }
}

fn json_kind(
    field: &str,
    value: Option<async_graphql::Json<JsonValue>>,
    array: bool,
) -> ApiResult<JsonValue> {
    match value {
        None if array => Ok(JsonValue::Array(Vec::new())),
        None => Ok(JsonValue::Object(Default::default())),
        Some(v) if array && v.0.is_array() => Ok(v.0),
        Some(v) if !array && v.0.is_object() => Ok(v.0),
        Some(_) => Err(ApiError::bad_input(
            field,
            format!(
                "{field} must be a JSON {}",
                if array { "array" } else { "object" }
            ),
        )),
    }
}

fn window(field: &str, minutes: i32) -> ApiResult<i32> {
    if !(1..=10080).contains(&minutes) {
        return Err(ApiError::bad_input(
            field,
            format!("{field} must be 1 to 10080"),
        ));
    }
    Ok(minutes)
}

/// A page of the viewer's workspaces matching `filter`, oldest first.
pub async fn list_workspaces(
    db: &impl ConnectionTrait,
    filter: Option<WorkspaceWhere>,
    page: &Page,
    with_total: bool,
) -> ApiResult<ApiConnection<Workspace>> {
    let mut select = workspaces::Entity::find();
    if let Some(w) = filter {
        select = select.filter(w.condition());
    }
    let keys = [
        (workspaces::Column::CreatedAt, SortDirection::Asc),
        (workspaces::Column::Id, SortDirection::Asc),
    ];
    paginate(db, select, &keys, page, with_total, Workspace).await
}

/// A workspace by id, when the viewer may see it.
pub async fn get_workspace(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<Option<Workspace>> {
    Ok(workspaces::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(Workspace))
}

/// A page of the agents matching `filter`, oldest first.
pub async fn list_agents(
    db: &impl ConnectionTrait,
    filter: Option<AgentWhere>,
    page: &Page,
    with_total: bool,
) -> ApiResult<ApiConnection<Agent>> {
    let mut select = agents::Entity::find();
    if let Some(w) = filter {
        select = select.filter(w.condition());
    }
    let keys = [
        (agents::Column::CreatedAt, SortDirection::Asc),
        (agents::Column::Id, SortDirection::Asc),
    ];
    paginate(db, select, &keys, page, with_total, Agent).await
}

/// A page of the agent runs matching `filter`.
pub async fn list_runs(
    db: &impl ConnectionTrait,
    filter: Option<AgentRunWhere>,
    order: Option<Vec<AgentRunOrder>>,
    page: &Page,
    with_total: bool,
) -> ApiResult<ApiConnection<AgentRun>> {
    let mut select = agent_runs::Entity::find();
    if let Some(w) = filter {
        select = select.filter(w.condition());
    }
    paginate(
        db,
        select,
        &run_sort_keys(order),
        page,
        with_total,
        AgentRun,
    )
    .await
}

/// A page of the activity events matching `filter`.
pub async fn list_activity(
    db: &impl ConnectionTrait,
    filter: Option<ActivityEventWhere>,
    order: Option<Vec<ActivityEventOrder>>,
    page: &Page,
    with_total: bool,
) -> ApiResult<ApiConnection<AnalyticsActivityEvent>> {
    let mut select = user_activity::Entity::find();
    if let Some(w) = filter {
        select = select.filter(w.condition());
    }
    paginate(
        db,
        select,
        &activity_sort_keys(order),
        page,
        with_total,
        AnalyticsActivityEvent,
    )
    .await
}

fn dedupe<T: PartialEq + Copy>(list: &[T]) -> Vec<T> {
    let mut out = Vec::new();
    for item in list {
        if !out.contains(item) {
            out.push(*item);
        }
    }
    out
}

/// Runs start on a UTC day, whatever the session's TimeZone.
const RUN_DAY: &str = "(started_at AT TIME ZONE 'UTC')::date";
/// Events happen on a UTC day, whatever the session's TimeZone.
const EVENT_DAY: &str = "(created_at AT TIME ZONE 'UTC')::date";

#[derive(FromQueryResult)]
struct RunGroup {
    day: Option<NaiveDate>,
    status: Option<String>,
    agent_id: Option<Uuid>,
    workspace_id: Option<Uuid>,
    count: i64,
    total_credits: Decimal,
    total_tokens: i64,
    avg_runtime_seconds: Option<Decimal>,
}

/// Counts, credits, tokens and runtime of the runs matching `filter`, per
/// `group_by` keys.
pub async fn run_aggregate(
    db: &impl ConnectionTrait,
    filter: Option<AgentRunWhere>,
    group_by: &[AgentRunGroupBy],
) -> ApiResult<Vec<AgentRunAggregateRow>> {
    use agent_runs::Column as C;
    let group_by = dedupe(group_by);
    let has = |g: AgentRunGroupBy| group_by.contains(&g);
    let mut query = agent_runs::Entity::find().select_only();
    if let Some(w) = filter {
        query = query.filter(w.condition());
    }
    query = if has(AgentRunGroupBy::Day) {
        query.expr_as(Expr::cust(RUN_DAY), "day")
    } else {
        query.expr_as(Expr::cust("NULL::date"), "day")
    };
    let keys = [
        (AgentRunGroupBy::Status, C::Status, "status", "NULL::text"),
        (AgentRunGroupBy::Agent, C::AgentId, "agent_id", "NULL::uuid"),
        (
            AgentRunGroupBy::Workspace,
            C::WorkspaceId,
            "workspace_id",
            "NULL::uuid",
        ),
    ];
    for (g, column, alias, null) in keys {
        query = if has(g) {
            query.column_as(column, alias)
        } else {
            query.expr_as(Expr::cust(null), alias)
        };
    }
    query = query
        .expr_as(Expr::cust("count(*)"), "count")
        .expr_as(
            Expr::cust("coalesce(sum(credits_consumed), 0)"),
            "total_credits",
        )
        .expr_as(
            Expr::cust("coalesce(sum(tokens_used), 0)::bigint"),
            "total_tokens",
        )
        .expr_as(
            Expr::cust("round(avg(runtime_seconds), 2)"),
            "avg_runtime_seconds",
        );
    for g in &group_by {
        let column = match g {
            AgentRunGroupBy::Day => {
                query = query
                    .group_by(Expr::cust(RUN_DAY))
                    .order_by(Expr::cust(RUN_DAY), Order::Asc);
                continue;
            }
            AgentRunGroupBy::Status => C::Status,
            AgentRunGroupBy::Agent => C::AgentId,
            AgentRunGroupBy::Workspace => C::WorkspaceId,
        };
        query = query.group_by(column).order_by(column, Order::Asc);
    }
    let rows = query
        .into_model::<RunGroup>()
        .all(db)
        .await
        .map_err(db_err)?;
    rows.into_iter()
        .map(|r| {
            Ok(AgentRunAggregateRow {
                day: r.day,
                status: r
                    .status
                    .as_deref()
                    .map(AgentRunStatus::from_db)
                    .transpose()?,
                agent_id: r.agent_id,
                workspace_id: r.workspace_id,
                count: r.count,
                total_credits: r.total_credits,
                total_tokens: r.total_tokens,
                avg_runtime_seconds: r.avg_runtime_seconds,
            })
        })
        .collect()
}

#[derive(FromQueryResult)]
struct EventGroup {
    day: Option<NaiveDate>,
    event_type: Option<String>,
    workspace_id: Option<Uuid>,
    user_id: Option<Uuid>,
    count: i64,
    unique_users: i64,
}

/// Counts and distinct users of the events matching `filter`, per
/// `group_by` keys.
pub async fn activity_aggregate(
    db: &impl ConnectionTrait,
    filter: Option<ActivityEventWhere>,
    group_by: &[ActivityEventGroupBy],
) -> ApiResult<Vec<ActivityEventAggregateRow>> {
    use user_activity::Column as C;
    let group_by = dedupe(group_by);
    let has = |g: ActivityEventGroupBy| group_by.contains(&g);
    let mut query = user_activity::Entity::find().select_only();
    if let Some(w) = filter {
        query = query.filter(w.condition());
    }
    query = if has(ActivityEventGroupBy::Day) {
        query.expr_as(Expr::cust(EVENT_DAY), "day")
    } else {
        query.expr_as(Expr::cust("NULL::date"), "day")
    };
    let keys = [
        (
            ActivityEventGroupBy::EventType,
            C::EventType,
            "event_type",
            "NULL::text",
        ),
        (
            ActivityEventGroupBy::Workspace,
            C::WorkspaceId,
            "workspace_id",
            "NULL::uuid",
        ),
        (
            ActivityEventGroupBy::User,
            C::UserId,
            "user_id",
            "NULL::uuid",
        ),
    ];
    for (g, column, alias, null) in keys {
        query = if has(g) {
            query.column_as(column, alias)
        } else {
            query.expr_as(Expr::cust(null), alias)
        };
    }
    query = query
        .expr_as(Expr::cust("count(*)"), "count")
        .expr_as(Expr::cust("count(DISTINCT user_id)"), "unique_users");
    for g in &group_by {
        let column = match g {
            ActivityEventGroupBy::Day => {
                query = query
                    .group_by(Expr::cust(EVENT_DAY))
                    .order_by(Expr::cust(EVENT_DAY), Order::Asc);
                continue;
            }
            ActivityEventGroupBy::EventType => C::EventType,
            ActivityEventGroupBy::Workspace => C::WorkspaceId,
            ActivityEventGroupBy::User => C::UserId,
        };
        query = query.group_by(column).order_by(column, Order::Asc);
    }
    let rows = query
        .into_model::<EventGroup>()
        .all(db)
        .await
        .map_err(db_err)?;
    rows.into_iter()
        .map(|r| {
            Ok(ActivityEventAggregateRow {
                day: r.day,
                event_type: r
                    .event_type
                    .as_deref()
                    .map(ActivityEventType::from_db)
                    .transpose()?,
                workspace_id: r.workspace_id,
                user_id: r.user_id,
                count: r.count,
                unique_users: r.unique_users,
            })
        })
        .collect()
}

/// Creates a workspace owned by `user` (the database makes them its owner
/// member).
pub async fn create_workspace(
    db: &impl ConnectionTrait,
    user: Uuid,
    input: CreateWorkspaceInput,
) -> ApiResult<Workspace> {
    let name = text("name", &input.name, 255)?;
    let row = workspaces::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set(name),
        owner_id: Set(Some(user)),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(db_err)?;
    Ok(Workspace(row))
}

/// NOT_FOUND unless the viewer may see workspace `id`.
pub(crate) async fn visible_workspace(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<()> {
    workspaces::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(|_| ())
        .ok_or(ApiError::NotFound("workspace"))
}

/// Adds a member (owners and admins only: RLS refuses the others).
pub async fn add_member(
    db: &impl ConnectionTrait,
    input: AddWorkspaceMemberInput,
) -> ApiResult<WorkspaceMember> {
    visible_workspace(db, input.workspace_id).await?;
    let row = workspace_members::ActiveModel {
        workspace_id: Set(input.workspace_id),
        user_id: Set(input.user_id),
        role: Set(input.role.as_db().to_string()),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(db_err)?;
    Ok(WorkspaceMember(row))
}

/// The membership of `user` in `workspace`; NOT_FOUND unless the viewer can
/// see it (RLS: members see their workspace's members).
async fn visible_member(
    db: &impl ConnectionTrait,
    workspace: Uuid,
    user: Uuid,
) -> ApiResult<workspace_members::Model> {
    workspace_members::Entity::find_by_id((workspace, user))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("workspace member"))
}

/// The membership of `user` in `workspace`, as a condition.
fn membership(workspace: Uuid, user: Uuid) -> Condition {
    Condition::all()
        .add(workspace_members::Column::WorkspaceId.eq(workspace))
        .add(workspace_members::Column::UserId.eq(user))
}

/// The membership a write returned; none means RLS hid the (visible)
/// membership from the write: FORBIDDEN.
fn written(rows: Vec<workspace_members::Model>) -> ApiResult<WorkspaceMember> {
    rows.into_iter()
        .next()
        .map(WorkspaceMember)
        .ok_or_else(|| ApiError::Forbidden("not allowed".into()))
}

/// Removes a member: owners and admins remove anyone, a member removes
/// themselves (RLS). A visible membership the viewer may not remove is
/// FORBIDDEN. Returns the removed membership as it was.
pub async fn remove_member(
    db: &impl ConnectionTrait,
    input: RemoveWorkspaceMemberInput,
) -> ApiResult<WorkspaceMember> {
    visible_member(db, input.workspace_id, input.user_id).await?;
    let rows = workspace_members::Entity::delete_many()
        .filter(membership(input.workspace_id, input.user_id))
        .exec_with_returning(db)
        .await
        .map_err(db_err)?;
    written(rows)
}

/// Changes a member's role (owners and admins only, RLS). A visible
/// membership the viewer may not change is FORBIDDEN.
pub async fn update_member_role(
    db: &impl ConnectionTrait,
    input: UpdateWorkspaceMemberRoleInput,
) -> ApiResult<WorkspaceMember> {
    visible_member(db, input.workspace_id, input.user_id).await?;
    let rows = workspace_members::Entity::update_many()
        .col_expr(
            workspace_members::Column::Role,
            Expr::value(input.role.as_db()),
        )
        .filter(membership(input.workspace_id, input.user_id))
        .exec_with_returning(db)
        .await
        .map_err(db_err)?;
    written(rows)
}

/// Records an event of `user` (in a workspace they belong to, if any).
pub async fn record_activity(
    db: &impl ConnectionTrait,
    user: Uuid,
    input: RecordActivityEventInput,
) -> ApiResult<AnalyticsActivityEvent> {
    max_len("eventName", &input.event_name, 100)?;
    max_len("pagePath", &input.page_path, 255)?;
    let metadata = json_kind("metadata", input.metadata, false)?;
    if let Some(ws) = input.workspace_id {
        // An unknown or foreign workspace is a bad field of this input, not
        // a missing object of the operation.
        visible_workspace(db, ws).await.map_err(|e| match e {
            ApiError::NotFound(_) => ApiError::bad_input("workspaceId", "no such workspace"),
            other => other,
        })?;
    }
    let row = user_activity::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user),
        workspace_id: Set(input.workspace_id),
        event_type: Set(input.event_type.as_db().to_string()),
        event_name: Set(input.event_name),
        page_path: Set(input.page_path),
        session_id: Set(input.session_id),
        user_agent: Set(input.user_agent),
        referrer: Set(input.referrer),
        metadata: Set(metadata),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(db_err)?;
    Ok(AnalyticsActivityEvent(row))
}

/// Creates an alert rule by `user` (contributors only: RLS refuses viewers).
pub async fn create_alert_rule(
    db: &impl ConnectionTrait,
    user: Uuid,
    input: CreateAlertRuleInput,
) -> ApiResult<AnalyticsAlertRule> {
    let name = text("name", &input.name, 255)?;
    let minutes = window("evaluationWindowMinutes", input.evaluation_window_minutes)?;
    let channels = json_kind("notificationChannels", input.notification_channels, true)?;
    let recipients = json_kind(
        "notificationRecipients",
        input.notification_recipients,
        true,
    )?;
    visible_workspace(db, input.workspace_id).await?;
    let row = alert_rules::ActiveModel {
        id: Set(Uuid::new_v4()),
        workspace_id: Set(Some(input.workspace_id)),
        name: Set(name),
        description: Set(input.description),
        is_active: Set(input.is_active),
        metric_type: Set(input.metric_type.as_db().to_string()),
        condition: Set(input.condition.as_db().to_string()),
        threshold_value: Set(input.threshold_value),
        evaluation_window_minutes: Set(minutes),
        notification_channels: Set(channels),
        notification_recipients: Set(recipients),
        created_by: Set(Some(user)),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(db_err)?;
    Ok(AnalyticsAlertRule(row))
}

/// RLS hid the row from the UPDATE although the viewer can read it: a
/// member without the role to change it.
fn not_updated(err: DbErr) -> ApiError {
    match err {
        DbErr::RecordNotUpdated => ApiError::Forbidden("not allowed".into()),
        other => db_err(other),
    }
}

/// Changes an alert rule (contributors only).
pub async fn update_alert_rule(
    db: &impl ConnectionTrait,
    input: UpdateAlertRuleInput,
) -> ApiResult<AnalyticsAlertRule> {
    let existing = alert_rules::Entity::find_by_id(input.id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("alert rule"))?;
    let mut row: alert_rules::ActiveModel = existing.clone().into();
    if let Some(name) = &input.name {
        row.name = Set(text("name", name, 255)?);
    }
    if let Some(d) = input.description {
        row.description = Set(Some(d));
    }
    if let Some(a) = input.is_active {
        row.is_active = Set(a);
    }
    if let Some(m) = input.metric_type {
        row.metric_type = Set(m.as_db().to_string());
    }
    if let Some(c) = input.condition {
        row.condition = Set(c.as_db().to_string());
    }
    if let Some(t) = input.threshold_value {
        row.threshold_value = Set(t);
    }
    if let Some(m) = input.evaluation_window_minutes {
        row.evaluation_window_minutes = Set(window("evaluationWindowMinutes", m)?);
    }
    if input.notification_channels.is_some() {
        row.notification_channels = Set(json_kind(
            "notificationChannels",
            input.notification_channels,
            true,
        )?);
    }
    if input.notification_recipients.is_some() {
        row.notification_recipients = Set(json_kind(
            "notificationRecipients",
            input.notification_recipients,
            true,
        )?);
    }
    if !row.is_changed() {
        return Ok(AnalyticsAlertRule(existing));
    }
    let row = row.update(db).await.map_err(not_updated)?;
    Ok(AnalyticsAlertRule(row))
}

/// Deletes an alert rule (contributors only) with its history.
pub async fn delete_alert_rule(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<Uuid> {
    alert_rules::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("alert rule"))?;
    let result = alert_rules::Entity::delete_many()
        .filter(alert_rules::Column::Id.eq(id))
        .exec(db)
        .await
        .map_err(db_err)?;
    if result.rows_affected == 0 {
        // Readable but not deletable: a viewer-role member.
        return Err(ApiError::Forbidden("not allowed".into()));
    }
    Ok(id)
}

/// Acknowledges an alert as `user`; acknowledging again keeps the first
/// acknowledgement (only the notes change).
pub async fn acknowledge_alert(
    db: &impl ConnectionTrait,
    user: Uuid,
    input: AcknowledgeAlertInput,
) -> ApiResult<AnalyticsAlert> {
    let existing = alert_history::Entity::find_by_id(input.id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("alert"))?;
    let first = existing.acknowledged_at.is_none();
    let mut row: alert_history::ActiveModel = existing.into();
    if first {
        row.acknowledged_by = Set(Some(user));
        row.acknowledged_at = Set(Some(chrono::Utc::now().fixed_offset()));
    }
    if let Some(notes) = input.notes {
        row.notes = Set(Some(notes));
    }
    if !row.is_changed() {
        let unchanged = alert_history::Entity::find_by_id(input.id)
            .one(db)
            .await?
            .ok_or(ApiError::NotFound("alert"))?;
        return Ok(AnalyticsAlert(unchanged));
    }
    let row = row.update(db).await.map_err(not_updated)?;
    Ok(AnalyticsAlert(row))
}

/// Runs `analytics.aggregate_daily_metrics` for `date` (and one workspace)
/// and returns the number of rows written with the day's rows.
pub async fn aggregate_daily_metrics(
    db: &impl ConnectionTrait,
    date: NaiveDate,
    workspace: Option<Uuid>,
) -> ApiResult<(i32, Vec<AnalyticsDailyMetrics>)> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT analytics.aggregate_daily_metrics($1, $2) AS n",
            [date.into(), workspace.into()],
        ))
        .await
        .map_err(db_err)?
        .ok_or_else(|| ApiError::Internal("aggregate_daily_metrics returned no row".into()))?;
    let written: i32 = row.try_get("", "n")?;
    let mut select = daily_metrics::Entity::find()
        .filter(daily_metrics::Column::MetricDate.eq(date))
        .order_by_asc(daily_metrics::Column::WorkspaceId);
    if let Some(ws) = workspace {
        select = select.filter(daily_metrics::Column::WorkspaceId.eq(ws));
    }
    let rows = select.all(db).await?;
    Ok((
        written,
        rows.into_iter().map(AnalyticsDailyMetrics::from).collect(),
    ))
}

/// Runs one maintenance statement that returns nothing of interest.
async fn run(db: &impl ConnectionTrait, sql: &str) -> ApiResult<Option<sea_orm::QueryResult>> {
    db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .map_err(db_err)
}

/// Refreshes the three materialized views.
pub async fn refresh_views(db: &impl ConnectionTrait) -> ApiResult<()> {
    run(db, "SELECT analytics.refresh_all_materialized_views()").await?;
    Ok(())
}

/// Deletes old activity events and hourly rollups; the counts deleted.
pub async fn cleanup(db: &impl ConnectionTrait) -> ApiResult<(i64, i64)> {
    let row = run(
        db,
        "SELECT user_activity_deleted, hourly_metrics_deleted FROM analytics.cleanup_old_data()",
    )
    .await?
    .ok_or_else(|| ApiError::Internal("cleanup_old_data returned no row".into()))?;
    Ok((
        row.try_get("", "user_activity_deleted")?,
        row.try_get("", "hourly_metrics_deleted")?,
    ))
}

/// Evaluates the active alert rules; the number of alerts fired.
pub async fn evaluate_alert_rules(db: &impl ConnectionTrait) -> ApiResult<i32> {
    let row = run(db, "SELECT analytics.evaluate_alert_rules() AS n")
        .await?
        .ok_or_else(|| ApiError::Internal("evaluate_alert_rules returned no row".into()))?;
    Ok(row.try_get("", "n")?)
}
