// SPDX-License-Identifier: GPL-2.0

//! The timer engine every personality sits on.
//!
//! An [`Engine`] owns a table of timer slots ([`Entry`]), each with one hrtimer, and hands out
//! ids for them. It arms and cancels them, handles their expiry in irq context (hard irq, as
//! timerfd does, except in-kernel timeouts: soft irq), queues event records for readers, and
//! runs thread-context callbacks on its executor.
//!
//! Design, in short:
//! - **Slots are recycled, never freed one by one.** They come in pinned, size-aligned chunks
//!   of [`CHUNK`] and go back to a free list, so arming costs no allocation once the table has
//!   grown. Each slot's event record lives in the slot (one-shots) or its object state
//!   (callouts, interval timers): an expiry never allocates and so can never lose an event for
//!   want of memory. A slot is 120 bytes, 80 of them the hrtimer: a pending timeout costs one.
//!   Long-lived objects keep their larger state in an [`Object`] allocated with them.
//! - **Ids** are `(seq << SLOT_BITS) | slot` with `seq` drawn from a module-wide counter, so an
//!   id is never reused while the module is loaded, is never 0, never a kernel address, and is
//!   looked up in O(1). A stale or foreign id finds a slot whose id differs: `ENOENT`.
//! - **One lock per engine** (a `SpinLockIrq`: the hard-irq expiry callback takes it) guards the
//!   slot data, the free list, the event queue and the executor's list.
//! - **Cancellation never waits for an hrtimer callback.** Every state change happens under the
//!   engine lock; an expiry callback that lost the race sees it under the same lock and does
//!   nothing. A periodic timer is re-armed by the callback itself with `hrtimer_start` under the
//!   lock (never with `HRTIMER_RESTART`), and a callback that finds its hrtimer queued again
//!   knows it is stale. Only teardown waits (`hrtimer_cancel`), with the lock dropped.
//! - **Time sits behind [`Backend`]**: [`HrBackend`] uses real hrtimers, [`FakeClock`] lets
//!   KUnit drive expiry deterministically.
//! - **The executor** is the engine's work item on the high-priority system workqueue, the
//!   analogue of DragonFly's softclock thread: it runs thread-context callbacks one at a time.

use crate::timer::{Clock, Expire, Expiry, RawTimer, TryCancel};
use core::{
    cell::{Cell, UnsafeCell},
    pin::Pin,
};
use kernel::{
    alloc::Flags,
    bindings,
    interrupt::LocalInterruptDisabled,
    new_condvar, new_poll_condvar, new_spinlock_irq, new_work,
    prelude::*,
    sync::{
        atomic::{ordering::Relaxed, Atomic},
        poll::PollCondVar,
        Arc, ArcBorrow, CondVar, SpinLockGuard, SpinLockIrq, SpinLockIrqGuard,
    },
    workqueue::{self, impl_has_work, Work, WorkItem},
};

/// Bits of an id that name the slot; the rest is the never-reused sequence number.
pub(crate) const SLOT_BITS: u32 = 22;
/// The most slots one engine can have.
pub(crate) const MAX_SLOTS: u32 = 1 << SLOT_BITS;
const SLOT_MASK: u64 = (MAX_SLOTS as u64) - 1;
/// Bytes per chunk of slots: an order-2 page allocation with nothing rounded away (chunks are
/// above the largest kmalloc cache, so the page allocator rounds each up to a power of two).
const CHUNK_BYTES: usize = 16384;
/// Slots per chunk: as many as fit in [`CHUNK_BYTES`] after the chunk's header (the size does
/// not depend on `B`).
pub(crate) const CHUNK: usize = (CHUNK_BYTES - 16) / core::mem::size_of::<Entry<HrBackend>>();
/// End of an intrusive list.
const NIL: u32 = u32::MAX;
/// Sequence numbers an engine takes from [`NEXT_SEQ`] at a time, so arming touches no shared
/// cache line.
const SEQ_BATCH: u64 = 1024;
/// Sequence numbers stay below this, so ids are positive `i64`s.
const SEQ_LIMIT: u64 = 1 << (63 - SLOT_BITS);

/// The next sequence block; starts at 1 so that no id is 0.
static NEXT_SEQ: Atomic<u64> = Atomic::new(1);

/// What a timer slot is used for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    /// STREAMS `timeout()` from userspace: one record, then freed when read.
    Timeout,
    /// STREAMS `timeout()` from the kernel: a callback in soft-irq context, then freed.
    KernelTimeout,
    /// A DragonFly callout: thread-context callback on the executor; lives until destroyed.
    Callout,
    /// A Mach/QNX interval timer object; lives until deleted.
    Interval,
    /// An mTCP `settimer` registration: one record, then freed when read.
    Mtcp,
}

impl Kind {
    /// The `enum hrc_event_kind` of this kind's records.
    pub(crate) fn event_kind(self) -> u16 {
        (match self {
            Kind::Timeout | Kind::KernelTimeout => crate::uapi::HRC_EV_TIMEOUT,
            Kind::Callout => crate::uapi::HRC_EV_CALLOUT,
            Kind::Interval => crate::uapi::HRC_EV_INTERVAL,
            Kind::Mtcp => crate::uapi::HRC_EV_MTCP,
        }) as u16
    }

    /// Where the hrtimer expires. The expiry of every kind but in-kernel timeouts only updates
    /// the slot, queues a record and wakes readers, or hands the callout to the executor, all
    /// irq-safe and short: like timerfd's, it runs in hard-irq context (soft-irq on
    /// PREEMPT_RT, where the engine lock sleeps), sparing the soft-irq hop before a reader or
    /// the executor wakes. In-kernel timeouts run their caller's callback, which STREAMS code
    /// expects in soft-irq context.
    fn expiry_context(self) -> Expiry {
        if self == Kind::KernelTimeout {
            Expiry::Soft
        } else {
            Expiry::Irq
        }
    }

    /// Whether the slot goes back to the free list once its one event has been consumed.
    fn one_shot(self) -> bool {
        matches!(self, Kind::Timeout | Kind::KernelTimeout | Kind::Mtcp)
    }
}

/// Where a slot's schedule is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Sched {
    /// Not scheduled.
    Idle,
    /// The hrtimer is queued (for [`Locked::expiry`]).
    Armed,
    /// The hrtimer fired; the executor has not started the callback yet.
    Fired,
}

/// How overruns are counted for a slot whose record cannot be queued.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Overrun {
    /// SI_TIMER-like: at most one record queued; further expiries add to its count.
    Coalesce,
    /// Mach-like: no record while the file's queue is at its limit (or this timer's record is
    /// unread); the missed count rides on the next record that gets through.
    QueueLimit,
}

/// An event record waiting in a slot (the fields of `struct hrc_event` that vary).
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Record {
    pub(crate) expiry: i64,
    pub(crate) fire: i64,
    pub(crate) overruns: u64,
    pub(crate) flags: u32,
    pub(crate) extra: u64,
}

/// The callback of an in-kernel timeout.
pub(crate) type KernelCallback = fn(usize);

