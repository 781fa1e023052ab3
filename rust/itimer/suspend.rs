// SPDX-License-Identifier: GPL-2.0

//! Mach `TIMER_THREAD_SUSPEND`: each expiry of a timer armed with it adds one to its thread's
//! suspend count; the thread runs only while the count is 0; `thread_resume`
//! (`HRC_IOC_THREAD_RESUME`) takes one off.
//!
//! Linux has no call that suspends one thread of a process (`SIGSTOP` stops the whole thread
//! group). `task_work_add(TWA_SIGNAL)` makes one thread run a function at its next return to
//! user mode, interrupting a blocking system call as a signal does, and touches no other
//! thread: there [`Thread::park`] waits, killably, until the count is 0. A suspended thread
//! runs no user code, as in Mach, where a thread "blocked in an uninterruptible wait" is not
//! suspended until it leaves it either.
//!
//! Counts are kept per file (the file plays the task port the timers belong to): a thread two
//! files suspend runs only while both counts are 0. A file tracks at most [`MAX_THREADS`]
//! threads; when it is released, its threads run again.

use crate::engine::ExpiryAction;
use core::{ffi::c_void, ptr};
use kernel::{
    bindings, c_str,
    prelude::*,
    static_lock_class,
    sync::aref::ARef,
    sync::{
        atomic::{ordering::Relaxed, Atomic},
        Arc, ArcBorrow, Mutex,
    },
    task::Task,
    types::Opaque,
};

// rust/itimer/task.c: what only C can tell of a task (inline functions over its fields). The
// task is passed untyped: the bindings' `task_struct` does not match the C one on this
// toolchain (in the guest, `Task::tgid()` read -1 for every task; bindgen gives its
// `sched_statistics` member no fields), so nothing here reads its fields.
unsafe extern "C" {
    /// Whether `t` (a `struct task_struct *`) is a thread of the caller's process. `t` must be
    /// a valid task.
    fn hrc_task_in_my_process(t: *mut c_void) -> bool;
    /// Whether `t` (a `struct task_struct *`) has exited. `t` must be a valid task.
    fn hrc_task_exited(t: *mut c_void) -> bool;
    /// Whether the current task is being killed or exiting.
    fn hrc_current_must_not_wait() -> bool;
}

/// Threads one file tracks at most (`ENOSPC` beyond).
pub(crate) const MAX_THREADS: usize = 64;

/// A thread a file's timers suspend: its suspend count and what parks it.
///
/// # Invariants
///
/// - A `Thread` only ever lives inside an [`Arc`] ([`Thread::new`] returns one), so a shared
///   reference to it can be turned back into one.
/// - While `queued` is set, `work` is on `task`'s task-work list and owns one reference to the
///   `Arc` (given up by [`Thread::park_work`]).
#[pin_data]
pub(crate) struct Thread {
    task: ARef<Task>,
    /// The thread id the caller named (in its pid namespace).
    tid: i32,
    /// Mach's suspend count: expiries not resumed yet.
    count: Atomic<u32>,
    /// The task work is queued and has not started.
    queued: Atomic<bool>,
    /// The file is gone: the thread runs whatever the count.
    released: Atomic<bool>,
    /// Where the parked thread waits.
    #[pin]
    resumed: Opaque<bindings::wait_queue_head>,
    #[pin]
    work: Opaque<bindings::callback_head>,
}

// SAFETY: the wait queue head and the task work are used through their C APIs, which are safe
// from any thread; the rest is atomics and a task reference.
unsafe impl Send for Thread {}
// SAFETY: as above.
unsafe impl Sync for Thread {}

impl Thread {
    fn new(task: ARef<Task>, tid: i32) -> Result<Arc<Self>> {
        let key = static_lock_class!();
        // INVARIANT: made inside an `Arc`; `queued` starts clear.
        Arc::pin_init(
            pin_init!(Self {
                task,
                tid,
                count: Atomic::new(0),
                queued: Atomic::new(false),
                released: Atomic::new(false),
                // SAFETY: `slot` is valid while the closure runs; `name` and `key` are static.
                resumed <- Opaque::ffi_init(|slot| unsafe {
                    bindings::__init_waitqueue_head(
                        slot,
                        c_str!("hrcallout_thread").as_char_ptr(),
                        key.as_ptr(),
                    )
                }),
                // SAFETY: `slot` is valid while the closure runs.
                work <- Opaque::ffi_init(|slot| unsafe {
                    bindings::init_task_work(slot, Some(Self::park_work))
                }),
            }),
            GFP_KERNEL_ACCOUNT,
        )
    }

