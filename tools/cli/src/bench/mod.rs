//! `hrcallout bench`: figures against baselines measured in the same boot.
//!
//! Each metric prints one JSON line (`{"id":..,"subject":..,"baseline":..,"ratio":..}`) and a
//! human line with its target, met or not. Rounds of subject and baseline are interleaved
//! (A B A B ...) and medians compared. Under QEMU `-icount shift=0` a guest ns is one guest
//! instruction, so ratios are deterministic; under plain TCG they are reported, not gated.

mod passes;
mod scaling;
mod simulate;

use hrcallout::{now_ns, sys, Device, CLOCK_MONOTONIC};
use std::time::Duration;

const MS: i64 = 1_000_000;
const ROUNDS: usize = 9;
/// How far ahead a burst of timers is due: room to arm 10k of them one by one, even under TCG.
const BURST_LEAD_NS: i64 = 1000 * MS;

struct Metric {
    id: &'static str,
    name: String,
    subject: f64,
    baseline: f64,
    unit: &'static str,
    /// "le" (ratio must be <= target) or "ge".
    cmp: &'static str,
    target: f64,
}

fn emit(mode: &str, m: &Metric) {
    let ratio = if m.baseline != 0.0 {
        m.subject / m.baseline
    } else {
        f64::NAN
    };
    let met = if m.cmp == "le" {
        ratio <= m.target
    } else {
        ratio >= m.target
    };
    println!(
        "{{\"id\":\"{}\",\"name\":\"{}\",\"mode\":\"{mode}\",\"unit\":\"{}\",\"subject\":{:.1},\"baseline\":{:.1},\"ratio\":{:.3},\"target\":\"{} {}\",\"met\":{met}}}",
        m.id, m.name, m.unit, m.subject, m.baseline, ratio, if m.cmp == "le" { "<=" } else { ">=" }, m.target
    );
    eprintln!(
        "{:<4} {:<58} subject {:>12.1} {:<5} baseline {:>12.1}  ratio {:>7.3}  target {} {:<5} {}",
        m.id,
        m.name,
        m.subject,
        m.unit,
        m.baseline,
        ratio,
        if m.cmp == "le" { "<=" } else { ">=" },
        m.target,
        if met { "MET" } else { "MISSED" }
    );
}

/// A figure judged on its own value (`value <= max`), not as a ratio to a baseline.
fn emit_absolute(mode: &str, id: &str, name: &str, value: f64, unit: &str, max: f64) {
    let met = value <= max;
    println!(
        "{{\"id\":\"{id}\",\"name\":\"{name}\",\"mode\":\"{mode}\",\"unit\":\"{unit}\",\"subject\":{value:.1},\"target\":\"<= {max}\",\"met\":{met}}}"
    );
    eprintln!(
        "{id:<4} {name}: {value:.1} {unit} (target <= {max}: {})",
        if met { "MET" } else { "MISSED" }
    );
}

/// A figure with no target: it explains another one.
fn emit_info(mode: &str, id: &str, name: &str, value: f64, unit: &str) {
    println!(
        "{{\"id\":\"{id}\",\"name\":\"{name}\",\"mode\":\"{mode}\",\"unit\":\"{unit}\",\"value\":{value:.1}}}"
    );
    eprintln!("{id:<4} {name}: {value:.1} {unit}");
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// The nearest-rank `p`-th percentile (0 < p <= 100) of `sorted` (ascending, not empty): the
/// smallest sample with at least p % of the samples at or below it.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs `a` and `b` interleaved for `ROUNDS` rounds; returns their median ns per iteration.
fn interleaved(iters: u32, mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, f64) {
    let (mut ra, mut rb) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let t = now_ns(CLOCK_MONOTONIC);
        for _ in 0..iters {
            a();
        }
        ra.push((now_ns(CLOCK_MONOTONIC) - t) as f64 / f64::from(iters));
        let t = now_ns(CLOCK_MONOTONIC);
        for _ in 0..iters {
            b();
        }
        rb.push((now_ns(CLOCK_MONOTONIC) - t) as f64 / f64::from(iters));
    }
    (median(ra), median(rb))
}

fn timerfd() -> i32 {
    // SAFETY: plain syscall.
    unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        )
    }
}

/// A one-shot `itimerspec` (0 disarms).
fn oneshot(ns: i64) -> libc::itimerspec {
    libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: libc::timespec {
            tv_sec: ns / 1_000_000_000,
            tv_nsec: ns % 1_000_000_000,
        },
    }
}

