//! STREAMS timeout()/untimeout() through the ioctls.

use crate::common::*;
use crate::Case;
use hrcallout::sys;
use std::collections::HashSet;

fn a_10ms_timeout_fires_once_not_early() -> Result<(), String> {
    let d = open()?;
    let t0 = now();
    let id = d.timeout_ns(10 * MS, 42).map_err(|e| e.to_string())?;
    let ev = one_event(&d, 5000)?;
    let t1 = now();
    ensure!(ev.id == id, "id {:#x}, expected {id:#x}", ev.id);
    ensure!(
        u32::from(ev.kind) == sys::HRC_EV_TIMEOUT,
        "kind {}",
        ev.kind
    );
    ensure!(
        ev.cookie == 42 && ev.overruns == 0 && ev.size == 64,
        "record {ev:?}"
    );
    ensure!(ev.clock == hrcallout::CLOCK_MONOTONIC, "clock {}", ev.clock);
    ensure!(
        ev.expiry_ns >= t0 + 10 * MS && ev.expiry_ns <= t1,
        "expiry {} not in [t0+10ms, t1]",
        ev.expiry_ns
    );
    ensure!(
        ev.fire_ns >= ev.expiry_ns,
        "fired {} ns early",
        ev.expiry_ns - ev.fire_ns
    );
    ensure!(t1 - t0 >= 10 * MS, "event readable after {} ns", t1 - t0);
    if is_virtual() {
        ensure!(
            ev.expiry_ns == t0 + 10 * MS && ev.fire_ns == ev.expiry_ns,
            "virtual time: due {} and fired {}, not both at exactly t0 + 10 ms ({})",
            ev.expiry_ns,
            ev.fire_ns,
            t0 + 10 * MS
        );
    }
    ensure!(collect(&d, 100, 10)?.is_empty(), "a second event arrived");
    Ok(())
}

fn ticks_are_one_hz_each() -> Result<(), String> {
    let d = open()?;
    let tick = 1_000_000_000 / i64::from(d.info().map_err(|e| e.to_string())?.hz);
    let t0 = now();
    let id = d.timeout_ticks(3, 0).map_err(|e| e.to_string())?;
    let ev = one_event(&d, 5000)?;
    ensure!(ev.id == id, "wrong id");
    let d_exp = ev.expiry_ns - t0;
    ensure!(
        d_exp >= 3 * tick && d_exp < 3 * tick + 50 * MS,
        "3 ticks scheduled {d_exp} ns after the call"
    );
    ensure!(
        !is_virtual() || (d_exp == 3 * tick && ev.fire_ns == ev.expiry_ns),
        "virtual time: 3 ticks due {d_exp} ns after the call, fired {} ns late",
        ev.fire_ns - ev.expiry_ns
    );
    Ok(())
}

fn untimeout_before_expiry_cancels_and_returns_the_remainder() -> Result<(), String> {
    let d = open()?;
    let id = d.timeout_ns(300 * MS, 0).map_err(|e| e.to_string())?;
    let u = d.untimeout(id).map_err(|e| format!("untimeout: {e}"))?;
    ensure!(
        u.remaining_ns > 0 && u.remaining_ns <= 300 * MS,
        "remaining {} ns",
        u.remaining_ns
    );
    ensure!(
        !is_virtual() || u.remaining_ns == 300 * MS,
        "virtual time: {} ns remaining of 300 ms, with no time passed",
        u.remaining_ns
    );
    let tick = 1_000_000_000 / 250;
    ensure!(
        u.remaining_ticks == (u.remaining_ns + tick - 1) / tick,
        "ticks {} for {} ns",
        u.remaining_ticks,
        u.remaining_ns
    );
    ensure!(
        collect(&d, 500, 10)?.is_empty(),
        "cancelled timeout still fired"
    );
    expect_errno(d.untimeout(id), libc::ENOENT, "second untimeout")
}

