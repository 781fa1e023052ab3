// SPDX-License-Identifier: GPL-2.0

//! SVR4/STREAMS `timeout(9)` / `untimeout(9)` on the engine.
//!
//! Two flavours share one implementation:
//! - in-kernel ([`timeout`], [`untimeout`]): a function called in soft-irq context on the
//!   module's kernel engine; callable from any context (no sleeping allocation, no waiting in
//!   hard-irq or from the callback itself);
//! - from userspace (`HRC_IOC_TIMEOUT`): the expiry queues an `HRC_EV_TIMEOUT` record on the
//!   file that armed it.
//!
//! `untimeout` returns the time that was left, or `ENOENT` (`-1` in the C API) when the id is
//! unknown, has fired, was cancelled, belongs to another file, or is the running callback's own
//! (illumos semantics, chosen over OpenSS7's "undefined", see `docs/semantics.md`).

use crate::engine::{Backend, Body, Engine, HrBackend, Kind, When};
use crate::timer::Clock;
use kernel::{bindings, prelude::*, sync::Arc};

/// Nanoseconds per tick (`1/HZ` s, with the kernel's real `CONFIG_HZ`).
pub(crate) fn tick_ns() -> i64 {
    1_000_000_000 / i64::from(bindings::CONFIG_HZ)
}

/// Ticks to nanoseconds, saturating.
pub fn hztons(ticks: i64) -> i64 {
    ticks.saturating_mul(tick_ns())
}

/// `drv_usectohz`: microseconds to ticks, rounded up (never early), saturating.
pub fn drv_usectohz(usec: i64) -> i64 {
    let ns = usec.saturating_mul(1000);
    ns / tick_ns() + i64::from(ns % tick_ns() > 0)
}

/// `drv_hztousec`: ticks to microseconds, saturating.
pub fn drv_hztousec(ticks: i64) -> i64 {
    hztons(ticks) / 1000
}

/// Nanoseconds to ticks, rounded up.
pub(crate) fn ns_to_ticks_ceil(ns: i64) -> i64 {
    let t = tick_ns();
    ns / t + i64::from(ns % t > 0)
}

/// An in-kernel timeout id: opaque, non-zero when valid (compare only with 0).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TimeoutId(pub u64);

/// `timeout()` on any engine: calls `func(arg)` in soft-irq context after `ticks`.
pub(crate) fn timeout_on<B: Backend>(
    engine: &Engine<B>,
    func: fn(usize),
    arg: usize,
    ticks: i64,
) -> Result<u64> {
    engine.one_shot(
        Kind::KernelTimeout,
        0,
        When::After(hztons(ticks)),
        Some((func, arg)),
        GFP_ATOMIC,
    )
}

/// `untimeout()` on any engine: the ns that were left. Waits for a callback running on
/// another CPU; returns `ENOENT` at once from the callback itself (same CPU).
pub(crate) fn untimeout_on<B: Backend>(engine: &Engine<B>, id: u64) -> Result<i64> {
    {
        let mut l = engine.lock();
        let slot = l.lookup_kind(id, Kind::KernelTimeout)?;
        let running_cpu = match l.data(slot).body {
            Body::Kernel { cpu, .. } => cpu,
            _ => u32::MAX,
        };
        if running_cpu == u32::MAX {
            return l.cancel_one_shot(slot);
        }
        if running_cpu == kernel::cpu::CpuId::current().as_u32() {
            // The callback itself (or an interrupt on top of it): waiting would deadlock.
            return Err(ENOENT);
        }
    }
    // Running on another CPU: soft-irq callbacks are short, so spin like hrtimer_cancel does.
    while engine.lock().lookup(id).is_ok() {
        core::hint::spin_loop();
    }
    Err(ENOENT)
}

/// `HRC_IOC_TIMEOUT`: a one-shot timer that queues an `HRC_EV_TIMEOUT` record.
pub(crate) fn timeout_event<B: Backend>(
    engine: &Engine<B>,
    delay_ns: i64,
    cookie: u64,
) -> Result<u64> {
    engine.one_shot(
        Kind::Timeout,
        cookie,
        When::After(delay_ns),
        None,
        GFP_KERNEL_ACCOUNT,
    )
}

/// `HRC_IOC_BATCH`: a [`timeout_event`] for each `(delay_ns, cookie)` of `reqs`, its id
/// written to the same index of `ids`, with one lock hold and one clock read per few timers:
/// the delays of those count from that read, made after the call began, so none is early.
/// Stops at the first failure: returns how many were armed, and the failure.
pub(crate) fn timeout_events<B: Backend>(
    engine: &Engine<B>,
    reqs: &[(i64, u64)],
    ids: &mut [u64],
) -> (usize, Result) {
    let n = reqs.len().min(ids.len());
    engine.batch(n, GFP_KERNEL_ACCOUNT, |l, i, now| {
        let (delay_ns, cookie) = reqs[i];
        let expiry = now.saturating_add(delay_ns.max(0));
        ids[i] = l.alloc_one_shot(Kind::Timeout, Clock::Monotonic, cookie, expiry, None)?;
        Ok(())
    })
}

/// `HRC_IOC_UNTIMEOUT`: the ns that were left, or `ENOENT` if it fired or is unknown here.
/// Also cancels mTCP `settimer` registrations (mTCP has no cancel of its own).
pub(crate) fn untimeout_event<B: Backend>(engine: &Engine<B>, id: u64) -> Result<i64> {
    let mut l = engine.lock();
    let slot = l.lookup(id)?;
    if !matches!(l.data(slot).kind, Kind::Timeout | Kind::Mtcp) {
        return Err(ENOENT);
    }
    l.cancel_one_shot(slot)
}

kernel::sync::global_lock! {
    // SAFETY: initialised in the module's `init` before any use.
    unsafe(uninit) static KERNEL_ENGINE: SpinLockIrq<Option<Arc<Engine<HrBackend>>>> = None;
}

/// Installs the engine behind the in-kernel API (module init).
pub(crate) fn install(engine: Option<Arc<Engine<HrBackend>>>) -> Option<Arc<Engine<HrBackend>>> {
    core::mem::replace(&mut *KERNEL_ENGINE.lock(), engine)
}

/// Initialises the in-kernel API's lock (module init, once).
pub(crate) fn init_global() {
    // SAFETY: called once from module init, before any use.
    unsafe { KERNEL_ENGINE.init() };
}

/// The engine of the in-kernel APIs.
pub(crate) fn kernel_engine() -> Option<Arc<Engine<HrBackend>>> {
    KERNEL_ENGINE.lock().clone()
}

/// STREAMS `timeout()`: calls `func(arg)` in soft-irq context after `ticks` ticks (at the next
/// opportunity if `ticks <= 0`). Returns 0 if nothing could be scheduled. Callable from any
/// context. The callback never runs inside this call; it runs on a CPU's soft-irq after the
/// engine lock that publishes the id is released.
pub fn timeout(func: fn(usize), arg: usize, ticks: i64) -> TimeoutId {
    let id = kernel_engine().map_or(0, |e| timeout_on(&e, func, arg, ticks).unwrap_or(0));
    TimeoutId(id)
}

/// STREAMS `untimeout()`: the ticks that were left (rounded up), or -1 when the id is unknown,
/// fired, already cancelled, or the caller is that timeout's running callback. Waits for a
/// callback running on another CPU.
pub fn untimeout(id: TimeoutId) -> i64 {
    match kernel_engine().map(|e| untimeout_on(&e, id.0)) {
        Some(Ok(ns)) => ns_to_ticks_ceil(ns),
        _ => -1,
    }
}
