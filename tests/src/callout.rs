//! DragonFly callout(9) through the ioctls.

use crate::common::*;
use crate::Case;
use hrcallout::{sys, Device, Event};
use std::thread::sleep;
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn reset(
    d: &Device,
    id: u64,
    delay_ns: i64,
    actions: u32,
    us: u32,
    repeat: u32,
) -> Result<(), String> {
    let r = sys::hrc_callout_reset {
        id,
        time: delay_ns,
        flags: sys::HRC_CALLOUT_NS,
        actions,
        us,
        repeat,
        cookie: id,
    };
    d.callout_reset(&r)
        .map_err(|e| format!("callout_reset: {e}"))
}

fn st(d: &Device, id: u64) -> Result<(i32, i32), String> {
    let a = d.callout_active(id).map_err(|e| e.to_string())?;
    let p = d.callout_pending(id).map_err(|e| e.to_string())?;
    Ok((a, p))
}

/// A lock of `kind` and a callout associated with it (`callout_init_lk`).
fn locked_callout(d: &Device, kind: u32) -> Result<(u64, u64), String> {
    let lk = d
        .lock_create(kind)
        .map_err(|e| format!("lock_create: {e}"))?;
    let c = d
        .callout_init(sys::HRC_CALLOUT_INIT_LK, lk)
        .map_err(|e| format!("callout_init_lk: {e}"))?;
    Ok((lk, c))
}

fn runs(ev: &[Event]) -> u64 {
    ev.iter().map(|e| 1 + e.overruns).sum()
}

fn stop_of_a_pending_callout_returns_1_and_no_event() -> Result<(), String> {
    let d = open()?;
    let c = d
        .callout_init(sys::HRC_CALLOUT_INIT_MP, 0)
        .map_err(|e| e.to_string())?;
    reset(&d, c, 100 * MS, sys::HRC_CA_EVENT, 0, 0)?;
    ensure!(
        d.callout_stop(c).map_err(|e| e.to_string())? == 1,
        "stop of a pending callout != 1"
    );
    ensure!(
        st(&d, c)? == (0, 0),
        "after stop: active/pending {:?}",
        st(&d, c)?
    );
    ensure!(collect(&d, 300, 4)?.is_empty(), "stopped callout ran");
    ensure!(
        d.callout_stop(c).map_err(|e| e.to_string())? == 0,
        "second stop != 0"
    );
    Ok(())
}

fn stop_while_running_returns_0_and_the_event_arrives() -> Result<(), String> {
    let d = open()?;
    let c = d
        .callout_init(sys::HRC_CALLOUT_INIT_MP, 0)
        .map_err(|e| e.to_string())?;
    reset(&d, c, MS, sys::HRC_CA_EVENT | sys::HRC_CA_SPIN, 300_000, 0)?;
    sleep(ms(100)); // the callback is spinning for 300 ms
    ensure!(
        d.callout_stop(c).map_err(|e| e.to_string())? == 0,
        "stop of a running callout != 0"
    );
    let ev = collect(&d, 2000, 4)?;
    ensure!(
        runs(&ev) == 1,
        "expected the running callback's event, got {ev:?}"
    );
    Ok(())
}

fn stop_sync_returns_after_the_running_callback() -> Result<(), String> {
    let d = open()?;
    d.set_nonblocking(true).map_err(|e| e.to_string())?;
    let c = d
        .callout_init(sys::HRC_CALLOUT_INIT_MP, 0)
        .map_err(|e| e.to_string())?;
    // Plain stop: returns while the callback still spins (its event is not there yet).
    reset(&d, c, MS, sys::HRC_CA_EVENT | sys::HRC_CA_SPIN, 300_000, 0)?;
    sleep(ms(100));
    d.callout_stop(c).map_err(|e| e.to_string())?;
    ensure!(
        d.read_events(4).is_err(),
        "event present right after plain stop: the test cannot see a window"
    );
    collect(&d, 2000, 4)?;
    // stop_sync: returns only when the callback ended, so its event is already queued.
    reset(&d, c, MS, sys::HRC_CA_EVENT | sys::HRC_CA_SPIN, 300_000, 0)?;
    sleep(ms(100));
    let t0 = now();
    let r = d.callout_stop_sync(c).map_err(|e| e.to_string())?;
    let waited = now() - t0;
    ensure!(r == 0, "stop_sync of a running callout returned {r}");
    let ev = d
        .read_events(4)
        .map_err(|e| format!("no event right after stop_sync ({e}): it did not wait"))?;
    ensure!(runs(&ev) == 1, "events {ev:?}");
    ensure!(
        waited >= 50 * MS,
        "stop_sync waited only {waited} ns for a 300 ms callback"
    );
    Ok(())
}

