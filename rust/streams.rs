// SPDX-License-Identifier: GPL-2.0

//! SVR4/STREAMS `timeout(9)` / `untimeout(9)` on the engine, and their ioctls.
//!
//! Two flavours share one implementation:
//! - in-kernel ([`timeout_on`], [`untimeout_on`], published by `kernel_api` to Rust and by
//!   `c_api` to C drivers): a [`Call`] made in soft-irq context by an engine that expires there;
//!   callable from any context (no sleeping allocation, no waiting in hard irq or from the
//!   callback itself);
//! - from userspace (`HRC_IOC_TIMEOUT`, `HRC_IOC_BATCH`): the expiry queues an
//!   `HRC_EV_TIMEOUT` record on the file that armed it.
//!
//! `untimeout` returns the time that was left, or `ENOENT` (`-1` in the C API) when the id is
//! unknown, has fired, was cancelled, belongs to another file, or is the running callback's own
//! (illumos semantics, chosen over OpenSS7's "undefined", see `docs/semantics.md`).

use crate::engine::{Arming, Backend, Call, Engine, Executor, When};
use crate::ticks::{ns_to_ticks_ceil, ticks_or_ns};
use crate::uapi::{self, UapiArg};
use crate::{engine::Clock, mtcp};
use core::mem::size_of;
use kernel::{
    prelude::*,
    transmute::AsBytes,
    uaccess::{UserPtr, UserSlice},
};

/// The tag of userspace timeouts: their records' kind.
pub(crate) const TAG: u8 = uapi::HRC_EV_TIMEOUT as u8;
/// Who armed an in-kernel timeout: its slot's tag (never in a record). `untimeout` of one kind
/// does not find the other's ids, so each owner knows what its ids' arguments are.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// The C API: the argument is the driver's, not ours.
    Foreign,
    /// The typed Rust API: the argument is a reference it took, which `untimeout` hands back.
    Typed,
}

impl Owner {
    fn tag(self) -> u8 {
        match self {
            Self::Foreign => 0x80 | TAG,
            Self::Typed => 0xc0 | TAG,
        }
    }
}

/// `timeout()` on any soft-irq engine: makes `call` in soft-irq context after `ticks`, never
/// while the caller holds `arming` (an `Engine::arming` of `engine`).
pub(crate) fn timeout_on<B: Backend, X: Executor>(
    engine: &Engine<B, X>,
    arming: &Arming<'_>,
    owner: Owner,
    call: Call,
    ticks: i64,
) -> Result<u64> {
    let when = When::After(crate::ticks::hztons(ticks));
    engine.call_once(arming, owner.tag(), call, when, GFP_ATOMIC)
}

/// `untimeout()` on any engine: the ns that were left, and the cancelled call (whose argument
/// its owner may take back). Waits for a callback running on another CPU; returns `ENOENT` at
/// once from the callback itself (same CPU).
pub(crate) fn untimeout_on<B: Backend, X: Executor>(
    engine: &Engine<B, X>,
    owner: Owner,
    id: u64,
) -> Result<(i64, Call)> {
    {
        let mut l = engine.lock();
        let slot = l.lookup_tag(id, owner.tag())?;
        let s = l.slot(slot);
        match (s.call(), s.call_cpu()) {
            (Some(call), None) => return l.cancel_once(slot).map(|ns| (ns, call)),
            (None, _) => return Err(ENOENT),
            // The callback itself (or an interrupt on top of it): waiting would deadlock.
            (_, Some(cpu)) if cpu == kernel::cpu::CpuId::current().as_u32() => return Err(ENOENT),
            _ => {}
        }
    }
    // Running on another CPU: soft-irq callbacks are short, so spin like hrtimer_cancel does.
    while engine.lock().lookup(id).is_ok() {
        core::hint::spin_loop();
    }
    Err(ENOENT)
}

