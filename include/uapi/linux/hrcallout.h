/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * hrcallout: classic timer APIs (STREAMS timeout, DragonFly callout, Mach
 * timer_arm, QNX TimerSettime, mTCP settimer) on Linux hrtimers, exposed
 * through /dev/hrcallout.
 *
 * This header is the one definition of the ioctl ABI. The module and the
 * userspace crates get their Rust types from it through bindgen.
 *
 * Rules: fixed-size structs of __u64/__s64/__u32 with explicit padding (the
 * layout is the same for 32- and 64-bit userspace); padding and reserved
 * fields must be zero on input; times are nanoseconds. The size of each
 * struct is part of its ioctl number (_IOC_SIZE): a caller built against a
 * newer, larger struct keeps working as long as the fields it adds are zero
 * (the kernel checks them), and an older, smaller struct is refused with
 * -EINVAL. The ioctl numbers are enum members so that bindgen resolves them.
 */
#ifndef _UAPI_LINUX_HRCALLOUT_H
#define _UAPI_LINUX_HRCALLOUT_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define HRC_ABI_VERSION 1
#define HRC_IOC_MAGIC 0xC7

/* HRC_IOC_INFO: what this module is and what it allows. */
struct hrc_info {
	__u32 abi_version;	/* HRC_ABI_VERSION */
	__u32 hz;		/* the kernel's CONFIG_HZ: one STREAMS/callout tick is 1/hz s */
	__u64 resolution_ns;	/* hrtimer resolution (1 with high-resolution timers) */
	__u32 max_timers;	/* live timer objects per file (module parameter) */
	__u32 max_events;	/* queued event records per file: max_timers (a record lives in its timer) */
	__u32 event_size;	/* sizeof(struct hrc_event) as the kernel writes it */
	__u32 qlimit;		/* this file's current Mach queue limit */
	__u32 kernel_debug;	/* HRC_INFO_*: debugging in this kernel (timings mean little) */
	__u32 max_user_timers;	/* slots the files of this file's opener may hold together (module
				 * parameter); 0: its opener has CAP_SYS_RESOURCE or CAP_SYS_ADMIN and
				 * is not limited */
	__u64 reserved[3];
};

#define HRC_INFO_LOCKDEP 0x1	/* CONFIG_LOCKDEP (lock debugging, PROVE_LOCKING) */
#define HRC_INFO_KASAN 0x2	/* CONFIG_KASAN */
#define HRC_INFO_KCSAN 0x4	/* CONFIG_KCSAN */
#define HRC_INFO_KMEMLEAK 0x8	/* CONFIG_DEBUG_KMEMLEAK */

/* HRC_IOC_TIMEOUT: STREAMS timeout(). Fires once; its event has kind HRC_EV_TIMEOUT. */
#define HRC_TIMEOUT_NS 0x1	/* time is nanoseconds, not ticks */
struct hrc_timeout {
	__s64 time;		/* ticks (or ns with HRC_TIMEOUT_NS); <= 0 fires at once */
	__u64 cookie;		/* handed back in the event */
	__u32 flags;		/* HRC_TIMEOUT_* */
	__u32 pad;
	__u64 id;		/* out: the timeout id, never 0 */
};

/* HRC_IOC_UNTIMEOUT: STREAMS untimeout(). -ENOENT if fired, cancelled or unknown. */
struct hrc_untimeout {
	__u64 id;
	__s64 remaining_ticks;	/* out: ticks that were left, rounded up */
	__s64 remaining_ns;	/* out */
};

/*
 * HRC_IOC_BATCH: many STREAMS timeouts in one call. `ops` points at `count` (at most 65536)
 * struct hrc_timeout; each armed one gets its id written back. Stops at the first failure:
 * `done` says how many succeeded; the call fails with that entry's errno only if none did.
 * Relative times count from one clock read per few entries, made during the call: an entry
 * never expires before the call began plus its delay.
 */
