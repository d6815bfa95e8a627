//! Relay connections over keyset pagination, for root lists and for nested
//! lists loaded per parent in one statement.
//!
//! A cursor is the base64url JSON array of the row's sort-key values (the
//! requested ordering plus the primary key as tiebreak), so pages stay stable
//! while rows are inserted. Orderings use NOT NULL columns only.

use crate::graphql::error::{ApiError, ApiResult};
use async_graphql::connection::{Connection, Edge};
use async_graphql::{Enum, OutputType, SimpleObject};
use base64::Engine;
use sea_orm::sea_query::{
    Alias, Asterisk, Expr, ExprTrait, IntoIden, Order, Query, SelectStatement, WindowStatement,
};
use sea_orm::{
    ColumnTrait, ColumnType, Condition, ConnectionTrait, EntityTrait, FromQueryResult, ModelTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select, Value,
};
use std::collections::HashMap;

/// Page size when neither `first` nor `last` is given.
pub const DEFAULT_PAGE_SIZE: u64 = 20;

/// Sort direction of an `orderBy` entry.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SortDirection {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

impl SortDirection {
    fn order(self, backward: bool) -> Order {
        match (self, backward) {
            (SortDirection::Asc, false) | (SortDirection::Desc, true) => Order::Asc,
            _ => Order::Desc,
        }
    }
}

/// Extra fields of every connection.
#[derive(SimpleObject, Clone, Copy, Debug, Default)]
pub struct ConnectionTotal {
    /// Number of nodes matching the filter, over all pages.
    pub total_count: i64,
}

/// A connection as the API returns it.
pub type ApiConnection<N> = Connection<String, N, ConnectionTotal>;

/// Validated `first/after/last/before`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Page {
    /// Rows to return.
    pub limit: u64,
    /// Paging backwards (`last`).
    pub backward: bool,
    /// Decoded `after` cursor.
    pub after: Option<Vec<String>>,
    /// Decoded `before` cursor.
    pub before: Option<Vec<String>>,
}

impl Page {
    /// Checks the Relay arguments against `max` page size.
    pub fn parse(
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        max: u64,
    ) -> ApiResult<Self> {
        if first.is_some() && last.is_some() {
            return Err(ApiError::bad_input(
                "first",
                "pass either first or last, not both",
            ));
        }
        let size = |name: &str, n: i32| -> ApiResult<u64> {
            if n < 0 {
                return Err(ApiError::bad_input(
                    name,
                    format!("{name} must not be negative"),
                ));
            }
            let n = n as u64;
            if n > max {
                return Err(ApiError::bad_input(
                    name,
                    format!("{name} must be at most {max}"),
                ));
            }
            Ok(n)
        };
        let (limit, backward) = match (first, last) {
            (Some(n), None) => (size("first", n)?, false),
            (None, Some(n)) => (size("last", n)?, true),
            _ => (std::cmp::min(DEFAULT_PAGE_SIZE, max), false),
        };
        Ok(Self {
            limit,
            backward,
            after: after.map(|c| decode_cursor(&c, "after")).transpose()?,
            before: before.map(|c| decode_cursor(&c, "before")).transpose()?,
        })
    }
}

fn decode_cursor(cursor: &str, field: &str) -> ApiResult<Vec<String>> {
    let bad = || ApiError::bad_input(field, "invalid cursor");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    serde_json::from_slice::<Vec<String>>(&bytes).map_err(|_| bad())
}

