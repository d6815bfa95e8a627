//! Database tests: every table, function, trigger, view, materialized view and
//! policy of the five seeds, on a real PostgreSQL (one throwaway cluster for
//! this binary, a fresh database per test cloned from a migrated template).

#[path = "../common/mod.rs"]
mod common;

mod analytics;
mod builder;
mod chat;
mod core;
mod entities;
mod lift;
mod live;
mod migrations;
mod prompt_lab;
