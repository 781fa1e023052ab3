// SPDX-License-Identifier: GPL-2.0

//! KUnit suites, run when the module is loaded on a `CONFIG_KUNIT=y` kernel.
//!
//! `hrcallout_fake` drives the engine on [`FakeClock`]: time moves only when a test says so and
//! expiries run in the test's thread, so ordering and race windows are deterministic.
//! `hrcallout_real` checks the same paths on real hrtimers with generous bounds.
//!
//! Results are recorded in atomics by callbacks and asserted in the test body: an `assert!`
//! outside the KUnit thread would only be logged.

use crate::callout::{self, CalloutLock, LockKind, Mode, Run};
use crate::engine::{Backend, Engine, FakeClock, HrBackend, Kind, Overrun};
use crate::streams::{self, tick_ns};
use crate::timer::Clock;
use kernel::prelude::*;
use kernel::sync::atomic::{ordering::Relaxed, Atomic};
use kernel::sync::Arc;

fn fake() -> Result<Arc<Engine<FakeClock>>> {
    Engine::new(FakeClock::new(1_000_000_000), 4096, 16)
}

/// Per-test call log: callbacks append their argument.
struct Log {
    n: Atomic<usize>,
    order: [Atomic<usize>; 8],
}

impl Log {
    const fn new() -> Self {
        Self {
            n: Atomic::new(0),
            order: [const { Atomic::new(0) }; 8],
        }
    }
    fn push(&self, v: usize) {
        let i = self.n.fetch_add(1, Relaxed);
        if i < 8 {
            self.order[i].store(v, Relaxed);
        }
    }
    fn count(&self) -> usize {
        self.n.load(Relaxed)
    }
    fn at(&self, i: usize) -> usize {
        self.order[i].load(Relaxed)
    }
}

#[kunit_tests(hrcallout_fake)]
mod fake_clock {
    use super::*;

    static ORDER: Log = Log::new();
    fn record_order(arg: usize) {
        ORDER.push(arg);
    }

    #[test]
    fn timeouts_fire_in_expiry_order() -> Result {
        let e = fake()?;
        streams::timeout_on(&e, record_order, 3, 3)?;
        streams::timeout_on(&e, record_order, 1, 1)?;
        streams::timeout_on(&e, record_order, 2, 2)?;
        e.backend.advance(10 * tick_ns());
        assert_eq!(ORDER.count(), 3);
        assert_eq!((ORDER.at(0), ORDER.at(1), ORDER.at(2)), (1, 2, 3));
        assert!(e.check().ok);
        assert_eq!(e.check().live, 0);
        e.shutdown();
        Ok(())
    }

    static NOW: Log = Log::new();
    fn record_now(arg: usize) {
        NOW.push(arg);
    }

    #[test]
    fn never_before_return_even_with_zero_or_negative_ticks() -> Result {
        let e = fake()?;
        let a = streams::timeout_on(&e, record_now, 1, 0)?;
        let b = streams::timeout_on(&e, record_now, 2, -5)?;
        assert!(a != 0 && b != 0 && a != b);
        // Nothing ran inside timeout(): only the next expiry pass runs them.
        assert_eq!(NOW.count(), 0);
        e.backend.advance(0);
        assert_eq!(NOW.count(), 2);
        e.shutdown();
        Ok(())
    }

    static CANCELLED: Log = Log::new();
    fn record_cancelled(arg: usize) {
        CANCELLED.push(arg);
    }

    #[test]
    fn untimeout_cancels_and_returns_what_was_left() -> Result {
        let e = fake()?;
        let id = streams::timeout_on(&e, record_cancelled, 1, 10)?;
        e.backend.advance(4 * tick_ns());
        assert_eq!(streams::untimeout_on(&e, id), Ok(6 * tick_ns()));
        e.backend.advance(100 * tick_ns());
        assert_eq!(CANCELLED.count(), 0);
        assert_eq!(streams::untimeout_on(&e, id), Err(ENOENT));
        e.shutdown();
        Ok(())
    }

    static STALE: Log = Log::new();
    fn record_stale(arg: usize) {
        STALE.push(arg);
    }

