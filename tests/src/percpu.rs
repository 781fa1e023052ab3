//! Per-CPU executors of a file's callouts, and CPU hotplug under pending timers and running
//! callbacks. The guest has two CPUs; CPU 1 can be taken offline.

use crate::common::*;
use crate::Case;
use hrcallout::{sys, Device, Event};
use std::collections::HashMap;
use std::fs;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// CPU 1's online switch: the test kernel has CONFIG_HOTPLUG_CPU.
const CPU1_ONLINE: &str = "/sys/devices/system/cpu/cpu1/online";

fn set_cpu1_online(on: bool) -> Result<(), String> {
    fs::write(CPU1_ONLINE, if on { "1" } else { "0" })
        .map_err(|e| format!("write {CPU1_ONLINE}: {e}"))
}

fn mp_callout(d: &Device) -> Result<u64, String> {
    d.callout_init(sys::HRC_CALLOUT_INIT_MP, 0)
        .map_err(|e| format!("callout_init_mp: {e}"))
}

fn reset_req(id: u64, delay_ns: i64, actions: u32, us: u32, cookie: u64) -> sys::hrc_callout_reset {
    sys::hrc_callout_reset {
        id,
        time: delay_ns,
        flags: sys::HRC_CALLOUT_NS,
        actions,
        us,
        repeat: 0,
        cookie,
    }
}

fn reset_bycpu_runs_the_callback_there() -> Result<(), String> {
    let d = open()?;
    let c = mp_callout(&d)?;
    for cpu in [1u32, 0, 1] {
        d.callout_reset_bycpu(&reset_req(c, MS, sys::HRC_CA_EVENT, 0, u64::from(cpu)), cpu)
            .map_err(|e| format!("reset_bycpu({cpu}): {e}"))?;
        let ev = one_event(&d, 3000)?;
        ensure!(ev.cpu == cpu, "reset_bycpu({cpu}) ran on CPU {}", ev.cpu);
    }
    // Offline or impossible CPUs, and a set reserved field.
    for cpu in [2u32, 4095, u32::MAX] {
        expect_errno(
            d.callout_reset_bycpu(&reset_req(c, MS, sys::HRC_CA_EVENT, 0, 0), cpu),
            libc::EINVAL,
            &format!("reset_bycpu({cpu})"),
        )?;
    }
    let mut bad = sys::hrc_callout_reset_bycpu {
        reset: reset_req(c, MS, sys::HRC_CA_EVENT, 0, 0),
        cpu: 0,
        reserved: 1,
    };
    // SAFETY: `bad` is the struct the ioctl is sized for, alive for the call.
    let r = unsafe {
        d.raw_ioctl(
            sys::HRC_IOC_CALLOUT_RESET_BYCPU,
            &mut bad as *mut _ as usize,
        )
    };
    expect_errno(r, libc::EINVAL, "reset_bycpu reserved")?;
    ensure!(
        collect(&d, 100, 4)?.is_empty(),
        "a refused reset armed the callout"
    );
    Ok(())
}

fn reset_runs_the_callback_on_the_calling_cpu() -> Result<(), String> {
    let d = open()?;
    let c = mp_callout(&d)?;
    let r = (|| {
        for cpu in [1usize, 0] {
            pin(Some(cpu))?;
            d.callout_reset(&reset_req(c, MS, sys::HRC_CA_EVENT, 0, 0))
                .map_err(|e| e.to_string())?;
            let ev = one_event(&d, 3000)?;
            ensure!(
                ev.cpu == cpu as u32,
                "reset on CPU {cpu} ran on CPU {}",
                ev.cpu
            );
        }
        Ok(())
    })();
    pin(None)?;
    r
}

