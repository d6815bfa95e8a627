//! Entities of the `chat` schema (seed 003): profiles synced from `auth.users`,
//! the activity log, chat sessions and messages, daily usage, model access by
//! tier, the service cache and stats, and the `api_user_summary` view.

pub mod api_user_summary;
pub mod chat_messages;
pub mod chat_sessions;
pub mod model_access;
pub mod profiles;
pub mod system_cache;
pub mod system_stats;
pub mod user_activity_log;
pub mod user_usage_daily;
