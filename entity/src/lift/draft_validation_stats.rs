//! `lift.draft_validation_stats` (view): per-session draft success rates.

use sea_orm::entity::prelude::*;

/// Draft validation figures of one session (every session, drafts or not).
/// Percentages are 0-100 with two decimals and, like the averages, NULL when
/// the session has no drafts. Read-only (security-invoker view).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "lift", table_name = "draft_validation_stats")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub total_drafts: i64,
    pub syntax_valid_count: i64,
    pub ast_valid_count: i64,
    pub fully_valid_count: i64,
    pub syntax_valid_percent: Option<Decimal>,
    pub ast_valid_percent: Option<Decimal>,
    pub fully_valid_percent: Option<Decimal>,
    pub avg_generation_time_ms: Option<Decimal>,
    pub avg_validation_time_ms: Option<Decimal>,
    pub total_llm_cost_usd: Decimal,
}

/// A view: no foreign keys.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
