//! Tests of the core: roles, `auth` functions, shared `public` tables.

use crate::common::{self, sqlx, TestDb};
use uuid::Uuid;

/// Workspace `name` owned by `owner`, created as that user (so the owner
/// trigger and the insert policy run as in production).
async fn workspace_as(db: &TestDb, owner: Uuid, name: &str) -> Uuid {
    // No RETURNING: see `workspace_creator_gets_the_row_back_with_returning`.
    let id = Uuid::new_v4();
    let mut tx = db.as_user(owner).await;
    sqlx::query("INSERT INTO public.workspaces (id, name, owner_id) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(name)
        .bind(owner)
        .execute(&mut *tx)
        .await
        .expect("create workspace");
    tx.commit().await.unwrap();
    id
}

async fn add_member(db: &TestDb, ws: Uuid, user: Uuid, role: &str) {
    sqlx::query(
        "INSERT INTO public.workspace_members (workspace_id, user_id, role) VALUES ($1, $2, $3)",
    )
    .bind(ws)
    .bind(user)
    .bind(role)
    .execute(&db.pool)
    .await
    .expect("add member");
}

async fn agent(db: &TestDb, ws: Uuid, name: &str) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO public.agents (workspace_id, name) VALUES ($1, $2) RETURNING id",
    )
    .bind(ws)
    .bind(name)
    .fetch_one(&db.pool)
    .await
    .expect("create agent")
}

async fn count(tx: &mut common::Tx, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&mut **tx)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// alice owns W1 (carol member, dave viewer), bob owns W2; one agent each.
struct Fixture {
    alice: Uuid,
    bob: Uuid,
    carol: Uuid,
    dave: Uuid,
    w1: Uuid,
    w2: Uuid,
    a1: Uuid,
    b1: Uuid,
}

async fn fixture(db: &TestDb) -> Fixture {
    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;
    let carol = db.create_user("carol@example.com").await;
    let dave = db.create_user("dave@example.com").await;
    let w1 = workspace_as(db, alice, "W1").await;
    let w2 = workspace_as(db, bob, "W2").await;
    add_member(db, w1, carol, "member").await;
    add_member(db, w1, dave, "viewer").await;
    let a1 = agent(db, w1, "A1").await;
    let b1 = agent(db, w2, "B1").await;
    Fixture {
        alice,
        bob,
        carol,
        dave,
        w1,
        w2,
        a1,
        b1,
    }
}

#[tokio::test]
async fn public_users_follow_auth_users_on_insert_and_update() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let (email, full_name): (String, Option<String>) =
        sqlx::query_as("SELECT email, full_name FROM public.users WHERE id = $1")
            .bind(alice)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(email, "alice@example.com");
    assert_eq!(full_name.as_deref(), Some("alice"));

    sqlx::query(
        "UPDATE auth.users SET email = 'alice@new.example', \
         raw_user_meta_data = '{\"avatar_url\": \"https://img/a.png\"}' WHERE id = $1",
    )
    .bind(alice)
    .execute(&db.pool)
    .await
    .unwrap();
    let (email, full_name, avatar): (String, Option<String>, Option<String>) =
        sqlx::query_as("SELECT email, full_name, avatar_url FROM public.users WHERE id = $1")
            .bind(alice)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(email, "alice@new.example");
    // Metadata without a name keeps the name already known.
    assert_eq!(full_name.as_deref(), Some("alice"));
    assert_eq!(avatar.as_deref(), Some("https://img/a.png"));

    // Deleting the identity removes the app row.
    sqlx::query("DELETE FROM auth.users WHERE id = $1")
        .bind(alice)
        .execute(&db.pool)
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM public.users WHERE id = $1")
        .bind(alice)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn users_see_themselves_and_workspace_mates_only() {
    let db = TestDb::new().await;
    let f = fixture(&db).await;
    let mut tx = db.as_user(f.carol).await;
    let seen: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM public.users ORDER BY email")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(seen, vec![f.alice, f.carol, f.dave]);
    drop(tx);

    // Updating someone else's row touches nothing; own row works.
    let mut tx = db.as_user(f.carol).await;
    let res = sqlx::query("UPDATE public.users SET full_name = 'x' WHERE id = $1")
        .bind(f.alice)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(res.rows_affected(), 0);
    let res = sqlx::query("UPDATE public.users SET full_name = 'Carol C' WHERE id = $1")
        .bind(f.carol)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(res.rows_affected(), 1);
    drop(tx);

    // email is not user-writable.
    let mut tx = db.as_user(f.carol).await;
    let e = common::db_error(
        sqlx::query("UPDATE public.users SET email = 'c@evil' WHERE id = $1")
            .bind(f.carol)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
}

#[tokio::test]
async fn creating_a_workspace_makes_the_creator_its_owner_member() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;
    let w = workspace_as(&db, alice, "W").await;
    let role: String = sqlx::query_scalar(
        "SELECT role FROM public.workspace_members WHERE workspace_id = $1 AND user_id = $2",
    )
    .bind(w)
    .bind(alice)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(role, "owner");
    let members: i64 =
        sqlx::query_scalar("SELECT count(*) FROM public.workspace_members WHERE workspace_id = $1")
            .bind(w)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(members, 1);

    // Creating a workspace in someone else's name is refused.
    let mut tx = db.as_user(alice).await;
    let e = common::db_error(
        sqlx::query("INSERT INTO public.workspaces (name, owner_id) VALUES ('X', $1)")
            .bind(bob)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);

    // Blank names violate the named CHECK.
    let mut tx = db.as_user(alice).await;
    let e = common::db_error(
        sqlx::query("INSERT INTO public.workspaces (name, owner_id) VALUES ('  ', $1)")
            .bind(alice)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::CHECK_VIOLATION);
    assert_eq!(e.constraint.as_deref(), Some("workspaces_name_not_blank"));
}

