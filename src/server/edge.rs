//! The browser-facing edge of the HTTP server: CORS, the websocket `Origin`
//! check, response compression and caching headers.

/// Settings of the edge (flags and environment variables).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct EdgeConfig {}
