// SPDX-License-Identifier: GPL-2.0

//! `hrcallout_fake`: the engine and the personalities on the fake clock, deterministically.

use super::*;

#[kunit_tests(hrcallout_fake)]
mod fake_clock {
    use super::*;

    static ORDER: Log = Log::new();
    numbered! {
        fn record_order(arg: usize) {
            ORDER.push(arg);
        }
    }

    #[test]
    fn timeouts_fire_in_expiry_order() -> Result {
        let e = fake()?;
        timeout_on(&e, record_order, 3, 3)?;
        timeout_on(&e, record_order, 1, 1)?;
        timeout_on(&e, record_order, 2, 2)?;
        e.advance(10 * tick_ns());
        assert_eq!(ORDER.count(), 3);
        assert_eq!((ORDER.at(0), ORDER.at(1), ORDER.at(2)), (1, 2, 3));
        assert!(e.check().ok);
        assert_eq!(e.check().live, 0);
        e.shutdown();
        Ok(())
    }

    static NOW: Log = Log::new();
    numbered! {
        fn record_now(arg: usize) {
            NOW.push(arg);
        }
    }

    #[test]
    fn never_before_return_even_with_zero_or_negative_ticks() -> Result {
        let e = fake()?;
        let a = timeout_on(&e, record_now, 1, 0)?;
        let b = timeout_on(&e, record_now, 2, -5)?;
        assert!(a != 0 && b != 0 && a != b);
        // Nothing ran inside timeout(): only the next expiry pass runs them.
        assert_eq!(NOW.count(), 0);
        e.advance(0);
        assert_eq!(NOW.count(), 2);
        e.shutdown();
        Ok(())
    }

    static CANCELLED: Log = Log::new();
    numbered! {
        fn record_cancelled(arg: usize) {
            CANCELLED.push(arg);
        }
    }

    #[test]
    fn untimeout_cancels_and_returns_what_was_left() -> Result {
        let e = fake()?;
        let id = timeout_on(&e, record_cancelled, 1, 10)?;
        e.advance(4 * tick_ns());
        assert_eq!(untimeout_on(&e, id), Ok(6 * tick_ns()));
        e.advance(100 * tick_ns());
        assert_eq!(CANCELLED.count(), 0);
        assert_eq!(untimeout_on(&e, id), Err(ENOENT));
        e.shutdown();
        Ok(())
    }

    static STALE: Log = Log::new();
    numbered! {
        fn record_stale(arg: usize) {
            STALE.push(arg);
        }
    }

    #[test]
    fn a_stale_id_never_touches_a_newer_timer() -> Result {
        let e = fake()?;
        let old = timeout_on(&e, record_stale, 1, 5)?;
        untimeout_on(&e, old)?;
        let new = timeout_on(&e, record_stale, 2, 5)?;
        // Same slot, different id.
        assert_eq!(old & 0x3f_ffff, new & 0x3f_ffff);
        assert!(old != new);
        assert_eq!(untimeout_on(&e, old), Err(ENOENT));
        assert_eq!(untimeout_on(&e, 0), Err(ENOENT));
        assert_eq!(untimeout_on(&e, u64::MAX), Err(ENOENT));
        e.advance(10 * tick_ns());
        assert_eq!(STALE.count(), 1);
        assert_eq!(STALE.at(0), 2);
        e.shutdown();
        Ok(())
    }

    numbered! {
        fn noop(_: usize) {}
    }

    #[test]
    fn huge_ticks_saturate() -> Result {
        let e = fake()?;
        let id = timeout_on(&e, noop, 0, i64::MAX)?;
        let left = untimeout_on(&e, id)?;
        assert!(left > 1_000_000_000_000_000_000);
        assert_eq!(ticks::hztons(i64::MAX), i64::MAX);
        assert_eq!(ticks::hztons(i64::MIN), i64::MIN);
        e.shutdown();
        Ok(())
    }

    /// The callback untimeouts itself: must return ENOENT at once, not deadlock.
    struct SelfCancel {
        engine: Arc<FakeEngine>,
        id: Atomic<u64>,
        result: Atomic<i64>,
    }

