// SPDX-License-Identifier: GPL-2.0

//! DragonFly BSD `callout(9)` on the engine.
//!
//! A callout is a slot of kind [`Kind::Callout`] that lives from `init` to `destroy`. Its
//! expiry only moves it to [`Sched::Fired`] and onto the engine's executor list; the executor
//! (a work item on the high-priority workqueue, DragonFly's softclock thread) takes the
//! callout's lock, **re-checks under that lock** that the schedule it popped is still the
//! current one, and only then runs the callback. So a `stop` made while holding the callout's
//! lock prevents the run even if the timer already expired and the executor is waiting for the
//! lock (DragonFly's `LK_CANCELABLE`, emulated with the slot generation).
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

use crate::engine::{Backend, Engine, Kind, Locked, Sched};
use crate::timer::Clock;
use kernel::{
    new_mutex, new_spinlock,
    prelude::*,
    sync::{
        atomic::{ordering::Relaxed, Atomic},
        Arc, Mutex, SpinLock,
    },
    time::{delay, Delta},
};

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
}

/// What runs when the callout fires.
#[derive(Clone, Copy)]
pub(crate) enum Run {
    /// An in-kernel function and its argument.
    Func(fn(usize), usize),
    /// The userspace menu: `HRC_CA_*` bits, a window in µs, self-resets left.
    Actions { mask: u32, us: u32, repeat: u32 },
}

/// The callout part of a slot.
pub(crate) struct CalloutState {
    pub(crate) mode: Option<Mode>,
    pub(crate) run: Option<Run>,
    pub(crate) active: bool,
    /// The delay of the last `reset`, in ns, for self-resets.
    pub(crate) delay: i64,
    /// Completed callback runs, so `stop_sync` waits for the run it saw, not a later one.
    pub(crate) runs: u32,
}

impl CalloutState {
    pub(crate) const EMPTY: Self = Self {
        mode: None,
        run: None,
        active: false,
        delay: 0,
        runs: 0,
    };
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
/// or a spinlock (callbacks run atomically). It records its owner so that `stop_sync` can tell
/// that its caller holds it.
#[pin_data]
pub struct CalloutLock {
    kind: LockKind,
    #[pin]
    mutex: Mutex<()>,
    #[pin]
    spin: SpinLock<()>,
    /// The task holding the lock (an address, only compared), or 0.
    owner: Atomic<usize>,
}

/// A held [`CalloutLock`].
pub struct CalloutGuard<'a> {
    lock: &'a CalloutLock,
    _held: Held<'a>,
}

/// The underlying guard, released after the owner is cleared.
enum Held<'a> {
    Mutex(#[expect(dead_code, reason = "held for its Drop")] kernel::sync::MutexGuard<'a, ()>),
    Spin(#[expect(dead_code, reason = "held for its Drop")] kernel::sync::SpinLockGuard<'a, ()>),
}

impl Drop for CalloutGuard<'_> {
    fn drop(&mut self) {
        self.lock.owner.store(0, Relaxed);
    }
}

fn current_task() -> usize {
    kernel::current!().as_ptr() as usize
}

impl CalloutLock {
    /// A new lock of `kind`. All callout locks share one lockdep class per kind: the executor
    /// never holds two of them at once.
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
    // SAFETY: initialised in the module's `init` before any callout exists.
    unsafe(uninit) static GIANT: Mutex<()> = ();
}

/// The task holding [`GIANT`] (an address, only compared), or 0.
static GIANT_OWNER: Atomic<usize> = Atomic::new(0);

/// Initialises the module-wide lock of non-MP callouts. Called once from module init.
pub(crate) fn init_giant() {
    // SAFETY: called once, from module init, before any use of `GIANT`.
    unsafe { GIANT.init() };
}

/// `callout_init*`: a new callout on `engine`; returns its id.
pub(crate) fn init<B: Backend>(
    engine: &Engine<B>,
    mode: Mode,
    flags: kernel::alloc::Flags,
) -> Result<u64> {
    engine.alloc_with(Kind::Callout, Clock::Monotonic, 0, flags, |l, slot| {
        l.data(slot).obj().ok_or(EINVAL)?.callout.mode = Some(mode);
        Ok(())
    })
}

