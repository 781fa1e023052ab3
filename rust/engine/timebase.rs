// SPDX-License-Identifier: GPL-2.0

//! The time of a file's engine: the real clocks, or virtual time that moves only when told.
//!
//! A [`Timebase`] starts real: it reads `ktime_get`/`ktime_get_real` and drives the engine's
//! hrtimers, as [`super::HrBackend`] does, for the cost of one relaxed load per reading. An
//! engine with no timers can be made virtual ([`Engine::make_virtual`]); from then on its
//! monotonic time stands still between calls to [`Engine::advance`], and its realtime clock is
//! the monotonic one plus an offset that [`Engine::set_realtime`] steps. No hrtimer is started
//! any more: the clock bases' `armed` expiries (`clock_base.rs`) say when the next pass is due,
//! and the advance runs the passes itself, in the caller's thread, each at the virtual instant
//! it is due, followed by the executor jobs it fired (one lane, in firing order), before it
//! moves on. So everything an advance does happens in one thread, in an order that depends only
//! on the calls made (equal expiries in arming order, `timerqueue.rs`), and the file numbers
//! its ids itself: the same calls give the same records, byte for byte.
//!
//! # Locking
//!
//! `mode` and the virtual times change only with the engine lock held (the switch, each step of
//! an advance), so that an arming and the pass that fires it see one time; readers outside the
//! lock see some recent value. `advancing` lets one advance run at a time (`EBUSY` for a
//! second).

use super::clock_base::CLOCKS;
use super::hrtimer::{Clock, RawTimer};
use super::slots::IdSpace;
use super::{Backend, Engine, Executor};
use kernel::{
    interrupt::local_interrupt_disable,
    prelude::*,
    sync::atomic::{ordering::Relaxed, Atomic},
};

/// Nanoseconds in a second.
const NSEC_PER_SEC: i64 = 1_000_000_000;

/// The passes one advance runs at their own instants when its caller names no budget.
pub(crate) const DEFAULT_PASSES: u32 = 1 << 20;

/// The time source of a file's engine.
///
/// # Invariants
///
/// While `virtual_time` is false, `mono` and `offset` are unused; once true it stays true, and
/// `mono` never decreases.
pub(crate) struct Timebase {
    /// Whether time is virtual.
    virtual_time: Atomic<bool>,
    /// Virtual monotonic now, in ns.
    mono: Atomic<i64>,
    /// Virtual realtime minus virtual monotonic time, in ns.
    offset: Atomic<i64>,
    /// TAI minus realtime (the host's when time turned virtual), in ns.
    tai_offset: Atomic<i64>,
    /// Set while an advance runs.
    advancing: Atomic<bool>,
}

impl Timebase {
    /// Real time (until made virtual).
    pub(crate) const fn real() -> Self {
        Self {
            virtual_time: Atomic::new(false),
            mono: Atomic::new(0),
            offset: Atomic::new(0),
            tai_offset: Atomic::new(0),
            advancing: Atomic::new(false),
        }
    }

    /// Whether time is virtual.
    #[inline(always)]
    pub(crate) fn is_virtual(&self) -> bool {
        self.virtual_time.load(Relaxed)
    }

    /// Virtual `clock` minus virtual monotonic time, in ns. No suspend happens in virtual
    /// time: boot time is monotonic time.
    fn offset_of(&self, clock: Clock) -> i64 {
        match clock {
            Clock::Monotonic | Clock::Boottime => 0,
            Clock::Realtime => self.offset.load(Relaxed),
            Clock::Tai => self
                .offset
                .load(Relaxed)
                .saturating_add(self.tai_offset.load(Relaxed)),
        }
    }

    /// Virtual now on `clock`.
    fn virtual_now(&self, clock: Clock) -> i64 {
        self.mono
            .load(Relaxed)
            .saturating_add(self.offset_of(clock))
    }

    /// The virtual monotonic time at which an expiry at `expiry` on `clock` is due.
    fn due(&self, clock: Clock, expiry: i64) -> i64 {
        expiry.saturating_sub(self.offset_of(clock))
    }
}

impl Backend for Timebase {
    #[inline(always)]
    fn now(&self, clock: Clock) -> i64 {
        if self.is_virtual() {
            self.virtual_now(clock)
        } else {
            clock.now()
        }
    }

    #[inline(always)]
    fn start(&self, t: &RawTimer, _clock: Clock, expires: i64, pinned: bool) {
        // Virtual: the clock base's `armed` is the whole state; `advance` reads it.
        if !self.is_virtual() {
            if pinned {
                t.start_pinned(expires)
            } else {
                t.start(expires)
            }
        }
    }

