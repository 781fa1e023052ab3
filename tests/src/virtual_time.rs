//! Virtual time (`HRC_IOC_CLOCK_*`): every personality on a clock that moves only when told,
//! with exact times, and record streams that repeat byte for byte.

use crate::common::{expect_errno, open, pin, TestDevice, MS};
use crate::{ensure, Case};
use hrcallout::{sys, Device, Event, CLOCK_MONOTONIC, CLOCK_REALTIME};

const START: i64 = 1_000_000_000;
const REAL: i64 = 1_700_000_000_000_000_000;

fn vfile() -> Result<TestDevice, String> {
    let d = open()?;
    d.clock_virtual(Some((START, REAL)))
        .map_err(|e| format!("CLOCK_VIRTUAL: {e}"))?;
    d.set_nonblocking(true).map_err(|e| e.to_string())?;
    Ok(d)
}

fn advance(d: &Device, ns: i64) -> Result<sys::hrc_clock_advance, String> {
    d.clock_advance(ns, 0)
        .map_err(|e| format!("advance {ns}: {e}"))
}

/// Every record queued now (the file is non-blocking).
fn drain(d: &Device) -> Result<Vec<Event>, String> {
    d.read_queued().map_err(|e| format!("read: {e}"))
}

fn virtual_clock_refusals() -> Result<(), String> {
    let real = open()?;
    let n = real.clock_now().map_err(|e| e.to_string())?;
    ensure!(n.is_virtual == 0 && n.mono_ns > 0, "real file: {n:?}");
    expect_errno(
        real.clock_advance(MS, 0),
        libc::EOPNOTSUPP,
        "advance on a real file",
    )?;
    expect_errno(
        real.clock_set_realtime(0),
        libc::EOPNOTSUPP,
        "set_realtime, real",
    )?;
    expect_errno(
        real.clock_virtual(Some((-1, 0))),
        libc::EINVAL,
        "negative start",
    )?;
    real.timeout_ns(1000 * MS, 1).map_err(|e| e.to_string())?;
    expect_errno(real.clock_virtual(None), libc::EBUSY, "a file with a timer")?;
    let d = vfile()?;
    expect_errno(d.clock_virtual(None), libc::EBUSY, "virtual twice")?;
    expect_errno(d.clock_advance(-1, 0), libc::EINVAL, "backwards")?;
    expect_errno(
        d.clock_advance_to(START - 1, 0),
        libc::EINVAL,
        "to the past",
    )?;
    let n = d.clock_now().map_err(|e| e.to_string())?;
    ensure!(
        (n.is_virtual, n.mono_ns, n.real_ns) == (1, START, REAL),
        "virtual now {n:?}"
    );
    // Bad flags and reserved fields, through the raw ioctl.
    let bad = [
        sys::hrc_clock_virtual {
            flags: 2,
            ..Default::default()
        },
        sys::hrc_clock_virtual {
            pad: 1,
            ..Default::default()
        },
        sys::hrc_clock_virtual {
            flags: sys::HRC_CLOCK_VIRTUAL_AT_NOW,
            mono_ns: 5,
            ..Default::default()
        },
    ];
    for mut v in bad {
        let f = open()?;
        // SAFETY: `v` is a `hrc_clock_virtual` we own, and the number is sized for it.
        let r = unsafe { f.raw_ioctl(sys::HRC_IOC_CLOCK_VIRTUAL, &mut v as *mut _ as usize) };
        expect_errno(r, libc::EINVAL, &format!("CLOCK_VIRTUAL {v:?}"))?;
    }
    let mut a = sys::hrc_clock_advance {
        flags: 4,
        ..Default::default()
    };
    // SAFETY: as above, for `hrc_clock_advance`.
    let r = unsafe { d.raw_ioctl(sys::HRC_IOC_CLOCK_ADVANCE, &mut a as *mut _ as usize) };
    expect_errno(r, libc::EINVAL, "advance flags")?;
    Ok(())
}

