// SPDX-License-Identifier: GPL-2.0

//! `include/hrcallout/callout.h`: DragonFly `callout(9)` on caller-owned storage, for C
//! drivers.
//!
//! A `struct hrc_callout` holds a [`Handle`]: the id of a callout on a kernel engine and that
//! engine's CPU. `hrc_callout_init*` creates the engine callout, waiting for memory rather than
//! failing (DragonFly's `M_INTWAIT`), so nothing later allocates or fails for want of memory;
//! `hrc_callout_terminate` frees it. A handle that was never initialised (or was terminated)
//! is refused with `-EINVAL` and a warning, never followed.

use super::types::hrc_callout;
use crate::callout::{self, Callouts, ForeignLock, LockKind, Mode, Run};
use crate::engine::{cpu_count, current_cpu, CFn, Call};
use crate::engine::{Backend, Engine};
use crate::kernel_api::{engine_for, engine_of, on_engine, virtual_engine, EngineRef, VIRTUAL_CPU};
use core::{
    ffi::{c_int, c_void},
    mem::{align_of, size_of},
};
use kernel::{
    bindings, pr_warn_once,
    prelude::*,
    sync::atomic::{ordering, Atomic},
    time::{delay::fsleep, Delta},
};

/// What a `struct hrc_callout` holds, as this side sees its storage.
///
/// # Invariants
///
/// While `magic` is [`LIVE`], `id` is a callout on the kernel engine of CPU `cpu` (or, for
/// [`VIRTUAL_CPU`], of the virtual clock, while it exists), made by [`init_with`] and not
/// destroyed.
#[repr(C)]
struct Handle {
    id: Atomic<u64>,
    cpu: Atomic<u32>,
    magic: Atomic<u32>,
}

// The C storage must hold a handle: checked against the header's own layout.
const _: () = assert!(size_of::<Handle>() <= size_of::<hrc_callout>());
const _: () = assert!(align_of::<Handle>() <= align_of::<hrc_callout>());

/// `magic` of an initialised handle ("hrco").
const LIVE: u32 = 0x6872_636f;

/// The handle in the driver's storage at `c`, or `None` for a null pointer.
///
/// # Safety
///
/// A non-null `c` points to a `struct hrc_callout` of the caller's, valid for the call.
unsafe fn handle<'a>(c: *mut hrc_callout) -> Option<&'a Handle> {
    // SAFETY: the caller's promise; `Handle` fits in it and is aligned for it (checked above),
    // and it is only accessed through atomics, so concurrent calls on one callout do not race.
    unsafe { c.cast::<Handle>().as_ref() }
}

/// The engine and id of the initialised callout at `c`; warns (once) and gives `None` for a
/// null or uninitialised one.
///
/// # Safety
///
/// As [`handle`].
unsafe fn live(c: *mut hrc_callout, op: &str) -> Option<(EngineRef, u64)> {
    // SAFETY: the caller's promise.
    let h = unsafe { handle(c) }?;
    if h.magic.load(ordering::Acquire) != LIVE {
        pr_warn_once!("{} on an uninitialised or terminated callout\n", op);
        return None;
    }
    let e = match h.cpu.load(ordering::Relaxed) {
        VIRTUAL_CPU => match virtual_engine() {
            Some(e) => EngineRef::Virtual(e),
            None => {
                pr_warn_once!("{} on a callout of a virtual clock that is gone\n", op);
                return None;
            }
        },
        // By the type invariant, a live handle's CPU engine exists while the module is loaded.
        cpu => EngineRef::Cpu(engine_of(cpu)?),
    };
    Some((e, h.id.load(ordering::Relaxed)))
}

/// Makes the callout of `h` a new one of `mode` on `e`, the engine of `cpu` (or the virtual
/// clock's, for [`VIRTUAL_CPU`]), waiting for memory rather than failing; false if `e` is at
/// its `max_timers` cap.
fn init_on<B: Backend>(h: &Handle, e: &Engine<B, Callouts>, cpu: u32, mode: &Mode) -> bool {
    loop {
        match callout::init(e, mode.clone(), GFP_KERNEL) {
            Ok(id) => {
                h.id.store(id, ordering::Relaxed);
                h.cpu.store(cpu, ordering::Relaxed);
                // INVARIANT: `id` is a new callout on `cpu`'s engine.
                h.magic.store(LIVE, ordering::Release);
                return true;
            }
            // No memory now: wait for some, as DragonFly's M_INTWAIT does.
            Err(e) if e == ENOMEM => fsleep(Delta::from_millis(10)),
            // This engine is at its cap.
            Err(_) => return false,
        }
    }
}

