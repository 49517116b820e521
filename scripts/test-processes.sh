#!/usr/bin/env bash
# The tests that run federations of real processes through crashes,
# restarts and a new federation version, which -short skips: CI runs them
# here (.ci/run), each once.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -count=1 -run '^(TestDeploymentEndToEnd|TestMemberAddedAndRemoved|TestSimResumeAfterKills|TestSimOverGRPCMatchesInMemory)$' ./cmd/fedcrypt "$@"
go test -count=1 -run '^TestProcessesCountDropoutsAsInMemory$' ./sim
