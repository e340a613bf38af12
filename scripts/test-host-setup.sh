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
# The code interpreter's process test runs real Jupyter kernels on Debian's Python, R and Java (the
# template image installs the same packages; interpreter/src/interpreter-process.test.ts); maven
# builds the Java kernel (interpreter/java/build.sh) for the test and the image.
interp_debs=(python3-ipykernel python3-matplotlib python3-pandas python3-numpy r-base-core r-cran-irkernel
  openjdk-17-jdk-headless maven)
missing=()
for p in "${interp_debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test-host-setup: installing ${missing[*]}" >&2
  apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null; }
fi
