//! The prompt lab domain (seed 004): the viewer's prompts with their
//! clarifying answers and test results, public prompts, community templates
//! (search, category, popularity and recency orderings, the popularity
//! ranking, authors), favorites and likes, and the writes.

pub mod inputs;
pub mod loaders;
pub mod service;
pub mod types;

pub use loaders::register_loaders;

use crate::graphql::context::{require_user, tx, viewer};
use crate::graphql::error::ResultExt;
use crate::graphql::pagination::{root_page, wants_total};
use crate::graphql::pagination::{ApiConnection, ConnectionTotal, DEFAULT_PAGE_SIZE};
use async_graphql::connection::Connection;
use async_graphql::{Context, Object};
use inputs::{
    normalize_order, CreatePromptInput, DeletePromptInput, FavoriteTemplateInput,
    LikeTemplateInput, PromptLabAnswerOrder, PromptLabAnswerWhere, PromptLabPromptOrder,
    PromptLabPromptWhere, PromptLabTestResultOrder, PromptLabTestResultWhere, PromptTemplateOrder,
    PromptTemplateWhere, PublishTemplateInput, RecordTemplateUseInput, RecordTestResultInput,
    UnfavoriteTemplateInput, UnlikeTemplateInput, UnpublishTemplateInput, UpdatePromptInput,
    UpdateTemplateInput, ANSWER_DEFAULT_ORDER, PROMPT_DEFAULT_ORDER, TEMPLATE_DEFAULT_ORDER,
    TEST_RESULT_DEFAULT_ORDER,
};
use types::{
    CreatePromptPayload, DeletePromptPayload, FavoriteTemplatePayload, LikeTemplatePayload,
    PopularPromptTemplate, PromptLabAnswer, PromptLabPrompt, PromptLabTestResult, PromptTemplate,
    PromptTemplateFavorite, PublishTemplatePayload, RecordTemplateUsePayload,
    RecordTestResultPayload, UnfavoriteTemplatePayload, UnlikeTemplatePayload,
    UnpublishTemplatePayload, UpdatePromptPayload, UpdateTemplatePayload,
};
use uuid::Uuid;

/// Root queries of the prompt lab domain.
#[derive(Default)]
pub struct PromptLabQuery;

