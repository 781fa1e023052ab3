// SPDX-License-Identifier: GPL-2.0

//! The timer engine every personality sits on. It knows no personality.
//!
//! An [`Engine`] owns a table of timer slots (`slots.rs`) and hands out ids for them. It keeps
//! the armed ones in one timer queue per clock, with one hrtimer per clock started for the
//! earliest (`clock_base.rs`). When that hrtimer fires, one pass (`expire.rs`) delivers
//! everything due, each as its slot says:
//!
//! - a one-shot record ([`Engine::record_once`]): the record is queued for readers
//!   (`events.rs`), and the slot is freed when it has been read;
//! - an inline one-shot ([`Engine::call_once`]): its [`Call`] (a C-ABI function and argument,
//!   `call.rs`) is made in the pass (soft-irq engines only), never while its caller is still in
//!   the call that armed it ([`Arming`]), and the slot is freed;
//! - an object ([`Engine::create`]), armed many times, periodic or not, delivered as its
//!   [`Delivery`] says: a record that coalesces, one that honours the queue limit, or its job
//!   handed to the executor (`executor.rs`), which runs it in thread context through the
//!   engine's [`Executor`].
//!
//! The owners (the personalities) tell their slots apart by an opaque tag, handed back in every
//! [`Event`], and keep their own state in the object (`Executor::Job`). They change a slot
//! only through the methods of [`Locked`]; the fields that the unsafe queue code relies on (a
//! slot's schedule and clock, its id, its body) are private to this module.
//!
//! Time sits behind [`Backend`]: [`HrBackend`] is the real clocks, `FakeClock` (KUnit) moves
//! only when told. Where the expiry passes run is the engine's [`Expiry`]: hard irq for a
//! file's engine (timerfd's mode: the pass only queues records and wakes readers or the
//! executor), soft irq for the kernel engine, whose inline callbacks STREAMS code expects
//! there.
//!
//! # Locking
//!
//! One lock per engine, [`Engine::inner`], a `SpinLockIrq` (the hard-irq expiry pass takes it),
//! guards everything in [`Inner`]: the slots and their objects, the timer queues and the
//! hrtimers' `armed` state, the event queue, the fired list and `dying`. Every state change
//! happens under it, and the expiry pass sees it there, so cancelling never waits. It is a
//! leaf: nothing else is taken while it is held, except the hrtimer core's base lock (starting
//! an hrtimer) and the wait-queue locks of [`Engine::readers`] and [`Engine::done`] (waking).
//! It is dropped around an inline callback, around an executor job, and while the table
//! grows. Only teardown waits (`hrtimer_cancel`, `flush_work`), with it dropped. The crate's
//! lock map (`hrcallout_main.rs`) places it among the personalities' locks.
//!
//! # Inlining
//!
//! A kernel built for size (`CONFIG_CC_OPTIMIZE_FOR_SIZE`, as the tinyconfig-based test and
//! benchmark kernels are) compiles Rust at `opt-level=s`, where LLVM outlines a helper as soon
//! as it has a second caller: a call, its register saves and argument moves on a path of a few
//! hundred instructions. The helpers the hot paths are built from (arming, the one-lookup
//! one-shot take and cancel, an expiry's `fire`, the hrtimer kick) are therefore
//! `#[inline(always)]`; forcing more than those made the delivery path slower, not faster
//! (`docs/benchmarks.md`). `make bench` is the judge of any change here.

mod alloc;
mod backend;
mod call;
mod census;
mod check;
mod clock_base;
mod clock_set;
mod cpu;
mod events;
mod executor;
mod expire;
#[cfg(hrc_kunit)]
mod fake;
pub(crate) mod hrtimer;
mod lane;
mod messages;
mod quota;
mod slots;
mod timebase;
pub(crate) mod timerqueue;

pub(crate) use backend::{Backend, HrBackend};
pub(crate) use call::{CFn, Call};
pub(crate) use census::{Census, TAGS};
pub(crate) use clock_set::OnClockSet;
pub(crate) use cpu::{
    count as cpu_count, current as current_cpu, current_task, online as cpu_online,
};
pub(crate) use events::{Event, Taken};
pub(crate) use expire::PassCost;
#[cfg(hrc_kunit)]
pub(crate) use expire::{catch_up, CatchUp, HARD_PASS_EXPIRIES};
#[cfg(hrc_kunit)]
pub(crate) use fake::FakeClock;
pub(crate) use hrtimer::{Clock, Expiry};
pub(crate) use quota::{Charge, Quota};
#[cfg(hrc_bench)]
pub(crate) use slots::CHUNK;
pub(crate) use slots::{Delivery, Object, Sched, Slot, MAX_SLOTS};
pub(crate) use timebase::{Timebase, DEFAULT_PASSES};

