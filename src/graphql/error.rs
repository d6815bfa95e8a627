//! The API error type and its one mapping to GraphQL error codes.
//!
//! Every user-visible error carries a stable `extensions.code`. Database
//! errors are classified here by SQLSTATE; their text never reaches the
//! client (it names tables and constraints), only the code, a safe message
//! and, for bad input, the offending field.

use async_graphql::ErrorExtensions;
use sea_orm::DbErr;

/// An error a resolver can return.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or invalid credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// Signed in, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// The object does not exist, or the viewer may not see it.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Invalid input; `field` names the input field when known.
    #[error("{message}")]
    BadUserInput {
        /// What is wrong, for a person.
        message: String,
        /// The input field (or constraint-derived field name).
        field: Option<String>,
    },
    /// The write conflicts with existing data (a unique key).
    #[error("{0}")]
    Conflict(String),
    /// Too many requests.
    #[error("rate limited")]
    RateLimited,
    /// The database cannot be reached right now (no connection within the
    /// acquire timeout, a broken connection, a server shutting down or
    /// starting); the detail is logged at WARN, never shown.
    #[error("the database is unavailable, try again shortly")]
    ServiceUnavailable(String),
    /// Not run: an earlier error of the same request aborted its
    /// transaction (root query fields share it and have no savepoints).
    #[error("not run: another field of this request failed first, which ended its transaction")]
    NotRun,
    /// Anything else; logged, never shown.
    #[error("internal error")]
    Internal(String),
}

/// Result of domain functions and resolvers.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// The stable `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::BadUserInput { .. } => "BAD_USER_INPUT",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::RateLimited => "RATE_LIMITED",
            ApiError::ServiceUnavailable(_) => super::limits::SERVICE_UNAVAILABLE,
            ApiError::NotRun => super::limits::ROLLED_BACK,
            ApiError::Internal(_) => "INTERNAL",
        }
    }

    /// The error as a response error of its own, outside any field (no
    /// path), with its code.
    pub fn server_error(&self) -> async_graphql::ServerError {
        let gql = self.extend();
        let mut error = async_graphql::ServerError::new(gql.message, None);
        error.extensions = gql.extensions;
        error
    }

    /// Bad input on `field`.
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadUserInput {
            message: message.into(),
            field: Some(field.into()),
        }
    }
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        match self {
            ApiError::Internal(detail) => tracing::error!(detail = %detail, "internal error"),
            ApiError::ServiceUnavailable(detail) => {
                tracing::warn!(detail = %detail, "database unavailable")
            }
            _ => {}
        }
        async_graphql::Error::new(self.to_string()).extend_with(|_, e| {
            e.set("code", self.code());
            if let ApiError::BadUserInput {
                field: Some(field), ..
            } = self
            {
                e.set("field", field.as_str());
            }
        })
    }
}

/// Converts an API result into a resolver result with the error's code.
pub trait ResultExt<T> {
    /// `Err(ApiError)` becomes an `async_graphql::Error` with `extensions.code`.
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> ResultExt<T> for ApiResult<T> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| e.extend())
    }
}