    fn cancel(&self, t: &RawTimer, _clock: Clock) {
        // Never started while virtual; cancelling an idle hrtimer is harmless.
        t.cancel()
    }

    #[inline(always)]
    fn is_virtual(&self) -> bool {
        Timebase::is_virtual(self)
    }
}

/// What one [`Engine::advance`] did.
#[derive(Default, Clone, Copy)]
pub(crate) struct Advanced {
    /// Virtual monotonic and realtime now, after it.
    pub(crate) mono: i64,
    pub(crate) real: i64,
    /// Expiry passes it ran.
    pub(crate) passes: u32,
    /// Whether the pass budget ran out, so that what was still due ran in one late pass at
    /// the target time (periodic timers folding into overruns, as after a stall).
    pub(crate) folded: bool,
}

/// Clears `Timebase::advancing` when an advance ends, however it ends.
struct AdvanceGuard<'a>(&'a Atomic<bool>);

impl Drop for AdvanceGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Relaxed);
    }
}

impl<X: Executor> Engine<Timebase, X> {
    /// Makes a file's time virtual, at monotonic `mono` and realtime `real` ns. `EBUSY` if the
    /// engine has timers or records (it must be fresh) or is virtual already; `EINVAL` for a
    /// negative `mono`.
    pub(crate) fn make_virtual(&self, mono: i64, real: i64) -> Result {
        self.switch_to_virtual(mono, real, IdSpace::Own)
    }

    /// [`Engine::make_virtual`] for an in-kernel virtual clock (`kernel_api/virtual_clock.rs`),
    /// whose ids say so ([`IdSpace::KernelVirtual`]).
    pub(crate) fn make_virtual_kernel(&self, mono: i64, real: i64) -> Result {
        self.switch_to_virtual(mono, real, IdSpace::KernelVirtual)
    }

    /// Makes time virtual, with the engine's ids drawn from `ids` from 1.
    fn switch_to_virtual(&self, mono: i64, real: i64, ids: IdSpace) -> Result {
        if mono < 0 {
            return Err(EINVAL);
        }
        let mut l = self.lock();
        let t = &self.backend;
        if t.is_virtual() || !l.is_empty() {
            return Err(EBUSY);
        }
        l.set_ids(ids);
        // A cancelled timer's hrtimer may still be started: its expiry is no pass of the
        // virtual clock (it would add one to the first advance's count).
        l.forget_armed();
        t.mono.store(mono, Relaxed);
        t.offset.store(real.saturating_sub(mono), Relaxed);
        // TAI - UTC is a whole number of seconds: two readings a moment apart round to it.
        let tai = Clock::Tai.now().saturating_sub(Clock::Realtime.now());
        t.tai_offset.store(
            tai.saturating_add(NSEC_PER_SEC / 2) / NSEC_PER_SEC * NSEC_PER_SEC,
            Relaxed,
        );
        // INVARIANT: set once, with `mono` set first.
        t.virtual_time.store(true, Relaxed);
        drop(l);
        // And that hrtimer must not run a pass outside an advance: its callback does nothing
        // on virtual time (`clock_base.rs`); cancel it so that nothing real stays queued.
        for c in CLOCKS {
            t.cancel(self.timer(c), c);
        }
        Ok(())
    }

