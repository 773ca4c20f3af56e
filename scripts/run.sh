#!/usr/bin/env bash
# Run the sidecar on its embedded defaults: the file store in ./state, the HTTP API on 0.0.0.0:8080
# and HAProxy (Debian's, installed when missing) serving port 80. Installs npm packages and compiles
# the TypeScript first when needed. Extra arguments go to `haproxy-sidecar serve`
# (see `node dist/cli.js serve --help`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

ensure_apt_packages haproxy
ensure_node_modules
ensure_build

cd "$ROOT"
# The same Node flags and malloc arenas as the haproxy-sidecar bin (see src/cli.ts).
MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}" MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-131072}" exec node --max-semi-space-size=1 --heap-growing-percent=50 dist/cli.js serve "$@"
