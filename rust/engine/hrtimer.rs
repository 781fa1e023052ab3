// SPDX-License-Identifier: GPL-2.0

//! A raw hrtimer whose clock is chosen at run time, with try-cancel.
//!
//! Why not `kernel::time::hrtimer::HrTimer`: in 7.3 it fixes the clock and mode per Rust type
//! (one `HasHrTimer` impl per type) and starts a timer only through an owning pointer that it
//! hands to the callback. The engine's hrtimers are fields of the engine, started under the
//! engine lock (also from their own callback) for whatever expiry is earliest, and their
//! callback finds the engine from the timer's address; the benchmarks want raw timers in each
//! expiry context to compare against. This file is the only place that calls the C hrtimer
//! functions; everything else uses [`RawTimer`].

use kernel::{bindings, prelude::*, types::Opaque};

/// The clocks a timer can run on. The values index the engine's per-clock arrays; the UAPI
/// numbers them as `clockid_t` does ([`Clock::uapi`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(crate) enum Clock {
    /// `CLOCK_REALTIME`: follows `settimeofday`/`clock_settime` for absolute expiries.
    Realtime = 0,
    /// `CLOCK_MONOTONIC`.
    Monotonic = 1,
    /// `CLOCK_BOOTTIME`: monotonic, and counts the time the system was suspended.
    Boottime = 2,
    /// `CLOCK_TAI`: `CLOCK_REALTIME` plus the TAI offset; follows its steps.
    Tai = 3,
}

impl Clock {
    /// Parses a UAPI clock id.
    pub(crate) fn from_uapi(clock: u32) -> Result<Self> {
        match clock {
            bindings::CLOCK_REALTIME => Ok(Clock::Realtime),
            bindings::CLOCK_MONOTONIC => Ok(Clock::Monotonic),
            bindings::CLOCK_BOOTTIME => Ok(Clock::Boottime),
            bindings::CLOCK_TAI => Ok(Clock::Tai),
            _ => Err(EINVAL),
        }
    }

    /// The UAPI (`clockid_t`) number of this clock.
    #[inline]
    pub(crate) fn uapi(self) -> u32 {
        match self {
            Clock::Realtime => bindings::CLOCK_REALTIME,
            Clock::Monotonic => bindings::CLOCK_MONOTONIC,
            Clock::Boottime => bindings::CLOCK_BOOTTIME,
            Clock::Tai => bindings::CLOCK_TAI,
        }
    }

    /// The clock a relative time on this clock runs on: a relative `CLOCK_REALTIME` or
    /// `CLOCK_TAI` time is not affected by `clock_settime` (POSIX; Linux's hrtimers move a
    /// relative REALTIME timer to MONOTONIC the same way), so it runs on `CLOCK_MONOTONIC`; a
    /// relative `CLOCK_BOOTTIME` time keeps counting through suspend, on `CLOCK_BOOTTIME`.
    #[inline]
    pub(crate) fn for_relative(self) -> Self {
        match self {
            Clock::Realtime | Clock::Monotonic | Clock::Tai => Clock::Monotonic,
            Clock::Boottime => Clock::Boottime,
        }
    }

    /// The current time on this clock, in nanoseconds.
    #[inline]
    pub(crate) fn now(self) -> i64 {
        match self {
            // SAFETY: `ktime_get` may be called from any context.
            Clock::Monotonic => unsafe { bindings::ktime_get() },
            // SAFETY: `ktime_get_real` may be called from any context.
            Clock::Realtime => unsafe { bindings::ktime_get_real() },
            // SAFETY: `ktime_get_boottime` may be called from any context.
            Clock::Boottime => unsafe { bindings::ktime_get_boottime() },
            // SAFETY: `ktime_get_clocktai` may be called from any context.
            Clock::Tai => unsafe { bindings::ktime_get_clocktai() },
        }
    }
}

/// The callback type of a [`RawTimer`]: called in irq context with the timer's address.
pub(crate) type Expire = unsafe extern "C" fn(*mut bindings::hrtimer) -> bindings::hrtimer_restart;

/// Where a [`RawTimer`]'s callback runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Expiry {
    /// Soft-irq context (`HRTIMER_MODE_ABS_SOFT`).
    Soft,
    /// Hard-irq context, except on PREEMPT_RT, where the core moves the timer to soft-irq
    /// (`HRTIMER_MODE_ABS`, the mode timerfd uses). So the callback may take `spinlock_t`s
    /// (sleeping locks on RT), and lockdep's wait-context checks allow it.
    Irq,
    /// Hard-irq context everywhere (`HRTIMER_MODE_ABS_HARD`): the callback may take raw
    /// spinlocks only. Used by the benchmarks' raw baseline.
    Hard,
}

impl Expiry {
    /// The context the timer really gets on this kernel, as its `is_soft`/`is_hard` bits
    /// record it.
    #[inline]
    pub(crate) fn effective(self) -> Self {
        if cfg!(CONFIG_PREEMPT_RT) && self == Expiry::Irq {
            Expiry::Soft
        } else {
            self
        }
    }

