//! Mach timer_arm, QNX TimerSettime and mTCP settimer through the ioctls, with differential
//! checks against Linux's own POSIX timers.

use crate::common::*;
use crate::Case;
use hrcallout::{sys, Device, Event, CLOCK_BOOTTIME, CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_TAI};
use std::thread::sleep;
use std::time::Duration;

fn create(d: &Device, clock: u32, notify: u32) -> Result<u64, String> {
    d.timer_create(clock, notify, 0)
        .map_err(|e| format!("timer_create: {e}"))
}

fn settime(
    d: &Device,
    id: u64,
    flags: u32,
    value: i64,
    interval: i64,
) -> Result<sys::hrc_itimer, String> {
    d.timer_settime(id, flags, value as u64, interval as u64)
        .map_err(|e| format!("settime: {e}"))
}

/// Every period of a drift-free periodic timer is either a delivered record or an overrun
/// carried by one: sum(1 + overruns) == periods between the first and last expiry + 1, and
/// every expiry is start + k * interval.
fn periods_accounted(ev: &[Event], interval: i64) -> Result<u64, String> {
    ensure!(!ev.is_empty(), "no events");
    let first = ev[0].expiry_ns - ev[0].overruns as i64 * interval;
    for e in ev {
        ensure!(
            (e.expiry_ns - ev[0].expiry_ns) % interval == 0,
            "expiry {} drifted off the grid",
            e.expiry_ns
        );
        ensure!(e.fire_ns >= e.expiry_ns, "fired early");
    }
    let total: u64 = ev.iter().map(|e| 1 + e.overruns).sum();
    let span = (ev[ev.len() - 1].expiry_ns - first) / interval + 1;
    ensure!(
        total == span as u64,
        "{total} expiries accounted, {span} periods elapsed on the grid"
    );
    Ok(total)
}

fn qnx_one_shot_and_periodic() -> Result<(), String> {
    let d = open()?;
    let t = create(&d, CLOCK_MONOTONIC, sys::HRC_NOTIFY_SI_TIMER)?;
    let t0 = now();
    settime(&d, t, 0, 20 * MS, 0)?;
    let ev = collect(&d, 300, 10)?;
    ensure!(
        ev.len() == 1 && ev[0].id == t && ev[0].overruns == 0,
        "one-shot gave {ev:?}"
    );
    ensure!(ev[0].expiry_ns >= t0 + 20 * MS, "one-shot expiry too early");
    ensure!(
        u32::from(ev[0].kind) == sys::HRC_EV_INTERVAL && ev[0].flags & sys::HRC_EVF_PERIODIC == 0,
        "kind/flags"
    );
    // Periodic, read promptly for a while: all periods accounted for, none drifted.
    settime(&d, t, 0, 10 * MS, 10 * MS)?;
    let mut ev = Vec::new();
    let end = now() + 300 * MS;
    while now() < end {
        if readable(&d, 50)? {
            ev.extend(d.read_events(16).map_err(|e| e.to_string())?);
        }
    }
    settime(&d, t, 0, 0, 0)?;
    ev.extend(collect(&d, 50, 16)?);
    let n = periods_accounted(&ev, 10 * MS)?;
    ensure!(n >= 20, "only {n} periods in 300 ms");
    ensure!(
        ev.iter().all(|e| e.flags & sys::HRC_EVF_PERIODIC != 0),
        "periodic flag missing"
    );
    Ok(())
}

fn absolute_in_the_past_fires_at_once() -> Result<(), String> {
    let d = open()?;
    for clock in [CLOCK_REALTIME, CLOCK_MONOTONIC] {
        let t = create(&d, clock, sys::HRC_NOTIFY_SI_TIMER)?;
        let past = now_on(clock) - 1_000 * MS;
        settime(&d, t, sys::HRC_TIMER_ABSTIME, past, 0)?;
        let ev = one_event(&d, 500)?;
        ensure!(
            ev.id == t && ev.expiry_ns == past && ev.clock == clock,
            "clock {clock}: {ev:?}"
        );
    }
    Ok(())
}

fn zero_disarms_and_settime_returns_the_old_setting() -> Result<(), String> {
    let d = open()?;
    let t = create(&d, CLOCK_MONOTONIC, sys::HRC_NOTIFY_SI_TIMER)?;
    let old = settime(&d, t, 0, 1000 * MS, 100 * MS)?;
    ensure!(
        old.value_ns == 0 && old.interval_ns == 0,
        "a new timer's old setting {old:?}"
    );
    let old = settime(&d, t, 0, 0, 0)?;
    ensure!(
        old.value_ns > 500 * MS as u64 && old.value_ns <= 1000 * MS as u64,
        "old value {}",
        old.value_ns
    );
    ensure!(
        old.interval_ns == 100 * MS as u64,
        "old interval {}",
        old.interval_ns
    );
    let g = d.timer_gettime(t).map_err(|e| e.to_string())?;
    ensure!(g.value_ns == 0, "still armed after value 0: {g:?}");
    ensure!(collect(&d, 200, 4)?.is_empty(), "disarmed timer fired");
    // Negative times (2^63 ns and more) are refused, as POSIX timer_settime refuses a negative
    // tv_sec (Open POSIX timer_settime/13-1), and nothing is armed.
    for (flags, value, interval, what) in [
        (0, u64::MAX, 0, "value 2^64 - 1"),
        (sys::HRC_TIMER_ABSTIME, 1 << 63, 0, "absolute 2^63"),
        (0, MS as u64, 1 << 63, "interval 2^63"),
    ] {
        expect_errno(
            d.timer_settime(t, flags, value, interval),
            libc::EINVAL,
            what,
        )?;
    }
    let g = d.timer_gettime(t).map_err(|e| e.to_string())?;
    ensure!(g.value_ns == 0, "a refused settime armed the timer: {g:?}");
    // QNX reports an unknown timer as EINVAL.
    expect_errno(
        d.timer_settime(t + 1, 0, MS as u64, 0),
        libc::EINVAL,
        "settime, no such timer",
    )?;
    expect_errno(
        d.timer_info(t + 1, 0),
        libc::EINVAL,
        "TimerInfo, no such timer",
    )?;
    expect_errno(
        d.timer_settime(t, 0x80, 1, 0),
        libc::EINVAL,
        "unknown settime flag",
    )
}

fn si_timer_never_queues_two_records() -> Result<(), String> {
    let d = open()?;
    d.set_nonblocking(true).map_err(|e| e.to_string())?;
    let t = create(&d, CLOCK_MONOTONIC, sys::HRC_NOTIFY_SI_TIMER)?;
    settime(&d, t, 0, MS, MS)?;
    sleep_ms(100)?;
    let ev = d.read_events(64).map_err(|e| e.to_string())?;
    ensure!(
        ev.len() == 1,
        "{} records queued for one SI_TIMER timer",
        ev.len()
    );
    ensure!(
        ev[0].overruns >= 10,
        "only {} overruns in 100 ms of a 1 ms timer",
        ev[0].overruns
    );
    let i = d.timer_info(t, 0).map_err(|e| e.to_string())?;
    ensure!(
        i.overruns >= ev[0].overruns,
        "TimerInfo overruns {} < record's {}",
        i.overruns,
        ev[0].overruns
    );
    ensure!(
        i.info_flags & sys::HRC_TI_ACTIVE != 0 && i.info_flags & sys::HRC_TI_EXPIRED != 0,
        "flags {:#x}",
        i.info_flags
    );
    // Disarmed first, so that no expiry can land between the reset and the next look (a 1 ms
    // timer fires many times between two ioctls when the vCPU is descheduled under TCG).
    settime(&d, t, 0, 0, 0)?;
    let reset = d
        .timer_info(t, sys::HRC_TIMER_RESET_OVERRUNS)
        .map_err(|e| e.to_string())?;
    ensure!(
        reset.overruns >= i.overruns,
        "overruns went down from {} to {} without a reset",
        i.overruns,
        reset.overruns
    );
    let i = d.timer_info(t, 0).map_err(|e| e.to_string())?;
    ensure!(i.overruns == 0, "overruns not reset: {}", i.overruns);
    ensure!(
        i.info_flags & sys::HRC_TI_ACTIVE == 0,
        "disarmed timer reported active"
    );
    Ok(())
}

