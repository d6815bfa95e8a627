//! `analytics.hourly_metrics`: near-real-time hourly counters (kept 30 days).

use sea_orm::entity::prelude::*;

/// Counters of one hour for one workspace (`workspace_id` NULL: platform-wide).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "analytics", table_name = "hourly_metrics")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub metric_hour: DateTimeWithTimeZone,
    pub workspace_id: Option<Uuid>,
    pub active_users: i32,
    pub total_runs: i32,
    pub successful_runs: i32,
    pub failed_runs: i32,
    pub total_credits: Decimal,
    pub avg_response_time_ms: Option<i32>,
    pub p95_response_time_ms: Option<i32>,
    pub created_at: DateTimeWithTimeZone,
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
