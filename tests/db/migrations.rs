//! Migrations: up, down, up again, `fresh`, idempotent `up`, and a second
//! database migrating in the same cluster.

use crate::common::{sqlx, TestDb};
use migration::{Migrator, MigratorTrait};
use sea_orm::Database;

/// Every schema the migrations own.
const SCHEMAS: [&str; 8] = [
    "analytics",
    "auth",
    "builder",
    "chat",
    "lift",
    "live",
    "prompt_lab",
    "public",
];

/// What the migrations created, counted from the catalog: relations by kind,
/// functions, triggers and policies, per schema.
async fn inventory(db: &TestDb) -> Vec<(String, String, i64)> {
    sqlx::query_as(
        "SELECT n.nspname::text, c.relkind::text, count(*)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = ANY($1) AND c.relname NOT LIKE 'seaql_migrations%'
            AND c.relkind IN ('r', 'v', 'm', 'i')
          GROUP BY 1, 2
         UNION ALL
         SELECT n.nspname::text, 'function', count(*)
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname = ANY($1)
            AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
          GROUP BY 1
         UNION ALL
         SELECT n.nspname::text, 'trigger', count(*)
           FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = ANY($1) AND NOT t.tgisinternal
          GROUP BY 1
         UNION ALL
         SELECT schemaname::text, 'policy', count(*) FROM pg_policies
          WHERE schemaname = ANY($1) GROUP BY 1
         ORDER BY 1, 2",
    )
    .bind(SCHEMAS.map(String::from).to_vec())
    .fetch_all(&db.pool)
    .await
    .expect("inventory")
}

/// Relations, functions, policies left in our schemas (the ledger excluded).
async fn leftovers(db: &TestDb) -> i64 {
    inventory(db).await.iter().map(|(_, _, n)| n).sum()
}

async fn schemas_present(db: &TestDb) -> Vec<String> {
    sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname = ANY($1) ORDER BY 1")
        .bind(SCHEMAS.map(String::from).to_vec())
        .fetch_all(&db.pool)
        .await
        .expect("schemas")
}

#[tokio::test]
async fn up_down_up_restores_the_same_objects() {
    let db = TestDb::new().await;
    let orm = db.orm().await;
    let migrated = inventory(&db).await;
    assert!(
        migrated
            .iter()
            .any(|(s, k, n)| s == "auth" && k == "r" && *n == 1),
        "auth.users exists: {migrated:?}"
    );
    assert_eq!(schemas_present(&db).await, SCHEMAS.to_vec());

    Migrator::down(&orm, None).await.expect("down");
    assert_eq!(
        leftovers(&db).await,
        0,
        "down leaves nothing: {:?}",
        inventory(&db).await
    );
    assert_eq!(schemas_present(&db).await, vec!["public".to_string()]);
    assert!(Migrator::get_applied_migrations(&orm)
        .await
        .unwrap()
        .is_empty());

    Migrator::up(&orm, None).await.expect("up again");
    assert_eq!(inventory(&db).await, migrated);
}

/// `gateway migrate` on a database with a pending migration: it needs the
/// database owner's URL and nothing else (no JWT secret), while `serve` on
/// the same URL refuses to start without one.
#[tokio::test]
async fn gateway_migrate_applies_what_is_pending_without_a_jwt_secret() {
    let db = TestDb::new().await;
    let orm = db.orm().await;
    Migrator::down(&orm, Some(1)).await.expect("down one");
    assert_eq!(
        Migrator::get_pending_migrations(&orm).await.unwrap().len(),
        1
    );
    let gateway = |command: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
            .arg(command)
            .env("DATABASE_URL", &db.url)
            .env_remove("JWT_SECRET")
            .env_remove("JWT_JWKS_FILE")
            .env("RUST_LOG", "warn")
            .env("RUST_BACKTRACE", "0")
            .output()
            .expect("run the gateway binary")
    };
    let migrated = gateway("migrate");
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    assert!(Migrator::get_pending_migrations(&orm)
        .await
        .unwrap()
        .is_empty());
    let refused = gateway("serve");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("set JWT_SECRET (or JWT_JWKS_FILE) when DATABASE_URL is set"),
        "{stderr}"
    );
}

