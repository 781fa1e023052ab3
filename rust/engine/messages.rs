// SPDX-License-Identifier: GPL-2.0

//! Reserved messages: the records a [`Delivery::QueueLimit`] object queues beyond its own.
//!
//! A slot has one link in the event queue, so an object's own record is queued at most once.
//! A Mach port queues one message per expiry until its queue limit, and QNX queues each pulse:
//! an expiry of a [`Delivery::QueueLimit`] object whose own record is still unread needs
//! another record. The engine sets slots aside for that, each with its record allocated, when
//! an owner asks ([`Engine::reserve_messages`]: when a queue limit is set and when such an
//! object is armed), so that an expiry takes one from the reserve and never allocates. With
//! the reserve empty the expiry is counted as missed, as when the queue is full: nothing is
//! lost, and the count rides on the next record.
//!
//! A reserved slot is live (it counts against `max_timers`) and never goes back to the free
//! list. While queued, or taken by a reader, it carries its object's id (under which a lookup
//! finds the object, never the message); in reserve its id is 0. At most `qlimit - 1` are in
//! use at once: one is queued only beside its object's own record, in a queue shorter than
//! `qlimit`.

use super::events::Record;
use super::slots::{Body, Delivery, Slot, Slots, NIL};
use super::{Backend, Clock, Engine, Executor, Locked};
use kernel::{alloc::Flags, prelude::*};

/// The reserve, linked through the slots' `next`.
///
/// Protected by the engine lock.
pub(super) struct Messages {
    head: u32,
    /// Slots in reserve.
    spare: u32,
    /// Slots set aside in all: in reserve, queued, or being read.
    total: u32,
}

impl Messages {
    pub(super) fn new() -> Self {
        Self {
            head: NIL,
            spare: 0,
            total: 0,
        }
    }

    /// Slots in reserve.
    #[inline]
    pub(super) fn spare(&self) -> u32 {
        self.spare
    }

    /// Slots set aside in all.
    #[inline]
    pub(super) fn total(&self) -> u32 {
        self.total
    }

    /// The first slot in reserve, `NIL` if none (for the consistency walk).
    #[inline]
    pub(super) fn head(&self) -> u32 {
        self.head
    }

    /// Takes a slot out of the reserve for a record of object `id`, or none if it is empty.
    #[inline]
    pub(super) fn take<J>(&mut self, slots: &mut Slots<J>, id: u64) -> Option<Slot> {
        if self.head == NIL {
            return None;
        }
        let slot = Slot(self.head);
        let d = slots.data(slot);
        self.head = d.next;
        self.spare -= 1;
        d.next = NIL;
        d.id = id;
        Some(slot)
    }

    /// Puts message `slot`, which is neither queued nor in reserve, back in reserve.
    #[inline]
    pub(super) fn put<J>(&mut self, slots: &mut Slots<J>, slot: Slot) {
        let d = slots.data(slot);
        d.id = 0;
        d.next = self.head;
        self.head = slot.0;
        self.spare += 1;
    }
}

impl<B: Backend, X: Executor> Engine<B, X> {
    /// Sets slots aside until the reserve can hold as many records as the event queue has room
    /// for beside objects' own (`qlimit - 1` in all), allocating with `flags` with the lock
    /// dropped. `ENOMEM` if memory ran out; at `max_timers` it reserves what fits (later
    /// expiries are then counted as missed). One lock hold when nothing is missing.
    pub(crate) fn reserve_messages(&self, flags: Flags) -> Result {
        let mut rec: Option<KBox<Record>> = None;
        loop {
            let grow = {
                let mut l = self.lock();
                if !l.messages_missing() || l.g.dying {
                    return Ok(());
                }
                match rec.take() {
                    None => false,
                    Some(r) if l.needs_growth() => {
                        rec = Some(r);
                        true
                    }
                    Some(r) => {
                        let max = self.max_timers;
                        let g = &mut *l.g;
                        let Ok(fresh) = g.slots.take(max, 0, Clock::Monotonic, 0) else {
                            // At the limit: what is reserved is what there is.
                            return Ok(());
                        };
                        fresh.data.body = Body::Message(r);
                        let slot = fresh.slot;
                        g.messages.total += 1;
                        g.messages.put(&mut g.slots, slot);
                        continue;
                    }
                }
            };
            if grow {
                self.grow(flags)?;
            } else {
                rec = Some(KBox::new(Record::default(), flags)?);
            }
        }
    }
}

impl<B: Backend, X: Executor> Locked<'_, B, X> {
    /// Whether the reserve is short of what the queue limit calls for (`qlimit - 1`).
    #[inline]
    pub(crate) fn messages_missing(&self) -> bool {
        self.g.messages.total < self.qlimit().saturating_sub(1)
    }

    /// Slots set aside as messages, in reserve or in use (for the KUnit suites).
    #[cfg(hrc_kunit)]
    pub(crate) fn reserved_messages(&self) -> u32 {
        self.g.messages.total
    }

    /// Queues a record of an expiry of object `owner` (whose own record is queued) in a
    /// message from the reserve, which the caller saw is not empty.
    pub(super) fn queue_message(&mut self, owner: Slot, rec: Record) {
        let g = &mut *self.g;
        let od = g.slots.data_ref(owner);
        let (id, tag, clock) = (od.id, od.tag, od.clock);
        let Some(m) = g.messages.take(&mut g.slots, id) else {
            return;
        };
        let d = g.slots.data(m);
        d.tag = tag;
        d.clock = clock;
        d.cookie = rec.cookie;
        if let Body::Message(r) = &mut d.body {
            **r = rec;
        }
        if let Some(o) = g.slots.data(owner).obj() {
            o.messages += 1;
        }
        self.enqueue_record(m);
    }

    /// A message of object `id` left the queue (taken by a reader or removed). Out of line:
    /// rare, and `take_event` is on the read path.
    #[inline(never)]
    pub(super) fn message_unqueued(&mut self, id: u64) {
        let g = &mut *self.g;
        if let Some(o) = g.slots.lookup(id).and_then(|s| g.slots.data(s).obj()) {
            o.messages = o.messages.saturating_sub(1);
        }
    }

    /// Takes every queued message of object `slot` off the queue, back to the reserve.
    pub(super) fn unqueue_messages(&mut self, slot: Slot) {
        let g = &mut *self.g;
        let id = g.slots.data_ref(slot).id;
        let Some(o) = g.slots.data(slot).obj() else {
            return;
        };
        if o.delivery != Delivery::QueueLimit || o.messages == 0 {
            return;
        }
        o.messages = 0;
        let messages = &mut g.messages;
        g.events.remove_where(
            &mut g.slots,
            |d| d.is_message() && d.id == id,
            |slots, m| messages.put(slots, m),
        );
    }
}