    #[test]
    fn a_stale_id_never_touches_a_newer_timer() -> Result {
        let e = fake()?;
        let old = streams::timeout_on(&e, record_stale, 1, 5)?;
        streams::untimeout_on(&e, old)?;
        let new = streams::timeout_on(&e, record_stale, 2, 5)?;
        // Same slot, different id.
        assert_eq!(old & 0x3f_ffff, new & 0x3f_ffff);
        assert!(old != new);
        assert_eq!(streams::untimeout_on(&e, old), Err(ENOENT));
        assert_eq!(streams::untimeout_on(&e, 0), Err(ENOENT));
        assert_eq!(streams::untimeout_on(&e, u64::MAX), Err(ENOENT));
        e.backend.advance(10 * tick_ns());
        assert_eq!(STALE.count(), 1);
        assert_eq!(STALE.at(0), 2);
        e.shutdown();
        Ok(())
    }

    fn noop(_: usize) {}

    #[test]
    fn huge_ticks_saturate() -> Result {
        let e = fake()?;
        let id = streams::timeout_on(&e, noop, 0, i64::MAX)?;
        let left = streams::untimeout_on(&e, id)?;
        assert!(left > 1_000_000_000_000_000_000);
        assert_eq!(streams::hztons(i64::MAX), i64::MAX);
        assert_eq!(streams::hztons(i64::MIN), i64::MIN);
        e.shutdown();
        Ok(())
    }

    /// The callback untimeouts itself: must return ENOENT at once, not deadlock.
    struct SelfCancel {
        engine: Arc<Engine<FakeClock>>,
        id: Atomic<u64>,
        result: Atomic<i64>,
    }

    fn cancel_self(arg: usize) {
        // SAFETY: the test passes the address of a `SelfCancel` that outlives the engine's
        // callbacks (it shuts the engine down before dropping it).
        let s = unsafe { &*(arg as *const SelfCancel) };
        let r = streams::untimeout_on(&s.engine, s.id.load(Relaxed));
        s.result.store(r.map_or(-1, |_| 1), Relaxed);
    }

    #[test]
    fn untimeout_from_its_own_callback_returns_at_once() -> Result {
        let e = fake()?;
        let s = KBox::new(
            SelfCancel {
                engine: e.clone(),
                id: Atomic::new(0),
                result: Atomic::new(0),
            },
            GFP_KERNEL,
        )?;
        let id = streams::timeout_on(&e, cancel_self, core::ptr::from_ref(&*s) as usize, 1)?;
        s.id.store(id, Relaxed);
        e.backend.advance(2 * tick_ns());
        assert_eq!(s.result.load(Relaxed), -1);
        assert_eq!(e.check().live, 0);
        e.shutdown();
        Ok(())
    }

    #[test]
    fn periodic_timers_do_not_drift_and_coalesce_overruns() -> Result {
        let e = fake()?;
        let id = e.alloc(Kind::Interval, Clock::Monotonic, 7, GFP_KERNEL)?;
        let start = e.backend.now(Clock::Monotonic) + 100;
        {
            let mut l = e.lock();
            let slot = l.lookup(id)?;
            l.data(slot).obj().ok_or(EINVAL)?.overrun = Overrun::Coalesce;
            l.arm(slot, start, 10)?;
        }
        // Ten periods pass with nobody reading: one record standing for the latest expiry,
        // with the nine before it as overruns.
        e.backend.advance(100 + 95);
        let t = e.lock().take_record().ok_or(EINVAL)?;
        assert_eq!(t.id, id);
        assert_eq!(t.rec.expiry, start + 90);
        assert_eq!(t.rec.overruns, 9);
        e.lock().finish_record(&t, true);
        // The schedule is still start + k * 10.
        e.backend.advance(10);
        let t = e.lock().take_record().ok_or(EINVAL)?;
        assert_eq!((t.rec.expiry - start) % 10, 0);
        assert_eq!(t.rec.overruns, 0);
        e.lock().finish_record(&t, true);
        assert!(e.check().ok);
        e.shutdown();
        Ok(())
    }

