#!/usr/bin/env bash
# The whole test suite, from a fresh machine: toolchain, cached kernel, module (warning-free,
# clippy-clean), tools, host unit tests, then QEMU: KUnit + in-guest tests + CLI + unload
# safety, with dmesg scanned for BUG/WARNING/lockdep/Oops/KASAN/UBSAN and kmemleak.
# Ends with one line: "N passed, M failed".
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$HRC_ROOT"
start=$(date +%s)
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
OUT="$HRC_ROOT/build/test"
mkdir -p "$OUT"

scripts/setup-toolchain.sh
export KDIR=$(scripts/kernel.sh | tail -n1)

step "build: hrcallout.ko (warnings are failures)"
make -s module KDIR="$KDIR" 2>&1 | tee "$OUT/build.log"
if grep -qE '^(warning|error)' "$OUT/build.log"; then bad "module builds without warnings"; else ok "module builds without warnings"; fi
step "build: the ported C driver samples/lapb against the module's exports"
make -s sample KDIR="$KDIR" 2>&1 | tee "$OUT/build-sample.log"
if [ -f samples/lapb/hrc_lapb.ko ] && ! grep -qE '(warning|error)' "$OUT/build-sample.log"; then
	ok "C driver builds without warnings"
else
	bad "C driver builds without warnings"