struct hrc_batch {
	__u64 ops;		/* user pointer to struct hrc_timeout[count] */
	__u32 count;
	__u32 done;		/* out */
};

/*
 * DragonFly callout(9). A callout is created with HRC_IOC_CALLOUT_INIT and named by
 * its id in every other call; the C calls' int results are the ioctls' return
 * values (callout_stop: 1 or 0; callout_active/pending: 1 or 0).
 */
enum hrc_callout_mode {
	HRC_CALLOUT_INIT = 0,		/* callout_init: callbacks under one module-wide lock */
	HRC_CALLOUT_INIT_MP = 1,	/* callout_init_mp: no lock */
	HRC_CALLOUT_INIT_LK = 2,	/* callout_init_lk: under the lock lock_id */
};

struct hrc_callout_init {
	__u32 mode;		/* enum hrc_callout_mode */
	__u32 pad;
	__u64 lock_id;		/* HRC_CALLOUT_INIT_LK: a lock of this file */
	__u64 id;		/* out: the callout's id */
};

/* What the callback does (a callback cannot be handed over from userspace). */
#define HRC_CA_EVENT 0x01	/* append an HRC_EV_CALLOUT record */
#define HRC_CA_SPIN 0x02	/* busy-wait `us` microseconds while running */
#define HRC_CA_SLEEP 0x04	/* sleep `us` microseconds (not with a spinlock) */
#define HRC_CA_RESET 0x08	/* callout_reset itself (same delay) while `repeat` > 0 */
#define HRC_CA_STOP 0x10	/* callout_stop itself; result in the record's `extra` */
#define HRC_CA_STOP_SYNC 0x20	/* callout_stop_sync itself; result in `extra` */

#define HRC_CALLOUT_NS 0x1	/* `time` is nanoseconds, not ticks */

struct hrc_callout_reset {
	__u64 id;
	__s64 time;		/* ticks (or ns with HRC_CALLOUT_NS); <= 0 means one tick */
	__u32 flags;		/* HRC_CALLOUT_* */
	__u32 actions;		/* HRC_CA_* */
	__u32 us;		/* window for HRC_CA_SPIN / HRC_CA_SLEEP, at most 1000000 */
	__u32 repeat;		/* self-resets left for HRC_CA_RESET */
	__u64 cookie;		/* handed back in the event */
};

/* callout_reset_bycpu: HRC_IOC_CALLOUT_RESET whose callback runs on CPU `cpu` (which must be
 * online: EINVAL otherwise). A plain HRC_IOC_CALLOUT_RESET runs it on the CPU the call ran on. */
struct hrc_callout_reset_bycpu {
	struct hrc_callout_reset reset;
	__u32 cpu;
	__u32 reserved;		/* 0 */
};

/* An object id: the argument of callout stop, stop_async, stop_sync, active, pending,
 * deactivate, destroy, and of lock and timer destroy. */
struct hrc_callout_id {
	__u64 id;
};

/* Locks a callout can be associated with (HRC_IOC_LOCK_HOLD, a test ioctl, holds one). */
enum hrc_lock_kind {
	HRC_LOCK_MUTEX = 0,	/* callbacks may sleep */
	HRC_LOCK_SPIN = 1,	/* callbacks run atomically */
};

struct hrc_lock_create {
	__u32 kind;		/* enum hrc_lock_kind */
	__u32 pad;
	__u64 id;		/* out */
};

/*
 * Interval timer objects, shared by the Mach and QNX personalities, on CLOCK_REALTIME (0),
 * CLOCK_MONOTONIC (1), CLOCK_BOOTTIME (7) or CLOCK_TAI (11). Relative times run on
 * CLOCK_MONOTONIC, or CLOCK_BOOTTIME for a BOOTTIME timer (so that they count suspend), and
 * their records say so; absolute times on the clock the timer was created with (an absolute
 * CLOCK_REALTIME or CLOCK_TAI timer follows clock_settime). Values >= 2^63 ns
 * are negative times: HRC_IOC_TIMER_SETTIME refuses them with -EINVAL, as POSIX timer_settime does. The QNX
 * calls (SETTIME, GETTIME, INFO, DELETE) report an unknown timer as -EINVAL.
 */