    #[test]
    fn a_record_lost_to_a_fault_folds_into_the_newer_one() -> Result {
        let e = fake()?;
        let id = e.alloc(Kind::Interval, Clock::Monotonic, 0, GFP_KERNEL)?;
        let start = e.backend.now(Clock::Monotonic) + 100;
        {
            let mut l = e.lock();
            let slot = l.lookup(id)?;
            l.data(slot).obj().ok_or(EINVAL)?.overrun = Overrun::Coalesce;
            l.arm(slot, start, 10)?;
        }
        e.backend.advance(100 + 25); // three expiries: one record, two overruns
        let t = e.lock().take_record().ok_or(EINVAL)?;
        assert_eq!(t.rec.overruns, 2);
        // While the record is out (a read copying it), the timer fires again and queues a
        // newer record; then the copy faults. The three expiries become its overruns.
        e.backend.advance(10);
        e.lock().finish_record(&t, false);
        let t = e.lock().take_record().ok_or(EINVAL)?;
        assert_eq!((t.rec.expiry, t.rec.overruns), (start + 30, 3));
        e.lock().finish_record(&t, true);
        assert!(e.lock().take_record().is_none());
        assert!(e.check().ok);
        e.shutdown();
        Ok(())
    }

    #[test]
    fn a_late_periodic_callback_stands_for_the_latest_period() -> Result {
        let e = fake()?;
        let id = e.alloc(Kind::Interval, Clock::Monotonic, 0, GFP_KERNEL)?;
        let start = e.backend.now(Clock::Monotonic) + 100;
        {
            let mut l = e.lock();
            let slot = l.lookup(id)?;
            l.arm(slot, start, 10)?;
        }
        // The machine stalls: the first expiry is handled 95 ns late, when ten periods
        // (start .. start + 90) are due. One record, for the latest, with nine overruns.
        e.backend.stall(100 + 95);
        let t = e.lock().take_record().ok_or(EINVAL)?;
        assert_eq!(t.rec.expiry, start + 90);
        assert_eq!(t.rec.overruns, 9);
        assert!(t.rec.fire >= t.rec.expiry);
        e.lock().finish_record(&t, true);
        // And the grid continues at start + 100.
        e.backend.advance(5);
        let t = e.lock().take_record().ok_or(EINVAL)?;
        assert_eq!((t.rec.expiry, t.rec.overruns), (start + 100, 0));
        e.lock().finish_record(&t, true);
        e.shutdown();
        Ok(())
    }

    #[test]
    fn mach_queue_limit_counts_missed_messages() -> Result {
        let e = Engine::new(FakeClock::new(0), 64, 1)?;
        let id = e.alloc(Kind::Interval, Clock::Monotonic, 0, GFP_KERNEL)?;
        {
            let mut l = e.lock();
            let slot = l.lookup(id)?;
            l.data(slot).obj().ok_or(EINVAL)?.overrun = Overrun::QueueLimit;
            l.arm(slot, 10, 10)?;
        }
        e.backend.advance(50); // five expiries: one message, four missed
        let t = e.lock().take_record().ok_or(EINVAL)?;
        assert_eq!(t.rec.overruns, 0);
        e.lock().finish_record(&t, true);
        e.backend.advance(10); // the next message carries the four missed
        let t = e.lock().take_record().ok_or(EINVAL)?;
        assert_eq!(t.rec.overruns, 4);
        e.lock().finish_record(&t, true);
        e.shutdown();
        Ok(())
    }

    #[test]
    fn absolute_realtime_timers_follow_clock_steps() -> Result {
        let e = fake()?;
        let id = e.alloc(Kind::Interval, Clock::Realtime, 0, GFP_KERNEL)?;
        let at = e.backend.now(Clock::Realtime) + 1_000_000_000;
        {
            let mut l = e.lock();
            let slot = l.lookup(id)?;
            l.arm(slot, at, 0)?;
        }
        e.backend.advance(1000);
        assert!(e.lock().take_record().is_none());
        e.backend.set_realtime(2_000_000_000);
        let t = e.lock().take_record().ok_or(EINVAL)?;
        assert_eq!(t.rec.expiry, at);
        e.lock().finish_record(&t, true);
        e.shutdown();
        Ok(())
    }

    static CALLOUT_RUNS: Log = Log::new();
    fn callout_ran(arg: usize) {
        CALLOUT_RUNS.push(arg);
    }

