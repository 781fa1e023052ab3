# The demo inside the guest (run by /init as /job.sh): load, show the device, fire timers.
set -e
echo "== insmod hrcallout.ko"
insmod /hrcallout.ko
grep hrcallout /proc/modules
ls -l /dev/hrcallout
echo "== hrcallout info"
hrcallout info
exec 3<>/dev/hrcallout
echo "== STREAMS timeout(): three timeouts (30 ms, 10 ms, 20 ms) and one cancelled"
hrcallout --fd 3 timeout 30ms --cookie 3 >/dev/null
hrcallout --fd 3 timeout 10ms --cookie 1 >/dev/null
hrcallout --fd 3 timeout 20ms --cookie 2 >/dev/null
id=$(hrcallout --fd 3 timeout 1s --cookie 99)
hrcallout --fd 3 untimeout "$id"
hrcallout --fd 3 watch --count 3 --idle 2s
echo "== DragonFly callout under a mutex, resetting itself twice"
lk=$(hrcallout --fd 3 lock create mutex)
c=$(hrcallout --fd 3 callout init --lock "$lk")
hrcallout --fd 3 callout reset "$c" 5ms --actions event,reset --repeat 2 --cookie 5
hrcallout --fd 3 watch --count 3 --idle 2s
echo "== Mach periodic timer (2 ms) for ~20 ms"
t=$(hrcallout --fd 3 timer create --mach)
hrcallout --fd 3 arm "$t" 2ms --interval 2ms
sleep 0.02
hrcallout --fd 3 timer cancel "$t"
hrcallout --fd 3 watch --idle 200ms
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
