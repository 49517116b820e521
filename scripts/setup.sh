#!/usr/bin/env bash
# Installs everything the tests need from the project's own files. Safe to
# run more than once; needs only Go and the Go module proxy.
set -euo pipefail
cd "$(dirname "$0")/.."
# The modules pinned in go.mod/go.sum.
go mod download
# The interop tests build the real age, age-keygen and age-plugin-batchpass
# commands from the age module's own directory, with age's own go.sum; fetch
# what those commands need beyond fedcrypt's dependencies.
(cd "$(go list -m -f '{{.Dir}}' filippo.io/age)" && go mod download)
