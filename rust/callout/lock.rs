// SPDX-License-Identifier: GPL-2.0

//! The locks a callout can be associated with: a [`CalloutLock`] (`callout_init_lk` from
//! userspace and Rust), a [`ForeignLock`] (a C driver's own `struct mutex` or `spinlock_t`), or
//! the module-wide lock of non-MP callouts (`callout_init`).
//!
//! A [`CalloutLock`] and the module-wide lock record the task holding them, so that `stop_sync`
//! can tell its caller holds the lock the callback runs under (then the callback cannot be
//! running, and waiting would deadlock); a [`ForeignLock`] need not (see there).

use crate::engine::current_task;
use core::ffi::c_void;
use kernel::{
    bindings, new_mutex, new_spinlock,
    prelude::*,
    sync::{
        atomic::{ordering::Relaxed, Atomic},
        Arc, Mutex, MutexGuard, SpinLock, SpinLockGuard, SpinLockIrq, SpinLockIrqGuard,
    },
};

/// The kind of a [`CalloutLock`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// A mutex: callbacks may sleep.
    Mutex,
    /// A spinlock: callbacks run atomically.
    Spin,
}

/// A lock a callout can be associated with (`callout_init_lk`): a mutex (callbacks may sleep)
/// or a spinlock (callbacks run atomically).
///
/// Lock order: taken by the executor before the engine lock (never the other way round); a
/// thread holding one may call any callout operation. All callout locks share one lockdep
/// class per kind: the executor never holds two of them at once.
#[pin_data]
pub struct CalloutLock {
    kind: LockKind,
    #[pin]
    mutex: Mutex<()>,
    #[pin]
    spin: SpinLock<()>,
    /// The task holding the lock (an address, only compared), or 0. Written by the holder
    /// only, read by anyone (a task sees its own writes).
    owner: Atomic<usize>,
}

/// A held [`CalloutLock`].
pub struct CalloutGuard<'a> {
    lock: &'a CalloutLock,
    _held: Held<'a>,
}

/// The underlying guard, released after the owner is cleared.
enum Held<'a> {
    Mutex(#[expect(dead_code, reason = "held for its Drop")] MutexGuard<'a, ()>),
    Spin(#[expect(dead_code, reason = "held for its Drop")] SpinLockGuard<'a, ()>),
}

impl Drop for CalloutGuard<'_> {
    fn drop(&mut self) {
        self.lock.owner.store(0, Relaxed);
    }
}

impl CalloutLock {
    /// A new lock of `kind`.
    pub fn new(kind: LockKind) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                kind,
                mutex <- new_mutex!(()),
                spin <- new_spinlock!(()),
                owner: Atomic::new(0),
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    /// The lock's kind.
    pub(crate) fn kind(&self) -> LockKind {
        self.kind
    }

    /// Takes the lock.
    pub fn lock(&self) -> CalloutGuard<'_> {
        let held = match self.kind {
            LockKind::Mutex => Held::Mutex(self.mutex.lock()),
            LockKind::Spin => Held::Spin(self.spin.lock()),
        };
        self.owner.store(current_task(), Relaxed);
        CalloutGuard {
            lock: self,
            _held: held,
        }
    }

    /// Whether the calling task holds the lock.
    pub(crate) fn held_by_current(&self) -> bool {
        self.owner.load(Relaxed) == current_task()
    }
}

/// A lock a C driver owns and associates with its callouts (`hrc_callout_init_lk`,
/// `hrc_callout_init_spin`): a kernel `struct mutex` (DragonFly's `struct lock`, FreeBSD's
/// default mutex: the callback may sleep) or a `spinlock_t` (FreeBSD's spin mutex: the callback
/// runs atomically). The executor takes a spinlock with interrupts disabled, so the driver may
/// take it in any context, hard irq included. Raw spinlocks, rwlocks and semaphores are not
/// offered: no source system associates a callout with one.
///
/// A caller holding the lock need not be told apart (as [`CalloutLock`] does): the executor
/// holds it for the whole run, from before the run is claimed until after it ended, so while
/// anyone else holds it the callout is not running.
///
/// # Invariants
///
/// `ptr` points to an initialised `struct mutex` (kind [`LockKind::Mutex`]) or `spinlock_t`
/// ([`LockKind::Spin`]) that stays alive for as long as this value exists.
#[derive(Clone, Copy)]
pub(crate) struct ForeignLock {
    kind: LockKind,
    ptr: *mut c_void,
}

