//! Domain functions of the chat API. Every SQL function that takes a user id
//! is called with the viewer's own id (the `user` argument, taken from the
//! verified token by the resolvers), never with an id from the client; the
//! database re-checks it (`auth.require_user`).

use super::inputs::{
    activity_sort_keys, session_sort_keys, ChatActivityWhere, ChatMessageWhere, ChatSessionWhere,
    RecordSignInInput, SendChatMessageInput, UpdateChatPreferencesInput,
};
use super::types::{
    ChatActivity, ChatCleanupPayload, ChatMessage, ChatModel, ChatPreferenceSection, ChatProfile,
    ChatSession, ChatTier, ChatUsage, ChatUsageDay, ChatUsageTotals, ChatUserSummary,
    RecordSignInPayload, SendChatMessagePayload, SyncChatConversationsPayload,
};
use crate::graphql::error::{ApiError, ApiResult};
use crate::graphql::pagination::{paginate, ApiConnection, Page, SortDirection};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use entity::chat::{
    api_user_summary, chat_messages, chat_sessions, model_access, profiles, user_activity_log,
    user_usage_daily,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr,
    EntityTrait, FromQueryResult, QueryFilter, QueryOrder, Statement, Value,
};
use serde_json::Value as JsonValue;
use std::collections::BTreeSet;
use uuid::Uuid;

/// The longest usage range one request may ask for.
const MAX_USAGE_DAYS: i64 = 366;

/// A database error as an API error; bad input raised by a chat function
/// (SQLSTATE 22023, no constraint) is attributed to `field`.
fn db_err_on(field: &'static str) -> impl Fn(DbErr) -> ApiError {
    move |err| match ApiError::from(err) {
        ApiError::BadUserInput { message, field: f } => ApiError::BadUserInput {
            message,
            field: Some(f.unwrap_or_else(|| field.to_string())),
        },
        other => other,
    }
}