use clock_base::{expire_fn, ClockBase, CLOCKS, CLOCK_COUNT};
use cpu::{remote_start, RemoteStart, NO_HOME};
use events::Events;
use executor::Fired;
use hrtimer::RawTimer;
use kernel::{
    interrupt::LocalInterruptDisabled,
    new_condvar, new_poll_condvar, new_spinlock_irq,
    prelude::*,
    sync::{
        atomic::{ordering, Atomic},
        poll::PollCondVar,
        Arc, CondVar, SpinLockGuard, SpinLockIrq, SpinLockIrqGuard,
    },
};
use lane::Lanes;
use messages::Messages;
use slots::{Body, IdSpace, SlotData, Slots};

/// What runs the jobs of an engine's [`Delivery::Executor`] objects, in thread context: the one
/// way the engine calls back into its owners (statically dispatched).
pub(crate) trait Executor: Sized + Send + Sync + 'static {
    /// The state an owner keeps in each of its objects (the job and what it needs).
    type Job: Default + Send;

    /// Runs the job of fired object `slot`, just taken off the fired list under `l`; the job
    /// decides, under the engine lock, whether the schedule it was fired for is still current
    /// ([`Locked::fired`], [`Locked::claim_fired`]).
    fn run<B: Backend>(l: Locked<'_, B, Self>, slot: Slot);
}

/// What an owner does at each expiry of an object of its, beside the record: in the expiry
/// pass, under the engine lock, with interrupts off, so it must neither sleep nor allocate.
pub(crate) trait ExpiryAction: Send + Sync {
    /// The object expired `expiries` times (a late expiry stands for the periods it caught up
    /// on). False if what the action works on is gone: the object then stops (a periodic one
    /// is not re-armed), and its record is still delivered.
    fn expired(&self, expiries: u64) -> bool;

    /// What it works on and how far (the owner's numbers, reported by its info call).
    fn target(&self) -> (i32, u32);
}

/// When a one-shot is due on the monotonic clock.
#[derive(Clone, Copy)]
pub(crate) enum When {
    /// This many ns after it is armed (at once if <= 0).
    After(i64),
    /// At this absolute time (the tests and benchmarks arm exact instants).
    #[cfg(any(hrc_kunit, hrc_bench))]
    At(i64),
}

/// The engine state behind its lock ([`Engine::inner`]): disjoint parts, so that one can be
/// borrowed beside another.
pub(crate) struct Inner<J> {
    /// The slot table and every object's state.
    slots: Slots<J>,
    /// The armed slots and the hrtimer state per clock, indexed by `Clock as usize`.
    bases: [ClockBase<J>; CLOCK_COUNT],
    /// Records waiting for readers.
    events: Events,
    /// Slots set aside as extra records of [`Delivery::QueueLimit`] objects.
    messages: Messages,
    /// Objects waiting for the executor, one list per lane (CPU id).
    fired: KVec<Fired>,
    /// Set at teardown: no more arming, expiries do nothing.
    dying: bool,
    /// Jobs begun while their object's job was already running: 0, or `check` fails.
    overlapping_runs: u32,
    /// The inline one-shot armed last on the home CPU, the task that armed it (an address,
    /// only compared) and when, or zeros: a pass that would run its callback on top of that
    /// task (an interrupt just after the call returned, before the caller stored the id)
    /// leaves it for a later pass, for up to `SPARE_NS` after it was armed (see `expire.rs`).
    latest_call: (u64, usize, i64),
    /// The longest pass run by an hrtimer so far (fdinfo and `make bench` report it).
    longest_pass: expire::PassCost,
}

