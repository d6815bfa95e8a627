//! `builder.responses`: an LLM response to a prompt.

use sea_orm::entity::prelude::*;

/// One response. Its `user_id` is always its prompt's owner (composite FK
/// `responses_prompt_id_fkey` on `(prompt_id, user_id)`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "builder", table_name = "responses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub prompt_id: Uuid,
    pub user_id: Uuid,
    pub response_text: String,
    pub created_at: DateTimeWithTimeZone,
}

/// Foreign keys of `builder.responses`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The prompt answered.
    #[sea_orm(
        belongs_to = "super::prompts::Entity",
        from = "Column::PromptId",
        to = "super::prompts::Column::Id",
        on_delete = "Cascade"
    )]
    Prompt,
    /// The owner (`responses_user_id_fkey`).
    #[sea_orm(
        belongs_to = "crate::public::users::Entity",
        from = "Column::UserId",
        to = "crate::public::users::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::prompts::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Prompt.def()
    }
}

impl Related<crate::public::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
