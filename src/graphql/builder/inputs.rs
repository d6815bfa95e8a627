//! Inputs of the builder domain: `where:` filters, `orderBy:` entries,
//! aggregate groupings and the mutation inputs.

use crate::graphql::error::{ApiError, ApiResult};
use crate::graphql::filter::{DateTimeFilter, JsonFilter, StringFilter, UuidFilter};
use crate::graphql::pagination::{SortDirection, SortKey};
use async_graphql::{Enum, InputObject, Json, MaybeUndefined};
use entity::builder::{prompts, responses, sessions, steps};
use sea_orm::Condition;
use uuid::Uuid;

/// How deep `and` / `or` / `not` may nest in one `where:`; deeper inputs are
/// refused instead of recursing without bound.
pub const MAX_WHERE_DEPTH: usize = 8;

/// Combines the per-column conditions of one `where` level with its nested
/// `and` / `or` / `not` inputs.
fn combine<W>(
    mut own: Condition,
    and: &Option<Vec<W>>,
    or: &Option<Vec<W>>,
    not: &Option<Box<W>>,
    depth: usize,
    condition: impl Fn(&W, usize) -> ApiResult<Condition>,
) -> ApiResult<Condition> {
    if depth > MAX_WHERE_DEPTH {
        return Err(ApiError::bad_input(
            "where",
            format!("and/or/not may nest at most {MAX_WHERE_DEPTH} levels"),
        ));
    }
    if let Some(list) = and {
        for w in list {
            own = own.add(condition(w, depth + 1)?);
        }
    }
    if let Some(list) = or {
        let mut any = Condition::any();
        for w in list {
            any = any.add(condition(w, depth + 1)?);
        }
        // An empty `or: []` matches nothing, as an empty disjunction should.
        own = own.add(any);
    }
    if let Some(w) = not {
        own = own.add(condition(w, depth + 1)?.not());
    }
    Ok(own)
}

/// Filter on builder sessions.
#[derive(InputObject, Clone, Debug, Default)]
pub struct BuilderSessionWhere {
    /// The session id.
    pub id: Option<UuidFilter>,
    /// The status (`active`, `completed`, `archived`, or null).
    pub status: Option<StringFilter>,
    /// The problem type.
    pub problem_type: Option<StringFilter>,
    /// The description.
    pub description: Option<StringFilter>,
    /// Creation time.
    pub created_at: Option<DateTimeFilter>,
    /// Last change.
    pub updated_at: Option<DateTimeFilter>,
    /// Every one of these matches.
    pub and: Option<Vec<BuilderSessionWhere>>,
    /// At least one of these matches.
    pub or: Option<Vec<BuilderSessionWhere>>,
    /// This does not match.
    pub not: Option<Box<BuilderSessionWhere>>,
}

impl BuilderSessionWhere {
    /// The SQL condition, `depth` levels into the `where` tree.
    pub fn condition(&self, depth: usize) -> ApiResult<Condition> {
        use sessions::Column as C;
        let own = Condition::all()
            .add_option(self.id.as_ref().map(|f| f.condition(C::Id)))
            .add_option(self.status.as_ref().map(|f| f.condition(C::Status)))
            .add_option(
                self.problem_type
                    .as_ref()
                    .map(|f| f.condition(C::ProblemType)),
            )
            .add_option(
                self.description
                    .as_ref()
                    .map(|f| f.condition(C::Description)),
            )
            .add_option(self.created_at.as_ref().map(|f| f.condition(C::CreatedAt)))
            .add_option(self.updated_at.as_ref().map(|f| f.condition(C::UpdatedAt)));
        combine(own, &self.and, &self.or, &self.not, depth, Self::condition)
    }
}

/// Filter on builder prompts.
#[derive(InputObject, Clone, Debug, Default)]
pub struct BuilderPromptWhere {
    /// The prompt id.
    pub id: Option<UuidFilter>,
    /// The session.
    pub session_id: Option<UuidFilter>,
    /// The prompt text.
    pub prompt_text: Option<StringFilter>,
    /// Creation time.
    pub created_at: Option<DateTimeFilter>,
    /// Every one of these matches.
    pub and: Option<Vec<BuilderPromptWhere>>,
    /// At least one of these matches.
    pub or: Option<Vec<BuilderPromptWhere>>,
    /// This does not match.
    pub not: Option<Box<BuilderPromptWhere>>,
}

