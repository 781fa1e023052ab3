// SPDX-License-Identifier: GPL-2.0

//! The ioctl table: from each ioctl number to its UAPI struct and its owner's decoder.
//!
//! [`with_arg`] reads the struct (for `_IOW`/`_IOWR`), checks its reserved fields
//! ([`UapiArg::check`]), lets the decoder update it, and writes it back (for `_IOR`/`_IOWR`).
//! The size encoded in the number may exceed the struct's (a newer caller) if the extra bytes
//! are zero; a smaller size is `EINVAL`. Each arm of the table is one line that calls the
//! decoder of the personality that owns the ioctl.

use super::Context;
use crate::callout::ioctl as callout;
use crate::itimer::{self, mach, qnx};
use crate::uapi::{self, UapiArg};
use crate::{clock_set, engine::hrtimer, mtcp, streams, virtual_time, HrEngine};
use core::mem::size_of;
use kernel::{
    bindings,
    ioctl::{_IOC_DIR, _IOC_SIZE, _IOC_TYPE},
    prelude::*,
    uaccess::{UserPtr, UserSlice, UserSliceReader},
};

/// Reads the ioctl argument `T`, checks it, lets `f` update it, and writes it back for
/// `_IOR`/`_IOWR`. If that last copy fails, `undo` takes back what `f` made (an object whose
/// id the caller cannot learn must not exist) before the call fails with `EFAULT`.
#[inline]
fn with_arg<T: UapiArg>(
    cmd: u32,
    arg: usize,
    f: impl FnOnce(&mut T) -> Result<isize>,
    undo: impl FnOnce(&T),
) -> Result<isize> {
    let size = _IOC_SIZE(cmd);
    if size < size_of::<T>() {
        return Err(EINVAL);
    }
    let dir = _IOC_DIR(cmd);
    let user = UserSlice::new(UserPtr::from_addr(arg), size);
    let (mut reader, mut writer) = user.reader_writer();
    let mut val = T::default();
    if dir & kernel::uapi::_IOC_WRITE != 0 {
        val = reader.read::<T>()?;
        if size > size_of::<T>() {
            check_zero_tail(&mut reader, size - size_of::<T>())?;
        }
        val.check()?;
    }
    let ret = f(&mut val)?;
    if dir & kernel::uapi::_IOC_READ != 0 {
        if let Err(e) = writer.write(&val) {
            undo(&val);
            return Err(e);
        }
    }
    Ok(ret)
}

/// Checks that the `left` bytes a newer caller appended to an argument are zero (`E2BIG` if
/// not). Out of line: only such callers pay for its buffer.
#[cold]
fn check_zero_tail(reader: &mut UserSliceReader, mut left: usize) -> Result {
    let mut rest = [0u8; 64];
    while left > 0 {
        let n = left.min(rest.len());
        reader.read_slice(&mut rest[..n])?;
        if rest[..n].iter().any(|b| *b != 0) {
            return Err(E2BIG);
        }
        left -= n;
    }
    Ok(())
}

/// An ioctl number without its size bits: [`with_arg`] checks the size, so that a newer
/// caller with a larger struct still reaches the same decoder.
const fn key(cmd: u32) -> u32 {
    cmd & !(((1 << bindings::_IOC_SIZEBITS) - 1) << bindings::_IOC_SIZESHIFT)
}

/// The table: `NUMBER => |arg: struct| decoder,` for each ioctl, and for one that creates
/// something, `; undo |arg| how to take it back` (see [`with_arg`]).
macro_rules! ioctl_table {
    ($cmd:ident, $arg:ident;
     $($num:ident => |$a:ident: $t:ident| $decode:expr $(; undo |$u:ident| $undo:expr)?,)*) => {
        match key($cmd) {
            $(k if k == key(uapi::$num) => with_arg(
                $cmd,
                $arg,
                |$a: &mut uapi::$t| $decode,
                |_made: &uapi::$t| {
                    $(let $u = _made; $undo;)?
                },
            ),)*
            _ => Err(ENOTTY),
        }
    };
}