enum hrc_notify {
	HRC_NOTIFY_SI_TIMER = 0,	/* QNX SI_TIMER: one record queued at most; more expiries add overruns */
	HRC_NOTIFY_MACH = 1,		/* Mach port: a record per expiry until the file's queue
					 * holds its limit (HRC_IOC_SET_QLIMIT); expiries while
					 * it is full are missed, and the missed count rides on
					 * the next record */
	HRC_NOTIFY_PULSE = 2,		/* QNX pulse: each expiry its own record, queued as
					 * HRC_NOTIFY_MACH records are (same limit, same count
					 * of what did not fit) */
};

struct hrc_timer_create {
	__u32 clock;		/* CLOCK_REALTIME, _MONOTONIC, _BOOTTIME or _TAI */
	__u32 notify;		/* enum hrc_notify */
	__u64 cookie;		/* handed back in every record */
	__u64 id;		/* out */
};

struct hrc_itimer {
	__u64 value_ns;		/* time to the next expiry (absolute with HRC_TIMER_ABSTIME); 0 = disarmed */
	__u64 interval_ns;	/* period; 0 = one-shot */
};

/* QNX TimerSettime(): replaces the setting, returns the old one. Never blocks. */
#define HRC_TIMER_ABSTIME 0x1
/* With HRC_TIMER_ABSTIME on a CLOCK_REALTIME or CLOCK_TAI timer (else -EINVAL): when the
 * clock is set while the timer is armed, it is disarmed and its record says so (flag
 * HRC_EVF_CANCELED): timerfd's TFD_TIMER_CANCEL_ON_SET. */
#define HRC_TIMER_CANCEL_ON_SET 0x2
struct hrc_timer_settime {
	__u64 id;
	__u32 flags;		/* HRC_TIMER_ABSTIME, HRC_TIMER_CANCEL_ON_SET */
	__u32 pad;
	struct hrc_itimer value;
	struct hrc_itimer old;	/* out: time that was left (0 if disarmed) and the old period */
};

/* Time left and period (timer_gettime). */
struct hrc_timer_gettime {
	__u64 id;
	struct hrc_itimer value;	/* out */
};

/* QNX TimerInfo(). */
#define HRC_TIMER_RESET_OVERRUNS 0x1	/* _NTO_TIMER_RESET_OVERRUNS: clear after reading */
#define HRC_TI_ACTIVE 0x1		/* armed */
#define HRC_TI_ABSOLUTE 0x2		/* armed with an absolute time */
#define HRC_TI_EXPIRED 0x4		/* expired at least once since it was last armed */
struct hrc_timer_info {
	__u64 id;
	__u32 flags;		/* HRC_TIMER_RESET_OVERRUNS */
	__u32 info_flags;	/* out: HRC_TI_* */
	__u64 overruns;		/* out: overruns since the last reset */
	struct hrc_itimer value;	/* out: as HRC_IOC_TIMER_GETTIME */
	__u32 clock;		/* out */
	__u32 notify;		/* out */
};

/*
 * Mach timer_arm(). KERN_INVALID_ARGUMENT is -EINVAL (negative time; for TIMER_PERIODIC,
 * a negative interval or one below the clock resolution; TIMER_THREAD_SUSPEND without a
 * thread), KERN_FAILURE is -EBUSY (already armed). `tid` is reserved (must be 0) unless
 * HRC_MACH_THREAD_SUSPEND is set.
 *
 * TIMER_THREAD_SUSPEND: each expiry adds one to thread `tid`'s suspend count (this file's);
 * the thread runs no user code while it is not 0 (it stops at its next return to user mode,
 * in a killable wait) and HRC_IOC_THREAD_RESUME takes one off. The thread must be one of the
 * caller's own process: -ESRCH for no such thread, -EPERM for another process's, -ENOSPC
 * with 64 threads tracked by this file. A timer whose thread has exited clears itself at its
 * next expiry (its message is still sent). Closing the file lets its threads run.
 */
