// SPDX-License-Identifier: GPL-2.0

//! The timer engine every personality sits on.
//!
//! An [`Engine`] owns a table of timer slots ([`Entry`]) and hands out ids for them. It
//! keeps the armed ones in one timer queue per clock (the kernel's `timerqueue`, ordered by
//! expiry), with one hrtimer per clock started for the earliest. When that hrtimer fires, one
//! pass expires everything due: it queues event records for readers, calls in-kernel
//! timeouts, and hands callouts to the engine's executor.
//!
//! Design, in short:
//! - **One hrtimer per clock, not one per timer.** Arming queues the slot's node (O(log n)),
//!   cancelling unqueues it (O(1) amortised), and neither touches the hrtimer unless a new
//!   earliest expiry comes in. A cancel never does: if the hrtimer was started for a timer
//!   that is gone, it fires early once, finds nothing due and is started for the new
//!   earliest. Expiries stay exact (absolute, zero slack, never early). A burst of timers due
//!   together costs one hrtimer expiry and an O(1) unqueue each (see `timerqueue.rs` for the
//!   append and equal-expiry paths).
//! - **Slots are recycled, never freed one by one.** They come in pinned chunks of [`CHUNK`]
//!   and go back to a free list, so arming costs no allocation once the table has grown. Each
//!   slot's event record lives in the slot (one-shots) or its object state (callouts,
//!   interval timers): an expiry never allocates and so can never lose an event for want of
//!   memory. A slot is 96 bytes, 48 of them its queue node, whose expiry is the slot's. Long-
//!   lived objects keep their larger state in an [`Object`] allocated with them.
//! - **Ids** are `(seq << SLOT_BITS) | slot` with `seq` drawn from a module-wide counter, so an
//!   id is never reused while the module is loaded, is never 0, never a kernel address, and is
//!   looked up in O(1). A stale or foreign id finds a slot whose id differs: `ENOENT`.
//! - **One lock per engine** (a `SpinLockIrq`: the hard-irq expiry takes it) guards the slots,
//!   the timer queues, the free list, the event queue and the executor's list. Cancellation never
//!   waits: every state change happens under the lock, and the expiry pass sees it there.
//!   Only teardown waits (`hrtimer_cancel`), with the lock dropped.
//! - **Expiry context is the engine's**: hard irq for a file's engine (timerfd's mode: the
//!   pass only queues records and wakes readers or the executor), soft irq for the kernel
//!   engine, whose `timeout()` callbacks STREAMS code expects there.
//! - **Time sits behind [`Backend`]**: [`HrBackend`] uses the real hrtimers, [`FakeClock`] lets
//!   KUnit drive expiry deterministically.
//! - **The executor** is the engine's work item on the high-priority system workqueue, the
//!   analogue of DragonFly's softclock thread: it runs thread-context callbacks one at a time.

use crate::timer::{Clock, Expire, Expiry, RawTimer};
use crate::timerqueue::{QueueNode, TimerQueue};
use crate::uapi;
use core::{cell::UnsafeCell, pin::Pin};
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
/// Slots per chunk of the table: as many 96-byte entries as fill one 16 KiB allocation (an
/// order-2 page block: allocations above the largest kmalloc cache are rounded up to a power
/// of two pages).
pub(crate) const CHUNK: usize = 16384 / core::mem::size_of::<Entry>();
/// End of an intrusive list.
const NIL: u32 = u32::MAX;
/// Sequence numbers an engine takes from [`NEXT_SEQ`] at a time, so arming touches no shared
/// cache line.
const SEQ_BATCH: u64 = 1024;
/// Sequence numbers stay below this, so ids are positive `i64`s.
const SEQ_LIMIT: u64 = 1 << (63 - SLOT_BITS);
/// Expiries one pass handles per lock hold; between holds other CPUs get the lock.
const EXPIRE_HOLD: u32 = 64;

/// The next sequence block; starts at 1 so that no id is 0.
static NEXT_SEQ: Atomic<u64> = Atomic::new(1);

/// What a timer slot is used for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    /// STREAMS `timeout()` from userspace: one record, then freed when read.
    Timeout,
    /// STREAMS `timeout()` from the kernel: a callback in soft-irq context, then freed. Only
    /// on engines that expire in soft irq.
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
    /// In its clock's timer queue, waiting for its expiry.
    Armed,
    /// Expired; the executor has not started the callback yet.
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

/// When a one-shot ([`Engine::one_shot`]) is due on the monotonic clock.
#[derive(Clone, Copy)]
pub(crate) enum When {
    /// This many ns after it is armed (at once if <= 0).
    After(i64),
    /// At this absolute time.
    At(i64),
}

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
/// Kept to 40 bytes so that a slot with its 48-byte queue node and its number is 96: a
/// pending timeout costs one. The expiry lives in the queue node ([`Locked::expiry`]); whether
/// the record is queued is told by the queue link ([`Locked::rec_queued`]); whatever only
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
    /// `Armed` exactly when the slot's node is in its clock's timer queue.
    pub(crate) sched: Sched,
}