impl<J> Inner<J> {
    fn new(qlimit: u32, ids: IdSpace) -> Result<Self> {
        let n = cpu::count() as usize;
        let mut fired = KVec::with_capacity(n, GFP_KERNEL_ACCOUNT)?;
        for _ in 0..n {
            fired.push(Fired::new(), GFP_KERNEL_ACCOUNT)?;
        }
        Ok(Self {
            slots: Slots::new(ids),
            bases: core::array::from_fn(|_| ClockBase::new()),
            events: Events::new(qlimit),
            messages: Messages::new(),
            fired,
            dying: false,
            overlapping_runs: 0,
            latest_call: (0, 0, 0),
            longest_pass: expire::PassCost::default(),
        })
    }
}

/// A timer engine: one per open file, and one per CPU for in-kernel users.
///
/// # Invariants
///
/// An `Engine` only ever lives inside an [`Arc`] ([`Engine::new`] returns one), so a shared
/// reference to it can be turned back into an `Arc`.
#[pin_data]
pub(crate) struct Engine<B: Backend, X: Executor> {
    /// Starts the hrtimers on the home CPU from another one (`cpu.rs`). First in the struct:
    /// dropping it waits for its handler, which may start the hrtimers.
    #[pin]
    remote: RemoteStart,
    /// The expiry hrtimers, one per clock. Dropping a [`RawTimer`] cancels it, so they are
    /// stopped before anything their callback uses is dropped.
    #[pin]
    mono_timer: RawTimer,
    #[pin]
    real_timer: RawTimer,
    #[pin]
    boot_timer: RawTimer,
    #[pin]
    tai_timer: RawTimer,
    /// The engine lock (see the module's `# Locking`).
    #[pin]
    inner: SpinLockIrq<Inner<X::Job>>,
    /// Readers waiting for records (also woken for poll); waited on with `inner` held.
    #[pin]
    readers: PollCondVar,
    /// Waiters for a running job to finish ([`Engine::wait_while`]).
    #[pin]
    done: CondVar,
    /// The executor's lanes, one per CPU (`lane.rs`). Immutable after creation.
    lanes: Lanes,
    /// The CPU whose hrtimers expire this engine's timers ([`Engine::new_on`]), or `NO_HOME`.
    /// Immutable after creation.
    home: u32,
    /// The time source. Immutable after creation (a backend has its own locking).
    #[pin]
    pub(crate) backend: B,
    /// Immutable after creation.
    max_timers: u32,
    /// Where the expiry passes run. Immutable after creation.
    context: Expiry,
    /// The [`Arming`]s of callers on the home CPU: a pass that finds it non-zero interrupted
    /// one of them (or one was preempted) and leaves the inline calls due for a later pass, so
    /// that a callback never runs inside the call that armed it.
    arming: Atomic<u32>,
    /// The clocks (bit `Clock as usize`) whose hard-irq pass ran out of its budget with slots
    /// still due and handed the rest to a lane (`expire.rs`); their `armed` is `i64::MIN`
    /// meanwhile. Written with the engine lock held; a lane reads it without, as a hint.
    handed_on: Atomic<u32>,
    /// The quota its table's chunks are charged to (`quota.rs`). Immutable after creation
    /// (its counters are atomic).
    charge: Charge,
    /// Whether an object was ever given an [`OnClockSet`] other than `Nothing`: only then
    /// does [`Engine::clock_was_set`] walk the table. Written with the engine lock held.
    hears_clock_set: Atomic<bool>,
}

/// Held by a caller of [`Engine::call_once`] from before it arms until just before it returns
/// to its own caller (the API's outermost function, so that what is left of the call after the
/// count drops is a return): while one is held on the home CPU, the engine makes no inline call
/// there. See `Engine::arming`.
pub(crate) struct Arming<'a>(Option<&'a Atomic<u32>>);

impl Arming<'_> {
    /// Whether it counts: it was taken on the home CPU.
    #[inline]
    fn on_home(&self) -> bool {
        self.0.is_some()
    }
}

impl Drop for Arming<'_> {
    #[inline]
    fn drop(&mut self) {
        if let Some(a) = self.0 {
            a.fetch_sub(1, ordering::Relaxed);
        }
    }
}

/// A locked engine: the guard plus the operations that need it.
pub(crate) struct Locked<'a, B: Backend, X: Executor> {
    pub(crate) engine: &'a Engine<B, X>,
    g: EngineGuard<'a, Inner<X::Job>>,
}

