// SPDX-License-Identifier: GPL-2.0

//! The in-kernel API: STREAMS [`timeout`] / [`dtimeout`] / [`untimeout`] and the DragonFly
//! [`Callout`] handle, on the module's per-CPU kernel engines.
//!
//! There is one kernel engine per possible CPU, each with its own lock, timer queues and
//! hrtimers, started on its CPU (the engine's home, see `engine/cpu.rs`): `timeout()` arms on
//! the calling CPU's engine and its callback runs there, in soft irq, as STREAMS code expects;
//! `dtimeout()` names the CPU. An id names its engine (`Engine::cpu_of`), so `untimeout()`
//! finds it in O(1) from any CPU. Callouts run on their engine's executor lanes in thread
//! context, on the CPU of their last reset. The engines are created and published by
//! [`KernelApi`], a field of the module: they exist exactly while the module is loaded, and a
//! module init that fails after they were created (the device's registration) drops them.
//!
//! CPU hotplug: while a CPU is offline the hrtimer core has moved its engine's hrtimers to a
//! live CPU, where its timeouts then expire; nothing is lost or run twice. A hotplug state
//! ([`KernelApi`]'s `hotplug`) brings them back when the CPU comes online again. `dtimeout()`
//! for an offline CPU fails (id 0).
//!
//! # Locking
//!
//! [`ENGINES`] is an atomic pointer, published once before the device exists and read without
//! a lock: CPUs share no lock or written cache line to reach their engine. Each engine's lock
//! is the engine's (see the lock map in `hrcallout_main.rs`).

use crate::callout::{self, Callouts, Mode, Run};
use crate::engine::{cpu_count, cpu_online, current_cpu, Engine, Expiry, HrBackend};
use crate::streams;
use crate::ticks::{hztons, ns_to_ticks_ceil};
use core::ptr::null;
use kernel::{
    bindings,
    prelude::*,
    sync::{
        atomic::{ordering, Atomic},
        Arc,
    },
};

pub use crate::callout::{CalloutLock, LockKind};

/// A kernel engine: real hrtimers, callouts on its executor lanes.
pub(crate) type KernelEngine = Engine<HrBackend, Callouts>;

/// The kernel engines, indexed by CPU id.
struct Engines(KVec<Arc<KernelEngine>>);

/// The published [`Engines`].
///
/// # Invariants
///
/// Null, or the engines owned by the module's [`KernelApi`], which stores them here in
/// [`KernelApi::new`] and takes them back in its drop (module exit) before shutting them down
/// and freeing them. No caller outlives that: callers inside the module (KUnit, benchmarks,
/// the engines' own callbacks, which shutdown waits for) are done by then, and files pin the
/// module.
static ENGINES: Atomic<*const Engines> = Atomic::new(null());

/// The kernel engine of `cpu`, if the module is up and `cpu` is a possible CPU.
#[inline]
fn engine_of(cpu: u32) -> Option<&'static Arc<KernelEngine>> {
    let p = ENGINES.load(ordering::Acquire);
    // SAFETY: by the invariant of `ENGINES`, a non-null pointer is to live engines, which stay
    // alive for as long as any caller can be running.
    let engines = unsafe { p.as_ref() }?;
    engines.0.get(cpu as usize)
}

/// The CPU hotplug callback: CPU `cpu` has come online; its engine's hrtimers come back to it.
///
/// # Safety
///
/// Called by the CPU hotplug core, on `cpu`, in process context.
unsafe extern "C" fn cpu_online_cb(cpu: u32) -> i32 {
    if let Some(e) = engine_of(cpu) {
        e.cpu_online();
    }
    0
}

/// The kernel engines' lifetime, owned by the module: created and published by
/// [`KernelApi::new`], unpublished and shut down when dropped.
pub(crate) struct KernelApi {
    /// The dynamic CPU hotplug state of [`cpu_online_cb`].
    hotplug: i32,
}

impl KernelApi {
    /// Creates the kernel engines and publishes them. Called once, from module init.
    pub(crate) fn new() -> Result<Self> {
        let n = cpu_count() as usize;
        let mut engines = KVec::with_capacity(n, GFP_KERNEL)?;
        for cpu in 0..n as u32 {
            engines.push(
                Engine::new_on(
                    cpu,
                    HrBackend,
                    crate::max_timers(),
                    crate::default_qlimit(),
                    Expiry::Soft,
                )?,
                GFP_KERNEL,
            )?;
        }
        let engines = KBox::new(Engines(engines), GFP_KERNEL)?;
        // INVARIANT: owned by this `KernelApi` from here on (its drop takes them back).
        ENGINES.store(KBox::into_raw(engines).cast_const(), ordering::Release);
        // SAFETY: a dynamic AP state with a startup callback that may be called on any CPU
        // coming online from now on; not invoked for the CPUs already online.
        let hotplug = unsafe {
            bindings::__cpuhp_setup_state(
                bindings::cpuhp_state_CPUHP_AP_ONLINE_DYN,
                c"hrcallout:online".as_char_ptr(),
                false,
                Some(cpu_online_cb),
                None,
                false,
            )
        };
        let api = Self { hotplug };
        if hotplug < 0 {
            // Dropping `api` unpublishes and frees the engines.
            return Err(Error::from_errno(hotplug));
        }
        Ok(api)
    }
}

