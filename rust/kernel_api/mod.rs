// SPDX-License-Identifier: GPL-2.0

//! The typed in-kernel Rust API: STREAMS [`timeout`] / [`dtimeout`] / [`untimeout`] and the
//! DragonFly [`Callout`] handle, on the module's per-CPU kernel engines, which the C API
//! (`c_api`) shares.
//!
//! Callbacks are traits on an owned object, as `HrTimerCallback` is for an hrtimer: a timeout
//! holds an `Arc<T: TimeoutCallback>` until it ran or [`untimeout`] took it back; a
//! [`Callout<T: CalloutCallback>`](Callout) keeps its target alive while it can run. The engine
//! calls them through a C-ABI trampoline, the same [`Call`] a C driver's function is stored
//! as; no untyped pointer is visible here.
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
//! Virtual time (`virtual_clock.rs`): while a [`VirtualClock`] exists, the calls of the task
//! that made it go to the clock's engine instead of a CPU's, so that a ported driver's KUnit
//! tests run its timers on a clock they move themselves.
//!
//! CPU hotplug: while a CPU is offline the hrtimer core has moved its engine's hrtimers to a
//! live CPU, where its timeouts then expire; nothing is lost or run twice. A hotplug state
//! ([`KernelApi`]'s `hotplug`) brings them back when the CPU comes online again. `dtimeout()`
//! for an offline CPU fails (`None`).
//!
//! # Locking
//!
//! [`ENGINES`] is an atomic pointer, published once before the device exists and read without
//! a lock: CPUs share no lock or written cache line to reach their engine. Each engine's lock
//! is the engine's (see the lock map in `hrcallout_main.rs`).

use crate::callout::{self, Callouts, Mode, Run};
use crate::engine::{cpu_count, cpu_online, current_cpu, Backend, Call, Engine, Expiry, HrBackend};
use crate::streams::{self, Owner};
use crate::ticks::{hztons, ns_to_ticks_ceil};
use core::{ffi::c_void, marker::PhantomData, ptr::null};
use kernel::{
    bindings, new_spinlock_irq,
    prelude::*,
    sync::{
        atomic::{ordering, Atomic},
        Arc, ArcBorrow, SpinLockIrq,
    },
};

mod virtual_clock;

pub use crate::callout::{CalloutLock, LockKind};
pub(crate) use virtual_clock::engine as virtual_engine;
pub use virtual_clock::VirtualClock;

/// A CPU's kernel engine: real hrtimers, callouts on its executor lanes.
pub(crate) type KernelEngine = Engine<HrBackend, Callouts>;

/// The engine of a [`VirtualClock`]: a file's engine type, on its virtual time source (so the
/// CPUs' engines pay nothing for it).
pub(crate) type VirtualEngine = crate::HrEngine;

/// The CPU number a C callout handle (`c_api/callout.rs`) stores for the virtual clock's
/// engine: no CPU has it.
pub(crate) const VIRTUAL_CPU: u32 = u32::MAX;

/// The kernel engines: one per CPU, indexed by CPU id, and the virtual clock's, if any.
#[pin_data]
struct Engines {
    cpus: KVec<Arc<KernelEngine>>,
    /// The engine and owner of the one [`VirtualClock`], while it exists (`virtual_clock.rs`).
    #[pin]
    virtual_clock: SpinLockIrq<Option<virtual_clock::Published>>,
}

