#!/usr/bin/env bash
# Builds the HashiCorp Vault server used by the e2e tests, once per machine, into a
# cache outside the repository, and prints the binary's path on stdout.
#
# Why v1.19.0: it is the newest release whose in-tree sdk matches a tagged
# github.com/hashicorp/vault/sdk (v0.15.2). v1.20.4 and v1.21.4 fail to compile
# against every tagged sdk (see ../shared/vault-build.md). Vault is BUSL-1.1: we
# build and run it in tests only; it is never vendored or shipped.
set -euo pipefail

VAULT_VERSION="${VAULT_VERSION:-v1.19.0}"
CACHE="${ENVKMS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/envkms}"
BIN="$CACHE/vault-$VAULT_VERSION"

if [ -x "$BIN" ] && "$BIN" version >/dev/null 2>&1; then
  echo "$BIN"
  exit 0
fi

mkdir -p "$CACHE"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export GOFLAGS=-mod=mod
# Some vault-plugin-* modules are not in the checksum database; exempt them for this build only.
export GONOSUMDB='github.com/hashicorp/vault-plugin-*'
export GOWORK=off
go mod init vb >/dev/null 2>&1
go mod edit -go=1.26
echo "vaultserver.sh: building Vault $VAULT_VERSION into $BIN (about 20 minutes cold)" >&2
go get "github.com/hashicorp/vault@$VAULT_VERSION" >&2
# The release's own go.mod carries this replace; a dependent module must repeat it.
go mod edit -replace github.com/99designs/keyring=github.com/Jeffail/keyring@v1.2.3
go get github.com/hashicorp/vault@"$VAULT_VERSION" >&2
go build -o "$BIN.tmp" github.com/hashicorp/vault >&2
mv "$BIN.tmp" "$BIN"
"$BIN" version >&2
echo "$BIN"
