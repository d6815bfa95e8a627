//! Entities of the `analytics` schema (seed 002: workspace analytics).
//!
//! Tables are isolated by workspace membership (RLS). The `mv_*` materialized
//! views are readable by the service role only; members read them through the
//! filtering `v_*` views.

pub mod agent_performance;
pub mod alert_history;
pub mod alert_rules;
pub mod daily_metrics;
pub mod hourly_metrics;
pub mod mv_active_users;
pub mod mv_top_agents;
pub mod mv_workspace_summary;
pub mod user_activity;
pub mod user_cohorts;
pub mod v_active_users;
pub mod v_top_agents;
pub mod v_workspace_summary;
