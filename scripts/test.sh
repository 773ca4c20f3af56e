#!/usr/bin/env bash
# The whole test suite, from a clean clone: installs what the tests need (Debian's haproxy and
# dnsmasq-base, npm packages, a real Consul and Pebble (the ACME test CA) built from Go modules into
# .cache/bin/), then runs `npm test`, which type-checks, builds, runs Jest and ends with the line `N passed, N failed`.
# Extra arguments go to Jest, e.g. `bash scripts/test.sh test/helpers.test.ts`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

ensure_apt_packages haproxy dnsmasq-base chromium
ensure_node_modules
ensure_consul
ensure_pebble

cd "$ROOT"
export PATH="$CACHE/bin:$PATH"
exec npm --silent test -- "$@"
