// SPDX-License-Identifier: GPL-2.0

//! Interval timers: QNX `TimerSettime`/`TimerInfo`, Mach `timer_arm`/`timer_cancel`, and mTCP
//! `mtcp_settimer`, on the engine.
//!
//! A QNX/Mach timer is a slot of kind [`Kind::Interval`] that lives from `create` to `delete`.
//! The engine re-arms periodic timers drift-free (period k fires at `start + k * interval`) and
//! turns skipped periods into overruns. How an expiry that cannot be delivered is counted is
//! the timer's notification mode:
//! - [`Overrun::Coalesce`] (QNX `SI_TIMER`): at most one record per timer is queued; expiries
//!   while it is unread add to that record's overrun count. `TimerInfo` reports the total since
//!   the last `HRC_TIMER_RESET_OVERRUNS`.
//! - [`Overrun::QueueLimit`] (Mach): no message while the file's queue holds `qlimit` records
//!   (or this timer's previous message is unread); the missed count rides on the next message
//!   that gets through, then restarts at zero.

use crate::engine::{Backend, Engine, Kind, Locked, Object, Overrun, Sched, When};
use crate::timer::{self, Clock};
use crate::uapi;
use kernel::prelude::*;

/// A QNX `_itimer`: value and period in ns.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct Itimer {
    pub(crate) value: u64,
    pub(crate) interval: u64,
}

/// UAPI times are `u64` ns: values of 2^63 and more mean "never" rather than wrapping into the
/// past.
fn saturate(ns: u64) -> i64 {
    i64::try_from(ns).unwrap_or(i64::MAX)
}

/// `HRC_IOC_TIMER_CREATE`: a disarmed timer on `clock`.
pub(crate) fn create<B: Backend>(
    engine: &Engine<B>,
    clock: Clock,
    notify: u32,
    cookie: u64,
) -> Result<u64> {
    let overrun = match notify {
        uapi::HRC_NOTIFY_SI_TIMER => Overrun::Coalesce,
        uapi::HRC_NOTIFY_MACH => Overrun::QueueLimit,
        _ => return Err(EINVAL),
    };
    engine.alloc_with(
        Kind::Interval,
        clock,
        cookie,
        GFP_KERNEL_ACCOUNT,
        |l, slot| {
            l.data(slot).obj().ok_or(EINVAL)?.overrun = overrun;
            Ok(())
        },
    )
}

/// `HRC_IOC_TIMER_DELETE`: disarms and frees the timer, dropping an unread record.
pub(crate) fn delete<B: Backend>(engine: &Engine<B>, id: u64) -> Result {
    let mut l = engine.lock();
    let slot = l.lookup_kind(id, Kind::Interval)?;
    l.disarm(slot);
    l.unqueue_record(slot);
    l.free(slot);
    Ok(())
}

/// The object state of interval timer `id`.
fn object<'a>(l: &'a mut Locked<'_, impl Backend>, slot: u32) -> Result<&'a mut Object> {
    l.data(slot).obj().ok_or(ENOENT)
}

/// The current setting: time left and period (zeros when disarmed).
fn current<B: Backend>(l: &mut Locked<'_, B>, slot: u32) -> Result<Itimer> {
    let interval = object(l, slot)?.interval as u64;
    if l.data(slot).sched != Sched::Armed {
        return Ok(Itimer { value: 0, interval });
    }
    // An armed timer is never exactly due: report at least 1 ns, as POSIX does.
    let left = l.remaining(slot).max(1) as u64;
    Ok(Itimer {
        value: left,
        interval,
    })
}

/// QNX `TimerSettime`: replaces the setting and returns the old one; never blocks.
/// `value == 0` disarms; an absolute time in the past fires at once.
pub(crate) fn settime<B: Backend>(
    engine: &Engine<B>,
    id: u64,
    flags: u32,
    new: Itimer,
) -> Result<Itimer> {
    if flags & !uapi::HRC_TIMER_ABSTIME != 0 {
        return Err(EINVAL);
    }
    let mut l = engine.lock();
    let slot = l.lookup_kind(id, Kind::Interval)?;
    let old = current(&mut l, slot)?;
    l.disarm(slot);
    let interval = saturate(new.interval);
    let absolute = flags & uapi::HRC_TIMER_ABSTIME != 0;
    let clock = l.data(slot).clock;
    let o = object(&mut l, slot)?;
    o.interval = interval;
    o.absolute = absolute;
    o.expired = false;
    if new.value == 0 {
        return Ok(old);
    }
    let expiry = if absolute {
        saturate(new.value)
    } else {
        engine
            .backend
            .now(clock)
            .saturating_add(saturate(new.value))
    };
    l.arm(slot, expiry, interval)?;
    Ok(old)
}

/// `timer_gettime`: time left and period.
pub(crate) fn gettime<B: Backend>(engine: &Engine<B>, id: u64) -> Result<Itimer> {
    let mut l = engine.lock();
    let slot = l.lookup_kind(id, Kind::Interval)?;
    current(&mut l, slot)
}

/// What [`info`] reports.
pub(crate) struct Info {
    pub(crate) flags: u32,
    pub(crate) overruns: u64,
    pub(crate) value: Itimer,
    pub(crate) clock: Clock,
    pub(crate) notify: u32,
}

