// SPDX-License-Identifier: GPL-2.0

//! `/dev/hrcallout`: the misc device, a transport over the personalities.
//!
//! Each open file is a [`Context`] with its own engine (timers, ids, event queue) and its own
//! callout locks. Ioctls decode the UAPI structs, call a personality, and encode the answer;
//! no timer semantics live here.
//!
//! Why a custom `file_operations`: 7.3's [`MiscDevice`] has no `poll` hook, and its `read_iter`
//! cannot see `O_NONBLOCK`. We keep the trait's `open`/`release`/`ioctl` shims (copied out of
//! the vtable the trait builds) and add two shims of our own, `read` and `poll`; the device is
//! registered with that table by [`Registration`]. Those three items are this file's only
//! `unsafe` code.

use crate::bench;
use crate::callout::{self, CalloutLock, LockKind, Mode, Run};
use crate::engine::{Engine, HrBackend, Taken};
use crate::itimer::{self, Itimer};
use crate::streams;
use crate::timer::{self, Clock, Expiry};
use crate::uapi;
use core::{ffi::c_void, mem::size_of};
use kernel::{
    bindings,
    fs::File,
    ioctl::{_IOC_DIR, _IOC_SIZE, _IOC_TYPE},
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    new_mutex,
    prelude::*,
    sync::{poll::PollTable, Arc, ArcBorrow, Mutex},
    transmute::{AsBytes, FromBytes},
    types::{ForeignOwnable, Opaque},
    uaccess::{UserPtr, UserSlice, UserSliceReader},
};

/// Per-file state.
#[pin_data]
pub(crate) struct Context {
    pub(crate) engine: Arc<Engine<HrBackend>>,
    /// Callout locks created on this file: (id, lock). Few per file, so a list.
    #[pin]
    locks: Mutex<KVec<(u64, Arc<CalloutLock>)>>,
}

/// The most callout locks one file may create.
const MAX_LOCKS: usize = 256;

impl Context {
    fn lock_by_id(&self, id: u64) -> Result<Arc<CalloutLock>> {
        let locks = self.locks.lock();
        locks
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, l)| l.clone())
            .ok_or(ENOENT)
    }
}