fn stop_under_the_lock_after_fire_prevents_the_run() -> Result<(), String> {
    let d = open()?;
    let (lk, c) = locked_callout(&d, sys::HRC_LOCK_MUTEX)?;
    reset(&d, c, 5 * MS, sys::HRC_CA_EVENT, 0, 0)?;
    // Hold the lock 200 ms: the timer fires at 5 ms and the executor waits for the lock;
    // then stop with the lock held.
    let r = d
        .lock_hold(lk, 200_000, sys::HRC_HOLD_STOP, c)
        .map_err(|e| e.to_string())?;
    ensure!(
        r == 1,
        "stop under the lock after the fire returned {r}, expected 1 (prevented)"
    );
    ensure!(
        collect(&d, 300, 4)?.is_empty(),
        "the callback ran after a stop made under its lock"
    );
    // Without the stop, the callback runs once the lock is free, and reports the lock held.
    reset(&d, c, 5 * MS, sys::HRC_CA_EVENT, 0, 0)?;
    d.lock_hold(lk, 100_000, sys::HRC_HOLD_NONE, 0)
        .map_err(|e| e.to_string())?;
    let ev = one_event(&d, 2000)?;
    ensure!(
        ev.flags & sys::HRC_EVF_LOCK_HELD != 0,
        "callback ran without its lock: {ev:?}"
    );
    Ok(())
}

fn stop_sync_under_its_own_lock_does_not_deadlock() -> Result<(), String> {
    let d = open()?;
    let (lk, c) = locked_callout(&d, sys::HRC_LOCK_MUTEX)?;
    reset(&d, c, 5 * MS, sys::HRC_CA_EVENT, 0, 0)?;
    let r = d
        .lock_hold(lk, 100_000, sys::HRC_HOLD_STOP_SYNC, c)
        .map_err(|e| e.to_string())?;
    ensure!(r == 1, "stop_sync under own lock returned {r}");
    ensure!(collect(&d, 200, 4)?.is_empty(), "callback ran");
    Ok(())
}

fn reset_from_inside_the_callback() -> Result<(), String> {
    let d = open()?;
    let c = d
        .callout_init(sys::HRC_CALLOUT_INIT_MP, 0)
        .map_err(|e| e.to_string())?;
    reset(&d, c, 5 * MS, sys::HRC_CA_EVENT | sys::HRC_CA_RESET, 0, 2)?;
    let ev = collect(&d, 500, 10)?;
    ensure!(
        runs(&ev) == 3,
        "1 run + 2 self-resets, got {} runs: {ev:?}",
        runs(&ev)
    );
    ensure!(
        ev.iter().all(|e| e.extra == 1 || e.extra == 0),
        "self-reset results {ev:?}"
    );
    Ok(())
}

fn reset_of_a_running_callout_gives_exactly_one_more_run() -> Result<(), String> {
    let d = open()?;
    let c = d
        .callout_init(sys::HRC_CALLOUT_INIT_MP, 0)
        .map_err(|e| e.to_string())?;
    reset(&d, c, MS, sys::HRC_CA_EVENT | sys::HRC_CA_SPIN, 200_000, 0)?;
    sleep(ms(60)); // running now
                   // A deadline an ioctl under TCG cannot outlast, so "pending" is checked before it.
    reset(&d, c, 100 * MS, sys::HRC_CA_EVENT, 0, 0)?;
    ensure!(
        d.callout_pending(c).map_err(|e| e.to_string())? == 1,
        "reset while running is not pending"
    );
    let ev = collect(&d, 600, 10)?;
    ensure!(runs(&ev) == 2, "expected 2 runs, got {}: {ev:?}", runs(&ev));
    Ok(())
}

