//! Tests of the `prompt_lab` schema: triggers, functions (with hand-computed
//! answers), row level security of every table, grants on counters, the
//! template_authors exposure, constraints, and the entities.

use crate::common::{self, sqlx, TestDb, Tx};
use rust_decimal::Decimal;
use uuid::Uuid;

// ---------------------------------------------------------------------------
// Fixtures (as the superuser, which bypasses RLS)
// ---------------------------------------------------------------------------

async fn new_prompt(db: &TestDb, owner: Uuid, title: &str, goal: &str, public: bool) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO prompt_lab.prompts (user_id, title, goal, template, is_public)
         VALUES ($1, $2, $3, 'Say {{x}}', $4) RETURNING id",
    )
    .bind(owner)
    .bind(title)
    .bind(goal)
    .bind(public)
    .fetch_one(&db.pool)
    .await
    .expect("insert prompt")
}

/// A template with given counters; `id` fixes the ranking tiebreak.
async fn new_template(
    db: &TestDb,
    id: Option<Uuid>,
    prompt: Uuid,
    owner: Uuid,
    category: Option<&str>,
    likes: i32,
    uses: i32,
) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO prompt_lab.prompt_templates (id, prompt_id, user_id, category, likes_count, uses_count)
         VALUES (coalesce($1, gen_random_uuid()), $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(id)
    .bind(prompt)
    .bind(owner)
    .bind(category)
    .bind(likes)
    .bind(uses)
    .fetch_one(&db.pool)
    .await
    .expect("insert template")
}

async fn new_answer(db: &TestDb, prompt: Uuid, question: &str) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO prompt_lab.prompt_answers (prompt_id, question_id, question_text, answer)
         VALUES ($1, $2, $2 || '?', 'yes') RETURNING id",
    )
    .bind(prompt)
    .bind(question)
    .fetch_one(&db.pool)
    .await
    .expect("insert answer")
}

async fn new_test_result(db: &TestDb, prompt: Uuid, user: Uuid) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO prompt_lab.test_results
           (prompt_id, user_id, model, temperature, variable_values, resolved_prompt, result, tokens_used, response_time_ms)
         VALUES ($1, $2, 'gpt-4o', 0.70, '{\"x\": \"hi\"}', 'Say hi', 'hi', 12, 340) RETURNING id",
    )
    .bind(prompt)
    .bind(user)
    .fetch_one(&db.pool)
    .await
    .expect("insert test result")
}

async fn likes_of(db: &TestDb, template: Uuid) -> (i32, i32) {
    sqlx::query_as("SELECT likes_count, uses_count FROM prompt_lab.prompt_templates WHERE id = $1")
        .bind(template)
        .fetch_one(&db.pool)
        .await
        .expect("read counters")
}

/// Rows of `sql` (one uuid parameter) visible in `tx`.
async fn count(tx: &mut Tx, sql: &'static str, id: Uuid) -> i64 {
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(&mut **tx)
        .await
        .expect("count")
}

/// Rows changed by `sql` (one uuid parameter) in `tx`.
async fn affected(tx: &mut Tx, sql: &'static str, id: Uuid) -> u64 {
    sqlx::query(sql)
        .bind(id)
        .execute(&mut **tx)
        .await
        .expect("statement")
        .rows_affected()
}

/// Runs `sql` (one uuid parameter) in a fresh transaction of `tx` and returns
/// the error it must raise.
async fn fails(mut tx: Tx, sql: &'static str, id: Uuid) -> common::DbError {
    common::db_error(sqlx::query(sql).bind(id).execute(&mut *tx).await)
}

/// A small world: alice owns a public and a private prompt, each with an
/// answer, a test result and a template; bob owns one private prompt with a
/// template.
struct World {
    db: TestDb,
    alice: Uuid,
    bob: Uuid,
    a_pub: Uuid,
    a_priv: Uuid,
    b_priv: Uuid,
    t_pub: Uuid,
    t_priv: Uuid,
    t_bob: Uuid,
}

async fn world() -> World {
    let db = TestDb::new().await;
    let alice = db.create_user("alice@example.com").await;
    let bob = db.create_user("bob@example.com").await;
    let a_pub = new_prompt(&db, alice, "Alice public", "share it", true).await;
    let a_priv = new_prompt(&db, alice, "Alice private", "keep it", false).await;
    let b_priv = new_prompt(&db, bob, "Bob private", "bob's own", false).await;
    for p in [a_pub, a_priv] {
        new_answer(&db, p, "q1").await;
        new_test_result(&db, p, alice).await;
    }
    let t_pub = new_template(&db, None, a_pub, alice, Some("writing"), 0, 0).await;
    let t_priv = new_template(&db, None, a_priv, alice, None, 0, 0).await;
    let t_bob = new_template(&db, None, b_priv, bob, None, 0, 0).await;
    World {
        db,
        alice,
        bob,
        a_pub,
        a_priv,
        b_priv,
        t_pub,
        t_priv,
        t_bob,
    }
}

// ---------------------------------------------------------------------------
// Triggers
// ---------------------------------------------------------------------------