/// What a slot holds besides the fields every kind uses.
pub(crate) enum Body {
    /// A one-shot that delivers a record (userspace timeout, mTCP): when it fired.
    Once { fire: i64 },
    /// An in-kernel timeout: its callback (whose argument is the slot's cookie) and, while the
    /// callback runs, the CPU it runs on (`u32::MAX` otherwise), so that an `untimeout` from
    /// the callback itself returns at once instead of waiting for itself.
    Kernel { func: KernelCallback, cpu: u32 },
    /// A long-lived object (callout, interval timer): its state, allocated with the object.
    Object(KBox<Object>),
}

/// The state of a long-lived object: callouts and interval timers, created once and armed
/// many times, keep what one-shots do not need out of the slot (see [`EntryData`]).
pub(crate) struct Object {
    /// Bumped by every arm and cancel, so a dispatch of an older schedule can tell.
    pub(crate) gen: u32,
    /// A callback runs on the executor, in task `running_task` (an address, only compared).
    pub(crate) running: bool,
    pub(crate) running_task: usize,
    /// Period in ns; 0 for one-shot.
    pub(crate) interval: i64,
    pub(crate) overrun: Overrun,
    /// Mach: expiries not delivered yet, reported by the next record that gets through.
    pub(crate) missed: u64,
    /// All overruns since the last `TimerInfo` reset (QNX).
    pub(crate) total_overruns: u64,
    /// Armed with an absolute time (QNX `_NTO_TI_ABSOLUTE`).
    pub(crate) absolute: bool,
    /// Expired since it was last armed (QNX `_NTO_TI_EXPIRED`).
    pub(crate) expired: bool,
    /// The record readers get: `expiry`/`fire` are those of the latest expiry it stands for,
    /// `overruns` the earlier expiries folded into it.
    pub(crate) rec: Record,
    /// The expiry being handled (scheduled and actual time), until it is delivered.
    pub(crate) fired: (i64, i64),
    /// Callout state (actions, lock, ...).
    pub(crate) callout: crate::callout::CalloutState,
    /// On the executor's list, linked by `fired_next`.
    on_fired: bool,
    fired_next: u32,
}

impl Object {
    const NEW: Self = Self {
        gen: 0,
        running: false,
        running_task: 0,
        interval: 0,
        overrun: Overrun::Coalesce,
        missed: 0,
        total_overruns: 0,
        absolute: false,
        expired: false,
        rec: Record {
            expiry: 0,
            fire: 0,
            overruns: 0,
            flags: 0,
            extra: 0,
        },
        fired: (0, 0),
        callout: crate::callout::CalloutState::EMPTY,
        on_fired: false,
        fired_next: NIL,
    };
}

/// The mutable part of a slot. Only accessed with the engine lock held.
///
/// Kept to 40 bytes so that a slot with its 80-byte hrtimer is 120 bytes: a pending timeout
/// costs one slot. The expiry lives in the hrtimer itself ([`Backend::expires`]); whether the
/// record is queued is told by the queue link ([`Locked::rec_queued`]); whatever only
/// long-lived objects need is in their [`Object`].
pub(crate) struct EntryData {
    /// The id of the object using the slot; 0 while the slot is free.
    pub(crate) id: u64,
    /// The user's cookie (in-kernel timeouts: the callback's argument).
    pub(crate) cookie: u64,
    pub(crate) body: Body,
    /// Link in the free list or the event queue (a slot is never on both); `NIL` for a live
    /// slot whose record is not queued, unless it is the queue's tail.
    next: u32,
    pub(crate) kind: Kind,
    pub(crate) clock: Clock,
    /// The clock the hrtimer is currently set up on.
    timer_clock: Clock,
    pub(crate) sched: Sched,
}

impl EntryData {
    /// The object state of a callout or interval timer.
    #[inline]
    pub(crate) fn obj(&mut self) -> Option<&mut Object> {
        match &mut self.body {
            Body::Object(o) => Some(o),
            _ => None,
        }
    }

    /// [`EntryData::obj`], shared.
    #[inline]
    pub(crate) fn obj_ref(&self) -> Option<&Object> {
        match &self.body {
            Body::Object(o) => Some(o),
            _ => None,
        }
    }
}

/// Bytes per slot: the hrtimer (80) and [`EntryData`] (40).
const ENTRY_BYTES: usize = 120;

/// One timer slot: an hrtimer and its data.
///
/// # Invariants
///
/// - An entry only lives in the `entries` of a [`Chunk`].
/// - `data` is only accessed with the lock of that chunk's engine held.
#[pin_data]
pub(crate) struct Entry<B: Backend> {
    #[pin]
    timer: RawTimer,
    data: UnsafeCell<EntryData>,
    _backend: core::marker::PhantomData<B>,
}

// SAFETY: `timer` is `Sync`; `data` is only accessed under the engine lock (type invariant).
unsafe impl<B: Backend> Send for Entry<B> {}
// SAFETY: as above.
unsafe impl<B: Backend> Sync for Entry<B> {}

const _: () = assert!(core::mem::size_of::<Entry<HrBackend>>() <= ENTRY_BYTES);

impl<B: Backend> Entry<B> {
    fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // Most kinds expire in irq context (see `Kind::expiry_context`).
            timer <- RawTimer::new(expire_fn::<B>(Expiry::Irq), Clock::Monotonic, Expiry::Irq),
            data: UnsafeCell::new(EntryData {
                id: 0,
                cookie: 0,
                body: Body::Once { fire: 0 },
                next: NIL,
                kind: Kind::Timeout,
                clock: Clock::Monotonic,
                timer_clock: Clock::Monotonic,
                sched: Sched::Idle,
            }),
            _backend: core::marker::PhantomData,
        })
    }
}

/// A chunk of slots and the engine they belong to.
///
/// Aligned to its size, so that the expiry callback, which only gets the hrtimer's address,
/// finds the engine and slot number by masking that address: a slot carries neither.
///
/// # Invariants
///
/// `engine` points at the [`Engine`] whose table holds this chunk; it outlives the chunk.
#[pin_data]
#[repr(C, align(16384))]
pub(crate) struct Chunk<B: Backend> {
    engine: *const Engine<B>,
    /// Slot number of `entries[0]`.
    base: u32,
    #[pin]
    entries: [Entry<B>; CHUNK],
}

// SAFETY: `engine` is only dereferenced as a shared reference to a `Sync` engine; the entries
// are `Send` and `Sync`.
unsafe impl<B: Backend> Send for Chunk<B> {}
// SAFETY: as above.
unsafe impl<B: Backend> Sync for Chunk<B> {}

const _: () = assert!(core::mem::align_of::<Chunk<HrBackend>>() == CHUNK_BYTES);
const _: () = assert!(core::mem::size_of::<Chunk<HrBackend>>() == CHUNK_BYTES);

impl<B: Backend> Chunk<B> {
    fn new(engine: *const Engine<B>, base: u32) -> impl PinInit<Self> {
        pin_init!(Self {
            // INVARIANT: the engine creates its chunks and passes itself.
            engine,
            base,
            entries <- pin_init::pin_init_array_from_fn(|_| Entry::new()),
        })
    }

