//! `builder.sessions`: one user's session in the model builder.

use sea_orm::entity::prelude::*;

/// A model-builder session. `status` is NULL or one of `active`, `completed`,
/// `archived` (CHECK `sessions_status_check`); `updated_at` is maintained by
/// the `trg_sessions_set_updated_at` trigger.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "builder", table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub description: Option<String>,
    pub problem_type: Option<String>,
    pub status: Option<String>,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
}

/// Foreign keys from and to `builder.sessions`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The owner (`sessions_user_id_fkey`, cascade on delete).
    #[sea_orm(
        belongs_to = "crate::public::users::Entity",
        from = "Column::UserId",
        to = "crate::public::users::Column::Id",
        on_delete = "Cascade"
    )]
    User,
    /// Prompts entered in this session.
    #[sea_orm(has_many = "super::prompts::Entity")]
    Prompts,
    /// Steps taken in this session.
    #[sea_orm(has_many = "super::steps::Entity")]
    Steps,
}

impl Related<crate::public::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<super::prompts::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Prompts.def()
    }
}

impl Related<super::steps::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Steps.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