#[tokio::test]
async fn updated_at_moves_on_content_edits_only() {
    let w = world().await;
    let old = "2020-01-01T00:00:00Z";
    sqlx::query("UPDATE prompt_lab.prompts SET created_at = $1::timestamptz, updated_at = $1::timestamptz WHERE id = $2")
        .bind(old)
        .bind(w.a_pub)
        .execute(&w.db.pool)
        .await
        .unwrap();
    // The trigger overrides any updated_at written above, so backdate it
    // with triggers disabled for this session.
    let mut conn = w.db.pool.acquire().await.unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .unwrap();
    for sql in [
        "UPDATE prompt_lab.prompts SET updated_at = '2020-01-01T00:00:00Z' WHERE id = $1",
        "UPDATE prompt_lab.prompt_templates SET updated_at = '2020-01-01T00:00:00Z' WHERE prompt_id = $1",
    ] {
        sqlx::query(sql).bind(w.a_pub).execute(&mut *conn).await.unwrap();
    }
    sqlx::query("SET session_replication_role = origin")
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);

    let mut tx = w.db.as_user(w.alice).await;
    assert_eq!(
        affected(
            &mut tx,
            "UPDATE prompt_lab.prompts SET title = 'Renamed' WHERE id = $1",
            w.a_pub
        )
        .await,
        1
    );
    let (created, moved): (bool, bool) = sqlx::query_as(
        "SELECT created_at = '2020-01-01T00:00:00Z', updated_at > '2020-01-01T00:00:00Z'
         FROM prompt_lab.prompts WHERE id = $1",
    )
    .bind(w.a_pub)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert!(created && moved, "created_at kept, updated_at moved");

    // A like changes the counter but not updated_at.
    let likes: i32 = sqlx::query_scalar("SELECT prompt_lab.increment_likes_count($1)")
        .bind(w.t_pub)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(likes, 1);
    let stale: bool = sqlx::query_scalar(
        "SELECT updated_at = '2020-01-01T00:00:00Z' FROM prompt_lab.prompt_templates WHERE id = $1",
    )
    .bind(w.t_pub)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert!(stale, "a like must not touch updated_at");
    // Editing the category does.
    assert_eq!(
        affected(
            &mut tx,
            "UPDATE prompt_lab.prompt_templates SET category = 'poetry' WHERE id = $1",
            w.t_pub
        )
        .await,
        1
    );
    let moved: bool = sqlx::query_scalar(
        "SELECT updated_at > '2020-01-01T00:00:00Z' FROM prompt_lab.prompt_templates WHERE id = $1",
    )
    .bind(w.t_pub)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert!(moved, "a category edit moves updated_at");
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn likes_count_follows_template_likes_rows() {
    let w = world().await;
    let carol = w.db.create_user("carol@example.com").await;
    for user in [w.alice, w.bob, carol] {
        let mut tx = w.db.as_user(user).await;
        sqlx::query("INSERT INTO prompt_lab.template_likes (template_id) VALUES ($1)")
            .bind(w.t_pub)
            .execute(&mut *tx)
            .await
            .expect("like by insert");
        tx.commit().await.unwrap();
    }
    assert_eq!(likes_of(&w.db, w.t_pub).await, (3, 0));

    // Once per user: a second row is a unique violation on the key.
    let tx = w.db.as_user(w.bob).await;
    let e = fails(
        tx,
        "INSERT INTO prompt_lab.template_likes (template_id) VALUES ($1)",
        w.t_pub,
    )
    .await;
    assert_eq!(e.code, common::UNIQUE_VIOLATION);
    assert_eq!(e.constraint.as_deref(), Some("template_likes_pkey"));
    assert_eq!(likes_of(&w.db, w.t_pub).await, (3, 0));

    // Delete: -1.
    let mut tx = w.db.as_user(w.bob).await;
    assert_eq!(
        affected(
            &mut tx,
            "DELETE FROM prompt_lab.template_likes WHERE template_id = $1",
            w.t_pub
        )
        .await,
        1
    );
    tx.commit().await.unwrap();
    assert_eq!(likes_of(&w.db, w.t_pub).await, (2, 0));

    // A deleted user's like goes with them (cascade), and so does the count.
    sqlx::query("DELETE FROM auth.users WHERE id = $1")
        .bind(carol)
        .execute(&w.db.pool)
        .await
        .unwrap();
    assert_eq!(likes_of(&w.db, w.t_pub).await, (1, 0));

    // A like row cannot be moved to another template (that would skip the
    // counters), not even by the service role.
    let tx = w.db.as_service().await;
    let e = fails(
        tx,
        "UPDATE prompt_lab.template_likes SET template_id = $1 WHERE template_id <> $1",
        w.t_priv,
    )
    .await;
    assert_eq!(e.code, "0A000", "{e:?}");

    // Deleting the template with its likes works (the trigger finds no row).
    sqlx::query("DELETE FROM prompt_lab.prompts WHERE id = $1")
        .bind(w.a_pub)
        .execute(&w.db.pool)
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM prompt_lab.template_likes")
        .fetch_one(&w.db.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn deleting_a_prompt_cascades_to_its_children() {
    let w = world().await;
    sqlx::query("INSERT INTO prompt_lab.user_favorites (user_id, template_id) VALUES ($1, $2)")
        .bind(w.bob)
        .bind(w.t_pub)
        .execute(&w.db.pool)
        .await
        .unwrap();
    let mut tx = w.db.as_user(w.alice).await;
    assert_eq!(
        affected(
            &mut tx,
            "DELETE FROM prompt_lab.prompts WHERE id = $1",
            w.a_pub
        )
        .await,
        1
    );
    tx.commit().await.unwrap();
    let left: (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM prompt_lab.prompt_answers WHERE prompt_id = $1),
                (SELECT count(*) FROM prompt_lab.test_results WHERE prompt_id = $1),
                (SELECT count(*) FROM prompt_lab.prompt_templates WHERE prompt_id = $1),
                (SELECT count(*) FROM prompt_lab.user_favorites WHERE template_id = $2)",
    )
    .bind(w.a_pub)
    .bind(w.t_pub)
    .fetch_one(&w.db.pool)
    .await
    .unwrap();
    assert_eq!(left, (0, 0, 0, 0));
    // Alice's other prompt is untouched.
    let kept: i64 =
        sqlx::query_scalar("SELECT count(*) FROM prompt_lab.prompt_answers WHERE prompt_id = $1")
            .bind(w.a_priv)
            .fetch_one(&w.db.pool)
            .await
            .unwrap();
    assert_eq!(kept, 1);
}

// ---------------------------------------------------------------------------
// Functions
// ---------------------------------------------------------------------------

#[tokio::test]
async fn increment_likes_count_likes_once_as_the_viewer_and_decrement_unlikes() {
    let w = world().await;
    let like = "SELECT prompt_lab.increment_likes_count($1)";
    let unlike = "SELECT prompt_lab.decrement_likes_count($1)";
    let mut tx = w.db.as_user(w.bob).await;
    for expected in [1, 1, 1] {
        let n: i32 = sqlx::query_scalar(like)
            .bind(w.t_pub)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(n, expected, "liking again changes nothing");
    }
    tx.commit().await.unwrap();
    let mut tx = w.db.as_user(w.alice).await;
    let n: i32 = sqlx::query_scalar(like)
        .bind(w.t_pub)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 2);
    tx.commit().await.unwrap();
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM prompt_lab.template_likes WHERE template_id = $1")
            .bind(w.t_pub)
            .fetch_one(&w.db.pool)
            .await
            .unwrap();
    assert_eq!(rows, 2);

    let mut tx = w.db.as_user(w.bob).await;
    for expected in [1, 1] {
        let n: i32 = sqlx::query_scalar(unlike)
            .bind(w.t_pub)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(n, expected, "unliking twice removes one like");
    }
    tx.commit().await.unwrap();
    assert_eq!(likes_of(&w.db, w.t_pub).await, (1, 0));

    // A template the viewer cannot see (alice's unpublished one) or that does
    // not exist: not found, nothing counted.
    for id in [w.t_priv, Uuid::new_v4()] {
        let tx = w.db.as_user(w.bob).await;
        let e = fails(tx, like, id).await;
        assert_eq!(e.code, "P0002", "{e:?}");
        // Unliking what one cannot see only removes one's own like, if any.
        let mut tx = w.db.as_user(w.bob).await;
        let n: Option<i32> = sqlx::query_scalar(unlike)
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(n, None);
    }
    assert_eq!(likes_of(&w.db, w.t_priv).await, (0, 0));

    // Anonymous visitors may not call it; the service role has no viewer id.
    let e = fails(w.db.as_anon().await, like, w.t_pub).await;
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    let e = fails(w.db.as_service().await, like, w.t_pub).await;
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);

    // Nobody forges the counter directly.
    let e = fails(
        w.db.as_user(w.alice).await,
        "UPDATE prompt_lab.prompt_templates SET likes_count = 1000 WHERE id = $1",
        w.t_pub,
    )
    .await;
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    let e = fails(
        w.db.as_user(w.alice).await,
        "INSERT INTO prompt_lab.prompt_templates (prompt_id, likes_count) VALUES ($1, 1000)",
        w.a_priv,
    )
    .await;
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
}

