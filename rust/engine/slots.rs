// SPDX-License-Identifier: GPL-2.0

//! The slot table of an engine: chunks of slots, the free list, ids.
//!
//! Slots come in pinned chunks of [`CHUNK`] (the timer queues point into them) and are
//! recycled through a free list, never freed one by one, so arming costs no allocation once
//! the table has grown. A slot is 96 bytes: its 48-byte queue node (whose expiry is the
//! slot's), its number, and its [`SlotData`] (40 bytes), behind the engine lock. Long-lived
//! objects keep their larger state in an [`Object`] allocated with them.
//!
//! Ids are `(seq << SLOT_BITS) | slot`, so an id is never reused while the module is loaded,
//! is never 0, never a kernel address, and is looked up in O(1). A stale or foreign id finds a
//! slot whose id differs. Where `seq` comes from is the engine's [`IdSpace`]: a file's engine
//! draws it from a module-wide counter in blocks of [`SEQ_BATCH`]; a per-CPU engine counts its
//! own and puts its CPU in the bits above the slot number, so an id names its engine. Either
//! way ids are positive `i64`s, and `2^41` of them are made per module load by files (ten
//! years at 7,000 per second) and `2^40` by the kernel engines, split between the CPUs; then
//! arming fails with `ENOSPC`.
//! Bit 62 ([`VIRTUAL_ID`]) is set in the ids of an in-kernel virtual clock's engine and in no
//! per-CPU engine's (they count half as far), so the in-kernel API routes an id to its engine
//! in O(1) either way.
//!
//! This file holds the engine's only unsafe access to slot data ([`Slots::entry_data`],
//! [`Slots::data_ref`], and [`Slots::take`] through the same reasoning): `&mut Slots` is only
//! reachable through the engine lock's guard, so it stands for "the lock is held".

use super::call::CFn;
use super::events::Record;
use super::hrtimer::Clock;
use super::timerqueue::{impl_has_queue_node, QueueNode};
use core::{cell::UnsafeCell, pin::Pin};
use kernel::{
    prelude::*,
    sync::{
        atomic::{ordering::Relaxed, Atomic},
        Arc,
    },
};

/// Bits of an id that name the slot; the rest is the never-reused sequence number.
pub(crate) const SLOT_BITS: u32 = 22;
/// The most slots one engine can have.
pub(crate) const MAX_SLOTS: u32 = 1 << SLOT_BITS;
const SLOT_MASK: u64 = (MAX_SLOTS as u64) - 1;
/// The size of a slot ([`Entry`]), checked at compile time.
const ENTRY_SIZE: usize = 96;
/// Slots per chunk of the table: as many 96-byte entries as fill one 16 KiB allocation (an
/// order-2 page block: allocations above the largest kmalloc cache are rounded up to a power
/// of two pages).
pub(crate) const CHUNK: usize = 16384 / ENTRY_SIZE;
/// End of an intrusive list (free list, event queue, executor list).
pub(super) const NIL: u32 = u32::MAX;
/// Sequence numbers an engine takes from [`NEXT_SEQ`] at a time, so arming touches no shared
/// cache line.
const SEQ_BATCH: u64 = 1024;
/// Sequence numbers stay below this, so ids are positive `i64`s.
const SEQ_LIMIT: u64 = 1 << (63 - SLOT_BITS);

/// The bit that marks an id of an in-kernel virtual clock ([`IdSpace::KernelVirtual`]).
pub(crate) const VIRTUAL_ID: u64 = 1 << 62;

/// The next sequence block; starts at 1 so that no id is 0.
static NEXT_SEQ: Atomic<u64> = Atomic::new(1);

/// A live slot of one engine, as a lookup found it. Only the engine makes one, so a
/// personality cannot name a slot it did not look up.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Slot(pub(super) u32);

/// Where a slot's schedule is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Sched {
    /// Not scheduled.
    Idle,
    /// In its clock's timer queue, waiting for its expiry.
    Armed,
    /// Expired and handed to the executor, which has not started its job yet.
    Fired,
}

