# The benchmarks inside the guest (run by /init as /job.sh).
set -e
insmod /hrcallout.ko enable_bench=1
# The C driver's exported-API pairs (P1c), measured at its load, read back by the bench.
insmod /hrc_lapb.ko bench_pairs=2000 || echo "warning: hrc_lapb.ko did not load: no P1c" >&2
echo HRC-BENCH-BEGIN
hrcallout bench --mode "$(cat /bench-mode)" --big
echo HRC-BENCH-END
rmmod hrc_lapb 2>/dev/null || true
rmmod hrcallout
