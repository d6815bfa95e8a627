//! `prompt_lab.prompt_templates`: a prompt shared as a community template.

use sea_orm::entity::prelude::*;

/// One template (one per prompt; its `user_id` is the prompt's owner).
/// Published, i.e. visible to everyone, when its prompt is public.
/// `likes_count` and `uses_count` are maintained by the database.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "prompt_lab", table_name = "prompt_templates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub prompt_id: Uuid,
    pub user_id: Uuid,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub likes_count: i32,
    pub uses_count: i32,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
}

/// Foreign keys from and to `prompt_lab.prompt_templates`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The prompt this template shares (the database key is
    /// `(prompt_id, user_id)`, which also pins the author to the owner).
    #[sea_orm(
        belongs_to = "super::prompts::Entity",
        from = "Column::PromptId",
        to = "super::prompts::Column::Id",
        on_delete = "Cascade"
    )]
    Prompt,
    /// The author.
    #[sea_orm(
        belongs_to = "crate::public::users::Entity",
        from = "Column::UserId",
        to = "crate::public::users::Column::Id",
        on_delete = "Cascade"
    )]
    User,
    /// Users who marked this template as a favorite.
    #[sea_orm(has_many = "super::user_favorites::Entity")]
    UserFavorites,
    /// Likes of this template.
    #[sea_orm(has_many = "super::template_likes::Entity")]
    TemplateLikes,
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

impl Related<super::user_favorites::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::UserFavorites.def()
    }
}

impl Related<super::template_likes::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::TemplateLikes.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
