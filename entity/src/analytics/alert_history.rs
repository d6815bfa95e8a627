//! `analytics.alert_history`: alerts fired, and their acknowledgement.

use sea_orm::entity::prelude::*;

/// One fired alert. Members may only set `acknowledged_by` (to themselves),
/// `acknowledged_at` and `notes`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "analytics", table_name = "alert_history")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub alert_rule_id: Uuid,
    pub workspace_id: Option<Uuid>,
    pub triggered_at: DateTimeWithTimeZone,
    pub metric_value: Option<Decimal>,
    pub threshold_value: Option<Decimal>,
    pub notifications_sent: Json,
    pub notification_status: String,
    pub acknowledged_by: Option<Uuid>,
    pub acknowledged_at: Option<DateTimeWithTimeZone>,
    pub notes: Option<String>,
}

/// Foreign keys of `analytics.alert_history`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The rule that fired.
    #[sea_orm(
        belongs_to = "super::alert_rules::Entity",
        from = "Column::AlertRuleId",
        to = "super::alert_rules::Column::Id",
        on_delete = "Cascade"
    )]
    AlertRule,
    /// The rule's workspace.
    #[sea_orm(
        belongs_to = "crate::public::workspaces::Entity",
        from = "Column::WorkspaceId",
        to = "crate::public::workspaces::Column::Id",
        on_delete = "Cascade"
    )]
    Workspace,
    /// The member who acknowledged it.
    #[sea_orm(
        belongs_to = "crate::public::users::Entity",
        from = "Column::AcknowledgedBy",
        to = "crate::public::users::Column::Id",
        on_delete = "SetNull"
    )]
    AcknowledgedBy,
}

impl Related<super::alert_rules::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AlertRule.def()
    }
}

impl Related<crate::public::workspaces::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Workspace.def()
    }
}

impl Related<crate::public::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AcknowledgedBy.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
