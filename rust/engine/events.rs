// SPDX-License-Identifier: GPL-2.0

//! The event queue: records waiting for readers, and how an expiry becomes one.
//!
//! A record lives in its slot (one-shots) or its object state (long-lived objects), linked
//! into the queue through the slot's `next`, so queueing one never allocates and an expiry can
//! never lose an event for want of memory. A slot has one link, so at most one of its records
//! is queued; the delivery modes ([`Delivery`]) say what happens to an expiry while it is.
//!
//! Readers are woken by the first record queued after the last wake-up that a reader has
//! acted on: a record queued while no reader has taken anything since the last wake-up wakes
//! no one again (a burst costs one wake-up, not one per record), and the first record queued
//! after a reader took some wakes them again, as a socket wakes its readers for new data.
//! Blocked readers only sleep on an empty queue, checked under the engine lock, so they always
//! see that wake-up; an edge-triggered epoll user gets an edge for the first new record after
//! each read, even one that left records queued.
//!
//! Records leave the engine as an [`Event`]; encoding it for userspace is the transport's job.

use super::hrtimer::Clock;
use super::slots::{Body, Delivery, Slot, SlotData, Slots, NIL};
use super::{Backend, Engine, Executor, Locked};

/// The parts of a record that vary, kept in an object until it is read.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Record {
    /// The cookie of the arming the record is for (a later arming may carry another).
    pub(crate) cookie: u64,
    pub(crate) expiry: i64,
    pub(crate) fire: i64,
    pub(crate) overruns: u64,
    pub(crate) flags: u32,
    pub(crate) extra: u64,
    /// The CPU a job ran on ([`Locked::deliver_run`]; 0 otherwise).
    pub(crate) cpu: u32,
}

/// A record taken off the queue, as the owner will see it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Event {
    /// The owner's tag of the slot (the transport's record kind).
    pub(crate) tag: u8,
    /// The owner's flags ([`Locked::deliver_run`], or the object's periodic flags).
    pub(crate) flags: u32,
    pub(crate) id: u64,
    pub(crate) cookie: u64,
    /// Scheduled expiry of the latest expiry the record stands for, on `clock`.
    pub(crate) expiry: i64,
    /// When that expiry was handled, same clock.
    pub(crate) fire: i64,
    /// Earlier expiries folded into this record.
    pub(crate) overruns: u64,
    pub(crate) clock: Clock,
    pub(crate) extra: u64,
    /// The CPU the job it reports ran on (executor objects; 0 otherwise).
    pub(crate) cpu: u32,
}

/// What [`Locked::consumed`] and [`Locked::put_back`] need of a record
/// [`Locked::take_event`] took.
#[derive(Clone, Copy, Default)]
pub(crate) struct Taken {
    slot: u32,
    id: u64,
    /// Whether the record is a one-shot's, whose slot is freed once it reached its reader
    /// (an object's record needs nothing more).
    pub(crate) one_shot: bool,
}

/// The queue of records waiting for readers, linked through the slots' `next`.
///
/// Protected by the engine lock.
pub(super) struct Events {
    head: u32,
    tail: u32,
    /// Records queued.
    len: u32,
    /// The queue limit of [`Delivery::QueueLimit`] objects.
    qlimit: u32,
    /// Readers were woken and none has taken a record since: a new record needs no wake-up.
    woken: bool,
}

impl Events {
    pub(super) fn new(qlimit: u32) -> Self {
        Self {
            head: NIL,
            tail: NIL,
            len: 0,
            qlimit,
            woken: false,
        }
    }

    /// Records queued.
    #[inline]
    pub(super) fn len(&self) -> u32 {
        self.len
    }

    /// The oldest record's slot number, `NIL` if none (for the consistency walk).
    #[inline]
    pub(super) fn head(&self) -> u32 {
        self.head
    }

    /// Whether `slot`'s record is queued (`slot` is live).
    #[inline]
    pub(super) fn holds<J>(&self, slots: &Slots<J>, slot: Slot) -> bool {
        slots.data_ref(slot).next != NIL || self.tail == slot.0
    }