fn callouts_of_one_file_on_two_cpus_run_in_parallel() -> Result<(), String> {
    let d = open()?;
    let (a, b) = (mp_callout(&d)?, mp_callout(&d)?);
    // Each spins 200 ms: one after the other they would take 400.
    let spin = sys::HRC_CA_EVENT | sys::HRC_CA_SPIN;
    let t0 = Instant::now();
    d.callout_reset_bycpu(&reset_req(a, MS, spin, 200_000, 0), 0)
        .map_err(|e| e.to_string())?;
    d.callout_reset_bycpu(&reset_req(b, MS, spin, 200_000, 1), 1)
        .map_err(|e| e.to_string())?;
    let ev = collect(&d, 2000, 2)?;
    let took = t0.elapsed();
    ensure!(ev.len() == 2, "expected 2 records, got {ev:?}");
    let cpus: Vec<u32> = ev.iter().map(|e| e.cpu).collect();
    ensure!(
        cpus.contains(&0) && cpus.contains(&1),
        "ran on CPUs {cpus:?}"
    );
    ensure!(
        took < Duration::from_millis(350),
        "two 200 ms callbacks on two CPUs took {took:?}: they ran one after the other"
    );
    Ok(())
}

/// Every record of `ev` by cookie: each must appear exactly once.
fn once_each(ev: &[Event], want: impl Iterator<Item = u64>) -> Result<(), String> {
    let mut seen: HashMap<u64, u32> = HashMap::new();
    for e in ev {
        *seen.entry(e.cookie).or_default() += 1;
    }
    for c in want {
        let n = seen.remove(&c).unwrap_or(0);
        ensure!(n == 1, "cookie {c}: {n} records");
    }
    ensure!(seen.is_empty(), "unexpected records: {seen:?}");
    Ok(())
}

fn cpu_hotplug_loses_and_repeats_nothing() -> Result<(), String> {
    let d = open()?;
    const N: u64 = 400;
    // Timeouts armed from CPU 1 (so the file's hrtimer is started there), due over 300 ms.
    pin(Some(1))?;
    let armed = (|| {
        for i in 0..N {
            d.timeout_ns(20 * MS + (i as i64 % 300) * MS, i + 1)
                .map_err(|e| format!("timeout: {e}"))?;
        }
        Ok::<(), String>(())
    })();
    pin(None)?;
    armed?;
    // A callout spinning on CPU 1 when it goes down, and one still pending there.
    let (running, pending) = (mp_callout(&d)?, mp_callout(&d)?);
    let spin = sys::HRC_CA_EVENT | sys::HRC_CA_SPIN;
    d.callout_reset_bycpu(&reset_req(running, MS, spin, 100_000, 10_001), 1)
        .map_err(|e| e.to_string())?;
    d.callout_reset_bycpu(
        &reset_req(pending, 150 * MS, sys::HRC_CA_EVENT, 0, 10_002),
        1,
    )
    .map_err(|e| e.to_string())?;
    sleep(Duration::from_millis(20));
    set_cpu1_online(false)?;
    // Taking a CPU down can take long under TCG: the pending callout may have run already.
    let still_pending = d.callout_pending(pending).map_err(|e| e.to_string())? == 1;
    let offline = (|| {
        expect_errno(
            d.callout_reset_bycpu(&reset_req(pending, MS, sys::HRC_CA_EVENT, 0, 0), 1),
            libc::EINVAL,
            "reset_bycpu on an offline CPU",
        )?;
        let ev = collect(&d, 1500, 2 * N as usize)?;
        once_each(&ev, (1..=N).chain([10_001, 10_002]))?;
        // The callout still pending when CPU 1 went down ran on the live CPU.
        let moved = ev.iter().find(|e| e.cookie == 10_002).map(|e| e.cpu);
        ensure!(
            !still_pending || moved == Some(0),
            "the moved callout ran on {moved:?}"
        );
        Ok(())
    })();
    set_cpu1_online(true)?;
    offline?;
    // Back online: CPU 1 runs callbacks again.
    d.callout_reset_bycpu(&reset_req(pending, MS, sys::HRC_CA_EVENT, 0, 7), 1)
        .map_err(|e| format!("reset_bycpu(1) after online: {e}"))?;
    let ev = one_event(&d, 3000)?;
    ensure!(
        ev.cpu == 1,
        "after online the callback ran on CPU {}",
        ev.cpu
    );
    Ok(())
}

/// Seconds of the two-CPU reset race (issue 17: 10 s).
const RACE_SECS: u64 = 10;

