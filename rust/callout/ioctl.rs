// SPDX-License-Identifier: GPL-2.0

//! The callout ioctls: decoders from the UAPI structs to the callout calls.
//!
//! The C calls' int results are the ioctls' return values (`callout_stop`: 1 or 0;
//! `callout_active`/`pending`: 1 or 0).

use super::lock::{CalloutLock, LockKind};
use super::registry::LockRegistry;
use super::{spin, Callouts, Mode, Run, MAX_SPIN_US, MAX_WINDOW_US, TAG};
use crate::engine::{Backend, Engine};
use crate::ticks::ticks_or_ns;
use crate::uapi;
use kernel::{
    prelude::*,
    time::{delay, Delta},
};

type E<B> = Engine<B, Callouts>;

/// `HRC_IOC_CALLOUT_INIT`: `callout_init`, `_init_mp` or `_init_lk` with a lock of this file.
pub(crate) fn init<B: Backend>(
    e: &E<B>,
    locks: &LockRegistry,
    c: &mut uapi::hrc_callout_init,
) -> Result<isize> {
    let mode = match c.mode {
        uapi::HRC_CALLOUT_INIT if c.lock_id == 0 => Mode::Giant,
        uapi::HRC_CALLOUT_INIT_MP if c.lock_id == 0 => Mode::Mp,
        uapi::HRC_CALLOUT_INIT_LK => Mode::Lk(locks.get(c.lock_id)?),
        _ => return Err(EINVAL),
    };
    c.id = super::init(e, mode, GFP_KERNEL_ACCOUNT)?;
    Ok(0)
}

/// Undoes an `HRC_IOC_CALLOUT_INIT` whose id could not be copied out (the callout is new:
/// never armed, so destroying it does not wait).
pub(crate) fn undo_init<B: Backend>(e: &E<B>, c: &uapi::hrc_callout_init) {
    let _ = super::destroy(e, c.id);
}

/// `HRC_IOC_CALLOUT_RESET`: on the caller's CPU.
pub(crate) fn reset<B: Backend>(e: &E<B>, r: &mut uapi::hrc_callout_reset) -> Result<isize> {
    reset_on(e, r, None)
}

/// `HRC_IOC_CALLOUT_RESET_BYCPU`.
pub(crate) fn reset_bycpu<B: Backend>(
    e: &E<B>,
    r: &mut uapi::hrc_callout_reset_bycpu,
) -> Result<isize> {
    let cpu = r.cpu;
    reset_on(e, &r.reset, Some(cpu))
}

fn reset_on<B: Backend>(e: &E<B>, r: &uapi::hrc_callout_reset, cpu: Option<u32>) -> Result<isize> {
    let ns = ticks_or_ns(r.time, r.flags, uapi::HRC_CALLOUT_NS)?;
    let run = Run::Actions {
        mask: r.actions,
        us: r.us,
        repeat: r.repeat,
    };
    super::reset_on(e, r.id, cpu, ns, r.cookie, run)?;
    Ok(0)
}

/// `HRC_IOC_CALLOUT_STOP`: 1 or 0.
pub(crate) fn stop<B: Backend>(e: &E<B>, c: &mut uapi::hrc_callout_id) -> Result<isize> {
    super::stop(e, c.id).map(|v| v as isize)
}

/// `HRC_IOC_CALLOUT_STOP_ASYNC`: `stop`, result dropped.
pub(crate) fn stop_async<B: Backend>(e: &E<B>, c: &mut uapi::hrc_callout_id) -> Result<isize> {
    super::stop(e, c.id).map(|_| 0)
}

/// `HRC_IOC_CALLOUT_STOP_SYNC`: 1 or 0, after a running callback returned.
pub(crate) fn stop_sync<B: Backend>(e: &E<B>, c: &mut uapi::hrc_callout_id) -> Result<isize> {
    super::stop_sync(e, c.id).map(|v| v as isize)
}