fn untimeout_of_fired_foreign_or_garbage_ids_is_enoent() -> Result<(), String> {
    let d = open()?;
    let other = open()?;
    let fired = d.timeout_ns(MS, 0).map_err(|e| e.to_string())?;
    one_event(&d, 5000)?;
    expect_errno(d.untimeout(fired), libc::ENOENT, "fired id")?;
    let pending = d.timeout_ns(10_000 * MS, 0).map_err(|e| e.to_string())?;
    expect_errno(other.untimeout(pending), libc::ENOENT, "another file's id")?;
    for garbage in [
        0u64,
        1,
        0x3f_ffff,
        u64::MAX,
        pending ^ (1 << 40),
        pending + 1,
    ] {
        expect_errno(
            d.untimeout(garbage),
            libc::ENOENT,
            &format!("garbage id {garbage:#x}"),
        )?;
    }
    // The foreign attempt did not disturb it.
    d.untimeout(pending)
        .map_err(|e| format!("own id after foreign attempt: {e}"))?;
    Ok(())
}

fn zero_negative_and_huge_delays() -> Result<(), String> {
    let d = open()?;
    let a = d.timeout_ns(0, 1).map_err(|e| e.to_string())?;
    let b = d.timeout_ns(-5_000_000_000, 2).map_err(|e| e.to_string())?;
    let c = d.timeout_ticks(-3, 3).map_err(|e| e.to_string())?;
    let huge = d.timeout_ns(i64::MAX, 4).map_err(|e| e.to_string())?;
    let huge_ticks = d.timeout_ticks(i64::MAX, 5).map_err(|e| e.to_string())?;
    let ev = collect(&d, 300, 10)?;
    let ids: HashSet<u64> = ev.iter().map(|e| e.id).collect();
    ensure!(
        ids == HashSet::from([a, b, c]),
        "immediate timeouts: got {ids:x?}"
    );
    for h in [huge, huge_ticks] {
        let u = d
            .untimeout(h)
            .map_err(|e| format!("untimeout of a huge timeout: {e}"))?;
        ensure!(
            u.remaining_ns > 1_000_000_000_000,
            "huge timeout has {} ns left",
            u.remaining_ns
        );
    }
    Ok(())
}

fn events_arrive_in_expiry_order() -> Result<(), String> {
    let d = open()?;
    let c = d.timeout_ns(90 * MS, 3).map_err(|e| e.to_string())?;
    let a = d.timeout_ns(30 * MS, 1).map_err(|e| e.to_string())?;
    let b = d.timeout_ns(60 * MS, 2).map_err(|e| e.to_string())?;
    let ev = collect(&d, 500, 3)?;
    let got: Vec<u64> = ev.iter().map(|e| e.id).collect();
    ensure!(
        got == vec![a, b, c],
        "order {got:x?}, expected {:x?}",
        [a, b, c]
    );
    Ok(())
}

/// All of a file's timeouts share one hrtimer, started for the earliest: arming in a
/// scrambled order and cancelling some (the earliest among them) must still deliver the rest
/// in expiry order, none early, none cancelled.
fn timeouts_armed_in_any_order_fire_in_expiry_order() -> Result<(), String> {
    const N: i64 = 200;
    let d = open()?;
    let mut ids = Vec::new();
    // Delays 200..399 ms, 1 ms apart, armed in a scrambled order (7919 is prime); cookie = k.
    for i in 0..N {
        let k = (i * 7919) % N;
        let id = d
            .timeout_ns(200 * MS + k * MS, k as u64)
            .map_err(|e| format!("timeout {k}: {e}"))?;
        ids.push((id, k));
    }
    let mut cancelled = HashSet::new();
    for (id, k) in ids.iter().step_by(4) {
        // Not `?`: a stalled guest may have let the earliest fire already.
        if d.untimeout(*id).is_ok() {
            cancelled.insert(*k as u64);
        }
    }
    let want = ids.len() - cancelled.len();
    let ev = collect(&d, 1000, want + 1)?;
    ensure!(ev.len() == want, "{} records, expected {want}", ev.len());
    for (i, e) in ev.iter().enumerate() {
        ensure!(
            !cancelled.contains(&e.cookie),
            "cancelled timeout {} fired",
            e.cookie
        );
        ensure!(e.fire_ns >= e.expiry_ns, "timeout {} fired early", e.cookie);
        if i > 0 {
            ensure!(
                e.expiry_ns >= ev[i - 1].expiry_ns,
                "record {i} (expiry {}) after a later one ({})",
                e.expiry_ns,
                ev[i - 1].expiry_ns
            );
        }
    }
    let live = d.check().map_err(|e| e.to_string())?.live;
    ensure!(
        live == 0,
        "{live} slots still live after reading every record"
    );
    Ok(())
}