    /// Mach's suspend count.
    pub(crate) fn count(&self) -> u32 {
        self.count.load(Relaxed)
    }

    /// `thread_resume`: one suspension less; the thread runs again at 0. `EALREADY` if the
    /// count is already 0 (Mach's `KERN_FAILURE`).
    fn resume(&self) -> Result<u32> {
        let mut c = self.count.load(Relaxed);
        loop {
            if c == 0 {
                return Err(EALREADY);
            }
            match self.count.cmpxchg(c, c - 1, Relaxed) {
                Ok(_) => break,
                Err(now) => c = now,
            }
        }
        if c == 1 {
            self.wake();
        }
        Ok(c - 1)
    }

    fn wake(&self) {
        // SAFETY: `resumed` was initialised in `new` and lives as long as `self`.
        unsafe {
            bindings::__wake_up(
                self.resumed.get(),
                bindings::TASK_NORMAL,
                1,
                ptr::null_mut(),
            )
        };
    }

    /// Whether the parked thread must stop waiting: resumed, released, killed or exiting.
    fn may_run(&self) -> bool {
        if self.count.load(Relaxed) == 0 || self.released.load(Relaxed) {
            return true;
        }
        // SAFETY: no precondition (it asks about the current task, which `park` runs in).
        unsafe { hrc_current_must_not_wait() }
    }

    /// The task work: runs in `task` on its way back to user mode; waits there, killably,
    /// while the count is not 0.
    ///
    /// # Safety
    ///
    /// `head` is the `work` field of a `Thread` whose queued work owns one reference to its
    /// `Arc` (the type invariant while `queued` is set), which this call takes over.
    unsafe extern "C" fn park_work(head: *mut bindings::callback_head) {
        // SAFETY: `head` is the `work` field of a `Thread` (the caller's guarantee); `Opaque`
        // is transparent, so the field's address is the `callback_head`'s.
        let this = unsafe { kernel::container_of!(Opaque::cast_from(head), Thread, work) };
        // SAFETY: the queued work owned a reference to the `Arc` holding `this`; we take it.
        let this = unsafe { Arc::from_raw(this) };
        // INVARIANT: the work has started: it is no longer queued, and owns nothing.
        this.queued.store(false, Relaxed);
        this.park();
    }

    /// Waits, in the thread itself, until it may run.
    fn park(&self) {
        let wait = Opaque::<bindings::wait_queue_entry>::uninit();
        // SAFETY: `wait` is valid for the whole function.
        unsafe { bindings::init_wait(wait.get()) };
        loop {
            // SAFETY: `resumed` and `wait` are valid; the state makes the sleep killable.
            unsafe {
                bindings::prepare_to_wait(
                    self.resumed.get(),
                    wait.get(),
                    (bindings::TASK_WAKEKILL | bindings::TASK_UNINTERRUPTIBLE) as i32,
                )
            };
            if self.may_run() {
                break;
            }
            // SAFETY: sleeping here is allowed: a task work runs in process context with no
            // lock held.
            unsafe { bindings::schedule() };
        }
        // SAFETY: as for `prepare_to_wait`.
        unsafe { bindings::finish_wait(self.resumed.get(), wait.get()) };
    }
}

impl ExpiryAction for Thread {
    /// Each expiry suspends the thread once more; the first that finds the work not queued
    /// queues it. False once the thread is gone (the timer then clears itself, as a Mach timer
    /// does whose target died).
    fn expired(&self, expiries: u64) -> bool {
        let n = u32::try_from(expiries).unwrap_or(u32::MAX);
        let mut c = self.count.load(Relaxed);
        while let Err(now) = self.count.cmpxchg(c, c.saturating_add(n), Relaxed) {
            c = now;
        }
        if self.queued.xchg(true, Relaxed) {
            return true;
        }
        // SAFETY: a `Thread` lives inside an `Arc` (type invariant).
        let this: Arc<Self> = unsafe { ArcBorrow::from_raw(self) }.into();
        let raw = Arc::into_raw(this);
        // SAFETY: `work` was initialised in `new`; it is not queued (`queued` was clear), so
        // adding it is allowed; the reference `raw` stands for goes with it (type invariant).
        // `task_work_add` takes no lock and may be called with interrupts off.
        let r = unsafe {
            bindings::task_work_add(
                self.task.as_ptr(),
                self.work.get(),
                bindings::task_work_notify_mode_TWA_SIGNAL,
            )
        };
        if r == 0 {
            return true;
        }
        // The thread is exiting: nothing was queued; the reference comes back.
        self.queued.store(false, Relaxed);
        // SAFETY: `raw` came from `Arc::into_raw` above and was not handed to anyone.
        drop(unsafe { Arc::from_raw(raw) });
        false
    }

