// SPDX-License-Identifier: GPL-2.0

//! The executor: thread-context jobs of fired objects ([`Delivery::Executor`]).
//!
//! An expiry of such an object only moves it to [`Sched::Fired`] and appends it to the fired
//! list of its CPU ([`Object::cpu`], chosen by its owner); that CPU's lane (`lane.rs`), a work
//! item on the high-priority system workqueue (the analogue of DragonFly's per-CPU softclock
//! threads), pops them one at a time and hands each to the engine's [`Executor`], which runs
//! the owner's job. What the job does, and what it re-checks before running, is the owner's
//! (see `callout`).
//!
//! Lanes of different CPUs run in parallel; one object's job never runs on two at once. A job
//! runs between the owner's [`Locked::begin_run`] and [`Locked::end_run`]; an object that
//! fires again meanwhile, on whatever CPU, waits (`deferred`) and is handed to its lane by
//! `end_run`: exactly one more run, after the current one. An object whose CPU changed while it waited on a lane moves to its new CPU's lane when
//! popped. Per lane, jobs run in the order their objects fired.
//!
//! [`Delivery::Executor`]: super::Delivery::Executor
//! [`Object::cpu`]: super::Object::cpu

use super::slots::{Slot, Slots, NIL};
use super::{Backend, Engine, Executor, Locked, Sched};

/// The schedule a fired object's job was fired for ([`Locked::fired`]).
#[derive(Clone, Copy)]
pub(crate) struct FiredRun {
    /// The object.
    pub(crate) id: u64,
    /// The generation of its schedule then.
    gen: u32,
    /// The cookie of that arming, for the run's record.
    pub(crate) cookie: u64,
}

/// The fired list: objects waiting for the executor, linked through their `fired_next`.
///
/// Protected by the engine lock.
pub(super) struct Fired {
    head: u32,
    tail: u32,
}

impl Fired {
    pub(super) fn new() -> Self {
        Self {
            head: NIL,
            tail: NIL,
        }
    }

    /// Forgets every entry (teardown: the objects are freed with the table).
    pub(super) fn clear(&mut self) {
        (self.head, self.tail) = (NIL, NIL);
    }

    /// Appends object `slot` unless it is listed; returns whether it was appended.
    #[inline]
    fn push<J>(&mut self, slots: &mut Slots<J>, slot: Slot) -> bool {
        let tail = self.tail;
        let Some(o) = slots.data(slot).obj() else {
            return false;
        };
        if o.on_fired {
            return false;
        }
        o.on_fired = true;
        o.fired_next = NIL;
        if tail == NIL {
            self.head = slot.0;
        } else if let Some(t) = slots.data(Slot(tail)).obj() {
            t.fired_next = slot.0;
        }
        self.tail = slot.0;
        true
    }

    fn pop<J>(&mut self, slots: &mut Slots<J>) -> Option<Slot> {
        if self.head == NIL {
            return None;
        }
        let slot = Slot(self.head);
        // Every slot on the list is an object: `Locked::free` unlinks one before dropping
        // its state.
        let next = slots.data(slot).obj().map_or(NIL, |o| {
            o.on_fired = false;
            o.fired_next
        });
        self.head = next;
        if next == NIL {
            self.tail = NIL;
        }
        Some(slot)
    }

    /// Walks the list of lane `lane` (for `check.rs`): its length, and whether every member is
    /// a live object listed on this lane, with no cycle. (A member may have been stopped or
    /// re-armed since it fired: its job then finds the schedule gone.)
    pub(super) fn check<J>(&self, slots: &Slots<J>, lane: u32) -> (u32, bool) {
        let (mut n, mut ok) = (0u32, true);
        let mut cur = self.head;
        let mut last = NIL;
        while cur != NIL && n <= slots.capacity() {
            let d = slots.data_ref(Slot(cur));
            ok &= d.id != 0;
            let next = d.obj_ref().map_or(NIL, |o| {
                ok &= o.on_fired && o.fired_lane == lane;
                o.fired_next
            });
            ok &= d.obj_ref().is_some();
            n += 1;
            last = cur;
            cur = next;
        }
        ok &= cur == NIL && last == self.tail;
        (n, ok)
    }

    /// Takes `slot` off the list (a walk: only when a fired object is destroyed).
    pub(super) fn remove<J>(&mut self, slots: &mut Slots<J>, slot: Slot) {
        let next_of =
            |slots: &mut Slots<J>, n: u32| slots.data(Slot(n)).obj().map_or(NIL, |o| o.fired_next);
        let mut prev = NIL;
        let mut cur = self.head;
        while cur != NIL && cur != slot.0 {
            prev = cur;
            cur = next_of(slots, cur);
        }
        let next = next_of(slots, slot.0);
        if let Some(o) = slots.data(slot).obj() {
            o.on_fired = false;
            o.fired_next = NIL;
        }
        if cur == NIL {
            return;
        }
        if prev == NIL {
            self.head = next;
        } else if let Some(p) = slots.data(Slot(prev)).obj() {
            p.fired_next = next;
        }
        if self.tail == slot.0 {
            self.tail = prev;
        }
    }
}

