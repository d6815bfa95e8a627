#!/usr/bin/env bash
# The whole test suite: installs the PostgreSQL server binaries and Chromium
# when missing, then runs every test of the workspace (each test binary starts
# its own throwaway cluster; set TEST_DATABASE_URL to use an existing server
# instead).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-postgres.sh
# The GraphiQL page test drives a headless Chromium.
scripts/install-chromium.sh >/dev/null
scripts/install-node-deps.sh # Node packages of the client tests (tests/clients.rs)
exec cargo test --workspace "$@"