/// A userspace timeout: a one-shot timer that queues an `HRC_EV_TIMEOUT` record.
pub(crate) fn timeout_event<B: Backend, X: Executor>(
    engine: &Engine<B, X>,
    delay_ns: i64,
    cookie: u64,
) -> Result<u64> {
    engine.record_once(TAG, cookie, When::After(delay_ns), GFP_KERNEL_ACCOUNT)
}

/// A [`timeout_event`] for each `(delay_ns, cookie)` of `reqs`, its id written to the same
/// index of `ids`, with one lock hold and one clock read per few timers: the delays of those
/// count from that read, made after the call began, so none is early. Stops at the first
/// failure: returns how many were armed, and the failure.
pub(crate) fn timeout_events<B: Backend, X: Executor>(
    engine: &Engine<B, X>,
    reqs: &[(i64, u64)],
    ids: &mut [u64],
) -> (usize, Result) {
    let n = reqs.len().min(ids.len());
    engine.batch(n, GFP_KERNEL_ACCOUNT, |l, i, now| {
        let (delay_ns, cookie) = reqs[i];
        let expiry = now.saturating_add(delay_ns.max(0));
        ids[i] = l.alloc_record(TAG, Clock::Monotonic, cookie, expiry)?;
        Ok(())
    })
}

/// A userspace untimeout: the ns that were left, or `ENOENT` if it fired or is unknown here.
/// Also cancels mTCP `settimer` registrations (mTCP has no cancel of its own).
pub(crate) fn untimeout_event<B: Backend, X: Executor>(
    engine: &Engine<B, X>,
    id: u64,
) -> Result<i64> {
    let mut l = engine.lock();
    let slot = l.lookup_where(id, |tag| matches!(tag, TAG | mtcp::TAG))?;
    l.cancel_once(slot)
}

/// `HRC_IOC_TIMEOUT`.
pub(crate) fn ioctl_timeout<B: Backend, X: Executor>(
    e: &Engine<B, X>,
    t: &mut uapi::hrc_timeout,
) -> Result<isize> {
    let ns = ticks_or_ns(t.time, t.flags, uapi::HRC_TIMEOUT_NS)?;
    t.id = timeout_event(e, ns, t.cookie)?;
    Ok(0)
}

/// Takes back userspace one-shot `id` (a timeout or settimer registration) whose id its caller
/// could not learn: cancelled, or its unread record dropped.
pub(crate) fn discard_event<B: Backend, X: Executor>(engine: &Engine<B, X>, id: u64) {
    let mut l = engine.lock();
    if let Ok(slot) = l.lookup_where(id, |tag| matches!(tag, TAG | mtcp::TAG)) {
        l.discard_once(slot);
    }
}

/// Undoes an `HRC_IOC_TIMEOUT` whose id could not be copied out.
pub(crate) fn undo_timeout<B: Backend, X: Executor>(e: &Engine<B, X>, t: &uapi::hrc_timeout) {
    discard_event(e, t.id);
}

/// `HRC_IOC_UNTIMEOUT`.
pub(crate) fn ioctl_untimeout<B: Backend, X: Executor>(
    e: &Engine<B, X>,
    u: &mut uapi::hrc_untimeout,
) -> Result<isize> {
    let ns = untimeout_event(e, u.id)?;
    u.remaining_ns = ns;
    u.remaining_ticks = ns_to_ticks_ceil(ns);
    Ok(0)
}

/// The most entries one `HRC_IOC_BATCH` takes.
const BATCH_MAX: u32 = 65536;

/// `HRC_IOC_BATCH`: arms `count` timeouts read from `ops`, writing their ids back. `done` is
/// how many succeeded; the call fails only if the first one did.
pub(crate) fn ioctl_batch<B: Backend, X: Executor>(
    e: &Engine<B, X>,
    b: &mut uapi::hrc_batch,
) -> Result<isize> {
    b.done = batch(e, b.ops, b.count)?;
    Ok(0)
}