    fn mode(self) -> bindings::hrtimer_mode {
        match self {
            Expiry::Soft => bindings::hrtimer_mode_HRTIMER_MODE_ABS_SOFT,
            Expiry::Irq => bindings::hrtimer_mode_HRTIMER_MODE_ABS,
            Expiry::Hard => bindings::hrtimer_mode_HRTIMER_MODE_ABS_HARD,
        }
    }
}

/// A `struct hrtimer` on a clock and expiry context chosen at run time.
///
/// It is just the C timer; the context it was set up with is read back from its
/// `is_soft`/`is_hard` bits.
///
/// Dropping it cancels it (waiting for a running callback), so the memory its callback uses
/// can never be freed under a queued timer.
///
/// # Invariants
///
/// `timer` has been set up by `hrtimer_setup` (in [`RawTimer::new`]) and is never moved.
/// It is the only field, so a `*mut bindings::hrtimer` to it is a `*mut RawTimer`.
#[pin_data(PinnedDrop)]
#[repr(C)]
pub(crate) struct RawTimer {
    #[pin]
    timer: Opaque<bindings::hrtimer>,
}

// SAFETY: the hrtimer core serialises all operations on a `struct hrtimer` with its base lock;
// every method takes `&self` and is safe to call from any thread.
unsafe impl Send for RawTimer {}
// SAFETY: as above.
unsafe impl Sync for RawTimer {}

impl RawTimer {
    /// Sets up a timer on `clock` that calls `expire` in the `expiry` context when it fires.
    pub(crate) fn new(expire: Expire, clock: Clock, expiry: Expiry) -> impl PinInit<Self> {
        let mode = expiry.mode();
        pin_init!(Self {
            // INVARIANT: `hrtimer_setup` initialises the timer in place with `mode`.
            timer <- Opaque::ffi_init(move |place: *mut bindings::hrtimer| {
                // SAFETY: `place` points at pinned, writable memory for a `struct hrtimer`.
                unsafe { bindings::hrtimer_setup(place, Some(expire), clock.uapi() as i32, mode) }
            }),
        })
    }

    /// The context the timer expires in (already [`Expiry::effective`]).
    #[inline]
    fn expiry_context(&self) -> Expiry {
        let t = self.as_ptr();
        // SAFETY: by the type invariant the timer is valid; `is_hard` and `is_soft` are written
        // only by `hrtimer_setup`, which never runs concurrently with a method of a live
        // `RawTimer`.
        let (hard, soft) = unsafe {
            (
                core::ptr::addr_of!((*t).is_hard).read(),
                core::ptr::addr_of!((*t).is_soft).read(),
            )
        };
        if hard {
            Expiry::Hard
        } else if soft {
            Expiry::Soft
        } else {
            Expiry::Irq
        }
    }

    /// The address of the C timer, for `container_of` in the expiry callback.
    pub(crate) fn as_ptr(&self) -> *mut bindings::hrtimer {
        self.timer.get()
    }

    /// Starts (or restarts) the timer at absolute time `expires_ns` on its clock, with no slack.
    #[inline]
    pub(crate) fn start(&self, expires_ns: i64) {
        // SAFETY: by the type invariant the timer is set up; a start of a queued or running
        // timer is allowed and re-queues it.
        unsafe {
            bindings::hrtimer_start_range_ns(
                self.as_ptr(),
                expires_ns,
                0,
                self.expiry_context().mode(),
            )
        }
    }

    /// [`RawTimer::start`] on the caller's CPU (`HRTIMER_MODE_PINNED`): the hrtimer core does
    /// not move it to another CPU's base.
    #[inline]
    pub(crate) fn start_pinned(&self, expires_ns: i64) {
        // SAFETY: as in `start`.
        unsafe {
            bindings::hrtimer_start_range_ns(
                self.as_ptr(),
                expires_ns,
                0,
                self.expiry_context().mode() | bindings::hrtimer_mode_HRTIMER_MODE_PINNED,
            )
        }
    }

    /// Cancels and waits for a running callback to return.
    ///
    /// Must not be called from the timer's own callback nor while holding a lock the callback
    /// takes: it would wait forever.
    pub(crate) fn cancel(&self) {
        // SAFETY: by the type invariant the timer is set up; the caller upholds the rules above.
        unsafe { bindings::hrtimer_cancel(self.as_ptr()) };
    }
}

#[pinned_drop]
impl PinnedDrop for RawTimer {
    fn drop(self: Pin<&mut Self>) {
        self.cancel();
    }
}

/// The hrtimer resolution in nanoseconds (1 when high-resolution mode is on).
pub(crate) fn resolution_ns() -> u64 {
    // SAFETY: `hrtimer_resolution` is written once at boot (and on hres switch) and read with a
    // plain load everywhere in the kernel.
    u64::from(unsafe { bindings::hrtimer_resolution })
}
