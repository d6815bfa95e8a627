//! Domain functions of the builder: lists, aggregates and writes over a
//! connection that already runs as the viewer (RLS decides visibility; a row
//! the viewer may not see is reported exactly like a missing one).

use crate::graphql::builder::inputs::{
    AddBuilderPromptInput, AddBuilderResponseInput, BuilderSessionGroupBy, BuilderStepGroupBy,
    CreateBuilderSessionInput, RecordBuilderStepInput, UpdateBuilderSessionInput, SESSION_STATUSES,
};
use crate::graphql::builder::types::{
    BuilderAnalytics, BuilderPrompt, BuilderResponse, BuilderSession, BuilderSessionGroup,
    BuilderStep, BuilderStepGroup,
};
use crate::graphql::error::{ApiError, ApiResult};
use crate::graphql::pagination::{paginate, ApiConnection, Page, SortKey};
use async_graphql::MaybeUndefined;
use entity::builder::{analytics, prompts, responses, sessions, steps};
use sea_orm::sea_query::{Alias, Expr, Order, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityName,
    EntityTrait, QueryFilter,
};
use serde_json::json;
use uuid::Uuid;

/// A page of the visible sessions matching `filter`.
pub async fn sessions_page(
    db: &impl ConnectionTrait,
    filter: Condition,
    keys: &[SortKey<sessions::Column>],
    page: &Page,
    with_total: bool,
) -> ApiResult<ApiConnection<BuilderSession>> {
    let select = sessions::Entity::find().filter(filter);
    paginate(db, select, keys, page, with_total, BuilderSession::from).await
}

/// A page of the visible prompts matching `filter`.
pub async fn prompts_page(
    db: &impl ConnectionTrait,
    filter: Condition,
    keys: &[SortKey<prompts::Column>],
    page: &Page,
    with_total: bool,
) -> ApiResult<ApiConnection<BuilderPrompt>> {
    let select = prompts::Entity::find().filter(filter);
    paginate(db, select, keys, page, with_total, BuilderPrompt::from).await
}

/// A page of the visible responses matching `filter`.
pub async fn responses_page(
    db: &impl ConnectionTrait,
    filter: Condition,
    keys: &[SortKey<responses::Column>],
    page: &Page,
    with_total: bool,
) -> ApiResult<ApiConnection<BuilderResponse>> {
    let select = responses::Entity::find().filter(filter);
    paginate(db, select, keys, page, with_total, BuilderResponse::from).await
}

/// A page of the visible steps matching `filter`.
pub async fn steps_page(
    db: &impl ConnectionTrait,
    filter: Condition,
    keys: &[SortKey<steps::Column>],
    page: &Page,
    with_total: bool,
) -> ApiResult<ApiConnection<BuilderStep>> {
    let select = steps::Entity::find().filter(filter);
    paginate(db, select, keys, page, with_total, BuilderStep::from).await
}

