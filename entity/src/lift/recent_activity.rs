//! `lift.recent_activity` (view): the unified activity timeline.

use sea_orm::entity::prelude::*;

/// One timeline event: `event_type` is `session_created`, `revision_created`,
/// `draft_created` or `hole_resolved`; `event_id` is the id of the row the
/// event is about, so (`event_type`, `event_id`) is the key. Read-only
/// (security-invoker view).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "lift", table_name = "recent_activity")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_type: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: Uuid,
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub revision_id: Option<Uuid>,
    pub draft_id: Option<Uuid>,
    pub resolution_id: Option<Uuid>,
    pub event_time: DateTimeWithTimeZone,
    #[sea_orm(column_type = "JsonBinary")]
    pub event_data: Json,
}

/// A view: no foreign keys.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