/// How a [`Locked`] holds the engine lock.
enum EngineGuard<'a, T> {
    /// Taken with interrupts disabled (process context).
    Irq(SpinLockIrqGuard<'a, T>),
    /// Taken in an expiry that runs in hard irq, where interrupts are already off: the plain
    /// spin lock, without the interrupt-state bookkeeping (about 30 instructions less).
    InIrq(SpinLockGuard<'a, T>),
}

impl<T> core::ops::Deref for EngineGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        match self {
            Self::Irq(g) => g,
            Self::InIrq(g) => g,
        }
    }
}

impl<T: Unpin> core::ops::DerefMut for EngineGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        match self {
            Self::Irq(g) => g,
            Self::InIrq(g) => g,
        }
    }
}

impl<B: Backend, X: Executor> Engine<B, X> {
    /// Creates an engine with room for `max_timers` live slots and the given queue limit,
    /// whose expiries run in `context` ([`Expiry::Soft`] or [`Expiry::Irq`]), on whatever CPU
    /// arms its earliest timer (a file's engine).
    pub(crate) fn new(
        backend: impl PinInit<B>,
        max_timers: u32,
        qlimit: u32,
        context: Expiry,
    ) -> Result<Arc<Self>> {
        Self::build(
            backend,
            max_timers,
            qlimit,
            context,
            NO_HOME,
            Charge::none(),
        )
    }

    /// [`Engine::new`] of an engine whose table's chunks are charged to `charge`'s quota
    /// (a file's engine, charged to its user).
    pub(crate) fn new_charged(
        backend: impl PinInit<B>,
        max_timers: u32,
        qlimit: u32,
        context: Expiry,
        charge: Charge,
    ) -> Result<Arc<Self>> {
        Self::build(backend, max_timers, qlimit, context, NO_HOME, charge)
    }

    /// [`Engine::new`] of an engine whose expiries run on CPU `home` (started from there,
    /// pinned; see `cpu.rs`), whose ids name `home` in their slot-number field's upper bits
    /// ([`Engine::cpu_of`]).
    pub(crate) fn new_on(
        home: u32,
        backend: impl PinInit<B>,
        max_timers: u32,
        qlimit: u32,
        context: Expiry,
    ) -> Result<Arc<Self>> {
        Self::build(backend, max_timers, qlimit, context, home, Charge::none())
    }

    fn build(
        backend: impl PinInit<B>,
        max_timers: u32,
        qlimit: u32,
        context: Expiry,
        home: u32,
        charge: Charge,
    ) -> Result<Arc<Self>> {
        let ids = if home == NO_HOME {
            IdSpace::Shared
        } else {
            IdSpace::Cpu(home)
        };
        let inner = Inner::new(qlimit, ids)?;
        Arc::pin_init(
            try_pin_init!(&this in Self {
                mono_timer <- RawTimer::new(
                    expire_fn::<B, X>(Clock::Monotonic, context),
                    Clock::Monotonic,
                    context
                ),
                real_timer <- RawTimer::new(
                    expire_fn::<B, X>(Clock::Realtime, context),
                    Clock::Realtime,
                    context
                ),
                boot_timer <- RawTimer::new(
                    expire_fn::<B, X>(Clock::Boottime, context),
                    Clock::Boottime,
                    context
                ),
                tai_timer <- RawTimer::new(
                    expire_fn::<B, X>(Clock::Tai, context),
                    Clock::Tai,
                    context
                ),
                inner <- new_spinlock_irq!(inner),
                readers <- new_poll_condvar!(),
                done <- new_condvar!(),
                lanes: Lanes::new::<B, X>(this.as_ptr())?,
                remote <- RemoteStart::new(remote_start::<B, X>, this.as_ptr().cast()),
                home,
                backend <- backend,
                max_timers: max_timers.min(MAX_SLOTS),
                context,
                arming: Atomic::new(0),
                handed_on: Atomic::new(0),
                charge,
                hears_clock_set: Atomic::new(false),
            }? Error),
            GFP_KERNEL_ACCOUNT,
        )
    }

    /// The slots charged to this engine's quota now (by every engine on it) and its limit, if
    /// it has one.
    pub(crate) fn quota(&self) -> Option<(u64, u64)> {
        self.charge.quota()
    }

