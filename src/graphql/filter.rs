//! `where:` filter inputs per scalar type, each turned into a SQL condition on
//! one column. Domain modules combine them into per-type `...Where` inputs
//! with `and` / `or` / `not`. Values are always bound parameters.

use async_graphql::{InputObject, Json};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::extension::postgres::PgBinOper;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, Condition};
use uuid::Uuid;

/// Adds the comparisons every ordered scalar filter shares.
macro_rules! ordered_filter {
    ($(#[$doc:meta])* $name:ident, $ty:ty) => {
        $(#[$doc])*
        #[derive(InputObject, Clone, Debug, Default)]
        pub struct $name {
            /// Equal to.
            pub eq: Option<$ty>,
            /// Not equal to.
            pub neq: Option<$ty>,
            /// One of.
            #[graphql(name = "in")]
            pub in_list: Option<Vec<$ty>>,
            /// Less than.
            pub lt: Option<$ty>,
            /// Less than or equal to.
            pub lte: Option<$ty>,
            /// Greater than.
            pub gt: Option<$ty>,
            /// Greater than or equal to.
            pub gte: Option<$ty>,
            /// Is (true) or is not (false) null.
            pub is_null: Option<bool>,
        }

        impl $name {
            /// The condition on `column`.
            pub fn condition(&self, column: impl ColumnTrait) -> Condition {
                let mut c = Condition::all();
                if let Some(v) = &self.eq {
                    c = c.add(column.eq(v.clone()));
                }
                if let Some(v) = &self.neq {
                    c = c.add(column.ne(v.clone()));
                }
                if let Some(v) = &self.in_list {
                    c = c.add(column.is_in(v.iter().cloned()));
                }
                if let Some(v) = &self.lt {
                    c = c.add(column.lt(v.clone()));
                }
                if let Some(v) = &self.lte {
                    c = c.add(column.lte(v.clone()));
                }
                if let Some(v) = &self.gt {
                    c = c.add(column.gt(v.clone()));
                }
                if let Some(v) = &self.gte {
                    c = c.add(column.gte(v.clone()));
                }
                c.add_option(self.is_null.map(|null| null_check(column, null)))
            }
        }
    };
}

fn null_check(column: impl ColumnTrait, null: bool) -> Condition {
    Condition::all().add(if null {
        column.is_null()
    } else {
        column.is_not_null()
    })
}

ordered_filter!(
    /// Filter on an integer column.
    IntFilter,
    i32
);
ordered_filter!(
    /// Filter on a decimal column.
    DecimalFilter,
    Decimal
);
ordered_filter!(
    /// Filter on a timestamp column.
    DateTimeFilter,
    DateTime<Utc>
);

/// Filter on a uuid column.
#[derive(InputObject, Clone, Debug, Default)]
pub struct UuidFilter {
    /// Equal to.
    pub eq: Option<Uuid>,
    /// Not equal to.
    pub neq: Option<Uuid>,
    /// One of.
    #[graphql(name = "in")]
    pub in_list: Option<Vec<Uuid>>,
    /// Is (true) or is not (false) null.
    pub is_null: Option<bool>,
}

impl UuidFilter {
    /// The condition on `column`.
    pub fn condition(&self, column: impl ColumnTrait) -> Condition {
        let mut c = Condition::all();
        if let Some(v) = self.eq {
            c = c.add(column.eq(v));
        }
        if let Some(v) = self.neq {
            c = c.add(column.ne(v));
        }
        if let Some(v) = &self.in_list {
            c = c.add(column.is_in(v.iter().copied()));
        }
        c.add_option(self.is_null.map(|null| null_check(column, null)))
    }
}

/// Filter on a boolean column.
#[derive(InputObject, Clone, Debug, Default)]
pub struct BooleanFilter {
    /// Equal to.
    pub eq: Option<bool>,
    /// Is (true) or is not (false) null.
    pub is_null: Option<bool>,
}

impl BooleanFilter {
    /// The condition on `column`.
    pub fn condition(&self, column: impl ColumnTrait) -> Condition {
        Condition::all()
            .add_option(self.eq.map(|v| column.eq(v)))
            .add_option(self.is_null.map(|null| null_check(column, null)))
    }
}

/// Filter on a text column.
#[derive(InputObject, Clone, Debug, Default)]
pub struct StringFilter {
    /// Equal to.
    pub eq: Option<String>,
    /// Not equal to.
    pub neq: Option<String>,
    /// One of.
    #[graphql(name = "in")]
    pub in_list: Option<Vec<String>>,
    /// Less than.
    pub lt: Option<String>,
    /// Less than or equal to.
    pub lte: Option<String>,
    /// Greater than.
    pub gt: Option<String>,
    /// Greater than or equal to.
    pub gte: Option<String>,
    /// SQL LIKE pattern (case-sensitive; `%` and `_` are wildcards).
    pub like: Option<String>,
    /// SQL ILIKE pattern (case-insensitive).
    pub ilike: Option<String>,
    /// Is (true) or is not (false) null.
    pub is_null: Option<bool>,
}

impl StringFilter {
    /// The condition on `column`.
    pub fn condition(&self, column: impl ColumnTrait) -> Condition {
        let mut c = Condition::all();
        if let Some(v) = &self.eq {
            c = c.add(column.eq(v.as_str()));
        }
        if let Some(v) = &self.neq {
            c = c.add(column.ne(v.as_str()));
        }
        if let Some(v) = &self.in_list {
            c = c.add(column.is_in(v.iter().cloned()));
        }
        if let Some(v) = &self.lt {
            c = c.add(column.lt(v.as_str()));
        }
        if let Some(v) = &self.lte {
            c = c.add(column.lte(v.as_str()));
        }
        if let Some(v) = &self.gt {
            c = c.add(column.gt(v.as_str()));
        }
        if let Some(v) = &self.gte {
            c = c.add(column.gte(v.as_str()));
        }
        if let Some(v) = &self.like {
            c = c.add(column.like(v.as_str()));
        }
        if let Some(v) = &self.ilike {
            c = c.add(
                Expr::col(column.as_column_ref()).binary(PgBinOper::ILike, Expr::val(v.as_str())),
            );
        }
        c.add_option(self.is_null.map(|null| null_check(column, null)))
    }
}

/// Filter on a jsonb column.
#[derive(InputObject, Clone, Debug, Default)]
pub struct JsonFilter {
    /// The column contains this JSON (`@>`).
    pub contains: Option<Json<serde_json::Value>>,
    /// Is (true) or is not (false) null.
    pub is_null: Option<bool>,
}

impl JsonFilter {
    /// The condition on `column`.
    pub fn condition(&self, column: impl ColumnTrait) -> Condition {
        let mut c = Condition::all();
        if let Some(v) = &self.contains {
            c = c.add(
                Expr::col(column.as_column_ref())
                    .binary(PgBinOper::Contains, Expr::val(v.0.clone()).cast_as("jsonb")),
            );
        }
        c.add_option(self.is_null.map(|null| null_check(column, null)))
    }
}

/// `base AND (all of and) AND (any of or) AND NOT not`.
pub fn combine<W>(
    base: Condition,
    and: &Option<Vec<W>>,
    or: &Option<Vec<W>>,
    not: &Option<Box<W>>,
    condition: impl Fn(&W) -> Condition,
) -> Condition {
    let mut c = base;
    for w in and.iter().flatten() {
        c = c.add(condition(w));
    }
    if let Some(list) = or {
        let mut any = Condition::any();
        for w in list {
            any = any.add(condition(w));
        }
        c = c.add(any);
    }
    if let Some(w) = not {
        c = c.add(condition(w).not());
    }
    c
}

/// Adds `filter.condition(column)` when the filter is given.
pub fn opt<F>(c: Condition, filter: &Option<F>, cond: impl Fn(&F) -> Condition) -> Condition {
    match filter {
        Some(f) => c.add(cond(f)),
        None => c,
    }
}

/// Declares a filter input on an enum column (stored as text).
macro_rules! enum_filter {
    ($(#[$doc:meta])* $name:ident, $enum:ty) => {
        $(#[$doc])*
        #[derive(async_graphql::InputObject, Clone, Debug, Default)]
        pub struct $name {
            /// Equal to.
            pub eq: Option<$enum>,
            /// Not equal to.
            pub neq: Option<$enum>,
            /// One of.
            #[graphql(name = "in")]
            pub in_list: Option<Vec<$enum>>,
        }

        impl $name {
            /// The condition on `column`.
            pub fn condition(&self, column: impl sea_orm::ColumnTrait) -> sea_orm::Condition {
                let mut c = sea_orm::Condition::all();
                if let Some(v) = self.eq {
                    c = c.add(column.eq(v.as_db()));
                }
                if let Some(v) = self.neq {
                    c = c.add(column.ne(v.as_db()));
                }
                if let Some(v) = &self.in_list {
                    c = c.add(column.is_in(v.iter().map(|e| e.as_db())));
                }
                c
            }
        }
    };
}

pub(crate) use enum_filter;
