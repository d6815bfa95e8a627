//! Inputs of the lift domain: `where` filters, `orderBy` lists, aggregate
//! groupings and the mutation inputs.

use super::types::{
    LiftDraftSource, LiftHoleType, LiftResolutionMethod, LiftRevisionSource, LiftSessionSource,
    LiftSessionStatus,
};
use crate::graphql::filter::enum_filter;
use crate::graphql::filter::{combine, opt};
use crate::graphql::filter::{
    BooleanFilter, DateTimeFilter, DecimalFilter, IntFilter, JsonFilter, StringFilter, UuidFilter,
};
pub use crate::graphql::ordering::{normalize_order, OrderEntry};
use crate::graphql::ordering::{order_input, with_tiebreak};
use crate::graphql::pagination::{SortDirection, SortKey};
use async_graphql::{Enum, InputObject, Json};
use entity::lift::{hole_resolutions, session_drafts, session_revisions, sessions};
use rust_decimal::Decimal;
use sea_orm::Condition;
use uuid::Uuid;

enum_filter!(
    /// Filter on a session status.
    LiftSessionStatusFilter,
    LiftSessionStatus
);
enum_filter!(
    /// Filter on a session source.
    LiftSessionSourceFilter,
    LiftSessionSource
);
enum_filter!(
    /// Filter on a revision source.
    LiftRevisionSourceFilter,
    LiftRevisionSource
);
enum_filter!(
    /// Filter on a draft source.
    LiftDraftSourceFilter,
    LiftDraftSource
);
enum_filter!(
    /// Filter on a hole type.
    LiftHoleTypeFilter,
    LiftHoleType
);
enum_filter!(
    /// Filter on a resolution method.
    LiftResolutionMethodFilter,
    LiftResolutionMethod
);

/// Which lift sessions to return.
#[derive(InputObject, Clone, Debug, Default)]
pub struct LiftSessionWhere {
    /// Session id.
    pub id: Option<UuidFilter>,
    /// Status.
    pub status: Option<LiftSessionStatusFilter>,
    /// Source.
    pub source: Option<LiftSessionSourceFilter>,
    /// The original prompt or code.
    pub original_input: Option<StringFilter>,
    /// The current IR.
    pub current_ir: Option<JsonFilter>,
    /// The current code.
    pub current_code: Option<StringFilter>,
    /// Number of revisions.
    pub revision_count: Option<IntFilter>,
    /// Number of drafts.
    pub draft_count: Option<IntFilter>,
    /// Number of resolved holes.
    pub hole_count: Option<IntFilter>,
    /// Metadata.
    pub metadata: Option<JsonFilter>,
    /// Creation time.
    pub created_at: Option<DateTimeFilter>,
    /// Last change.
    pub updated_at: Option<DateTimeFilter>,
    /// Finalization time.
    pub finalized_at: Option<DateTimeFilter>,
    /// All of these.
    pub and: Option<Vec<LiftSessionWhere>>,
    /// Any of these.
    pub or: Option<Vec<LiftSessionWhere>>,
    /// Not this.
    pub not: Option<Box<LiftSessionWhere>>,
}

impl LiftSessionWhere {
    /// The SQL condition.
    pub fn condition(&self) -> Condition {
        use sessions::Column as C;
        let mut c = Condition::all();
        c = opt(c, &self.id, |f| f.condition(C::Id));
        c = opt(c, &self.status, |f| f.condition(C::Status));
        c = opt(c, &self.source, |f| f.condition(C::Source));
        c = opt(c, &self.original_input, |f| f.condition(C::OriginalInput));
        c = opt(c, &self.current_ir, |f| f.condition(C::CurrentIr));
        c = opt(c, &self.current_code, |f| f.condition(C::CurrentCode));
        c = opt(c, &self.revision_count, |f| f.condition(C::RevisionCount));
        c = opt(c, &self.draft_count, |f| f.condition(C::DraftCount));
        c = opt(c, &self.hole_count, |f| f.condition(C::HoleCount));
        c = opt(c, &self.metadata, |f| f.condition(C::Metadata));
        c = opt(c, &self.created_at, |f| f.condition(C::CreatedAt));
        c = opt(c, &self.updated_at, |f| f.condition(C::UpdatedAt));
        c = opt(c, &self.finalized_at, |f| f.condition(C::FinalizedAt));
        combine(c, &self.and, &self.or, &self.not, Self::condition)
    }
}