fn stmt(sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// The single jsonb result of `sql` (column `result`), NULL as `None`.
async fn json_call(
    db: &impl ConnectionTrait,
    sql: &str,
    values: Vec<Value>,
    field: &'static str,
) -> ApiResult<Option<JsonValue>> {
    let row = db
        .query_one_raw(stmt(sql, values))
        .await
        .map_err(db_err_on(field))?
        .ok_or_else(|| ApiError::Internal("function returned no row".into()))?;
    row.try_get::<Option<JsonValue>>("", "result")
        .map_err(|e| ApiError::Internal(e.to_string()))
}

fn non_negative(field: &str, value: i32) -> ApiResult<()> {
    if value < 0 {
        return Err(ApiError::bad_input(
            field,
            format!("{field} must not be negative"),
        ));
    }
    Ok(())
}

/// A client id: given (trimmed, 1..255 characters) or a fresh one.
fn client_id(field: &str, given: Option<String>) -> ApiResult<String> {
    match given {
        None => Ok(Uuid::new_v4().to_string()),
        Some(id) => {
            let id = id.trim().to_string();
            if id.is_empty() || id.chars().count() > 255 {
                return Err(ApiError::bad_input(field, "must be 1 to 255 characters"));
            }
            Ok(id)
        }
    }
}

fn title(field: &str, title: &str) -> ApiResult<String> {
    let t = title.trim();
    if t.is_empty() || t.chars().count() > 255 {
        return Err(ApiError::bad_input(field, "must be 1 to 255 characters"));
    }
    Ok(t.to_string())
}

/// The viewer's profile; `None` before the first sign-in.
pub async fn profile(db: &impl ConnectionTrait, user: Uuid) -> ApiResult<Option<ChatProfile>> {
    Ok(profiles::Entity::find_by_id(user)
        .one(db)
        .await?
        .map(ChatProfile))
}

/// A page of the sessions matching `filter` (RLS: the viewer's own).
pub async fn list_sessions(
    db: &impl ConnectionTrait,
    filter: Option<ChatSessionWhere>,
    direction: SortDirection,
    page: &Page,
    with_total: bool,
) -> ApiResult<ApiConnection<ChatSession>> {
    let mut select = chat_sessions::Entity::find();
    if let Some(w) = filter {
        select = select.filter(w.condition());
    }
    paginate(
        db,
        select,
        &session_sort_keys(direction),
        page,
        with_total,
        ChatSession,
    )
    .await
}

/// A page of the messages matching `filter` (RLS: the viewer's own).
pub async fn list_messages(
    db: &impl ConnectionTrait,
    filter: Option<ChatMessageWhere>,
    direction: SortDirection,
    page: &Page,
    with_total: bool,
) -> ApiResult<ApiConnection<ChatMessage>> {
    let mut select = chat_messages::Entity::find();
    if let Some(w) = filter {
        select = select.filter(w.condition());
    }
    paginate(
        db,
        select,
        &super::inputs::message_sort_keys(direction),
        page,
        with_total,
        ChatMessage,
    )
    .await
}

/// The session `id`, if the viewer may see it.
pub async fn get_session(db: &impl ConnectionTrait, id: Uuid) -> ApiResult<Option<ChatSession>> {
    Ok(chat_sessions::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(ChatSession))
}

/// A page of the viewer's activity log, newest first.
pub async fn list_activity(
    db: &impl ConnectionTrait,
    user: Uuid,
    filter: Option<ChatActivityWhere>,
    page: &Page,
    with_total: bool,
) -> ApiResult<ApiConnection<ChatActivity>> {
    // Explicitly the viewer's: a service token with a subject bypasses RLS.
    let mut select =
        user_activity_log::Entity::find().filter(user_activity_log::Column::UserId.eq(user));
    if let Some(w) = filter {
        select = select.filter(w.condition());
    }
    paginate(
        db,
        select,
        &activity_sort_keys(),
        page,
        with_total,
        ChatActivity,
    )
    .await
}

/// The viewer's daily usage from `from` to `to` (inclusive), with totals.
pub async fn usage(
    db: &impl ConnectionTrait,
    user: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> ApiResult<ChatUsage> {
    if from > to {
        return Err(ApiError::bad_input("from", "from must not be after to"));
    }
    if (to - from).num_days() >= MAX_USAGE_DAYS {
        return Err(ApiError::bad_input(
            "to",
            format!("at most {MAX_USAGE_DAYS} days per request"),
        ));
    }
    use user_usage_daily::Column as C;
    let rows = user_usage_daily::Entity::find()
        .filter(C::UserId.eq(user))
        .filter(C::UsageDate.gte(from))
        .filter(C::UsageDate.lte(to))
        .order_by_asc(C::UsageDate)
        .all(db)
        .await?;
    let mut totals = ChatUsageTotals::default();
    let mut models = BTreeSet::new();
    for r in &rows {
        totals.active_days += 1;
        totals.messages_sent += r.messages_sent as i64;
        totals.messages_received += r.messages_received as i64;
        totals.input_tokens += r.input_tokens;
        totals.output_tokens += r.output_tokens;
        totals.total_tokens += r.total_tokens;
        totals.sessions_created += r.sessions_created as i64;
        totals.active_minutes += r.active_minutes as i64;
        models.extend(r.models_used.iter().cloned());
    }
    totals.models_used = models.into_iter().collect();
    Ok(ChatUsage {
        days: rows.into_iter().map(ChatUsageDay::from).collect(),
        totals,
    })
}

/// The models the viewer's tier may use (`get_user_allowed_models`).
pub async fn allowed_models(db: &impl ConnectionTrait, user: Uuid) -> ApiResult<Vec<ChatModel>> {
    Ok(ChatModel::find_by_statement(stmt(
        "SELECT model_id, model_name, model_description, tier, daily_limit, monthly_limit \
         FROM chat.get_user_allowed_models($1) ORDER BY model_id",
        vec![user.into()],
    ))
    .all(db)
    .await?)
}

/// Whether the viewer's tier allows `model` (`can_user_use_model`).
pub async fn can_use_model(db: &impl ConnectionTrait, user: Uuid, model: &str) -> ApiResult<bool> {
    let row = db
        .query_one_raw(stmt(
            "SELECT chat.can_user_use_model($1, $2) AS result",
            vec![user.into(), model.into()],
        ))
        .await?
        .ok_or_else(|| ApiError::Internal("no row".into()))?;
    Ok(row
        .try_get::<Option<bool>>("", "result")
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .unwrap_or(false))
}

/// The active model catalogue (public), by model then tier.
pub async fn model_catalogue(db: &impl ConnectionTrait) -> ApiResult<Vec<ChatModel>> {
    use model_access::Column as C;
    let rows = model_access::Entity::find()
        .filter(C::IsActive.eq(true))
        .order_by_asc(C::ModelId)
        .order_by_asc(C::Tier)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|m| ChatModel {
            model_id: m.model_id,
            model_name: m.model_name,
            model_description: m.model_description,
            tier: m.tier,
            daily_limit: m.daily_limit,
            monthly_limit: m.monthly_limit,
        })
        .collect())
}

