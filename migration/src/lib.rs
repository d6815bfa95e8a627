//! sea-orm migrations for the whole database: one migration per domain, each a
//! pair of plain SQL files under `migration/sql/` run in order.
//!
//! | migration | seed | schema |
//! | --- | --- | --- |
//! | `0001_core` | (DESIGN.md) | roles, `auth`, shared `public` tables |
//! | `0002_builder` | 000 | `builder` |
//! | `0003_lift` | 001 | `lift` |
//! | `0004_analytics` | 002 | `analytics` |
//! | `0005_chat` | 003 | `chat` |
//! | `0006_prompt_lab` | 004 | `prompt_lab` |
//! | `0007_live` | (DESIGN.md) | `live`: NOTIFY triggers on the other schemas' tables |
//! | `0008_workspace_owners` | (DESIGN.md) | `public`: a workspace keeps an owner; only owners grant ownership |
//! | `0009_nested_page_indexes` | (API) | indexes for nested pages |
//! | `0010_live_reads` | (live) | `live.alert_history_as`: batched reads as each viewer |
//! | `0011_plan_cached_checks` | (speed) | the policies' membership helpers keep their plans |

pub use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseExecutor;

/// A migration whose `up` and `down` are SQL scripts embedded at build time.
///
/// Scripts are sent as one simple-protocol batch, so they may hold many
/// statements, `DO` blocks and function bodies.
pub struct SqlMigration {
    name: &'static str,
    up: &'static str,
    down: &'static str,
}

impl MigrationName for SqlMigration {
    fn name(&self) -> &str {
        self.name
    }
}

#[async_trait::async_trait]
impl MigrationTrait for SqlMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared(self.up).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(self.down)
            .await?;
        Ok(())
    }
}

macro_rules! sql_migration {
    ($name:literal, $dir:literal) => {
        Box::new(SqlMigration {
            name: $name,
            up: include_str!(concat!("../sql/", $dir, "/up.sql")),
            down: include_str!(concat!("../sql/", $dir, "/down.sql")),
        })
    };
}

/// All migrations, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            sql_migration!("m20261122_000001_core", "0001_core"),
            sql_migration!("m20261122_000002_builder", "0002_builder"),
            sql_migration!("m20261122_000003_lift", "0003_lift"),
            sql_migration!("m20261122_000004_analytics", "0004_analytics"),
            sql_migration!("m20261122_000005_chat", "0005_chat"),
            sql_migration!("m20261122_000006_prompt_lab", "0006_prompt_lab"),
            sql_migration!("m20261122_000007_live", "0007_live"),
            sql_migration!("m20261130_000008_workspace_owners", "0008_workspace_owners"),
            sql_migration!(
                "m20261130_000009_nested_page_indexes",
                "0009_nested_page_indexes"
            ),
            sql_migration!("m20261130_000010_live_reads", "0010_live_reads"),
            sql_migration!(
                "m20261130_000011_plan_cached_checks",
                "0011_plan_cached_checks"
            ),
        ]
    }

    /// Drops everything every migration creates, then applies them all.
    ///
    /// sea-orm's own `fresh` drops only the tables of the current schema and
    /// would leave the domain schemas, functions and roles' grants behind.
    /// Every `down.sql` is idempotent (`IF EXISTS`), so all of them run,
    /// newest first, whatever the ledger says.
    async fn fresh<'c, C>(db: C) -> Result<(), DbErr>
    where
        C: IntoSchemaManagerConnection<'c>,
    {
        match db.into_database_executor() {
            DatabaseExecutor::Connection(conn) => teardown_then_up(conn).await,
            DatabaseExecutor::Transaction(txn) => teardown_then_up(txn).await,
            _ => Err(DbErr::Migration(
                "fresh needs a connection or a borrowed transaction".to_owned(),
            )),
        }
    }
}

/// Runs every `down.sql`, newest first, drops the ledger, then migrates up.
async fn teardown_then_up<'c, C>(conn: C) -> Result<(), DbErr>
where
    C: IntoSchemaManagerConnection<'c> + Copy,
{
    let manager = SchemaManager::new(conn);
    for migration in Migrator::migrations().iter().rev() {
        migration.down(&manager).await?;
    }
    manager
        .get_connection()
        .execute_unprepared("DROP TABLE IF EXISTS public.seaql_migrations")
        .await?;
    Migrator::up(conn, None).await
}