#define HRC_MACH_ABSOLUTE 0x1		/* TIMER_ABSOLUTE */
#define HRC_MACH_PERIODIC 0x2		/* TIMER_PERIODIC */
#define HRC_MACH_THREAD_SUSPEND 0x4	/* TIMER_THREAD_SUSPEND */
struct hrc_timer_arm {
	__u64 id;
	__s64 expire_ns;
	__s64 interval_ns;
	__u32 flags;		/* HRC_MACH_* */
	__s32 tid;		/* TIMER_THREAD_SUSPEND's thread; otherwise 0 */
};

/*
 * Mach thread_resume(): one suspension less for thread `tid` of this file's timers; it runs
 * again at 0. -EINVAL (KERN_INVALID_ARGUMENT) if this file never suspended `tid`, -EALREADY
 * (KERN_FAILURE) if its count is already 0.
 */
struct hrc_thread_resume {
	__s32 tid;
	__u32 count;		/* out: the count left */
};

/* Mach timer_cancel(): -EALREADY if not armed. With HRC_MACH_PERIODIC on a periodic
 * timer only the current interval is cancelled. */
struct hrc_timer_cancel {
	__u64 id;
	__u32 flags;
	__u32 pad;
};

/*
 * Mach timer_info(MACH_TIMER_BASIC_INFO). As Mach returns them: `type` holds the current arming's
 * HRC_MACH_* flags (0 if disarmed), `enqueued` is 1 while the timer is armed, `expire_ns` is the
 * absolute time of its next expiry on the timer's clock (0 if disarmed; a relative arming's
 * deadline, which runs on CLOCK_MONOTONIC or BOOTTIME, is given on the timer's clock as it stands
 * now), `overruns` counts every missed message since the timer was created (or last reset with
 * HRC_IOC_TIMER_INFO). Extensions: `left_ns`, the time left (0 if disarmed), `messages`, this
 * timer's records waiting in the file's queue, and, for TIMER_THREAD_SUSPEND, its thread and that
 * thread's suspend count. -ENOENT for an unknown timer, as the other Mach calls.
 */
struct hrc_mach_timer_info {
	__u64 id;
	__u32 type;		/* out: HRC_MACH_ABSOLUTE | HRC_MACH_PERIODIC of the arming */
	__u32 enqueued;		/* out: 1 if armed */
	__s64 expire_ns;	/* out: absolute next expiry on the timer's clock */
	__s64 interval_ns;	/* out: period (0: one-shot) */
	__u64 overruns;		/* out */
	__s64 left_ns;		/* out: time left */
	__u32 messages;		/* out: its records queued */
	__u32 clock;		/* out: the timer's clock */
	__s32 tid;		/* out: TIMER_THREAD_SUSPEND's thread (0: none) */
	__u32 suspend_count;	/* out: that thread's suspend count on this file */
};

/* This file's Mach queue limit (the port's qlimit): 1 .. max_timers. */
struct hrc_qlimit {
	__u32 qlimit;
	__u32 pad;
};

/*
 * mTCP mtcp_settimer(): a one-shot timer; its HRC_EV_MTCP record carries `id` (the caller's
 * integer, sign-extended) as its cookie. tv_sec < 0, tv_usec outside [0, 1000000) -> -EINVAL.
 */
struct hrc_settimer {
	__s32 id;
	__u32 pad;
	__s64 tv_sec;
	__s64 tv_usec;
	__u64 timer_id;		/* out: the engine's id (to untimeout it, for cleanup) */
};

