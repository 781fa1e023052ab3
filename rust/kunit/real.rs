// SPDX-License-Identifier: GPL-2.0

//! `hrcallout_real`: the same paths on real hrtimers, with bounds that hold under TCG.

use super::*;

#[kunit_tests(hrcallout_real)]
mod real_hrtimers {
    use super::*;
    use kernel::time::{delay::fsleep, Delta};

    static FIRED: Atomic<i64> = Atomic::new(0);
    numbered! {
        fn fired(_: usize) {
            FIRED.store(Clock::Monotonic.now(), Relaxed);
        }
    }

    #[test]
    fn a_one_tick_timeout_fires_not_early() -> Result {
        let e: Arc<Engine<_, Callouts>> = Engine::new(HrBackend, 64, 16, Expiry::Soft)?;
        let t0 = Clock::Monotonic.now();
        timeout_on(&e, fired, 0, 1)?;
        assert!(wait_for(|| FIRED.load(Relaxed) != 0, 5000));
        assert!(FIRED.load(Relaxed) - t0 >= tick_ns());
        e.shutdown();
        Ok(())
    }

    static NEVER: Atomic<i64> = Atomic::new(0);
    numbered! {
        fn never(_: usize) {
            NEVER.store(1, Relaxed);
        }
    }

    #[test]
    fn untimeout_before_expiry_on_real_hrtimers() -> Result {
        let e: Arc<Engine<_, Callouts>> = Engine::new(HrBackend, 64, 16, Expiry::Soft)?;
        let id = timeout_on(&e, never, 0, 2500)?;
        let left = untimeout_on(&e, id)?;
        assert!(left > 0 && left <= 2500 * tick_ns());
        fsleep(Delta::from_millis(150));
        assert_eq!(NEVER.load(Relaxed), 0);
        assert!(e.check().ok);
        e.shutdown();
        Ok(())
    }

    const REAL_N: usize = 200;
    static SPREAD_LATE: [Atomic<i64>; REAL_N] = [const { Atomic::new(i64::MIN) }; REAL_N];
    static SPREAD_DUE: [Atomic<i64>; REAL_N] = [const { Atomic::new(0) }; REAL_N];
    numbered! {
        fn spread_fired(i: usize) {
            SPREAD_LATE[i].store(
                Clock::Monotonic.now() - SPREAD_DUE[i].load(Relaxed),
                Relaxed,
            );
        }
    }

    #[test]
    fn many_timeouts_on_one_hrtimer_all_fire_none_early() -> Result {
        let e: Arc<Engine<_, Callouts>> = Engine::new(HrBackend, 1024, 16, Expiry::Soft)?;
        let mut cancelled = [false; REAL_N];
        // Armed from the latest to the earliest, so each one moves the hrtimer earlier; every
        // fourth is cancelled right after, so the hrtimer is often left started for a
        // cancelled timer. (A stalled guest may let one fire before its cancel: then it
        // counts as not cancelled, and must have fired.)
        let t0 = Clock::Monotonic.now() + 20_000_000;
        for i in (0..REAL_N).rev() {
            let due = t0 + (i as i64) * 100_000;
            SPREAD_DUE[i].store(due, Relaxed);
            let id = e.call_once(
                &e.arming(),
                0,
                num(spread_fired, i),
                When::At(due),
                GFP_KERNEL,
            )?;
            if i % 4 == 0 {
                cancelled[i] = cancel_call(&e, id);
            }
        }
        assert!(e.check().ok);
        assert!(wait_for(
            || (0..REAL_N).all(|i| cancelled[i] || SPREAD_LATE[i].load(Relaxed) != i64::MIN),
            10_000
        ));
        fsleep(Delta::from_millis(30));
        for (i, late) in SPREAD_LATE.iter().enumerate() {
            if cancelled[i] {
                assert_eq!(late.load(Relaxed), i64::MIN);
            } else {
                assert!(late.load(Relaxed) >= 0);
            }
        }
        assert!(cancelled.iter().any(|c| *c));
        assert!(e.check().ok);
        assert_eq!(e.check().live, 0);
        e.shutdown();
        Ok(())
    }

    #[test]
    fn tick_conversions_use_the_real_hz() {
        assert_eq!(
            tick_ns(),
            1_000_000_000 / i64::from(kernel::bindings::CONFIG_HZ)
        );
        assert_eq!(ticks::drv_usectohz(1), 1);
        assert_eq!(ticks::drv_usectohz(tick_ns() / 1000), 1);
        assert_eq!(ticks::drv_usectohz(tick_ns() / 1000 + 1), 2);
        assert_eq!(ticks::drv_hztousec(1), tick_ns() / 1000);
        assert_eq!(ticks::drv_usectohz(0), 0);
    }

    /// A typed callout's target: counts its runs.
    struct Counter {
        runs: Atomic<usize>,
    }

    impl kernel_api::CalloutCallback for Counter {
        fn run(this: ArcBorrow<'_, Self>) {
            this.runs.fetch_add(1, Relaxed);
        }
    }

    #[test]
    fn the_kernel_callout_handle() -> Result {
        let lock = CalloutLock::new(LockKind::Mutex)?;
        let target = Arc::new(
            Counter {
                runs: Atomic::new(0),
            },
            GFP_KERNEL,
        )?;
        let c = kernel_api::Callout::init_lk(target.clone(), lock.clone())?;
        let runs = || target.runs.load(Relaxed);
        assert!(!c.active() && !c.pending());
        // Far deadlines wherever the state is checked: a loaded guest can stall for a while.
        c.reset(10_000)?;
        assert!(c.active() && c.pending());
        assert_eq!(c.stop(), 1);
        assert!(!c.active() && !c.pending());
        c.reset(1)?;
        assert!(wait_for(|| runs() == 1, 5000));
        assert!(c.active() && !c.pending());
        c.reset(10_000)?;
        drop(c); // stop_sync + free: the pending run never happens
        fsleep(Delta::from_millis(20));
        assert_eq!(runs(), 1);
        // The freed callout dropped its reference to the target.
        assert!(unique(target).is_ok());
        Ok(())
    }

    static FLAG_RAN: Atomic<u32> = Atomic::new(0);
    static FLAG_DROPPED: Atomic<u32> = Atomic::new(0);

    /// A typed timeout's target: records that it ran, and that it was dropped.
    struct Flag;

    impl kernel_api::TimeoutCallback for Flag {
        fn run(_: ArcBorrow<'_, Self>) {
            FLAG_RAN.fetch_add(1, Relaxed);
        }
    }

    impl Drop for Flag {
        fn drop(&mut self) {
            FLAG_DROPPED.fetch_add(1, Relaxed);
        }
    }

    #[test]
    fn the_kernel_api_works_after_load() -> Result {
        let flag = Arc::new(Flag, GFP_KERNEL)?;
        let id = kernel_api::timeout(flag.clone(), 100_000).ok_or(ENOMEM)?;
        let left = kernel_api::untimeout(id);
        assert!(left > 0 && left <= 100_000);
        assert_eq!(kernel_api::untimeout(id), -1);
        // Cancelled: its reference came back and was dropped.
        let flag = unique(flag).map_err(|()| EINVAL)?;
        // Fired: the timeout's reference, the last, is dropped after the callback ran.
        kernel_api::timeout(flag, 1).ok_or(ENOMEM)?;
        assert!(wait_for(|| FLAG_DROPPED.load(Relaxed) == 1, 5000));
        assert_eq!(FLAG_RAN.load(Relaxed), 1);
        Ok(())
    }
}
