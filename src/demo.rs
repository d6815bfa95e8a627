//! The demo user of the embedded development database, so GraphiQL has a
//! signed-in viewer and data to show on a fresh machine.

use crate::auth::{Role, Viewer};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
use uuid::Uuid;

/// Email of the demo user.
pub const DEMO_EMAIL: &str = "demo@workbench.local";

/// Creates the demo user (as the service role) unless it exists, seeds its
/// demo data the first time, and returns its id.
pub async fn ensure_demo_user(db: &DatabaseConnection) -> Result<Uuid, DbErr> {
    let service = Viewer {
        user_id: None,
        role: Role::ServiceRole,
        claims: serde_json::json!({ "role": "service_role" }),
    };
    let tx = crate::db::request::begin_as(db, &service, 30_000).await?;
    let existing = tx
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id FROM auth.users WHERE email = $1",
            [DEMO_EMAIL.into()],
        ))
        .await?;
    let id = match existing {
        Some(row) => row.try_get::<Uuid>("", "id")?,
        None => {
            let row = tx
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "INSERT INTO auth.users (email, raw_user_meta_data) \
                     VALUES ($1, '{\"full_name\": \"Demo User\"}') RETURNING id",
                    [DEMO_EMAIL.into()],
                ))
                .await?
                .ok_or_else(|| DbErr::Custom("demo user insert returned nothing".into()))?;
            let id = row.try_get::<Uuid>("", "id")?;
            seed_demo_data(&tx, id).await?;
            id
        }
    };
    tx.commit().await?;
    Ok(id)
}

/// Demo rows for `user` in every domain that has an API.
async fn seed_demo_data(db: &impl ConnectionTrait, user: Uuid) -> Result<(), DbErr> {
    crate::graphql::builder::seed_demo(db, user)
        .await
        .map_err(|e| DbErr::Custom(format!("seeding builder demo data: {e:?}")))?;
    Ok(())
}