    /// Appends `slot`'s record, which is not queued; returns whether readers need a wake-up
    /// (see the module doc).
    #[inline]
    fn push_back<J>(&mut self, slots: &mut Slots<J>, slot: Slot) -> bool {
        let tail = self.tail;
        slots.data(slot).next = NIL;
        if tail == NIL {
            self.head = slot.0;
        } else {
            slots.data(Slot(tail)).next = slot.0;
        }
        self.tail = slot.0;
        self.len += 1;
        !core::mem::replace(&mut self.woken, true)
    }

    /// Puts `slot`'s record, which is not queued, at the head; returns whether the queue was
    /// empty.
    #[inline]
    fn push_front<J>(&mut self, slots: &mut Slots<J>, slot: Slot) -> bool {
        let head = self.head;
        slots.data(slot).next = head;
        self.head = slot.0;
        self.len += 1;
        if head == NIL {
            self.tail = slot.0;
        }
        head == NIL
    }

    /// Removes `slot`'s record if it is queued (a walk: only used when an object is destroyed
    /// or re-set with its record unread).
    fn remove<J>(&mut self, slots: &mut Slots<J>, slot: Slot) {
        if !self.holds(slots, slot) {
            return;
        }
        let mut prev = NIL;
        let mut cur = self.head;
        while cur != NIL && cur != slot.0 {
            prev = cur;
            cur = slots.data_ref(Slot(cur)).next;
        }
        if cur != NIL {
            self.unlink(slots, prev, slot);
        }
    }

    /// Removes every queued record whose slot passes `pick`, handing each slot to `removed`
    /// once it is unlinked (a walk of the whole queue).
    pub(super) fn remove_where<J>(
        &mut self,
        slots: &mut Slots<J>,
        pick: impl Fn(&SlotData<J>) -> bool,
        mut removed: impl FnMut(&mut Slots<J>, Slot),
    ) {
        let mut prev = NIL;
        let mut cur = self.head;
        while cur != NIL {
            let slot = Slot(cur);
            let d = slots.data_ref(slot);
            let next = d.next;
            if pick(d) {
                self.unlink(slots, prev, slot);
                removed(slots, slot);
            } else {
                prev = cur;
            }
            cur = next;
        }
    }

    /// Unlinks queued `slot`, whose predecessor is `prev` (`NIL` at the head).
    fn unlink<J>(&mut self, slots: &mut Slots<J>, prev: u32, slot: Slot) {
        let next = slots.data_ref(slot).next;
        if prev == NIL {
            self.head = next;
        } else {
            slots.data(Slot(prev)).next = next;
        }
        if self.tail == slot.0 {
            self.tail = prev;
        }
        self.len -= 1;
        slots.data(slot).next = NIL;
    }
}

