# The test suite inside the guest (run by /init as /job.sh). Prints markers the host parses.
set -u
fail=0
note() { echo "HRC-CHECK $1 $2"; }   # HRC-CHECK ok|fail name
phase() { echo "HRC-PHASE $*"; }       # shown live by scripts/test.sh

phase "KUnit suites (they run inside insmod)"
# 1. Load: the KUnit suites run now, inside insmod. A lower live-timer cap so the cap test is
# quick, and a per-user cap between it and twice it, for the per-user quota test.
export HRC_MAX_TIMERS=200000 HRC_MAX_USER_TIMERS=350000
if insmod /hrcallout.ko max_timers=$HRC_MAX_TIMERS max_user_timers=$HRC_MAX_USER_TIMERS; then
	note ok insmod
else
	note fail insmod; exit 1
fi
# Open to every user by default (issue 23), so the runs as user 65534 below can open it.
[ "$(stat -c %a /dev/hrcallout)" = 666 ] && note ok device_mode_0666 || note fail device_mode_0666
for r in /sys/kernel/debug/kunit/hrcallout_*/results; do
	echo "HRC-KTAP-BEGIN $(basename "$(dirname "$r")")"; cat "$r"; echo "HRC-KTAP-END"
done
# The cases one load runs: every reload below must run as many.
first_cases=$(cat /sys/kernel/debug/kunit/hrcallout_*/results | grep -cE '^ +(not )?ok [0-9]+ ')

phase "the C driver samples/lapb and its KUnit suites"
# 1b. The ported C driver: its KUnit suites (C, hrcallout_c_*) run inside its insmod; while it
# is loaded it pins hrcallout.ko.
if insmod /hrc_lapb.ko; then note ok insmod_c_driver; else note fail insmod_c_driver; fi
for r in /sys/kernel/debug/kunit/hrcallout_c_*/results; do
	echo "HRC-KTAP-BEGIN $(basename "$(dirname "$r")")"; cat "$r"; echo "HRC-KTAP-END"
done
rmmod hrcallout 2>/dev/null && note fail rmmod_refused_while_c_driver_loaded ||
	note ok rmmod_refused_while_c_driver_loaded
rmmod hrc_lapb && note ok rmmod_c_driver || note fail rmmod_c_driver

phase "integration tests (hrc-tests), as root and as user 65534"
# 2. Userspace integration tests: as root, then again as an unprivileged user (the cases that
# need root are left out of that run, which says so).
echo HRC-USER-BEGIN
hrc-tests; echo "HRC-USER-STATUS $?"
hrc-tests --as-user 65534; echo "HRC-USER-STATUS $?"
echo HRC-USER-END

phase "fuzzer slice and stress, as root and as user 65534"
# 3. Fuzzer slice and stress (the long mode: hrc-fuzz fuzz --secs 3600), then a fuzzer slice as
# an unprivileged user.
hrc-fuzz fuzz --secs ${HRC_FUZZ_SECS:-60} && note ok fuzz_slice || note fail fuzz_slice
hrc-fuzz stress --secs ${HRC_STRESS_SECS:-30} && note ok stress || note fail stress
hrc-fuzz --as-user 65534 fuzz --secs ${HRC_FUZZ_USER_SECS:-30} && note ok fuzz_slice_as_user ||
	note fail fuzz_slice_as_user
# (The fuzzer and the stress run check their own files at the end; a new file here only shows
# that the module still answers.)
hrcallout check >/dev/null && note ok module_answers_after_fuzz || note fail module_answers_after_fuzz

phase "the CLI"
# 4. The CLI, as a user would drive it, sharing one file through fd 3.
exec 3<>/dev/hrcallout
hrcallout --fd 3 info | grep -q "resolution:    1 ns" && note ok cli_info || note fail cli_info
id=$(hrcallout --fd 3 timeout 10s --cookie 5)
hrcallout --fd 3 untimeout "$id" | grep -q remaining && note ok cli_untimeout || note fail cli_untimeout
hrcallout --fd 3 timeout 20ms --cookie 77 >/dev/null
hrcallout --fd 3 watch --count 1 --idle 2s | grep -q "timeout .*cookie=77" && note ok cli_watch || note fail cli_watch
hrcallout --fd 3 untimeout 0x1234 2>/dev/null && note fail cli_untimeout_enoent || note ok cli_untimeout_enoent
# A virtual-time script prints the same lines on every run, with exact virtual times.
printf 'timeout 10ms 7\nmach 1ms 1ms 8  # periodic\nadvance 5ms\nadvance 5ms\n' >/tmp/v.script
hrcallout virtual /tmp/v.script >/tmp/v1 && hrcallout virtual /tmp/v.script >/tmp/v2 &&
	cmp -s /tmp/v1 /tmp/v2 && grep -q "at 10.000 ms timeout .* cookie=7 late=0 ns" /tmp/v1 &&
	[ "$(grep -c 'interval' /tmp/v1)" = 10 ] && note ok cli_virtual_script_repeats ||
	{ cat /tmp/v1; note fail cli_virtual_script_repeats; }
