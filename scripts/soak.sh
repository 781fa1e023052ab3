#!/usr/bin/env bash
# make soak: the fuzzer and the stress run for a long time on the sanitizer (test) kernel,
# then the same dmesg and kmemleak scan as make check. Prints the figures (HRC-STAT lines)
# and ends with "N passed, M failed".
# SOAK_SECS (default 3600) is split: three quarters fuzzing, one quarter stress.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$HRC_ROOT"
secs=${SOAK_SECS:-3600}
fuzz=$((secs * 3 / 4)) stress=$((secs - secs * 3 / 4))
build_for_guest
step "soak: fuzz ${fuzz} s, stress ${stress} s"
start=$(date +%s)
set +e
HRC_APPEND="kunit.enable=0 HRC_SOAK_FUZZ_SECS=$fuzz HRC_SOAK_STRESS_SECS=$stress" \
	scripts/guest.sh scripts/guest/soak-job.sh build/soak.log $((secs + 900)) >build/soak.console 2>&1
rc=$?
set -e
tr -d '\r' <build/soak.log >build/soak.txt
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
[ $rc = 0 ] && ok "guest ran to the end" || bad "guest ran to the end (status $rc)"
while read -r res name; do
	[ "$res" = ok ] && ok "guest: $name" || bad "guest: $name"
done < <(sed -n 's/^HRC-CHECK \([a-z]*\) \(.*\)$/\1 \2/p' build/soak.txt)
if grep -E 'BUG:|WARNING:|ODEBUG|Oops|KASAN|UBSAN|possible (recursive|circular) locking|inconsistent lock state|general protection|Call Trace' build/soak.txt >build/soak-bad.txt; then
	bad "dmesg free of BUG/WARNING/lockdep/KASAN/UBSAN/ODEBUG"; head -40 build/soak-bad.txt
else
	ok "dmesg free of BUG/WARNING/lockdep/KASAN/UBSAN/ODEBUG"
fi
if sed -n '/^HRC-KMEMLEAK-BEGIN/,/^HRC-KMEMLEAK-END/p' build/soak.txt | grep -q unreferenced; then
	bad "kmemleak: no leaks"
else
	ok "kmemleak: no leaks"
fi
grep -h '^HRC-STAT' build/soak.txt || true
echo "soak took $(($(date +%s) - start)) s"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