    numbered! {
        fn cancel_self(arg: usize) {
            // SAFETY: the test passes the address of a `SelfCancel` that outlives the engine's
            // callbacks (it shuts the engine down before dropping it).
            let s = unsafe { &*(arg as *const SelfCancel) };
            let r = untimeout_on(&s.engine, s.id.load(Relaxed));
            s.result.store(r.map_or(-1, |_| 1), Relaxed);
        }
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
        let id = timeout_on(&e, cancel_self, core::ptr::from_ref(&*s) as usize, 1)?;
        s.id.store(id, Relaxed);
        e.advance(2 * tick_ns());
        assert_eq!(s.result.load(Relaxed), -1);
        assert_eq!(e.check().live, 0);
        e.shutdown();
        Ok(())
    }

    #[test]
    fn periodic_timers_do_not_drift_and_coalesce_overruns() -> Result {
        let e = fake()?;
        let start = e.backend.now(Clock::Monotonic) + 100;
        let id = armed(&e, Delivery::Coalesce, Clock::Monotonic, 7, start, 10)?;
        // Ten periods pass with nobody reading: one record standing for the latest expiry,
        // with the nine before it as overruns.
        e.advance(100 + 95);
        let t = read_one(&e)?;
        assert_eq!(t.id, id);
        assert_eq!(t.ev.expiry_ns, start + 90);
        assert_eq!(t.ev.overruns, 9);
        // The schedule is still start + k * 10.
        e.advance(10);
        let t = read_one(&e)?;
        assert_eq!((t.ev.expiry_ns - start) % 10, 0);
        assert_eq!(t.ev.overruns, 0);
        assert!(e.check().ok);
        e.shutdown();
        Ok(())
    }

    #[test]
    fn a_record_lost_to_a_fault_folds_into_the_newer_one() -> Result {
        let e = fake()?;
        let start = e.backend.now(Clock::Monotonic) + 100;
        armed(&e, Delivery::Coalesce, Clock::Monotonic, 0, start, 10)?;
        e.advance(100 + 25); // three expiries: one record, two overruns
        let t = take_record(&e).ok_or(EINVAL)?;
        assert_eq!(t.ev.overruns, 2);
        // While the record is out (a read copying it), the timer fires again and queues a
        // newer record; then the copy faults. The three expiries become its overruns.
        e.advance(10);
        finish_record(&e, &t, false);
        let t = read_one(&e)?;
        assert_eq!((t.ev.expiry_ns, t.ev.overruns), (start + 30, 3));
        assert!(take_record(&e).is_none());
        assert!(e.check().ok);
        e.shutdown();
        Ok(())
    }

    #[test]
    fn a_late_periodic_callback_stands_for_the_latest_period() -> Result {
        let e = fake()?;
        let start = e.backend.now(Clock::Monotonic) + 100;
        armed(&e, Delivery::Coalesce, Clock::Monotonic, 0, start, 10)?;
        // The machine stalls: the first expiry is handled 95 ns late, when ten periods
        // (start .. start + 90) are due. One record, for the latest, with nine overruns.
        e.stall(100 + 95);
        let t = read_one(&e)?;
        assert_eq!(t.ev.expiry_ns, start + 90);
        assert_eq!(t.ev.overruns, 9);
        assert!(t.ev.fire_ns >= t.ev.expiry_ns);
        // And the grid continues at start + 100.
        e.advance(5);
        let t = read_one(&e)?;
        assert_eq!((t.ev.expiry_ns, t.ev.overruns), (start + 100, 0));
        e.shutdown();
        Ok(())
    }

    #[test]
    fn mach_queue_limit_counts_missed_messages() -> Result {
        let e: Arc<Engine<_, Callouts>> = Engine::new(FakeClock::new(0), 64, 1, Expiry::Irq)?;
        armed(&e, Delivery::QueueLimit, Clock::Monotonic, 0, 10, 10)?;
        e.advance(50); // five expiries: one message, four missed
        let t = read_one(&e)?;
        assert_eq!(t.ev.overruns, 0);
        e.advance(10); // the next message carries the four missed
        let t = read_one(&e)?;
        assert_eq!(t.ev.overruns, 4);
        e.shutdown();
        Ok(())
    }

    /// A Mach timer's period in the message tests: 10 ms.
    const MACH_PERIOD: i64 = 10_000_000;

    /// Arms Mach timer `id` periodic every [`MACH_PERIOD`], first one period from now.
    fn mach_every_period(e: &FakeEngine, id: u64) -> Result {
        let f = uapi::HRC_MACH_PERIODIC;
        itimer::mach::arm(e, id, MACH_PERIOD, MACH_PERIOD, f, None)
    }