/// QNX `TimerInfo`: state and overruns since the last reset; resets them on request.
pub(crate) fn info<B: Backend>(engine: &Engine<B>, id: u64, flags: u32) -> Result<Info> {
    if flags & !uapi::HRC_TIMER_RESET_OVERRUNS != 0 {
        return Err(EINVAL);
    }
    let mut l = engine.lock();
    let slot = l.lookup_kind(id, Kind::Interval)?;
    let value = current(&mut l, slot)?;
    let (armed, clock) = (l.data(slot).sched == Sched::Armed, l.data(slot).clock);
    let o = object(&mut l, slot)?;
    let mut state = 0;
    if armed {
        state |= uapi::HRC_TI_ACTIVE;
        if o.absolute {
            state |= uapi::HRC_TI_ABSOLUTE;
        }
    }
    if o.expired {
        state |= uapi::HRC_TI_EXPIRED;
    }
    let notify = match o.overrun {
        Overrun::Coalesce => uapi::HRC_NOTIFY_SI_TIMER,
        Overrun::QueueLimit => uapi::HRC_NOTIFY_MACH,
    };
    let overruns = o.total_overruns;
    if flags & uapi::HRC_TIMER_RESET_OVERRUNS != 0 {
        o.total_overruns = 0;
    }
    Ok(Info {
        flags: state,
        overruns,
        value,
        clock,
        notify,
    })
}

/// Mach `timer_arm`: `EINVAL` for a negative time or a periodic interval below the clock's
/// resolution (`KERN_INVALID_ARGUMENT`), `EBUSY` if already armed (`KERN_FAILURE`),
/// `EOPNOTSUPP` for `TIMER_THREAD_SUSPEND` (no per-thread suspend on Linux).
pub(crate) fn arm<B: Backend>(
    engine: &Engine<B>,
    id: u64,
    expire: i64,
    interval: i64,
    flags: u32,
) -> Result {
    let known = uapi::HRC_MACH_ABSOLUTE | uapi::HRC_MACH_PERIODIC | uapi::HRC_MACH_THREAD_SUSPEND;
    if flags & !known != 0 || expire < 0 || interval < 0 {
        return Err(EINVAL);
    }
    let periodic = flags & uapi::HRC_MACH_PERIODIC != 0;
    if periodic && (interval as u64) < timer::resolution_ns().max(1) {
        return Err(EINVAL);
    }
    if flags & uapi::HRC_MACH_THREAD_SUSPEND != 0 {
        return Err(EOPNOTSUPP);
    }
    let mut l = engine.lock();
    let slot = l.lookup_kind(id, Kind::Interval)?;
    if l.data(slot).sched == Sched::Armed {
        return Err(EBUSY);
    }
    let clock = l.data(slot).clock;
    let absolute = flags & uapi::HRC_MACH_ABSOLUTE != 0;
    let o = object(&mut l, slot)?;
    o.absolute = absolute;
    o.expired = false;
    // Mach: an expiry at or before now fires at once.
    let expiry = if absolute {
        expire
    } else {
        engine.backend.now(clock).saturating_add(expire)
    };
    l.arm(slot, expiry, if periodic { interval } else { 0 })
}

/// Mach `timer_cancel`: `EALREADY` if not armed. With `TIMER_PERIODIC` on a periodic timer
/// only the current interval is cancelled: the next expiry is one period later.
pub(crate) fn cancel<B: Backend>(engine: &Engine<B>, id: u64, flags: u32) -> Result {
    if flags & !uapi::HRC_MACH_PERIODIC != 0 {
        return Err(EINVAL);
    }
    let mut l = engine.lock();
    let slot = l.lookup_kind(id, Kind::Interval)?;
    if l.data(slot).sched != Sched::Armed {
        return Err(EALREADY);
    }
    let interval = object(&mut l, slot)?.interval;
    let expiry = l.expiry(slot);
    if flags & uapi::HRC_MACH_PERIODIC != 0 && interval > 0 {
        return l.arm(slot, expiry.saturating_add(interval), interval);
    }
    l.disarm(slot);
    Ok(())
}

/// The file's Mach queue limit.
pub(crate) fn set_qlimit<B: Backend>(engine: &Engine<B>, qlimit: u32) -> Result {
    if qlimit == 0 || qlimit > crate::max_timers() {
        return Err(EINVAL);
    }
    engine.lock().set_qlimit(qlimit);
    Ok(())
}

/// mTCP `mtcp_settimer`: a one-shot timer whose record carries `id`. Returns the engine id.
pub(crate) fn settimer<B: Backend>(
    engine: &Engine<B>,
    id: i32,
    tv_sec: i64,
    tv_usec: i64,
) -> Result<u64> {
    if tv_sec < 0 || !(0..1_000_000).contains(&tv_usec) {
        return Err(EINVAL);
    }
    let ns = tv_sec
        .saturating_mul(1_000_000_000)
        .saturating_add(tv_usec * 1000);
    let cookie = i64::from(id) as u64;
    engine.one_shot(
        Kind::Mtcp,
        cookie,
        When::After(ns),
        None,
        GFP_KERNEL_ACCOUNT,
    )
}
