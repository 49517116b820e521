#!/usr/bin/env bash
# Installs everything the tests need from the project's own files. Safe to
# run more than once; needs Go and the Go module proxy, and for the ONNX
# runtime check node and the npm registry.
set -euo pipefail
cd "$(dirname "$0")/.."
# The modules pinned in go.mod/go.sum.
go mod download
# The interop tests build the real age, age-keygen and age-plugin-batchpass
# commands from the age module's own directory, with age's own go.sum; fetch
# what those commands need beyond fedcrypt's dependencies.
(cd "$(go list -m -f '{{.Dir}}' filippo.io/age)" && go mod download)
# The ONNX export is checked in a real ONNX runtime: onnxruntime-web (WASM,
# CPU) under node, at the version pinned by the lockfile. --ignore-scripts:
# nothing runs at install time (onnxruntime-node's script would download GPU
# binaries; the web package needs none).
ort=internal/export/testdata/ort
if command -v node >/dev/null && command -v npm >/dev/null; then
	(cd "$ort" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
else
	echo "setup: node or npm not found: skipping $ort (npm ci); the ONNX runtime tests will be skipped" >&2
fi
