//! Operation limits, checked before any resolver (and so any SQL) runs, and
//! the last pass that gives every GraphQL error a stable `extensions.code`.
//!
//! Both run at the entry points, around the schema ([`execute`] for
//! one-shot operations, [`check_parsed`] and
//! [`finish_stream`] for websocket subscriptions), not as async-graphql
//! extensions: any extension sends every field of every operation down
//! async-graphql's slower resolution path.
//!
//! - [`check_request`] parses the query once (the parsed document stays in
//!   the request, so async-graphql does not parse again) and rejects
//!   introspection when it is off, too many aliases, too many root fields,
//!   too deep a query, too many (expanded) fields and too large a page
//!   (`first`/`last` above the maximum page size). Every walk over the
//!   document is linear in its size: fragments are measured once, so a
//!   "fragment bomb" (fragments spreading fragments many times over) is
//!   refused before async-graphql's own, unmemoized visitors would expand it.
//! - [`finish_response`] tags parse errors `GRAPHQL_PARSE_FAILED`, validation
//!   errors `GRAPHQL_VALIDATION_FAILED` (async-graphql's own depth and
//!   complexity errors become `LIMIT_EXCEEDED`), argument coercion errors
//!   `BAD_USER_INPUT`, and masks every other code-less error as `INTERNAL`
//!   ("internal error"), logging the original.
//!
//! Complexity is async-graphql's: connection fields declare
//! `complexity = first * child_complexity`, so page sizes count. Request
//! body size and batch size are HTTP-layer limits ([`check_batch`],
//! [`LimitError::BodySize`]).

use std::collections::{HashMap, HashSet};

use super::input_bounds;
use super::input_types::TypeIndex;

use async_graphql::futures_util::stream::{Stream, StreamExt};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::{
    BatchRequest, ErrorExtensionValues, Executor, IntrospectionMode, Positioned, Request, Response,
    SchemaBuilder, ServerError, Value, Variables,
};

/// `extensions.code` of a request refused by a limit.
pub const LIMIT_EXCEEDED: &str = "LIMIT_EXCEEDED";
/// `extensions.code` of a query that is not valid GraphQL syntax.
pub const GRAPHQL_PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
/// `extensions.code` of a query that does not fit the schema.
pub const GRAPHQL_VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
/// `extensions.code` of an argument value that cannot be read as its type.
pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
/// `extensions.code` of a request that could not reach the database (HTTP
/// 503 with `Retry-After`).
pub const SERVICE_UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";
/// `extensions.code` of work a request did not keep: a root mutation that
/// ran but was rolled back with its operation, or a field not run because
/// an earlier error of the request ended its transaction.
pub const ROLLED_BACK: &str = "ROLLED_BACK";
/// `extensions.code` of anything unexpected (message masked).
pub const INTERNAL: &str = "INTERNAL";
/// The message every `INTERNAL` error is given instead of its own.
pub const INTERNAL_MESSAGE: &str = "internal error";

/// Depth always allowed below `__schema`/`__type`: GraphiQL's standard
/// introspection query is 13 fields deep (its `ofType` chain), newer
/// graphql-js versions go a little deeper, and a depth limit meant for data
/// queries must not break the explorer.
const INTROSPECTION_MIN_DEPTH: usize = 16;

/// Field arguments that are page sizes by the API's connection convention.
const PAGE_SIZE_ARGUMENTS: [&str; 2] = ["first", "last"];

/// Operation limits, from flags or environment.
#[derive(Clone, Debug, PartialEq, Eq, clap::Args)]
pub struct Limits {
    /// Maximum field nesting of an operation (leaf fields count as a level).
    #[arg(long, env = "GQL_MAX_DEPTH", default_value_t = 12)]
    pub max_depth: usize,
    /// Maximum complexity: every field costs 1 plus its children, and
    /// connection fields multiply their children by the page size.
    #[arg(long, env = "GQL_MAX_COMPLEXITY", default_value_t = 5000)]
    pub max_complexity: usize,
    /// Maximum number of aliased fields in a document (fragments included).
    #[arg(long, env = "GQL_MAX_ALIASES", default_value_t = 30)]
    pub max_aliases: usize,
    /// Maximum number of root fields of the executed operation.
    #[arg(long, env = "GQL_MAX_ROOT_FIELDS", default_value_t = 20)]
    pub max_root_fields: usize,
    /// Maximum number of operations in one batched HTTP request.
    #[arg(long, env = "GQL_MAX_BATCH", default_value_t = 10)]
    pub max_batch: usize,
    /// Maximum HTTP request body, in bytes.
    #[arg(long, env = "GQL_MAX_BODY_BYTES", default_value_t = 1_048_576)]
    pub max_body_bytes: usize,
    /// Longest the HTTP request body may take to arrive, in milliseconds.
    #[arg(long, env = "HTTP_BODY_TIMEOUT_MS", default_value_t = 10_000)]
    pub body_timeout_ms: u64,
    /// Maximum `first`/`last` of any connection.
    #[arg(long, env = "GQL_MAX_PAGE_SIZE", default_value_t = 100)]
    pub max_page_size: usize,
    /// Maximum nesting of objects and lists in an argument or variable
    /// value (JSON values included).
    #[arg(long, env = "GQL_MAX_INPUT_DEPTH", default_value_t = 32)]
    pub max_input_depth: usize,
    /// Maximum nesting of `and`/`or`/`not` in a `where:` filter.
    #[arg(long, env = "GQL_MAX_WHERE_DEPTH", default_value_t = 8)]
    pub max_where_depth: usize,
    /// Maximum items of one list in an argument or variable value.
    #[arg(long, env = "GQL_MAX_LIST_LENGTH", default_value_t = 1000)]
    pub max_list_length: usize,
    /// Operations per second each viewer may sustain (each signed-in user;
    /// each client address when anonymous); 0 switches rate limits off.
    #[arg(long, env = "RATE_LIMIT_PER_SECOND", default_value_t = 100)]
    pub rate_limit_per_second: u32,
    /// Operations a viewer may send at once above that rate.
    #[arg(long, env = "RATE_LIMIT_BURST", default_value_t = 200)]
    pub rate_limit_burst: u32,
    /// Whether `__schema`/`__type` introspection is served.
    #[arg(long, env = "GQL_INTROSPECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub introspection: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 12,
            max_complexity: 5000,
            max_aliases: 30,
            max_root_fields: 20,
            max_batch: 10,
            max_body_bytes: 1_048_576,
            body_timeout_ms: 10_000,
            max_page_size: 100,
            max_input_depth: 32,
            max_where_depth: 8,
            max_list_length: 1000,
            rate_limit_per_second: 100,
            rate_limit_burst: 200,
            introspection: true,
        }
    }
}

impl Limits {
    /// Applies depth, complexity, recursive depth and introspection to a
    /// schema builder and adds the limits as schema data (resolvers read
    /// `max_page_size` from there). The document limits and error codes are
    /// the entry points' ([`execute`]).
    pub fn apply<Q, M, S>(&self, builder: SchemaBuilder<Q, M, S>) -> SchemaBuilder<Q, M, S> {
        // async-graphql's own depth check cannot tell introspection apart, so
        // it is only a backstop at the larger of the two depths; the exact
        // check is check_request's.
        let builder = builder
            .limit_depth(self.introspection_depth())
            .limit_complexity(self.max_complexity)
            .limit_recursive_depth(self.recursion_limit())
            .data(self.clone());
        if self.introspection {
            builder
        } else {
            builder.disable_introspection()
        }
    }