    fn target(&self) -> (i32, u32) {
        (self.tid, self.count())
    }
}

/// The threads one file's timers suspend.
#[pin_data]
pub(crate) struct Threads {
    #[pin]
    list: Mutex<KVec<Arc<Thread>>>,
}

impl Threads {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            list <- kernel::new_mutex!(KVec::new(), "hrcallout_threads"),
        })
    }

    /// The thread `tid` names, which must be one of the caller's own process: `EINVAL` for 0
    /// or a negative id (Mach's `THREAD_NULL`), `ESRCH` for no such thread, `EPERM` for one of
    /// another process, `ENOSPC` with [`MAX_THREADS`] tracked.
    pub(crate) fn get(&self, tid: i32) -> Result<Arc<Thread>> {
        if tid <= 0 {
            return Err(EINVAL);
        }
        let task = find_task(tid)?;
        // SAFETY: `task` is a valid task (we hold a reference).
        if !unsafe { hrc_task_in_my_process(task.as_ptr().cast()) } {
            return Err(EPERM);
        }
        let mut list = self.list.lock();
        if let Some(t) = list
            .iter()
            .find(|t| ptr::eq(t.task.as_ptr(), task.as_ptr()))
        {
            return Ok(t.clone());
        }
        // Threads that have exited with nothing to resume make room.
        list.retain(|t| !is_idle(t));
        if list.len() >= MAX_THREADS {
            return Err(ENOSPC);
        }
        let t = Thread::new(task, tid)?;
        list.push(t.clone(), GFP_KERNEL_ACCOUNT)?;
        Ok(t)
    }

    /// Mach `thread_resume`: returns the new count. `EINVAL` if this file's timers never
    /// suspended `tid` (`KERN_INVALID_ARGUMENT`), `EALREADY` if its count is 0.
    pub(crate) fn resume(&self, tid: i32) -> Result<u32> {
        if tid <= 0 {
            return Err(EINVAL);
        }
        let list = self.list.lock();
        // The newest entry of `tid` (an older one is of a dead thread whose id was reused).
        let t = list.iter().rev().find(|t| t.tid == tid).ok_or(EINVAL)?;
        t.resume()
    }
}

/// Whether `t`'s thread has exited, leaving nothing to resume.
fn is_idle(t: &Arc<Thread>) -> bool {
    // SAFETY: `t.task` is a valid task (we hold a reference).
    let exited = unsafe { hrc_task_exited(t.task.as_ptr().cast()) };
    exited && t.count() == 0 && !t.queued.load(Relaxed)
}

impl Threads {
    /// The file is being released: its threads run again, whatever their counts.
    pub(crate) fn release(&self) {
        for t in self.list.lock().iter() {
            t.released.store(true, Relaxed);
            t.wake();
        }
    }
}

/// The task `tid` names in the caller's pid namespace: `ESRCH` if none.
fn find_task(tid: i32) -> Result<ARef<Task>> {
    // SAFETY: `find_get_pid` takes any number and returns a counted `struct pid` or null.
    let pid = unsafe { bindings::find_get_pid(tid) };
    if pid.is_null() {
        return Err(ESRCH);
    }
    // SAFETY: `pid` is a valid, counted pid; `get_pid_task` returns a counted task or null.
    let task = unsafe { bindings::get_pid_task(pid, bindings::pid_type_PIDTYPE_PID) };
    // SAFETY: we own the reference `find_get_pid` returned.
    unsafe { bindings::put_pid(pid) };
    let task = ptr::NonNull::new(task.cast::<Task>()).ok_or(ESRCH)?;
    // SAFETY: `get_pid_task` returned a reference we now own; `Task` is transparent over
    // `task_struct`.
    Ok(unsafe { ARef::from_raw(task) })
}
