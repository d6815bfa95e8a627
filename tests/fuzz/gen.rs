//! The generators: every case is drawn from a proptest `TestRunner`'s RNG
//! (seeded by the caller), partly through proptest strategies (strings,
//! integers, floats), partly by walking the schema model.
//!
//! Four families, picked per case:
//! - `schema/*`: documents built from `schema.graphql`: root fields of the
//!   query, mutation and subscription roots with arguments that are valid or
//!   not (wrong scalars, enum values as literals and as strings, huge and
//!   negative numbers, unknown fields, long lists, `where` filters nested
//!   up to `max_where_depth` through `and`/`or`/`not`, JSON literals nested
//!   up to `max_nest`), random aliases, fragments, directives, and variables
//!   that are given, missing, null, of the wrong type or deeply nested.
//! - `mutated/*`: a valid document from the schema, then byte flips,
//!   truncation, deletions, duplications and bracket storms (in the query
//!   or in the JSON body itself).
//! - `raw/*`: bodies that are not a well-formed GraphQL request: invalid
//!   JSON, JSON nested past serde_json's limit, wrong content types,
//!   multipart, batches of mixed items, an empty body, `{"query": 5}`, ...
//! - `special/*`: documents aimed at the parser and validator: fragment
//!   cycles and bombs, deep selections, deep list and object literals,
//!   thousands of aliases, directives or arguments, odd escapes.

use super::schema::{InputDef, Model, TypeRef};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::string::{string_regex, RegexGeneratorStrategy};
use proptest::test_runner::TestRunner;

/// How a case authenticates.
#[derive(Clone, Debug)]
pub enum Auth {
    /// No `Authorization` header (anon).
    None,
    /// A valid token of the fixture user.
    User,
    /// A valid service-role token.
    Service,
    /// This header value, sent as is (garbage, wrong scheme, forged).
    Raw(String),
    /// Non-UTF-8 bytes in the header.
    Bytes(Vec<u8>),
    /// A token signed with another secret.
    WrongSecret,
    /// Two `Authorization` headers: valid then garbage (`true`) or the
    /// other way round.
    Duplicate(bool),
}

/// One request.
#[derive(Clone, Debug)]
pub struct Case {
    /// The generator family and shape, e.g. `schema/query`.
    pub kind: String,
    /// HTTP method.
    pub method: &'static str,
    /// Authorization.
    pub auth: Auth,
    /// `Content-Type`, when one is sent.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Case {
    fn post(
        kind: impl Into<String>,
        auth: Auth,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Case {
        Case {
            kind: kind.into(),
            method: "POST",
            auth,
            content_type: content_type.map(str::to_string),
            body,
        }
    }

    /// The body as text (lossy), cut to `max` characters.
    pub fn body_excerpt(&self, max: usize) -> String {
        excerpt(&String::from_utf8_lossy(&self.body), max)
    }
}

/// `text` cut to about `max` characters, with how much was cut.
pub fn excerpt(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let head: String = text.chars().take(max).collect();
    format!("{head}... ({} bytes in all)", text.len())
}

/// Size knobs (from the environment).
#[derive(Clone, Debug)]
pub struct Knobs {
    /// Deepest `and`/`or`/`not` nesting of a `where` filter.
    pub max_where_depth: usize,
    /// Deepest nesting of anything else (JSON literals and bodies, list and
    /// object literals, selections, bracket storms).
    pub max_nest: usize,
}

/// The strategies drawn from outside the schema walk.
struct Strategies {
    word: RegexGeneratorStrategy<String>,
    text: RegexGeneratorStrategy<String>,
    name: RegexGeneratorStrategy<String>,
}

/// A value before it is written as a GraphQL literal or as JSON.
#[derive(Clone, Debug)]
enum V {
    Null,
    /// A number, written the same in both (may be out of any range).
    Num(String),
    Str(String),
    Bool(bool),
    /// An enum value: a bare name in GraphQL, a string in JSON.
    Enum(String),
    List(Vec<V>),
    Obj(Vec<(String, V)>),
    /// `$name` (GraphQL only; `null` in JSON).
    Var(String),
    /// Prebuilt text for each form (deep structures are built iteratively).
    Text {
        gql: String,
        json: String,
    },
}

impl V {
    fn gql(&self, out: &mut String) {
        match self {
            V::Null => out.push_str("null"),
            V::Num(n) => out.push_str(n),
            V::Str(s) => out.push_str(&gql_string(s)),
            V::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            V::Enum(e) => out.push_str(e),
            V::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.gql(out);
                }
                out.push(']');
            }
            V::Obj(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(k);
                    out.push_str(": ");
                    v.gql(out);
                }
                out.push('}');
            }
            V::Var(name) => {
                out.push('$');
                out.push_str(name);
            }
            V::Text { gql, .. } => out.push_str(gql),
        }
    }

    fn json(&self, out: &mut String) {
        match self {
            V::Null | V::Var(_) => out.push_str("null"),
            V::Num(n) => out.push_str(n),
            V::Str(s) | V::Enum(s) => out.push_str(&json_string(s)),
            V::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            V::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.json(out);
                }
                out.push(']');
            }
            V::Obj(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&json_string(k));
                    out.push(':');
                    v.json(out);
                }
                out.push('}');
            }
            V::Text { json, .. } => out.push_str(json),
        }
    }

    fn to_gql(&self) -> String {
        let mut s = String::new();
        self.gql(&mut s);
        s
    }

    fn to_json(&self) -> String {
        let mut s = String::new();
        self.json(&mut s);
        s
    }
}

/// A GraphQL string literal.
fn gql_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON string literal.
fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// The variables, fragments and limits of the document being built.
#[derive(Default)]
struct Doc {
    var_defs: Vec<String>,
    vars: Vec<(String, Option<V>)>,
    fragments: Vec<String>,
    next_var: usize,
    next_alias: usize,
    /// Probability of a mistake at each decision.
    bad: f64,
    /// Probability that an argument value is a variable.
    var_p: f64,
    /// Deepest selection.
    max_sel_depth: usize,
    /// Deep structures left to place in this document.
    deep_budget: usize,
    /// The operation type of the current operation.
    op: &'static str,
    /// Only plain valid values (fixtures).
    tame: bool,
    /// With `tame`: some values that pass GraphQL but not the database.
    poison: bool,
}

/// Generates cases from a runner's RNG.
pub struct Gen<'a> {
    runner: &'a mut TestRunner,
    model: &'a Model,
    ids: &'a [String],
    knobs: &'a Knobs,
    strategies: Strategies,
    doc: Doc,
}

const SCALAR_NAMES: [&str; 10] = [
    "Int",
    "Float",
    "String",
    "Boolean",
    "ID",
    "UUID",
    "DateTime",
    "NaiveDate",
    "Decimal",
    "JSON",
];