/// How an object's expiries reach its owner.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Delivery {
    /// A record; at most one is queued, and expiries while it is unread fold into its
    /// overrun count (POSIX `SI_TIMER` signals behave so).
    Coalesce,
    /// A record per expiry, until the event queue holds `qlimit` records; then the expiry is
    /// counted as missed, and the count rides on the next record that gets through (a Mach
    /// port's messages, QNX pulses). Records beyond the object's own come from the engine's
    /// reserved messages ([`super::messages`]); with none left, an expiry is counted as missed
    /// too.
    QueueLimit,
    /// The executor runs the object's job in thread context ([`super::Executor`]); a record
    /// the job asks for ([`super::Locked::deliver_run`]) coalesces as [`Delivery::Coalesce`].
    Executor,
}

/// What a slot holds besides the fields every slot has.
pub(super) enum Body<J> {
    /// A one-shot that queues a record: when it fired.
    Once { fire: i64 },
    /// An inline one-shot: the function of its [`super::Call`] (whose argument is the slot's
    /// cookie, see `Call::into_parts`) and, while the callback runs, the CPU it runs on
    /// (`u32::MAX` otherwise), so that a cancel from the callback itself can return at once
    /// instead of waiting for itself.
    Call { func: CFn, cpu: u32 },
    /// A long-lived object: its state, allocated with the object.
    Object(KBox<Object<J>>),
    /// A reserved message ([`super::messages`]): a record of an expiry of the object whose id
    /// the slot carries while the record is queued or being read (0 while in reserve), queued
    /// beside that object's own. Its record is allocated when it is reserved.
    Message(KBox<Record>),
}

/// The state of a long-lived object (created once, armed many times), with `J` the state its
/// owner keeps in it (the executor's job, for [`Delivery::Executor`] objects).
///
/// Protected by the engine lock, like the slot it belongs to.
pub(crate) struct Object<J> {
    /// Bumped by every arm and cancel, so a job of an older schedule can tell.
    pub(super) gen: u32,
    /// Period in ns; 0 for one-shot. Never negative.
    pub(super) interval: i64,
    pub(super) delivery: Delivery,
    /// [`Delivery::QueueLimit`]: expiries not delivered yet, reported by the next record.
    pub(super) missed: u64,
    /// [`Delivery::QueueLimit`]: its reserved messages in the event queue.
    pub(super) messages: u32,
    /// The record readers get: `expiry`/`fire` are those of the latest expiry it stands for,
    /// `overruns` the earlier expiries folded into it.
    pub(super) rec: Record,
    /// The expiry being handled (scheduled and actual time), until it is delivered.
    pub(super) fired: (i64, i64),
    /// On the fired list of lane `fired_lane`, linked by `fired_next`.
    pub(super) on_fired: bool,
    pub(super) fired_next: u32,
    pub(super) fired_lane: u32,
    /// Fired while its job was running: `Locked::end_run` hands it to its lane.
    pub(super) deferred: bool,
    /// The CPU whose executor lane runs its job (the owner's; [`Delivery::Executor`] only). A
    /// CPU id that is not possible means lane 0.
    pub(crate) cpu: u32,
    /// The flags its records carry while it is periodic (the owner's; not for executor
    /// objects, whose job sets a run's flags).
    pub(crate) periodic_flags: u32,
    /// The most overruns one of its records reports (the owner's; saturating, like POSIX
    /// `DELAYTIMER_MAX`).
    pub(crate) overrun_limit: u64,
    /// All overruns since the owner last cleared them.
    pub(crate) total_overruns: u64,
    /// The owner's word about the object (interval timers: how they are notified); the
    /// engine never reads it.
    pub(crate) owner_word: u32,
    /// The clock the owner created it on: its absolute times' clock. (The slot's clock is
    /// the current arming's, which may differ: see `Locked::arm_on`.)
    pub(crate) clock: Clock,
    /// Armed with an absolute time.
    pub(crate) absolute: bool,
    /// Expired since it was last armed.
    pub(crate) expired: bool,
    /// The executor runs this object's job, in task `running_task` (an address, only
    /// compared).
    pub(crate) running: bool,
    pub(crate) running_task: usize,
    /// What the owner does at each expiry, beside the record ([`super::ExpiryAction`]).
    pub(crate) action: Option<Arc<dyn super::ExpiryAction>>,
    /// What happens to it when `CLOCK_REALTIME` is set (`clock_set.rs`); set through
    /// [`super::Locked::set_on_clock_set`].
    pub(super) on_clock_set: super::OnClockSet,
    /// The owner's state.
    pub(crate) job: J,
}

