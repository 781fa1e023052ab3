// SPDX-License-Identifier: GPL-2.0

//! Mach `timer_arm` / `timer_cancel` / `timer_info` on interval timers, the port's queue limit,
//! `thread_resume` (with `suspend.rs`), and their ioctls.

use super::suspend::{Thread, Threads};
use super::TAG;
use crate::engine::{hrtimer, Backend, Clock, Engine, Executor, ExpiryAction, Sched};
use crate::uapi;
use kernel::{prelude::*, sync::Arc};

/// Mach `timer_arm`: `EINVAL` for a negative time, or with `TIMER_PERIODIC` a negative interval
/// or one below the clock's resolution (`KERN_INVALID_ARGUMENT`; Mach checks the interval only
/// for periodic timers), or `TIMER_THREAD_SUSPEND` without a thread; `EBUSY` if already armed
/// (`KERN_FAILURE`). With `TIMER_THREAD_SUSPEND`, each expiry suspends `thread` once more
/// (`suspend.rs`).
pub(crate) fn arm<B: Backend, X: Executor>(
    engine: &Engine<B, X>,
    id: u64,
    expire: i64,
    interval: i64,
    flags: u32,
    thread: Option<Arc<Thread>>,
) -> Result {
    let known = uapi::HRC_MACH_ABSOLUTE | uapi::HRC_MACH_PERIODIC | uapi::HRC_MACH_THREAD_SUSPEND;
    if flags & !known != 0 || expire < 0 {
        return Err(EINVAL);
    }
    let periodic = flags & uapi::HRC_MACH_PERIODIC != 0;
    if periodic && (interval < 0 || (interval as u64) < hrtimer::resolution_ns().max(1)) {
        return Err(EINVAL);
    }
    if (flags & uapi::HRC_MACH_THREAD_SUSPEND != 0) != thread.is_some() {
        return Err(EINVAL);
    }
    // Its messages beyond its own record are reserved before it can expire.
    let (mut l, slot) = super::lock_timer(engine, id, true)?;
    let mut s = l.slot(slot);
    if s.sched() == Sched::Armed {
        return Err(EBUSY);
    }
    let absolute = flags & uapi::HRC_MACH_ABSOLUTE != 0;
    let o = s.object().ok_or(ENOENT)?;
    o.absolute = absolute;
    o.expired = false;
    // The previous arming's thread, if any, is let go (after the lock is dropped).
    let previous = core::mem::replace(&mut o.action, thread.map(|t| t as Arc<dyn ExpiryAction>));
    // Absolute times on the timer's clock, relative ones on CLOCK_MONOTONIC, or BOOTTIME for
    // a BOOTTIME timer (a clock step does not move a relative deadline).
    let clock = if absolute {
        o.clock
    } else {
        o.clock.for_relative()
    };
    let expiry = if absolute {
        super::absolute_on_host(engine, clock, expire)
    } else {
        engine.backend.now(clock).saturating_add(expire)
    };
    // Mach: the message of an expiry at or before now is queued before timer_arm returns.
    let r = l.arm_or_expire(slot, clock, expiry, if periodic { interval } else { 0 });
    drop(l);
    drop(previous);
    r
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

/// What [`info`] reports: Mach's `timer_basic_info`, and the time left.
#[derive(Debug)]
pub(crate) struct Info {
    /// `HRC_MACH_ABSOLUTE` / `HRC_MACH_PERIODIC` of the current arming; 0 if disarmed.
    pub(crate) flags: u32,
    pub(crate) armed: bool,
    /// The next expiry, absolute on the timer's clock (0 if disarmed), as Mach reports it.
    pub(crate) expire: i64,
    pub(crate) interval: i64,
    pub(crate) overruns: u64,
    /// Time left (0 if disarmed).
    pub(crate) left: i64,
    /// Its records in the file's queue.
    pub(crate) messages: u32,
    pub(crate) clock: Clock,
    /// `TIMER_THREAD_SUSPEND`'s thread and its suspend count ((0, 0): none).
    pub(crate) thread: (i32, u32),
}

/// Mach `timer_info(MACH_TIMER_BASIC_INFO)`: `ENOENT` for an unknown timer.
pub(crate) fn info<B: Backend, X: Executor>(engine: &Engine<B, X>, id: u64) -> Result<Info> {
    let mut l = engine.lock();
    let slot = l.lookup_tag(id, TAG)?;
    let left = l.remaining(slot);
    let messages = l.queued_records(slot);
    let mut s = l.slot(slot);
    let armed = s.sched() == Sched::Armed;
    let o = s.object().ok_or(ENOENT)?;
    let (clock, interval, absolute, overruns) =
        (o.clock, o.interval(), o.absolute, o.total_overruns);
    let thread = o.action.as_ref().map_or((0, 0), |a| a.target());
    let mut flags = 0;
    let mut expire = 0;
    if armed {
        if absolute {
            flags |= uapi::HRC_MACH_ABSOLUTE;
        }
        if interval > 0 {
            flags |= uapi::HRC_MACH_PERIODIC;
        }
        if thread.0 != 0 {
            flags |= uapi::HRC_MACH_THREAD_SUSPEND;
        }
        // Absolute on the timer's clock: a relative arming runs on its relative clock, so its
        // deadline is given as the timer's clock reads now plus the time left.
        expire = if absolute {
            l.expiry(slot)
        } else {
            engine.backend.now(clock).saturating_add(left)
        };
    }
    Ok(Info {
        flags,
        armed,
        expire,
        interval,
        overruns,
        left,
        messages,
        clock,
        thread,
    })
}

/// The file's Mach queue limit (the port's qlimit): 1 ..= `max_timers`; reserves records for a
/// queue that long (`ENOMEM` if it cannot: the limit is set all the same, and the expiries that
/// find no record are counted as missed).
pub(crate) fn set_qlimit<B: Backend, X: Executor>(engine: &Engine<B, X>, qlimit: u32) -> Result {
    if qlimit == 0 || qlimit > crate::max_timers() {
        return Err(EINVAL);
    }
    engine.lock().set_qlimit(qlimit);
    // Records for a queue this long, reserved now rather than when a timer expires.
    engine.reserve_messages(GFP_KERNEL_ACCOUNT)
}

/// `HRC_IOC_TIMER_ARM`: the thread of `TIMER_THREAD_SUSPEND` is one of the caller's process
/// (see [`Threads::get`]).
pub(crate) fn ioctl_arm<B: Backend, X: Executor>(
    e: &Engine<B, X>,
    threads: &Threads,
    a: &mut uapi::hrc_timer_arm,
) -> Result<isize> {
    let thread = if a.flags & uapi::HRC_MACH_THREAD_SUSPEND != 0 {
        Some(threads.get(a.tid)?)
    } else {
        None
    };
    arm(e, a.id, a.expire_ns, a.interval_ns, a.flags, thread).map(|()| 0)
}

/// `HRC_IOC_THREAD_RESUME`.
pub(crate) fn ioctl_thread_resume(
    threads: &Threads,
    r: &mut uapi::hrc_thread_resume,
) -> Result<isize> {
    r.count = threads.resume(r.tid)?;
    Ok(0)
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

/// `HRC_IOC_MACH_TIMER_INFO`.
pub(crate) fn ioctl_info<B: Backend, X: Executor>(
    e: &Engine<B, X>,
    t: &mut uapi::hrc_mach_timer_info,
) -> Result<isize> {
    let i = info(e, t.id)?;
    t.type_ = i.flags;
    t.enqueued = u32::from(i.armed);
    t.expire_ns = i.expire;
    t.interval_ns = i.interval;
    t.overruns = i.overruns;
    t.left_ns = i.left;
    t.messages = i.messages;
    t.clock = i.clock.uapi();
    (t.tid, t.suspend_count) = i.thread;
    Ok(0)
}