/// `hrc_callout_init*`: a new callout of `mode` on the calling CPU's engine (or, when that one
/// is at its `max_timers` cap, another CPU's; or the virtual clock's, for its owner), waiting
/// for memory rather than failing.
///
/// # Safety
///
/// As [`handle`].
unsafe fn init_with(c: *mut hrc_callout, mode: Mode) {
    // SAFETY: the caller's promise.
    let Some(h) = (unsafe { handle(c) }) else {
        pr_warn_once!("callout_init of a null callout\n");
        return;
    };
    h.magic.store(0, ordering::Relaxed);
    let (home, n) = (current_cpu(), cpu_count());
    if let Some(EngineRef::Virtual(e)) = engine_for(home) {
        if !init_on(h, &e, VIRTUAL_CPU, &mode) {
            pr_err!("callout_init: the virtual clock is at max_timers; callout unusable\n");
        }
        return;
    }
    for cpu in Iterator::chain(home..n, 0..home.min(n)) {
        if engine_of(cpu).is_some_and(|e| init_on(h, e, cpu, &mode)) {
            return;
        }
    }
    pr_err!("callout_init: every kernel engine is at max_timers; callout unusable\n");
}

/// `hrc_callout_init()`: see `callout.h`.
///
/// # Safety
///
/// `c` is null or points to a `struct hrc_callout` of the caller's, not in use by another call.
#[no_mangle]
pub unsafe extern "C" fn hrc_callout_init(c: *mut hrc_callout) {
    // SAFETY: the caller's promise.
    unsafe { init_with(c, Mode::Giant) }
}

/// `hrc_callout_init_mp()`: see `callout.h`.
///
/// # Safety
///
/// As [`hrc_callout_init`].
#[no_mangle]
pub unsafe extern "C" fn hrc_callout_init_mp(c: *mut hrc_callout) {
    // SAFETY: the caller's promise.
    unsafe { init_with(c, Mode::Mp) }
}

/// `hrc_callout_init_lk()`: see `callout.h`.
///
/// # Safety
///
/// As [`hrc_callout_init`]; `lk` is null or an initialised mutex that outlives the callout.
#[no_mangle]
pub unsafe extern "C" fn hrc_callout_init_lk(c: *mut hrc_callout, lk: *mut bindings::mutex) {
    if lk.is_null() {
        pr_warn_once!("callout_init_lk with a null lock\n");
        return;
    }
    // SAFETY: the caller promises a mutex that outlives the callout, whose state holds the
    // `ForeignLock` (and its copies) until `hrc_callout_terminate` frees it.
    let lock = unsafe { ForeignLock::new(LockKind::Mutex, lk.cast()) };
    // SAFETY: the caller's promise.
    unsafe { init_with(c, Mode::Foreign(lock)) }
}

/// `hrc_callout_init_spin()`: see `callout.h`.
///
/// # Safety
///
/// As [`hrc_callout_init`]; `lk` is null or an initialised spinlock that outlives the callout.
#[no_mangle]
pub unsafe extern "C" fn hrc_callout_init_spin(c: *mut hrc_callout, lk: *mut bindings::spinlock_t) {
    if lk.is_null() {
        pr_warn_once!("callout_init_spin with a null lock\n");
        return;
    }
    // SAFETY: as in `hrc_callout_init_lk`, for a spinlock.
    let lock = unsafe { ForeignLock::new(LockKind::Spin, lk.cast()) };
    // SAFETY: the caller's promise.
    unsafe { init_with(c, Mode::Foreign(lock)) }
}

/// A C result: 0, or a negative errno.
fn to_c(r: Result) -> c_int {
    r.map_or_else(|e| e.to_errno(), |()| 0)
}

/// `hrc_callout_reset()` and `hrc_callout_reset_bycpu()` (`cpu` given).
///
/// # Safety
///
/// As [`handle`]; `func(arg)` may be called in thread context on any CPU until the callout is
/// stopped, reset with another function, or terminated.
unsafe fn reset(
    c: *mut hrc_callout,
    cpu: Option<c_int>,
    ticks: c_int,
    func: Option<CFn>,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: the caller's promise.
    let Some((e, id)) = (unsafe { live(c, "callout_reset") }) else {
        return EINVAL.to_errno();
    };
    let Some(func) = func else {
        return EINVAL.to_errno();
    };
    let cpu = match cpu.map(u32::try_from) {
        None => None,
        Some(Ok(cpu)) => Some(cpu),
        Some(Err(_)) => return EINVAL.to_errno(),
    };
    // SAFETY: the caller's promise (callout.h: the function and its argument stay valid until
    // the callout is stopped, reset with another, or terminated).
    let run = Run::Func(unsafe { Call::new(func, arg) });
    let delay = crate::ticks::hztons(i64::from(ticks));
    to_c(on_engine!(&e, e => callout::reset_on(e, id, cpu, delay, 0, run)))
}