    /// Deletes interval timer `id`, then checks that the engine is consistent and holds no
    /// timer or record, and shuts it down.
    fn delete_and_finish(e: &FakeEngine, id: u64) -> Result {
        itimer::delete(e, id)?;
        assert!(e.check().ok);
        assert_eq!(e.check().live, 0);
        e.shutdown();
        Ok(())
    }

    #[test]
    fn mach_messages_queue_up_to_the_port_limit() -> Result {
        // 19.7: a periodic 10 ms timer, qlimit 2, an idle reader: two messages queued (not
        // one: a timer's own record is not the limit), then the next carries the missed
        // count, then 0.
        let e = fake()?;
        itimer::mach::set_qlimit(&*e, 2)?;
        let id = itimer::create(&*e, Clock::Monotonic, uapi::HRC_NOTIFY_MACH, 0)?;
        let t0 = e.backend.now(Clock::Monotonic);
        let p = MACH_PERIOD;
        itimer::mach::arm(&*e, id, p, p, uapi::HRC_MACH_PERIODIC, None)?;
        // Reserved when armed (and when the limit was set), not when it expires.
        assert_eq!(e.lock().reserved_messages(), 1);
        e.advance(5 * p + p / 2);
        assert_eq!(e.lock().queue_len(), 2);
        assert_eq!(itimer::mach::info(&*e, id)?.messages, 2);
        assert!(e.check().ok);
        let a = read_one(&e)?;
        let b = read_one(&e)?;
        assert_eq!((a.id, a.ev.expiry_ns, a.ev.overruns), (id, t0 + p, 0));
        assert_eq!((b.id, b.ev.expiry_ns, b.ev.overruns), (id, t0 + 2 * p, 0));
        e.advance(p);
        let c = read_one(&e)?;
        assert_eq!((c.ev.expiry_ns, c.ev.overruns), (t0 + 6 * p, 3));
        e.advance(p);
        let d = read_one(&e)?;
        assert_eq!((d.ev.expiry_ns, d.ev.overruns), (t0 + 7 * p, 0));
        assert_eq!(itimer::mach::info(&*e, id)?.overruns, 3);
        delete_and_finish(&e, id)
    }

    #[test]
    fn qnx_pulses_queue_one_record_per_expiry() -> Result {
        // 19.11: HRC_NOTIFY_PULSE queues each expiry as its own record (fake(): qlimit 16).
        let e = fake()?;
        let id = itimer::create(&*e, Clock::Monotonic, uapi::HRC_NOTIFY_PULSE, 7)?;
        let p = MACH_PERIOD as u64;
        let t0 = e.backend.now(Clock::Monotonic);
        itimer::qnx::settime(
            &*e,
            id,
            0,
            itimer::Itimer {
                value: p,
                interval: p,
            },
        )?;
        assert_eq!(e.lock().reserved_messages(), 15);
        e.advance(3 * MACH_PERIOD + MACH_PERIOD / 2);
        assert_eq!(e.lock().queue_len(), 3);
        assert!(e.check().ok);
        let i = itimer::qnx::info(&*e, id, 0)?;
        assert_eq!((i.notify, i.overruns), (uapi::HRC_NOTIFY_PULSE, 0));
        for k in 1..=2 {
            let t = read_one(&e)?;
            assert_eq!((t.id, t.ev.cookie), (id, 7));
            assert_eq!((t.ev.expiry_ns, t.ev.overruns), (t0 + k * MACH_PERIOD, 0));
        }
        // Re-setting drops the unread pulse of the replaced setting, as an unread SI_TIMER
        // record is dropped (19.4).
        e.advance(2 * MACH_PERIOD);
        assert_eq!(e.lock().queue_len(), 3);
        itimer::qnx::settime(
            &*e,
            id,
            0,
            itimer::Itimer {
                value: p,
                interval: 0,
            },
        )?;
        assert_eq!(e.lock().queue_len(), 0);
        assert!(e.check().ok);
        e.advance(MACH_PERIOD);
        assert_eq!(read_one(&e)?.ev.overruns, 0);
        delete_and_finish(&e, id)
    }

