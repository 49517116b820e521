#!/usr/bin/env bash
# The user guides as a user runs them: every sh block of README.md and the
# other Markdown guides, in order, each guide in a scratch copy of the
# repository, with the fedcrypt binary built from it; outputs the guides
# show as "text output" are compared (internal/guides; -short skips this
# run). About a minute on two cores. -count=1: the test builds
# and runs the binary, which go test's result cache does not track.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -count=1 -timeout 20m -run '^TestGuidesRun$' ./internal/guides "$@"