impl EntryData {
    /// A free slot.
    fn free() -> Self {
        Self {
            id: 0,
            cookie: 0,
            body: Body::Once { fire: 0 },
            next: NIL,
            kind: Kind::Timeout,
            clock: Clock::Monotonic,
            sched: Sched::Idle,
        }
    }

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

/// One timer slot: its node in its clock's timer queue, its number, and its data.
///
/// # Invariants
///
/// - An entry only lives in a [`Chunk`] of one engine, as slot `number` of its table.
/// - `data` is only accessed with that engine's lock held; `node` is only queued in that
///   engine's timer queues, under the same lock.
#[pin_data]
pub(crate) struct Entry {
    #[pin]
    node: QueueNode,
    /// The entry's slot number. (Not `slot`: `pin_init!` has a local of that name.)
    number: u32,
    data: UnsafeCell<EntryData>,
}

// SAFETY: `data` and `node` are only accessed under the engine lock (type invariant).
unsafe impl Send for Entry {}
// SAFETY: as above.
unsafe impl Sync for Entry {}

const _: () = assert!(core::mem::size_of::<Entry>() == 96);

impl Entry {
    /// Slot `number` of its engine's table.
    fn new(number: u32) -> impl PinInit<Self> {
        pin_init!(Self {
            node <- QueueNode::new(),
            number,
            data: UnsafeCell::new(EntryData::free()),
        })
    }
}

/// A chunk of slots, pinned: the timer queues point into it.
#[pin_data]
struct Chunk {
    #[pin]
    entries: [Entry; CHUNK],
}

impl Chunk {
    /// Slots `base..base + CHUNK`.
    fn new(base: u32) -> impl PinInit<Self> {
        pin_init!(Self {
            entries <- pin_init::pin_init_array_from_fn(|i| Entry::new(base + i as u32)),
        })
    }
}

/// Entry `slot` of a table of chunks (a function of the chunks alone, so that the engine's
/// other fields can be borrowed beside it).
#[inline]
fn entry_of(chunks: &KVec<Pin<KBox<Chunk>>>, slot: u32) -> &Entry {
    &chunks[slot as usize / CHUNK].entries[slot as usize % CHUNK]
}

/// The engine state behind the lock.
pub(crate) struct EngineInner {
    chunks: KVec<Pin<KBox<Chunk>>>,
    /// The armed slots per clock, indexed by `Clock as usize`.
    queues: [TimerQueue; 2],
    /// Per clock: the expiry its hrtimer was last started for, until its expiry pass ends.
    /// While a queue is not empty its hrtimer is queued for `armed`, or has fired and its
    /// pass has not ended; `armed` is never after the earliest expiry (checked by
    /// [`Locked::check`]).
    armed: [Option<i64>; 2],
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

impl EngineInner {
    fn new(qlimit: u32) -> Self {
        Self {
            chunks: KVec::new(),
            queues: [TimerQueue::new(), TimerQueue::new()],
            armed: [None, None],
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
        }
    }

    /// Slots the table has.
    #[inline]
    fn capacity(&self) -> u32 {
        (self.chunks.len() * CHUNK) as u32
    }

    #[inline]
    fn entry(&self, slot: u32) -> &Entry {
        entry_of(&self.chunks, slot)
    }

    /// The data of `slot`.
    ///
    /// An `EngineInner` is only reachable through the engine lock's guard, so `&mut self`
    /// means the lock is held and nothing else is using any slot's data.
    #[inline]
    fn data(&mut self, slot: u32) -> &mut EntryData {
        // SAFETY: see above: the `Entry` invariant's lock is held, and the borrow is tied to
        // `&mut self`.
        unsafe { &mut *self.entry(slot).data.get() }
    }

    /// The data of `slot`, shared.
    #[inline]
    fn data_ref(&self, slot: u32) -> &EntryData {
        // SAFETY: as for `data`; `&self` excludes writers for as long as the borrow lives.
        unsafe { &*self.entry(slot).data.get() }
    }

    /// Queues `slot`, which is not queued, on timer queue `c` at `expiry`; returns whether it
    /// is now the earliest there.
    #[inline]
    fn enqueue(&mut self, c: usize, slot: u32, expiry: i64) -> bool {
        let e = entry_of(&self.chunks, slot);
        // SAFETY: `e.node` is a node of this engine's pinned chunks, which live as long as the
        // queues; the caller knows it is not queued (its slot is not `Armed`); `&mut self`,
        // from the engine lock's guard, serialises every use of the queues.
        unsafe { self.queues[c].add(&e.node, expiry) }
    }

    /// Unqueues `slot` from timer queue `c`, where it is queued.
    #[inline]
    fn dequeue(&mut self, c: usize, slot: u32) {
        let e = entry_of(&self.chunks, slot);
        // SAFETY: the caller knows the node is in queue `c` (its slot is `Armed` on that
        // clock); `&mut self` serialises every use of the queues.
        unsafe { self.queues[c].del(&e.node) };
    }

    /// Arms `slot` for `expiry`, then every `interval` ns (objects), replacing its schedule:
    /// its clock, and whether it is now that clock's earliest. One slot lookup.
    #[inline]
    fn arm_slot(&mut self, slot: u32, expiry: i64, interval: i64) -> (Clock, bool) {
        let e = entry_of(&self.chunks, slot);
        // SAFETY: as in `data` (only the chunks are borrowed, shared).
        let d = unsafe { &mut *e.data.get() };
        if let Some(o) = d.obj() {
            o.gen = o.gen.wrapping_add(1);
            o.interval = interval.max(0);
        }
        let was = core::mem::replace(&mut d.sched, Sched::Armed);
        let q = &mut self.queues[d.clock as usize];
        // SAFETY: as in `enqueue` and `dequeue`: an armed slot's node is in its clock's queue
        // (and off it once dequeued), the chunks outlive the queues, `&mut self` serialises.
        let first = unsafe {
            if was == Sched::Armed {
                q.del(&e.node);
            }
            q.add(&e.node, expiry)
        };
        (d.clock, first)
    }

    /// Cancels the schedule of `slot`: the state it had. One slot lookup.
    #[inline]
    fn disarm_slot(&mut self, slot: u32) -> Sched {
        let e = entry_of(&self.chunks, slot);
        // SAFETY: as in `data` (only the chunks are borrowed, shared).
        let d = unsafe { &mut *e.data.get() };
        let was = core::mem::replace(&mut d.sched, Sched::Idle);
        if let Some(o) = d.obj() {
            o.gen = o.gen.wrapping_add(1);
        }
        if was == Sched::Armed {
            // SAFETY: as in `dequeue`: an armed slot's node is in its clock's queue.
            unsafe { self.queues[d.clock as usize].del(&e.node) };
        }
        was
    }

