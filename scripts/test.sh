#!/usr/bin/env bash
# The whole test suite: the library module and the nested e2e module (real Vault
# server, aws-sdk-go-v2 S3 client, tink-go interop, competitor benchmarks
# compiled but not run). Builds the Vault server once into ~/.cache/envkms.
set -euo pipefail
cd "$(dirname "$0")/.."

VAULT_BIN=$(bash internal/e2e/vaultserver.sh)
export VAULT_BIN

echo "== go test -race ./... (library)"
go test -race -timeout 20m ./...

echo "== go test -race ./... (internal/e2e)"
(cd internal/e2e && go test -race -timeout 40m ./...)
