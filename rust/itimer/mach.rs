// SPDX-License-Identifier: GPL-2.0

//! Mach `timer_arm` / `timer_cancel` on interval timers, the port's queue limit, and their
//! ioctls.

use super::TAG;
use crate::engine::{hrtimer, Backend, Clock, Engine, Executor, Sched};
use crate::uapi;
use kernel::prelude::*;

/// Mach `timer_arm`: `EINVAL` for a negative time, or with `TIMER_PERIODIC` a negative interval
/// or one below the clock's resolution (`KERN_INVALID_ARGUMENT`; Mach checks the interval only
/// for periodic timers), `EBUSY` if already armed (`KERN_FAILURE`), `EOPNOTSUPP` for
/// `TIMER_THREAD_SUSPEND` (no per-thread suspend on Linux).
pub(crate) fn arm<B: Backend, X: Executor>(
    engine: &Engine<B, X>,
    id: u64,
    expire: i64,
    interval: i64,
    flags: u32,
) -> Result {
    let known = uapi::HRC_MACH_ABSOLUTE | uapi::HRC_MACH_PERIODIC | uapi::HRC_MACH_THREAD_SUSPEND;
    if flags & !known != 0 || expire < 0 {
        return Err(EINVAL);
    }
    let periodic = flags & uapi::HRC_MACH_PERIODIC != 0;
    if periodic && (interval < 0 || (interval as u64) < hrtimer::resolution_ns().max(1)) {
        return Err(EINVAL);
    }
    if flags & uapi::HRC_MACH_THREAD_SUSPEND != 0 {
        return Err(EOPNOTSUPP);
    }
    let mut l = engine.lock();
    let slot = l.lookup_tag(id, TAG)?;
    let mut s = l.slot(slot);
    if s.sched() == Sched::Armed {
        return Err(EBUSY);
    }
    let absolute = flags & uapi::HRC_MACH_ABSOLUTE != 0;
    let o = s.object().ok_or(ENOENT)?;
    o.absolute = absolute;
    o.expired = false;
    // Absolute times on the timer's clock, relative ones on CLOCK_MONOTONIC (a clock step
    // does not move a relative deadline).
    let clock = if absolute { o.clock } else { Clock::Monotonic };
    let expiry = if absolute {
        expire
    } else {
        engine.backend.now(clock).saturating_add(expire)
    };
    // Mach: the message of an expiry at or before now is queued before timer_arm returns.
    l.arm_or_expire(slot, clock, expiry, if periodic { interval } else { 0 })
}

/// Mach `timer_cancel`: `EALREADY` if not armed. With `TIMER_PERIODIC` on a periodic timer
/// only the current interval is cancelled: the next expiry is one period later.
pub(crate) fn cancel<B: Backend, X: Executor>(
    engine: &Engine<B, X>,
    id: u64,
    flags: u32,
) -> Result {
    if flags & !uapi::HRC_MACH_PERIODIC != 0 {
        return Err(EINVAL);
    }
    let mut l = engine.lock();
    let slot = l.lookup_tag(id, TAG)?;
    let mut s = l.slot(slot);
    if s.sched() != Sched::Armed {
        return Err(EALREADY);
    }
    let interval = s.object().ok_or(ENOENT)?.interval();
    let expiry = l.expiry(slot);
    if flags & uapi::HRC_MACH_PERIODIC != 0 && interval > 0 {
        return l.arm(slot, expiry.saturating_add(interval), interval);
    }
    l.disarm(slot);
    Ok(())
}

/// The file's Mach queue limit (the port's qlimit): 1 ..= `max_timers`.
pub(crate) fn set_qlimit<B: Backend, X: Executor>(engine: &Engine<B, X>, qlimit: u32) -> Result {
    if qlimit == 0 || qlimit > crate::max_timers() {
        return Err(EINVAL);
    }
    engine.lock().set_qlimit(qlimit);
    Ok(())
}

/// `HRC_IOC_TIMER_ARM`.
pub(crate) fn ioctl_arm<B: Backend, X: Executor>(
    e: &Engine<B, X>,
    a: &mut uapi::hrc_timer_arm,
) -> Result<isize> {
    arm(e, a.id, a.expire_ns, a.interval_ns, a.flags).map(|()| 0)
}

/// `HRC_IOC_TIMER_CANCEL`.
pub(crate) fn ioctl_cancel<B: Backend, X: Executor>(
    e: &Engine<B, X>,
    c: &mut uapi::hrc_timer_cancel,
) -> Result<isize> {
    cancel(e, c.id, c.flags).map(|()| 0)
}

/// `HRC_IOC_SET_QLIMIT`.
pub(crate) fn ioctl_set_qlimit<B: Backend, X: Executor>(
    e: &Engine<B, X>,
    q: &mut uapi::hrc_qlimit,
) -> Result<isize> {
    set_qlimit(e, q.qlimit).map(|()| 0)
}
