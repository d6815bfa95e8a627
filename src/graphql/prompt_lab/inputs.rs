//! Inputs of the prompt lab domain: `where` filters, `orderBy` lists and the
//! mutation inputs.

use crate::graphql::filter::{combine, opt};
use crate::graphql::filter::{
    BooleanFilter, DateTimeFilter, DecimalFilter, IntFilter, JsonFilter, StringFilter, UuidFilter,
};
pub use crate::graphql::ordering::{normalize_order, OrderEntry};
use crate::graphql::ordering::{order_input, with_tiebreak};
use crate::graphql::pagination::{SortDirection, SortKey};
use async_graphql::{InputObject, Json, MaybeUndefined};
use entity::prompt_lab::{prompt_answers, prompt_templates, prompts, test_results, user_favorites};
use rust_decimal::Decimal;
use sea_orm::Condition;
use uuid::Uuid;

/// Which prompts to return.
#[derive(InputObject, Clone, Debug, Default)]
pub struct PromptLabPromptWhere {
    /// Prompt id.
    pub id: Option<UuidFilter>,
    /// Title.
    pub title: Option<StringFilter>,
    /// Goal.
    pub goal: Option<StringFilter>,
    /// Template text.
    pub template: Option<StringFilter>,
    /// Variable names (a JSON array).
    pub variables: Option<JsonFilter>,
    /// Readable by everyone.
    pub is_public: Option<BooleanFilter>,
    /// Creation time.
    pub created_at: Option<DateTimeFilter>,
    /// Last change.
    pub updated_at: Option<DateTimeFilter>,
    /// All of these.
    pub and: Option<Vec<PromptLabPromptWhere>>,
    /// Any of these.
    pub or: Option<Vec<PromptLabPromptWhere>>,
    /// Not this.
    pub not: Option<Box<PromptLabPromptWhere>>,
}

impl PromptLabPromptWhere {
    /// The SQL condition.
    pub fn condition(&self) -> Condition {
        use prompts::Column as C;
        let mut c = Condition::all();
        c = opt(c, &self.id, |f| f.condition(C::Id));
        c = opt(c, &self.title, |f| f.condition(C::Title));
        c = opt(c, &self.goal, |f| f.condition(C::Goal));
        c = opt(c, &self.template, |f| f.condition(C::Template));
        c = opt(c, &self.variables, |f| f.condition(C::Variables));
        c = opt(c, &self.is_public, |f| f.condition(C::IsPublic));
        c = opt(c, &self.created_at, |f| f.condition(C::CreatedAt));
        c = opt(c, &self.updated_at, |f| f.condition(C::UpdatedAt));
        combine(c, &self.and, &self.or, &self.not, Self::condition)
    }
}

/// Which templates to return.
#[derive(InputObject, Clone, Debug, Default)]
pub struct PromptTemplateWhere {
    /// Template id.
    pub id: Option<UuidFilter>,
    /// The shared prompt.
    pub prompt_id: Option<UuidFilter>,
    /// The author.
    pub user_id: Option<UuidFilter>,
    /// Category.
    pub category: Option<StringFilter>,
    /// Likes.
    pub likes_count: Option<IntFilter>,
    /// Uses.
    pub uses_count: Option<IntFilter>,
    /// Creation time.
    pub created_at: Option<DateTimeFilter>,
    /// All of these.
    pub and: Option<Vec<PromptTemplateWhere>>,
    /// Any of these.
    pub or: Option<Vec<PromptTemplateWhere>>,
    /// Not this.
    pub not: Option<Box<PromptTemplateWhere>>,
}

impl PromptTemplateWhere {
    /// The SQL condition.
    pub fn condition(&self) -> Condition {
        use prompt_templates::Column as C;
        let mut c = Condition::all();
        c = opt(c, &self.id, |f| f.condition(C::Id));
        c = opt(c, &self.prompt_id, |f| f.condition(C::PromptId));
        c = opt(c, &self.user_id, |f| f.condition(C::UserId));
        c = opt(c, &self.category, |f| f.condition(C::Category));
        c = opt(c, &self.likes_count, |f| f.condition(C::LikesCount));
        c = opt(c, &self.uses_count, |f| f.condition(C::UsesCount));
        c = opt(c, &self.created_at, |f| f.condition(C::CreatedAt));
        combine(c, &self.and, &self.or, &self.not, Self::condition)
    }
}