impl BuilderPromptWhere {
    /// The SQL condition, `depth` levels into the `where` tree.
    pub fn condition(&self, depth: usize) -> ApiResult<Condition> {
        use prompts::Column as C;
        let own = Condition::all()
            .add_option(self.id.as_ref().map(|f| f.condition(C::Id)))
            .add_option(self.session_id.as_ref().map(|f| f.condition(C::SessionId)))
            .add_option(
                self.prompt_text
                    .as_ref()
                    .map(|f| f.condition(C::PromptText)),
            )
            .add_option(self.created_at.as_ref().map(|f| f.condition(C::CreatedAt)));
        combine(own, &self.and, &self.or, &self.not, depth, Self::condition)
    }
}

/// Filter on builder responses.
#[derive(InputObject, Clone, Debug, Default)]
pub struct BuilderResponseWhere {
    /// The response id.
    pub id: Option<UuidFilter>,
    /// The prompt answered.
    pub prompt_id: Option<UuidFilter>,
    /// The response text.
    pub response_text: Option<StringFilter>,
    /// Creation time.
    pub created_at: Option<DateTimeFilter>,
    /// Every one of these matches.
    pub and: Option<Vec<BuilderResponseWhere>>,
    /// At least one of these matches.
    pub or: Option<Vec<BuilderResponseWhere>>,
    /// This does not match.
    pub not: Option<Box<BuilderResponseWhere>>,
}

impl BuilderResponseWhere {
    /// The SQL condition, `depth` levels into the `where` tree.
    pub fn condition(&self, depth: usize) -> ApiResult<Condition> {
        use responses::Column as C;
        let own = Condition::all()
            .add_option(self.id.as_ref().map(|f| f.condition(C::Id)))
            .add_option(self.prompt_id.as_ref().map(|f| f.condition(C::PromptId)))
            .add_option(
                self.response_text
                    .as_ref()
                    .map(|f| f.condition(C::ResponseText)),
            )
            .add_option(self.created_at.as_ref().map(|f| f.condition(C::CreatedAt)));
        combine(own, &self.and, &self.or, &self.not, depth, Self::condition)
    }
}

/// Filter on builder steps.
#[derive(InputObject, Clone, Debug, Default)]
pub struct BuilderStepWhere {
    /// The step id.
    pub id: Option<UuidFilter>,
    /// The session.
    pub session_id: Option<UuidFilter>,
    /// The step type (`model_deploy` steps are decisions).
    pub step_type: Option<StringFilter>,
    /// The step's JSON data.
    pub step_data: Option<JsonFilter>,
    /// Creation time.
    pub created_at: Option<DateTimeFilter>,
    /// Every one of these matches.
    pub and: Option<Vec<BuilderStepWhere>>,
    /// At least one of these matches.
    pub or: Option<Vec<BuilderStepWhere>>,
    /// This does not match.
    pub not: Option<Box<BuilderStepWhere>>,
}

impl BuilderStepWhere {
    /// The SQL condition, `depth` levels into the `where` tree.
    pub fn condition(&self, depth: usize) -> ApiResult<Condition> {
        use steps::Column as C;
        let own = Condition::all()
            .add_option(self.id.as_ref().map(|f| f.condition(C::Id)))
            .add_option(self.session_id.as_ref().map(|f| f.condition(C::SessionId)))
            .add_option(self.step_type.as_ref().map(|f| f.condition(C::StepType)))
            .add_option(self.step_data.as_ref().map(|f| f.condition(C::StepData)))
            .add_option(self.created_at.as_ref().map(|f| f.condition(C::CreatedAt)));
        combine(own, &self.and, &self.or, &self.not, depth, Self::condition)
    }
}

/// The condition of an optional `where:` input (everything when absent).
pub fn where_condition<W>(
    filter: Option<&W>,
    condition: impl Fn(&W, usize) -> ApiResult<Condition>,
) -> ApiResult<Condition> {
    filter.map_or_else(|| Ok(Condition::all()), |w| condition(w, 0))
}

