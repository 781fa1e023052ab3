// SPDX-License-Identifier: GPL-2.0

//! Where an engine's time comes from and how its hrtimers are driven.
//!
//! [`HrBackend`] is the real clocks and hrtimers; a file's [`super::Timebase`] is real until
//! the file makes it virtual; the fake clock (`fake.rs`) moves only when told, for
//! deterministic KUnit runs.

use super::hrtimer::{Clock, RawTimer};

/// The time source and expiry mechanism of an engine.
pub(crate) trait Backend: Sized + Send + Sync + 'static {
    /// Now on `clock`, in ns.
    fn now(&self, clock: Clock) -> i64;
    /// Starts the engine's hrtimer `t` for `clock` at absolute `expires` (moving it if queued),
    /// on the caller's CPU if `pinned`.
    fn start(&self, t: &RawTimer, clock: Clock, expires: i64, pinned: bool);
    /// Cancels `t` and waits for its running callback (never with the engine lock held).
    fn cancel(&self, t: &RawTimer, clock: Clock);
    /// Whether time is virtual (`timebase.rs`): then no hrtimer runs the passes and no lane
    /// runs the jobs; the thread that advances time runs both.
    #[inline(always)]
    fn is_virtual(&self) -> bool {
        false
    }
}

/// Real hrtimers.
pub(crate) struct HrBackend;

impl Backend for HrBackend {
    #[inline]
    fn now(&self, clock: Clock) -> i64 {
        clock.now()
    }

    #[inline]
    fn start(&self, t: &RawTimer, _clock: Clock, expires: i64, pinned: bool) {
        if pinned {
            t.start_pinned(expires)
        } else {
            t.start(expires)
        }
    }

    fn cancel(&self, t: &RawTimer, _clock: Clock) {
        t.cancel()
    }
}