/// The engine a callout of the kernel API lives on: a CPU's (alive while the module is loaded)
/// or the virtual clock's (held by this reference). [`on_engine!`] runs code on either.
pub(crate) enum EngineRef {
    Cpu(&'static Arc<KernelEngine>),
    Virtual(Arc<VirtualEngine>),
}

/// `on_engine!(r, e => expr)`: `expr` with `e` bound to the engine of [`EngineRef`] `r`,
/// whichever type it has. The virtual clock's arm is out of line ([`cold`]), so that the CPU
/// engine's path inlines as it would without it.
macro_rules! on_engine {
    ($r:expr, $e:ident => $body:expr) => {
        match $r {
            $crate::kernel_api::EngineRef::Cpu($e) => $body,
            $crate::kernel_api::EngineRef::Virtual($e) => $crate::kernel_api::cold(|| $body),
        }
    };
}
pub(crate) use on_engine;

/// Runs `f` out of line: the virtual clock's arm of [`on_engine!`].
#[cold]
#[inline(never)]
pub(crate) fn cold<R>(f: impl FnOnce() -> R) -> R {
    f()
}

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

/// The published engines, if the module is up.
#[inline(always)]
fn engines() -> Option<&'static Engines> {
    let p = ENGINES.load(ordering::Acquire);
    // SAFETY: by the invariant of `ENGINES`, a non-null pointer is to live engines, which stay
    // alive for as long as any caller can be running.
    unsafe { p.as_ref() }
}

/// The kernel engine of `cpu`, if the module is up and `cpu` is a possible CPU.
#[inline]
pub(crate) fn engine_of(cpu: u32) -> Option<&'static Arc<KernelEngine>> {
    engines()?.cpus.get(cpu as usize)
}