impl<B: Backend, X: Executor> Locked<'_, B, X> {
    /// How many records the event queue holds.
    #[inline]
    pub(crate) fn queue_len(&self) -> usize {
        self.g.events.len as usize
    }

    /// The queue limit of [`Delivery::QueueLimit`] objects.
    pub(crate) fn qlimit(&self) -> u32 {
        self.g.events.qlimit
    }

    /// Sets the queue limit of [`Delivery::QueueLimit`] objects.
    pub(crate) fn set_qlimit(&mut self, qlimit: u32) {
        self.g.events.qlimit = qlimit;
    }

    /// Appends `slot`'s record (not queued yet) to the event queue; wakes readers unless they
    /// were woken and have taken nothing since (see the module doc).
    #[inline]
    pub(super) fn enqueue_record(&mut self, slot: Slot) {
        let g = &mut *self.g;
        if g.events.push_back(&mut g.slots, slot) {
            self.engine.readers.notify_all();
        }
    }

    /// How many of `slot`'s records are queued: its own and its messages.
    pub(crate) fn queued_records(&self, slot: Slot) -> u32 {
        let g = &*self.g;
        let messages = g.slots.data_ref(slot).obj_ref().map_or(0, |o| o.messages);
        u32::from(g.events.holds(&g.slots, slot)) + messages
    }

    /// Removes `slot`'s records from the event queue: its own, if it is there, and its
    /// messages ([`super::messages`]).
    pub(crate) fn unqueue_record(&mut self, slot: Slot) {
        let g = &mut *self.g;
        g.events.remove(&mut g.slots, slot);
        self.unqueue_messages(slot);
    }

    /// Handles an expiry of object `slot` (its `fired` times set) for the arming whose cookie
    /// is `cookie`: queue its record, or fold or count it as its delivery mode says. `missed`
    /// periods were skipped by a late expiry.
    #[inline]
    pub(super) fn deliver(&mut self, slot: Slot, cookie: u64, missed: u64) {
        let g = &mut *self.g;
        let queued = g.events.holds(&g.slots, slot);
        let full = g.events.len >= g.events.qlimit;
        let Some(o) = g.slots.data(slot).obj() else {
            return;
        };
        match o.delivery {
            Delivery::Coalesce | Delivery::Executor => {
                if queued {
                    // Fold into the unread record, which now stands for this expiry too.
                    (o.rec.expiry, o.rec.fire) = o.fired;
                    o.rec.cookie = cookie;
                    o.rec.overruns = o.rec.overruns.saturating_add(1 + missed);
                    o.total_overruns = o.total_overruns.saturating_add(1 + missed);
                    return;
                }
                (o.rec.expiry, o.rec.fire) = o.fired;
                o.rec.overruns = missed;
            }
            Delivery::QueueLimit => {
                // Out of line: it keeps `deliver` small enough to be inlined into the pass
                // for the common modes (P5 lost 20 instructions an event when it was not).
                self.deliver_queued(slot, cookie, missed, queued, full);
                return;
            }
        }
        if o.delivery != Delivery::Executor {
            o.rec.flags = if o.interval > 0 { o.periodic_flags } else { 0 };
        }
        o.rec.cookie = cookie;
        o.total_overruns = o.total_overruns.saturating_add(missed);
        self.enqueue_record(slot);
    }

    /// [`Locked::deliver`] of a [`Delivery::QueueLimit`] object: a record of its own, or a
    /// message if its own is `queued`, unless the queue is `full` or no message is left.
    #[inline(never)]
    fn deliver_queued(&mut self, slot: Slot, cookie: u64, missed: u64, queued: bool, full: bool) {
        let g = &mut *self.g;
        let spare = g.messages.spare();
        let Some(o) = g.slots.data(slot).obj() else {
            return;
        };
        if full || (queued && spare == 0) {
            o.missed = o.missed.saturating_add(1 + missed);
            o.total_overruns = o.total_overruns.saturating_add(1 + missed);
            return;
        }
        let rec = Record {
            cookie,
            expiry: o.fired.0,
            fire: o.fired.1,
            overruns: o.missed.saturating_add(missed).min(o.overrun_limit),
            flags: if o.interval > 0 { o.periodic_flags } else { 0 },
            ..Record::default()
        };
        o.missed = 0;
        o.total_overruns = o.total_overruns.saturating_add(missed);
        if queued {
            // Its own record is unread: this expiry is a message of its own.
            self.queue_message(slot, rec);
            return;
        }
        o.rec = rec;
        self.enqueue_record(slot);
    }

    /// The record of a job's run of executor object `slot`, for the arming whose cookie is
    /// `cookie` (the slot's cookie may already be a later arming's): `flags` and `extra` are
    /// the owner's; it coalesces with an unread one.
    pub(crate) fn deliver_run(&mut self, slot: Slot, cookie: u64, flags: u32, extra: u64) {
        if let Some(o) = self.g.slots.data(slot).obj() {
            o.rec.flags = flags;
            o.rec.extra = extra;
            o.rec.cpu = super::cpu::current();
            self.deliver(slot, cookie, 0);
        }
    }

    /// Takes the oldest record off the queue. Until [`Locked::consumed`] or
    /// [`Locked::put_back`], its slot stays allocated.
    #[inline]
    pub(crate) fn take_event(&mut self) -> Option<(Event, Taken)> {
        let g = &mut *self.g;
        let n = g.events.head;
        if n == NIL {
            return None;
        }
        let (e, d) = g.slots.entry_data(Slot(n));
        let next = d.next;
        d.next = NIL;
        let mut message = false;
        let (rec, one_shot) = match &mut d.body {
            Body::Once { fire } => (
                Record {
                    cookie: d.cookie,
                    expiry: e.expires(),
                    fire: *fire,
                    ..Record::default()
                },
                true,
            ),
            Body::Object(o) => {
                let mut rec = o.rec;
                rec.overruns = rec.overruns.min(o.overrun_limit);
                o.rec.overruns = 0;
                (rec, false)
            }
            Body::Call { .. } => (Record::default(), true),
            // A message stays in its slot until it is consumed or put back.
            Body::Message(r) => {
                message = true;
                (**r, true)
            }
        };
        let ev = Event {
            tag: d.tag,
            flags: rec.flags,
            id: d.id,
            cookie: rec.cookie,
            expiry: rec.expiry,
            fire: rec.fire,
            overruns: rec.overruns,
            clock: d.clock,
            extra: rec.extra,
            cpu: rec.cpu,
        };
        g.events.head = next;
        if next == NIL {
            g.events.tail = NIL;
        }
        g.events.len -= 1;
        // A reader acted on the last wake-up: the next record wakes readers again.
        g.events.woken = false;
        if message {
            self.message_unqueued(ev.id);
        }
        Some((
            ev,
            Taken {
                slot: n,
                id: ev.id,
                one_shot,
            },
        ))
    }

    /// The slot of a taken record, if its object still exists.
    #[inline]
    fn taken_slot(&self, t: &Taken) -> Option<Slot> {
        let slot = Slot(t.slot);
        (self.g.slots.data_ref(slot).id == t.id).then_some(slot)
    }

    /// A taken record reached its reader: a finished one-shot's slot is freed. One slot lookup
    /// and the free.
    #[inline]
    pub(crate) fn consumed(&mut self, t: &Taken) {
        let g = &mut *self.g;
        let slot = Slot(t.slot);
        let d = g.slots.data_ref(slot);
        // Still the object taken, a one-shot (whose record, taken once, is never queued again:
        // it fired once), and idle: nothing else refers to the slot.
        let queued = d.next != NIL || g.events.tail == slot.0;
        if d.id == t.id && d.is_message() && !queued {
            // A message read: back to the reserve.
            g.messages.put(&mut g.slots, slot);
        } else if d.id == t.id && d.one_shot() && d.sched == super::Sched::Idle && !queued {
            // Not armed, not on the fired list (a one-shot has no object state): back to the
            // free list.
            g.slots.release(slot);
        }
    }

    /// A taken record (its `expiry`, `fire` and `overruns` as taken) could not reach its
    /// reader: it goes back to the head of the queue. If its timer queued a newer one
    /// meanwhile (a slot has one queue link), its expiries become overruns of that one, so
    /// none is lost.
    pub(crate) fn put_back(&mut self, t: &Taken, expiry: i64, fire: i64, overruns: u64) {
        let Some(slot) = self.taken_slot(t) else {
            return;
        };
        let g = &mut *self.g;
        if g.slots.data_ref(slot).is_message() {
            // Back to the head, if its object still exists (deleting it took its queued
            // messages, not this one).
            match g.slots.lookup(t.id) {
                Some(owner) => {
                    if let Some(o) = g.slots.data(owner).obj() {
                        o.messages += 1;
                    }
                }
                None => {
                    g.messages.put(&mut g.slots, slot);
                    return;
                }
            }
        } else if g.events.holds(&g.slots, slot) {
            if let Some(o) = g.slots.data(slot).obj() {
                o.rec.overruns = o.rec.overruns.saturating_add(overruns.saturating_add(1));
                o.total_overruns = o.total_overruns.saturating_add(1);
            }
            return;
        }
        if let Some(o) = g.slots.data(slot).obj() {
            o.rec.overruns = o.rec.overruns.saturating_add(overruns);
            o.rec.expiry = expiry;
            o.rec.fire = fire;
        }
        if g.events.push_front(&mut g.slots, slot) {
            // Another reader may have gone to sleep on the queue we emptied: the next enqueue
            // would not wake it.
            self.engine.readers.notify_all();
        }
    }
}

impl<B: Backend, X: Executor> Engine<B, X> {
    /// Waits for records; returns false if interrupted by a signal.
    pub(crate) fn wait_readable(&self) -> bool {
        let mut g = self.inner.lock();
        while g.events.head == NIL && !g.dying {
            if self.readers.wait_interruptible(&mut g) {
                return false;
            }
        }
        true
    }

    /// The condition variable poll registers on.
    pub(crate) fn poll_condvar(&self) -> &kernel::sync::poll::PollCondVar {
        &self.readers
    }

    /// Whether a record is ready.
    pub(crate) fn readable(&self) -> bool {
        self.inner.lock().events.head != NIL
    }
}
