//! P14: the longest expiry pass a file's hrtimer runs in hard irq (issue 23 point 1).
//!
//! A file's timers expire in hard irq. So that no user can hold a CPU there for long, a pass
//! handles at most `HARD_PASS_EXPIRIES` (64) expiries and hands the rest to an executor lane
//! (thread context, `rust/engine/expire.rs`). Each figure is the file's `hrc-longest-pass`
//! (fdinfo): the duration of its longest hrtimer pass by the clock the pass expired, which
//! under `-icount shift=0` counts instructions. Target: 50 µs of this emulated CPU, 50 000
//! instructions, whatever is due. Three loads of 1 000 000 timers each:
//! - **P14a**: QNX `SI_TIMER` one-shots armed for one absolute instant; every record is read
//!   and checked (one each, none early).
//! - **P14b**: the same timers periodic every 1 ns from one instant, for a second of guest
//!   time: every pass finds every timer due again.
//! - **P14c**: MP callouts that queue a record, reset for one instant (a relative reset's delay
//!   is that instant minus a clock read just before the call, so they come due within the
//!   call's own few hundred ns of it); every record is read.
//!
//! Only under icount: on plain TCG a pass's duration is wall-clock noise.

use super::{emit_absolute, MS};
use hrcallout::{now_ns, sys, Device, CLOCK_MONOTONIC};
use std::time::Duration;

const N: u64 = 1_000_000;

/// The target: 50 µs of the emulated CPU (one instruction a ns under icount).
const TARGET_NS: f64 = 50_000.0;

/// Arms with `arm` every timer for one instant, far enough ahead that the arming ends
/// before it (twice what creating them took, plus 200 ms); returns the instant.
fn arm_for_one_instant(
    created_in: i64,
    ids: &[u64],
    mut arm: impl FnMut(u64, i64) -> Result<(), String>,
) -> Result<i64, String> {
    let due = now_ns(CLOCK_MONOTONIC) + 2 * created_in + 200 * MS;
    for &id in ids {
        arm(id, due)?;
    }
    if now_ns(CLOCK_MONOTONIC) >= due {
        return Err("P14: arming outran its lead: no burst".into());
    }
    Ok(due)
}

/// Reads records until `n` have come, checking that none came before `due`.
fn read_all(d: &Device, n: u64, due: i64, what: &str) -> Result<(), String> {
    let mut got = 0u64;
    while got < n {
        for e in d
            .read_events(256)
            .map_err(|e| format!("{what}: read: {e}"))?
        {
            if e.fire_ns < due {
                return Err(format!("{what}: a record {} ns early", due - e.fire_ns));
            }
            got += 1;
        }
    }
    Ok(())
}

/// The file's longest pass: ns and expiries; fails unless its check passes too.
fn longest(d: &Device, what: &str) -> Result<(i64, u32), String> {
    let c = d.check().map_err(|e| e.to_string())?;
    if c.ok == 0 {
        return Err(format!("{what}: the file's check failed"));
    }
    Ok(d.fdinfo().map_err(|e| e.to_string())?.longest_pass)
}

/// `N` QNX `SI_TIMER` timers on a new file, and how long creating them took.
fn qnx_timers(d: &Device) -> Result<(Vec<u64>, i64), String> {
    let t = now_ns(CLOCK_MONOTONIC);
    let ids = (0..N)
        .map(|i| d.timer_create(CLOCK_MONOTONIC, sys::HRC_NOTIFY_SI_TIMER, i))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("P14: timer_create: {e}"))?;
    Ok((ids, now_ns(CLOCK_MONOTONIC) - t))
}

/// Reports the longest pass of `d` as metric `id`.
fn report(mode: &str, d: &Device, id: &str, what: &str) -> Result<(), String> {
    let (ns, expiries) = longest(d, id)?;
    emit_absolute(
        mode,
        id,
        &format!("longest hard-irq pass, {what} ({expiries} expiries in it)"),
        ns as f64,
        "ns",
        TARGET_NS,
    );
    Ok(())
}

pub(super) fn pass_benchmarks(mode: &str) -> Result<(), String> {
    if mode != "icount" {
        return Ok(());
    }
    let settime = |d: &Device, id, at: i64, interval| {
        d.timer_settime(id, sys::HRC_TIMER_ABSTIME, at as u64, interval)
            .map(drop)
            .map_err(|e| format!("P14: settime: {e}"))
    };

    let d = Device::open().map_err(|e| e.to_string())?;
    let (ids, took) = qnx_timers(&d)?;
    let due = arm_for_one_instant(took, &ids, |id, at| settime(&d, id, at, 0))?;
    read_all(&d, N, due, "P14a")?;
    report(mode, &d, "P14a", "1M timers due at one instant")?;
    drop(d);

    let d = Device::open().map_err(|e| e.to_string())?;
    let (ids, took) = qnx_timers(&d)?;
    let due = arm_for_one_instant(took, &ids, |id, at| settime(&d, id, at, 1))?;
    let t = now_ns(CLOCK_MONOTONIC);
    std::thread::sleep(Duration::from_nanos(
        (due - t).max(0) as u64 + 1_000_000_000,
    ));
    for &id in &ids {
        settime(&d, id, 0, 0)?;
    }
    report(mode, &d, "P14b", "1M periodic 1 ns timers")?;
    drop(d);

    let d = Device::open().map_err(|e| e.to_string())?;
    let t = now_ns(CLOCK_MONOTONIC);
    let ids = (0..N)
        .map(|_| d.callout_init(sys::HRC_CALLOUT_INIT_MP, 0))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("P14c: callout_init: {e}"))?;
    let took = now_ns(CLOCK_MONOTONIC) - t;
    let due = arm_for_one_instant(took, &ids, |id, at| {
        d.callout_reset(&sys::hrc_callout_reset {
            id,
            time: (at - now_ns(CLOCK_MONOTONIC)).max(1),
            flags: sys::HRC_CALLOUT_NS,
            actions: sys::HRC_CA_EVENT,
            ..Default::default()
        })
        .map_err(|e| format!("P14c: callout_reset: {e}"))
    })?;
    read_all(&d, N, due, "P14c")?;
    report(mode, &d, "P14c", "1M callouts due within ns of one instant")?;
    Ok(())
}