/// How many expiries one hard-irq pass handles before it hands the rest to a lane
/// (`HARD_PASS_EXPIRIES`, rust/engine/expire.rs).
const HARD_PASS_EXPIRIES: u32 = 64;

/// Issue 23 point 1: a thousand timers due at one instant. The hrtimer's pass handles
/// [`HARD_PASS_EXPIRIES`] of them and hands the rest on: every timer still gives exactly one
/// record, in the order armed, none early; then, periodic every 10 ms, every period is still
/// a record or an overrun while the passes hand on at each period.
fn a_burst_beyond_one_pass_is_handed_on_in_order() -> Result<(), String> {
    let n = 1000u64;
    let d = open()?;
    let err = |e: std::io::Error| e.to_string();
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            d.timer_create(CLOCK_MONOTONIC, sys::HRC_NOTIFY_SI_TIMER, i)
                .map_err(err)?,
        );
    }
    let due = now() + 1000 * MS;
    for &id in &ids {
        settime(&d, id, sys::HRC_TIMER_ABSTIME, due, 0)?;
    }
    ensure!(
        now() < due,
        "arming {n} timers took more than 1 s: no burst to test"
    );
    let ev = collect(&d, 3000, n as usize)?;
    ensure!(ev.len() as u64 == n, "{} records of {n}", ev.len());
    for (i, e) in ev.iter().enumerate() {
        ensure!(
            e.cookie == i as u64 && e.id == ids[i],
            "record {i} is timer {} (cookie {}): out of order",
            e.id,
            e.cookie
        );
        ensure!(
            e.expiry_ns == due && e.fire_ns >= due,
            "record {i}: expiry {} fire {} for {due}",
            e.expiry_ns,
            e.fire_ns
        );
    }
    let p = d.fdinfo().map_err(err)?.longest_pass;
    ensure!(
        p.1 == HARD_PASS_EXPIRIES,
        "the longest pass handled {} expiries ({} ns), not the budget of {HARD_PASS_EXPIRIES}",
        p.1,
        p.0
    );
    ensure!(
        readable(&d, 200).map(|r| !r)?,
        "a record more than the timers"
    );
    // Periodic: each period comes due for all of them at once.
    let interval = 10 * MS;
    let due = now() + 1000 * MS;
    for &id in &ids {
        settime(&d, id, sys::HRC_TIMER_ABSTIME, due, interval)?;
    }
    ensure!(now() < due, "arming {n} periodic timers took more than 1 s");
    // Read through ten periods, and until every timer has given a record (a disarm drops the
    // unread record of the setting it ends; an emulator may take a while per burst).
    let mut per: Vec<Vec<Event>> = vec![Vec::new(); n as usize];
    let file = |per: &mut Vec<Vec<Event>>, ev: Vec<Event>| -> Result<(), String> {
        for e in ev {
            ensure!(e.cookie < n, "a record of cookie {}", e.cookie);
            per[e.cookie as usize].push(e);
        }
        Ok(())
    };
    let give_up = due + 30_000 * MS;
    while now() < due + 10 * interval || (per.iter().any(Vec::is_empty) && now() < give_up) {
        if readable(&d, 100)? {
            file(&mut per, d.read_events(256).map_err(err)?)?;
        }
    }
    for &id in &ids {
        settime(&d, id, 0, 0, 0)?;
    }
    // What each timer's records account for: every period between its first and its last.
    file(&mut per, collect(&d, 200, usize::MAX)?)?;
    for (i, evs) in per.iter().enumerate() {
        ensure!(
            evs.first()
                .is_some_and(|e| e.expiry_ns - e.overruns as i64 * interval == due),
            "timer {i}: its first record does not stand for the period at {due}: {:?}",
            evs.first()
        );
        periods_accounted(evs, interval).map_err(|e| format!("timer {i}: {e}"))?;
    }
    let p = d.fdinfo().map_err(err)?.longest_pass;
    ensure!(p.1 <= HARD_PASS_EXPIRIES, "a pass handled {} expiries", p.1);
    Ok(())
}

/// A timer much faster than a read fires again while each read copies its record out: the
/// newer record waits for the next read, so no call returns two of them.
fn si_timer_one_record_per_read() -> Result<(), String> {
    let d = open()?;
    let t = create(&d, CLOCK_MONOTONIC, sys::HRC_NOTIFY_SI_TIMER)?;
    settime(&d, t, 0, 20_000, 20_000)?; // 20 us
    let mut expiries = 0u64;
    for i in 0..300 {
        let ev = d.read_events(64).map_err(|e| e.to_string())?;
        ensure!(ev.len() == 1, "read {i} returned {} records", ev.len());
        expiries += 1 + ev[0].overruns;
    }
    settime(&d, t, 0, 0, 0)?;
    ensure!(expiries >= 300, "{expiries} expiries in 300 records");
    Ok(())
}

fn mach_queue_limit_and_overruns_add_up() -> Result<(), String> {
    let d = open()?;
    d.set_nonblocking(true).map_err(|e| e.to_string())?;
    d.set_qlimit(4).map_err(|e| e.to_string())?;
    let mut ids = Vec::new();
    for _ in 0..6 {
        let t = create(&d, CLOCK_MONOTONIC, sys::HRC_NOTIFY_MACH)?;
        d.timer_arm(t, MS, MS, sys::HRC_MACH_PERIODIC)
            .map_err(|e| format!("arm: {e}"))?;
        ids.push(t);
    }
    // A slow reader: one record every 20 ms; the queue never holds more than the limit.
    let mut ev = Vec::new();
    for _ in 0..20 {
        sleep_ms(20)?;
        let queued = d.check().map_err(|e| e.to_string())?.queued;
        ensure!(queued <= 4, "{queued} records queued with a limit of 4");
        ev.extend(d.read_events(1).map_err(|e| e.to_string())?);
    }
    for &t in &ids {
        d.timer_cancel(t, 0).map_err(|e| e.to_string())?;
    }
    // What was delivered but not read yet counts too.
    ev.extend(d.read_events(64).unwrap_or_default());
    let mut total = 0;
    for &t in &ids {
        let mine: Vec<Event> = ev.iter().filter(|e| e.id == t).copied().collect();
        if mine.len() >= 2 {
            total += periods_accounted(&mine, MS)?;
        }
    }
    ensure!(
        ev.iter().any(|e| e.overruns > 0),
        "the queue limit never withheld a message"
    );
    ensure!(total > 0, "no timer delivered two messages");
    Ok(())
}