/// `INSERT ... RETURNING` (what sea-orm's insert does) also checks the new
/// row against the SELECT policy; the membership that policy looks for is only
/// added by the AFTER INSERT trigger, so the policy admits the owner too.
#[tokio::test]
async fn workspace_creator_gets_the_row_back_with_returning() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let mut tx = db.as_user(alice).await;
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO public.workspaces (name, owner_id) VALUES ('W', $1) RETURNING id",
    )
    .bind(alice)
    .fetch_one(&mut *tx)
    .await
    .expect("insert ... returning as the creator");
    tx.commit().await.unwrap();
    let owners: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM public.workspace_members WHERE workspace_id = $1 AND role = 'owner'",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(owners, 1);
}

#[tokio::test]
async fn workspace_rows_are_visible_to_members_only() {
    let db = TestDb::new().await;
    let f = fixture(&db).await;
    sqlx::query("INSERT INTO public.agent_runs (agent_id, workspace_id, user_id) VALUES ($1, $2, $3), ($4, $5, $6)")
        .bind(f.a1)
        .bind(f.w1)
        .bind(f.alice)
        .bind(f.b1)
        .bind(f.w2)
        .bind(f.bob)
        .execute(&db.pool)
        .await
        .unwrap();

    let tables = [
        "public.workspaces",
        "public.workspace_members",
        "public.agents",
        "public.agent_runs",
    ];
    // (viewer, [workspaces, members, agents, runs])
    for (user, expected) in [
        (f.alice, [1, 3, 1, 1]),
        (f.carol, [1, 3, 1, 1]),
        (f.dave, [1, 3, 1, 1]),
        (f.bob, [1, 1, 1, 1]),
    ] {
        let mut tx = db.as_user(user).await;
        for (t, want) in tables.iter().zip(expected) {
            assert_eq!(
                count(&mut tx, &format!("SELECT count(*) FROM {t}")).await,
                want,
                "{t}"
            );
        }
    }
    // bob sees nothing of W1.
    let mut tx = db.as_user(f.bob).await;
    let sql = format!(
        "SELECT count(*) FROM public.agent_runs WHERE workspace_id = '{}'",
        f.w1
    );
    assert_eq!(count(&mut tx, &sql).await, 0);
    drop(tx);

    let mut tx = db.as_service().await;
    for (t, want) in tables.iter().zip([2, 4, 2, 2]) {
        assert_eq!(
            count(&mut tx, &format!("SELECT count(*) FROM {t}")).await,
            want,
            "service {t}"
        );
    }
    drop(tx);

    for t in tables {
        let mut tx = db.as_anon().await;
        let e = common::db_error(
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {t}")))
                .execute(&mut *tx)
                .await,
        );
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "anon {t}");
    }
}