    #[test]
    fn a_message_read_or_put_back_after_its_timer_died_is_dropped() -> Result {
        let e = fake()?;
        let id = itimer::create(&*e, Clock::Monotonic, uapi::HRC_NOTIFY_MACH, 0)?;
        mach_every_period(&e, id)?;
        e.advance(3 * MACH_PERIOD);
        assert_eq!(e.lock().queue_len(), 3);
        // A reader takes the timer's own record and one message; the timer is deleted (its
        // queued message goes); one copy faults and goes back, the other reaches the reader.
        let own = take_record(&e).ok_or(EINVAL)?;
        let message = take_record(&e).ok_or(EINVAL)?;
        itimer::delete(&*e, id)?;
        assert_eq!(e.lock().queue_len(), 0);
        // Consistent while the reader still holds a message of the deleted timer (the stress
        // run found check() calling that state broken).
        assert!(e.check().ok);
        finish_record(&e, &message, false);
        finish_record(&e, &own, true);
        assert_eq!(e.lock().queue_len(), 0);
        assert!(e.check().ok);
        assert_eq!(e.check().live, 0);
        // A message put back while its timer lives goes back to the head, in order.
        let id = itimer::create(&*e, Clock::Monotonic, uapi::HRC_NOTIFY_MACH, 0)?;
        let t0 = e.backend.now(Clock::Monotonic);
        mach_every_period(&e, id)?;
        e.advance(2 * MACH_PERIOD);
        let first = read_one(&e)?;
        let second = take_record(&e).ok_or(EINVAL)?;
        finish_record(&e, &second, false);
        assert!(e.check().ok);
        let again = read_one(&e)?;
        assert_eq!(first.ev.expiry_ns, t0 + MACH_PERIOD);
        assert_eq!(again.ev.expiry_ns, t0 + 2 * MACH_PERIOD);
        delete_and_finish(&e, id)
    }

    #[test]
    fn mach_timer_info_reports_the_absolute_expiry() -> Result {
        // 19.9: Mach's expire_time is the absolute expiry on the timer's clock.
        let e = fake()?;
        let id = itimer::create(&*e, Clock::Realtime, uapi::HRC_NOTIFY_MACH, 0)?;
        let i = itimer::mach::info(&*e, id)?;
        assert_eq!((i.armed, i.expire, i.left, i.flags), (false, 0, 0, 0));
        let real = e.backend.now(Clock::Realtime);
        itimer::mach::arm(&*e, id, MACH_PERIOD, 0, 0, None)?;
        let i = itimer::mach::info(&*e, id)?;
        assert!(i.armed && i.flags == 0);
        assert_eq!((i.expire, i.left), (real + MACH_PERIOD, MACH_PERIOD));
        itimer::mach::cancel(&*e, id, 0)?;
        let at = real + 5 * MACH_PERIOD;
        let flags = uapi::HRC_MACH_ABSOLUTE | uapi::HRC_MACH_PERIODIC;
        itimer::mach::arm(&*e, id, at, MACH_PERIOD, flags, None)?;
        e.advance(MACH_PERIOD);
        let i = itimer::mach::info(&*e, id)?;
        assert_eq!((i.flags, i.expire, i.interval), (flags, at, MACH_PERIOD));
        assert_eq!(i.left, 4 * MACH_PERIOD);
        assert_eq!(i.clock, Clock::Realtime);
        // After the first expiry, the next one.
        e.advance(4 * MACH_PERIOD);
        assert_eq!(itimer::mach::info(&*e, id)?.expire, at + MACH_PERIOD);
        itimer::delete(&*e, id)?;
        assert_eq!(itimer::mach::info(&*e, id).err(), Some(ENOENT));
        e.shutdown();
        Ok(())
    }

    #[test]
    fn absolute_realtime_timers_follow_clock_steps() -> Result {
        let e = fake()?;
        let at = e.backend.now(Clock::Realtime) + 1_000_000_000;
        armed(&e, Delivery::Coalesce, Clock::Realtime, 0, at, 0)?;
        e.advance(1000);
        assert!(take_record(&e).is_none());
        e.set_realtime(2_000_000_000);
        let t = read_one(&e)?;
        assert_eq!(t.ev.expiry_ns, at);
        e.shutdown();
        Ok(())
    }

