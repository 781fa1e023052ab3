// SPDX-License-Identifier: GPL-2.0

//! The expiry pass, and the arithmetic of periodic re-arming.
//!
//! A clock's hrtimer runs one pass: it reads the clock once and handles every armed slot due by
//! that reading, earliest first, then starts the hrtimer for the earliest left. What comes due
//! while the pass runs is left to the next one (the hrtimer is started for it, already due):
//! reading the clock again would never end a pass whose periodic timers come due faster than it
//! handles them. Timers due at one instant share one queue node, so a burst costs one hrtimer
//! expiry and one tree removal.
//!
//! A pass in hard irq is bounded ([`HARD_PASS_EXPIRIES`]): a burst beyond that is handed to
//! an executor lane, whose passes run in thread context ([`Engine::continue_passes`]), so that
//! no user holds a CPU in hard irq for long whatever the number of timers due.
//!
//! Each expiry is delivered as its slot's body says: a one-shot queues its record, an inline
//! one-shot's callback is called with the lock dropped, an object is re-armed if periodic and
//! delivered as its [`Delivery`] says.

use super::hrtimer::Clock;
use super::slots::{Body, Delivery, Slot};
use super::Call;
use super::{Backend, Engine, Executor, Locked, Sched};
use kernel::{interrupt::LocalInterruptDisabled, prelude::*, sync::atomic::ordering::Relaxed};

/// Expiries one pass handles per lock hold; between holds other CPUs get the lock.
const EXPIRE_HOLD: u32 = 64;

/// Where a periodic timer due at `expiry` stands when a pass at `now` (not before `expiry`)
/// handles it: drift-free, period k is due at `start + k * interval`, and the periods that
/// came due meanwhile become overruns of one expiry standing for the latest of them, never a
/// burst of late events.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct CatchUp {
    /// The latest period due by `now`, which this expiry stands for.
    pub(crate) latest: i64,
    /// The earlier periods it skipped.
    pub(crate) missed: u64,
    /// The next expiry, after `now` (so this pass does not see it again).
    pub(crate) next: i64,
}

/// [`CatchUp`] of a timer due at `expiry` with period `interval` (> 0), handled at `now`.
/// Saturates: a timer whose next period is past the end of time stays at `i64::MAX`.
#[inline]
pub(crate) fn catch_up(expiry: i64, now: i64, interval: i64) -> CatchUp {
    let behind = (now.saturating_sub(expiry) / interval) as u64;
    let latest =
        expiry.saturating_add(interval.saturating_mul(i64::try_from(behind).unwrap_or(i64::MAX)));
    CatchUp {
        latest,
        missed: behind,
        next: latest.saturating_add(interval),
    }
}

/// How long a pass that found an `Arming` held on its CPU leaves the inline calls due: long
/// enough for the interrupted call to return, short next to a tick.
const ARMING_DEFER_NS: i64 = 250_000;

/// How long after it was armed the latest inline call of a CPU is spared by passes that run
/// on top of the task that armed it: covers the caller's store of the id after the call, even
/// when the CPU stalls there (a virtual CPU descheduled by its host), and bounds how long a
/// task that keeps running can hold its own callback back.
const SPARE_NS: i64 = 4_000_000;

/// What an expiry asks of the pass once the lock is dropped: an inline one-shot's call, and
/// its id.
type InlineCall = (Call, u64);

/// How many expiries a hard-irq pass handles at most before it hands the rest on. Measured
/// under `-icount shift=0` (one instruction a ns), the costliest kind of expiry (a record that
/// wakes a reader, a callout handed to a lane) stays under 50 µs for this many, with room for
/// the hrtimer interrupt around it (`make bench`, P14).
pub(crate) const HARD_PASS_EXPIRIES: u32 = 64;

/// How many expiries a lane's run of a handed-on pass handles before it queues itself again, so
/// that the workqueue can reschedule between runs. Each lock hold is `EXPIRE_HOLD` of them.
const THREAD_PASS_EXPIRIES: u32 = 1024;

/// The longest hard- or soft-irq pass an engine has run: how long it took by the clock it
/// expired (instructions, under icount) and how many expiries it handled. Passes of one expiry
/// are not timed, so that the common pass reads the clock once.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct PassCost {
    pub(crate) ns: i64,
    pub(crate) expiries: u32,
}

/// Who runs a pass.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Runner {
    /// The clock's hrtimer: bounded to [`HARD_PASS_EXPIRIES`] in hard irq.
    Hrtimer,
    /// A lane, continuing a pass that was handed on (thread context).
    Lane,
}