#[tokio::test]
async fn non_members_cannot_write_into_a_workspace() {
    let db = TestDb::new().await;
    let f = fixture(&db).await;

    // A member creates agents and runs in their own name.
    let mut tx = db.as_user(f.carol).await;
    let a: Uuid = sqlx::query_scalar(
        "INSERT INTO public.agents (workspace_id, name, created_by) VALUES ($1, 'mine', $2) RETURNING id",
    )
    .bind(f.w1)
    .bind(f.carol)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO public.agent_runs (agent_id, workspace_id, user_id) VALUES ($1, $2, $3)",
    )
    .bind(a)
    .bind(f.w1)
    .bind(f.carol)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    // ...but not a run in someone else's name.
    let mut tx = db.as_user(f.carol).await;
    let e = common::db_error(
        sqlx::query(
            "INSERT INTO public.agent_runs (agent_id, workspace_id, user_id) VALUES ($1, $2, $3)",
        )
        .bind(a)
        .bind(f.w1)
        .bind(f.alice)
        .execute(&mut *tx)
        .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);

    // A viewer cannot create agents.
    let mut tx = db.as_user(f.dave).await;
    let e = common::db_error(
        sqlx::query("INSERT INTO public.agents (workspace_id, name) VALUES ($1, 'v')")
            .bind(f.w1)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);

    // bob (non-member) can neither insert nor change nor delete W1 rows.
    let mut tx = db.as_user(f.bob).await;
    let e = common::db_error(
        sqlx::query("INSERT INTO public.agents (workspace_id, name) VALUES ($1, 'x')")
            .bind(f.w1)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    let mut tx = db.as_user(f.bob).await;
    let e = common::db_error(
        sqlx::query(
            "INSERT INTO public.agent_runs (agent_id, workspace_id, user_id) VALUES ($1, $2, $3)",
        )
        .bind(f.a1)
        .bind(f.w1)
        .bind(f.bob)
        .execute(&mut *tx)
        .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    let mut tx = db.as_user(f.bob).await;
    let e = common::db_error(
        sqlx::query("INSERT INTO public.workspace_members (workspace_id, user_id) VALUES ($1, $2)")
            .bind(f.w1)
            .bind(f.bob)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);

    let mut tx = db.as_user(f.bob).await;
    for sql in [
        "UPDATE public.agents SET name = 'hacked' WHERE workspace_id = $1",
        "DELETE FROM public.agents WHERE workspace_id = $1",
        "UPDATE public.agent_runs SET status = 'failed' WHERE workspace_id = $1",
        "DELETE FROM public.agent_runs WHERE workspace_id = $1",
        "UPDATE public.workspaces SET name = 'hacked' WHERE id = $1",
        "DELETE FROM public.workspaces WHERE id = $1",
        "DELETE FROM public.workspace_members WHERE workspace_id = $1",
    ] {
        let res = sqlx::query(sql).bind(f.w1).execute(&mut *tx).await.unwrap();
        assert_eq!(res.rows_affected(), 0, "{sql}");
    }
    drop(tx);
    let name: String = sqlx::query_scalar("SELECT name FROM public.agents WHERE id = $1")
        .bind(f.a1)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(name, "A1");
    let members: i64 =
        sqlx::query_scalar("SELECT count(*) FROM public.workspace_members WHERE workspace_id = $1")
            .bind(f.w1)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(members, 3);
}

#[tokio::test]
async fn a_run_must_be_in_its_agents_workspace() {
    let db = TestDb::new().await;
    let f = fixture(&db).await;
    let e = common::db_error(
        sqlx::query("INSERT INTO public.agent_runs (agent_id, workspace_id) VALUES ($1, $2)")
            .bind(f.a1)
            .bind(f.w2)
            .execute(&db.pool)
            .await,
    );
    assert_eq!(e.code, common::FOREIGN_KEY_VIOLATION);
    assert_eq!(e.constraint.as_deref(), Some("agent_runs_agent_fkey"));

    let e = common::db_error(
        sqlx::query("INSERT INTO public.agent_runs (agent_id, workspace_id, status) VALUES ($1, $2, 'done')")
            .bind(f.a1)
            .bind(f.w1)
            .execute(&db.pool)
            .await,
    );
    assert_eq!(e.code, common::CHECK_VIOLATION);
    assert_eq!(e.constraint.as_deref(), Some("agent_runs_status_check"));

    let e = common::db_error(
        sqlx::query("INSERT INTO public.workspace_members (workspace_id, user_id, role) VALUES ($1, $2, 'boss')")
            .bind(f.w2)
            .bind(f.alice)
            .execute(&db.pool)
            .await,
    );
    assert_eq!(e.code, common::CHECK_VIOLATION);
    assert_eq!(
        e.constraint.as_deref(),
        Some("workspace_members_role_check")
    );
}

#[tokio::test]
async fn auth_functions_read_the_request_claims() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;

    let mut tx = db.as_user(alice).await;
    let (uid, role, sub): (Option<Uuid>, Option<String>, Option<String>) =
        sqlx::query_as("SELECT auth.uid(), auth.role(), auth.jwt() ->> 'sub'")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(uid, Some(alice));
    assert_eq!(role.as_deref(), Some("authenticated"));
    assert_eq!(sub, Some(alice.to_string()));
    drop(tx);

    let mut tx = db.as_anon().await;
    let (uid, role, service): (Option<Uuid>, Option<String>, bool) =
        sqlx::query_as("SELECT auth.uid(), auth.role(), auth.is_service_role()")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(uid, None);
    assert_eq!(role.as_deref(), Some("anon"));
    assert!(!service);
    drop(tx);

    let mut tx = db.as_service().await;
    let service: bool = sqlx::query_scalar("SELECT auth.is_service_role()")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert!(service);
    drop(tx);

    // No claims at all: an empty object, no user.
    let (jwt, uid): (String, Option<Uuid>) = sqlx::query_as("SELECT auth.jwt()::text, auth.uid()")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(jwt, "{}");
    assert_eq!(uid, None);
}