/// The session `id`, if the viewer may see it.
pub async fn session(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<Option<BuilderSession>> {
    Ok(sessions::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(BuilderSession::from))
}

/// `user`'s dashboard counters; zeros when nothing was counted yet (the row
/// appears with the first counted insert, and a read must not write it).
pub async fn analytics(db: &impl ConnectionTrait, user: Uuid) -> ApiResult<BuilderAnalytics> {
    Ok(analytics::Entity::find()
        .filter(analytics::Column::UserId.eq(user))
        .one(db)
        .await?
        .map_or_else(|| BuilderAnalytics::zeros(user), BuilderAnalytics::from))
}

/// The UTC calendar day of `created_at`, so groups do not depend on the
/// server's time zone.
fn day_of_creation() -> Expr {
    Expr::cust("(\"created_at\" AT TIME ZONE 'UTC')::date")
}

/// Counts of the visible steps matching `filter`, per combination of the
/// `group_by` values (one total row when empty), in grouping order.
pub async fn step_aggregate(
    db: &impl ConnectionTrait,
    filter: Condition,
    group_by: &[BuilderStepGroupBy],
) -> ApiResult<Vec<BuilderStepGroup>> {
    let by = |g| group_by.contains(&g);
    let mut query = Query::select();
    // table_ref() carries the `builder` schema; the bare entity would not.
    query.from(steps::Entity.table_ref()).cond_where(filter);
    let mut grouped = Vec::new();
    for (group, expr, null, alias) in [
        (
            BuilderStepGroupBy::StepType,
            Expr::col(steps::Column::StepType),
            "NULL::text",
            "step_type",
        ),
        (
            BuilderStepGroupBy::Day,
            day_of_creation(),
            "NULL::date",
            "day",
        ),
        (
            BuilderStepGroupBy::Session,
            Expr::col(steps::Column::SessionId),
            "NULL::uuid",
            "session_id",
        ),
    ] {
        if by(group) {
            query.expr_as(expr.clone(), Alias::new(alias));
            grouped.push(expr);
        } else {
            query.expr_as(Expr::cust(null), Alias::new(alias));
        }
    }
    query.expr_as(Expr::cust("count(*)"), Alias::new("count"));
    query.add_group_by(grouped.clone());
    for expr in grouped {
        query.order_by_expr(expr, Order::Asc);
    }
    let rows = db.query_all(&query).await?;
    rows.into_iter()
        .map(|row| {
            Ok(BuilderStepGroup {
                step_type: row.try_get("", "step_type")?,
                day: row.try_get("", "day")?,
                session_id: row.try_get("", "session_id")?,
                count: row.try_get("", "count")?,
            })
        })
        .collect()
}

/// Counts of the visible sessions matching `filter`, per combination of the
/// `group_by` values (one total row when empty), in grouping order.
pub async fn session_aggregate(
    db: &impl ConnectionTrait,
    filter: Condition,
    group_by: &[BuilderSessionGroupBy],
) -> ApiResult<Vec<BuilderSessionGroup>> {
    let by = |g| group_by.contains(&g);
    let mut query = Query::select();
    query.from(sessions::Entity.table_ref()).cond_where(filter);
    let mut grouped = Vec::new();
    for (group, expr, null, alias) in [
        (
            BuilderSessionGroupBy::Status,
            Expr::col(sessions::Column::Status),
            "NULL::text",
            "status",
        ),
        (
            BuilderSessionGroupBy::ProblemType,
            Expr::col(sessions::Column::ProblemType),
            "NULL::text",
            "problem_type",
        ),
        (
            BuilderSessionGroupBy::Day,
            day_of_creation(),
            "NULL::date",
            "day",
        ),
    ] {
        if by(group) {
            query.expr_as(expr.clone(), Alias::new(alias));
            grouped.push(expr);
        } else {
            query.expr_as(Expr::cust(null), Alias::new(alias));
        }
    }
    query.expr_as(Expr::cust("count(*)"), Alias::new("count"));
    query.add_group_by(grouped.clone());
    for expr in grouped {
        query.order_by_expr(expr, Order::Asc);
    }
    let rows = db.query_all(&query).await?;
    rows.into_iter()
        .map(|row| {
            Ok(BuilderSessionGroup {
                status: row.try_get("", "status")?,
                problem_type: row.try_get("", "problem_type")?,
                day: row.try_get("", "day")?,
                count: row.try_get("", "count")?,
            })
        })
        .collect()
}

/// `text` unless it is blank.
fn not_blank(field: &str, text: String) -> ApiResult<String> {
    if text.trim().is_empty() {
        return Err(ApiError::bad_input(
            field,
            format!("{field} must not be blank"),
        ));
    }
    Ok(text)
}

/// `status` if the database's CHECK accepts it.
fn valid_status(status: String) -> ApiResult<String> {
    if SESSION_STATUSES.contains(&status.as_str()) {
        Ok(status)
    } else {
        Err(ApiError::bad_input(
            "status",
            format!("status must be one of {}", SESSION_STATUSES.join(", ")),
        ))
    }
}

/// Creates a session owned by `user`.
pub async fn create_session(
    db: &impl ConnectionTrait,
    user: Uuid,
    input: CreateBuilderSessionInput,
) -> ApiResult<BuilderSession> {
    let description = input
        .description
        .map(|d| not_blank("description", d))
        .transpose()?;
    let problem_type = input
        .problem_type
        .map(|p| not_blank("problemType", p))
        .transpose()?;
    let status = input.status.map(valid_status).transpose()?;
    let row = sessions::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user),
        description: Set(description),
        problem_type: Set(problem_type),
        status: Set(status),
        ..Default::default()
    };
    Ok(row.insert(db).await?.into())
}