fn timerfd_set(fd: i32, ns: i64) {
    // SAFETY: valid pointers.
    unsafe { libc::timerfd_settime(fd, 0, &oneshot(ns), std::ptr::null_mut()) };
}

fn posix_timer() -> libc::timer_t {
    let mut sev: libc::sigevent = unsafe { std::mem::zeroed() };
    sev.sigev_notify = libc::SIGEV_NONE;
    let mut t: libc::timer_t = std::ptr::null_mut();
    // SAFETY: valid pointers.
    unsafe { libc::timer_create(libc::CLOCK_MONOTONIC, &mut sev, &mut t) };
    t
}

fn posix_set(t: libc::timer_t, ns: i64) {
    // SAFETY: valid pointers.
    unsafe { libc::timer_settime(t, 0, &oneshot(ns), std::ptr::null_mut()) };
}

fn mem_available_kb() -> i64 {
    let s = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("MemFree:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn raise_nofile() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid pointer; raising the soft limit to the hard limit (root may raise more).
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        let want = libc::rlimit {
            rlim_cur: 1 << 20,
            rlim_max: 1 << 20,
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &want) != 0 {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        } else {
            r = want;
        }
    }
    r.rlim_cur
}

fn kbench(
    d: &Device,
    kind: u32,
    iterations: u32,
    pending: u64,
    spread: u64,
) -> Result<sys::hrc_bench, String> {
    let mut b = sys::hrc_bench {
        kind,
        iterations,
        pending,
        spread_ns: spread,
        ..Default::default()
    };
    // SAFETY: the argument points at the struct this ioctl's number is sized for, alive for the call.
    unsafe { d.raw_ioctl(sys::HRC_IOC_BENCH, &mut b as *mut _ as usize) }
        .map_err(|e| format!("HRC_IOC_BENCH {kind}: {e}"))?;
    Ok(b)
}

/// The calling thread's CPU affinity.
fn affinity() -> libc::cpu_set_t {
    // SAFETY: a zeroed `cpu_set_t` is a valid empty set, filled in by the call.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set);
        set
    }
}

/// Sets the calling thread's CPU affinity.
fn set_affinity(set: &libc::cpu_set_t) {
    // SAFETY: `set` is a valid CPU set.
    unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) };
}

/// In-kernel figures (P1, P6, P7), needs `enable_bench=1`. Runs on CPU 0 only, as the
/// reference measurements did, so that every pending timer is in one CPU's tree; the
/// affinity is restored after (the two-thread figure needs both CPUs).
fn kernel_benchmarks(mode: &str, big: bool) -> Result<(), String> {
    on_cpu0(|| kernel_benchmarks_on_cpu0(mode, big))
}

/// Runs `f` with the calling thread pinned to CPU 0, then restores its affinity (whatever `f`
/// returns).
fn on_cpu0<T>(f: impl FnOnce() -> T) -> T {
    let saved = affinity();
    set_affinity(&only_cpu(0));
    let r = f();
    set_affinity(&saved);
    r
}

/// The CPU set of `cpu` alone.
fn only_cpu(cpu: usize) -> libc::cpu_set_t {
    // SAFETY: a zeroed `cpu_set_t` is a valid empty set; CPU_SET only writes into it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        set
    }
}

/// Measures the raw, callout and timeout pairs with `pair(kind)` and emits the callout's and
/// the timeout's ratio to the raw one under `ids` (targets 1.3 and 1.6).
fn emit_pairs(
    mode: &str,
    ids: (&'static str, &'static str),
    suffix: &str,
    pair: impl Fn(u32) -> Result<f64, String>,
) -> Result<(), String> {
    let raw = pair(sys::HRC_BENCH_RAW_PAIR)?;
    for (id, kind, what, target) in [
        (
            ids.0,
            sys::HRC_BENCH_CALLOUT_PAIR,
            "callout_reset+stop",
            1.3,
        ),
        (ids.1, sys::HRC_BENCH_TIMEOUT_PAIR, "timeout+untimeout", 1.6),
    ] {
        let m = Metric {
            id,
            name: format!("{what} {suffix}"),
            subject: pair(kind)?,
            baseline: raw,
            unit: "ns",
            cmp: "le",
            target,
        };
        emit(mode, &m);
    }
    Ok(())
}

/// The C driver's pair time (samples/lapb's `bench_pair_ns`), if it is loaded and measured one.
fn c_driver_pair_ns() -> Option<f64> {
    let v = std::fs::read_to_string("/sys/module/hrc_lapb/parameters/bench_pair_ns").ok()?;
    let ns: f64 = v.trim().parse().ok()?;
    (ns > 0.0).then_some(ns)
}