#[tokio::test]
async fn require_user_and_require_service_role_refuse_others() {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;

    let mut tx = db.as_user(alice).await;
    sqlx::query("SELECT auth.require_user($1)")
        .bind(alice)
        .execute(&mut *tx)
        .await
        .expect("own id is allowed");
    drop(tx);

    for target in [Some(bob), None] {
        let mut tx = db.as_user(alice).await;
        let e = common::db_error(
            sqlx::query("SELECT auth.require_user($1)")
                .bind(target)
                .execute(&mut *tx)
                .await,
        );
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    }
    let mut tx = db.as_anon().await;
    let e = common::db_error(
        sqlx::query("SELECT auth.require_user($1)")
            .bind(alice)
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);

    let mut tx = db.as_service().await;
    sqlx::query("SELECT auth.require_user($1), auth.require_service_role()")
        .bind(bob)
        .execute(&mut *tx)
        .await
        .expect("service role acts for anyone");
    drop(tx);

    for mut tx in [db.as_user(alice).await, db.as_anon().await] {
        let e = common::db_error(
            sqlx::query("SELECT auth.require_service_role()")
                .execute(&mut *tx)
                .await,
        );
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    }
}

#[tokio::test]
async fn core_entities_match_their_tables() {
    let db = TestDb::new().await;
    let f = fixture(&db).await;
    sqlx::query(
        "INSERT INTO public.agent_runs (agent_id, workspace_id, user_id, status, runtime_seconds, user_rating) \
         VALUES ($1, $2, $3, 'completed', 1.5, 4.5)",
    )
    .bind(f.a1)
    .bind(f.w1)
    .bind(f.alice)
    .execute(&db.pool)
    .await
    .unwrap();
    let _ = (f.bob, f.b1);
    common::check_entity::<entity::auth::users::Entity>(&db).await;
    common::check_entity::<entity::public::users::Entity>(&db).await;
    common::check_entity::<entity::public::workspaces::Entity>(&db).await;
    common::check_entity::<entity::public::workspace_members::Entity>(&db).await;
    common::check_entity::<entity::public::agents::Entity>(&db).await;
    common::check_entity::<entity::public::agent_runs::Entity>(&db).await;

    // Relations resolve through the entities.
    use sea_orm::{EntityTrait, ModelTrait};
    let orm = db.orm().await;
    let ws = entity::public::workspaces::Entity::find_by_id(f.w1)
        .one(&orm)
        .await
        .unwrap()
        .expect("W1");
    let members = ws
        .find_related(entity::public::workspace_members::Entity)
        .all(&orm)
        .await
        .unwrap();
    assert_eq!(members.len(), 3);
    let runs = ws
        .find_related(entity::public::agent_runs::Entity)
        .all(&orm)
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
}

