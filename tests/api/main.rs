//! API tests: the real gateway over HTTP (and websockets) on a real
//! PostgreSQL, one module per domain, plus auth, limits and the schema file.

#[path = "../common/mod.rs"]
mod common;

mod auth;
mod builder;
mod lift;
mod limits;
mod schema;
mod server;
mod transactions;
