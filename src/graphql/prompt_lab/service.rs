//! Domain functions of the prompt lab API: lists, the popularity ranking and
//! the writes, each over any connection (the request transaction in practice,
//! so RLS decides what the viewer sees and changes, and a request's writes
//! commit together).

use super::inputs::{
    answer_sort_keys, favorite_sort_keys, prompt_sort_keys, template_sort_keys,
    test_result_sort_keys, CreatePromptInput, PromptLabAnswerOrderField, PromptLabAnswerWhere,
    PromptLabPromptOrderField, PromptLabPromptWhere, PromptLabTestResultOrderField,
    PromptLabTestResultWhere, PromptTemplateOrderField, PromptTemplateWhere, PublishTemplateInput,
    RecordTestResultInput, UpdatePromptInput, UpdateTemplateInput,
};
use super::types::{
    PopularPromptTemplate, PromptLabAnswer, PromptLabPrompt, PromptLabTestResult, PromptTemplate,
    PromptTemplateFavorite,
};
use crate::graphql::error::{db_err, ApiError, ApiResult};
use crate::graphql::pagination::{paginate, ApiConnection, Page, SortDirection};
use async_graphql::MaybeUndefined;
use entity::prompt_lab::{prompt_answers, prompt_templates, prompts, test_results, user_favorites};
use rust_decimal::Decimal;
use sea_orm::sea_query::extension::postgres::PgBinOper;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend,
    EntityName, EntityTrait, FromQueryResult, QueryFilter, Statement, Value,
};
use serde_json::Value as JsonValue;
use uuid::Uuid;

/// `no_data_found` from our functions names no object; say which.
fn not_found_as(err: ApiError, what: &'static str) -> ApiError {
    match err {
        ApiError::NotFound(_) => ApiError::NotFound(what),
        other => other,
    }
}

fn not_blank(field: &str, value: &str) -> ApiResult<()> {
    if value.trim().is_empty() {
        return Err(ApiError::bad_input(
            field,
            format!("{field} must not be blank"),
        ));
    }
    Ok(())
}

