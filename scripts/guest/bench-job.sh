# The benchmarks inside the guest (run by /init as /job.sh).
set -e
insmod /hrcallout.ko enable_bench=1
echo HRC-BENCH-BEGIN
hrcallout bench --mode "$(cat /bench-mode)" --big
echo HRC-BENCH-END
rmmod hrcallout
