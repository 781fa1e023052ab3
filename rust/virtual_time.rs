// SPDX-License-Identifier: GPL-2.0

//! Virtual time for a file: the decoders of `HRC_IOC_CLOCK_*`.
//!
//! What virtual time is, and how an advance runs, is the engine's (`engine/timebase.rs`);
//! this module only turns the UAPI structs into its calls. Every personality runs on a virtual
//! file unchanged: each reads time and arms through its engine.

use crate::engine::{Backend, Clock, Executor, Timebase, DEFAULT_PASSES};
use crate::uapi;
use kernel::prelude::*;

type E<X> = crate::engine::Engine<Timebase, X>;

/// `HRC_IOC_CLOCK_VIRTUAL`.
pub(crate) fn ioctl_virtual<X: Executor>(e: &E<X>, v: &uapi::hrc_clock_virtual) -> Result<isize> {
    let (mono, real) = match v.flags {
        0 => (v.mono_ns, v.real_ns),
        uapi::HRC_CLOCK_VIRTUAL_AT_NOW if v.mono_ns == 0 && v.real_ns == 0 => {
            (Clock::Monotonic.now(), Clock::Realtime.now())
        }
        _ => return Err(EINVAL),
    };
    e.make_virtual(mono, real)?;
    Ok(0)
}

/// `HRC_IOC_CLOCK_ADVANCE`.
pub(crate) fn ioctl_advance<X: Executor>(
    e: &E<X>,
    a: &mut uapi::hrc_clock_advance,
) -> Result<isize> {
    let now = e.backend.now(Clock::Monotonic);
    let target = match a.flags {
        0 if a.ns >= 0 => now.saturating_add(a.ns),
        uapi::HRC_ADVANCE_ABS => a.ns,
        _ => return Err(EINVAL),
    };
    let budget = if a.max_passes == 0 {
        DEFAULT_PASSES
    } else {
        a.max_passes
    };
    let done = e.advance(target, budget)?;
    a.mono_ns = done.mono;
    a.real_ns = done.real;
    a.passes = done.passes;
    a.folded = u32::from(done.folded);
    Ok(0)
}

/// `HRC_IOC_CLOCK_NOW`.
pub(crate) fn ioctl_now<X: Executor>(e: &E<X>, n: &mut uapi::hrc_clock_now) -> Result<isize> {
    *n = uapi::hrc_clock_now {
        is_virtual: u32::from(e.backend.is_virtual()),
        mono_ns: e.backend.now(Clock::Monotonic),
        real_ns: e.backend.now(Clock::Realtime),
        ..Default::default()
    };
    Ok(0)
}

/// `HRC_IOC_CLOCK_SET_REALTIME`.
pub(crate) fn ioctl_set_realtime<X: Executor>(
    e: &E<X>,
    s: &mut uapi::hrc_clock_set_realtime,
) -> Result<isize> {
    s.step_ns = e.set_realtime(s.real_ns)?;
    Ok(0)
}
