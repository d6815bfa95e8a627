//! `prompt_lab.test_results`: one run of a prompt against a model.

use sea_orm::entity::prelude::*;

/// One test run, visible to the user who ran it (on a prompt they can see).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "prompt_lab", table_name = "test_results")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub prompt_id: Uuid,
    pub user_id: Uuid,
    pub model: String,
    /// `numeric(3,2)`, 0.00 to 2.00.
    pub temperature: Decimal,
    /// JSON object: variable name to the value used.
    pub variable_values: Json,
    pub resolved_prompt: String,
    pub result: Option<String>,
    pub tokens_used: Option<i32>,
    pub response_time_ms: Option<i32>,
    pub created_at: DateTimeWithTimeZone,
}

/// Foreign keys of `prompt_lab.test_results`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The prompt tested.
    #[sea_orm(
        belongs_to = "super::prompts::Entity",
        from = "Column::PromptId",
        to = "super::prompts::Column::Id",
        on_delete = "Cascade"
    )]
    Prompt,
    /// The user who ran the test.
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
