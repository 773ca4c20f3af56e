#!/usr/bin/env bash
# Set-up steps shared by scripts/run.sh and scripts/test.sh. Source this file, then call the steps
# you need. Each step does one job, does nothing (silently) when that job is already done, prints one
# line when it has work to do, and keeps the noisy output of apt, npm and go in .cache/logs/, shown
# only when the step fails. Steps that two people (or two scripts) could run at once take a lock.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache"
LOGS="$CACHE/logs"
CONSUL_BIN="$CACHE/bin/consul"
PEBBLE_BIN="$CACHE/bin/pebble"

say() { printf '[setup] %s\n' "$*" >&2; }

# Run a command with its output in a log file; on failure show the end of the log and stop.
quietly() {
  local log="$LOGS/$1.log"
  shift
  mkdir -p "$LOGS"
  if ! "$@" >"$log" 2>&1; then
    say "FAILED: $* (last lines of $log follow)"
    tail -n 40 "$log" >&2
    exit 1
  fi
}

# Hold an exclusive lock on .cache/locks/<name> while running a command, so concurrent set-ups of
# the same tree wait for each other instead of both deleting node_modules or building Consul.
locked() {
  local name="$1"
  shift
  mkdir -p "$CACHE/locks"
  (
    flock 9
    "$@"
  ) 9>"$CACHE/locks/$name"
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    say "need root (or sudo) to run: $*"
    exit 1
  fi
}

apt_installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

# ensure_apt_packages PKG...: install the Debian packages that are missing (one apt-get update first).
ensure_apt_packages() {
  local missing=() package
  for package in "$@"; do
    apt_installed "$package" || missing+=("$package")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  quietly apt-update as_root apt-get update -q
  quietly apt-install as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}

node_modules_current() {
  [ -f "$ROOT/node_modules/.package-lock.json" ] &&
    ! [ "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]
}

install_node_modules() {
  node_modules_current && return 0
  say "installing npm packages (npm ci)"
  local started=$SECONDS
  (cd "$ROOT" && quietly npm-ci npm ci --no-audit --no-fund)
  say "npm packages installed in $((SECONDS - started)) s"
}

# ensure_node_modules: `npm ci` when node_modules is missing or older than package-lock.json.
ensure_node_modules() {
  node_modules_current && return 0
  locked npm install_node_modules
}

build_is_current() {
  local stamp="$ROOT/dist/.built"
  [ -f "$stamp" ] || return 1
  [ -z "$(find "$ROOT/src" "$ROOT/ui" "$ROOT/tsconfig.json" "$ROOT/package-lock.json" -newer "$stamp" -print -quit)" ]
}

compile() {
  build_is_current && return 0
  say "compiling TypeScript (src -> dist)"
  local stamp="$ROOT/dist/.built.next"
  mkdir -p "$ROOT/dist"
  # The stamp is taken before compiling, so a source edited during the build makes the next run rebuild.
  touch "$stamp"
  (cd "$ROOT" && quietly tsc npm run --silent build)
  mv "$stamp" "$ROOT/dist/.built"
}

# ensure_build: compile src/ into dist/ when any source (or the compiler settings) changed.
ensure_build() {
  build_is_current && return 0
  locked build compile
}

consul_is_current() {
  [ -x "$CONSUL_BIN" ] &&
    ! [ "$ROOT/tools/consul/go.mod" -nt "$CONSUL_BIN" ] &&
    ! [ "$ROOT/tools/consul/go.sum" -nt "$CONSUL_BIN" ]
}

build_consul() {
  consul_is_current && return 0
  if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
    PATH="/usr/local/go/bin:$PATH"
  fi
  if ! command -v go >/dev/null 2>&1; then
    say "Go is needed to build Consul for the tests, and is not on PATH (nor in /usr/local/go)"
    exit 1
  fi
  local version
  version="$(sed -n 's/^require github.com\/hashicorp\/consul \(v[^ ]*\).*/\1/p' "$ROOT/tools/consul/go.mod")"
  say "building Consul ${version:-(version not found in go.mod)} from Go modules (first time: several minutes)"
  local started=$SECONDS
  mkdir -p "$CACHE/bin"
  # Consul built from the pinned Go modules (tools/consul/go.mod), output anchored at the repository root.
  (cd "$ROOT/tools/consul" &&
    quietly consul-build env GOTOOLCHAIN=local CGO_ENABLED=0 \
      go build -trimpath -o "$CONSUL_BIN" github.com/hashicorp/consul)
  say "Consul built in $((SECONDS - started)) s: $("$CONSUL_BIN" version | head -n 1)"
}

# ensure_consul: build the real Consul of tools/consul into .cache/bin/consul when it is missing
# (or older than tools/consul/go.mod / go.sum, i.e. the pinned version changed).
ensure_consul() {
  consul_is_current && return 0
  locked consul build_consul
}

pebble_is_current() {
  [ -x "$PEBBLE_BIN" ] &&
    ! [ "$ROOT/tools/pebble/go.mod" -nt "$PEBBLE_BIN" ] &&
    ! [ "$ROOT/tools/pebble/go.sum" -nt "$PEBBLE_BIN" ]
}

build_pebble() {
  pebble_is_current && return 0
  if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
    PATH="/usr/local/go/bin:$PATH"
  fi
  if ! command -v go >/dev/null 2>&1; then
    say "Go is needed to build Pebble for the tests, and is not on PATH (nor in /usr/local/go)"
    exit 1
  fi
  local version
  version="$(sed -n 's/^[[:space:]]*github.com\/letsencrypt\/pebble\/v2 \(v[^ ]*\).*/\1/p' "$ROOT/tools/pebble/go.mod")"
  say "building Pebble ${version:-(version not found in go.mod)} from Go modules"
  local started=$SECONDS
  mkdir -p "$CACHE/bin"
  # Pebble (Let's Encrypt's test CA) built from the pinned Go modules (tools/pebble/go.mod).
  (cd "$ROOT/tools/pebble" &&
    quietly pebble-build env GOTOOLCHAIN=local CGO_ENABLED=0 \
      go build -trimpath -o "$PEBBLE_BIN" github.com/letsencrypt/pebble/v2/cmd/pebble)
  say "Pebble built in $((SECONDS - started)) s"
}

# ensure_pebble: build Pebble (the ACME test CA) of tools/pebble into .cache/bin/pebble when it is
# missing (or older than tools/pebble/go.mod / go.sum).
ensure_pebble() {
  pebble_is_current && return 0
  locked pebble build_pebble
}