    /// Depth allowed below `__schema` and `__type`.
    pub fn introspection_depth(&self) -> usize {
        self.max_depth.max(INTROSPECTION_MIN_DEPTH)
    }

    /// Maximum nesting of selection sets, fragment spreads and inline
    /// fragments (async-graphql's "recursive depth"). Fragments add nesting
    /// without adding field depth, hence the headroom over the depth.
    pub fn recursion_limit(&self) -> usize {
        self.introspection_depth().saturating_mul(2).max(32)
    }
}

/// Why an operation was refused before execution.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// Too many aliased fields.
    #[error("the query has {actual} aliases; at most {max} are allowed")]
    Aliases {
        /// Aliases found.
        actual: usize,
        /// The limit.
        max: usize,
    },
    /// Too many root fields in the executed operation.
    #[error("the operation selects {actual} root fields; at most {max} are allowed")]
    RootFields {
        /// Distinct root fields found.
        actual: usize,
        /// The limit.
        max: usize,
    },
    /// Fields nested too deep.
    #[error("the query is {actual} fields deep; at most {max} are allowed")]
    Depth {
        /// Depth found.
        actual: usize,
        /// The limit.
        max: usize,
    },
    /// Async-graphql's own depth check fired (it does not say how deep).
    #[error("the query is nested deeper than the maximum of {max}")]
    DepthUnmeasured {
        /// The limit.
        max: usize,
    },
    /// Selection sets and fragments nested too deep.
    #[error("the query nests selections and fragments more than {max} levels deep")]
    RecursionDepth {
        /// The limit.
        max: usize,
    },
    /// Too costly.
    #[error("the query is more complex than the maximum of {max}")]
    Complexity {
        /// The limit.
        max: usize,
    },
    /// A page larger than the maximum page size.
    #[error("`{argument}: {actual}` is larger than the maximum page size of {max}")]
    PageSize {
        /// `first` or `last`.
        argument: String,
        /// The requested size.
        actual: u64,
        /// The limit.
        max: usize,
    },
    /// Too many operations in one HTTP request.
    #[error("the batch has {actual} operations; at most {max} are allowed")]
    Batch {
        /// Operations in the batch.
        actual: usize,
        /// The limit.
        max: usize,
    },
    /// The HTTP body is too large.
    #[error("the request body is larger than {max} bytes")]
    BodySize {
        /// The limit.
        max: usize,
    },
    /// Too many subscriptions on one websocket connection.
    #[error("this connection already holds {max} subscriptions")]
    Subscriptions {
        /// The limit.
        max: usize,
    },
    /// Too many websocket connections of one user.
    #[error("this user already holds {max} websocket connections")]
    Connections {
        /// The limit.
        max: usize,
    },
    /// Brackets nested deeper than any document within the limits needs
    /// (refused before parsing).
    #[error("the document nests brackets more than {max} levels deep")]
    Nesting {
        /// The limit.
        max: usize,
    },
    /// An argument or variable value nested too deep.
    #[error("an input value nests objects and lists more than {max} levels deep")]
    InputDepth {
        /// The limit.
        max: usize,
    },
    /// `and`/`or`/`not` nested too deep in a `where:`.
    #[error("`where` nests and/or/not more than {max} levels deep")]
    WhereDepth {
        /// The limit.
        max: usize,
    },
    /// A list in an input value is too long.
    #[error("an input list has {actual} items; at most {max} are allowed")]
    ListLength {
        /// Items found.
        actual: usize,
        /// The limit.
        max: usize,
    },
    /// Introspection is switched off.
    #[error("introspection is disabled")]
    IntrospectionDisabled,
    /// A fragment spreads itself, directly or not.
    #[error("fragment `{fragment}` spreads itself")]
    FragmentCycle {
        /// A fragment on the cycle.
        fragment: String,
    },
}

impl LimitError {
    /// `extensions.limit`: which limit was exceeded (`None` for refusals
    /// that are not limits).
    pub fn limit(&self) -> Option<&'static str> {
        match self {
            LimitError::Aliases { .. } => Some("aliases"),
            LimitError::RootFields { .. } => Some("root_fields"),
            LimitError::Depth { .. } | LimitError::DepthUnmeasured { .. } => Some("depth"),
            LimitError::RecursionDepth { .. } => Some("recursion_depth"),
            LimitError::Complexity { .. } => Some("complexity"),
            LimitError::PageSize { .. } => Some("page_size"),
            LimitError::Batch { .. } => Some("batch"),
            LimitError::BodySize { .. } => Some("body_size"),
            LimitError::Subscriptions { .. } => Some("subscriptions_per_connection"),
            LimitError::Connections { .. } => Some("connections_per_user"),
            LimitError::Nesting { .. } => Some("nesting"),
            LimitError::InputDepth { .. } => Some("input_depth"),
            LimitError::WhereDepth { .. } => Some("where_depth"),
            LimitError::ListLength { .. } => Some("list_length"),
            LimitError::IntrospectionDisabled | LimitError::FragmentCycle { .. } => None,
        }
    }

    /// `extensions.max`: the configured maximum.
    pub fn max(&self) -> Option<usize> {
        match self {
            LimitError::Aliases { max, .. }
            | LimitError::RootFields { max, .. }
            | LimitError::Depth { max, .. }
            | LimitError::DepthUnmeasured { max }
            | LimitError::RecursionDepth { max }
            | LimitError::Complexity { max }
            | LimitError::PageSize { max, .. }
            | LimitError::Batch { max, .. }
            | LimitError::BodySize { max }
            | LimitError::Subscriptions { max }
            | LimitError::Connections { max }
            | LimitError::Nesting { max }
            | LimitError::InputDepth { max }
            | LimitError::WhereDepth { max }
            | LimitError::ListLength { max, .. } => Some(*max),
            LimitError::IntrospectionDisabled | LimitError::FragmentCycle { .. } => None,
        }
    }

    /// `extensions.code`: `LIMIT_EXCEEDED` for limits, else
    /// `GRAPHQL_VALIDATION_FAILED`.
    pub fn code(&self) -> &'static str {
        if self.limit().is_some() {
            LIMIT_EXCEEDED
        } else {
            GRAPHQL_VALIDATION_FAILED
        }
    }

    /// The GraphQL error: the message, and `extensions` {code, limit, max}.
    pub fn into_server_error(self) -> ServerError {
        let mut err = ServerError::new(self.to_string(), None);
        let ext = err.extensions.get_or_insert_with(Default::default);
        ext.set("code", self.code());
        if let Some(limit) = self.limit() {
            ext.set("limit", limit);
        }
        if let Some(max) = self.max() {
            ext.set("max", max_value(max));
        }
        err
    }
}

impl From<LimitError> for ServerError {
    fn from(err: LimitError) -> Self {
        err.into_server_error()
    }
}

fn max_value(max: usize) -> Value {
    Value::from(u64::try_from(max).unwrap_or(u64::MAX))
}

/// Batch check for the HTTP layer: `LIMIT_EXCEEDED` (limit `batch`) when a
/// batch has more than `max_batch` requests.
pub fn check_batch(limits: &Limits, batch: &BatchRequest) -> Result<(), ServerError> {
    match batch {
        BatchRequest::Batch(requests) if requests.len() > limits.max_batch => {
            Err(LimitError::Batch {
                actual: requests.len(),
                max: limits.max_batch,
            }
            .into_server_error())
        }
        _ => Ok(()),
    }
}