/// `HRC_IOC_CALLOUT_ACTIVE`: 1 or 0.
pub(crate) fn active<B: Backend>(e: &E<B>, c: &mut uapi::hrc_callout_id) -> Result<isize> {
    super::active(e, c.id).map(|v| v as isize)
}

/// `HRC_IOC_CALLOUT_PENDING`: 1 or 0.
pub(crate) fn pending<B: Backend>(e: &E<B>, c: &mut uapi::hrc_callout_id) -> Result<isize> {
    super::pending(e, c.id).map(|v| v as isize)
}

/// `HRC_IOC_CALLOUT_DEACTIVATE`.
pub(crate) fn deactivate<B: Backend>(e: &E<B>, c: &mut uapi::hrc_callout_id) -> Result<isize> {
    super::deactivate(e, c.id).map(|()| 0)
}

/// `HRC_IOC_CALLOUT_DESTROY`.
pub(crate) fn destroy<B: Backend>(e: &E<B>, c: &mut uapi::hrc_callout_id) -> Result<isize> {
    super::destroy(e, c.id).map(|()| 0)
}

/// `HRC_IOC_LOCK_CREATE`.
pub(crate) fn lock_create(locks: &LockRegistry, c: &mut uapi::hrc_lock_create) -> Result<isize> {
    let kind = match c.kind {
        uapi::HRC_LOCK_MUTEX => LockKind::Mutex,
        uapi::HRC_LOCK_SPIN => LockKind::Spin,
        _ => return Err(EINVAL),
    };
    c.id = locks.create(kind)?;
    Ok(0)
}

/// Undoes an `HRC_IOC_LOCK_CREATE` whose id could not be copied out.
pub(crate) fn undo_lock_create(locks: &LockRegistry, c: &uapi::hrc_lock_create) {
    let _ = locks.destroy(c.id);
}

/// `HRC_IOC_LOCK_DESTROY`.
pub(crate) fn lock_destroy(locks: &LockRegistry, c: &mut uapi::hrc_callout_id) -> Result<isize> {
    locks.destroy(c.id).map(|()| 0)
}

/// `HRC_IOC_LOCK_HOLD` (a test ioctl): holds a lock of this file for `us` µs, then does `op`
/// on `callout_id` while still holding it. This is how userspace builds the "stop under the
/// lock" race window.
pub(crate) fn lock_hold<B: Backend>(
    e: &E<B>,
    locks: &LockRegistry,
    h: &mut uapi::hrc_lock_hold,
) -> Result<isize> {
    let lock = locks.get(h.lock_id)?;
    h.result = hold(e, &lock, h.us, h.op, h.callout_id)?;
    Ok(0)
}

fn hold<B: Backend>(
    e: &E<B>,
    lock: &CalloutLock,
    us: u32,
    op: u32,
    callout_id: u64,
) -> Result<i64> {
    let spinlock = lock.kind() == LockKind::Spin;
    if us > if spinlock { MAX_SPIN_US } else { MAX_WINDOW_US } {
        return Err(EINVAL);
    }
    if op != uapi::HRC_HOLD_NONE {
        // Validate the callout before taking the lock, and refuse a stop_sync under a spinlock
        // unless the callout uses this very lock (then it never waits).
        let mut l = e.lock();
        let slot = l.lookup_tag(callout_id, TAG)?;
        let own = matches!(
            l.object(slot).map(|o| &o.job.mode),
            Some(Some(Mode::Lk(lk))) if core::ptr::eq(&**lk, lock)
        );
        if spinlock && op == uapi::HRC_HOLD_STOP_SYNC && !own {
            return Err(EINVAL);
        }
    }
    let _guard = lock.lock();
    let window = Delta::from_micros(i64::from(us));
    if spinlock {
        spin(window);
    } else {
        delay::fsleep(window);
    }
    Ok(match op {
        uapi::HRC_HOLD_NONE => 0,
        uapi::HRC_HOLD_STOP => i64::from(super::stop(e, callout_id)?),
        uapi::HRC_HOLD_STOP_SYNC => i64::from(super::stop_sync(e, callout_id)?),
        _ => return Err(EINVAL),
    })
}