/*
 * Virtual time. HRC_IOC_CLOCK_VIRTUAL switches a fresh file (no timers, no records: else -EBUSY,
 * also when it is virtual already) to a clock that moves only when told: from then on every
 * personality on the file runs on it, CLOCK_REALTIME being the virtual monotonic time plus an
 * offset, CLOCK_BOOTTIME the virtual monotonic time (nothing suspends), CLOCK_TAI the virtual
 * realtime plus the host's TAI offset at the switch. HRC_IOC_CLOCK_ADVANCE moves it forward
 * (-EINVAL backwards) and runs, in the caller's thread and in expiry order, every expiry due by
 * the new time, each pass at its own instant (equal expiries in arming order), callouts' callbacks
 * included, timers armed meanwhile included; it returns when all of them have run and their
 * records are queued. After `max_passes` passes (0: HRC_ADVANCE_DEFAULT_PASSES) what is still due
 * runs in one late pass at the new time (`folded`), where periodic timers fold their periods into
 * overruns as after a stall. -EBUSY while another advance of the file runs; -EINTR if the caller
 * is killed meanwhile. HRC_IOC_CLOCK_SET_REALTIME steps the virtual realtime clock (either way)
 * and runs what became due. On a real file these two are -EOPNOTSUPP. HRC_IOC_CLOCK_NOW reads the
 * file's clocks, real or virtual.
 */
#define HRC_CLOCK_VIRTUAL_AT_NOW 0x1	/* start at the real clocks' now (mono_ns, real_ns 0) */
struct hrc_clock_virtual {
	__u32 flags;		/* HRC_CLOCK_VIRTUAL_* */
	__u32 pad;
	__s64 mono_ns;		/* virtual CLOCK_MONOTONIC to start at (>= 0) */
	__s64 real_ns;		/* virtual CLOCK_REALTIME to start at */
};

#define HRC_ADVANCE_ABS 0x1		/* `ns` is the new monotonic time, not a delta */
#define HRC_ADVANCE_DEFAULT_PASSES (1u << 20)
struct hrc_clock_advance {
	__u32 flags;		/* HRC_ADVANCE_* */
	__u32 max_passes;	/* passes run at their own instants (0: the default) */
	__s64 ns;		/* delta (>= 0), or absolute with HRC_ADVANCE_ABS */
	__s64 mono_ns;		/* out: virtual CLOCK_MONOTONIC after the advance */
	__s64 real_ns;		/* out: virtual CLOCK_REALTIME after the advance */
	__u32 passes;		/* out: expiry passes run */
	__u32 folded;		/* out: 1 if the budget ran out and the rest ran late */
};

struct hrc_clock_now {
	__u32 is_virtual;	/* out: 1 on a virtual file */
	__u32 pad;
	__s64 mono_ns;		/* out */
	__s64 real_ns;		/* out */
};

struct hrc_clock_set_realtime {
	__s64 real_ns;		/* the new virtual CLOCK_REALTIME */
	__s64 step_ns;		/* out: new minus old */
};

/*
 * Debugging and test ioctls. Not part of any personality: they exist so that tests,
 * fuzzers and benchmarks can see and drive the module's internals. Programs should not
 * depend on them.
 */

/* HRC_IOC_CHECK: the engine's own consistency check, for tests and fuzzers. */
struct hrc_check {
	__u32 ok;		/* out: 1 if every invariant held */
	__u32 live;		/* out: timer objects in use on this file */
	__u32 queued;		/* out: event records waiting to be read */
	__u32 free;		/* out: recycled slots ready for reuse */
	__u64 slots;		/* out: slots allocated on this file */
	__u64 reserved[2];
};

enum hrc_hold_op {
	HRC_HOLD_NONE = 0,
	HRC_HOLD_STOP = 1,	/* callout_stop(callout_id) with the lock held, after the wait */
	HRC_HOLD_STOP_SYNC = 2,	/* callout_stop_sync(callout_id) with the lock held */
};