impl<J: Default> Object<J> {
    /// A new object on `clock` whose expiries are delivered as `delivery` says.
    pub(super) fn new(delivery: Delivery, clock: Clock) -> Self {
        Self {
            clock,
            gen: 0,
            interval: 0,
            delivery,
            missed: 0,
            messages: 0,
            rec: Record::default(),
            fired: (0, 0),
            on_fired: false,
            fired_next: NIL,
            fired_lane: 0,
            deferred: false,
            cpu: 0,
            periodic_flags: 0,
            overrun_limit: u64::MAX,
            total_overruns: 0,
            owner_word: 0,
            absolute: false,
            expired: false,
            running: false,
            running_task: 0,
            action: None,
            on_clock_set: super::OnClockSet::Nothing,
            job: J::default(),
        }
    }
}

impl<J> Object<J> {
    /// The period, in ns (0: one-shot).
    #[inline]
    pub(crate) fn interval(&self) -> i64 {
        self.interval
    }

    /// Sets the period the next expiries re-arm with (negative: 0).
    #[inline]
    pub(crate) fn set_interval(&mut self, ns: i64) {
        self.interval = ns.max(0);
    }

    /// How the object's expiries are delivered.
    #[inline]
    pub(crate) fn delivery(&self) -> Delivery {
        self.delivery
    }
}

/// The mutable part of a slot. Only accessed with the engine lock held (see [`Entry`]).
///
/// Kept to 40 bytes so that a slot with its 48-byte queue node and its number is 96: a
/// pending timeout costs one. The expiry lives in the queue node; whether the record is
/// queued is told by the queue link ([`super::events::Events::holds`]); whatever only
/// long-lived objects need is in their [`Object`].
pub(super) struct SlotData<J> {
    /// The id of the object using the slot; 0 while the slot is free.
    pub(super) id: u64,
    /// The owner's cookie (inline one-shots: the callback's argument).
    pub(super) cookie: u64,
    pub(super) body: Body<J>,
    /// Link in the free list, the event queue or the message reserve (a slot is on one at
    /// most); `NIL` for a live slot whose record is not queued, unless it is the queue's tail.
    pub(super) next: u32,
    /// The owner's tag, handed back in records; the engine never interprets it.
    pub(super) tag: u8,
    pub(super) clock: Clock,
    /// `Armed` exactly when the slot's node is in its clock's timer queue (the queue calls'
    /// safety rests on it).
    pub(super) sched: Sched,
}

impl<J> SlotData<J> {
    /// A free slot.
    fn free() -> Self {
        Self {
            id: 0,
            cookie: 0,
            body: Body::Once { fire: 0 },
            next: NIL,
            tag: 0,
            clock: Clock::Monotonic,
            sched: Sched::Idle,
        }
    }

    /// The object state of a long-lived object.
    #[inline]
    pub(super) fn obj(&mut self) -> Option<&mut Object<J>> {
        match &mut self.body {
            Body::Object(o) => Some(o),
            _ => None,
        }
    }

    /// [`SlotData::obj`], shared.
    #[inline]
    pub(super) fn obj_ref(&self) -> Option<&Object<J>> {
        match &self.body {
            Body::Object(o) => Some(o),
            _ => None,
        }
    }

    /// Empties the slot for the free list, whose head becomes its `next`.
    #[inline]
    pub(super) fn clear(&mut self, next_free: u32) {
        self.id = 0;
        self.sched = Sched::Idle;
        self.body = Body::Once { fire: 0 };
        self.next = next_free;
    }

    /// Whether the slot is done with once its one record has been consumed: a one-shot goes
    /// back to the free list, a message to the reserve.
    #[inline]
    pub(super) fn one_shot(&self) -> bool {
        !matches!(self.body, Body::Object(_))
    }

    /// Whether the slot is a reserved message ([`Body::Message`]).
    #[inline]
    pub(super) fn is_message(&self) -> bool {
        matches!(self.body, Body::Message(_))
    }

