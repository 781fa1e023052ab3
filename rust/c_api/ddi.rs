// SPDX-License-Identifier: GPL-2.0

//! `include/hrcallout/ddi.h`: STREAMS `timeout` / `dtimeout` / `untimeout` and the tick
//! conversions, for C drivers.

use crate::engine::{cpu_online, current_cpu, CFn, Call};
use crate::kernel_api::{arm_on, cancel};
use crate::streams::Owner;
use crate::ticks;
use core::ffi::{c_int, c_long, c_ulong, c_void};

/// The callback of a timeout armed with a null function: nothing.
extern "C" fn nothing(_: *mut c_void) {}

/// A driver's `fn(arg)` as an engine call (nothing, for a null `fn`).
///
/// # Safety
///
/// `fn(arg)` may be called once, in soft irq on any CPU, until the timeout is cancelled: the
/// driver's promise in `ddi.h` (its callback and argument stay valid while it is armed).
#[inline]
unsafe fn driver_call(func: Option<CFn>, arg: *mut c_void) -> Call {
    // SAFETY: the caller's promise; `nothing` is sound for any argument.
    unsafe { Call::new(func.unwrap_or(nothing), arg) }
}

/// `hrc_timeout()`: see `ddi.h`.
///
/// # Safety
///
/// As `ddi.h` says: `func(arg)` must be callable once in soft-irq context on this CPU until the
/// timeout has run or been cancelled.
#[no_mangle]
pub unsafe extern "C" fn hrc_timeout(func: Option<CFn>, arg: *mut c_void, ticks: c_long) -> c_long {
    // SAFETY: the caller's promise.
    let call = unsafe { driver_call(func, arg) };
    arm_on(current_cpu(), Owner::Foreign, call, ticks) as c_long
}

/// `hrc_dtimeout()`: see `ddi.h`. `pl` is ignored, as OpenSS7 does on Linux.
///
/// # Safety
///
/// As [`hrc_timeout`], on `cpu` (or a live CPU if it goes offline).
#[no_mangle]
pub unsafe extern "C" fn hrc_dtimeout(
    func: Option<CFn>,
    arg: *mut c_void,
    ticks: c_long,
    _pl: c_ulong,
    cpu: c_int,
) -> c_long {
    let Ok(cpu) = u32::try_from(cpu) else {
        return 0;
    };
    if !cpu_online(cpu) {
        return 0;
    }
    // SAFETY: the caller's promise.
    let call = unsafe { driver_call(func, arg) };
    arm_on(cpu, Owner::Foreign, call, ticks) as c_long
}

/// `hrc_untimeout()`: see `ddi.h`. Takes no pointer: any id is safe to pass.
#[no_mangle]
pub extern "C" fn hrc_untimeout(id: c_long) -> c_long {
    if id <= 0 {
        return -1;
    }
    cancel(Owner::Foreign, id as u64).map_or(-1, |(ticks, _)| ticks)
}

/// `hrc_drv_usectohz()`: see `ddi.h`.
#[no_mangle]
pub extern "C" fn hrc_drv_usectohz(usec: c_long) -> c_long {
    ticks::drv_usectohz(usec)
}

/// `hrc_drv_hztousec()`: see `ddi.h`.
#[no_mangle]
pub extern "C" fn hrc_drv_hztousec(ticks: c_long) -> c_long {
    ticks::drv_hztousec(ticks)
}
