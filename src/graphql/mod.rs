//! The GraphQL layer: schema assembly from one module per domain (each with
//! its types, queries, mutations and loaders side by side), and the shared
//! pieces they use: request context, errors, filters, pagination, limits.

pub mod analytics;
pub mod builder;
pub mod chat;
pub mod context;
pub mod enums;
pub mod error;
pub mod feeds;
pub mod filter;
pub mod input_bounds;
pub mod input_types;
pub mod lift;
pub mod limits;
pub mod live;
pub mod loading;
pub mod ordering;
pub mod pagination;
pub mod prompt_lab;
pub mod viewer;

use async_graphql::{MergedObject, MergedSubscription, Request, Schema};
use context::{RequestTx, Savepoints};
use input_types::TypeIndex;
use limits::Limits;

/// Every root query field, merged from the domains.
#[derive(MergedObject, Default)]
pub struct QueryRoot(
    viewer::ViewerQuery,
    builder::BuilderQuery,
    lift::LiftQuery,
    chat::ChatQuery,
    prompt_lab::PromptLabQuery,
    analytics::AnalyticsQuery,
    // anchor:query-roots
);

/// Every mutation, merged from the domains.
#[derive(MergedObject, Default)]
pub struct MutationRoot(
    viewer::ViewerMutation,
    builder::BuilderMutation,
    lift::LiftMutation,
    chat::ChatMutation,
    prompt_lab::PromptLabMutation,
    analytics::AnalyticsMutation,
    // anchor:mutation-roots
);

/// Every subscription, merged from the domains (served over `/graphql/ws`).
#[derive(MergedSubscription, Default)]
pub struct SubscriptionRoot(
    feeds::ViewerSubscription,
    lift::LiftSubscription,
    chat::ChatSubscription,
    analytics::AnalyticsSubscription,
    // anchor:subscription-roots
);

/// The gateway's schema (its mutation root runs each mutation in a
/// savepoint, see [`Savepoints`]).
pub type AppSchema = Schema<QueryRoot, Savepoints<MutationRoot>, SubscriptionRoot>;

/// Builds the schema with `limits` applied. Built once at start-up.
///
/// No async-graphql extension is registered, and none should be: with any
/// extension, async-graphql resolves every field of every operation through
/// the extension chain (a registry lookup and a boxed future per extension
/// per field) instead of calling the resolver directly. What extensions
/// would do runs at the entry points instead ([`limits::execute`]: limits
/// before, error codes after) and in the mutation root ([`Savepoints`]);
/// the request's transaction opens on first use ([`RequestTx::get`]).
pub fn build_schema(limits: &Limits) -> AppSchema {
    let schema = limits
        .apply(Schema::build(
            QueryRoot::default(),
            Savepoints::default(),
            SubscriptionRoot::default(),
        ))
        .data(limits.clone())
        .data(SchemaTypes::default())
        .finish();
    if let Some(types) = schema.data::<SchemaTypes>() {
        let _ = types.0.set(TypeIndex::from_sdl(&schema.sdl()));
    }
    schema
}

/// The schema's own types, indexed for the checks of argument values that
/// run before execution ([`input_types`]); kept in the schema's data.
#[derive(Default)]
struct SchemaTypes(std::sync::OnceLock<TypeIndex>);

/// The type index of a schema built by [`build_schema`].
pub fn types_of(schema: &AppSchema) -> Option<&TypeIndex> {
    schema.data::<SchemaTypes>()?.0.get()
}

/// The schema in SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    build_schema(&Limits::default()).sdl()
}

/// Adds the per-request data to one GraphQL request: the request's
/// transaction and every domain's dataloaders over it (loaders are per
/// request because they read through the viewer's transaction).
pub fn prepare_request(request: Request, tx: &RequestTx) -> Request {
    let request = request.data(tx.clone());
    let request = builder::register_loaders(request, tx);
    let request = lift::register_loaders(request, tx);
    let request = chat::register_loaders(request, tx);
    let request = prompt_lab::register_loaders(request, tx);
    let request = analytics::register_loaders(request, tx);
    // anchor:loaders
    #[allow(clippy::let_and_return)]
    request
}