fn kernel_benchmarks_on_cpu0(mode: &str, big: bool) -> Result<(), String> {
    let d = Device::open().map_err(|e| e.to_string())?;
    let pendings: &[u64] = if big {
        &[0, 1000, 100_000, 1_000_000]
    } else {
        &[0, 1000, 100_000]
    };
    for &p in pendings {
        let pair = |kind| kbench(&d, kind, 2000, p, 0).map(|b| b.p50_ns as f64);
        let suffix = format!("pair vs raw hrtimer start+cancel, {p} pending");
        emit_pairs(mode, ("P1a", "P1b"), &suffix, pair)?;
    }
    // The special case of the reference's method (5.3): the probe is always the earliest
    // timer, so every arm moves the timer the next expiry is programmed for (the engine's
    // own hrtimer, for the engine's pairs).
    for p in [0u64, 100_000] {
        let pair =
            |kind| kbench(&d, kind | sys::HRC_BENCH_EARLIEST, 2000, p, 0).map(|b| b.p50_ns as f64);
        let suffix = format!("pair vs raw pair, probe always the earliest, {p} pending");
        emit_pairs(mode, ("P1e", "P1e"), &suffix, pair)?;
    }
    // The public in-kernel API a driver calls (this CPU's kernel engine: id lookup, tick
    // conversion, the per-CPU engine), against the same raw pair.
    let raw = kbench(&d, sys::HRC_BENCH_RAW_PAIR, 2000, 0, 0)?.p50_ns as f64;
    let mut rust_timeout_pair = 0.0;
    for (kind, what, target) in [
        (
            sys::HRC_BENCH_KCALLOUT_PAIR,
            "in-kernel Callout reset+stop",
            1.3,
        ),
        (
            sys::HRC_BENCH_KTIMEOUT_PAIR,
            "in-kernel timeout()+untimeout()",
            1.4,
        ),
    ] {
        let m = Metric {
            id: "P1k",
            name: format!("{what} pair vs raw hrtimer start+cancel, 0 pending"),
            subject: kbench(&d, kind, 2000, 0, 0)?.p50_ns as f64,
            baseline: raw,
            unit: "ns",
            cmp: "le",
            target,
        };
        emit(mode, &m);
        if kind == sys::HRC_BENCH_KTIMEOUT_PAIR {
            rust_timeout_pair = m.subject;
        }
    }
    // P1c: the same pair made by a C driver through the exported API (samples/lapb, loaded
    // with bench_pairs=2000 before this run, same method, same CPU), against the Rust one.
    if let Some(c_pair) = c_driver_pair_ns() {
        let m = Metric {
            id: "P1c",
            name: "C driver timeout()+untimeout() pair (exported API) vs the Rust in-kernel pair"
                .into(),
            subject: c_pair,
            baseline: rust_timeout_pair,
            unit: "ns",
            cmp: "le",
            target: 1.05,
        };
        emit(mode, &m);
    }
    // Floors in the same boot, to explain where the engine's overhead goes.
    let lock = kbench(&d, sys::HRC_BENCH_LOCK_PAIR, 2000, 0, 0)?.p50_ns;
    let clock = kbench(&d, sys::HRC_BENCH_CLOCK_READ, 2000, 0, 0)?.p50_ns;
    println!("{{\"id\":\"floor\",\"name\":\"engine lock+unlock / clock read\",\"mode\":\"{mode}\",\"unit\":\"ns\",\"lock\":{lock},\"clock\":{clock}}}");
    eprintln!("floor engine lock+unlock {lock} ns, CLOCK_MONOTONIC read {clock} ns");
    let n = 10_000;
    let raw = kbench(&d, sys::HRC_BENCH_RAW_LATENCY, n, 0, 1_000_000_000)?;
    let soft = kbench(&d, sys::HRC_BENCH_SOFT_LATENCY, n, 0, 1_000_000_000)?;
    let thread = kbench(&d, sys::HRC_BENCH_THREAD_LATENCY, n, 0, 1_000_000_000)?;
    let hop = kbench(&d, sys::HRC_BENCH_WQ_LATENCY, n, 0, 1_000_000_000)?;
    for (label, s) in [
        ("raw hard hrtimer", &raw),
        ("soft-irq timeout", &soft),
        ("thread-context callout", &thread),
        ("hard hrtimer -> workqueue", &hop),
    ] {
        println!(
            "{{\"id\":\"lat\",\"name\":\"lateness {label}\",\"mode\":\"{mode}\",\"unit\":\"ns\",\"p50\":{},\"p99\":{},\"p999\":{},\"max\":{}}}",
            s.p50_ns, s.p99_ns, s.p999_ns, s.max_ns
        );
        eprintln!(
            "lat  lateness {label:<28} p50 {:>9} p99 {:>9} p99.9 {:>9} max {:>9} ns",
            s.p50_ns, s.p99_ns, s.p999_ns, s.max_ns
        );
    }
    // The hrtimer core's own share of P5: expiring a burst of raw timers due together.
    let burst = kbench(&d, sys::HRC_BENCH_RAW_BURST, n, 0, 1_000_000)?;
    emit_info(
        mode,
        "P5f",
        "floor: raw hard hrtimer expiry per timer, 10000 due together (last one's lateness / n)",
        burst.max_ns as f64 / f64::from(n),
        "ns",
    );
    // P6: soft p99 <= raw hard p99 + 1000 instructions, expressed as a ratio against that sum.
    emit(
        mode,
        &Metric {
            id: "P6",
            name: "p99 lateness soft-irq path vs raw hard p99 + 1000".into(),
            subject: soft.p99_ns as f64,
            baseline: (raw.p99_ns + 1000) as f64,
            unit: "ns",
            cmp: "le",
            target: 1.0,
        },
    );
    emit(
        mode,
        &Metric {
            id: "P7",
            name: "p99 lateness thread-context path vs workqueue hop".into(),
            subject: thread.p99_ns as f64,
            baseline: hop.p99_ns as f64,
            unit: "ns",
            cmp: "le",
            target: 1.2,
        },
    );
    Ok(())
}