    #[test]
    fn callout_stop_under_its_lock_after_fire_prevents_the_run() -> Result {
        let e = fake()?;
        let lock = CalloutLock::new(LockKind::Mutex)?;
        let c = callout::init(&*e, Mode::Lk(lock.clone()), GFP_KERNEL)?;
        callout::reset(&*e, c, tick_ns(), 0, Run::Func(callout_ran, 1))?;
        assert_eq!(callout::pending(&*e, c), Ok(1));
        let guard = lock.lock();
        e.backend.advance(2 * tick_ns());
        // Fired: pending is 0 though the callback has not run (it waits for our lock).
        assert_eq!(callout::pending(&*e, c), Ok(0));
        assert_eq!(callout::active(&*e, c), Ok(1));
        assert_eq!(callout::stop(&*e, c), Ok(1));
        drop(guard);
        e.flush_executor();
        assert_eq!(CALLOUT_RUNS.count(), 0);
        // Without a stop it runs once the lock is free.
        callout::reset(&*e, c, tick_ns(), 0, Run::Func(callout_ran, 2))?;
        e.backend.advance(2 * tick_ns());
        e.flush_executor();
        assert_eq!(CALLOUT_RUNS.count(), 1);
        assert_eq!(callout::active(&*e, c), Ok(1));
        assert_eq!(callout::pending(&*e, c), Ok(0));
        assert_eq!(callout::stop(&*e, c), Ok(0));
        callout::destroy(&*e, c)?;
        e.shutdown();
        Ok(())
    }

    static RESET_RUNS: Log = Log::new();
    fn reset_ran(arg: usize) {
        RESET_RUNS.push(arg);
    }

    #[test]
    fn a_reset_under_the_lock_after_fire_runs_the_new_schedule_once() -> Result {
        let e = fake()?;
        let lock = CalloutLock::new(LockKind::Mutex)?;
        let c = callout::init(&*e, Mode::Lk(lock.clone()), GFP_KERNEL)?;
        callout::reset(&*e, c, tick_ns(), 0, Run::Func(reset_ran, 1))?;
        let guard = lock.lock();
        e.backend.advance(2 * tick_ns());
        // Give the executor time to pop the fired callout and block on our lock.
        kernel::time::delay::fsleep(kernel::time::Delta::from_millis(50));
        // Under the lock, the waiting run is replaced by a new schedule, which fires too: the
        // executor must skip the old run and still run the new one once it gets the lock.
        callout::reset(&*e, c, tick_ns(), 0, Run::Func(reset_ran, 2))?;
        e.backend.advance(2 * tick_ns());
        drop(guard);
        e.flush_executor();
        assert_eq!(RESET_RUNS.count(), 1);
        assert_eq!(RESET_RUNS.at(0), 2);
        assert_eq!(callout::pending(&*e, c), Ok(0));
        callout::destroy(&*e, c)?;
        e.shutdown();
        Ok(())
    }

    #[test]
    fn callout_reset_replaces_the_schedule_and_ticks_floor_at_one() -> Result {
        let e = fake()?;
        let c = callout::init(&*e, Mode::Mp, GFP_KERNEL)?;
        callout::reset(&*e, c, 0, 0, Run::Func(noop, 0))?;
        {
            let mut l = e.lock();
            let slot = l.lookup(c)?;
            let now = e.backend.now(Clock::Monotonic);
            // Non-positive delays become one tick (BSD).
            assert_eq!(l.expiry(slot), now + tick_ns());
        }
        callout::reset(&*e, c, 50 * tick_ns(), 0, Run::Func(noop, 0))?;
        e.backend.advance(10 * tick_ns());
        assert_eq!(callout::pending(&*e, c), Ok(1));
        assert_eq!(callout::stop(&*e, c), Ok(1));
        assert_eq!(callout::active(&*e, c), Ok(0));
        callout::destroy(&*e, c)?;
        assert_eq!(callout::stop(&*e, c), Err(ENOENT));
        e.shutdown();
        Ok(())
    }