fn virtual_timeouts_fire_at_exact_times_in_arming_order() -> Result<(), String> {
    let d = vfile()?;
    let ids: Vec<u64> = [(10, 1), (5, 2), (5, 3), (20, 4), (5, 5)]
        .iter()
        .map(|&(ms, cookie)| d.timeout_ns(ms * MS, cookie))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let a = advance(&d, 5 * MS - 1)?;
    ensure!(a.mono_ns == START + 5 * MS - 1 && a.passes == 0, "{a:?}");
    ensure!(drain(&d)?.is_empty(), "a record before its time");
    ensure!(
        !d.poll_readable(0).map_err(|e| e.to_string())?,
        "readable early"
    );
    advance(&d, 5 * MS + 1)?;
    let ev = drain(&d)?;
    let got: Vec<(u64, i64, i64)> = ev
        .iter()
        .map(|e| (e.cookie, e.expiry_ns, e.fire_ns))
        .collect();
    let (t5, t10) = (START + 5 * MS, START + 10 * MS);
    ensure!(
        got == [(2, t5, t5), (3, t5, t5), (5, t5, t5), (1, t10, t10)],
        "records {got:?}"
    );
    let u = d.untimeout(ids[3]).map_err(|e| e.to_string())?;
    ensure!(u.remaining_ns == 10 * MS, "remaining {}", u.remaining_ns);
    // mTCP and a batch, on the same clock.
    d.settimer(7, 1, 500_000).map_err(|e| e.to_string())?;
    let mut ops = [
        sys::hrc_timeout {
            time: 2 * MS,
            cookie: 8,
            flags: sys::HRC_TIMEOUT_NS,
            ..Default::default()
        },
        sys::hrc_timeout {
            time: MS,
            cookie: 9,
            flags: sys::HRC_TIMEOUT_NS,
            ..Default::default()
        },
    ];
    d.timeout_batch(&mut ops).map_err(|e| e.to_string())?;
    advance(&d, 2000 * MS)?;
    let now = t10;
    let got: Vec<(u16, u64, i64)> = drain(&d)?
        .iter()
        .map(|e| (e.kind, e.cookie, e.fire_ns - now))
        .collect();
    ensure!(
        got == [
            (sys::HRC_EV_TIMEOUT as u16, 9, MS),
            (sys::HRC_EV_TIMEOUT as u16, 8, 2 * MS),
            (sys::HRC_EV_MTCP as u16, 7, 1_500 * MS)
        ],
        "records {got:?}"
    );
    Ok(())
}

fn virtual_callouts_run_in_the_advance_under_their_lock() -> Result<(), String> {
    let d = vfile()?;
    let lock = d
        .lock_create(sys::HRC_LOCK_MUTEX)
        .map_err(|e| e.to_string())?;
    let c = d
        .callout_init(sys::HRC_CALLOUT_INIT_LK, lock)
        .map_err(|e| e.to_string())?;
    let r = sys::hrc_callout_reset {
        id: c,
        time: 10 * MS,
        flags: sys::HRC_CALLOUT_NS,
        actions: sys::HRC_CA_EVENT | sys::HRC_CA_RESET,
        repeat: 3,
        cookie: 5,
        ..Default::default()
    };
    d.callout_reset(&r).map_err(|e| e.to_string())?;
    advance(&d, 100 * MS)?;
    // Its unread record coalesces: the last run's, counting the three before it.
    let ev = drain(&d)?;
    ensure!(
        ev.len() == 1 && ev[0].fire_ns == START + 40 * MS && ev[0].overruns == 3,
        "self-resetting callout: {ev:?}"
    );
    ensure!(
        ev.iter()
            .all(|e| e.flags & sys::HRC_EVF_LOCK_HELD != 0 && e.expiry_ns == e.fire_ns),
        "records {ev:?}"
    );
    // Stopped under its lock after it fired, while the advance waits for that lock: it must
    // not run, and the stop returns 1.
    let r = sys::hrc_callout_reset {
        repeat: 0,
        actions: sys::HRC_CA_EVENT,
        ..r
    };
    d.callout_reset(&r).map_err(|e| e.to_string())?;
    let result = std::thread::scope(|s| {
        let h = s.spawn(|| d.lock_hold(lock, 300_000, sys::HRC_HOLD_STOP, c));
        std::thread::sleep(std::time::Duration::from_millis(100));
        let a = advance(&d, 10 * MS);
        (h.join(), a)
    });
    let (held, a) = result;
    a?;
    let stop = held
        .map_err(|_| "lock_hold panicked".to_string())?
        .map_err(|e| e.to_string())?;
    ensure!(stop == 1, "stop under the lock returned {stop}");
    ensure!(drain(&d)?.is_empty(), "the stopped callout ran");
    Ok(())
}