/// `callout_reset`: (re)arms the callout to run `run` after `delay_ns` (at least one tick).
pub(crate) fn reset<B: Backend>(
    engine: &Engine<B>,
    id: u64,
    delay_ns: i64,
    cookie: u64,
    run: Run,
) -> Result {
    let mut l = engine.lock();
    let slot = l.lookup_kind(id, Kind::Callout)?;
    let d = l.data(slot);
    d.cookie = cookie;
    let c = &mut d.obj().ok_or(ENOENT)?.callout;
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
    let delay = delay_ns.max(crate::streams::tick_ns());
    c.active = true;
    c.delay = delay;
    c.run = Some(run);
    let now = engine.backend.now(Clock::Monotonic);
    // `arm` moves an armed schedule and bumps the generation, which also cancels a fired run
    // still waiting for the executor: no separate cancel needed.
    l.arm(slot, now.saturating_add(delay), 0)
}

/// `callout_stop`: 1 if this call prevented a run that had not started, else 0. Never waits.
pub(crate) fn stop<B: Backend>(engine: &Engine<B>, id: u64) -> Result<i32> {
    let mut l = engine.lock();
    let slot = l.lookup_kind(id, Kind::Callout)?;
    l.data(slot).obj().ok_or(ENOENT)?.callout.active = false;
    Ok(match l.disarm(slot) {
        Sched::Armed | Sched::Fired => 1,
        Sched::Idle => 0,
    })
}

/// `callout_stop_sync`: `stop`, then waits for a running callback to return, except from the
/// callback itself or with the callout's own lock held (then it cannot be running).
pub(crate) fn stop_sync<B: Backend>(engine: &Engine<B>, id: u64) -> Result<i32> {
    let r = stop(engine, id)?;
    let (slot, runs) = {
        let mut l = engine.lock();
        let slot = l.lookup_kind(id, Kind::Callout)?;
        let o = l.data(slot).obj().ok_or(ENOENT)?;
        if !o.running || o.running_task == current_task() {
            return Ok(r);
        }
        match &o.callout.mode {
            Some(Mode::Lk(lk)) if lk.held_by_current() => return Ok(r),
            Some(Mode::Giant) if GIANT_OWNER.load(Relaxed) == current_task() => return Ok(r),
            _ => {}
        }
        (slot, o.callout.runs)
    };
    engine.wait_while(slot, |d| {
        d.id == id
            && d.obj_ref()
                .is_some_and(|o| o.running && o.callout.runs == runs)
    });
    Ok(r)
}

/// `callout_active`.
pub(crate) fn active<B: Backend>(engine: &Engine<B>, id: u64) -> Result<i32> {
    let mut l = engine.lock();
    let slot = l.lookup_kind(id, Kind::Callout)?;
    Ok(i32::from(l.data(slot).obj().ok_or(ENOENT)?.callout.active))
}

/// `callout_pending`: scheduled and not expired yet.
pub(crate) fn pending<B: Backend>(engine: &Engine<B>, id: u64) -> Result<i32> {
    let mut l = engine.lock();
    let slot = l.lookup_kind(id, Kind::Callout)?;
    Ok(i32::from(l.data(slot).sched == Sched::Armed))
}

/// `callout_deactivate`: clears `active`. A queued schedule stays queued; when it comes due the
/// callback is skipped (DragonFly 2014: an inactive callout is not called).
pub(crate) fn deactivate<B: Backend>(engine: &Engine<B>, id: u64) -> Result {
    let mut l = engine.lock();
    let slot = l.lookup_kind(id, Kind::Callout)?;
    l.data(slot).obj().ok_or(ENOENT)?.callout.active = false;
    Ok(())
}

