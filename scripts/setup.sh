#!/usr/bin/env bash
# Installs everything the tests need from the project's own files: the Go
# modules pinned in go.mod/go.sum. Safe to run more than once.
set -euo pipefail
cd "$(dirname "$0")/.."
go mod download