/// The viewer's `api_user_summary` row.
pub async fn summary(db: &impl ConnectionTrait, user: Uuid) -> ApiResult<Option<ChatUserSummary>> {
    Ok(api_user_summary::Entity::find_by_id(user)
        .one(db)
        .await?
        .map(ChatUserSummary))
}

/// `get_user_complete_profile` of the viewer.
pub async fn complete_profile(
    db: &impl ConnectionTrait,
    user: Uuid,
) -> ApiResult<Option<JsonValue>> {
    json_call(
        db,
        "SELECT chat.get_user_complete_profile($1) AS result",
        vec![user.into()],
        "userId",
    )
    .await
}

/// Stores the user's message and the assistant's response in `input`'s
/// session (a new one when none is given), lets the triggers update the
/// session's stats and adds the exchange to today's usage: all in the
/// caller's transaction, so either all of it stays or none.
pub async fn send_message(
    db: &impl ConnectionTrait,
    user: Uuid,
    input: SendChatMessageInput,
) -> ApiResult<SendChatMessagePayload> {
    let model = input.model.trim().to_string();
    if model.is_empty() {
        return Err(ApiError::bad_input("input.model", "must not be blank"));
    }
    if input.message.content.trim().is_empty() {
        return Err(ApiError::bad_input(
            "input.message.content",
            "must not be blank",
        ));
    }
    non_negative("input.message.inputTokens", input.message.input_tokens)?;
    non_negative("input.response.outputTokens", input.response.output_tokens)?;
    if let Some(ms) = input.response.elapsed_ms {
        non_negative("input.response.elapsedMs", ms)?;
    }
    let user_client = client_id("input.message.clientId", input.message.client_id)?;
    let assistant_client = client_id("input.response.clientId", input.response.client_id)?;
    if user_client == assistant_client {
        return Err(ApiError::bad_input(
            "input.response.clientId",
            "must differ from the user message's clientId",
        ));
    }
    if !can_use_model(db, user, &model).await? {
        return Err(ApiError::Forbidden(format!(
            "your subscription tier does not include the model {model}"
        )));
    }

    let (session_id, created) = match input.session_id {
        Some(id) => {
            // RLS hides other users' sessions: theirs is NOT_FOUND, like a
            // missing one.
            let session = chat_sessions::Entity::find_by_id(id)
                .filter(chat_sessions::Column::UserId.eq(user))
                .one(db)
                .await?
                .ok_or(ApiError::NotFound("chat session"))?;
            (session.id, false)
        }
        None => {
            let title = match &input.title {
                Some(t) => title("input.title", t)?,
                None => input.message.content.trim().chars().take(50).collect(),
            };
            let session = chat_sessions::ActiveModel {
                user_id: Set(user),
                client_id: Set(client_id("input.clientSessionId", input.client_session_id)?),
                title: Set(title),
                ..Default::default()
            }
            .insert(db)
            .await
            .map_err(|e| match ApiError::from(e) {
                ApiError::Conflict(_) => {
                    ApiError::Conflict("a session with this clientSessionId exists".into())
                }
                other => other,
            })?;
            (session.id, true)
        }
    };

    // The answer must sort after the question even within one microsecond.
    let asked_at: DateTime<Utc> = Utc::now();
    let answered_at = std::cmp::max(Utc::now(), asked_at + Duration::microseconds(1));
    let conflict = |field: &'static str| {
        move |e: DbErr| match ApiError::from(e) {
            ApiError::Conflict(_) => {
                ApiError::Conflict(format!("{field} already exists in this session"))
            }
            other => other,
        }
    };
    let user_message = chat_messages::ActiveModel {
        session_id: Set(session_id),
        user_id: Set(user),
        client_id: Set(user_client.clone()),
        role: Set("user".into()),
        content: Set(input.message.content),
        model: Set(Some(model.clone())),
        input_tokens: Set(input.message.input_tokens),
        output_tokens: Set(0),
        message_timestamp: Set(asked_at.into()),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(conflict("input.message.clientId"))?;
    let assistant_message = chat_messages::ActiveModel {
        session_id: Set(session_id),
        user_id: Set(user),
        client_id: Set(assistant_client),
        role: Set("assistant".into()),
        content: Set(input.response.content),
        model: Set(Some(model.clone())),
        input_tokens: Set(0),
        output_tokens: Set(input.response.output_tokens),
        completion_id: Set(input.response.completion_id),
        user_message_id: Set(Some(user_client)),
        elapsed_ms: Set(input.response.elapsed_ms),
        has_error: Set(input.response.has_error),
        error_message: Set(input.response.error_message),
        message_timestamp: Set(answered_at.into()),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(conflict("input.response.clientId"))?;

    let usage = user_usage_daily::Model::find_by_statement(stmt(
        "SELECT * FROM chat.track_user_usage($1, 1, 1, $2, $3, $4, $5, 0)",
        vec![
            user.into(),
            input.message.input_tokens.into(),
            input.response.output_tokens.into(),
            model.into(),
            i32::from(created).into(),
        ],
    ))
    .one(db)
    .await?
    .ok_or_else(|| ApiError::Internal("track_user_usage returned no row".into()))?;

    let session = chat_sessions::Entity::find_by_id(session_id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("chat session"))?;
    Ok(SendChatMessagePayload {
        session: ChatSession(session),
        user_message: ChatMessage(user_message),
        assistant_message: ChatMessage(assistant_message),
        usage_today: usage.into(),
    })
}

/// Renames the viewer's session `id`.
pub async fn rename_session(
    db: &impl ConnectionTrait,
    user: Uuid,
    id: Uuid,
    new_title: &str,
) -> ApiResult<ChatSession> {
    let new_title = title("input.title", new_title)?;
    let session = chat_sessions::Entity::find_by_id(id)
        .filter(chat_sessions::Column::UserId.eq(user))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("chat session"))?;
    let mut row: chat_sessions::ActiveModel = session.into();
    row.title = Set(new_title);
    Ok(ChatSession(row.update(db).await?))
}