    /// The next id for `slot`, from this engine's block of sequence numbers.
    #[inline]
    fn next_id(&mut self, slot: u32) -> Result<u64> {
        if self.seq_next == self.seq_end {
            let start = NEXT_SEQ.fetch_add(SEQ_BATCH, Relaxed);
            if start + SEQ_BATCH > SEQ_LIMIT {
                return Err(ENOSPC);
            }
            self.seq_next = start;
            self.seq_end = start + SEQ_BATCH;
        }
        let seq = self.seq_next;
        self.seq_next += 1;
        Ok((seq << SLOT_BITS) | u64::from(slot))
    }

    /// Takes a free slot for a one-shot of `kind` (no object state; an in-kernel timeout's
    /// callback and argument in `callback`) and queues it at `expiry` on `clock`: its id, and
    /// whether it is now that clock's earliest. `ENODEV` once dying, `ENOSPC` with `max` slots
    /// live or none free. The hot path of `timeout()`, `settimer` and batches: one slot
    /// lookup.
    #[inline]
    fn take_one_shot(
        &mut self,
        max: u32,
        kind: Kind,
        clock: Clock,
        cookie: u64,
        expiry: i64,
        callback: Option<(KernelCallback, usize)>,
    ) -> Result<(u64, bool)> {
        if self.dying {
            return Err(ENODEV);
        }
        let slot = self.free;
        if self.live >= max || slot == NIL {
            return Err(ENOSPC);
        }
        let id = self.next_id(slot)?;
        let e = entry_of(&self.chunks, slot);
        // SAFETY: as in `data` (only the chunks are borrowed, shared).
        let d = unsafe { &mut *e.data.get() };
        self.free = d.next;
        d.id = id;
        d.kind = kind;
        d.clock = clock;
        d.cookie = cookie;
        d.next = NIL;
        d.sched = Sched::Armed;
        // A free slot's body is `Once` (see `Locked::free`).
        if let Some((func, arg)) = callback {
            d.cookie = arg as u64;
            d.body = Body::Kernel {
                func,
                cpu: u32::MAX,
            };
        }
        self.nfree -= 1;
        self.live += 1;
        // SAFETY: as in `enqueue`: a free slot's node is not queued.
        let first = unsafe { self.queues[clock as usize].add(&e.node, expiry) };
        Ok((id, first))
    }

    /// Cancels one-shot `slot` (live, of a one-shot kind) if it is armed, and frees it: the ns
    /// that were left at `now`. `ENOENT` if it is not armed: it fired, and its record is
    /// unread or its callback running. One slot lookup.
    #[inline]
    fn cancel_one_shot(&mut self, slot: u32, now: i64) -> Result<i64> {
        let e = entry_of(&self.chunks, slot);
        // SAFETY: as in `data` (only the chunks are borrowed, shared).
        let d = unsafe { &mut *e.data.get() };
        if d.sched != Sched::Armed {
            return Err(ENOENT);
        }
        let left = (e.node.expires() - now).max(0);
        // SAFETY: as in `dequeue`: an armed slot's node is in its clock's queue.
        unsafe { self.queues[d.clock as usize].del(&e.node) };
        d.id = 0;
        d.sched = Sched::Idle;
        d.body = Body::Once { fire: 0 };
        d.next = self.free;
        self.free = slot;
        self.nfree += 1;
        self.live -= 1;
        Ok(left)
    }

    /// The earliest slot of timer queue `c` and its expiry.
    #[inline]
    fn first(&self, c: usize) -> Option<(u32, i64)> {
        let node = self.queues[c].first()?;
        // SAFETY: only the `node`s of this engine's entries are queued here (type invariant
        // of `Entry`), and a queued node's entry is alive: it is that field of an `Entry`.
        let e = unsafe { &*kernel::container_of!(node.cast_mut(), Entry, node) };
        Some((e.number, e.node.expires()))
    }
}

/// The expiry callback of an engine's hrtimer for the monotonic (`REAL` false) or realtime
/// clock, run in soft irq (`IRQ_OFF` false) or hard irq.
///
/// # Safety
///
/// `timer` is the `mono_timer` (`REAL` false) or `real_timer` (`REAL` true) field of a live
/// [`Engine<B>`], as set up by [`Engine::new`]; with `IRQ_OFF` the call comes from the hrtimer
/// core in hard-irq context.
unsafe extern "C" fn expire_cb<B: Backend, const REAL: bool, const IRQ_OFF: bool>(
    timer: *mut bindings::hrtimer,
) -> bindings::hrtimer_restart {
    // The C timer is `RawTimer`'s only field (`repr(C)`), so this is the field's address.
    let timer = timer.cast::<RawTimer>();
    // SAFETY: by the safety contract `timer` is this field of a live `Engine<B>`.
    let engine = unsafe {
        &*if REAL {
            kernel::container_of!(timer, Engine<B>, real_timer)
        } else {
            kernel::container_of!(timer, Engine<B>, mono_timer)
        }
    };
    let clock = if REAL {
        Clock::Realtime
    } else {
        Clock::Monotonic
    };
    if IRQ_OFF {
        // SAFETY: the hrtimer core runs a timer that is not soft with interrupts disabled, for
        // the whole callback (the safety contract says this one is not soft).
        let irq_off = unsafe { LocalInterruptDisabled::assume_disabled() };
        engine.expire(clock, Some(irq_off));
    } else {
        engine.expire(clock, None);
    }
    // The pass starts the hrtimer again itself, under the engine lock, when more is armed.
    bindings::hrtimer_restart::HRTIMER_NORESTART
}

/// The hrtimer callback for an engine's `clock` expiring in `context`.
fn expire_fn<B: Backend>(clock: Clock, context: Expiry) -> Expire {
    let irq_off = context.effective() != Expiry::Soft;
    match (clock, irq_off) {
        (Clock::Monotonic, false) => expire_cb::<B, false, false>,
        (Clock::Monotonic, true) => expire_cb::<B, false, true>,
        (Clock::Realtime, false) => expire_cb::<B, true, false>,
        (Clock::Realtime, true) => expire_cb::<B, true, true>,
    }
}

/// The time source and expiry mechanism of an engine.
pub(crate) trait Backend: Sized + Send + Sync + 'static {
    /// Now on `clock`, in ns.
    fn now(&self, clock: Clock) -> i64;
    /// Starts the engine's hrtimer `t` for `clock` at absolute `expires` (moving it if queued).
    fn start(&self, t: &RawTimer, clock: Clock, expires: i64);
    /// Cancels `t` and waits for its running callback (never with the engine lock held).
    fn cancel(&self, t: &RawTimer, clock: Clock);
}

/// Real hrtimers.
pub(crate) struct HrBackend;

impl Backend for HrBackend {
    #[inline]
    fn now(&self, clock: Clock) -> i64 {
        clock.now()
    }

