//! GraphQL object types of the prompt lab domain: prompts, their answers and
//! test results, community templates with their authors, favorites, the
//! popularity ranking and the mutation payloads.

use super::inputs::{
    normalize_order, test_result_sort_keys, PromptLabAnswerOrder, PromptLabTestResultOrder,
    ANSWER_DEFAULT_ORDER, TEST_RESULT_DEFAULT_ORDER,
};
use super::loaders::PromptLabLoader;
use super::loaders::{
    load_one, AnswersOfPrompt, AuthorById, FavoritedByViewer, LikedByViewer, PromptById,
    TemplateById, TemplateOfPrompt, TestResultsOfPrompt,
};
use crate::graphql::error::ResultExt;
use crate::graphql::loading::nested_connection;
use crate::graphql::pagination::nested_limit;
use crate::graphql::pagination::{ApiConnection, DEFAULT_PAGE_SIZE};
use async_graphql::{Context, Json, Object, SimpleObject};
use chrono::{DateTime, FixedOffset};
use entity::prompt_lab::{
    prompt_answers, prompt_templates, prompts, template_authors, test_results, user_favorites,
};
use rust_decimal::Decimal;
use uuid::Uuid;

/// A prompt of the prompt lab: readable by its owner, and by everyone when
/// public.
#[derive(Clone, Debug)]
pub struct PromptLabPrompt(pub prompts::Model);

#[Object]
impl PromptLabPrompt {
    /// Prompt id.
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// The owner.
    async fn user_id(&self) -> Uuid {
        self.0.user_id
    }
    /// Title.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// What the prompt is for.
    async fn goal(&self) -> &str {
        &self.0.goal
    }
    /// The template text.
    async fn template(&self) -> &str {
        &self.0.template
    }
    /// The template's variable names (a JSON array).
    async fn variables(&self) -> Json<serde_json::Value> {
        Json(self.0.variables.clone())
    }
    /// Readable by everyone.
    async fn is_public(&self) -> bool {
        self.0.is_public
    }
    /// Creation time.
    async fn created_at(&self) -> DateTime<FixedOffset> {
        self.0.created_at
    }
    /// Last change.
    async fn updated_at(&self) -> DateTime<FixedOffset> {
        self.0.updated_at
    }

    /// Answers to the clarifying questions (default: by question id).
    #[graphql(
        complexity = "first.map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn answers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        order_by: Option<Vec<PromptLabAnswerOrder>>,
    ) -> async_graphql::Result<ApiConnection<PromptLabAnswer>> {
        let order = normalize_order(order_by, ANSWER_DEFAULT_ORDER);
        nested_connection::<PromptLabLoader, AnswersOfPrompt, _>(
            ctx,
            self.0.id,
            first,
            order,
            PromptLabAnswer,
        )
        .await
    }

    /// The viewer's test runs of this prompt (default: newest first); empty
    /// for anon.
    #[graphql(
        complexity = "first.map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn test_results(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        order_by: Option<Vec<PromptLabTestResultOrder>>,
    ) -> async_graphql::Result<ApiConnection<PromptLabTestResult>> {
        let order = normalize_order(order_by, TEST_RESULT_DEFAULT_ORDER);
        if crate::graphql::context::viewer(ctx).user_id.is_none() {
            // anon has no right on test_results at all; nothing is theirs.
            nested_limit(ctx, first).gql()?;
            return crate::graphql::pagination::ChildPage::<test_results::Model>::default()
                .into_connection(&test_result_sort_keys(&order), PromptLabTestResult)
                .gql();
        }
        nested_connection::<PromptLabLoader, TestResultsOfPrompt, _>(
            ctx,
            self.0.id,
            first,
            order,
            PromptLabTestResult,
        )
        .await
    }

    /// The community template made from this prompt, if any (and visible).
    async fn prompt_template(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<PromptTemplate>> {
        let row = load_one(ctx, TemplateOfPrompt(self.0.id)).await?;
        Ok(row.map(PromptTemplate))
    }
}

/// An answer to one clarifying question of a prompt.
#[derive(Clone, Debug)]
pub struct PromptLabAnswer(pub prompt_answers::Model);