/// Which IR revisions to return.
#[derive(InputObject, Clone, Debug, Default)]
pub struct LiftRevisionWhere {
    /// Revision id.
    pub id: Option<UuidFilter>,
    /// The session.
    pub session_id: Option<UuidFilter>,
    /// Number within the session.
    pub revision_number: Option<IntFilter>,
    /// Source.
    pub source: Option<LiftRevisionSourceFilter>,
    /// The IR.
    pub ir_content: Option<JsonFilter>,
    /// Validation result.
    pub validation_result: Option<JsonFilter>,
    /// Change summary.
    pub change_summary: Option<StringFilter>,
    /// Metadata.
    pub metadata: Option<JsonFilter>,
    /// Creation time.
    pub created_at: Option<DateTimeFilter>,
    /// All of these.
    pub and: Option<Vec<LiftRevisionWhere>>,
    /// Any of these.
    pub or: Option<Vec<LiftRevisionWhere>>,
    /// Not this.
    pub not: Option<Box<LiftRevisionWhere>>,
}

impl LiftRevisionWhere {
    /// The SQL condition.
    pub fn condition(&self) -> Condition {
        use session_revisions::Column as C;
        let mut c = Condition::all();
        c = opt(c, &self.id, |f| f.condition(C::Id));
        c = opt(c, &self.session_id, |f| f.condition(C::SessionId));
        c = opt(c, &self.revision_number, |f| f.condition(C::RevisionNumber));
        c = opt(c, &self.source, |f| f.condition(C::Source));
        c = opt(c, &self.ir_content, |f| f.condition(C::IrContent));
        c = opt(c, &self.validation_result, |f| {
            f.condition(C::ValidationResult)
        });
        c = opt(c, &self.change_summary, |f| f.condition(C::ChangeSummary));
        c = opt(c, &self.metadata, |f| f.condition(C::Metadata));
        c = opt(c, &self.created_at, |f| f.condition(C::CreatedAt));
        combine(c, &self.and, &self.or, &self.not, Self::condition)
    }
}

/// Which code drafts to return.
#[derive(InputObject, Clone, Debug, Default)]
pub struct LiftDraftWhere {
    /// Draft id.
    pub id: Option<UuidFilter>,
    /// The session.
    pub session_id: Option<UuidFilter>,
    /// The IR revision.
    pub ir_revision_id: Option<UuidFilter>,
    /// Number within the session.
    pub draft_number: Option<IntFilter>,
    /// Source.
    pub source: Option<LiftDraftSourceFilter>,
    /// The code.
    pub code_content: Option<StringFilter>,
    /// Programming language.
    pub language: Option<StringFilter>,
    /// The code parses.
    pub syntax_valid: Option<BooleanFilter>,
    /// The AST is valid.
    pub ast_valid: Option<BooleanFilter>,
    /// Validation errors.
    pub validation_errors: Option<JsonFilter>,
    /// Generation time (ms).
    pub generation_time_ms: Option<IntFilter>,
    /// Validation time (ms).
    pub validation_time_ms: Option<IntFilter>,
    /// LLM tokens.
    pub llm_tokens_used: Option<IntFilter>,
    /// LLM cost (USD).
    pub llm_cost_usd: Option<DecimalFilter>,
    /// Metadata.
    pub metadata: Option<JsonFilter>,
    /// Creation time.
    pub created_at: Option<DateTimeFilter>,
    /// All of these.
    pub and: Option<Vec<LiftDraftWhere>>,
    /// Any of these.
    pub or: Option<Vec<LiftDraftWhere>>,
    /// Not this.
    pub not: Option<Box<LiftDraftWhere>>,
}

