//! The per-request transaction: every GraphQL operation runs in one
//! transaction that first takes the viewer's role and claims, so PostgreSQL's
//! row-level security decides what the viewer may read and write.

use crate::auth::Viewer;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement,
    TransactionTrait,
};

/// Begins a transaction as `viewer`: `role`, `request.jwt.claims` and a
/// statement timeout are set transaction-locally, in one statement.
pub async fn begin_as(
    db: &DatabaseConnection,
    viewer: &Viewer,
    statement_timeout_ms: u64,
) -> Result<DatabaseTransaction, DbErr> {
    let tx = db.begin().await?;
    act_as(&tx, viewer, statement_timeout_ms).await?;
    Ok(tx)
}

/// Makes the rest of open transaction `tx` run as `viewer`: sets `role`,
/// `request.jwt.claims` and the statement timeout transaction-locally, in
/// one statement, replacing whatever an earlier viewer of `tx` had set.
pub async fn act_as(
    tx: &DatabaseTransaction,
    viewer: &Viewer,
    statement_timeout_ms: u64,
) -> Result<(), DbErr> {
    tx.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT set_config('role', $1, true), set_config('request.jwt.claims', $2, true), \
         set_config('statement_timeout', $3, true)",
        [
            viewer.role.as_db_role().into(),
            viewer.claims_json().into(),
            statement_timeout_ms.to_string().into(),
        ],
    ))
    .await?;
    Ok(())
}