fn active_pending_truth_table() -> Result<(), String> {
    let d = open()?;
    let c = d
        .callout_init(sys::HRC_CALLOUT_INIT_MP, 0)
        .map_err(|e| e.to_string())?;
    ensure!(st(&d, c)? == (0, 0), "after init {:?}", st(&d, c)?);
    reset(&d, c, 30 * MS, sys::HRC_CA_EVENT, 0, 0)?;
    ensure!(st(&d, c)? == (1, 1), "after reset {:?}", st(&d, c)?);
    one_event(&d, 2000)?;
    ensure!(st(&d, c)? == (1, 0), "after fire {:?}", st(&d, c)?);
    d.callout_deactivate(c).map_err(|e| e.to_string())?;
    ensure!(st(&d, c)? == (0, 0), "after deactivate {:?}", st(&d, c)?);
    reset(&d, c, 30 * MS, sys::HRC_CA_EVENT, 0, 0)?;
    ensure!(st(&d, c)? == (1, 1), "after second reset {:?}", st(&d, c)?);
    d.callout_stop(c).map_err(|e| e.to_string())?;
    ensure!(st(&d, c)? == (0, 0), "after stop {:?}", st(&d, c)?);
    // Deactivating a pending callout skips its run (DragonFly 2014).
    reset(&d, c, 20 * MS, sys::HRC_CA_EVENT, 0, 0)?;
    d.callout_deactivate(c).map_err(|e| e.to_string())?;
    ensure!(collect(&d, 200, 4)?.is_empty(), "deactivated callout ran");
    Ok(())
}

fn callouts_on_one_mutex_run_under_it() -> Result<(), String> {
    let d = open()?;
    let lk = d
        .lock_create(sys::HRC_LOCK_MUTEX)
        .map_err(|e| e.to_string())?;
    let mut ids = Vec::new();
    // Reset from one CPU: their callbacks share that CPU's executor lane, which runs them in
    // the order they fired (callouts of different CPUs are only serialised by the mutex).
    pin(Some(0))?;
    let armed = (|| {
        for _ in 0..16 {
            let c = d
                .callout_init(sys::HRC_CALLOUT_INIT_LK, lk)
                .map_err(|e| e.to_string())?;
            reset(
                &d,
                c,
                2 * MS,
                sys::HRC_CA_EVENT | sys::HRC_CA_SLEEP,
                2000,
                0,
            )?;
            ids.push(c);
        }
        Ok::<(), String>(())
    })();
    pin(None)?;
    armed?;
    let ev = collect(&d, 1000, 32)?;
    ensure!(runs(&ev) == 16, "{} runs of 16", runs(&ev));
    ensure!(
        ev.iter().all(|e| e.flags & sys::HRC_EVF_LOCK_HELD != 0),
        "a callback ran without the mutex"
    );
    // Each event's fire time is when it was taken off the timer; one lane runs them one after
    // another, so completion order equals fire order.
    ensure!(
        ev.windows(2).all(|w| w[0].fire_ns <= w[1].fire_ns),
        "events out of order"
    );
    Ok(())
}

fn non_mp_callouts_hold_the_module_wide_lock() -> Result<(), String> {
    let d = open()?;
    let c = d
        .callout_init(sys::HRC_CALLOUT_INIT, 0)
        .map_err(|e| e.to_string())?;
    reset(&d, c, MS, sys::HRC_CA_EVENT, 0, 0)?;
    let ev = one_event(&d, 2000)?;
    ensure!(
        ev.flags & sys::HRC_EVF_LOCK_HELD != 0,
        "callout_init callback without the module-wide lock"
    );
    Ok(())
}

fn spinlock_callouts_refuse_to_sleep() -> Result<(), String> {
    let d = open()?;
    let (_, c) = locked_callout(&d, sys::HRC_LOCK_SPIN)?;
    let r = sys::hrc_callout_reset {
        id: c,
        time: MS,
        flags: sys::HRC_CALLOUT_NS,
        actions: sys::HRC_CA_SLEEP,
        us: 10,
        repeat: 0,
        cookie: 0,
    };
    expect_errno(d.callout_reset(&r), libc::EINVAL, "sleep under a spinlock")?;
    reset(
        &d,
        c,
        MS,
        sys::HRC_CA_EVENT | sys::HRC_CA_SPIN | sys::HRC_CA_STOP_SYNC,
        500,
        0,
    )?;
    let ev = one_event(&d, 2000)?;
    ensure!(ev.flags & sys::HRC_EVF_LOCK_HELD != 0, "spinlock not held");
    ensure!(
        ev.extra == 0,
        "stop_sync from inside the callback returned {}",
        ev.extra as i64
    );
    Ok(())
}

