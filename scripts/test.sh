#!/usr/bin/env bash
# The test command of the README: installs what the tests need, runs the
# suite with -short (small cryptographic parameters, fewer seeds), then every
# command of the README and the other guides (scripts/test-guides.sh, which
# -short skips). The full suite, at real sizes, is `go test ./...`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
go test -short ./... "$@"
./scripts/test-guides.sh
