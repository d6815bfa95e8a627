//! `lift.user_analytics` (view): per-user usage totals.

use sea_orm::entity::prelude::*;

/// Usage totals of one user with at least one session. Read-only
/// (security-invoker view: a user sees only their own row). Averages are
/// rounded to two decimals; `avg_time_to_finalization_seconds` is NULL when no
/// session is finalized.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "lift", table_name = "user_analytics")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    pub total_sessions: i64,
    pub finalized_sessions: i64,
    pub active_sessions: i64,
    pub error_sessions: i64,
    pub total_revisions: i64,
    pub total_drafts: i64,
    pub avg_revisions_per_session: Decimal,
    pub avg_drafts_per_session: Decimal,
    pub first_session_at: DateTimeWithTimeZone,
    pub last_session_at: DateTimeWithTimeZone,
    pub total_llm_cost_usd: Decimal,
    pub total_llm_tokens_used: i64,
    pub avg_time_to_finalization_seconds: Option<Decimal>,
}

/// A view: no foreign keys.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
