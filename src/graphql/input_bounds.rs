//! Bounds on the shape of input values (argument literals and variables),
//! checked before anything recurses over them.
//!
//! async-graphql's parser, its input coercion (`InputType::parse` of a
//! `...Where` with `and`/`or`/`not`), our filter builders and serde all
//! recurse once per level of nesting, so an unbounded input is a stack
//! overflow, which aborts the whole process. Two checks run before them,
//! neither recursive:
//!
//! - [`bracket_depth`]: a lexical scan of the query text (strings and
//!   comments skipped), before the parser sees it;
//! - [`check_inputs`]: over the parsed document's argument values and the
//!   request's variables: nesting of objects and lists (`input_depth`),
//!   nesting of `and`/`or`/`not` in a `where:` (`where_depth`, one limit for
//!   every domain) and list lengths (`list_length`).

use async_graphql::parser::types::{ExecutableDocument, Field, OperationDefinition};
use async_graphql::{Positioned, Value as ConstValue, Variables};
use async_graphql_value::Value;
use std::collections::HashMap;

use super::limits::{LimitError, Limits};

/// The argument whose value is a `...Where` filter tree.
const WHERE_ARGUMENT: &str = "where";
/// The keys that nest one `where` inside another.
const COMBINATORS: [&str; 3] = ["and", "or", "not"];
/// The key below which a `where` holds JSON, not filters.
const JSON_KEY: &str = "contains";

/// The deepest nesting of `(`, `[` and `{` in a GraphQL document, strings,
/// block strings and comments skipped. Linear and iterative: it runs on
/// text no parser has accepted yet.
pub fn bracket_depth(query: &str) -> usize {
    let bytes = query.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    // `\"""` is an escaped delimiter inside a block string.
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    deepest
}

/// The bracket nesting a document within every limit can need: selections
/// (the recursion limit), one argument list, an input value, and slack for
/// variable definitions and directives.
pub fn max_bracket_depth(limits: &Limits) -> usize {
    limits
        .recursion_limit()
        .saturating_add(limits.max_input_depth)
        .saturating_add(4)
}

/// Refuses a query whose brackets nest deeper than any document within the
/// limits would, before it is parsed.
pub fn check_text(limits: &Limits, query: &str) -> Result<(), LimitError> {
    let max = max_bracket_depth(limits);
    if bracket_depth(query) > max {
        return Err(LimitError::Nesting { max });
    }
    Ok(())
}

/// The shape of one value, measured once.
#[derive(Clone, Copy, Default)]
struct Measure {
    /// Levels of objects and lists (a scalar is 0).
    depth: usize,
    /// Levels of `and`/`or`/`not`, were the value a `where`.
    where_depth: usize,
}

/// Checks every argument value of the document (fragments included) and
/// every variable against the input limits. Variables are measured once,
/// then added where they are used.
pub fn check_inputs(
    limits: &Limits,
    doc: &ExecutableDocument,
    variables: &Variables,
) -> Result<(), LimitError> {
    let mut measured: HashMap<&str, Measure> = HashMap::new();
    for (name, value) in variables.iter() {
        measured.insert(
            name.as_str(),
            measure(limits, Node::Const(value), &HashMap::new())?,
        );
    }
    for (_, operation) in doc.operations.iter() {
        for def in &operation.node.variable_definitions {
            let name = def.node.name.node.as_str();
            if let (Some(default), false) = (&def.node.default_value, measured.contains_key(name)) {
                let m = measure(limits, Node::Const(&default.node), &HashMap::new())?;
                measured.insert(name, m);
            }
        }
    }
    let mut result = Ok(());
    for_each_field(doc, &mut |field| {
        if result.is_err() {
            return;
        }
        for (name, value) in &field.arguments {
            let mut m = match measure(limits, Node::Lit(&value.node), &measured) {
                Ok(m) => m,
                Err(err) => {
                    result = Err(err);
                    return;
                }
            };
            if name.node.as_str() != WHERE_ARGUMENT {
                m.where_depth = 0;
            }
            if m.where_depth > limits.max_where_depth {
                result = Err(LimitError::WhereDepth {
                    max: limits.max_where_depth,
                });
                return;
            }
        }
    });
    result
}

