// SPDX-License-Identifier: GPL-2.0

//! QNX `TimerSettime` / `TimerInfo` (and `timer_gettime`) on interval timers, and their ioctls.

use super::{current, lock_timer, qnx_errno, signed, Itimer, DELAYTIMER_MAX, TAG};
use crate::engine::{Backend, Clock, Engine, Executor, OnClockSet, Sched};
use crate::uapi;
use kernel::prelude::*;

/// QNX `TimerSettime`: replaces the setting and returns the old one; never blocks.
/// `value == 0` disarms; an absolute time in the past fires at once, within this call. An
/// unread record of the replaced setting is dropped. With `HRC_TIMER_CANCEL_ON_SET` (and
/// `HRC_TIMER_ABSTIME`, on a `CLOCK_REALTIME` or `CLOCK_TAI` timer) the arming is cancelled if
/// the clock is set before it expires (`engine/clock_set.rs`). `EINVAL` for an unknown
/// timer, unknown flags, `HRC_TIMER_CANCEL_ON_SET` without those, or a negative value or
/// interval (2^63 ns and more).
pub(crate) fn settime<B: Backend, X: Executor>(
    engine: &Engine<B, X>,
    id: u64,
    flags: u32,
    new: Itimer,
) -> Result<Itimer> {
    if flags & !(uapi::HRC_TIMER_ABSTIME | uapi::HRC_TIMER_CANCEL_ON_SET) != 0 {
        return Err(EINVAL);
    }
    let cancel_on_set = flags & uapi::HRC_TIMER_CANCEL_ON_SET != 0;
    if cancel_on_set && flags & uapi::HRC_TIMER_ABSTIME == 0 {
        return Err(EINVAL);
    }
    let (value, interval) = (signed(new.value)?, signed(new.interval)?);
    // A pulse timer's messages beyond its own record are reserved before it can expire.
    let (mut l, slot) = lock_timer(engine, id, value != 0).map_err(qnx_errno)?;
    // Only an absolute time on a clock that can be set can be cancelled by a set.
    if cancel_on_set
        && !matches!(
            l.object(slot).ok_or(ENOENT)?.clock,
            Clock::Realtime | Clock::Tai
        )
    {
        return Err(EINVAL);
    }
    let old = current(&mut l, slot)?;
    l.disarm(slot);
    // A record of the setting being replaced that is still unread is not delivered: POSIX
    // timers drop the signal of a previous arming on re-arm or disarm (Linux since 6.13;
    // kselftest posix_timers check_rearm). Its expiries still count in TimerInfo.
    l.unqueue_record(slot);
    let absolute = flags & uapi::HRC_TIMER_ABSTIME != 0;
    let on_set = if cancel_on_set {
        OnClockSet::Cancel {
            flags: uapi::HRC_EVF_CANCELED,
        }
    } else {
        OnClockSet::Nothing
    };
    let o = l.object(slot).ok_or(ENOENT)?;
    o.set_interval(interval);
    o.absolute = absolute;
    o.expired = false;
    if value == 0 {
        l.set_on_clock_set(slot, OnClockSet::Nothing);
        return Ok(old);
    }
    // Absolute times on the timer's clock; relative ones on CLOCK_MONOTONIC (CLOCK_BOOTTIME
    // for a BOOTTIME timer), so that clock_settime does not move them (POSIX).
    let clock = if absolute {
        o.clock
    } else {
        o.clock.for_relative()
    };
    l.set_on_clock_set(slot, on_set);
    let expiry = if absolute {
        super::absolute_on_host(engine, clock, value)
    } else {
        engine.backend.now(clock).saturating_add(value)
    };
    if absolute {
        // QNX: a TIMER_ABSTIME in the past is delivered immediately, within this call.
        l.arm_or_expire(slot, clock, expiry, interval)?;
    } else {
        l.arm_on(slot, clock, expiry, interval)?;
    }
    Ok(old)
}

/// `timer_gettime`: time left and period. `EINVAL` for an unknown timer.
pub(crate) fn gettime<B: Backend, X: Executor>(engine: &Engine<B, X>, id: u64) -> Result<Itimer> {
    let mut l = engine.lock();
    let slot = l.lookup_tag(id, TAG).map_err(qnx_errno)?;
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

/// QNX `TimerInfo`: state and overruns since the last reset (saturating at `DELAYTIMER_MAX`);
/// resets them on request. `EINVAL` for an unknown timer.
pub(crate) fn info<B: Backend, X: Executor>(
    engine: &Engine<B, X>,
    id: u64,
    flags: u32,
) -> Result<Info> {
    if flags & !uapi::HRC_TIMER_RESET_OVERRUNS != 0 {
        return Err(EINVAL);
    }
    let mut l = engine.lock();
    let slot = l.lookup_tag(id, TAG).map_err(qnx_errno)?;
    let value = current(&mut l, slot)?;
    let mut s = l.slot(slot);
    let armed = s.sched() == Sched::Armed;
    let o = s.object().ok_or(ENOENT)?;
    // The timer's clock, not the current arming's.
    let clock = o.clock;
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
    let notify = o.owner_word;
    let overruns = o.total_overruns.min(DELAYTIMER_MAX);
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

/// `HRC_IOC_TIMER_SETTIME`.
pub(crate) fn ioctl_settime<B: Backend, X: Executor>(
    e: &Engine<B, X>,
    t: &mut uapi::hrc_timer_settime,
) -> Result<isize> {
    t.old = settime(e, t.id, t.flags, t.value.into())?.into();
    Ok(0)
}

/// `HRC_IOC_TIMER_GETTIME`.
pub(crate) fn ioctl_gettime<B: Backend, X: Executor>(
    e: &Engine<B, X>,
    t: &mut uapi::hrc_timer_gettime,
) -> Result<isize> {
    t.value = gettime(e, t.id)?.into();
    Ok(0)
}

/// `HRC_IOC_TIMER_INFO`.
pub(crate) fn ioctl_info<B: Backend, X: Executor>(
    e: &Engine<B, X>,
    t: &mut uapi::hrc_timer_info,
) -> Result<isize> {
    let i = info(e, t.id, t.flags)?;
    t.info_flags = i.flags;
    t.overruns = i.overruns;
    t.value = i.value.into();
    t.clock = i.clock.uapi();
    t.notify = i.notify;
    Ok(0)
}