    /// Whether the slot is an inline one-shot ([`super::Engine::call_once`]).
    #[inline]
    pub(super) fn is_call(&self) -> bool {
        matches!(self.body, Body::Call { .. })
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
pub(super) struct Entry<J> {
    #[pin]
    node: QueueNode,
    /// The entry's slot number. (Not `slot`: `pin_init!` has a local of that name.)
    number: u32,
    data: UnsafeCell<SlotData<J>>,
}

impl_has_queue_node! {
    impl{J} HasQueueNode for Entry<J> { self.node }
}

// SAFETY: `data` and `node` are only accessed under the engine lock (type invariant), and the
// object state it may own is `Send`.
unsafe impl<J: Send> Send for Entry<J> {}
// SAFETY: as above.
unsafe impl<J: Send> Sync for Entry<J> {}

impl<J> Entry<J> {
    /// Slot `number` of its engine's table.
    fn new(number: u32) -> impl PinInit<Self> {
        const { assert!(core::mem::size_of::<Entry<J>>() == ENTRY_SIZE) };
        pin_init!(Self {
            node <- QueueNode::new(),
            number,
            data: UnsafeCell::new(SlotData::free()),
        })
    }

    /// The slot this entry is.
    #[inline]
    pub(super) fn slot(&self) -> Slot {
        Slot(self.number)
    }

    /// The expiry the slot was last queued with, on its clock.
    ///
    /// The caller holds the engine lock (the queue's only writer of the field).
    #[inline]
    pub(super) fn expires(&self) -> i64 {
        self.node.expires()
    }

    /// Whether the slot is in a timer queue. The caller holds the engine lock.
    #[inline]
    pub(super) fn is_queued(&self) -> bool {
        self.node.is_queued()
    }
}

/// A chunk of slots, pinned: the timer queues point into it.
#[pin_data]
pub(super) struct Chunk<J> {
    #[pin]
    entries: [Entry<J>; CHUNK],
}

impl<J> Chunk<J> {
    /// Slots `base..base + CHUNK`.
    pub(super) fn new(base: u32) -> impl PinInit<Self> {
        pin_init!(Self {
            entries <- pin_init::pin_init_array_from_fn(|i| Entry::new(base + i as u32)),
        })
    }
}

/// Entry `n` of a table of chunks (a function of the chunks alone, so that the table's other
/// fields can be changed beside it).
#[inline]
fn entry_of<J>(chunks: &KVec<Pin<KBox<Chunk<J>>>>, n: u32) -> &Entry<J> {
    &chunks[n as usize / CHUNK].entries[n as usize % CHUNK]
}

/// A slot just taken off the free list ([`Slots::take`]).
pub(super) struct Fresh<'a, J> {
    pub(super) slot: Slot,
    pub(super) id: u64,
    pub(super) entry: &'a Entry<J>,
    pub(super) data: &'a mut SlotData<J>,
}

/// The slot table: chunks, the free list, the live count and the id sequence.
///
/// Protected by the engine lock: only reachable through its guard.
pub(super) struct Slots<J> {
    chunks: KVec<Pin<KBox<Chunk<J>>>>,
    /// Head of the free list, linked by [`SlotData::next`].
    free: u32,
    nfree: u32,
    /// Slots in use (timers and unread one-shot records).
    live: u32,
    /// The next sequence number and the end of the current block (`ids`).
    seq_next: u64,
    seq_end: u64,
    ids: IdSpace,
    /// An id is `(seq << seq_shift) | id_bits | slot`: `id_bits` is the CPU of a per-CPU
    /// engine in place (one formula for both spaces, no branch when arming).
    seq_shift: u32,
    id_bits: u64,
}

/// Where an engine's ids come from.
#[derive(Clone, Copy)]
pub(crate) enum IdSpace {
    /// The module-wide counter (a file's engine).
    Shared,
    /// The engine of this CPU: its own counter, the CPU in the id's bits
    /// `SLOT_BITS..SLOT_BITS + cpu_bits()`, the sequence number above them.
    Cpu(u32),
    /// A file on virtual time: its own counter from 1, so that the same calls give the same
    /// ids on every run (ids name timers of their file only).
    Own,
    /// An in-kernel virtual clock (`kernel_api/virtual_clock.rs`): [`IdSpace::Own`] with
    /// [`VIRTUAL_ID`] set, which no per-CPU engine's id has.
    KernelVirtual,
}

impl IdSpace {
    /// Bits that hold a CPU id below `nr_cpu_ids`.
    #[inline]
    fn cpu_bits() -> u32 {
        let n = super::cpu::count();
        if n <= 1 {
            0
        } else {
            u32::BITS - (n - 1).leading_zeros()
        }
    }