/// Undoes an `HRC_IOC_BATCH` whose `done` could not be copied out: the ids it wrote back are
/// read again from the caller's array, and those timers discarded.
pub(crate) fn undo_batch<B: Backend, X: Executor>(e: &Engine<B, X>, b: &uapi::hrc_batch) {
    let Ok(base) = usize::try_from(b.ops) else {
        return;
    };
    let len = b.done as usize * ONE;
    let mut reader = UserSlice::new(UserPtr::from_addr(base), len).reader();
    for _ in 0..b.done {
        match reader.read::<uapi::hrc_timeout>() {
            Ok(t) => discard_event(e, t.id),
            Err(_) => return,
        }
    }
}

fn batch<B: Backend, X: Executor>(e: &Engine<B, X>, ops: u64, count: u32) -> Result<u32> {
    const CHUNK: usize = 64;
    if count > BATCH_MAX {
        return Err(EINVAL);
    }
    let base = usize::try_from(ops).map_err(|_| EFAULT)?;
    let mut done = 0u32;
    // One copy in and one copy out per `CHUNK` entries, not one per entry (2 KiB: boxed).
    let mut buf = KBox::new([uapi::hrc_timeout::default(); CHUNK], GFP_KERNEL)?;
    let mut reqs = [(0i64, 0u64); CHUNK];
    let mut ids = [0u64; CHUNK];
    while (done as usize) < count as usize {
        let n = (count as usize - done as usize).min(CHUNK);
        let at = entry_addr(base, done as usize)?;
        // A fault inside the chunk: the entries before it still count, read one at a time.
        let (n, fault) = match UserSlice::new(UserPtr::from_addr(at), n * ONE)
            .reader()
            .read_slice(&mut buf.as_bytes_mut()[..n * ONE])
        {
            Ok(()) => (n, None),
            Err(x) => (read_each(at, &mut buf[..n]), Some(x)),
        };
        // Validate first: the valid prefix is armed, the first invalid entry ends the batch.
        let mut valid = 0;
        let mut err = None;
        for t in buf[..n].iter() {
            let r = t
                .check()
                .and_then(|()| ticks_or_ns(t.time, t.flags, uapi::HRC_TIMEOUT_NS));
            match r {
                Ok(ns) => {
                    reqs[valid] = (ns, t.cookie);
                    valid += 1;
                }
                Err(x) => {
                    err = Some(x);
                    break;
                }
            }
        }
        if err.is_none() {
            err = fault;
        }
        let (armed, r) = timeout_events(e, &reqs[..valid], &mut ids);
        if let Err(x) = r {
            err = Some(x);
        }
        for (t, id) in buf.iter_mut().zip(ids.iter()).take(armed) {
            t.id = *id;
        }
        let written = UserSlice::new(UserPtr::from_addr(at), armed * ONE)
            .writer()
            .write_slice(&buf.as_bytes()[..armed * ONE]);
        if let Err(x) = written {
            // Ids that cannot be written back: those timers must not exist.
            for id in &ids[..armed] {
                discard_event(e, *id);
            }
            return if done == 0 { Err(x) } else { Ok(done) };
        }
        done += armed as u32;
        if let Some(x) = err {
            return if done == 0 { Err(x) } else { Ok(done) };
        }
    }
    Ok(done)
}

/// The size of one batch entry.
const ONE: usize = size_of::<uapi::hrc_timeout>();

/// The user address of entry `i` of a batch at `base` (`EFAULT` past the address space).
fn entry_addr(base: usize, i: usize) -> Result<usize> {
    i.checked_mul(ONE)
        .and_then(|off| base.checked_add(off))
        .ok_or(EFAULT)
}

/// Reads the entries of `out` from `at` one at a time: how many could be read before a fault.
#[cold]
fn read_each(at: usize, out: &mut [uapi::hrc_timeout]) -> usize {
    for (i, t) in out.iter_mut().enumerate() {
        let Ok(addr) = entry_addr(at, i) else {
            return i;
        };
        match UserSlice::new(UserPtr::from_addr(addr), ONE)
            .reader()
            .read()
        {
            Ok(v) => *t = v,
            Err(_) => return i,
        }
    }
    out.len()
}
