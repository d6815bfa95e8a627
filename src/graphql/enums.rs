//! `db_enum!`: GraphQL enums stored as text columns (the values a CHECK
//! constraint allows), with conversions both ways.

/// Declares a GraphQL enum whose variants map to database text values.
macro_rules! db_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $db:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// The value as stored in the database.
            pub fn as_db(self) -> &'static str {
                match self {
                    $($name::$variant => $db),+
                }
            }

            /// The value of a database text; an unknown text is an internal
            /// error (CHECK constraints rule it out).
            pub fn from_db(text: &str) -> $crate::graphql::error::ApiResult<Self> {
                match text {
                    $($db => Ok($name::$variant),)+
                    other => Err($crate::graphql::error::ApiError::Internal(format!(
                        "unexpected {} value {other:?}",
                        stringify!($name)
                    ))),
                }
            }
        }
    };
}

pub(crate) use db_enum;