fn virtual_periodic_timers_count_every_period() -> Result<(), String> {
    let d = vfile()?;
    let q = d
        .timer_create(CLOCK_MONOTONIC, sys::HRC_NOTIFY_SI_TIMER, 1)
        .map_err(|e| e.to_string())?;
    d.timer_settime(q, 0, MS as u64, MS as u64)
        .map_err(|e| e.to_string())?;
    d.set_qlimit(4).map_err(|e| e.to_string())?;
    let m = d
        .timer_create(CLOCK_MONOTONIC, sys::HRC_NOTIFY_MACH, 2)
        .map_err(|e| e.to_string())?;
    d.timer_arm(
        m,
        START + MS,
        MS,
        sys::HRC_MACH_ABSOLUTE | sys::HRC_MACH_PERIODIC,
    )
    .map_err(|e| e.to_string())?;
    advance(&d, 10 * MS)?;
    let ev = drain(&d)?;
    let qnx: Vec<&Event> = ev.iter().filter(|e| e.cookie == 1).collect();
    ensure!(
        qnx.len() == 1 && qnx[0].overruns == 9 && qnx[0].fire_ns == START + 10 * MS,
        "QNX records {qnx:?}"
    );
    let mach: Vec<(i64, i64)> = ev
        .iter()
        .filter(|e| e.cookie == 2)
        .map(|e| (e.expiry_ns - START, e.fire_ns - START))
        .collect();
    ensure!(
        // The file's queue holds 4 records, the QNX one among them.
        mach == [(MS, MS), (2 * MS, 2 * MS), (3 * MS, 3 * MS)],
        "Mach records up to the queue limit {mach:?}"
    );
    advance(&d, MS)?;
    let more = drain(&d)?;
    let periods: u64 = ev
        .iter()
        .chain(more.iter())
        .filter(|e| e.cookie == 2)
        .map(|e| 1 + e.overruns)
        .sum();
    ensure!(
        periods == 11,
        "Mach periods accounted for: {periods}, want 11 ({more:?})"
    );
    Ok(())
}

fn virtual_huge_advance_folds_into_overruns() -> Result<(), String> {
    let d = vfile()?;
    let q = d
        .timer_create(CLOCK_MONOTONIC, sys::HRC_NOTIFY_SI_TIMER, 1)
        .map_err(|e| e.to_string())?;
    d.timer_settime(q, 0, 1, 1).map_err(|e| e.to_string())?;
    let a = d
        .clock_advance(1_000_000_000, 1000)
        .map_err(|e| e.to_string())?;
    // 1000 passes at their instants, then one late pass on the one clock with timers.
    ensure!(a.folded == 1 && a.passes == 1001, "advance {a:?}");
    let ev = drain(&d)?;
    ensure!(
        ev.len() == 1
            && ev[0].overruns + 1 == 1_000_000_000
            && ev[0].fire_ns == START + 1_000_000_000,
        "one record for every period: {ev:?}"
    );
    Ok(())
}

fn virtual_realtime_steps_fire_absolute_timers() -> Result<(), String> {
    let d = vfile()?;
    let t = d
        .timer_create(CLOCK_REALTIME, sys::HRC_NOTIFY_SI_TIMER, 1)
        .map_err(|e| e.to_string())?;
    d.timer_settime(t, sys::HRC_TIMER_ABSTIME, (REAL + 1000 * MS) as u64, 0)
        .map_err(|e| e.to_string())?;
    let step = d
        .clock_set_realtime(REAL + 2000 * MS)
        .map_err(|e| e.to_string())?;
    ensure!(step == 2000 * MS, "step {step}");
    let ev = drain(&d)?;
    ensure!(
        ev.len() == 1 && ev[0].expiry_ns == REAL + 1000 * MS && ev[0].fire_ns == REAL + 2000 * MS,
        "a step past an absolute timer fires it in the call: {ev:?}"
    );
    // Backwards, then an advance: it fires when realtime reaches it again.
    d.timer_settime(t, sys::HRC_TIMER_ABSTIME, (REAL + 3000 * MS) as u64, 0)
        .map_err(|e| e.to_string())?;
    d.clock_set_realtime(REAL).map_err(|e| e.to_string())?;
    advance(&d, 2999 * MS)?;
    ensure!(drain(&d)?.is_empty(), "fired before realtime reached it");
    advance(&d, MS)?;
    let ev = drain(&d)?;
    ensure!(ev.len() == 1 && ev[0].fire_ns == REAL + 3000 * MS, "{ev:?}");
    Ok(())
}

