#!/usr/bin/env bash
# The command-line tests that -short skips for their cost: federations of
# real processes through crashes, restarts and a new federation version,
# the onboarding walkthrough, sim over gRPC, a federation on free text
# deployed and simulated over gRPC, fedcrypt bench, and builds of fedcrypt
# (as a release is) and of the age tools. CI runs them here (.ci/run), each
# once; every test that calls long(t, ...) in cmd/fedcrypt is named below
# (TestLongTestsRunInCI checks). Then the clinical-text example's whole run
# (-short runs it on a sample): 2,000 abstracts federated with CKKS, about
# 25 s on two cores; and one dropout federation in memory and as processes,
# whose rounds must count alike.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -count=1 -run '^(TestDeploymentEndToEnd|TestMemberAddedAndRemoved|TestSimResumeAfterKills|TestSimOverGRPCMatchesInMemory|TestTextDeploymentEndToEnd|TestSimTextOverGRPC|TestBenchQuickJSON|TestBenchTable|TestVersionSetByLinker|TestInsecurePresetRefusedInProduction|TestOnboardingEndToEnd|TestSimOverGRPCOutDirectory|TestCommitteeHoldsTheKeys|TestDataInteropWithAge)$' ./cmd/fedcrypt "$@"
go test -count=1 -run '^TestExampleRuns$' ./examples/clinicaltext "$@"
go test -count=1 -run '^TestProcessesCountDropoutsAsInMemory$' ./sim "$@"