    #[test]
    fn ids_are_never_reused_and_lookup_rejects_foreign_ids() -> Result {
        let a = fake()?;
        let b = fake()?;
        let x = a.alloc(Kind::Timeout, Clock::Monotonic, 0, GFP_KERNEL)?;
        let y = b.alloc(Kind::Timeout, Clock::Monotonic, 0, GFP_KERNEL)?;
        assert!(x != y);
        // Both engines used slot 0: the sequence part keeps the ids apart.
        assert_eq!(x & 0x3f_ffff, y & 0x3f_ffff);
        assert_eq!(b.lock().lookup(x), Err(ENOENT));
        assert!(a.lock().lookup(x).is_ok());
        a.shutdown();
        b.shutdown();
        Ok(())
    }
}

#[kunit_tests(hrcallout_real)]
mod real_hrtimers {
    use super::*;
    use kernel::time::{delay::fsleep, Delta};

    static FIRED: Atomic<i64> = Atomic::new(0);
    fn fired(_: usize) {
        FIRED.store(Clock::Monotonic.now(), Relaxed);
    }

    fn wait_for(cond: impl Fn() -> bool, ms: i64) -> bool {
        for _ in 0..ms {
            if cond() {
                return true;
            }
            fsleep(Delta::from_millis(1));
        }
        cond()
    }

    #[test]
    fn a_one_tick_timeout_fires_not_early() -> Result {
        let e = Engine::new(HrBackend, 64, 16)?;
        let t0 = Clock::Monotonic.now();
        streams::timeout_on(&e, fired, 0, 1)?;
        assert!(wait_for(|| FIRED.load(Relaxed) != 0, 5000));
        assert!(FIRED.load(Relaxed) - t0 >= tick_ns());
        e.shutdown();
        Ok(())
    }

    static NEVER: Atomic<i64> = Atomic::new(0);
    fn never(_: usize) {
        NEVER.store(1, Relaxed);
    }

    #[test]
    fn untimeout_before_expiry_on_real_hrtimers() -> Result {
        let e = Engine::new(HrBackend, 64, 16)?;
        let id = streams::timeout_on(&e, never, 0, 2500)?;
        let left = streams::untimeout_on(&e, id)?;
        assert!(left > 0 && left <= 2500 * tick_ns());
        fsleep(Delta::from_millis(150));
        assert_eq!(NEVER.load(Relaxed), 0);
        assert!(e.check().ok);
        e.shutdown();
        Ok(())
    }

    #[test]
    fn tick_conversions_use_the_real_hz() {
        assert_eq!(
            tick_ns(),
            1_000_000_000 / i64::from(kernel::bindings::CONFIG_HZ)
        );
        assert_eq!(streams::drv_usectohz(1), 1);
        assert_eq!(streams::drv_usectohz(tick_ns() / 1000), 1);
        assert_eq!(streams::drv_usectohz(tick_ns() / 1000 + 1), 2);
        assert_eq!(streams::drv_hztousec(1), tick_ns() / 1000);
        assert_eq!(streams::drv_usectohz(0), 0);
    }

    static HANDLE_RUNS: Atomic<usize> = Atomic::new(0);
    fn handle_ran(_: usize) {
        HANDLE_RUNS.fetch_add(1, Relaxed);
    }

    #[test]
    fn the_kernel_callout_handle() -> Result {
        let lock = CalloutLock::new(LockKind::Mutex)?;
        let c = callout::Callout::init_lk(lock.clone())?;
        assert!(!c.active() && !c.pending());
        // Far deadlines wherever the state is checked: a loaded guest can stall for a while.
        c.reset(10_000, handle_ran, 0)?;
        assert!(c.active() && c.pending());
        assert_eq!(c.stop(), 1);
        assert!(!c.active() && !c.pending());
        c.reset(1, handle_ran, 0)?;
        assert!(wait_for(|| HANDLE_RUNS.load(Relaxed) == 1, 5000));
        assert!(c.active() && !c.pending());
        c.reset(10_000, handle_ran, 0)?;
        drop(c); // stop_sync + free: the pending run never happens
        fsleep(Delta::from_millis(20));
        assert_eq!(HANDLE_RUNS.load(Relaxed), 1);
        Ok(())
    }

    #[test]
    fn the_kernel_api_works_after_load() {
        let id = streams::timeout(never, 0, 100_000);
        assert!(id.0 != 0);
        let left = streams::untimeout(id);
        assert!(left > 0 && left <= 100_000);
        assert_eq!(streams::untimeout(id), -1);
    }
}