/// The engine the current task's new callouts go to: the virtual clock's if the task owns it,
/// else `cpu`'s.
pub(crate) fn engine_for(cpu: u32) -> Option<EngineRef> {
    match virtual_clock::owned() {
        Some(v) => Some(EngineRef::Virtual(v)),
        None => engine_of(cpu).map(EngineRef::Cpu),
    }
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
        let engines = KBox::pin_init(
            pin_init!(Engines {
                cpus: engines,
                virtual_clock <- new_spinlock_irq!(None, "hrcallout_virtual_clock"),
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: the engines are never moved out of their box: `drop` rebuilds the pinned box
        // from this pointer.
        let engines = unsafe { Pin::into_inner_unchecked(engines) };
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
        for e in engines.cpus.iter() {
            e.shutdown();
        }
        virtual_clock::shut_down_leaked(&engines);
    }
}

/// The callback of a typed [`timeout`]: the object the timeout holds a reference to.
///
/// As `HrTimerCallback::run` is for an hrtimer: the timeout owns one reference to `Self` from
/// [`timeout`] until it ran (then it is dropped after `run` returns) or [`untimeout`] took it
/// back.
pub trait TimeoutCallback: Send + Sync + 'static {
    /// Called once, in soft-irq context, on the timeout's CPU, when it comes due.
    fn run(this: ArcBorrow<'_, Self>);
}

/// An in-kernel timeout id of a typed [`timeout`] on a `T`: opaque, never reused while the
/// module is loaded.
pub struct TimeoutId<T> {
    id: u64,
    _t: PhantomData<fn(Arc<T>)>,
}

impl<T> Clone for TimeoutId<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for TimeoutId<T> {}

impl<T> TimeoutId<T> {
    /// The raw id (which names its CPU's engine).
    pub fn raw(self) -> u64 {
        self.id
    }

    /// An id that no [`timeout`] returned, for tests of unknown ids.
    ///
    /// # Safety
    ///
    /// `id` names no live typed timeout (a typed timeout on another type would be cancelled
    /// as a `T`).
    #[cfg(hrc_kunit)]
    pub(crate) unsafe fn forged(id: u64) -> Self {
        Self {
            id,
            _t: PhantomData,
        }
    }
}

/// The trampoline of a typed timeout on a `T`.
///
/// # Safety
///
/// `arg` is the reference to a `T` that [`arm_typed`] leaked for this timeout, not used since:
/// this call takes it over.
unsafe extern "C" fn run_timeout<T: TimeoutCallback>(arg: *mut c_void) {
    // SAFETY: the caller's promise: a reference from `Arc::into_raw`, which is ours now.
    let this = unsafe { Arc::<T>::from_raw(arg.cast_const().cast()) };
    T::run(this.as_arc_borrow());
}

/// STREAMS `timeout()`: calls `T::run(this)` in soft-irq context on the calling CPU after
/// `ticks` ticks (at the next opportunity if `ticks <= 0`). `None` if nothing could be scheduled
/// (then `this` is dropped). Callable from any context. The callback never runs inside this
/// call (the engine's `Arming` is held until it returns); it runs on the CPU's soft irq. (A
/// caller that migrates during the call gets the CPU it was on when the call began.)
pub fn timeout<T: TimeoutCallback>(this: Arc<T>, ticks: i64) -> Option<TimeoutId<T>> {
    arm_typed(current_cpu(), this, ticks)
}

/// OpenSS7 `dtimeout()`: [`timeout`] whose callback runs on `cpu`; `None` if `cpu` is not
/// online. (If `cpu` goes offline before the callback runs, it runs on a live CPU.)
pub fn dtimeout<T: TimeoutCallback>(this: Arc<T>, ticks: i64, cpu: u32) -> Option<TimeoutId<T>> {
    if !cpu_online(cpu) {
        return None;
    }
    arm_typed(cpu, this, ticks)
}

#[inline(always)]
fn arm_typed<T: TimeoutCallback>(cpu: u32, this: Arc<T>, ticks: i64) -> Option<TimeoutId<T>> {
    let arg = Arc::into_raw(this).cast_mut().cast::<c_void>();
    // SAFETY: the timeout owns the reference leaked above: `run_timeout` takes it over at the
    // timeout's one expiry, in soft irq on any CPU (`T: Send + Sync`), and `untimeout` takes it
    // back only if it cancelled the timeout before that.
    let call = unsafe { Call::new(run_timeout::<T>, arg) };
    match arm_on(cpu, Owner::Typed, call, ticks) {
        0 => {
            // SAFETY: nothing was scheduled: the reference is still ours.
            drop(unsafe { Arc::<T>::from_raw(arg.cast_const().cast()) });
            None
        }
        id => Some(TimeoutId {
            id,
            _t: PhantomData,
        }),
    }
}

/// Arms `call` as an in-kernel timeout of `owner` on `cpu`'s engine: its id, or 0. Inlined
/// into the API's outermost functions, so that the engine's [`Arming`](crate::engine::Arming)
/// is held until they return. On a task that owns the [`VirtualClock`], `cpu` is ignored: the
/// timeout goes to the clock (out of line: while no clock exists this costs one load).
#[inline(always)]
pub(crate) fn arm_on(cpu: u32, owner: Owner, call: Call, ticks: i64) -> u64 {
    if virtual_clock::exists() {
        if let Some(id) = arm_virtual(owner, call, ticks) {
            return id;
        }
    }
    let Some(e) = engine_of(cpu) else {
        return 0;
    };
    arm_in(e, owner, call, ticks)
}

/// [`arm_on`] on the virtual clock, if the current task owns it (`None` if not). A pass of the
/// clock runs only in an advance, never inside this call, so the `Arming` need not outlive it.
#[cold]
#[inline(never)]
fn arm_virtual(owner: Owner, call: Call, ticks: i64) -> Option<u64> {
    let v = virtual_clock::owned()?;
    Some(arm_in(&v, owner, call, ticks))
}

#[inline(always)]
fn arm_in<B: Backend>(e: &Engine<B, Callouts>, owner: Owner, call: Call, ticks: i64) -> u64 {
    let arming = e.arming();
    let id = streams::timeout_on(e, &arming, owner, call, ticks).unwrap_or(0);
    drop(arming);
    id
}

/// Cancels in-kernel timeout `id` of `owner`, from any CPU: the ticks that were left (rounded
/// up) and its call, or `None` when the id is unknown, fired, already cancelled, or the caller
/// is that timeout's running callback. Waits for a callback running on another CPU. A virtual
/// clock's id (bit 62) is looked up on the clock.
#[inline]
pub(crate) fn cancel(owner: Owner, id: u64) -> Option<(i64, Call)> {
    if KernelEngine::is_virtual_id(id) {
        return cancel_virtual(owner, id);
    }
    let e = engine_of(KernelEngine::cpu_of(id))?;
    let (ns, call) = streams::untimeout_on(e, owner, id).ok()?;
    Some((ns_to_ticks_ceil(ns), call))
}

/// [`cancel`] of a virtual clock's id.
#[cold]
#[inline(never)]
fn cancel_virtual(owner: Owner, id: u64) -> Option<(i64, Call)> {
    let e = virtual_clock::engine()?;
    let (ns, call) = streams::untimeout_on(&e, owner, id).ok()?;
    Some((ns_to_ticks_ceil(ns), call))
}

/// STREAMS `untimeout()`, from any CPU: the ticks that were left (rounded up), or -1 when the
/// id is unknown, fired, already cancelled, or the caller is that timeout's running callback.
/// Waits for a callback running on another CPU. The reference the timeout held is dropped
/// here if it was cancelled.
pub fn untimeout<T: TimeoutCallback>(id: TimeoutId<T>) -> i64 {
    match cancel(Owner::Typed, id.id) {
        Some((ticks, call)) => {
            // SAFETY: a typed id of `T` names a timeout armed by `arm_typed::<T>`, whose
            // argument is a leaked `Arc<T>`; cancelled before it ran, so it is ours again.
            drop(unsafe { Arc::<T>::from_raw(call.arg().cast_const().cast()) });
            ticks
        }
        None => -1,
    }
}

/// The callback of a typed [`Callout`]: the object the callout runs on.
pub trait CalloutCallback: Send + Sync + 'static {
    /// Called in thread context, with the callout's lock held (if it has one).
    fn run(this: ArcBorrow<'_, Self>);
}

/// The trampoline of a typed callout on a `T`.
///
/// # Safety
///
/// `arg` is the target of a live [`Callout<T>`] (`Arc::as_ptr`).
unsafe extern "C" fn run_callout<T: CalloutCallback>(arg: *mut c_void) {
    // SAFETY: the `Callout` keeps its target alive until its engine callout is freed, after
    // which nothing calls this.
    let this = unsafe { ArcBorrow::<T>::from_raw(arg.cast_const().cast()) };
    T::run(this);
}

/// A DragonFly callout for kernel code: a caller-owned handle on the kernel engine of the CPU
/// it was created on (or on the [`VirtualClock`], if its owner created it), running `T::run`
/// on its target.
///
/// The callback runs in thread context (an executor lane) on the CPU of the last
/// [`Callout::reset`] (or the one [`Callout::reset_bycpu`] named), under the module-wide lock
/// ([`Callout::init`]), no lock ([`Callout::init_mp`]) or the given lock
/// ([`Callout::init_lk`]). Callouts on different CPUs run in parallel; one callout never runs on
/// two CPUs at once. Dropping the handle is `callout_stop_sync` + free; do not drop it from its
/// own callback (the target is leaked then, rather than freed under a callout that may run
/// again). The target must not own its callout: that is a reference cycle.
pub struct Callout<T: CalloutCallback> {
    id: u64,
    /// The CPU engine the callout lives on, or, for one of the virtual clock, CPU 0's (unused).
    /// Not an [`EngineRef`], as the C handle's is: its `&'static Arc` costs the pair one more
    /// load (`make bench` P1k: 585 instructions against 582, past the 1.3 target).
    engine: Arc<KernelEngine>,
    /// The virtual clock's engine, for a callout its owner created.
    virtual_engine: Option<Arc<VirtualEngine>>,
    target: Arc<T>,
}

/// `on_callout!(c, e => expr)`: `expr` with `e` bound to callout `c`'s engine: its CPU's, or
/// (out of line, [`cold`]) the virtual clock's.
macro_rules! on_callout {
    ($c:expr, $e:ident => $body:expr) => {
        match &$c.virtual_engine {
            None => {
                let $e = &$c.engine;
                $body
            }
            Some($e) => cold(|| $body),
        }
    };
}

impl<T: CalloutCallback> Callout<T> {
    fn with_mode(target: Arc<T>, mode: Mode) -> Result<Self> {
        let (engine, virtual_engine) = match engine_for(current_cpu()).ok_or(ENODEV)? {
            EngineRef::Cpu(e) => (e.clone(), None),
            EngineRef::Virtual(v) => (engine_of(0).ok_or(ENODEV)?.clone(), Some(v)),
        };
        let mut c = Self {
            id: 0,
            engine,
            virtual_engine,
            target,
        };
        c.id = on_callout!(c, e => callout::init(e, mode, GFP_KERNEL))?;
        Ok(c)
    }

    /// `callout_init`: callbacks serialised under one module-wide lock.
    pub fn init(target: Arc<T>) -> Result<Self> {
        Self::with_mode(target, Mode::Giant)
    }

    /// `callout_init_mp`: MP-safe callback, no lock.
    pub fn init_mp(target: Arc<T>) -> Result<Self> {
        Self::with_mode(target, Mode::Mp)
    }

    /// `callout_init_lk`: the executor holds `lock` around the callback.
    pub fn init_lk(target: Arc<T>, lock: Arc<CalloutLock>) -> Result<Self> {
        Self::with_mode(target, Mode::Lk(lock))
    }

    /// The target.
    pub fn target(&self) -> &Arc<T> {
        &self.target
    }

    #[inline(always)]
    fn run(&self) -> Run {
        let arg = Arc::as_ptr(&self.target).cast_mut().cast::<c_void>();
        // SAFETY: `run_callout::<T>` only borrows the target, which this callout keeps alive
        // until its drop has freed the engine callout (or forever, if that failed); `T` may be
        // used from any CPU.
        Run::Func(unsafe { Call::new(run_callout::<T>, arg) })
    }

    /// `callout_reset`: run after `ticks` ticks (at least one), on this CPU.
    #[inline]
    pub fn reset(&self, ticks: i64) -> Result {
        on_callout!(self, e => callout::reset(e, self.id, hztons(ticks), 0, self.run()))
    }

    /// `callout_reset_bycpu`: [`Callout::reset`] whose callback runs on `cpu`; `EINVAL` if
    /// `cpu` is not online.
    #[inline]
    pub fn reset_bycpu(&self, cpu: u32, ticks: i64) -> Result {
        let (id, delay, run) = (self.id, hztons(ticks), self.run());
        on_callout!(self, e => callout::reset_on(e, id, Some(cpu), delay, 0, run))
    }

    /// `callout_stop`: 1 if a pending run was prevented, else 0.
    #[inline]
    pub fn stop(&self) -> i32 {
        on_callout!(self, e => callout::stop(e, self.id)).unwrap_or(0)
    }

    /// `callout_stop_async`.
    #[inline]
    pub fn stop_async(&self) {
        let _ = on_callout!(self, e => callout::stop(e, self.id));
    }

    /// `callout_stop_sync`: `stop`, then waits for a running callback.
    #[inline]
    pub fn stop_sync(&self) -> i32 {
        on_callout!(self, e => callout::stop_sync(e, self.id)).unwrap_or(0)
    }

    /// `callout_active`.
    #[inline]
    pub fn active(&self) -> bool {
        on_callout!(self, e => callout::active(e, self.id)) == Ok(1)
    }

    /// `callout_pending`.
    #[inline]
    pub fn pending(&self) -> bool {
        on_callout!(self, e => callout::pending(e, self.id)) == Ok(1)
    }

    /// `callout_deactivate`.
    #[inline]
    pub fn deactivate(&self) {
        let _ = on_callout!(self, e => callout::deactivate(e, self.id));
    }
}

impl<T: CalloutCallback> Drop for Callout<T> {
    fn drop(&mut self) {
        if on_callout!(self, e => callout::destroy(e, self.id)) == Err(EBUSY) {
            // Dropped from its own callback: the callout lives on and may run again, so its
            // target must too.
            core::mem::forget(self.target.clone());
        }
    }
}