fn callout_errors() -> Result<(), String> {
    let d = open()?;
    expect_errno(
        d.callout_stop(12345),
        libc::ENOENT,
        "stop of an unknown callout",
    )?;
    expect_errno(
        d.callout_init(sys::HRC_CALLOUT_INIT_LK, 999),
        libc::ENOENT,
        "init_lk with an unknown lock",
    )?;
    expect_errno(d.callout_init(7, 0), libc::EINVAL, "unknown mode")?;
    expect_errno(
        d.callout_init(sys::HRC_CALLOUT_INIT_MP, 5),
        libc::EINVAL,
        "init_mp with a lock",
    )?;
    expect_errno(d.lock_create(9), libc::EINVAL, "unknown lock kind")?;
    let c = d
        .callout_init(sys::HRC_CALLOUT_INIT_MP, 0)
        .map_err(|e| e.to_string())?;
    let r = sys::hrc_callout_reset {
        id: c,
        time: MS,
        flags: sys::HRC_CALLOUT_NS,
        actions: 0x400,
        ..Default::default()
    };
    expect_errno(d.callout_reset(&r), libc::EINVAL, "unknown action")?;
    let r = sys::hrc_callout_reset {
        id: c,
        time: MS,
        flags: 0x10,
        ..Default::default()
    };
    expect_errno(d.callout_reset(&r), libc::EINVAL, "unknown flag")?;
    let t = d.timeout_ns(10_000 * MS, 0).map_err(|e| e.to_string())?;
    expect_errno(
        d.callout_stop(t),
        libc::ENOENT,
        "a timeout id used as a callout",
    )?;
    expect_errno(
        d.untimeout(c),
        libc::ENOENT,
        "a callout id used as a timeout",
    )?;
    let other = open()?;
    expect_errno(
        other.callout_stop(c),
        libc::ENOENT,
        "another file's callout",
    )?;
    d.callout_destroy(c).map_err(|e| e.to_string())?;
    expect_errno(d.callout_active(c), libc::ENOENT, "destroyed callout")?;
    expect_errno(
        d.lock_hold(1234, 10, 0, 0),
        libc::ENOENT,
        "hold of an unknown lock",
    )?;
    Ok(())
}

fn close_while_callbacks_run() -> Result<(), String> {
    for _ in 0..5 {
        let d = open()?;
        let lk = d
            .lock_create(sys::HRC_LOCK_MUTEX)
            .map_err(|e| e.to_string())?;
        for i in 0..8 {
            let mode = if i % 2 == 0 {
                sys::HRC_CALLOUT_INIT_MP
            } else {
                sys::HRC_CALLOUT_INIT_LK
            };
            let c = d
                .callout_init(mode, if i % 2 == 0 { 0 } else { lk })
                .map_err(|e| e.to_string())?;
            reset(
                &d,
                c,
                MS,
                sys::HRC_CA_EVENT | sys::HRC_CA_SLEEP | sys::HRC_CA_RESET,
                5000,
                1000,
            )?;
        }
        sleep(ms(30));
        drop(d); // must wait for the running callback and stop the self-resetting ones
    }
    Ok(())
}

/// A record describes the run that happened: a reset (new cookie) made while the callback
/// runs does not rename the running arming's record.
fn a_reset_during_the_run_keeps_the_runs_cookie() -> Result<(), String> {
    let d = open()?;
    let c = d
        .callout_init(sys::HRC_CALLOUT_INIT_MP, 0)
        .map_err(|e| e.to_string())?;
    let arm = |cookie: u64, time: i64, actions: u32, us: u32| sys::hrc_callout_reset {
        id: c,
        time,
        flags: sys::HRC_CALLOUT_NS,
        actions,
        us,
        repeat: 0,
        cookie,
    };
    // The callback spins 0.9 s (the longest is 1 s); the reset comes 0.4 s after the expiry. On a host so slow
    // that the executor has not started the callback by then, the reset prevents the run
    // (no record at all): try again, up to 5 times.
    for _ in 0..5 {
        d.callout_reset(&arm(
            1,
            10 * MS,
            sys::HRC_CA_EVENT | sys::HRC_CA_SPIN,
            900_000,
        ))
        .map_err(|e| e.to_string())?;
        let t0 = now();
        while d.callout_pending(c).map_err(|e| e.to_string())? == 1 {
            ensure!(now() - t0 < 10_000 * MS, "the callout never fired");
            sleep(ms(1));
        }
        sleep(ms(400));
        d.callout_reset(&arm(2, 100_000 * MS, sys::HRC_CA_EVENT, 0))
            .map_err(|e| e.to_string())?;
        ensure!(
            d.callout_stop(c).map_err(|e| e.to_string())? == 1,
            "new schedule not stopped"
        );
        let ev = collect(&d, 2500, 4)?;
        if ev.is_empty() {
            continue;
        }
        ensure!(ev.len() == 1, "records {ev:?}");
        ensure!(
            ev[0].cookie == 1,
            "the run's record carries cookie {}, not its arming's 1",
            ev[0].cookie
        );
        return Ok(());
    }
    Err("the callback never started within 0.4 s of its expiry in 5 tries".into())
}

