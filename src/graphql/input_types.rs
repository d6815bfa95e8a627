//! Argument values checked against their declared types where
//! async-graphql's coercion is laxer than the spec or less precise than our
//! error contract, before anything runs:
//!
//! - an enum value written as a string literal (`source: "PROMPT"`) is
//!   refused: the spec allows strings for enums only in variables (JSON has
//!   no enum literals);
//! - an `Int` outside 32 bits, in a literal or a variable, is refused with
//!   `field` naming where it is (async-graphql only says "Failed to parse
//!   Int", without the field).
//!
//! - a string holding a NUL character (`\u0000`) is refused: PostgreSQL
//!   text and jsonb cannot hold one, and the database's refusal mid-request
//!   would end the request's transaction for its other fields.
//!
//! All are `BAD_USER_INPUT` with `extensions.field`: the argument path
//! (`input.source`) for a literal, the variable path (`$x`, `$input.count`)
//! for a variable. The types come from the schema's own SDL, indexed once
//! ([`TypeIndex`]). Input values are already bounded in depth
//! (`input_bounds` runs first), so the walks here recurse safely.

use async_graphql::parser::types::{
    BaseType, ExecutableDocument, OperationType, Selection, SelectionSet, ServiceDocument, Type,
    TypeKind, TypeSystemDefinition,
};
use async_graphql::{ErrorExtensionValues, Pos, ServerError, Value as ConstValue, Variables};
use async_graphql_value::Value;
use std::collections::{HashMap, HashSet};

use super::limits::BAD_USER_INPUT;

/// A field of an object or interface type: its arguments' types and the
/// named type it returns.
struct FieldInfo {
    arguments: HashMap<String, Type>,
    returns: String,
}

/// The types of a schema that the checks need, from its SDL.
#[derive(Default)]
pub struct TypeIndex {
    /// Object and interface types: field name to field.
    outputs: HashMap<String, HashMap<String, FieldInfo>>,
    /// Input object types: field name to type.
    inputs: HashMap<String, HashMap<String, Type>>,
    enums: HashSet<String>,
    /// Root types: query, mutation, subscription.
    roots: [Option<String>; 3],
}

fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(inner) => named(inner),
    }
}

impl TypeIndex {
    /// Indexes a schema's SDL (`Schema::sdl()`); an SDL that does not parse
    /// gives an empty index, which checks nothing.
    pub fn from_sdl(sdl: &str) -> Self {
        let Ok(doc) = async_graphql::parser::parse_schema(sdl) else {
            return Self::default();
        };
        Self::from_document(&doc)
    }

    fn from_document(doc: &ServiceDocument) -> Self {
        let mut index = TypeIndex {
            roots: [
                Some("Query".into()),
                Some("Mutation".into()),
                Some("Subscription".into()),
            ],
            ..Default::default()
        };
        for definition in &doc.definitions {
            match definition {
                TypeSystemDefinition::Schema(schema) => {
                    let schema = &schema.node;
                    let name = |n: &Option<async_graphql::Positioned<async_graphql::Name>>| {
                        n.as_ref().map(|n| n.node.to_string())
                    };
                    index.roots = [
                        name(&schema.query),
                        name(&schema.mutation),
                        name(&schema.subscription),
                    ];
                }
                TypeSystemDefinition::Type(ty) => index.add_type(&ty.node),
                TypeSystemDefinition::Directive(_) => {}
            }
        }
        index
    }