    #[inline]
    fn start(&self, t: &RawTimer, _clock: Clock, expires: i64) {
        t.start(expires)
    }

    fn cancel(&self, t: &RawTimer, _clock: Clock) {
        t.cancel()
    }
}

/// A clock that only moves when a test says so; expiries run in the test's thread
/// ([`Engine::advance`]).
#[pin_data]
pub(crate) struct FakeClock {
    #[pin]
    inner: SpinLockIrq<FakeInner>,
}

struct FakeInner {
    /// Monotonic now; realtime is `mono + offset`.
    mono: i64,
    offset: i64,
    /// The expiry each of the engine's two timers is started for, by `Clock as usize`.
    armed: [Option<i64>; 2],
    /// The next `drift_reads` readings each find the clock `drift` ns later (time passing
    /// while the engine works).
    drift: i64,
    drift_reads: u32,
}

impl FakeInner {
    /// Monotonic time at which an expiry on `clock` is due.
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
                armed: [None, None],
                drift: 0,
                drift_reads: 0,
            }),
        })
    }

    /// Makes each of the next `reads` readings of the clock find it `step` ns later.
    pub(crate) fn drift(&self, step: i64, reads: u32) {
        let mut g = self.inner.lock();
        (g.drift, g.drift_reads) = (step, reads);
    }
}

impl Backend for FakeClock {
    fn now(&self, clock: Clock) -> i64 {
        let mut g = self.inner.lock();
        if g.drift_reads > 0 {
            g.drift_reads -= 1;
            g.mono += g.drift;
        }
        match clock {
            Clock::Monotonic => g.mono,
            Clock::Realtime => g.mono + g.offset,
        }
    }

    fn start(&self, _t: &RawTimer, clock: Clock, expires: i64) {
        self.inner.lock().armed[clock as usize] = Some(expires);
    }

    fn cancel(&self, _t: &RawTimer, clock: Clock) {
        self.inner.lock().armed[clock as usize] = None;
    }
}

impl Engine<FakeClock> {
    /// Moves time forward by `delta` ns, running the expiry passes that come due, each with
    /// the clock set to the time its timer was started for.
    pub(crate) fn advance(&self, delta: i64) {
        let target = self.backend.inner.lock().mono + delta;
        loop {
            let clock = {
                let mut g = self.backend.inner.lock();
                let next = [Clock::Realtime, Clock::Monotonic]
                    .into_iter()
                    .filter_map(|c| g.armed[c as usize].map(|e| (g.due(e, c), c)))
                    .min_by_key(|n| n.0);
                match next {
                    Some((due, c)) if due <= target => {
                        g.armed[c as usize] = None;
                        g.mono = g.mono.max(due);
                        c
                    }
                    _ => {
                        g.mono = target;
                        return;
                    }
                }
            };
            // As the hrtimer core would: interrupts off unless the timer is a soft one.
            if self.context.effective() == Expiry::Soft {
                self.expire(clock, None);
            } else {
                let irq_off = kernel::interrupt::local_interrupt_disable();
                self.expire(clock, Some(&irq_off));
            }
        }
    }

    /// Moves time forward by `delta` ns without firing anything, then fires what is due: the
    /// expiries run late, as on a stalled machine.
    pub(crate) fn stall(&self, delta: i64) {
        self.backend.inner.lock().mono += delta;
        self.advance(0);
    }

    /// Steps only the realtime clock (like `clock_settime`), then fires what became due.
    pub(crate) fn set_realtime(&self, delta: i64) {
        self.backend.inner.lock().offset += delta;
        self.advance(0);
    }
}

/// A timer engine: one per open file, and one for in-kernel users.
///
/// # Invariants
///
/// An `Engine` only ever lives inside an [`Arc`] ([`Engine::new`] returns one), so a shared
/// reference to it can be turned back into an `Arc`.
#[pin_data]
pub(crate) struct Engine<B: Backend> {
    /// The expiry hrtimers, one per clock. First in the struct: dropping a [`RawTimer`]
    /// cancels it, so they are stopped before anything their callback uses is dropped.
    #[pin]
    mono_timer: RawTimer,
    #[pin]
    real_timer: RawTimer,
    #[pin]
    inner: SpinLockIrq<EngineInner>,
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
    /// Where the expiry passes run.
    context: Expiry,
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
    g: EngineGuard<'a>,
}