fn ids_are_unique_nonzero_and_not_addresses() -> Result<(), String> {
    let d = open()?;
    let mut seen = HashSet::new();
    for _ in 0..2000 {
        let id = d.timeout_ns(10_000 * MS, 0).map_err(|e| e.to_string())?;
        ensure!(id != 0 && id < (1 << 63), "id {id:#x}");
        ensure!(
            id >> 47 != 0x1ffff,
            "id {id:#x} looks like a kernel address"
        );
        ensure!(seen.insert(id), "id {id:#x} reused");
        d.untimeout(id).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Another user's file cannot name this file's timers: a process of user 65534 opens its own
/// file (the device is open to every user) and finds every id of root's file unknown
/// (`ENOENT`, QNX's `EINVAL`), and root's timers are untouched.
fn another_user_cannot_name_my_timers() -> Result<(), String> {
    let d = open()?;
    let err = |e: std::io::Error| e.to_string();
    let t = d.timeout_ns(60_000 * MS, 1).map_err(err)?;
    let c = d.callout_init(sys::HRC_CALLOUT_INIT_MP, 0).map_err(err)?;
    let q = d
        .timer_create(hrcallout::CLOCK_MONOTONIC, sys::HRC_NOTIFY_SI_TIMER, 0)
        .map_err(err)?;
    let code = as_nobody(&d, || {
        let mine = match hrcallout::Device::open() {
            Ok(d) => d,
            // 100 + the errno.
            Err(e) => return 100 + e.raw_os_error().unwrap_or(0),
        };
        let refused =
            |r: std::io::Result<()>, want| matches!(r, Err(e) if e.raw_os_error() == Some(want));
        if !refused(mine.untimeout(t).map(drop), libc::ENOENT) {
            return 4;
        }
        if !refused(mine.callout_stop(c).map(drop), libc::ENOENT) {
            return 5;
        }
        if !refused(mine.timer_gettime(q).map(drop), libc::EINVAL) {
            return 6;
        }
        if !refused(mine.timer_delete(q).map(drop), libc::EINVAL) {
            return 7;
        }
        0
    })?;
    ensure!(
        code == 0,
        "user 65534: check {code} failed (2: setuid, 100 + errno: open, 4..7: an id of root's \
         file answered)"
    );
    // Root's timers are still there.
    let u = d.untimeout(t).map_err(err)?;
    ensure!(u.remaining_ns > 0, "root's timeout: {u:?}");
    ensure!(d.callout_active(c).map_err(err)? == 0, "root's callout");
    d.timer_gettime(q).map_err(err)?;
    Ok(())
}

/// Runs `f` in a child process of user 65534 (no capabilities), with `d` closed there: its
/// exit code, or 2 if the child could not drop to that user.
fn as_nobody(d: &TestDevice, f: impl FnOnce() -> i32) -> Result<i32, String> {
    in_child(|| {
        // SAFETY: closes the parent's file in this child.
        unsafe { libc::close(d_fd(d)) };
        if crate::user::become_user(65534).is_err() {
            return 2;
        }
        f()
    })
}

/// `n` entries of `HRC_IOC_BATCH`, each a timeout an hour away.
fn far_timeouts(n: usize) -> Vec<sys::hrc_timeout> {
    let far = sys::hrc_timeout {
        time: 3_600_000 * MS,
        flags: sys::HRC_TIMEOUT_NS,
        ..Default::default()
    };
    vec![far; n]
}

/// Arms far timeouts on `d` in batches until the first refusal: how many were armed and the
/// refusal's errno.
fn fill(d: &hrcallout::Device) -> (u64, i32) {
    let mut armed = 0u64;
    let mut ops = far_timeouts(16_384);
    loop {
        match d.timeout_batch(&mut ops) {
            Ok(n) => armed += u64::from(n),
            Err(e) => return (armed, e.raw_os_error().unwrap_or(0)),
        }
    }
}

/// Issue 23 point 1: every file a user opens is charged to one per-user quota of
/// `max_user_timers` slots (`HRC_MAX_USER_TIMERS`, as the guest job loads the module): a
/// second file of the same user gets what the first left, `ENOSPC` past it; closing the first
/// gives it back. A root opener is not limited (it has `CAP_SYS_RESOURCE`).
fn a_users_files_share_one_quota() -> Result<(), String> {
    let limit: u64 = std::env::var("HRC_MAX_USER_TIMERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or("HRC_MAX_USER_TIMERS is not set (test-job.sh loads the module with it)")?;
    let d = open()?;
    let root = d.info().map_err(|e| e.to_string())?;
    let max_timers = u64::from(root.max_timers);
    ensure!(
        limit > max_timers && limit < 2 * max_timers,
        "the test wants max_timers < max_user_timers < 2 max_timers: {max_timers}, {limit}"
    );
    ensure!(
        root.max_user_timers == 0,
        "root is limited to {} slots",
        root.max_user_timers
    );
    let code = as_nobody(&d, || {
        let Ok(a) = hrcallout::Device::open() else {
            return 3;
        };
        if a.info().map(|i| u64::from(i.max_user_timers)).ok() != Some(limit) {
            return 4;
        }
        // The first file stops at its own cap.
        if fill(&a) != (max_timers, libc::ENOSPC) {
            return 5;
        }
        let Ok(b) = hrcallout::Device::open() else {
            return 6;
        };
        // The second at what the user has left: less than its own cap.
        let (in_b, e) = fill(&b);
        if e != libc::ENOSPC || in_b == 0 || max_timers + in_b > limit {
            return 7;
        }
        let Ok(fa) = a.fdinfo() else { return 8 };
        let Ok(fb) = b.fdinfo() else { return 8 };
        // Both files' tables are charged, together at most the limit, within a chunk of it.
        let charged = u64::from(fa.slots) + u64::from(fb.slots);
        if fb.user_slots != (charged, Some(limit)) || fa.user_slots != fb.user_slots {
            return 9;
        }
        if charged > limit || limit - charged > u64::from(fb.slots) {
            return 10;
        }
        // Closing the first file gives its slots back (its engine goes when its lanes have
        // let go of it: wait a moment).
        drop(a);
        for _ in 0..200 {
            if b.timeout_ns(3_600_000 * MS, 0).is_ok() {
                return 0;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        11
    })?;
    ensure!(
        code == 0,
        "user 65534: step {code} failed (2: setuid, 3/6: open, 4: INFO's max_user_timers, 5: the \
         first file did not stop at max_timers, 7: the second did not stop at the user's \
         remainder, 8-10: fdinfo's hrc-user-slots, 11: closing the first gave nothing back)"
    );
    // Root's file fills to its own cap whatever the user limit.
    ensure!(
        fill(&d) == (max_timers, libc::ENOSPC),
        "root's file did not fill to max_timers"
    );
    let f = d.fdinfo().map_err(|e| e.to_string())?;
    ensure!(
        f.user_slots.1.is_none(),
        "root's fdinfo: {:?}",
        f.user_slots
    );
    Ok(())
}

/// Issue 23 point 1: a file's memory is charged to its opener's memory cgroup, and a full one
/// refuses more timers with `ENOMEM`, without an OOM kill: a process in an 8 MiB cgroup arms
/// timeouts until the first refusal (its slot table outgrows the cgroup well before
/// `max_timers`), is still alive to see it, gets `ENOMEM` for interval timers too (an object
/// each), and the cgroup counts no OOM kill.
fn a_full_memory_cgroup_gives_enomem() -> Result<(), String> {
    let root = "/sys/fs/cgroup";
    let write = |path: &str, v: &str| {
        std::fs::write(path, v).map_err(|e| format!("write {v:?} to {path}: {e}"))
    };
    if !std::path::Path::new(&format!("{root}/cgroup.controllers")).exists() {
        std::fs::create_dir_all(root).map_err(|e| format!("mkdir {root}: {e}"))?;
        // SAFETY: NUL-terminated strings; mounts the cgroup2 hierarchy.
        let r = unsafe {
            libc::mount(
                c"none".as_ptr(),
                c"/sys/fs/cgroup".as_ptr(),
                c"cgroup2".as_ptr(),
                0,
                std::ptr::null(),
            )
        };
        ensure!(r == 0, "mount cgroup2: {}", std::io::Error::last_os_error());
    }
    write(&format!("{root}/cgroup.subtree_control"), "+memory")?;
    let cg = format!("{root}/hrc-small-{}", std::process::id());
    std::fs::create_dir(&cg).map_err(|e| format!("mkdir {cg}: {e}"))?;
    let result = (|| {
        write(&format!("{cg}/memory.max"), &(8 << 20).to_string())?;
        let max_timers = u64::from(open()?.info().map_err(|e| e.to_string())?.max_timers);
        let procs = format!("{cg}/cgroup.procs");
        let code = in_child(|| {
            // Everything this process touches from here on is charged to the small cgroup:
            // the batch is allocated and touched first, so that no page fault comes after
            // the cgroup is full (a fault there would call its OOM killer).
            let mut ops = far_timeouts(1024);
            if std::fs::write(&procs, std::process::id().to_string()).is_err() {
                return 2;
            }
            let Ok(d) = hrcallout::Device::open() else {
                return 3;
            };
            let mut armed = 0u64;
            let errno = loop {
                match d.timeout_batch(&mut ops) {
                    Ok(n) => armed += u64::from(n),
                    Err(e) => break e.raw_os_error().unwrap_or(0),
                }
            };
            match (errno, armed) {
                (libc::ENOMEM, a) if a > 0 && a < max_timers => {}
                (libc::ENOMEM, _) => return 4,
                _ => return 5,
            }
            // Interval timers (an object each, beside the slot) into the full cgroup: refused
            // with ENOMEM too, the process alive.
            for _ in 0..max_timers {
                if let Err(e) =
                    d.timer_create(hrcallout::CLOCK_MONOTONIC, sys::HRC_NOTIFY_SI_TIMER, 0)
                {
                    return if e.raw_os_error() == Some(libc::ENOMEM) {
                        0
                    } else {
                        6
                    };
                }
            }
            6
        })?;
        ensure!(
            code == 0,
            "in an 8 MiB memory cgroup: step {code} failed (-1: killed, 2: joining the cgroup, 3: \
             open, 4: ENOMEM, but not between the first timer and max_timers, 5: another error \
             than ENOMEM, 6: timer_create did not fail with ENOMEM)"
        );
        let events = std::fs::read_to_string(format!("{cg}/memory.events"))
            .map_err(|e| format!("memory.events: {e}"))?;
        ensure!(
            events.lines().any(|l| l == "oom_kill 0"),
            "the cgroup's memory.events: {events}"
        );
        Ok(())
    })();
    // The cgroup goes once its one process has exited.
    let _ = std::fs::remove_dir(&cg);
    result
}

fn many_pending_timeouts_then_close() -> Result<(), String> {
    const N: usize = 100_000;
    let d = open()?;
    for i in 0..N {
        d.timeout_ns(60_000 * MS + i as i64, i as u64)
            .map_err(|e| format!("timeout #{i}: {e}"))?;
    }
    let c = d.check().map_err(|e| e.to_string())?;
    ensure!(
        c.ok == 1 && c.live as usize == N,
        "after arming: ok={} live={}",
        c.ok,
        c.live
    );
    drop(d); // close cancels everything; kmemleak at the end of the run checks nothing leaked
    Ok(())
}

fn cap_on_live_timers_gives_enospc() -> Result<(), String> {
    // The cap is a module parameter; the test suite loads the module with max_timers=200000.
    let d = open()?;
    let cap = d.info().map_err(|e| e.to_string())?.max_timers as usize;
    ensure!(cap <= 2_000_000, "cap {cap} too large to test here");
    for i in 0..cap {
        d.timeout_ns(60_000 * MS, 0)
            .map_err(|e| format!("timeout #{i} under the cap: {e}"))?;
    }
    expect_errno(
        d.timeout_ns(60_000 * MS, 0),
        libc::ENOSPC,
        "timeout over the cap",
    )
}

fn close_with_pending_and_unread_events() -> Result<(), String> {
    for round in 0..20 {
        let d = open()?;
        for i in 0..200 {
            d.timeout_ns((i % 3) * MS, i as u64)
                .map_err(|e| format!("round {round}: {e}"))?;
        }
        sleep_ms(1)?;
        drop(d);
    }
    Ok(())
}

fn a_stale_id_never_cancels_a_newer_timer() -> Result<(), String> {
    let d = open()?;
    let old = d.timeout_ns(10_000 * MS, 0).map_err(|e| e.to_string())?;
    d.untimeout(old).map_err(|e| e.to_string())?;
    // The slot is recycled for the next timeout: the old id must not reach it.
    let new = d.timeout_ns(10_000 * MS, 0).map_err(|e| e.to_string())?;
    ensure!(
        new & 0x3f_ffff == old & 0x3f_ffff,
        "slot was not recycled (test premise)"
    );
    expect_errno(d.untimeout(old), libc::ENOENT, "stale id")?;
    d.untimeout(new)
        .map_err(|e| format!("new id after stale attempt: {e}"))?;
    Ok(())
}
/// `n` nanosecond timeouts, `delay(i)` ns each, cookie `i`.
fn batch_ops(n: usize, delay: impl Fn(usize) -> i64) -> Vec<sys::hrc_timeout> {
    (0..n)
        .map(|i| sys::hrc_timeout {
            time: delay(i),
            cookie: i as u64,
            flags: sys::HRC_TIMEOUT_NS,
            ..Default::default()
        })
        .collect()
}

fn batch_arms_every_entry_and_each_fires_once() -> Result<(), String> {
    let d = open()?;
    // More than one 64-entry copy, several 16-entry lock holds, and two 256-slot chunks.
    let n = 300;
    let t0 = now();
    let mut ops = batch_ops(n, |i| 20 * MS + (i as i64 % 7) * MS);
    let done = d.timeout_batch(&mut ops).map_err(|e| e.to_string())?;
    ensure!(done as usize == n, "armed {done} of {n}");
    let ids: HashSet<u64> = ops.iter().map(|t| t.id).collect();
    ensure!(
        ids.len() == n && !ids.contains(&0),
        "ids not unique and non-zero"
    );
    let evs = collect(&d, 1000, n + 1)?;
    ensure!(evs.len() == n, "{} records for {n} timeouts", evs.len());
    for ev in &evs {
        let op = ops
            .get(ev.cookie as usize)
            .ok_or(format!("cookie {}", ev.cookie))?;
        ensure!(ev.id == op.id, "record {:#x} for op id {:#x}", ev.id, op.id);
        ensure!(
            ev.expiry_ns >= t0 + op.time && ev.fire_ns >= ev.expiry_ns,
            "op {} due at {} fired at {} (armed from {t0})",
            ev.cookie,
            ev.expiry_ns,
            ev.fire_ns
        );
    }
    let c = d.check().map_err(|e| e.to_string())?;
    ensure!(c.ok == 1 && c.live == 0, "check {c:?}");
    Ok(())
}

fn batch_stops_at_the_first_bad_entry() -> Result<(), String> {
    let d = open()?;
    let mut ops = batch_ops(100, |_| 10_000 * MS);
    ops[70].pad = 1;
    let done = d.timeout_batch(&mut ops).map_err(|e| e.to_string())?;
    ensure!(
        done == 70,
        "armed {done}, expected the 70 before the bad entry"
    );
    ensure!(
        ops[..70].iter().all(|t| t.id != 0) && ops[70..].iter().all(|t| t.id == 0),
        "ids written back past the armed prefix"
    );
    ensure!(
        d.check().map_err(|e| e.to_string())?.live == 70,
        "live count"
    );
    // A bad first entry is the call's error; nothing is armed.
    let mut bad = batch_ops(3, |_| 1000 * MS);
    bad[0].flags = 0x80;
    expect_errno(d.timeout_batch(&mut bad), libc::EINVAL, "bad first entry")?;
    ensure!(
        d.check().map_err(|e| e.to_string())?.live == 70,
        "armed on error"
    );
    // Bad pointers and counts.
    let mut b = sys::hrc_batch {
        ops: 8,
        count: 4,
        done: 0,
    };
    expect_errno(
        // SAFETY: `b` is the batch struct, alive for the call; its `ops` is unmapped or an
        // array of this frame (the kernel refuses the first, writes ids into the second).
        unsafe { d.raw_ioctl(sys::HRC_IOC_BATCH, &mut b as *mut _ as usize) },
        libc::EFAULT,
        "unmapped ops",
    )?;
    let mut b = sys::hrc_batch {
        ops: ops.as_mut_ptr() as u64,
        count: 65537,
        done: 0,
    };
    expect_errno(
        // SAFETY: `b` is the batch struct, alive for the call; its `ops` is unmapped or an
        // array of this frame (the kernel refuses the first, writes ids into the second).
        unsafe { d.raw_ioctl(sys::HRC_IOC_BATCH, &mut b as *mut _ as usize) },
        libc::EINVAL,
        "count above 65536",
    )?;
    ensure!(
        d.check().map_err(|e| e.to_string())?.live == 70,
        "armed on error"
    );
    Ok(())
}

/// The cases that also run on virtual time (`main.rs`): all but the two that only fill the
/// engine (100k pending, the cap), whose clock does not matter.
pub const ON_VIRTUAL_TIME: &[&str] = &[
    "timeout_10ms_fires_once_not_early",
    "timeout_ticks_are_1_hz_each",
    "untimeout_before_expiry",
    "untimeout_fired_foreign_garbage_enoent",
    "timeout_zero_negative_huge",
    "timeout_events_in_expiry_order",
    "timeout_scrambled_arming_expiry_order",
    "timeout_ids_unique_nonzero",
    "timeout_stale_id_never_cancels_newer",
    "timeout_close_with_pending_and_unread",
    "batch_arms_every_entry_once",
    "batch_stops_at_first_bad_entry",
];

pub const CASES: &[Case] = &[
    (
        "timeout_10ms_fires_once_not_early",
        a_10ms_timeout_fires_once_not_early,
    ),
    ("timeout_ticks_are_1_hz_each", ticks_are_one_hz_each),
    (
        "untimeout_before_expiry",
        untimeout_before_expiry_cancels_and_returns_the_remainder,
    ),
    (
        "untimeout_fired_foreign_garbage_enoent",
        untimeout_of_fired_foreign_or_garbage_ids_is_enoent,
    ),
    ("timeout_zero_negative_huge", zero_negative_and_huge_delays),
    (
        "timeout_events_in_expiry_order",
        events_arrive_in_expiry_order,
    ),
    (
        "timeout_scrambled_arming_expiry_order",
        timeouts_armed_in_any_order_fire_in_expiry_order,
    ),
    (
        "timeout_ids_unique_nonzero",
        ids_are_unique_nonzero_and_not_addresses,
    ),
    (
        "timeout_stale_id_never_cancels_newer",
        a_stale_id_never_cancels_a_newer_timer,
    ),
    (
        "timeout_100k_pending_then_close",
        many_pending_timeouts_then_close,
    ),
    ("timeout_cap_gives_enospc", cap_on_live_timers_gives_enospc),
    (
        "ids_of_another_users_file_are_unknown",
        another_user_cannot_name_my_timers,
    ),
    (
        "a_users_files_share_one_quota",
        a_users_files_share_one_quota,
    ),
    (
        "a_full_memory_cgroup_gives_enomem",
        a_full_memory_cgroup_gives_enomem,
    ),
    (
        "timeout_close_with_pending_and_unread",
        close_with_pending_and_unread_events,
    ),
    (
        "batch_arms_every_entry_once",
        batch_arms_every_entry_and_each_fires_once,
    ),
    (
        "batch_stops_at_first_bad_entry",
        batch_stops_at_the_first_bad_entry,
    ),
];
