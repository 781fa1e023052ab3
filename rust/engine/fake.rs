// SPDX-License-Identifier: GPL-2.0

//! A clock that moves only when told, and expiry passes run in the caller's thread.
//!
//! The KUnit suites drive engines with it, so ordering and race windows are deterministic.
//! It is the engine's one non-real [`Backend`]; a per-file virtual clock would be another
//! user of the same shape.

use super::clock_base::{CLOCKS, CLOCK_COUNT};
use super::hrtimer::{Clock, Expiry, RawTimer};
use super::{Backend, Engine, Executor};
use kernel::{new_spinlock_irq, prelude::*, sync::SpinLockIrq};

/// A clock that only moves when a test says so; expiries run in the test's thread
/// ([`Engine::advance`]).
#[pin_data]
pub(crate) struct FakeClock {
    #[pin]
    inner: SpinLockIrq<FakeInner>,
}

struct FakeInner {
    /// Monotonic (and boot time) now; realtime (and TAI) is `mono + offset`.
    mono: i64,
    offset: i64,
    /// The expiry each of the engine's timers is started for, by `Clock as usize`.
    armed: [Option<i64>; CLOCK_COUNT],
    /// The next `drift_reads` readings each find the clock `drift` ns later (time passing
    /// while the engine works).
    drift: i64,
    drift_reads: u32,
}

impl FakeInner {
    /// Monotonic time at which an expiry on `clock` is due.
    fn due(&self, expiry: i64, clock: Clock) -> i64 {
        match clock {
            Clock::Monotonic | Clock::Boottime => expiry,
            Clock::Realtime | Clock::Tai => expiry - self.offset,
        }
    }
}

impl FakeClock {
    /// A fake clock at `start` ns on both clocks.
    pub(crate) fn new(start: i64) -> impl PinInit<Self> {
        pin_init!(Self {
            inner <- new_spinlock_irq!(FakeInner {
                mono: start,
                offset: 0,
                armed: [None; CLOCK_COUNT],
                drift: 0,
                drift_reads: 0,
            }),
        })
    }

    /// Makes each of the next `reads` readings of the clock find it `step` ns later.
    pub(crate) fn drift(&self, step: i64, reads: u32) {
        let mut g = self.inner.lock();
        (g.drift, g.drift_reads) = (step, reads);
    }
}

impl Backend for FakeClock {
    fn now(&self, clock: Clock) -> i64 {
        let mut g = self.inner.lock();
        if g.drift_reads > 0 {
            g.drift_reads -= 1;
            g.mono += g.drift;
        }
        match clock {
            Clock::Monotonic | Clock::Boottime => g.mono,
            Clock::Realtime | Clock::Tai => g.mono + g.offset,
        }
    }

    fn start(&self, _t: &RawTimer, clock: Clock, expires: i64, _pinned: bool) {
        self.inner.lock().armed[clock as usize] = Some(expires);
    }

    fn cancel(&self, _t: &RawTimer, clock: Clock) {
        self.inner.lock().armed[clock as usize] = None;
    }
}

impl<X: Executor> Engine<FakeClock, X> {
    /// Moves time forward by `delta` ns, running the expiry passes that come due, each with
    /// the clock set to the time its timer was started for.
    pub(crate) fn advance(&self, delta: i64) {
        let target = self.backend.inner.lock().mono + delta;
        loop {
            let clock = {
                let mut g = self.backend.inner.lock();
                let next = CLOCKS
                    .into_iter()
                    .filter_map(|c| g.armed[c as usize].map(|e| (g.due(e, c), c)))
                    .min_by_key(|n| n.0);
                match next {
                    Some((due, c)) if due <= target => {
                        g.armed[c as usize] = None;
                        g.mono = g.mono.max(due);
                        c
                    }
                    _ => {
                        g.mono = target;
                        return;
                    }
                }
            };
            // As the hrtimer core would: interrupts off unless the timer is a soft one.
            if self.context.effective() == Expiry::Soft {
                self.expire(clock, None);
            } else {
                let irq_off = kernel::interrupt::local_interrupt_disable();
                self.expire(clock, Some(&irq_off));
            }
        }
    }

    /// Moves time forward by `delta` ns without firing anything, then fires what is due: the
    /// expiries run late, as on a stalled machine.
    pub(crate) fn stall(&self, delta: i64) {
        self.backend.inner.lock().mono += delta;
        self.advance(0);
    }

    /// Steps only the realtime clock (like `clock_settime`), then fires what became due.
    pub(crate) fn set_realtime(&self, delta: i64) {
        self.backend.inner.lock().offset += delta;
        self.advance(0);
    }
}
