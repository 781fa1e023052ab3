// SPDX-License-Identifier: GPL-2.0

//! mTCP `mtcp_settimer` on the engine, and its ioctl.
//!
//! A registration is a one-shot monotonic timer whose `HRC_EV_MTCP` record carries the
//! caller's integer id (sign-extended) as its cookie. mTCP has no cancel; `HRC_IOC_UNTIMEOUT`
//! accepts a registration's engine id for cleanup (see `streams`).

use crate::engine::{Backend, Engine, Executor, When};
use crate::uapi;
use kernel::prelude::*;

/// The tag of settimer registrations: their records' kind.
pub(crate) const TAG: u8 = uapi::HRC_EV_MTCP as u8;

/// `mtcp_settimer`: a one-shot timer whose record carries `id`. Returns the engine id.
/// `tv_sec < 0` or `tv_usec` outside `[0, 1000000)` is `EINVAL` (mTCP did not check).
pub(crate) fn settimer<B: Backend, X: Executor>(
    engine: &Engine<B, X>,
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
    engine.record_once(TAG, cookie, When::After(ns), GFP_KERNEL_ACCOUNT)
}

/// `HRC_IOC_SETTIMER`.
pub(crate) fn ioctl_settimer<B: Backend, X: Executor>(
    e: &Engine<B, X>,
    t: &mut uapi::hrc_settimer,
) -> Result<isize> {
    t.timer_id = settimer(e, t.id, t.tv_sec, t.tv_usec)?;
    Ok(0)
}

/// Undoes an `HRC_IOC_SETTIMER` whose engine id could not be copied out.
pub(crate) fn undo_settimer<B: Backend, X: Executor>(e: &Engine<B, X>, t: &uapi::hrc_settimer) {
    let mut l = e.lock();
    if let Ok(slot) = l.lookup_tag(t.timer_id, TAG) {
        l.discard_once(slot);
    }
}