    #[test]
    fn qnx_overruns_saturate_at_delaytimer_max() -> Result {
        let e = fake()?;
        let id = itimer::create(&*e, Clock::Monotonic, uapi::HRC_NOTIFY_SI_TIMER, 0)?;
        let t0 = e.backend.now(Clock::Monotonic);
        let value = (t0 + 10) as u64;
        let flags = uapi::HRC_TIMER_ABSTIME;
        itimer::qnx::settime(&*e, id, flags, itimer::Itimer { value, interval: 1 })?;
        // Three billion 1 ns periods come due in one late pass: a record and TimerInfo both
        // report DELAYTIMER_MAX (INT_MAX), as a POSIX/QNX timer's overrun count does.
        e.stall(3_000_000_010);
        let t = read_one(&e)?;
        assert_eq!(t.ev.overruns, i32::MAX as u64);
        assert_eq!(itimer::qnx::info(&*e, id, 0)?.overruns, i32::MAX as u64);
        itimer::delete(&*e, id)?;
        e.shutdown();
        Ok(())
    }

    /// A callout under a new mutex, reset to `run` in one tick: the lock and the callout.
    fn mutex_callout(e: &FakeEngine, run: Run) -> Result<(Arc<CalloutLock>, u64)> {
        let lock = CalloutLock::new(LockKind::Mutex)?;
        let c = callout::init(e, Mode::Lk(lock.clone()), GFP_KERNEL)?;
        callout::reset(e, c, tick_ns(), 0, run)?;
        Ok((lock, c))
    }

    static CALLOUT_RUNS: Log = Log::new();
    numbered! {
        fn callout_ran(arg: usize) {
            CALLOUT_RUNS.push(arg);
        }
    }

