//! Per-CPU scaling (P10 - P12): the same work from one CPU and from two at once, as ratios of
//! throughput measured in the same boot. Plain TCG only: under `-icount` the vCPUs take turns
//! on one host thread, so two CPUs can never do more than one.
//!
//! Rounds alternate one CPU and two CPUs (1 2 1 2 ...) and medians are compared: TCG's vCPUs
//! are host threads sharing the machine with everything else, so single rounds mean little;
//! the spread over the rounds is printed beside each figure.

use super::{emit, kbench, median, only_cpu, set_affinity, Metric};
use hrcallout::{sys, Device};
use std::sync::{Arc, Barrier};
use std::time::Instant;

const ROUNDS: usize = 5;
/// Pairs per kernel round (15 rounds each, see `HRC_IOC_BENCH`).
const PAIRS: u32 = 20_000;

/// Pairs per second of kernel benchmark `kind` run on CPUs `0..cpus` at once (each its own
/// file and thread, released together): all the pairs done over the wall time from the
/// release to the last thread's end.
fn pairs_per_sec(kind: u32, cpus: usize) -> Result<f64, String> {
    let start = Arc::new(Barrier::new(cpus + 1));
    let threads: Vec<_> = (0..cpus)
        .map(|cpu| {
            let start = start.clone();
            std::thread::spawn(move || -> Result<(), String> {
                set_affinity(&only_cpu(cpu));
                let d = Device::open().map_err(|e| e.to_string())?;
                start.wait();
                kbench(&d, kind | sys::HRC_BENCH_PARALLEL, PAIRS, 0, 0).map(drop)
            })
        })
        .collect();
    start.wait();
    let t0 = Instant::now();
    for t in threads {
        t.join()
            .map_err(|_| "benchmark thread panicked".to_string())??;
    }
    // 15 rounds of PAIRS per thread (HRC_IOC_BENCH).
    Ok((cpus as f64 * 15.0 * f64::from(PAIRS)) / t0.elapsed().as_secs_f64())
}

/// Callbacks per second of 200 callouts of one file, each spinning 1 ms, all due together
/// and run on CPUs `0..cpus` (alternating): the time from their expiry to the last record.
fn callouts_per_sec(d: &Device, ids: &[u64], cpus: u32) -> Result<f64, String> {
    let lead = 20_000_000;
    for (i, &id) in ids.iter().enumerate() {
        let r = sys::hrc_callout_reset {
            id,
            time: lead,
            flags: sys::HRC_CALLOUT_NS,
            actions: sys::HRC_CA_EVENT | sys::HRC_CA_SPIN,
            us: 1000,
            repeat: 0,
            cookie: i as u64,
        };
        d.callout_reset_bycpu(&r, i as u32 % cpus)
            .map_err(|e| format!("reset_bycpu: {e}"))?;
    }
    let mut got = 0;
    let mut first_fire = i64::MAX;
    while got < ids.len() {
        if !d.poll_readable(5000).map_err(|e| e.to_string())? {
            return Err(format!("{got} of {} callout records", ids.len()));
        }
        for e in d.read_events(256).map_err(|e| e.to_string())? {
            first_fire = first_fire.min(e.fire_ns);
            got += 1;
        }
    }
    let end = hrcallout::now_ns(hrcallout::CLOCK_MONOTONIC);
    // From the expiry (all fired in one pass) to the last record read.
    let secs = (end - first_fire).max(1) as f64 / 1e9;
    Ok(ids.len() as f64 / secs)
}

/// `(median of two-CPU rounds, median of one-CPU rounds, spread "min..max" of the ratios)`.
fn alternate(
    mut round: impl FnMut(usize) -> Result<f64, String>,
) -> Result<(f64, f64, String), String> {
    let (mut ones, mut twos, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let one = round(1)?;
        let two = round(2)?;
        ratios.push(two / one);
        ones.push(one);
        twos.push(two);
    }
    let lo = ratios.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = ratios.iter().cloned().fold(0.0, f64::max);
    Ok((
        median(twos),
        median(ones),
        format!("rounds {lo:.2}..{hi:.2}"),
    ))
}

/// P10 - P12; needs the benchmark module with `enable_bench=1` and two online CPUs.
pub(super) fn scaling_benchmarks(mode: &str) -> Result<(), String> {
    let (raw2, raw1, raw_spread) = alternate(|n| pairs_per_sec(sys::HRC_BENCH_RAW_PAIR, n))?;
    let raw_ratio = raw2 / raw1;
    emit(
        mode,
        &Metric {
            id: "P10r",
            name: format!("raw hrtimer start+cancel pairs/s, 2 CPUs vs 1 ({raw_spread})"),
            subject: raw2,
            baseline: raw1,
            unit: "op/s",
            cmp: "ge",
            target: 1.8,
        },
    );
    for (id, kind, what) in [
        (
            "P10",
            sys::HRC_BENCH_KTIMEOUT_PAIR,
            "in-kernel timeout+untimeout pairs/s",
        ),
        (
            "P11",
            sys::HRC_BENCH_KCALLOUT_PAIR,
            "in-kernel Callout reset+stop pairs/s",
        ),
    ] {
        let (two, one, spread) = alternate(|n| pairs_per_sec(kind, n))?;
        // The target: 1.8x, and not below the raw pairs' own scaling in this boot.
        emit(
            mode,
            &Metric {
                id,
                name: format!("{what}, 2 CPUs vs 1 ({spread}; raw pairs {raw_ratio:.2}x)"),
                subject: two,
                baseline: one,
                unit: "op/s",
                cmp: "ge",
                target: 1.8_f64.max((raw_ratio * 100.0).floor() / 100.0),
            },
        );
    }
    let d = Device::open().map_err(|e| e.to_string())?;
    let ids = (0..200)
        .map(|_| d.callout_init(sys::HRC_CALLOUT_INIT_MP, 0))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("callout_init: {e}"))?;
    let (two, one, spread) = alternate(|n| callouts_per_sec(&d, &ids, n as u32))?;
    emit(
        mode,
        &Metric {
            id: "P12",
            name: format!(
                "callbacks/s of one file's callouts spinning 1 ms, on 2 CPUs vs 1 ({spread})"
            ),
            subject: two,
            baseline: one,
            unit: "cb/s",
            cmp: "ge",
            target: 1.8,
        },
    );
    Ok(())
}