/// `callout_init` callouts run under one module-wide lock, across files too: two sleeping
/// callbacks of two files, due together, cannot overlap, so the second ends no sooner than two
/// windows after they were due (MP callouts on two files could sleep side by side).
fn the_module_wide_lock_serialises_init_callouts_across_files() -> Result<(), String> {
    const WINDOW_US: u32 = 300_000;
    let files = [open()?, open()?];
    let mut ids = Vec::new();
    let due = now() + 50 * MS;
    for d in &files {
        let c = d
            .callout_init(sys::HRC_CALLOUT_INIT, 0)
            .map_err(|e| e.to_string())?;
        let r = sys::hrc_callout_reset {
            id: c,
            time: due - now(),
            flags: sys::HRC_CALLOUT_NS,
            actions: sys::HRC_CA_EVENT | sys::HRC_CA_SLEEP,
            us: WINDOW_US,
            cookie: c,
            ..Default::default()
        };
        d.callout_reset(&r).map_err(|e| e.to_string())?;
        ids.push(c);
    }
    for (d, c) in files.iter().zip(&ids) {
        let ev = one_event(d, 10_000)?;
        ensure!(ev.id == *c, "record {ev:?}");
        ensure!(
            ev.flags & sys::HRC_EVF_LOCK_HELD != 0,
            "ran without the module-wide lock"
        );
    }
    let end = now();
    let two = 2 * i64::from(WINDOW_US) * 1000;
    ensure!(
        end - due >= two,
        "both callbacks done {} ms after they were due: they overlapped (each sleeps {} ms)",
        (end - due) / MS,
        WINDOW_US / 1000
    );
    Ok(())
}

/// The cases that also run on virtual time (`main.rs`). Not those whose point is a callback
/// running while another thread (or a held lock) acts, or time passing during an ioctl: on
/// virtual time callbacks run inside the advance that fires them.
pub const ON_VIRTUAL_TIME: &[&str] = &[
    "callout_stop_pending_returns_1",
    "callout_reset_from_callback",
    "callout_active_pending_truth_table",
    "callout_mutex_callouts_serialised",
    "callout_init_uses_module_lock",
    "callout_spinlock_refuses_sleep",
    "callout_errors",
];

pub const CASES: &[Case] = &[
    (
        "callout_module_lock_serialises_across_files",
        the_module_wide_lock_serialises_init_callouts_across_files,
    ),
    (
        "callout_reset_during_run_keeps_its_cookie",
        a_reset_during_the_run_keeps_the_runs_cookie,
    ),
    (
        "callout_stop_pending_returns_1",
        stop_of_a_pending_callout_returns_1_and_no_event,
    ),
    (
        "callout_stop_running_returns_0",
        stop_while_running_returns_0_and_the_event_arrives,
    ),
    (
        "callout_stop_sync_waits_for_callback",
        stop_sync_returns_after_the_running_callback,
    ),
    (
        "callout_stop_under_lock_prevents_run",
        stop_under_the_lock_after_fire_prevents_the_run,
    ),
    (
        "callout_stop_sync_under_own_lock",
        stop_sync_under_its_own_lock_does_not_deadlock,
    ),
    (
        "callout_reset_from_callback",
        reset_from_inside_the_callback,
    ),
    (
        "callout_reset_running_one_more_run",
        reset_of_a_running_callout_gives_exactly_one_more_run,
    ),
    (
        "callout_active_pending_truth_table",
        active_pending_truth_table,
    ),
    (
        "callout_mutex_callouts_serialised",
        callouts_on_one_mutex_run_under_it,
    ),
    (
        "callout_init_uses_module_lock",
        non_mp_callouts_hold_the_module_wide_lock,
    ),
    (
        "callout_spinlock_refuses_sleep",
        spinlock_callouts_refuse_to_sleep,
    ),
    ("callout_errors", callout_errors),
    ("callout_close_while_running", close_while_callbacks_run),
];