impl From<DbErr> for ApiError {
    fn from(err: DbErr) -> Self {
        use sea_orm::{sqlx, RuntimeErr};
        // Connection trouble first: pool timeouts, broken connections and a
        // server going down or starting are not the request's fault.
        if crate::db::is_unavailable(&err) {
            return ApiError::ServiceUnavailable(err.to_string());
        }
        let database_error = match &err {
            DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
                match e.as_ref() {
                    sqlx::Error::Database(db) => Some(db),
                    _ => None,
                }
            }
            _ => None,
        };
        let Some(db) = database_error else {
            return ApiError::Internal(err.to_string());
        };
        let code = db.code().map(|c| c.to_string()).unwrap_or_default();
        let constraint = db.constraint().map(str::to_string);
        let field = constraint
            .as_deref()
            .map(|c| camel_case(&field_of_constraint(c, db.table())));
        match code.as_str() {
            // unique_violation
            "23505" => ApiError::Conflict(match &field {
                Some(f) => format!("{f} already exists"),
                None => "already exists".to_string(),
            }),
            // foreign_key_violation
            "23503" => ApiError::BadUserInput {
                message: "refers to something that does not exist".into(),
                field,
            },
            // check_violation, not_null_violation, exclusion
            "23514" | "23502" | "23P01" => ApiError::BadUserInput {
                message: "invalid value".into(),
                field: field.or_else(|| not_null_column(db.message()).map(|c| camel_case(&c))),
            },
            // insufficient_privilege (grants, guards), RLS WITH CHECK failures
            "42501" => ApiError::Forbidden("not allowed".into()),
            // a rule of ours refused the write; its message is for the user
            // (`GW403`, e.g. a workspace keeps at least one owner)
            "GW403" => ApiError::Forbidden(db.message().to_string()),
            // data exceptions: bad casts, out-of-range numbers, bad JSON ...
            c if c.starts_with("22") => ApiError::BadUserInput {
                message: "invalid value".into(),
                field,
            },
            // raise_exception with a no_data_found code from our functions
            "P0002" => ApiError::NotFound("object"),
            // query_canceled: the per-request statement timeout
            "57014" => ApiError::Internal(format!("statement timeout: {err}")),
            // in_failed_sql_transaction: another field's error came first
            "25P02" => ApiError::NotRun,
            _ => ApiError::Internal(err.to_string()),
        }
    }
}

/// A database error as an API error, for `.map_err(db_err)`.
pub fn db_err(err: DbErr) -> ApiError {
    ApiError::from(err)
}

/// `input_tokens` → `inputTokens`: database names as API field names.
pub fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for ch in name.chars() {
        if ch == '_' {
            upper = true;
        } else if upper {
            out.extend(ch.to_uppercase());
            upper = false;
        } else {
            out.push(ch);
        }
    }
    out
}

/// `sessions_status_check` on table `sessions` → `status`: constraint names
/// follow `<table>_<column>_<kind>`, so the field is what sits between the
/// table and the kind.
fn field_of_constraint(constraint: &str, table: Option<&str>) -> String {
    const KINDS: [&str; 6] = ["_check", "_key", "_fkey", "_pkey", "_not_blank", "_excl"];
    let trimmed = KINDS
        .iter()
        .find_map(|k| constraint.strip_suffix(k))
        .unwrap_or(constraint);
    table
        .and_then(|t| trimmed.strip_prefix(t))
        .and_then(|rest| rest.strip_prefix('_'))
        .filter(|rest| !rest.is_empty())
        .unwrap_or(trimmed)
        .to_string()
}

