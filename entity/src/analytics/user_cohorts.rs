//! `analytics.user_cohorts`: retention cohorts.

use sea_orm::entity::prelude::*;

/// One cohort (`cohort_period` is daily, weekly or monthly).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "analytics", table_name = "user_cohorts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub cohort_period: String,
    pub cohort_date: Date,
    pub workspace_id: Option<Uuid>,
    pub initial_users: i32,
    pub retention_data: Json,
    pub ltv_estimate: Option<Decimal>,
    pub avg_revenue_per_user: Option<Decimal>,
    pub churn_rate: Option<Decimal>,
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
