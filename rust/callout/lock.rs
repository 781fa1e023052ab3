// SPDX-License-Identifier: GPL-2.0

//! The locks a callout can be associated with: a [`CalloutLock`] (`callout_init_lk`) or the
//! module-wide lock of non-MP callouts (`callout_init`).
//!
//! Each records the task holding it, so that `stop_sync` can tell its caller holds the lock
//! the callback runs under (then the callback cannot be running, and waiting would deadlock).

use kernel::{
    new_mutex, new_spinlock,
    prelude::*,
    sync::{
        atomic::{ordering::Relaxed, Atomic},
        Arc, Mutex, MutexGuard, SpinLock, SpinLockGuard,
    },
};

/// The current task, as an address that is only compared.
pub(crate) fn current_task() -> usize {
    kernel::current!().as_ptr() as usize
}

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
