//! P13: how much faster than real time a virtual file runs a timer-heavy workload.
//!
//! The workload (issue 24): 1 000 periodic timers, half QNX `SI_TIMER` and half Mach periodic,
//! with periods spread log-uniformly over 10 ms .. 10 s, and a reader that, every tick of
//! simulated time, reads every record, arms 10 STREAMS timeouts (100 ms .. 30 s) and cancels
//! the 5 oldest still pending. Periods and delays come from a fixed seed, so every run does
//! the same work.
//!
//! The periods alone come due about 14 500 times per simulated second (1 000 × E[1/period] =
//! 1 000 × (1/0.01 − 1/10) / ln 1000), so 24 hours hold 1.25 billion expiries: no emulated CPU
//! runs those one by one in a minute. Two figures, then:
//! - **P13x, exact**: one simulated minute, 1 s ticks, the default pass budget: every expiry
//!   at its own instant, as on real time. Target: faster than real time (≥ 1 simulated s per
//!   guest s).
//! - **P13, 24 hours**: 10 s ticks with a budget of one pass per advance, so that what is due
//!   in a tick runs in one late pass at its end and periodic timers fold their periods into
//!   overruns, as after a 10 s stall (`HRC_IOC_CLOCK_ADVANCE`'s budget, docs/semantics.md).
//!   Target: the day in under a minute of guest time (≥ 1 440 simulated s per guest s).
//!
//! Both check what they simulated: every period of every periodic timer is accounted for
//! (`sum(1 + overruns)` equals the periods elapsed) and every timeout either fired once or was
//! cancelled, so a fast wrong answer fails the benchmark instead of passing it.

use super::{emit, emit_info, Metric, MS};
use hrcallout::{now_ns, sys, Device, CLOCK_MONOTONIC};
use std::collections::{HashMap, VecDeque};

const S: i64 = 1_000 * MS;
const PERIODIC: usize = 1_000;

/// splitmix64: a fixed-seed stream of pseudo-random numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Log-uniform in [lo, hi) ns.
    fn log_uniform(&mut self, lo: i64, hi: i64) -> i64 {
        let (l, h) = ((lo as f64).ln(), (hi as f64).ln());
        (l + (h - l) * self.unit()).exp() as i64
    }
}

/// What one run simulated and how long it took.
struct Run {
    wall_ns: i64,
    expiries: u64,
    records: u64,
    passes: u64,
}