/// How a [`Locked`] holds the engine lock.
enum EngineGuard<'a> {
    /// Taken with interrupts disabled (process context).
    Irq(SpinLockIrqGuard<'a, EngineInner>),
    /// Taken in an expiry that runs in hard irq, where interrupts are already off: the plain
    /// spin lock, without the interrupt-state bookkeeping (about 30 instructions less).
    InIrq(SpinLockGuard<'a, EngineInner>),
}

impl core::ops::Deref for EngineGuard<'_> {
    type Target = EngineInner;

    #[inline]
    fn deref(&self) -> &EngineInner {
        match self {
            Self::Irq(g) => g,
            Self::InIrq(g) => g,
        }
    }
}

impl core::ops::DerefMut for EngineGuard<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut EngineInner {
        match self {
            Self::Irq(g) => g,
            Self::InIrq(g) => g,
        }
    }
}

impl<B: Backend> Engine<B> {
    /// Creates an engine with room for `max_timers` live slots and the given Mach queue limit,
    /// whose expiries run in `context` ([`Expiry::Soft`] or [`Expiry::Irq`]).
    pub(crate) fn new(
        backend: impl PinInit<B>,
        max_timers: u32,
        qlimit: u32,
        context: Expiry,
    ) -> Result<Arc<Self>> {
        Arc::pin_init(
            try_pin_init!(Self {
                mono_timer <- RawTimer::new(
                    expire_fn::<B>(Clock::Monotonic, context),
                    Clock::Monotonic,
                    context
                ),
                real_timer <- RawTimer::new(
                    expire_fn::<B>(Clock::Realtime, context),
                    Clock::Realtime,
                    context
                ),
                inner <- new_spinlock_irq!(EngineInner::new(qlimit)),
                readers <- new_poll_condvar!(),
                done <- new_condvar!(),
                work <- new_work!("hrcallout::executor"),
                backend <- backend,
                max_timers: max_timers.min(MAX_SLOTS),
                context,
            }? Error),
            GFP_KERNEL_ACCOUNT,
        )
    }

    /// The hrtimer of `clock`.
    #[inline]
    fn timer(&self, clock: Clock) -> &RawTimer {
        match clock {
            Clock::Monotonic => &self.mono_timer,
            Clock::Realtime => &self.real_timer,
        }
    }