/// Runs one request on `executor` as every entry point must: the limits
/// first ([`check_request`]; a refused request runs nothing, so sends no
/// SQL), then the operation, then [`finish_response`].
pub async fn execute(executor: &impl Executor, limits: &Limits, request: Request) -> Response {
    execute_typed(executor, limits, request, None).await.1
}

/// [`execute`], also saying which type of operation the request selected
/// (`None` when it was refused before one was known).
/// With `types`, argument values are also checked against their declared
/// types ([`TypeIndex::check`]).
pub async fn execute_typed(
    executor: &impl Executor,
    limits: &Limits,
    request: Request,
    types: Option<&TypeIndex>,
) -> (Option<OperationType>, Response) {
    // Parsing and validating a large document takes long on the CPU (seconds
    // for a megabyte in a debug build): on the multi-threaded runtime it
    // runs in place of a worker that hands its other tasks on
    // (`block_in_place`), so one such request does not stall the rest.
    if request.query.len() > LARGE_DOCUMENT_BYTES && multi_threaded() {
        let run = execute_checked(executor, limits, request, types);
        return tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(run));
    }
    execute_checked(executor, limits, request, types).await
}

/// Documents longer than this are parsed and validated off the async
/// workers' shared turn ([`execute_typed`]); ordinary operations are a few
/// kilobytes.
const LARGE_DOCUMENT_BYTES: usize = 16 * 1024;

fn multi_threaded() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

async fn execute_checked(
    executor: &impl Executor,
    limits: &Limits,
    mut request: Request,
    types: Option<&TypeIndex>,
) -> (Option<OperationType>, Response) {
    let operation = match check_request_typed(limits, &mut request, types) {
        Ok(operation) => operation,
        Err(err) => return (None, Response::from_errors(vec![err])),
    };
    let mut response = executor.execute(request).await;
    let subscription = operation == Some(OperationType::Subscription);
    finish_response(limits, &mut response, subscription);
    (operation, response)
}

/// Checks one request against the limits without touching the schema: parses
/// it (keeping the parsed document in the request, so it is not parsed
/// again) and runs every document limit. Returns the type of the operation
/// that would run, when the document names one unambiguously.
pub fn check_request(
    limits: &Limits,
    request: &mut Request,
) -> Result<Option<OperationType>, ServerError> {
    check_request_typed(limits, request, None)
}

/// [`check_request`], and with `types` the argument values' types.
pub fn check_request_typed(
    limits: &Limits,
    request: &mut Request,
    types: Option<&TypeIndex>,
) -> Result<Option<OperationType>, ServerError> {
    let introspection_allowed = introspection_allowed(limits, request);
    // Before the parser, which recurses once per bracket.
    input_bounds::check_text(limits, &request.query).map_err(LimitError::into_server_error)?;
    // Taken out for the duration of the check because the parsed document
    // borrows the request mutably.
    let variables = std::mem::take(&mut request.variables);
    let operation_name = request.operation_name.take();
    let result = match request.parsed_query() {
        Ok(doc) => check_document(
            limits,
            doc,
            operation_name.as_deref(),
            &variables,
            introspection_allowed,
        )
        .map_err(LimitError::into_server_error)
        .and_then(|operation| {
            missing_variable(doc, operation_name.as_deref(), &variables)?;
            check_types(types, doc, &variables)?;
            Ok(operation)
        }),
        Err(err) => Err(classify_parse_error(err, limits)),
    };
    request.variables = variables;
    request.operation_name = operation_name;
    result
}

/// [`check_request`] for a request whose query was parsed into `doc`
/// separately (a websocket subscription keeps its document apart from the
/// request it re-executes per delivery).
pub fn check_parsed(
    limits: &Limits,
    request: &Request,
    doc: &ExecutableDocument,
    types: Option<&TypeIndex>,
) -> Result<Option<OperationType>, ServerError> {
    let operation = check_document(
        limits,
        doc,
        request.operation_name.as_deref(),
        &request.variables,
        introspection_allowed(limits, request),
    )
    .map_err(LimitError::into_server_error)?;
    missing_variable(doc, request.operation_name.as_deref(), &request.variables)?;
    check_types(types, doc, &request.variables)?;
    Ok(operation)
}

fn check_types(
    types: Option<&TypeIndex>,
    doc: &ExecutableDocument,
    variables: &Variables,
) -> Result<(), ServerError> {
    types.map_or(Ok(()), |types| types.check(doc, variables))
}

/// `BAD_USER_INPUT` (`field: "$name"`) for a variable of a non-null type
/// that has no default and was not given (async-graphql's validation does
/// not check for it, and its executor then fails with a code-less error)
/// or was given as null.
fn missing_variable(
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
) -> Result<(), ServerError> {
    let Some(operation) = select_operation(doc, operation_name) else {
        return Ok(());
    };
    for def in &operation.node.variable_definitions {
        let def = &def.node;
        let name = def.name.node.as_str();
        if def.var_type.node.nullable || def.default_value.is_some() {
            continue;
        }
        let problem = match variables.get(name) {
            None => "was not provided",
            Some(Value::Null) => "must not be null",
            Some(_) => continue,
        };
        let message = format!(
            "variable `${name}` of type `{}` {problem}",
            def.var_type.node
        );
        let mut err = with_code(
            ServerError::new(message, Some(def.name.pos)),
            BAD_USER_INPUT,
        );
        err.extensions
            .get_or_insert_with(ErrorExtensionValues::default)
            .set("field", format!("${name}"));
        return Err(err);
    }
    Ok(())
}

fn introspection_allowed(limits: &Limits, request: &Request) -> bool {
    limits.introspection && request.introspection_mode != IntrospectionMode::Disabled
}

/// Checks a parsed document: introspection, depth (fields, and selections
/// with fragments), expanded size, aliases, root fields of the operation
/// named `operation_name`, and page sizes. The first limit exceeded wins.
pub fn check_document(
    limits: &Limits,
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
    introspection_allowed: bool,
) -> Result<Option<OperationType>, LimitError> {
    let mut introspection_used = false;
    let mut aliases = 0usize;
    let mut page_size: Option<(String, u64)> = None;
    let selected = select_operation(doc, operation_name);
    for_each_field(doc, &mut |field| {
        let name = field.name.node.as_str();
        if name == "__schema" || name == "__type" {
            introspection_used = true;
        }
        if field.alias.is_some() {
            aliases += 1;
        }
        if page_size.is_none() {
            page_size = oversized_page(field, limits.max_page_size, variables, doc, selected);
        }
    });
    if introspection_used && !introspection_allowed {
        return Err(LimitError::IntrospectionDisabled);
    }

    let mut shapes = ShapeWalker::new(doc, limits.recursion_limit());
    let mut shape = Shape::default();
    for (_, operation) in doc.operations.iter() {
        shape = shape.max(shapes.selection_set(&operation.node.selection_set.node)?);
    }
    if shape.nesting > limits.recursion_limit() {
        return Err(LimitError::RecursionDepth {
            max: limits.recursion_limit(),
        });
    }
    if shape.depth > limits.max_depth {
        return Err(LimitError::Depth {
            actual: shape.depth,
            max: limits.max_depth,
        });
    }
    if shape.introspection_depth > limits.introspection_depth() {
        return Err(LimitError::Depth {
            actual: shape.introspection_depth,
            max: limits.introspection_depth(),
        });
    }
    // Every field costs at least 1 unless a page multiplies it by 0, so more
    // expanded fields than the maximum complexity is over the limit in all
    // but that corner; checking it here keeps async-graphql's visitors,
    // which expand fragments without memoization, away from huge documents.
    if shape.fields > limits.max_complexity {
        return Err(LimitError::Complexity {
            max: limits.max_complexity,
        });
    }

    if aliases > limits.max_aliases {
        return Err(LimitError::Aliases {
            actual: aliases,
            max: limits.max_aliases,
        });
    }
    if let Some(operation) = selected {
        let root_fields = count_root_fields(doc, &operation.node.selection_set.node);
        if root_fields > limits.max_root_fields {
            return Err(LimitError::RootFields {
                actual: root_fields,
                max: limits.max_root_fields,
            });
        }
    }
    if let Some((argument, actual)) = page_size {
        return Err(LimitError::PageSize {
            argument,
            actual,
            max: limits.max_page_size,
        });
    }
    // Before async-graphql coerces any value (recursively).
    input_bounds::check_inputs(limits, doc, variables)?;
    Ok(selected.map(|op| op.node.ty))
}

