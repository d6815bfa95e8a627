//! The workbench GraphQL gateway: configuration, database (embedded or
//! external), and the HTTP server.

pub mod config;
pub mod db;
pub mod server;