#[tokio::test]
async fn increment_uses_count_counts_visible_templates_only() {
    let w = world().await;
    let uses = "SELECT prompt_lab.increment_uses_count($1)";
    let mut tx = w.db.as_user(w.bob).await;
    for expected in [1, 2] {
        let n: i32 = sqlx::query_scalar(uses)
            .bind(w.t_pub)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(n, expected);
    }
    tx.commit().await.unwrap();
    assert_eq!(likes_of(&w.db, w.t_pub).await, (0, 2));

    // Bob cannot see alice's unpublished template: refused, unchanged.
    let e = fails(w.db.as_user(w.bob).await, uses, w.t_priv).await;
    assert_eq!(e.code, "P0002", "{e:?}");
    assert_eq!(likes_of(&w.db, w.t_priv).await, (0, 0));
    // Alice uses her own unpublished template.
    let mut tx = w.db.as_user(w.alice).await;
    let n: i32 = sqlx::query_scalar(uses)
        .bind(w.t_priv)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 1);
    tx.commit().await.unwrap();
    // The service role may count any template.
    let mut tx = w.db.as_service().await;
    let n: i32 = sqlx::query_scalar(uses)
        .bind(w.t_bob)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 1);
    tx.commit().await.unwrap();
    // Anonymous: no EXECUTE.
    let e = fails(w.db.as_anon().await, uses, w.t_pub).await;
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    // Authenticated role without a user id: refused by the function.
    let tx =
        w.db.as_role(
            "authenticated",
            serde_json::json!({"role": "authenticated"}),
        )
        .await;
    let e = fails(tx, uses, w.t_pub).await;
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    // Direct writes of the counter are refused.
    let e = fails(
        w.db.as_user(w.alice).await,
        "UPDATE prompt_lab.prompt_templates SET uses_count = uses_count + 1 WHERE id = $1",
        w.t_pub,
    )
    .await;
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    assert_eq!(likes_of(&w.db, w.t_pub).await, (0, 2));
}

/// Templates with known counters for the ranking tests, ids fixed so the id
/// tiebreak is known: returns (t1, t2, t3, t4, t5_private).
async fn ranking_world(w: &World) -> [Uuid; 5] {
    let id = |n: u128| Uuid::from_u128(n);
    let p = |title: &'static str, public: bool, owner: Uuid| {
        let db = &w.db;
        async move { new_prompt(db, owner, title, "a goal", public).await }
    };
    // Drop the world's templates so only these rank.
    sqlx::query("DELETE FROM prompt_lab.prompt_templates")
        .execute(&w.db.pool)
        .await
        .unwrap();
    let p1 = p("T1", true, w.alice).await;
    let p2 = p("T2", true, w.bob).await;
    let p3 = p("T3", true, w.alice).await;
    let p4 = p("T4", true, w.bob).await;
    let p5 = p("T5", false, w.alice).await;
    let t1 = new_template(&w.db, Some(id(0x30)), p1, w.alice, Some("writing"), 5, 1).await;
    let t2 = new_template(&w.db, Some(id(0x20)), p2, w.bob, Some("coding"), 5, 3).await;
    let t3 = new_template(&w.db, Some(id(0x10)), p3, w.alice, None, 2, 10).await;
    let t4 = new_template(&w.db, Some(id(0x40)), p4, w.bob, Some("writing"), 5, 3).await;
    let t5 = new_template(&w.db, Some(id(0x50)), p5, w.alice, Some("writing"), 100, 0).await;
    [t1, t2, t3, t4, t5]
}

async fn popular(
    tx: &mut Tx,
    limit: Option<i32>,
    category: Option<&str>,
) -> Vec<(Uuid, String, Option<String>, i32, i32)> {
    sqlx::query_as(
        "SELECT id, title::text, category::text, likes_count, uses_count
         FROM prompt_lab.get_popular_templates($1, $2)",
    )
    .bind(limit)
    .bind(category)
    .fetch_all(&mut **tx)
    .await
    .expect("get_popular_templates")
}

#[tokio::test]
async fn get_popular_templates_ranks_likes_then_uses_then_id() {
    let w = world().await;
    let [t1, t2, t3, t4, t5] = ranking_world(&w).await;
    let ids = |rows: Vec<(Uuid, String, Option<String>, i32, i32)>| -> Vec<Uuid> {
        rows.into_iter().map(|r| r.0).collect()
    };

    // Bob: t2 and t4 tie on (5, 3), id 0x20 < 0x40; then t1 (5, 1); then t3
    // (2, 10) although it has no category; alice's private t5 is invisible.
    let mut tx = w.db.as_user(w.bob).await;
    let rows = popular(&mut tx, None, None).await;
    assert_eq!(
        rows[0],
        (t2, "T2".to_string(), Some("coding".to_string()), 5, 3)
    );
    assert_eq!(ids(rows), vec![t2, t4, t1, t3]);
    assert_eq!(
        ids(popular(&mut tx, Some(10), Some("writing")).await),
        vec![t4, t1]
    );
    assert_eq!(
        ids(popular(&mut tx, Some(10), Some("  ")).await),
        vec![t2, t4, t1, t3]
    );
    assert_eq!(ids(popular(&mut tx, Some(2), None).await), vec![t2, t4]);
    assert_eq!(
        ids(popular(&mut tx, Some(-5), None).await),
        Vec::<Uuid>::new()
    );
    assert!(popular(&mut tx, Some(10), Some("nothing")).await.is_empty());
    tx.commit().await.unwrap();

    // Alice also sees her own unpublished t5 (100 likes) first.
    let mut tx = w.db.as_user(w.alice).await;
    assert_eq!(
        ids(popular(&mut tx, None, None).await),
        vec![t5, t2, t4, t1, t3]
    );
    assert_eq!(
        ids(popular(&mut tx, None, Some("writing")).await),
        vec![t5, t4, t1]
    );
    tx.commit().await.unwrap();

    // Anonymous visitors see the published ones.
    let mut tx = w.db.as_anon().await;
    assert_eq!(
        ids(popular(&mut tx, None, None).await),
        vec![t2, t4, t1, t3]
    );
    tx.commit().await.unwrap();

    // The limit is capped at 100.
    let owner = w.alice;
    for i in 0..105 {
        let title = format!("bulk {i}");
        let p = new_prompt(&w.db, owner, &title, "bulk", true).await;
        new_template(&w.db, None, p, owner, Some("bulk"), 0, 0).await;
    }
    let mut tx = w.db.as_anon().await;
    assert_eq!(popular(&mut tx, Some(1000), None).await.len(), 100);
    assert_eq!(popular(&mut tx, None, Some("bulk")).await.len(), 10);
    tx.commit().await.unwrap();
}

