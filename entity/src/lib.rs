//! sea-orm entities for every table, view and materialized view, one module
//! per PostgreSQL schema (`entity::lift::session_drafts` is `lift.session_drafts`).

pub mod analytics;
pub mod auth;
pub mod builder;
pub mod chat;
pub mod lift;
pub mod prompt_lab;
pub mod public;