fn encode_cursor(values: &[String]) -> String {
    let json = serde_json::to_vec(values).expect("strings serialise");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

/// One ordering key: a column and its direction. The list given to the
/// helpers must end with the primary key, which makes the order total.
pub type SortKey<C> = (C, SortDirection);

/// A cursor value as text, for the column types we order by.
fn value_to_text(value: Value) -> ApiResult<String> {
    Ok(match value {
        Value::Uuid(Some(v)) => v.to_string(),
        Value::ChronoDateTimeWithTimeZone(Some(v)) => {
            v.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        }
        Value::ChronoDate(Some(v)) => v.to_string(),
        Value::Int(Some(v)) => v.to_string(),
        Value::BigInt(Some(v)) => v.to_string(),
        Value::SmallInt(Some(v)) => v.to_string(),
        Value::String(Some(v)) => v,
        Value::Bool(Some(v)) => v.to_string(),
        Value::Decimal(Some(v)) => v.to_string(),
        other => {
            return Err(ApiError::Internal(format!(
                "unsupported sort key value {other:?}"
            )))
        }
    })
}

/// Parses a cursor's text back into a typed value for `column`.
fn text_to_value<C: ColumnTrait>(column: &C, text: &str) -> ApiResult<Value> {
    let bad = || ApiError::bad_input("after", "invalid cursor");
    Ok(match column.def().get_column_type() {
        ColumnType::Uuid => Value::Uuid(Some(text.parse().map_err(|_| bad())?)),
        ColumnType::TimestampWithTimeZone => Value::ChronoDateTimeWithTimeZone(Some(
            chrono::DateTime::parse_from_rfc3339(text).map_err(|_| bad())?,
        )),
        ColumnType::Date => Value::ChronoDate(Some(text.parse().map_err(|_| bad())?)),
        ColumnType::Integer => Value::Int(Some(text.parse().map_err(|_| bad())?)),
        ColumnType::BigInteger => Value::BigInt(Some(text.parse().map_err(|_| bad())?)),
        ColumnType::SmallInteger => Value::SmallInt(Some(text.parse().map_err(|_| bad())?)),
        ColumnType::Boolean => Value::Bool(Some(text.parse().map_err(|_| bad())?)),
        ColumnType::Decimal(_) => Value::Decimal(Some(text.parse().map_err(|_| bad())?)),
        ColumnType::String(_) | ColumnType::Text | ColumnType::Char(_) => {
            Value::String(Some(text.to_string()))
        }
        other => {
            return Err(ApiError::Internal(format!(
                "unsupported sort key type {other:?}"
            )))
        }
    })
}

/// The cursor of `model` under `keys`.
pub fn cursor_of<M, C>(model: &M, keys: &[SortKey<C>]) -> ApiResult<String>
where
    M: ModelTrait,
    C: ColumnTrait + Into<<M::Entity as EntityTrait>::Column>,
{
    let values = keys
        .iter()
        .map(|(c, _)| value_to_text(model.get((*c).into())))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(encode_cursor(&values))
}

/// Rows strictly after (`after = true`) or before the cursor in `keys` order:
/// `(k1 > v1) OR (k1 = v1 AND k2 > v2) OR ...`, with each comparison turned
/// around for descending keys.
fn keyset_condition<C: ColumnTrait>(
    keys: &[SortKey<C>],
    cursor: &[String],
    after: bool,
) -> ApiResult<Condition> {
    if cursor.len() != keys.len() {
        return Err(ApiError::bad_input(
            if after { "after" } else { "before" },
            "cursor does not match this ordering",
        ));
    }
    let values = keys
        .iter()
        .zip(cursor)
        .map(|((c, _), text)| text_to_value(c, text))
        .collect::<ApiResult<Vec<_>>>()?;
    let mut any = Condition::any();
    for i in 0..keys.len() {
        let mut all = Condition::all();
        for j in 0..i {
            all = all.add(keys[j].0.eq(values[j].clone()));
        }
        let (column, direction) = keys[i];
        let greater = (direction == SortDirection::Asc) == after;
        all = all.add(if greater {
            column.gt(values[i].clone())
        } else {
            column.lt(values[i].clone())
        });
        any = any.add(all);
    }
    Ok(any)
}

/// One page of `select` (already filtered, and restricted by RLS) in `keys`
/// order, as a connection of `N`. `with_total` adds a count statement; pass
/// whether the client selected `totalCount`.
pub async fn paginate<E, N, C, F>(
    db: &C,
    select: Select<E>,
    keys: &[SortKey<E::Column>],
    page: &Page,
    with_total: bool,
    to_node: F,
) -> ApiResult<ApiConnection<N>>
where
    E: EntityTrait,
    E::Model: ModelTrait<Entity = E> + Sync,
    N: OutputType,
    C: ConnectionTrait,
    F: Fn(E::Model) -> N,
{
    let total = if with_total {
        select.clone().count(db).await? as i64
    } else {
        0
    };
    let mut query = select;
    if let Some(after) = &page.after {
        query = query.filter(keyset_condition(keys, after, true)?);
    }
    if let Some(before) = &page.before {
        query = query.filter(keyset_condition(keys, before, false)?);
    }
    for (column, direction) in keys {
        query = query.order_by(*column, direction.order(page.backward));
    }
    let mut rows = query.limit(page.limit + 1).all(db).await?;
    let more = rows.len() as u64 > page.limit;
    rows.truncate(page.limit as usize);
    if page.backward {
        rows.reverse();
    }
    let (has_previous, has_next) = if page.backward {
        (more, page.before.is_some())
    } else {
        (page.after.is_some(), more)
    };
    let mut connection = Connection::with_additional_fields(
        has_previous,
        has_next,
        ConnectionTotal { total_count: total },
    );
    for row in rows {
        let cursor = cursor_of(&row, keys)?;
        connection.edges.push(Edge::new(cursor, to_node(row)));
    }
    Ok(connection)
}

/// A per-parent page of children, as loaded for a nested connection.
#[derive(Clone, Debug)]
pub struct ChildPage<M> {
    /// The first rows of the parent's page.
    pub rows: Vec<M>,
    /// Children of the parent matching the filter, over all pages.
    pub total: i64,
    /// More rows follow this page.
    pub has_next: bool,
}

impl<M> Default for ChildPage<M> {
    fn default() -> Self {
        Self {
            rows: Vec::new(),
            total: 0,
            has_next: false,
        }
    }
}

impl<M: ModelTrait> ChildPage<M> {
    /// The connection of this page.
    pub fn into_connection<N, C, F>(
        self,
        keys: &[SortKey<C>],
        to_node: F,
    ) -> ApiResult<ApiConnection<N>>
    where
        N: OutputType,
        C: ColumnTrait + Into<<M::Entity as EntityTrait>::Column>,
        F: Fn(M) -> N,
    {
        let mut connection = Connection::with_additional_fields(
            false,
            self.has_next,
            ConnectionTotal {
                total_count: self.total,
            },
        );
        for row in self.rows {
            let cursor = cursor_of(&row, keys)?;
            connection.edges.push(Edge::new(cursor, to_node(row)));
        }
        Ok(connection)
    }
}

/// The first `limit` children of each parent in `parents`, in `keys` order,
/// with each parent's total: ONE statement for any number of parents, the
/// page cut per parent with a window function.
pub async fn children_pages<E, C>(
    db: &C,
    parent_column: E::Column,
    parents: &[uuid::Uuid],
    keys: &[SortKey<E::Column>],
    limit: u64,
    filter: Condition,
) -> ApiResult<HashMap<uuid::Uuid, ChildPage<E::Model>>>
where
    E: EntityTrait,
    E::Model: FromQueryResult,
    C: ConnectionTrait,
{
    let mut pages: HashMap<uuid::Uuid, ChildPage<E::Model>> = HashMap::new();
    if parents.is_empty() {
        return Ok(pages);
    }
    let table = E::default().table_ref();
    let mut window = WindowStatement::partition_by(parent_column);
    for (column, direction) in keys {
        window.order_by(*column, direction.order(false));
    }
    let mut inner: SelectStatement = Query::select();
    inner
        .column(Asterisk)
        .from(table)
        .expr_window_as(Expr::cust("row_number()"), window, Alias::new("__rn"))
        .expr_window_as(
            Expr::cust("count(*)"),
            WindowStatement::partition_by(parent_column),
            Alias::new("__total"),
        )
        .and_where(parent_column.is_in(parents.iter().copied()))
        .cond_where(filter);
    let mut outer = Query::select();
    outer
        .column(Asterisk)
        .from_subquery(inner, Alias::new("t"))
        .and_where(Expr::col(Alias::new("__rn")).lte(limit as i64 + 1))
        .order_by(Alias::new("__rn").into_iden(), Order::Asc);
    let rows = db.query_all(&outer).await?;
    for row in rows {
        let model = E::Model::from_query_result(&row, "")?;
        let rn: i64 = row.try_get("", "__rn")?;
        let total: i64 = row.try_get("", "__total")?;
        let parent = match model.get(parent_column) {
            Value::Uuid(Some(id)) => id,
            other => {
                return Err(ApiError::Internal(format!(
                    "parent key is not a uuid: {other:?}"
                )))
            }
        };
        let page = pages.entry(parent).or_default();
        page.total = total;
        if rn as u64 > limit {
            page.has_next = true;
        } else {
            page.rows.push(model);
        }
    }
    Ok(pages)
}