/// Deletes the viewer's session `id` (its messages go by cascade).
pub async fn delete_session(db: &impl ConnectionTrait, user: Uuid, id: Uuid) -> ApiResult<Uuid> {
    let result = chat_sessions::Entity::delete_many()
        .filter(chat_sessions::Column::Id.eq(id))
        .filter(chat_sessions::Column::UserId.eq(user))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(ApiError::NotFound("chat session"));
    }
    Ok(id)
}

/// Deletes all of the viewer's sessions; returns how many.
pub async fn clear_sessions(db: &impl ConnectionTrait, user: Uuid) -> ApiResult<i64> {
    let result = chat_sessions::Entity::delete_many()
        .filter(chat_sessions::Column::UserId.eq(user))
        .exec(db)
        .await?;
    Ok(result.rows_affected as i64)
}

fn count(json: &JsonValue, key: &str) -> i32 {
    json.get(key).and_then(JsonValue::as_i64).unwrap_or(0) as i32
}

fn count64(json: &JsonValue, key: &str) -> i64 {
    json.get(key).and_then(JsonValue::as_i64).unwrap_or(0)
}

/// Upserts the client's conversations (`sync_user_conversations`): one
/// statement, so a bad message anywhere leaves nothing behind.
pub async fn sync_conversations(
    db: &impl ConnectionTrait,
    user: Uuid,
    conversations: JsonValue,
) -> ApiResult<SyncChatConversationsPayload> {
    if !(conversations.is_array() || conversations.is_object()) {
        return Err(ApiError::bad_input(
            "input.conversations",
            "must be a JSON array of conversations",
        ));
    }
    let result = json_call(
        db,
        "SELECT chat.sync_user_conversations($1, $2::jsonb) AS result",
        vec![user.into(), conversations.into()],
        "input.conversations",
    )
    .await?
    .unwrap_or_default();
    Ok(SyncChatConversationsPayload {
        conversations: count(&result, "conversations"),
        sessions_created: count(&result, "sessions_created"),
        sessions_updated: count(&result, "sessions_updated"),
        messages_inserted: count(&result, "messages_inserted"),
        messages_updated: count(&result, "messages_updated"),
        messages_unchanged: count(&result, "messages_unchanged"),
    })
}

/// Deep-merges `input.preferences` into a section of the viewer's
/// preferences; returns all preferences.
pub async fn update_preferences(
    db: &impl ConnectionTrait,
    user: Uuid,
    input: UpdateChatPreferencesInput,
) -> ApiResult<JsonValue> {
    if !input.preferences.0.is_object() {
        return Err(ApiError::bad_input(
            "input.preferences",
            "must be a JSON object",
        ));
    }
    let section: ChatPreferenceSection = input.section;
    json_call(
        db,
        "SELECT chat.update_user_preferences($1, $2, $3::jsonb) AS result",
        vec![
            user.into(),
            section.as_db().into(),
            input.preferences.0.into(),
        ],
        "input.preferences",
    )
    .await?
    .ok_or(ApiError::NotFound("chat profile"))
}