fn max_chars(field: &str, value: &str, max: usize) -> ApiResult<()> {
    if value.chars().count() > max {
        return Err(ApiError::bad_input(
            field,
            format!("{field} must be at most {max} characters"),
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

/// A title: not blank, fits `varchar(255)`.
fn check_title(title: &str) -> ApiResult<()> {
    not_blank("title", title)?;
    max_chars("title", title, 255)
}

/// The ILIKE pattern matching `query` as a substring: `\`, `%` and `_` are
/// escaped (backslash is ILIKE's default escape), so the search string is
/// data, never pattern syntax. The pattern is bound as a parameter.
pub fn substring_pattern(query: &str) -> String {
    let mut out = String::with_capacity(query.len() + 2);
    out.push('%');
    for ch in query.chars() {
        if matches!(ch, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

/// A page of prompts matching `filter`: the viewer's own (`owner`), or the
/// public ones (`public_only`).
#[allow(clippy::too_many_arguments)]
pub async fn list_prompts(
    db: &impl ConnectionTrait,
    owner: Option<Uuid>,
    public_only: bool,
    filter: Option<PromptLabPromptWhere>,
    order: &[(PromptLabPromptOrderField, SortDirection)],
    page: &Page,
    with_total: bool,
) -> ApiResult<ApiConnection<PromptLabPrompt>> {
    let mut select = prompts::Entity::find();
    if let Some(owner) = owner {
        select = select.filter(prompts::Column::UserId.eq(owner));
    }
    if public_only {
        select = select.filter(prompts::Column::IsPublic.eq(true));
    }
    if let Some(w) = filter {
        select = select.filter(w.condition());
    }
    paginate(
        db,
        select,
        &prompt_sort_keys(order),
        page,
        with_total,
        PromptLabPrompt,
    )
    .await
}

/// A page of the answers the viewer can see (of their own and of public
/// prompts: RLS) matching `filter`.
pub async fn list_answers(
    db: &impl ConnectionTrait,
    filter: Option<PromptLabAnswerWhere>,
    order: &[(PromptLabAnswerOrderField, SortDirection)],
    page: &Page,
    with_total: bool,
) -> ApiResult<ApiConnection<PromptLabAnswer>> {
    let mut select = prompt_answers::Entity::find();
    if let Some(w) = filter {
        select = select.filter(w.condition());
    }
    paginate(
        db,
        select,
        &answer_sort_keys(order),
        page,
        with_total,
        PromptLabAnswer,
    )
    .await
}

/// A page of the viewer's own test results (RLS) matching `filter`.
pub async fn list_test_results(
    db: &impl ConnectionTrait,
    filter: Option<PromptLabTestResultWhere>,
    order: &[(PromptLabTestResultOrderField, SortDirection)],
    page: &Page,
    with_total: bool,
) -> ApiResult<ApiConnection<PromptLabTestResult>> {
    let mut select = test_results::Entity::find();
    if let Some(w) = filter {
        select = select.filter(w.condition());
    }
    paginate(
        db,
        select,
        &test_result_sort_keys(order),
        page,
        with_total,
        PromptLabTestResult,
    )
    .await
}

/// The prompt `id`, if the viewer may see it (own or public).
pub async fn get_prompt(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<Option<PromptLabPrompt>> {
    Ok(prompts::Entity::find_by_id(id)
        .one(db)
        .await
        .map_err(db_err)?
        .map(PromptLabPrompt))
}

/// A page of the templates the viewer can see whose prompt's title or goal
/// contains `search` (case-insensitive), optionally of one `category`.
#[allow(clippy::too_many_arguments)]
pub async fn list_templates(
    db: &impl ConnectionTrait,
    search: Option<String>,
    category: Option<String>,
    filter: Option<PromptTemplateWhere>,
    order: &[(PromptTemplateOrderField, SortDirection)],
    page: &Page,
    with_total: bool,
) -> ApiResult<ApiConnection<PromptTemplate>> {
    let mut select = prompt_templates::Entity::find();
    if let Some(query) = search.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let pattern = substring_pattern(query);
        let ilike = |column: prompts::Column| {
            Expr::col((prompts::Entity, column))
                .binary(PgBinOper::ILike, Expr::val(pattern.clone()))
        };
        // A subquery rather than a join keeps the select on templates alone
        // (the keyset pagination works on its columns); it runs under the
        // prompts policy, which shows every prompt of a visible template.
        let matching = Query::select()
            .column((prompts::Entity, prompts::Column::Id))
            .from(prompts::Entity.table_ref())
            .cond_where(
                Condition::any()
                    .add(ilike(prompts::Column::Title))
                    .add(ilike(prompts::Column::Goal)),
            )
            .to_owned();
        select = select.filter(prompt_templates::Column::PromptId.in_subquery(matching));
    }
    if let Some(category) = category.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        select = select.filter(prompt_templates::Column::Category.eq(category));
    }
    if let Some(w) = filter {
        select = select.filter(w.condition());
    }
    paginate(
        db,
        select,
        &template_sort_keys(order),
        page,
        with_total,
        PromptTemplate,
    )
    .await
}

/// The template `id`, if the viewer may see it.
pub async fn get_template(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> ApiResult<Option<PromptTemplate>> {
    Ok(prompt_templates::Entity::find_by_id(id)
        .one(db)
        .await
        .map_err(db_err)?
        .map(PromptTemplate))
}

#[derive(FromQueryResult)]
struct PopularRow {
    id: Uuid,
    title: String,
    goal: String,
    category: Option<String>,
    likes_count: i32,
    uses_count: i32,
}

/// The `limit` most liked, then most used templates the viewer can see,
/// optionally of one category (`get_popular_templates`).
pub async fn popular_templates(
    db: &impl ConnectionTrait,
    limit: i32,
    category: Option<String>,
) -> ApiResult<Vec<PopularPromptTemplate>> {
    if !(0..=100).contains(&limit) {
        return Err(ApiError::bad_input("limit", "limit must be 0 to 100"));
    }
    let stmt = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT id, title, goal, category, likes_count, uses_count \
         FROM prompt_lab.get_popular_templates($1, $2)",
        [Value::from(limit), Value::from(category)],
    );
    let rows = PopularRow::find_by_statement(stmt)
        .all(db)
        .await
        .map_err(db_err)?;
    Ok(rows
        .into_iter()
        .map(|r| PopularPromptTemplate {
            id: r.id,
            title: r.title,
            goal: r.goal,
            category: r.category,
            likes_count: r.likes_count,
            uses_count: r.uses_count,
        })
        .collect())
}

/// A page of `user`'s favorites, newest first.
pub async fn list_favorites(
    db: &impl ConnectionTrait,
    user: Uuid,
    page: &Page,
    with_total: bool,
) -> ApiResult<ApiConnection<PromptTemplateFavorite>> {
    let select = user_favorites::Entity::find().filter(user_favorites::Column::UserId.eq(user));
    paginate(
        db,
        select,
        &favorite_sort_keys(),
        page,
        with_total,
        PromptTemplateFavorite,
    )
    .await
}

fn string_array(values: Vec<String>) -> JsonValue {
    JsonValue::Array(values.into_iter().map(JsonValue::String).collect())
}

/// Creates a prompt with its answers in ONE statement
/// (`create_prompt_with_answers`): a rejected answer leaves nothing behind.
pub async fn create_prompt(
    db: &impl ConnectionTrait,
    input: CreatePromptInput,
) -> ApiResult<PromptLabPrompt> {
    check_title(&input.title)?;
    not_blank("goal", &input.goal)?;
    let answers = input.answers.unwrap_or_default();
    for answer in &answers {
        not_blank("answers", &answer.question_id)?;
        max_chars("answers", &answer.question_id, 100)?;
    }
    let answers = JsonValue::Array(
        answers
            .into_iter()
            .map(|a| {
                serde_json::json!({
                    "question_id": a.question_id,
                    "question_text": a.question_text,
                    "answer": a.answer,
                })
            })
            .collect(),
    );
    let stmt = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT * FROM prompt_lab.create_prompt_with_answers($1, $2, $3, $4, $5, $6)",
        [
            Value::from(input.title),
            Value::from(input.goal),
            Value::from(input.template),
            Value::from(string_array(input.variables.unwrap_or_default())),
            Value::from(input.is_public.unwrap_or(false)),
            Value::from(answers),
        ],
    );
    let row = prompts::Model::find_by_statement(stmt)
        .one(db)
        .await
        .map_err(|e| match db_err(e) {
            // The only unique key an insert here can hit is one answer per
            // question; any answer column at fault is reported as `answers`.
            ApiError::Conflict(_) => {
                ApiError::Conflict("each question may be answered only once".into())
            }
            ApiError::BadUserInput { message, field } => ApiError::BadUserInput {
                message,
                field: match field.as_deref() {
                    Some("questionId" | "questionText" | "answer") => Some("answers".into()),
                    _ => field,
                },
            },
            other => other,
        })?;
    row.map(PromptLabPrompt)
        .ok_or_else(|| ApiError::Internal("create_prompt_with_answers returned no row".into()))
}

/// Changes the given fields of the viewer's prompt (others' are NOT_FOUND:
/// RLS hides them from the UPDATE).
pub async fn update_prompt(
    db: &impl ConnectionTrait,
    user: Uuid,
    input: UpdatePromptInput,
) -> ApiResult<PromptLabPrompt> {
    use prompts::Column as C;
    let mut update = prompts::Entity::update_many().filter(C::Id.eq(input.id));
    let mut changed = false;
    if let Some(title) = input.title {
        check_title(&title)?;
        update = update.col_expr(C::Title, Expr::value(title));
        changed = true;
    }
    if let Some(goal) = input.goal {
        not_blank("goal", &goal)?;
        update = update.col_expr(C::Goal, Expr::value(goal));
        changed = true;
    }
    if let Some(template) = input.template {
        update = update.col_expr(C::Template, Expr::value(template));
        changed = true;
    }
    if let Some(variables) = input.variables {
        update = update.col_expr(C::Variables, Expr::value(string_array(variables)));
        changed = true;
    }
    if let Some(public) = input.is_public {
        update = update.col_expr(C::IsPublic, Expr::value(public));
        changed = true;
    }
    if !changed {
        // Nothing to change: still only the owner gets the prompt back (a
        // public prompt of someone else is as missing as a private one).
        return prompts::Entity::find_by_id(input.id)
            .filter(C::UserId.eq(user))
            .one(db)
            .await
            .map_err(db_err)?
            .map(PromptLabPrompt)
            .ok_or(ApiError::NotFound("prompt"));
    }
    let rows = update.exec_with_returning(db).await.map_err(db_err)?;
    rows.into_iter()
        .next()
        .map(PromptLabPrompt)
        .ok_or(ApiError::NotFound("prompt"))
}

/// Deletes the viewer's prompt with its answers, test results and template.
pub async fn delete_prompt(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<Uuid> {
    let result = prompts::Entity::delete_many()
        .filter(prompts::Column::Id.eq(id))
        .exec(db)
        .await
        .map_err(db_err)?;
    if result.rows_affected == 0 {
        return Err(ApiError::NotFound("prompt"));
    }
    Ok(id)
}

/// Records a test run by `user` of a prompt the viewer can see.
pub async fn record_test_result(
    db: &impl ConnectionTrait,
    user: Uuid,
    input: RecordTestResultInput,
) -> ApiResult<PromptLabTestResult> {
    not_blank("model", &input.model)?;
    max_chars("model", &input.model, 50)?;
    if input.temperature < Decimal::ZERO || input.temperature > Decimal::TWO {
        return Err(ApiError::bad_input(
            "temperature",
            "temperature must be between 0 and 2",
        ));
    }
    not_negative("tokensUsed", input.tokens_used)?;
    not_negative("responseTimeMs", input.response_time_ms)?;
    let variable_values = match input.variable_values {
        None => JsonValue::Object(Default::default()),
        Some(v) if v.0.is_object() => v.0,
        Some(_) => {
            return Err(ApiError::bad_input(
                "variableValues",
                "variableValues must be a JSON object",
            ))
        }
    };
    if get_prompt(db, input.prompt_id).await?.is_none() {
        return Err(ApiError::NotFound("prompt"));
    }
    let row = test_results::ActiveModel {
        id: Set(Uuid::new_v4()),
        prompt_id: Set(input.prompt_id),
        user_id: Set(user),
        model: Set(input.model.trim().to_string()),
        temperature: Set(input.temperature),
        variable_values: Set(variable_values),
        resolved_prompt: Set(input.resolved_prompt),
        result: Set(input.result),
        tokens_used: Set(input.tokens_used),
        response_time_ms: Set(input.response_time_ms),
        ..Default::default()
    };
    Ok(PromptLabTestResult(row.insert(db).await.map_err(db_err)?))
}

/// Shares `user`'s prompt as a template and makes the prompt public (a
/// template is published exactly when its prompt is public).
pub async fn publish_template(
    db: &impl ConnectionTrait,
    user: Uuid,
    input: PublishTemplateInput,
) -> ApiResult<PromptTemplate> {
    let category = input.category.map(check_category).transpose()?;
    let tags = check_tags(input.tags.unwrap_or_default())?;
    // Owner only: a public prompt of someone else is as missing as a
    // private one.
    let published = prompts::Entity::update_many()
        .col_expr(prompts::Column::IsPublic, Expr::value(true))
        .filter(prompts::Column::Id.eq(input.prompt_id))
        .filter(prompts::Column::UserId.eq(user))
        .exec(db)
        .await
        .map_err(db_err)?;
    if published.rows_affected == 0 {
        return Err(ApiError::NotFound("prompt"));
    }
    let row = prompt_templates::ActiveModel {
        id: Set(Uuid::new_v4()),
        prompt_id: Set(input.prompt_id),
        user_id: Set(user),
        category: Set(category),
        tags: Set(tags),
        ..Default::default()
    };
    match row.insert(db).await.map_err(db_err) {
        Ok(model) => Ok(PromptTemplate(model)),
        Err(ApiError::Conflict(_)) => Err(ApiError::Conflict(
            "this prompt is already published as a template".into(),
        )),
        Err(other) => Err(other),
    }
}

/// A template category as stored: trimmed, not blank, at most 100
/// characters.
fn check_category(category: String) -> ApiResult<String> {
    not_blank("category", &category)?;
    max_chars("category", category.trim(), 100)?;
    Ok(category.trim().to_string())
}

/// Template tags as stored: trimmed, none blank.
fn check_tags(tags: Vec<String>) -> ApiResult<Vec<String>> {
    let tags: Vec<String> = tags.into_iter().map(|t| t.trim().to_string()).collect();
    if tags.iter().any(String::is_empty) {
        return Err(ApiError::bad_input("tags", "tags must not be blank"));
    }
    Ok(tags)
}

/// The template `id` if the viewer may see it (NOT_FOUND otherwise) and is
/// its author (FORBIDDEN otherwise: a published template of someone else).
async fn own_template(
    db: &impl ConnectionTrait,
    user: Uuid,
    id: Uuid,
) -> ApiResult<prompt_templates::Model> {
    let template = visible_template(db, id).await?.0;
    if template.user_id != user {
        return Err(ApiError::Forbidden(
            "only the author may change a template".into(),
        ));
    }
    Ok(template)
}

/// Changes the category and tags of `user`'s template (the database's
/// policy and column grants allow nothing else).
pub async fn update_template(
    db: &impl ConnectionTrait,
    user: Uuid,
    input: UpdateTemplateInput,
) -> ApiResult<PromptTemplate> {
    let category = match input.category {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(c) => Some(Some(check_category(c)?)),
    };
    let tags = input.tags.map(check_tags).transpose()?;
    let existing = own_template(db, user, input.template_id).await?;
    if category.is_none() && tags.is_none() {
        return Ok(PromptTemplate(existing));
    }
    let mut row: prompt_templates::ActiveModel = existing.into();
    if let Some(category) = category {
        row.category = Set(category);
    }
    if let Some(tags) = tags {
        row.tags = Set(tags);
    }
    // RLS would hide another author's row from the UPDATE too.
    let row = row.update(db).await.map_err(|e| match e {
        sea_orm::DbErr::RecordNotUpdated => ApiError::NotFound("prompt template"),
        other => db_err(other),
    })?;
    Ok(PromptTemplate(row))
}

/// Unpublishes `user`'s template: its prompt becomes private (a template is
/// published exactly when its prompt is public), so only the author sees
/// either; likes, uses and favorites stay. Unpublishing again changes
/// nothing.
pub async fn unpublish_template(
    db: &impl ConnectionTrait,
    user: Uuid,
    id: Uuid,
) -> ApiResult<PromptTemplate> {
    let template = own_template(db, user, id).await?;
    prompts::Entity::update_many()
        .col_expr(prompts::Column::IsPublic, Expr::value(false))
        .filter(prompts::Column::Id.eq(template.prompt_id))
        .filter(prompts::Column::UserId.eq(user))
        .exec(db)
        .await
        .map_err(db_err)?;
    visible_template(db, id).await
}

/// Runs `SELECT fn($1)` for a template id (the like/use counters).
async fn call_template_fn(db: &impl ConnectionTrait, sql: &str, id: Uuid) -> ApiResult<()> {
    let stmt = Statement::from_sql_and_values(DbBackend::Postgres, sql, [Value::from(id)]);
    db.query_one_raw(stmt)
        .await
        .map_err(|e| not_found_as(db_err(e), "prompt template"))?;
    Ok(())
}

/// The template after a change; NOT_FOUND when it is not visible.
async fn visible_template(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<PromptTemplate> {
    get_template(db, id)
        .await?
        .ok_or(ApiError::NotFound("prompt template"))
}

/// Likes a template as the viewer; liking again changes nothing.
pub async fn like_template(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<PromptTemplate> {
    call_template_fn(db, "SELECT prompt_lab.increment_likes_count($1)", id).await?;
    visible_template(db, id).await
}

/// Withdraws the viewer's like (idempotent; allowed on a template that is no
/// longer visible, which then comes back as null).
pub async fn unlike_template(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> ApiResult<Option<PromptTemplate>> {
    call_template_fn(db, "SELECT prompt_lab.decrement_likes_count($1)", id).await?;
    get_template(db, id).await
}

/// Marks a visible template as the viewer's favorite (idempotent).
pub async fn favorite_template(
    db: &impl ConnectionTrait,
    user: Uuid,
    id: Uuid,
) -> ApiResult<PromptTemplate> {
    let template = visible_template(db, id).await?;
    let stmt = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO prompt_lab.user_favorites (user_id, template_id) VALUES ($1, $2) \
         ON CONFLICT ON CONSTRAINT user_favorites_pkey DO NOTHING",
        [Value::from(user), Value::from(id)],
    );
    db.execute_raw(stmt).await.map_err(db_err)?;
    Ok(template)
}

/// Removes a template from the viewer's favorites (idempotent; allowed on a
/// template that is no longer visible, which then comes back as null).
pub async fn unfavorite_template(
    db: &impl ConnectionTrait,
    user: Uuid,
    id: Uuid,
) -> ApiResult<Option<PromptTemplate>> {
    user_favorites::Entity::delete_many()
        .filter(user_favorites::Column::UserId.eq(user))
        .filter(user_favorites::Column::TemplateId.eq(id))
        .exec(db)
        .await
        .map_err(db_err)?;
    get_template(db, id).await
}

/// Counts one use of a visible template.
pub async fn record_template_use(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<PromptTemplate> {
    call_template_fn(db, "SELECT prompt_lab.increment_uses_count($1)", id).await?;
    visible_template(db, id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_strings_are_data() {
        assert_eq!(substring_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(substring_pattern("it's"), "%it's%");
    }
}