impl LiftDraftWhere {
    /// The SQL condition.
    pub fn condition(&self) -> Condition {
        use session_drafts::Column as C;
        let mut c = Condition::all();
        c = opt(c, &self.id, |f| f.condition(C::Id));
        c = opt(c, &self.session_id, |f| f.condition(C::SessionId));
        c = opt(c, &self.ir_revision_id, |f| f.condition(C::IrRevisionId));
        c = opt(c, &self.draft_number, |f| f.condition(C::DraftNumber));
        c = opt(c, &self.source, |f| f.condition(C::Source));
        c = opt(c, &self.code_content, |f| f.condition(C::CodeContent));
        c = opt(c, &self.language, |f| f.condition(C::Language));
        c = opt(c, &self.syntax_valid, |f| f.condition(C::SyntaxValid));
        c = opt(c, &self.ast_valid, |f| f.condition(C::AstValid));
        c = opt(c, &self.validation_errors, |f| {
            f.condition(C::ValidationErrors)
        });
        c = opt(c, &self.generation_time_ms, |f| {
            f.condition(C::GenerationTimeMs)
        });
        c = opt(c, &self.validation_time_ms, |f| {
            f.condition(C::ValidationTimeMs)
        });
        c = opt(c, &self.llm_tokens_used, |f| f.condition(C::LlmTokensUsed));
        c = opt(c, &self.llm_cost_usd, |f| f.condition(C::LlmCostUsd));
        c = opt(c, &self.metadata, |f| f.condition(C::Metadata));
        c = opt(c, &self.created_at, |f| f.condition(C::CreatedAt));
        combine(c, &self.and, &self.or, &self.not, Self::condition)
    }
}

/// Which hole resolutions to return.
#[derive(InputObject, Clone, Debug, Default)]
pub struct LiftHoleResolutionWhere {
    /// Resolution id.
    pub id: Option<UuidFilter>,
    /// The session.
    pub session_id: Option<UuidFilter>,
    /// The IR revision.
    pub ir_revision_id: Option<UuidFilter>,
    /// The hole's id within the IR.
    pub hole_id: Option<StringFilter>,
    /// Kind of hole.
    pub hole_type: Option<LiftHoleTypeFilter>,
    /// How it was resolved.
    pub resolution_method: Option<LiftResolutionMethodFilter>,
    /// The value filled in.
    pub resolved_value: Option<JsonFilter>,
    /// Confidence.
    pub confidence_score: Option<DecimalFilter>,
    /// Metadata.
    pub metadata: Option<JsonFilter>,
    /// Creation time.
    pub created_at: Option<DateTimeFilter>,
    /// All of these.
    pub and: Option<Vec<LiftHoleResolutionWhere>>,
    /// Any of these.
    pub or: Option<Vec<LiftHoleResolutionWhere>>,
    /// Not this.
    pub not: Option<Box<LiftHoleResolutionWhere>>,
}

impl LiftHoleResolutionWhere {
    /// The SQL condition.
    pub fn condition(&self) -> Condition {
        use hole_resolutions::Column as C;
        let mut c = Condition::all();
        c = opt(c, &self.id, |f| f.condition(C::Id));
        c = opt(c, &self.session_id, |f| f.condition(C::SessionId));
        c = opt(c, &self.ir_revision_id, |f| f.condition(C::IrRevisionId));
        c = opt(c, &self.hole_id, |f| f.condition(C::HoleId));
        c = opt(c, &self.hole_type, |f| f.condition(C::HoleType));
        c = opt(c, &self.resolution_method, |f| {
            f.condition(C::ResolutionMethod)
        });
        c = opt(c, &self.resolved_value, |f| f.condition(C::ResolvedValue));
        c = opt(c, &self.confidence_score, |f| {
            f.condition(C::ConfidenceScore)
        });
        c = opt(c, &self.metadata, |f| f.condition(C::Metadata));
        c = opt(c, &self.created_at, |f| f.condition(C::CreatedAt));
        combine(c, &self.and, &self.or, &self.not, Self::condition)
    }
}

order_input!(
    /// One `orderBy` entry of lift sessions.
    LiftSessionOrder,
    /// Sortable fields of lift sessions.
    LiftSessionOrderField {
        /// Creation time.
        CreatedAt,
        /// Status.
        Status,
    }
);

order_input!(
    /// One `orderBy` entry of IR revisions.
    LiftRevisionOrder,
    /// Sortable fields of IR revisions.
    LiftRevisionOrderField {
        /// Number within the session.
        RevisionNumber,
        /// Creation time.
        CreatedAt,
        /// Source.
        Source,
    }
);