#[Object]
impl PromptLabAnswer {
    /// Answer id.
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// The prompt's id.
    async fn prompt_id(&self) -> Uuid {
        self.0.prompt_id
    }
    /// The question's id (once per prompt).
    async fn question_id(&self) -> &str {
        &self.0.question_id
    }
    /// The question as asked.
    async fn question_text(&self) -> &str {
        &self.0.question_text
    }
    /// The answer.
    async fn answer(&self) -> &str {
        &self.0.answer
    }
    /// Creation time.
    async fn created_at(&self) -> DateTime<FixedOffset> {
        self.0.created_at
    }
}

/// One run of a prompt against a model, visible to the user who ran it.
#[derive(Clone, Debug)]
pub struct PromptLabTestResult(pub test_results::Model);

#[Object]
impl PromptLabTestResult {
    /// Test result id.
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// The prompt tested.
    async fn prompt_id(&self) -> Uuid {
        self.0.prompt_id
    }
    /// The user who ran the test.
    async fn user_id(&self) -> Uuid {
        self.0.user_id
    }
    /// The model.
    async fn model(&self) -> &str {
        &self.0.model
    }
    /// Sampling temperature, 0 to 2.
    async fn temperature(&self) -> Decimal {
        self.0.temperature
    }
    /// The variable values used (a JSON object).
    async fn variable_values(&self) -> Json<serde_json::Value> {
        Json(self.0.variable_values.clone())
    }
    /// The prompt with the variables filled in.
    async fn resolved_prompt(&self) -> &str {
        &self.0.resolved_prompt
    }
    /// The model's answer.
    async fn result(&self) -> Option<&str> {
        self.0.result.as_deref()
    }
    /// Tokens spent.
    async fn tokens_used(&self) -> Option<i32> {
        self.0.tokens_used
    }
    /// Response time in milliseconds.
    async fn response_time_ms(&self) -> Option<i32> {
        self.0.response_time_ms
    }
    /// Creation time.
    async fn created_at(&self) -> DateTime<FixedOffset> {
        self.0.created_at
    }

    /// The prompt tested.
    async fn prompt(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PromptLabPrompt>> {
        let row = load_one(ctx, PromptById(self.0.prompt_id)).await?;
        Ok(row.map(PromptLabPrompt))
    }
}

/// A prompt shared as a community template: visible to everyone when its
/// prompt is public, otherwise to its author only.
#[derive(Clone, Debug)]
pub struct PromptTemplate(pub prompt_templates::Model);

#[Object]
impl PromptTemplate {
    /// Template id.
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// The shared prompt's id.
    async fn prompt_id(&self) -> Uuid {
        self.0.prompt_id
    }
    /// The author (the prompt's owner).
    async fn user_id(&self) -> Uuid {
        self.0.user_id
    }
    /// Category.
    async fn category(&self) -> Option<&str> {
        self.0.category.as_deref()
    }
    /// Tags.
    async fn tags(&self) -> &[String] {
        &self.0.tags
    }
    /// Number of users who like it.
    async fn likes_count(&self) -> i32 {
        self.0.likes_count
    }
    /// Number of recorded uses.
    async fn uses_count(&self) -> i32 {
        self.0.uses_count
    }
    /// Creation time.
    async fn created_at(&self) -> DateTime<FixedOffset> {
        self.0.created_at
    }
    /// Last content change (likes and uses do not count).
    async fn updated_at(&self) -> DateTime<FixedOffset> {
        self.0.updated_at
    }

