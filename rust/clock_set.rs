// SPDX-License-Identifier: GPL-2.0

//! `CLOCK_REALTIME` being set (issue 23): the kernel's hook, the files that hear of it, and
//! the clock watch, whose records say it happened.
//!
//! The hook (`clock_set.c`) is the timekeeper's update notifier, the one KVM listens on: on an
//! update that set the clock it queues an irq work that queues a work item, which calls
//! [`Engine::clock_was_set`] on every real file's engine ([`register`]ed at open, [`forget`]ed at release); a virtual file
//! hears of its own steps only (`HRC_IOC_CLOCK_SET_REALTIME`). What an engine then does is
//! `engine/clock_set.rs`'s: a watch ([`ioctl_watch`]) gets an `HRC_EV_CLOCK_SET` record, and a
//! QNX timer armed with `HRC_TIMER_CANCEL_ON_SET` is disarmed with a record that says so.
//!
//! A set the work item has not run for yet is not lost: the item is queued again, and one run
//! covers every set before it (a watch's record stands for all of them, with the offset of the
//! latest). A timer that a step makes due may fire before the work item runs: then it was not
//! armed any more when the clock was set, and is not cancelled.
//!
//! [`Engine::clock_was_set`]: crate::engine::Engine::clock_was_set

use crate::engine::{Clock, Delivery, OnClockSet};
use crate::{uapi, HrEngine};
use kernel::{prelude::*, sync::Arc};

/// The kind of a watch's records, and the owner tag of its object.
pub(crate) const TAG: u8 = uapi::HRC_EV_CLOCK_SET as u8;

kernel::sync::global_lock! {
    // SAFETY: initialised in the module's `init` (`clock_set::init`) before the hook starts
    // and before any file exists.
    unsafe(uninit) static FILES: Mutex<KVec<Arc<HrEngine>>> = KVec::new();
}

/// Initialises the registry. Called once from module init.
pub(crate) fn init() {
    // SAFETY: called once, from module init, before the hook or any open can use `FILES`.
    unsafe { FILES.init() };
}

/// Adds a new file's engine to those told when the clock is set.
pub(crate) fn register(engine: &Arc<HrEngine>) -> Result {
    FILES.lock().push(engine.clone(), GFP_KERNEL)?;
    Ok(())
}

/// Removes a released file's engine.
pub(crate) fn forget(engine: &Arc<HrEngine>) {
    let mut files = FILES.lock();
    if let Some(i) = files.iter().position(|e| Arc::ptr_eq(e, engine)) {
        let last = files.len() - 1;
        files.swap(i, last);
        // Dropped after the lock (the caller holds another reference anyway).
        let gone = files.pop();
        drop(files);
        drop(gone);
    }
}

/// Called by the hook's work item (`clock_set.c`), in process context, after the clock was
/// set: every real file's engine hears of it.
#[no_mangle]
extern "C" fn hrc_clock_was_set() {
    let files = FILES.lock();
    for e in files.iter().filter(|e| !e.backend.is_virtual()) {
        e.clock_was_set();
    }
}

/// The hook on the kernel's timekeeping: listening while it lives.
pub(crate) struct Hook(());

impl Hook {
    /// Starts listening (after [`init`]).
    pub(crate) fn start() -> Result<Self> {
        // SAFETY: called from module init, once; `hrc_clock_was_set` may run from now on,
        // and `FILES` is initialised.
        kernel::error::to_result(unsafe { hrc_clock_set_start() })?;
        Ok(Self(()))
    }
}

impl Drop for Hook {
    fn drop(&mut self) {
        // SAFETY: started in `start`; after this no call of `hrc_clock_was_set` runs.
        unsafe { hrc_clock_set_stop() };
        // No file is left (the module is going): free the registry's buffer, which its
        // static would otherwise keep past the module.
        *FILES.lock() = KVec::new();
    }
}

unsafe extern "C" {
    /// Registers the timekeeping listener (`clock_set.c`): 0 or a negative errno.
    fn hrc_clock_set_start() -> core::ffi::c_int;
    /// Unregisters it and waits for its last work item.
    fn hrc_clock_set_stop();
}

/// `HRC_IOC_CLOCK_WATCH`: a watch of this file, whose records carry `cookie`. `EINVAL` for
/// non-zero flags; `ENOSPC` at the file's limits.
pub(crate) fn ioctl_watch(e: &HrEngine, a: &mut uapi::hrc_clock_watch) -> Result<isize> {
    if a.flags != 0 {
        return Err(EINVAL);
    }
    a.id = e.create(
        TAG,
        Delivery::Coalesce,
        Clock::Realtime,
        a.cookie,
        GFP_KERNEL_ACCOUNT,
        |l, slot| {
            l.set_on_clock_set(slot, OnClockSet::Notify);
            Ok(())
        },
    )?;
    Ok(0)
}

/// Takes back a watch whose id could not be copied out.
pub(crate) fn undo_watch(e: &HrEngine, a: &uapi::hrc_clock_watch) {
    let _ = unwatch(e, a.id);
}

/// `HRC_IOC_CLOCK_UNWATCH`: ends watch `id` and drops its unread record. `ENOENT` for an id
/// that is not a watch of this file.
pub(crate) fn ioctl_unwatch(e: &HrEngine, a: &mut uapi::hrc_callout_id) -> Result<isize> {
    unwatch(e, a.id)?;
    Ok(0)
}

fn unwatch(e: &HrEngine, id: u64) -> Result {
    let mut l = e.lock();
    let slot = l.lookup_tag(id, TAG)?;
    l.unqueue_record(slot);
    l.free(slot);
    Ok(())
}
