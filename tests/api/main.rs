//! API tests: the real gateway over HTTP (and websockets) on a real
//! PostgreSQL, one module per domain, plus auth, limits and the schema file.

#[path = "../common/mod.rs"]
mod common;

mod analytics;
mod auth;
mod builder;
mod chat;
mod edge;
mod hardening;
mod http;
mod lift;
mod limits;
mod persisted;
mod prompt_lab;
mod schema;
mod server;
mod transactions;
