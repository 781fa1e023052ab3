// SPDX-License-Identifier: GPL-2.0

//! In-kernel benchmarks (`HRC_IOC_BENCH`), each subject with its raw baseline in the same boot.
//!
//! Not tests: they report figures and assert nothing. Built only into the benchmark module
//! (`make bench` builds with `HRC_BENCH=1`, which sets `--cfg hrc_bench`), and enabled by the
//! `enable_bench` module parameter (the benchmark guest sets it), since a run occupies a CPU
//! for seconds.

use crate::callout::{self, Mode, Run};
use crate::engine::{hrtimer::RawTimer, CFn, Call, Clock, Engine, Expiry, Timebase, When, CHUNK};
use crate::{kernel_api, streams, ticks::ns_to_ticks_ceil, uapi, HrEngine};
use core::ffi::c_void;
use kernel::{
    bindings,
    prelude::*,
    sync::atomic::{ordering::Relaxed, Atomic},
    sync::{Arc, ArcBorrow},
    time::{delay::fsleep, Delta},
    workqueue,
};

/// Results: min, median, p99, p99.9 and max of the samples, in ns.
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) min: i64,
    pub(crate) p50: i64,
    pub(crate) p99: i64,
    pub(crate) p999: i64,
    pub(crate) max: i64,
}

fn stats(v: &mut [i64]) -> Stats {
    v.sort_unstable();
    let at = |q: usize| v[(v.len() - 1) * q / 1000];
    Stats {
        min: v[0],
        p50: at(500),
        p99: at(990),
        p999: at(999),
        max: v[v.len() - 1],
    }
}

/// xorshift64: random expiries without touching a shared RNG.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0.checked_rem(n).unwrap_or(0)
    }
}

const SEC: i64 = 1_000_000_000;
/// Raw timers per allocation of the raw pair's pending population (80 KiB).
const RAW_CHUNK: usize = 1024;
const ROUNDS: usize = 15;

/// A far, random delay in [10 s, 1010 s], as in the reference measurements.
fn far(r: &mut Rng) -> i64 {
    10 * SEC + r.below(1000 * SEC as u64) as i64
}

/// # Safety
///
/// Only used as the callback of benchmark timers that never fire (cancelled first).
unsafe extern "C" fn never(_t: *mut bindings::hrtimer) -> bindings::hrtimer_restart {
    bindings::hrtimer_restart::HRTIMER_NORESTART
}

/// The callback of benchmark calls that never run (cancelled first), or whose run is not
/// measured.
extern "C" fn noop(_: *mut c_void) {}

/// An engine call of `f` with a number (an index, or nothing) as its argument.
fn numbered(f: CFn, i: usize) -> Call {
    // SAFETY: the benchmark callbacks use their argument as a number only.
    unsafe { Call::new(f, i as *mut c_void) }
}

/// The target of the typed in-kernel API's pairs: does nothing.
struct Noop;