/// P4c: one file holds 1M pending timeouts armed from userspace; bytes per timeout at that
/// scale. Fails the benchmark if any arming fails or the engine's own count disagrees.
fn million_pending(mode: &str) -> Result<(), String> {
    const N: usize = 1_000_000;
    let far = 3600 * 1_000_000_000i64;
    let mut ops: Vec<sys::hrc_timeout> = (0..N)
        .map(|i| sys::hrc_timeout {
            time: far + i as i64,
            flags: sys::HRC_TIMEOUT_NS,
            ..Default::default()
        })
        .collect();
    let d = Device::open().map_err(|e| e.to_string())?;
    let m0 = mem_available_kb();
    // HRC_IOC_BATCH takes at most 65536 entries per call.
    for chunk in ops.chunks_mut(65536) {
        let done = d
            .timeout_batch(chunk)
            .map_err(|e| format!("HRC_IOC_BATCH: {e}"))?;
        if done as usize != chunk.len() {
            return Err(format!("batch armed {done} of {}", chunk.len()));
        }
    }
    std::thread::sleep(Duration::from_millis(100));
    let bytes = (m0 - mem_available_kb()) as f64 * 1024.0 / N as f64;
    let c = d.check().map_err(|e| e.to_string())?;
    if c.ok == 0 || c.live as usize != N {
        return Err(format!(
            "after arming {N}: check ok={} live={}",
            c.ok, c.live
        ));
    }
    emit_absolute(
        mode,
        "P4c",
        &format!("bytes per pending timeout, {N} pending on one file"),
        bytes,
        "B",
        128.0,
    );
    Ok(())
}

/// Samples per side of P8.
const P8_SAMPLES: usize = 1000;

