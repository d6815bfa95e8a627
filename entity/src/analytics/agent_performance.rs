//! `analytics.agent_performance`: per-agent daily statistics.

use sea_orm::entity::prelude::*;

/// Statistics of one agent on one UTC day; `workspace_id` is the agent's own
/// (composite FK `agent_performance_agent_id_fkey`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "analytics", table_name = "agent_performance")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub agent_id: Uuid,
    pub metric_date: Date,
    pub workspace_id: Uuid,
    pub total_runs: i32,
    pub successful_runs: i32,
    pub failed_runs: i32,
    pub cancelled_runs: i32,
    pub avg_runtime_seconds: Option<Decimal>,
    pub min_runtime_seconds: Option<Decimal>,
    pub max_runtime_seconds: Option<Decimal>,
    pub p50_runtime_seconds: Option<Decimal>,
    pub p75_runtime_seconds: Option<Decimal>,
    pub p95_runtime_seconds: Option<Decimal>,
    pub p99_runtime_seconds: Option<Decimal>,
    pub total_credits: Decimal,
    pub avg_credits_per_run: Option<Decimal>,
    pub total_tokens_used: i64,
    pub avg_tokens_per_run: Option<i32>,
    pub unique_users: i32,
    pub avg_user_rating: Option<Decimal>,
    pub total_feedback_count: i32,
    pub error_types: Json,
    pub common_failure_reasons: Json,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
}

/// Foreign keys of `analytics.agent_performance`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The agent measured.
    #[sea_orm(
        belongs_to = "crate::public::agents::Entity",
        from = "Column::AgentId",
        to = "crate::public::agents::Column::Id",
        on_delete = "Cascade"
    )]
    Agent,
    /// The agent's workspace.
    #[sea_orm(
        belongs_to = "crate::public::workspaces::Entity",
        from = "Column::WorkspaceId",
        to = "crate::public::workspaces::Column::Id",
        on_delete = "Cascade"
    )]
    Workspace,
}

impl Related<crate::public::agents::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Agent.def()
    }
}

impl Related<crate::public::workspaces::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Workspace.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
