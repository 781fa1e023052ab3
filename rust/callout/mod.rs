// SPDX-License-Identifier: GPL-2.0

//! DragonFly BSD `callout(9)` on the engine.
//!
//! A callout is an engine object of tag [`TAG`] delivered to the executor
//! ([`Delivery::Executor`]); it lives from `init` to `destroy`, and its state is a
//! [`CalloutState`], the engine's executor job. Its expiry only moves it to [`Sched::Fired`]
//! and onto the engine's fired list; the executor (a work item on the high-priority workqueue,
//! DragonFly's softclock thread) runs [`Callouts::run`], which takes the callout's lock,
//! **re-checks under that lock** that the schedule it was fired for is still the current one,
//! and only then runs the callback. So a `stop` made while holding the callout's lock prevents
//! the run even if the timer already expired and the executor is waiting for the lock
//! (DragonFly's `LK_CANCELABLE`, emulated with the schedule's generation).
//!
//! Semantics chosen where DragonFly versions differ (see `docs/semantics.md`):
//! - `stop` returns 1 iff it prevented a run that had not started (queued, or fired and waiting
//!   for the executor or the lock), 0 otherwise; it never waits.
//! - `stop_sync` is `stop`, then waits for a running callback, except from the callback itself
//!   or while holding the callout's own lock (the callback cannot be running then: it runs with
//!   that lock held), where it returns at once.
//! - `reset` of a running callout does not block: the new schedule counts from the call, and
//!   the new run starts after the current one returned (the executor runs one at a time).
//! - `pending` is 0 from the moment the timer expired; `active` is cleared only by `stop` and
//!   `deactivate`. Both are stable only from the callback itself, or after the callback ran and
//!   before the next `reset`, as the man page says.
//!
//! # Locking
//!
//! A callback runs with its callout's lock held (a [`CalloutLock`], the module-wide lock, or
//! none), taken by the executor before the engine lock is taken again; the engine lock is never
//! held while a callout lock is taken, nor while a callback runs. `stop_sync` waits on the
//! engine's `done` condition with the engine lock, never with a callout lock it does not own.

pub(crate) mod ioctl;
pub(crate) mod lock;
pub(crate) mod registry;

pub(crate) use lock::ForeignLock;
pub use lock::{CalloutLock, LockKind};

use crate::engine::{
    cpu_online, current_cpu, current_task, Backend, Call, Clock, Delivery, Engine, Executor,
    Locked, Sched, Slot,
};
use crate::uapi;
use kernel::{
    alloc::Flags,
    prelude::*,
    sync::Arc,
    time::{delay, Delta},
};
use lock::{giant_held_by_current, lock_giant, RunGuard};

/// The tag of callouts: their records' kind.
pub(crate) const TAG: u8 = uapi::HRC_EV_CALLOUT as u8;

/// What a userspace callout's callback does, chosen at `reset` (`HRC_CA_*`).
pub(crate) mod action {
    pub(crate) const EVENT: u32 = crate::uapi::HRC_CA_EVENT;
    pub(crate) const SPIN: u32 = crate::uapi::HRC_CA_SPIN;
    pub(crate) const SLEEP: u32 = crate::uapi::HRC_CA_SLEEP;
    pub(crate) const RESET: u32 = crate::uapi::HRC_CA_RESET;
    pub(crate) const STOP: u32 = crate::uapi::HRC_CA_STOP;
    pub(crate) const STOP_SYNC: u32 = crate::uapi::HRC_CA_STOP_SYNC;
    pub(crate) const ALL: u32 = EVENT | SPIN | SLEEP | RESET | STOP | STOP_SYNC;
}

/// The longest a callback may spin or sleep, and a lock may be held by `hold`, in µs.
pub(crate) const MAX_WINDOW_US: u32 = 1_000_000;
/// The longest a spinlock may be held (atomic context), in µs.
pub(crate) const MAX_SPIN_US: u32 = 20_000;

/// How a callout is serialised (`callout_init`, `callout_init_mp`, `callout_init_lk`).
#[derive(Clone)]
pub(crate) enum Mode {
    /// Not MP-safe: callbacks run under one module-wide lock.
    Giant,
    /// MP-safe: no lock.
    Mp,
    /// The executor takes this lock around the callback.
    Lk(Arc<CalloutLock>),
    /// The executor takes this lock of a C driver's around the callback.
    Foreign(ForeignLock),
}

