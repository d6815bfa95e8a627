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
    tx.execute_raw(acting_as(viewer, statement_timeout_ms))
        .await?;
    Ok(tx)
}

/// The statement that makes the rest of an open transaction run as `viewer`:
/// sets `role`, `request.jwt.claims` and the statement timeout
/// transaction-locally, replacing whatever an earlier viewer of the same
/// transaction had set.
pub fn acting_as(viewer: &Viewer, statement_timeout_ms: u64) -> Statement {
    set_identity(
        viewer.role.as_db_role(),
        viewer.claims_json(),
        statement_timeout_ms,
    )
}

/// The statement that makes the rest of an open transaction run as the
/// gateway's own login role, with no viewer and no claims (for reads that
/// set each viewer themselves, such as `live.alert_history_as`).
pub fn acting_as_gateway(statement_timeout_ms: u64) -> Statement {
    set_identity("none", String::new(), statement_timeout_ms)
}

fn set_identity(role: &str, claims: String, statement_timeout_ms: u64) -> Statement {
    Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT set_config('role', $1, true), set_config('request.jwt.claims', $2, true), \
         set_config('statement_timeout', $3, true)",
        [
            role.into(),
            claims.into(),
            statement_timeout_ms.to_string().into(),
        ],
    )
}