/// Destroys a callout: `stop_sync`, then frees it. `EBUSY` from its own running callback.
pub(crate) fn destroy<B: Backend>(engine: &Engine<B>, id: u64) -> Result {
    {
        let mut l = engine.lock();
        let slot = l.lookup_kind(id, Kind::Callout)?;
        let o = l.data(slot).obj().ok_or(ENOENT)?;
        if o.running && o.running_task == current_task() {
            return Err(EBUSY);
        }
    }
    stop_sync(engine, id)?;
    let mut l = engine.lock();
    let slot = l.lookup_kind(id, Kind::Callout)?;
    if l.data(slot).obj().is_some_and(|o| o.running) {
        // Someone reset it and it ran again meanwhile; the caller may retry.
        return Err(EBUSY);
    }
    l.disarm(slot);
    l.unqueue_record(slot);
    // Drops the callout's state, with its reference to its lock.
    l.free(slot);
    Ok(())
}

/// The executor's handling of one fired callout (thread context), which it has just popped
/// under `l`.
pub(crate) fn dispatch<B: Backend>(mut l: Locked<'_, B>, slot: u32) {
    let engine = l.engine;
    let d = l.data(slot);
    if d.kind != Kind::Callout || d.sched != Sched::Fired {
        return;
    }
    let id = d.id;
    let (gen, mode) = match d.obj() {
        Some(o) => (o.gen, o.callout.mode.clone()),
        None => return,
    };
    // Take the callout's lock, then re-check under it: a `stop` or `reset` made meanwhile
    // (e.g. by a thread holding this lock while we waited for it) changed the generation. An
    // MP callout has no lock to wait for: it is claimed in the same engine lock hold.
    let mut giant = None;
    let mut guard = None;
    if matches!(mode, Some(Mode::Lk(_) | Mode::Giant)) {
        drop(l);
        match &mode {
            Some(Mode::Lk(lk)) => guard = Some(lk.lock()),
            _ => {
                giant = Some(GIANT.lock());
                GIANT_OWNER.store(current_task(), Relaxed);
            }
        }
        l = engine.lock();
    }
    let run = {
        let d = l.data(slot);
        let fired = d.id == id && d.sched == Sched::Fired;
        // The schedule popped is still the current one unless a `stop` or `reset` changed the
        // generation. A newer schedule that fired meanwhile is on the list again: leave it.
        let current = fired && d.obj_ref().is_some_and(|o| o.gen == gen);
        if current {
            // Run or skipped: either way this schedule is consumed.
            d.sched = Sched::Idle;
        }
        match d.obj() {
            Some(o) if current && o.callout.active => {
                o.running = true;
                o.running_task = current_task();
                o.callout.run
            }
            // Stale, or deactivated while queued: skipped, like DragonFly's inactive callouts.
            _ => None,
        }
    };
    drop(l);
    if let Some(run) = run {
        let lock_held = match &mode {
            Some(Mode::Lk(lk)) => lk.held_by_current(),
            Some(Mode::Giant) => true,
            _ => false,
        };
        let (event, extra) = execute(engine, id, run);
        let mut l = engine.lock();
        // The callout cannot have been freed meanwhile: `destroy` refuses a running callout.
        if let Some(o) = l.data(slot).obj() {
            o.running = false;
            o.running_task = 0;
            o.callout.runs = o.callout.runs.wrapping_add(1);
            if event {
                o.rec.flags = if lock_held {
                    crate::uapi::HRC_EVF_LOCK_HELD
                } else {
                    0
                };
                o.rec.extra = extra;
                l.deliver(slot, 0);
            }
        }
        drop(l);
        engine.notify_done();
    }
    if giant.is_some() {
        GIANT_OWNER.store(0, Relaxed);
    }
    drop(giant);
    drop(guard);
}

