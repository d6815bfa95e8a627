//! `builder.analytics`: per-user dashboard counters kept by triggers.

use sea_orm::entity::prelude::*;

/// One user's counters: live counts of their sessions, prompts, responses and
/// `model_deploy` steps (decisions). Written only by the database's trigger
/// functions; read-only for everyone else.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "builder", table_name = "analytics")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub user_id: Uuid,
    pub total_sessions: i32,
    pub total_prompts: i32,
    pub total_responses: i32,
    pub total_decisions: i32,
    pub updated_at: DateTimeWithTimeZone,
}

/// Foreign keys of `builder.analytics`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The user counted (`analytics_user_id_fkey`, one row per user).
    #[sea_orm(
        belongs_to = "crate::public::users::Entity",
        from = "Column::UserId",
        to = "crate::public::users::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<crate::public::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
