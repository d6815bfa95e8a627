//! `orderBy` inputs: the field/direction entries clients send, normalised
//! into sort keys (with the primary key as tiebreak) for keyset pagination.

use crate::graphql::pagination::{SortDirection, SortKey};

/// An `orderBy` entry: a field and a direction.
pub trait OrderEntry {
    /// The field enum.
    type Field: Copy + Eq;
    /// Field and direction.
    fn parts(&self) -> (Self::Field, SortDirection);
}

/// The requested ordering, or `default` when none is given, each field once.
pub fn normalize_order<O: OrderEntry>(
    order: Option<Vec<O>>,
    default: &[(O::Field, SortDirection)],
) -> Vec<(O::Field, SortDirection)> {
    let mut out: Vec<(O::Field, SortDirection)> = Vec::new();
    for entry in order.iter().flatten() {
        let (field, direction) = entry.parts();
        // A repeated field cannot change the order; the first one wins.
        if !out.iter().any(|(f, _)| *f == field) {
            out.push((field, direction));
        }
    }
    if out.is_empty() {
        out.extend_from_slice(default);
    }
    out
}

/// Sort keys of `order` with the primary key appended as tiebreak (in the
/// direction of the last key, so a single-direction index can serve it).
pub fn with_tiebreak<F: Copy, C: Copy>(
    order: &[(F, SortDirection)],
    column: impl Fn(F) -> C,
    pk: C,
) -> Vec<SortKey<C>> {
    let mut keys: Vec<SortKey<C>> = order.iter().map(|(f, d)| (column(*f), *d)).collect();
    let last = keys.last().map(|(_, d)| *d).unwrap_or(SortDirection::Asc);
    keys.push((pk, last));
    keys
}

/// Declares an `orderBy` input and its field enum.
macro_rules! order_input {
    ($(#[$doc:meta])* $name:ident, $(#[$fdoc:meta])* $field:ident { $($(#[$vdoc:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$fdoc])*
        #[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $field {
            $($(#[$vdoc])* $variant),+
        }

        $(#[$doc])*
        #[derive(async_graphql::InputObject, Clone, Copy, Debug)]
        pub struct $name {
            /// The field to sort by.
            pub field: $field,
            /// The direction (default ASC).
            #[graphql(default_with = "crate::graphql::pagination::SortDirection::Asc")]
            pub direction: $crate::graphql::pagination::SortDirection,
        }

        impl $crate::graphql::ordering::OrderEntry for $name {
            type Field = $field;
            fn parts(&self) -> ($field, $crate::graphql::pagination::SortDirection) {
                (self.field, self.direction)
            }
        }
    };
}

pub(crate) use order_input;