    /// An [`Arming`] of this engine, for a call that arms inline one-shots.
    #[inline]
    pub(crate) fn arming(&self) -> Arming<'_> {
        // Counted only from the home CPU: the passes run there, and a pass elsewhere (the home
        // CPU is offline) cannot interrupt a caller here. A caller that migrates meanwhile
        // makes a pass wait once for nothing.
        if self.home != NO_HOME && self.home == cpu::current() {
            self.arming.fetch_add(1, ordering::Relaxed);
            Arming(Some(&self.arming))
        } else {
            Arming(None)
        }
    }

    /// The home CPU named in an id of a home engine (see [`IdSpace`]); meaningless for other
    /// ids.
    #[inline]
    pub(crate) fn cpu_of(id: u64) -> u32 {
        IdSpace::cpu_of(id)
    }

    /// Whether `id` is of an in-kernel virtual clock's engine, not of a per-CPU one.
    #[inline(always)]
    pub(crate) fn is_virtual_id(id: u64) -> bool {
        id & slots::VIRTUAL_ID != 0
    }

    /// Locks the engine.
    #[inline]
    pub(crate) fn lock(&self) -> Locked<'_, B, X> {
        Locked {
            engine: self,
            g: EngineGuard::Irq(self.inner.lock()),
        }
    }

    /// Locks the engine; where interrupts are off (`irq_off`) the plain spin lock is enough.
    #[inline]
    fn lock_in<'a>(&'a self, irq_off: Option<&'a LocalInterruptDisabled>) -> Locked<'a, B, X> {
        match irq_off {
            Some(irq_off) => Locked {
                engine: self,
                g: EngineGuard::InIrq(self.inner.lock_with(irq_off)),
            },
            None => self.lock(),
        }
    }

    /// Blocks until `cond` on object `slot` is false; `cond` is evaluated under the lock, with
    /// the object's id and its state (`None` once it is gone).
    pub(crate) fn wait_while(
        &self,
        slot: Slot,
        cond: impl Fn(u64, Option<&Object<X::Job>>) -> bool,
    ) {
        let mut g = self.inner.lock();
        loop {
            let d = g.slots.data_ref(slot);
            if !cond(d.id, d.obj_ref()) {
                return;
            }
            self.done.wait(&mut g);
        }
    }

    /// Wakes waiters of [`Engine::wait_while`].
    pub(crate) fn notify_done(&self) {
        self.done.notify_all();
    }

    /// Stops everything: no new arming, no more expiries, the executor drained.
    ///
    /// Called when the file is released (or the module unloads); waits, so process context
    /// only. Afterwards no hrtimer or work item of this engine is queued or running.
    pub(crate) fn shutdown(&self) {
        {
            let mut g = self.inner.lock();
            g.dying = true;
            g.fired.iter_mut().for_each(Fired::clear);
        }
        // No kick is made once `dying` is set; a remote start queued before may still start an
        // hrtimer: wait for it before cancelling them.
        self.remote.wait_idle();
        // Waits for a running expiry pass (and the inline callback it may be running).
        for clock in CLOCKS {
            self.backend.cancel(self.timer(clock), clock);
        }
        // The lanes may be running (a job, or waiting for a lock): let them finish. They find
        // empty lists and return. `flush_work` waits for a queued run, too.
        self.flush_executor();
        self.readers.notify_all();
    }
}

/// One live slot, as [`Locked::slot`] lends it to its owner: what it may read and change.
pub(crate) struct SlotMut<'a, J> {
    d: &'a mut SlotData<J>,
}

impl<J> SlotMut<'_, J> {
    /// The slot's cookie.
    #[inline]
    pub(crate) fn cookie(&self) -> u64 {
        self.d.cookie
    }

    /// Sets the cookie the slot's next records carry.
    #[inline]
    pub(crate) fn set_cookie(&mut self, cookie: u64) {
        self.d.cookie = cookie;
    }

    /// Where the slot's schedule is.
    #[inline]
    pub(crate) fn sched(&self) -> Sched {
        self.d.sched
    }

    /// The state of a long-lived object.
    #[inline]
    pub(crate) fn object(&mut self) -> Option<&mut Object<J>> {
        self.d.obj()
    }

    /// An inline one-shot's call.
    #[inline]
    pub(crate) fn call(&self) -> Option<Call> {
        match self.d.body {
            // SAFETY: an inline one-shot's function and cookie are the parts of the call
            // `alloc_once` stored in it, which it still holds.
            Body::Call { func, .. } => Some(unsafe { Call::from_parts(func, self.d.cookie) }),
            _ => None,
        }
    }

    /// While an inline one-shot's callback runs: the CPU it runs on.
    #[inline]
    pub(crate) fn call_cpu(&self) -> Option<u32> {
        match self.d.body {
            Body::Call { cpu, .. } if cpu != u32::MAX => Some(cpu),
            _ => None,
        }
    }
}

