//! Entities of the shared `public` schema.

pub mod agent_runs;
pub mod agents;
pub mod users;
pub mod workspace_members;
pub mod workspaces;