/// Runs a callback; returns whether to queue an event, and the result of a self-stop.
fn execute<B: Backend>(engine: &Engine<B>, id: u64, run: Run) -> (bool, u64) {
    match run {
        Run::Func(f, arg) => {
            f(arg);
            (false, 0)
        }
        Run::Actions { mask, us, repeat } => {
            let window = Delta::from_micros(i64::from(us));
            if mask & action::SPIN != 0 {
                let end = Clock::Monotonic.now() + window.as_nanos();
                while Clock::Monotonic.now() < end {
                    core::hint::spin_loop();
                }
            }
            if mask & action::SLEEP != 0 {
                delay::fsleep(window);
            }
            let mut extra = 0u64;
            if mask & action::RESET != 0 && repeat > 0 {
                let (delay, cookie) = {
                    let mut l = engine.lock();
                    match l.lookup(id) {
                        Ok(slot) => {
                            let d = l.data(slot);
                            let cookie = d.cookie;
                            (d.obj().map_or(0, |o| o.callout.delay), cookie)
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

/// `HRC_IOC_LOCK_HOLD`: holds `lock` for `us` µs, then does `op` on `callout_id` while still
/// holding it. This is how userspace builds the "stop under the lock" race window.
pub(crate) fn hold<B: Backend>(
    engine: &Engine<B>,
    lock: &CalloutLock,
    us: u32,
    op: u32,
    callout_id: u64,
) -> Result<i64> {
    let spin = lock.kind() == LockKind::Spin;
    if us > if spin { MAX_SPIN_US } else { MAX_WINDOW_US } {
        return Err(EINVAL);
    }
    if op != crate::uapi::HRC_HOLD_NONE {
        // Validate the callout before taking the lock, and refuse a stop_sync under a spinlock
        // unless the callout uses this very lock (then it never waits).
        let mut l = engine.lock();
        let slot = l.lookup_kind(callout_id, Kind::Callout)?;
        let own = matches!(
            l.data(slot).obj().map(|o| &o.callout.mode),
            Some(Some(Mode::Lk(lk))) if core::ptr::eq(&**lk, lock)
        );
        if spin && op == crate::uapi::HRC_HOLD_STOP_SYNC && !own {
            return Err(EINVAL);
        }
    }
    let _guard = lock.lock();
    let window = Delta::from_micros(i64::from(us));
    if spin {
        let end = Clock::Monotonic.now() + window.as_nanos();
        while Clock::Monotonic.now() < end {
            core::hint::spin_loop();
        }
    } else {
        delay::fsleep(window);
    }
    Ok(match op {
        crate::uapi::HRC_HOLD_NONE => 0,
        crate::uapi::HRC_HOLD_STOP => i64::from(stop(engine, callout_id)?),
        crate::uapi::HRC_HOLD_STOP_SYNC => i64::from(stop_sync(engine, callout_id)?),
        _ => return Err(EINVAL),
    })
}

/// A DragonFly callout for kernel code: a caller-owned handle on the module's kernel engine.
///
/// The callback is a plain function and its argument, run in thread context (the executor),
/// under the module-wide lock ([`Callout::init`]), no lock ([`Callout::init_mp`]) or the
/// given lock ([`Callout::init_lk`]). Dropping the handle is `callout_stop_sync` + free; do
/// not drop it from its own callback.
pub struct Callout {
    id: u64,
    engine: Arc<Engine<crate::engine::HrBackend>>,
}

impl Callout {
    fn with_mode(mode: Mode) -> Result<Self> {
        let engine = crate::streams::kernel_engine().ok_or(ENODEV)?;
        let id = init(&*engine, mode, GFP_KERNEL)?;
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
        let ns = crate::streams::hztons(ticks);
        reset(&*self.engine, self.id, ns, 0, Run::Func(func, arg))
    }

    /// `callout_stop`: 1 if a pending run was prevented, else 0.
    pub fn stop(&self) -> i32 {
        stop(&*self.engine, self.id).unwrap_or(0)
    }

    /// `callout_stop_async`.
    pub fn stop_async(&self) {
        let _ = stop(&*self.engine, self.id);
    }

    /// `callout_stop_sync`: `stop`, then waits for a running callback.
    pub fn stop_sync(&self) -> i32 {
        stop_sync(&*self.engine, self.id).unwrap_or(0)
    }

    /// `callout_active`.
    pub fn active(&self) -> bool {
        active(&*self.engine, self.id) == Ok(1)
    }

    /// `callout_pending`.
    pub fn pending(&self) -> bool {
        pending(&*self.engine, self.id) == Ok(1)
    }

    /// `callout_deactivate`.
    pub fn deactivate(&self) {
        let _ = deactivate(&*self.engine, self.id);
    }
}

impl Drop for Callout {
    fn drop(&mut self) {
        let _ = destroy(&*self.engine, self.id);
    }
}
