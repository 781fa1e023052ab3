// SPDX-License-Identifier: GPL-2.0

//! In-kernel virtual time: a [`VirtualClock`] is a kernel engine whose clock moves only when
//! its owner advances it, so that a ported driver's own KUnit tests run its timers
//! deterministically, each at exactly its instant, in less time than they stand for.
//!
//! The driver's code is not changed for it: while the clock exists, the calls of the task that
//! made it (its owner) go to the clock's engine instead of a CPU's — `timeout()` and
//! `dtimeout()` (whose CPU is then ignored), and every callout initialisation. Callbacks run
//! inside the owner's [`VirtualClock::advance`], in its task (soft-irq callbacks with bottom
//! halves off, callouts in thread context under their locks), so the timeouts they re-arm go
//! to the clock too. A callout stays on the engine it was initialised on, whoever resets it
//! later; `untimeout()` finds a virtual id's engine by its bit 62 (`engine/slots.rs`). New
//! timeouts of other tasks (a work item the driver queues, say) stay on real time.
//!
//! There is one in-kernel virtual clock at a time (`EBUSY` for a second one): KUnit runs one
//! test at a time. Dropping it shuts its engine down: timeouts still pending never run (cancel
//! them first, as before an unload), and callouts initialised on it refuse every call. The
//! clock holds a reference to its owner, so the owner's address cannot name another task while
//! it exists; and a clock whose owner exited without dropping it (a KUnit test that died on a
//! failed assertion) is reclaimed by the next [`VirtualClock::new`], with a warning, instead of
//! refusing every later one.
//!
//! # Locking
//!
//! The clock's engine and its owner are published in `Engines::virtual_clock` (a `SpinLockIrq`:
//! lookups come from any context) and taken out when the clock is dropped (or reclaimed); a
//! lookup holds a reference, so the engine outlives every call that found it. [`OWNER`] is read
//! without a lock, by every `timeout()` (one relaxed load, null while no clock exists), and
//! written under that lock.

use super::{engines, Engines, VirtualEngine};
use crate::engine::{Backend, Clock, Engine, Expiry, Timebase, DEFAULT_PASSES};
use core::ptr::null;
use kernel::{
    bindings,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{ordering::Relaxed, Atomic},
        Arc,
    },
    task::Task,
};

/// What `Engines::virtual_clock` holds while a clock exists: its engine and its owner.
pub(super) struct Published {
    engine: Arc<VirtualEngine>,
    /// Held so that [`OWNER`]'s address stays this task's while the clock exists.
    owner: ARef<Task>,
}

/// The task that owns the virtual clock, or null while there is none: the address of the
/// `owner` of the [`Published`] clock.
static OWNER: Atomic<*const bindings::task_struct> = Atomic::new(null());

/// Whether a virtual clock exists (one relaxed load: the check on `timeout()`'s path).
#[inline(always)]
pub(super) fn exists() -> bool {
    !OWNER.load(Relaxed).is_null()
}

/// The virtual clock's engine, if the current task owns it.
pub(super) fn owned() -> Option<Arc<VirtualEngine>> {
    let owner = OWNER.load(Relaxed);
    if owner.is_null() || owner != Task::current_raw().cast_const() {
        return None;
    }
    engine()
}

/// The virtual clock's engine, if there is one.
pub(crate) fn engine() -> Option<Arc<VirtualEngine>> {
    engines()?
        .virtual_clock
        .lock()
        .as_ref()
        .map(|p| p.engine.clone())
}

/// At module exit: shuts down the engine of a virtual clock that its owner never dropped (a
/// leak of its owner's), so that nothing of it outlives the module.
pub(super) fn shut_down_leaked(all: &Engines) {
    let leaked = all.virtual_clock.lock().take();
    OWNER.store(null(), Relaxed);
    if let Some(p) = leaked {
        p.engine.shutdown();
    }
}

/// A virtual clock for in-kernel code: see the module documentation.
///
/// # Invariants
///
/// `engine` is virtual, and is the one published in `Engines::virtual_clock` until this clock
/// is dropped, or until a later [`VirtualClock::new`] reclaims it because its owner exited
/// (then it is shut down, and this clock only keeps it alive).
pub struct VirtualClock {
    engine: Arc<VirtualEngine>,
}

