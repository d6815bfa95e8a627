//! `lift.session_summary` (view): one row per session with its aggregates.

use sea_orm::entity::prelude::*;

/// A session with dashboard aggregates. Read-only (security-invoker view: the
/// viewer sees only their own sessions). `latest_*` are NULL without
/// revisions / drafts; `latest_draft_valid` is `syntax_valid AND ast_valid` of
/// the highest-numbered draft; sums are 0 without drafts; durations are in
/// seconds (`time_to_finalization_seconds` NULL unless finalized).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "lift", table_name = "session_summary")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub status: String,
    pub source: String,
    #[sea_orm(column_type = "Text")]
    pub original_input: String,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub current_ir: Option<Json>,
    #[sea_orm(column_type = "Text", nullable)]
    pub current_code: Option<String>,
    pub revision_count: i32,
    pub draft_count: i32,
    pub hole_count: i32,
    #[sea_orm(column_type = "JsonBinary")]
    pub metadata: Json,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
    pub finalized_at: Option<DateTimeWithTimeZone>,
    pub latest_revision_number: Option<i32>,
    pub latest_draft_number: Option<i32>,
    pub latest_draft_valid: Option<bool>,
    pub total_generation_time_ms: i64,
    pub total_llm_cost_usd: Decimal,
    pub total_llm_tokens_used: i64,
    pub session_duration_seconds: Decimal,
    pub time_to_finalization_seconds: Option<Decimal>,
}

/// A view: no foreign keys.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
