// SPDX-License-Identifier: GPL-2.0

//! Interval timer objects, shared by the QNX (`qnx.rs`: `TimerSettime`, `TimerInfo`) and Mach
//! (`mach.rs`: `timer_arm`, `timer_cancel`) personalities, and their ioctls.
//!
//! A timer is an engine object that lives from `create` to `delete`. The engine re-arms
//! periodic timers drift-free (period k fires at `start + k * interval`) and turns skipped
//! periods into overruns. How an expiry that cannot be delivered is counted is the timer's
//! notification mode, chosen at `create`:
//! - `HRC_NOTIFY_SI_TIMER` ([`Delivery::Coalesce`], QNX `SI_TIMER`): at most one record per
//!   timer is queued; expiries while it is unread add to that record's overrun count.
//!   `TimerInfo` reports the total since the last `HRC_TIMER_RESET_OVERRUNS`.
//! - `HRC_NOTIFY_MACH` ([`Delivery::QueueLimit`]): a message per expiry until the file's
//!   queue holds `qlimit` records; expiries while it is full are missed, and the missed count
//!   rides on the next message that gets through, then restarts at zero. The messages beyond
//!   a timer's own record are reserved when it is armed and when the limit is set, so an
//!   expiry never allocates.
//! - `HRC_NOTIFY_PULSE` (QNX pulses, [`Delivery::QueueLimit`] too): each expiry its own record,
//!   queued and counted as Mach messages are.

pub(crate) mod mach;
pub(crate) mod qnx;
pub(crate) mod suspend;

use crate::engine::{Backend, Clock, Delivery, Engine, Executor, Locked, Sched, Slot};
use crate::uapi;
use kernel::prelude::*;

/// The tag of interval timers: their records' kind.
pub(crate) const TAG: u8 = uapi::HRC_EV_INTERVAL as u8;

/// A QNX `_itimer`: value and period in ns.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct Itimer {
    pub(crate) value: u64,
    pub(crate) interval: u64,
}

impl From<uapi::hrc_itimer> for Itimer {
    fn from(v: uapi::hrc_itimer) -> Self {
        Self {
            value: v.value_ns,
            interval: v.interval_ns,
        }
    }
}

impl From<Itimer> for uapi::hrc_itimer {
    fn from(v: Itimer) -> Self {
        Self {
            value_ns: v.value,
            interval_ns: v.interval,
        }
    }
}

/// POSIX `DELAYTIMER_MAX`: the most overruns QNX (and POSIX) report for one timer.
pub(crate) const DELAYTIMER_MAX: u64 = i32::MAX as u64;

/// A UAPI time (`u64` ns) as a signed time: values of 2^63 and more are negative times, which
/// POSIX `timer_settime` refuses (`EINVAL`), as QNX `TimerSettime` does.
pub(crate) fn signed(ns: u64) -> Result<i64> {
    i64::try_from(ns).map_err(|_| EINVAL)
}

/// The QNX calls report an unknown timer as `EINVAL` ("invalid timer"), not `ENOENT`.
pub(crate) fn qnx_errno(e: Error) -> Error {
    if e == ENOENT {
        EINVAL
    } else {
        e
    }
}

/// Locks `engine` and looks up timer `id` (`ENOENT` if unknown). With `arming`, a timer whose
/// expiries queue a record each (`HRC_NOTIFY_MACH`, `HRC_NOTIFY_PULSE`) first has the engine's
/// reserve of records beyond timers' own topped up to the queue limit, so that its expiries
/// never allocate: `ENOMEM` if that fails. One lock hold and one lookup when nothing is missing.
pub(crate) fn lock_timer<'a, B: Backend, X: Executor>(
    engine: &'a Engine<B, X>,
    id: u64,
    arming: bool,
) -> Result<(Locked<'a, B, X>, Slot)> {
    let mut reserved = false;
    loop {
        let mut l = engine.lock();
        let slot = l.lookup_tag(id, TAG)?;
        let queued = l
            .object(slot)
            .is_some_and(|o| o.delivery() == Delivery::QueueLimit);
        if !arming || !queued || reserved || !l.messages_missing() {
            return Ok((l, slot));
        }
        drop(l);
        engine.reserve_messages(GFP_KERNEL_ACCOUNT)?;
        // Once: at `max_timers` the reserve may stay short (expiries then count as missed).
        reserved = true;
    }
}

