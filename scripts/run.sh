#!/usr/bin/env bash
# The main job, from a fresh machine: toolchain, cached test kernel, module and tools, then a
# QEMU guest that loads the module and shows timers of every personality firing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$HRC_ROOT"
build_for_guest
scripts/guest.sh scripts/guest/demo-job.sh build/run.log "${HRC_GUEST_TIMEOUT:-600}"
