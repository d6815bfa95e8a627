//! `chat.model_access`: which models a subscription tier may use (tiers are
//! cumulative: free < pro < enterprise).

use sea_orm::entity::prelude::*;

/// One (model, tier) entry with that tier's limits.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq, serde::Serialize, serde::Deserialize)]
#[sea_orm(schema_name = "chat", table_name = "model_access")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub model_id: String,
    pub model_name: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub model_description: Option<String>,
    /// `free`, `pro` or `enterprise`.
    pub tier: String,
    pub is_active: bool,
    /// Messages per day on this model for this tier; `None` is unlimited.
    pub daily_limit: Option<i32>,
    /// Messages per month on this model for this tier; `None` is unlimited.
    pub monthly_limit: Option<i32>,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
}

/// No foreign keys.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