/// An absolute time its caller gave on `clock`, on the engine's clock: translated out of the
/// caller's time namespace to the host's clocks (a namespace shifts `CLOCK_MONOTONIC` and
/// `CLOCK_BOOTTIME`; timerfd and POSIX timers translate the same way), unless the engine's time
/// is virtual (then the clocks are the file's own). Process context, the caller's.
pub(crate) fn absolute_on_host<B: Backend, X: Executor>(
    engine: &Engine<B, X>,
    clock: Clock,
    t: i64,
) -> i64 {
    match clock {
        Clock::Monotonic | Clock::Boottime if !engine.backend.is_virtual() => {
            // SAFETY: process context (an ioctl of the caller's), as the helper needs.
            unsafe { hrc_timens_to_host(clock.uapi(), t) }
        }
        _ => t,
    }
}

unsafe extern "C" {
    /// `timens_ktime_to_host()` of the current task (`task.c`). Process context.
    fn hrc_timens_to_host(clockid: u32, t: i64) -> i64;
}

/// `HRC_IOC_TIMER_CREATE`: a disarmed timer on `clock`, notified as `notify` says.
pub(crate) fn create<B: Backend, X: Executor>(
    engine: &Engine<B, X>,
    clock: Clock,
    notify: u32,
    cookie: u64,
) -> Result<u64> {
    let delivery = match notify {
        uapi::HRC_NOTIFY_SI_TIMER => Delivery::Coalesce,
        uapi::HRC_NOTIFY_MACH | uapi::HRC_NOTIFY_PULSE => Delivery::QueueLimit,
        _ => return Err(EINVAL),
    };
    engine.create(
        TAG,
        delivery,
        clock,
        cookie,
        GFP_KERNEL_ACCOUNT,
        |l, slot| {
            let o = l.object(slot).ok_or(EINVAL)?;
            o.periodic_flags = uapi::HRC_EVF_PERIODIC;
            o.owner_word = notify;
            if notify != uapi::HRC_NOTIFY_MACH {
                // QNX: an overrun count saturates at DELAYTIMER_MAX.
                o.overrun_limit = DELAYTIMER_MAX;
            }
            Ok(())
        },
    )
}

/// `HRC_IOC_TIMER_DELETE` (QNX `TimerDestroy`): disarms and frees the timer, dropping an
/// unread record. `EINVAL` for an unknown timer, as QNX says.
pub(crate) fn delete<B: Backend, X: Executor>(engine: &Engine<B, X>, id: u64) -> Result {
    let mut l = engine.lock();
    let slot = l.lookup_tag(id, TAG).map_err(qnx_errno)?;
    l.disarm(slot);
    l.unqueue_record(slot);
    l.free(slot);
    Ok(())
}

/// The current setting of timer `slot`: time left and period (zeros when disarmed).
pub(crate) fn current<B: Backend, X: Executor>(
    l: &mut Locked<'_, B, X>,
    slot: Slot,
) -> Result<Itimer> {
    let mut s = l.slot(slot);
    let armed = s.sched() == Sched::Armed;
    let interval = s.object().ok_or(ENOENT)?.interval() as u64;
    if !armed {
        return Ok(Itimer { value: 0, interval });
    }
    // An armed timer is never exactly due: report at least 1 ns, as POSIX does.
    let left = l.remaining(slot).max(1) as u64;
    Ok(Itimer {
        value: left,
        interval,
    })
}

/// `HRC_IOC_TIMER_CREATE`.
pub(crate) fn ioctl_create<B: Backend, X: Executor>(
    e: &Engine<B, X>,
    c: &mut uapi::hrc_timer_create,
) -> Result<isize> {
    c.id = create(e, Clock::from_uapi(c.clock)?, c.notify, c.cookie)?;
    Ok(0)
}

/// `HRC_IOC_TIMER_DELETE`.
pub(crate) fn ioctl_delete<B: Backend, X: Executor>(
    e: &Engine<B, X>,
    c: &mut uapi::hrc_callout_id,
) -> Result<isize> {
    delete(e, c.id).map(|()| 0)
}

/// Undoes an `HRC_IOC_TIMER_CREATE` whose id could not be copied out.
pub(crate) fn undo_create<B: Backend, X: Executor>(e: &Engine<B, X>, c: &uapi::hrc_timer_create) {
    let _ = delete(e, c.id);
}
