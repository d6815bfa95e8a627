#!/usr/bin/env bash
# Makes sure the PostgreSQL server binaries (initdb, pg_ctl, postgres) are on
# this machine, installing Debian's `postgresql` package when they are missing.
# The gateway and the tests start their own clusters from these binaries.
set -euo pipefail

have_server() {
  if [ -n "${PG_BIN_DIR:-}" ] && [ -x "$PG_BIN_DIR/initdb" ]; then return 0; fi
  for bin in /usr/lib/postgresql/*/bin; do
    [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ] && return 0
  done
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1
}

if have_server; then
  exit 0
fi

echo "PostgreSQL server binaries not found: installing the Debian package 'postgresql'..." >&2
if ! command -v apt-get >/dev/null 2>&1; then
  echo "No apt-get here: install the PostgreSQL server (15 or newer) and set PG_BIN_DIR to its bin folder." >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "Not root and no sudo: run 'apt-get install -y postgresql' as root." >&2
    exit 1
  fi
fi
# Don't let the package start a system cluster of its own.
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends postgresql postgresql-contrib >/dev/null
have_server || { echo "PostgreSQL installed but initdb/pg_ctl still not found" >&2; exit 1; }
echo "PostgreSQL server binaries installed." >&2
