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
    Alias, Asterisk, Expr, ExprTrait, Func, JoinType, Order, Query, SelectStatement,
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
    /// Children of the parent matching the filter, over all pages (0 when
    /// the load did not ask for totals).
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

/// The validated Relay arguments of a root list, its page size capped by
/// the configured maximum.
pub fn root_page(
    ctx: &async_graphql::Context<'_>,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> ApiResult<Page> {
    let max = crate::graphql::context::limits(ctx).max_page_size as u64;
    Page::parse(first, after, last, before, max)
}

/// The validated `first` of a nested connection (no cursors: to page
/// deeper, clients use the root list).
pub fn nested_limit(ctx: &async_graphql::Context<'_>, first: Option<i32>) -> ApiResult<u64> {
    Ok(root_page(ctx, first, None, None, None)?.limit)
}

/// Whether the client selected `totalCount` on the connection being
/// resolved (it costs a count, so it is computed only when asked for).
pub fn wants_total(ctx: &async_graphql::Context<'_>) -> bool {
    ctx.look_ahead().field("totalCount").exists()
}

/// The first `limit` children of each parent in `parents`, in `keys` order:
/// ONE statement for any number of parents.
///
/// Each parent's page is a `LATERAL` subquery with its own `ORDER BY ...
/// LIMIT`, so with an index on `(parent, keys...)` PostgreSQL reads only the
/// rows it returns, however many children a parent has (a conversation of
/// 10,000 messages costs what one of 20 does). The parents go in as one
/// `uuid[]` parameter, so the statement text (and its prepared statement)
/// does not depend on how many there are. `with_total` adds each parent's
/// count of matching children, which does read them all (pass
/// [`wants_total`]).
pub async fn children_pages<E, C>(
    db: &C,
    parent_column: E::Column,
    parents: &[uuid::Uuid],
    keys: &[SortKey<E::Column>],
    limit: u64,
    filter: Condition,
    with_total: bool,
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
    let parent_set = Alias::new("__parents");
    let page_alias = Alias::new("__page");
    // `unnest(x) AS p` names its one column `p` too.
    let of_parent = || {
        Condition::all()
            .add(
                Expr::col((E::default(), parent_column))
                    .equals((parent_set.clone(), parent_set.clone())),
            )
            .add(filter.clone())
    };
    let mut page: SelectStatement = Query::select();
    page.column(Asterisk)
        .from(E::default().table_ref())
        .cond_where(of_parent())
        .limit(limit + 1);
    for (column, direction) in keys {
        page.order_by((E::default(), *column), direction.order(false));
    }
    let mut query = Query::select();
    query
        .column((page_alias.clone(), Asterisk))
        .from_function(
            Func::cust(Alias::new("unnest")).arg(Func::cast_as(
                Expr::val(parents.to_vec()),
                Alias::new("uuid[]"),
            )),
            parent_set.clone(),
        )
        .join_lateral(
            JoinType::InnerJoin,
            page,
            page_alias.clone(),
            Condition::all(),
        );
    if with_total {
        let mut count = Query::select();
        count
            .expr(Expr::cust("count(*)"))
            .from(E::default().table_ref())
            .cond_where(of_parent());
        query.expr_as(
            Expr::SubQuery(None, Box::new(count.into())),
            Alias::new("__total"),
        );
    }
    // Each parent's rows in page order (a total order: the keys end with a
    // unique column), whatever plan PostgreSQL picks for the join.
    for (column, direction) in keys {
        query.order_by((page_alias.clone(), *column), direction.order(false));
    }
    let rows = db.query_all(&query).await?;
    for row in rows {
        let model = E::Model::from_query_result(&row, "")?;
        let parent = match model.get(parent_column) {
            Value::Uuid(Some(id)) => id,
            other => {
                return Err(ApiError::Internal(format!(
                    "parent key is not a uuid: {other:?}"
                )))
            }
        };
        let page = pages.entry(parent).or_default();
        if with_total {
            page.total = row.try_get("", "__total")?;
        }
        if page.rows.len() as u64 == limit {
            page.has_next = true;
        } else {
            page.rows.push(model);
        }
    }
    Ok(pages)
}