struct hrc_lock_hold {
	__u64 lock_id;
	__u32 us;		/* hold the lock this long (spinlock: at most 20000) */
	__u32 op;		/* enum hrc_hold_op, done while still holding the lock */
	__u64 callout_id;
	__s64 result;		/* out: the op's result */
};

/*
 * HRC_IOC_BENCH: in-kernel benchmarks, only in a module built for benchmarks (make bench)
 * and loaded with enable_bench=1; else -EPERM (-EOPNOTSUPP: enabled, but built without).
 * Pair kinds time `iterations` arm+cancel pairs, 15 times, with `pending` timeouts armed on
 * the same CPU (random expiries 10..1010 s), and report ns per pair (min, median, max of the
 * 15). The probe's expiry is random in 10..1010 s too, or with HRC_BENCH_EARLIEST ORed into
 * the kind, earlier than every other timer and than the previous probe (about 1 s, 10 us
 * less each time): every arm then has to move the hrtimer the next expiry is programmed for.
 * Latency kinds arm `iterations` timers spread over `spread_ns` and report how late they ran
 * (percentiles). Times are guest ns: instructions under QEMU -icount.
 */
enum hrc_bench_kind {
	HRC_BENCH_RAW_PAIR = 1,		/* raw hrtimer_start + hrtimer_cancel (baseline) */
	HRC_BENCH_TIMEOUT_PAIR = 2,	/* timeout + untimeout on this file's engine */
	HRC_BENCH_CALLOUT_PAIR = 3,	/* callout_reset + callout_stop */
	HRC_BENCH_RAW_LATENCY = 4,	/* raw hard-irq hrtimers (baseline) */
	HRC_BENCH_SOFT_LATENCY = 5,	/* engine timeouts, soft-irq callbacks */
	HRC_BENCH_THREAD_LATENCY = 6,	/* engine callouts, executor (thread context) */
	HRC_BENCH_WQ_LATENCY = 7,	/* raw hard hrtimer -> work item on system_highpri (baseline) */
	HRC_BENCH_LOCK_PAIR = 8,	/* floor: the engine lock taken and released */
	HRC_BENCH_CLOCK_READ = 9,	/* floor: one CLOCK_MONOTONIC read */
	HRC_BENCH_RAW_BURST = 10,	/* raw hard hrtimers all due at one instant (latency output) */
	HRC_BENCH_KTIMEOUT_PAIR = 11,	/* in-kernel timeout() + untimeout(), the public API, this CPU */
	HRC_BENCH_KCALLOUT_PAIR = 12,	/* in-kernel Callout reset + stop, the public API, this CPU */
};

#define HRC_BENCH_EARLIEST 0x100	/* pair kinds: the probe is always the earliest timer */
/* RAW_PAIR, KTIMEOUT_PAIR, KCALLOUT_PAIR with pending 0: run beside other benchmarks (the
 * per-CPU scaling figures run one per CPU at once) instead of one at a time. */
#define HRC_BENCH_PARALLEL 0x200

struct hrc_bench {
	__u32 kind;		/* enum hrc_bench_kind */
	__u32 iterations;	/* pairs per round, or timers */
	__u64 pending;		/* pair kinds: timers pending meanwhile */
	__u64 spread_ns;	/* latency kinds: expiries spread over this */
	__s64 min_ns;		/* out */
	__s64 p50_ns;		/* out */
	__s64 p99_ns;		/* out */
	__s64 p999_ns;		/* out */
	__s64 max_ns;		/* out */
};