/// `role` of `user` in `ws`, if a member.
async fn role_of(db: &TestDb, ws: Uuid, user: Uuid) -> Option<String> {
    sqlx::query_scalar(
        "SELECT role FROM public.workspace_members WHERE workspace_id = $1 AND user_id = $2",
    )
    .bind(ws)
    .bind(user)
    .fetch_optional(&db.pool)
    .await
    .unwrap()
}

/// Runs `sql` (binding `ws` and `user`) as `actor` and commits.
async fn member_write(
    db: &TestDb,
    actor: Uuid,
    sql: &'static str,
    ws: Uuid,
    user: Uuid,
) -> Result<(), sqlx::Error> {
    let mut tx = db.as_user(actor).await;
    sqlx::query(sql)
        .bind(ws)
        .bind(user)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

const DEMOTE: &str =
    "UPDATE public.workspace_members SET role = 'admin' WHERE workspace_id = $1 AND user_id = $2";
const PROMOTE: &str =
    "UPDATE public.workspace_members SET role = 'owner' WHERE workspace_id = $1 AND user_id = $2";
const REMOVE: &str =
    "DELETE FROM public.workspace_members WHERE workspace_id = $1 AND user_id = $2";
const ADD_OWNER: &str =
    "INSERT INTO public.workspace_members (workspace_id, user_id, role) VALUES ($1, $2, 'owner')";

/// 0008_workspace_owners: only owners grant, revoke or remove ownership,
/// and a workspace keeps an owner; refusals are `GW403` with a message.
#[tokio::test]
async fn only_owners_manage_ownership_and_a_workspace_keeps_an_owner() {
    let db = TestDb::new().await;
    let f = fixture(&db).await;
    add_member(&db, f.w1, f.bob, "admin").await;

    // An admin can neither demote nor remove the owner, promote anyone, nor
    // add an owner.
    for (sql, target) in [
        (DEMOTE, f.alice),
        (REMOVE, f.alice),
        (PROMOTE, f.carol),
        (PROMOTE, f.bob),
    ] {
        let e = common::db_error(member_write(&db, f.bob, sql, f.w1, target).await);
        assert_eq!(e.code, "GW403", "{sql}: {}", e.message);
        assert!(e.message.contains("only an owner"), "{}", e.message);
    }
    let newcomer = db.create_user("erin@example.com").await;
    let e = common::db_error(member_write(&db, f.bob, ADD_OWNER, f.w1, newcomer).await);
    assert_eq!(e.code, "GW403");
    // Admins still manage the other roles.
    member_write(&db, f.bob, "UPDATE public.workspace_members SET role = 'admin' WHERE workspace_id = $1 AND user_id = $2", f.w1, f.carol)
        .await
        .expect("admin promotes a member to admin");

    // The only owner can neither step down nor leave.
    for sql in [DEMOTE, REMOVE] {
        let e = common::db_error(member_write(&db, f.alice, sql, f.w1, f.alice).await);
        assert_eq!(e.code, "GW403");
        assert!(e.message.contains("at least one owner"), "{}", e.message);
    }
    assert_eq!(role_of(&db, f.w1, f.alice).await.as_deref(), Some("owner"));

    // With a second owner, either may step down or leave.
    member_write(&db, f.alice, PROMOTE, f.w1, f.bob)
        .await
        .unwrap();
    member_write(&db, f.alice, DEMOTE, f.w1, f.alice)
        .await
        .unwrap();
    assert_eq!(role_of(&db, f.w1, f.alice).await.as_deref(), Some("admin"));
    // Bob, now the only owner, is protected from the admin alice.
    let e = common::db_error(member_write(&db, f.alice, REMOVE, f.w1, f.bob).await);
    assert_eq!(e.code, "GW403");

    // The service role is trusted: it may leave a workspace ownerless.
    let mut tx = db.as_service().await;
    sqlx::query(DEMOTE)
        .bind(f.w2)
        .bind(f.bob)
        .execute(&mut *tx)
        .await
        .expect("service role demotes");
    tx.rollback().await.unwrap();

    // Deleting the workspace takes the owners' memberships with it, and so
    // does deleting the last owner's account.
    let mut tx = db.as_user(f.bob).await;
    sqlx::query("DELETE FROM public.workspaces WHERE id = $1")
        .bind(f.w2)
        .execute(&mut *tx)
        .await
        .expect("the owner deletes the workspace");
    tx.commit().await.unwrap();
    assert_eq!(role_of(&db, f.w2, f.bob).await, None);
    sqlx::query("DELETE FROM auth.users WHERE id = $1")
        .bind(f.bob)
        .execute(&db.pool)
        .await
        .expect("the last owner's account is deleted");
    assert_eq!(role_of(&db, f.w1, f.bob).await, None);
}

/// Two owners demoting each other at the same moment: one wins, the other
/// is refused once the first commits; the workspace keeps an owner.
#[tokio::test]
async fn concurrent_demotions_leave_an_owner() {
    let db = TestDb::new().await;
    let f = fixture(&db).await;
    add_member(&db, f.w1, f.bob, "owner").await;

    let mut first = db.as_user(f.alice).await;
    sqlx::query(DEMOTE)
        .bind(f.w1)
        .bind(f.bob)
        .execute(&mut *first)
        .await
        .expect("alice demotes bob");
    // Bob's demotion of alice waits for alice's transaction (the owners are
    // locked), then sees bob is no longer an owner.
    let second = tokio::spawn({
        let db_pool = db.pool.clone();
        let (w1, alice, bob) = (f.w1, f.alice, f.bob);
        async move {
            let mut tx = db_pool.begin().await.unwrap();
            sqlx::query(
                "SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)",
            )
            .bind(serde_json::json!({ "sub": bob, "role": "authenticated" }).to_string())
            .execute(&mut *tx)
            .await
            .unwrap();
            let result = sqlx::query(DEMOTE)
                .bind(w1)
                .bind(alice)
                .execute(&mut *tx)
                .await;
            let _ = tx.rollback().await;
            result
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !second.is_finished(),
        "bob's demotion must wait for alice's"
    );
    first.commit().await.unwrap();
    let e = common::db_error(second.await.unwrap());
    assert_eq!(e.code, "GW403", "{}", e.message);
    assert_eq!(role_of(&db, f.w1, f.alice).await.as_deref(), Some("owner"));
    assert_eq!(role_of(&db, f.w1, f.bob).await.as_deref(), Some("admin"));
}

/// The membership helpers of the policies keep their plans for the session
/// (PL/pgSQL, migration 0011): a kept plan must still answer for the claims
/// of the moment, not those it was first run with. One transaction switches
/// viewers many times (past the plan cache's switch to a generic plan).
#[tokio::test]
async fn membership_helpers_answer_for_the_current_claims_on_one_connection() {
    let db = TestDb::new().await;
    let f = fixture(&db).await;
    let outsider = db.create_user("outsider@example.com").await;
    let mut tx = db.pool.begin().await.unwrap();
    sqlx::query("SET LOCAL ROLE authenticated")
        .execute(&mut *tx)
        .await
        .unwrap();
    for round in 0..8 {
        for (who, member, owner, mate) in [
            (f.alice, true, true, true),
            (f.carol, true, false, true),
            (outsider, false, false, false),
            (f.bob, false, false, false),
        ] {
            let claims = serde_json::json!({ "sub": who, "role": "authenticated" }).to_string();
            let answer: (bool, bool, bool) = sqlx::query_as(
                "SELECT set_config('request.jwt.claims', $1, true) IS NOT NULL
                    AND public.is_workspace_member($2),
                        public.has_workspace_role($2, ARRAY['owner']),
                        public.shares_workspace_with($3)",
            )
            .bind(&claims)
            .bind(f.w1)
            .bind(f.dave)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
            assert_eq!(answer, (member, owner, mate), "round {round}, viewer {who}");
        }
    }
    tx.rollback().await.unwrap();

    let languages: Vec<String> = sqlx::query_scalar(
        "SELECT l.lanname::text FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
          WHERE p.oid IN ('public.is_workspace_member(uuid)'::regprocedure,
                          'public.has_workspace_role(uuid, text[])'::regprocedure,
                          'public.shares_workspace_with(uuid)'::regprocedure)",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(languages, vec!["plpgsql"; 3], "plans kept per session");
}