/// 19.7: Mach queues a message per expiry until the port's limit. A 10 ms periodic timer with
/// qlimit 2 and an idle reader leaves two messages queued, the next carries the missed count,
/// the one after that none.
fn mach_messages_queue_to_the_port_limit() -> Result<(), String> {
    let d = open()?;
    d.set_qlimit(2).map_err(|e| e.to_string())?;
    let t = create(&d, CLOCK_MONOTONIC, sys::HRC_NOTIFY_MACH)?;
    d.timer_arm(t, 10 * MS, 10 * MS, sys::HRC_MACH_PERIODIC)
        .map_err(|e| format!("arm: {e}"))?;
    sleep_ms(120)?;
    let c = d.check().map_err(|e| e.to_string())?;
    ensure!(c.ok == 1 && c.queued == 2, "idle reader, qlimit 2: {c:?}");
    let info = d.mach_timer_info(t).map_err(|e| e.to_string())?;
    ensure!(
        info.messages == 2,
        "timer_info says {} queued",
        info.messages
    );
    let first = d.read_events(2).map_err(|e| e.to_string())?;
    ensure!(
        first.len() == 2
            && first.iter().all(|e| e.id == t && e.overruns == 0)
            && first[1].expiry_ns == first[0].expiry_ns + 10 * MS,
        "the two queued messages: {first:?}"
    );
    let next = one_event(&d, 2000)?;
    let missed = (next.expiry_ns - first[1].expiry_ns) / (10 * MS) - 1;
    ensure!(
        missed > 0 && next.overruns == missed as u64,
        "after {missed} missed periods the next message says {}",
        next.overruns
    );
    let after = one_event(&d, 2000)?;
    ensure!(
        after.overruns == 0 && after.expiry_ns == next.expiry_ns + 10 * MS,
        "the message after: {after:?}"
    );
    d.timer_delete(t).map_err(|e| e.to_string())?;
    Ok(())
}

/// 19.11: a pulse timer queues each expiry as its own record.
fn qnx_pulses_queue() -> Result<(), String> {
    let d = open()?;
    let t = create(&d, CLOCK_MONOTONIC, sys::HRC_NOTIFY_PULSE)?;
    settime(&d, t, 0, 10 * MS, 10 * MS)?;
    sleep_ms(100)?;
    let queued = d.check().map_err(|e| e.to_string())?.queued;
    ensure!(
        queued >= 3,
        "{queued} pulses queued after 100 ms of a 10 ms timer"
    );
    settime(&d, t, 0, 0, 0)?;
    // Disarming dropped the replaced setting's pulses, every one of them.
    let c = d.check().map_err(|e| e.to_string())?;
    ensure!(c.ok == 1 && c.queued == 0, "after disarm: {c:?}");
    settime(&d, t, 0, 10 * MS, 10 * MS)?;
    sleep_ms(80)?;
    let c = d.check().map_err(|e| e.to_string())?;
    ensure!(c.ok == 1 && c.queued >= 3, "pulses queued: {c:?}");
    let ev = d.read_events(64).map_err(|e| e.to_string())?;
    let i = d.timer_info(t, 0).map_err(|e| e.to_string())?;
    settime(&d, t, 0, 0, 0)?;
    ensure!(
        i.notify == sys::HRC_NOTIFY_PULSE,
        "TimerInfo notify {}",
        i.notify
    );
    ensure!(
        ev.len() >= 3 && ev.iter().all(|e| e.id == t && e.overruns == 0),
        "each pulse its own record: {ev:?}"
    );
    periods_accounted(&ev, 10 * MS)?;
    d.timer_delete(t).map_err(|e| e.to_string())?;
    Ok(())
}

/// 19.9: Mach timer_info's expire_time is the absolute expiry on the timer's clock.
fn mach_timer_info_is_absolute() -> Result<(), String> {
    let d = open()?;
    let t = create(&d, CLOCK_REALTIME, sys::HRC_NOTIFY_MACH)?;
    let i = d.mach_timer_info(t).map_err(|e| e.to_string())?;
    ensure!(i.enqueued == 0 && i.expire_ns == 0, "disarmed: {i:?}");
    let at = now_on(CLOCK_REALTIME) + 5000 * MS;
    d.timer_arm(t, at, 0, sys::HRC_MACH_ABSOLUTE)
        .map_err(|e| e.to_string())?;
    let i = d.mach_timer_info(t).map_err(|e| e.to_string())?;
    ensure!(
        i.enqueued == 1 && i.type_ == sys::HRC_MACH_ABSOLUTE && i.expire_ns == at,
        "absolute: {i:?} for {at}"
    );
    ensure!(
        i.left_ns > 4000 * MS && i.left_ns <= 5000 * MS,
        "time left {}",
        i.left_ns
    );
    d.timer_cancel(t, 0).map_err(|e| e.to_string())?;
    let before = now_on(CLOCK_REALTIME);
    d.timer_arm(t, 5000 * MS, 0, 0).map_err(|e| e.to_string())?;
    let i = d.mach_timer_info(t).map_err(|e| e.to_string())?;
    let after = now_on(CLOCK_REALTIME);
    ensure!(
        i.expire_ns >= before + 5000 * MS && i.expire_ns <= after + 5000 * MS,
        "relative: {} not in [{}, {}]",
        i.expire_ns,
        before + 5000 * MS,
        after + 5000 * MS
    );
    d.timer_delete(t).map_err(|e| e.to_string())?;
    expect_errno(d.mach_timer_info(t), libc::ENOENT, "deleted timer")
}

/// A thread that counts in user space until told to stop, for TIMER_THREAD_SUSPEND to stop.
struct Counter {
    tid: i32,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Counter {
    fn spawn() -> Self {
        use std::sync::atomic::Ordering::Relaxed;
        let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let (c, s) = (count.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            let _ = tx.send(hrcallout::gettid());
            while !s.load(Relaxed) {
                c.fetch_add(1, Relaxed);
                std::hint::spin_loop();
            }
        });
        let tid = rx.recv().unwrap_or(0);
        Self {
            tid,
            count,
            stop,
            handle: Some(handle),
        }
    }

