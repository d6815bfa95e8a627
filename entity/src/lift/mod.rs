//! Entities of the `lift` schema (seed 001, code lifting): sessions, IR
//! revisions, code drafts, typed-hole resolutions and four reporting views.

pub mod draft_validation_stats;
pub mod hole_resolutions;
pub mod recent_activity;
pub mod session_drafts;
pub mod session_revisions;
pub mod session_summary;
pub mod sessions;
pub mod user_analytics;
