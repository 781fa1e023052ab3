// SPDX-License-Identifier: GPL-2.0

//! `include/hrcallout/vclock.h`: the in-kernel [`VirtualClock`] for C drivers' tests.
//!
//! A `struct hrc_vclock *` is a boxed [`VirtualClock`] that `hrc_vclock_create` leaked and
//! `hrc_vclock_destroy` takes back; null and `ERR_PTR` values are refused, never followed.

use crate::kernel_api::VirtualClock;
use core::ffi::c_int;
use kernel::prelude::*;

/// The largest errno an `ERR_PTR` carries (`MAX_ERRNO`).
const MAX_ERRNO: usize = 4095;

/// `ERR_PTR(-errno)` of `e`.
fn err_ptr(e: Error) -> *mut VirtualClock {
    e.to_errno() as isize as *mut VirtualClock
}

/// The clock `vc` points to, or `None` for null and `ERR_PTR` values.
///
/// # Safety
///
/// Any other `vc` came from [`hrc_vclock_create`] and was not destroyed.
unsafe fn clock<'a>(vc: *mut VirtualClock) -> Option<&'a VirtualClock> {
    if vc.is_null() || vc as usize >= MAX_ERRNO.wrapping_neg() {
        return None;
    }
    // SAFETY: the caller's promise: a live boxed clock.
    Some(unsafe { &*vc })
}

/// `hrc_vclock_create()`: see `vclock.h`.
#[no_mangle]
pub extern "C" fn hrc_vclock_create(mono_ns: i64, real_ns: i64) -> *mut VirtualClock {
    let boxed = VirtualClock::new(mono_ns, real_ns)
        .and_then(|v| KBox::new(v, GFP_KERNEL).map_err(Error::from));
    match boxed {
        Ok(b) => KBox::into_raw(b),
        Err(e) => err_ptr(e),
    }
}

/// `hrc_vclock_advance()`: see `vclock.h`.
///
/// # Safety
///
/// `vc` is null, an `ERR_PTR`, or a clock from [`hrc_vclock_create`] not yet destroyed.
#[no_mangle]
pub unsafe extern "C" fn hrc_vclock_advance(vc: *mut VirtualClock, delta_ns: i64) -> c_int {
    // SAFETY: the caller's promise.
    let Some(v) = (unsafe { clock(vc) }) else {
        return EINVAL.to_errno();
    };
    v.advance(delta_ns).map_or_else(|e| e.to_errno(), |_| 0)
}

/// `hrc_vclock_now()`: see `vclock.h`.
///
/// # Safety
///
/// As [`hrc_vclock_advance`].
#[no_mangle]
pub unsafe extern "C" fn hrc_vclock_now(vc: *mut VirtualClock) -> i64 {
    // SAFETY: the caller's promise.
    unsafe { clock(vc) }.map_or(i64::from(EINVAL.to_errno()), VirtualClock::now)
}

/// `hrc_vclock_destroy()`: see `vclock.h`.
///
/// # Safety
///
/// As [`hrc_vclock_advance`]; `vc` is not used again.
#[no_mangle]
pub unsafe extern "C" fn hrc_vclock_destroy(vc: *mut VirtualClock) {
    // SAFETY: the caller's promise.
    if unsafe { clock(vc) }.is_some() {
        // SAFETY: a live clock from `hrc_vclock_create`'s `KBox::into_raw`, given back once.
        drop(unsafe { KBox::from_raw(vc) });
    }
}
