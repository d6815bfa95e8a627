//! `builder.steps`: a step or action a user took in a session.

use sea_orm::entity::prelude::*;

/// One step. A step with `step_type = 'model_deploy'` is a "decision" on the
/// dashboard. Its `user_id` is always its session's owner (composite FK
/// `steps_session_id_fkey`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "builder", table_name = "steps")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub step_type: String,
    pub step_data: Option<Json>,
    pub created_at: DateTimeWithTimeZone,
}

/// Foreign keys of `builder.steps`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The session.
    #[sea_orm(
        belongs_to = "super::sessions::Entity",
        from = "Column::SessionId",
        to = "super::sessions::Column::Id",
        on_delete = "Cascade"
    )]
    Session,
    /// The owner (`steps_user_id_fkey`).
    #[sea_orm(
        belongs_to = "crate::public::users::Entity",
        from = "Column::UserId",
        to = "crate::public::users::Column::Id",
        on_delete = "Cascade"
    )]
    User,
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

impl ActiveModelBehavior for ActiveModel {}
