#!/usr/bin/env bash
# Installs the S3 clients the e2e suite drives (internal/e2e/clients_test.go):
# Debian's aws-cli, rclone and s3cmd. Does nothing when all three are
# present, so it is cheap to run before every test run. A client the suite
# cannot find fails the tests (it is never skipped).
set -euo pipefail

# The Debian packages install these commands under /usr/bin, where the suite
# runs them: another aws-cli (pip, pyenv) earlier on PATH is not the one
# under test.
missing=()
[ -x /usr/bin/aws ] || missing+=(awscli)
[ -x /usr/bin/rclone ] || missing+=(rclone)
[ -x /usr/bin/s3cmd ] || missing+=(s3cmd)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

# sudo resets the environment: pass DEBIAN_FRONTEND through env.
apt=(env DEBIAN_FRONTEND=noninteractive apt-get -qq)
if [ "$(id -u)" -ne 0 ]; then
  apt=(sudo "${apt[@]}")
fi
echo "== install S3 clients: ${missing[*]} (apt-get)" >&2
"${apt[@]}" update >&2
"${apt[@]}" install -y --no-install-recommends "${missing[@]}" >&2
