//! Completeness: every table, view and materialized view of the migrated
//! database has exactly one sea-orm entity (each domain module checks its own
//! entities' columns and types with `check_entity`).

use crate::common::{sqlx, TestDb};
use sea_orm::EntityName;

fn name<E: EntityName + Default>() -> String {
    let e = E::default();
    format!("{}.{}", e.schema_name().unwrap_or("public"), e.table_name())
}

/// Every entity of the `entity` crate, as `schema.relation`.
fn entities() -> Vec<String> {
    vec![
        name::<entity::auth::users::Entity>(),
        name::<entity::public::agent_runs::Entity>(),
        name::<entity::public::agents::Entity>(),
        name::<entity::public::users::Entity>(),
        name::<entity::public::workspace_members::Entity>(),
        name::<entity::public::workspaces::Entity>(),
        name::<entity::builder::analytics::Entity>(),
        name::<entity::builder::prompts::Entity>(),
        name::<entity::builder::responses::Entity>(),
        name::<entity::builder::sessions::Entity>(),
        name::<entity::builder::steps::Entity>(),
        name::<entity::lift::draft_validation_stats::Entity>(),
        name::<entity::lift::hole_resolutions::Entity>(),
        name::<entity::lift::recent_activity::Entity>(),
        name::<entity::lift::session_drafts::Entity>(),
        name::<entity::lift::session_revisions::Entity>(),
        name::<entity::lift::session_summary::Entity>(),
        name::<entity::lift::sessions::Entity>(),
        name::<entity::lift::user_analytics::Entity>(),
        name::<entity::analytics::agent_performance::Entity>(),
        name::<entity::analytics::alert_history::Entity>(),
        name::<entity::analytics::alert_rules::Entity>(),
        name::<entity::analytics::daily_metrics::Entity>(),
        name::<entity::analytics::hourly_metrics::Entity>(),
        name::<entity::analytics::mv_active_users::Entity>(),
        name::<entity::analytics::mv_top_agents::Entity>(),
        name::<entity::analytics::mv_workspace_summary::Entity>(),
        name::<entity::analytics::user_activity::Entity>(),
        name::<entity::analytics::user_cohorts::Entity>(),
        name::<entity::analytics::v_active_users::Entity>(),
        name::<entity::analytics::v_top_agents::Entity>(),
        name::<entity::analytics::v_workspace_summary::Entity>(),
        name::<entity::chat::api_user_summary::Entity>(),
        name::<entity::chat::chat_messages::Entity>(),
        name::<entity::chat::chat_sessions::Entity>(),
        name::<entity::chat::model_access::Entity>(),
        name::<entity::chat::profiles::Entity>(),
        name::<entity::chat::system_cache::Entity>(),
        name::<entity::chat::system_stats::Entity>(),
        name::<entity::chat::user_activity_log::Entity>(),
        name::<entity::chat::user_usage_daily::Entity>(),
        name::<entity::prompt_lab::prompt_answers::Entity>(),
        name::<entity::prompt_lab::prompt_templates::Entity>(),
        name::<entity::prompt_lab::prompts::Entity>(),
        name::<entity::prompt_lab::template_authors::Entity>(),
        name::<entity::prompt_lab::template_likes::Entity>(),
        name::<entity::prompt_lab::test_results::Entity>(),
        name::<entity::prompt_lab::user_favorites::Entity>(),
    ]
}

#[tokio::test]
async fn every_relation_has_an_entity_and_every_entity_a_relation() {
    let db = TestDb::new().await;
    let relations: Vec<String> = sqlx::query_scalar(
        "SELECT n.nspname || '.' || c.relname FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'v', 'm')
            AND n.nspname IN ('auth', 'public', 'builder', 'lift', 'analytics', 'chat', 'prompt_lab')
            AND c.relname <> 'seaql_migrations'
          ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let mut entities = entities();
    entities.sort();
    let before = entities.len();
    entities.dedup();
    assert_eq!(before, entities.len(), "two entities map the same relation");
    let missing: Vec<&String> = relations.iter().filter(|r| !entities.contains(r)).collect();
    let stale: Vec<&String> = entities.iter().filter(|e| !relations.contains(e)).collect();
    assert!(
        missing.is_empty(),
        "relations without an entity: {missing:?}"
    );
    assert!(stale.is_empty(), "entities without a relation: {stale:?}");
    assert_eq!(relations.len(), 48);
}