impl VirtualClock {
    /// A virtual clock at monotonic `mono_ns` and realtime `real_ns`, owned by the current
    /// task. `EBUSY` if one exists whose owner is alive (one whose owner exited is reclaimed
    /// first), `EINVAL` for a negative `mono_ns`, `ENODEV` if the module is not up. Process
    /// context.
    pub fn new(mono_ns: i64, real_ns: i64) -> Result<Self> {
        let all = engines().ok_or(ENODEV)?;
        let engine = Engine::new(
            Timebase::real(),
            crate::max_timers(),
            crate::default_qlimit(),
            Expiry::Soft,
        )?;
        engine.make_virtual_kernel(mono_ns, real_ns)?;
        let owner = ARef::from(&**kernel::current!());
        let me = owner.as_ptr().cast_const();
        let mut reclaimed = None;
        let published = {
            let mut slot = all.virtual_clock.lock();
            let owner_exited = slot
                .as_ref()
                // SAFETY: the published clock holds a reference to its owner.
                .is_some_and(|p| unsafe { hrc_task_exiting(p.owner.as_ptr().cast()) });
            if owner_exited {
                reclaimed = slot.take();
            }
            if slot.is_none() {
                *slot = Some(Published {
                    engine: engine.clone(),
                    owner,
                });
                OWNER.store(me, Relaxed);
                true
            } else {
                false
            }
        };
        if let Some(old) = reclaimed {
            pr_warn!("a virtual clock whose owner exited without dropping it was reclaimed\n");
            old.engine.shutdown();
        }
        if !published {
            engine.shutdown();
            return Err(EBUSY);
        }
        // INVARIANT: virtual, and published.
        Ok(Self { engine })
    }

    /// Virtual monotonic now, in ns.
    pub fn now(&self) -> i64 {
        self.engine.backend.now(Clock::Monotonic)
    }

    /// Virtual realtime now, in ns.
    pub fn now_real(&self) -> i64 {
        self.engine.backend.now(Clock::Realtime)
    }

    /// Moves the clock forward by `delta_ns`, running every expiry due by then at its own
    /// instant and every callback it starts (timeouts and callouts armed meanwhile included),
    /// in the caller's task; returns the expiry passes it ran. `EINVAL` for a negative delta,
    /// `EBUSY` while another advance runs, `EINTR` if the caller is killed. Process context,
    /// no lock held that a callback takes.
    pub fn advance(&self, delta_ns: i64) -> Result<u32> {
        if delta_ns < 0 {
            return Err(EINVAL);
        }
        self.advance_to(self.now().saturating_add(delta_ns))
    }

    /// [`VirtualClock::advance`] to monotonic `mono_ns` (`EINVAL` if that is past).
    pub fn advance_to(&self, mono_ns: i64) -> Result<u32> {
        Ok(self.engine.advance(mono_ns, DEFAULT_PASSES)?.passes)
    }

    /// Steps the virtual realtime clock to `real_ns` (either way), then runs what that made
    /// due; returns the step.
    pub fn set_realtime(&self, real_ns: i64) -> Result<i64> {
        self.engine.set_realtime(real_ns)
    }
}

impl Drop for VirtualClock {
    fn drop(&mut self) {
        // Taken out under the lock, dropped (the owner's reference put) after it.
        let _unpublished = engines().and_then(|all| {
            let mut slot = all.virtual_clock.lock();
            if slot
                .as_ref()
                .is_some_and(|p| Arc::ptr_eq(&p.engine, &self.engine))
            {
                OWNER.store(null(), Relaxed);
                slot.take()
            } else {
                // Reclaimed by a later clock (this owner had exited): not ours any more.
                None
            }
        });
        self.engine.shutdown();
    }
}

unsafe extern "C" {
    /// Whether task `t` (a `struct task_struct *`, passed untyped as `itimer/suspend.rs` does:
    /// the bindings' layout of it is not the C one on this toolchain) is exiting or has exited
    /// (`PF_EXITING`; `engine/sched.c`). `t` must be a task the caller holds a reference to.
    fn hrc_task_exiting(t: *mut core::ffi::c_void) -> bool;
}
