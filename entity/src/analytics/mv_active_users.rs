//! `analytics.mv_active_users`: materialized view (service role only; members read the `v_` view).

use sea_orm::entity::prelude::*;

/// Active users of one workspace on one UTC day: that day, and rolling 7 and
/// 30 days ending that day (distinct users with an event or a run).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "analytics", table_name = "mv_active_users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub activity_date: Date,
    #[sea_orm(primary_key, auto_increment = false)]
    pub workspace_id: Uuid,
    pub daily_active_users: i64,
    pub weekly_active_users: i64,
    pub monthly_active_users: i64,
}

/// Read-only relation: no foreign keys declared.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