    /// The chunk holding `entry`, and `entry`'s slot number.
    fn of(entry: &Entry<B>) -> (&Self, u32) {
        let addr = core::ptr::from_ref(entry) as usize;
        // SAFETY: by the `Entry` invariant `entry` lives in a `Chunk`, whose alignment is
        // `CHUNK_BYTES` and whose size is `CHUNK_BYTES`, so masking gives the chunk's address.
        let chunk = unsafe { &*((addr & !(CHUNK_BYTES - 1)) as *const Self) };
        let first = core::ptr::from_ref(&chunk.entries[0]) as usize;
        let n = (addr - first) / core::mem::size_of::<Entry<B>>();
        (chunk, chunk.base + n as u32)
    }
}

/// The expiry callback of the engine's soft-irq hrtimers (see `Kind::expiry_context`).
///
/// # Safety
///
/// `timer` is the `timer` field of an [`Entry<B>`], as set up by [`Entry::new`].
unsafe extern "C" fn expire_soft<B: Backend>(
    timer: *mut bindings::hrtimer,
) -> bindings::hrtimer_restart {
    // SAFETY: as required of our caller.
    let (engine, entry, slot) = unsafe { expired_entry::<B>(timer) };
    engine.expire(entry, slot, None);
    // Periodic timers are re-armed under the engine lock by `expire` (see the module doc).
    bindings::hrtimer_restart::HRTIMER_NORESTART
}

/// The expiry callback of the engine's hard-irq hrtimers: [`expire_soft`], knowing that
/// interrupts are off. [`expire_fn`] only sets it up for timers whose context really is hard
/// irq on this kernel.
///
/// # Safety
///
/// `timer` is the `timer` field of an [`Entry<B>`], as set up by [`Entry::new`], and the call
/// comes from the hrtimer core in hard-irq context.
unsafe extern "C" fn expire_hard<B: Backend>(
    timer: *mut bindings::hrtimer,
) -> bindings::hrtimer_restart {
    // SAFETY: as required of our caller.
    let (engine, entry, slot) = unsafe { expired_entry::<B>(timer) };
    // SAFETY: the hrtimer core runs a timer that is not soft with interrupts disabled, for
    // the whole callback.
    let irq_off = unsafe { LocalInterruptDisabled::assume_disabled() };
    engine.expire(entry, slot, Some(irq_off));
    bindings::hrtimer_restart::HRTIMER_NORESTART
}

/// The hrtimer callback for a slot expiring in `context`.
fn expire_fn<B: Backend>(context: Expiry) -> Expire {
    match context.effective() {
        Expiry::Soft => expire_soft::<B>,
        Expiry::Irq | Expiry::Hard => expire_hard::<B>,
    }
}

/// The engine, entry and slot number of an expiring hrtimer.
///
/// # Safety
///
/// `timer` is the `timer` field of a live [`Entry<B>`].
#[inline]
unsafe fn expired_entry<'a, B: Backend>(
    timer: *mut bindings::hrtimer,
) -> (&'a Engine<B>, &'a Entry<B>, u32) {
    // The C timer is `RawTimer`'s first field (`repr(C)`), so this is the field's address.
    let timer = timer.cast::<RawTimer>();
    // SAFETY: by the safety contract `timer` is the `timer` field of a live `Entry<B>`.
    let entry = unsafe { &*kernel::container_of!(timer, Entry<B>, timer) };
    let (chunk, slot) = Chunk::of(entry);
    // SAFETY: by the `Chunk` invariant the engine outlives its chunks.
    (unsafe { &*chunk.engine }, entry, slot)
}

/// The time source and expiry mechanism of an engine.
pub(crate) trait Backend: Sized + Send + Sync + 'static {
    /// Now on `clock`, in ns.
    fn now(&self, clock: Clock) -> i64;
    /// Starts `e`'s timer at absolute `expires` on `clock` (moving it if queued).
    fn start(&self, e: &Entry<Self>, clock: Clock, expires: i64);
    /// Non-blocking cancel.
    fn try_cancel(&self, e: &Entry<Self>) -> TryCancel;
    /// Whether `e`'s timer is queued.
    fn is_queued(&self, e: &Entry<Self>) -> bool;
    /// Cancels and waits for a running expiry of `e` (never with the engine lock held).
    fn cancel(&self, e: &Entry<Self>);
    /// The absolute expiry `e` was last started for (kept after it fired or was cancelled).
    fn expires(&self, e: &Entry<Self>) -> i64;
}

/// Real hrtimers.
pub(crate) struct HrBackend;

impl Backend for HrBackend {
    fn now(&self, clock: Clock) -> i64 {
        clock.now()
    }

    fn start(&self, e: &Entry<Self>, _clock: Clock, expires: i64) {
        e.timer.start(expires)
    }

    fn try_cancel(&self, e: &Entry<Self>) -> TryCancel {
        e.timer.try_cancel()
    }

    fn is_queued(&self, e: &Entry<Self>) -> bool {
        e.timer.is_queued()
    }

    fn cancel(&self, e: &Entry<Self>) {
        e.timer.cancel()
    }

    fn expires(&self, e: &Entry<Self>) -> i64 {
        e.timer.expires()
    }
}

/// A clock that only moves when a test says so; expiries run in the test's thread.
#[pin_data]
pub(crate) struct FakeClock {
    #[pin]
    inner: SpinLockIrq<FakeInner>,
}

struct FakeInner {
    /// Monotonic now; realtime is `mono + offset`.
    mono: i64,
    offset: i64,
    /// Queued timers: (expiry, clock, entry address).
    queue: KVec<(i64, Clock, usize)>,
    /// The last expiry each started entry had (like an hrtimer's, it outlives the expiry).
    last: KVec<(usize, i64)>,
}

impl FakeInner {
    /// Monotonic time at which a queued expiry is due.
    fn due(&self, expiry: i64, clock: Clock) -> i64 {
        match clock {
            Clock::Monotonic => expiry,
            Clock::Realtime => expiry - self.offset,
        }
    }
}

impl FakeClock {
    /// A fake clock at `start` ns on both clocks.
    pub(crate) fn new(start: i64) -> impl PinInit<Self> {
        pin_init!(Self {
            inner <- new_spinlock_irq!(FakeInner {
                mono: start,
                offset: 0,
                queue: KVec::new(),
                last: KVec::new(),
            }),
        })
    }

    /// Moves time forward by `delta` ns, firing due timers in expiry order, each with the
    /// clock set to its expiry.
    pub(crate) fn advance(&self, delta: i64) {
        let target = self.inner.lock().mono + delta;
        loop {
            let addr = {
                let mut g = self.inner.lock();
                let next = g
                    .queue
                    .iter()
                    .enumerate()
                    .map(|(i, q)| (g.due(q.0, q.1), i, q.2))
                    .min();
                match next {
                    Some((due, i, addr)) if due <= target => {
                        let _ = g.queue.remove(i);
                        g.mono = g.mono.max(due);
                        addr
                    }
                    _ => {
                        g.mono = target;
                        return;
                    }
                }
            };
            // SAFETY: only entries of live engines are queued; an engine cancels all its
            // timers (removing them here) before it is freed.
            let entry = unsafe { &*(addr as *const Entry<FakeClock>) };
            let (chunk, slot) = Chunk::of(entry);
            // SAFETY: by the `Chunk` invariant its engine outlives it.
            let engine = unsafe { &*chunk.engine };
            // As the hrtimer core would: interrupts off unless the timer is a soft one.
            if entry.timer.expiry_context() == Expiry::Soft {
                engine.expire(entry, slot, None);
            } else {
                let irq_off = kernel::interrupt::local_interrupt_disable();
                engine.expire(entry, slot, Some(&irq_off));
            }
        }
    }