#[Object]
impl PromptLabQuery {
    /// The viewer's own prompts (default: newest first).
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "first.or(last).map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn prompt_lab_prompts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(name = "where")] filter: Option<PromptLabPromptWhere>,
        order_by: Option<Vec<PromptLabPromptOrder>>,
    ) -> async_graphql::Result<ApiConnection<PromptLabPrompt>> {
        let user = require_user(ctx).gql()?;
        let page = root_page(ctx, first, after, last, before).gql()?;
        let order = normalize_order(order_by, PROMPT_DEFAULT_ORDER);
        service::list_prompts(
            tx(ctx).await.gql()?,
            Some(user),
            false,
            filter,
            &order,
            &page,
            wants_total(ctx),
        )
        .await
        .gql()
    }

    /// Public prompts of every user, for anyone including anon (default:
    /// newest first).
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "first.or(last).map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn public_prompts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(name = "where")] filter: Option<PromptLabPromptWhere>,
        order_by: Option<Vec<PromptLabPromptOrder>>,
    ) -> async_graphql::Result<ApiConnection<PromptLabPrompt>> {
        let page = root_page(ctx, first, after, last, before).gql()?;
        let order = normalize_order(order_by, PROMPT_DEFAULT_ORDER);
        service::list_prompts(
            tx(ctx).await.gql()?,
            None,
            true,
            filter,
            &order,
            &page,
            wants_total(ctx),
        )
        .await
        .gql()
    }

    /// Answers the viewer can see: those of the viewer's prompts and of
    /// public prompts (default: by question id). Page one prompt's answers
    /// with `where: {promptId: {eq: ...}}`.
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "first.or(last).map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn prompt_lab_answers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(name = "where")] filter: Option<PromptLabAnswerWhere>,
        order_by: Option<Vec<PromptLabAnswerOrder>>,
    ) -> async_graphql::Result<ApiConnection<PromptLabAnswer>> {
        let page = root_page(ctx, first, after, last, before).gql()?;
        let order = normalize_order(order_by, ANSWER_DEFAULT_ORDER);
        service::list_answers(
            tx(ctx).await.gql()?,
            filter,
            &order,
            &page,
            wants_total(ctx),
        )
        .await
        .gql()
    }

    /// The viewer's own test runs (default: newest first).
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "first.or(last).map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn prompt_lab_test_results(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(name = "where")] filter: Option<PromptLabTestResultWhere>,
        order_by: Option<Vec<PromptLabTestResultOrder>>,
    ) -> async_graphql::Result<ApiConnection<PromptLabTestResult>> {
        require_user(ctx).gql()?;
        let page = root_page(ctx, first, after, last, before).gql()?;
        let order = normalize_order(order_by, TEST_RESULT_DEFAULT_ORDER);
        service::list_test_results(
            tx(ctx).await.gql()?,
            filter,
            &order,
            &page,
            wants_total(ctx),
        )
        .await
        .gql()
    }

    /// One prompt by id; null when it does not exist or is neither the
    /// viewer's nor public.
    async fn prompt_lab_prompt(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<Option<PromptLabPrompt>> {
        service::get_prompt(tx(ctx).await.gql()?, id).await.gql()
    }

    /// Community templates the viewer can see (published ones, and the
    /// viewer's own): `search` matches the prompt's title or goal as a
    /// case-insensitive substring (the text is data: `%`, `_` and `\` match
    /// themselves); `category` keeps one category. Default order: most liked,
    /// then most used.
    #[allow(clippy::too_many_arguments)]
    #[graphql(
        complexity = "first.or(last).map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn prompt_templates(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        search: Option<String>,
        category: Option<String>,
        #[graphql(name = "where")] filter: Option<PromptTemplateWhere>,
        order_by: Option<Vec<PromptTemplateOrder>>,
    ) -> async_graphql::Result<ApiConnection<PromptTemplate>> {
        let page = root_page(ctx, first, after, last, before).gql()?;
        let order = normalize_order(order_by, TEMPLATE_DEFAULT_ORDER);
        service::list_templates(
            tx(ctx).await.gql()?,
            search,
            category,
            filter,
            &order,
            &page,
            wants_total(ctx),
        )
        .await
        .gql()
    }

    /// One template by id; null when it does not exist or is not visible.
    async fn prompt_template(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<Option<PromptTemplate>> {
        service::get_template(tx(ctx).await.gql()?, id).await.gql()
    }

    /// The popularity ranking: the `limit` (0 to 100, default 10) most
    /// liked, then most used templates the viewer can see, optionally of one
    /// category.
    #[graphql(complexity = "limit.unwrap_or(10).max(0) as usize * child_complexity")]
    async fn popular_templates(
        &self,
        ctx: &Context<'_>,
        limit: Option<i32>,
        category: Option<String>,
    ) -> async_graphql::Result<Vec<PopularPromptTemplate>> {
        service::popular_templates(tx(ctx).await.gql()?, limit.unwrap_or(10), category)
            .await
            .gql()
    }
}

/// Prompt lab fields of `viewer`.
#[derive(Default)]
pub struct PromptLabViewerFields;

#[Object]
impl PromptLabViewerFields {
    /// The templates the viewer marked as favorite, newest first; empty for
    /// anon.
    #[graphql(
        complexity = "first.or(last).map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(0) as usize) * child_complexity"
    )]
    async fn prompt_lab_favorites(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<ApiConnection<PromptTemplateFavorite>> {
        let page = root_page(ctx, first, after, last, before).gql()?;
        let Some(user) = viewer(ctx).user_id else {
            return Ok(Connection::with_additional_fields(
                false,
                false,
                ConnectionTotal::default(),
            ));
        };
        service::list_favorites(tx(ctx).await.gql()?, user, &page, wants_total(ctx))
            .await
            .gql()
    }
}

/// Mutations of the prompt lab domain. Each runs in the request's
/// transaction (inside its own savepoint), so each is all or nothing.
#[derive(Default)]
pub struct PromptLabMutation;

#[Object]
impl PromptLabMutation {
    /// Creates a prompt together with its clarifying answers, all or nothing.
    async fn create_prompt(
        &self,
        ctx: &Context<'_>,
        input: CreatePromptInput,
    ) -> async_graphql::Result<CreatePromptPayload> {
        require_user(ctx).gql()?;
        let prompt = service::create_prompt(tx(ctx).await.gql()?, input)
            .await
            .gql()?;
        Ok(CreatePromptPayload { prompt })
    }

    /// Changes the viewer's prompt (title, goal, template, variables,
    /// visibility).
    async fn update_prompt(
        &self,
        ctx: &Context<'_>,
        input: UpdatePromptInput,
    ) -> async_graphql::Result<UpdatePromptPayload> {
        let user = require_user(ctx).gql()?;
        let prompt = service::update_prompt(tx(ctx).await.gql()?, user, input)
            .await
            .gql()?;
        Ok(UpdatePromptPayload { prompt })
    }

