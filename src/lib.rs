//! The workbench GraphQL gateway: configuration, database (embedded or
//! external), and the HTTP server.

pub mod auth;
pub mod config;
pub mod db;
pub mod demo;
pub mod graphql;
pub mod live;
pub mod server;