    /// Moves time forward by `delta` ns without firing anything, then fires what is due: the
    /// expiries run late, as on a stalled machine.
    pub(crate) fn stall(&self, delta: i64) {
        self.inner.lock().mono += delta;
        self.advance(0);
    }

    /// Steps only the realtime clock (like `clock_settime`), then fires what became due.
    pub(crate) fn set_realtime(&self, delta: i64) {
        self.inner.lock().offset += delta;
        self.advance(0);
    }

    fn remove(&self, e: &Entry<Self>) -> bool {
        let addr = core::ptr::from_ref(e) as usize;
        let mut g = self.inner.lock();
        match g.queue.iter().position(|q| q.2 == addr) {
            Some(i) => {
                let _ = g.queue.remove(i);
                true
            }
            None => false,
        }
    }
}

impl Backend for FakeClock {
    fn now(&self, clock: Clock) -> i64 {
        let g = self.inner.lock();
        match clock {
            Clock::Monotonic => g.mono,
            Clock::Realtime => g.mono + g.offset,
        }
    }

    fn start(&self, e: &Entry<Self>, clock: Clock, expires: i64) {
        self.remove(e);
        let addr = core::ptr::from_ref(e) as usize;
        let mut g = self.inner.lock();
        // A failed push would lose the timer: tests run with memory to spare, and the fake
        // clock is never used outside KUnit.
        let _ = g.queue.push((expires, clock, addr), GFP_ATOMIC);
        match g.last.iter_mut().find(|l| l.0 == addr) {
            Some(l) => l.1 = expires,
            None => {
                let _ = g.last.push((addr, expires), GFP_ATOMIC);
            }
        }
    }

    fn try_cancel(&self, e: &Entry<Self>) -> TryCancel {
        if self.remove(e) {
            TryCancel::Removed
        } else {
            TryCancel::NotActive
        }
    }

    fn is_queued(&self, e: &Entry<Self>) -> bool {
        let addr = core::ptr::from_ref(e) as usize;
        self.inner.lock().queue.iter().any(|q| q.2 == addr)
    }

    fn cancel(&self, e: &Entry<Self>) {
        self.remove(e);
    }

    fn expires(&self, e: &Entry<Self>) -> i64 {
        let addr = core::ptr::from_ref(e) as usize;
        let g = self.inner.lock();
        g.last.iter().find(|l| l.0 == addr).map_or(0, |l| l.1)
    }
}

/// The engine state behind the lock.
pub(crate) struct EngineInner<B: Backend> {
    chunks: KVec<Pin<KBox<Chunk<B>>>>,
    free: u32,
    nfree: u32,
    /// Slots in use (timers and unread one-shot records).
    live: u32,
    ev_head: u32,
    ev_tail: u32,
    nqueued: u32,
    fired_head: u32,
    fired_tail: u32,
    seq_next: u64,
    seq_end: u64,
    /// Set at teardown: no more arming, expiries do nothing.
    dying: bool,
    /// Mach port queue limit for this engine's event queue.
    pub(crate) qlimit: u32,
}

/// A timer engine: one per open file, and one for in-kernel users.
///
/// # Invariants
///
/// An `Engine` only ever lives inside an [`Arc`] ([`Engine::new`] returns one), so a shared
/// reference to it can be turned back into an `Arc`.
#[pin_data]
pub(crate) struct Engine<B: Backend> {
    #[pin]
    inner: SpinLockIrq<EngineInner<B>>,
    /// Readers waiting for records (also woken for poll).
    #[pin]
    readers: PollCondVar,
    /// Waiters for a running callback to finish.
    #[pin]
    done: CondVar,
    /// The executor.
    #[pin]
    work: Work<Engine<B>>,
    #[pin]
    pub(crate) backend: B,
    max_timers: u32,
}

impl_has_work! {
    impl{B: Backend} HasWork<Self> for Engine<B> { self.work }
}

impl<B: Backend> WorkItem for Engine<B> {
    type Pointer = Arc<Engine<B>>;

    fn run(this: Arc<Engine<B>>) {
        this.run_executor();
    }
}

/// A locked engine: the guard plus the operations that need it.
pub(crate) struct Locked<'a, B: Backend> {
    pub(crate) engine: &'a Engine<B>,
    g: EngineGuard<'a, B>,
    /// The slot last looked up and its entry (see [`Locked::entry`]).
    last: Cell<(u32, *const Entry<B>)>,
}

/// How a [`Locked`] holds the engine lock.
enum EngineGuard<'a, B: Backend> {
    /// Taken with interrupts disabled (process context).
    Irq(SpinLockIrqGuard<'a, EngineInner<B>>),
    /// Taken in an expiry that runs in hard irq, where interrupts are already off: the plain
    /// spin lock, without the interrupt-state bookkeeping (about 30 instructions less).
    InIrq(SpinLockGuard<'a, EngineInner<B>>),
}

impl<B: Backend> core::ops::Deref for EngineGuard<'_, B> {
    type Target = EngineInner<B>;

    #[inline]
    fn deref(&self) -> &EngineInner<B> {
        match self {
            Self::Irq(g) => g,
            Self::InIrq(g) => g,
        }
    }
}

impl<B: Backend> core::ops::DerefMut for EngineGuard<'_, B> {
    #[inline]
    fn deref_mut(&mut self) -> &mut EngineInner<B> {
        match self {
            Self::Irq(g) => g,
            Self::InIrq(g) => g,
        }
    }
}

impl<B: Backend> Engine<B> {
    /// Creates an engine with room for `max_timers` live slots and the given Mach queue limit.
    pub(crate) fn new(backend: impl PinInit<B>, max_timers: u32, qlimit: u32) -> Result<Arc<Self>> {
        Arc::pin_init(
            try_pin_init!(Self {
                inner <- new_spinlock_irq!(EngineInner {
                    chunks: KVec::new(),
                    free: NIL,
                    nfree: 0,
                    live: 0,
                    ev_head: NIL,
                    ev_tail: NIL,
                    nqueued: 0,
                    fired_head: NIL,
                    fired_tail: NIL,
                    seq_next: 0,
                    seq_end: 0,
                    dying: false,
                    qlimit,
                }),
                readers <- new_poll_condvar!(),
                done <- new_condvar!(),
                work <- new_work!("hrcallout::executor"),
                backend <- backend,
                max_timers: max_timers.min(MAX_SLOTS),
            }? Error),
            GFP_KERNEL_ACCOUNT,
        )
    }

