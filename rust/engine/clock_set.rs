// SPDX-License-Identifier: GPL-2.0

//! What an engine does when `CLOCK_REALTIME` is set (issue 23): the objects that asked are
//! told, or cancelled.
//!
//! An owner marks an object ([`Locked::set_on_clock_set`]):
//! - [`OnClockSet::Notify`]: each set delivers a record standing for it (it coalesces like
//!   any record: one unread record stands for every set since, `overruns` counting the
//!   earlier ones), whose expiry is the new `CLOCK_REALTIME - CLOCK_MONOTONIC` offset and
//!   whose fire time the `CLOCK_REALTIME` now;
//! - [`OnClockSet::Cancel`]: if it is armed on `CLOCK_REALTIME` or `CLOCK_TAI` (so, for an
//!   absolute time: relative times run on `CLOCK_MONOTONIC`), it is disarmed and delivers a
//!   record of the expiry it was armed for, carrying the owner's flags (timerfd's
//!   `TFD_TIMER_CANCEL_ON_SET`).
//!
//! Who calls [`Engine::clock_was_set`] is the owner's business: the device's hook on the
//! kernel's timekeeping updates for real files (`crate::clock_set`), a virtual clock's step for
//! virtual ones. The walk takes the engine lock a chunk of slots at a time, as fdinfo's
//! census does; an engine whose objects never asked skips it.

use super::hrtimer::Clock;
use super::slots::{Sched, Slot};
use super::{Backend, Engine, Executor, Locked};
use kernel::sync::atomic::ordering::Relaxed;

/// Slots handled per hold of the engine lock.
const CHUNK: u32 = 4096;

/// What an object does when `CLOCK_REALTIME` is set (see the module documentation).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum OnClockSet {
    /// Nothing: its absolute realtime expiry simply follows the clock.
    Nothing,
    /// A record for each set.
    Notify,
    /// Disarmed, with a record carrying these flags.
    Cancel { flags: u32 },
}

impl<B: Backend, X: Executor> Engine<B, X> {
    /// `CLOCK_REALTIME` (and so `CLOCK_TAI`) was set: tells or cancels the objects that
    /// asked (see the module documentation).
    pub(crate) fn clock_was_set(&self) {
        if !self.hears_clock_set.load(Relaxed) {
            return;
        }
        let mut from = 0u32;
        loop {
            let mut l = self.lock();
            if l.g.dying {
                return;
            }
            let real = self.backend.now(Clock::Realtime);
            let offset = real.saturating_sub(self.backend.now(Clock::Monotonic));
            let n = l.g.slots.capacity();
            let to = n.min(from.saturating_add(CHUNK));
            for s in from..to {
                l.clock_set_on(Slot(s), real, offset);
            }
            drop(l);
            if to >= n {
                return;
            }
            from = to;
        }
    }
}

impl<B: Backend, X: Executor> Locked<'_, B, X> {
    /// Marks object `slot`: what it does when the clock is set from now on.
    pub(crate) fn set_on_clock_set(&mut self, slot: Slot, what: OnClockSet) {
        if let Some(o) = self.g.slots.data(slot).obj() {
            o.on_clock_set = what;
            if what != OnClockSet::Nothing {
                self.engine.hears_clock_set.store(true, Relaxed);
            }
        }
    }

    /// [`Engine::clock_was_set`] for slot `slot`, the clock being `real` on `CLOCK_REALTIME`
    /// and `offset` ahead of `CLOCK_MONOTONIC` now.
    fn clock_set_on(&mut self, slot: Slot, real: i64, offset: i64) {
        let d = self.g.slots.data(slot);
        if d.id == 0 {
            return;
        }
        let (cookie, clock, armed) = (d.cookie, d.clock, d.sched == Sched::Armed);
        let Some(o) = d.obj() else {
            return;
        };
        match o.on_clock_set {
            OnClockSet::Nothing => {}
            OnClockSet::Notify => {
                o.fired = (offset, real);
                self.deliver(slot, cookie, 0);
            }
            OnClockSet::Cancel { flags } => {
                if !armed || !matches!(clock, Clock::Realtime | Clock::Tai) {
                    return;
                }
                let expiry = self.expiry(slot);
                let now = self.engine.backend.now(clock);
                self.disarm(slot);
                if let Some(o) = self.object(slot) {
                    // Not an expiry: `expired` stays as it was.
                    o.fired = (expiry, now);
                }
                self.deliver(slot, cookie, 0);
                if let Some(o) = self.object(slot) {
                    o.rec.flags |= flags;
                }
            }
        }
    }
}