/// A `MaybeUndefined` field as an update: absent keeps, null clears, a value
/// is checked by `check`.
fn change(
    value: MaybeUndefined<String>,
    check: impl FnOnce(String) -> ApiResult<String>,
) -> ApiResult<Option<Option<String>>> {
    Ok(match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(check(v)?)),
    })
}

/// Changes a session of the viewer's; NOT_FOUND for any other id.
pub async fn update_session(
    db: &impl ConnectionTrait,
    input: UpdateBuilderSessionInput,
) -> ApiResult<BuilderSession> {
    let description = change(input.description, |d| not_blank("description", d))?;
    let problem_type = change(input.problem_type, |p| not_blank("problemType", p))?;
    let status = change(input.status, valid_status)?;
    let current = sessions::Entity::find_by_id(input.id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("session"))?;
    if description.is_none() && problem_type.is_none() && status.is_none() {
        return Ok(current.into());
    }
    let mut row: sessions::ActiveModel = current.into();
    if let Some(v) = description {
        row.description = Set(v);
    }
    if let Some(v) = problem_type {
        row.problem_type = Set(v);
    }
    if let Some(v) = status {
        row.status = Set(v);
    }
    Ok(row.update(db).await?.into())
}

/// Deletes a session of the viewer's (its prompts, responses and steps go
/// with it); NOT_FOUND for any other id.
pub async fn delete_session(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<Uuid> {
    let result = sessions::Entity::delete_many()
        .filter(sessions::Column::Id.eq(id))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(ApiError::NotFound("session"));
    }
    Ok(id)
}

/// The visible session `id`, or NOT_FOUND.
async fn visible_session(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<sessions::Model> {
    sessions::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("session"))
}

/// Adds a prompt to a session of the viewer's.
pub async fn add_prompt(
    db: &impl ConnectionTrait,
    input: AddBuilderPromptInput,
) -> ApiResult<BuilderPrompt> {
    let text = not_blank("promptText", input.prompt_text)?;
    let session = visible_session(db, input.session_id).await?;
    let row = prompts::ActiveModel {
        id: Set(Uuid::new_v4()),
        session_id: Set(session.id),
        user_id: Set(session.user_id),
        prompt_text: Set(text),
        ..Default::default()
    };
    Ok(row.insert(db).await?.into())
}

/// Adds a response to a prompt of the viewer's.
pub async fn add_response(
    db: &impl ConnectionTrait,
    input: AddBuilderResponseInput,
) -> ApiResult<BuilderResponse> {
    let text = not_blank("responseText", input.response_text)?;
    let prompt = prompts::Entity::find_by_id(input.prompt_id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("prompt"))?;
    let row = responses::ActiveModel {
        id: Set(Uuid::new_v4()),
        prompt_id: Set(prompt.id),
        user_id: Set(prompt.user_id),
        response_text: Set(text),
        ..Default::default()
    };
    Ok(row.insert(db).await?.into())
}

