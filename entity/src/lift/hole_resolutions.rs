//! `lift.hole_resolutions`: typed holes resolved during refinement.

use sea_orm::entity::prelude::*;

/// One typed-hole resolution, unique per (session, revision, hole).
/// `ir_revision_id`, when set, is a revision of the same session.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "lift", table_name = "hole_resolutions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub session_id: Uuid,
    pub ir_revision_id: Option<Uuid>,
    #[sea_orm(column_type = "Text")]
    pub hole_id: String,
    pub hole_type: String,
    pub resolution_method: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub resolved_value: Json,
    #[sea_orm(column_type = "Decimal(Some((3, 2)))", nullable)]
    pub confidence_score: Option<Decimal>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub original_hole_data: Option<Json>,
    #[sea_orm(column_type = "JsonBinary")]
    pub suggestions_provided: Json,
    #[sea_orm(column_type = "Text", nullable)]
    pub user_feedback: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub metadata: Json,
    pub created_at: DateTimeWithTimeZone,
}

/// Foreign keys from `lift.hole_resolutions`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The parent session (`hole_resolutions_session_id_fkey`, cascade).
    #[sea_orm(
        belongs_to = "super::sessions::Entity",
        from = "Column::SessionId",
        to = "super::sessions::Column::Id",
        on_delete = "Cascade"
    )]
    Session,
    /// The IR revision in which the hole was resolved.
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
