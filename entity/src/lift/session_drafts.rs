//! `lift.session_drafts`: code generation attempts of a session.

use sea_orm::entity::prelude::*;

/// One generated draft. `draft_number` is unique per session; inserting it
/// unset (NULL) lets a trigger assign the next gap-free number.
/// `ir_revision_id`, when set, is a revision of the same session (composite
/// FK `session_drafts_ir_revision_id_fkey`); deleting that revision clears it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "lift", table_name = "session_drafts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub session_id: Uuid,
    pub ir_revision_id: Option<Uuid>,
    pub draft_number: i32,
    pub source: String,
    #[sea_orm(column_type = "Text")]
    pub code_content: String,
    pub language: String,
    pub syntax_valid: bool,
    pub ast_valid: bool,
    #[sea_orm(column_type = "JsonBinary")]
    pub validation_errors: Json,
    pub generation_time_ms: Option<i32>,
    pub validation_time_ms: Option<i32>,
    pub llm_tokens_used: Option<i32>,
    #[sea_orm(column_type = "Decimal(Some((10, 6)))", nullable)]
    pub llm_cost_usd: Option<Decimal>,
    #[sea_orm(column_type = "JsonBinary")]
    pub metadata: Json,
    pub created_at: DateTimeWithTimeZone,
}

/// Foreign keys from `lift.session_drafts`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The parent session (`session_drafts_session_id_fkey`, cascade).
    #[sea_orm(
        belongs_to = "super::sessions::Entity",
        from = "Column::SessionId",
        to = "super::sessions::Column::Id",
        on_delete = "Cascade"
    )]
    Session,
    /// The IR revision this draft was generated from.
    #[sea_orm(
        belongs_to = "super::session_revisions::Entity",
        from = "Column::IrRevisionId",
        to = "super::session_revisions::Column::Id",
        on_delete = "SetNull"
    )]
    IrRevision,
}

impl Related<super::sessions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Session.def()
    }
}

impl Related<super::session_revisions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::IrRevision.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
