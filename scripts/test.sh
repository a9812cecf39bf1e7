#!/usr/bin/env bash
# The whole test suite: the library module and the nested e2e module (real Vault
# server, aws-sdk-go-v2 S3 client, tink-go interop, competitor benchmarks
# compiled but not run, and Debian's aws-cli, rclone and s3cmd against the
# example S3 server). Builds the Vault server once into ~/.cache/envkms and
# installs the three S3 clients with apt-get when any is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

VAULT_BIN=$(bash internal/e2e/vaultserver.sh)
export VAULT_BIN
bash scripts/install-clients.sh

echo "== go test -race ./... (library)"
go test -race -timeout 20m ./...

echo "== go test -race ./... (internal/e2e)"
(cd internal/e2e && go test -race -timeout 40m ./...)