impl<'a> Gen<'a> {
    pub fn new(
        runner: &'a mut TestRunner,
        model: &'a Model,
        ids: &'a [String],
        knobs: &'a Knobs,
    ) -> Gen<'a> {
        Gen {
            runner,
            model,
            ids,
            knobs,
            strategies: Strategies {
                word: string_regex("[a-zA-Z0-9 _%'\\\\.-]{0,12}").expect("regex"),
                text: string_regex("\\PC{0,40}").expect("regex"),
                name: string_regex("[_a-zA-Z][_a-zA-Z0-9]{0,10}").expect("regex"),
            },
            doc: Doc::default(),
        }
    }

    // ----- randomness -----

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.runner.rng().random_bool(p.min(1.0))
    }

    fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            0
        } else {
            self.runner.rng().random_range(0..n)
        }
    }

    fn range(&mut self, lo: usize, hi: usize) -> usize {
        if hi <= lo {
            lo
        } else {
            self.runner.rng().random_range(lo..=hi)
        }
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }

    /// Draws one value of a proptest strategy.
    fn draw<S: Strategy>(&mut self, strategy: &S) -> S::Value {
        strategy
            .new_tree(self.runner)
            .expect("strategy draws")
            .current()
    }

    /// A nesting depth for a deep structure: mostly modest, sometimes up to
    /// `cap`.
    fn deep(&mut self, cap: usize) -> usize {
        let cap = cap.max(1);
        match self.below(4) {
            0 => self.range(1, cap.min(10)),
            1 => self.range(cap.min(10), cap.min(64)),
            _ => self.range(cap.min(64), cap),
        }
    }

    // ----- scalars -----

    fn word(&mut self) -> String {
        let tree = self.strategies.word.new_tree(self.runner);
        tree.expect("strategy draws").current()
    }

    fn name(&mut self) -> String {
        let tree = self.strategies.name.new_tree(self.runner);
        tree.expect("strategy draws").current()
    }

    fn string_value(&mut self) -> String {
        match self.below(14) {
            0..=4 => self.word(),
            5 | 6 => {
                let tree = self.strategies.text.new_tree(self.runner);
                tree.expect("strategy draws").current()
            }
            7 => String::new(),
            8 => self.pick(&["a\u{0}b", "\u{0}", "ok\u{0}"]).to_string(),
            9 => "x".repeat(self.pick(&[256, 4096, 100_000])),
            10 => self
                .pick(&[
                    "' OR 1=1 --",
                    "%_\\",
                    "\\\\",
                    "$1",
                    "';DROP TABLE x;--",
                    "\u{202e}rtl",
                    "\u{feff}bom",
                    "🦀🦀",
                    " ",
                    "\n\t",
                ])
                .to_string(),
            11 => self.uuid_text(),
            12 => self.datetime_text(),
            _ => self.draw(&any::<String>()),
        }
    }

    fn uuid_text(&mut self) -> String {
        if !self.ids.is_empty() && self.chance(0.5) {
            return self.pick(self.ids);
        }
        let choice = if self.doc.tame { 0 } else { self.below(8) };
        match choice {
            0..=3 => uuid::Uuid::from_u128(self.draw(&any::<u128>())).to_string(),
            4 => "00000000-0000-0000-0000-000000000000".to_string(),
            5 => self
                .pick(&[
                    "not-a-uuid",
                    "",
                    "{6f1c0a4e-8a3b-4f6e-9d2a-1b2c3d4e5f60}",
                    "6F1C0A4E8A3B4F6E9D2A1B2C3D4E5F60",
                    "6f1c0a4e-8a3b-4f6e-9d2a-1b2c3d4e5f6",
                    "urn:uuid:6f1c0a4e-8a3b-4f6e-9d2a-1b2c3d4e5f60",
                ])
                .to_string(),
            _ => self.word(),
        }
    }

    fn datetime_text(&mut self) -> String {
        self.pick(&[
            "2024-01-01T00:00:00Z",
            "2024-02-29T12:34:56.789+02:00",
            "1970-01-01T00:00:00Z",
            "0001-01-01T00:00:00Z",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59.999999999Z",
            "9999-12-31T23:59:59-14:00",
            "+262142-12-31T23:59:59Z",
            "-4713-11-24T00:00:00Z",
            "2024-13-45T25:61:61Z",
            "2024-01-01",
            "yesterday",
            "infinity",
            "",
        ])
        .to_string()
    }

    fn date_text(&mut self) -> String {
        self.pick(&[
            "2024-01-01",
            "2024-02-29",
            "2023-02-29",
            "0001-01-01",
            "9999-12-31",
            "+262142-12-31",
            "-4713-11-24",
            "2024-1-1",
            "today",
            "",
        ])
        .to_string()
    }

    fn int_num(&mut self) -> String {
        match self.below(10) {
            0..=4 => self.range(0, 50).to_string(),
            5 => self.draw(&any::<i32>()).to_string(),
            6 => self
                .pick(&[
                    "-1",
                    "0",
                    "2147483647",
                    "-2147483648",
                    "2147483648",
                    "-2147483649",
                    "32768",
                    "-32769",
                    "9223372036854775807",
                    "9223372036854775808",
                    "-9223372036854775809",
                    "99999999999999999999999999999",
                ])
                .to_string(),
            7 => self.draw(&any::<i64>()).to_string(),
            8 => "1".repeat(self.range(20, 400)),
            _ => self.range(90, 1000).to_string(),
        }
    }

    fn float_num(&mut self) -> String {
        match self.below(5) {
            0 | 1 => format!("{}.{}", self.range(0, 1000), self.range(0, 99)),
            2 => self
                .pick(&[
                    "1e308", "-1e308", "1e400", "-0.0", "1e-400", "0.1e1", "5e-324",
                ])
                .to_string(),
            3 => {
                let f = self.draw(&any::<f64>());
                if f.is_finite() {
                    format!("{f:e}")
                } else {
                    "1e999".into()
                }
            }
            _ => format!("-{}.5", self.range(0, 100)),
        }
    }

    fn decimal_value(&mut self) -> V {
        match self.below(8) {
            0..=2 => V::Str(format!("{}.{}", self.range(0, 1000), self.range(0, 9999))),
            3 => V::Num(self.float_num()),
            4 => V::Num(self.int_num()),
            5 => V::Str(
                self.pick(&[
                    "NaN",
                    "Infinity",
                    "-0",
                    "1e400",
                    "79228162514264337593543950335",
                    "79228162514264337593543950336",
                    "0.0000000000000000000000000001",
                    "123456789012345678901234567890.123",
                    "1,5",
                    "",
                ])
                .to_string(),
            ),
            6 => V::Str(self.int_num()),
            _ => V::Str(self.word()),
        }
    }

    /// A value GraphQL accepts for `name` that the database may refuse
    /// (NUL bytes, numbers and times out of a column's range, JSON nested
    /// past a decoder's limit).
    fn poisoned(&mut self, name: &str) -> Option<V> {
        Some(match name {
            "Int" => V::Num(
                self.pick(&["2147483647", "-2147483648", "32768", "-1"])
                    .to_string(),
            ),
            "Float" => V::Num(self.pick(&["1e308", "-1e308", "5e-324"]).to_string()),
            "Decimal" => V::Str(
                self.pick(&[
                    "79228162514264337593543950335",
                    "-79228162514264337593543950335",
                    "0.0000000000000000000000000001",
                ])
                .to_string(),
            ),
            "DateTime" => V::Str(
                self.pick(&[
                    "0001-01-01T00:00:00+14:00",
                    "+262142-12-31T23:59:59Z",
                    "-4713-11-24T00:00:00Z",
                ])
                .to_string(),
            ),
            "NaiveDate" => V::Str(self.pick(&["+262142-12-31", "-4713-11-24"]).to_string()),
            "JSON" => {
                let depth = self.pick(&[64, 127, 129, 200]).min(self.knobs.max_nest);
                self.deep_json(depth)
            }
            "String" | "ID" => V::Str(
                self.pick(&["a\u{0}b", "\u{0}", "\u{fffe}\u{ffff}"])
                    .to_string(),
            ),
            _ => return None,
        })
    }

    fn scalar(&mut self, name: &str) -> V {
        if self.doc.tame && self.doc.poison && self.chance(0.3) {
            if let Some(v) = self.poisoned(name) {
                return v;
            }
        }
        if self.doc.tame {
            return match name {
                "Int" => V::Num(self.range(1, 20).to_string()),
                "Float" | "Decimal" => V::Num("1.5".into()),
                "Boolean" => V::Bool(self.chance(0.5)),
                "UUID" => V::Str(self.uuid_text()),
                "DateTime" => V::Str("2024-01-01T00:00:00Z".into()),
                "NaiveDate" => V::Str("2024-01-01".into()),
                "JSON" => V::Obj(vec![("note".into(), V::Str(self.word()))]),
                _ => V::Str(format!("fuzz {}", self.word())),
            };
        }
        match name {
            "Int" => V::Num(self.int_num()),
            "Float" => V::Num(self.float_num()),
            "Boolean" => V::Bool(self.chance(0.5)),
            "UUID" => V::Str(self.uuid_text()),
            "DateTime" => V::Str(self.datetime_text()),
            "NaiveDate" => V::Str(self.date_text()),
            "Decimal" => self.decimal_value(),
            "JSON" => self.json_scalar(),
            _ => V::Str(self.string_value()),
        }
    }

    /// A value for the `JSON` scalar: small, or nested deep.
    fn json_scalar(&mut self) -> V {
        if self.doc.deep_budget > 0 && self.chance(0.15) {
            self.doc.deep_budget -= 1;
            let depth = self.deep(self.knobs.max_nest);
            return self.deep_json(depth);
        }
        self.small_json(0)
    }

    fn small_json(&mut self, depth: usize) -> V {
        let leaf = depth >= 3 || self.chance(0.4);
        if leaf {
            return match self.below(6) {
                0 => V::Null,
                1 => V::Bool(self.chance(0.5)),
                2 => V::Num(self.int_num()),
                3 => V::Num(self.float_num()),
                _ => V::Str(self.string_value()),
            };
        }
        if self.chance(0.5) {
            let n = self.range(0, 4);
            V::List((0..n).map(|_| self.small_json(depth + 1)).collect())
        } else {
            let n = self.range(0, 4);
            V::Obj(
                (0..n)
                    .map(|_| (self.name(), self.small_json(depth + 1)))
                    .collect(),
            )
        }
    }

    /// A JSON value nested `depth` levels (objects, lists or both).
    fn deep_json(&mut self, depth: usize) -> V {
        let style = self.below(3);
        let (mut gql, mut json) = (String::new(), String::new());
        let mut closers: Vec<char> = Vec::with_capacity(depth);
        for i in 0..depth {
            let object = match style {
                0 => true,
                1 => false,
                _ => i % 2 == 0,
            };
            if object {
                gql.push_str("{a: ");
                json.push_str("{\"a\":");
                closers.push('}');
            } else {
                gql.push('[');
                json.push('[');
                closers.push(']');
            }
        }
        gql.push('1');
        json.push('1');
        for c in closers.iter().rev() {
            gql.push(*c);
            json.push(*c);
        }
        V::Text { gql, json }
    }

    // ----- input values -----

    /// A value of some other kind than `ty` asks for.
    fn wrong_value(&mut self) -> V {
        match self.below(9) {
            0 => V::Null,
            1 => V::Num(self.int_num()),
            2 => V::Num(self.float_num()),
            3 => V::Str(self.string_value()),
            4 => V::Bool(self.chance(0.5)),
            5 => V::Enum(self.name().to_uppercase()),
            6 => V::List(vec![V::Num("1".into()), V::Str("x".into())]),
            7 => V::Obj(vec![(self.name(), V::Num("1".into()))]),
            _ => {
                let name = self.pick(&SCALAR_NAMES);
                self.scalar(name)
            }
        }
    }

    /// A value for `ty`: valid mostly, with mistakes at rate `doc.bad`;
    /// `variables` allows `$v` in its place.
    fn value(&mut self, ty: &TypeRef, depth: usize, variables: bool) -> V {
        if variables && self.chance(self.doc.var_p) {
            return self.variable(ty);
        }
        if self.chance(self.doc.bad) {
            return self.wrong_value();
        }
        if !ty.non_null() && !self.doc.tame && self.chance(0.04) {
            return V::Null;
        }
        match ty {
            TypeRef::List(inner, _) => {
                if self.chance(0.08) {
                    // A single value where a list is expected (coerced).
                    return self.value(inner, depth + 1, variables);
                }
                let n = if self.doc.deep_budget > 0 && self.chance(0.03) {
                    self.doc.deep_budget -= 1;
                    self.pick(&[200, 1000, 1001, 3000])
                } else {
                    self.range(0, 3)
                };
                if n > 50 {
                    // Long lists repeat one item: the length is what
                    // matters (kept to about 200 KB of text in all).
                    let item = self.value(inner, depth + 1, false);
                    let size = item.to_gql().len().max(1);
                    return V::List(vec![item; n.min((200_000 / size).max(1))]);
                }
                V::List(
                    (0..n)
                        .map(|_| self.value(inner, depth + 1, variables))
                        .collect(),
                )
            }
            TypeRef::Named(name, _) => {
                if let Some(values) = self.model.enums.get(name) {
                    let values = values.clone();
                    self.enum_value(&values)
                } else if self.model.inputs.contains_key(name) {
                    let name = name.clone();
                    self.input_object(&name, depth, variables)
                } else {
                    self.scalar(name)
                }
            }
        }
    }

    fn enum_value(&mut self, values: &[String]) -> V {
        let value = self.pick(values);
        if self.doc.bad == 0.0 {
            return V::Enum(value);
        }
        match self.below(12) {
            0..=6 => V::Enum(value),
            // As a string: the spec allows enum values only as enum literals.
            7 | 8 => V::Str(value),
            9 => V::Enum(value.to_lowercase()),
            10 => V::Enum("NOT_A_VALUE".into()),
            _ => V::Num(self.range(0, 5).to_string()),
        }
    }

    fn input_object(&mut self, name: &str, depth: usize, variables: bool) -> V {
        let fields: Vec<InputDef> = self.model.inputs.get(name).cloned().unwrap_or_default();
        let is_where = self.model.is_where(name);
        if is_where && self.doc.deep_budget > 0 && self.chance(0.12) {
            self.doc.deep_budget -= 1;
            let depth = self.deep(self.knobs.max_where_depth);
            return self.deep_where(name, depth);
        }
        let mut out = Vec::new();
        for field in &fields {
            let recursive = matches!(field.name.as_str(), "and" | "or" | "not") && is_where;
            let include = if field.required() {
                !self.chance(self.doc.bad * 0.5)
            } else if recursive {
                depth < 4 && !self.doc.tame && self.chance(0.15)
            } else {
                self.chance(if depth < 3 { 0.3 } else { 0.1 })
            };
            if include {
                let v = if depth > 6 && !field.required() {
                    V::Null
                } else {
                    self.value(&field.ty, depth + 1, variables)
                };
                out.push((field.name.clone(), v));
            }
        }
        if self.chance(self.doc.bad * 0.3) {
            out.push((self.name(), V::Num("1".into())));
        }
        if !out.is_empty() && self.chance(self.doc.bad * 0.2) {
            let dup = out[0].clone();
            out.push(dup);
        }
        V::Obj(out)
    }

    /// A `where` filter nested `depth` levels through `and`/`or`/`not`.
    fn deep_where(&mut self, name: &str, depth: usize) -> V {
        let fields: Vec<InputDef> = self.model.inputs.get(name).cloned().unwrap_or_default();
        let leaf_field = fields
            .iter()
            .find(|f| f.name == "id")
            .or_else(|| {
                fields
                    .iter()
                    .find(|f| !matches!(f.name.as_str(), "and" | "or" | "not"))
            })
            .cloned();
        let (leaf_gql, leaf_json) = match &leaf_field {
            Some(f) if f.name == "id" => (
                "{id: {isNull: false}}".to_string(),
                "{\"id\":{\"isNull\":false}}".to_string(),
            ),
            Some(f) => {
                let v = V::Obj(vec![(f.name.clone(), self.value(&f.ty, 5, false))]);
                (v.to_gql(), v.to_json())
            }
            None => ("{}".to_string(), "{}".to_string()),
        };
        let has = |n: &str| fields.iter().any(|f| f.name == n);
        let mut ops: Vec<&str> = Vec::new();
        for op in ["and", "or", "not"] {
            if has(op) {
                ops.push(op);
            }
        }
        let style = self.below(4);
        let (mut gql, mut json) = (String::new(), String::new());
        let mut closers: Vec<(&str, &str)> = Vec::with_capacity(depth);
        for _ in 0..depth {
            let op = match style {
                0 => ops[0],
                _ => self.pick(&ops),
            };
            let sibling = style == 3 && op != "not";
            match op {
                "not" => {
                    gql.push_str("{not: ");
                    json.push_str("{\"not\":");
                    closers.push(("}", "}"));
                }
                _ => {
                    gql.push_str(&format!("{{{op}: ["));
                    json.push_str(&format!("{{\"{op}\":["));
                    if sibling {
                        gql.push_str(&leaf_gql);
                        gql.push_str(", ");
                        json.push_str(&leaf_json);
                        json.push(',');
                    }
                    closers.push(("]}", "]}"));
                }
            }
        }
        gql.push_str(&leaf_gql);
        json.push_str(&leaf_json);
        for (g, j) in closers.iter().rev() {
            gql.push_str(g);
            json.push_str(j);
        }
        V::Text { gql, json }
    }

    /// `$vN` for a value of `ty`: declared with that type (or a wrong one),
    /// and given a valid value, a wrong one, null, or none.
    fn variable(&mut self, ty: &TypeRef) -> V {
        let name = format!("v{}", self.doc.next_var);
        self.doc.next_var += 1;
        let declared = if self.chance(self.doc.bad) {
            match self.below(4) {
                0 => self.pick(&SCALAR_NAMES).to_string(),
                1 => format!("[{}!]!", self.pick(&SCALAR_NAMES)),
                2 => "NoSuchType".to_string(),
                _ => match ty {
                    // The nullable form of a non-null type.
                    TypeRef::Named(n, _) => n.clone(),
                    TypeRef::List(inner, _) => format!("[{}]", inner.sdl()),
                },
            }
        } else {
            ty.sdl()
        };
        let default = if self.chance(0.05) {
            let v = self.value(ty, 3, false);
            format!(" = {}", v.to_gql())
        } else {
            String::new()
        };
        self.doc
            .var_defs
            .push(format!("${name}: {declared}{default}"));
        let value = match self.below(10) {
            0 => None,
            1 => Some(V::Null),
            2 => Some(self.wrong_value()),
            3 if self.doc.deep_budget > 0 => {
                self.doc.deep_budget -= 1;
                // JSON bodies stop at serde_json's 128 levels; go a little past.
                let depth = self.deep(self.knobs.max_nest.min(140));
                if self.model.is_where(ty.base()) {
                    let base = ty.base().to_string();
                    Some(self.deep_where(&base, depth / 2))
                } else {
                    Some(self.deep_json(depth))
                }
            }
            _ => Some(self.value(ty, 1, false)),
        };
        self.doc.vars.push((name.clone(), value));
        V::Var(name)
    }

    // ----- selections -----

    fn is_leaf(&self, ty: &TypeRef) -> bool {
        !self.model.objects.contains_key(ty.base())
    }

    fn arguments(&mut self, args: &[InputDef]) -> String {
        let mut out = Vec::new();
        for arg in args {
            let include = if arg.required() {
                !self.chance(self.doc.bad * 0.5)
            } else if self.doc.tame && self.doc.poison {
                !matches!(arg.name.as_str(), "after" | "before" | "last") && self.chance(0.6)
            } else if self.doc.tame {
                arg.name == "first"
            } else {
                self.chance(0.4)
            };
            if include {
                let v = self.value(&arg.ty, 0, true);
                out.push(format!("{}: {}", arg.name, v.to_gql()));
            }
        }
        if self.chance(self.doc.bad * 0.2) {
            out.push(format!("{}: 1", self.name()));
        }
        if out.is_empty() {
            String::new()
        } else {
            format!("({})", out.join(", "))
        }
    }

    fn directive(&mut self) -> String {
        if self.doc.tame || !self.chance(0.06) {
            return String::new();
        }
        match self.below(5) {
            0 => " @include(if: true)".into(),
            2 if self.doc.var_p > 0.0 => {
                let v = self.variable(&TypeRef::Named("Boolean".into(), true));
                format!(" @include(if: {})", v.to_gql())
            }
            3 if self.chance(self.doc.bad) => " @skip(if: \"yes\")".into(),
            4 if self.chance(self.doc.bad) => format!(" @{}", self.name()),
            _ => " @skip(if: false)".into(),
        }
    }

    fn alias(&mut self) -> String {
        if !self.doc.tame && self.chance(0.15) {
            self.doc.next_alias += 1;
            format!("a{}: ", self.doc.next_alias)
        } else {
            String::new()
        }
    }

    /// A selection set on `object` at `depth` (1 for root fields' children).
    fn selection_set(&mut self, object: &str, depth: usize) -> String {
        let fields = self.model.fields(object).to_vec();
        if fields.is_empty() {
            return "{ __typename }".into();
        }
        let at_bottom = depth >= self.doc.max_sel_depth;
        let candidates: Vec<_> = if at_bottom {
            let leaves: Vec<_> = fields
                .iter()
                .filter(|f| self.is_leaf(&f.ty))
                .cloned()
                .collect();
            if leaves.is_empty() {
                return "{ __typename }".into();
            }
            leaves
        } else {
            fields
        };
        let n = self.range(1, 3);
        let mut parts = Vec::new();
        if self.doc.tame && candidates.iter().any(|f| f.name == "id") {
            parts.push("id".to_string());
        }
        for _ in 0..n {
            match self.below(20) {
                0 => parts.push("__typename".to_string()),
                1 if !at_bottom => {
                    let inner = self.selection_set(object, depth + 1);
                    parts.push(format!("... on {object} {inner}"));
                }
                2 if !at_bottom && !self.doc.tame => {
                    let name = format!("F{}", self.doc.fragments.len());
                    let inner = self.selection_set(object, depth + 1);
                    self.doc
                        .fragments
                        .push(format!("fragment {name} on {object} {inner}"));
                    parts.push(format!("...{name}"));
                }
                3 if self.chance(self.doc.bad) => parts.push(self.name()),
                _ => {
                    let field = self.pick(&candidates);
                    parts.push(self.field(&field, depth));
                }
            }
        }
        format!("{{ {} }}", parts.join(" "))
    }

    fn field(&mut self, field: &super::schema::FieldDef, depth: usize) -> String {
        let alias = self.alias();
        let args = self.arguments(&field.args);
        let directive = self.directive();
        let sub = if self.is_leaf(&field.ty) {
            if self.chance(self.doc.bad * 0.2) {
                " { id }".to_string()
            } else {
                String::new()
            }
        } else if self.chance(self.doc.bad * 0.2) {
            String::new()
        } else {
            let base = field.ty.base().to_string();
            format!(" {}", self.selection_set(&base, depth + 1))
        };
        format!("{alias}{}{args}{directive}{sub}", field.name)
    }

    /// One operation of `op` ("query", "mutation", "subscription").
    fn operation(&mut self, op: &'static str, name: Option<&str>) -> (String, Vec<String>) {
        self.doc.op = op;
        let root = match op {
            "mutation" => self.model.mutation.clone(),
            "subscription" => self.model.subscription.clone(),
            _ => self.model.query.clone(),
        };
        let fields = self.model.fields(&root).to_vec();
        let count = match self.below(40) {
            0 => self.range(19, 35),
            1..=8 => self.range(2, 3),
            _ => 1,
        };
        let mut parts = Vec::new();
        let mut roots = Vec::new();
        for _ in 0..count {
            let field = self.pick(&fields);
            roots.push(field.name.clone());
            parts.push(self.field(&field, 0));
        }
        let body = format!("{{ {} }}", parts.join(" "));
        let vars = std::mem::take(&mut self.doc.var_defs);
        let header = match (name, vars.is_empty(), op) {
            (None, true, "query") if self.chance(0.5) => String::new(),
            (None, true, _) => format!("{op} "),
            (None, false, _) => format!("{op}({}) ", vars.join(", ")),
            (Some(n), true, _) => format!("{op} {n} "),
            (Some(n), false, _) => format!("{op} {n}({}) ", vars.join(", ")),
        };
        (format!("{header}{body}"), roots)
    }

    /// A document from the schema, with its variables (JSON text) and
    /// operation name; `bad` is the mistake rate.
    fn document(&mut self, bad: f64) -> (String, Option<String>, Option<String>, String) {
        self.doc = Doc {
            bad,
            var_p: self.pick(&[0.0, 0.0, 0.2, 0.6]),
            max_sel_depth: match self.below(12) {
                0 => self.range(11, 15),
                1..=3 => 4,
                _ => 2,
            },
            deep_budget: if bad > 0.0 { self.range(0, 2) } else { 0 },
            ..Doc::default()
        };
        let op = match self.below(10) {
            0..=5 => "query",
            6..=8 => "mutation",
            _ => "subscription",
        };
        let two = self.chance(0.06);
        let (first, roots) = self.operation(op, if two { Some("A") } else { None });
        let mut query = first;
        let mut operation_name = None;
        if two {
            let op2 = self.pick(&["query", "mutation"]);
            let (second, _) = self.operation(op2, Some("B"));
            query = format!("{query}\n{second}");
            operation_name = match self.below(4) {
                0 => None,
                1 => Some("Nope".to_string()),
                2 => Some("B".to_string()),
                _ => Some("A".to_string()),
            };
        }
        for fragment in std::mem::take(&mut self.doc.fragments) {
            query.push('\n');
            query.push_str(&fragment);
        }
        if self.chance(self.doc.bad * 0.1) {
            // A variable used without a definition.
            query = query.replacen("{ ", "{ __typename @include(if: $undeclared) ", 1);
        }
        let vars = std::mem::take(&mut self.doc.vars);
        let variables = if vars.is_empty() && self.chance(0.7) {
            None
        } else {
            let mut json = String::from("{");
            let mut first = true;
            for (name, value) in &vars {
                if let Some(v) = value {
                    if !first {
                        json.push(',');
                    }
                    first = false;
                    json.push_str(&json_string(name));
                    json.push(':');
                    v.json(&mut json);
                }
            }
            json.push('}');
            Some(json)
        };
        let kind = format!("{op} {}", roots.first().cloned().unwrap_or_default());
        (query, variables, operation_name, kind)
    }

    // ----- cases -----

    fn auth(&mut self) -> Auth {
        match self.below(40) {
            0..=15 => Auth::None,
            16..=29 => Auth::User,
            30 | 31 => Auth::Service,
            32 => Auth::WrongSecret,
            33 => Auth::Duplicate(self.chance(0.5)),
            34 => Auth::Bytes(vec![b'B', b'e', b'a', b'r', b'e', b'r', b' ', 0xff, 0xfe, b'x']),
            _ => Auth::Raw(match self.below(9) {
                0 => String::new(),
                1 => "Bearer".into(),
                2 => "Bearer ".into(),
                3 => format!("Bearer {}", self.word()),
                4 => "Basic dXNlcjpwYXNz".into(),
                5 => "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIiwicm9sZSI6InNlcnZpY2Vfcm9sZSJ9.".into(),
                6 => format!("Bearer {}", "a.".repeat(self.range(2, 3000))),
                7 => "bearer  x.y.z".into(),
                _ => format!("Bearer {}.{}.{}", self.word(), self.word(), self.word()),
            }),
        }
    }

    /// A GraphQL-over-HTTP JSON body.
    fn body(query: &str, variables: Option<&str>, operation_name: Option<&str>) -> Vec<u8> {
        let mut body = format!("{{\"query\":{}", json_string(query));
        if let Some(v) = variables {
            body.push_str(",\"variables\":");
            body.push_str(v);
        }
        if let Some(name) = operation_name {
            body.push_str(",\"operationName\":");
            body.push_str(&json_string(name));
        }
        body.push('}');
        body.into_bytes()
    }

    /// A valid document (no intended mistakes) as a body: for fixtures.
    pub fn valid_body(&mut self, op: &'static str, field: &str) -> Vec<u8> {
        self.doc = Doc {
            max_sel_depth: 2,
            op,
            tame: true,
            ..Doc::default()
        };
        let root = if op == "mutation" {
            self.model.mutation.clone()
        } else {
            self.model.query.clone()
        };
        let def = self
            .model
            .fields(&root)
            .iter()
            .find(|f| f.name == field)
            .cloned()
            .expect("a root field of the schema");
        let text = format!("{op} {{ {} }}", self.field(&def, 0));
        Self::body(&text, None, None)
    }

    /// The next case.
    pub fn case(&mut self) -> Case {
        match self.below(20) {
            0..=9 => self.schema_case(),
            10 => self.poisoned_case(),
            11..=14 => self.mutated_case(),
            15..=17 => self.raw_case(),
            _ => self.special_case(),
        }
    }

    /// Valid documents of several root fields, some of whose values pass
    /// GraphQL but not the database: one field's database error must not
    /// turn into another field's `INTERNAL`.
    fn poisoned_case(&mut self) -> Case {
        let op = if self.chance(0.6) {
            "query"
        } else {
            "mutation"
        };
        self.doc = Doc {
            max_sel_depth: 2,
            op,
            tame: true,
            poison: true,
            ..Doc::default()
        };
        let root = if op == "mutation" {
            self.model.mutation.clone()
        } else {
            self.model.query.clone()
        };
        let fields = self.model.fields(&root).to_vec();
        let n = self.range(2, 4);
        let mut parts = Vec::new();
        let mut first = String::new();
        for i in 0..n {
            let field = self.pick(&fields);
            if i == 0 {
                first = field.name.clone();
            }
            let text = self.field(&field, 0);
            // Distinct aliases: the same field may be drawn twice.
            parts.push(format!("f{i}: {text}"));
        }
        let query = format!("{op} {{ {} }}", parts.join(" "));
        let auth = if self.chance(0.7) {
            Auth::User
        } else {
            self.auth()
        };
        let body = Self::body(&query, None, None);
        Case::post(
            format!("poisoned/{op} {first}"),
            auth,
            Some("application/json"),
            body,
        )
    }

    fn schema_case(&mut self) -> Case {
        let bad = self.pick(&[0.0, 0.03, 0.1, 0.3]);
        let (query, variables, operation_name, kind) = self.document(bad);
        let auth = self.auth();
        let body = Self::body(&query, variables.as_deref(), operation_name.as_deref());
        Case::post(
            format!("schema/{kind}"),
            auth,
            Some("application/json"),
            body,
        )
    }

    fn mutated_case(&mut self) -> Case {
        let (query, variables, operation_name, _) = self.document(0.0);
        let auth = self.auth();
        if self.chance(0.25) {
            // Mutate the JSON body itself.
            let mut body = Self::body(&query, variables.as_deref(), operation_name.as_deref());
            let n = self.range(1, 4);
            for _ in 0..n {
                self.mutate_bytes(&mut body);
            }
            return Case::post("mutated/body", auth, Some("application/json"), body);
        }
        let mut bytes = query.into_bytes();
        let n = self.range(1, 4);
        for _ in 0..n {
            self.mutate_bytes(&mut bytes);
        }
        let query = String::from_utf8_lossy(&bytes).into_owned();
        let body = Self::body(&query, variables.as_deref(), operation_name.as_deref());
        Case::post("mutated/query", auth, Some("application/json"), body)
    }

    fn mutate_bytes(&mut self, bytes: &mut Vec<u8>) {
        if bytes.is_empty() {
            bytes.push(b'{');
            return;
        }
        let at = self.below(bytes.len() + 1);
        match self.below(9) {
            0 => {
                // Flip a byte.
                let i = self.below(bytes.len());
                bytes[i] ^= 1 << self.below(8);
            }
            1 => {
                let i = self.below(bytes.len());
                bytes[i] = self.pick(b"{}[]()\"\\$@!:.,=#\n \x00");
            }
            2 => bytes.truncate(at),
            3 => {
                let end = (at + self.range(1, 20)).min(bytes.len());
                bytes.drain(at..end);
            }
            4 => {
                let end = (at + self.range(1, 40)).min(bytes.len());
                let chunk = bytes[at..end].to_vec();
                let times = self.range(1, 50);
                for _ in 0..times {
                    bytes.splice(at..at, chunk.iter().copied());
                }
            }
            5 => {
                // Bracket storm.
                let open = self.pick(b"{[(");
                let n = self.range(1, self.knobs.max_nest.max(1) * 5);
                let storm = vec![open; n];
                bytes.splice(at..at, storm);
                if self.chance(0.5) {
                    let close = match open {
                        b'{' => b'}',
                        b'[' => b']',
                        _ => b')',
                    };
                    bytes.extend(std::iter::repeat_n(close, n));
                }
            }
            6 => {
                let token = self.pick(&[
                    "...",
                    "$",
                    "@include(if: $x)",
                    "#",
                    "\"\"\"",
                    "fragment F on QueryRoot { id }",
                    "query",
                    "mutation",
                    "subscription",
                    "on",
                    "null",
                    "\\u0000",
                    "\u{fffd}",
                    "1e999",
                    "__schema { types { name } }",
                    "__typename",
                    ":",
                    "&",
                    "|",
                ]);
                bytes.splice(at..at, token.bytes());
            }
            7 => {
                let n = self.range(1, 8);
                let noise: Vec<u8> = (0..n).map(|_| self.draw(&any::<u8>())).collect();
                bytes.splice(at..at, noise);
            }
            _ => {
                // Swap two halves.
                let tail = bytes.split_off(at);
                let head = std::mem::replace(bytes, tail);
                bytes.extend(head);
            }
        }
    }

    fn nested_json(depth: usize, object: bool) -> String {
        let mut s = String::with_capacity(depth * 6 + 1);
        for _ in 0..depth {
            s.push_str(if object { "{\"a\":" } else { "[" });
        }
        s.push('1');
        for _ in 0..depth {
            s.push(if object { '}' } else { ']' });
        }
        s
    }

    fn raw_case(&mut self) -> Case {
        let auth = self.auth();
        let json = Some("application/json");
        let small = "{ __typename }";
        let ok = |q: &str| String::from_utf8(Self::body(q, None, None)).expect("utf-8");
        match self.below(16) {
            0 => Case::post("raw/empty", auth, self.pick(&[json, None]), Vec::new()),
            1 => {
                let body = self
                    .pick(&[
                        "{\"query\": 5}",
                        "{\"query\": null}",
                        "{\"query\": []}",
                        "{\"query\": {}}",
                        "{\"query\": true}",
                        "{}",
                        "[]",
                        "null",
                        "5",
                        "\"{ __typename }\"",
                        "true",
                        "{\"query\": \"\"}",
                        "{\"query\": \"   \"}",
                        "{\"query\": \"# only a comment\"}",
                        "{\"query\": \"{ __typename }\", \"variables\": \"x\"}",
                        "{\"query\": \"{ __typename }\", \"variables\": 5}",
                        "{\"query\": \"{ __typename }\", \"variables\": []}",
                        "{\"query\": \"{ __typename }\", \"variables\": null}",
                        "{\"query\": \"{ __typename }\", \"operationName\": 5}",
                        "{\"query\": \"{ __typename }\", \"operationName\": \"X\"}",
                        "{\"query\": \"{ __typename }\", \"extensions\": {\"persistedQuery\": {\"version\": 1, \"sha256Hash\": \"abc\"}}}",
                        "{\"query\": \"{ __typename }\", \"extensions\": 5}",
                        "{\"query\": \"{ __typename }\", \"query\": \"{ viewer { id } }\"}",
                        "{\"query\": \"{ __typename }\", \"unknown\": 1}",
                        "{\"query\": \"{ __typename }\"} trailing",
                        "{\"query\": \"\\ud800\"}",
                        "{\"query\": \"{ __typename }\", \"variables\": {\"a\": 1e400}}",
                        "{\"query\": \"{ __typename }\", \"variables\": {\"a\": 123456789012345678901234567890}}",
                        "\u{feff}{\"query\": \"{ __typename }\"}",
                        "{\"query\": \"query($a: Int){ __typename }\", \"variables\": {\"a\": \"1\"}}",
                        "{\"query\": \"query($id: UUID!){ liftSession(id: $id){ id } }\", \"variables\": {}}",
                        "{\"query\": \"query($id: UUID!){ liftSession(id: $id){ id } }\"}",
                        "{\"query\": \"query($n: Int!){ liftSessions(first: $n){ nodes { id } } }\", \"variables\": {\"n\": 2147483648}}",
                        "{\"query\": \"query($n: Int!){ liftSessions(first: $n){ nodes { id } } }\", \"variables\": {\"n\": \"abc\"}}",
                    ])
                    .as_bytes()
                    .to_vec();
                Case::post("raw/odd-json", auth, json, body)
            }
            2 => {
                // Invalid JSON: a valid body cut or corrupted.
                let mut body = ok(small).into_bytes();
                let n = self.range(1, 3);
                for _ in 0..n {
                    self.mutate_bytes(&mut body);
                }
                Case::post("raw/invalid-json", auth, json, body)
            }
            3 => {
                let n = self.range(0, 64);
                let body: Vec<u8> = (0..n).map(|_| self.draw(&any::<u8>())).collect();
                Case::post("raw/bytes", auth, self.pick(&[json, None]), body)
            }
            4 => {
                let depth = self
                    .pick(&[100, 127, 128, 129, 1000, 10_000])
                    .min(self.knobs.max_nest.max(100) * 10);
                let object = self.chance(0.5);
                let nested = Self::nested_json(depth, object);
                let body = match self.below(3) {
                    0 => nested,
                    1 => format!(
                        "{{\"query\":\"{{ __typename }}\",\"variables\":{{\"a\":{nested}}}}}"
                    ),
                    _ => format!("{{\"query\":\"{{ __typename }}\",\"extensions\":{nested}}}"),
                };
                Case::post(
                    format!("raw/deep-json-{depth}"),
                    auth,
                    json,
                    body.into_bytes(),
                )
            }
            5 | 6 => {
                let ct = self.pick(&[
                    "text/plain",
                    "application/graphql",
                    "application/x-www-form-urlencoded",
                    "application/octet-stream",
                    "application/json; charset=utf-16",
                    "application/graphql-response+json",
                    "multipart/form-data",
                    "multipart/mixed; boundary=",
                    "",
                    ";;;",
                    "application/json, text/html",
                    "*/*",
                    "text/html; charset=\u{7f}",
                ]);
                let body = match self.below(3) {
                    0 => ok(small),
                    1 => small.to_string(),
                    _ => "query=%7B__typename%7D".to_string(),
                };
                Case::post(
                    format!("raw/content-type {ct}"),
                    auth,
                    Some(ct),
                    body.into_bytes(),
                )
            }
            7 => self.multipart_case(auth),
            8 | 9 => {
                // A batch of mixed items.
                let n = self.pick(&[0, 1, 2, 3, 5, 10, 11, 50]);
                let mut items = Vec::new();
                for _ in 0..n {
                    let item = match self.below(6) {
                        0 | 1 => ok(small),
                        2 => {
                            let (q, v, o, _) = self.document(0.1);
                            String::from_utf8(Self::body(&q, v.as_deref(), o.as_deref()))
                                .expect("utf-8")
                        }
                        3 => self.pick(&["5", "null", "\"x\"", "[]", "{}", "{\"query\": 5}"]).to_string(),
                        4 => ok("mutation { createLiftSession(input: {source: PROMPT, originalInput: \"ok\"}) { session { id } } }"),
                        _ => ok("{ nope }"),
                    };
                    items.push(item);
                }
                let body = format!("[{}]", items.join(","));
                Case::post(format!("raw/batch-{n}"), auth, json, body.into_bytes())
            }
            10 => {
                // Just over (or at) the body limit.
                let size: usize = self.pick(&[1_048_576 - 64, 1_048_577, 2_000_000]);
                let pad = "x".repeat(size.saturating_sub(40));
                let body = format!("{{\"query\":\"{{ __typename }}\",\"p\":\"{pad}\"}}");
                Case::post(format!("raw/size-{size}"), auth, json, body.into_bytes())
            }
            11 => {
                let method = self.pick(&["PUT", "PATCH", "DELETE", "OPTIONS"]);
                Case {
                    kind: format!("raw/method {method}"),
                    method,
                    auth,
                    content_type: json.map(str::to_string),
                    body: ok(small).into_bytes(),
                }
            }
            12 => {
                // A mutation that succeeds next to one that fails.
                let body = ok("mutation { a: createLiftSession(input: {source: PROMPT, originalInput: \"ok\"}) { session { id } } b: createLiftSession(input: {source: PROMPT, originalInput: \"a\\u0000b\"}) { session { id } } }");
                Case::post("raw/mutation-pair", auth, json, body.into_bytes())
            }
            13 => {
                // Big numbers and odd values in variables of a valid query.
                let value = self.pick(&[
                    "1e400",
                    "-0",
                    "9223372036854775808",
                    "[1,2]",
                    "{\"a\":1}",
                    "\"\\u0000\"",
                    "true",
                    "\"2147483648\"",
                    "\"PROMPT\"",
                    "null",
                ]);
                let body = format!(
                    "{{\"query\":\"query($n: Int, $s: LiftSessionSource, $w: LiftSessionWhere) {{ liftSessions(first: $n, where: $w) {{ nodes {{ id }} }} publicPrompts(first: $n) {{ nodes {{ id }} }} liftSessionAggregate(where: {{source: {{eq: $s}}}}) {{ count }} }}\",\"variables\":{{\"n\":{value},\"s\":{value},\"w\":{value}}}}}"
                );
                Case::post("raw/variables", auth, json, body.into_bytes())
            }
            _ => {
                let (q, v, o, kind) = self.document(0.1);
                let body = Self::body(&q, v.as_deref(), o.as_deref());
                Case::post(format!("raw/no-content-type {kind}"), auth, None, body)
            }
        }
    }

    fn multipart_case(&mut self, auth: Auth) -> Case {
        let boundary = "fuzzboundary";
        let operations = match self.below(4) {
            0 => "{\"query\":\"{ __typename }\"}".to_string(),
            1 => "{\"query\":\"mutation($f: Upload){ __typename }\",\"variables\":{\"f\":null}}"
                .to_string(),
            2 => "not json".to_string(),
            _ => "[{\"query\":\"{ __typename }\"},5]".to_string(),
        };
        let map = self.pick(&[
            "{\"0\":[\"variables.f\"]}",
            "{\"0\":[\"variables.nope.deep\"]}",
            "{\"0\":[\"0.variables.f\"]}",
            "{}",
            "[]",
            "{\"0\":5}",
        ]);
        let mut body = String::new();
        if self.chance(0.9) {
            body.push_str(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{operations}\r\n"));
        }
        if self.chance(0.7) {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{map}\r\n"
            ));
        }
        if self.chance(0.5) {
            body.push_str(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n"));
        }
        if self.chance(0.8) {
            body.push_str(&format!("--{boundary}--\r\n"));
        }
        let ct = format!("multipart/form-data; boundary={boundary}");
        Case::post("raw/multipart", auth, Some(&ct), body.into_bytes())
    }

    fn special_case(&mut self) -> Case {
        let auth = self.auth();
        let nest = self.deep(self.knobs.max_nest);
        let (kind, query) = match self.below(12) {
            0 => (
                "fragment-cycle",
                "query { ...A } fragment A on QueryRoot { ...B } fragment B on QueryRoot { ...A }".to_string(),
            ),
            1 => {
                // Each fragment spreads the next twice: 2^n fields if expanded.
                let n = self.range(5, 40);
                let mut q = String::from("query { ...F0 }");
                for i in 0..n {
                    q.push_str(&format!(
                        " fragment F{i} on QueryRoot {{ __typename ...F{} ...F{} }}",
                        i + 1,
                        i + 1
                    ));
                }
                q.push_str(&format!(" fragment F{n} on QueryRoot {{ viewer {{ id }} }}"));
                ("fragment-bomb", q)
            }
            2 => (
                "deep-inline-fragments",
                format!(
                    "{{ {}__typename{} }}",
                    "... on QueryRoot { ".repeat(nest),
                    " }".repeat(nest)
                ),
            ),
            3 => (
                // A real cycle of the schema: message -> session -> messages.
                "deep-selection",
                format!(
                    "{{ chatMessages(first: 1) {{ nodes {{ {}id{} }} }} }}",
                    "session { messages(first: 1) { nodes { ".repeat(nest.div_ceil(3)),
                    " } } }".repeat(nest.div_ceil(3))
                ),
            ),
            4 => (
                "deep-list-literal",
                format!(
                    "{{ liftSessions(first: {}1{}) {{ nodes {{ id }} }} }}",
                    "[".repeat(nest),
                    "]".repeat(nest)
                ),
            ),
            5 => (
                "deep-object-literal",
                format!(
                    "{{ publicPrompts(where: {}1{}) {{ nodes {{ id }} }} }}",
                    "{a: ".repeat(nest),
                    "}".repeat(nest)
                ),
            ),
            6 => {
                let n = self.pick(&[31, 500, 5000]);
                let fields: Vec<String> = (0..n).map(|i| format!("a{i}: __typename")).collect();
                ("many-aliases", format!("{{ {} }}", fields.join(" ")))
            }
            7 => {
                let n = self.pick(&[10, 1000, 5000]);
                ("many-directives", format!("{{ __typename{} }}", " @skip(if: false)".repeat(n)))
            }
            8 => {
                let n = self.pick(&[10, 1000]);
                let args: Vec<String> = (0..n).map(|i| format!("x{i}: {i}")).collect();
                ("many-arguments", format!("{{ liftSessions({}) {{ nodes {{ id }} }} }}", args.join(", ")))
            }
            9 => {
                let q = self.pick(&[
                    "{ __schema { types { name fields { name args { name type { name ofType { name ofType { name ofType { name ofType { name ofType { name ofType { name ofType { name ofType { name } } } } } } } } } } } } }",
                    "{ __type(name: \"LiftSessionWhere\") { inputFields { name type { name kind ofType { name kind ofType { name } } } } } }",
                    "{ __type(name: \"\\u0000\") { name } }",
                    "query { __typename } query { __typename }",
                    "query Q { __typename } query Q { __typename }",
                    "{ liftSession(id: \"\\uD800\") { id } }",
                    "{ publicPrompts(first: 1, where: {title: {like: \"\\uDFFF\\uD800\"}}) { nodes { id } } }",
                    "{ liftSessions(first: -1) { nodes { id } } }",
                    "{ liftSessions(first: 1, after: \"\\u0000\") { nodes { id } } }",
                    "{ liftSessions(first: 1, after: \"eyJ4IjoxfQ\") { nodes { id } } }",
                    "{ liftSessions(last: 1, before: \"////\") { nodes { id } } }",
                    "{ chatSessions(first: 1, after: \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\") { nodes { id } } }",
                    "subscription { activity { kind } activity { kind } }",
                    "subscription { __typename }",
                    "mutation { __typename }",
                    "{ viewer { chatUsage(from: \"0001-01-01\", to: \"9999-12-31\") { totals { messages } } } }",
                ]);
                ("odd-document", q.to_string())
            }
            10 => (
                "deep-where-literal",
                format!(
                    "{{ liftSessions(first: 1, where: {}{{id: {{isNull: false}}}}{}) {{ nodes {{ id }} }} }}",
                    "{not: ".repeat(self.knobs.max_where_depth.min(nest)),
                    "}".repeat(self.knobs.max_where_depth.min(nest))
                ),
            ),
            _ => {
                let n = self.pick(&[10_000, 100_000]);
                ("long-string", format!("{{ liftSessions(first: 1, where: {{originalInput: {{like: \"{}\"}}}}) {{ nodes {{ id }} }} }}", "%".repeat(n)))
            }
        };
        let body = Self::body(&query, None, None);
        Case::post(
            format!("special/{kind}"),
            auth,
            Some("application/json"),
            body,
        )
    }
}