impl<B: Backend, X: Executor> Locked<'_, B, X> {
    /// Whether the engine holds nothing: no slot in use, so no timer, record or message.
    pub(crate) fn is_empty(&self) -> bool {
        self.g.slots.live() == 0
    }

    /// Makes an empty engine draw its ids from `ids` from now on (a file or clock turning
    /// virtual: [`IdSpace::Own`], [`IdSpace::KernelVirtual`]).
    pub(super) fn set_ids(&mut self, ids: IdSpace) {
        self.g.slots.set_ids(ids);
    }

    /// Whether the engine is being torn down.
    pub(crate) fn is_dying(&self) -> bool {
        self.g.dying
    }

    /// The live slot `id` names: `ENOENT` for unknown, stale, foreign or malformed ids.
    #[inline]
    pub(crate) fn lookup(&self, id: u64) -> Result<Slot> {
        self.g.slots.lookup_if(id, |_| true).ok_or(ENOENT)
    }

    /// [`Locked::lookup`] of a slot of `tag` (one slot lookup).
    #[inline]
    pub(crate) fn lookup_tag(&self, id: u64, tag: u8) -> Result<Slot> {
        self.lookup_where(id, |t| t == tag)
    }

    /// [`Locked::lookup`] of a slot whose tag passes `ok` (one slot lookup).
    #[inline]
    pub(crate) fn lookup_where(&self, id: u64, ok: impl Fn(u8) -> bool) -> Result<Slot> {
        self.g.slots.lookup_if(id, |d| ok(d.tag)).ok_or(ENOENT)
    }

    /// Live `slot`, for its owner to read and change.
    #[inline]
    pub(crate) fn slot(&mut self, slot: Slot) -> SlotMut<'_, X::Job> {
        SlotMut {
            d: self.g.slots.data(slot),
        }
    }

    /// The state of object `slot` (`None` for a one-shot).
    #[inline]
    pub(crate) fn object(&mut self, slot: Slot) -> Option<&mut Object<X::Job>> {
        self.g.slots.data(slot).obj()
    }

    /// Queues `slot`, which is not queued, on timer queue `c` at `expiry`; returns whether it
    /// is now the earliest there.
    #[inline]
    fn enqueue(&mut self, c: usize, slot: Slot, expiry: i64) -> bool {
        let g = &mut *self.g;
        let e = g.slots.entry(slot.0);
        // SAFETY: `e` is an entry of this engine's pinned chunks, which live as long as the
        // queues; the caller knows it is not queued (its slot is not `Armed`); the engine lock
        // serialises every use of the queues.
        unsafe { g.bases[c].queue.add(e, expiry) }
    }

    /// Unqueues `slot` from timer queue `c`, where it is queued.
    #[inline]
    fn dequeue(&mut self, c: usize, slot: Slot) {
        let g = &mut *self.g;
        let e = g.slots.entry(slot.0);
        // SAFETY: the caller knows the entry is in queue `c` (its slot is `Armed` on that
        // clock); the engine lock serialises every use of the queues.
        unsafe { g.bases[c].queue.del(e) };
    }

    /// Frees `slot` (dropping its object state), disarming it if needed. Its record must not
    /// be queued.
    pub(crate) fn free(&mut self, slot: Slot) {
        let g = &mut *self.g;
        let head = g.slots.free_head();
        let (e, d) = g.slots.entry_data(slot);
        if d.sched == Sched::Armed {
            // SAFETY: as in `dequeue`: an armed slot's node is in its clock's queue.
            unsafe { g.bases[d.clock as usize].queue.del(e) };
        }
        if let Some(lane) = d.obj_ref().filter(|o| o.on_fired).map(|o| o.fired_lane) {
            // A fired object waiting for the executor (rare): off the fired list first.
            if let Some(list) = g.fired.get_mut(lane as usize) {
                list.remove(&mut g.slots, slot);
            }
            g.slots.release(slot);
            return;
        }
        // INVARIANT: unqueued above, and `clear` makes it `Idle`.
        d.clear(head);
        g.slots.freed(slot);
    }

    /// Arms `slot` to expire at absolute `expiry` ns on its clock, then every `interval` ns
    /// (objects not run by the executor; others are one-shot). Replaces any previous schedule.
    /// One slot lookup.
    #[inline(always)]
    pub(crate) fn arm(&mut self, slot: Slot, expiry: i64, interval: i64) -> Result {
        self.arm_with(slot, None, expiry, interval)
    }

    /// [`Locked::arm`] on `clock`, which the slot then runs on (its records say so): an owner
    /// arms a relative time on the monotonic clock whatever clock its absolute times use.
    #[inline(always)]
    pub(crate) fn arm_on(
        &mut self,
        slot: Slot,
        clock: Clock,
        expiry: i64,
        interval: i64,
    ) -> Result {
        self.arm_with(slot, Some(clock), expiry, interval)
    }

    #[inline(always)]
    fn arm_with(&mut self, slot: Slot, clock: Option<Clock>, expiry: i64, interval: i64) -> Result {
        if self.g.dying {
            return Err(ENODEV);
        }
        let g = &mut *self.g;
        let (e, clock) = reschedule(&mut g.slots, &mut g.bases, slot, clock, interval);
        // SAFETY: as in `enqueue`: `reschedule` took the node off any queue.
        // INVARIANT: `Armed` (set by `reschedule`) and now queued on its clock.
        let first = unsafe { g.bases[clock as usize].queue.add(e, expiry) };
        if first {
            self.kick_at(clock, expiry);
        }
        Ok(())
    }

    /// Cancels the schedule of `slot` without waiting. Returns the state it had: `Armed` (the
    /// expiry will not happen), `Fired` (the executor will skip it), or `Idle`. The hrtimer is
    /// left alone: if it was started for this slot it fires early once. One slot lookup.
    #[inline]
    pub(crate) fn disarm(&mut self, slot: Slot) -> Sched {
        let g = &mut *self.g;
        let (e, d) = g.slots.entry_data(slot);
        // INVARIANT: `Idle`, and unqueued below if it was queued.
        let was = core::mem::replace(&mut d.sched, Sched::Idle);
        if let Some(o) = d.obj() {
            o.gen = o.gen.wrapping_add(1);
        }
        if was == Sched::Armed {
            // SAFETY: as in `dequeue`: an armed slot's node is in its clock's queue.
            unsafe { g.bases[d.clock as usize].queue.del(e) };
        }
        was
    }

    /// The absolute expiry of the latest schedule of `slot`, on its clock.
    #[inline]
    pub(crate) fn expiry(&self, slot: Slot) -> i64 {
        self.g.slots.entry(slot.0).expires()
    }

    /// Time left until the current expiry of `slot`, in ns (0 if due or idle).
    pub(crate) fn remaining(&self, slot: Slot) -> i64 {
        let d = self.g.slots.data_ref(slot);
        if d.sched != Sched::Armed {
            return 0;
        }
        (self.expiry(slot) - self.engine.backend.now(d.clock)).max(0)
    }
}

