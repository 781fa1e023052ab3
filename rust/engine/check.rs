// SPDX-License-Identifier: GPL-2.0

//! The engine's executable invariants (`HRC_IOC_CHECK`, the KUnit suites, the fuzzer).
//!
//! A walk of every list and queue under the engine lock: O(slots), for tests only.

use super::clock_base::{CLOCKS, CLOCK_COUNT};
use super::slots::{Delivery, Slot, NIL};
use super::{Backend, Engine, Executor, Locked, Sched};

/// The engine's own view of its consistency.
pub(crate) struct Check {
    /// Whether every invariant held.
    pub(crate) ok: bool,
    /// Slots in use, but reserved messages ([`super::messages`]) waiting in reserve.
    pub(crate) live: u32,
    pub(crate) queued: u32,
    pub(crate) free: u32,
    pub(crate) slots: u64,
}

impl<B: Backend, X: Executor> Engine<B, X> {
    /// Counts for `HRC_IOC_CHECK`, after walking every list and queue to check the invariants.
    pub(crate) fn check(&self) -> Check {
        self.lock().check()
    }
}

impl<B: Backend, X: Executor> Locked<'_, B, X> {
    fn check(self) -> Check {
        let g = &*self.g;
        let slots = g.slots.capacity();
        let mut ok = true;
        // Free list: every member free, count matches, no cycle.
        let mut n = 0u32;
        let mut cur = g.slots.free_head();
        while cur != NIL && n <= slots {
            let d = g.slots.data_ref(Slot(cur));
            ok &= d.id == 0;
            n += 1;
            cur = d.next;
        }
        ok &= n == g.slots.nfree();
        // Event queue: every member live, count matches.
        let mut q = 0u32;
        let mut queued_messages = 0u32;
        let mut cur = g.events.head();
        while cur != NIL && q <= slots {
            let d = g.slots.data_ref(Slot(cur));
            ok &= d.id != 0;
            q += 1;
            queued_messages += u32::from(d.is_message());
            cur = d.next;
        }
        ok &= q == g.events.len();
        ok &= g.slots.live() + g.slots.nfree() == slots;
        // The message reserve: only messages, with no id, as many as it counts.
        let mut spare = 0u32;
        let mut cur = g.messages.head();
        while cur != NIL && spare <= slots {
            let d = g.slots.data_ref(Slot(cur));
            ok &= d.is_message() && d.id == 0;
            spare += 1;
            cur = d.next;
        }
        ok &= spare == g.messages.spare();
        // Every id names its own slot, but a queued message's, which names a live object
        // delivered by queue limit; a slot's node is queued exactly when it is armed (never a
        // message).
        let mut live = 0u32;
        let mut armed = [0u32; CLOCK_COUNT];
        let (mut messages, mut counted) = (0u32, 0u32);
        for s in 0..slots {
            let e = g.slots.entry(s);
            let d = g.slots.data_ref(Slot(s));
            if d.is_message() {
                live += 1;
                messages += 1;
                ok &= d.sched == Sched::Idle;
                // A queued message names a live object. (One a reader has taken may outlive
                // its object: the reader got it before the object was deleted.)
                if d.id != 0 && g.events.holds(&g.slots, Slot(s)) {
                    ok &= g.slots.lookup(d.id).is_some_and(|o| {
                        g.slots
                            .data_ref(o)
                            .obj_ref()
                            .is_some_and(|o| o.delivery == Delivery::QueueLimit)
                    });
                }
            } else if d.id != 0 {
                live += 1;
                ok &= g.slots.lookup(d.id) == Some(Slot(s));
                if d.sched == Sched::Armed {
                    armed[d.clock as usize] += 1;
                }
                counted += d.obj_ref().map_or(0, |o| o.messages);
            }
            ok &= e.is_queued() == (d.id != 0 && d.sched == Sched::Armed && !d.is_message());
        }
        ok &= live == g.slots.live() && messages == g.messages.total();
        // Each object counts its queued messages.
        ok &= counted == queued_messages;
        // Executor lanes: each list well formed and on its own lane; every listed object is
        // on exactly one list; no job ever began while its object's job ran.
        let mut listed = 0u32;
        for (lane, list) in g.fired.iter().enumerate() {
            let (n, lane_ok) = list.check(&g.slots, lane as u32);
            ok &= lane_ok;
            listed += n;
        }
        let on_lists = (0..slots)
            .filter(|&s| {
                g.slots
                    .data_ref(Slot(s))
                    .obj_ref()
                    .is_some_and(|o| o.on_fired)
            })
            .count();
        ok &= listed as usize == on_lists && g.overlapping_runs == 0;
        // Each timer queue, in expiry order: only armed slots of its clock, as many as armed,
        // its rightmost head known, and its hrtimer started no later than the earliest.
        for clock in CLOCKS {
            let c = clock as usize;
            let base = &g.bases[c];
            let mut n = 0u32;
            let mut last = i64::MIN;
            let visit = |e: &super::slots::Entry<X::Job>| {
                n += 1;
                let d = g.slots.data_ref(e.slot());
                ok &= d.sched == Sched::Armed && d.clock == clock && e.expires() >= last;
                last = e.expires();
            };
            // SAFETY: the engine lock is held (`self.g`).
            let last_head = unsafe { base.queue.for_each(visit) };
            ok &= n == armed[c] && base.queue.last() == last_head;
            if let (Some((_, min)), false) = (base.first(), g.dying) {
                ok &= base.armed.is_some_and(|a| a <= min);
            }
        }
        Check {
            ok,
            // Timers and records: not the messages in reserve.
            live: live - spare,
            queued: q,
            free: n,
            slots: u64::from(slots),
        }
    }
}
