//! `analytics.v_top_agents`: members' view of the materialized view, filtered to the viewer's workspaces.

use sea_orm::entity::prelude::*;

/// One agent with its last-30-days run statistics (zero for agents without runs).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "analytics", table_name = "v_top_agents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub agent_id: Uuid,
    pub agent_name: String,
    pub workspace_id: Uuid,
    pub total_runs_30d: i64,
    pub successful_runs_30d: i64,
    pub success_rate: Decimal,
    pub avg_runtime: Option<Decimal>,
    pub median_runtime: Option<Decimal>,
    pub total_credits_30d: Decimal,
    pub unique_users_30d: i64,
    pub last_run_at: Option<DateTimeWithTimeZone>,
}

/// Read-only relation: no foreign keys declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