/// Calls `f` on every field of every operation and fragment.
fn for_each_field<'a>(doc: &'a ExecutableDocument, f: &mut impl FnMut(&'a Field)) {
    use async_graphql::parser::types::Selection;
    let mut sets: Vec<_> = doc
        .operations
        .iter()
        .map(|(_, op): (_, &'a Positioned<OperationDefinition>)| &op.node.selection_set.node)
        .chain(doc.fragments.values().map(|f| &f.node.selection_set.node))
        .collect();
    while let Some(set) = sets.pop() {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    f(&field.node);
                    sets.push(&field.node.selection_set.node);
                }
                Selection::InlineFragment(inline) => sets.push(&inline.node.selection_set.node),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
}

/// A value to measure: a literal of the document (which may hold
/// variables) or a constant (a variable's value).
#[derive(Clone, Copy)]
enum Node<'a> {
    Lit(&'a Value),
    Const(&'a ConstValue),
}

/// What one level of a value holds: its children, each with whether it
/// adds a `where` level (`Some(true)`), keeps it (`Some(false)`) or leaves
/// filters for JSON (`None`), or the measure of a variable.
enum Level<'a> {
    Leaf,
    Variable(Measure),
    List(Vec<Node<'a>>),
    Object(Vec<(Option<bool>, Node<'a>)>),
}

fn key_kind(key: &str) -> Option<bool> {
    if key == JSON_KEY {
        None
    } else {
        Some(COMBINATORS.contains(&key))
    }
}

fn level<'a>(node: Node<'a>, variables: &HashMap<&str, Measure>) -> Level<'a> {
    match node {
        Node::Lit(Value::Variable(name)) => {
            Level::Variable(variables.get(name.as_str()).copied().unwrap_or_default())
        }
        Node::Lit(Value::List(items)) => Level::List(items.iter().map(Node::Lit).collect()),
        Node::Lit(Value::Object(fields)) => Level::Object(
            fields
                .iter()
                .map(|(k, v)| (key_kind(k.as_str()), Node::Lit(v)))
                .collect(),
        ),
        Node::Const(ConstValue::List(items)) => {
            Level::List(items.iter().map(Node::Const).collect())
        }
        Node::Const(ConstValue::Object(fields)) => Level::Object(
            fields
                .iter()
                .map(|(k, v)| (key_kind(k.as_str()), Node::Const(v)))
                .collect(),
        ),
        _ => Level::Leaf,
    }
}

/// Measures `root` with an explicit stack, refusing it at the first level
/// or list past a limit (so the walk itself never goes deeper than the
/// limit either).
fn measure(
    limits: &Limits,
    root: Node<'_>,
    variables: &HashMap<&str, Measure>,
) -> Result<Measure, LimitError> {
    // (value, its depth, its where depth; None below a JSON key)
    let mut stack = vec![(root, 0usize, Some(0usize))];
    let mut out = Measure::default();
    let too_deep = || LimitError::InputDepth {
        max: limits.max_input_depth,
    };
    while let Some((node, depth, where_depth)) = stack.pop() {
        out.depth = out.depth.max(depth);
        out.where_depth = out.where_depth.max(where_depth.unwrap_or(0));
        match level(node, variables) {
            Level::Leaf => {}
            Level::Variable(m) => {
                out.depth = out.depth.max(depth + m.depth);
                if let Some(w) = where_depth {
                    out.where_depth = out.where_depth.max(w + m.where_depth);
                }
            }
            Level::List(items) => {
                if items.len() > limits.max_list_length {
                    return Err(LimitError::ListLength {
                        actual: items.len(),
                        max: limits.max_list_length,
                    });
                }
                if !items.is_empty() && depth + 1 > limits.max_input_depth {
                    return Err(too_deep());
                }
                stack.extend(items.into_iter().map(|n| (n, depth + 1, where_depth)));
            }
            Level::Object(fields) => {
                if !fields.is_empty() && depth + 1 > limits.max_input_depth {
                    return Err(too_deep());
                }
                for (kind, child) in fields {
                    let child_where = match (kind, where_depth) {
                        (Some(true), Some(w)) => Some(w + 1),
                        (Some(false), w) => w,
                        _ => None,
                    };
                    stack.push((child, depth + 1, child_where));
                }
            }
        }
        if out.depth > limits.max_input_depth {
            return Err(too_deep());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::default()
    }

    fn check(query: &str, variables: serde_json::Value) -> Result<(), LimitError> {
        let limits = limits();
        check_text(&limits, query)?;
        let doc = async_graphql::parser::parse_query(query).expect("parses");
        check_inputs(&limits, &doc, &Variables::from_json(variables))
    }

    fn nested_where(levels: usize, key: &str) -> String {
        let (open, close) = match key {
            "not" => ("{not:".to_string(), "}".to_string()),
            k => (format!("{{{k}:["), "]}".to_string()),
        };
        format!(
            "{}{{id:{{isNull:false}}}}{}",
            open.repeat(levels),
            close.repeat(levels)
        )
    }

    #[test]
    fn bracket_depth_skips_strings_and_comments() {
        assert_eq!(bracket_depth("{ a { b } }"), 2);
        assert_eq!(bracket_depth("{ a(s: \"{{{{[[[\") }"), 2);
        assert_eq!(bracket_depth("{ a(s: \"\"\"{{{ \\\"\"\" {{{\"\"\") }"), 2);
        assert_eq!(bracket_depth("# {{{{{{\n{ a }"), 1);
        assert_eq!(bracket_depth("{ a(s: \"\\\"{{\") }"), 2);
        assert_eq!(bracket_depth(&"[".repeat(100_000)), 100_000);
    }

    #[test]
    fn where_nesting_passes_at_the_limit_and_trips_above() {
        for key in ["and", "or", "not"] {
            let at = format!("{{ x(where: {}) }}", nested_where(8, key));
            assert!(check(&at, serde_json::json!({})).is_ok(), "{key} at 8");
            let above = format!("{{ x(where: {}) }}", nested_where(9, key));
            assert_eq!(
                check(&above, serde_json::json!({})),
                Err(LimitError::WhereDepth { max: 8 }),
                "{key} at 9"
            );
        }
    }

    #[test]
    fn combinators_outside_where_and_json_below_contains_do_not_count() {
        let json = format!("{{ x(input: {}) }}", nested_where(9, "not"));
        assert!(check(&json, serde_json::json!({})).is_ok());
        let contains = format!(
            "{{ x(where: {{metadata: {{contains: {}}}}}) }}",
            nested_where(9, "not")
        );
        assert!(check(&contains, serde_json::json!({})).is_ok());
    }

    #[test]
    fn variables_count_where_they_are_used() {
        let mut w = serde_json::json!({"id": {"isNull": false}});
        for _ in 0..5 {
            w = serde_json::json!({ "and": [w] });
        }
        let q = "query($w: W) { x(where: {or: [{not: {and: [$w]}}]}) }";
        assert!(check(q, serde_json::json!({ "w": w.clone() })).is_ok());
        let q = "query($w: W) { x(where: {or: [{not: {and: [{or: [$w]}]}}]}) }";
        assert_eq!(
            check(q, serde_json::json!({ "w": w })),
            Err(LimitError::WhereDepth { max: 8 })
        );
    }

    #[test]
    fn deep_values_and_long_lists_are_refused_without_recursing() {
        let mut deep = serde_json::json!(1);
        for _ in 0..33 {
            deep = serde_json::json!({ "a": deep });
        }
        assert_eq!(
            check(
                "query($v: JSON) { x(v: $v) }",
                serde_json::json!({ "v": deep })
            ),
            Err(LimitError::InputDepth { max: 32 })
        );
        let literal = format!("{{ x(v: {}1{}) }}", "[".repeat(33), "]".repeat(33));
        assert_eq!(
            check(&literal, serde_json::json!({})),
            Err(LimitError::InputDepth { max: 32 })
        );
        let long = format!("{{ x(v: [{}]) }}", vec!["1"; 1001].join(","));
        assert_eq!(
            check(&long, serde_json::json!({})),
            Err(LimitError::ListLength {
                actual: 1001,
                max: 1000
            })
        );
        let huge = format!("{{ x(v: {}1{}) }}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(
            check(&huge, serde_json::json!({})),
            Err(LimitError::Nesting { .. })
        ));
    }
}