# hrcallout top reads the shell's fdinfo: its one file on fd 3, one timeout live and armed.
hrcallout --fd 3 timeout 60s >/dev/null
hrcallout top --once $$ >/tmp/top
grep -qE "^ +$$ +3 +real +1/1 +0/0 +0/0 +0/0 +0 " /tmp/top && grep -q "^1 file" /tmp/top &&
	note ok cli_top_shows_the_shells_file || { cat /tmp/top; note fail cli_top_shows_the_shells_file; }

phase "unload safety"
# 5. Unload safety: refused while a file is open, clean after.
rmmod hrcallout 2>/dev/null && note fail rmmod_refused_while_open || note ok rmmod_refused_while_open
exec 3>&-
rmmod hrcallout && note ok rmmod_after_close || note fail rmmod_after_close

phase "${HRC_CYCLES:-100} load/unload cycles"
# 6. Load/unload cycles with timers pending at close. KUnit runs on each load too: every
# load's results are checked (a case that fails on the 37th load fails the run).
cycles=0
i=0
kunit_cases=0
kunit_bad=0
while [ $i -lt ${HRC_CYCLES:-100} ]; do
	insmod /hrcallout.ko || break
	res=$(cat /sys/kernel/debug/kunit/hrcallout_*/results 2>/dev/null)
	kunit_cases=$((kunit_cases + $(echo "$res" | grep -cE '^ +(not )?ok [0-9]+ ')))
	if echo "$res" | grep -qE '^ *not ok '; then
		kunit_bad=$((kunit_bad + 1))
		echo "$res" | grep -E '^ *not ok |ASSERTION|Expected' | sed "s/^/HRC-KUNIT-LOAD-$i: /"
	fi
	hrcallout timeout 10s >/dev/null || break
	hrcallout callout init --mp >/dev/null || break
	rmmod hrcallout || break
	i=$((i + 1))
done
echo "HRC-STAT insmod_rmmod_cycles $i"
echo "HRC-STAT kunit_cases_on_reloads $kunit_cases"
[ $i -eq ${HRC_CYCLES:-100} ] && note ok insmod_rmmod_cycles || note fail insmod_rmmod_cycles
# Every reload ran as many cases as the first load, and none failed.
[ $kunit_bad -eq 0 ] && [ "$first_cases" -gt 0 ] && [ $kunit_cases -eq $((i * first_cases)) ] &&
	note ok kunit_every_load_passes ||
	note fail "kunit_every_load_passes ($kunit_bad loads failed, $kunit_cases cases over $i loads)"

phase "the installed module: modprobe, options, autoload"
# 7. The module as `make install` installed it (the host staged /lib/modules): modprobe with
# /etc/modprobe.d options, then autoload when the device node is opened with no module loaded.
if [ -f /installed-modules.tar ]; then
	tar -C / -xf /installed-modules.tar
	mkdir -p /etc/modprobe.d
	echo "options hrcallout max_timers=4321 qlimit=7 root_only=1" >/etc/modprobe.d/hrcallout.conf
	modprobe hrcallout && note ok modprobe_installed_module || note fail modprobe_installed_module
	[ "$(stat -c %a /dev/hrcallout)" = 600 ] && note ok root_only_makes_the_device_0600 ||
		note fail root_only_makes_the_device_0600
	# (A Rust module's parameters have no sysfs files in 7.3: the device reports them.)
	info=$(hrcallout info)
	echo "$info" | grep -qE "^max_timers: +4321 per file" && echo "$info" | grep -qE "^qlimit: +7$" &&
		note ok modprobe_d_options_applied || note fail modprobe_d_options_applied
	modprobe -r hrcallout && note ok modprobe_remove || note fail modprobe_remove
	# The kernel asks for char-major-10-246 when the node is opened and nothing serves it.
	echo /bin/modprobe >/proc/sys/kernel/modprobe
	rm -f /dev/hrcallout && mknod /dev/hrcallout c 10 246
	hrcallout info >/dev/null 2>&1 && grep -q '^hrcallout ' /proc/modules &&
		note ok autoload_on_first_open || note fail autoload_on_first_open
	rmmod hrcallout
else
	note fail "installed_module_tarball_present"
fi

# 8. Lockdep turns itself off after its first report: it must still be on after all of the above.
grep -qE 'debug_locks: +1$' /proc/lockdep_stats && note ok lockdep_still_enabled ||
	note fail lockdep_still_enabled
exit 0