    #[test]
    fn callout_stop_under_its_lock_after_fire_prevents_the_run() -> Result {
        let e = fake()?;
        let (lock, c) = mutex_callout(&e, func(callout_ran, 1))?;
        assert_eq!(callout::pending(&*e, c), Ok(1));
        let guard = lock.lock();
        e.advance(2 * tick_ns());
        // Fired: pending is 0 though the callback has not run (it waits for our lock).
        assert_eq!(callout::pending(&*e, c), Ok(0));
        assert_eq!(callout::active(&*e, c), Ok(1));
        assert_eq!(callout::stop(&*e, c), Ok(1));
        drop(guard);
        e.flush_executor();
        assert_eq!(CALLOUT_RUNS.count(), 0);
        // Without a stop it runs once the lock is free.
        callout::reset(&*e, c, tick_ns(), 0, func(callout_ran, 2))?;
        e.advance(2 * tick_ns());
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
    numbered! {
        fn reset_ran(arg: usize) {
            RESET_RUNS.push(arg);
        }
    }

    #[test]
    fn a_reset_under_the_lock_after_fire_runs_the_new_schedule_once() -> Result {
        let e = fake()?;
        let (lock, c) = mutex_callout(&e, func(reset_ran, 1))?;
        let guard = lock.lock();
        e.advance(2 * tick_ns());
        // Give the executor time to pop the fired callout and block on our lock.
        kernel::time::delay::fsleep(kernel::time::Delta::from_millis(50));
        // Under the lock, the waiting run is replaced by a new schedule, which fires too: the
        // executor must skip the old run and still run the new one once it gets the lock.
        callout::reset(&*e, c, tick_ns(), 0, func(reset_ran, 2))?;
        e.advance(2 * tick_ns());
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
        callout::reset(&*e, c, 0, 0, func(noop, 0))?;
        {
            let l = e.lock();
            let slot = l.lookup(c)?;
            let now = e.backend.now(Clock::Monotonic);
            // Non-positive delays become one tick (BSD).
            assert_eq!(l.expiry(slot), now + tick_ns());
        }
        callout::reset(&*e, c, 50 * tick_ns(), 0, func(noop, 0))?;
        e.advance(10 * tick_ns());
        assert_eq!(callout::pending(&*e, c), Ok(1));
        assert_eq!(callout::stop(&*e, c), Ok(1));
        assert_eq!(callout::active(&*e, c), Ok(0));
        callout::destroy(&*e, c)?;
        assert_eq!(callout::stop(&*e, c), Err(ENOENT));
        e.shutdown();
        Ok(())
    }

    /// Takes every queued record, calls `f` on it, then marks it read; returns how many.
    fn drain(e: &FakeEngine, mut f: impl FnMut(&TakenRecord) -> Result) -> Result<usize> {
        let mut n = 0;
        loop {
            // Not `while let`: its lock guard would live through the body.
            let Some(t) = take_record(e) else {
                return Ok(n);
            };
            f(&t)?;
            finish_record(e, &t, true);
            n += 1;
        }
    }

    /// A QNX `SI_TIMER` timer on `clock` with `cookie`, armed for absolute `at`, then every
    /// `interval` ns (0: once).
    fn abs_timer(e: &FakeEngine, clock: Clock, cookie: u64, at: i64, interval: u64) -> Result<u64> {
        let id = itimer::create(e, clock, crate::uapi::HRC_NOTIFY_SI_TIMER, cookie)?;
        let value = at as u64;
        let flags = crate::uapi::HRC_TIMER_ABSTIME;
        itimer::qnx::settime(e, id, flags, itimer::Itimer { value, interval })?;
        Ok(id)
    }

    #[test]
    fn timers_armed_in_any_order_fire_in_expiry_order_and_cancelled_ones_never() -> Result {
        const N: u64 = 600;
        let e = fake()?;
        // Distinct offsets 10, 20, .. 6000 ns, armed in a scrambled order (7919 is prime);
        // the cookie is the offset. Every third one armed is cancelled.
        let mut ids = KVec::new();
        for i in 0..N {
            let at = 10 * (1 + (i * 7919) % N) as i64;
            let id = streams::timeout_event(&*e, at, at as u64)?;
            ids.push((id, at, i % 3 == 0), GFP_KERNEL)?;
        }
        for (id, at, cancel) in ids.iter() {
            if *cancel {
                let left = streams::untimeout_event(&*e, *id)?;
                assert!(left > 0 && left <= *at);
            }
        }
        assert!(e.check().ok);
        // In steps, so that some come due while others are pending; records in expiry order.
        let mut seen = KVec::new();
        for _ in 0..20 {
            e.advance(300);
            assert!(e.check().ok);
            drain(&e, |t| {
                assert!(t.ev.fire_ns >= t.ev.expiry_ns);
                assert_eq!(t.ev.expiry_ns - 1_000_000_000, t.ev.cookie as i64);
                Ok(seen.push(t.ev.cookie, GFP_KERNEL)?)
            })?;
        }
        assert_eq!(seen.len() as u64, N - N / 3);
        assert!(seen.windows(2).all(|w| w[0] < w[1]));
        for (_, at, cancel) in ids.iter() {
            assert_eq!(seen.contains(&(*at as u64)), !*cancel);
        }
        assert_eq!(e.check().live, 0);
        e.shutdown();
        Ok(())
    }

    #[test]
    fn equal_expiries_group_and_leave_in_arming_order() -> Result {
        let e = fake()?;
        let t0 = e.backend.now(Clock::Monotonic);
        // Three runs of 20: at +100 (one group), at +200 (the next, now the rightmost), and at
        // +100 again (no longer the latest: through the tree, beside the first group).
        let mut ids = KVec::new();
        for (k, delay) in [(0u64, 100), (1, 200), (2, 100)] {
            for i in 0..20u64 {
                ids.push(streams::timeout_event(&*e, delay, k * 20 + i)?, GFP_KERNEL)?;
            }
        }
        assert!(e.check().ok);
        // Heads (0, then 1 once it took 0's place; 20, 21; 40), middle members and the last.
        let cancel = [0usize, 1, 10, 19, 20, 21, 30, 39, 40, 50, 59];
        for &c in &cancel {
            assert!(streams::untimeout_event(&*e, ids[c])? > 0);
            assert!(e.check().ok);
        }
        let mut seen = KVec::new();
        for (step, expiry) in [(150, t0 + 100), (100, t0 + 200)] {
            e.advance(step);
            assert!(e.check().ok);
            drain(&e, |t| {
                assert_eq!(t.ev.expiry_ns, expiry);
                assert!(t.ev.fire_ns >= expiry);
                Ok(seen.push(t.ev.cookie as usize, GFP_KERNEL)?)
            })?;
        }
        // Arming order among equal expiries: the +100 group (0..20), the +100 timers that went
        // through the tree (40..60), then the +200 group (20..40); cancelled ones left out.
        let mut want = KVec::new();
        for c in [0..20, 40..60, 20..40].into_iter().flatten() {
            if !cancel.contains(&c) {
                want.push(c, GFP_KERNEL)?;
            }
        }
        assert_eq!(&seen[..], &want[..]);
        // The rightmost group emptied: the queue's rightmost moves back to the first group.
        let a = streams::timeout_event(&*e, 1000, 0)?;
        let b = streams::timeout_event(&*e, 1000, 1)?;
        streams::timeout_event(&*e, 500, 2)?;
        streams::untimeout_event(&*e, a)?;
        assert!(e.check().ok);
        streams::untimeout_event(&*e, b)?;
        assert!(e.check().ok);
        e.advance(1000);
        assert!(e.check().ok);
        e.shutdown();
        Ok(())
    }

    #[test]
    fn cancelling_the_earliest_leaves_the_hrtimer_to_fire_early_once() -> Result {
        let e = fake()?;
        let a = streams::timeout_event(&*e, 10, 1)?;
        streams::timeout_event(&*e, 100, 2)?;
        streams::untimeout_event(&*e, a)?;
        assert!(e.check().ok);
        // The hrtimer was started for `a`: its pass at +10 finds nothing due and starts it
        // for the next one.
        e.advance(50);
        assert!(take_record(&e).is_none());
        assert!(e.check().ok);
        e.advance(50);
        let t = read_one(&e)?;
        assert_eq!(t.ev.cookie, 2);
        assert!(t.ev.fire_ns >= t.ev.expiry_ns);
        assert_eq!(e.check().live, 0);
        e.shutdown();
        Ok(())
    }

    #[test]
    fn rearming_moves_a_timer_earlier_or_later() -> Result {
        let e = fake()?;
        let t0 = e.backend.now(Clock::Monotonic);
        for k in 0..8 {
            streams::timeout_event(&*e, 1000 + k * 100, 0)?;
        }
        // Later than everything, then earlier than everything, then in the middle.
        let id = abs_timer(&e, Clock::Monotonic, 9, t0 + 5000, 0)?;
        let set = |at: i64| {
            let v = itimer::Itimer {
                value: at as u64,
                interval: 0,
            };
            itimer::qnx::settime(&*e, id, crate::uapi::HRC_TIMER_ABSTIME, v)
        };
        set(t0 + 50)?;
        assert!(e.check().ok);
        set(t0 + 1250)?;
        assert!(e.check().ok);
        e.advance(1240);
        // Three timeouts (1000, 1100, 1200), not the interval timer.
        let mut ids = KVec::new();
        assert_eq!(drain(&e, |t| Ok(ids.push(t.id, GFP_KERNEL)?))?, 3);
        assert!(!ids.contains(&id));
        e.advance(20);
        let t = read_one(&e)?;
        assert_eq!((t.id, t.ev.expiry_ns), (id, t0 + 1250));
        itimer::delete(&*e, id)?;
        e.advance(10_000);
        assert!(e.check().ok);
        e.shutdown();
        Ok(())
    }

    #[test]
    fn a_burst_longer_than_one_lock_hold_is_delivered_whole() -> Result {
        let e = fake()?;
        let at = e.backend.now(Clock::Monotonic) + 1000;
        // Four lock holds' worth, due at one instant, on both clocks.
        let mut ids = KVec::new();
        for i in 0..256u64 {
            let clock = if i % 2 == 0 {
                Clock::Monotonic
            } else {
                Clock::Realtime
            };
            ids.push(abs_timer(&e, clock, i, at, 0)?, GFP_KERNEL)?;
        }
        e.advance(999);
        assert!(take_record(&e).is_none());
        e.advance(1);
        let n = drain(&e, |t| {
            assert_eq!(t.ev.expiry_ns, at);
            Ok(())
        })?;
        assert_eq!(n, 256);
        for id in ids {
            itimer::delete(&*e, id)?;
        }
        assert!(e.check().ok);
        e.shutdown();
        Ok(())
    }

    /// Regression: a pass that read the clock again during a burst never ended when its
    /// periodic timers came due faster than it handled them (a hard-irq hang the fuzzer hit).
    #[test]
    fn a_pass_handles_only_what_was_due_when_it_began() -> Result {
        let e = fake()?;
        let t0 = e.backend.now(Clock::Monotonic);
        // More timers than one lock hold handles, period 1 ns, all due at t0 + 10.
        let mut ids = KVec::new();
        for i in 0..200u64 {
            ids.push(abs_timer(&e, Clock::Monotonic, i, t0 + 10, 1)?, GFP_KERNEL)?;
        }
        // The pass takes time: each of the next readings is 1 us later than the one before.
        e.backend.drift(1000, 8);
        e.stall(10);
        // One pass, one reading (t0 + 1010): every timer handled once, for the period due
        // then, the 1000 before it as overruns.
        let first = t0 + 10 + 1000;
        let n = drain(&e, |t| {
            assert_eq!((t.ev.expiry_ns, t.ev.overruns), (first, 1000));
            Ok(())
        })?;
        assert_eq!(n, 200);
        e.backend.drift(0, 0);
        for id in ids {
            itimer::delete(&*e, id)?;
        }
        assert!(e.check().ok);
        e.shutdown();
        Ok(())
    }

    #[test]
    fn the_clocks_queues_are_apart() -> Result {
        let e = fake()?;
        let now = e.backend.now(Clock::Realtime);
        let rt = abs_timer(&e, Clock::Realtime, 1, now + 500, 0)?;
        streams::timeout_event(&*e, 1000, 2)?;
        // Stepping realtime past its timer fires it and nothing monotonic.
        e.set_realtime(600);
        let t = read_one(&e)?;
        assert_eq!(t.id, rt);
        assert!(take_record(&e).is_none());
        e.advance(1000);
        let t = read_one(&e)?;
        assert_eq!(t.ev.cookie, 2);
        itimer::delete(&*e, rt)?;
        assert!(e.check().ok);
        e.shutdown();
        Ok(())
    }

    #[test]
    fn kernel_timeouts_need_a_soft_irq_engine() -> Result {
        let e: Arc<Engine<_, Callouts>> = Engine::new(FakeClock::new(0), 64, 16, Expiry::Irq)?;
        assert_eq!(timeout_on(&e, noop, 0, 1), Err(EINVAL));
        e.shutdown();
        Ok(())
    }

    #[test]
    fn ids_are_never_reused_and_lookup_rejects_foreign_ids() -> Result {
        let a = fake()?;
        let b = fake()?;
        let x = object(&a, Delivery::Coalesce, Clock::Monotonic, 0)?;
        let y = object(&b, Delivery::Coalesce, Clock::Monotonic, 0)?;
        assert!(x != y);
        // Both engines used slot 0: the sequence part keeps the ids apart.
        assert_eq!(x & 0x3f_ffff, y & 0x3f_ffff);
        assert_eq!(b.lock().lookup(x), Err(ENOENT));
        assert!(a.lock().lookup(x).is_ok());
        a.shutdown();
        b.shutdown();
        Ok(())
    }

    #[test]
    fn a_hard_irq_pass_hands_what_is_left_to_a_lane_in_order() -> Result {
        let n = 3 * u64::from(HARD_PASS_EXPIRIES) + 5;
        let e: Arc<Engine<_, Callouts>> = Engine::new(FakeClock::new(0), 4096, 16, Expiry::Irq)?;
        let mut ids = KVec::new();
        for i in 0..n {
            // Every other one periodic at 1 ns: re-armed by the pass that handles it.
            let interval = (i % 2) as i64;
            ids.push(
                armed(&e, Delivery::Coalesce, Clock::Monotonic, i, 100, interval)?,
                GFP_KERNEL,
            )?;
        }
        e.advance(100);
        // The hrtimer's pass stopped at its budget; a lane has the rest.
        e.flush_executor();
        let p = e.census().longest_pass;
        assert_eq!(p.expiries, HARD_PASS_EXPIRIES);
        // Every timer delivered once, in the order armed (equal expiries), nothing lost.
        for (i, &id) in ids.iter().enumerate() {
            let t = read_one(&e)?;
            assert_eq!((t.id, t.ev.cookie), (id, i as u64));
            assert_eq!((t.ev.expiry_ns, t.ev.fire_ns, t.ev.overruns), (100, 100, 0));
        }
        assert!(take_record(&e).is_none());
        assert!(e.check().ok);
        // The periodic half is armed for 101 again, with the hrtimer started for it.
        assert_eq!(e.census().next(Clock::Monotonic), Some(101));
        e.advance(1);
        e.flush_executor();
        let mut got = 0;
        while let Some(t) = take_record(&e) {
            finish_record(&e, &t, true);
            assert_eq!((t.ev.cookie % 2, t.ev.expiry_ns), (1, 101));
            got += 1;
        }
        assert_eq!(got, n / 2);
        assert!(e.check().ok);
        e.shutdown();
        Ok(())
    }
}
