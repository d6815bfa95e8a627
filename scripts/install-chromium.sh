#!/usr/bin/env bash
# Makes sure a headless-capable Chromium is on this machine, installing
# Debian's `chromium` package when it is missing. The GraphiQL browser test
# (tests/graphiql_page.rs) drives it; CI calls this before the tests.
# Prints the path of the browser on stdout.
set -euo pipefail

find_browser() {
  if [ -n "${CHROMIUM:-}" ] && [ -x "$CHROMIUM" ]; then echo "$CHROMIUM"; return 0; fi
  for name in chromium chromium-browser google-chrome-stable google-chrome; do
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  done
  return 1
}

if find_browser; then
  exit 0
fi

echo "Chromium not found: installing the Debian package 'chromium'..." >&2
if ! command -v apt-get >/dev/null 2>&1; then
  echo "No apt-get here: install Chromium and set CHROMIUM to its path." >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "Not root and no sudo: run 'apt-get install -y chromium' as root." >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Recommends would pull a desktop's worth of packages the headless test never uses.
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
find_browser || { echo "chromium installed but not found on PATH" >&2; exit 1; }
echo "Chromium installed." >&2
