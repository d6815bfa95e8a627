//! `prompt_lab.prompt_answers`: answers to a prompt's clarifying questions.

use sea_orm::entity::prelude::*;

/// One answer; `(prompt_id, question_id)` is unique.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "prompt_lab", table_name = "prompt_answers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub prompt_id: Uuid,
    pub question_id: String,
    pub question_text: String,
    pub answer: String,
    pub created_at: DateTimeWithTimeZone,
}

/// Foreign keys of `prompt_lab.prompt_answers`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The prompt answered for.
    #[sea_orm(
        belongs_to = "super::prompts::Entity",
        from = "Column::PromptId",
        to = "super::prompts::Column::Id",
        on_delete = "Cascade"
    )]
    Prompt,
}

impl Related<super::prompts::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Prompt.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