/// Userspace figures (P2 - P5, P8, P9).
fn user_benchmarks(mode: &str) -> Result<(), String> {
    let d = Device::open().map_err(|e| e.to_string())?;
    let far = 3600 * 1000 * MS;
    // P2: one arm+cancel pair.
    let tfd = timerfd();
    let pt = posix_timer();
    let (ours, tf) = interleaved(
        2000,
        || {
            let id = d.timeout_ns(far, 0).unwrap();
            d.untimeout(id).unwrap();
        },
        || {
            timerfd_set(tfd, far);
            timerfd_set(tfd, 0);
        },
    );
    let (_, px) = interleaved(
        2000,
        || {},
        || {
            posix_set(pt, far);
            posix_set(pt, 0);
        },
    );
    emit(
        mode,
        &Metric {
            id: "P2",
            name: "ioctl timeout+untimeout vs timerfd_settime arm+disarm".into(),
            subject: ours,
            baseline: tf,
            unit: "ns",
            cmp: "le",
            target: 1.0,
        },
    );
    emit(
        mode,
        &Metric {
            id: "P2p",
            name: "ioctl timeout+untimeout vs timer_settime arm+disarm".into(),
            subject: ours,
            baseline: px,
            unit: "ns",
            cmp: "le",
            target: 1.3,
        },
    );
    // SAFETY: our fds/timers.
    unsafe {
        libc::close(tfd);
        libc::timer_delete(pt);
    }

    // P3 + P4: batch-arming N timeouts vs creating and arming N timerfds; memory per timer.
    let nofile = raise_nofile();
    let n_fd = (nofile.saturating_sub(64) as usize).min(20_000);
    let n = 100_000usize;
    let ops: Vec<sys::hrc_timeout> = (0..n)
        .map(|i| sys::hrc_timeout {
            time: far + i as i64,
            flags: sys::HRC_TIMEOUT_NS,
            ..Default::default()
        })
        .collect();
    let mut ops2 = ops.clone();
    let m0 = mem_available_kb();
    let t = now_ns(CLOCK_MONOTONIC);
    for chunk in ops2.chunks_mut(65536) {
        let mut b = sys::hrc_batch {
            ops: chunk.as_mut_ptr() as u64,
            count: chunk.len() as u32,
            done: 0,
        };
        // SAFETY: the argument points at the struct this ioctl's number is sized for, alive for the call.
        unsafe { d.raw_ioctl(sys::HRC_IOC_BATCH, &mut b as *mut _ as usize) }
            .map_err(|e| format!("HRC_IOC_BATCH: {e}"))?;
        if b.done as usize != chunk.len() {
            return Err(format!("batch armed {} of {}", b.done, chunk.len()));
        }
    }
    let batch_ns = (now_ns(CLOCK_MONOTONIC) - t) as f64 / n as f64;
    std::thread::sleep(Duration::from_millis(100));
    let ours_bytes = (m0 - mem_available_kb()) as f64 * 1024.0 / n as f64;
    drop(d);
    std::thread::sleep(Duration::from_millis(100));
    let m1 = mem_available_kb();
    let t = now_ns(CLOCK_MONOTONIC);
    let mut fds = Vec::with_capacity(n_fd);
    for i in 0..n_fd {
        let fd = timerfd();
        if fd < 0 {
            break;
        }
        timerfd_set(fd, far + i as i64);
        fds.push(fd);
    }
    let tfd_ns = (now_ns(CLOCK_MONOTONIC) - t) as f64 / fds.len().max(1) as f64;
    std::thread::sleep(Duration::from_millis(100));
    let tfd_bytes = (m1 - mem_available_kb()) as f64 * 1024.0 / fds.len().max(1) as f64;
    for fd in fds {
        // SAFETY: our fd.
        unsafe { libc::close(fd) };
    }
    emit(
        mode,
        &Metric {
            id: "P3",
            // Inverted: the ratio is the speedup, so the timerfd cost is the subject.
            name: format!(
                "speedup: timerfd create+arm per timer ({n_fd}) / HRC_IOC_BATCH arm per timer ({n})"
            ),
            subject: tfd_ns,
            baseline: batch_ns,
            unit: "ns",
            cmp: "ge",
            target: 5.0,
        },
    );
    emit(
        mode,
        &Metric {
            id: "P4",
            name: format!("kernel bytes per pending timeout ({n}) vs per timerfd"),
            subject: ours_bytes,
            baseline: tfd_bytes,
            unit: "B",
            cmp: "le",
            target: 0.2,
        },
    );
    emit_absolute(
        mode,
        "P4b",
        "bytes per pending timeout",
        ours_bytes,
        "B",
        128.0,
    );

    // P5: delivered expirations per second to one reader, K firing together. Both sides arm
    // every timer for one absolute instant (relative delays would spread the expiries over the
    // arming loop, and the figure would measure arming), and both are timed from that instant
    // to the last event read: the expiry burst, the wakeup and the reads, all included.
    let k = n_fd.min(10_000);
    let d = Device::open().map_err(|e| e.to_string())?;
    let mut ids = Vec::with_capacity(k);
    for i in 0..k {
        ids.push(
            d.timer_create(CLOCK_MONOTONIC, sys::HRC_NOTIFY_SI_TIMER, i as u64)
                .map_err(|e| e.to_string())?,
        );
    }
    let due = arm_burst(&d, &ids, "P5 hrcallout timers")?;
    read_n(&d, k)?;
    let ours_rate = k as f64 / ((now_ns(CLOCK_MONOTONIC) - due).max(1) as f64 / 1e9);
    // The reader's share: the same burst again, read only once every record is queued.
    arm_burst(&d, &ids, "P5r hrcallout timers")?;
    while (d.check().map_err(|e| e.to_string())?.queued as usize) < k {
        std::thread::sleep(Duration::from_millis(10));
    }
    let t = now_ns(CLOCK_MONOTONIC);
    read_n(&d, k)?;
    let read_ns = (now_ns(CLOCK_MONOTONIC) - t) as f64 / k as f64;
    drop(d);
    // SAFETY: plain epoll/timerfd syscalls on our own fds.
    let epoll_rate = unsafe {
        let ep = libc::epoll_create1(0);
        let mut fds = Vec::new();
        for i in 0..k {
            let fd = timerfd();
            let mut e = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: i as u64,
            };
            libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut e);
            fds.push(fd);
        }
        let due = now_ns(CLOCK_MONOTONIC) + BURST_LEAD_NS;
        for &fd in &fds {
            libc::timerfd_settime(
                fd,
                libc::TFD_TIMER_ABSTIME,
                &oneshot(due),
                std::ptr::null_mut(),
            );
        }
        ensure_armed_before(due, "P5 timerfds")?;
        let mut evs = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
        let mut got = 0;
        while got < k {
            let m = libc::epoll_wait(ep, evs.as_mut_ptr(), 256, 5000);
            if m <= 0 {
                break;
            }
            for e in &evs[..m as usize] {
                let mut v = 0u64;
                libc::read(fds[e.u64 as usize], (&mut v as *mut u64).cast(), 8);
                got += 1;
            }
        }
        let rate = got as f64 / ((now_ns(CLOCK_MONOTONIC) - due).max(1) as f64 / 1e9);
        for fd in fds {
            libc::close(fd);
        }
        libc::close(ep);
        if got < k {
            return Err(format!("P5: epoll saw {got} of {k} timerfd expiries"));
        }
        rate
    };
    emit(
        mode,
        &Metric {
            id: "P5",
            name: format!("events/s to one reader, {k} due together, vs epoll + {k} timerfds"),
            subject: ours_rate,
            baseline: epoll_rate,
            unit: "ev/s",
            cmp: "ge",
            target: 3.0,
        },
    );
    // Under icount a guest nanosecond is one instruction: the cost of one delivered event.
    emit_absolute(
        mode,
        "P5b",
        "guest ns (icount: instructions) per delivered event",
        1e9 / ours_rate,
        "ns",
        1000.0,
    );

    emit_info(
        mode,
        "P5r",
        "of which reading: guest ns per record read, 10000 already queued, 256 per read()",
        read_ns,
        "ns",
    );

    // P8: lateness as the reader sees it: expiry -> read() returns. The reader is pinned to
    // CPU 0 (where it armed, so both sides' expiry and wake-up stay on one CPU whatever the
    // scheduler does), and each side takes 1000 samples, so that the nearest-rank p99 is the
    // 990th: a percentile, not one of the largest few samples.
    on_cpu0(|| reader_lateness(mode))?;

    // P9: two threads on two files vs one thread (wall clock only: icount is single-threaded).
    // P9s: the same two threads sharing one file (one engine lock), the case the decision to
    // keep one timer queue per file is about (docs/semantics.md, "CPUs").
    let shared = std::sync::Arc::new(Device::open().map_err(|e| e.to_string())?);
    let pairs_on = |threads: usize, one_file: bool| -> f64 {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                let stop = stop.clone();
                let shared = shared.clone();
                std::thread::spawn(move || {
                    let own;
                    let d: &Device = if one_file {
                        &shared
                    } else {
                        own = Device::open().unwrap();
                        &own
                    };
                    let mut n = 0u64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let id = d.timeout_ns(far, 0).unwrap();
                        d.untimeout(id).unwrap();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(400));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>() as f64 / 0.4
    };
    let pairs_per_sec = |threads: usize| pairs_on(threads, false);
    if mode != "icount" {
        // Interleaved rounds (1 2 1 2 ...), medians: TCG's vCPUs are host threads sharing the
        // machine with everything else, so one round of each says little.
        let (mut ones, mut twos) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            ones.push(pairs_per_sec(1));
            twos.push(pairs_per_sec(2));
        }
        let (mut ones_s, mut twos_s) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            ones_s.push(pairs_on(1, true));
            twos_s.push(pairs_on(2, true));
        }
        let (one, two) = (median(ones), median(twos));
        emit(
            mode,
            &Metric {
                id: "P9s",
                name: "arm+cancel pairs/s, 2 threads sharing 1 file vs 1 thread (reported)".into(),
                subject: median(twos_s),
                baseline: median(ones_s),
                unit: "op/s",
                cmp: "ge",
                target: 1.0,
            },
        );
        emit(
            mode,
            &Metric {
                id: "P9",
                name: "arm+cancel pairs/s, 2 threads on 2 files vs 1 thread".into(),
                subject: two,
                baseline: one,
                unit: "op/s",
                cmp: "ge",
                target: 1.8,
            },
        );
    }
    Ok(())
}