/// Decodes and runs one ioctl of file `ctx`.
pub(super) fn dispatch(ctx: &Context, cmd: u32, arg: usize) -> Result<isize> {
    if _IOC_TYPE(cmd) != uapi::HRC_IOC_MAGIC {
        return Err(ENOTTY);
    }
    let (e, locks, threads) = (&*ctx.engine, &ctx.locks, &ctx.threads);
    ioctl_table! { cmd, arg;
        HRC_IOC_INFO => |a: hrc_info| info(e, a),
        // STREAMS timeout(9).
        HRC_IOC_TIMEOUT => |a: hrc_timeout| streams::ioctl_timeout(e, a); undo |a| streams::undo_timeout(e, a),
        HRC_IOC_UNTIMEOUT => |a: hrc_untimeout| streams::ioctl_untimeout(e, a),
        HRC_IOC_BATCH => |a: hrc_batch| streams::ioctl_batch(e, a); undo |a| streams::undo_batch(e, a),
        // DragonFly callout(9) and its locks.
        HRC_IOC_CALLOUT_INIT => |a: hrc_callout_init| callout::init(e, locks, a); undo |a| callout::undo_init(e, a),
        HRC_IOC_CALLOUT_RESET => |a: hrc_callout_reset| callout::reset(e, a),
        HRC_IOC_CALLOUT_RESET_BYCPU => |a: hrc_callout_reset_bycpu| callout::reset_bycpu(e, a),
        HRC_IOC_CALLOUT_STOP => |a: hrc_callout_id| callout::stop(e, a),
        HRC_IOC_CALLOUT_STOP_ASYNC => |a: hrc_callout_id| callout::stop_async(e, a),
        HRC_IOC_CALLOUT_STOP_SYNC => |a: hrc_callout_id| callout::stop_sync(e, a),
        HRC_IOC_CALLOUT_ACTIVE => |a: hrc_callout_id| callout::active(e, a),
        HRC_IOC_CALLOUT_PENDING => |a: hrc_callout_id| callout::pending(e, a),
        HRC_IOC_CALLOUT_DEACTIVATE => |a: hrc_callout_id| callout::deactivate(e, a),
        HRC_IOC_CALLOUT_DESTROY => |a: hrc_callout_id| callout::destroy(e, a),
        HRC_IOC_LOCK_CREATE => |a: hrc_lock_create| callout::lock_create(locks, a); undo |a| callout::undo_lock_create(locks, a),
        HRC_IOC_LOCK_DESTROY => |a: hrc_callout_id| callout::lock_destroy(locks, a),
        // Interval timers: QNX and Mach.
        HRC_IOC_TIMER_CREATE => |a: hrc_timer_create| itimer::ioctl_create(e, a); undo |a| itimer::undo_create(e, a),
        HRC_IOC_TIMER_DELETE => |a: hrc_callout_id| itimer::ioctl_delete(e, a),
        HRC_IOC_TIMER_SETTIME => |a: hrc_timer_settime| qnx::ioctl_settime(e, a),
        HRC_IOC_TIMER_GETTIME => |a: hrc_timer_gettime| qnx::ioctl_gettime(e, a),
        HRC_IOC_TIMER_INFO => |a: hrc_timer_info| qnx::ioctl_info(e, a),
        HRC_IOC_TIMER_ARM => |a: hrc_timer_arm| mach::ioctl_arm(e, threads, a),
        HRC_IOC_TIMER_CANCEL => |a: hrc_timer_cancel| mach::ioctl_cancel(e, a),
        HRC_IOC_SET_QLIMIT => |a: hrc_qlimit| mach::ioctl_set_qlimit(e, a),
        HRC_IOC_MACH_TIMER_INFO => |a: hrc_mach_timer_info| mach::ioctl_info(e, a),
        HRC_IOC_THREAD_RESUME => |a: hrc_thread_resume| mach::ioctl_thread_resume(threads, a),
        // mTCP.
        HRC_IOC_SETTIMER => |a: hrc_settimer| mtcp::ioctl_settimer(e, a); undo |a| mtcp::undo_settimer(e, a),
        // Virtual time.
        HRC_IOC_CLOCK_VIRTUAL => |a: hrc_clock_virtual| virtual_time::ioctl_virtual(e, a),
        HRC_IOC_CLOCK_ADVANCE => |a: hrc_clock_advance| virtual_time::ioctl_advance(e, a),
        HRC_IOC_CLOCK_NOW => |a: hrc_clock_now| virtual_time::ioctl_now(e, a),
        HRC_IOC_CLOCK_SET_REALTIME => |a: hrc_clock_set_realtime| virtual_time::ioctl_set_realtime(e, a),
        HRC_IOC_CLOCK_WATCH => |a: hrc_clock_watch| clock_set::ioctl_watch(e, a); undo |a| clock_set::undo_watch(e, a),
        HRC_IOC_CLOCK_UNWATCH => |a: hrc_callout_id| clock_set::ioctl_unwatch(e, a),
        // Debugging and tests.
        HRC_IOC_CHECK => |a: hrc_check| check(e, a),
        HRC_IOC_LOCK_HOLD => |a: hrc_lock_hold| callout::lock_hold(e, locks, a),
        HRC_IOC_BENCH => |a: hrc_bench| bench(ctx, a),
    }
}