/// `hrc_callout_reset()`: see `callout.h`.
///
/// # Safety
///
/// As `callout.h` says: `c` is null or a caller's callout; `func(arg)` may be called in thread
/// context on any CPU until the callout is stopped, reset with another function, or terminated.
#[no_mangle]
pub unsafe extern "C" fn hrc_callout_reset(
    c: *mut hrc_callout,
    ticks: c_int,
    func: Option<CFn>,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: the caller's promise.
    unsafe { reset(c, None, ticks, func, arg) }
}

/// `hrc_callout_reset_bycpu()`: see `callout.h`.
///
/// # Safety
///
/// As [`hrc_callout_reset`].
#[no_mangle]
pub unsafe extern "C" fn hrc_callout_reset_bycpu(
    c: *mut hrc_callout,
    ticks: c_int,
    func: Option<CFn>,
    arg: *mut c_void,
    cpu: c_int,
) -> c_int {
    // SAFETY: the caller's promise.
    unsafe { reset(c, Some(cpu), ticks, func, arg) }
}

/// `with!(c, op, none, |e, id| body)`: `body` on the initialised callout at `c` (its engine,
/// of whichever type, and id), or `none` for a null or uninitialised one. Unsafe: `c` as for
/// [`handle`].
macro_rules! with {
    ($c:expr, $op:expr, $none:expr, |$e:ident, $id:ident| $body:expr) => {
        // SAFETY: the caller's promise, as for `handle`.
        match unsafe { live($c, $op) } {
            Some((r, $id)) => on_engine!(&r, $e => $body),
            None => $none,
        }
    };
}

/// `hrc_callout_stop()`: see `callout.h`.
///
/// # Safety
///
/// `c` is null or points to a `struct hrc_callout` of the caller's.
#[no_mangle]
pub unsafe extern "C" fn hrc_callout_stop(c: *mut hrc_callout) -> c_int {
    with!(c, "callout_stop", 0, |e, id| {
        callout::stop(e, id).unwrap_or(0)
    })
}

/// `hrc_callout_stop_async()`: see `callout.h`.
///
/// # Safety
///
/// As [`hrc_callout_stop`].
#[no_mangle]
pub unsafe extern "C" fn hrc_callout_stop_async(c: *mut hrc_callout) {
    with!(c, "callout_stop_async", (), |e, id| {
        let _ = callout::stop(e, id);
    })
}

/// `hrc_callout_stop_sync()`: see `callout.h`.
///
/// # Safety
///
/// As [`hrc_callout_stop`].
#[no_mangle]
pub unsafe extern "C" fn hrc_callout_stop_sync(c: *mut hrc_callout) -> c_int {
    with!(c, "callout_stop_sync", 0, |e, id| {
        callout::stop_sync(e, id).unwrap_or(0)
    })
}

/// `hrc_callout_active()`: see `callout.h`.
///
/// # Safety
///
/// As [`hrc_callout_stop`].
#[no_mangle]
pub unsafe extern "C" fn hrc_callout_active(c: *mut hrc_callout) -> c_int {
    with!(c, "callout_active", 0, |e, id| {
        callout::active(e, id).unwrap_or(0)
    })
}

/// `hrc_callout_pending()`: see `callout.h`.
///
/// # Safety
///
/// As [`hrc_callout_stop`].
#[no_mangle]
pub unsafe extern "C" fn hrc_callout_pending(c: *mut hrc_callout) -> c_int {
    with!(c, "callout_pending", 0, |e, id| {
        callout::pending(e, id).unwrap_or(0)
    })
}

/// `hrc_callout_deactivate()`: see `callout.h`.
///
/// # Safety
///
/// As [`hrc_callout_stop`].
#[no_mangle]
pub unsafe extern "C" fn hrc_callout_deactivate(c: *mut hrc_callout) {
    with!(c, "callout_deactivate", (), |e, id| {
        let _ = callout::deactivate(e, id);
    })
}

/// `hrc_callout_terminate()`: see `callout.h`.
///
/// # Safety
///
/// As [`hrc_callout_stop`].
#[no_mangle]
pub unsafe extern "C" fn hrc_callout_terminate(c: *mut hrc_callout) -> c_int {
    // SAFETY: the caller's promise.
    let Some(h) = (unsafe { handle(c) }) else {
        return EINVAL.to_errno();
    };
    let r = with!(c, "callout_terminate", Err(EINVAL), |e, id| {
        callout::destroy(e, id)
    });
    if r != Err(EBUSY) && r != Err(EINVAL) {
        // Freed (or gone with a dying engine): the storage is the caller's again.
        h.magic.store(0, ordering::Release);
    }
    to_c(r)
}