/// The operation a request runs, as async-graphql chooses it; `None` when
/// the document names none unambiguously (async-graphql then says why).
pub(crate) fn select_operation<'a>(
    doc: &'a ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'a Positioned<OperationDefinition>> {
    match (&doc.operations, operation_name) {
        (DocumentOperations::Single(op), None) => Some(op),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
        _ => None,
    }
}

/// Calls `f` on every field written in the document (operations and
/// fragment definitions, fragments not expanded).
fn for_each_field<'a>(doc: &'a ExecutableDocument, f: &mut impl FnMut(&'a Field)) {
    fn walk<'a>(set: &'a SelectionSet, f: &mut impl FnMut(&'a Field)) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    f(&field.node);
                    walk(&field.node.selection_set.node, f);
                }
                Selection::InlineFragment(inline) => walk(&inline.node.selection_set.node, f),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    for (_, operation) in doc.operations.iter() {
        walk(&operation.node.selection_set.node, f);
    }
    for fragment in doc.fragments.values() {
        walk(&fragment.node.selection_set.node, f);
    }
}

/// The first `first`/`last` argument of `field` above `max`, resolving
/// variables from the request, else from the operation's defaults.
fn oversized_page(
    field: &Field,
    max: usize,
    variables: &Variables,
    doc: &ExecutableDocument,
    selected: Option<&Positioned<OperationDefinition>>,
) -> Option<(String, u64)> {
    let max = u64::try_from(max).unwrap_or(u64::MAX);
    field.arguments.iter().find_map(|(name, value)| {
        let name = name.node.as_str();
        if !PAGE_SIZE_ARGUMENTS.contains(&name) {
            return None;
        }
        let value = value
            .node
            .clone()
            .into_const_with(|var| variable_value(&var, variables, doc, selected).ok_or(()))
            .ok()?;
        match value {
            // Negative and non-integer sizes are the resolvers' BAD_USER_INPUT.
            Value::Number(n) => n
                .as_u64()
                .filter(|n| *n > max)
                .map(|n| (name.to_string(), n)),
            _ => None,
        }
    })
}

fn variable_value(
    name: &str,
    variables: &Variables,
    doc: &ExecutableDocument,
    selected: Option<&Positioned<OperationDefinition>>,
) -> Option<Value> {
    if let Some(value) = variables.get(name) {
        return Some(value.clone());
    }
    let default_in = |op: &Positioned<OperationDefinition>| {
        op.node
            .variable_definitions
            .iter()
            .find(|def| def.node.name.node.as_str() == name)
            .and_then(|def| def.node.default_value.as_ref())
            .map(|value| value.node.clone())
    };
    match selected {
        Some(op) => default_in(op),
        None => doc.operations.iter().find_map(|(_, op)| default_in(op)),
    }
}

/// Distinct response keys at the root of an operation, through fragment
/// spreads and inline fragments (each fragment looked at once: a second
/// spread adds the same keys).
fn count_root_fields(doc: &ExecutableDocument, root: &SelectionSet) -> usize {
    fn collect<'a>(
        doc: &'a ExecutableDocument,
        set: &'a SelectionSet,
        keys: &mut HashSet<&'a str>,
        seen: &mut HashSet<&'a str>,
    ) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let key = field.node.alias.as_ref().unwrap_or(&field.node.name);
                    keys.insert(key.node.as_str());
                }
                Selection::InlineFragment(inline) => {
                    collect(doc, &inline.node.selection_set.node, keys, seen)
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if seen.insert(name) {
                        if let Some(fragment) = doc.fragments.get(name) {
                            collect(doc, &fragment.node.selection_set.node, keys, seen);
                        }
                    }
                }
            }
        }
    }
    let mut keys = HashSet::new();
    collect(doc, root, &mut keys, &mut HashSet::new());
    keys.len()
}

/// The size of a selection set with its fragments expanded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Shape {
    /// Field depth outside introspection (leaves count).
    depth: usize,
    /// Field depth of `__schema`/`__type` subtrees.
    introspection_depth: usize,
    /// Nesting of selection sets, spreads and inline fragments, counted as
    /// async-graphql's recursive-depth check counts it.
    nesting: usize,
    /// Fields after expanding every fragment spread (saturating).
    fields: usize,
}

impl Shape {
    fn max(self, other: Shape) -> Shape {
        Shape {
            depth: self.depth.max(other.depth),
            introspection_depth: self.introspection_depth.max(other.introspection_depth),
            nesting: self.nesting.max(other.nesting),
            fields: self.fields.max(other.fields),
        }
    }
}

/// Measures selection sets, each fragment once (memoized), with the stack
/// bounded by the recursion limit.
struct ShapeWalker<'a> {
    doc: &'a ExecutableDocument,
    memo: HashMap<&'a str, Shape>,
    in_progress: HashSet<&'a str>,
    recursion_limit: usize,
    height: usize,
}

impl<'a> ShapeWalker<'a> {
    fn new(doc: &'a ExecutableDocument, recursion_limit: usize) -> Self {
        ShapeWalker {
            doc,
            memo: HashMap::new(),
            in_progress: HashSet::new(),
            recursion_limit,
            height: 0,
        }
    }

