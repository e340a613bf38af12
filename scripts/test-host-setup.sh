#!/usr/bin/env bash
# Prepares this machine for envd's integration tests the way a sandbox image
# is prepared: a `user` account with home /home/user (E2B's default user).
# Idempotent. Without root it changes nothing; the tests then act as the
# current user.
set -euo pipefail
if [ "$(id -u)" != "0" ]; then
  echo "test-host-setup: not root; tests will run commands as $(id -un)" >&2
  exit 0
fi
if ! id user >/dev/null 2>&1; then
  useradd --create-home --home-dir /home/user --shell /bin/bash user
  echo "test-host-setup: created the 'user' account" >&2
fi