// SAFETY: a kernel mutex or spinlock may be taken from any task or CPU; the pointer is only
// used to take it.
unsafe impl Send for ForeignLock {}
// SAFETY: as for `Send`.
unsafe impl Sync for ForeignLock {}

/// A held [`ForeignLock`].
pub(crate) enum ForeignGuard<'a> {
    Mutex(#[expect(dead_code, reason = "held for its Drop")] MutexGuard<'a, ()>),
    Spin(#[expect(dead_code, reason = "held for its Drop")] SpinLockIrqGuard<'a, ()>),
}

impl ForeignLock {
    /// The driver's lock at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` points to an initialised `struct mutex` if `kind` is [`LockKind::Mutex`], or
    /// `spinlock_t` if [`LockKind::Spin`], that outlives the returned value and its copies.
    pub(crate) unsafe fn new(kind: LockKind, ptr: *mut c_void) -> Self {
        // INVARIANT: the caller promises it.
        Self { kind, ptr }
    }

    /// Takes the lock.
    pub(crate) fn lock(&self) -> ForeignGuard<'_> {
        match self.kind {
            LockKind::Mutex => {
                // SAFETY: by the type invariant `ptr` is a live, initialised mutex for as long
                // as `self`; `Mutex<()>` has its layout.
                let m = unsafe { Mutex::<()>::from_raw(self.ptr.cast::<bindings::mutex>()) };
                ForeignGuard::Mutex(m.lock())
            }
            LockKind::Spin => {
                // SAFETY: as above, for a live, initialised spinlock.
                let l =
                    unsafe { SpinLockIrq::<()>::from_raw(self.ptr.cast::<bindings::spinlock_t>()) };
                ForeignGuard::Spin(l.lock())
            }
        }
    }
}

/// The lock a callout's callback runs under, held by the executor around the run.
pub(crate) enum RunGuard<'a> {
    Giant(#[expect(dead_code, reason = "held for its Drop")] GiantGuard),
    Lk(#[expect(dead_code, reason = "held for its Drop")] CalloutGuard<'a>),
    Foreign(#[expect(dead_code, reason = "held for its Drop")] ForeignGuard<'a>),
}

kernel::sync::global_lock! {
    // SAFETY: initialised in the module's `init` (`init_giant`) before any callout exists.
    unsafe(uninit) static GIANT: Mutex<()> = ();
}

/// The task holding [`GIANT`] (an address, only compared), or 0.
static GIANT_OWNER: Atomic<usize> = Atomic::new(0);

/// Initialises the module-wide lock of non-MP callouts. Called once from module init.
pub(crate) fn init_giant() {
    // SAFETY: called once, from module init, before any use of `GIANT`.
    unsafe { GIANT.init() };
}

/// The module-wide lock, held.
pub(crate) struct GiantGuard {
    _held: kernel::sync::GlobalGuard<GIANT>,
}

impl Drop for GiantGuard {
    fn drop(&mut self) {
        GIANT_OWNER.store(0, Relaxed);
    }
}

/// Takes the module-wide lock of non-MP callouts (the executor, around their callbacks).
pub(crate) fn lock_giant() -> GiantGuard {
    let held = GIANT.lock();
    GIANT_OWNER.store(current_task(), Relaxed);
    GiantGuard { _held: held }
}

/// Whether the calling task holds the module-wide lock.
pub(crate) fn giant_held_by_current() -> bool {
    GIANT_OWNER.load(Relaxed) == current_task()
}
