// SPDX-License-Identifier: GPL-2.0

//! Taking slots: new objects, one-shots, batches, and growing the table.
//!
//! Every path takes its slot and sets it up in one lock hold (and, for one-shots, one slot
//! lookup): a slot is never visible half made. When no slot is free the table grows by one
//! chunk, allocated with the lock dropped, and the call tries again; a one-shot is cancelled
//! and freed in one lookup too.

use super::slots::{Body, Chunk, Delivery, Object, Slot, CHUNK, MAX_SLOTS};
use super::{Arming, Backend, Call, Clock, Engine, Executor, Expiry, Locked, Sched, When};
use kernel::{alloc::Flags, bindings, prelude::*};

impl<B: Backend, X: Executor> Engine<B, X> {
    /// A new object of `tag` on `clock`, delivered as `delivery` says, then `setup` on it in
    /// the same lock hold (if `setup` fails the object is freed again): its id. Grows the
    /// table with `flags` when no slot is free.
    pub(crate) fn create(
        &self,
        tag: u8,
        delivery: Delivery,
        clock: Clock,
        cookie: u64,
        flags: Flags,
        setup: impl FnOnce(&mut Locked<'_, B, X>, Slot) -> Result,
    ) -> Result<u64> {
        // The object's state is allocated before the lock is taken.
        let mut obj = Some(boxed(Object::new(delivery, clock), flags)?);
        loop {
            {
                let mut l = self.lock();
                if !l.needs_growth() {
                    if l.g.dying {
                        return Err(ENODEV);
                    }
                    let max = self.max_timers;
                    let fresh = l.g.slots.take(max, tag, clock, cookie)?;
                    if let Some(o) = obj.take() {
                        fresh.data.body = Body::Object(o);
                    }
                    let (slot, id) = (fresh.slot, fresh.id);
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

    /// A one-shot of `tag` that queues a record (carrying `cookie`) when it is due `when`:
    /// allocated and armed in one lock hold and one slot lookup, the table grown with `flags`
    /// if full.
    pub(crate) fn record_once(
        &self,
        tag: u8,
        cookie: u64,
        when: When,
        flags: Flags,
    ) -> Result<u64> {
        self.once(tag, cookie, when, None, flags)
    }

    /// A one-shot of `tag` that makes `call` in the expiry pass when it is due `when`, never
    /// while the caller holds `arming` (which it must hold until it returns). Only on engines
    /// that expire in soft irq (`EINVAL` otherwise).
    pub(crate) fn call_once(
        &self,
        arming: &Arming<'_>,
        tag: u8,
        call: Call,
        when: When,
        flags: Flags,
    ) -> Result<u64> {
        if self.context != Expiry::Soft {
            return Err(EINVAL);
        }
        self.once(tag, 0, when, Some((call, arming.on_home())), flags)
    }

    fn once(
        &self,
        tag: u8,
        cookie: u64,
        when: When,
        callback: Option<(Call, bool)>,
        flags: Flags,
    ) -> Result<u64> {
        loop {
            {
                let mut l = self.lock();
                if !l.needs_growth() {
                    // A delay counts from the clock read made when the timer is armed.
                    let (expiry, now) = match when {
                        When::After(delay) => {
                            let now = self.backend.now(Clock::Monotonic);
                            (now.saturating_add(delay.max(0)), now)
                        }
                        #[cfg(any(hrc_kunit, hrc_bench))]
                        When::At(expiry) => (expiry, expiry),
                    };
                    let (call, on_home) = callback.map_or((None, false), |(c, h)| (Some(c), h));
                    let id = l.alloc_once(tag, Clock::Monotonic, cookie, expiry, call)?;
                    // An inline call armed from the home CPU: a pass may interrupt its caller
                    // there, before the caller stored the id.
                    if on_home {
                        l.g.latest_call = (id, super::cpu::current_task(), now);
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
    /// between holds when it is full. `f` allocates monotonic one-shots with
    /// [`Locked::alloc_record`]. This is batch submission: arming without a lock round trip
    /// and a clock read per timer. Stops at the first error: returns how many calls
    /// succeeded, and that error.
    pub(crate) fn batch(
        &self,
        n: usize,
        flags: Flags,
        mut f: impl FnMut(&mut Locked<'_, B, X>, usize, i64) -> Result,
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

    /// Adds one chunk of slots to the table, unless another thread did meanwhile: charged to
    /// the engine's quota first (`ENOSPC` past it, `quota.rs`). Allocates with the lock
    /// dropped.
    pub(super) fn grow(&self, flags: Flags) -> Result {
        let nchunks = self.inner.lock().slots.nchunks();
        if (nchunks + 1) * CHUNK > MAX_SLOTS as usize {
            return Err(ENOSPC);
        }
        self.charge.take(CHUNK as u64)?;
        let r = self.add_chunk(nchunks, flags);
        if r != Ok(true) {
            self.charge.give_back(CHUNK as u64);
        }
        r.map(drop)
    }

    /// [`Engine::grow`]'s allocation: whether chunk `nchunks` was added by this call (not by
    /// another thread meanwhile).
    fn add_chunk(&self, nchunks: usize, flags: Flags) -> Result<bool> {
        let init = Chunk::new((nchunks * CHUNK) as u32);
        let chunk = if flags == GFP_KERNEL_ACCOUNT {
            pin_init_may_fail(init)?
        } else {
            KBox::pin_init(init, flags)?
        };
        loop {
            let mut g = self.inner.lock();
            if g.slots.nchunks() != nchunks {
                // Another thread grew it; `chunk` is freed after the guard is dropped.
                return Ok(false);
            }
            if g.slots.has_room_for_chunk() {
                g.slots.push_chunk(chunk);
                return Ok(true);
            }
            let want = (g.slots.chunk_capacity() * 2).max(4);
            drop(g);
            let spare = KVec::with_capacity(want, flags)?;
            let old = self.inner.lock().slots.move_chunks(spare)?;
            // The old, empty vector is freed with the lock dropped.
            drop(old);
        }
    }
}

impl<B: Backend, X: Executor> Locked<'_, B, X> {
    /// Whether allocating needs a new chunk first: no free slot, though the engine is alive
    /// and below its limit (otherwise allocating fails with the right error).
    #[inline]
    pub(super) fn needs_growth(&self) -> bool {
        self.g.slots.full() && !self.g.dying && self.g.slots.live() < self.engine.max_timers
    }

    /// Allocates a one-shot that queues a record and arms it for absolute `expiry` on `clock`.
    /// The table must have room (see [`Engine::batch`]).
    #[inline(always)]
    pub(crate) fn alloc_record(
        &mut self,
        tag: u8,
        clock: Clock,
        cookie: u64,
        expiry: i64,
    ) -> Result<u64> {
        self.alloc_once(tag, clock, cookie, expiry, None)
    }

    /// Allocates a one-shot (an inline one if `callback` is given, whose argument becomes its
    /// cookie) and arms it for absolute `expiry` on `clock`: `ENODEV` once dying, `ENOSPC` at
    /// the limit or with no room. The hot path of one-shots: one slot lookup.
    #[inline(always)]
    fn alloc_once(
        &mut self,
        tag: u8,
        clock: Clock,
        cookie: u64,
        expiry: i64,
        callback: Option<Call>,
    ) -> Result<u64> {
        if self.g.dying {
            return Err(ENODEV);
        }
        let max = self.engine.max_timers;
        let g = &mut *self.g;
        let fresh = g.slots.take(max, tag, clock, cookie)?;
        // A free slot's body is `Once` (see `Slots::release`).
        if let Some(call) = callback {
            let (func, arg) = call.into_parts();
            fresh.data.cookie = arg;
            fresh.data.body = Body::Call {
                func,
                cpu: u32::MAX,
            };
        }
        // INVARIANT: `Armed` and queued together.
        fresh.data.sched = Sched::Armed;
        // SAFETY: as in `enqueue`: a free slot's node is not queued.
        let first = unsafe { g.bases[clock as usize].queue.add(fresh.entry, expiry) };
        let id = fresh.id;
        if first {
            self.kick_at(clock, expiry);
        }
        Ok(id)
    }

    /// Takes back one-shot `slot` whose id its owner could not hand out: cancelled if armed,
    /// or, if it fired, its unread record dropped with it. A record a reader has already taken
    /// is left to that reader (which then knows the id). Returns whether the slot was freed.
    pub(crate) fn discard_once(&mut self, slot: Slot) -> bool {
        if self.cancel_once(slot).is_ok() {
            return true;
        }
        let g = &mut *self.g;
        if !g.slots.data_ref(slot).one_shot() || !g.events.holds(&g.slots, slot) {
            return false;
        }
        self.unqueue_record(slot);
        self.free(slot);
        true
    }

    /// Cancels armed one-shot `slot` and frees it: the ns that were left, or `ENOENT` if it
    /// is not armed (it fired, and its record is unread or its callback running). One slot
    /// lookup.
    #[inline(always)]
    pub(crate) fn cancel_once(&mut self, slot: Slot) -> Result<i64> {
        // One-shots are monotonic.
        let now = self.engine.backend.now(Clock::Monotonic);
        let g = &mut *self.g;
        let head = g.slots.free_head();
        let (e, d) = g.slots.entry_data(slot);
        if d.sched != Sched::Armed || !d.one_shot() {
            return Err(ENOENT);
        }
        let left = (e.expires() - now).max(0);
        // SAFETY: as in `dequeue`: an armed slot's node is in its clock's queue.
        unsafe { g.bases[d.clock as usize].queue.del(e) };
        // INVARIANT: unqueued and no longer `Armed`.
        d.clear(head);
        g.slots.freed(slot);
        Ok(left)
    }
}

/// Memory for a `T` from `kmalloc` with `GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL`: a memory
/// cgroup at its limit makes it fail with `ENOMEM` instead of calling the cgroup's OOM killer,
/// so a user who fills their cgroup with timers gets an error, not a killed process (issue
/// 23). The kernel crate's `Flags` has no `__GFP_RETRY_MAYFAIL` in 7.3, so the memory comes
/// from `kmalloc` itself; the callers hand it to a `KBox`, whose allocator is `kmalloc`'s.
/// Process context (the flags may sleep).
fn kmalloc_may_fail<T>() -> Result<*mut T> {
    const {
        assert!(core::mem::align_of::<T>() <= bindings::ARCH_KMALLOC_MINALIGN);
        assert!(core::mem::size_of::<T>() > 0);
    }
    let gfp = bindings::GFP_KERNEL_ACCOUNT | (1 << bindings::___GFP_RETRY_MAYFAIL_BIT);
    // SAFETY: a plain allocation; the callers run in process context.
    let p = unsafe { bindings::__kmalloc_noprof(core::mem::size_of::<T>(), gfp) }.cast::<T>();
    if p.is_null() {
        return Err(ENOMEM);
    }
    Ok(p)
}

/// `KBox::pin_init(init, GFP_KERNEL_ACCOUNT)` through [`kmalloc_may_fail`].
fn pin_init_may_fail<T>(init: impl PinInit<T>) -> Result<Pin<KBox<T>>> {
    let p = kmalloc_may_fail::<T>()?;
    // SAFETY: `p` is valid for writes of a `T` (kmalloc aligns to `ARCH_KMALLOC_MINALIGN`, at
    // least `T`'s alignment, as `kmalloc_may_fail` asserts), uninitialised, and never moved:
    // it becomes the pinned box below.
    unsafe { pin_init::raw_init(p, init) };
    // SAFETY: `p` was allocated by kmalloc, which `KBox`'s allocator (`Kmalloc`) frees, and
    // holds an initialised `T`; the box is pinned at once and never moved from.
    Ok(unsafe { Pin::new_unchecked(KBox::from_raw(p)) })
}

/// `KBox::new(value, flags)`, through [`kmalloc_may_fail`] when `flags` is a file's
/// (`GFP_KERNEL_ACCOUNT`).
fn boxed<T>(value: T, flags: Flags) -> Result<KBox<T>> {
    if flags != GFP_KERNEL_ACCOUNT {
        return Ok(KBox::new(value, flags)?);
    }
    let p = kmalloc_may_fail::<T>()?;
    // SAFETY: `p` is valid for writes of a `T` and uninitialised (see `pin_init_may_fail`).
    unsafe { p.write(value) };
    // SAFETY: allocated by kmalloc, which `KBox`'s allocator frees, and initialised above.
    Ok(unsafe { KBox::from_raw(p) })
}
