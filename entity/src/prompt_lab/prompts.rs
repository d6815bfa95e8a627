//! `prompt_lab.prompts`: a user's prompt (title, goal, template, variables).

use sea_orm::entity::prelude::*;

/// One prompt. Public prompts (and their answers and template) are readable
/// by everyone; the rest only by their owner.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "prompt_lab", table_name = "prompts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub title: String,
    pub goal: String,
    pub template: String,
    /// JSON array of the template's variable names.
    pub variables: Json,
    pub is_public: bool,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
}

/// Foreign keys from and to `prompt_lab.prompts`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The owner.
    #[sea_orm(
        belongs_to = "crate::public::users::Entity",
        from = "Column::UserId",
        to = "crate::public::users::Column::Id",
        on_delete = "Cascade"
    )]
    User,
    /// Answers to the clarifying questions.
    #[sea_orm(has_many = "super::prompt_answers::Entity")]
    PromptAnswers,
    /// Test runs of this prompt.
    #[sea_orm(has_many = "super::test_results::Entity")]
    TestResults,
    /// The community template made from this prompt (at most one).
    #[sea_orm(has_one = "super::prompt_templates::Entity")]
    PromptTemplate,
}

impl Related<crate::public::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<super::prompt_answers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PromptAnswers.def()
    }
}

impl Related<super::test_results::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::TestResults.def()
    }
}

impl Related<super::prompt_templates::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PromptTemplate.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