/// The column of a NOT NULL violation message
/// (`null value in column "x" of relation ...`).
fn not_null_column(message: &str) -> Option<String> {
    let start = message.find("column \"")? + "column \"".len();
    let end = message[start..].find('"')? + start;
    Some(message[start..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(ApiError::NotFound("x").code(), "NOT_FOUND");
        assert_eq!(ApiError::bad_input("a", "b").code(), "BAD_USER_INPUT");
        assert_eq!(ApiError::Conflict("c".into()).code(), "CONFLICT");
        assert_eq!(
            ApiError::Internal("secret".into()).to_string(),
            "internal error"
        );
    }

    #[test]
    fn gql_errors_carry_code_and_field() {
        let err = ApiError::bad_input("title", "must not be blank").extend();
        let ext = err.extensions.expect("extensions");
        assert_eq!(
            ext.get("code"),
            Some(&async_graphql::Value::from("BAD_USER_INPUT"))
        );
        assert_eq!(ext.get("field"), Some(&async_graphql::Value::from("title")));
    }

    /// A database error with SQLSTATE `code`, as the driver reports one.
    #[derive(Debug)]
    struct Sqlstate(&'static str);

    impl std::fmt::Display for Sqlstate {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "SQLSTATE {}", self.0)
        }
    }

    impl std::error::Error for Sqlstate {}

    impl sea_orm::sqlx::error::DatabaseError for Sqlstate {
        fn message(&self) -> &str {
            "from the server"
        }
        fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
            Some(self.0.into())
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sea_orm::sqlx::error::ErrorKind {
            sea_orm::sqlx::error::ErrorKind::Other
        }
    }

    fn runtime(err: sea_orm::sqlx::Error) -> sea_orm::RuntimeErr {
        sea_orm::RuntimeErr::SqlxError(std::sync::Arc::new(err))
    }

    fn sqlstate(code: &'static str) -> sea_orm::sqlx::Error {
        sea_orm::sqlx::Error::Database(Box::new(Sqlstate(code)))
    }

    fn code_of(err: DbErr) -> &'static str {
        ApiError::from(err).code()
    }

    #[test]
    fn an_unreachable_database_is_service_unavailable() {
        use sea_orm::sqlx::Error as Sqlx;
        use sea_orm::ConnAcquireErr;
        let io = || Sqlx::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        let cases: Vec<DbErr> = vec![
            DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
            DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
            DbErr::Conn(runtime(Sqlx::PoolTimedOut)),
            DbErr::Conn(runtime(Sqlx::PoolClosed)),
            DbErr::Conn(runtime(io())),
            DbErr::Exec(runtime(io())),
            DbErr::Query(runtime(Sqlx::Io(std::io::Error::from(
                std::io::ErrorKind::UnexpectedEof,
            )))),
            DbErr::Conn(runtime(Sqlx::Tls("handshake failed".into()))),
            // connection_exception, connection_failure, admin_shutdown,
            // crash_shutdown, cannot_connect_now, too_many_connections
            DbErr::Exec(runtime(sqlstate("08000"))),
            DbErr::Query(runtime(sqlstate("08006"))),
            DbErr::Query(runtime(sqlstate("57P01"))),
            DbErr::Exec(runtime(sqlstate("57P02"))),
            DbErr::Conn(runtime(sqlstate("57P03"))),
            DbErr::Conn(runtime(sqlstate("53300"))),
        ];
        for err in cases {
            let shown = err.to_string();
            let api = ApiError::from(err);
            assert_eq!(api.code(), "SERVICE_UNAVAILABLE", "{shown}");
            assert_eq!(
                api.to_string(),
                "the database is unavailable, try again shortly"
            );
        }
    }

    #[test]
    fn service_unavailable_shows_no_detail() {
        let err = ApiError::from(DbErr::Conn(runtime(sea_orm::sqlx::Error::PoolTimedOut)));
        let gql = err.extend();
        assert_eq!(
            gql.message,
            "the database is unavailable, try again shortly"
        );
        assert_eq!(
            gql.extensions.expect("extensions").get("code"),
            Some(&async_graphql::Value::from("SERVICE_UNAVAILABLE"))
        );
        let server = err.server_error();
        assert!(!server.message.contains("pool"), "{}", server.message);
    }

    #[test]
    fn other_database_errors_keep_their_codes() {
        // statement timeout (query_canceled) stays INTERNAL
        assert_eq!(
            code_of(DbErr::Query(runtime(sqlstate("57014")))),
            "INTERNAL"
        );
        assert_eq!(code_of(DbErr::Exec(runtime(sqlstate("23505")))), "CONFLICT");
        assert_eq!(
            code_of(DbErr::Exec(runtime(sqlstate("42501")))),
            "FORBIDDEN"
        );
        assert_eq!(
            code_of(DbErr::Query(runtime(sqlstate("22P02")))),
            "BAD_USER_INPUT"
        );
        // authentication failures, protocol errors, decoding: not outages
        assert_eq!(code_of(DbErr::Conn(runtime(sqlstate("28P01")))), "INTERNAL");
        assert_eq!(
            code_of(DbErr::Query(runtime(sea_orm::sqlx::Error::Protocol(
                "unexpected message".into()
            )))),
            "INTERNAL"
        );
        assert_eq!(code_of(DbErr::RecordNotFound("x".into())), "INTERNAL");
        assert_eq!(code_of(DbErr::Custom("x".into())), "INTERNAL");
    }

    #[test]
    fn constraint_names_give_fields() {
        assert_eq!(
            field_of_constraint("sessions_status_check", Some("sessions")),
            "status"
        );
        assert_eq!(
            field_of_constraint(
                "session_drafts_session_id_draft_number_key",
                Some("session_drafts")
            ),
            "session_id_draft_number"
        );
        assert_eq!(field_of_constraint("odd", None), "odd");
        assert_eq!(camel_case("ir_revision_id"), "irRevisionId");
        assert_eq!(camel_case("title"), "title");
        assert_eq!(
            not_null_column("null value in column \"title\" of relation \"prompts\""),
            Some("title".into())
        );
    }
}