async fn search(tx: &mut Tx, query: &str, category: Option<&str>) -> Vec<String> {
    sqlx::query_scalar("SELECT title::text FROM prompt_lab.search_templates($1, $2, 50)")
        .bind(query)
        .bind(category)
        .fetch_all(&mut **tx)
        .await
        .expect("search_templates")
}

#[tokio::test]
async fn search_templates_treats_the_query_as_data() {
    let w = world().await;
    sqlx::query("DELETE FROM prompt_lab.prompt_templates")
        .execute(&w.db.pool)
        .await
        .unwrap();
    // (title, goal, category, likes): likes fix the order of the results.
    let rows: [(&str, &str, Option<&str>, i32); 8] = [
        ("100% pure", "plain", Some("writing"), 8),
        ("100 percent", "plain", Some("writing"), 7),
        ("snake_case names", "naming", Some("coding"), 6),
        ("snakeXcase names", "naming", Some("coding"), 5),
        ("back\\slash", "escapes", None, 4),
        ("it's quoted", "quotes", None, 3),
        ("Poems", "Write HAIKU poems", Some("writing"), 2),
        ("Secret recipe", "haiku too", Some("writing"), 1),
    ];
    for (title, goal, category, likes) in rows {
        let public = title != "Secret recipe";
        let p = new_prompt(&w.db, w.alice, title, goal, public).await;
        new_template(&w.db, None, p, w.alice, category, likes, 0).await;
    }

    let mut tx = w.db.as_user(w.bob).await;
    assert_eq!(search(&mut tx, "%", None).await, vec!["100% pure"]);
    assert_eq!(search(&mut tx, "_", None).await, vec!["snake_case names"]);
    assert_eq!(search(&mut tx, "e_c", None).await, vec!["snake_case names"]);
    assert_eq!(search(&mut tx, "\\", None).await, vec!["back\\slash"]);
    assert_eq!(search(&mut tx, "it's", None).await, vec!["it's quoted"]);
    assert_eq!(
        search(&mut tx, "x') OR true --", None).await,
        Vec::<String>::new()
    );
    // Case-insensitive, on title or goal; bob does not find alice's private one.
    assert_eq!(search(&mut tx, "haiku", None).await, vec!["Poems"]);
    assert_eq!(
        search(&mut tx, "NAMES", Some("coding")).await,
        vec!["snake_case names", "snakeXcase names"]
    );
    assert_eq!(
        search(&mut tx, "100", None).await,
        vec!["100% pure", "100 percent"]
    );
    assert_eq!(
        search(&mut tx, "100", Some("coding")).await,
        Vec::<String>::new()
    );
    // No text: every visible template (category NULL included), by likes.
    assert_eq!(search(&mut tx, "", None).await.len(), 7);
    assert_eq!(
        search(&mut tx, "  ", Some("writing")).await,
        vec!["100% pure", "100 percent", "Poems"]
    );
    tx.commit().await.unwrap();

    // The owner finds her private template; anon does not.
    let mut tx = w.db.as_user(w.alice).await;
    assert_eq!(
        search(&mut tx, "haiku", None).await,
        vec!["Poems", "Secret recipe"]
    );
    tx.commit().await.unwrap();
    let mut tx = w.db.as_anon().await;
    assert_eq!(search(&mut tx, "haiku", None).await, vec!["Poems"]);
    let full: (Uuid, Uuid, String, Vec<String>, i32) = sqlx::query_as(
        "SELECT prompt_id, user_id, template, tags, likes_count FROM prompt_lab.search_templates('pure')",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(
        (full.1, full.2.as_str(), full.3.len(), full.4),
        (w.alice, "Say {{x}}", 0, 8)
    );
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn create_prompt_with_answers_is_all_or_nothing() {
    let w = world().await;
    let create = "SELECT id FROM prompt_lab.create_prompt_with_answers($1, 'a goal', 'Say {{x}}', '[\"x\"]', true, $2)";
    let mut tx = w.db.as_user(w.bob).await;
    let id: Uuid = sqlx::query_scalar(create)
        .bind("From object")
        .bind(serde_json::json!({"audience": "kids", "tone": "warm"}))
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let id2: Uuid = sqlx::query_scalar(create)
        .bind("From array")
        .bind(serde_json::json!([
            {"question_id": "audience", "question_text": "Who reads it?", "answer": "adults"}
        ]))
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let owner: Uuid = sqlx::query_scalar("SELECT user_id FROM prompt_lab.prompts WHERE id = $1")
        .bind(id)
        .fetch_one(&w.db.pool)
        .await
        .unwrap();
    assert_eq!(owner, w.bob);
    let answers: Vec<(Uuid, String, String, String)> = sqlx::query_as(
        "SELECT prompt_id, question_id::text, question_text, answer FROM prompt_lab.prompt_answers
         WHERE prompt_id IN ($1, $2) ORDER BY prompt_id = $2, question_id",
    )
    .bind(id)
    .bind(id2)
    .fetch_all(&w.db.pool)
    .await
    .unwrap();
    let expected = vec![
        (
            id,
            "audience".to_string(),
            "audience".to_string(),
            "kids".to_string(),
        ),
        (
            id,
            "tone".to_string(),
            "tone".to_string(),
            "warm".to_string(),
        ),
        (
            id2,
            "audience".to_string(),
            "Who reads it?".to_string(),
            "adults".to_string(),
        ),
    ];
    assert_eq!(answers, expected);

    let prompts_of_bob = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM prompt_lab.prompts WHERE user_id = $1")
            .bind(w.bob)
            .fetch_one(&w.db.pool)
            .await
            .unwrap()
    };
    assert_eq!(prompts_of_bob().await, 3);

    // The second of three answers has no answer text: nothing is kept.
    let mut tx = w.db.as_user(w.bob).await;
    let e = common::db_error(
        sqlx::query(create)
            .bind("Bad middle")
            .bind(serde_json::json!([
                {"question_id": "a", "answer": "1"},
                {"question_id": "b"},
                {"question_id": "c", "answer": "3"}
            ]))
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.code, common::NOT_NULL_VIOLATION, "{e:?}");
    assert!(e.message.contains("answer"), "{e:?}");
    drop(tx);
    // Same with a duplicate question id and with a blank one.
    for (bad, constraint) in [
        (
            serde_json::json!([{"question_id": "a", "answer": "1"}, {"question_id": "a", "answer": "2"}]),
            "prompt_answers_prompt_id_question_id_key",
        ),
        (
            serde_json::json!([{"question_id": "a", "answer": "1"}, {"question_id": " ", "answer": "2"}]),
            "prompt_answers_question_id_check",
        ),
    ] {
        let mut tx = w.db.as_user(w.bob).await;
        let e = common::db_error(
            sqlx::query(create)
                .bind("Bad")
                .bind(bad)
                .execute(&mut *tx)
                .await,
        );
        assert_eq!(e.constraint.as_deref(), Some(constraint), "{e:?}");
    }
    // Non-string answer, non-object element, scalar answers: bad input.
    for bad in [
        serde_json::json!({"a": 1}),
        serde_json::json!(["a"]),
        serde_json::json!("a"),
    ] {
        let mut tx = w.db.as_user(w.bob).await;
        let e = common::db_error(
            sqlx::query(create)
                .bind("Bad")
                .bind(bad)
                .execute(&mut *tx)
                .await,
        );
        assert_eq!(e.code, "22023", "{e:?}");
    }
    // Blank title.
    let mut tx = w.db.as_user(w.bob).await;
    let e = common::db_error(
        sqlx::query(create)
            .bind(" ")
            .bind(serde_json::json!({}))
            .execute(&mut *tx)
            .await,
    );
    assert_eq!(e.constraint.as_deref(), Some("prompts_title_check"));
    drop(tx);
    assert_eq!(prompts_of_bob().await, 3, "no failed call left a prompt");
    let orphans: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM prompt_lab.prompt_answers a JOIN prompt_lab.prompts p ON p.id = a.prompt_id
         WHERE p.user_id = $1",
    )
    .bind(w.bob)
    .fetch_one(&w.db.pool)
    .await
    .unwrap();
    assert_eq!(orphans, 3);

    // No viewer id: refused (anon lacks EXECUTE; service role has no sub).
    for tx in [w.db.as_anon().await, w.db.as_service().await] {
        let mut tx = tx;
        let e = common::db_error(
            sqlx::query(create)
                .bind("Nobody's")
                .bind(serde_json::json!({}))
                .execute(&mut *tx)
                .await,
        );
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "{e:?}");
    }
}

