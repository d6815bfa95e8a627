//! `public.users`: the app-level user row, kept in sync with `auth.users`.

use sea_orm::entity::prelude::*;

/// One user as the application sees it (same id as `auth.users`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "public", table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub email: String,
    pub full_name: Option<String>,
    pub avatar_url: Option<String>,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
}

/// Foreign keys from and to `public.users`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The identity row this user mirrors.
    #[sea_orm(
        belongs_to = "crate::auth::users::Entity",
        from = "Column::Id",
        to = "crate::auth::users::Column::Id",
        on_delete = "Cascade"
    )]
    AuthUser,
    /// Workspaces this user owns (`workspaces.owner_id`).
    #[sea_orm(has_many = "super::workspaces::Entity")]
    OwnedWorkspaces,
    /// Memberships of this user.
    #[sea_orm(has_many = "super::workspace_members::Entity")]
    WorkspaceMembers,
    /// Agents this user created (`agents.created_by`).
    #[sea_orm(has_many = "super::agents::Entity")]
    Agents,
    /// Runs started by this user.
    #[sea_orm(has_many = "super::agent_runs::Entity")]
    AgentRuns,
}

impl Related<crate::auth::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AuthUser.def()
    }
}

impl Related<super::workspaces::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::OwnedWorkspaces.def()
    }
}

impl Related<super::workspace_members::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::WorkspaceMembers.def()
    }
}

impl Related<super::agents::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Agents.def()
    }
}

impl Related<super::agent_runs::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AgentRuns.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
