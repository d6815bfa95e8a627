//! Dataloaders of the prompt lab domain: prompts, templates and authors by
//! id, and per-prompt pages of answers and test results, one statement per key
//! type and distinct page arguments, whatever the number of parents. They
//! read through the request's transaction, so RLS applies.

use super::inputs::{
    answer_sort_keys, test_result_sort_keys, PromptLabAnswerOrderField,
    PromptLabTestResultOrderField,
};
use crate::graphql::context::RequestTx;
use crate::graphql::error::ApiError;
use crate::graphql::loading::children_loader;
use crate::graphql::loading::row_loader;
use crate::graphql::loading::rows_by;
pub use crate::graphql::loading::{ChildRelation, ChildrenKey};
use crate::graphql::pagination::{SortDirection, SortKey};
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, Request};
use entity::prompt_lab::{
    prompt_answers, prompt_templates, prompts, template_authors, template_likes, test_results,
    user_favorites,
};
use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;
use uuid::Uuid;

/// Every prompt lab loader of one request, over its transaction.
pub struct PromptLabLoader {
    tx: RequestTx,
}

/// The prompt lab dataloader as stored in the request data.
pub type PromptLabDataLoader = DataLoader<PromptLabLoader>;

/// Adds the prompt lab dataloader over `tx` to `request`.
pub fn register_loaders(request: Request, tx: &RequestTx) -> Request {
    request.data(DataLoader::new(
        PromptLabLoader { tx: tx.clone() },
        tokio::spawn,
    ))
}

/// Loads `key` through the request's prompt lab dataloader.
pub async fn load_one<K>(
    ctx: &Context<'_>,
    key: K,
) -> async_graphql::Result<Option<<PromptLabLoader as Loader<K>>::Value>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    PromptLabLoader: Loader<K, Error = Arc<ApiError>>,
{
    crate::graphql::loading::load_one::<PromptLabLoader, K>(ctx, key).await
}

/// Whether the viewer likes a template (by the template's id). Only the
/// viewer's own likes are visible (RLS), so no user filter is needed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LikedByViewer(pub Uuid);

/// Whether the viewer marked a template as favorite (by the template's id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FavoritedByViewer(pub Uuid);

row_loader!(
    /// A prompt by id.
    PromptLabLoader: PromptById => prompts by Id(id)
);

row_loader!(
    /// A template by id.
    PromptLabLoader: TemplateById => prompt_templates by Id(id)
);

row_loader!(
    /// The template of a prompt (by the prompt's id).
    PromptLabLoader: TemplateOfPrompt => prompt_templates by PromptId(prompt_id)
);

row_loader!(
    /// The public author card of a user (`template_authors`).
    PromptLabLoader: AuthorById => template_authors by Id(id)
);

impl Loader<LikedByViewer> for PromptLabLoader {
    type Value = bool;
    type Error = Arc<ApiError>;

    async fn load(
        &self,
        keys: &[LikedByViewer],
    ) -> Result<HashMap<LikedByViewer, Self::Value>, Self::Error> {
        let tx = self.tx.get().await.map_err(Arc::new)?;
        let rows = rows_by::<template_likes::Entity, _>(
            tx,
            template_likes::Column::TemplateId,
            keys.iter().map(|k| k.0),
            |m| LikedByViewer(m.template_id),
        )
        .await?;
        Ok(keys.iter().map(|k| (*k, rows.contains_key(k))).collect())
    }
}

impl Loader<FavoritedByViewer> for PromptLabLoader {
    type Value = bool;
    type Error = Arc<ApiError>;

    async fn load(
        &self,
        keys: &[FavoritedByViewer],
    ) -> Result<HashMap<FavoritedByViewer, Self::Value>, Self::Error> {
        let tx = self.tx.get().await.map_err(Arc::new)?;
        let rows = rows_by::<user_favorites::Entity, _>(
            tx,
            user_favorites::Column::TemplateId,
            keys.iter().map(|k| k.0),
            |m| FavoritedByViewer(m.template_id),
        )
        .await?;
        Ok(keys.iter().map(|k| (*k, rows.contains_key(k))).collect())
    }
}

children_loader!(PromptLabLoader);

/// A prompt's clarifying answers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AnswersOfPrompt;

impl ChildRelation for AnswersOfPrompt {
    type Entity = prompt_answers::Entity;
    type Args = Vec<(PromptLabAnswerOrderField, SortDirection)>;
    fn parent_column() -> prompt_answers::Column {
        prompt_answers::Column::PromptId
    }
    fn sort_keys(order: &Self::Args) -> Vec<SortKey<prompt_answers::Column>> {
        answer_sort_keys(order)
    }
}

/// A prompt's test results (the viewer's own, as RLS shows them).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TestResultsOfPrompt;

impl ChildRelation for TestResultsOfPrompt {
    type Entity = test_results::Entity;
    type Args = Vec<(PromptLabTestResultOrderField, SortDirection)>;
    fn parent_column() -> test_results::Column {
        test_results::Column::PromptId
    }
    fn sort_keys(order: &Self::Args) -> Vec<SortKey<test_results::Column>> {
        test_result_sort_keys(order)
    }
}
