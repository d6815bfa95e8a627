//! `lift.sessions`: one code-lifting session (prompt to code or code to IR).

use sea_orm::entity::prelude::*;

/// A lifting session. `status` is one of `active`, `paused`, `finalized`,
/// `error`; `source` is `prompt` or `code`. The three counters are kept by
/// triggers on the child tables and are not writable by users; `updated_at`
/// and `finalized_at` are maintained by triggers too.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "lift", table_name = "sessions")]
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
}

/// Foreign keys from and to `lift.sessions`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The owner (`sessions_user_id_fkey`, cascade on delete).
    #[sea_orm(
        belongs_to = "crate::public::users::Entity",
        from = "Column::UserId",
        to = "crate::public::users::Column::Id",
        on_delete = "Cascade"
    )]
    User,
    /// IR revisions of this session.
    #[sea_orm(has_many = "super::session_revisions::Entity")]
    SessionRevisions,
    /// Code drafts of this session.
    #[sea_orm(has_many = "super::session_drafts::Entity")]
    SessionDrafts,
    /// Typed-hole resolutions of this session.
    #[sea_orm(has_many = "super::hole_resolutions::Entity")]
    HoleResolutions,
}

impl Related<crate::public::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<super::session_revisions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SessionRevisions.def()
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