    /// Claims the right to move time (one advance at a time): `EOPNOTSUPP` on real time,
    /// `EBUSY` while another advance runs.
    fn begin_advance(&self) -> Result<AdvanceGuard<'_>> {
        let t = &self.backend;
        if !t.is_virtual() {
            return Err(EOPNOTSUPP);
        }
        if t.advancing.cmpxchg(false, true, Relaxed).is_err() {
            return Err(EBUSY);
        }
        Ok(AdvanceGuard(&t.advancing))
    }

    /// Moves virtual time forward to monotonic `target` ns, running every expiry due by then
    /// in expiry order, each pass at its own instant, and each pass's executor jobs before the
    /// next pass; timers armed meanwhile that fall due by `target` run too. After `max_passes`
    /// passes, what is still due runs in one pass at `target` (`folded`). Returns once every
    /// callback it started has returned and every record is queued. `EOPNOTSUPP` on real
    /// time, `EINVAL` for a target in the past, `EBUSY` while another advance runs, `EINTR` if
    /// the caller is killed (time then stands where the last pass left it).
    pub(crate) fn advance(&self, target: i64, max_passes: u32) -> Result<Advanced> {
        if self.backend.is_virtual() && target < self.backend.mono.load(Relaxed) {
            return Err(EINVAL);
        }
        let _guard = self.begin_advance()?;
        self.run_until(target, max_passes)
    }

    /// The passes of [`Engine::advance`], for the holder of its guard.
    fn run_until(&self, target: i64, max_passes: u32) -> Result<Advanced> {
        let t = &self.backend;
        let mut done = Advanced::default();
        loop {
            // SAFETY: a query of the current task, in process context.
            if unsafe { hrc_current_killed() } {
                return Err(EINTR);
            }
            let fold = done.passes >= max_passes;
            let next = {
                let l = self.lock();
                if l.is_dying() {
                    return Err(ENODEV);
                }
                let next = CLOCKS
                    .into_iter()
                    .filter_map(|c| l.armed(c).map(|e| (t.due(c, e), c)))
                    .min_by_key(|n| n.0)
                    .filter(|n| n.0 <= target);
                // INVARIANT: `mono` only moves forward: to a due time after it, or to `target`.
                let at = match next {
                    Some((due, _)) if !fold => due.max(t.mono.load(Relaxed)),
                    _ => target,
                };
                t.mono.store(at, Relaxed);
                next
            };
            let Some((_, clock)) = next else {
                break;
            };
            if fold {
                // Out of budget: one late pass at `target` per clock with something due (a pass
                // may arm another clock's timer due by then: each clock is looked at once), then
                // stop.
                done.folded = true;
                for c in CLOCKS {
                    let due = self.lock().armed(c).is_some_and(|e| t.due(c, e) <= target);
                    if due {
                        self.virtual_pass(c);
                        done.passes = done.passes.saturating_add(1);
                    }
                }
                break;
            }
            self.virtual_pass(clock);
            done.passes += 1;
            // SAFETY: process context, no lock held.
            unsafe { hrc_cond_resched() };
        }
        done.mono = t.mono.load(Relaxed);
        done.real = t.virtual_now(Clock::Realtime);
        Ok(done)
    }

    /// Steps the virtual realtime clock to `real` ns (forwards or backwards, as
    /// `clock_settime` may), then runs what that made due. Returns the step, in ns.
    /// `EOPNOTSUPP` on real time and `EBUSY` while an advance runs, before anything changed;
    /// `EINTR` if the caller is killed while the due timers run (the step stands).
    pub(crate) fn set_realtime(&self, real: i64) -> Result<i64> {
        let _guard = self.begin_advance()?;
        let t = &self.backend;
        let step = {
            let _l = self.lock();
            let before = t.virtual_now(Clock::Realtime);
            t.offset
                .store(real.saturating_sub(t.mono.load(Relaxed)), Relaxed);
            real.saturating_sub(before)
        };
        // Cancelled and told first, as the host's set would (what the step made due runs
        // next).
        self.clock_was_set();
        self.run_until(t.mono.load(Relaxed), DEFAULT_PASSES)?;
        Ok(step)
    }

    /// One expiry pass of `clock` at the virtual now, as its hrtimer would run it (bottom
    /// halves off for a soft one, interrupts off otherwise, so that callbacks find the locking
    /// context they were written for), then the executor jobs it fired.
    fn virtual_pass(&self, clock: Clock) {
        if self.context.effective() == super::Expiry::Soft {
            // SAFETY: process context (the advancing task); enabled again below.
            unsafe { hrc_local_bh_disable() };
            self.expire(clock, None);
            // SAFETY: disabled above, on this CPU: `expire` does not sleep or migrate.
            unsafe { hrc_local_bh_enable() };
        } else {
            let irq_off = local_interrupt_disable();
            self.expire(clock, Some(&irq_off));
        }
        // Virtual engines queue every job on lane 0 (`executor.rs`), and no work item runs it.
        self.run_lane(0);
    }
}

unsafe extern "C" {
    /// Whether the current task has a fatal signal pending (`sched.c`). Process context.
    fn hrc_current_killed() -> bool;
    /// `cond_resched()` (`sched.c`). Process context, no spinlock held.
    fn hrc_cond_resched();
    /// `local_bh_disable()` (`sched.c`).
    fn hrc_local_bh_disable();
    /// `local_bh_enable()` (`sched.c`), after `hrc_local_bh_disable` on the same CPU.
    fn hrc_local_bh_enable();
}
