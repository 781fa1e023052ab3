// SPDX-License-Identifier: GPL-2.0

//! KUnit suites, built with `--cfg hrc_kunit` (a `CONFIG_KUNIT=y` kernel) and run when the
//! module is loaded.
//!
//! `hrcallout_fake` (`fake.rs`) drives the engine on `FakeClock`: time moves only when a test
//! says so and expiries run in the test's thread, so ordering and race windows are
//! deterministic. `hrcallout_real` (`real.rs`) checks the same paths on real hrtimers with
//! generous bounds. `hrcallout_percpu` (`percpu.rs`) checks the per-CPU kernel engines: where
//! callbacks run, parallel runs, CPU hotplug. `hrcallout_expire` (`expire.rs`) checks the
//! expiry arithmetic alone. `hrcallout_virtual_clock` (`virtual_clock.rs`) runs the public
//! in-kernel API on a `VirtualClock`.
//!
//! Results are recorded in atomics by callbacks and asserted in the test body: an `assert!`
//! outside the KUnit thread would only be logged.

mod expire;
mod fake;
mod percpu;
mod real;
mod virtual_clock;

use crate::callout::{self, CalloutLock, Callouts, LockKind, Mode, Run};
use crate::device::encode;
use crate::engine::{
    Backend, Clock, Delivery, Engine, Executor, Expiry, FakeClock, HrBackend, Taken, When,
    HARD_PASS_EXPIRIES,
};
use crate::engine::{CFn, Call};
use crate::kernel_api::{CalloutCallback, TimeoutCallback};
use crate::streams::Owner;
use crate::ticks::{self, tick_ns};
use crate::{itimer, kernel_api, streams, uapi};
use kernel::prelude::*;
use kernel::sync::atomic::{ordering::Relaxed, Atomic};
use kernel::sync::{Arc, ArcBorrow};

