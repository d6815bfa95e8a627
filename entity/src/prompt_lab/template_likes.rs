//! `prompt_lab.template_likes`: one like per user and template (counted in `prompt_templates.likes_count`).

use sea_orm::entity::prelude::*;

/// One like of template `template_id` by user `user_id`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "prompt_lab", table_name = "template_likes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub template_id: Uuid,
    pub created_at: DateTimeWithTimeZone,
}

/// Foreign keys of `prompt_lab.template_likes`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The user.
    #[sea_orm(
        belongs_to = "crate::public::users::Entity",
        from = "Column::UserId",
        to = "crate::public::users::Column::Id",
        on_delete = "Cascade"
    )]
    User,
    /// The template.
    #[sea_orm(
        belongs_to = "super::prompt_templates::Entity",
        from = "Column::TemplateId",
        to = "super::prompt_templates::Column::Id",
        on_delete = "Cascade"
    )]
    Template,
}

impl Related<crate::public::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<super::prompt_templates::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Template.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