    fn selection_set(&mut self, set: &'a SelectionSet) -> Result<Shape, LimitError> {
        let mut shape = Shape::default();
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let child_set = &field.node.selection_set.node;
                    let (child, nesting) = if child_set.items.is_empty() {
                        (Shape::default(), 0)
                    } else {
                        let child = self.nested(child_set)?;
                        (child, child.nesting + 1)
                    };
                    let name = field.node.name.node.as_str();
                    if name == "__schema" || name == "__type" {
                        let below = child.depth.max(child.introspection_depth);
                        shape.introspection_depth = shape.introspection_depth.max(below + 1);
                    } else {
                        shape.depth = shape.depth.max(child.depth + 1);
                        if child.introspection_depth > 0 {
                            shape.introspection_depth =
                                shape.introspection_depth.max(child.introspection_depth + 1);
                        }
                    }
                    shape.nesting = shape.nesting.max(nesting);
                    shape.fields = shape.fields.saturating_add(1).saturating_add(child.fields);
                }
                Selection::InlineFragment(inline) => {
                    let child = self.nested(&inline.node.selection_set.node)?;
                    shape = merge_fragment(shape, child);
                }
                Selection::FragmentSpread(spread) => {
                    let child = self.fragment(spread.node.fragment_name.node.as_str())?;
                    shape = merge_fragment(shape, child);
                }
            }
        }
        Ok(shape)
    }

    fn nested(&mut self, set: &'a SelectionSet) -> Result<Shape, LimitError> {
        self.height += 1;
        if self.height > self.recursion_limit {
            return Err(LimitError::RecursionDepth {
                max: self.recursion_limit,
            });
        }
        let shape = self.selection_set(set);
        self.height -= 1;
        shape
    }

    fn fragment(&mut self, name: &'a str) -> Result<Shape, LimitError> {
        if let Some(shape) = self.memo.get(name) {
            return Ok(*shape);
        }
        // An unknown fragment is the validator's to report.
        let Some(fragment) = self.doc.fragments.get(name) else {
            return Ok(Shape::default());
        };
        if !self.in_progress.insert(name) {
            return Err(LimitError::FragmentCycle {
                fragment: name.to_string(),
            });
        }
        let shape = self.nested(&fragment.node.selection_set.node)?;
        self.in_progress.remove(name);
        self.memo.insert(name, shape);
        Ok(shape)
    }
}

/// A spread or inline fragment adds one nesting level and its fields.
fn merge_fragment(shape: Shape, child: Shape) -> Shape {
    Shape {
        depth: shape.depth.max(child.depth),
        introspection_depth: shape.introspection_depth.max(child.introspection_depth),
        nesting: shape.nesting.max(child.nesting + 1),
        fields: shape.fields.saturating_add(child.fields),
    }
}

/// The `extensions.code` of an error, if it has one.
pub fn error_code(err: &ServerError) -> Option<&str> {
    match err.extensions.as_ref()?.get("code")? {
        Value::String(code) => Some(code.as_str()),
        _ => None,
    }
}

fn with_code(mut err: ServerError, code: &str) -> ServerError {
    err.extensions
        .get_or_insert_with(ErrorExtensionValues::default)
        .set("code", code);
    err
}

fn limit_error(err: ServerError, limit: LimitError) -> ServerError {
    let mut coded = limit.into_server_error();
    coded.locations = err.locations;
    coded
}

/// async-graphql's message when its recursive-depth check (part of its
/// parse stage) fires.
const RECURSION_DEPTH_MESSAGE: &str = "The recursion depth of the query cannot be greater than";

/// Errors of the parse stage, which also runs async-graphql's recursive
/// depth and directive-count checks.
fn classify_parse_error(err: ServerError, limits: &Limits) -> ServerError {
    if error_code(&err).is_some() {
        return err;
    }
    if err.message.starts_with(RECURSION_DEPTH_MESSAGE) {
        let max = limits.recursion_limit();
        return limit_error(err, LimitError::RecursionDepth { max });
    }
    with_code(one_line(err), GRAPHQL_PARSE_FAILED)
}

/// A parse error's message in one line: the parser draws the document with
/// a caret over several lines (`--> 1:11`, `|`, `= expected ...`), while
/// the location is already in `locations`.
fn one_line(mut err: ServerError) -> ServerError {
    if !err.message.contains('\n') {
        return err;
    }
    let expected = err
        .message
        .lines()
        .find_map(|line| line.trim_start().strip_prefix("= "))
        .unwrap_or("unexpected input")
        .trim()
        .to_string();
    err.message = match err.locations.first() {
        Some(pos) => format!(
            "syntax error at line {}, column {}: {expected}",
            pos.line, pos.column
        ),
        None => format!("syntax error: {expected}"),
    };
    err
}

/// Errors of the validation stage, operation selection included;
/// async-graphql's own limit errors carry fixed messages (pinned by the
/// tests).
fn classify_validation_error(err: ServerError, limits: &Limits) -> ServerError {
    if error_code(&err).is_some() {
        return err;
    }
    match err.message.as_str() {
        "Query is too complex." => limit_error(
            err,
            LimitError::Complexity {
                max: limits.max_complexity,
            },
        ),
        "Query is nested too deep." => limit_error(
            err,
            LimitError::DepthUnmeasured {
                max: limits.introspection_depth(),
            },
        ),
        message => match invalid_argument(message) {
            // A well-formed document whose argument value is not of the
            // argument's type (an unknown enum value, a string for an Int):
            // the client's input, like Apollo's BAD_USER_INPUT.
            Some(field) => {
                let field = field.to_string();
                let mut coded = with_code(err, BAD_USER_INPUT);
                coded
                    .extensions
                    .get_or_insert_with(ErrorExtensionValues::default)
                    .set("field", field);
                coded
            }
            // A variable's value that is not of its declared type.
            None if is_input_value_error(message) => with_code(err, BAD_USER_INPUT),
            None => with_code(err, GRAPHQL_VALIDATION_FAILED),
        },
    }
}

/// The argument path of async-graphql's `Invalid value for argument "x.y", ...`.
fn invalid_argument(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("Invalid value for argument \"")?;
    rest.split('"').next().filter(|field| !field.is_empty())
}

/// Whether a message is one of async-graphql's input-coercion messages
/// (`InputValueError`): an argument or variable that is not a valid value of
/// its type, which is the client's mistake, not ours.
fn is_input_value_error(message: &str) -> bool {
    message.starts_with("Failed to parse \"") || message.starts_with("Expected input type \"")
}

/// The last pass over a response before an entry point sends it: every
/// error without a code gets one, and code-less errors that are not the
/// client's are masked. `subscription_over_http` says the request selected a
/// subscription but was executed one-shot (async-graphql then refuses it
/// with a code-less error).
pub fn finish_response(limits: &Limits, response: &mut Response, subscription_over_http: bool) {
    // Errors from before execution get the code of their stage.
    // async-graphql answers a document refused by its parse stage (where
    // its recursive-depth check runs; the parse itself ran in
    // check_request) or by validation (which includes selecting the
    // operation) with no data and errors without a path; resolver errors
    // carry their field's path, and ours outside any field carry a code.
    if response.data == Value::Null {
        response.errors = std::mem::take(&mut response.errors)
            .into_iter()
            .map(|err| {
                if !err.path.is_empty() {
                    err
                } else if err.message.starts_with(RECURSION_DEPTH_MESSAGE) {
                    classify_parse_error(err, limits)
                } else {
                    classify_validation_error(err, limits)
                }
            })
            .collect();
    }
    finish_errors(&mut response.errors, subscription_over_http);
}

/// [`finish_response`] on every response of a subscription stream.
pub fn finish_stream<'a>(
    limits: &'a Limits,
    stream: impl Stream<Item = Response> + 'a,
) -> impl Stream<Item = Response> + 'a {
    stream.map(|mut response| {
        finish_response(limits, &mut response, false);
        response
    })
}