/// Declares a callback of the engine-level suites: a function of a number (an index into the
/// suite's statics), with the C ABI the engine calls, as a driver's callback would be.
macro_rules! numbered {
    ($(#[$m:meta])* fn $name:ident($arg:tt: usize) $body:block) => {
        $(#[$m])*
        extern "C" fn $name(p: *mut core::ffi::c_void) {
            let $arg: usize = p as usize;
            $body
        }
    };
}
use numbered;

/// The engine call of `f(i)`, `f` a [`numbered!`] callback.
fn num(f: CFn, i: usize) -> Call {
    // SAFETY: numbered callbacks use their argument as a number, never as a pointer (the one
    // that does, `cancel_self` in `fake.rs`, keeps its state alive while armed).
    unsafe { Call::new(f, i as *mut core::ffi::c_void) }
}

/// `streams::timeout_on` of `f(i)`, as a C driver would arm it.
fn timeout_on<B: Backend, X: Executor>(
    e: &Engine<B, X>,
    f: CFn,
    i: usize,
    ticks: i64,
) -> Result<u64> {
    streams::timeout_on(e, &e.arming(), Owner::Foreign, num(f, i), ticks)
}

/// `streams::untimeout_on` of a [`timeout_on`]: the ns that were left.
fn untimeout_on<B: Backend, X: Executor>(e: &Engine<B, X>, id: u64) -> Result<i64> {
    streams::untimeout_on(e, Owner::Foreign, id).map(|(ns, _)| ns)
}

/// A callout run of `f(i)`.
fn func(f: CFn, i: usize) -> Run {
    Run::Func(num(f, i))
}

/// Whether `a` is the only reference to its object: `Ok` with it back if so, else `Err` (and
/// `a` dropped). (7.3's `Arc` has no reference count getter.)
fn unique<T>(a: Arc<T>) -> core::result::Result<Arc<T>, ()> {
    Arc::into_unique_or_drop(a).map(Arc::from).ok_or(())
}

/// The target of a typed timeout or callout (`kernel_api`) in the per-CPU suites: calls
/// `f(i)`.
struct Numbered {
    f: fn(usize),
    i: usize,
}

impl Numbered {
    fn new(f: fn(usize), i: usize) -> Result<Arc<Self>> {
        Ok(Arc::new(Self { f, i }, GFP_KERNEL)?)
    }
}

impl TimeoutCallback for Numbered {
    fn run(this: ArcBorrow<'_, Self>) {
        (this.f)(this.i)
    }
}

impl CalloutCallback for Numbered {
    fn run(this: ArcBorrow<'_, Self>) {
        (this.f)(this.i)
    }
}

/// Polls `cond` every millisecond for up to `ms` ms (real-hrtimer suites); whether it held.
fn wait_for(cond: impl Fn() -> bool, ms: i64) -> bool {
    for _ in 0..ms {
        if cond() {
            return true;
        }
        kernel::time::delay::fsleep(kernel::time::Delta::from_millis(1));
    }
    cond()
}

/// An engine on the fake clock.
type FakeEngine = Engine<FakeClock, Callouts>;

fn fake() -> Result<Arc<FakeEngine>> {
    Engine::new(FakeClock::new(1_000_000_000), 4096, 16, Expiry::Soft)
}

/// A bare object of `delivery` on `clock`, not armed (tag 0: no personality's).
fn object<B: Backend, X: Executor>(
    e: &Engine<B, X>,
    delivery: Delivery,
    clock: Clock,
    cookie: u64,
) -> Result<u64> {
    e.create(0, delivery, clock, cookie, GFP_KERNEL, |_, _| Ok(()))
}

/// [`object`], armed for absolute `at`, then every `interval` ns.
fn armed<B: Backend, X: Executor>(
    e: &Engine<B, X>,
    delivery: Delivery,
    clock: Clock,
    cookie: u64,
    at: i64,
    interval: i64,
) -> Result<u64> {
    let id = object(e, delivery, clock, cookie)?;
    let mut l = e.lock();
    let slot = l.lookup(id)?;
    l.arm(slot, at, interval)?;
    Ok(id)
}

/// Cancels inline one-shot `id` (armed with `call_once`): whether it was still armed.
fn cancel_call<B: Backend, X: Executor>(e: &Engine<B, X>, id: u64) -> bool {
    let mut l = e.lock();
    l.lookup(id).and_then(|slot| l.cancel_once(slot)).is_ok()
}

/// A record taken off an engine's queue, as a reader would see it.
struct TakenRecord {
    taken: Taken,
    id: u64,
    ev: uapi::hrc_event,
}

/// Takes the oldest record, as `read` does.
fn take_record<B: Backend, X: Executor>(e: &Engine<B, X>) -> Option<TakenRecord> {
    let (ev, taken) = e.lock().take_event()?;
    Some(TakenRecord {
        taken,
        id: ev.id,
        ev: encode(&ev),
    })
}

/// Completes a [`take_record`]: the record reached its reader (`copied`), or goes back.
fn finish_record<B: Backend, X: Executor>(e: &Engine<B, X>, t: &TakenRecord, copied: bool) {
    let mut l = e.lock();
    if copied {
        l.consumed(&t.taken);
    } else {
        l.put_back(&t.taken, t.ev.expiry_ns, t.ev.fire_ns, t.ev.overruns);
    }
}

/// Takes the oldest record and lets it reach its reader (`EINVAL` if there is none).
fn read_one<B: Backend, X: Executor>(e: &Engine<B, X>) -> Result<TakenRecord> {
    let t = take_record(e).ok_or(EINVAL)?;
    finish_record(e, &t, true);
    Ok(t)
}

/// Per-test call log: callbacks append their argument.
struct Log {
    n: Atomic<usize>,
    order: [Atomic<usize>; 8],
}

impl Log {
    const fn new() -> Self {
        Self {
            n: Atomic::new(0),
            order: [const { Atomic::new(0) }; 8],
        }
    }
    fn push(&self, v: usize) {
        let i = self.n.fetch_add(1, Relaxed);
        if i < 8 {
            self.order[i].store(v, Relaxed);
        }
    }
    fn count(&self) -> usize {
        self.n.load(Relaxed)
    }
    fn at(&self, i: usize) -> usize {
        self.order[i].load(Relaxed)
    }
}
