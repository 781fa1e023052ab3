// SPDX-License-Identifier: GPL-2.0

//! `hrcallout_virtual_clock`: the in-kernel [`VirtualClock`] through the public Rust API, as a
//! ported driver's tests would use it: the test task's `timeout()` and `Callout`s go to the
//! clock, run at exactly their instants inside its advances, and leave the CPUs' engines alone.

use super::*;
use crate::kernel_api::{timeout, untimeout, Callout, KernelEngine, VirtualClock};

/// A tick, in ns.
fn tick() -> i64 {
    tick_ns()
}

#[kunit_tests(hrcallout_virtual_clock)]
mod virtual_clocks {
    use super::*;

    static RUNS: [Atomic<u32>; 4] = [const { Atomic::new(0) }; 4];
    /// The clock's now when callback `i` last ran.
    static RAN_AT: [Atomic<i64>; 4] = [const { Atomic::new(0) }; 4];
    /// The clock the callbacks read (set by each case).
    static CLOCK_NOW: Atomic<usize> = Atomic::new(0);

    fn note(i: usize) {
        RUNS[i].fetch_add(1, Relaxed);
        let p = CLOCK_NOW.load(Relaxed) as *const VirtualClock;
        // SAFETY: each case stores its clock's address before arming and clears it before the
        // clock is dropped; callbacks run only inside that clock's advances.
        if let Some(v) = unsafe { p.as_ref() } {
            RAN_AT[i].store(v.now(), Relaxed);
        }
    }

    fn reset() {
        RUNS.iter().for_each(|a| a.store(0, Relaxed));
        RAN_AT.iter().for_each(|a| a.store(0, Relaxed));
    }

    #[test]
    fn timeouts_run_at_exactly_their_instant_inside_the_advance() -> Result {
        reset();
        let v = VirtualClock::new(1_000_000_000, 5_000_000_000)?;
        CLOCK_NOW.store(core::ptr::from_ref(&v) as usize, Relaxed);
        assert_eq!(v.now(), 1_000_000_000);
        assert_eq!(v.now_real(), 5_000_000_000);
        // A second clock is refused while this one exists.
        assert!(VirtualClock::new(0, 0).err() == Some(EBUSY));
        let id = timeout(Numbered::new(note, 0)?, 10).ok_or(ENOMEM)?;
        assert!(KernelEngine::is_virtual_id(id.raw()));
        assert_eq!(v.advance(10 * tick() - 1)?, 0);
        assert_eq!(RUNS[0].load(Relaxed), 0);
        assert_eq!(v.advance(1)?, 1);
        assert_eq!(RUNS[0].load(Relaxed), 1);
        assert_eq!(RAN_AT[0].load(Relaxed), 1_000_000_000 + 10 * tick());
        // Fired: untimeout finds the clock's engine by the id, and says so.
        assert_eq!(untimeout(id), -1);
        // The remainder of a pending one is exact: no time passes between calls.
        let id = timeout(Numbered::new(note, 1)?, 7).ok_or(ENOMEM)?;
        v.advance(2 * tick())?;
        assert_eq!(untimeout(id), 5);
        v.advance(10 * tick())?;
        assert_eq!(RUNS[1].load(Relaxed), 0);
        // Due at once: runs in the next advance, at exactly now (not held back as a pass on
        // top of its arming task would be on real time).
        let at = v.now();
        timeout(Numbered::new(note, 2)?, 0).ok_or(ENOMEM)?;
        assert_eq!(RUNS[2].load(Relaxed), 0);
        v.advance(0)?;
        assert_eq!(RUNS[2].load(Relaxed), 1);
        assert_eq!(RAN_AT[2].load(Relaxed), at);
        assert!(v.advance(-1).err() == Some(EINVAL));
        assert!(v.advance_to(0).err() == Some(EINVAL));
        CLOCK_NOW.store(0, Relaxed);
        drop(v);
        // Without a clock, the same call arms on this CPU's engine again.
        let id = timeout(Numbered::new(note, 0)?, 100_000).ok_or(ENOMEM)?;
        assert!(!KernelEngine::is_virtual_id(id.raw()));
        assert!(untimeout(id) > 0);
        Ok(())
    }

    /// A callout's target that resets the callout from its own callback, `left` more times.
    struct Rearm {
        /// The address of the `Callout<Rearm>` (0: none), alive while it is set.
        callout: Atomic<usize>,
        left: Atomic<u32>,
    }

    impl CalloutCallback for Rearm {
        fn run(this: ArcBorrow<'_, Self>) {
            note(3);
            let c = this.callout.load(Relaxed) as *const Callout<Rearm>;
            if this.left.load(Relaxed) > 0 {
                this.left.fetch_sub(1, Relaxed);
                // SAFETY: the case keeps the callout alive while its address is stored.
                if let Some(c) = unsafe { c.as_ref() } {
                    let _ = c.reset(3);
                }
            }
        }
    }

    #[test]
    fn callouts_follow_their_clock_and_rearm_inside_the_advance() -> Result {
        reset();
        let v = VirtualClock::new(0, 0)?;
        CLOCK_NOW.store(core::ptr::from_ref(&v) as usize, Relaxed);
        let target = Arc::new(
            Rearm {
                callout: Atomic::new(0),
                left: Atomic::new(2),
            },
            GFP_KERNEL,
        )?;
        let c = Callout::init_mp(target.clone())?;
        target
            .callout
            .store(core::ptr::from_ref(&c) as usize, Relaxed);
        c.reset(5)?;
        assert!(c.pending());
        // One advance runs the first run and both re-arms it makes (at 5, 8 and 11 ticks).
        v.advance(11 * tick())?;
        assert_eq!(RUNS[3].load(Relaxed), 3);
        assert_eq!(RAN_AT[3].load(Relaxed), 11 * tick());
        assert!(!c.pending());
        // Stop of a pending callout on the clock: 1, and no run however far time goes.
        c.reset(1)?;
        assert_eq!(c.stop(), 1);
        v.advance(100 * tick())?;
        assert_eq!(RUNS[3].load(Relaxed), 3);
        target.callout.store(0, Relaxed);
        drop(c);
        CLOCK_NOW.store(0, Relaxed);
        drop(v);
        Ok(())
    }
}
