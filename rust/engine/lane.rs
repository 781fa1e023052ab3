// SPDX-License-Identifier: GPL-2.0

//! Executor lanes: one work item per possible CPU, so that fired objects' jobs run on the CPU
//! their owner chose, and jobs of different CPUs run in parallel.
//!
//! Lane `c` of an engine is a `work_struct` queued with `queue_work_on(c)` on the
//! high-priority system workqueue (bound, per CPU: the analogue of DragonFly's per-CPU
//! softclock threads). Its fired list is `Inner::fired[c]`, behind the engine lock; what the
//! lane runs is `executor.rs`'s. A lane whose CPU is offline is queued on the caller's CPU
//! instead (the workqueue runs the items of a CPU that goes offline on another one itself).
//!
//! Why not `kernel::workqueue::Work`: it names its work item by a field of a type, one per
//! `HasWork` impl, and an engine has as many as there are CPUs, a number known at run time.
//! This file is the only one that touches the raw work items.
//!
//! Memory: a lane is a `work_struct` and a pointer (40 bytes without lockdep) plus 8 bytes of
//! fired list, so `nr_cpu_ids × 48` bytes per engine, allocated when the engine is created.

use super::{Backend, Engine, Executor};
use kernel::{
    bindings,
    prelude::*,
    static_lock_class,
    sync::{Arc, ArcBorrow},
    types::Opaque,
};

/// One lane: a work item and the engine it belongs to.
///
/// # Invariants
///
/// `work` was set up by [`Lanes::new`] with `run_lane::<B, X>` of the `Engine<B, X>` at
/// `engine`, and is never moved (the lanes' buffer is never reallocated). While it is queued
/// the engine's `Arc` count includes one reference owned by the queued item.
#[repr(C)]
struct Lane {
    work: Opaque<bindings::work_struct>,
    engine: *const core::ffi::c_void,
    cpu: u32,
}

/// The lanes of one engine, indexed by CPU id.
///
/// # Invariants
///
/// `lanes` holds exactly [`super::cpu::count`] lanes, each set up (see [`Lane`]); it is never
/// pushed to, so its buffer never moves.
pub(super) struct Lanes {
    lanes: KVec<Lane>,
}

// SAFETY: the workqueue core serialises queueing and running of a work item with its atomic
// pending bit; `engine` is only read. Every method takes `&self`.
unsafe impl Send for Lanes {}
// SAFETY: as above.
unsafe impl Sync for Lanes {}

impl Lanes {
    /// The lanes of the `Engine<B, X>` being initialised at `engine`.
    pub(super) fn new<B: Backend, X: Executor>(engine: *const Engine<B, X>) -> Result<Self> {
        let n = super::cpu::count() as usize;
        let mut lanes = KVec::with_capacity(n, GFP_KERNEL_ACCOUNT)?;
        for cpu in 0..n as u32 {
            lanes.push(
                Lane {
                    work: Opaque::uninit(),
                    engine: engine.cast(),
                    cpu,
                },
                GFP_KERNEL_ACCOUNT,
            )?;
        }
        let key = static_lock_class!();
        for lane in lanes.iter() {
            // SAFETY: `lane.work` is valid for writes and will not move (the buffer is full
            // and never grown); `run_lane::<B, X>` is the work function for an engine of this
            // type, as `Lane`'s invariant records.
            unsafe {
                bindings::init_work_with_key(
                    lane.work.get(),
                    Some(run_lane::<B, X>),
                    false,
                    c"hrcallout::lane".as_char_ptr(),
                    key.as_ptr(),
                )
            };
        }
        // INVARIANT: `count()` lanes, each set up above.
        Ok(Self { lanes })
    }

    /// Queues lane `cpu` of `engine` (on the caller's CPU if `cpu` is offline); a no-op if it
    /// is queued already, whose run will see the new entry. `cpu` is below `count()`.
    #[inline]
    pub(super) fn kick<B: Backend, X: Executor>(&self, engine: &Engine<B, X>, cpu: u32) {
        let Some(lane) = self.lanes.get(cpu as usize) else {
            return;
        };
        let target = super::cpu::online_or_current(cpu);
        // SAFETY: by the engine's type invariant it lives in an `Arc`.
        let arc: Arc<Engine<B, X>> =
            unsafe { ArcBorrow::from_raw(core::ptr::from_ref(engine)) }.into();
        // SAFETY: by the type invariant the work is set up and pinned; `system_highpri_wq` is
        // set up at boot and never freed. `target` is online or ours (interrupts are off under
        // the engine lock, so it stays online until the item is queued).
        let queued = unsafe {
            bindings::queue_work_on(target as i32, bindings::system_highpri_wq, lane.work.get())
        };
        if queued {
            // INVARIANT: the queued item owns this reference; `run_lane` takes it back.
            let _ = Arc::into_raw(arc);
        }
    }

    /// Waits until every lane has run everything queued so far (process context).
    pub(super) fn flush(&self) {
        for lane in self.lanes.iter() {
            // SAFETY: by the type invariant the work is set up.
            unsafe { bindings::flush_work(lane.work.get()) };
        }
    }
}

/// The work function of a lane of an `Engine<B, X>`.
///
/// # Safety
///
/// `work` is the `work` field of a queued [`Lane`] of an `Engine<B, X>` (as `Lanes::new` set it
/// up), which owns one reference to the engine.
unsafe extern "C" fn run_lane<B: Backend, X: Executor>(work: *mut bindings::work_struct) {
    // `work` is the first field of the `repr(C)` lane.
    let lane = work.cast::<Lane>();
    // SAFETY: by the safety contract `lane` is a live lane; its engine is alive (the reference
    // below is owned by the queued item), and so are its lanes.
    let (engine, cpu) = unsafe { ((*lane).engine.cast::<Engine<B, X>>(), (*lane).cpu) };
    // SAFETY: the queued item owned one reference, made by `Arc::into_raw` in `Lanes::kick`.
    let engine = unsafe { Arc::from_raw(engine) };
    engine.run_lane(cpu);
}
