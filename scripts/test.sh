#!/usr/bin/env bash
# The test command of the README: installs what the tests need, then runs the
# suite with -short (small cryptographic parameters, fewer seeds). The full
# suite, at real sizes, is `go test ./...` (see README, "Full test suite").
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
go test -short ./... "$@"
