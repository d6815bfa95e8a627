//! `chat.user_activity_log`: audit trail of a user's actions and of what the
//! system did to their profile (written only by SQL functions).

use sea_orm::entity::prelude::*;

/// One logged action.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "chat", table_name = "user_activity_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    /// E.g. `profile_created`, `profile_synced`, `preferences_updated`, `tier_updated`.
    pub action: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub details: Json,
    /// The client's conversation id the action was about, if any.
    #[sea_orm(column_type = "Text", nullable)]
    pub session_id: Option<String>,
    pub ip_address: Option<IpNetwork>,
    #[sea_orm(column_type = "Text", nullable)]
    pub user_agent: Option<String>,
    pub timestamp: DateTimeWithTimeZone,
}

/// Foreign keys from `chat.user_activity_log`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The user (`user_activity_log_user_id_fkey`).
    #[sea_orm(
        belongs_to = "super::profiles::Entity",
        from = "Column::UserId",
        to = "super::profiles::Column::Id",
        on_delete = "Cascade"
    )]
    Profile,
}

impl Related<super::profiles::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Profile.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
