# The demo inside the guest (run by /init as /job.sh): load, show the device, fire timers.
set -e
echo "== insmod hrcallout.ko"
insmod /hrcallout.ko
grep hrcallout /proc/modules
ls -l /dev/hrcallout
echo "== hrcallout info"
hrcallout info
exec 3<>/dev/hrcallout
# Each CLI call takes ~0.1 s under TCG, so the delays are long enough to outlast the calls.
echo "== STREAMS timeout(): three timeouts (1.5 s, 0.5 s, 1 s), fired in expiry order, one cancelled"
hrcallout --fd 3 timeout 1500ms --cookie 3 >/dev/null
hrcallout --fd 3 timeout 500ms --cookie 1 >/dev/null
hrcallout --fd 3 timeout 1s --cookie 2 >/dev/null
id=$(hrcallout --fd 3 timeout 5s --cookie 99)
hrcallout --fd 3 untimeout "$id"
hrcallout --fd 3 watch --count 3 --idle 2s
echo "== DragonFly callout under a mutex, resetting itself twice (3 runs; runs not read in between fold into one record's overruns)"
lk=$(hrcallout --fd 3 lock create mutex)
c=$(hrcallout --fd 3 callout init --lock "$lk")
hrcallout --fd 3 callout reset "$c" 5ms --actions event,reset --repeat 2 --cookie 5
hrcallout --fd 3 watch --count 3 --idle 2s
echo "== Mach periodic timer (50 ms): five messages, then cancel"
t=$(hrcallout --fd 3 timer create --mach)
hrcallout --fd 3 arm "$t" 50ms --interval 50ms
hrcallout --fd 3 watch --count 5 --idle 2s
hrcallout --fd 3 timer cancel "$t"
echo "== QNX TimerSettime and mTCP settimer"
q=$(hrcallout --fd 3 timer create)
hrcallout --fd 3 settime "$q" 500ms --interval 100ms
hrcallout --fd 3 settime "$q" 0
hrcallout --fd 3 settimer 42 0 15000 >/dev/null
hrcallout --fd 3 watch --count 1 --idle 2s
hrcallout --fd 3 check
exec 3>&-
rmmod hrcallout
echo "== module unloaded cleanly"
