//! `analytics.v_workspace_summary`: members' view of the materialized view, filtered to the viewer's workspaces.

use sea_orm::entity::prelude::*;

/// One workspace: members, agents, and last-30-days run figures.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "analytics", table_name = "v_workspace_summary")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub workspace_id: Uuid,
    pub workspace_name: String,
    pub total_members: i64,
    pub total_agents: i64,
    pub total_runs_30d: i64,
    pub total_credits_30d: Decimal,
    pub avg_runtime_30d: Option<Decimal>,
    pub active_users_30d: i64,
}

/// Read-only relation: no foreign keys declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