    fn count(&self) -> u64 {
        self.count.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether it counted during `ms`.
    fn runs(&self, ms: u64) -> bool {
        let before = self.count();
        sleep(Duration::from_millis(ms));
        self.count() != before
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// 19.8: Mach TIMER_THREAD_SUSPEND suspends one thread per expiry; thread_resume undoes one;
/// the thread runs only at 0; a dead thread clears its timer; errors as Mach's.
fn mach_thread_suspend() -> Result<(), String> {
    let d = open()?;
    let t = create(&d, CLOCK_MONOTONIC, sys::HRC_NOTIFY_MACH)?;
    let w = Counter::spawn();
    ensure!(w.runs(50), "the counting thread does not run");
    // Errors: no thread (KERN_INVALID_ARGUMENT), none by that id, another process's.
    expect_errno(
        d.timer_arm_suspend(t, MS, 0, 0, 0),
        libc::EINVAL,
        "THREAD_NULL",
    )?;
    expect_errno(
        d.timer_arm_suspend(t, MS, 0, 0, i32::MAX),
        libc::ESRCH,
        "no such thread",
    )?;
    expect_errno(
        d.timer_arm_suspend(t, MS, 0, 0, 1),
        libc::EPERM,
        "init's thread",
    )?;
    expect_errno(
        d.thread_resume(w.tid),
        libc::EINVAL,
        "resume of a thread never suspended",
    )?;
    // One expiry: suspended once; it stops counting until resumed once.
    d.timer_arm_suspend(t, 20 * MS, 0, 0, w.tid)
        .map_err(|e| format!("arm with TIMER_THREAD_SUSPEND: {e}"))?;
    sleep(Duration::from_millis(200));
    let i = d.mach_timer_info(t).map_err(|e| e.to_string())?;
    ensure!(
        i.tid == w.tid && i.suspend_count == 1,
        "after one expiry: {i:?}"
    );
    ensure!(!w.runs(150), "a suspended thread ran");
    ensure!(
        d.thread_resume(w.tid).map_err(|e| e.to_string())? == 0,
        "resume left a count"
    );
    ensure!(w.runs(150), "a resumed thread did not run");
    expect_errno(d.thread_resume(w.tid), libc::EALREADY, "resume at count 0")?;
    // Periodic: every period suspends it once more; it runs only after as many resumes.
    d.timer_arm_suspend(t, 10 * MS, 10 * MS, sys::HRC_MACH_PERIODIC, w.tid)
        .map_err(|e| format!("periodic arm: {e}"))?;
    sleep(Duration::from_millis(100));
    d.timer_cancel(t, 0).map_err(|e| e.to_string())?;
    let n = d
        .mach_timer_info(t)
        .map_err(|e| e.to_string())?
        .suspend_count;
    ensure!(n >= 3, "{n} suspensions from 100 ms of a 10 ms timer");
    for k in (0..n).rev() {
        ensure!(!w.runs(20), "ran with a count of {}", k + 1);
        let left = d.thread_resume(w.tid).map_err(|e| e.to_string())?;
        ensure!(left == k, "resume left {left}, expected {k}");
    }
    ensure!(w.runs(150), "did not run after {n} resumes");
    drop(w);
    // A thread that has exited: its timer clears itself at its next expiry, whose message is
    // still sent.
    let gone = Counter::spawn();
    d.timer_arm_suspend(t, 300 * MS, 50 * MS, sys::HRC_MACH_PERIODIC, gone.tid)
        .map_err(|e| format!("arm for a thread about to exit: {e}"))?;
    drop(gone);
    sleep(Duration::from_millis(500));
    let i = d.mach_timer_info(t).map_err(|e| e.to_string())?;
    ensure!(
        i.enqueued == 0,
        "the timer of an exited thread is still armed: {i:?}"
    );
    let ev = collect(&d, 0, 64)?;
    ensure!(
        ev.iter().filter(|e| e.id == t).count() >= 1,
        "no message from the expiry that found the thread gone"
    );
    let c = d.check().map_err(|e| e.to_string())?;
    ensure!(c.ok == 1, "check {c:?}");
    Ok(())
}

/// Closing the file lets a thread its timers suspended run again.
fn closing_the_file_resumes_its_threads() -> Result<(), String> {
    let w = Counter::spawn();
    {
        let d = open()?;
        let t = create(&d, CLOCK_MONOTONIC, sys::HRC_NOTIFY_MACH)?;
        d.timer_arm_suspend(t, 0, 0, 0, w.tid)
            .map_err(|e| format!("arm: {e}"))?;
        ensure!(!w.runs(150), "the thread was not suspended");
    }
    ensure!(
        w.runs(150),
        "the thread stayed suspended after the file was closed"
    );
    Ok(())
}

fn mach_arm_rules() -> Result<(), String> {
    let d = open()?;
    let t = create(&d, CLOCK_MONOTONIC, sys::HRC_NOTIFY_MACH)?;
    d.timer_arm(t, 1000 * MS, 0, 0).map_err(|e| e.to_string())?;
    expect_errno(
        d.timer_arm(t, 1000 * MS, 0, 0),
        libc::EBUSY,
        "arm of an armed timer (KERN_FAILURE)",
    )?;
    d.timer_cancel(t, 0).map_err(|e| e.to_string())?;
    expect_errno(
        d.timer_cancel(t, 0),
        libc::EALREADY,
        "cancel of an unarmed timer",
    )?;
    expect_errno(
        d.timer_arm(t, MS, 0, sys::HRC_MACH_PERIODIC),
        libc::EINVAL,
        "periodic interval 0 (< resolution)",
    )?;
    expect_errno(d.timer_arm(t, -1, 0, 0), libc::EINVAL, "negative time")?;
    expect_errno(
        d.timer_arm(t, MS, -5, sys::HRC_MACH_PERIODIC),
        libc::EINVAL,
        "negative interval",
    )?;
    expect_errno(
        d.timer_arm(t, MS, 0, sys::HRC_MACH_THREAD_SUSPEND),
        libc::EINVAL,
        "TIMER_THREAD_SUSPEND without a thread (KERN_INVALID_ARGUMENT)",
    )?;
    expect_errno(d.timer_arm(t, MS, 0, 0x100), libc::EINVAL, "unknown flag")?;
    expect_errno(d.timer_arm(12345, MS, 0, 0), libc::ENOENT, "unknown timer")?;
    // The message carries the absolute expiry.
    let at = now() + 20 * MS;
    d.timer_arm(t, at, 0, sys::HRC_MACH_ABSOLUTE)
        .map_err(|e| e.to_string())?;
    let ev = one_event(&d, 2000)?;
    ensure!(
        ev.expiry_ns == at && ev.fire_ns >= at,
        "message {ev:?} for expiry {at}"
    );
    // Cancelling the current interval of a periodic timer skips one period.
    d.timer_arm(t, 50 * MS, 50 * MS, sys::HRC_MACH_PERIODIC)
        .map_err(|e| e.to_string())?;
    let before = d.timer_gettime(t).map_err(|e| e.to_string())?.value_ns;
    d.timer_cancel(t, sys::HRC_MACH_PERIODIC)
        .map_err(|e| e.to_string())?;
    let after = d.timer_gettime(t).map_err(|e| e.to_string())?.value_ns;
    ensure!(
        after > before + 25 * MS as u64,
        "periodic cancel did not skip an interval: {before} -> {after}"
    );
    // Mach checks the interval only for periodic timers: a one-shot ignores it.
    d.timer_cancel(t, 0).map_err(|e| e.to_string())?;
    d.timer_arm(t, 1000 * MS, -5, 0)
        .map_err(|e| format!("one-shot arm with a negative interval: {e}"))?;
    d.timer_cancel(t, 0).map_err(|e| e.to_string())?;
    d.timer_delete(t).map_err(|e| e.to_string())?;
    expect_errno(d.timer_gettime(t), libc::EINVAL, "deleted timer")?;
    expect_errno(
        d.timer_delete(t),
        libc::EINVAL,
        "TimerDestroy of a deleted timer",
    )
}

fn mtcp_settimer() -> Result<(), String> {
    let d = open()?;
    d.settimer(7, 0, 20_000).map_err(|e| e.to_string())?;
    d.settimer(7, 0, 30_000).map_err(|e| e.to_string())?;
    d.settimer(-3, 0, 0).map_err(|e| e.to_string())?;
    let ev = collect(&d, 300, 10)?;
    let cookies: Vec<i64> = ev.iter().map(|e| e.cookie as i64).collect();
    ensure!(cookies == vec![-3, 7, 7], "settimer events {cookies:?}");
    ensure!(
        ev.iter().all(|e| u32::from(e.kind) == sys::HRC_EV_MTCP),
        "kinds"
    );
    expect_errno(
        d.settimer(1, 0, 1_000_000),
        libc::EINVAL,
        "tv_usec = 1000000",
    )?;
    expect_errno(d.settimer(1, -1, 0), libc::EINVAL, "negative tv_sec")?;
    expect_errno(d.settimer(1, 0, -1), libc::EINVAL, "negative tv_usec")?;
    ensure!(collect(&d, 100, 4)?.is_empty(), "one-shot fired twice");
    Ok(())
}

/// Mach: the message of an expiry at or before now is queued before timer_arm returns; QNX: a
/// TIMER_ABSTIME in the past is delivered within TimerSettime.
fn immediate_expiries_are_queued_within_the_call() -> Result<(), String> {
    let d = open()?;
    d.set_qlimit(64).map_err(|e| e.to_string())?;
    for i in 0..20 {
        let t = create(&d, CLOCK_MONOTONIC, sys::HRC_NOTIFY_MACH)?;
        // Absolute 0 (long past) or relative 0.
        let flags = if i % 2 == 0 {
            sys::HRC_MACH_ABSOLUTE
        } else {
            0
        };
        d.timer_arm(t, 0, 0, flags)
            .map_err(|e| format!("arm: {e}"))?;
        let ev = collect(&d, 0, 4)?;
        ensure!(
            ev.len() == 1 && ev[0].id == t && ev[0].fire_ns >= ev[0].expiry_ns,
            "timer {i}: at timer_arm's return {ev:?}"
        );
    }
    let q = create(&d, CLOCK_MONOTONIC, sys::HRC_NOTIFY_SI_TIMER)?;
    settime(&d, q, sys::HRC_TIMER_ABSTIME, 1, 0)?;
    let ev = collect(&d, 0, 4)?;
    ensure!(
        ev.len() == 1 && ev[0].id == q,
        "at TimerSettime's return {ev:?}"
    );
    Ok(())
}

/// A queued record of a setting that TimerSettime replaced or disarmed is not delivered.
fn settime_drops_the_record_of_the_setting_it_replaces() -> Result<(), String> {
    let d = open()?;
    let t = create(&d, CLOCK_MONOTONIC, sys::HRC_NOTIFY_SI_TIMER)?;
    for new in [10_000 * MS, 0] {
        settime(&d, t, 0, 10 * MS, 0)?;
        sleep_ms(150)?;
        let i = d.timer_info(t, 0).map_err(|e| e.to_string())?;
        ensure!(
            i.info_flags & sys::HRC_TI_EXPIRED != 0,
            "the first setting did not expire"
        );
        settime(&d, t, 0, new, 0)?;
        let ev = collect(&d, 50, 4)?;
        ensure!(
            ev.is_empty(),
            "after settime({new}) the old setting's record: {ev:?}"
        );
    }
    Ok(())
}

/// A read whose copy faults after the first record loses no record of a callout, a QNX
/// periodic timer or a Mach timer: the one before the fault is returned, the others stay
/// queued in order, and every period of the periodic timer is still accounted for.
fn a_faulting_read_of_object_records_loses_nothing() -> Result<(), String> {
    let d = open()?;
    let rec = std::mem::size_of::<Event>();
    let q = create(&d, CLOCK_MONOTONIC, sys::HRC_NOTIFY_SI_TIMER)?;
    let m = create(&d, CLOCK_MONOTONIC, sys::HRC_NOTIFY_MACH)?;
    let c = d
        .callout_init(sys::HRC_CALLOUT_INIT_MP, 0)
        .map_err(|e| e.to_string())?;
    settime(&d, q, 0, 10 * MS, 10 * MS)?;
    d.timer_arm(m, 20 * MS, 0, 0).map_err(|e| e.to_string())?;
    let r = sys::hrc_callout_reset {
        id: c,
        time: 20 * MS,
        flags: sys::HRC_CALLOUT_NS,
        actions: sys::HRC_CA_EVENT,
        cookie: 9,
        ..Default::default()
    };
    d.callout_reset(&r).map_err(|e| e.to_string())?;
    let t0 = now();
    while d.check().map_err(|e| e.to_string())?.queued < 3 {
        ensure!(
            now() - t0 < 5000 * MS,
            "three records not queued within 5 s"
        );
        sleep_ms(5)?;
    }
    // Room for one record before the unmapped page; the call asks for three.
    let p = Pages::new()?;
    let buf = p.0 as usize + Pages::SIZE - rec;
    // SAFETY: `buf` is one record before the unmapped page of our mapping: the kernel may
    // write that record, and must fault on the next one.
    let n = unsafe { libc::read(d_fd(&d), buf as *mut libc::c_void, 3 * rec) };
    ensure!(
        n == rec as isize,
        "read returned {n}, want one record ({rec})"
    );
    // SAFETY: the record the kernel wrote, inside our mapping.
    let first = unsafe { std::ptr::read_unaligned(buf as *const Event) };
    let mut all = vec![first];
    all.extend(collect(&d, 100, 16)?);
    // Stop the periodic timer only after its records are read (a re-arm drops an unread one).
    let more = collect(&d, 50, 16)?;
    all.extend(more);
    settime(&d, q, 0, 0, 0)?;
    let count = |id: u64| all.iter().filter(|e| e.id == id).count();
    ensure!(
        count(m) == 1 && count(c) == 1,
        "Mach or callout record lost or doubled: {all:?}"
    );
    let qev: Vec<Event> = all.iter().filter(|e| e.id == q).copied().collect();
    periods_accounted(&qev, 10 * MS)?;
    Ok(())
}

/// Relative times run on CLOCK_MONOTONIC whatever the timer's clock, and their records say so;
/// absolute times run on the timer's clock.
fn relative_realtime_timers_ignore_clock_steps() -> Result<(), String> {
    let d = open()?;
    let qnx = create(&d, CLOCK_REALTIME, sys::HRC_NOTIFY_SI_TIMER)?;
    let mach = create(&d, CLOCK_REALTIME, sys::HRC_NOTIFY_MACH)?;
    // QNX: relative, then absolute, then relative again: the last arming is relative.
    settime(&d, qnx, 0, 60_000 * MS, 0)?;
    settime(
        &d,
        qnx,
        sys::HRC_TIMER_ABSTIME,
        now_on(CLOCK_REALTIME) + 60_000 * MS,
        0,
    )?;
    let t0 = now();
    settime(&d, qnx, 0, 1500 * MS, 0)?;
    d.timer_arm(mach, 1500 * MS, 0, 0)
        .map_err(|e| format!("arm: {e}"))?;
    // A 20 s step forward must not fire them (it would on the realtime clock).
    step_realtime(20_000 * MS)?;
    let early = collect(&d, 300, 4);
    step_realtime(-20_000 * MS)?;
    let early = early?;
    ensure!(
        early.is_empty() || now() - t0 >= 1500 * MS,
        "relative REALTIME timers fired at the clock step: {early:?}"
    );
    let mut ev = early;
    ev.extend(collect(&d, 5000, 4)?);
    ensure!(ev.len() == 2, "records {ev:?}");
    for e in &ev {
        ensure!(
            e.clock == CLOCK_MONOTONIC && e.fire_ns >= e.expiry_ns,
            "a relative arming's record {e:?} (its clock must be MONOTONIC)"
        );
    }
    // The timer's own clock is still REALTIME.
    let i = d.timer_info(qnx, 0).map_err(|e| e.to_string())?;
    ensure!(i.clock == CLOCK_REALTIME, "TimerInfo clock {}", i.clock);
    Ok(())
}

fn absolute_realtime_timers_follow_clock_settime() -> Result<(), String> {
    let d = open()?;
    let t = create(&d, CLOCK_REALTIME, sys::HRC_NOTIFY_SI_TIMER)?;
    let rel = create(&d, CLOCK_MONOTONIC, sys::HRC_NOTIFY_SI_TIMER)?;
    let at = now_on(CLOCK_REALTIME) + 10_000 * MS;
    settime(&d, t, sys::HRC_TIMER_ABSTIME, at, 0)?;
    settime(&d, rel, 0, 10_000 * MS, 0)?;
    step_realtime(20_000 * MS)?;
    let ev = collect(&d, 500, 4);
    step_realtime(-20_000 * MS)?;
    let ev = ev?;
    ensure!(
        ev.len() == 1 && ev[0].id == t,
        "after stepping the clock 20 s forward: {ev:?}"
    );
    Ok(())
}

/// Issue 23 point 3: a watch gets an `HRC_EV_CLOCK_SET` record for each set of
/// CLOCK_REALTIME, with the new realtime - monotonic offset; an absolute REALTIME timer armed
/// with `HRC_TIMER_CANCEL_ON_SET` is disarmed by the set with a record flagged
/// `HRC_EVF_CANCELED` for the time it was armed for, while one without the flag follows the
/// clock; the flag is refused on a relative time and on CLOCK_MONOTONIC.
fn clock_sets_are_told_and_cancel_on_set_timers_cancelled() -> Result<(), String> {
    let d = open()?;
    let err = |e: std::io::Error| e.to_string();
    let w = d.clock_watch(9).map_err(err)?;
    let q = create(&d, CLOCK_REALTIME, sys::HRC_NOTIFY_SI_TIMER)?;
    let keep = create(&d, CLOCK_REALTIME, sys::HRC_NOTIFY_SI_TIMER)?;
    let mono = create(&d, CLOCK_MONOTONIC, sys::HRC_NOTIFY_SI_TIMER)?;
    let cancel = sys::HRC_TIMER_ABSTIME | sys::HRC_TIMER_CANCEL_ON_SET;
    expect_errno(
        d.timer_settime(q, sys::HRC_TIMER_CANCEL_ON_SET, (1000 * MS) as u64, 0),
        libc::EINVAL,
        "CANCEL_ON_SET on a relative time",
    )?;
    expect_errno(
        d.timer_settime(mono, cancel, (now() + 1000 * MS) as u64, 0),
        libc::EINVAL,
        "CANCEL_ON_SET on CLOCK_MONOTONIC",
    )?;
    let at = now_on(CLOCK_REALTIME) + 60_000 * MS;
    settime(&d, q, cancel, at, 0)?;
    settime(&d, keep, sys::HRC_TIMER_ABSTIME, at, 0)?;
    ensure!(!readable(&d, 200)?, "a record before any set");
    let offset = now_on(CLOCK_REALTIME) - now();
    step_realtime(20_000 * MS)?;
    let ev = collect(&d, 1000, 8);
    step_realtime(-20_000 * MS)?;
    let ev = ev?;
    let set = ev
        .iter()
        .find(|e| u32::from(e.kind) == sys::HRC_EV_CLOCK_SET);
    let cancelled = ev.iter().find(|e| e.id == q);
    ensure!(
        ev.len() == 2,
        "after a 20 s step, two records expected: {ev:?}"
    );
    let set = set.ok_or_else(|| format!("no clock-set record: {ev:?}"))?;
    ensure!(
        set.id == w && set.cookie == 9 && set.clock == CLOCK_REALTIME && set.overruns == 0,
        "the watch's record: {set:?}"
    );
    // The new offset: 20 s more than before, give or take what the clock ran meanwhile.
    let moved = set.expiry_ns - offset - 20_000 * MS;
    ensure!(
        (0..1000 * MS).contains(&moved.abs()),
        "the record's offset {} is {moved} ns off the old one + 20 s",
        set.expiry_ns
    );
    let c = cancelled.ok_or_else(|| format!("no record of the cancelled timer: {ev:?}"))?;
    ensure!(
        u32::from(c.kind) == sys::HRC_EV_INTERVAL
            && c.flags & sys::HRC_EVF_CANCELED != 0
            && c.expiry_ns == at,
        "the cancelled timer's record: {c:?}"
    );
    ensure!(
        d.timer_gettime(q).map_err(err)?.value_ns == 0,
        "the cancel-on-set timer is still armed"
    );
    ensure!(
        d.timer_gettime(keep).map_err(err)?.value_ns > 0,
        "the timer without the flag was disarmed"
    );
    // The step back: one more set, nothing more of the cancelled timer.
    let ev = collect(&d, 1000, 8)?;
    ensure!(
        ev.len() == 1 && ev[0].id == w,
        "after the step back: {ev:?}"
    );
    d.clock_unwatch(w).map_err(err)?;
    expect_errno(d.clock_unwatch(w), libc::ENOENT, "a second unwatch")?;
    expect_errno(d.clock_unwatch(q), libc::ENOENT, "unwatch of a timer")?;
    Ok(())
}

/// CLOCK_BOOTTIME and CLOCK_TAI timers, QNX and Mach: a relative time runs on BOOTTIME for a
/// BOOTTIME timer and on MONOTONIC for a TAI one (the records say which), an absolute one on the
/// timer's clock, at exactly its time, and one in the past at once; a 20 s step of
/// CLOCK_REALTIME fires an absolute TAI timer 10 s ahead (TAI follows it) and not a BOOTTIME one.
fn boottime_and_tai_timers() -> Result<(), String> {
    let d = open()?;
    d.set_qlimit(16).map_err(|e| e.to_string())?;
    for (clock, relative_on) in [
        (CLOCK_BOOTTIME, CLOCK_BOOTTIME),
        (CLOCK_TAI, CLOCK_MONOTONIC),
    ] {
        for notify in [sys::HRC_NOTIFY_SI_TIMER, sys::HRC_NOTIFY_MACH] {
            let what = format!("clock {clock}, notify {notify}");
            let t = create(&d, clock, notify)?;
            let arm = |flags_abs: bool, at: i64| -> Result<(), String> {
                if notify == sys::HRC_NOTIFY_MACH {
                    let f = if flags_abs { sys::HRC_MACH_ABSOLUTE } else { 0 };
                    d.timer_arm(t, at, 0, f)
                        .map(drop)
                        .map_err(|e| format!("arm: {e}"))
                } else {
                    let f = if flags_abs { sys::HRC_TIMER_ABSTIME } else { 0 };
                    settime(&d, t, f, at, 0).map(drop)
                }
            };
            let t0 = now_on(relative_on);
            arm(false, 20 * MS)?;
            let ev = one_event(&d, 5000)?;
            ensure!(
                ev.id == t && ev.clock == relative_on && ev.expiry_ns >= t0 + 20 * MS,
                "{what}: relative 20 ms gave {ev:?} (armed at {t0})"
            );
            let at = now_on(clock) + 20 * MS;
            arm(true, at)?;
            let ev = one_event(&d, 5000)?;
            ensure!(
                ev.clock == clock && ev.expiry_ns == at && ev.fire_ns >= at,
                "{what}: absolute {at} gave {ev:?}"
            );
            let past = now_on(clock) - 1000 * MS;
            arm(true, past)?;
            let ev = one_event(&d, 500)?;
            ensure!(
                ev.clock == clock && ev.expiry_ns == past,
                "{what}: absolute in the past gave {ev:?}"
            );
            d.timer_delete(t).map_err(|e| e.to_string())?;
        }
    }
    let tai = create(&d, CLOCK_TAI, sys::HRC_NOTIFY_SI_TIMER)?;
    let boot = create(&d, CLOCK_BOOTTIME, sys::HRC_NOTIFY_SI_TIMER)?;
    settime(
        &d,
        tai,
        sys::HRC_TIMER_ABSTIME,
        now_on(CLOCK_TAI) + 10_000 * MS,
        0,
    )?;
    settime(
        &d,
        boot,
        sys::HRC_TIMER_ABSTIME,
        now_on(CLOCK_BOOTTIME) + 10_000 * MS,
        0,
    )?;
    step_realtime(20_000 * MS)?;
    let ev = collect(&d, 500, 4);
    step_realtime(-20_000 * MS)?;
    let ev = ev?;
    ensure!(
        ev.len() == 1 && ev[0].id == tai && ev[0].clock == CLOCK_TAI,
        "after stepping CLOCK_REALTIME 20 s forward: {ev:?} (TAI {tai:#x}, BOOTTIME {boot:#x})"
    );
    let i = d.timer_info(boot, 0).map_err(|e| e.to_string())?;
    ensure!(i.clock == CLOCK_BOOTTIME, "TimerInfo clock {}", i.clock);
    Ok(())
}

/// What a process in a time namespace whose CLOCK_MONOTONIC and CLOCK_BOOTTIME run 1000 s
/// ahead of the host's sees: QNX and Mach timers armed absolute for its own now + 50 ms fire
/// within 3 s (untranslated they would be 1000 s away), with `expiry_ns` on the host's clock.
/// Returns the exit code of that process: 0, or the number of the check that failed.
fn in_a_time_namespace() -> i32 {
    const OFFSET: i64 = 1000 * 1000 * MS;
    let Ok(d) = Device::open() else { return 10 };
    for (n, clock) in [CLOCK_MONOTONIC, CLOCK_BOOTTIME].into_iter().enumerate() {
        for (m, notify) in [sys::HRC_NOTIFY_SI_TIMER, sys::HRC_NOTIFY_MACH]
            .into_iter()
            .enumerate()
        {
            let code = 20 + 10 * n as i32 + 2 * m as i32;
            let Ok(t) = d.timer_create(clock, notify, 0) else {
                return code;
            };
            let at = hrcallout::now_ns(clock) + 50 * MS;
            let armed = if notify == sys::HRC_NOTIFY_MACH {
                d.timer_arm(t, at, 0, sys::HRC_MACH_ABSOLUTE).is_ok()
            } else {
                d.timer_settime(t, sys::HRC_TIMER_ABSTIME, at as u64, 0)
                    .is_ok()
            };
            if !armed || !d.poll_readable(3000).unwrap_or(false) {
                return code;
            }
            match d.read_events(1) {
                Ok(ev) if ev.len() == 1 && ev[0].expiry_ns == at - OFFSET => {}
                _ => return code + 1,
            }
        }
    }
    0
}

/// Runs [`in_a_time_namespace`] in a grandchild that a child put in a new time namespace
/// (CLONE_NEWTIME applies to the children of the caller; the test process stays where it is).
fn absolute_times_from_a_time_namespace() -> Result<(), String> {
    let code = in_child(|| {
        // SAFETY: plain system calls on memory of this frame.
        unsafe {
            if libc::unshare(libc::CLONE_NEWTIME) != 0 {
                return 2;
            }
            let offsets = b"monotonic 1000 0\nboottime 1000 0\n";
            let f = libc::open(c"/proc/self/timens_offsets".as_ptr(), libc::O_WRONLY);
            if f < 0 || libc::write(f, offsets.as_ptr().cast(), offsets.len()) < 0 {
                return 3;
            }
            libc::close(f);
        }
        in_child(in_a_time_namespace).unwrap_or(4)
    })?;
    ensure!(
        code == 0,
        "in a time namespace 1000 s ahead: check {code} failed (2/3: unshare or the offsets \
         refused; 20+: MONOTONIC, 30+: BOOTTIME; +0: no record within 3 s, +1: wrong expiry; \
         +2: the same for Mach)"
    );
    Ok(())
}

/// A POSIX (value, interval) and ours agree: same period, values within 50 ms (the two were
/// read a few TCG-slow microseconds apart).
fn same_itimer(what: &str, posix: (i64, i64), ours: sys::hrc_itimer) -> Result<(), String> {
    let (pv, pi) = posix;
    ensure!(
        pi as u64 == ours.interval_ns,
        "{what} interval: posix {pi}, ours {}",
        ours.interval_ns
    );
    let diff = (pv - ours.value_ns as i64).abs();
    ensure!(
        diff < 50 * MS,
        "{what} value: posix {pv}, ours {} (diff {diff} ns)",
        ours.value_ns
    );
    Ok(())
}

/// A `timespec` in ns.
fn ns(t: libc::timespec) -> i64 {
    t.tv_sec * 1_000_000_000 + t.tv_nsec
}

/// Linux POSIX timer helpers for the differential tests.
struct PosixTimer(libc::timer_t);

impl PosixTimer {
    fn new(signal: Option<i32>) -> Result<Self, String> {
        let mut sev: libc::sigevent = unsafe { std::mem::zeroed() };
        sev.sigev_notify = if signal.is_some() {
            libc::SIGEV_SIGNAL
        } else {
            libc::SIGEV_NONE
        };
        sev.sigev_signo = signal.unwrap_or(0);
        let mut t: libc::timer_t = std::ptr::null_mut();
        // SAFETY: valid sigevent and out pointer.
        let r = unsafe { libc::timer_create(libc::CLOCK_MONOTONIC, &mut sev, &mut t) };
        ensure!(r == 0, "timer_create: {}", std::io::Error::last_os_error());
        Ok(Self(t))
    }
    fn settime(&self, value: i64, interval: i64) -> (i64, i64) {
        let ts = |ns: i64| libc::timespec {
            tv_sec: ns / 1_000_000_000,
            tv_nsec: ns % 1_000_000_000,
        };
        let new = libc::itimerspec {
            it_value: ts(value),
            it_interval: ts(interval),
        };
        let mut old: libc::itimerspec = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointers.
        unsafe { libc::timer_settime(self.0, 0, &new, &mut old) };
        (ns(old.it_value), ns(old.it_interval))
    }
}

impl PosixTimer {
    fn gettime(&self) -> (i64, i64) {
        let mut cur: libc::itimerspec = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointer.
        unsafe { libc::timer_gettime(self.0, &mut cur) };
        (ns(cur.it_value), ns(cur.it_interval))
    }
}

impl Drop for PosixTimer {
    fn drop(&mut self) {
        // SAFETY: our timer.
        unsafe { libc::timer_delete(self.0) };
    }
}

fn differential_old_values_match_posix_timers() -> Result<(), String> {
    let d = open()?;
    let t = create(&d, CLOCK_MONOTONIC, sys::HRC_NOTIFY_SI_TIMER)?;
    let p = PosixTimer::new(None)?;
    // gettime: time left and period.
    p.settime(1000 * MS, 100 * MS);
    settime(&d, t, 0, 1000 * MS, 100 * MS)?;
    sleep(Duration::from_millis(50));
    same_itimer(
        "gettime",
        p.gettime(),
        d.timer_gettime(t).map_err(|e| e.to_string())?,
    )?;
    // Armed: old value and interval.
    p.settime(1000 * MS, 100 * MS);
    settime(&d, t, 0, 1000 * MS, 100 * MS)?;
    sleep(Duration::from_millis(50));
    same_itimer("old setting", p.settime(0, 0), settime(&d, t, 0, 0, 0)?)?;
    // Disarmed: zeros.
    let (pv, _) = p.settime(0, 0);
    let ours = settime(&d, t, 0, 0, 0)?;
    ensure!(
        pv == 0 && ours.value_ns == 0,
        "disarmed old value: posix {pv}, ours {}",
        ours.value_ns
    );
    // A one-shot that expired: zeros too.
    p.settime(5 * MS, 0);
    settime(&d, t, 0, 5 * MS, 0)?;
    sleep(Duration::from_millis(50));
    let (pv, pi) = p.settime(0, 0);
    let ours = settime(&d, t, 0, 0, 0)?;
    ensure!(
        (pv, pi) == (0, 0) && ours.value_ns == 0 && ours.interval_ns == 0,
        "expired one-shot: posix ({pv},{pi}) ours {ours:?}"
    );
    Ok(())
}

fn differential_overruns_match_posix_timers() -> Result<(), String> {
    let d = open()?;
    d.set_nonblocking(true).map_err(|e| e.to_string())?;
    let sig = libc::SIGRTMIN();
    // SAFETY: plain signal-mask calls for this thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    let p = PosixTimer::new(Some(sig))?;
    let t = create(&d, CLOCK_MONOTONIC, sys::HRC_NOTIFY_SI_TIMER)?;
    let armed = now();
    p.settime(5 * MS, 5 * MS);
    settime(&d, t, 0, 5 * MS, 5 * MS)?;
    let arming = now() - armed;
    sleep(Duration::from_millis(200));
    let sampled = now();
    // Both dequeue their one pending notification; then compare the overrun counts.
    let posix = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::sigtimedwait(
            &set,
            &mut info,
            &libc::timespec {
                tv_sec: 1,
                tv_nsec: 0,
            },
        );
        ensure!(r == sig, "no POSIX timer signal");
        libc::timer_getoverrun(p.0) as i64
    };
    // Reading our record fixes its count, as the dequeue fixed POSIX's. (Disarming first would
    // drop it: a re-arm or disarm drops the notification of the old setting, on both sides.)
    let ev = d.read_events(4).map_err(|e| e.to_string())?;
    let sampling = now() - sampled;
    settime(&d, t, 0, 0, 0)?;
    p.settime(0, 0);
    ensure!(ev.len() == 1, "{} records for one SI_TIMER timer", ev.len());
    let ours = ev[0].overruns as i64;
    // Both count ~39 missed periods. They were armed, and their counts fixed, a few µs apart
    // on an idle machine, but a vCPU descheduled under TCG can stretch either gap over
    // periods: each 5 ms of gap allows one more period of difference.
    let slack = 2 + (arming + sampling) / (5 * MS);
    ensure!(
        (posix - ours).abs() <= slack,
        "overruns: posix {posix}, ours {ours} (allowed ±{slack})"
    );
    ensure!(
        ours >= 20,
        "too few overruns ({ours}) for 200 ms of a 5 ms timer"
    );
    Ok(())
}

/// The cases that also run on virtual time (`main.rs`): not those that need time to pass
/// during a blocking call (a blocking read, a suspended thread), nor the differential ones,
/// whose other side is Linux's real-time POSIX timers.
pub const ON_VIRTUAL_TIME: &[&str] = &[
    "itimer_clock_sets_are_told_and_cancel_on_set_timers_cancelled",
    "itimer_qnx_one_shot_and_periodic",
    "itimer_absolute_past_fires_at_once",
    "itimer_zero_disarms_settime_returns_old",
    "itimer_si_timer_one_record",
    "itimer_mach_qlimit_overruns_add_up",
    "itimer_mach_arm_rules",
    "itimer_mach_messages_queue_to_the_port_limit",
    "itimer_qnx_pulses_queue",
    "itimer_mach_timer_info_is_absolute",
    "itimer_relative_realtime_ignores_clock_steps",
    "itimer_immediate_expiries_within_the_call",
    "itimer_settime_drops_the_replaced_record",
    "itimer_faulting_read_of_object_records_loses_nothing",
    "itimer_mtcp_settimer",
    "itimer_realtime_follows_clock_settime",
    "itimer_boottime_and_tai",
];

pub const CASES: &[Case] = &[
    (
        "itimer_clock_sets_are_told_and_cancel_on_set_timers_cancelled",
        clock_sets_are_told_and_cancel_on_set_timers_cancelled,
    ),
    (
        "itimer_a_burst_beyond_one_pass_is_handed_on_in_order",
        a_burst_beyond_one_pass_is_handed_on_in_order,
    ),
    ("itimer_boottime_and_tai", boottime_and_tai_timers),
    (
        "itimer_time_namespace_absolute_times",
        absolute_times_from_a_time_namespace,
    ),
    (
        "itimer_qnx_one_shot_and_periodic",
        qnx_one_shot_and_periodic,
    ),
    (
        "itimer_absolute_past_fires_at_once",
        absolute_in_the_past_fires_at_once,
    ),
    (
        "itimer_zero_disarms_settime_returns_old",
        zero_disarms_and_settime_returns_the_old_setting,
    ),
    (
        "itimer_si_timer_one_record",
        si_timer_never_queues_two_records,
    ),
    (
        "itimer_si_timer_one_record_per_read",
        si_timer_one_record_per_read,
    ),
    (
        "itimer_mach_qlimit_overruns_add_up",
        mach_queue_limit_and_overruns_add_up,
    ),
    ("itimer_mach_arm_rules", mach_arm_rules),
    (
        "itimer_mach_messages_queue_to_the_port_limit",
        mach_messages_queue_to_the_port_limit,
    ),
    ("itimer_qnx_pulses_queue", qnx_pulses_queue),
    ("itimer_mach_thread_suspend", mach_thread_suspend),
    (
        "itimer_closing_the_file_resumes_its_threads",
        closing_the_file_resumes_its_threads,
    ),
    (
        "itimer_mach_timer_info_is_absolute",
        mach_timer_info_is_absolute,
    ),
    (
        "itimer_relative_realtime_ignores_clock_steps",
        relative_realtime_timers_ignore_clock_steps,
    ),
    (
        "itimer_immediate_expiries_within_the_call",
        immediate_expiries_are_queued_within_the_call,
    ),
    (
        "itimer_settime_drops_the_replaced_record",
        settime_drops_the_record_of_the_setting_it_replaces,
    ),
    (
        "itimer_faulting_read_of_object_records_loses_nothing",
        a_faulting_read_of_object_records_loses_nothing,
    ),
    ("itimer_mtcp_settimer", mtcp_settimer),
    (
        "itimer_realtime_follows_clock_settime",
        absolute_realtime_timers_follow_clock_settime,
    ),
    (
        "itimer_diff_posix_old_values",
        differential_old_values_match_posix_timers,
    ),
    (
        "itimer_diff_posix_overruns",
        differential_overruns_match_posix_timers,
    ),
];