impl Mode {
    /// Takes the lock the callback runs under, if it has one.
    fn lock(&self) -> Option<RunGuard<'_>> {
        Some(match self {
            Self::Mp => return None,
            Self::Giant => RunGuard::Giant(lock_giant()),
            Self::Lk(lk) => RunGuard::Lk(lk.lock()),
            Self::Foreign(lk) => RunGuard::Foreign(lk.lock()),
        })
    }
}

/// What runs when the callout fires.
#[derive(Clone, Copy)]
pub(crate) enum Run {
    /// An in-kernel call: a C driver's function and argument, or a typed Rust callback's
    /// trampoline (`kernel_api`).
    Func(Call),
    /// The userspace menu: `HRC_CA_*` bits, a window in µs, self-resets left.
    Actions { mask: u32, us: u32, repeat: u32 },
}

/// A callout's state, kept in its engine object (the executor's job). Protected by the engine
/// lock.
#[derive(Default)]
pub(crate) struct CalloutState {
    pub(crate) mode: Option<Mode>,
    pub(crate) run: Option<Run>,
    pub(crate) active: bool,
    /// The delay of the last `reset`, in ns, for self-resets.
    pub(crate) delay: i64,
    /// Completed callback runs, so `stop_sync` waits for the run it saw, not a later one.
    pub(crate) runs: u32,
}

/// The executor of every engine: runs fired callouts.
pub(crate) struct Callouts;

impl Executor for Callouts {
    type Job = CalloutState;

    fn run<B: Backend>(l: Locked<'_, B, Self>, slot: Slot) {
        dispatch(l, slot);
    }
}

/// The callout state of `slot` (a callout, by its tag). Always inlined: `stop` is on the
/// callout pair's hot path (see the engine's `# Inlining`).
#[inline(always)]
fn state<'a, B: Backend>(
    l: &'a mut Locked<'_, B, Callouts>,
    slot: Slot,
) -> Result<&'a mut CalloutState> {
    l.object(slot).map(|o| &mut o.job).ok_or(ENOENT)
}

/// `callout_init*`: a new callout on `engine`; returns its id.
pub(crate) fn init<B: Backend>(
    engine: &Engine<B, Callouts>,
    mode: Mode,
    flags: Flags,
) -> Result<u64> {
    engine.create(
        TAG,
        Delivery::Executor,
        Clock::Monotonic,
        0,
        flags,
        |l, slot| {
            state(l, slot)?.mode = Some(mode);
            Ok(())
        },
    )
}

/// `callout_reset`: (re)arms the callout to run `run` after `delay_ns` (at least one tick), on
/// the caller's CPU.
pub(crate) fn reset<B: Backend>(
    engine: &Engine<B, Callouts>,
    id: u64,
    delay_ns: i64,
    cookie: u64,
    run: Run,
) -> Result {
    reset_on(engine, id, None, delay_ns, cookie, run)
}

/// `callout_reset_bycpu`: [`reset`] whose callback runs on `cpu` (the caller's if `None`):
/// `EINVAL` unless `cpu` is online. The callout's timer stays on its engine; its job goes to
/// that CPU's executor lane.
pub(crate) fn reset_on<B: Backend>(
    engine: &Engine<B, Callouts>,
    id: u64,
    cpu: Option<u32>,
    delay_ns: i64,
    cookie: u64,
    run: Run,
) -> Result {
    let mut l = engine.lock();
    // Under the engine lock interrupts are off: the caller's CPU is the one we run on, and an
    // online CPU stays online until the lock is dropped.
    let cpu = match cpu {
        None => current_cpu(),
        Some(c) if cpu_online(c) => c,
        Some(_) => return Err(EINVAL),
    };
    let slot = l.lookup_tag(id, TAG)?;
    let mut s = l.slot(slot);
    s.set_cookie(cookie);
    let o = s.object().ok_or(ENOENT)?;
    o.cpu = cpu;
    let c = &mut o.job;
    if let Run::Actions { mask, us, .. } = run {
        if mask & !action::ALL != 0 || us > MAX_WINDOW_US {
            return Err(EINVAL);
        }
        // A spinlock callout runs atomically: it may not sleep, nor spin for long.
        if matches!(&c.mode, Some(Mode::Lk(lk)) if lk.kind() == LockKind::Spin)
            && (mask & action::SLEEP != 0 || us > MAX_SPIN_US)
        {
            return Err(EINVAL);
        }
    }
    // BSD: non-positive delays become one tick.
    let delay = delay_ns.max(crate::ticks::tick_ns());
    c.active = true;
    c.delay = delay;
    c.run = Some(run);
    let now = engine.backend.now(Clock::Monotonic);
    // `arm` moves an armed schedule and bumps the generation, which also cancels a fired run
    // still waiting for the executor: no separate cancel needed.
    l.arm(slot, now.saturating_add(delay), 0)
}