    /// The shared prompt.
    async fn prompt(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PromptLabPrompt>> {
        let row = load_one(ctx, PromptById(self.0.prompt_id)).await?;
        Ok(row.map(PromptLabPrompt))
    }

    /// Whether the viewer likes this template (false for anon).
    async fn viewer_has_liked(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        // anon holds no right on likes at all, and has none.
        if crate::graphql::context::viewer(ctx).user_id.is_none() {
            return Ok(false);
        }
        Ok(load_one(ctx, LikedByViewer(self.0.id))
            .await?
            .unwrap_or(false))
    }

    /// Whether the viewer marked this template as favorite (false for anon).
    async fn viewer_has_favorited(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        if crate::graphql::context::viewer(ctx).user_id.is_none() {
            return Ok(false);
        }
        Ok(load_one(ctx, FavoritedByViewer(self.0.id))
            .await?
            .unwrap_or(false))
    }

    /// The author's public card; null while the template is unpublished.
    async fn author(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<PromptTemplateAuthor>> {
        let row = load_one(ctx, AuthorById(self.0.user_id)).await?;
        Ok(row.map(PromptTemplateAuthor))
    }
}

/// The public card of a template author: name and avatar, never the email.
#[derive(Clone, Debug)]
pub struct PromptTemplateAuthor(pub template_authors::Model);

#[Object]
impl PromptTemplateAuthor {
    /// The user's id.
    async fn id(&self) -> Uuid {
        self.0.id
    }
    /// Display name.
    async fn full_name(&self) -> Option<&str> {
        self.0.full_name.as_deref()
    }
    /// Avatar image URL.
    async fn avatar_url(&self) -> Option<&str> {
        self.0.avatar_url.as_deref()
    }
}

/// One entry of the popularity ranking (`popularTemplates`).
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct PopularPromptTemplate {
    /// Template id.
    pub id: Uuid,
    /// The prompt's title.
    pub title: String,
    /// The prompt's goal.
    pub goal: String,
    /// Category.
    pub category: Option<String>,
    /// Number of likes.
    pub likes_count: i32,
    /// Number of uses.
    pub uses_count: i32,
}

#[async_graphql::ComplexObject]
impl PopularPromptTemplate {
    /// The template itself.
    async fn template(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PromptTemplate>> {
        let row = load_one(ctx, TemplateById(self.id)).await?;
        Ok(row.map(PromptTemplate))
    }
}

/// A template the viewer marked as favorite.
#[derive(Clone, Debug)]
pub struct PromptTemplateFavorite(pub user_favorites::Model);

#[Object]
impl PromptTemplateFavorite {
    /// The template's id.
    async fn template_id(&self) -> Uuid {
        self.0.template_id
    }
    /// When it was marked.
    async fn created_at(&self) -> DateTime<FixedOffset> {
        self.0.created_at
    }
    /// The template; null when it is no longer visible (unpublished).
    async fn template(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PromptTemplate>> {
        let row = load_one(ctx, TemplateById(self.0.template_id)).await?;
        Ok(row.map(PromptTemplate))
    }
}

/// The result of `createPrompt`.
#[derive(SimpleObject)]
pub struct CreatePromptPayload {
    /// The new prompt (with its answers).
    pub prompt: PromptLabPrompt,
}

/// The result of `updatePrompt`.
#[derive(SimpleObject)]
pub struct UpdatePromptPayload {
    /// The changed prompt.
    pub prompt: PromptLabPrompt,
}

/// The result of `deletePrompt`.
#[derive(SimpleObject)]
pub struct DeletePromptPayload {
    /// Id of the deleted prompt (its answers, test results and template went
    /// with it).
    pub deleted_id: Uuid,
}

/// The result of `recordTestResult`.
#[derive(SimpleObject)]
pub struct RecordTestResultPayload {
    /// The new test result.
    pub test_result: PromptLabTestResult,
}

/// The result of `publishTemplate`.
#[derive(SimpleObject)]
pub struct PublishTemplatePayload {
    /// The new template.
    pub template: PromptTemplate,
}

/// The result of `updateTemplate`.
#[derive(SimpleObject)]
pub struct UpdateTemplatePayload {
    /// The changed template.
    pub template: PromptTemplate,
}

/// The result of `unpublishTemplate`.
#[derive(SimpleObject)]
pub struct UnpublishTemplatePayload {
    /// The template, now visible to its author only.
    pub template: PromptTemplate,
}

/// The result of `likeTemplate`.
#[derive(SimpleObject)]
pub struct LikeTemplatePayload {
    /// The template, with its likes counted.
    pub template: PromptTemplate,
}

/// The result of `unlikeTemplate`.
#[derive(SimpleObject)]
pub struct UnlikeTemplatePayload {
    /// The template's id.
    pub template_id: Uuid,
    /// The template; null when it is not visible (a like can be withdrawn
    /// after the template was unpublished).
    pub template: Option<PromptTemplate>,
}

/// The result of `favoriteTemplate`.
#[derive(SimpleObject)]
pub struct FavoriteTemplatePayload {
    /// The template.
    pub template: PromptTemplate,
}

/// The result of `unfavoriteTemplate`.
#[derive(SimpleObject)]
pub struct UnfavoriteTemplatePayload {
    /// The template's id.
    pub template_id: Uuid,
    /// The template; null when it is not visible.
    pub template: Option<PromptTemplate>,
}

/// The result of `recordTemplateUse`.
#[derive(SimpleObject)]
pub struct RecordTemplateUsePayload {
    /// The template, with its uses counted.
    pub template: PromptTemplate,
}