order_input!(
    /// One `orderBy` entry of code drafts.
    LiftDraftOrder,
    /// Sortable fields of code drafts.
    LiftDraftOrderField {
        /// Number within the session.
        DraftNumber,
        /// Creation time.
        CreatedAt,
        /// Source.
        Source,
    }
);

order_input!(
    /// One `orderBy` entry of hole resolutions.
    LiftHoleResolutionOrder,
    /// Sortable fields of hole resolutions.
    LiftHoleResolutionOrderField {
        /// Creation time.
        CreatedAt,
        /// Kind of hole.
        HoleType,
        /// How it was resolved.
        ResolutionMethod,
    }
);

/// Sessions: newest first.
pub const SESSION_DEFAULT_ORDER: &[(LiftSessionOrderField, SortDirection)] =
    &[(LiftSessionOrderField::CreatedAt, SortDirection::Desc)];
/// Revisions: by number.
pub const REVISION_DEFAULT_ORDER: &[(LiftRevisionOrderField, SortDirection)] =
    &[(LiftRevisionOrderField::RevisionNumber, SortDirection::Asc)];
/// Drafts: by number.
pub const DRAFT_DEFAULT_ORDER: &[(LiftDraftOrderField, SortDirection)] =
    &[(LiftDraftOrderField::DraftNumber, SortDirection::Asc)];
/// Resolutions: oldest first.
pub const RESOLUTION_DEFAULT_ORDER: &[(LiftHoleResolutionOrderField, SortDirection)] =
    &[(LiftHoleResolutionOrderField::CreatedAt, SortDirection::Asc)];

/// Sort keys of a session ordering.
pub fn session_sort_keys(
    order: &[(LiftSessionOrderField, SortDirection)],
) -> Vec<SortKey<sessions::Column>> {
    use sessions::Column as C;
    with_tiebreak(
        order,
        |f| match f {
            LiftSessionOrderField::CreatedAt => C::CreatedAt,
            LiftSessionOrderField::Status => C::Status,
        },
        C::Id,
    )
}

/// Sort keys of a revision ordering.
pub fn revision_sort_keys(
    order: &[(LiftRevisionOrderField, SortDirection)],
) -> Vec<SortKey<session_revisions::Column>> {
    use session_revisions::Column as C;
    with_tiebreak(
        order,
        |f| match f {
            LiftRevisionOrderField::RevisionNumber => C::RevisionNumber,
            LiftRevisionOrderField::CreatedAt => C::CreatedAt,
            LiftRevisionOrderField::Source => C::Source,
        },
        C::Id,
    )
}

/// Sort keys of a draft ordering.
pub fn draft_sort_keys(
    order: &[(LiftDraftOrderField, SortDirection)],
) -> Vec<SortKey<session_drafts::Column>> {
    use session_drafts::Column as C;
    with_tiebreak(
        order,
        |f| match f {
            LiftDraftOrderField::DraftNumber => C::DraftNumber,
            LiftDraftOrderField::CreatedAt => C::CreatedAt,
            LiftDraftOrderField::Source => C::Source,
        },
        C::Id,
    )
}

/// Sort keys of a resolution ordering.
pub fn resolution_sort_keys(
    order: &[(LiftHoleResolutionOrderField, SortDirection)],
) -> Vec<SortKey<hole_resolutions::Column>> {
    use hole_resolutions::Column as C;
    with_tiebreak(
        order,
        |f| match f {
            LiftHoleResolutionOrderField::CreatedAt => C::CreatedAt,
            LiftHoleResolutionOrderField::HoleType => C::HoleType,
            LiftHoleResolutionOrderField::ResolutionMethod => C::ResolutionMethod,
        },
        C::Id,
    )
}

/// Grouping keys of `liftSessionAggregate`.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LiftSessionGroupBy {
    /// By status.
    Status,
    /// By source.
    Source,
    /// By creation day (UTC).
    Day,
}

/// Grouping keys of `liftDraftAggregate`.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LiftDraftGroupBy {
    /// By syntax validity.
    SyntaxValid,
    /// By AST validity.
    AstValid,
    /// By language.
    Language,
    /// By creation day (UTC).
    Day,
    /// By session.
    Session,
}

