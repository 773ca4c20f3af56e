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

# A Go tool of tools/<dir> is current when its binary is newer than that module's go.mod and go.sum.
go_tool_is_current() { # <binary> <tools dir>
  [ -x "$1" ] && ! [ "$ROOT/tools/$2/go.mod" -nt "$1" ] && ! [ "$ROOT/tools/$2/go.sum" -nt "$1" ]
}

# Build a Go tool from the pinned modules of tools/<dir> (GOTOOLCHAIN=local, no cgo), output
# anchored at the repository root, the build's output in .cache/logs/<dir>-build.log.
build_go_tool() { # <name> <binary> <tools dir> <package> <module path in go.mod>
  local name="$1" binary="$2" dir="$3" package="$4" module="$5"
  go_tool_is_current "$binary" "$dir" && return 0
  if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
    PATH="/usr/local/go/bin:$PATH"
  fi
  if ! command -v go >/dev/null 2>&1; then
    say "Go is needed to build $name for the tests, and is not on PATH (nor in /usr/local/go)"
    exit 1
  fi
  local version
  version="$(sed -n "s|^[[:space:]]*\(require \)\{0,1\}$module \(v[^ ]*\).*|\2|p" "$ROOT/tools/$dir/go.mod" | head -n 1)"
  say "building $name ${version:-(version not found in go.mod)} from Go modules (first time: a few minutes)"
  local started=$SECONDS
  mkdir -p "$CACHE/bin"
  (cd "$ROOT/tools/$dir" &&
    quietly "$dir-build" env GOTOOLCHAIN=local CGO_ENABLED=0 go build -trimpath -o "$binary" "$package")
  say "$name built in $((SECONDS - started)) s"
}

build_consul() {
  build_go_tool Consul "$CONSUL_BIN" consul github.com/hashicorp/consul github.com/hashicorp/consul
  say "$("$CONSUL_BIN" version | head -n 1)"
}

# ensure_consul: build the real Consul of tools/consul into .cache/bin/consul when it is missing
# (or older than tools/consul/go.mod / go.sum, i.e. the pinned version changed).
ensure_consul() {
  go_tool_is_current "$CONSUL_BIN" consul && return 0
  locked consul build_consul
}

build_pebble() {
  build_go_tool Pebble "$PEBBLE_BIN" pebble github.com/letsencrypt/pebble/v2/cmd/pebble github.com/letsencrypt/pebble/v2
}

# ensure_pebble: build Pebble (the ACME test CA) of tools/pebble into .cache/bin/pebble when it is
# missing (or older than tools/pebble/go.mod / go.sum).
ensure_pebble() {
  go_tool_is_current "$PEBBLE_BIN" pebble && return 0
  locked pebble build_pebble
}