    /// Deletes the viewer's prompt with its answers, test results and
    /// template.
    async fn delete_prompt(
        &self,
        ctx: &Context<'_>,
        input: DeletePromptInput,
    ) -> async_graphql::Result<DeletePromptPayload> {
        require_user(ctx).gql()?;
        let deleted_id = service::delete_prompt(tx(ctx).await.gql()?, input.id)
            .await
            .gql()?;
        Ok(DeletePromptPayload { deleted_id })
    }

    /// Records a test run of a prompt the viewer can see (own or public).
    async fn record_test_result(
        &self,
        ctx: &Context<'_>,
        input: RecordTestResultInput,
    ) -> async_graphql::Result<RecordTestResultPayload> {
        let user = require_user(ctx).gql()?;
        let test_result = service::record_test_result(tx(ctx).await.gql()?, user, input)
            .await
            .gql()?;
        Ok(RecordTestResultPayload { test_result })
    }

    /// Shares the viewer's prompt as a community template (once per prompt)
    /// and makes the prompt public.
    async fn publish_template(
        &self,
        ctx: &Context<'_>,
        input: PublishTemplateInput,
    ) -> async_graphql::Result<PublishTemplatePayload> {
        let user = require_user(ctx).gql()?;
        let template = service::publish_template(tx(ctx).await.gql()?, user, input)
            .await
            .gql()?;
        Ok(PublishTemplatePayload { template })
    }

    /// Changes the category or tags of the viewer's template.
    async fn update_template(
        &self,
        ctx: &Context<'_>,
        input: UpdateTemplateInput,
    ) -> async_graphql::Result<UpdateTemplatePayload> {
        let user = require_user(ctx).gql()?;
        let template = service::update_template(tx(ctx).await.gql()?, user, input)
            .await
            .gql()?;
        Ok(UpdateTemplatePayload { template })
    }

    /// Withdraws the viewer's template from the community: its prompt
    /// becomes private again (likes, uses and favorites stay).
    async fn unpublish_template(
        &self,
        ctx: &Context<'_>,
        input: UnpublishTemplateInput,
    ) -> async_graphql::Result<UnpublishTemplatePayload> {
        let user = require_user(ctx).gql()?;
        let template = service::unpublish_template(tx(ctx).await.gql()?, user, input.template_id)
            .await
            .gql()?;
        Ok(UnpublishTemplatePayload { template })
    }

    /// Likes a template (once per user: liking again changes nothing).
    async fn like_template(
        &self,
        ctx: &Context<'_>,
        input: LikeTemplateInput,
    ) -> async_graphql::Result<LikeTemplatePayload> {
        require_user(ctx).gql()?;
        let template = service::like_template(tx(ctx).await.gql()?, input.template_id)
            .await
            .gql()?;
        Ok(LikeTemplatePayload { template })
    }

    /// Withdraws the viewer's like (idempotent).
    async fn unlike_template(
        &self,
        ctx: &Context<'_>,
        input: UnlikeTemplateInput,
    ) -> async_graphql::Result<UnlikeTemplatePayload> {
        require_user(ctx).gql()?;
        let template = service::unlike_template(tx(ctx).await.gql()?, input.template_id)
            .await
            .gql()?;
        Ok(UnlikeTemplatePayload {
            template_id: input.template_id,
            template,
        })
    }

    /// Adds a template to the viewer's favorites (idempotent).
    async fn favorite_template(
        &self,
        ctx: &Context<'_>,
        input: FavoriteTemplateInput,
    ) -> async_graphql::Result<FavoriteTemplatePayload> {
        let user = require_user(ctx).gql()?;
        let template = service::favorite_template(tx(ctx).await.gql()?, user, input.template_id)
            .await
            .gql()?;
        Ok(FavoriteTemplatePayload { template })
    }

    /// Removes a template from the viewer's favorites (idempotent).
    async fn unfavorite_template(
        &self,
        ctx: &Context<'_>,
        input: UnfavoriteTemplateInput,
    ) -> async_graphql::Result<UnfavoriteTemplatePayload> {
        let user = require_user(ctx).gql()?;
        let template = service::unfavorite_template(tx(ctx).await.gql()?, user, input.template_id)
            .await
            .gql()?;
        Ok(UnfavoriteTemplatePayload {
            template_id: input.template_id,
            template,
        })
    }

    /// Counts one use of a template the viewer can see.
    async fn record_template_use(
        &self,
        ctx: &Context<'_>,
        input: RecordTemplateUseInput,
    ) -> async_graphql::Result<RecordTemplateUsePayload> {
        require_user(ctx).gql()?;
        let template = service::record_template_use(tx(ctx).await.gql()?, input.template_id)
            .await
            .gql()?;
        Ok(RecordTemplateUsePayload { template })
    }
}
