// SPDX-License-Identifier: GPL-2.0

//! Per-user limits (issue 23): every file a user opens is charged to that user's one
//! [`Quota`] of `max_user_timers` slots, so that opening more files does not buy more timers.
//!
//! A user is the opener's effective uid (a `kuid`, so the same user in every namespace), as
//! inotify and `RLIMIT_SIGPENDING` count users; a file passed to another process stays
//! charged to its opener. An opener with `CAP_SYS_RESOURCE` or `CAP_SYS_ADMIN` is not limited
//! (as for pipe buffers); its files are bounded by `max_timers` each, as before.
//!
//! The registry is a list of the users with a file alive, searched at open only. A user's
//! entry is forgotten at a later open once no engine is charged to it any more.

use crate::engine::{Charge, Quota};
use kernel::{bindings, prelude::*, sync::Arc, task::Kuid};

kernel::sync::global_lock! {
    // SAFETY: initialised in the module's `init` (`users::init`) before the device exists.
    unsafe(uninit) static USERS: Mutex<KVec<(Kuid, Arc<Quota>)>> = KVec::new();
}

/// Initialises the registry. Called once from module init, before the device is registered.
pub(crate) fn init() {
    // SAFETY: called once, from module init, before any open can use `USERS`.
    unsafe { USERS.init() };
}

/// Forgets every user (module unload: no file is left). The registry is a static, which would
/// keep its buffer past the module otherwise.
pub(crate) fn clear() {
    *USERS.lock() = KVec::new();
}

/// Whether the calling task is exempt from the per-user limit.
fn exempt() -> bool {
    // SAFETY: `capable` may be called from process context; it checks the current task.
    unsafe {
        bindings::capable(bindings::CAP_SYS_RESOURCE as i32)
            || bindings::capable(bindings::CAP_SYS_ADMIN as i32)
    }
}

/// The charge a file being opened by the calling task carries: on its user's quota, or none
/// for an exempt opener.
pub(super) fn charge_for_opener() -> Result<Charge> {
    if exempt() {
        return Ok(Charge::none());
    }
    let uid = Kuid::current_euid();
    let mut users = USERS.lock();
    // Charges are made with this lock held: an entry without one cannot gain one meanwhile.
    users.retain(|(_, q)| q.in_use());
    if let Some((_, q)) = users.iter().find(|(u, _)| *u == uid) {
        return Ok(Charge::on(q.clone()));
    }
    let q = Quota::new(u64::from(crate::max_user_timers()))?;
    users.push((uid, q.clone()), GFP_KERNEL)?;
    Ok(Charge::on(q))
}
