//! `prompt_lab.template_authors` (view): the public card (id, name, avatar)
//! of every author of at least one published template. Read-only.

use sea_orm::entity::prelude::*;

/// One author of a published template; never carries the email.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "prompt_lab", table_name = "template_authors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub full_name: Option<String>,
    pub avatar_url: Option<String>,
}

/// A view: no foreign keys of its own.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

/// Read-only: the view is not updatable through the API.
impl ActiveModelBehavior for ActiveModel {}
