//! `analytics.daily_metrics`: the daily rollup written by `aggregate_daily_metrics`.

use sea_orm::entity::prelude::*;

/// Metrics of one UTC day for one workspace (`workspace_id` NULL: platform-wide).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "analytics", table_name = "daily_metrics")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub metric_date: Date,
    pub workspace_id: Option<Uuid>,
    pub total_users: i32,
    pub active_users: i32,
    pub new_users: i32,
    pub returning_users: i32,
    pub total_sessions: i32,
    pub avg_session_duration_seconds: Option<Decimal>,
    pub bounce_rate: Option<Decimal>,
    pub total_runs: i32,
    pub successful_runs: i32,
    pub failed_runs: i32,
    pub cancelled_runs: i32,
    pub avg_runtime_seconds: Option<Decimal>,
    pub median_runtime_seconds: Option<Decimal>,
    pub p95_runtime_seconds: Option<Decimal>,
    pub p99_runtime_seconds: Option<Decimal>,
    pub total_credits_consumed: Decimal,
    pub avg_credits_per_run: Option<Decimal>,
    pub credits_by_model: Json,
    pub unique_agents_run: i32,
    pub top_agents: Json,
    pub total_errors: i32,
    pub error_rate: Option<Decimal>,
    pub errors_by_type: Json,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
}

/// Foreign keys of this table.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The workspace the row is about (NULL: platform-wide).
    #[sea_orm(
        belongs_to = "crate::public::workspaces::Entity",
        from = "Column::WorkspaceId",
        to = "crate::public::workspaces::Column::Id",
        on_delete = "Cascade"
    )]
    Workspace,
}

impl Related<crate::public::workspaces::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Workspace.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
