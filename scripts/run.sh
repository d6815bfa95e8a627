#!/usr/bin/env bash
# Runs the gateway: installs the PostgreSQL server binaries when missing, then
# `gateway serve`, which starts the embedded cluster in .data/ (or uses
# DATABASE_URL), migrates it, and serves on LISTEN_ADDR (default 127.0.0.1:8080).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-postgres.sh
exec cargo run --release --bin gateway -- "$@"
