// SPDX-License-Identifier: GPL-2.0

//! CPUs: which one the caller runs on, which are online, and how a per-CPU engine keeps its
//! hrtimers on its own CPU.
//!
//! An engine made with [`Engine::new_on`] has a home CPU: the kernel API keeps one such engine
//! per possible CPU, so that a `timeout()` runs where it was armed and CPUs do not share a lock.
//! An hrtimer expires on the CPU it was started on, so a home engine starts its hrtimers
//! pinned, and only from its home CPU: when another CPU makes a new earliest expiry (a
//! `dtimeout()` for this CPU, a cancel's re-arm, an expiry pass migrated by CPU hotplug), it
//! queues the engine's [`RemoteStart`] on the home CPU, whose handler starts the hrtimer there
//! for the latest expiry it was asked for (each kick is a new earliest), so one queued call
//! serves every kick made before it runs.
//!
//! CPU hotplug: while the home CPU is offline, `hrtimers_cpu_dying` has moved its hrtimers to a
//! live CPU; the engine then starts them wherever it runs (nothing is lost, expiries run on a
//! live CPU), and [`Engine::cpu_online`], called on the home CPU as it comes back, starts them
//! there again. `cpu_online_mask` changes only inside `stop_machine`, so a test made with
//! interrupts disabled (under the engine lock) stays true until they are enabled again.
//!
//! [`Engine::new_on`]: super::Engine::new_on

use super::hrtimer::Clock;
use super::{
    clock_base::{CLOCKS, CLOCK_COUNT},
    Backend, Engine, Executor,
};
use core::ffi::c_void;
use kernel::{
    bindings,
    cpu::CpuId,
    prelude::*,
    sync::atomic::{ordering, Atomic},
    types::Opaque,
};

/// The current task, as an address that is only compared (the engine's deferral of inline
/// calls, the callout locks' owners and running jobs).
#[inline]
pub(crate) fn current_task() -> usize {
    kernel::current!().as_ptr() as usize
}

/// The CPU the caller runs on (it may move right after, unless preemption is off).
#[inline]
pub(crate) fn current() -> u32 {
    CpuId::current().as_u32()
}

/// The number of possible CPU ids (`nr_cpu_ids`): valid CPUs are below it.
#[inline]
pub(crate) fn count() -> u32 {
    kernel::cpu::nr_cpu_ids()
}

/// Whether `cpu` is a CPU id that is online now.
#[inline]
pub(crate) fn online(cpu: u32) -> bool {
    let Ok(n) = i32::try_from(cpu) else {
        return false;
    };
    // SAFETY: `__cpu_online_mask` is a static of the kernel, valid for the whole run; testing a
    // bit is an atomic read (`cpu < nr_cpu_ids` is checked first, as `cpumask_test_cpu`
    // requires).
    cpu < count() && unsafe { bindings::cpumask_test_cpu(n, &raw mut bindings::__cpu_online_mask) }
}

/// `cpu` if it is online, else the caller's CPU (which is online: it runs).
#[inline]
pub(crate) fn online_or_current(cpu: u32) -> u32 {
    if online(cpu) {
        cpu
    } else {
        current()
    }
}

/// The cross-CPU call a home engine queues on its home CPU to start its hrtimers there
/// (`smp_call_function_single_async`: an IPI, handled in hard irq).
///
/// The handler runs in hard irq, where the engine lock (a `spinlock_t`) may not be taken, so
/// it does not read the queues: the kicks leave it the expiry to start per clock in `want`
/// (written under the engine lock, each a new earliest), and it starts the hrtimers there,
/// under nothing but the hrtimer core's raw base lock. `pending` says a call is queued and has
/// not read `want` yet: a kick that finds it set only updates `want`.
///
/// # Invariants
///
/// `csd` was set up by [`RemoteStart::new`] with the handler and address of the engine it is a
/// field of, and is never moved. `inflight` counts handler runs queued and not finished; a
/// handler's last access to the engine is its decrement, and [`RemoteStart::wait_idle`] (in
/// shutdown, before the hrtimers are cancelled, and in drop) waits for 0, so the engine and its
/// hrtimers outlive every handler run.
#[pin_data(PinnedDrop)]
pub(super) struct RemoteStart {
    #[pin]
    csd: Opaque<bindings::call_single_data_t>,
    inflight: Atomic<u32>,
    pending: Atomic<bool>,
    /// Per clock (`Clock as usize`): the expiry to start the hrtimer for, or [`NO_WANT`].
    want: [Atomic<i64>; CLOCK_COUNT],
}

/// `RemoteStart::want` of a clock with nothing to start.
const NO_WANT: i64 = i64::MIN;

// SAFETY: the csd is queued only by `kick` and run by the cross-CPU call core; the other
// fields are atomics. Every method takes `&self`.
unsafe impl Send for RemoteStart {}
// SAFETY: as above.
unsafe impl Sync for RemoteStart {}