/// Which answers to return (always only those of prompts the viewer can
/// see: their own and public ones).
#[derive(InputObject, Clone, Debug, Default)]
pub struct PromptLabAnswerWhere {
    /// Answer id.
    pub id: Option<UuidFilter>,
    /// The prompt.
    pub prompt_id: Option<UuidFilter>,
    /// The question's id.
    pub question_id: Option<StringFilter>,
    /// The question as asked.
    pub question_text: Option<StringFilter>,
    /// The answer.
    pub answer: Option<StringFilter>,
    /// Creation time.
    pub created_at: Option<DateTimeFilter>,
    /// All of these.
    pub and: Option<Vec<PromptLabAnswerWhere>>,
    /// Any of these.
    pub or: Option<Vec<PromptLabAnswerWhere>>,
    /// Not this.
    pub not: Option<Box<PromptLabAnswerWhere>>,
}

impl PromptLabAnswerWhere {
    /// The SQL condition.
    pub fn condition(&self) -> Condition {
        use prompt_answers::Column as C;
        let mut c = Condition::all();
        c = opt(c, &self.id, |f| f.condition(C::Id));
        c = opt(c, &self.prompt_id, |f| f.condition(C::PromptId));
        c = opt(c, &self.question_id, |f| f.condition(C::QuestionId));
        c = opt(c, &self.question_text, |f| f.condition(C::QuestionText));
        c = opt(c, &self.answer, |f| f.condition(C::Answer));
        c = opt(c, &self.created_at, |f| f.condition(C::CreatedAt));
        combine(c, &self.and, &self.or, &self.not, Self::condition)
    }
}

/// Which test results to return (always only the viewer's own).
#[derive(InputObject, Clone, Debug, Default)]
pub struct PromptLabTestResultWhere {
    /// Test result id.
    pub id: Option<UuidFilter>,
    /// The prompt tested.
    pub prompt_id: Option<UuidFilter>,
    /// The model.
    pub model: Option<StringFilter>,
    /// Sampling temperature.
    pub temperature: Option<DecimalFilter>,
    /// Tokens spent.
    pub tokens_used: Option<IntFilter>,
    /// Response time in ms.
    pub response_time_ms: Option<IntFilter>,
    /// Creation time.
    pub created_at: Option<DateTimeFilter>,
    /// All of these.
    pub and: Option<Vec<PromptLabTestResultWhere>>,
    /// Any of these.
    pub or: Option<Vec<PromptLabTestResultWhere>>,
    /// Not this.
    pub not: Option<Box<PromptLabTestResultWhere>>,
}

impl PromptLabTestResultWhere {
    /// The SQL condition.
    pub fn condition(&self) -> Condition {
        use test_results::Column as C;
        let mut c = Condition::all();
        c = opt(c, &self.id, |f| f.condition(C::Id));
        c = opt(c, &self.prompt_id, |f| f.condition(C::PromptId));
        c = opt(c, &self.model, |f| f.condition(C::Model));
        c = opt(c, &self.temperature, |f| f.condition(C::Temperature));
        c = opt(c, &self.tokens_used, |f| f.condition(C::TokensUsed));
        c = opt(c, &self.response_time_ms, |f| {
            f.condition(C::ResponseTimeMs)
        });
        c = opt(c, &self.created_at, |f| f.condition(C::CreatedAt));
        combine(c, &self.and, &self.or, &self.not, Self::condition)
    }
}

order_input!(
    /// One `orderBy` entry of prompts.
    PromptLabPromptOrder,
    /// Sortable fields of prompts.
    PromptLabPromptOrderField {
        /// Creation time.
        CreatedAt,
    }
);

order_input!(
    /// One `orderBy` entry of a prompt's answers.
    PromptLabAnswerOrder,
    /// Sortable fields of answers.
    PromptLabAnswerOrderField {
        /// The question's id.
        QuestionId,
    }
);