/// Input of `createLiftSession`.
#[derive(InputObject, Debug)]
pub struct CreateLiftSessionInput {
    /// What the session starts from.
    pub source: LiftSessionSource,
    /// The prompt or code (not blank).
    pub original_input: String,
    /// Free-form metadata (a JSON object; default `{}`).
    pub metadata: Option<Json<serde_json::Value>>,
}

/// Input of `updateLiftSession`; omitted fields stay as they are.
#[derive(InputObject, Debug)]
pub struct UpdateLiftSessionInput {
    /// The session.
    pub id: Uuid,
    /// New status (FINALIZED sets `finalizedAt`; leaving it clears it).
    pub status: Option<LiftSessionStatus>,
    /// New current IR.
    pub current_ir: Option<Json<serde_json::Value>>,
    /// New current code.
    pub current_code: Option<String>,
    /// New metadata (a JSON object; replaces the old one).
    pub metadata: Option<Json<serde_json::Value>>,
}

/// Input of `finalizeLiftSession`.
#[derive(InputObject, Debug)]
pub struct FinalizeLiftSessionInput {
    /// The session.
    pub id: Uuid,
}

/// Input of `deleteLiftSession`.
#[derive(InputObject, Debug)]
pub struct DeleteLiftSessionInput {
    /// The session.
    pub id: Uuid,
}

/// Input of `addLiftRevision`. The revision number is assigned (next in the
/// session, gap-free).
#[derive(InputObject, Debug)]
pub struct AddLiftRevisionInput {
    /// The session.
    pub session_id: Uuid,
    /// How the revision came about.
    pub source: LiftRevisionSource,
    /// The IR.
    pub ir_content: Json<serde_json::Value>,
    /// Validation result of the IR.
    pub validation_result: Option<Json<serde_json::Value>>,
    /// IR fields changed from the previous revision (each not blank).
    pub changed_fields: Option<Vec<String>>,
    /// What changed, for a person.
    pub change_summary: Option<String>,
    /// Free-form metadata (a JSON object).
    pub metadata: Option<Json<serde_json::Value>>,
}

/// Input of `addLiftDraft`. The draft number is assigned (next in the
/// session, gap-free).
#[derive(InputObject, Debug)]
pub struct AddLiftDraftInput {
    /// The session.
    pub session_id: Uuid,
    /// The IR revision (of the same session) the draft was generated from.
    pub ir_revision_id: Option<Uuid>,
    /// How the draft came about.
    pub source: LiftDraftSource,
    /// The code (not blank).
    pub code_content: String,
    /// Programming language (default `python`; not blank).
    pub language: Option<String>,
    /// The code parses.
    pub syntax_valid: bool,
    /// The AST is valid.
    pub ast_valid: bool,
    /// Validation errors (a JSON array; default `[]`).
    pub validation_errors: Option<Json<serde_json::Value>>,
    /// Generation time in ms (not negative).
    pub generation_time_ms: Option<i32>,
    /// Validation time in ms (not negative).
    pub validation_time_ms: Option<i32>,
    /// LLM tokens spent (not negative).
    pub llm_tokens_used: Option<i32>,
    /// LLM cost in USD (0 to 9999.999999).
    pub llm_cost_usd: Option<Decimal>,
    /// Free-form metadata (a JSON object).
    pub metadata: Option<Json<serde_json::Value>>,
}

/// Input of `resolveLiftHole`. A hole is resolved once per revision.
#[derive(InputObject, Debug)]
pub struct ResolveLiftHoleInput {
    /// The session.
    pub session_id: Uuid,
    /// The IR revision (of the same session).
    pub ir_revision_id: Option<Uuid>,
    /// The hole's id within the IR (not blank).
    pub hole_id: String,
    /// Kind of hole.
    pub hole_type: LiftHoleType,
    /// How it was resolved.
    pub resolution_method: LiftResolutionMethod,
    /// The value filled in.
    pub resolved_value: Json<serde_json::Value>,
    /// Confidence between 0 and 1.
    pub confidence_score: Option<Decimal>,
    /// The hole as it was.
    pub original_hole_data: Option<Json<serde_json::Value>>,
    /// Suggestions shown (a JSON array; default `[]`).
    pub suggestions_provided: Option<Json<serde_json::Value>>,
    /// The user's feedback.
    pub user_feedback: Option<String>,
    /// Free-form metadata (a JSON object).
    pub metadata: Option<Json<serde_json::Value>>,
}
