//! Entities of the `auth` schema (identity root).

pub mod users;