/// Fails if arming finished after `due`: the burst would then overlap the arming loop.
fn ensure_armed_before(due: i64, what: &str) -> Result<(), String> {
    let now = now_ns(CLOCK_MONOTONIC);
    if now >= due {
        return Err(format!(
            "{what}: arming ended {} ns after the instant they were due; raise BURST_LEAD_NS",
            now - due
        ));
    }
    Ok(())
}

/// Arms every timer of `ids` (QNX timers) for one absolute instant `BURST_LEAD_NS` ahead and
/// returns it; fails if the arming overran it.
fn arm_burst(d: &Device, ids: &[u64], what: &str) -> Result<i64, String> {
    let due = now_ns(CLOCK_MONOTONIC) + BURST_LEAD_NS;
    for &id in ids {
        d.timer_settime(id, sys::HRC_TIMER_ABSTIME, due as u64, 0)
            .map_err(|e| e.to_string())?;
    }
    ensure_armed_before(due, what)?;
    Ok(due)
}

/// Reads records, 256 per call, until `k` have come.
fn read_n(d: &Device, k: usize) -> Result<(), String> {
    let mut got = 0;
    while got < k {
        got += d.read_events(256).map_err(|e| e.to_string())?.len();
    }
    Ok(())
}

/// A record must never come before its timer was due.
fn ensure_fired_after(fire_ns: i64, due_ns: i64) -> Result<(), String> {
    if fire_ns < due_ns {
        return Err(format!("a timeout fired {} ns early", due_ns - fire_ns));
    }
    Ok(())
}