// ---------------------------------------------------------------------------
// Row level security
// ---------------------------------------------------------------------------

#[tokio::test]
async fn prompts_are_isolated_by_owner_and_public_flag() {
    let w = world().await;
    let mut tx = w.db.as_user(w.bob).await;
    let sel = "SELECT count(*) FROM prompt_lab.prompts WHERE id = $1";
    assert_eq!(
        count(&mut tx, sel, w.a_priv).await,
        0,
        "private prompt of another user"
    );
    assert_eq!(count(&mut tx, sel, w.a_pub).await, 1, "public prompt");
    assert_eq!(count(&mut tx, sel, w.b_priv).await, 1, "own prompt");
    for id in [w.a_priv, w.a_pub] {
        assert_eq!(
            affected(
                &mut tx,
                "UPDATE prompt_lab.prompts SET title = 'hacked' WHERE id = $1",
                id
            )
            .await,
            0
        );
        assert_eq!(
            affected(&mut tx, "DELETE FROM prompt_lab.prompts WHERE id = $1", id).await,
            0
        );
    }
    assert_eq!(
        affected(
            &mut tx,
            "UPDATE prompt_lab.prompts SET title = 'mine' WHERE id = $1",
            w.b_priv
        )
        .await,
        1
    );
    tx.commit().await.unwrap();

    let e = fails(
        w.db.as_user(w.bob).await,
        "INSERT INTO prompt_lab.prompts (user_id, title, goal, template) VALUES ($1, 't', 'g', 'x')",
        w.alice,
    )
    .await;
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    // Ownership cannot be handed over.
    let e = fails(
        w.db.as_user(w.bob).await,
        "UPDATE prompt_lab.prompts SET user_id = $1",
        w.alice,
    )
    .await;
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    // Publishing a prompt makes it visible; the default owner is the viewer.
    let mut tx = w.db.as_user(w.bob).await;
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO prompt_lab.prompts (title, goal, template) VALUES ('new', 'g', 'x') RETURNING user_id",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(id, w.bob);
    tx.commit().await.unwrap();

    let mut tx = w.db.as_anon().await;
    let titles: Vec<String> =
        sqlx::query_scalar("SELECT title::text FROM prompt_lab.prompts ORDER BY title")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    assert_eq!(titles, vec!["Alice public"]);
    drop(tx);
    let e = fails(
        w.db.as_anon().await,
        "INSERT INTO prompt_lab.prompts (user_id, title, goal, template) VALUES ($1, 't', 'g', 'x')",
        w.alice,
    )
    .await;
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);

    let mut tx = w.db.as_service().await;
    let all: i64 = sqlx::query_scalar("SELECT count(*) FROM prompt_lab.prompts")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(all, 4);
}

#[tokio::test]
async fn prompt_answers_follow_their_prompt() {
    let w = world().await;
    let b_answer = new_answer(&w.db, w.b_priv, "q1").await;
    let by_prompt = "SELECT count(*) FROM prompt_lab.prompt_answers WHERE prompt_id = $1";
    let mut tx = w.db.as_user(w.bob).await;
    assert_eq!(count(&mut tx, by_prompt, w.a_priv).await, 0);
    assert_eq!(
        count(&mut tx, by_prompt, w.a_pub).await,
        1,
        "answers of a public prompt are public"
    );
    for sql in [
        "UPDATE prompt_lab.prompt_answers SET answer = 'hacked' WHERE prompt_id = $1",
        "DELETE FROM prompt_lab.prompt_answers WHERE prompt_id = $1",
    ] {
        for id in [w.a_pub, w.a_priv] {
            assert_eq!(affected(&mut tx, sql, id).await, 0, "{sql}");
        }
    }
    assert_eq!(
        affected(
            &mut tx,
            "UPDATE prompt_lab.prompt_answers SET answer = 'no' WHERE id = $1",
            b_answer
        )
        .await,
        1
    );
    tx.commit().await.unwrap();
    // No answer under someone else's prompt, public or not.
    for id in [w.a_pub, w.a_priv] {
        let e = fails(
            w.db.as_user(w.bob).await,
            "INSERT INTO prompt_lab.prompt_answers (prompt_id, question_id, question_text, answer) VALUES ($1, 'zz', 'zz', 'zz')",
            id,
        )
        .await;
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    }
    // The prompt of an answer is fixed.
    let e = fails(
        w.db.as_user(w.bob).await,
        "UPDATE prompt_lab.prompt_answers SET prompt_id = $1",
        w.b_priv,
    )
    .await;
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);

    let mut tx = w.db.as_anon().await;
    assert_eq!(count(&mut tx, by_prompt, w.a_pub).await, 1);
    assert_eq!(count(&mut tx, by_prompt, w.a_priv).await, 0);
    assert_eq!(count(&mut tx, by_prompt, w.b_priv).await, 0);
    drop(tx);
    let mut tx = w.db.as_service().await;
    let all: i64 = sqlx::query_scalar("SELECT count(*) FROM prompt_lab.prompt_answers")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(all, 3);
}

