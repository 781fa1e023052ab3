#!/usr/bin/env bash
# The main job, from a fresh machine: toolchain, cached test kernel, module and tools, then a
# QEMU guest that loads the module and shows timers of every personality firing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$HRC_ROOT"
scripts/setup-toolchain.sh
export KDIR=$(scripts/kernel.sh | tail -n1)
step "build: hrcallout.ko and the tools"
make -s module KDIR="$KDIR"
cargo build --release --locked -q
mkdir -p build
scripts/guest.sh scripts/guest/demo-job.sh build/run.log "${HRC_GUEST_TIMEOUT:-600}"
