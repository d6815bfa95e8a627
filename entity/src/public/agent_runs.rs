//! `public.agent_runs`: one execution of an agent, the raw input of analytics.

use sea_orm::entity::prelude::*;

/// One agent run. Its `workspace_id` is always its agent's workspace (composite FK
/// `agent_runs_agent_fkey` on `(agent_id, workspace_id)`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "public", table_name = "agent_runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub agent_id: Uuid,
    pub workspace_id: Uuid,
    pub user_id: Option<Uuid>,
    pub status: String,
    pub started_at: DateTimeWithTimeZone,
    pub completed_at: Option<DateTimeWithTimeZone>,
    pub runtime_seconds: Option<Decimal>,
    pub credits_consumed: Decimal,
    pub tokens_used: i32,
    pub model: Option<String>,
    pub error_type: Option<String>,
    pub error_message: Option<String>,
    pub user_rating: Option<Decimal>,
    pub feedback: Option<String>,
    pub metadata: Json,
    pub created_at: DateTimeWithTimeZone,
}

/// Foreign keys of `public.agent_runs`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The agent run (the database also pins the workspace through the
    /// composite key; joining on `agent_id` alone is enough since it is the PK).
    #[sea_orm(
        belongs_to = "super::agents::Entity",
        from = "Column::AgentId",
        to = "super::agents::Column::Id",
        on_delete = "Cascade"
    )]
    Agent,
    /// The workspace of the run.
    #[sea_orm(
        belongs_to = "super::workspaces::Entity",
        from = "Column::WorkspaceId",
        to = "super::workspaces::Column::Id",
        on_delete = "Cascade"
    )]
    Workspace,
    /// The user who started the run (set NULL when deleted).
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id",
        on_delete = "SetNull"
    )]
    User,
}

impl Related<super::agents::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Agent.def()
    }
}

impl Related<super::workspaces::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Workspace.def()
    }
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
