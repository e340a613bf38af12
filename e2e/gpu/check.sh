#!/usr/bin/env bash
# The device plugin on a real GPU, without Kubernetes (run as root on a machine with an NVIDIA
# driver): discovery against the driver (nvidia-smi and sysfs), the inventory, the NUMA-aware
# choice for 1 and 2 GPUs, and Allocate in-process, checked by starting nvidia-smi -L in a mount
# namespace that holds only what Allocate gave (see gpu/src/check.ts).
# Exit status: 0 success, 1 a mismatch, 77 no NVIDIA driver (nothing to check: a skip, not a pass).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SMI=${NVIDIA_SMI:-nvidia-smi}
if ! command -v "$SMI" >/dev/null 2>&1 || ! "$SMI" -L >/dev/null 2>&1; then
  echo "check.sh: no NVIDIA driver here ($SMI missing or failing); nothing to check"
  exit 77
fi
NODE=$REPO/node_modules/.bin/node
[ -x "$NODE" ] || NODE=$(command -v node)
cd "$REPO"
exec "$NODE" --import tsx gpu/src/check.ts