/// Replaces the schedule of `slot` by one on `clock` (its own if `None`) with period
/// `interval`: a new generation, off its old queue, `Armed` but not queued yet (the caller
/// queues it, or fires it, in this lock hold). Returns its entry and clock. One slot lookup.
/// A function of the engine's parts, so that the caller can queue the entry beside it.
#[inline(always)]
fn reschedule<'a, J>(
    slots: &'a mut Slots<J>,
    bases: &mut [ClockBase<J>; CLOCK_COUNT],
    slot: Slot,
    clock: Option<Clock>,
    interval: i64,
) -> (&'a slots::Entry<J>, Clock) {
    let (e, d) = slots.entry_data(slot);
    if let Some(o) = d.obj() {
        o.gen = o.gen.wrapping_add(1);
        o.interval = if o.delivery == Delivery::Executor {
            0
        } else {
            interval.max(0)
        };
    }
    let was = core::mem::replace(&mut d.sched, Sched::Armed);
    let old = d.clock;
    let clock = clock.unwrap_or(old);
    d.clock = clock;
    if was == Sched::Armed {
        // SAFETY: as in `Locked::dequeue`: an armed slot's node is in its clock's queue (`old`);
        // the engine lock, held by the caller that lent the parts, serialises.
        unsafe { bases[old as usize].queue.del(e) };
    }
    (e, clock)
}