#[tokio::test]
async fn test_results_are_the_testers_own() {
    let w = world().await;
    let by_prompt = "SELECT count(*) FROM prompt_lab.test_results WHERE prompt_id = $1";
    let insert = "INSERT INTO prompt_lab.test_results (prompt_id, model, temperature, variable_values, resolved_prompt)
                  VALUES ($1, 'gpt-4o', 1.5, '{}', 'x')";
    let mut tx = w.db.as_user(w.bob).await;
    // Alice's results, even on her public prompt, are hers.
    assert_eq!(count(&mut tx, by_prompt, w.a_pub).await, 0);
    assert_eq!(count(&mut tx, by_prompt, w.a_priv).await, 0);
    for sql in [
        "UPDATE prompt_lab.test_results SET result = 'hacked' WHERE prompt_id = $1",
        "DELETE FROM prompt_lab.test_results WHERE prompt_id = $1",
    ] {
        assert_eq!(affected(&mut tx, sql, w.a_pub).await, 0, "{sql}");
    }
    // Bob may test a public prompt, and then sees his own result only.
    assert_eq!(affected(&mut tx, insert, w.a_pub).await, 1);
    assert_eq!(count(&mut tx, by_prompt, w.a_pub).await, 1);
    let temperature: Decimal =
        sqlx::query_scalar("SELECT temperature FROM prompt_lab.test_results WHERE prompt_id = $1")
            .bind(w.a_pub)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(temperature, Decimal::new(150, 2));
    assert_eq!(
        affected(&mut tx, "UPDATE prompt_lab.test_results SET result = 'done', tokens_used = 5 WHERE prompt_id = $1", w.a_pub).await,
        1
    );
    tx.commit().await.unwrap();
    // Not a private prompt of someone else, nor as someone else.
    let e = fails(w.db.as_user(w.bob).await, insert, w.a_priv).await;
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    let e = fails(
        w.db.as_user(w.bob).await,
        "INSERT INTO prompt_lab.test_results (prompt_id, user_id, model, temperature, variable_values, resolved_prompt)
         SELECT $1, user_id, 'm', 1, '{}', 'x' FROM prompt_lab.prompts WHERE id = $1",
        w.a_pub,
    )
    .await;
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    // Anonymous visitors have no access at all.
    let e = fails(w.db.as_anon().await, by_prompt, w.a_pub).await;
    assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);

    // Unpublishing the prompt hides bob's result on it from bob too.
    sqlx::query("UPDATE prompt_lab.prompts SET is_public = false WHERE id = $1")
        .bind(w.a_pub)
        .execute(&w.db.pool)
        .await
        .unwrap();
    let mut tx = w.db.as_user(w.bob).await;
    assert_eq!(count(&mut tx, by_prompt, w.a_pub).await, 0);
    drop(tx);
    let mut tx = w.db.as_service().await;
    let all: i64 = sqlx::query_scalar("SELECT count(*) FROM prompt_lab.test_results")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(all, 3);
}

#[tokio::test]
async fn prompt_templates_are_visible_when_published_and_written_by_the_author() {
    let w = world().await;
    let sel = "SELECT count(*) FROM prompt_lab.prompt_templates WHERE id = $1";
    let mut tx = w.db.as_user(w.bob).await;
    assert_eq!(count(&mut tx, sel, w.t_pub).await, 1);
    assert_eq!(count(&mut tx, sel, w.t_priv).await, 0);
    assert_eq!(
        count(&mut tx, sel, w.t_bob).await,
        1,
        "own unpublished template"
    );
    for id in [w.t_pub, w.t_priv] {
        assert_eq!(
            affected(
                &mut tx,
                "UPDATE prompt_lab.prompt_templates SET category = 'x' WHERE id = $1",
                id
            )
            .await,
            0
        );
        assert_eq!(
            affected(
                &mut tx,
                "DELETE FROM prompt_lab.prompt_templates WHERE id = $1",
                id
            )
            .await,
            0
        );
    }
    tx.commit().await.unwrap();
    // Bob cannot make a template of alice's prompt, public or not.
    for id in [w.a_pub, w.a_priv] {
        let e = fails(
            w.db.as_user(w.bob).await,
            "INSERT INTO prompt_lab.prompt_templates (prompt_id, category) VALUES ($1, 'stolen')",
            id,
        )
        .await;
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE);
    }
    // Not even the service role may attribute a template to someone other
    // than the prompt's owner.
    let e = fails(
        w.db.as_service().await,
        "INSERT INTO prompt_lab.prompt_templates (prompt_id, user_id)
         SELECT id, (SELECT id FROM public.users WHERE email = 'bob@example.com') FROM prompt_lab.prompts WHERE id = $1",
        w.a_pub,
    )
    .await;
    assert_eq!(
        e.code,
        common::UNIQUE_VIOLATION,
        "one template per prompt comes first: {e:?}"
    );
    let e = fails(
        w.db.as_service().await,
        "WITH p AS (INSERT INTO prompt_lab.prompts (user_id, title, goal, template)
                    VALUES ($1, 'fresh', 'g', 'x') RETURNING id)
         INSERT INTO prompt_lab.prompt_templates (prompt_id, user_id)
         SELECT id, (SELECT id FROM public.users WHERE email = 'bob@example.com') FROM p",
        w.alice,
    )
    .await;
    assert_eq!(e.code, common::FOREIGN_KEY_VIOLATION, "{e:?}");
    assert_eq!(
        e.constraint.as_deref(),
        Some("prompt_templates_prompt_id_fkey")
    );

    // Publishing flips visibility for everyone.
    let mut tx = w.db.as_anon().await;
    assert_eq!(count(&mut tx, sel, w.t_pub).await, 1);
    assert_eq!(count(&mut tx, sel, w.t_bob).await, 0);
    drop(tx);
    let mut tx = w.db.as_user(w.bob).await;
    assert_eq!(
        affected(
            &mut tx,
            "UPDATE prompt_lab.prompts SET is_public = true WHERE id = $1",
            w.b_priv
        )
        .await,
        1
    );
    tx.commit().await.unwrap();
    let mut tx = w.db.as_anon().await;
    assert_eq!(count(&mut tx, sel, w.t_bob).await, 1);
    drop(tx);
    let mut tx = w.db.as_service().await;
    let all: i64 = sqlx::query_scalar("SELECT count(*) FROM prompt_lab.prompt_templates")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(all, 3);
}