impl<B: Backend, X: Executor> Engine<B, X> {
    /// The expiry pass of `clock`, run by its hrtimer; `irq_off` when it runs with interrupts
    /// disabled (hard irq).
    pub(super) fn expire(&self, clock: Clock, irq_off: Option<&LocalInterruptDisabled>) {
        self.pass(clock, irq_off, Runner::Hrtimer);
    }

    /// Runs the passes that hard-irq passes handed on ([`Engine::handed_on`]), from a lane.
    pub(super) fn continue_passes(&self) {
        if self.handed_on.load(Relaxed) == 0 {
            return;
        }
        for clock in super::clock_base::CLOCKS {
            if self.handed_on.load(Relaxed) & (1 << clock as u32) != 0 {
                self.pass(clock, None, Runner::Lane);
            }
        }
    }

    /// One pass of `clock` (see the module doc). A pass in hard irq handles at most
    /// [`HARD_PASS_EXPIRIES`] expiries; if more are due it hands the rest to the lane of its CPU
    /// and leaves the hrtimer stopped (`armed` is `i64::MIN`, so no arming starts it) until
    /// the lane's pass, which reads the clock again, has handled all that is due. So no one
    /// holds a CPU in hard irq for longer than that many expiries, whatever is due; order is
    /// kept, since every pass takes the earliest first.
    fn pass(&self, clock: Clock, irq_off: Option<&LocalInterruptDisabled>, runner: Runner) {
        let c = clock as usize;
        let bit = 1 << c as u32;
        let mut l = self.lock_in(irq_off);
        if l.g.dying {
            return;
        }
        let virtual_time = self.backend.is_virtual();
        if runner == Runner::Lane {
            if self.handed_on.load(Relaxed) & bit == 0 {
                return;
            }
            // Every writer holds the engine lock: a plain store is enough. `armed` stays
            // `i64::MIN` until this pass ends (so no kick starts the hrtimer meanwhile, and
            // `check` sees a started-or-running state even while the lock is dropped).
            self.handed_on
                .store(self.handed_on.load(Relaxed) & !bit, Relaxed);
        } else if self.handed_on.load(Relaxed) & bit != 0 {
            // Started before the pass that handed on (a kick racing it): the lane has it.
            return;
        }
        let budget = match runner {
            Runner::Hrtimer if irq_off.is_some() && !virtual_time => HARD_PASS_EXPIRIES,
            Runner::Hrtimer => u32::MAX,
            Runner::Lane => THREAD_PASS_EXPIRIES,
        };
        let now = self.backend.now(clock);
        let mut held = 0;
        let mut handled = 0u32;
        let mut defer = false;
        while let Some((slot, expiry)) = l.g.bases[c].first() {
            if expiry > now {
                break;
            }
            let d = l.g.slots.data_ref(slot);
            let (latest, task, armed) = l.g.latest_call;
            if d.is_call()
                && (self.arming.load(Relaxed) != 0
                    || (latest == d.id
                        && now.saturating_sub(armed) < SPARE_NS
                        && task == super::cpu::current_task()
                        && !virtual_time))
            {
                // A caller holding an `Arming` on this CPU has not returned yet (this pass
                // interrupted it, or it was preempted), or this is the latest call armed here,
                // just now, and the pass runs on top of the task that armed it, which may not
                // have stored the id yet: the callback must not run inside that call, nor
                // before the store. What is due from here on waits for a later pass; the
                // latest call is spared for `SPARE_NS` at most, so a task that keeps running
                // cannot starve it. (On virtual time a pass runs only in an advance, which no
                // arming call of its task can be inside: the arming task has returned.)
                defer = true;
                break;
            }
            if handled == budget {
                // Out of budget with more due: the rest is a lane's, on this CPU.
                self.handed_on
                    .store(self.handed_on.load(Relaxed) | bit, Relaxed);
                l.g.bases[c].armed = Some(i64::MIN);
                self.lanes
                    .kick(self, kernel::cpu::CpuId::current().as_u32());
                if runner == Runner::Hrtimer {
                    l.note_pass(clock, now, handled);
                }
                return;
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
            handled += 1;
            l.dequeue(c, slot);
            if let Some((call, id)) = l.fire(slot, expiry, now) {
                drop(l);
                // SAFETY: the one expiry of the inline one-shot holding `call`, which `fire`
                // has just marked fired.
                unsafe { call.call() };
                l = self.lock_in(irq_off);
                // A cancel of a running callback spins on the id, so freeing is the signal;
                // nothing else frees a running inline one-shot.
                if l.g.slots.data_ref(slot).id == id {
                    l.free(slot);
                }
                if l.g.dying {
                    return;
                }
            }
        }
        if runner == Runner::Hrtimer && handled > 1 && !virtual_time {
            l.note_pass(clock, now, handled);
        }
        // The hrtimer has fired (or someone started it again meanwhile; starting it once more
        // is harmless): start it for the earliest left, or, deferring, a little later.
        l.g.bases[c].armed = None;
        if defer {
            l.kick_at(clock, now.saturating_add(ARMING_DEFER_NS));
        } else {
            l.kick(clock);
        }
    }
}

impl<B: Backend, X: Executor> Locked<'_, B, X> {
    /// Keeps [`Inner::longest_pass`] for a pass of `clock` that began at `start` and handled
    /// `expiries`. Out of line: only passes of more than one expiry get here.
    ///
    /// [`Inner::longest_pass`]: super::Inner::longest_pass
    #[inline(never)]
    fn note_pass(&mut self, clock: Clock, start: i64, expiries: u32) {
        let ns = self.engine.backend.now(clock).saturating_sub(start);
        let p = &mut self.g.longest_pass;
        if (ns, expiries) > (p.ns, p.expiries) {
            *p = PassCost { ns, expiries };
        }
    }

