//! The schema the generators draw from: `schema.graphql` at the repository
//! root (the exported SDL, kept current by a test of tests/api), read with
//! async-graphql's own SDL parser into a small model of root fields, object
//! types, input objects, enums and scalars.

use async_graphql::parser::types::{BaseType, Type, TypeKind, TypeSystemDefinition};
use std::collections::BTreeMap;

/// The SDL the gateway exports.
const SDL: &str = include_str!("../../schema.graphql");

/// A type reference: `Name`, `Name!`, `[Name!]`, ...
#[derive(Clone, Debug)]
pub enum TypeRef {
    /// A named type; `true` when non-null.
    Named(String, bool),
    /// A list of the inner type; `true` when non-null.
    List(Box<TypeRef>, bool),
}

impl TypeRef {
    fn from_parser(ty: &Type) -> TypeRef {
        match &ty.base {
            BaseType::Named(name) => TypeRef::Named(name.to_string(), !ty.nullable),
            BaseType::List(inner) => {
                TypeRef::List(Box::new(TypeRef::from_parser(inner)), !ty.nullable)
            }
        }
    }

    /// Whether the outer type is non-null.
    pub fn non_null(&self) -> bool {
        match self {
            TypeRef::Named(_, n) | TypeRef::List(_, n) => *n,
        }
    }

    /// The named type under any lists.
    pub fn base(&self) -> &str {
        match self {
            TypeRef::Named(name, _) => name,
            TypeRef::List(inner, _) => inner.base(),
        }
    }

    /// The SDL spelling, for variable definitions.
    pub fn sdl(&self) -> String {
        match self {
            TypeRef::Named(name, n) => format!("{name}{}", if *n { "!" } else { "" }),
            TypeRef::List(inner, n) => format!("[{}]{}", inner.sdl(), if *n { "!" } else { "" }),
        }
    }
}

/// An argument or an input object field.
#[derive(Clone, Debug)]
pub struct InputDef {
    pub name: String,
    pub ty: TypeRef,
    /// Whether the SDL gives a default (then it may be omitted even if
    /// non-null).
    pub has_default: bool,
}

impl InputDef {
    /// Whether a valid value must give it.
    pub fn required(&self) -> bool {
        self.ty.non_null() && !self.has_default
    }
}

/// A field of an object type.
#[derive(Clone, Debug)]
pub struct FieldDef {
    pub name: String,
    pub args: Vec<InputDef>,
    pub ty: TypeRef,
}

/// What the generators know of the schema.
#[derive(Debug, Default)]
pub struct Model {
    pub objects: BTreeMap<String, Vec<FieldDef>>,
    pub inputs: BTreeMap<String, Vec<InputDef>>,
    pub enums: BTreeMap<String, Vec<String>>,
    pub query: String,
    pub mutation: String,
    pub subscription: String,
}

impl Model {
    /// Reads `schema.graphql`.
    pub fn load() -> Model {
        let doc = async_graphql::parser::parse_schema(SDL).expect("schema.graphql parses");
        let mut model = Model {
            query: "QueryRoot".into(),
            mutation: "MutationRoot".into(),
            subscription: "SubscriptionRoot".into(),
            ..Model::default()
        };
        for def in doc.definitions {
            match def {
                TypeSystemDefinition::Schema(schema) => {
                    let schema = schema.node;
                    if let Some(q) = schema.query {
                        model.query = q.node.to_string();
                    }
                    if let Some(m) = schema.mutation {
                        model.mutation = m.node.to_string();
                    }
                    if let Some(s) = schema.subscription {
                        model.subscription = s.node.to_string();
                    }
                }
                TypeSystemDefinition::Type(ty) => {
                    let ty = ty.node;
                    let name = ty.name.node.to_string();
                    match ty.kind {
                        TypeKind::Object(object) => {
                            let fields = object
                                .fields
                                .into_iter()
                                .map(|f| {
                                    let f = f.node;
                                    FieldDef {
                                        name: f.name.node.to_string(),
                                        args: f
                                            .arguments
                                            .into_iter()
                                            .map(|a| input_def(&a.node))
                                            .collect(),
                                        ty: TypeRef::from_parser(&f.ty.node),
                                    }
                                })
                                .collect();
                            model.objects.insert(name, fields);
                        }
                        TypeKind::InputObject(input) => {
                            let fields = input.fields.iter().map(|f| input_def(&f.node)).collect();
                            model.inputs.insert(name, fields);
                        }
                        TypeKind::Enum(e) => {
                            let values = e
                                .values
                                .iter()
                                .map(|v| v.node.value.node.to_string())
                                .collect();
                            model.enums.insert(name, values);
                        }
                        _ => {}
                    }
                }
                TypeSystemDefinition::Directive(_) => {}
            }
        }
        assert!(
            model.objects.contains_key(&model.query) && model.objects.contains_key(&model.mutation),
            "schema.graphql has query and mutation roots"
        );
        model
    }

    /// The fields of an object type (empty for anything else).
    pub fn fields(&self, object: &str) -> &[FieldDef] {
        self.objects.get(object).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether `input` is a `where` filter (an input with `and`/`or`/`not`).
    pub fn is_where(&self, input: &str) -> bool {
        self.inputs
            .get(input)
            .is_some_and(|fields| fields.iter().any(|f| f.name == "and" || f.name == "not"))
    }
}

fn input_def(def: &async_graphql::parser::types::InputValueDefinition) -> InputDef {
    InputDef {
        name: def.name.node.to_string(),
        ty: TypeRef::from_parser(&def.ty.node),
        has_default: def.default_value.is_some(),
    }
}
