//! `public.workspaces`: the unit of sharing; members see its agents and runs.

use sea_orm::entity::prelude::*;

/// One workspace.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "public", table_name = "workspaces")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub owner_id: Option<Uuid>,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
}

/// Foreign keys from and to `public.workspaces`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The owning user (`owner_id`, set NULL when the user is deleted).
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::OwnerId",
        to = "super::users::Column::Id",
        on_delete = "SetNull"
    )]
    Owner,
    /// Members of this workspace.
    #[sea_orm(has_many = "super::workspace_members::Entity")]
    WorkspaceMembers,
    /// Agents of this workspace.
    #[sea_orm(has_many = "super::agents::Entity")]
    Agents,
    /// Runs of this workspace's agents.
    #[sea_orm(has_many = "super::agent_runs::Entity")]
    AgentRuns,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Owner.def()
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