/// `callout_stop`: 1 if this call prevented a run that had not started, else 0. Never waits.
pub(crate) fn stop<B: Backend>(engine: &Engine<B, Callouts>, id: u64) -> Result<i32> {
    let mut l = engine.lock();
    let slot = l.lookup_tag(id, TAG)?;
    state(&mut l, slot)?.active = false;
    Ok(match l.disarm(slot) {
        Sched::Armed | Sched::Fired => 1,
        Sched::Idle => 0,
    })
}

/// `callout_stop_sync`: `stop`, then waits for a running callback to return, except from the
/// callback itself or with the callout's own lock held (then it cannot be running).
pub(crate) fn stop_sync<B: Backend>(engine: &Engine<B, Callouts>, id: u64) -> Result<i32> {
    let r = stop(engine, id)?;
    let (slot, runs) = {
        let mut l = engine.lock();
        let slot = l.lookup_tag(id, TAG)?;
        let o = l.object(slot).ok_or(ENOENT)?;
        if !o.running || o.running_task == current_task() {
            return Ok(r);
        }
        match &o.job.mode {
            Some(Mode::Lk(lk)) if lk.held_by_current() => return Ok(r),
            Some(Mode::Giant) if giant_held_by_current() => return Ok(r),
            _ => {}
        }
        (slot, o.job.runs)
    };
    engine.wait_while(slot, |sid, o| {
        sid == id && o.is_some_and(|o| o.running && o.job.runs == runs)
    });
    Ok(r)
}

/// `callout_active`.
pub(crate) fn active<B: Backend>(engine: &Engine<B, Callouts>, id: u64) -> Result<i32> {
    let mut l = engine.lock();
    let slot = l.lookup_tag(id, TAG)?;
    Ok(i32::from(state(&mut l, slot)?.active))
}

/// `callout_pending`: scheduled and not expired yet.
pub(crate) fn pending<B: Backend>(engine: &Engine<B, Callouts>, id: u64) -> Result<i32> {
    let mut l = engine.lock();
    let slot = l.lookup_tag(id, TAG)?;
    Ok(i32::from(l.slot(slot).sched() == Sched::Armed))
}

/// `callout_deactivate`: clears `active`. A queued schedule stays queued; when it comes due the
/// callback is skipped (DragonFly 2014: an inactive callout is not called).
pub(crate) fn deactivate<B: Backend>(engine: &Engine<B, Callouts>, id: u64) -> Result {
    let mut l = engine.lock();
    let slot = l.lookup_tag(id, TAG)?;
    state(&mut l, slot)?.active = false;
    Ok(())
}

/// Destroys a callout: `stop_sync`, then frees it. `EBUSY` from its own running callback
/// (nothing is freed then). A callout reset and run again by another thread meanwhile is
/// stopped again.
pub(crate) fn destroy<B: Backend>(engine: &Engine<B, Callouts>, id: u64) -> Result {
    loop {
        {
            let mut l = engine.lock();
            let slot = l.lookup_tag(id, TAG)?;
            let o = l.object(slot).ok_or(ENOENT)?;
            if o.running && o.running_task == current_task() {
                return Err(EBUSY);
            }
        }
        stop_sync(engine, id)?;
        let mut l = engine.lock();
        let slot = l.lookup_tag(id, TAG)?;
        if l.object(slot).is_some_and(|o| o.running) {
            // Someone reset it and it ran again meanwhile.
            continue;
        }
        l.disarm(slot);
        l.unqueue_record(slot);
        // Drops the callout's state, with its reference to its lock.
        l.free(slot);
        return Ok(());
    }
}