/// Everything stored about the viewer (`export_user_data`).
pub async fn export_data(db: &impl ConnectionTrait, user: Uuid) -> ApiResult<JsonValue> {
    Ok(json_call(
        db,
        "SELECT chat.export_user_data($1) AS result",
        vec![user.into()],
        "userId",
    )
    .await?
    .unwrap_or(JsonValue::Null))
}

/// Service role: sets a user's tier (`update_user_tier`).
pub async fn update_tier(
    db: &impl ConnectionTrait,
    user: Uuid,
    tier: ChatTier,
) -> ApiResult<ChatProfile> {
    let row = profiles::Model::find_by_statement(stmt(
        "SELECT * FROM chat.update_user_tier($1, $2)",
        vec![user.into(), tier.as_db().into()],
    ))
    .one(db)
    .await
    .map_err(db_err_on("input.tier"))?
    .ok_or(ApiError::NotFound("chat profile"))?;
    Ok(ChatProfile(row))
}

/// Service role: `cleanup_old_data`.
pub async fn cleanup(
    db: &impl ConnectionTrait,
    days_to_keep: i32,
) -> ApiResult<ChatCleanupPayload> {
    if days_to_keep < 1 {
        return Err(ApiError::bad_input(
            "input.daysToKeep",
            "must be at least 1",
        ));
    }
    let result = json_call(
        db,
        "SELECT chat.cleanup_old_data($1) AS result",
        vec![days_to_keep.into()],
        "input.daysToKeep",
    )
    .await?
    .unwrap_or_default();
    Ok(ChatCleanupPayload {
        activity_logs_deleted: count64(&result, "activity_logs_deleted"),
        usage_rows_deleted: count64(&result, "usage_rows_deleted"),
        cache_entries_deleted: count64(&result, "cache_entries_deleted"),
    })
}

/// Service role: `analyze_database_health`.
pub async fn database_health(db: &impl ConnectionTrait) -> ApiResult<JsonValue> {
    Ok(json_call(
        db,
        "SELECT chat.analyze_database_health() AS result",
        vec![],
        "query",
    )
    .await?
    .unwrap_or(JsonValue::Null))
}

/// Service role: what the auth system does on a sign-in. A first sign-in
/// inserts the identity, a returning one updates it; the
/// `on_auth_user_profile_sync` trigger then creates or syncs the chat
/// profile and logs `profile_created` / `profile_synced`.
pub async fn record_sign_in(
    db: &impl ConnectionTrait,
    input: RecordSignInInput,
) -> ApiResult<RecordSignInPayload> {
    let email = input.email.trim().to_string();
    if email.is_empty() || !email.contains('@') || email.chars().count() > 255 {
        return Err(ApiError::bad_input(
            "input.email",
            "must be an email address",
        ));
    }
    let mut meta = serde_json::Map::new();
    if let Some(name) = input.full_name {
        meta.insert("full_name".into(), JsonValue::String(name));
    }
    if let Some(url) = input.avatar_url {
        meta.insert("avatar_url".into(), JsonValue::String(url));
    }
    let signed_in_at: DateTime<Utc> = input.signed_in_at.unwrap_or_else(Utc::now);
    let id = input.user_id.unwrap_or_else(Uuid::new_v4);
    let row = db
        .query_one_raw(stmt(
            "INSERT INTO auth.users AS u (id, email, raw_user_meta_data, last_sign_in_at) \
             VALUES ($1, $2, $3::jsonb, $4) \
             ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, \
               raw_user_meta_data = u.raw_user_meta_data || EXCLUDED.raw_user_meta_data, \
               last_sign_in_at = EXCLUDED.last_sign_in_at, updated_at = now() \
             RETURNING (xmax = 0) AS created",
            vec![
                id.into(),
                email.into(),
                JsonValue::Object(meta).into(),
                signed_in_at.into(),
            ],
        ))
        .await
        .map_err(|e| match ApiError::from(e) {
            ApiError::Conflict(_) => ApiError::Conflict("email already exists".into()),
            other => other,
        })?
        .ok_or_else(|| ApiError::Internal("insert returned no row".into()))?;
    let created: bool = row
        .try_get("", "created")
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let profile = profile(db, id)
        .await?
        .ok_or_else(|| ApiError::Internal("sign-in left no chat profile".into()))?;
    Ok(RecordSignInPayload { profile, created })
}