/// The debugging options of this kernel that slow down the paths the benchmarks time
/// (`HRC_INFO_*`), so that a harness can refuse to time on such a kernel.
fn kernel_debug() -> u32 {
    let mut d = 0;
    if cfg!(CONFIG_LOCKDEP) {
        d |= uapi::HRC_INFO_LOCKDEP;
    }
    if cfg!(CONFIG_KASAN) {
        d |= uapi::HRC_INFO_KASAN;
    }
    if cfg!(CONFIG_KCSAN) {
        d |= uapi::HRC_INFO_KCSAN;
    }
    if cfg!(CONFIG_DEBUG_KMEMLEAK) {
        d |= uapi::HRC_INFO_KMEMLEAK;
    }
    d
}

/// `HRC_IOC_INFO`: what this module is and what it allows.
fn info(e: &HrEngine, i: &mut uapi::hrc_info) -> Result<isize> {
    *i = uapi::hrc_info {
        abi_version: uapi::HRC_ABI_VERSION,
        hz: bindings::CONFIG_HZ,
        resolution_ns: hrtimer::resolution_ns(),
        max_timers: crate::max_timers(),
        // Records live in their timer's slot, so the queue is bounded by the same cap.
        max_events: crate::max_timers(),
        event_size: size_of::<uapi::hrc_event>() as u32,
        qlimit: e.lock().qlimit(),
        kernel_debug: kernel_debug(),
        max_user_timers: e.quota().map_or(0, |(_, limit)| limit as u32),
        ..Default::default()
    };
    Ok(0)
}

/// `HRC_IOC_CHECK`: the engine's consistency check of this file.
fn check(e: &HrEngine, c: &mut uapi::hrc_check) -> Result<isize> {
    let k = e.check();
    *c = uapi::hrc_check {
        ok: u32::from(k.ok),
        live: k.live,
        queued: k.queued,
        free: k.free,
        slots: k.slots,
        ..Default::default()
    };
    Ok(0)
}

/// `HRC_IOC_BENCH`: only in a module built with the benchmarks (`make bench`) and loaded with
/// `enable_bench=1`; otherwise `EPERM`, or `EOPNOTSUPP` if enabled in a module built without.
fn bench(ctx: &Context, b: &mut uapi::hrc_bench) -> Result<isize> {
    if !crate::bench_enabled() {
        return Err(EPERM);
    }
    #[cfg(hrc_bench)]
    {
        crate::bench::ioctl(&ctx.engine, b)
    }
    #[cfg(not(hrc_bench))]
    {
        let _ = (ctx, b);
        Err(EOPNOTSUPP)
    }
}
