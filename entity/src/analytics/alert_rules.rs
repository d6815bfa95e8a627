//! `analytics.alert_rules`: threshold alerts evaluated by `evaluate_alert_rules()`.

use sea_orm::entity::prelude::*;

/// One alert rule. `trigger_count` and `last_triggered_at` are maintained by
/// the database (users have no UPDATE grant on them).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "analytics", table_name = "alert_rules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Option<Uuid>,
    pub name: String,
    pub description: Option<String>,
    pub is_active: bool,
    pub metric_type: String,
    pub condition: String,
    pub threshold_value: Decimal,
    pub evaluation_window_minutes: i32,
    pub notification_channels: Json,
    pub notification_recipients: Json,
    pub last_triggered_at: Option<DateTimeWithTimeZone>,
    pub trigger_count: i32,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
    pub created_by: Option<Uuid>,
}

/// Foreign keys from and to `analytics.alert_rules`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The workspace watched (NULL: platform-wide, service role only).
    #[sea_orm(
        belongs_to = "crate::public::workspaces::Entity",
        from = "Column::WorkspaceId",
        to = "crate::public::workspaces::Column::Id",
        on_delete = "Cascade"
    )]
    Workspace,
    /// The user who created the rule.
    #[sea_orm(
        belongs_to = "crate::public::users::Entity",
        from = "Column::CreatedBy",
        to = "crate::public::users::Column::Id",
        on_delete = "SetNull"
    )]
    Creator,
    /// Alerts this rule fired.
    #[sea_orm(has_many = "super::alert_history::Entity")]
    AlertHistory,
}

impl Related<crate::public::workspaces::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Workspace.def()
    }
}

impl Related<crate::public::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Creator.def()
    }
}

impl Related<super::alert_history::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AlertHistory.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
