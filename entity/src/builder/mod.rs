//! Entities of the `builder` schema (seed 000, model builder): sessions,
//! prompts, responses, steps and the per-user dashboard counters.

pub mod analytics;
pub mod prompts;
pub mod responses;
pub mod sessions;
pub mod steps;
