// SPDX-License-Identifier: GPL-2.0

//! Per-clock bases: the timer queue of a clock's armed slots and the one hrtimer started for
//! its earliest.
//!
//! Arming queues a slot's node (O(log n); O(1) at or after the latest), cancelling unqueues it
//! (O(1) amortised), and neither touches the hrtimer unless a new earliest expiry comes in
//! ([`Locked::kick_at`]). A cancel never does: if the hrtimer was started for a timer that is
//! gone, it fires early once, finds nothing due and is started for the new earliest. The
//! hrtimer is started absolute with no slack, so expiries stay exact: it never fires early, and
//! the expiry pass only takes what is due.

use super::hrtimer::{Clock, Expire, Expiry, RawTimer};
use super::slots::{Entry, Slot};
use super::timerqueue::TimerQueue;
use super::{cpu::NO_HOME, Backend, Engine, Executor, Locked};
use kernel::{bindings, interrupt::LocalInterruptDisabled};

/// How many clocks an engine has a base for.
pub(super) const CLOCK_COUNT: usize = 4;

/// The clocks an engine has a base for, in the order of [`Clock`]'s values.
pub(super) const CLOCKS: [Clock; CLOCK_COUNT] = [
    Clock::Realtime,
    Clock::Monotonic,
    Clock::Boottime,
    Clock::Tai,
];

/// One clock's armed slots and the state of its hrtimer.
///
/// Protected by the engine lock.
pub(super) struct ClockBase<J> {
    /// The armed slots of this clock, by expiry.
    pub(super) queue: TimerQueue<Entry<J>>,
    /// The expiry the hrtimer was last started for, until its expiry pass ends. While the queue
    /// is not empty the hrtimer is queued for `armed`, or has fired and its pass has not ended;
    /// `armed` is never after the earliest expiry (checked by `check.rs`).
    pub(super) armed: Option<i64>,
}

impl<J> ClockBase<J> {
    pub(super) fn new() -> Self {
        Self {
            queue: TimerQueue::new(),
            armed: None,
        }
    }

    /// The earliest slot and its expiry.
    #[inline]
    pub(super) fn first(&self) -> Option<(Slot, i64)> {
        self.queue.first().map(|e| (e.slot(), e.expires()))
    }
}

/// The expiry callback of an engine's hrtimer for clock `CLOCK` (a [`Clock`] value), run in
/// soft irq (`IRQ_OFF` false) or hard irq.
///
/// # Safety
///
/// `timer` is the hrtimer field of clock `CLOCK` ([`Engine::timer`]) of a live
/// [`Engine<B, X>`], as set up by [`Engine::new`]; with `IRQ_OFF` the call comes from the
/// hrtimer core in hard-irq context.
unsafe extern "C" fn expire_cb<B: Backend, X: Executor, const CLOCK: u8, const IRQ_OFF: bool>(
    timer: *mut bindings::hrtimer,
) -> bindings::hrtimer_restart {
    // The C timer is `RawTimer`'s only field (`repr(C)`), so this is the field's address.
    let timer = timer.cast::<RawTimer>();
    let clock = CLOCKS[CLOCK as usize];
    // SAFETY: by the safety contract `timer` is this field of a live `Engine<B, X>`.
    let engine = unsafe {
        &*match clock {
            Clock::Realtime => kernel::container_of!(timer, Engine<B, X>, real_timer),
            Clock::Monotonic => kernel::container_of!(timer, Engine<B, X>, mono_timer),
            Clock::Boottime => kernel::container_of!(timer, Engine<B, X>, boot_timer),
            Clock::Tai => kernel::container_of!(timer, Engine<B, X>, tai_timer),
        }
    };
    // Started before the engine's time turned virtual: advances run its passes now.
    if engine.backend.is_virtual() {
        return bindings::hrtimer_restart::HRTIMER_NORESTART;
    }
    if IRQ_OFF {
        // SAFETY: the hrtimer core runs a timer that is not soft with interrupts disabled, for
        // the whole callback (the safety contract says this one is not soft).
        let irq_off = unsafe { LocalInterruptDisabled::assume_disabled() };
        engine.expire(clock, Some(irq_off));
    } else {
        engine.expire(clock, None);
    }
    // The pass starts the hrtimer again itself, under the engine lock, when more is armed.
    bindings::hrtimer_restart::HRTIMER_NORESTART
}

/// The hrtimer callback for an engine's `clock` expiring in `context`.
pub(super) fn expire_fn<B: Backend, X: Executor>(clock: Clock, context: Expiry) -> Expire {
    const R: u8 = Clock::Realtime as u8;
    const M: u8 = Clock::Monotonic as u8;
    const BT: u8 = Clock::Boottime as u8;
    const T: u8 = Clock::Tai as u8;
    let irq_off = context.effective() != Expiry::Soft;
    match (clock, irq_off) {
        (Clock::Realtime, false) => expire_cb::<B, X, R, false>,
        (Clock::Realtime, true) => expire_cb::<B, X, R, true>,
        (Clock::Monotonic, false) => expire_cb::<B, X, M, false>,
        (Clock::Monotonic, true) => expire_cb::<B, X, M, true>,
        (Clock::Boottime, false) => expire_cb::<B, X, BT, false>,
        (Clock::Boottime, true) => expire_cb::<B, X, BT, true>,
        (Clock::Tai, false) => expire_cb::<B, X, T, false>,
        (Clock::Tai, true) => expire_cb::<B, X, T, true>,
    }
}

impl<B: Backend, X: Executor> Engine<B, X> {
    /// The hrtimer of `clock`.
    #[inline]
    pub(super) fn timer(&self, clock: Clock) -> &RawTimer {
        match clock {
            Clock::Monotonic => &self.mono_timer,
            Clock::Realtime => &self.real_timer,
            Clock::Boottime => &self.boot_timer,
            Clock::Tai => &self.tai_timer,
        }
    }
}

impl<B: Backend, X: Executor> Locked<'_, B, X> {
    /// The expiry the hrtimer of `clock` is started for (or, on virtual time, when its next
    /// pass is due), if any.
    #[inline]
    pub(super) fn armed(&self, clock: Clock) -> Option<i64> {
        self.g.bases[clock as usize].armed
    }

    /// Forgets what the hrtimers were started for (when an empty engine's time turns
    /// virtual, `timebase.rs`).
    pub(super) fn forget_armed(&mut self) {
        self.g.bases.iter_mut().for_each(|b| b.armed = None);
        self.engine
            .handed_on
            .store(0, kernel::sync::atomic::ordering::Relaxed);
    }

    /// Starts the hrtimer of `clock` for the earliest armed expiry, unless it is already
    /// started for that or earlier.
    #[inline]
    pub(super) fn kick(&mut self, clock: Clock) {
        if let Some((_, min)) = self.g.bases[clock as usize].first() {
            self.kick_at(clock, min);
        }
    }

    /// Starts the hrtimer of `clock` for `expiry`, the earliest armed, unless it is already
    /// started for that or earlier.
    #[inline(always)]
    pub(super) fn kick_at(&mut self, clock: Clock, expiry: i64) {
        let base = &mut self.g.bases[clock as usize];
        if base.armed.is_some_and(|a| a <= expiry) {
            return;
        }
        base.armed = Some(expiry);
        let engine = self.engine;
        if engine.home == NO_HOME {
            engine
                .backend
                .start(engine.timer(clock), clock, expiry, false);
        } else {
            engine.start_from(clock, expiry);
        }
    }
}