    fn add_type(&mut self, ty: &async_graphql::parser::types::TypeDefinition) {
        let name = ty.name.node.to_string();
        let fields = match &ty.kind {
            TypeKind::Object(object) => &object.fields,
            TypeKind::Interface(interface) => &interface.fields,
            TypeKind::Enum(_) => {
                self.enums.insert(name);
                return;
            }
            TypeKind::InputObject(input) => {
                let fields = input
                    .fields
                    .iter()
                    .map(|f| (f.node.name.node.to_string(), f.node.ty.node.clone()))
                    .collect();
                self.inputs.insert(name, fields);
                return;
            }
            TypeKind::Scalar | TypeKind::Union(_) => return,
        };
        let fields = fields
            .iter()
            .map(|field| {
                let field = &field.node;
                let arguments = field
                    .arguments
                    .iter()
                    .map(|a| (a.node.name.node.to_string(), a.node.ty.node.clone()))
                    .collect();
                let returns = named(&field.ty.node).to_string();
                (
                    field.name.node.to_string(),
                    FieldInfo { arguments, returns },
                )
            })
            .collect();
        self.outputs.insert(name, fields);
    }

    fn root(&self, ty: OperationType) -> Option<&str> {
        let i = match ty {
            OperationType::Query => 0,
            OperationType::Mutation => 1,
            OperationType::Subscription => 2,
        };
        self.roots[i].as_deref()
    }

    /// Checks every argument literal of the document and every variable
    /// given for its operations; the first mistake found.
    pub fn check(
        &self,
        doc: &ExecutableDocument,
        variables: &Variables,
    ) -> Result<(), ServerError> {
        for (_, operation) in doc.operations.iter() {
            let operation = &operation.node;
            for def in &operation.variable_definitions {
                let name = def.node.name.node.as_str();
                if let Some(value) = variables.get(name) {
                    let check = Check {
                        index: self,
                        literal: false,
                        pos: def.node.name.pos,
                    };
                    check.constant(value, &def.node.var_type.node, &format!("${name}"))?;
                }
            }
            if let Some(root) = self.root(operation.ty) {
                self.selection_set(&operation.selection_set.node, root)?;
            }
        }
        for fragment in doc.fragments.values() {
            let on = fragment.node.type_condition.node.on.node.as_str();
            self.selection_set(&fragment.node.selection_set.node, on)?;
        }
        Ok(())
    }

    fn selection_set(&self, set: &SelectionSet, parent: &str) -> Result<(), ServerError> {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    // Unknown types and fields are the validator's to report.
                    let Some(info) = self
                        .outputs
                        .get(parent)
                        .and_then(|fields| fields.get(field.name.node.as_str()))
                    else {
                        continue;
                    };
                    for (name, value) in &field.arguments {
                        if let Some(ty) = info.arguments.get(name.node.as_str()) {
                            let check = Check {
                                index: self,
                                literal: true,
                                pos: value.pos,
                            };
                            check.literal(&value.node, ty, name.node.as_str())?;
                        }
                    }
                    self.selection_set(&field.selection_set.node, &info.returns)?;
                }
                Selection::InlineFragment(inline) => {
                    let on = inline
                        .node
                        .type_condition
                        .as_ref()
                        .map_or(parent, |c| c.node.on.node.as_str());
                    self.selection_set(&inline.node.selection_set.node, on)?;
                }
                Selection::FragmentSpread(_) => {}
            }
        }
        Ok(())
    }
}

/// One value's check: whether it is a literal of the document (where an
/// enum must be an enum literal) and where to point the error.
struct Check<'a> {
    index: &'a TypeIndex,
    literal: bool,
    pos: Pos,
}

