//! `builder.prompts`: a prompt a user entered in a session.

use sea_orm::entity::prelude::*;

/// One prompt. Its `user_id` is always its session's owner (composite FK
/// `prompts_session_id_fkey` on `(session_id, user_id)`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "builder", table_name = "prompts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub prompt_text: String,
    pub created_at: DateTimeWithTimeZone,
}

/// Foreign keys from and to `builder.prompts`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The session (the database also pins the owner through the composite
    /// key; joining on `session_id` alone is enough since it is the PK).
    #[sea_orm(
        belongs_to = "super::sessions::Entity",
        from = "Column::SessionId",
        to = "super::sessions::Column::Id",
        on_delete = "Cascade"
    )]
    Session,
    /// The owner (`prompts_user_id_fkey`).
    #[sea_orm(
        belongs_to = "crate::public::users::Entity",
        from = "Column::UserId",
        to = "crate::public::users::Column::Id",
        on_delete = "Cascade"
    )]
    User,
    /// LLM responses to this prompt.
    #[sea_orm(has_many = "super::responses::Entity")]
    Responses,
}

impl Related<super::sessions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Session.def()
    }
}

impl Related<crate::public::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<super::responses::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Responses.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
