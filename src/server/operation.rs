//! One GraphQL operation in one transaction as its viewer, and the rollback
//! contract: a response never reports as done a write that was rolled back.
//!
//! - Each operation (an HTTP request, each item of a batch, each websocket
//!   query or mutation) has its own transaction: the items of a batch are
//!   independent, as batching clients (Apollo's `BatchHttpLink`) assume.
//! - The transaction commits only when the operation has no error at all.
//! - When a mutation's transaction is rolled back (any error, or a commit
//!   that failed), `data` is null and every root field that had reported a
//!   result gets an error with code `ROLLED_BACK` on its path: the client
//!   sees which writes did not happen.

use super::AppState;
use crate::auth::Viewer;
use crate::graphql::context::RequestTx;
use crate::graphql::error::ApiError;
use crate::graphql::limits;
use crate::graphql::prepare_request;
use crate::server::media::METHOD_NOT_ALLOWED;
use async_graphql::futures_util::stream::{FuturesOrdered, StreamExt};
use async_graphql::parser::types::OperationType;
use async_graphql::{
    BatchRequest, BatchResponse, ErrorExtensionValues, PathSegment, Request, Response, ServerError,
    Value,
};

pub use crate::graphql::limits::ROLLED_BACK;

/// Runs every operation of `batch` as `viewer`, each in its own transaction
/// (concurrently for a batch, answers in request order).
pub(crate) async fn execute(
    app: &AppState,
    viewer: Viewer,
    batch: BatchRequest,
    read_only: bool,
) -> BatchResponse {
    match batch {
        BatchRequest::Single(request) => {
            BatchResponse::Single(execute_one(app, viewer, request, read_only).await)
        }
        BatchRequest::Batch(requests) => BatchResponse::Batch(
            requests
                .into_iter()
                .map(|request| execute_one(app, viewer.clone(), request, read_only))
                .collect::<FuturesOrdered<_>>()
                .collect()
                .await,
        ),
    }
}

/// Runs one operation in a transaction as `viewer` (opened by the first
/// resolver that needs it, so never for an operation refused by a limit,
/// parsing or validation): committed when the response is free of errors,
/// rolled back otherwise, and the response says which writes did not
/// happen. `read_only` (an HTTP GET): a mutation is refused with
/// `METHOD_NOT_ALLOWED` before it runs.
pub(crate) async fn execute_one(
    app: &AppState,
    viewer: Viewer,
    mut request: Request,
    read_only: bool,
) -> Response {
    // A persisted operation becomes its document (or is refused) before
    // anything else looks at the request.
    if let Err(err) = app.persisted.resolve(&mut request) {
        return Response::from_errors(vec![err]);
    }
    if request.query.trim().is_empty() {
        return Response::from_errors(vec![crate::server::http::coded(
            crate::server::http::BAD_REQUEST,
            "the request has no `query` (nor the hash of a persisted operation)",
        )]);
    }
    if read_only && selects_mutation(&app.limits, &mut request) {
        let mut err = ServerError::new("mutations are sent with POST", None);
        let mut ext = ErrorExtensionValues::default();
        ext.set("code", METHOD_NOT_ALLOWED);
        err.extensions = Some(ext);
        return Response::from_errors(vec![err]);
    }
    let tx = RequestTx::new(
        app.db.clone(),
        viewer.clone(),
        app.statement_timeout.as_millis() as u64,
    );
    let request = prepare_request(request.data(viewer), &tx);
    let types = crate::graphql::types_of(&app.schema);
    let (operation, mut response) =
        limits::execute_typed(&app.schema, &app.limits, request, types).await;
    let mutation = operation == Some(OperationType::Mutation);
    let tx = match tx.finish().await {
        Ok(tx) => tx,
        Err(detail) => {
            // A handle outlived the response: the transaction is dropped
            // (so rolled back) with it.
            fail(&mut response, mutation, ApiError::Internal(detail));
            return response;
        }
    };
    let Some(tx) = tx else {
        return response;
    };
    if response.is_ok() {
        if let Err(err) = tx.commit().await {
            fail(&mut response, mutation, ApiError::from(err));
        }
        return response;
    }
    if let Err(err) = tx.rollback().await {
        // The connection is gone with its transaction: rolled back either way.
        tracing::warn!(error = %err, "rollback failed");
    }
    if mutation {
        mark_rolled_back(&mut response);
    }
    response
}

/// Whether the request selects a mutation. Parses the document (keeping it
/// in the request, so it is not parsed again); a document that does not
/// parse or is too deep to parse safely is left to the usual checks.
fn selects_mutation(limits: &limits::Limits, request: &mut Request) -> bool {
    if crate::graphql::input_bounds::check_text(limits, &request.query).is_err() {
        return false;
    }
    let name = request.operation_name.clone();
    match request.parsed_query() {
        Ok(doc) => limits::select_operation(doc, name.as_deref())
            .is_some_and(|op| op.node.ty == OperationType::Mutation),
        Err(_) => false,
    }
}

/// A transaction that could not commit: the error, and for a mutation,
/// nothing of it reported as done.
fn fail(response: &mut Response, mutation: bool, err: ApiError) {
    response.errors.push(err.server_error());
    // What a query read stays true; only writes are taken back.
    if mutation {
        mark_rolled_back(response);
    }
}

/// Nulls `data` and adds a `ROLLED_BACK` error for every root field that
/// had reported a result.
pub fn mark_rolled_back(response: &mut Response) {
    let data = std::mem::replace(&mut response.data, Value::Null);
    let Value::Object(fields) = data else {
        return;
    };
    for (key, value) in fields {
        if value == Value::Null {
            continue;
        }
        let mut err = ServerError::new(
            format!(
                "`{key}` was rolled back: another part of this request failed, \
                 and a request's writes are applied all together or not at all"
            ),
            None,
        );
        err.path = vec![PathSegment::Field(key.to_string())];
        let mut ext = ErrorExtensionValues::default();
        ext.set("code", ROLLED_BACK);
        err.extensions = Some(ext);
        response.errors.push(err);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolled_back_fields_are_nulled_with_an_error_each() {
        let mut response = Response::new(async_graphql::value!({
            "a": { "session": { "id": "1" } },
            "b": null,
        }));
        response.errors.push(ServerError::new("bad", None));
        mark_rolled_back(&mut response);
        assert_eq!(response.data, Value::Null);
        assert_eq!(response.errors.len(), 2);
        let rolled = &response.errors[1];
        assert_eq!(rolled.path, vec![PathSegment::Field("a".into())]);
        assert_eq!(limits::error_code(rolled), Some(ROLLED_BACK));
    }

    #[test]
    fn a_response_without_data_gets_no_rolled_back_errors() {
        let mut response = Response::from_errors(vec![ServerError::new("bad", None)]);
        mark_rolled_back(&mut response);
        assert_eq!(response.errors.len(), 1);
    }
}
