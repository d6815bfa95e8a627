#!/usr/bin/env bash
# Installs the Node packages of the client tests (tests/clients, run by
# `cargo test --test clients`) with `npm ci` from package-lock.json, when
# tests/clients/node_modules is missing or older than the lock file.
# Idempotent and quiet; does nothing when npm is not installed (the tests
# then skip, or fail saying to run this script, if node is there).
set -euo pipefail
cd "$(dirname "$0")/../tests/clients"
if ! command -v npm >/dev/null 2>&1; then
    echo "install-node-deps: npm not found; the client tests (tests/clients) need Node 20+ and npm" >&2
    exit 0
fi
# npm ci writes node_modules/.package-lock.json last: its time says when the
# tree was installed.
marker=node_modules/.package-lock.json
if [ -f "$marker" ] && [ ! package-lock.json -nt "$marker" ]; then
    exit 0
fi
npm ci --no-audit --no-fund --loglevel=error >/dev/null
touch "$marker"