/* Event records, read() from the file: whole records only. */
enum hrc_event_kind {
	HRC_EV_TIMEOUT = 1,	/* STREAMS timeout fired */
	HRC_EV_CALLOUT = 2,	/* a callout's callback ran with HRC_CA_EVENT */
	HRC_EV_INTERVAL = 3,	/* a Mach/QNX interval timer expired */
	HRC_EV_MTCP = 4,	/* an mTCP settimer registration fired; cookie = its id */
	HRC_EV_CLOCK_SET = 5,	/* CLOCK_REALTIME was set (HRC_IOC_CLOCK_WATCH): expiry_ns is the
				 * new CLOCK_REALTIME - CLOCK_MONOTONIC offset, fire_ns the
				 * CLOCK_REALTIME the set was seen at; overruns: earlier sets folded in */
};

#define HRC_EVF_PERIODIC 0x1	/* the timer is periodic */
#define HRC_EVF_LOCK_HELD 0x2	/* the callout's lock (or the module-wide one) was held */
#define HRC_EVF_CANCELED 0x4	/* HRC_TIMER_CANCEL_ON_SET: disarmed because the clock was set;
				 * expiry_ns is the time it was armed for, fire_ns when it was
				 * disarmed (both on its clock) */

/*
 * HRC_IOC_CLOCK_WATCH: tell this file when CLOCK_REALTIME is set (clock_settime, settimeofday,
 * adjtimex offsets and leap seconds; on a virtual file, HRC_IOC_CLOCK_SET_REALTIME), with
 * HRC_EV_CLOCK_SET records carrying `cookie`. At most one is queued: an unread one stands for
 * every set since. HRC_IOC_CLOCK_UNWATCH (struct hrc_callout_id) ends the watch and drops its
 * unread record; closing the file ends every watch.
 */
struct hrc_clock_watch {
	__u64 cookie;
	__u32 flags;		/* 0 */
	__u32 pad;
	__u64 id;		/* out: the watch's id */
};

struct hrc_event {
	__u16 size;		/* sizeof(struct hrc_event) */
	__u16 kind;		/* enum hrc_event_kind */
	__u32 flags;		/* HRC_EVF_* */
	__u64 id;		/* the timer object's id */
	__u64 cookie;		/* the caller's cookie */
	__s64 expiry_ns;	/* scheduled expiry, on the timer's clock */
	__s64 fire_ns;		/* when the expiry was handled, same clock */
	__u64 overruns;		/* expiries folded into this record */
	__u32 clock;		/* of expiry_ns: CLOCK_REALTIME 0, _MONOTONIC 1, _BOOTTIME 7, _TAI 11 */
	__u32 cpu;		/* callout: the CPU its callback ran on; otherwise 0 */
	__u64 extra;		/* callout: result of HRC_CA_STOP / HRC_CA_STOP_SYNC */
};

