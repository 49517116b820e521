#!/bin/sh
# Regenerates the Go code of proto/ from its .proto files.
#
# Needs protoc (Debian: apt-get install -y protobuf-compiler) and the two
# plugins at the versions the committed code was made with:
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#   go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
# Run from anywhere; the output replaces proto/fedcrypt/v1/*.pb.go.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
PATH="$(go env GOPATH)/bin:$PATH"
cd "$root/proto"
protoc --go_out=. --go_opt=paths=source_relative \
	--go-grpc_out=. --go-grpc_opt=paths=source_relative \
	fedcrypt/v1/federation.proto