order_input!(
    /// One `orderBy` entry of test results.
    PromptLabTestResultOrder,
    /// Sortable fields of test results.
    PromptLabTestResultOrderField {
        /// Creation time.
        CreatedAt,
        /// The model.
        Model,
    }
);

order_input!(
    /// One `orderBy` entry of templates. Popularity is
    /// `[{LIKES_COUNT, DESC}, {USES_COUNT, DESC}]` (the default), recency
    /// `[{CREATED_AT, DESC}]`.
    PromptTemplateOrder,
    /// Sortable fields of templates.
    PromptTemplateOrderField {
        /// Number of likes.
        LikesCount,
        /// Number of uses.
        UsesCount,
        /// Creation time.
        CreatedAt,
    }
);

/// Prompts: newest first.
pub const PROMPT_DEFAULT_ORDER: &[(PromptLabPromptOrderField, SortDirection)] =
    &[(PromptLabPromptOrderField::CreatedAt, SortDirection::Desc)];
/// Answers: by question id.
pub const ANSWER_DEFAULT_ORDER: &[(PromptLabAnswerOrderField, SortDirection)] =
    &[(PromptLabAnswerOrderField::QuestionId, SortDirection::Asc)];
/// Test results: newest first.
pub const TEST_RESULT_DEFAULT_ORDER: &[(PromptLabTestResultOrderField, SortDirection)] = &[(
    PromptLabTestResultOrderField::CreatedAt,
    SortDirection::Desc,
)];
/// Templates: most liked, then most used.
pub const TEMPLATE_DEFAULT_ORDER: &[(PromptTemplateOrderField, SortDirection)] = &[
    (PromptTemplateOrderField::LikesCount, SortDirection::Desc),
    (PromptTemplateOrderField::UsesCount, SortDirection::Desc),
];

/// Sort keys of a prompt ordering.
pub fn prompt_sort_keys(
    order: &[(PromptLabPromptOrderField, SortDirection)],
) -> Vec<SortKey<prompts::Column>> {
    use prompts::Column as C;
    with_tiebreak(
        order,
        |f| match f {
            PromptLabPromptOrderField::CreatedAt => C::CreatedAt,
        },
        C::Id,
    )
}

/// Sort keys of an answer ordering.
pub fn answer_sort_keys(
    order: &[(PromptLabAnswerOrderField, SortDirection)],
) -> Vec<SortKey<prompt_answers::Column>> {
    use prompt_answers::Column as C;
    with_tiebreak(
        order,
        |f| match f {
            PromptLabAnswerOrderField::QuestionId => C::QuestionId,
        },
        C::Id,
    )
}

/// Sort keys of a test result ordering.
pub fn test_result_sort_keys(
    order: &[(PromptLabTestResultOrderField, SortDirection)],
) -> Vec<SortKey<test_results::Column>> {
    use test_results::Column as C;
    with_tiebreak(
        order,
        |f| match f {
            PromptLabTestResultOrderField::CreatedAt => C::CreatedAt,
            PromptLabTestResultOrderField::Model => C::Model,
        },
        C::Id,
    )
}

/// Sort keys of a template ordering.
pub fn template_sort_keys(
    order: &[(PromptTemplateOrderField, SortDirection)],
) -> Vec<SortKey<prompt_templates::Column>> {
    use prompt_templates::Column as C;
    with_tiebreak(
        order,
        |f| match f {
            PromptTemplateOrderField::LikesCount => C::LikesCount,
            PromptTemplateOrderField::UsesCount => C::UsesCount,
            PromptTemplateOrderField::CreatedAt => C::CreatedAt,
        },
        C::Id,
    )
}

/// Favorites: newest first, the template id as tiebreak.
pub fn favorite_sort_keys() -> Vec<SortKey<user_favorites::Column>> {
    use user_favorites::Column as C;
    vec![
        (C::CreatedAt, SortDirection::Desc),
        (C::TemplateId, SortDirection::Desc),
    ]
}