    /// [`Locked::arm_on`] object `slot`, except that an `expiry` already due on `clock` is
    /// delivered now, in this lock hold, as a pass would deliver it (Mach queues the message
    /// of an expiry at or before now before `timer_arm` returns; QNX delivers a past
    /// `TIMER_ABSTIME` "immediately"). A periodic object continues on its grid.
    pub(crate) fn arm_or_expire(
        &mut self,
        slot: Slot,
        clock: Clock,
        expiry: i64,
        interval: i64,
    ) -> Result {
        let now = self.engine.backend.now(clock);
        if expiry > now || self.g.slots.data_ref(slot).one_shot() {
            return self.arm_on(slot, clock, expiry, interval);
        }
        if self.g.dying {
            return Err(ENODEV);
        }
        let g = &mut *self.g;
        super::reschedule(&mut g.slots, &mut g.bases, slot, Some(clock), interval);
        // An object's expiry returns no inline call.
        let _ = self.fire(slot, expiry, now);
        // A periodic object queued its next expiry; it may be the earliest.
        self.kick(clock);
        Ok(())
    }

    /// Handles the expiry of `slot`, just taken off its queue (or never queued, see
    /// [`Locked::arm_or_expire`]), due at `expiry` and handled at `now`: queues its record,
    /// re-arms a periodic object, hands an executor object to the executor, or returns an
    /// inline callback for the pass to call with the lock dropped.
    #[inline(always)]
    fn fire(&mut self, slot: Slot, expiry: i64, now: i64) -> Option<InlineCall> {
        let d = self.g.slots.data(slot);
        let (id, cookie, c) = (d.id, d.cookie, d.clock as usize);
        let mut again = None;
        let mut missed = 0u64;
        let delivery = match &mut d.body {
            Body::Once { fire } => {
                // A one-shot fires once: its record is never queued yet, no overrun to count.
                *fire = now;
                d.sched = Sched::Idle;
                self.enqueue_record(slot);
                return None;
            }
            Body::Call { func, cpu } => {
                *cpu = kernel::cpu::CpuId::current().as_u32();
                d.sched = Sched::Idle;
                // SAFETY: the function and cookie of an inline one-shot are the parts of the
                // call `alloc_once` stored in this slot, which still holds it.
                return Some((unsafe { Call::from_parts(*func, cookie) }, id));
            }
            Body::Object(o) => {
                o.expired = true;
                if o.interval > 0 {
                    let p = catch_up(expiry, now, o.interval);
                    missed = p.missed;
                    o.fired = (p.latest, now);
                    again = Some(p.next);
                } else {
                    o.fired = (expiry, now);
                    d.sched = Sched::Idle;
                }
                if o.action.as_ref().is_some_and(|a| !a.expired(1 + missed)) {
                    // Its target is gone: the object stops here.
                    target_gone(o);
                    again = None;
                    d.sched = Sched::Idle;
                }
                o.delivery
            }
            // A message is never armed.
            Body::Message(_) => return None,
        };
        if let Some(next) = again {
            // Still armed: back in the queue (it cannot be the earliest: the pass starts the
            // hrtimer for the earliest when it ends).
            self.enqueue(c, slot, next);
        }
        if delivery == Delivery::Executor {
            self.push_fired(slot);
        } else {
            self.deliver(slot, cookie, missed);
        }
        None
    }
}

/// An object whose [`super::ExpiryAction`] found its target gone stops: not periodic, no
/// action. Out of line, so that dropping the action stays out of the pass.
#[cold]
#[inline(never)]
fn target_gone<J>(o: &mut super::Object<J>) {
    o.action = None;
    o.interval = 0;
}