    /// Locks the engine.
    #[inline]
    pub(crate) fn lock(&self) -> Locked<'_, B> {
        Locked {
            engine: self,
            g: EngineGuard::Irq(self.inner.lock()),
        }
    }

    /// Locks the engine; where interrupts are off (`irq_off`) the plain spin lock is enough.
    #[inline]
    fn lock_in<'a>(&'a self, irq_off: Option<&'a LocalInterruptDisabled>) -> Locked<'a, B> {
        match irq_off {
            Some(irq_off) => Locked {
                engine: self,
                g: EngineGuard::InIrq(self.inner.lock_with(irq_off)),
            },
            None => self.lock(),
        }
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
        // In-kernel timeouts run their callback in the expiry pass: soft irq only.
        if kind == Kind::KernelTimeout && self.context != Expiry::Soft {
            return Err(EINVAL);
        }
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

    /// A one-shot of `kind` on the monotonic clock due `when`, calling `callback` if it is an
    /// in-kernel timeout: allocated and armed in one lock hold and one slot lookup, the table
    /// grown with `flags` if full.
    pub(crate) fn one_shot(
        &self,
        kind: Kind,
        cookie: u64,
        when: When,
        callback: Option<(KernelCallback, usize)>,
        flags: Flags,
    ) -> Result<u64> {
        // In-kernel timeouts, and only they, have a callback, run in the expiry pass: soft irq.
        if (kind == Kind::KernelTimeout) != callback.is_some()
            || (kind == Kind::KernelTimeout && self.context != Expiry::Soft)
            || !kind.one_shot()
        {
            return Err(EINVAL);
        }
        loop {
            {
                let mut l = self.lock();
                if !l.needs_growth() {
                    // A delay counts from the clock read made when the timer is armed.
                    let expiry = match when {
                        When::After(delay) => self
                            .backend
                            .now(Clock::Monotonic)
                            .saturating_add(delay.max(0)),
                        When::At(expiry) => expiry,
                    };
                    return l.alloc_one_shot(kind, Clock::Monotonic, cookie, expiry, callback);
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
    /// between holds when it is full. `f` allocates monotonic one-shots with
    /// [`Locked::alloc_one_shot`]. This is batch submission: arming without a lock round trip
    /// and a clock read per timer. Stops at the first error: returns how many calls
    /// succeeded, and that error.
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

    /// Adds one chunk of slots to the table, unless another thread did meanwhile. Allocates
    /// with the lock dropped.
    fn grow(&self, flags: Flags) -> Result {
        let nchunks = self.inner.lock().chunks.len();
        if (nchunks + 1) * CHUNK > MAX_SLOTS as usize {
            return Err(ENOSPC);
        }
        let chunk = KBox::pin_init(Chunk::new((nchunks * CHUNK) as u32), flags)?;
        let mut g = self.lock_with_room(|g| &mut g.chunks, flags)?;
        if g.chunks.len() == nchunks && g.chunks.push_within_capacity(chunk).is_ok() {
            let base = (nchunks * CHUNK) as u32;
            for slot in (base..base + CHUNK as u32).rev() {
                let head = g.free;
                g.data(slot).next = head;
                g.free = slot;
            }
            g.nfree += CHUNK as u32;
        }
        Ok(())
    }

    /// Locks the engine with room for one more element in the vector `sel` picks out; a full
    /// vector is replaced by one twice its size, allocated with the lock dropped.
    fn lock_with_room<T>(
        &self,
        sel: impl Fn(&mut EngineInner) -> &mut KVec<T>,
        flags: Flags,
    ) -> Result<SpinLockIrqGuard<'_, EngineInner>> {
        loop {
            let mut g = self.inner.lock();
            let v = sel(&mut g);
            if v.len() < v.capacity() {
                return Ok(g);
            }
            let want = (v.capacity() * 2).max(4);
            drop(g);
            let mut spare = KVec::with_capacity(want, flags)?;
            let mut g = self.inner.lock();
            let v = sel(&mut g);
            if v.capacity() < want {
                for x in v.drain_all() {
                    // Cannot fail: `spare` has more room than `v` had.
                    spare.push(x, GFP_ATOMIC)?;
                }
                core::mem::swap(v, &mut spare);
            }
            // The old, empty vector is freed with the lock dropped.
            drop(g);
        }
    }

    /// The expiry pass of `clock`, run by its hrtimer; `irq_off` when it runs with interrupts
    /// disabled (hard irq). Handles every armed slot due by the clock reading it starts with,
    /// then starts the hrtimer for the earliest left.
    ///
    /// The clock is read once: what comes due while the pass runs is left to the next one
    /// (the hrtimer is started for it, already due). Reading it again would never end a pass
    /// whose periodic timers come due faster than it handles them.
    fn expire(&self, clock: Clock, irq_off: Option<&LocalInterruptDisabled>) {
        let c = clock as usize;
        let mut l = self.lock_in(irq_off);
        if l.g.dying {
            return;
        }
        let now = self.backend.now(clock);
        let mut held = 0;
        while let Some((slot, expiry)) = l.g.first(c) {
            if expiry > now {
                break;
            }
            if held == EXPIRE_HOLD {
                // A long burst: let other CPUs at the engine.
                drop(l);
                l = self.lock_in(irq_off);
                if l.g.dying {
                    return;
                }
                held = 0;
                continue;
            }
            held += 1;
            l.g.dequeue(c, slot);
            if let Some((func, arg, id)) = l.fire(slot, expiry, now) {
                drop(l);
                func(arg);
                l = self.lock_in(irq_off);
                // `untimeout` of a running callback spins on the id, so freeing is the
                // signal; nothing else frees a running in-kernel timeout.
                if l.data(slot).id == id {
                    l.free(slot);
                }
                if l.g.dying {
                    return;
                }
            }
        }
        // The hrtimer has fired (or someone started it again meanwhile; starting it once more
        // is harmless): start it for the earliest left.
        l.g.armed[c] = None;
        l.kick(clock);
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
        while cond(g.data_ref(slot)) {
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
            g.fired_head = NIL;
            g.fired_tail = NIL;
        }
        // Waits for a running expiry pass (and the in-kernel callback it may be running).
        self.backend.cancel(&self.mono_timer, Clock::Monotonic);
        self.backend.cancel(&self.real_timer, Clock::Realtime);
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

    /// Counts for `HRC_IOC_CHECK`, after walking every list and queue to check the invariants.
    pub(crate) fn check(&self) -> Check {
        let l = self.lock();
        l.check()
    }
}

/// What [`Locked::finish_event`] needs of a record [`Locked::take_event`] took.
#[derive(Clone, Copy, Default)]
pub(crate) struct Taken {
    pub(crate) slot: u32,
    pub(crate) id: u64,
    /// Whether the record is a one-shot's, whose slot is freed once it reached userspace.
    pub(crate) one_shot: bool,
}

/// A record taken off the event queue (the KUnit suites' view of [`Locked::take_event`]).
#[cfg(CONFIG_KUNIT = "y")]
pub(crate) struct TakenRecord {
    pub(crate) slot: u32,
    pub(crate) id: u64,
    pub(crate) ev: uapi::hrc_event,
}

/// The engine's own view of its consistency (`HRC_IOC_CHECK`).
pub(crate) struct Check {
    pub(crate) ok: bool,
    pub(crate) live: u32,
    pub(crate) queued: u32,
    pub(crate) free: u32,
    pub(crate) slots: u64,
}

/// What an expiry asks of the pass once the lock is dropped: an in-kernel callback, its
/// argument and its timeout's id.
type Call = (KernelCallback, usize, u64);

impl<'a, B: Backend> Locked<'a, B> {
    /// The data of `slot`.
    #[inline]
    pub(crate) fn data(&mut self, slot: u32) -> &mut EntryData {
        self.g.data(slot)
    }

    /// Finds the live object `id`: `ENOENT` for unknown, stale, foreign or malformed ids.
    #[inline]
    pub(crate) fn lookup(&mut self, id: u64) -> Result<u32> {
        self.lookup_if(id, |_| true)
    }

    /// Looks `id` up and checks it is of `kind`.
    #[inline]
    pub(crate) fn lookup_kind(&mut self, id: u64, kind: Kind) -> Result<u32> {
        self.lookup_if(id, |d| d.kind == kind)
    }

    /// [`Locked::lookup`] of an object whose data also passes `ok` (one slot lookup).
    #[inline]
    fn lookup_if(&mut self, id: u64, ok: impl Fn(&EntryData) -> bool) -> Result<u32> {
        let slot = (id & SLOT_MASK) as u32;
        if id == 0 || slot >= self.g.capacity() {
            return Err(ENOENT);
        }
        let d = self.data(slot);
        if d.id != id || !ok(d) {
            return Err(ENOENT);
        }
        Ok(slot)
    }

    /// Whether allocating needs a new chunk first: no free slot, though the engine is alive
    /// and below its limit (otherwise [`Locked::take_free`] fails with the right error).
    #[inline]
    fn needs_growth(&self) -> bool {
        self.g.free == NIL && !self.g.dying && self.g.live < self.engine.max_timers
    }

    /// Allocates a one-shot slot (no object state) and arms it for absolute `expiry` on
    /// `clock`. The table must have room (see [`Engine::batch`]).
    #[inline]
    pub(crate) fn alloc_one_shot(
        &mut self,
        kind: Kind,
        clock: Clock,
        cookie: u64,
        expiry: i64,
        callback: Option<(KernelCallback, usize)>,
    ) -> Result<u64> {
        let max = self.engine.max_timers;
        let (id, first) = self
            .g
            .take_one_shot(max, kind, clock, cookie, expiry, callback)?;
        if first {
            self.kick_at(clock, expiry);
        }
        Ok(id)
    }

    /// Cancels armed one-shot `slot` (a live slot of a one-shot kind) and frees it: the ns
    /// that were left, or `ENOENT` if it is not armed.
    #[inline]
    pub(crate) fn cancel_one_shot(&mut self, slot: u32) -> Result<i64> {
        // One-shots are monotonic.
        let now = self.engine.backend.now(Clock::Monotonic);
        self.g.cancel_one_shot(slot, now)
    }

    /// Takes a free slot for a new object: `ENODEV` once the engine is dying, `ENOSPC` at its
    /// limit or with no room.
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
        let slot = self.g.free;
        let id = self.g.next_id(slot)?;
        let d = self.data(slot);
        let next = d.next;
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

    /// Returns a slot to the free list (dropping its object state), disarming it if needed.
    /// Its record must not be queued.
    pub(crate) fn free(&mut self, slot: u32) {
        let d = self.data(slot);
        let (c, armed, on_fired) = (
            d.clock as usize,
            d.sched == Sched::Armed,
            d.obj_ref().is_some_and(|o| o.on_fired),
        );
        if armed {
            self.g.dequeue(c, slot);
        }
        if on_fired {
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

    /// Starts the hrtimer of `clock` for the earliest armed expiry, unless it is already
    /// started for that or earlier.
    #[inline]
    fn kick(&mut self, clock: Clock) {
        if let Some((_, min)) = self.g.first(clock as usize) {
            self.kick_at(clock, min);
        }
    }

    /// Starts the hrtimer of `clock` for `expiry`, the earliest armed, unless it is already
    /// started for that or earlier.
    #[inline]
    fn kick_at(&mut self, clock: Clock, expiry: i64) {
        let c = clock as usize;
        if self.g.armed[c].is_some_and(|a| a <= expiry) {
            return;
        }
        self.g.armed[c] = Some(expiry);
        let engine = self.engine;
        engine.backend.start(engine.timer(clock), clock, expiry);
    }

    /// Arms `slot` to expire at absolute `expiry` ns on its clock, then every `interval` ns
    /// (objects only). Replaces any previous schedule.
    #[inline]
    pub(crate) fn arm(&mut self, slot: u32, expiry: i64, interval: i64) -> Result {
        if self.g.dying {
            return Err(ENODEV);
        }
        let (clock, first) = self.g.arm_slot(slot, expiry, interval);
        if first {
            self.kick_at(clock, expiry);
        }
        Ok(())
    }

    /// Cancels the schedule of `slot` without waiting. Returns the state it had: `Armed` (the
    /// expiry will not happen), `Fired` (the executor will skip it), or `Idle`. The hrtimer is
    /// left alone: if it was started for this slot it fires early once.
    #[inline]
    pub(crate) fn disarm(&mut self, slot: u32) -> Sched {
        self.g.disarm_slot(slot)
    }

    /// The absolute expiry of the latest schedule of `slot`, on its clock.
    #[inline]
    pub(crate) fn expiry(&mut self, slot: u32) -> i64 {
        self.g.entry(slot).node.expires()
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

    /// Handles the expiry of `slot`, just taken off its queue, due at `expiry` and handled at
    /// `now`: queues its record, re-arms a periodic timer, hands a callout to the executor, or
    /// returns the in-kernel callback for the pass to call with the lock dropped.
    #[inline]
    fn fire(&mut self, slot: u32, expiry: i64, now: i64) -> Option<Call> {
        let d = self.data(slot);
        let (id, kind, cookie, c) = (d.id, d.kind, d.cookie, d.clock as usize);
        let mut again = None;
        let mut missed = 0u64;
        match &mut d.body {
            Body::Once { fire } => {
                // A one-shot fires once: its record is never queued yet, no overrun to count.
                *fire = now;
                d.sched = Sched::Idle;
                self.enqueue_record(slot);
                return None;
            }
            Body::Kernel { func, cpu } => {
                *cpu = kernel::cpu::CpuId::current().as_u32();
                d.sched = Sched::Idle;
                return Some((*func, cookie as usize, id));
            }
            Body::Object(o) => {
                o.expired = true;
                if o.interval > 0 {
                    // Drift-free: period k fires at start + k*interval. When the pass runs
                    // late, the periods that came due meanwhile become overruns of one record
                    // standing for the latest of them, never a burst of late events.
                    let behind = (now.saturating_sub(expiry) / o.interval) as u64;
                    missed = behind;
                    let latest = expiry.saturating_add(
                        o.interval
                            .saturating_mul(i64::try_from(behind).unwrap_or(i64::MAX)),
                    );
                    o.fired = (latest, now);
                    // After `now`, so this pass does not see it again.
                    again = Some(latest.saturating_add(o.interval));
                } else {
                    o.fired = (expiry, now);
                    d.sched = Sched::Idle;
                }
            }
        }
        if let Some(next) = again {
            // Still armed: back in the queue (it cannot be the earliest: the pass starts the
            // hrtimer for the earliest when it ends).
            self.g.enqueue(c, slot, next);
        }
        if kind == Kind::Callout {
            self.data(slot).sched = Sched::Fired;
            self.push_fired(slot);
        } else {
            self.deliver(slot, missed);
        }
        None
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
    #[inline]
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
    #[inline]
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

    /// Takes the oldest record off the queue into `ev`; returns its slot and id for
    /// [`Locked::finish_event`], until which the slot stays allocated, and whether a record
    /// that reached userspace needs it (a finished one-shot's slot is freed then; an object's
    /// record needs nothing more).
    #[inline]
    pub(crate) fn take_event(&mut self, ev: &mut uapi::hrc_event) -> Option<Taken> {
        let g = &mut *self.g;
        let slot = g.ev_head;
        if slot == NIL {
            return None;
        }
        let e = entry_of(&g.chunks, slot);
        // SAFETY: as in `EngineInner::data`: `g` is the lock's guard, and only the chunks are
        // borrowed, shared.
        let d = unsafe { &mut *e.data.get() };
        let next = d.next;
        d.next = NIL;
        let rec = match &mut d.body {
            Body::Once { fire } => Record {
                expiry: e.node.expires(),
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
        *ev = uapi::hrc_event {
            size: core::mem::size_of::<uapi::hrc_event>() as u16,
            kind: d.kind.event_kind(),
            flags: rec.flags,
            id: d.id,
            cookie: d.cookie,
            expiry_ns: rec.expiry,
            fire_ns: rec.fire,
            overruns: rec.overruns,
            clock: d.clock as u32,
            pad: 0,
            extra: rec.extra,
        };
        g.ev_head = next;
        if next == NIL {
            g.ev_tail = NIL;
        }
        g.nqueued -= 1;
        Some(Taken {
            slot,
            id: ev.id,
            one_shot: d.kind.one_shot(),
        })
    }

    /// Completes a [`Locked::take_event`] of `slot`'s record `ev` (for object `id`): a copied
    /// record of a finished one-shot frees its slot; a record that could not be copied goes
    /// back to the head of the queue.
    #[inline]
    pub(crate) fn finish_event(&mut self, slot: u32, id: u64, ev: &uapi::hrc_event, copied: bool) {
        if self.data(slot).id != id {
            return;
        }
        if self.rec_queued(slot) {
            // The timer fired again while the record was out and queued a newer one (a slot
            // has one queue link): a record that did not reach userspace becomes overruns of
            // the queued one, so its expiries are not lost.
            if !copied {
                if let Some(o) = self.data(slot).obj() {
                    let lost = ev.overruns.saturating_add(1);
                    o.rec.overruns = o.rec.overruns.saturating_add(lost);
                    o.total_overruns = o.total_overruns.saturating_add(1);
                }
            }
            return;
        }
        let head = self.g.ev_head;
        let d = self.data(slot);
        if copied {
            if d.kind.one_shot() && d.sched == Sched::Idle {
                self.free(slot);
            }
            return;
        }
        if let Some(o) = d.obj() {
            o.rec.overruns = o.rec.overruns.saturating_add(ev.overruns);
            o.rec.expiry = ev.expiry_ns;
            o.rec.fire = ev.fire_ns;
        }
        d.next = head;
        self.g.ev_head = slot;
        self.g.nqueued += 1;
        if head == NIL {
            self.g.ev_tail = slot;
            // Another reader may have gone to sleep on the queue we emptied: the next enqueue
            // would not wake it (see `enqueue_record`).
            self.engine.readers.notify_all();
        }
    }

    /// [`Locked::take_event`] for the KUnit suites.
    #[cfg(CONFIG_KUNIT = "y")]
    pub(crate) fn take_record(&mut self) -> Option<TakenRecord> {
        let mut ev = uapi::hrc_event::default();
        let t = self.take_event(&mut ev)?;
        Some(TakenRecord {
            slot: t.slot,
            id: t.id,
            ev,
        })
    }

    /// [`Locked::finish_event`] for the KUnit suites.
    #[cfg(CONFIG_KUNIT = "y")]
    pub(crate) fn finish_record(&mut self, t: &TakenRecord, copied: bool) {
        self.finish_event(t.slot, t.id, &t.ev, copied);
    }

    /// Puts a fired callout on the executor's list and kicks the executor.
    #[inline]
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
        let slots = self.g.capacity();
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
        // Event queue: every member live, count matches.
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
        // Every id names its own slot; a slot's node is queued exactly when it is armed.
        let mut live = 0u32;
        let mut armed = [0u32; 2];
        for slot in 0..slots {
            let queued = self.g.entry(slot).node.is_queued();
            let d = self.data(slot);
            if d.id != 0 {
                live += 1;
                ok &= (d.id & SLOT_MASK) as u32 == slot;
                if d.sched == Sched::Armed {
                    armed[d.clock as usize] += 1;
                }
            }
            ok &= queued == (d.id != 0 && d.sched == Sched::Armed);
        }
        ok &= live == self.g.live;
        // Each timer queue, in expiry order: only armed slots of its clock, as many as armed,
        // its rightmost head known, and its hrtimer started no later than the earliest.
        for (c, &armed) in armed.iter().enumerate() {
            let mut n = 0u32;
            let mut last = i64::MIN;
            let g = &*self.g;
            let visit = |node: &QueueNode| {
                n += 1;
                // SAFETY: every queued node is the `node` of a live entry of this engine.
                let e = unsafe { &*kernel::container_of!(core::ptr::from_ref(node), Entry, node) };
                let d = g.data_ref(e.number);
                ok &= d.sched == Sched::Armed && d.clock as usize == c && e.node.expires() >= last;
                last = e.node.expires();
            };
            // SAFETY: the engine lock is held (`self.g`).
            let last_head = unsafe { g.queues[c].for_each(visit) };
            ok &= n == armed && g.queues[c].last() == last_head;
            if let (Some((_, min)), false) = (g.first(c), g.dying) {
                ok &= g.armed[c].is_some_and(|a| a <= min);
            }
        }
        Check {
            ok,
            live,
            queued: q,
            free: n,
            slots: u64::from(slots),
        }
    }
}