    /// The CPU an id of an [`IdSpace::Cpu`] engine names.
    #[inline]
    pub(super) fn cpu_of(id: u64) -> u32 {
        ((id >> SLOT_BITS) & ((1u64 << Self::cpu_bits()) - 1)) as u32
    }
}

impl<J> Slots<J> {
    pub(super) fn new(ids: IdSpace) -> Self {
        let (seq_next, seq_end, seq_shift, id_bits) = match ids {
            IdSpace::Shared => (0, 0, SLOT_BITS, 0),
            // Starts at 1 so that no id is 0 (CPU 0's would be).
            // Half the range: bit 62 stays clear (`VIRTUAL_ID`).
            IdSpace::Cpu(cpu) => (
                1,
                SEQ_LIMIT >> (IdSpace::cpu_bits() + 1),
                SLOT_BITS + IdSpace::cpu_bits(),
                u64::from(cpu) << SLOT_BITS,
            ),
            IdSpace::Own => (1, SEQ_LIMIT, SLOT_BITS, 0),
            IdSpace::KernelVirtual => (1, SEQ_LIMIT >> 1, SLOT_BITS, VIRTUAL_ID),
        };
        Self {
            chunks: KVec::new(),
            free: NIL,
            nfree: 0,
            live: 0,
            seq_next,
            seq_end,
            ids,
            seq_shift,
            id_bits,
        }
    }

    /// Makes an empty table draw its ids from `ids` from now on.
    pub(super) fn set_ids(&mut self, ids: IdSpace) {
        let fresh = Self::new(ids);
        (
            self.ids,
            self.seq_next,
            self.seq_end,
            self.seq_shift,
            self.id_bits,
        ) = (
            fresh.ids,
            fresh.seq_next,
            fresh.seq_end,
            fresh.seq_shift,
            fresh.id_bits,
        );
    }

    /// Slots the table has.
    #[inline]
    pub(super) fn capacity(&self) -> u32 {
        (self.chunks.len() * CHUNK) as u32
    }

    /// Slots in use.
    #[inline]
    pub(super) fn live(&self) -> u32 {
        self.live
    }

    /// Slots on the free list.
    #[inline]
    pub(super) fn nfree(&self) -> u32 {
        self.nfree
    }

    /// The head of the free list (for the consistency walk).
    #[inline]
    pub(super) fn free_head(&self) -> u32 {
        self.free
    }

    /// Chunks in the table.
    #[inline]
    pub(super) fn nchunks(&self) -> usize {
        self.chunks.len()
    }

    /// Whether no slot is free.
    #[inline]
    pub(super) fn full(&self) -> bool {
        self.free == NIL
    }

    /// The entry of slot number `n` (below [`Slots::capacity`]).
    #[inline]
    pub(super) fn entry(&self, n: u32) -> &Entry<J> {
        entry_of(&self.chunks, n)
    }

    /// The entry of `slot` and its data.
    #[inline]
    pub(super) fn entry_data(&mut self, slot: Slot) -> (&Entry<J>, &mut SlotData<J>) {
        let e = self.entry(slot.0);
        // SAFETY: `&mut self` is only reachable through the engine lock's guard, so the lock
        // of the `Entry` invariant is held and nothing else uses any slot's data; the borrow
        // is tied to `&mut self`.
        (e, unsafe { &mut *e.data.get() })
    }

    /// The data of `slot`.
    #[inline]
    pub(super) fn data(&mut self, slot: Slot) -> &mut SlotData<J> {
        self.entry_data(slot).1
    }

    /// The data of `slot`, shared.
    #[inline]
    pub(super) fn data_ref(&self, slot: Slot) -> &SlotData<J> {
        // SAFETY: as in `entry_data`; `&self` excludes writers for as long as the borrow lives.
        unsafe { &*self.entry(slot.0).data.get() }
    }

    /// The live slot `id` names, if any: none for unknown, stale, foreign or malformed ids.
    #[inline]
    pub(super) fn lookup(&self, id: u64) -> Option<Slot> {
        self.lookup_if(id, |_| true)
    }

    /// [`Slots::lookup`] of a slot whose data also passes `ok` (one slot lookup).
    #[inline]
    pub(super) fn lookup_if(&self, id: u64, ok: impl Fn(&SlotData<J>) -> bool) -> Option<Slot> {
        let n = (id & SLOT_MASK) as u32;
        if id == 0 || n >= self.capacity() {
            return None;
        }
        let slot = Slot(n);
        let d = self.data_ref(slot);
        (d.id == id && ok(d)).then_some(slot)
    }