fn one_callout_reset_from_two_cpus_never_runs_twice() -> Result<(), String> {
    let d = std::sync::Arc::new(open()?);
    let c = mp_callout(&d)?;
    // One clock for both threads' windows: a thread resetting while the other's window is idle
    // would keep moving the deadline, and the callout would hardly run.
    let t0 = Instant::now();
    let until = t0 + Duration::from_secs(RACE_SECS);
    let threads: Vec<_> = (0..2u64)
        .map(|cpu| {
            let d = d.clone();
            std::thread::spawn(move || -> Result<(u64, u64), String> {
                pin(Some(cpu as usize))?;
                let (mut resets, mut stopped) = (0u64, 0u64);
                let mut seq = 0u64;
                // Windows of 8 ms: both CPUs reset it for 2 ms (a reset floors at one tick,
                // 4 ms, and moves the deadline), then leave it: it fires near 6 ms and its run
                // spins 10 ms, through the next window's resets from both CPUs and the fire
                // they make, which must wait for the run (possibly from the other CPU).
                while Instant::now() < until {
                    if t0.elapsed().as_micros() % 8000 >= 2000 {
                        sleep(Duration::from_micros(200));
                        continue;
                    }
                    seq += 1;
                    let r = reset_req(
                        c,
                        MS,
                        sys::HRC_CA_EVENT | sys::HRC_CA_SPIN,
                        10_000,
                        (cpu << 32) | seq,
                    );
                    d.callout_reset_bycpu(&r, cpu as u32)
                        .map_err(|e| format!("reset_bycpu: {e}"))?;
                    resets += 1;
                    if seq.is_multiple_of(3) {
                        stopped += d.callout_stop(c).map_err(|e| e.to_string())? as u64;
                    }
                }
                Ok((resets, stopped))
            })
        })
        .collect();
    // Meanwhile drain the records (a full queue would only coalesce them).
    let mut ev = Vec::new();
    while Instant::now() < until {
        ev.extend(collect(&d, 50, 1 << 20)?);
    }
    let (mut resets, mut stopped) = (0, 0);
    for t in threads {
        let (r, s) = t.join().map_err(|_| "race thread panicked".to_string())??;
        resets += r;
        stopped += s;
    }
    d.callout_stop_sync(c).map_err(|e| e.to_string())?;
    ev.extend(collect(&d, 300, 1 << 20)?);
    // Each arming runs at most once; a stop that returned 1 prevented one; the engine never
    // began a run while one was running (its own invariant, HRC_IOC_CHECK).
    let mut cookies: Vec<u64> = ev.iter().map(|e| e.cookie).collect();
    cookies.sort_unstable();
    let n = cookies.len();
    cookies.dedup();
    ensure!(
        cookies.len() == n,
        "an arming ran twice ({} duplicates)",
        n - cookies.len()
    );
    // A record unread when the next run ends folds it in (its overruns).
    let runs: u64 = ev.iter().map(|e| 1 + e.overruns).sum();
    ensure!(
        runs <= resets - stopped,
        "{runs} runs of {resets} resets with {stopped} stops that returned 1"
    );
    ensure!(
        runs > 100,
        "only {runs} runs ({n} records) in {RACE_SECS} s, {resets} resets, {stopped} stops"
    );
    let check = d.check().map_err(|e| e.to_string())?;
    ensure!(check.ok == 1, "engine check failed after the race");
    Ok(())
}

pub const CASES: &[Case] = &[
    (
        "one_callout_reset_from_two_cpus_never_runs_twice",
        one_callout_reset_from_two_cpus_never_runs_twice,
    ),
    (
        "reset_bycpu_runs_the_callback_there",
        reset_bycpu_runs_the_callback_there,
    ),
    (
        "reset_runs_the_callback_on_the_calling_cpu",
        reset_runs_the_callback_on_the_calling_cpu,
    ),
    (
        "callouts_of_one_file_on_two_cpus_run_in_parallel",
        callouts_of_one_file_on_two_cpus_run_in_parallel,
    ),
    (
        "cpu_hotplug_loses_and_repeats_nothing",
        cpu_hotplug_loses_and_repeats_nothing,
    ),
];