impl kernel_api::TimeoutCallback for Noop {
    fn run(_: ArcBorrow<'_, Self>) {}
}

impl kernel_api::CalloutCallback for Noop {
    fn run(_: ArcBorrow<'_, Self>) {}
}

/// The probe's delay in iteration `i` of a round with [`uapi::HRC_BENCH_EARLIEST`]: before
/// every pending timer, and 10 us before the previous probe, faster than the clock moves.
fn earliest(i: u32) -> i64 {
    SEC - i64::from(i) * 10_000
}

/// Arm+cancel pairs, `ROUNDS` rounds of `iters`, with `pending` timeouts armed meanwhile.
fn pairs(e: &HrEngine, kind: u32, iters: u32, pending: u64, early: bool) -> Result<Stats> {
    // Up to 1 s of 10 us steps for the earliest-probe runs, so every delay stays positive.
    let iters = iters.clamp(1, if early { 90_000 } else { 1_000_000 });
    let mut r = Rng(0x2545_f491_4f6c_dd1d);
    // Each side's pending timers are its own kind: the raw pair runs beside `pending` raw
    // hrtimers in the CPU's tree, the engine's pairs beside `pending` timeouts in its own queue.
    // Up to 2M ids: 16 MB, so vmalloc-backed.
    let mut population = KVVec::new();
    let mut raw_population = KVec::new();
    if kind == uapi::HRC_BENCH_RAW_PAIR {
        let now = Clock::Monotonic.now();
        for _ in 0..pending.div_ceil(RAW_CHUNK as u64) {
            let chunk: Pin<KBox<[RawTimer; RAW_CHUNK]>> = KBox::pin_init(
                pin_init::pin_init_array_from_fn(|_| {
                    RawTimer::new(never, Clock::Monotonic, Expiry::Hard)
                }),
                GFP_KERNEL,
            )?;
            raw_population.push(chunk, GFP_KERNEL)?;
        }
        // Dropping a `RawTimer` cancels it.
        for t in raw_population
            .iter()
            .flat_map(|c| c.iter())
            .take(pending as usize)
        {
            t.start(now + far(&mut r));
        }
    } else {
        population.reserve(pending as usize, GFP_KERNEL)?;
        for _ in 0..pending {
            population.push(streams::timeout_event(e, far(&mut r), 0)?, GFP_KERNEL)?;
        }
    }
    // The baseline wraps nothing: a timer in the engine's own expiry context for these kinds.
    let probe = KBox::pin_init(
        RawTimer::new(never, Clock::Monotonic, Expiry::Hard),
        GFP_KERNEL,
    )?;
    let c = callout::init(e, Mode::Mp, GFP_KERNEL)?;
    // The public in-kernel callout, on this CPU's kernel engine.
    let kc = if kind == uapi::HRC_BENCH_KCALLOUT_PAIR {
        Some(kernel_api::Callout::init_mp(Arc::new(Noop, GFP_KERNEL)?)?)
    } else {
        None
    };
    let noop_target = Arc::new(Noop, GFP_KERNEL)?;
    let mut per_op = KVec::with_capacity(ROUNDS, GFP_KERNEL)?;
    let mut result = Ok(());
    for _ in 0..ROUNDS {
        let t0 = Clock::Monotonic.now();
        for i in 0..iters {
            let delay = if early { earliest(i) } else { far(&mut r) };
            match kind {
                uapi::HRC_BENCH_RAW_PAIR => {
                    probe.start(t0 + delay);
                    probe.cancel();
                }
                uapi::HRC_BENCH_TIMEOUT_PAIR => {
                    let id = streams::timeout_event(e, delay, 0)?;
                    streams::untimeout_event(e, id)?;
                }
                uapi::HRC_BENCH_KTIMEOUT_PAIR => {
                    // The typed API: the timeout holds a reference to its target.
                    let id = kernel_api::timeout(noop_target.clone(), ns_to_ticks_ceil(delay));
                    if id.map_or(-1, kernel_api::untimeout) < 0 {
                        result = Err(ENOENT);
                    }
                }
                uapi::HRC_BENCH_KCALLOUT_PAIR => {
                    if let Some(kc) = &kc {
                        result = kc.reset(ns_to_ticks_ceil(delay));
                        kc.stop();
                    }
                }
                uapi::HRC_BENCH_LOCK_PAIR => drop(core::hint::black_box(e.lock())),
                uapi::HRC_BENCH_CLOCK_READ => {
                    core::hint::black_box(Clock::Monotonic.now());
                }
                _ => {
                    result = callout::reset(e, c, delay, 0, Run::Func(numbered(noop, 0)));
                    result = result.and(callout::stop(e, c).map(|_| ()));
                }
            }
        }
        let per = (Clock::Monotonic.now() - t0)
            .checked_div(i64::from(iters))
            .unwrap_or(0);
        per_op.push(per, GFP_KERNEL)?;
    }
    callout::destroy(e, c)?;
    for id in population {
        streams::untimeout_event(e, id)?;
    }
    drop(raw_population);
    result?;
    Ok(stats(&mut per_op))
}

/// A raw hard-irq benchmark timer recording how late it ran.
#[pin_data]
#[repr(C)]
struct LateTimer {
    #[pin]
    timer: RawTimer,
    expiry: Atomic<i64>,
    late: Atomic<i64>,
    /// Hop to a work item instead of recording in hard-irq context.
    hop: bool,
}

/// The work item of the workqueue-hop baseline.
struct Hop(usize);

/// # Safety
///
/// `t` is the first field of a live [`LateTimer`] (`repr(C)`), which the benchmark keeps
/// alive until every timer fired or was cancelled.
unsafe extern "C" fn late_expire(t: *mut bindings::hrtimer) -> bindings::hrtimer_restart {
    // SAFETY: by the contract, `t` is the address of a live `LateTimer`.
    let lt = unsafe { &*t.cast::<LateTimer>() };
    if lt.hop {
        let addr = core::ptr::from_ref(lt) as usize;
        let hop = Hop(addr);
        // An allocation per hop: the baseline a caller without a preallocated executor pays.
        if workqueue::system_highpri()
            .try_spawn(GFP_ATOMIC, move || {
                // SAFETY: as above; the benchmark waits for every hop before freeing.
                let lt = unsafe { &*(hop.0 as *const LateTimer) };
                lt.late
                    .store(Clock::Monotonic.now() - lt.expiry.load(Relaxed), Relaxed);
            })
            .is_err()
        {
            lt.late.store(i64::MAX, Relaxed);
        }
    } else {
        lt.late
            .store(Clock::Monotonic.now() - lt.expiry.load(Relaxed), Relaxed);
    }
    bindings::hrtimer_restart::HRTIMER_NORESTART
}

/// Lateness samples of the engine paths, indexed by the callback argument.
static SAMPLES: Atomic<usize> = Atomic::new(0);

/// Records the lateness of sample `i` (its argument, a number).
extern "C" fn record_late(arg: *mut c_void) {
    let i = arg as usize;
    let base = SAMPLES.load(Relaxed);
    if base != 0 {
        // SAFETY: `base` points at the live sample array of the running benchmark (one at a
        // time: the caller holds `BENCH_LOCK`), which outlives every armed timer.
        let slots = unsafe { &*(base as *const KVec<(Atomic<i64>, Atomic<i64>)>) };
        if let Some((exp, late)) = slots.get(i) {
            late.store(Clock::Monotonic.now() - exp.load(Relaxed), Relaxed);
        }
    }
}

kernel::sync::global_lock! {
    // SAFETY: initialised in module init before any benchmark runs.
    unsafe(uninit) static BENCH_LOCK: Mutex<()> = ();
}

/// Initialises the benchmark lock (module init).
pub(crate) fn init() {
    // SAFETY: called once from module init.
    unsafe { BENCH_LOCK.init() };
}

fn wait_all(done: impl Fn() -> bool, spread: i64) -> Result {
    fsleep(Delta::from_nanos(LEAD + spread + 10_000_000));
    for _ in 0..5000 {
        if done() {
            return Ok(());
        }
        fsleep(Delta::from_millis(1));
    }
    Err(ETIMEDOUT)
}

/// How far ahead the first lateness timer is due: arming 10 000 callouts (each allocated)
/// takes longer than 10 ms, and with less lead the first ones came due while the arming loop
/// still held the CPU, which the figures then measured.
const LEAD: i64 = 100_000_000;

/// Lateness of `n` timers spread over `spread` ns through one path.
fn latency(e: &HrEngine, kind: u32, n: u32, spread: i64) -> Result<Stats> {
    let n = n.clamp(1, 100_000) as usize;
    let spread = spread.clamp(1_000_000, 10 * SEC);
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = KVec::with_capacity(n, GFP_KERNEL)?;
    match kind {
        uapi::HRC_BENCH_RAW_LATENCY | uapi::HRC_BENCH_WQ_LATENCY | uapi::HRC_BENCH_RAW_BURST => {
            let hop = kind == uapi::HRC_BENCH_WQ_LATENCY;
            // A burst: every timer due at one instant, so the last one's lateness is the
            // hrtimer core's cost of expiring them all, one after another.
            let burst = kind == uapi::HRC_BENCH_RAW_BURST;
            let mut timers = KVec::with_capacity(n, GFP_KERNEL)?;
            for _ in 0..n {
                let t = KBox::pin_init(
                    pin_init!(LateTimer {
                        timer <- RawTimer::new(late_expire, Clock::Monotonic, Expiry::Hard),
                        expiry: Atomic::new(0),
                        late: Atomic::new(i64::MIN),
                        hop,
                    }),
                    GFP_KERNEL,
                )?;
                timers.push(t, GFP_KERNEL)?;
            }
            let t0 = Clock::Monotonic.now() + LEAD;
            for t in &timers {
                let at = if burst {
                    t0
                } else {
                    t0 + r.below(spread as u64) as i64
                };
                t.expiry.store(at, Relaxed);
                t.timer.start(at);
            }
            let res = wait_all(
                || timers.iter().all(|t| t.late.load(Relaxed) != i64::MIN),
                spread,
            );
            for t in &timers {
                t.timer.cancel();
            }
            // Hops still queued would use freed timers: drain the queue first.
            // SAFETY: `system_highpri_wq` is set at boot and never changes; flushing a system
            // workqueue from process context is allowed.
            unsafe { bindings::__flush_workqueue(bindings::system_highpri_wq) };
            res?;
            for t in &timers {
                out.push(t.late.load(Relaxed), GFP_KERNEL)?;
            }
        }
        _ => {
            let mut slots = KVec::with_capacity(n, GFP_KERNEL)?;
            for _ in 0..n {
                slots.push((Atomic::new(0i64), Atomic::new(i64::MIN)), GFP_KERNEL)?;
            }
            SAMPLES.store(core::ptr::from_ref(&slots) as usize, Relaxed);
            let mut callouts = KVec::with_capacity(n, GFP_KERNEL)?;
            // In-kernel timeouts need an engine whose expiries run in soft irq, like the
            // module's kernel engine (a file's engine expires in hard irq).
            let soft: Option<Arc<HrEngine>> = if kind == uapi::HRC_BENCH_SOFT_LATENCY {
                Some(Engine::new(
                    Timebase::real(),
                    n as u32 + CHUNK as u32,
                    16,
                    Expiry::Soft,
                )?)
            } else {
                None
            };
            let t0 = Clock::Monotonic.now() + LEAD;
            let mut res = Ok(());
            for (i, (exp, _)) in slots.iter().enumerate() {
                let at = t0 + r.below(spread as u64) as i64;
                exp.store(at, Relaxed);
                let delay = at - Clock::Monotonic.now();
                if let Some(soft) = &soft {
                    // An in-kernel timeout armed at the exact absolute expiry.
                    res = soft
                        .call_once(
                            &soft.arming(),
                            0,
                            numbered(record_late, i),
                            When::At(at),
                            GFP_KERNEL,
                        )
                        .map(|_| ());
                } else {
                    res = callout::init(e, Mode::Mp, GFP_KERNEL).and_then(|c| {
                        callouts.push(c, GFP_KERNEL)?;
                        callout::reset(e, c, delay, 0, Run::Func(numbered(record_late, i)))?;
                        let mut l = e.lock();
                        let slot = l.lookup(c)?;
                        l.arm(slot, at, 0)
                    });
                }
                if res.is_err() {
                    break;
                }
            }
            if res.is_ok() {
                res = wait_all(
                    || slots.iter().all(|s| s.1.load(Relaxed) != i64::MIN),
                    spread,
                );
            }
            for c in callouts {
                let _ = callout::destroy(e, c);
            }
            if let Some(soft) = &soft {
                soft.shutdown();
            }
            SAMPLES.store(0, Relaxed);
            res?;
            for s in &slots {
                out.push(s.1.load(Relaxed), GFP_KERNEL)?;
            }
        }
    }
    Ok(stats(&mut out))
}

/// `HRC_IOC_BENCH` (enabled: the transport checked `enable_bench`).
pub(crate) fn ioctl(e: &Arc<HrEngine>, b: &mut uapi::hrc_bench) -> Result<isize> {
    let s = run(e, b)?;
    (b.min_ns, b.p50_ns, b.p99_ns, b.p999_ns, b.max_ns) = (s.min, s.p50, s.p99, s.p999, s.max);
    Ok(0)
}

fn run(e: &Arc<HrEngine>, b: &uapi::hrc_bench) -> Result<Stats> {
    let early = b.kind & uapi::HRC_BENCH_EARLIEST != 0;
    let parallel = b.kind & uapi::HRC_BENCH_PARALLEL != 0;
    let kind = b.kind & !(uapi::HRC_BENCH_EARLIEST | uapi::HRC_BENCH_PARALLEL);
    if parallel {
        // Shares nothing with other benchmarks: no population, no sample array.
        if b.pending != 0
            || early
            || !matches!(
                kind,
                uapi::HRC_BENCH_RAW_PAIR
                    | uapi::HRC_BENCH_KTIMEOUT_PAIR
                    | uapi::HRC_BENCH_KCALLOUT_PAIR
            )
        {
            return Err(EINVAL);
        }
        return pairs(e, kind, b.iterations, 0, false);
    }
    let _serial = BENCH_LOCK.lock();
    if early
        && !matches!(
            kind,
            uapi::HRC_BENCH_RAW_PAIR | uapi::HRC_BENCH_TIMEOUT_PAIR | uapi::HRC_BENCH_CALLOUT_PAIR
        )
    {
        return Err(EINVAL);
    }
    match kind {
        uapi::HRC_BENCH_RAW_PAIR
        | uapi::HRC_BENCH_TIMEOUT_PAIR
        | uapi::HRC_BENCH_CALLOUT_PAIR
        | uapi::HRC_BENCH_KTIMEOUT_PAIR
        | uapi::HRC_BENCH_KCALLOUT_PAIR
        | uapi::HRC_BENCH_LOCK_PAIR
        | uapi::HRC_BENCH_CLOCK_READ => {
            if b.pending > 2_000_000 {
                return Err(EINVAL);
            }
            pairs(e, kind, b.iterations, b.pending, early)
        }
        uapi::HRC_BENCH_RAW_LATENCY
        | uapi::HRC_BENCH_RAW_BURST
        | uapi::HRC_BENCH_SOFT_LATENCY
        | uapi::HRC_BENCH_THREAD_LATENCY
        | uapi::HRC_BENCH_WQ_LATENCY => latency(e, kind, b.iterations, b.spread_ns as i64),
        _ => Err(EINVAL),
    }
}