impl Check<'_> {
    fn literal(&self, value: &Value, ty: &Type, path: &str) -> Result<(), ServerError> {
        match value {
            // Checked where the variable is defined.
            Value::Variable(_) => Ok(()),
            Value::List(items) => match &ty.base {
                BaseType::List(inner) => items
                    .iter()
                    .enumerate()
                    .try_for_each(|(i, item)| self.literal(item, inner, &format!("{path}.{i}"))),
                BaseType::Named(_) => Ok(()),
            },
            Value::Object(fields) => self.object(
                fields.iter().map(|(k, v)| (k.as_str(), v)),
                ty,
                path,
                Self::literal,
            ),
            Value::String(text) => self.string(text, ty, path),
            Value::Number(n) => self.number(n, ty, path),
            _ => Ok(()),
        }
    }

    fn constant(&self, value: &ConstValue, ty: &Type, path: &str) -> Result<(), ServerError> {
        match value {
            ConstValue::List(items) => {
                if let BaseType::List(inner) = &ty.base {
                    items.iter().enumerate().try_for_each(|(i, item)| {
                        self.constant(item, inner, &format!("{path}.{i}"))
                    })?;
                }
            }
            ConstValue::Object(fields) => self.object(
                fields.iter().map(|(k, v)| (k.as_str(), v)),
                ty,
                path,
                Self::constant,
            )?,
            ConstValue::String(text) => self.string(text, ty, path)?,
            ConstValue::Number(n) => self.number(n, ty, path)?,
            _ => {}
        }
        self.scalar_kind(value, ty, path)
    }

    /// A variable's JSON value of the wrong kind for a built-in scalar (a
    /// string for an `Int`): one error naming the variable, where
    /// async-graphql reports it twice (at the variable and at the
    /// argument) under two codes.
    fn scalar_kind(&self, value: &ConstValue, ty: &Type, path: &str) -> Result<(), ServerError> {
        let name = named(ty);
        let fits = match (name, value) {
            (_, ConstValue::Null) => true,
            (_, ConstValue::List(_)) if matches!(ty.base, BaseType::List(_)) => true,
            ("Int", ConstValue::Number(n)) => n.is_i64() || n.is_u64(),
            ("Float", ConstValue::Number(_)) => true,
            ("Boolean", ConstValue::Boolean(_)) => true,
            ("String", ConstValue::String(_)) => true,
            ("Int" | "Float" | "Boolean" | "String", _) => false,
            _ => true,
        };
        if fits {
            return Ok(());
        }
        Err(self.error(
            path,
            format!("`{path}` must be of type {name}, as the operation declares"),
        ))
    }

    /// An input object's fields, each against its declared type; a single
    /// value given for a list type is checked as an item.
    fn object<'v, V: 'v>(
        &self,
        fields: impl Iterator<Item = (&'v str, &'v V)>,
        ty: &Type,
        path: &str,
        check: fn(&Self, &V, &Type, &str) -> Result<(), ServerError>,
    ) -> Result<(), ServerError> {
        let Some(declared) = self.index.inputs.get(named(ty)) else {
            return Ok(());
        };
        for (key, value) in fields {
            if let Some(field_ty) = declared.get(key) {
                check(self, value, field_ty, &format!("{path}.{key}"))?;
            }
        }
        Ok(())
    }

    fn string(&self, text: &str, ty: &Type, path: &str) -> Result<(), ServerError> {
        // PostgreSQL stores no NUL in text or jsonb: refused here, naming
        // the field, rather than by the database mid-request.
        if text.contains('\0') {
            return Err(self.error(
                path,
                format!("`{path}` contains a NUL character (\\u0000), which text cannot hold"),
            ));
        }
        let name = named(ty);
        if self.literal && self.index.enums.contains(name) {
            return Err(self.error(
                path,
                format!("`{path}` is an enum ({name}): write its value without quotes"),
            ));
        }
        Ok(())
    }

    fn number(&self, n: &async_graphql::Number, ty: &Type, path: &str) -> Result<(), ServerError> {
        let out_of_range = match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i32::try_from(i).is_err(),
            (None, Some(_)) => true,
            // Floats are the validator's (not an Int at all).
            (None, None) => false,
        };
        if named(ty) == "Int" && out_of_range {
            return Err(self.error(
                path,
                format!("`{path}` is an Int: it must be between -2147483648 and 2147483647"),
            ));
        }
        Ok(())
    }

    fn error(&self, path: &str, message: String) -> ServerError {
        let mut err = ServerError::new(message, Some(self.pos));
        let mut ext = ErrorExtensionValues::default();
        ext.set("code", BAD_USER_INPUT);
        ext.set("field", path);
        err.extensions = Some(ext);
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDL: &str = r#"
        schema { query: QueryRoot }
        enum Source { PROMPT CODE }
        input Inner { source: Source, count: Int, sources: [Source!] }
        input In { inner: Inner, count: Int, name: String }
        type Item { id: Int, child(count: Int): Item }
        type QueryRoot { item(input: In, source: Source, count: Int, list: [Int!]): Item }
    "#;

    fn check(query: &str, variables: serde_json::Value) -> Result<(), (String, String)> {
        let index = TypeIndex::from_sdl(SDL);
        let doc = async_graphql::parser::parse_query(query).expect("parses");
        index
            .check(&doc, &Variables::from_json(variables))
            .map_err(|err| {
                let ext = err.extensions.expect("extensions");
                let field = match ext.get("field") {
                    Some(ConstValue::String(f)) => f.clone(),
                    other => panic!("field: {other:?}"),
                };
                assert_eq!(ext.get("code"), Some(&ConstValue::from(BAD_USER_INPUT)));
                (field, err.message)
            })
    }

    #[test]
    fn enum_values_are_enum_literals_or_variables() {
        assert!(check("{ item(source: PROMPT) { id } }", serde_json::json!({})).is_ok());
        assert_eq!(
            check("{ item(source: \"PROMPT\") { id } }", serde_json::json!({}))
                .unwrap_err()
                .0,
            "source"
        );
        assert_eq!(
            check(
                "{ item(input: { inner: { sources: [CODE, \"PROMPT\"] } }) { id } }",
                serde_json::json!({})
            )
            .unwrap_err()
            .0,
            "input.inner.sources.1"
        );
        let q = "query($s: Source, $i: In) { item(source: $s, input: $i) { id } }";
        let vars = serde_json::json!({ "s": "PROMPT", "i": { "inner": { "source": "CODE" } } });
        assert!(
            check(q, vars).is_ok(),
            "variables are JSON: strings are right"
        );
        // A String argument takes strings, of course.
        assert!(check(
            "{ item(input: { name: \"PROMPT\" }) { id } }",
            serde_json::json!({})
        )
        .is_ok());
    }

    #[test]
    fn ints_past_32_bits_name_their_field() {
        assert!(check("{ item(count: 2147483647) { id } }", serde_json::json!({})).is_ok());
        assert_eq!(
            check("{ item(count: 2147483648) { id } }", serde_json::json!({}))
                .unwrap_err()
                .0,
            "count"
        );
        assert_eq!(
            check(
                "{ item { child(count: -2147483649) { id } } }",
                serde_json::json!({})
            )
            .unwrap_err()
            .0,
            "count"
        );
        assert_eq!(
            check(
                "{ item(list: [1, 99999999999]) { id } }",
                serde_json::json!({})
            )
            .unwrap_err()
            .0,
            "list.1"
        );
        let q = "query($n: Int!, $i: In) { item(count: $n, input: $i) { id } }";
        assert_eq!(
            check(q, serde_json::json!({ "n": 99999999999i64 }))
                .unwrap_err()
                .0,
            "$n"
        );
        assert_eq!(
            check(q, serde_json::json!({ "n": 1, "i": { "inner": { "count": 18446744073709551615u64 } } }))
                .unwrap_err()
                .0,
            "$i.inner.count"
        );
        assert_eq!(
            check(q, serde_json::json!({ "n": "abc" })).unwrap_err().0,
            "$n"
        );
        assert!(check(q, serde_json::json!({ "n": 5, "i": null })).is_ok());
        assert_eq!(
            check(
                "{ item(input: { name: \"a\\u0000b\" }) { id } }",
                serde_json::json!({})
            )
            .unwrap_err()
            .0,
            "input.name"
        );
        assert_eq!(
            check(q, serde_json::json!({ "n": 1, "i": { "name": "a\u{0}b" } }))
                .unwrap_err()
                .0,
            "$i.name"
        );
        let fragment = "query { ...F } fragment F on QueryRoot { item(count: 4294967296) { id } }";
        assert_eq!(
            check(fragment, serde_json::json!({})).unwrap_err().0,
            "count"
        );
    }
}