/// An `orderBy:` entry reduced to its field and direction.
pub trait OrderEntry: Copy {
    /// The field enum.
    type Field: Copy + PartialEq + Eq + std::hash::Hash + Send + Sync + 'static;
    /// The entry's field and direction.
    fn parts(self) -> (Self::Field, SortDirection);
}

/// Maps an order field to its column.
pub trait OrderField: Copy + PartialEq {
    /// The entity column type.
    type Column: sea_orm::ColumnTrait;
    /// The primary key field, appended as tiebreak.
    const ID: Self;
    /// The column ordered by.
    fn column(self) -> Self::Column;
}

/// A normalised ordering: requested entries without repeats, cut after the
/// primary key, and ending with it (so the order is total and cursors are
/// unique). Used as part of loader keys, hence `Hash + Eq`.
pub type Ordering<F> = Vec<(F, SortDirection)>;

/// Normalises `order` (or `default` when absent or empty).
pub fn normalize<E: OrderEntry>(
    order: Option<Vec<E>>,
    default: (E::Field, SortDirection),
) -> Ordering<E::Field>
where
    E::Field: OrderField,
{
    let requested: Vec<(E::Field, SortDirection)> = match order {
        Some(list) if !list.is_empty() => list.into_iter().map(OrderEntry::parts).collect(),
        _ => vec![default],
    };
    let mut out: Ordering<E::Field> = Vec::new();
    for (field, direction) in requested {
        if out.iter().any(|(f, _)| *f == field) {
            continue;
        }
        out.push((field, direction));
        if field == E::Field::ID {
            return out;
        }
    }
    // The tiebreak follows the last key's direction so one composite index
    // scan in one direction serves the whole ordering.
    let direction = out.last().map_or(SortDirection::Asc, |(_, d)| *d);
    out.push((E::Field::ID, direction));
    out
}

/// The sort keys of a normalised ordering.
pub fn sort_keys<F: OrderField>(ordering: &[(F, SortDirection)]) -> Vec<SortKey<F::Column>> {
    ordering.iter().map(|(f, d)| (f.column(), *d)).collect()
}

/// Declares an order-field enum and its `orderBy` input for one entity.
macro_rules! order_input {
    ($entity:ident, $field:ident, $field_doc:literal, $input:ident, $input_doc:literal) => {
        #[doc = $field_doc]
        #[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $field {
            /// Creation time (indexed).
            CreatedAt,
            /// The id (unique; the tiebreak of every ordering).
            Id,
        }

        impl OrderField for $field {
            type Column = $entity::Column;
            const ID: Self = $field::Id;
            fn column(self) -> $entity::Column {
                match self {
                    $field::CreatedAt => $entity::Column::CreatedAt,
                    $field::Id => $entity::Column::Id,
                }
            }
        }

        #[doc = $input_doc]
        #[derive(InputObject, Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $input {
            /// The field to order by.
            pub field: $field,
            /// The direction (ascending when omitted).
            #[graphql(default_with = "SortDirection::Asc")]
            pub direction: SortDirection,
        }

        impl OrderEntry for $input {
            type Field = $field;
            fn parts(self) -> ($field, SortDirection) {
                (self.field, self.direction)
            }
        }
    };
}

order_input!(
    sessions,
    BuilderSessionOrderField,
    "Orderable fields of builder sessions.",
    BuilderSessionOrder,
    "One `orderBy` entry for builder sessions."
);
order_input!(
    prompts,
    BuilderPromptOrderField,
    "Orderable fields of builder prompts.",
    BuilderPromptOrder,
    "One `orderBy` entry for builder prompts."
);
order_input!(
    responses,
    BuilderResponseOrderField,
    "Orderable fields of builder responses.",
    BuilderResponseOrder,
    "One `orderBy` entry for builder responses."
);
order_input!(
    steps,
    BuilderStepOrderField,
    "Orderable fields of builder steps.",
    BuilderStepOrder,
    "One `orderBy` entry for builder steps."
);

/// Groupings of `builderStepAggregate`.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BuilderStepGroupBy {
    /// By step type.
    StepType,
    /// By UTC calendar day of creation.
    Day,
    /// By session.
    Session,
}