/// The executor's handling of one fired callout (thread context), which it has just popped
/// under `l`.
fn dispatch<B: Backend>(mut l: Locked<'_, B, Callouts>, slot: Slot) {
    let engine = l.engine;
    let Some((fired, o)) = l.fired(slot) else {
        return;
    };
    let mode = o.job.mode.clone();
    let id = fired.id;
    // Take the callout's lock, then re-check under it: a `stop` or `reset` made meanwhile
    // (e.g. by a thread holding this lock while we waited for it) changed the generation. An
    // MP callout has no lock to wait for: it is claimed in the same engine lock hold.
    let mut held = None;
    if matches!(mode, Some(Mode::Lk(_) | Mode::Foreign(_) | Mode::Giant)) {
        drop(l);
        held = mode.as_ref().and_then(Mode::lock);
        l = engine.lock();
    }
    // Run or skipped: either way a claimed schedule is consumed. A newer schedule that fired
    // meanwhile is on the fired list again: it is left to its own turn.
    let run = if l.claim_fired(slot, &fired) {
        match l.object(slot) {
            Some(o) if o.job.active => {
                let run = o.job.run;
                l.begin_run(slot, current_task());
                run
            }
            // Deactivated while queued: skipped, like DragonFly's inactive callouts.
            _ => None,
        }
    } else {
        None
    };
    drop(l);
    if let Some(run) = run {
        // Whether the lock the callback runs under is really held by this task (the flag of its
        // record), asked of the lock rather than assumed from the mode.
        let lock_held = match &mode {
            Some(Mode::Lk(lk)) => lk.held_by_current(),
            Some(Mode::Giant) => giant_held_by_current(),
            _ => false,
        };
        let (event, extra) = execute(engine, id, run);
        let mut l = engine.lock();
        // The callout cannot have been freed meanwhile: `destroy` refuses a running callout.
        if let Some(o) = l.object(slot) {
            o.job.runs = o.job.runs.wrapping_add(1);
            if event {
                let flags = if lock_held {
                    uapi::HRC_EVF_LOCK_HELD
                } else {
                    0
                };
                // The arming that ran: a reset during the run does not rename its record.
                l.deliver_run(slot, fired.cookie, flags, extra);
            }
            // After its record: a run that fired meanwhile goes to its lane now.
            l.end_run(slot);
        }
        drop(l);
        engine.notify_done();
    }
    drop(held);
}

/// Runs a callback; returns whether to queue an event, and the result of a self-stop.
fn execute<B: Backend>(engine: &Engine<B, Callouts>, id: u64, run: Run) -> (bool, u64) {
    match run {
        Run::Func(call) => {
            // SAFETY: a run of this callout, claimed for the schedule `call` was given with
            // (`dispatch`), once.
            unsafe { call.call() };
            (false, 0)
        }
        Run::Actions { mask, us, repeat } => {
            let window = Delta::from_micros(i64::from(us));
            if mask & action::SPIN != 0 {
                spin(window);
            }
            if mask & action::SLEEP != 0 {
                delay::fsleep(window);
            }
            let mut extra = 0u64;
            if mask & action::RESET != 0 && repeat > 0 {
                let (delay, cookie) = {
                    let mut l = engine.lock();
                    match l.lookup_tag(id, TAG) {
                        Ok(slot) => {
                            let mut s = l.slot(slot);
                            let cookie = s.cookie();
                            (s.object().map_or(0, |o| o.job.delay), cookie)
                        }
                        Err(_) => (0, 0),
                    }
                };
                let again = Run::Actions {
                    mask,
                    us,
                    repeat: repeat - 1,
                };
                extra = u64::from(reset(engine, id, delay, cookie, again).is_ok());
            }
            if mask & action::STOP != 0 {
                extra = stop(engine, id).unwrap_or(-1) as u64;
            }
            if mask & action::STOP_SYNC != 0 {
                extra = stop_sync(engine, id).unwrap_or(-1) as u64;
            }
            (mask & action::EVENT != 0, extra)
        }
    }
}

/// Busy-waits for `window` (a spinning callback, or a lock held by `HRC_IOC_LOCK_HOLD`).
pub(crate) fn spin(window: Delta) {
    let end = Clock::Monotonic.now() + window.as_nanos();
    while Clock::Monotonic.now() < end {
        core::hint::spin_loop();
    }
}