fn finish_errors(errors: &mut [ServerError], subscription_over_http: bool) {
    for err in errors.iter_mut() {
        if error_code(err).is_some() {
            continue;
        }
        if subscription_over_http && err.path.is_empty() {
            // "Subscriptions are not supported on this transport."
            let coded = with_code(err.clone(), GRAPHQL_VALIDATION_FAILED);
            *err = coded;
        } else if is_input_value_error(&err.message) {
            let coded = with_code(err.clone(), BAD_USER_INPUT);
            *err = coded;
        } else {
            tracing::error!(
                error.message = %err.message,
                error.path = ?err.path,
                "internal error in a GraphQL operation"
            );
            err.message = INTERNAL_MESSAGE.to_string();
            let mut ext = ErrorExtensionValues::default();
            ext.set("code", INTERNAL);
            err.extensions = Some(ext);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::futures_util::stream::{self, BoxStream, Stream};
    use async_graphql::{
        Context, EmptyMutation, ErrorExtensions, Object, Schema, Subscription, Variables,
    };
    use clap::Parser;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Counts resolver calls, to prove a refused request ran none.
    #[derive(Default)]
    struct Calls(AtomicUsize);

    fn tick(ctx: &Context<'_>) {
        ctx.data_unchecked::<Arc<Calls>>()
            .0
            .fetch_add(1, Ordering::SeqCst);
    }

    struct Node(u32);

    #[Object]
    impl Node {
        async fn id(&self, ctx: &Context<'_>) -> u32 {
            tick(ctx);
            self.0
        }
        async fn child(&self) -> Node {
            Node(self.0 + 1)
        }
    }

    struct Query;

    #[Object]
    impl Query {
        async fn hello(&self, ctx: &Context<'_>) -> &str {
            tick(ctx);
            "hi"
        }
        async fn a(&self) -> i32 {
            1
        }
        async fn b(&self) -> i32 {
            2
        }
        async fn c(&self) -> i32 {
            3
        }
        async fn node(&self) -> Node {
            Node(0)
        }
        /// A connection-like list: its cost is the page size times the
        /// cost of one item.
        #[graphql(complexity = "first.unwrap_or(10).max(0) as usize * child_complexity")]
        async fn items(&self, first: Option<i32>) -> Vec<Node> {
            (0..first.unwrap_or(10).max(0) as u32).map(Node).collect()
        }
        async fn fail_plain(&self) -> async_graphql::Result<Option<i32>> {
            Err(async_graphql::Error::new(
                "relation \"lift.secret_table\" does not exist",
            ))
        }
        async fn fail_coded(&self) -> async_graphql::Result<Option<i32>> {
            Err(async_graphql::Error::new("session not found")
                .extend_with(|_, e| e.set("code", "NOT_FOUND")))
        }
        async fn echo_id(&self, id: uuid::Uuid) -> String {
            id.to_string()
        }
    }

    struct SubscriptionRoot;

    #[Subscription]
    impl SubscriptionRoot {
        async fn ticks(&self) -> impl Stream<Item = async_graphql::Result<i32>> {
            stream::iter(vec![
                Ok(1),
                Err(async_graphql::Error::new(
                    "listener socket closed: 10.0.0.7",
                )),
            ])
        }
    }

    type TestSchema = Schema<Query, EmptyMutation, SubscriptionRoot>;

    /// A schema reached the way the entry points reach theirs: through
    /// [`execute`], and for subscriptions [`check_request`] and
    /// [`finish_stream`] (as the websocket does).
    struct Checked {
        schema: TestSchema,
        limits: Limits,
    }

    impl Checked {
        async fn execute(&self, request: impl Into<Request>) -> Response {
            execute(&self.schema, &self.limits, request.into()).await
        }

        fn execute_stream(&self, request: impl Into<Request>) -> BoxStream<'_, Response> {
            let mut request = request.into();
            match check_request(&self.limits, &mut request) {
                Err(err) => stream::once(async { Response::from_errors(vec![err]) }).boxed(),
                Ok(_) => finish_stream(&self.limits, self.schema.execute_stream(request)).boxed(),
            }
        }
    }

    fn schema(limits: &Limits) -> (Checked, Arc<Calls>) {
        let calls = Arc::new(Calls::default());
        let schema = limits
            .apply(Schema::build(Query, EmptyMutation, SubscriptionRoot))
            .data(calls.clone())
            .finish();
        let limits = limits.clone();
        (Checked { schema, limits }, calls)
    }

    async fn run(limits: &Limits, query: &str) -> Response {
        schema(limits).0.execute(query).await
    }

    fn ext<'a>(err: &'a ServerError, key: &str) -> Option<&'a Value> {
        err.extensions.as_ref()?.get(key)
    }

    /// Asserts a single LIMIT_EXCEEDED error for `limit` with `max`.
    fn assert_limit(resp: &Response, limit: &str, max: u64) {
        assert_eq!(resp.errors.len(), 1, "errors: {:?}", resp.errors);
        let err = &resp.errors[0];
        assert_eq!(error_code(err), Some(LIMIT_EXCEEDED), "{err:?}");
        assert_eq!(ext(err, "limit"), Some(&Value::from(limit)), "{err:?}");
        assert_eq!(ext(err, "max"), Some(&Value::from(max)), "{err:?}");
    }

    fn assert_ok(resp: &Response) {
        assert!(resp.errors.is_empty(), "errors: {:?}", resp.errors);
    }

    fn nested_nodes(levels: usize) -> String {
        // `node` is level 1 and `id` the last level.
        let mut q = String::from("{ node { ");
        for _ in 2..levels {
            q.push_str("child { ");
        }
        q.push_str("id");
        for _ in 1..levels {
            q.push_str(" }");
        }
        q.push_str(" }");
        q
    }

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        limits: Limits,
    }

    #[test]
    fn flag_defaults_match_default() {
        let cli = Cli::try_parse_from(["gateway"]).expect("parse");
        assert_eq!(cli.limits, Limits::default());
        let cli = Cli::try_parse_from(["gateway", "--introspection", "false", "--max-depth", "7"])
            .expect("parse");
        assert!(!cli.limits.introspection);
        assert_eq!(cli.limits.max_depth, 7);
    }

    #[tokio::test]
    async fn depth_passes_at_max_and_trips_above() {
        let limits = Limits {
            max_depth: 4,
            ..Limits::default()
        };
        let (schema, calls) = schema(&limits);
        assert_ok(&schema.execute(nested_nodes(4)).await);
        let resp = schema.execute(nested_nodes(5)).await;
        assert_limit(&resp, "depth", 4);
        assert!(resp.errors[0].message.contains("5 fields deep"));
        // Fragments count toward depth.
        let resp = schema
            .execute("{ node { ...F } } fragment F on Node { child { child { child { id } } } }")
            .await;
        assert_limit(&resp, "depth", 4);
        assert_eq!(
            calls.0.load(Ordering::SeqCst),
            1,
            "only the passing query ran"
        );
    }

    #[tokio::test]
    async fn default_depth_allows_graphiql_introspection() {
        let resp = run(&Limits::default(), INTROSPECTION_QUERY).await;
        assert_ok(&resp);
        let json = serde_json::to_value(&resp.data).expect("json");
        assert!(json["__schema"]["types"]
            .as_array()
            .is_some_and(|t| !t.is_empty()));
        // The same depth outside introspection is refused.
        let resp = run(&Limits::default(), &nested_nodes(13)).await;
        assert_limit(&resp, "depth", 12);
    }

    #[test]
    fn graphiql_introspection_is_13_deep() {
        let doc = async_graphql::parser::parse_query(INTROSPECTION_QUERY).expect("parse");
        let op = select_operation(&doc, None).expect("one operation");
        let shape = ShapeWalker::new(&doc, 32)
            .selection_set(&op.node.selection_set.node)
            .expect("measured");
        assert_eq!(shape.introspection_depth, 13);
        assert_eq!(shape.depth, 0);
        assert!(shape.introspection_depth <= INTROSPECTION_MIN_DEPTH);
        assert!(shape.nesting <= Limits::default().recursion_limit());
    }

    #[tokio::test]
    async fn builtin_depth_and_complexity_errors_get_codes() {
        // Where check_request lets a document through, async-graphql's own
        // (here tighter) checks fire; their fixed messages must still map
        // to LIMIT_EXCEEDED.
        let limits = Limits::default();
        let schema = Checked {
            schema: Schema::build(Query, EmptyMutation, SubscriptionRoot)
                .limit_depth(2)
                .limit_complexity(3)
                .limit_recursive_depth(3)
                .data(Arc::new(Calls::default()))
                .finish(),
            limits: limits.clone(),
        };
        let resp = schema.execute("{ node { child { id } } }").await;
        assert_limit(&resp, "depth", limits.introspection_depth() as u64);
        let resp = schema.execute("{ items(first: 4) { id } }").await;
        assert_limit(&resp, "complexity", limits.max_complexity as u64);
        let resp = schema
            .execute("{ node { child { child { child { id } } } } }")
            .await;
        assert_limit(&resp, "recursion_depth", limits.recursion_limit() as u64);
    }

    #[tokio::test]
    async fn complexity_counts_page_sizes() {
        let limits = Limits {
            max_complexity: 20,
            ..Limits::default()
        };
        let (schema, calls) = schema(&limits);
        assert_ok(&schema.execute("{ items(first: 20) { id } }").await);
        assert_eq!(calls.0.load(Ordering::SeqCst), 20);
        let resp = schema.execute("{ items(first: 21) { id } }").await;
        assert_limit(&resp, "complexity", 20);
        let resp = schema
            .execute(
                Request::new("query($n: Int) { items(first: $n) { id } }")
                    .variables(Variables::from_json(serde_json::json!({"n": 21}))),
            )
            .await;
        assert_limit(&resp, "complexity", 20);
        assert_eq!(
            calls.0.load(Ordering::SeqCst),
            20,
            "refused queries ran nothing"
        );
    }

    #[tokio::test]
    async fn fragment_bomb_is_refused_quickly() {
        // F0 spreads F1 four times, F1 spreads F2 four times, ...: 4^24
        // fields once expanded, a few hundred bytes written.
        let mut q = String::from("{ ...F0 }\n");
        for i in 0..24 {
            q.push_str(&format!(
                "fragment F{i} on Query {{ ...F{n} ...F{n} ...F{n} ...F{n} }}\n",
                n = i + 1
            ));
        }
        q.push_str("fragment F24 on Query { hello }\n");
        let started = std::time::Instant::now();
        let resp = run(&Limits::default(), &q).await;
        assert_limit(&resp, "complexity", 5000);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[tokio::test]
    async fn fragment_cycles_and_deep_fragment_chains_are_refused() {
        let resp = run(
            &Limits::default(),
            "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
        )
        .await;
        assert_eq!(resp.errors.len(), 1);
        assert_eq!(error_code(&resp.errors[0]), Some(GRAPHQL_VALIDATION_FAILED));
        assert!(resp.errors[0].message.contains("spreads itself"));

        let mut q = String::from("{ ...F0 }\n");
        for i in 0..40 {
            q.push_str(&format!("fragment F{i} on Query {{ ...F{} }}\n", i + 1));
        }
        q.push_str("fragment F40 on Query { hello }\n");
        let resp = run(&Limits::default(), &q).await;
        assert_limit(&resp, "recursion_depth", 32);
    }

    #[tokio::test]
    async fn aliases_pass_at_max_and_trip_above() {
        let limits = Limits {
            max_aliases: 3,
            ..Limits::default()
        };
        assert_ok(&run(&limits, "{ x: hello y: hello z: hello }").await);
        let resp = run(&limits, "{ x: hello y: hello z: hello w: hello }").await;
        assert_limit(&resp, "aliases", 3);
        // Aliases in fragments count, nested ones too.
        let resp = run(
            &limits,
            "{ x: hello ...F } fragment F on Query { y: hello n: node { i: id } }",
        )
        .await;
        assert_limit(&resp, "aliases", 3);
    }

    #[tokio::test]
    async fn root_fields_pass_at_max_and_trip_above() {
        let limits = Limits {
            max_root_fields: 3,
            ..Limits::default()
        };
        assert_ok(&run(&limits, "{ a b c }").await);
        // The same field twice is one root field.
        assert_ok(&run(&limits, "{ a b c a ...F } fragment F on Query { b }").await);
        assert_limit(&run(&limits, "{ a b c hello }").await, "root_fields", 3);
        // Through a fragment spread and an inline fragment.
        let resp = run(
            &limits,
            "{ a ...F ... on Query { c } } fragment F on Query { b hello }",
        )
        .await;
        assert_limit(&resp, "root_fields", 3);
        // Only the executed operation counts.
        let resp = schema(&limits)
            .0
            .execute(
                Request::new("query Small { a } query Big { a b c hello }").operation_name("Small"),
            )
            .await;
        assert_ok(&resp);
    }

    #[tokio::test]
    async fn page_size_passes_at_max_and_trips_above() {
        let limits = Limits {
            max_page_size: 5,
            ..Limits::default()
        };
        let (schema, calls) = schema(&limits);
        assert_ok(&schema.execute("{ items(first: 5) { id } }").await);
        let resp = schema.execute("{ items(first: 6) { id } }").await;
        assert_limit(&resp, "page_size", 5);
        assert!(resp.errors[0].message.contains("first: 6"));
        let resp = schema
            .execute(
                Request::new("query($n: Int) { items(first: $n) { id } }")
                    .variables(Variables::from_json(serde_json::json!({"n": 6}))),
            )
            .await;
        assert_limit(&resp, "page_size", 5);
        // A variable's default counts when the request does not set it.
        let resp = schema
            .execute("query($n: Int = 50) { items(first: $n) { id } }")
            .await;
        assert_limit(&resp, "page_size", 5);
        assert_eq!(calls.0.load(Ordering::SeqCst), 5);
    }

    #[test]
    fn batch_passes_at_max_and_trips_above() {
        let limits = Limits {
            max_batch: 2,
            ..Limits::default()
        };
        let batch = |n: usize| BatchRequest::Batch((0..n).map(|_| Request::new("{ a }")).collect());
        assert!(check_batch(&limits, &batch(2)).is_ok());
        assert!(check_batch(&limits, &BatchRequest::Single(Request::new("{ a }"))).is_ok());
        let err = check_batch(&limits, &batch(3)).expect_err("over the limit");
        assert_eq!(error_code(&err), Some(LIMIT_EXCEEDED));
        assert_eq!(ext(&err, "limit"), Some(&Value::from("batch")));
        assert_eq!(ext(&err, "max"), Some(&Value::from(2u64)));
    }

    #[tokio::test]
    async fn introspection_can_be_switched_off() {
        let limits = Limits {
            introspection: false,
            ..Limits::default()
        };
        for query in [
            "{ __schema { queryType { name } } }",
            r#"{ __type(name: "Query") { name } }"#,
            "{ hello ...F } fragment F on Query { __schema { types { name } } }",
        ] {
            let resp = run(&limits, query).await;
            assert_eq!(resp.errors.len(), 1, "{query}: {:?}", resp.errors);
            assert_eq!(error_code(&resp.errors[0]), Some(GRAPHQL_VALIDATION_FAILED));
            assert_eq!(resp.errors[0].message, "introspection is disabled");
        }
        // `__typename` is not introspection of the schema.
        assert_ok(&run(&limits, "{ __typename hello }").await);
        // Per-request switch-off is honoured too.
        let resp = schema(&Limits::default())
            .0
            .execute(Request::new("{ __schema { queryType { name } } }").disable_introspection())
            .await;
        assert_eq!(resp.errors[0].message, "introspection is disabled");
    }

    #[tokio::test]
    async fn builtin_disabled_introspection_is_silent_hence_our_check() {
        // async-graphql alone answers `__schema: null` with no error at all
        // when introspection is off: a client could not tell why. This pins
        // that behaviour; `introspection_can_be_switched_off` shows ours.
        let schema = Schema::build(Query, EmptyMutation, SubscriptionRoot)
            .disable_introspection()
            .data(Arc::new(Calls::default()))
            .finish();
        let resp = schema.execute("{ __schema { queryType { name } } }").await;
        assert!(resp.errors.is_empty(), "{:?}", resp.errors);
        let json = serde_json::to_value(&resp.data).expect("json");
        assert!(json["__schema"].is_null(), "{json}");
    }

    #[tokio::test]
    async fn parse_and_validation_errors_get_codes() {
        let limits = Limits::default();
        let resp = run(&limits, "{ hello ").await;
        assert_eq!(error_code(&resp.errors[0]), Some(GRAPHQL_PARSE_FAILED));
        let resp = run(&limits, "{ nope }").await;
        assert_eq!(error_code(&resp.errors[0]), Some(GRAPHQL_VALIDATION_FAILED));
        assert!(resp.errors[0].message.contains("nope"));
        let resp = run(&limits, "query A { a } query B { b }").await;
        assert_eq!(error_code(&resp.errors[0]), Some(GRAPHQL_VALIDATION_FAILED));
        assert_eq!(
            resp.errors[0].message,
            "Operation name required in request."
        );
        let resp = schema(&limits)
            .0
            .execute(Request::new("query A { a }").operation_name("Z"))
            .await;
        assert_eq!(error_code(&resp.errors[0]), Some(GRAPHQL_VALIDATION_FAILED));
        assert!(resp.errors[0].message.contains("Unknown operation"));
        let resp = run(&limits, "subscription { ticks }").await;
        assert_eq!(error_code(&resp.errors[0]), Some(GRAPHQL_VALIDATION_FAILED));
    }

    #[tokio::test]
    async fn codeless_resolver_errors_are_masked_coded_ones_kept() {
        let resp = run(&Limits::default(), "{ a failPlain failCoded }").await;
        assert_eq!(resp.errors.len(), 2, "{:?}", resp.errors);
        let plain = resp
            .errors
            .iter()
            .find(|e| e.path == vec![async_graphql::PathSegment::Field("failPlain".into())])
            .expect("failPlain error");
        assert_eq!(error_code(plain), Some(INTERNAL));
        assert_eq!(plain.message, INTERNAL_MESSAGE);
        let coded = resp
            .errors
            .iter()
            .find(|e| e.path == vec![async_graphql::PathSegment::Field("failCoded".into())])
            .expect("failCoded error");
        assert_eq!(error_code(coded), Some("NOT_FOUND"));
        assert_eq!(coded.message, "session not found");
        let body = serde_json::to_string(&resp).expect("json");
        assert!(!body.contains("secret_table"), "{body}");
        assert_eq!(serde_json::to_value(&resp.data).expect("json")["a"], 1);
    }

    #[tokio::test]
    async fn bad_argument_values_are_bad_user_input() {
        let resp = schema(&Limits::default())
            .0
            .execute(
                Request::new("query($id: UUID!) { echoId(id: $id) }").variables(
                    Variables::from_json(serde_json::json!({"id": "not-a-uuid"})),
                ),
            )
            .await;
        assert_eq!(resp.errors.len(), 1, "{:?}", resp.errors);
        // async-graphql reads variables when the resolver runs, so this is
        // a code-less resolver error that must not be masked as INTERNAL.
        assert_eq!(error_code(&resp.errors[0]), Some(BAD_USER_INPUT));
        assert!(
            resp.errors[0].message.contains("UUID"),
            "{:?}",
            resp.errors[0]
        );
    }

    #[tokio::test]
    async fn subscription_stream_errors_are_masked() {
        let (schema, _) = schema(&Limits::default());
        let responses: Vec<Response> = schema
            .execute_stream("subscription { ticks }")
            .collect()
            .await;
        assert_eq!(responses.len(), 2, "{responses:?}");
        assert!(responses[0].errors.is_empty());
        assert_eq!(error_code(&responses[1].errors[0]), Some(INTERNAL));
        assert_eq!(responses[1].errors[0].message, INTERNAL_MESSAGE);
        // Limits apply to subscriptions as well.
        let limits = Limits {
            max_aliases: 0,
            ..Limits::default()
        };
        let (schema, _) = self::schema(&limits);
        let responses: Vec<Response> = schema
            .execute_stream("subscription { t: ticks }")
            .collect()
            .await;
        assert_limit(&responses[0], "aliases", 0);
    }

    #[test]
    fn check_request_parses_once_and_reports_operation_type() {
        let limits = Limits::default();
        let mut request = Request::new("subscription S { ticks }").operation_name("S");
        assert_eq!(
            check_request(&limits, &mut request).expect("ok"),
            Some(OperationType::Subscription)
        );
        // The request is handed back intact.
        assert_eq!(request.operation_name.as_deref(), Some("S"));
        let mut bad = Request::new("{ a");
        let err = check_request(&limits, &mut bad).expect_err("parse error");
        assert_eq!(error_code(&err), Some(GRAPHQL_PARSE_FAILED));
    }

    /// graphql-js 16's `getIntrospectionQuery({ descriptions: true,
    /// specifiedByUrl: true, directiveIsRepeatable: true,
    /// schemaDescription: true, inputValueDeprecation: true })`, what
    /// GraphiQL sends.
    const INTROSPECTION_QUERY: &str = r#"
    query IntrospectionQuery {
      __schema {
        description
        queryType { name }
        mutationType { name }
        subscriptionType { name }
        types { ...FullType }
        directives {
          name
          description
          isRepeatable
          locations
          args(includeDeprecated: true) { ...InputValue }
        }
      }
    }
    fragment FullType on __Type {
      kind
      name
      description
      specifiedByURL
      fields(includeDeprecated: true) {
        name
        description
        args(includeDeprecated: true) { ...InputValue }
        type { ...TypeRef }
        isDeprecated
        deprecationReason
      }
      inputFields(includeDeprecated: true) { ...InputValue }
      interfaces { ...TypeRef }
      enumValues(includeDeprecated: true) {
        name
        description
        isDeprecated
        deprecationReason
      }
      possibleTypes { ...TypeRef }
    }
    fragment InputValue on __InputValue {
      name
      description
      type { ...TypeRef }
      defaultValue
      isDeprecated
      deprecationReason
    }
    fragment TypeRef on __Type {
      kind
      name
      ofType {
        kind
        name
        ofType {
          kind
          name
          ofType {
            kind
            name
            ofType {
              kind
              name
              ofType {
                kind
                name
                ofType {
                  kind
                  name
                  ofType {
                    kind
                    name
                  }
                }
              }
            }
          }
        }
      }
    }
    "#;
}
