#!/usr/bin/env bash
# The command-line tests that run federations of real processes through
# crashes, restarts and a new federation version, and a federation on free
# text deployed and simulated over gRPC, which -short skips: CI runs them
# here (.ci/run), each once.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -count=1 -run '^(TestDeploymentEndToEnd|TestMemberAddedAndRemoved|TestSimResumeAfterKills|TestSimOverGRPCMatchesInMemory|TestTextDeploymentEndToEnd|TestSimTextOverGRPC)$' ./cmd/fedcrypt "$@"
