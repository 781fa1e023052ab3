// SPDX-License-Identifier: GPL-2.0

//! What an engine holds, counted for a reader who is not its owner (`/proc/<pid>/fdinfo`,
//! `device/fdinfo.rs`): live and armed slots by owner tag, queued records, the queue limit,
//! each clock's earliest expiry, the clock itself and the longest expiry pass.
//!
//! The walk takes the engine lock for [`CHUNK`] slots at a time, so a reader of a file with a
//! million timers holds off its expiries for a few microseconds at a time, never for the whole
//! walk; the counts are then each chunk's at the time it was counted, not one instant's.

use super::clock_base::{CLOCKS, CLOCK_COUNT};
use super::hrtimer::Clock;
use super::slots::{Sched, Slot};
use super::{Backend, Engine, Executor};

/// Slots counted per hold of the engine lock.
const CHUNK: u32 = 4096;

/// Owner tags counted apart (tags are small: the record kinds).
pub(crate) const TAGS: usize = 8;

/// What [`Engine::census`] counted.
#[derive(Default)]
pub(crate) struct Census {
    /// Live slots (timers and unread one-shot records), by owner tag.
    pub(crate) live: [u32; TAGS],
    /// Of those, the ones armed.
    pub(crate) armed: [u32; TAGS],
    /// Records queued for `read`.
    pub(crate) queued: u32,
    /// The queue limit of queue-limit objects (Mach messages, QNX pulses).
    pub(crate) qlimit: u32,
    /// The earliest armed expiry of each clock, by `Clock as usize`.
    pub(crate) next: [Option<i64>; CLOCK_COUNT],
    /// Now on each clock, and whether time is virtual.
    pub(crate) now: [i64; CLOCK_COUNT],
    pub(crate) virtual_time: bool,
    /// Slots the table has.
    pub(crate) slots: u32,
    /// The longest pass its hrtimers have run.
    pub(crate) longest_pass: super::PassCost,
}

impl<B: Backend, X: Executor> Engine<B, X> {
    /// Counts what the engine holds (see the module documentation).
    pub(crate) fn census(&self) -> Census {
        let mut c = Census::default();
        let mut from = 0u32;
        loop {
            let l = self.lock();
            let g = &*l.g;
            if from == 0 {
                c.queued = g.events.len();
                c.qlimit = l.qlimit();
                for clock in CLOCKS {
                    c.next[clock as usize] = g.bases[clock as usize].first().map(|f| f.1);
                    c.now[clock as usize] = self.backend.now(clock);
                }
                c.virtual_time = self.backend.is_virtual();
                c.longest_pass = g.longest_pass;
            }
            c.slots = g.slots.capacity();
            let to = c.slots.min(from.saturating_add(CHUNK));
            for s in from..to {
                let d = g.slots.data_ref(Slot(s));
                if d.id == 0 || d.is_message() {
                    continue;
                }
                let tag = usize::from(d.tag).min(TAGS - 1);
                c.live[tag] += 1;
                c.armed[tag] += u32::from(d.sched == Sched::Armed);
            }
            drop(l);
            if to >= c.slots {
                return c;
            }
            from = to;
        }
    }
}

impl Census {
    /// The earliest armed expiry on `clock`.
    pub(crate) fn next(&self, clock: Clock) -> Option<i64> {
        self.next[clock as usize]
    }

    /// Now on `clock`.
    pub(crate) fn now(&self, clock: Clock) -> i64 {
        self.now[clock as usize]
    }
}
