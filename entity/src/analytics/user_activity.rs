//! `analytics.user_activity`: raw activity events (kept 90 days).

use sea_orm::entity::prelude::*;

/// One event recorded by a user, optionally inside a workspace.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "analytics", table_name = "user_activity")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub workspace_id: Option<Uuid>,
    pub event_type: String,
    pub event_name: Option<String>,
    pub page_path: Option<String>,
    pub session_id: Option<Uuid>,
    pub ip_address: Option<IpNetwork>,
    pub user_agent: Option<String>,
    pub referrer: Option<String>,
    pub metadata: Json,
    pub created_at: DateTimeWithTimeZone,
}

/// Foreign keys of `analytics.user_activity`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The user who did it.
    #[sea_orm(
        belongs_to = "crate::public::users::Entity",
        from = "Column::UserId",
        to = "crate::public::users::Column::Id",
        on_delete = "Cascade"
    )]
    User,
    /// The workspace it happened in, if any.
    #[sea_orm(
        belongs_to = "crate::public::workspaces::Entity",
        from = "Column::WorkspaceId",
        to = "crate::public::workspaces::Column::Id",
        on_delete = "Cascade"
    )]
    Workspace,
}

impl Related<crate::public::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<crate::public::workspaces::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Workspace.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