    /// Locks the engine.
    #[inline]
    pub(crate) fn lock(&self) -> Locked<'_, B> {
        Locked::new(self, EngineGuard::Irq(self.inner.lock()))
    }

    /// Locks the engine where interrupts are off: the plain spin lock is enough.
    #[inline]
    fn lock_in_irq<'a>(&'a self, irq_off: &'a LocalInterruptDisabled) -> Locked<'a, B> {
        Locked::new(self, EngineGuard::InIrq(self.inner.lock_with(irq_off)))
    }

    /// Allocates a slot for a new object and gives it an id. Grows the table with `flags` when
    /// no slot is free. The personalities use [`Engine::alloc_with`] to set the slot up in the
    /// same lock hold; this plain form serves the KUnit suites.
    #[cfg(CONFIG_KUNIT = "y")]
    pub(crate) fn alloc(&self, kind: Kind, clock: Clock, cookie: u64, flags: Flags) -> Result<u64> {
        self.alloc_with(kind, clock, cookie, flags, |_, _| Ok(()))
    }

    /// [`Engine::alloc`], then `setup` on the new slot under the same lock hold (one lock
    /// round trip for "allocate and arm"); if `setup` fails the slot is freed again.
    pub(crate) fn alloc_with(
        &self,
        kind: Kind,
        clock: Clock,
        cookie: u64,
        flags: Flags,
        setup: impl FnOnce(&mut Locked<'_, B>, u32) -> Result,
    ) -> Result<u64> {
        // Long-lived objects get their state before the lock is taken.
        let mut obj = match kind {
            Kind::Callout | Kind::Interval => Some(KBox::new(Object::NEW, flags)?),
            _ => None,
        };
        loop {
            {
                let mut l = self.lock();
                if !l.needs_growth() {
                    let id = l.take_free(kind, clock, cookie, &mut obj)?;
                    let slot = (id & SLOT_MASK) as u32;
                    if let Err(e) = setup(&mut l, slot) {
                        l.free(slot);
                        return Err(e);
                    }
                    return Ok(id);
                }
            }
            self.grow(flags)?;
        }
    }

    /// Lock holds of [`Engine::batch`] are this many calls long at most, which bounds how long
    /// interrupts stay off.
    const BATCH_HOLD: usize = 16;

    /// Runs `f(l, i, now)` for each `i` in `0..n`, [`Self::BATCH_HOLD`] at a time under one
    /// lock hold and one read of the monotonic clock (`now`), growing the table with `flags`
    /// between holds when it is full. `f` allocates with [`Locked::alloc_one_shot`]. This is
    /// batch submission: arming without a lock round trip and a clock read per timer. Stops
    /// at the first error: returns how many calls succeeded, and that error.
    pub(crate) fn batch(
        &self,
        n: usize,
        flags: Flags,
        mut f: impl FnMut(&mut Locked<'_, B>, usize, i64) -> Result,
    ) -> (usize, Result) {
        let mut i = 0;
        while i < n {
            let grow = {
                let mut l = self.lock();
                let now = self.backend.now(Clock::Monotonic);
                let end = n.min(i + Self::BATCH_HOLD);
                while i < end && !l.needs_growth() {
                    if let Err(e) = f(&mut l, i, now) {
                        return (i, Err(e));
                    }
                    i += 1;
                }
                i < end
            };
            if grow {
                if let Err(e) = self.grow(flags) {
                    return (i, Err(e));
                }
            }
        }
        (n, Ok(()))
    }

    /// Adds one chunk of slots to the table. Allocates with the lock dropped.
    fn grow(&self, flags: Flags) -> Result {
        let base = {
            let g = self.inner.lock();
            g.chunks.len() * CHUNK
        };
        if base + CHUNK > MAX_SLOTS as usize {
            return Err(ENOSPC);
        }
        let chunk = KBox::pin_init(Chunk::new(self, base as u32), flags)?;
        // Room for the chunk pointer, reserved before taking the lock.
        let mut spare = KVec::new();
        let mut g = self.inner.lock();
        if g.chunks.len() * CHUNK != base {
            // Another thread grew the table meanwhile; ours is not needed.
            drop(g);
            return Ok(());
        }
        if g.chunks.len() == g.chunks.capacity() {
            let want = (g.chunks.capacity() * 2).max(4);
            drop(g);
            spare = KVec::with_capacity(want, flags)?;
            g = self.inner.lock();
            if g.chunks.len() * CHUNK != base {
                return Ok(());
            }
            if g.chunks.len() == g.chunks.capacity() {
                for c in g.chunks.drain_all() {
                    // Cannot fail: `spare` has more capacity than `chunks` had.
                    spare.push(c, GFP_ATOMIC)?;
                }
                core::mem::swap(&mut g.chunks, &mut spare);
            }
        }
        // Cannot allocate: capacity was ensured above.
        g.chunks.push(chunk, GFP_ATOMIC)?;
        let mut l = Locked::new(self, EngineGuard::Irq(g));
        for i in (0..CHUNK).rev() {
            let slot = (base + i) as u32;
            let head = l.g.free;
            l.data(slot).next = head;
            l.g.free = slot;
        }
        l.g.nfree += CHUNK as u32;
        drop(l);
        drop(spare);
        Ok(())
    }

    #[inline]
    fn entry_in(g: &EngineInner<B>, slot: u32) -> &Entry<B> {
        &g.chunks[slot as usize / CHUNK].entries[slot as usize % CHUNK]
    }

    /// Expiry of `entry`'s timer, which is slot `slot` of this engine; `irq_off` when it runs
    /// with interrupts disabled (hard irq).
    fn expire(&self, entry: &Entry<B>, slot: u32, irq_off: Option<&LocalInterruptDisabled>) {
        let mut l = match irq_off {
            Some(irq_off) => self.lock_in_irq(irq_off),
            None => self.lock(),
        };
        l.last.set((slot, entry));
        // A callback that lost a race with a cancel or re-arm finds the slot no longer armed,
        // or its timer queued again for a newer schedule: nothing to do.
        if l.g.dying || self.backend.is_queued(entry) || l.data(slot).sched != Sched::Armed {
            return;
        }
        let expiry = self.backend.expires(entry);
        let clock = l.data(slot).clock;
        let now = self.backend.now(clock);
        let d = l.data(slot);
        let (id, kind, cookie) = (d.id, d.kind, d.cookie);
        match &mut d.body {
            Body::Once { fire } => {
                // A one-shot fires once: its record is never queued yet, no overrun to count.
                *fire = now;
                d.sched = Sched::Idle;
                l.enqueue_record(slot);
            }
            Body::Kernel { func, cpu } => {
                let f = *func;
                *cpu = kernel::cpu::CpuId::current().as_u32();
                d.sched = Sched::Idle;
                drop(l);
                f(cookie as usize);
                let mut l = self.lock();
                // `untimeout` of a running callback spins on the id, so freeing is the signal;
                // nothing else frees a running in-kernel timeout.
                if l.data(slot).id == id {
                    l.free(slot);
                }
            }
            Body::Object(o) => {
                o.expired = true;
                let mut missed = 0u64;
                if o.interval > 0 {
                    // Drift-free: period k fires at start + k*interval. When the callback runs
                    // late, the periods that came due meanwhile become overruns of one record
                    // standing for the latest of them, never a burst of late events.
                    let behind = (now.saturating_sub(expiry) / o.interval) as u64;
                    missed = behind;
                    let latest = expiry.saturating_add(
                        o.interval
                            .saturating_mul(i64::try_from(behind).unwrap_or(i64::MAX)),
                    );
                    o.fired = (latest, now);
                    self.backend
                        .start(entry, clock, latest.saturating_add(o.interval));
                } else {
                    o.fired = (expiry, now);
                    d.sched = Sched::Idle;
                }
                if kind == Kind::Callout {
                    d.sched = Sched::Fired;
                    l.push_fired(slot);
                } else {
                    l.deliver(slot, missed);
                }
            }
        }
    }

    /// Queues the executor if it has work.
    fn kick_executor(&self) {
        // SAFETY: by the type invariant `self` lives in an `Arc`.
        let arc: Arc<Self> = unsafe { ArcBorrow::from_raw(core::ptr::from_ref(self)) }.into();
        // `Err` means the work is already queued and will see the new entry.
        let _ = workqueue::system_highpri().enqueue(arc);
    }

    /// The executor: runs fired thread-context callbacks one at a time.
    fn run_executor(&self) {
        loop {
            let mut l = self.lock();
            let Some(slot) = l.pop_fired() else {
                return;
            };
            crate::callout::dispatch(l, slot);
        }
    }

    /// Blocks until `cond` on the slot's data is false; `cond` is evaluated under the lock.
    pub(crate) fn wait_while(&self, slot: u32, cond: impl Fn(&EntryData) -> bool) {
        let mut g = self.inner.lock();
        loop {
            let e = Self::entry_in(&g, slot);
            // SAFETY: the engine lock is held (`g`); the shared borrow ends before `g` is
            // used again.
            if !cond(unsafe { &*e.data.get() }) {
                return;
            }
            self.done.wait(&mut g);
        }
    }

    /// Wakes waiters of [`Engine::wait_while`].
    pub(crate) fn notify_done(&self) {
        self.done.notify_all();
    }

    /// Stops everything: no new arming, every timer cancelled, the executor drained.
    ///
    /// Called when the file is released (or the module unloads); waits, so process context
    /// only. Afterwards no hrtimer or work item of this engine is queued or running.
    pub(crate) fn shutdown(&self) {
        let n = {
            let mut g = self.inner.lock();
            g.dying = true;
            g.fired_head = NIL;
            g.fired_tail = NIL;
            g.chunks.len() * CHUNK
        };
        for slot in 0..n as u32 {
            let entry: *const Entry<B> = {
                let g = self.inner.lock();
                Self::entry_in(&g, slot)
            };
            // SAFETY: chunks are pinned boxes that are only freed when the engine is dropped,
            // and the table only grows, so the entry outlives this call.
            self.backend.cancel(unsafe { &*entry });
        }
        // The executor may be running (a callback, or waiting for a lock): let it finish. It
        // finds an empty list and returns. `flush_work` waits for a queued run, too.
        self.flush_executor();
        self.readers.notify_all();
    }

    /// Waits until the executor has run everything queued so far.
    pub(crate) fn flush_executor(&self) {
        // SAFETY: `work` is a field of this pinned engine and was initialised by `new_work!`.
        unsafe { bindings::flush_work(Work::raw_get(&self.work)) };
    }

    /// Waits for records; returns false if interrupted by a signal.
    pub(crate) fn wait_readable(&self) -> bool {
        let mut g = self.inner.lock();
        while g.ev_head == NIL && !g.dying {
            if self.readers.wait_interruptible(&mut g) {
                return false;
            }
        }
        true
    }

    /// The condition variable poll registers on.
    pub(crate) fn poll_condvar(&self) -> &PollCondVar {
        &self.readers
    }

    /// Whether a record is ready.
    pub(crate) fn readable(&self) -> bool {
        self.inner.lock().ev_head != NIL
    }

    /// Counts for `HRC_IOC_CHECK`, after walking every list to check the invariants.
    pub(crate) fn check(&self) -> Check {
        let l = self.lock();
        l.check()
    }
}

/// A record taken off the event queue, on its way to userspace.
pub(crate) struct Taken {
    pub(crate) slot: u32,
    pub(crate) id: u64,
    pub(crate) kind: Kind,
    pub(crate) cookie: u64,
    pub(crate) clock: Clock,
    pub(crate) rec: Record,
}

/// The engine's own view of its consistency (`HRC_IOC_CHECK`).
pub(crate) struct Check {
    pub(crate) ok: bool,
    pub(crate) live: u32,
    pub(crate) queued: u32,
    pub(crate) free: u32,
    pub(crate) slots: u64,
}

impl<'a, B: Backend> Locked<'a, B> {
    #[inline]
    fn new(engine: &'a Engine<B>, g: EngineGuard<'a, B>) -> Self {
        Self {
            engine,
            g,
            last: Cell::new((NIL, core::ptr::null())),
        }
    }

    /// The entry of `slot`. An operation touches its slot several times (lookup, cancel,
    /// free, ...), and finding an entry divides by `CHUNK` and checks bounds: the last one
    /// found is remembered.
    #[inline]
    fn entry(&self, slot: u32) -> &Entry<B> {
        let (last, e) = self.last.get();
        if last == slot {
            // SAFETY: `e` is the entry of `slot` in this engine (set below, or by `expire`
            // from the expiring entry). Chunks are pinned boxes freed only with the engine,
            // which outlives `self`, so it is still valid.
            return unsafe { &*e };
        }
        let e = Engine::entry_in(&self.g, slot);
        self.last.set((slot, e));
        e
    }

    /// The data of `slot`.
    #[inline]
    pub(crate) fn data(&mut self, slot: u32) -> &mut EntryData {
        let e = self.entry(slot);
        // SAFETY: the engine lock is held (`self.g`), and the returned borrow is tied to
        // `&mut self`, so no other reference to this slot's data can exist meanwhile.
        unsafe { &mut *e.data.get() }
    }

    /// Finds the live object `id`: `ENOENT` for unknown, stale, foreign or malformed ids.
    #[inline]
    pub(crate) fn lookup(&mut self, id: u64) -> Result<u32> {
        let slot = (id & SLOT_MASK) as u32;
        if id == 0 || slot as usize >= self.g.chunks.len() * CHUNK {
            return Err(ENOENT);
        }
        if self.data(slot).id != id {
            return Err(ENOENT);
        }
        Ok(slot)
    }

    /// Looks `id` up and checks it is of `kind`.
    #[inline]
    pub(crate) fn lookup_kind(&mut self, id: u64, kind: Kind) -> Result<u32> {
        let slot = self.lookup(id)?;
        if self.data(slot).kind != kind {
            return Err(ENOENT);
        }
        Ok(slot)
    }

    /// Whether allocating needs a new chunk first: no free slot, though the engine is alive
    /// and below its limit (then [`Locked::take_free`] fails with the right error).
    #[inline]
    fn needs_growth(&self) -> bool {
        self.g.free == NIL && !self.g.dying && self.g.live < self.engine.max_timers
    }

    /// Allocates a one-shot slot (no object state) and arms it for absolute `expiry` on
    /// `clock`. The table must have a free slot (see [`Engine::batch`]).
    pub(crate) fn alloc_one_shot(
        &mut self,
        kind: Kind,
        clock: Clock,
        cookie: u64,
        expiry: i64,
    ) -> Result<u64> {
        let id = self.take_free(kind, clock, cookie, &mut None)?;
        let slot = (id & SLOT_MASK) as u32;
        if let Err(e) = self.arm(slot, expiry, 0) {
            self.free(slot);
            return Err(e);
        }
        Ok(id)
    }

    /// Takes a free slot for a new object: `ENODEV` once the engine is dying, `ENOSPC` at its
    /// limit or with no free slot.
    fn take_free(
        &mut self,
        kind: Kind,
        clock: Clock,
        cookie: u64,
        obj: &mut Option<KBox<Object>>,
    ) -> Result<u64> {
        if self.g.dying {
            return Err(ENODEV);
        }
        if self.g.live >= self.engine.max_timers || self.g.free == NIL {
            return Err(ENOSPC);
        }
        if self.g.seq_next == self.g.seq_end {
            let start = NEXT_SEQ.fetch_add(SEQ_BATCH, Relaxed);
            if start + SEQ_BATCH > SEQ_LIMIT {
                return Err(ENOSPC);
            }
            self.g.seq_next = start;
            self.g.seq_end = start + SEQ_BATCH;
        }
        let seq = self.g.seq_next;
        self.g.seq_next += 1;
        let slot = self.g.free;
        let d = self.data(slot);
        let next = d.next;
        let id = (seq << SLOT_BITS) | u64::from(slot);
        d.id = id;
        d.kind = kind;
        d.clock = clock;
        d.sched = Sched::Idle;
        d.cookie = cookie;
        d.next = NIL;
        if let Some(o) = obj.take() {
            d.body = Body::Object(o);
        }
        self.g.free = next;
        self.g.nfree -= 1;
        self.g.live += 1;
        Ok(id)
    }

    /// Returns a slot to the free list (dropping its object state). Its timer must not be
    /// queued (cancel first) and its record must not be queued.
    pub(crate) fn free(&mut self, slot: u32) {
        if self.data(slot).obj_ref().is_some_and(|o| o.on_fired) {
            self.unfire(slot);
        }
        let head = self.g.free;
        let d = self.data(slot);
        d.id = 0;
        d.sched = Sched::Idle;
        d.body = Body::Once { fire: 0 };
        d.next = head;
        self.g.free = slot;
        self.g.nfree += 1;
        self.g.live -= 1;
    }

    /// Makes `slot` an in-kernel timeout calling `func(arg)`.
    pub(crate) fn set_callback(&mut self, slot: u32, func: KernelCallback, arg: usize) {
        let d = self.data(slot);
        d.cookie = arg as u64;
        d.body = Body::Kernel {
            func,
            cpu: u32::MAX,
        };
    }

    /// Arms `slot` to expire at absolute `expiry` ns on its clock, then every `interval` ns
    /// (objects only). Replaces any previous schedule.
    pub(crate) fn arm(&mut self, slot: u32, expiry: i64, interval: i64) -> Result {
        if self.g.dying {
            return Err(ENODEV);
        }
        let engine = self.engine;
        let d = self.data(slot);
        d.sched = Sched::Armed;
        if let Some(o) = d.obj() {
            o.gen = o.gen.wrapping_add(1);
            o.interval = interval.max(0);
        }
        let clock = d.clock;
        let context = d.kind.expiry_context();
        let clock_changed = d.timer_clock != clock;
        d.timer_clock = clock;
        let e = self.entry(slot);
        if clock_changed || e.timer.expiry_context() != context.effective() {
            // A slot reused for another clock or context: `hrtimer_setup` needs a timer that
            // is not queued. A callback still running is harmless (it will find the timer
            // queued again, or the slot no longer armed, and ignore itself).
            let _ = engine.backend.try_cancel(e);
            e.timer.setup(expire_fn::<B>(context), clock, context);
        }
        engine.backend.start(e, clock, expiry);
        Ok(())
    }

    /// Cancels the schedule of `slot` without waiting. Returns the state it had: `Armed` (the
    /// expiry will not happen), `Fired` (the executor will skip it), or `Idle`.
    pub(crate) fn disarm(&mut self, slot: u32) -> Sched {
        let engine = self.engine;
        let d = self.data(slot);
        let was = d.sched;
        d.sched = Sched::Idle;
        if let Some(o) = d.obj() {
            o.gen = o.gen.wrapping_add(1);
        }
        if was == Sched::Armed {
            // `Running` means the expiry callback is spinning on our lock (it will find the
            // slot idle) or is past it (then the slot was no longer `Armed`).
            let e = self.entry(slot);
            let _ = engine.backend.try_cancel(e);
        }
        was
    }

    /// The absolute expiry of the latest schedule of `slot`, on its clock.
    #[inline]
    pub(crate) fn expiry(&mut self, slot: u32) -> i64 {
        let e = self.entry(slot);
        self.engine.backend.expires(e)
    }

    /// Time left until the current expiry of `slot`, in ns (0 if due or idle).
    pub(crate) fn remaining(&mut self, slot: u32) -> i64 {
        let d = self.data(slot);
        if d.sched != Sched::Armed {
            return 0;
        }
        let clock = d.clock;
        (self.expiry(slot) - self.engine.backend.now(clock)).max(0)
    }

    /// How many records the event queue holds.
    pub(crate) fn queue_len(&self) -> usize {
        self.g.nqueued as usize
    }

    /// Whether `slot`'s record is in the event queue (`slot` is live).
    #[inline]
    pub(crate) fn rec_queued(&mut self, slot: u32) -> bool {
        let tail = self.g.ev_tail;
        self.data(slot).next != NIL || tail == slot
    }

    /// Handles an expiry (`fired`) of an object: queue its record or count an overrun.
    /// `missed` periods were skipped by a late expiry.
    pub(crate) fn deliver(&mut self, slot: u32, missed: u64) {
        let qlimit = self.g.qlimit;
        let nqueued = self.g.nqueued;
        let queued = self.rec_queued(slot);
        let d = self.data(slot);
        let kind = d.kind;
        let Some(o) = d.obj() else {
            return;
        };
        match o.overrun {
            Overrun::Coalesce => {
                if queued {
                    // Fold into the unread record, which now stands for this expiry too.
                    (o.rec.expiry, o.rec.fire) = o.fired;
                    o.rec.overruns = o.rec.overruns.saturating_add(1 + missed);
                    o.total_overruns = o.total_overruns.saturating_add(1 + missed);
                    return;
                }
                (o.rec.expiry, o.rec.fire) = o.fired;
                o.rec.overruns = missed;
            }
            Overrun::QueueLimit => {
                if queued || nqueued >= qlimit {
                    o.missed = o.missed.saturating_add(1 + missed);
                    o.total_overruns = o.total_overruns.saturating_add(1 + missed);
                    return;
                }
                (o.rec.expiry, o.rec.fire) = o.fired;
                o.rec.overruns = o.missed.saturating_add(missed);
                o.missed = 0;
            }
        }
        if kind == Kind::Interval {
            o.rec.flags = if o.interval > 0 {
                crate::uapi::HRC_EVF_PERIODIC
            } else {
                0
            };
        }
        o.total_overruns = o.total_overruns.saturating_add(missed);
        self.enqueue_record(slot);
    }

    /// Appends `slot`'s record (not queued yet) to the event queue; wakes readers if it was
    /// empty.
    ///
    /// Readers only sleep (and poll only reports "not readable") on an empty queue, checked
    /// under this lock, so the wake-up that ended the last empty spell reached every waiter.
    /// Until a reader empties the queue again, more records need none: a burst costs one
    /// wake-up, not one per record. Edge-triggered epoll users read until `EAGAIN`, as with
    /// sockets (`docs/semantics.md`).
    fn enqueue_record(&mut self, slot: u32) {
        let tail = self.g.ev_tail;
        self.data(slot).next = NIL;
        if tail == NIL {
            self.g.ev_head = slot;
        } else {
            self.data(tail).next = slot;
        }
        self.g.ev_tail = slot;
        self.g.nqueued += 1;
        if tail == NIL {
            self.engine.readers.notify_all();
        }
    }

    /// Removes `slot`'s record from the event queue if it is there (a walk: only used when an
    /// object is destroyed with its record unread).
    pub(crate) fn unqueue_record(&mut self, slot: u32) {
        if !self.rec_queued(slot) {
            return;
        }
        let mut prev = NIL;
        let mut cur = self.g.ev_head;
        while cur != NIL && cur != slot {
            prev = cur;
            cur = self.data(cur).next;
        }
        if cur == NIL {
            return;
        }
        let next = self.data(slot).next;
        if prev == NIL {
            self.g.ev_head = next;
        } else {
            self.data(prev).next = next;
        }
        if self.g.ev_tail == slot {
            self.g.ev_tail = prev;
        }
        self.g.nqueued -= 1;
        self.data(slot).next = NIL;
    }

    /// Takes the oldest record off the queue. The slot stays allocated until
    /// [`Locked::finish_record`] says whether the record reached userspace.
    pub(crate) fn take_record(&mut self) -> Option<Taken> {
        let slot = self.g.ev_head;
        if slot == NIL {
            return None;
        }
        let expiry = self.expiry(slot);
        let d = self.data(slot);
        let next = d.next;
        d.next = NIL;
        let rec = match &mut d.body {
            Body::Once { fire } => Record {
                expiry,
                fire: *fire,
                ..Record::default()
            },
            Body::Object(o) => {
                let rec = o.rec;
                o.rec.overruns = 0;
                rec
            }
            Body::Kernel { .. } => Record::default(),
        };
        let taken = Taken {
            slot,
            id: d.id,
            kind: d.kind,
            cookie: d.cookie,
            clock: d.clock,
            rec,
        };
        self.g.ev_head = next;
        if next == NIL {
            self.g.ev_tail = NIL;
        }
        self.g.nqueued -= 1;
        Some(taken)
    }

    /// Completes a [`Locked::take_record`]: a copied record of a finished one-shot frees its
    /// slot; a record that could not be copied goes back to the head of the queue.
    pub(crate) fn finish_record(&mut self, t: &Taken, copied: bool) {
        if self.data(t.slot).id != t.id {
            return;
        }
        if self.rec_queued(t.slot) {
            // The timer fired again while the record was out and queued a newer one (a slot
            // has one queue link): a record that did not reach userspace becomes overruns of
            // the queued one, so its expiries are not lost.
            if !copied {
                if let Some(o) = self.data(t.slot).obj() {
                    let lost = t.rec.overruns.saturating_add(1);
                    o.rec.overruns = o.rec.overruns.saturating_add(lost);
                    o.total_overruns = o.total_overruns.saturating_add(1);
                }
            }
            return;
        }
        let head = self.g.ev_head;
        let d = self.data(t.slot);
        if copied {
            if d.kind.one_shot() && d.sched == Sched::Idle {
                self.free(t.slot);
            }
            return;
        }
        if let Some(o) = d.obj() {
            o.rec.overruns = o.rec.overruns.saturating_add(t.rec.overruns);
            o.rec.expiry = t.rec.expiry;
            o.rec.fire = t.rec.fire;
        }
        d.next = head;
        self.g.ev_head = t.slot;
        self.g.nqueued += 1;
        if head == NIL {
            self.g.ev_tail = t.slot;
            // Another reader may have gone to sleep on the queue we emptied: the next enqueue
            // would not wake it (see `enqueue_record`).
            self.engine.readers.notify_all();
        }
    }

    /// Puts a fired callout on the executor's list and kicks the executor.
    fn push_fired(&mut self, slot: u32) {
        let tail = self.g.fired_tail;
        let Some(o) = self.data(slot).obj() else {
            return;
        };
        if o.on_fired {
            return;
        }
        o.on_fired = true;
        o.fired_next = NIL;
        if tail == NIL {
            self.g.fired_head = slot;
        } else if let Some(t) = self.data(tail).obj() {
            t.fired_next = slot;
        }
        self.g.fired_tail = slot;
        self.engine.kick_executor();
    }

    fn pop_fired(&mut self) -> Option<u32> {
        let slot = self.g.fired_head;
        if slot == NIL {
            return None;
        }
        // Every slot on the list is an object: `free` unlinks one before dropping its state.
        let next = self.data(slot).obj().map_or(NIL, |o| {
            o.on_fired = false;
            o.fired_next
        });
        self.g.fired_head = next;
        if next == NIL {
            self.g.fired_tail = NIL;
        }
        Some(slot)
    }

    /// Takes `slot` off the executor's list (a walk: only when a fired callout is destroyed).
    fn unfire(&mut self, slot: u32) {
        let next_of = |l: &mut Self, s: u32| l.data(s).obj().map_or(NIL, |o| o.fired_next);
        let mut prev = NIL;
        let mut cur = self.g.fired_head;
        while cur != NIL && cur != slot {
            prev = cur;
            cur = next_of(self, cur);
        }
        let next = next_of(self, slot);
        if let Some(o) = self.data(slot).obj() {
            o.on_fired = false;
            o.fired_next = NIL;
        }
        if cur == NIL {
            return;
        }
        if prev == NIL {
            self.g.fired_head = next;
        } else if let Some(p) = self.data(prev).obj() {
            p.fired_next = next;
        }
        if self.g.fired_tail == slot {
            self.g.fired_tail = prev;
        }
    }

    /// The engine's Mach queue limit.
    pub(crate) fn qlimit(&self) -> u32 {
        self.g.qlimit
    }

    /// Sets the engine's Mach queue limit.
    pub(crate) fn set_qlimit(&mut self, qlimit: u32) {
        self.g.qlimit = qlimit;
    }

    fn check(mut self) -> Check {
        let slots = (self.g.chunks.len() * CHUNK) as u32;
        let mut ok = true;
        // Free list: every member free, count matches, no cycle.
        let mut n = 0u32;
        let mut cur = self.g.free;
        while cur != NIL && n <= slots {
            ok &= self.data(cur).id == 0;
            n += 1;
            cur = self.data(cur).next;
        }
        ok &= n == self.g.nfree;
        // Event queue: every member live and marked queued, count matches.
        let mut q = 0u32;
        let mut cur = self.g.ev_head;
        while cur != NIL && q <= slots {
            let d = self.data(cur);
            ok &= d.id != 0;
            q += 1;
            cur = d.next;
        }
        ok &= q == self.g.nqueued;
        ok &= self.g.live + self.g.nfree == slots;
        // Every id names its own slot.
        let mut live = 0u32;
        for slot in 0..slots {
            let d = self.data(slot);
            if d.id != 0 {
                live += 1;
                ok &= (d.id & SLOT_MASK) as u32 == slot;
            }
        }
        ok &= live == self.g.live;
        Check {
            ok,
            live,
            queued: q,
            free: n,
            slots: u64::from(slots),
        }
    }
}
