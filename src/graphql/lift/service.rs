//! Domain functions of the lift API: lists, aggregates and writes, each over
//! any connection (the request transaction in practice, so RLS applies and a
//! request's writes commit together).

use super::inputs::{
    draft_sort_keys, resolution_sort_keys, revision_sort_keys, session_sort_keys,
    AddLiftDraftInput, AddLiftRevisionInput, CreateLiftSessionInput, LiftDraftGroupBy,
    LiftDraftOrderField, LiftDraftWhere, LiftHoleResolutionOrderField, LiftHoleResolutionWhere,
    LiftRevisionOrderField, LiftRevisionWhere, LiftSessionGroupBy, LiftSessionOrderField,
    LiftSessionWhere, ResolveLiftHoleInput, UpdateLiftSessionInput,
};
use super::loaders::activity_sort_keys;
use super::types::{
    LiftActivityEvent, LiftDraft, LiftDraftAggregateRow, LiftHoleResolution, LiftRevision,
    LiftSession, LiftSessionAggregateRow, LiftSessionSource, LiftSessionStatus, LiftUserAnalytics,
};
use crate::graphql::error::{db_err, ApiError, ApiResult};
use crate::graphql::pagination::{paginate, ApiConnection, Page, SortDirection};
use chrono::NaiveDate;
use entity::lift::{
    hole_resolutions, recent_activity, session_drafts, session_revisions, sessions, user_analytics,
};
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, Order};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value as JsonValue;
use uuid::Uuid;

fn not_blank(field: &str, value: &str) -> ApiResult<()> {
    if value.trim().is_empty() {
        return Err(ApiError::bad_input(
            field,
            format!("{field} must not be blank"),
        ));
    }
    Ok(())
}

fn not_negative(field: &str, value: Option<i32>) -> ApiResult<()> {
    match value {
        Some(v) if v < 0 => Err(ApiError::bad_input(
            field,
            format!("{field} must not be negative"),
        )),
        _ => Ok(()),
    }
}

fn json_object(field: &str, value: Option<async_graphql::Json<JsonValue>>) -> ApiResult<JsonValue> {
    match value {
        None => Ok(JsonValue::Object(Default::default())),
        Some(v) if v.0.is_object() => Ok(v.0),
        Some(_) => Err(ApiError::bad_input(
            field,
            format!("{field} must be a JSON object"),
        )),
    }
}

fn json_array(field: &str, value: Option<async_graphql::Json<JsonValue>>) -> ApiResult<JsonValue> {
    match value {
        None => Ok(JsonValue::Array(Vec::new())),
        Some(v) if v.0.is_array() => Ok(v.0),
        Some(_) => Err(ApiError::bad_input(
            field,
            format!("{field} must be a JSON array"),
        )),
    }
}

/// A page of the sessions matching `filter`.
pub async fn list_sessions(
    db: &impl ConnectionTrait,
    filter: Option<LiftSessionWhere>,
    order: &[(LiftSessionOrderField, SortDirection)],
    page: &Page,
    with_total: bool,
) -> ApiResult<ApiConnection<LiftSession>> {
    let mut select = sessions::Entity::find();
    if let Some(w) = filter {
        select = select.filter(w.condition());
    }
    paginate(
        db,
        select,
        &session_sort_keys(order),
        page,
        with_total,
        LiftSession,
    )
    .await
}

/// A page of the revisions matching `filter`.
pub async fn list_revisions(
    db: &impl ConnectionTrait,
    filter: Option<LiftRevisionWhere>,
    order: &[(LiftRevisionOrderField, SortDirection)],
    page: &Page,
    with_total: bool,
) -> ApiResult<ApiConnection<LiftRevision>> {
    let mut select = session_revisions::Entity::find();
    if let Some(w) = filter {
        select = select.filter(w.condition());
    }
    paginate(
        db,
        select,
        &revision_sort_keys(order),
        page,
        with_total,
        LiftRevision,
    )
    .await
}

/// A page of the drafts matching `filter`.
pub async fn list_drafts(
    db: &impl ConnectionTrait,
    filter: Option<LiftDraftWhere>,
    order: &[(LiftDraftOrderField, SortDirection)],
    page: &Page,
    with_total: bool,
) -> ApiResult<ApiConnection<LiftDraft>> {
    let mut select = session_drafts::Entity::find();
    if let Some(w) = filter {
        select = select.filter(w.condition());
    }
    paginate(
        db,
        select,
        &draft_sort_keys(order),
        page,
        with_total,
        LiftDraft,
    )
    .await
}

