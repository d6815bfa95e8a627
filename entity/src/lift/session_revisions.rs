//! `lift.session_revisions`: the IR history of a session.

use sea_orm::entity::prelude::*;

/// One IR revision. `revision_number` is unique per session; inserting it
/// unset (NULL) lets a trigger assign the next gap-free number. `source` is
/// one of `initial`, `refinement`, `repair`, `user_edit`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "lift", table_name = "session_revisions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub session_id: Uuid,
    pub revision_number: i32,
    pub source: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub ir_content: Json,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub validation_result: Option<Json>,
    pub changed_fields: Vec<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub change_summary: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub metadata: Json,
    pub created_at: DateTimeWithTimeZone,
}

/// Foreign keys from and to `lift.session_revisions`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The parent session (`session_revisions_session_id_fkey`, cascade).
    #[sea_orm(
        belongs_to = "super::sessions::Entity",
        from = "Column::SessionId",
        to = "super::sessions::Column::Id",
        on_delete = "Cascade"
    )]
    Session,
    /// Drafts generated from this revision.
    #[sea_orm(has_many = "super::session_drafts::Entity")]
    SessionDrafts,
    /// Holes resolved in this revision.
    #[sea_orm(has_many = "super::hole_resolutions::Entity")]
    HoleResolutions,
}

impl Related<super::sessions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Session.def()
    }
}

impl Related<super::session_drafts::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SessionDrafts.def()
    }
}

impl Related<super::hole_resolutions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::HoleResolutions.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