/// Refuses to time anything on a debug kernel or without a precise clock.
fn preflight() -> Result<(), String> {
    let cs =
        std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
            .unwrap_or_default();
    if cs.trim() != "tsc" {
        return Err(format!(
            "clocksource is '{}', not tsc: figures would be meaningless",
            cs.trim()
        ));
    }
    // High-resolution mode switches on a moment after the clocksource becomes tsc.
    let info = || {
        Device::open()
            .and_then(|d| d.info())
            .map_err(|e| e.to_string())
    };
    let mut i = info()?;
    for _ in 0..100 {
        if i.resolution_ns == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        i = info()?;
    }
    if i.resolution_ns != 1 {
        return Err(format!("hrtimer resolution {} ns, not 1", i.resolution_ns));
    }
    // The module reports the kernel's debugging from its build config; the files are a
    // second opinion for a module built without that report.
    if i.kernel_debug != 0
        || std::path::Path::new("/proc/lockdep").exists()
        || std::path::Path::new("/sys/kernel/debug/kmemleak").exists()
    {
        return Err(format!(
            "this kernel has lockdep, KASAN, KCSAN or kmemleak (HRC_INFO_* {:#x}): use the \
             benchmark kernel (make bench)",
            i.kernel_debug
        ));
    }
    Ok(())
}

pub fn run(mode: &str, kernel: bool, user: bool, big: bool) -> Result<(), String> {
    preflight()?;
    if kernel {
        kernel_benchmarks(mode, big)?;
    }
    if user {
        user_benchmarks(mode)?;
        million_pending(mode)?;
        passes::pass_benchmarks(mode)?;
        simulate::virtual_time_benchmarks(mode)?;
    }
    // Scaling over CPUs means nothing under -icount (one host thread runs every vCPU).
    if kernel && mode != "icount" {
        scaling::scaling_benchmarks(mode)?;
    }
    Ok(())
}

/// `hrcallout bench --virtual-only`: the virtual-time simulation alone.
pub fn run_virtual_time(mode: &str) -> Result<(), String> {
    preflight()?;
    simulate::virtual_time_benchmarks(mode)
}

/// `hrcallout bench --passes-only`: the longest expiry passes alone (P14).
pub fn run_passes(mode: &str) -> Result<(), String> {
    preflight()?;
    passes::pass_benchmarks(mode)
}

/// The operations `hrcallout spin` repeats for scripts/profile.sh.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum SpinOp {
    /// HRC_IOC_TIMEOUT + HRC_IOC_UNTIMEOUT (P2's pair).
    Timeout,
    /// HRC_IOC_CALLOUT_RESET + HRC_IOC_CALLOUT_STOP on one MP callout.
    Callout,
    /// timerfd_settime arm + disarm (P2's baseline).
    Timerfd,
    /// HRC_IOC_BATCH of 64 timeouts, then their untimeouts (P3).
    Batch,
    /// 64 QNX timers due at one instant 5 ms ahead, then their records read (P5).
    Burst,
}