#[tokio::test]
async fn favorites_and_likes_are_own_rows_of_visible_templates() {
    let w = world().await;
    for table in ["user_favorites", "template_likes"] {
        // Alice keeps both of her templates; the likes count stays correct.
        for t in [w.t_pub, w.t_priv] {
            let sql = format!("INSERT INTO prompt_lab.{table} (template_id) VALUES ($1)");
            let mut tx = w.db.as_user(w.alice).await;
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(t)
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        let mut tx = w.db.as_user(w.bob).await;
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM prompt_lab.{table}"
        )))
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert_eq!(n, 0, "{table}: bob sees none of alice's rows");
        let del = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM prompt_lab.{table} WHERE user_id = $1"
        )))
        .bind(w.alice)
        .execute(&mut *tx)
        .await
        .unwrap();
        assert_eq!(
            del.rows_affected(),
            0,
            "{table}: bob deletes none of alice's rows"
        );
        // As someone else, or of an invisible template: refused.
        let e = common::db_error(
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO prompt_lab.{table} (user_id, template_id) VALUES ($1, $2)"
            )))
            .bind(w.alice)
            .bind(w.t_bob)
            .execute(&mut *tx)
            .await,
        );
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "{table}");
        drop(tx);
        let mut tx = w.db.as_user(w.bob).await;
        let e = common::db_error(
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO prompt_lab.{table} (template_id) VALUES ($1)"
            )))
            .bind(w.t_priv)
            .execute(&mut *tx)
            .await,
        );
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "{table}");
        drop(tx);
        // Of a published template: fine, and bob sees exactly his row.
        let mut tx = w.db.as_user(w.bob).await;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO prompt_lab.{table} (template_id) VALUES ($1)"
        )))
        .bind(w.t_pub)
        .execute(&mut *tx)
        .await
        .unwrap();
        let mine: Vec<(Uuid, Uuid)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT user_id, template_id FROM prompt_lab.{table}"
        )))
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        assert_eq!(mine, vec![(w.bob, w.t_pub)], "{table}");
        tx.commit().await.unwrap();

        // Anonymous visitors: no access.
        let mut tx = w.db.as_anon().await;
        let e = common::db_error(
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM prompt_lab.{table}"
            )))
            .execute(&mut *tx)
            .await,
        );
        assert_eq!(e.code, common::INSUFFICIENT_PRIVILEGE, "{table}");
        drop(tx);
        // Service role: all three rows.
        let mut tx = w.db.as_service().await;
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM prompt_lab.{table}"
        )))
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert_eq!(n, 3, "{table}");
        drop(tx);
    }
    assert_eq!(likes_of(&w.db, w.t_pub).await, (2, 0));
    assert_eq!(likes_of(&w.db, w.t_priv).await, (1, 0));

    // After alice unpublishes, bob no longer sees the template but still
    // sees and can withdraw his own like; the count follows.
    sqlx::query("UPDATE prompt_lab.prompts SET is_public = false WHERE id = $1")
        .bind(w.a_pub)
        .execute(&w.db.pool)
        .await
        .unwrap();
    let mut tx = w.db.as_user(w.bob).await;
    assert_eq!(
        count(
            &mut tx,
            "SELECT count(*) FROM prompt_lab.prompt_templates WHERE id = $1",
            w.t_pub
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &mut tx,
            "SELECT count(*) FROM prompt_lab.template_likes WHERE template_id = $1",
            w.t_pub
        )
        .await,
        1
    );
    let n: Option<i32> = sqlx::query_scalar("SELECT prompt_lab.decrement_likes_count($1)")
        .bind(w.t_pub)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(
        n, None,
        "the count of a template bob cannot see is not shown to him"
    );
    assert_eq!(
        affected(
            &mut tx,
            "DELETE FROM prompt_lab.user_favorites WHERE template_id = $1",
            w.t_pub
        )
        .await,
        1
    );
    tx.commit().await.unwrap();
    assert_eq!(likes_of(&w.db, w.t_pub).await, (1, 0));
}

#[tokio::test]
async fn template_authors_exposes_published_authors_without_email() {
    let w = world().await;
    let _carol = w.db.create_user("carol@example.com").await;
    // Only alice has a published template (bob's is private, carol has none).
    for tx in [w.db.as_anon().await, w.db.as_user(w.bob).await] {
        let mut tx = tx;
        let rows: Vec<(Uuid, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT id, full_name::text, avatar_url FROM prompt_lab.template_authors",
        )
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        assert_eq!(rows, vec![(w.alice, Some("alice".to_string()), None)]);
    }
    // public.users itself stays closed to anon and to strangers.
    let mut tx = w.db.as_user(w.bob).await;
    assert_eq!(
        count(
            &mut tx,
            "SELECT count(*) FROM public.users WHERE id = $1",
            w.alice
        )
        .await,
        0
    );
    drop(tx);
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns
         WHERE table_schema = 'prompt_lab' AND table_name = 'template_authors' ORDER BY ordinal_position",
    )
    .fetch_all(&w.db.pool)
    .await
    .unwrap();
    assert_eq!(columns, vec!["id", "full_name", "avatar_url"]);
    // Unpublishing removes the author card.
    sqlx::query("UPDATE prompt_lab.prompts SET is_public = false WHERE id = $1")
        .bind(w.a_pub)
        .execute(&w.db.pool)
        .await
        .unwrap();
    let mut tx = w.db.as_anon().await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM prompt_lab.template_authors")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

// ---------------------------------------------------------------------------
// Constraints
// ---------------------------------------------------------------------------