/* Ioctl numbers. An enum so that bindgen resolves them (no macro fallback needed). */
enum {
	HRC_IOC_INFO = _IOR(HRC_IOC_MAGIC, 0x00, struct hrc_info),
	HRC_IOC_TIMEOUT = _IOWR(HRC_IOC_MAGIC, 0x10, struct hrc_timeout),
	HRC_IOC_UNTIMEOUT = _IOWR(HRC_IOC_MAGIC, 0x11, struct hrc_untimeout),
	HRC_IOC_BATCH = _IOWR(HRC_IOC_MAGIC, 0x12, struct hrc_batch),
	HRC_IOC_CALLOUT_INIT = _IOWR(HRC_IOC_MAGIC, 0x20, struct hrc_callout_init),
	HRC_IOC_CALLOUT_RESET = _IOW(HRC_IOC_MAGIC, 0x21, struct hrc_callout_reset),
	HRC_IOC_CALLOUT_STOP = _IOW(HRC_IOC_MAGIC, 0x22, struct hrc_callout_id),
	HRC_IOC_CALLOUT_STOP_ASYNC = _IOW(HRC_IOC_MAGIC, 0x23, struct hrc_callout_id),
	HRC_IOC_CALLOUT_STOP_SYNC = _IOW(HRC_IOC_MAGIC, 0x24, struct hrc_callout_id),
	HRC_IOC_CALLOUT_ACTIVE = _IOW(HRC_IOC_MAGIC, 0x25, struct hrc_callout_id),
	HRC_IOC_CALLOUT_PENDING = _IOW(HRC_IOC_MAGIC, 0x26, struct hrc_callout_id),
	HRC_IOC_CALLOUT_DEACTIVATE = _IOW(HRC_IOC_MAGIC, 0x27, struct hrc_callout_id),
	HRC_IOC_CALLOUT_DESTROY = _IOW(HRC_IOC_MAGIC, 0x28, struct hrc_callout_id),
	HRC_IOC_CALLOUT_RESET_BYCPU = _IOW(HRC_IOC_MAGIC, 0x29, struct hrc_callout_reset_bycpu),
	HRC_IOC_LOCK_CREATE = _IOWR(HRC_IOC_MAGIC, 0x30, struct hrc_lock_create),
	HRC_IOC_LOCK_DESTROY = _IOW(HRC_IOC_MAGIC, 0x31, struct hrc_callout_id),
	HRC_IOC_TIMER_CREATE = _IOWR(HRC_IOC_MAGIC, 0x40, struct hrc_timer_create),
	HRC_IOC_TIMER_DELETE = _IOW(HRC_IOC_MAGIC, 0x41, struct hrc_callout_id),
	HRC_IOC_TIMER_SETTIME = _IOWR(HRC_IOC_MAGIC, 0x42, struct hrc_timer_settime),
	HRC_IOC_TIMER_GETTIME = _IOWR(HRC_IOC_MAGIC, 0x43, struct hrc_timer_gettime),
	HRC_IOC_TIMER_INFO = _IOWR(HRC_IOC_MAGIC, 0x44, struct hrc_timer_info),
	HRC_IOC_TIMER_ARM = _IOW(HRC_IOC_MAGIC, 0x45, struct hrc_timer_arm),
	HRC_IOC_TIMER_CANCEL = _IOW(HRC_IOC_MAGIC, 0x46, struct hrc_timer_cancel),
	HRC_IOC_SET_QLIMIT = _IOW(HRC_IOC_MAGIC, 0x47, struct hrc_qlimit),
	HRC_IOC_MACH_TIMER_INFO = _IOWR(HRC_IOC_MAGIC, 0x48, struct hrc_mach_timer_info),
	HRC_IOC_THREAD_RESUME = _IOWR(HRC_IOC_MAGIC, 0x49, struct hrc_thread_resume),
	HRC_IOC_SETTIMER = _IOWR(HRC_IOC_MAGIC, 0x50, struct hrc_settimer),
	HRC_IOC_CLOCK_VIRTUAL = _IOW(HRC_IOC_MAGIC, 0x70, struct hrc_clock_virtual),
	HRC_IOC_CLOCK_ADVANCE = _IOWR(HRC_IOC_MAGIC, 0x71, struct hrc_clock_advance),
	HRC_IOC_CLOCK_NOW = _IOR(HRC_IOC_MAGIC, 0x72, struct hrc_clock_now),
	HRC_IOC_CLOCK_SET_REALTIME = _IOWR(HRC_IOC_MAGIC, 0x73, struct hrc_clock_set_realtime),
	HRC_IOC_CLOCK_WATCH = _IOWR(HRC_IOC_MAGIC, 0x74, struct hrc_clock_watch),
	HRC_IOC_CLOCK_UNWATCH = _IOW(HRC_IOC_MAGIC, 0x75, struct hrc_callout_id),

	/* Debugging and tests (see above). */
	HRC_IOC_CHECK = _IOR(HRC_IOC_MAGIC, 0x01, struct hrc_check),
	HRC_IOC_LOCK_HOLD = _IOWR(HRC_IOC_MAGIC, 0x32, struct hrc_lock_hold),
	HRC_IOC_BENCH = _IOWR(HRC_IOC_MAGIC, 0x60, struct hrc_bench),
};

#endif /* _UAPI_LINUX_HRCALLOUT_H */