/// Repeats `op` until killed; prints `PROF-READY` once set up.
pub fn spin(op: SpinOp) -> Result<(), String> {
    let d = Device::open().map_err(|e| e.to_string())?;
    let far = 3600 * 1000 * MS;
    let err = |e: std::io::Error| e.to_string();
    let callout = d.callout_init(sys::HRC_CALLOUT_INIT_MP, 0).map_err(err)?;
    let tfd = timerfd();
    let timers = (0..64)
        .map(|_| d.timer_create(CLOCK_MONOTONIC, sys::HRC_NOTIFY_SI_TIMER, 0))
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    println!("PROF-READY");
    loop {
        match op {
            SpinOp::Timeout => {
                let id = d.timeout_ns(far, 0).map_err(err)?;
                d.untimeout(id).map_err(err)?;
            }
            SpinOp::Callout => {
                let r = sys::hrc_callout_reset {
                    id: callout,
                    time: far,
                    flags: sys::HRC_CALLOUT_NS,
                    actions: sys::HRC_CA_EVENT,
                    ..Default::default()
                };
                d.callout_reset(&r).map_err(err)?;
                d.callout_stop(callout).map_err(err)?;
            }
            SpinOp::Timerfd => {
                timerfd_set(tfd, far);
                timerfd_set(tfd, 0);
            }
            SpinOp::Batch => {
                let mut ops = [sys::hrc_timeout {
                    time: far,
                    flags: sys::HRC_TIMEOUT_NS,
                    ..Default::default()
                }; 64];
                d.timeout_batch(&mut ops).map_err(err)?;
                for o in &ops {
                    d.untimeout(o.id).map_err(err)?;
                }
            }
            SpinOp::Burst => {
                let due = now_ns(CLOCK_MONOTONIC) + 5 * MS;
                for &id in &timers {
                    d.timer_settime(id, sys::HRC_TIMER_ABSTIME, due as u64, 0)
                        .map_err(err)?;
                }
                read_n(&d, timers.len())?;
            }
        }
    }
}

/// P8: reader lateness of hrcallout and timerfd, `P8_SAMPLES` each (run pinned, see the caller).
fn reader_lateness(mode: &str) -> Result<(), String> {
    let d = Device::open().map_err(|e| e.to_string())?;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let fd = timerfd();
    // SAFETY: switching our own timerfd to blocking reads.
    unsafe { libc::fcntl(fd, libc::F_SETFL, 0) };
    // Both sides measure from the same point: the clock read just before the arming call, plus
    // the delay (the kernel's own expiry is a little later, by the syscall entry, on both).
    for _ in 0..P8_SAMPLES {
        let t = now_ns(CLOCK_MONOTONIC);
        d.timeout_ns(2 * MS, 0).map_err(|e| e.to_string())?;
        let ev = d.read_events(1).map_err(|e| e.to_string())?;
        ensure_fired_after(ev[0].fire_ns, t + 2 * MS)?;
        ours.push((now_ns(CLOCK_MONOTONIC) - (t + 2 * MS)) as f64);
        let t = now_ns(CLOCK_MONOTONIC);
        timerfd_set(fd, 2 * MS);
        let mut v = 0u64;
        // SAFETY: blocking read of 8 bytes into `v`.
        unsafe { libc::read(fd, (&mut v as *mut u64).cast(), 8) };
        theirs.push((now_ns(CLOCK_MONOTONIC) - (t + 2 * MS)) as f64);
    }
    // SAFETY: our fd.
    unsafe { libc::close(fd) };
    emit(
        mode,
        &Metric {
            id: "P8",
            name: "reader lateness p50 vs timerfd blocking read".into(),
            subject: median(ours.clone()),
            baseline: median(theirs.clone()),
            unit: "ns",
            cmp: "le",
            target: 1.2,
        },
    );
    ours.sort_by(|a, b| a.partial_cmp(b).unwrap());
    theirs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    emit(
        mode,
        &Metric {
            id: "P8",
            name: "reader lateness p99 (nearest rank of 1000) vs timerfd blocking read".into(),
            subject: percentile(&ours, 99.0),
            baseline: percentile(&theirs, 99.0),
            unit: "ns",
            cmp: "le",
            target: 1.2,
        },
    );
    drop(d);
    Ok(())
}