#[tokio::test]
async fn bad_input_names_the_violated_constraint() {
    let w = world().await;
    let tr = |cols: &str| {
        format!(
            "INSERT INTO prompt_lab.test_results (prompt_id, model, temperature, variable_values, resolved_prompt, tokens_used, response_time_ms)
             VALUES ($1, {cols})"
        )
    };
    let cases: Vec<(String, Uuid, &str, &str)> = vec![
        (tr("'m', 2.01, '{}', 'x', 1, 1"), w.a_pub, common::CHECK_VIOLATION, "test_results_temperature_check"),
        (tr("'m', -0.01, '{}', 'x', 1, 1"), w.a_pub, common::CHECK_VIOLATION, "test_results_temperature_check"),
        (tr("'m', 1, '{}', 'x', -1, 1"), w.a_pub, common::CHECK_VIOLATION, "test_results_tokens_used_check"),
        (tr("'m', 1, '{}', 'x', 1, -1"), w.a_pub, common::CHECK_VIOLATION, "test_results_response_time_ms_check"),
        (tr("' ', 1, '{}', 'x', 1, 1"), w.a_pub, common::CHECK_VIOLATION, "test_results_model_check"),
        (tr("'m', 1, '[]', 'x', 1, 1"), w.a_pub, common::CHECK_VIOLATION, "test_results_variable_values_check"),
        (
            "INSERT INTO prompt_lab.prompts (title, goal, template) VALUES ('  ', 'g', 't') RETURNING $1::uuid".into(),
            w.alice,
            common::CHECK_VIOLATION,
            "prompts_title_check",
        ),
        (
            "INSERT INTO prompt_lab.prompts (title, goal, template, variables) VALUES ('t', 'g', 't', '{}') RETURNING $1::uuid".into(),
            w.alice,
            common::CHECK_VIOLATION,
            "prompts_variables_check",
        ),
        (
            "UPDATE prompt_lab.prompt_templates SET category = '' WHERE id = $1".into(),
            w.t_pub,
            common::CHECK_VIOLATION,
            "prompt_templates_category_check",
        ),
        (
            "UPDATE prompt_lab.prompt_templates SET tags = ARRAY['a', NULL] WHERE id = $1".into(),
            w.t_pub,
            common::CHECK_VIOLATION,
            "prompt_templates_tags_check",
        ),
        (
            "INSERT INTO prompt_lab.prompt_templates (prompt_id) VALUES ($1)".into(),
            w.a_pub,
            common::UNIQUE_VIOLATION,
            "prompt_templates_prompt_id_key",
        ),
        (
            "INSERT INTO prompt_lab.prompt_answers (prompt_id, question_id, question_text, answer) VALUES ($1, 'q1', 'again', 'x')".into(),
            w.a_pub,
            common::UNIQUE_VIOLATION,
            "prompt_answers_prompt_id_question_id_key",
        ),
        (
            "INSERT INTO prompt_lab.user_favorites (template_id) VALUES ($1), ($1)".into(),
            w.t_pub,
            common::UNIQUE_VIOLATION,
            "user_favorites_pkey",
        ),
    ];
    for (sql, id, code, constraint) in cases {
        let mut tx = w.db.as_user(w.alice).await;
        let e = common::db_error(
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(id)
                .execute(&mut *tx)
                .await,
        );
        assert_eq!(
            (e.code.as_str(), e.constraint.as_deref()),
            (code, Some(constraint)),
            "{sql}: {e:?}"
        );
    }

    // Foreign keys (as the superuser, so RLS does not answer first).
    let ghost = Uuid::new_v4();
    let fk_cases: [(&str, &str); 5] = [
        (
            "INSERT INTO prompt_lab.prompts (user_id, title, goal, template) VALUES ($1, 't', 'g', 'x')",
            "prompts_user_id_fkey",
        ),
        (
            "INSERT INTO prompt_lab.prompt_answers (prompt_id, question_id, question_text, answer) VALUES ($1, 'q', 'q', 'a')",
            "prompt_answers_prompt_id_fkey",
        ),
        (
            "INSERT INTO prompt_lab.test_results (prompt_id, user_id, model, temperature, variable_values, resolved_prompt)
             SELECT $1, id, 'm', 1, '{}', 'x' FROM public.users LIMIT 1",
            "test_results_prompt_id_fkey",
        ),
        (
            "INSERT INTO prompt_lab.user_favorites (user_id, template_id) SELECT id, $1 FROM public.users LIMIT 1",
            "user_favorites_template_id_fkey",
        ),
        (
            "INSERT INTO prompt_lab.template_likes (user_id, template_id) SELECT id, $1 FROM public.users LIMIT 1",
            "template_likes_template_id_fkey",
        ),
    ];
    for (sql, constraint) in fk_cases {
        let e = common::db_error(sqlx::query(sql).bind(ghost).execute(&w.db.pool).await);
        assert_eq!(
            (e.code.as_str(), e.constraint.as_deref()),
            (common::FOREIGN_KEY_VIOLATION, Some(constraint)),
            "{sql}"
        );
    }

    // NOT NULL.
    let e = common::db_error(
        sqlx::query("INSERT INTO prompt_lab.prompts (user_id, title, goal, template) VALUES ($1, 't', NULL, 'x')")
            .bind(w.alice)
            .execute(&w.db.pool)
            .await,
    );
    assert_eq!(e.code, common::NOT_NULL_VIOLATION);
    assert!(e.message.contains("\"goal\""), "{e:?}");
    // No viewer and no user id: the default auth.uid() is NULL.
    let e = common::db_error(
        sqlx::query(
            "INSERT INTO prompt_lab.prompts (title, goal, template) VALUES ('t', 'g', 'x')",
        )
        .execute(&w.db.pool)
        .await,
    );
    assert_eq!(e.code, common::NOT_NULL_VIOLATION);
    assert!(e.message.contains("\"user_id\""), "{e:?}");
}

// ---------------------------------------------------------------------------
// Entities
// ---------------------------------------------------------------------------

#[tokio::test]
async fn entities_match_their_relations() {
    let w = world().await;
    sqlx::query("INSERT INTO prompt_lab.user_favorites (user_id, template_id) VALUES ($1, $2);")
        .bind(w.bob)
        .bind(w.t_pub)
        .execute(&w.db.pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO prompt_lab.template_likes (user_id, template_id) VALUES ($1, $2)")
        .bind(w.bob)
        .bind(w.t_pub)
        .execute(&w.db.pool)
        .await
        .unwrap();
    let db = &w.db;
    common::check_entity::<entity::prompt_lab::prompts::Entity>(db).await;
    common::check_entity::<entity::prompt_lab::prompt_answers::Entity>(db).await;
    common::check_entity::<entity::prompt_lab::test_results::Entity>(db).await;
    common::check_entity::<entity::prompt_lab::prompt_templates::Entity>(db).await;
    common::check_entity::<entity::prompt_lab::user_favorites::Entity>(db).await;
    common::check_entity::<entity::prompt_lab::template_likes::Entity>(db).await;
    common::check_entity::<entity::prompt_lab::template_authors::Entity>(db).await;

    // Relations resolve: the template of alice's public prompt, with its likes.
    use sea_orm::{EntityTrait, ModelTrait};
    let orm = db.orm().await;
    let prompt = entity::prompt_lab::prompts::Entity::find_by_id(w.a_pub)
        .one(&orm)
        .await
        .unwrap()
        .expect("prompt");
    let template = prompt
        .find_related(entity::prompt_lab::prompt_templates::Entity)
        .one(&orm)
        .await
        .unwrap()
        .expect("template");
    assert_eq!((template.id, template.likes_count), (w.t_pub, 1));
    let likes = template
        .find_related(entity::prompt_lab::template_likes::Entity)
        .all(&orm)
        .await
        .unwrap();
    assert_eq!(likes.len(), 1);
    let author = template
        .find_related(entity::public::users::Entity)
        .one(&orm)
        .await
        .unwrap()
        .expect("author");
    assert_eq!(author.id, w.alice);
}
