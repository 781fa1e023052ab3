// SPDX-License-Identifier: GPL-2.0

//! The in-kernel API: STREAMS [`timeout`] / [`untimeout`] and the DragonFly [`Callout`]
//! handle, on the module's kernel engine.
//!
//! The kernel engine expires in soft irq, where `timeout()` callbacks run, as STREAMS code
//! expects; callouts run on its executor in thread context. It is created and published by
//! [`KernelApi`], a field of the module: it exists exactly while the module is loaded, and a
//! module init that fails after it was created (the device's registration) drops it again.
//!
//! # Locking
//!
//! [`KERNEL_ENGINE`] (a `SpinLockIrq`, so that `timeout()` works from any context) guards only
//! the published `Arc`; each call clones the `Arc` and drops the lock before it takes the
//! engine's lock. It nests inside nothing and nothing nests inside it.

use crate::callout::{self, Callouts, Mode, Run};
use crate::engine::{Engine, Expiry, HrBackend};
use crate::streams;
use crate::ticks::{hztons, ns_to_ticks_ceil};
use kernel::{prelude::*, sync::Arc};

pub use crate::callout::{CalloutLock, LockKind};

/// The kernel engine: real hrtimers, callouts on its executor.
pub(crate) type KernelEngine = Engine<HrBackend, Callouts>;

kernel::sync::global_lock! {
    // SAFETY: initialised by `KernelApi::new` (module init, once) before any use.
    unsafe(uninit) static KERNEL_ENGINE: SpinLockIrq<Option<Arc<KernelEngine>>> = None;
}

/// The engine of the in-kernel API, if the module is up.
fn kernel_engine() -> Option<Arc<KernelEngine>> {
    KERNEL_ENGINE.lock().clone()
}

/// The kernel engine's lifetime, owned by the module: created and published by
/// [`KernelApi::new`], unpublished and shut down when dropped.
pub(crate) struct KernelApi(());

impl KernelApi {
    /// Creates the kernel engine and publishes it. Called once, from module init.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: called once from module init, before any use of `KERNEL_ENGINE`.
        unsafe { KERNEL_ENGINE.init() };
        let engine = Engine::new(
            HrBackend,
            crate::max_timers(),
            crate::default_qlimit(),
            Expiry::Soft,
        )?;
        *KERNEL_ENGINE.lock() = Some(engine);
        Ok(Self(()))
    }
}

impl Drop for KernelApi {
    fn drop(&mut self) {
        // Files hold a module reference, so none is open now. In-kernel users must have
        // cancelled their timeouts; shut the kernel engine down anyway so nothing of ours runs
        // after unload.
        let engine = KERNEL_ENGINE.lock().take();
        if let Some(e) = engine {
            e.shutdown();
        }
    }
}

/// An in-kernel timeout id: opaque, non-zero when valid (compare only with 0).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TimeoutId(pub u64);

/// STREAMS `timeout()`: calls `func(arg)` in soft-irq context after `ticks` ticks (at the next
/// opportunity if `ticks <= 0`). Returns 0 if nothing could be scheduled. Callable from any
/// context. The callback never runs inside this call; it runs on a CPU's soft-irq after the
/// engine lock that publishes the id is released.
pub fn timeout(func: fn(usize), arg: usize, ticks: i64) -> TimeoutId {
    let id = kernel_engine().map_or(0, |e| {
        streams::timeout_on(&e, func, arg, ticks).unwrap_or(0)
    });
    TimeoutId(id)
}

/// STREAMS `untimeout()`: the ticks that were left (rounded up), or -1 when the id is unknown,
/// fired, already cancelled, or the caller is that timeout's running callback. Waits for a
/// callback running on another CPU.
pub fn untimeout(id: TimeoutId) -> i64 {
    match kernel_engine().map(|e| streams::untimeout_on(&e, id.0)) {
        Some(Ok(ns)) => ns_to_ticks_ceil(ns),
        _ => -1,
    }
}

/// A DragonFly callout for kernel code: a caller-owned handle on the kernel engine.
///
/// The callback is a plain function and its argument, run in thread context (the executor),
/// under the module-wide lock ([`Callout::init`]), no lock ([`Callout::init_mp`]) or the
/// given lock ([`Callout::init_lk`]). Dropping the handle is `callout_stop_sync` + free; do
/// not drop it from its own callback.
pub struct Callout {
    id: u64,
    engine: Arc<KernelEngine>,
}

impl Callout {
    fn with_mode(mode: Mode) -> Result<Self> {
        let engine = kernel_engine().ok_or(ENODEV)?;
        let id = callout::init(&engine, mode, GFP_KERNEL)?;
        Ok(Self { id, engine })
    }

    /// `callout_init`: callbacks serialised under one module-wide lock.
    pub fn init() -> Result<Self> {
        Self::with_mode(Mode::Giant)
    }

    /// `callout_init_mp`: MP-safe callback, no lock.
    pub fn init_mp() -> Result<Self> {
        Self::with_mode(Mode::Mp)
    }

    /// `callout_init_lk`: the executor holds `lock` around the callback.
    pub fn init_lk(lock: Arc<CalloutLock>) -> Result<Self> {
        Self::with_mode(Mode::Lk(lock))
    }

    /// `callout_reset`: run `func(arg)` after `ticks` ticks (at least one).
    pub fn reset(&self, ticks: i64, func: fn(usize), arg: usize) -> Result {
        callout::reset(
            &self.engine,
            self.id,
            hztons(ticks),
            0,
            Run::Func(func, arg),
        )
    }

    /// `callout_stop`: 1 if a pending run was prevented, else 0.
    pub fn stop(&self) -> i32 {
        callout::stop(&self.engine, self.id).unwrap_or(0)
    }

    /// `callout_stop_async`.
    pub fn stop_async(&self) {
        let _ = callout::stop(&self.engine, self.id);
    }

    /// `callout_stop_sync`: `stop`, then waits for a running callback.
    pub fn stop_sync(&self) -> i32 {
        callout::stop_sync(&self.engine, self.id).unwrap_or(0)
    }

    /// `callout_active`.
    pub fn active(&self) -> bool {
        callout::active(&self.engine, self.id) == Ok(1)
    }

    /// `callout_pending`.
    pub fn pending(&self) -> bool {
        callout::pending(&self.engine, self.id) == Ok(1)
    }

    /// `callout_deactivate`.
    pub fn deactivate(&self) {
        let _ = callout::deactivate(&self.engine, self.id);
    }
}

impl Drop for Callout {
    fn drop(&mut self) {
        let _ = callout::destroy(&self.engine, self.id);
    }
}