/// A page of the hole resolutions matching `filter`.
pub async fn list_resolutions(
    db: &impl ConnectionTrait,
    filter: Option<LiftHoleResolutionWhere>,
    order: &[(LiftHoleResolutionOrderField, SortDirection)],
    page: &Page,
    with_total: bool,
) -> ApiResult<ApiConnection<LiftHoleResolution>> {
    let mut select = hole_resolutions::Entity::find();
    if let Some(w) = filter {
        select = select.filter(w.condition());
    }
    paginate(
        db,
        select,
        &resolution_sort_keys(order),
        page,
        with_total,
        LiftHoleResolution,
    )
    .await
}

/// The session `id`, if the viewer may see it.
pub async fn get_session(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<Option<LiftSession>> {
    Ok(sessions::Entity::find_by_id(id)
        .one(db)
        .await
        .map_err(db_err)?
        .map(LiftSession))
}

/// The `user_analytics` row of `user` (none before their first session).
pub async fn user_analytics(
    db: &impl ConnectionTrait,
    user: Uuid,
) -> ApiResult<Option<LiftUserAnalytics>> {
    Ok(user_analytics::Entity::find_by_id(user)
        .one(db)
        .await
        .map_err(db_err)?
        .map(LiftUserAnalytics))
}

/// A page of `user`'s activity, newest first.
pub async fn user_activity(
    db: &impl ConnectionTrait,
    user: Uuid,
    page: &Page,
    with_total: bool,
) -> ApiResult<ApiConnection<LiftActivityEvent>> {
    let select = recent_activity::Entity::find().filter(recent_activity::Column::UserId.eq(user));
    paginate(
        db,
        select,
        &activity_sort_keys(),
        page,
        with_total,
        LiftActivityEvent,
    )
    .await
}

/// The creation day in UTC (dashboards group by calendar day, not by the
/// session's time zone).
const CREATED_DAY: &str = "(created_at AT TIME ZONE 'UTC')::date";

fn dedupe<T: PartialEq + Copy>(list: &[T]) -> Vec<T> {
    let mut out = Vec::new();
    for item in list {
        if !out.contains(item) {
            out.push(*item);
        }
    }
    out
}

#[derive(FromQueryResult)]
struct SessionGroup {
    status: Option<String>,
    source: Option<String>,
    day: Option<NaiveDate>,
    count: i64,
}

/// Session counts of the sessions matching `filter`, per `group_by` keys.
pub async fn session_aggregate(
    db: &impl ConnectionTrait,
    filter: Option<LiftSessionWhere>,
    group_by: &[LiftSessionGroupBy],
) -> ApiResult<Vec<LiftSessionAggregateRow>> {
    use sessions::Column as C;
    let group_by = dedupe(group_by);
    let mut query = sessions::Entity::find().select_only();
    if let Some(w) = filter {
        query = query.filter(w.condition());
    }
    let has = |g: LiftSessionGroupBy| group_by.contains(&g);
    query = if has(LiftSessionGroupBy::Status) {
        query.column_as(C::Status, "status")
    } else {
        query.expr_as(Expr::cust("NULL::text"), "status")
    };
    query = if has(LiftSessionGroupBy::Source) {
        query.column_as(C::Source, "source")
    } else {
        query.expr_as(Expr::cust("NULL::text"), "source")
    };
    query = if has(LiftSessionGroupBy::Day) {
        query.expr_as(Expr::cust(CREATED_DAY), "day")
    } else {
        query.expr_as(Expr::cust("NULL::date"), "day")
    };
    query = query.expr_as(Expr::cust("count(*)"), "count");
    for g in &group_by {
        query = match g {
            LiftSessionGroupBy::Status => query.group_by(C::Status).order_by(C::Status, Order::Asc),
            LiftSessionGroupBy::Source => query.group_by(C::Source).order_by(C::Source, Order::Asc),
            LiftSessionGroupBy::Day => query
                .group_by(Expr::cust(CREATED_DAY))
                .order_by(Expr::cust(CREATED_DAY), Order::Asc),
        };
    }
    let rows = query
        .into_model::<SessionGroup>()
        .all(db)
        .await
        .map_err(db_err)?;
    rows.into_iter()
        .map(|r| {
            Ok(LiftSessionAggregateRow {
                status: r
                    .status
                    .as_deref()
                    .map(LiftSessionStatus::from_db)
                    .transpose()?,
                source: r
                    .source
                    .as_deref()
                    .map(LiftSessionSource::from_db)
                    .transpose()?,
                day: r.day,
                count: r.count,
            })
        })
        .collect()
}

#[derive(FromQueryResult)]
struct DraftGroup {
    syntax_valid: Option<bool>,
    ast_valid: Option<bool>,
    language: Option<String>,
    day: Option<NaiveDate>,
    session_id: Option<Uuid>,
    count: i64,
    total_generation_time_ms: Option<i64>,
    avg_generation_time_ms: Option<Decimal>,
    total_llm_cost_usd: Option<Decimal>,
    total_llm_tokens_used: Option<i64>,
}

/// Draft counts, generation times, cost and tokens of the drafts matching
/// `filter`, per `group_by` keys.
pub async fn draft_aggregate(
    db: &impl ConnectionTrait,
    filter: Option<LiftDraftWhere>,
    group_by: &[LiftDraftGroupBy],
) -> ApiResult<Vec<LiftDraftAggregateRow>> {
    use session_drafts::Column as C;
    let group_by = dedupe(group_by);
    let mut query = session_drafts::Entity::find().select_only();
    if let Some(w) = filter {
        query = query.filter(w.condition());
    }
    let has = |g: LiftDraftGroupBy| group_by.contains(&g);
    let keys: [(LiftDraftGroupBy, C, &str, &str); 4] = [
        (
            LiftDraftGroupBy::SyntaxValid,
            C::SyntaxValid,
            "syntax_valid",
            "NULL::boolean",
        ),
        (
            LiftDraftGroupBy::AstValid,
            C::AstValid,
            "ast_valid",
            "NULL::boolean",
        ),
        (
            LiftDraftGroupBy::Language,
            C::Language,
            "language",
            "NULL::text",
        ),
        (
            LiftDraftGroupBy::Session,
            C::SessionId,
            "session_id",
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
    query = if has(LiftDraftGroupBy::Day) {
        query.expr_as(Expr::cust(CREATED_DAY), "day")
    } else {
        query.expr_as(Expr::cust("NULL::date"), "day")
    };
    query = query
        .expr_as(Expr::cust("count(*)"), "count")
        .expr_as(
            Expr::cust("sum(generation_time_ms)::bigint"),
            "total_generation_time_ms",
        )
        .expr_as(
            Expr::cust("round(avg(generation_time_ms), 2)"),
            "avg_generation_time_ms",
        )
        .expr_as(Expr::cust("sum(llm_cost_usd)"), "total_llm_cost_usd")
        .expr_as(
            Expr::cust("sum(llm_tokens_used)::bigint"),
            "total_llm_tokens_used",
        );
    for g in &group_by {
        let column = match g {
            LiftDraftGroupBy::SyntaxValid => C::SyntaxValid,
            LiftDraftGroupBy::AstValid => C::AstValid,
            LiftDraftGroupBy::Language => C::Language,
            LiftDraftGroupBy::Session => C::SessionId,
            LiftDraftGroupBy::Day => {
                query = query
                    .group_by(Expr::cust(CREATED_DAY))
                    .order_by(Expr::cust(CREATED_DAY), Order::Asc);
                continue;
            }
        };
        query = query.group_by(column).order_by(column, Order::Asc);
    }
    let rows = query
        .into_model::<DraftGroup>()
        .all(db)
        .await
        .map_err(db_err)?;
    Ok(rows
        .into_iter()
        .map(|r| LiftDraftAggregateRow {
            syntax_valid: r.syntax_valid,
            ast_valid: r.ast_valid,
            language: r.language,
            day: r.day,
            session_id: r.session_id,
            count: r.count,
            total_generation_time_ms: r.total_generation_time_ms,
            avg_generation_time_ms: r.avg_generation_time_ms,
            total_llm_cost_usd: r.total_llm_cost_usd,
            total_llm_tokens_used: r.total_llm_tokens_used,
        })
        .collect())
}

/// Creates a session owned by `user`.
pub async fn create_session(
    db: &impl ConnectionTrait,
    user: Uuid,
    input: CreateLiftSessionInput,
) -> ApiResult<LiftSession> {
    not_blank("originalInput", &input.original_input)?;
    let metadata = json_object("metadata", input.metadata)?;
    let row = sessions::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user),
        source: Set(input.source.as_db().to_string()),
        original_input: Set(input.original_input),
        metadata: Set(metadata),
        ..Default::default()
    };
    Ok(LiftSession(row.insert(db).await.map_err(db_err)?))
}

/// Changes the given fields of a session.
pub async fn update_session(
    db: &impl ConnectionTrait,
    input: UpdateLiftSessionInput,
) -> ApiResult<LiftSession> {
    use sessions::Column as C;
    let mut update = sessions::Entity::update_many().filter(C::Id.eq(input.id));
    let mut changed = false;
    if let Some(status) = input.status {
        update = update.col_expr(C::Status, Expr::value(status.as_db()));
        changed = true;
    }
    if let Some(ir) = input.current_ir {
        update = update.col_expr(C::CurrentIr, Expr::value(ir.0));
        changed = true;
    }
    if let Some(code) = input.current_code {
        update = update.col_expr(C::CurrentCode, Expr::value(code));
        changed = true;
    }
    if input.metadata.is_some() {
        let metadata = json_object("metadata", input.metadata)?;
        update = update.col_expr(C::Metadata, Expr::value(metadata));
        changed = true;
    }
    if !changed {
        return get_session(db, input.id)
            .await?
            .ok_or(ApiError::NotFound("lift session"));
    }
    let rows = update.exec_with_returning(db).await.map_err(db_err)?;
    rows.into_iter()
        .next()
        .map(LiftSession)
        .ok_or(ApiError::NotFound("lift session"))
}

/// Marks a session finalized (`finalized_at` is set by the database, once).
pub async fn finalize_session(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<LiftSession> {
    let rows = sessions::Entity::update_many()
        .col_expr(
            sessions::Column::Status,
            Expr::value(LiftSessionStatus::Finalized.as_db()),
        )
        .filter(sessions::Column::Id.eq(id))
        .exec_with_returning(db)
        .await
        .map_err(db_err)?;
    rows.into_iter()
        .next()
        .map(LiftSession)
        .ok_or(ApiError::NotFound("lift session"))
}

/// Deletes a session with its revisions, drafts and resolutions.
pub async fn delete_session(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<Uuid> {
    let result = sessions::Entity::delete_many()
        .filter(sessions::Column::Id.eq(id))
        .exec(db)
        .await
        .map_err(db_err)?;
    if result.rows_affected == 0 {
        return Err(ApiError::NotFound("lift session"));
    }
    Ok(id)
}

/// NOT_FOUND unless the viewer sees session `id`. Checked before writing a
/// child so another user's session reads as missing, not as forbidden.
async fn require_session(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<()> {
    let found = sessions::Entity::find_by_id(id)
        .select_only()
        .column(sessions::Column::Id)
        .into_tuple::<Uuid>()
        .one(db)
        .await
        .map_err(db_err)?;
    found.map(|_| ()).ok_or(ApiError::NotFound("lift session"))
}

/// Adds the next IR revision of a session.
pub async fn add_revision(
    db: &impl ConnectionTrait,
    input: AddLiftRevisionInput,
) -> ApiResult<LiftRevision> {
    let changed_fields = input.changed_fields.unwrap_or_default();
    if changed_fields.iter().any(|f| f.trim().is_empty()) {
        return Err(ApiError::bad_input(
            "changedFields",
            "changedFields must not contain blank names",
        ));
    }
    let metadata = json_object("metadata", input.metadata)?;
    require_session(db, input.session_id).await?;
    // revision_number stays unset: the database assigns the next number
    // under a lock on the session.
    let row = session_revisions::ActiveModel {
        id: Set(Uuid::new_v4()),
        session_id: Set(input.session_id),
        source: Set(input.source.as_db().to_string()),
        ir_content: Set(input.ir_content.0),
        validation_result: Set(input.validation_result.map(|j| j.0)),
        changed_fields: Set(changed_fields),
        change_summary: Set(input.change_summary),
        metadata: Set(metadata),
        ..Default::default()
    };
    Ok(LiftRevision(row.insert(db).await.map_err(db_err)?))
}

/// Largest cost `numeric(10, 6)` holds.
fn max_cost() -> Decimal {
    Decimal::new(9_999_999_999, 6)
}

/// Adds the next code draft of a session.
pub async fn add_draft(
    db: &impl ConnectionTrait,
    input: AddLiftDraftInput,
) -> ApiResult<LiftDraft> {
    not_blank("codeContent", &input.code_content)?;
    if let Some(language) = &input.language {
        not_blank("language", language)?;
    }
    not_negative("generationTimeMs", input.generation_time_ms)?;
    not_negative("validationTimeMs", input.validation_time_ms)?;
    not_negative("llmTokensUsed", input.llm_tokens_used)?;
    if let Some(cost) = input.llm_cost_usd {
        if cost.is_sign_negative() && !cost.is_zero() {
            return Err(ApiError::bad_input(
                "llmCostUsd",
                "llmCostUsd must not be negative",
            ));
        }
        if cost > max_cost() {
            return Err(ApiError::bad_input("llmCostUsd", "llmCostUsd is too large"));
        }
    }
    let validation_errors = json_array("validationErrors", input.validation_errors)?;
    let metadata = json_object("metadata", input.metadata)?;
    require_session(db, input.session_id).await?;
    // draft_number stays unset: the database assigns the next number under a
    // lock on the session.
    let mut row = session_drafts::ActiveModel {
        id: Set(Uuid::new_v4()),
        session_id: Set(input.session_id),
        ir_revision_id: Set(input.ir_revision_id),
        source: Set(input.source.as_db().to_string()),
        code_content: Set(input.code_content),
        syntax_valid: Set(input.syntax_valid),
        ast_valid: Set(input.ast_valid),
        validation_errors: Set(validation_errors),
        generation_time_ms: Set(input.generation_time_ms),
        validation_time_ms: Set(input.validation_time_ms),
        llm_tokens_used: Set(input.llm_tokens_used),
        llm_cost_usd: Set(input.llm_cost_usd),
        metadata: Set(metadata),
        ..Default::default()
    };
    if let Some(language) = input.language {
        row.language = Set(language.trim().to_string());
    }
    Ok(LiftDraft(row.insert(db).await.map_err(db_err)?))
}

/// Records the resolution of a typed hole.
pub async fn resolve_hole(
    db: &impl ConnectionTrait,
    input: ResolveLiftHoleInput,
) -> ApiResult<LiftHoleResolution> {
    not_blank("holeId", &input.hole_id)?;
    if let Some(score) = input.confidence_score {
        if score < Decimal::ZERO || score > Decimal::ONE {
            return Err(ApiError::bad_input(
                "confidenceScore",
                "confidenceScore must be between 0 and 1",
            ));
        }
    }
    let suggestions = json_array("suggestionsProvided", input.suggestions_provided)?;
    let metadata = json_object("metadata", input.metadata)?;
    require_session(db, input.session_id).await?;
    let row = hole_resolutions::ActiveModel {
        id: Set(Uuid::new_v4()),
        session_id: Set(input.session_id),
        ir_revision_id: Set(input.ir_revision_id),
        hole_id: Set(input.hole_id),
        hole_type: Set(input.hole_type.as_db().to_string()),
        resolution_method: Set(input.resolution_method.as_db().to_string()),
        resolved_value: Set(input.resolved_value.0),
        confidence_score: Set(input.confidence_score),
        original_hole_data: Set(input.original_hole_data.map(|j| j.0)),
        suggestions_provided: Set(suggestions),
        user_feedback: Set(input.user_feedback),
        metadata: Set(metadata),
        ..Default::default()
    };
    match row.insert(db).await.map_err(db_err) {
        Ok(model) => Ok(LiftHoleResolution(model)),
        Err(ApiError::Conflict(_)) => Err(ApiError::Conflict(
            "this hole is already resolved in this revision".into(),
        )),
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_bound_matches_the_column() {
        assert_eq!(max_cost().to_string(), "9999.999999");
    }
}