impl Drop for KernelApi {
    fn drop(&mut self) {
        if self.hotplug > 0 {
            // SAFETY: `hotplug` is the state `__cpuhp_setup_state` returned; removed once.
            unsafe { bindings::__cpuhp_remove_state(self.hotplug, false) };
        }
        // Files hold a module reference, so none is open now. In-kernel users must have
        // cancelled their timeouts; shut the kernel engines down anyway so nothing of ours
        // runs after unload.
        let p = ENGINES.xchg(null(), ordering::Full);
        if p.is_null() {
            return;
        }
        // SAFETY: `p` came from `KBox::into_raw` in `new`, and `ENGINES` no longer has it.
        let engines = unsafe { KBox::from_raw(p.cast_mut()) };
        for e in engines.0.iter() {
            e.shutdown();
        }
    }
}

/// An in-kernel timeout id: opaque, non-zero when valid (compare only with 0).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TimeoutId(pub u64);

/// STREAMS `timeout()`: calls `func(arg)` in soft-irq context on the calling CPU after `ticks`
/// ticks (at the next opportunity if `ticks <= 0`). Returns 0 if nothing could be scheduled.
/// Callable from any context. The callback never runs inside this call; it runs on the CPU's
/// soft-irq after the engine lock that publishes the id is released. (A caller that migrates
/// during the call gets the CPU it was on when the call began.)
pub fn timeout(func: fn(usize), arg: usize, ticks: i64) -> TimeoutId {
    arm_on(current_cpu(), func, arg, ticks)
}

/// OpenSS7 `dtimeout()`: [`timeout`] whose callback runs on `cpu`; 0 (nothing scheduled) if
/// `cpu` is not online. (If `cpu` goes offline before the callback runs, it runs on a live
/// CPU.)
pub fn dtimeout(func: fn(usize), arg: usize, ticks: i64, cpu: u32) -> TimeoutId {
    if !cpu_online(cpu) {
        return TimeoutId(0);
    }
    arm_on(cpu, func, arg, ticks)
}

#[inline]
fn arm_on(cpu: u32, func: fn(usize), arg: usize, ticks: i64) -> TimeoutId {
    let id = engine_of(cpu).map_or(0, |e| streams::timeout_on(e, func, arg, ticks).unwrap_or(0));
    TimeoutId(id)
}

/// STREAMS `untimeout()`, from any CPU: the ticks that were left (rounded up), or -1 when the
/// id is unknown, fired, already cancelled, or the caller is that timeout's running callback.
/// Waits for a callback running on another CPU.
pub fn untimeout(id: TimeoutId) -> i64 {
    match engine_of(KernelEngine::cpu_of(id.0)).map(|e| streams::untimeout_on(e, id.0)) {
        Some(Ok(ns)) => ns_to_ticks_ceil(ns),
        _ => -1,
    }
}

/// A DragonFly callout for kernel code: a caller-owned handle on the kernel engine of the CPU
/// it was created on.
///
/// The callback is a plain function and its argument, run in thread context (an executor
/// lane) on the CPU of the last [`Callout::reset`] (or the one [`Callout::reset_bycpu`]
/// named), under the module-wide lock ([`Callout::init`]), no lock ([`Callout::init_mp`]) or
/// the given lock ([`Callout::init_lk`]). Callouts on different CPUs run in parallel; one
/// callout never runs on two CPUs at once. Dropping the handle is `callout_stop_sync` + free;
/// do not drop it from its own callback.
pub struct Callout {
    id: u64,
    engine: Arc<KernelEngine>,
}

impl Callout {
    fn with_mode(mode: Mode) -> Result<Self> {
        let engine = engine_of(current_cpu()).ok_or(ENODEV)?.clone();
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

    /// `callout_reset`: run `func(arg)` after `ticks` ticks (at least one), on this CPU.
    pub fn reset(&self, ticks: i64, func: fn(usize), arg: usize) -> Result {
        callout::reset(
            &self.engine,
            self.id,
            hztons(ticks),
            0,
            Run::Func(func, arg),
        )
    }

    /// `callout_reset_bycpu`: [`Callout::reset`] whose callback runs on `cpu`; `EINVAL` if
    /// `cpu` is not online.
    pub fn reset_bycpu(&self, cpu: u32, ticks: i64, func: fn(usize), arg: usize) -> Result {
        callout::reset_on(
            &self.engine,
            self.id,
            Some(cpu),
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