/// xorshift64*: the scenario's only randomness, seeded the same each run.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// A scripted scenario of 10 000 timers of every personality; the FNV-1a hash of every record
/// byte it read, and the number of records.
fn scenario() -> Result<(u64, usize), String> {
    let d = vfile()?;
    let e = |e: std::io::Error| e.to_string();
    let lock = d.lock_create(sys::HRC_LOCK_SPIN).map_err(e)?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut cancel = Vec::new();
    for i in 0..10_000u64 {
        let delay = MS + rng.below(1_000) as i64 * MS / 4;
        match i % 5 {
            0 => cancel.push(d.timeout_ns(delay, i).map_err(e)?),
            1 => {
                let c = if i / 5 % 2 == 0 {
                    d.callout_init(sys::HRC_CALLOUT_INIT_MP, 0)
                } else {
                    d.callout_init(sys::HRC_CALLOUT_INIT_LK, lock)
                }
                .map_err(e)?;
                d.callout_reset(&sys::hrc_callout_reset {
                    id: c,
                    time: delay,
                    flags: sys::HRC_CALLOUT_NS,
                    actions: sys::HRC_CA_EVENT | sys::HRC_CA_RESET,
                    repeat: (i % 3) as u32,
                    cookie: i,
                    ..Default::default()
                })
                .map_err(e)?;
            }
            2 => {
                let t = d
                    .timer_create(CLOCK_MONOTONIC, sys::HRC_NOTIFY_SI_TIMER, i)
                    .map_err(e)?;
                d.timer_settime(t, 0, delay as u64, (delay / 3) as u64 + 1)
                    .map_err(e)?;
            }
            3 => {
                let t = d
                    .timer_create(CLOCK_MONOTONIC, sys::HRC_NOTIFY_MACH, i)
                    .map_err(e)?;
                d.timer_arm(t, delay, delay, sys::HRC_MACH_PERIODIC)
                    .map_err(e)?;
            }
            _ => {
                d.settimer(i as i32, 0, delay / 1000 % 1_000_000)
                    .map_err(e)?;
            }
        }
    }
    let (mut hash, mut n) = (0xcbf2_9ce4_8422_2325u64, 0usize);
    for step in 0..60 {
        if step % 10 == 0 {
            for id in cancel.drain(..cancel.len() / 3) {
                let _ = d.untimeout(id);
            }
        }
        advance(&d, rng.below(10) as i64 * MS + MS)?;
        for ev in drain(&d)? {
            n += 1;
            // SAFETY: `Event` is a plain `repr(C)` struct of integers without padding.
            let bytes = unsafe {
                std::slice::from_raw_parts(
                    (&ev as *const Event).cast::<u8>(),
                    std::mem::size_of::<Event>(),
                )
            };
            for b in bytes {
                hash = (hash ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
            }
        }
    }
    Ok((hash, n))
}

fn virtual_record_streams_repeat_byte_for_byte() -> Result<(), String> {
    // Callout records carry the CPU their callback ran on: the advancing thread's.
    pin(Some(0))?;
    let runs = (0..3).map(|_| scenario()).collect::<Result<Vec<_>, _>>();
    pin(None)?;
    let runs = runs?;
    ensure!(runs[0].1 > 10_000, "only {} records", runs[0].1);
    ensure!(
        runs.iter().all(|r| *r == runs[0]),
        "three runs differ: {runs:x?}"
    );
    println!(
        "# 3 runs: {} records each, hash {:016x}",
        runs[0].1, runs[0].0
    );
    Ok(())
}

pub const CASES: &[Case] = &[
    ("virtual_clock_refusals", virtual_clock_refusals),
    (
        "virtual_timeouts_fire_at_exact_times_in_arming_order",
        virtual_timeouts_fire_at_exact_times_in_arming_order,
    ),
    (
        "virtual_callouts_run_in_the_advance_under_their_lock",
        virtual_callouts_run_in_the_advance_under_their_lock,
    ),
    (
        "virtual_periodic_timers_count_every_period",
        virtual_periodic_timers_count_every_period,
    ),
    (
        "virtual_huge_advance_folds_into_overruns",
        virtual_huge_advance_folds_into_overruns,
    ),
    (
        "virtual_realtime_steps_fire_absolute_timers",
        virtual_realtime_steps_fire_absolute_timers,
    ),
    (
        "virtual_record_streams_repeat_byte_for_byte",
        virtual_record_streams_repeat_byte_for_byte,
    ),
];