    /// The next id for slot `n`, from this table's block of sequence numbers.
    #[inline]
    fn next_id(&mut self, n: u32) -> Result<u64> {
        if self.seq_next == self.seq_end {
            if let IdSpace::Cpu(_) | IdSpace::Own | IdSpace::KernelVirtual = self.ids {
                // An engine's own counter has run out.
                return Err(ENOSPC);
            }
            let start = NEXT_SEQ.fetch_add(SEQ_BATCH, Relaxed);
            if start + SEQ_BATCH > SEQ_LIMIT {
                return Err(ENOSPC);
            }
            self.seq_next = start;
            self.seq_end = start + SEQ_BATCH;
        }
        let seq = self.seq_next;
        self.seq_next += 1;
        Ok((seq << self.seq_shift) | self.id_bits | u64::from(n))
    }

    /// Takes a free slot for a new user of `tag` on `clock`, idle, and gives it an id:
    /// `ENOSPC` with `max` slots live or none free. The caller sets the body up (it is
    /// `Once`), through the one lookup this makes.
    #[inline(always)]
    pub(super) fn take(
        &mut self,
        max: u32,
        tag: u8,
        clock: Clock,
        cookie: u64,
    ) -> Result<Fresh<'_, J>> {
        let n = self.free;
        if self.live >= max || n == NIL {
            return Err(ENOSPC);
        }
        let id = self.next_id(n)?;
        self.nfree -= 1;
        self.live += 1;
        let slot = Slot(n);
        let e = entry_of(&self.chunks, n);
        // SAFETY: as in `entry_data` (only the chunks are borrowed, shared, beside the data).
        let d = unsafe { &mut *e.data.get() };
        self.free = d.next;
        d.id = id;
        d.tag = tag;
        d.clock = clock;
        d.cookie = cookie;
        d.next = NIL;
        d.sched = Sched::Idle;
        Ok(Fresh {
            slot,
            id,
            entry: e,
            data: d,
        })
    }

    /// Returns `slot`, which is in no timer queue, event queue or executor list, to the free
    /// list, dropping its object state.
    #[inline]
    pub(super) fn release(&mut self, slot: Slot) {
        let head = self.free;
        self.data(slot).clear(head);
        self.freed(slot);
    }

    /// Puts `slot`, emptied with [`SlotData::clear`] against the current free head, on the
    /// free list.
    #[inline]
    pub(super) fn freed(&mut self, slot: Slot) {
        self.free = slot.0;
        self.nfree += 1;
        self.live -= 1;
    }

    /// Whether the table has room for `chunk` without growing its vector.
    #[inline]
    pub(super) fn has_room_for_chunk(&self) -> bool {
        self.chunks.len() < self.chunks.capacity()
    }

    /// Replaces the chunk vector by `spare` (empty, with more room) holding the same chunks;
    /// returns the old, empty one, to be freed with the lock dropped.
    pub(super) fn move_chunks(
        &mut self,
        mut spare: KVec<Pin<KBox<Chunk<J>>>>,
    ) -> Result<KVec<Pin<KBox<Chunk<J>>>>> {
        if spare.capacity() > self.chunks.capacity() {
            for c in self.chunks.drain_all() {
                // Cannot fail: `spare` has more room than the old vector had.
                spare.push(c, GFP_ATOMIC)?;
            }
            core::mem::swap(&mut self.chunks, &mut spare);
        }
        Ok(spare)
    }

    /// The capacity of the chunk vector.
    #[inline]
    pub(super) fn chunk_capacity(&self) -> usize {
        self.chunks.capacity()
    }

    /// Adds `chunk` (slots `nchunks * CHUNK ..`) and puts its slots on the free list; the
    /// vector must have room ([`Slots::has_room_for_chunk`]).
    pub(super) fn push_chunk(&mut self, chunk: Pin<KBox<Chunk<J>>>) {
        let base = (self.chunks.len() * CHUNK) as u32;
        if self.chunks.push_within_capacity(chunk).is_err() {
            return;
        }
        for n in (base..base + CHUNK as u32).rev() {
            let head = self.free;
            self.data(Slot(n)).next = head;
            self.free = n;
        }
        self.nfree += CHUNK as u32;
    }
}
