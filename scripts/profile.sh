#!/usr/bin/env bash
# Instruction profile of one hot path: boots the benchmark kernel in QEMU with its gdb stub,
# runs `hrcallout spin OP` in the guest, single-steps N calls of a function from gdb and
# prints, per call, the instructions executed in each function it went through (the
# breakdowns in docs/benchmarks.md). Exact instruction counts, like -icount figures.
#
# Usage: scripts/profile.sh OP [N]
#   OP: timeout | callout | timerfd (whole ioctl / timerfd_settime syscalls, from
#       do_syscall_64), batch (one HRC_IOC_BATCH of 64 in the module), burst (one expiry
#       of a QNX timer in a burst, from the hrtimer callback).
# Env: PROF_SYMBOL (regex of the traced function), PROF_FILTER ("rsi=VALUE": only calls
# with that second argument), PROF_PORT (gdb port, default 1234).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$HRC_ROOT"
op=${1:?usage: scripts/profile.sh OP [N]} n=${2:-8}
case $op in
timeout | callout) sym='^do_syscall_64$' filter='rsi=16' ;;
timerfd) sym='^do_syscall_64$' filter='rsi=286' ;;
batch) sym='MiscdeviceVTable.*5ioctl' filter='rsi=0xc010c712' ;;
burst) sym='expire_cb.*HrBackend.*Callouts.*Kb0_Kb1_' filter='' ;;
*) die "unknown OP '$op'" ;;
esac
sym=${PROF_SYMBOL:-$sym} filter=${PROF_FILTER-$filter} port=${PROF_PORT:-1234}


scripts/setup-toolchain.sh
KB=$(scripts/kernel.sh kernel/bench.config | tail -n1)
step "profile: building hrcallout.ko against the benchmark kernel"
build_bench_module "$KB"
cargo build --release --locked -q

work=$(mktemp -d)
cat >"$work/job.sh" <<JOB
insmod /hrcallout.ko
echo PROF-SYMS-BEGIN; grep '\[hrcallout\]' /proc/kallsyms; echo PROF-SYMS-END
hrcallout spin $op &
sleep 100000
JOB
step "profile: booting the guest (gdb stub on port $port)"
KDIR="$KB" HRC_KO="$HRC_ROOT/build/bench-module/hrcallout.ko" HRC_QEMU_OPTS="-gdb tcp::$port -pidfile $work/qemu.pid" \
	HRC_APPEND="kunit.enable=0" scripts/guest.sh "$work/job.sh" "$work/guest.log" 1800 \
	>/dev/null 2>&1 &
guest=$!
# QEMU runs under timeout(1), in a process group of its own: stop it by its pid.
# The guest is killed on purpose: its exit status is not the profile's.
trap 'kill "$(cat "$work/qemu.pid" 2>/dev/null)" 2>/dev/null; wait $guest || true; rm -rf "$work"' EXIT
for _ in $(seq 600); do
	grep -q PROF-READY "$work/guest.log" 2>/dev/null && break
	kill -0 $guest 2>/dev/null || die "the guest ended early: $(tail -n 20 "$work/guest.log")"
	sleep 1
done
grep -q PROF-READY "$work/guest.log" || die "the workload did not start within 600 s"
tr -d '\r' <"$work/guest.log" | sed -n '/^PROF-SYMS-BEGIN$/,/^PROF-SYMS-END$/p' | grep hrcallout >"$work/modsyms"
matches=$(cat "$work/modsyms" "$KB/System.map" | awk -v re="$sym" '$3 ~ re {print $1, $3}' | sort -u)
[ "$(echo "$matches" | grep -c .)" = 1 ] || die "PROF_SYMBOL '$sym' must match one symbol, matched: $matches"
addr=${matches%% *}

step "profile: tracing $n calls of ${matches#* } ${filter:+($filter)}"
PROF_PORT=$port PROF_START=$addr PROF_FILTER=$filter PROF_N=$n PROF_OUT="$work/trace" \
	timeout 1200 gdb -q -batch -x scripts/profile_gdb.py >"$work/gdb.log" 2>&1 ||
	die "gdb failed: $(tail -n 20 "$work/gdb.log")"
python3 scripts/profile_report.py "$KB/System.map" "$work/modsyms" "$work/trace"