#[tokio::test]
async fn up_twice_is_a_no_op() {
    let db = TestDb::new().await;
    let orm = db.orm().await;
    let before = inventory(&db).await;
    let applied = Migrator::get_applied_migrations(&orm).await.unwrap().len();
    assert_eq!(applied, Migrator::migrations().len());
    Migrator::up(&orm, None).await.expect("second up");
    assert_eq!(inventory(&db).await, before);
    assert!(Migrator::get_pending_migrations(&orm)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn fresh_rebuilds_everything_and_drops_data() {
    let db = TestDb::new().await;
    let orm = db.orm().await;
    let before = inventory(&db).await;
    db.create_user("fresh@example.com").await;
    Migrator::fresh(&orm).await.expect("fresh");
    assert_eq!(inventory(&db).await, before);
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM auth.users")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(users, 0, "fresh starts from an empty database");
}

#[tokio::test]
async fn a_second_database_in_the_same_cluster_migrates_from_scratch() {
    // The template was migrated in this cluster already, so the roles exist:
    // migrating an empty database must not trip over them.
    let db = TestDb::new().await;
    let name = format!("{}_second", db.name);
    let admin = db.url.replace(&format!("/{}", db.name), "/postgres");
    gateway::db::ensure_database(&admin, &name).await.unwrap();
    let url = db
        .url
        .replace(&format!("/{}", db.name), &format!("/{name}"));
    gateway::db::migrate(&url)
        .await
        .expect("migrate a second database");
    let second = Database::connect(&url).await.unwrap();
    assert!(Migrator::get_pending_migrations(&second)
        .await
        .unwrap()
        .is_empty());
    second.close().await.unwrap();
}

#[tokio::test]
async fn the_gateway_login_role_can_switch_to_each_role_but_holds_nothing_itself() {
    let db = TestDb::new().await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&db.url_as("gateway"))
        .await
        .expect("the gateway role logs in");
    // No privilege of its own on user data.
    let denied = sqlx::query("SELECT count(*) FROM auth.users")
        .fetch_one(&pool)
        .await;
    assert_eq!(crate::common::db_error(denied).code, "42501");
    for role in ["anon", "authenticated", "service_role"] {
        let mut tx = pool.begin().await.unwrap();
        let current: String = sqlx::query_scalar("SELECT set_config('role', $1, true)")
            .bind(role)
            .fetch_one(&mut *tx)
            .await
            .unwrap_or_else(|e| panic!("switch to {role}: {e}"));
        assert_eq!(current, role);
        tx.rollback().await.unwrap();
    }
    let superuser = sqlx::query("SET ROLE postgres").execute(&pool).await;
    assert_eq!(crate::common::db_error(superuser).code, "42501");
}

#[tokio::test]
async fn roles_have_the_documented_attributes() {
    let db = TestDb::new().await;
    let rows: Vec<(String, bool, bool, bool)> = sqlx::query_as(
        "SELECT rolname::text, rolcanlogin, rolbypassrls, rolsuper FROM pg_roles
          WHERE rolname IN ('anon', 'authenticated', 'service_role', 'gateway') ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            ("anon".into(), false, false, false),
            ("authenticated".into(), false, false, false),
            ("gateway".into(), true, false, false),
            ("service_role".into(), false, true, false),
        ]
    );
}

#[tokio::test]
async fn every_table_holding_data_has_row_level_security() {
    let db = TestDb::new().await;
    let without: Vec<String> = sqlx::query_scalar(
        "SELECT n.nspname || '.' || c.relname FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind = 'r' AND n.nspname = ANY($1) AND NOT c.relrowsecurity
            AND c.relname <> 'seaql_migrations'
            AND (n.nspname, c.relname) NOT IN (('auth', 'users'))
          ORDER BY 1",
    )
    .bind(SCHEMAS.map(String::from).to_vec())
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(without.is_empty(), "tables without RLS: {without:?}");
}

#[tokio::test]
async fn security_definer_functions_pin_their_search_path() {
    let db = TestDb::new().await;
    let unpinned: Vec<String> = sqlx::query_scalar(
        "SELECT n.nspname || '.' || p.proname FROM pg_proc p
           JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE p.prosecdef AND n.nspname = ANY($1)
            AND NOT EXISTS (SELECT 1 FROM unnest(coalesce(p.proconfig, '{}')) c
                             WHERE c LIKE 'search_path=%')
          ORDER BY 1",
    )
    .bind(SCHEMAS.map(String::from).to_vec())
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(
        unpinned.is_empty(),
        "SECURITY DEFINER without search_path: {unpinned:?}"
    );
}

#[tokio::test]
async fn no_function_is_executable_by_public() {
    let db = TestDb::new().await;
    let open: Vec<String> = sqlx::query_scalar(
        "SELECT n.nspname || '.' || p.proname FROM pg_proc p
           JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname = ANY($1)
            AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
            AND (p.proacl IS NULL OR EXISTS (
                  SELECT 1 FROM aclexplode(p.proacl) a
                   WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'))
            AND p.prorettype <> 'trigger'::regtype
          ORDER BY 1",
    )
    .bind(SCHEMAS.map(String::from).to_vec())
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(open.is_empty(), "functions executable by PUBLIC: {open:?}");
}