/// Records a step in a session of the viewer's; the database counts a
/// `model_deploy` step as a decision.
pub async fn record_step(
    db: &impl ConnectionTrait,
    input: RecordBuilderStepInput,
) -> ApiResult<BuilderStep> {
    let step_type = not_blank("stepType", input.step_type)?.trim().to_string();
    let session = visible_session(db, input.session_id).await?;
    let row = steps::ActiveModel {
        id: Set(Uuid::new_v4()),
        session_id: Set(session.id),
        user_id: Set(session.user_id),
        step_type: Set(step_type),
        step_data: Set(input.step_data.map(|j| j.0)),
        ..Default::default()
    };
    Ok(row.insert(db).await?.into())
}

/// Demo data for GraphiQL: three sessions of `user` with prompts, responses
/// and steps, one of them deployed (a decision). Inserts as whoever `db`
/// runs as (the service role or the owner), so RLS does not need claims.
pub async fn seed_demo(db: &impl ConnectionTrait, user: Uuid) -> ApiResult<()> {
    struct Demo<'a> {
        description: &'a str,
        problem_type: &'a str,
        status: &'a str,
        exchanges: &'a [(&'a str, &'a [&'a str])],
        steps: Vec<(&'a str, serde_json::Value)>,
    }
    let demos = [
        Demo {
            description: "Predict customer churn from usage logs",
            problem_type: "classification",
            status: "completed",
            exchanges: &[
                (
                    "Which features best predict churn?",
                    &["Login frequency, support tickets and plan downgrades are the strongest signals."],
                ),
                (
                    "Suggest a baseline model.",
                    &[
                        "Start with logistic regression on normalised features.",
                        "Then try gradient boosting and compare AUC.",
                    ],
                ),
            ],
            steps: vec![
                ("data_upload", json!({ "rows": 12000, "file": "usage.csv" })),
                ("model_train", json!({ "model": "gradient_boosting", "auc": 0.87 })),
                ("model_deploy", json!({ "endpoint": "churn-v1" })),
            ],
        },
        Demo {
            description: "Forecast weekly sales per store",
            problem_type: "regression",
            status: "active",
            exchanges: &[(
                "How should I handle holidays?",
                &["Add holiday indicator features and a lag of the same week last year."],
            )],
            steps: vec![
                ("data_upload", json!({ "rows": 5200, "file": "sales.csv" })),
                ("feature_engineering", json!({ "features": ["holiday", "lag_52"] })),
            ],
        },
        Demo {
            description: "Group support tickets by topic",
            problem_type: "clustering",
            status: "archived",
            exchanges: &[(
                "How many clusters should I use?",
                &["Use the elbow method on k-means inertia; 6 to 8 looks reasonable."],
            )],
            steps: vec![("model_train", json!({ "model": "kmeans", "k": 7 }))],
        },
    ];
    for demo in demos {
        let session = sessions::ActiveModel {
            id: Set(Uuid::new_v4()),
            user_id: Set(user),
            description: Set(Some(demo.description.to_string())),
            problem_type: Set(Some(demo.problem_type.to_string())),
            status: Set(Some(demo.status.to_string())),
            ..Default::default()
        }
        .insert(db)
        .await?;
        for (prompt_text, answers) in demo.exchanges {
            let prompt = prompts::ActiveModel {
                id: Set(Uuid::new_v4()),
                session_id: Set(session.id),
                user_id: Set(user),
                prompt_text: Set(prompt_text.to_string()),
                ..Default::default()
            }
            .insert(db)
            .await?;
            for answer in *answers {
                responses::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    prompt_id: Set(prompt.id),
                    user_id: Set(user),
                    response_text: Set(answer.to_string()),
                    ..Default::default()
                }
                .insert(db)
                .await?;
            }
        }
        for (step_type, data) in demo.steps {
            steps::ActiveModel {
                id: Set(Uuid::new_v4()),
                session_id: Set(session.id),
                user_id: Set(user),
                step_type: Set(step_type.to_string()),
                step_data: Set(Some(data)),
                ..Default::default()
            }
            .insert(db)
            .await?;
        }
    }
    Ok(())
}
