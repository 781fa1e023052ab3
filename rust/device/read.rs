// SPDX-License-Identifier: GPL-2.0

//! `read()`: whole event records, encoded from the engine's [`Event`]s.

use super::Context;
use crate::engine::{Event, Taken};
use crate::uapi;
use core::mem::size_of;
use kernel::{
    bindings,
    fs::File,
    prelude::*,
    transmute::AsBytes,
    uaccess::{UserPtr, UserSlice},
};

/// Records taken off the queue per lock hold and copied out per `copy_to_user`: 16 records
/// and their slots are about 1.3 KiB of stack.
const READ_BATCH: usize = 16;

/// The UAPI record of an event.
#[inline]
pub(crate) fn encode(ev: &Event) -> uapi::hrc_event {
    uapi::hrc_event {
        size: size_of::<uapi::hrc_event>() as u16,
        kind: u16::from(ev.tag),
        flags: ev.flags,
        id: ev.id,
        cookie: ev.cookie,
        expiry_ns: ev.expiry,
        fire_ns: ev.fire,
        overruns: ev.overruns,
        clock: ev.clock.uapi(),
        cpu: ev.cpu,
        extra: ev.extra,
    }
}

/// Reads whole event records: blocks for the first one unless `O_NONBLOCK`.
///
/// Records leave the queue `READ_BATCH` at a time under one lock hold, written straight into
/// the buffer that goes out in one copy: a burst costs a lock round trip and a `copy_to_user`
/// per batch, not per record. A call returns at most the records queued when it took its
/// first one. If a copy faults, the batch goes back to the head of the queue in order and is
/// retried one record at a time, so the call returns exactly the records before the fault
/// and loses none.
pub(super) fn read(ctx: &Context, file: &File, buf: UserPtr, count: usize) -> Result<usize> {
    const REC: usize = size_of::<uapi::hrc_event>();
    if count < REC {
        return Err(EINVAL);
    }
    let mut writer = UserSlice::new(buf, count).writer();
    let e = &*ctx.engine;
    let mut done = 0;
    let mut batch = READ_BATCH;
    let mut evs = [uapi::hrc_event::default(); READ_BATCH];
    // What `consumed`/`put_back` need of each record in `evs`.
    let mut took = [Taken::default(); READ_BATCH];
    // Records still to take of those queued when the first one was taken: newer ones wait for
    // the next read, so a timer that keeps one record queued never shows two in one call.
    let mut left = 0;
    while done + REC <= count {
        let room = batch.min((count - done) / REC);
        let mut n = 0;
        {
            let mut l = e.lock();
            if done == 0 {
                left = l.queue_len();
            }
            let want = room.min(left);
            while n < want {
                let Some((ev, t)) = l.take_event() else {
                    break;
                };
                evs[n] = encode(&ev);
                took[n] = t;
                n += 1;
            }
        }
        left -= n;
        if n == 0 {
            if done > 0 {
                break;
            }
            if file.flags() & bindings::O_NONBLOCK != 0 {
                return Err(EAGAIN);
            }
            if !e.wait_readable() {
                return Err(ERESTARTSYS);
            }
            if !e.readable() {
                // Woken by shutdown.
                return Ok(0);
            }
            continue;
        }
        let copied = writer.write_slice(evs[..n].as_bytes());
        // A copied batch of objects' records (callouts, interval timers) needs nothing more.
        if copied.is_err() || took[..n].iter().any(|t| t.one_shot) {
            let mut l = e.lock();
            // Back to the head newest first on a fault, so the queue keeps its order.
            for i in (0..n).rev() {
                let (t, ev) = (&took[i], &evs[i]);
                if copied.is_err() {
                    l.put_back(t, ev.expiry_ns, ev.fire_ns, ev.overruns);
                } else if t.one_shot {
                    l.consumed(t);
                }
            }
        }
        match copied {
            Ok(()) if left == 0 => return Ok(done + n * REC),
            Ok(()) => done += n * REC,
            Err(err) if n == 1 => return if done > 0 { Ok(done) } else { Err(err) },
            // The batch is back in the queue: find the faulting record one at a time.
            Err(_) => {
                left += n;
                batch = 1;
            }
        }
    }
    Ok(done)
}
