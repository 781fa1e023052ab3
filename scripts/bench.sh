#!/usr/bin/env bash
# make bench: builds the benchmark kernel (the test kernel without lockdep/KASAN/kmemleak),
# the module against it, boots QEMU twice (-icount: guest ns = instructions, deterministic;
# plain TCG: emulated wall clock, noisy) and writes bench/results.json, bench/results.md and
# PNG plots. Figures are ratios to baselines measured in the same boot.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$HRC_ROOT"
scripts/setup-toolchain.sh
KB=$(scripts/kernel.sh kernel/bench.config | tail -n1)
out="$HRC_ROOT/bench"
mkdir -p "$out"

step "bench: building hrcallout.ko against the benchmark kernel"
build_bench_module "$KB"
build_sample_copy "$KB" bench-sample bench-module
cargo build --release --locked -q

: >"$out/results.jsonl"
for mode in icount tcg; do
	step "bench: guest run, $mode"
	echo "$mode" >build/bench-mode
	opts=""
	[ "$mode" = icount ] && opts="-icount shift=0,sleep=off"
	set +e
	KDIR="$KB" HRC_KO="$HRC_ROOT/build/bench-module/hrcallout.ko" HRC_MEM=2048 HRC_QEMU_OPTS="$opts" \
		HRC_APPEND="kunit.enable=0" scripts/guest.sh scripts/guest/bench-job.sh "build/bench-$mode.log" \
		"${HRC_BENCH_TIMEOUT:-2400}" build/bench-mode build/bench-sample/hrc_lapb.ko \
		>"build/bench-$mode.console" 2>&1
	rc=$?
	set -e
	tr -d '\r' <"build/bench-$mode.log" | sed -n '/^HRC-BENCH-BEGIN$/,/^HRC-BENCH-END$/p' |
		grep '^{' >>"$out/results.jsonl" || true
	tr -d '\r' <"build/bench-$mode.log" | sed -n '/^HRC-BENCH-BEGIN$/,/^HRC-BENCH-END$/p' | grep -v '^{' || true
	[ $rc = 0 ] || echo "warning: the $mode guest exited with status $rc (see build/bench-$mode.console)" >&2
done

step "bench: results"
python3 -c 'import matplotlib' 2>/dev/null || {
	note "installing matplotlib from PyPI for the plots"
	python3 -m pip install -q --user matplotlib
}
python3 "$HRC_ROOT/scripts/bench_report.py" "$out"