impl<B: Backend, X: Executor> Locked<'_, B, X> {
    /// Hands fired object `slot` to the executor and kicks it.
    #[inline]
    pub(super) fn push_fired(&mut self, slot: Slot) {
        let g = &mut *self.g;
        let d = g.slots.data(slot);
        d.sched = Sched::Fired;
        let Some(o) = d.obj() else {
            return;
        };
        if o.running {
            // Its job runs now (maybe on another CPU): `end_run` hands it on.
            o.deferred = true;
            return;
        }
        self.queue_fired(slot);
    }

    /// Appends fired object `slot` to its CPU's list and kicks that lane.
    #[inline]
    fn queue_fired(&mut self, slot: Slot) {
        let g = &mut *self.g;
        let lanes = g.fired.len() as u32;
        let Some(o) = g.slots.data(slot).obj() else {
            return;
        };
        let virtual_time = self.engine.backend.is_virtual();
        let cpu = lane_of(o, lanes, virtual_time);
        if o.on_fired {
            return;
        }
        o.fired_lane = cpu;
        // On virtual time the advance runs the list itself (`timebase.rs`).
        if g.fired[cpu as usize].push(&mut g.slots, slot) && !virtual_time {
            self.engine.lanes.kick(self.engine, cpu);
        }
    }

    /// The owner's job for object `slot` has returned (it was marked running by
    /// [`Locked::begin_run`]): the object is no longer running, and if it fired again
    /// meanwhile, it goes to its lane now.
    pub(crate) fn end_run(&mut self, slot: Slot) {
        let d = self.g.slots.data(slot);
        let refire = d.sched == Sched::Fired;
        let Some(o) = d.obj() else {
            return;
        };
        o.running = false;
        o.running_task = 0;
        if core::mem::take(&mut o.deferred) && refire {
            self.queue_fired(slot);
        }
    }

    /// The schedule object `slot` was fired for, if it is waiting for its job, and the
    /// object's state (one slot lookup).
    #[inline]
    pub(crate) fn fired(&mut self, slot: Slot) -> Option<(FiredRun, &mut super::Object<X::Job>)> {
        let d = self.g.slots.data(slot);
        if d.sched != Sched::Fired {
            return None;
        }
        let (id, cookie) = (d.id, d.cookie);
        let o = d.obj()?;
        Some((
            FiredRun {
                id,
                gen: o.gen,
                cookie,
            },
            o,
        ))
    }

    /// Claims the fired schedule `run` of object `slot` for its job: true, and the object is
    /// idle again, if that schedule is still current (no cancel or arm since).
    #[inline]
    pub(crate) fn claim_fired(&mut self, slot: Slot, run: &FiredRun) -> bool {
        let d = self.g.slots.data(slot);
        let current = d.id == run.id
            && d.sched == Sched::Fired
            && d.obj_ref().is_some_and(|o| o.gen == run.gen);
        if current {
            d.sched = Sched::Idle;
        }
        current
    }

    /// Marks object `slot`'s job as running in task `task` (an address, only compared), until
    /// [`Locked::end_run`]: its next expiry waits for that.
    #[inline]
    pub(crate) fn begin_run(&mut self, slot: Slot, task: usize) {
        let g = &mut *self.g;
        if let Some(o) = g.slots.data(slot).obj() {
            // Never true: a fire while running is deferred (`check.rs` reports a violation).
            if o.running {
                g.overlapping_runs = g.overlapping_runs.saturating_add(1);
            }
            o.running = true;
            o.running_task = task;
        }
    }
}

/// The lane that runs object `o`'s job: its CPU's, or lane 0 for a CPU id that is not
/// possible or on virtual time (one list, in firing order). The one choice both queueing and a
/// lane's move check make, so an object is never sent back and forth.
#[inline]
fn lane_of<J>(o: &super::Object<J>, lanes: u32, virtual_time: bool) -> u32 {
    if o.cpu < lanes && !virtual_time {
        o.cpu
    } else {
        0
    }
}

impl<B: Backend, X: Executor> Engine<B, X> {
    /// Lane `cpu`'s run: the jobs on its list, one at a time.
    pub(super) fn run_lane(&self, cpu: u32) {
        self.continue_passes();
        loop {
            let mut l = self.lock();
            let g = &mut *l.g;
            let Some(list) = g.fired.get_mut(cpu as usize) else {
                return;
            };
            let Some(slot) = list.pop(&mut g.slots) else {
                return;
            };
            // Moved to another CPU while it waited: its job runs there.
            let lanes = g.fired.len() as u32;
            let virtual_time = self.backend.is_virtual();
            if g.slots
                .data(slot)
                .obj()
                .is_some_and(|o| lane_of(o, lanes, virtual_time) != cpu)
            {
                l.queue_fired(slot);
                continue;
            }
            X::run(l, slot);
        }
    }

    /// Waits until the executor has run everything queued so far.
    pub(crate) fn flush_executor(&self) {
        self.lanes.flush();
    }
}