impl RemoteStart {
    /// A cross-CPU call of `func(info)`.
    pub(super) fn new(
        func: unsafe extern "C" fn(*mut c_void),
        info: *mut c_void,
    ) -> impl PinInit<Self> {
        pin_init!(Self {
            // INVARIANT: `INIT_CSD(csd, func, info)` is a zeroed csd with `func` and `info`.
            csd <- Opaque::ffi_init(move |place: *mut bindings::call_single_data_t| {
                // SAFETY: `place` is valid for writes of a csd; all-zero is a valid value of
                // its list node and flags.
                unsafe {
                    place.write(core::mem::zeroed());
                    (*place).func = Some(func);
                    (*place).info = info;
                }
            }),
            inflight: Atomic::new(0),
            pending: Atomic::new(false),
            want: [const { Atomic::new(NO_WANT) }; CLOCK_COUNT],
        })
    }

    /// Asks `cpu` (online, not the caller's) to start the hrtimer of `clock` for `expiry`.
    /// Called under the engine lock. Returns false if no call could be queued (then the caller
    /// starts the hrtimer itself).
    #[inline]
    fn kick(&self, cpu: u32, clock: Clock, expiry: i64) -> bool {
        self.want[clock as usize].store(expiry, ordering::Relaxed);
        // Fully ordered: a handler that cleared `pending` before this reads `want` after it.
        if self.pending.xchg(true, ordering::Full) {
            return true;
        }
        self.inflight.fetch_add(1, ordering::Relaxed);
        // SAFETY: by the type invariant the csd is set up. It is free: it was queued only by a
        // kick that found `pending` clear, and the core releases it before calling the handler,
        // which clears `pending`.
        let r = unsafe { bindings::smp_call_function_single_async(cpu as i32, self.csd.get()) };
        if r != 0 {
            self.want[clock as usize].store(NO_WANT, ordering::Relaxed);
            self.pending.store(false, ordering::Relaxed);
            self.inflight.fetch_sub(1, ordering::Release);
        }
        r == 0
    }

    /// Waits until no handler run is queued or running (process context).
    pub(super) fn wait_idle(&self) {
        // A handler runs for a few hundred instructions after its call was queued: spinning
        // costs a cross-CPU call at most.
        while self.inflight.load(ordering::Acquire) != 0 {
            core::hint::spin_loop();
        }
    }
}

#[pinned_drop]
impl PinnedDrop for RemoteStart {
    fn drop(self: Pin<&mut Self>) {
        self.wait_idle();
    }
}

/// The [`RemoteStart`] handler of an `Engine<B, X>`: starts its hrtimers on this CPU for the
/// expiries the kicks left.
///
/// # Safety
///
/// `info` is the address of a live `Engine<B, X>` whose `remote` call this is (queued by
/// `RemoteStart::kick`, counted in its `inflight`).
pub(super) unsafe extern "C" fn remote_start<B: Backend, X: Executor>(info: *mut c_void) {
    // SAFETY: by the safety contract `info` is a live engine; it and its hrtimers stay alive
    // until the decrement below (`RemoteStart::wait_idle`).
    let engine = unsafe { &*info.cast::<Engine<B, X>>() };
    let r = &engine.remote;
    r.pending.xchg(false, ordering::Full);
    for clock in CLOCKS {
        let at = r.want[clock as usize].xchg(NO_WANT, ordering::Full);
        if at != NO_WANT {
            engine.backend.start(engine.timer(clock), clock, at, true);
        }
    }
    // The last access to the engine.
    r.inflight.fetch_sub(1, ordering::Release);
}

impl<B: Backend, X: Executor> Engine<B, X> {
    /// Starts the hrtimer of `clock` for `expiry` where this home engine's expiries run: here
    /// if this is the home CPU or it is offline, else on the home CPU through [`RemoteStart`].
    /// Called with the engine lock held (interrupts off).
    pub(super) fn start_from(&self, clock: Clock, expiry: i64) {
        let home = self.home;
        if home == current() {
            // A remote start still queued for this clock was for a later expiry (each kick is
            // a new earliest): it must not override this one. (Its handler cannot run while
            // this CPU holds the engine lock with interrupts off.)
            self.remote.want[clock as usize].store(NO_WANT, ordering::Relaxed);
        } else if online(home) && self.remote.kick(home, clock, expiry) {
            return;
        }
        self.backend.start(self.timer(clock), clock, expiry, true);
    }

    /// CPU hotplug: the home CPU of this engine has come online; called on that CPU. Its
    /// hrtimers, migrated to another CPU while it was offline, come back.
    pub(crate) fn cpu_online(&self) {
        let l = self.lock();
        if l.g.dying {
            return;
        }
        for clock in CLOCKS {
            if let Some((_, min)) = l.g.bases[clock as usize].first() {
                // Started for `min` or earlier already (`armed`), now on this CPU.
                let at = l.g.bases[clock as usize].armed.map_or(min, |a| a.min(min));
                self.backend.start(self.timer(clock), clock, at, true);
            }
        }
    }
}

/// `Engine::home` of an engine without a home CPU (a file's).
pub(super) const NO_HOME: u32 = u32::MAX;
