// SPDX-License-Identifier: GPL-2.0

//! Ticks and nanoseconds: the one place the personalities convert between them.
//!
//! A tick is `1/CONFIG_HZ` s, the kernel's real HZ (250 on the test kernel), not the uapi `HZ`
//! of 100. Conversions saturate: a huge delay means "never", never a wrap into the past.

use kernel::bindings;

/// Nanoseconds per tick.
#[inline]
pub(crate) fn tick_ns() -> i64 {
    1_000_000_000 / i64::from(bindings::CONFIG_HZ)
}

/// Ticks to nanoseconds, saturating.
#[inline]
pub fn hztons(ticks: i64) -> i64 {
    ticks.saturating_mul(tick_ns())
}

/// Nanoseconds to ticks, rounded up (never early).
#[inline]
pub(crate) fn ns_to_ticks_ceil(ns: i64) -> i64 {
    let t = tick_ns();
    ns / t + i64::from(ns % t > 0)
}

/// `drv_usectohz`: microseconds to ticks, rounded up (never early), saturating.
pub fn drv_usectohz(usec: i64) -> i64 {
    ns_to_ticks_ceil(usec.saturating_mul(1000))
}

/// `drv_hztousec`: ticks to microseconds, saturating.
pub fn drv_hztousec(ticks: i64) -> i64 {
    hztons(ticks) / 1000
}

/// Nanoseconds from a tick-or-ns time and its "ns" flag: `EINVAL` for any other flag bit.
pub(crate) fn ticks_or_ns(time: i64, flags: u32, ns_flag: u32) -> kernel::error::Result<i64> {
    if flags & !ns_flag != 0 {
        return Err(kernel::error::code::EINVAL);
    }
    Ok(if flags & ns_flag != 0 {
        time
    } else {
        hztons(time)
    })
}
