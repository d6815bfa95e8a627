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
        if let ApiError::Internal(detail) = self {
            tracing::error!(detail = %detail, "internal error");
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
