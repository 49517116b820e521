#!/usr/bin/env bash
# The Helm chart's tests, a CI job of their own: lint, a client-only
# dry-run install for each role, and every rendered object decoded strictly
# as its Kubernetes type, through Helm's Go packages (no helm binary). They
# compile Helm and the Kubernetes API, which takes minutes from an empty
# module cache, so the main CI run (.ci/run) leaves them out.
set -euo pipefail
cd "$(dirname "$0")/../deploy"
go mod download
go vet ./...
go test -count=1 ./helm/...