fi
step "build: the C API headers' kernel-doc is complete"
if "$KDIR/source-tree/scripts/kernel-doc" -none -Wall include/hrcallout/*.h >"$OUT/kernel-doc.log" 2>&1 &&
	! [ -s "$OUT/kernel-doc.log" ]; then
	ok "C API headers: kernel-doc complete"
else
	bad "C API headers: kernel-doc complete"; cat "$OUT/kernel-doc.log"
fi
step "build: clippy"
touch rust/hrcallout_main.rs
make -s clippy KDIR="$KDIR" 2>&1 | tee "$OUT/clippy.log"
if grep -qE '^(warning|error)' "$OUT/clippy.log"; then bad "module is clippy-clean"; else ok "module is clippy-clean"; fi
step "build: without the KUnit suites (as on a CONFIG_KUNIT=n kernel), and with the benchmarks"
# One kernel stands in for a CONFIG_KUNIT=n one: HRC_NO_KUNIT=1 drops --cfg hrc_kunit, the only
# switch the module's test code is built under (see Kbuild).
for variant in "nokunit-module HRC_NO_KUNIT=1" "benchcfg-module HRC_BENCH=1"; do
	read -r dir var <<<"$variant"
	if build_module_copy "$KDIR" "$dir" "$var" >"$OUT/build-$dir.log" 2>&1 &&
		! grep -qE '^(warning|error)' "$OUT/build-$dir.log"; then
		ok "module builds without warnings with $var"
	else
		bad "module builds without warnings with $var"; cat "$OUT/build-$dir.log"
	fi
done
step "build: userspace tools"
cargo build --release --locked -q

step "host: cargo test (ABI layout, argument parsing)"
if cargo test --release --locked -q 2>&1 | tee "$OUT/cargo-test.log"; then :; fi
read -r hp hf < <(awk '/^test result:/ {p+=$4; f+=$6} END {print p+0, f+0}' "$OUT/cargo-test.log")
pass=$((pass + hp)) fail=$((fail + hf))
echo "host cargo test: $hp passed, $hf failed"
[ "$hp" -gt 0 ] || bad "host cargo tests ran"

step "host: make install (staged), DKMS, man pages, modinfo, make rust-analyzer"
scripts/packaging-test.sh "$KDIR" "$OUT/packaging" | tee "$OUT/packaging.log"
pp=$(grep -c '^PASS ' "$OUT/packaging.log" || true)
pf=$(grep -c '^FAIL ' "$OUT/packaging.log" || true)
pass=$((pass + pp)) fail=$((fail + pf))
[ "$pp" -gt 0 ] || bad "packaging checks ran"

step "guest: KUnit, integration tests, CLI, unload safety, the installed module"
set +e
scripts/guest.sh scripts/guest/test-job.sh "$OUT/guest.log" "${HRC_GUEST_TIMEOUT:-2400}" \
	samples/lapb/hrc_lapb.ko "$OUT/packaging/installed-modules.tar" >"$OUT/console.log" 2>&1 &
gpid=$!
# Which part of the suite the guest is in, as it gets there (test-job.sh's HRC-PHASE lines).
gstart=$(date +%s)
tail -F -n +1 --pid=$gpid "$OUT/console.log" 2>/dev/null | while IFS= read -r line; do
	line=${line%$'\r'}
	case $line in "HRC-PHASE "*) note "guest: ${line#HRC-PHASE } (at $(($(date +%s) - gstart)) s)" ;; esac
done &
wait $gpid
grc=$?
set -e
# The serial console ends lines with CR LF.
tr -d '\r' <"$OUT/guest.log" >"$OUT/guest.txt"
log="$OUT/guest.txt"
[ $grc = 0 ] && ok "guest ran to the end" || bad "guest ran to the end (status $grc, see $OUT/console.log)"

# KUnit: each suite's debugfs results is its own KTAP document; kunit.py parses it.
kunit="$KDIR/source-tree/tools/testing/kunit/kunit.py"
suites=0
while read -r suite; do
	suites=$((suites + 1))
	sed -n "/^HRC-KTAP-BEGIN $suite\$/,/^HRC-KTAP-END\$/p" "$log" | sed '1d;$d' >"$OUT/ktap-$suite.txt"
	python3 "$kunit" parse --json="$OUT/kunit-$suite.json" "$OUT/ktap-$suite.txt" >"$OUT/kunit-$suite.out" 2>&1 || true
	read -r kp kf < <(python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
def walk(g):
    p=f=0
    for c in g.get("test_cases",[]):
        if c["status"]=="PASS": p+=1
        else: f+=1; print("KUNIT-FAIL", c["name"], file=sys.stderr)
    for s in g.get("sub_groups",[]):
        a,b=walk(s); p+=a; f+=b
    return p,f
p,f=walk(d["results"] if "results" in d else d)
print(p,f)' "$OUT/kunit-$suite.json" 2>>"$OUT/kunit-fail.txt" || echo "0 1")
	echo "kunit $suite: $kp passed, $kf failed"
	pass=$((pass + kp)) fail=$((fail + kf))
done < <(sed -n 's/^HRC-KTAP-BEGIN \(.*\)$/\1/p' "$log")
[ $suites -ge 6 ] && ok "KUnit suites reported ($suites)" || bad "KUnit suites reported ($suites, expected 6)"
[ -s "$OUT/kunit-fail.txt" ] && cat "$OUT/kunit-fail.txt"

# In-guest integration tests (their own section of the log).
sed -n '/^HRC-USER-BEGIN$/,/^HRC-USER-END$/p' "$log" >"$OUT/hrc-tests.txt"
up=$(grep -cE '^ok [0-9]+ ' "$OUT/hrc-tests.txt" || true)
uf=$(grep -cE '^not ok [0-9]+ ' "$OUT/hrc-tests.txt" || true)
grep -E '^not ok [0-9]+ ' "$OUT/hrc-tests.txt" || true
echo "hrc-tests: $up passed, $uf failed"
pass=$((pass + up)) fail=$((fail + uf))
# Two runs: as root, then as user 65534 (issue 23), each to its own summary line.
[ "$(grep -c '^hrc-tests: ' "$OUT/hrc-tests.txt")" = 2 ] && ok "hrc-tests ran to the end, as root and as user 65534" ||
	bad "hrc-tests ran to the end, as root and as user 65534"
while read -r res name; do
	[ "$res" = ok ] && ok "guest: $name" || bad "guest: $name"
done < <(sed -n 's/^HRC-CHECK \([a-z]*\) \(.*\)$/\1 \2/p' "$log")

# dmesg must be silent: no BUG, WARNING (lockdep reports are WARNINGs), Oops, KASAN, UBSAN.
# The dump must be whole (a wrapped ring buffer loses the early reports, e.g. during the first
# insmod). The whole console log is scanned: it holds the dump, and every report of level error
# or above printed while the guest ran, even one the dump lost.
sed -n '/^HRC-DMESG-BEGIN/,/^HRC-DMESG-END/p' "$log" >"$OUT/dmesg.txt"
grep -q 'Linux version' "$OUT/dmesg.txt" && ok "dmesg dump is whole (ring buffer did not wrap)" ||
	bad "dmesg dump is whole (ring buffer did not wrap)"
if grep -E 'BUG:|WARNING:|ODEBUG|Oops|KASAN|UBSAN|possible (recursive|circular) locking|inconsistent lock state|general protection|Call Trace' "$log" >"$OUT/dmesg-bad.txt"; then
	bad "dmesg free of BUG/WARNING/lockdep/KASAN/UBSAN/ODEBUG"; head -40 "$OUT/dmesg-bad.txt"
else
	ok "dmesg free of BUG/WARNING/lockdep/KASAN/UBSAN/ODEBUG"
fi
sed -n '/^HRC-KMEMLEAK-BEGIN/,/^HRC-KMEMLEAK-END/p' "$log" | sed '1d;$d' >"$OUT/kmemleak.txt"
if grep -q unreferenced "$OUT/kmemleak.txt"; then bad "kmemleak: no leaks"; head -30 "$OUT/kmemleak.txt"; else ok "kmemleak: no leaks"; fi
grep -h '^HRC-STAT' "$log" || true

echo "test run took $(($(date +%s) - start)) s"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