/// One clarifying answer of `createPrompt`.
#[derive(InputObject, Clone, Debug)]
pub struct PromptLabAnswerInput {
    /// The question's id (not blank, at most 100 characters, once per prompt).
    pub question_id: String,
    /// The question as asked (default: the question id).
    pub question_text: Option<String>,
    /// The answer.
    pub answer: String,
}

/// Input of `createPrompt`.
#[derive(InputObject, Debug)]
pub struct CreatePromptInput {
    /// Title (not blank, at most 255 characters).
    pub title: String,
    /// What the prompt is for (not blank).
    pub goal: String,
    /// The template text.
    pub template: String,
    /// The template's variable names (default none).
    pub variables: Option<Vec<String>>,
    /// Readable by everyone (default false).
    pub is_public: Option<bool>,
    /// Answers to the clarifying questions, stored with the prompt in one
    /// statement: if one is rejected, nothing is stored.
    pub answers: Option<Vec<PromptLabAnswerInput>>,
}

/// Input of `updatePrompt`; omitted fields stay as they are.
#[derive(InputObject, Debug)]
pub struct UpdatePromptInput {
    /// The prompt.
    pub id: Uuid,
    /// New title (not blank).
    pub title: Option<String>,
    /// New goal (not blank).
    pub goal: Option<String>,
    /// New template text.
    pub template: Option<String>,
    /// New variable names.
    pub variables: Option<Vec<String>>,
    /// Readable by everyone.
    pub is_public: Option<bool>,
}

/// Input of `deletePrompt`.
#[derive(InputObject, Debug)]
pub struct DeletePromptInput {
    /// The prompt.
    pub id: Uuid,
}

/// Input of `recordTestResult`: one run of a prompt the viewer can see.
#[derive(InputObject, Debug)]
pub struct RecordTestResultInput {
    /// The prompt tested (the viewer's own or a public one).
    pub prompt_id: Uuid,
    /// The model (not blank, at most 50 characters).
    pub model: String,
    /// Sampling temperature, 0 to 2.
    pub temperature: Decimal,
    /// The variable values used (a JSON object; default `{}`).
    pub variable_values: Option<Json<serde_json::Value>>,
    /// The prompt with the variables filled in.
    pub resolved_prompt: String,
    /// The model's answer.
    pub result: Option<String>,
    /// Tokens spent (not negative).
    pub tokens_used: Option<i32>,
    /// Response time in ms (not negative).
    pub response_time_ms: Option<i32>,
}

/// Input of `publishTemplate`: shares one of the viewer's prompts as a
/// community template (and makes the prompt public).
#[derive(InputObject, Debug)]
pub struct PublishTemplateInput {
    /// The viewer's prompt (one template per prompt).
    pub prompt_id: Uuid,
    /// Category (not blank when given, at most 100 characters).
    pub category: Option<String>,
    /// Tags (default none).
    pub tags: Option<Vec<String>>,
}

/// Input of `updateTemplate`: the viewer's template; omitted fields stay as
/// they are.
#[derive(InputObject, Debug)]
pub struct UpdateTemplateInput {
    /// The template.
    pub template_id: Uuid,
    /// New category (not blank, at most 100 characters); null removes it.
    pub category: MaybeUndefined<String>,
    /// New tags (replacing the old ones; none blank).
    pub tags: Option<Vec<String>>,
}

/// Declares the one-template input of a mutation.
macro_rules! template_input {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(InputObject, Debug)]
        pub struct $name {
            /// The template.
            pub template_id: Uuid,
        }
    };
}

template_input!(
    /// Input of `likeTemplate`.
    LikeTemplateInput
);
template_input!(
    /// Input of `unlikeTemplate`.
    UnlikeTemplateInput
);
template_input!(
    /// Input of `favoriteTemplate`.
    FavoriteTemplateInput
);
template_input!(
    /// Input of `unfavoriteTemplate`.
    UnfavoriteTemplateInput
);
template_input!(
    /// Input of `recordTemplateUse`.
    RecordTemplateUseInput
);
template_input!(
    /// Input of `unpublishTemplate`.
    UnpublishTemplateInput
);
