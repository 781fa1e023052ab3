# The soak inside the guest (run by /init as /job.sh): the fuzzer, then the stress run, for
# the times the host passes on the kernel command line, on the sanitizer kernel; /init then
# dumps kmemleak and dmesg, which scripts/soak.sh scans.
set -u
note() { echo "HRC-CHECK $1 $2"; }
insmod /hrcallout.ko max_timers=200000 || { note fail insmod; exit 1; }
note ok insmod
hrc-fuzz fuzz --secs "${HRC_SOAK_FUZZ_SECS:-2700}" && note ok soak_fuzz || note fail soak_fuzz
hrc-fuzz stress --secs "${HRC_SOAK_STRESS_SECS:-900}" && note ok soak_stress || note fail soak_stress
rmmod hrcallout && note ok rmmod_after_soak || note fail rmmod_after_soak
grep -qE 'debug_locks: +1$' /proc/lockdep_stats && note ok lockdep_still_enabled ||
	note fail lockdep_still_enabled
exit 0