#[vtable]
impl MiscDevice for Context {
    type Ptr = Arc<Context>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Arc<Context>> {
        // A file's expiries only queue records and wake readers or the executor: hard irq.
        let engine = Engine::new(
            HrBackend,
            crate::max_timers(),
            crate::default_qlimit(),
            Expiry::Irq,
        )?;
        Arc::pin_init(
            try_pin_init!(Context { engine, locks <- new_mutex!(KVec::new()) }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    fn release(ctx: Arc<Context>, _file: &File) {
        // Cancel every timer, wait for running callbacks, then free with the last reference.
        ctx.engine.shutdown();
    }

    fn ioctl(ctx: ArcBorrow<'_, Context>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        dispatch(&ctx, cmd, arg)
    }
}

/// Reads the ioctl argument `T`, lets `f` update it, and writes it back for `_IOR`/`_IOWR`.
///
/// The size encoded in `cmd` may exceed `size_of::<T>()` (a newer caller) if the extra bytes
/// are zero; a smaller size is `EINVAL`.
fn with_arg<T: FromBytes + AsBytes + Default>(
    cmd: u32,
    arg: usize,
    f: impl FnOnce(&mut T) -> Result<isize>,
) -> Result<isize> {
    let size = _IOC_SIZE(cmd);
    if size < size_of::<T>() {
        return Err(EINVAL);
    }
    let dir = _IOC_DIR(cmd);
    let user = UserSlice::new(UserPtr::from_addr(arg), size);
    let (mut reader, mut writer) = user.reader_writer();
    let mut val = T::default();
    if dir & kernel::uapi::_IOC_WRITE != 0 {
        val = reader.read::<T>()?;
        if size > size_of::<T>() {
            check_zero_tail(&mut reader, size - size_of::<T>())?;
        }
    }
    let ret = f(&mut val)?;
    if dir & kernel::uapi::_IOC_READ != 0 {
        writer.write(&val)?;
    }
    Ok(ret)
}

/// Checks that the `left` bytes a newer caller appended to an argument are zero (`E2BIG` if
/// not). Out of line: only such callers pay for its buffer.
#[cold]
fn check_zero_tail(reader: &mut UserSliceReader, mut left: usize) -> Result {
    let mut rest = [0u8; 64];
    while left > 0 {
        let n = left.min(rest.len());
        reader.read_slice(&mut rest[..n])?;
        if rest[..n].iter().any(|b| *b != 0) {
            return Err(E2BIG);
        }
        left -= n;
    }
    Ok(())
}

/// The debugging options of this kernel that slow down the paths the benchmarks time
/// (`HRC_INFO_*`), so that a harness can refuse to time on such a kernel.
fn kernel_debug() -> u32 {
    let mut d = 0;
    if cfg!(CONFIG_LOCKDEP) {
        d |= uapi::HRC_INFO_LOCKDEP;
    }
    if cfg!(CONFIG_KASAN) {
        d |= uapi::HRC_INFO_KASAN;
    }
    if cfg!(CONFIG_KCSAN) {
        d |= uapi::HRC_INFO_KCSAN;
    }
    if cfg!(CONFIG_DEBUG_KMEMLEAK) {
        d |= uapi::HRC_INFO_KMEMLEAK;
    }
    d
}

/// Nanoseconds from a tick-or-ns time and its "ns" flag.
fn delay_ns(time: i64, flags: u32, ns_flag: u32) -> Result<i64> {
    if flags & !ns_flag != 0 {
        return Err(EINVAL);
    }
    Ok(if flags & ns_flag != 0 {
        time
    } else {
        streams::hztons(time)
    })
}

/// An ioctl number without its size bits: `with_arg` checks the size, so that a newer caller
/// with a larger struct still reaches the same handler.
const fn key(cmd: u32) -> u32 {
    cmd & !(((1 << bindings::_IOC_SIZEBITS) - 1) << bindings::_IOC_SIZESHIFT)
}

/// Decodes and runs one ioctl.
fn dispatch(ctx: &Context, cmd: u32, arg: usize) -> Result<isize> {
    if _IOC_TYPE(cmd) != uapi::HRC_IOC_MAGIC {
        return Err(ENOTTY);
    }
    let e = &*ctx.engine;
    match key(cmd) {
        k if k == key(uapi::HRC_IOC_INFO) => with_arg(cmd, arg, |i: &mut uapi::hrc_info| {
            *i = uapi::hrc_info {
                abi_version: uapi::HRC_ABI_VERSION,
                hz: bindings::CONFIG_HZ,
                resolution_ns: timer::resolution_ns(),
                max_timers: crate::max_timers(),
                // Records live in their timer's slot, so the queue is bounded by the same cap.
                max_events: crate::max_timers(),
                event_size: size_of::<uapi::hrc_event>() as u32,
                qlimit: e.lock().qlimit(),
                kernel_debug: kernel_debug(),
                ..Default::default()
            };
            Ok(0)
        }),
        k if k == key(uapi::HRC_IOC_CHECK) => with_arg(cmd, arg, |c: &mut uapi::hrc_check| {
            let k = e.check();
            *c = uapi::hrc_check {
                ok: u32::from(k.ok),
                live: k.live,
                queued: k.queued,
                free: k.free,
                slots: k.slots,
                ..Default::default()
            };
            Ok(0)
        }),
        k if k == key(uapi::HRC_IOC_TIMEOUT) => with_arg(cmd, arg, |t: &mut uapi::hrc_timeout| {
            if t.pad != 0 {
                return Err(EINVAL);
            }
            let ns = delay_ns(t.time, t.flags, uapi::HRC_TIMEOUT_NS)?;
            t.id = streams::timeout_event(e, ns, t.cookie)?;
            Ok(0)
        }),
        k if k == key(uapi::HRC_IOC_BATCH) => with_arg(cmd, arg, |b: &mut uapi::hrc_batch| {
            b.done = batch(e, b.ops, b.count)?;
            Ok(0)
        }),
        k if k == key(uapi::HRC_IOC_BENCH) => with_arg(cmd, arg, |b: &mut uapi::hrc_bench| {
            let s = bench::run(&ctx.engine, b)?;
            (b.min_ns, b.p50_ns, b.p99_ns, b.p999_ns, b.max_ns) =
                (s.min, s.p50, s.p99, s.p999, s.max);
            Ok(0)
        }),
        k if k == key(uapi::HRC_IOC_UNTIMEOUT) => {
            with_arg(cmd, arg, |u: &mut uapi::hrc_untimeout| {
                let ns = streams::untimeout_event(e, u.id)?;
                u.remaining_ns = ns;
                u.remaining_ticks = streams::ns_to_ticks_ceil(ns);
                Ok(0)
            })
        }
        k if k == key(uapi::HRC_IOC_CALLOUT_INIT) => {
            with_arg(cmd, arg, |c: &mut uapi::hrc_callout_init| {
                if c.pad != 0 {
                    return Err(EINVAL);
                }
                let mode = match c.mode {
                    uapi::HRC_CALLOUT_INIT if c.lock_id == 0 => Mode::Giant,
                    uapi::HRC_CALLOUT_INIT_MP if c.lock_id == 0 => Mode::Mp,
                    uapi::HRC_CALLOUT_INIT_LK => Mode::Lk(ctx.lock_by_id(c.lock_id)?),
                    _ => return Err(EINVAL),
                };
                c.id = callout::init(e, mode, GFP_KERNEL_ACCOUNT)?;
                Ok(0)
            })
        }
        k if k == key(uapi::HRC_IOC_CALLOUT_RESET) => {
            with_arg(cmd, arg, |r: &mut uapi::hrc_callout_reset| {
                let ns = delay_ns(r.time, r.flags, uapi::HRC_CALLOUT_NS)?;
                let run = Run::Actions {
                    mask: r.actions,
                    us: r.us,
                    repeat: r.repeat,
                };
                callout::reset(e, r.id, ns, r.cookie, run)?;
                Ok(0)
            })
        }
        k if k == key(uapi::HRC_IOC_CALLOUT_STOP) => {
            with_id(cmd, arg, |id| callout::stop(e, id).map(|v| v as isize))
        }
        k if k == key(uapi::HRC_IOC_CALLOUT_STOP_ASYNC) => {
            with_id(cmd, arg, |id| callout::stop(e, id).map(|_| 0))
        }
        k if k == key(uapi::HRC_IOC_CALLOUT_STOP_SYNC) => {
            with_id(cmd, arg, |id| callout::stop_sync(e, id).map(|v| v as isize))
        }
        k if k == key(uapi::HRC_IOC_CALLOUT_ACTIVE) => {
            with_id(cmd, arg, |id| callout::active(e, id).map(|v| v as isize))
        }
        k if k == key(uapi::HRC_IOC_CALLOUT_PENDING) => {
            with_id(cmd, arg, |id| callout::pending(e, id).map(|v| v as isize))
        }
        k if k == key(uapi::HRC_IOC_CALLOUT_DEACTIVATE) => {
            with_id(cmd, arg, |id| callout::deactivate(e, id).map(|()| 0))
        }
        k if k == key(uapi::HRC_IOC_CALLOUT_DESTROY) => {
            with_id(cmd, arg, |id| callout::destroy(e, id).map(|()| 0))
        }
        k if k == key(uapi::HRC_IOC_LOCK_CREATE) => {
            with_arg(cmd, arg, |c: &mut uapi::hrc_lock_create| {
                let kind = match (c.kind, c.pad) {
                    (uapi::HRC_LOCK_MUTEX, 0) => LockKind::Mutex,
                    (uapi::HRC_LOCK_SPIN, 0) => LockKind::Spin,
                    _ => return Err(EINVAL),
                };
                let lock = CalloutLock::new(kind)?;
                let mut locks = ctx.locks.lock();
                if locks.len() >= MAX_LOCKS {
                    return Err(ENOSPC);
                }
                let id = locks.iter().map(|(i, _)| *i).max().unwrap_or(0) + 1;
                locks.push((id, lock), GFP_KERNEL_ACCOUNT)?;
                c.id = id;
                Ok(0)
            })
        }
        k if k == key(uapi::HRC_IOC_LOCK_DESTROY) => with_id(cmd, arg, |id| {
            let mut locks = ctx.locks.lock();
            let i = locks.iter().position(|(i, _)| *i == id).ok_or(ENOENT)?;
            // Callouts still associated with it keep it alive through their reference.
            locks.remove(i)?;
            Ok(0)
        }),
        k if k == key(uapi::HRC_IOC_LOCK_HOLD) => {
            with_arg(cmd, arg, |h: &mut uapi::hrc_lock_hold| {
                let lock = ctx.lock_by_id(h.lock_id)?;
                h.result = callout::hold(e, &lock, h.us, h.op, h.callout_id)?;
                Ok(0)
            })
        }
        k if k == key(uapi::HRC_IOC_TIMER_CREATE) => {
            with_arg(cmd, arg, |c: &mut uapi::hrc_timer_create| {
                c.id = itimer::create(e, Clock::from_uapi(c.clock)?, c.notify, c.cookie)?;
                Ok(0)
            })
        }
        k if k == key(uapi::HRC_IOC_TIMER_DELETE) => {
            with_id(cmd, arg, |id| itimer::delete(e, id).map(|()| 0))
        }
        k if k == key(uapi::HRC_IOC_TIMER_SETTIME) => {
            with_arg(cmd, arg, |t: &mut uapi::hrc_timer_settime| {
                if t.pad != 0 {
                    return Err(EINVAL);
                }
                let new = Itimer {
                    value: t.value.value_ns,
                    interval: t.value.interval_ns,
                };
                let old = itimer::settime(e, t.id, t.flags, new)?;
                t.old = uapi::hrc_itimer {
                    value_ns: old.value,
                    interval_ns: old.interval,
                };
                Ok(0)
            })
        }
        k if k == key(uapi::HRC_IOC_TIMER_GETTIME) => {
            with_arg(cmd, arg, |t: &mut uapi::hrc_timer_gettime| {
                let v = itimer::gettime(e, t.id)?;
                t.value = uapi::hrc_itimer {
                    value_ns: v.value,
                    interval_ns: v.interval,
                };
                Ok(0)
            })
        }
        k if k == key(uapi::HRC_IOC_TIMER_INFO) => {
            with_arg(cmd, arg, |t: &mut uapi::hrc_timer_info| {
                let i = itimer::info(e, t.id, t.flags)?;
                t.info_flags = i.flags;
                t.overruns = i.overruns;
                t.value = uapi::hrc_itimer {
                    value_ns: i.value.value,
                    interval_ns: i.value.interval,
                };
                t.clock = i.clock as u32;
                t.notify = i.notify;
                Ok(0)
            })
        }
        k if k == key(uapi::HRC_IOC_TIMER_ARM) => {
            with_arg(cmd, arg, |a: &mut uapi::hrc_timer_arm| {
                itimer::arm(e, a.id, a.expire_ns, a.interval_ns, a.flags).map(|()| 0)
            })
        }
        k if k == key(uapi::HRC_IOC_TIMER_CANCEL) => {
            with_arg(cmd, arg, |c: &mut uapi::hrc_timer_cancel| {
                if c.pad != 0 {
                    return Err(EINVAL);
                }
                itimer::cancel(e, c.id, c.flags).map(|()| 0)
            })
        }
        k if k == key(uapi::HRC_IOC_SET_QLIMIT) => {
            with_arg(cmd, arg, |q: &mut uapi::hrc_qlimit| {
                if q.pad != 0 {
                    return Err(EINVAL);
                }
                itimer::set_qlimit(e, q.qlimit).map(|()| 0)
            })
        }
        k if k == key(uapi::HRC_IOC_SETTIMER) => {
            with_arg(cmd, arg, |t: &mut uapi::hrc_settimer| {
                if t.pad != 0 {
                    return Err(EINVAL);
                }
                t.timer_id = itimer::settimer(e, t.id, t.tv_sec, t.tv_usec)?;
                Ok(0)
            })
        }
        _ => Err(ENOTTY),
    }
}

/// `HRC_IOC_BATCH`: arms `count` timeouts read from `ops`, writing their ids back. Returns how
/// many succeeded; fails only if the first one did.
fn batch(e: &Engine<HrBackend>, ops: u64, count: u32) -> Result<u32> {
    const CHUNK: usize = 64;
    const ONE: usize = size_of::<uapi::hrc_timeout>();
    if count > 65536 {
        return Err(EINVAL);
    }
    let len = count as usize * ONE;
    let base = usize::try_from(ops).map_err(|_| EFAULT)?;
    let mut done = 0u32;
    // One copy in and one copy out per `CHUNK` entries, not one per entry (2 KiB: boxed).
    let mut buf = KBox::new([uapi::hrc_timeout::default(); CHUNK], GFP_KERNEL)?;
    let mut reqs = [(0i64, 0u64); CHUNK];
    let mut ids = [0u64; CHUNK];
    let (mut reader, mut writer) = UserSlice::new(UserPtr::from_addr(base), len).reader_writer();
    while (done as usize) < count as usize {
        let n = (count as usize - done as usize).min(CHUNK);
        reader.read_slice(&mut buf.as_bytes_mut()[..n * ONE])?;
        // Validate first: the valid prefix is armed, the first invalid entry ends the batch.
        let mut valid = 0;
        let mut err = None;
        for t in buf[..n].iter() {
            let r = if t.pad != 0 {
                Err(EINVAL)
            } else {
                delay_ns(t.time, t.flags, uapi::HRC_TIMEOUT_NS)
            };
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
        let (armed, r) = streams::timeout_events(e, &reqs[..valid], &mut ids);
        if let Err(x) = r {
            err = Some(x);
        }
        for (t, id) in buf.iter_mut().zip(ids.iter()).take(armed) {
            t.id = *id;
        }
        writer.write_slice(&buf.as_bytes()[..armed * ONE])?;
        done += armed as u32;
        if let Some(x) = err {
            return if done == 0 { Err(x) } else { Ok(done) };
        }
    }
    Ok(done)
}

/// [`with_arg`] for the ioctls whose argument is a bare object id.
fn with_id(cmd: u32, arg: usize, f: impl FnOnce(u64) -> Result<isize>) -> Result<isize> {
    with_arg(cmd, arg, |c: &mut uapi::hrc_callout_id| f(c.id))
}

/// Records taken off the queue per lock hold and copied out per `copy_to_user` by `read`:
/// 16 records and their slots are about 1.3 KiB of stack.
const READ_BATCH: usize = 16;

/// Reads whole event records: blocks for the first one unless `O_NONBLOCK`.
///
/// Records leave the queue `READ_BATCH` at a time under one lock hold, written straight into
/// the buffer that goes out in one copy: a burst costs a lock round trip and a `copy_to_user`
/// per batch, not per record. A call returns at most the records queued when it took its
/// first one. If a copy faults, the batch goes back to the head of the queue in order and is
/// retried one record at a time, so the call returns exactly the records before the fault
/// and loses none.
fn read(ctx: &Context, file: &File, buf: UserPtr, count: usize) -> Result<usize> {
    const REC: usize = size_of::<uapi::hrc_event>();
    if count < REC {
        return Err(EINVAL);
    }
    let mut writer = UserSlice::new(buf, count).writer();
    let e = &*ctx.engine;
    let mut done = 0;
    let mut batch = READ_BATCH;
    let mut evs = [uapi::hrc_event::default(); READ_BATCH];
    // What `finish_event` needs of each record in `evs`.
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
                let Some(t) = l.take_event(&mut evs[n]) else {
                    break;
                };
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
                let t = took[i];
                if copied.is_err() || t.one_shot {
                    l.finish_event(t.slot, t.id, &evs[i], copied.is_ok());
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

/// The file operations: the `MiscDevice` vtable plus `read` and `poll`.
struct Fops(bindings::file_operations);
// SAFETY: the table is immutable and only read by the VFS.
unsafe impl Sync for Fops {}

static FOPS: Fops = {
    let base = MiscDeviceOptions { name: c"hrcallout" }.into_raw::<Context>();
    // SAFETY: `into_raw` points `fops` at the trait's `'static` vtable for `Context`.
    let mut fops = unsafe { *base.fops };
    fops.read = Some(hrc_read);
    fops.poll = Some(hrc_poll);
    // `read` and `llseek`: records are a stream, positions mean nothing.
    fops.llseek = Some(bindings::noop_llseek);
    Fops(fops)
};

/// # Safety
///
/// Called by the VFS with a file of this device, opened by the vtable's `open` (which stored an
/// `Arc<Context>` in `private_data`) and not yet released.
unsafe extern "C" fn hrc_read(
    file: *mut bindings::file,
    buf: *mut c_char,
    count: usize,
    _pos: *mut bindings::loff_t,
) -> isize {
    // SAFETY: `private_data` holds the `Arc<Context>` stored by `open`, alive until `release`,
    // which cannot run during a read.
    let ctx = unsafe { <Arc<Context> as ForeignOwnable>::borrow((*file).private_data) };
    // SAFETY: the file is valid for the duration of this call, and a read holds no
    // `fdget_pos` region of ours.
    let file = unsafe { File::from_raw_file(file) };
    match read(&ctx, file, UserPtr::from_ptr(buf.cast::<c_void>()), count) {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// # Safety
///
/// As for [`hrc_read`]; `wait` is the poll table the VFS passes (possibly null).
unsafe extern "C" fn hrc_poll(
    file: *mut bindings::file,
    wait: *mut bindings::poll_table_struct,
) -> bindings::__poll_t {
    // SAFETY: as in `hrc_read`.
    let ctx = unsafe { <Arc<Context> as ForeignOwnable>::borrow((*file).private_data) };
    // SAFETY: as in `hrc_read`.
    let file = unsafe { File::from_raw_file(file) };
    // SAFETY: the VFS passes a valid (or null) poll table for this call.
    let table = unsafe { PollTable::from_raw(wait) };
    table.register_wait(file, ctx.engine.poll_condvar());
    if ctx.engine.readable() {
        bindings::POLLIN | bindings::POLLRDNORM
    } else {
        0
    }
}

/// The registered misc device, using [`FOPS`].
///
/// # Invariants
///
/// `inner` holds a `struct miscdevice` registered with `misc_register` for as long as this
/// value lives; it is deregistered exactly once, in `drop`.
#[pin_data(PinnedDrop)]
pub(crate) struct Registration {
    #[pin]
    inner: Opaque<bindings::miscdevice>,
}

// SAFETY: `misc_deregister` may be called from any thread.
unsafe impl Send for Registration {}
// SAFETY: no `&self` method exists.
unsafe impl Sync for Registration {}

impl Registration {
    /// Registers `/dev/hrcallout`, mode 0600 (root only, as documented).
    pub(crate) fn register() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            inner <- Opaque::try_ffi_init(move |slot: *mut bindings::miscdevice| {
                let mut misc = MiscDeviceOptions { name: c"hrcallout" }.into_raw::<Context>();
                misc.fops = &FOPS.0;
                misc.mode = 0o600;
                // SAFETY: the initializer may write to `slot`.
                unsafe { slot.write(misc) };
                // SAFETY: `slot` holds a filled miscdevice in pinned memory that lives until
                // `drop` deregisters it. The vtable's `open` casts `private_data` to
                // `MiscDeviceRegistration<Context>`, a `repr(transparent)` wrapper of the
                // same `Opaque<miscdevice>` as ours, and only uses it as such.
                // INVARIANT: on success the device is registered.
                kernel::error::to_result(unsafe { bindings::misc_register(slot) })
            }),
        })
    }
}

#[pinned_drop]
impl PinnedDrop for Registration {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: registered, by the type invariant.
        unsafe { bindings::misc_deregister(self.inner.get()) };
    }
}