/// Groupings of `builderSessionAggregate`.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BuilderSessionGroupBy {
    /// By status.
    Status,
    /// By problem type.
    ProblemType,
    /// By UTC calendar day of creation.
    Day,
}

/// The statuses a session may have (the database's CHECK), besides null.
pub const SESSION_STATUSES: [&str; 3] = ["active", "completed", "archived"];

/// A new builder session; every field is optional.
#[derive(InputObject, Clone, Debug, Default)]
pub struct CreateBuilderSessionInput {
    /// What the session is about (not blank when given).
    pub description: Option<String>,
    /// The kind of problem (not blank when given).
    pub problem_type: Option<String>,
    /// `active`, `completed` or `archived`.
    pub status: Option<String>,
}

/// Changes to a builder session: omitted fields stay, `null` clears.
#[derive(InputObject, Clone, Debug)]
pub struct UpdateBuilderSessionInput {
    /// The session to change.
    pub id: Uuid,
    /// New description (not blank), or null to clear it.
    #[graphql(default)]
    pub description: MaybeUndefined<String>,
    /// New problem type (not blank), or null to clear it.
    #[graphql(default)]
    pub problem_type: MaybeUndefined<String>,
    /// New status (`active`, `completed`, `archived`), or null to clear it.
    #[graphql(default)]
    pub status: MaybeUndefined<String>,
}

/// The session to delete.
#[derive(InputObject, Clone, Debug)]
pub struct DeleteBuilderSessionInput {
    /// Its id.
    pub id: Uuid,
}

/// A prompt to add to a session.
#[derive(InputObject, Clone, Debug)]
pub struct AddBuilderPromptInput {
    /// The session (one of the viewer's).
    pub session_id: Uuid,
    /// The prompt text (not blank).
    pub prompt_text: String,
}

/// A response to add to a prompt.
#[derive(InputObject, Clone, Debug)]
pub struct AddBuilderResponseInput {
    /// The prompt answered (one of the viewer's).
    pub prompt_id: Uuid,
    /// The response text (not blank).
    pub response_text: String,
}

/// A step to record in a session.
#[derive(InputObject, Clone, Debug)]
pub struct RecordBuilderStepInput {
    /// The session (one of the viewer's).
    pub session_id: Uuid,
    /// The step type (not blank; surrounding spaces are removed). A
    /// `model_deploy` step counts as a decision in the viewer's analytics.
    pub step_type: String,
    /// Free-form data of the step.
    pub step_data: Option<Json<serde_json::Value>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(field: BuilderSessionOrderField, direction: SortDirection) -> BuilderSessionOrder {
        BuilderSessionOrder { field, direction }
    }

    #[test]
    fn orderings_end_with_the_id_once() {
        use BuilderSessionOrderField::*;
        use SortDirection::*;
        assert_eq!(
            normalize::<BuilderSessionOrder>(None, (CreatedAt, Desc)),
            vec![(CreatedAt, Desc), (Id, Desc)]
        );
        assert_eq!(
            normalize(
                Some(vec![
                    entry(CreatedAt, Asc),
                    entry(CreatedAt, Desc),
                    entry(Id, Desc)
                ]),
                (CreatedAt, Desc)
            ),
            vec![(CreatedAt, Asc), (Id, Desc)]
        );
        assert_eq!(
            normalize(
                Some(vec![entry(Id, Asc), entry(CreatedAt, Asc)]),
                (CreatedAt, Desc)
            ),
            vec![(Id, Asc)]
        );
    }

    #[test]
    fn where_nesting_is_bounded() {
        let mut w = BuilderSessionWhere::default();
        for _ in 0..=MAX_WHERE_DEPTH {
            w = BuilderSessionWhere {
                not: Some(Box::new(w)),
                ..Default::default()
            };
        }
        let err = w.condition(0).unwrap_err();
        assert_eq!(err.code(), "BAD_USER_INPUT");
        let shallow = BuilderSessionWhere {
            not: Some(Box::default()),
            ..Default::default()
        };
        assert!(shallow.condition(0).is_ok());
    }
}