/// Runs the workload for `span` simulated ns in `tick` steps, `max_passes` per advance.
fn simulate(span: i64, tick: i64, max_passes: u32) -> Result<Run, String> {
    let d = Device::open().map_err(|e| format!("open: {e}"))?;
    d.clock_virtual(Some((0, 0)))
        .map_err(|e| format!("CLOCK_VIRTUAL: {e}"))?;
    // Room for every Mach message of a tick (a 1 s tick of the exact run queues about 7 000),
    // so none is withheld: a withheld expiry rides on the timer's next message, and at the end
    // there is none.
    d.set_qlimit(65_536)
        .map_err(|e| format!("SET_QLIMIT: {e}"))?;
    let mut rng = Rng(0x5eed_1e55);
    // Periodic timers: id -> period; the first expiry is one period after 0.
    let mut period = HashMap::new();
    for i in 0..PERIODIC {
        let p = rng.log_uniform(10 * MS, 10 * S);
        let id = if i % 2 == 0 {
            let t = d
                .timer_create(CLOCK_MONOTONIC, sys::HRC_NOTIFY_SI_TIMER, i as u64)
                .map_err(|e| format!("timer_create: {e}"))?;
            d.timer_settime(t, 0, p as u64, p as u64)
                .map_err(|e| format!("timer_settime: {e}"))?;
            t
        } else {
            let t = d
                .timer_create(CLOCK_MONOTONIC, sys::HRC_NOTIFY_MACH, i as u64)
                .map_err(|e| format!("timer_create: {e}"))?;
            d.timer_arm(t, p, p, sys::HRC_MACH_PERIODIC)
                .map_err(|e| format!("timer_arm: {e}"))?;
            t
        };
        period.insert(id, p);
    }
    let mut counted: HashMap<u64, u64> = HashMap::new();
    let mut pending: VecDeque<u64> = VecDeque::new();
    let (mut armed, mut cancelled, mut fired) = (0u64, 0u64, 0u64);
    let mut run = Run {
        wall_ns: 0,
        expiries: 0,
        records: 0,
        passes: 0,
    };
    let t0 = now_ns(CLOCK_MONOTONIC);
    let mut now = 0;
    while now < span {
        now += tick;
        let a = d
            .clock_advance_to(now, max_passes)
            .map_err(|e| format!("CLOCK_ADVANCE to {now}: {e}"))?;
        run.passes += u64::from(a.passes);
        for ev in d.read_queued().map_err(|e| format!("read: {e}"))? {
            run.records += 1;
            if u32::from(ev.kind) == sys::HRC_EV_TIMEOUT {
                fired += 1;
            } else {
                *counted.entry(ev.id).or_default() += 1 + ev.overruns;
            }
        }
        for _ in 0..10 {
            let delay = rng.log_uniform(100 * MS, 30 * S);
            pending.push_back(
                d.timeout_ns(delay, 0)
                    .map_err(|e| format!("timeout: {e}"))?,
            );
            armed += 1;
        }
        for _ in 0..5 {
            // The oldest pending may have fired meanwhile: ENOENT, not a cancel.
            if let Some(id) = pending.pop_front() {
                cancelled += u64::from(d.untimeout(id).is_ok());
            }
        }
    }
    // Let every timeout still pending come due (30 s at most), without timing it.
    run.wall_ns = now_ns(CLOCK_MONOTONIC) - t0;
    d.clock_advance_to(now + 31 * S, 1)
        .map_err(|e| format!("CLOCK_ADVANCE: {e}"))?;
    for ev in d.read_queued().map_err(|e| format!("read: {e}"))? {
        if u32::from(ev.kind) == sys::HRC_EV_TIMEOUT {
            fired += 1;
        }
    }
    if fired + cancelled != armed {
        return Err(format!(
            "P13: {armed} timeouts armed, {fired} fired, {cancelled} cancelled"
        ));
    }
    // The final advance also ran periods after `now`: count periodic expiries only up to the
    // last read, where every one of them is in a record already read.
    for (id, p) in &period {
        let want = (now / p) as u64;
        let got = counted.get(id).copied().unwrap_or(0);
        if got != want {
            return Err(format!(
                "P13: a {p} ns periodic timer accounted {got} expiries by {now} ns, not {want}"
            ));
        }
        run.expiries += got;
    }
    run.expiries += fired;
    Ok(run)
}

pub(super) fn virtual_time_benchmarks(mode: &str) -> Result<(), String> {
    for (id, name, span, tick, budget, target) in [
        (
            "P13x",
            "virtual time, exact passes: simulated s per guest s (1 min, 1 s ticks)",
            60 * S,
            S,
            0,
            1.0,
        ),
        (
            "P13",
            "virtual time, 24 h in 10 s ticks, 1-pass budget: simulated s per guest s",
            86_400 * S,
            10 * S,
            1,
            1440.0,
        ),
    ] {
        let r = simulate(span, tick, budget)?;
        emit(
            mode,
            &Metric {
                id,
                name: name.into(),
                subject: span as f64 / r.wall_ns as f64,
                baseline: 1.0,
                unit: "x",
                cmp: "ge",
                target,
            },
        );
        let secs = r.wall_ns as f64 / 1e9;
        emit_info(mode, id, "guest seconds it took", secs, "s");
        emit_info(mode, id, "expiries accounted", r.expiries as f64, "");
        emit_info(mode, id, "records read", r.records as f64, "");
        emit_info(mode, id, "expiry passes", r.passes as f64, "");
    }
    Ok(())
}
