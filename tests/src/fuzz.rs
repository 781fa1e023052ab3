//! `hrc-fuzz`: a deterministic ioctl fuzzer and a concurrency stress test for /dev/hrcallout.
//!
//! `hrc-fuzz fuzz [--seed S] [--secs T] [--ops N]`: 4 threads and a forked child share one file
//! (and a second file for foreign ids), each running a seeded random sequence of operations
//! from every personality with random, stale and foreign ids, garbage and unmapped pointers,
//! truncated and oversized structs and absurd times. Every call must succeed or fail with an
//! errno documented for that ioctl (docs/errno.md); every 256 operations the engine's own
//! invariant check (HRC_IOC_CHECK) must pass. Thread k of seed S always runs the same operation
//! sequence, so `--seed S` replays a failure's sequences (the interleaving is the scheduler's).
//!
//! `hrc-fuzz stress [--secs T]`: threads arming, cancelling, stop_sync-ing, reading and closing
//! files while callbacks re-arm themselves.
//!
//! Both print `HRC-STAT <name> <count>` lines and exit non-zero on any failure.

mod user;

use hrcallout::{sys, Device};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// xorshift64*: small, deterministic, good enough to pick operations.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len() as u64) as usize]
    }
}

const MS: i64 = 1_000_000;

/// Times worth trying: zero, negative, huge, small, realistic, and far away.
fn absurd_time(r: &mut Rng) -> i64 {
    match r.below(10) {
        0 => 0,
        1 => -1,
        2 => i64::MAX,
        3 => i64::MIN,
        4 => -(r.below(1 << 40) as i64),
        5 => r.below(1000) as i64,
        6 | 7 => r.below(20 * MS as u64) as i64,
        8 => r.below(1 << 62) as i64,
        _ => (r.below(2000) as i64) * MS,
    }
}

/// A bad or good user pointer for an ioctl argument.
fn pointer(r: &mut Rng, good: usize) -> usize {
    match r.below(40) {
        0 => 0,
        1 => 8,
        2 => usize::MAX - 15,
        3 => 0xffff_8000_0000_0000, // kernel half
        4 => good + 1,              // misaligned (allowed: the kernel copies bytes)
        _ => good,
    }
}

struct Shared {
    ids: Mutex<Vec<u64>>,
    foreign: Vec<u64>,
    locks: Mutex<Vec<u64>>,
}

fn remember(s: &Shared, id: u64) {
    let mut v = s.ids.lock().unwrap();
    if v.len() < 4096 {
        v.push(id);
    } else {
        let i = (id as usize) % v.len();
        v[i] = id;
    }
}

fn some_id(r: &mut Rng, s: &Shared) -> u64 {
    match r.below(10) {
        0 => r.next(),
        1 => 0,
        2 => s.foreign[r.below(s.foreign.len() as u64) as usize],
        3 => r.below(1 << 22),
        _ => {
            let v = s.ids.lock().unwrap();
            if v.is_empty() {
                r.next()
            } else {
                v[r.below(v.len() as u64) as usize]
            }
        }
    }
}

/// The id of a thread that only sleeps, for `TIMER_THREAD_SUSPEND` to suspend; it lives until
/// the process exits (a parked one then dies in its killable wait).
fn victim() -> i32 {
    static TID: std::sync::OnceLock<i32> = std::sync::OnceLock::new();
    *TID.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(hrcallout::gettid());
            loop {
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        rx.recv().unwrap_or(0)
    })
}

/// One random operation. Returns Err(description) if the module answered with an errno not
/// documented for that call.
fn one_op(r: &mut Rng, d: &Device, s: &Shared) -> Result<(), String> {
    use libc::*;
    let op = r.below(27);
    // Per-call allowed errnos (docs/errno.md); the common ones apply everywhere.
    let common = [EINVAL, EFAULT, ENOENT, ENOMEM, E2BIG, ENOTTY];
    let check = |name: &str, res: std::io::Result<i32>, extra: &[i32]| -> Result<(), String> {
        match res {
            Ok(_) => Ok(()),
            Err(e) => {
                let no = e.raw_os_error().unwrap_or(0);
                if common.contains(&no) || extra.contains(&no) {
                    Ok(())
                } else {
                    Err(format!("{name}: undocumented errno {no} ({e})"))
                }
            }
        }
    };
    match op {
        0 | 1 => {
            let mut t = sys::hrc_timeout {
                time: absurd_time(r),
                cookie: r.next(),
                flags: r.pick(&[0, 0, sys::HRC_TIMEOUT_NS, sys::HRC_TIMEOUT_NS, 0x10]),
                pad: r.pick(&[0, 0, 0, 1]),
                id: 0,
            };
            let p = pointer(r, &mut t as *mut _ as usize);
            // SAFETY: `p` points at the struct this ioctl's number is sized for, or is a deliberately bad address the kernel must refuse.
            let res = unsafe { d.raw_ioctl(sys::HRC_IOC_TIMEOUT, p) };
            if res.is_ok() && p == &t as *const _ as usize {
                remember(s, t.id);
            }
            check("TIMEOUT", res, &[ENOSPC])
        }
        2 => {
            let mut u = sys::hrc_untimeout {
                id: some_id(r, s),
                ..Default::default()
            };
            let p = pointer(r, &mut u as *mut _ as usize);
            // SAFETY: `p` points at the struct this ioctl's number is sized for, or is a deliberately bad address the kernel must refuse.
            check(
                "UNTIMEOUT",
                unsafe { d.raw_ioctl(sys::HRC_IOC_UNTIMEOUT, p) },
                &[],
            )
        }
        3 => {
            let locks = s.locks.lock().unwrap().clone();
            let mode = r.pick(&[
                sys::HRC_CALLOUT_INIT,
                sys::HRC_CALLOUT_INIT_MP,
                sys::HRC_CALLOUT_INIT_LK,
                3,
            ]);
            let lock = if locks.is_empty() || r.below(5) == 0 {
                r.below(4)
            } else {
                r.pick(&locks)
            };
            let lock = if mode == sys::HRC_CALLOUT_INIT_LK {
                lock
            } else if r.below(8) == 0 {
                1
            } else {
                0
            };
            match d.callout_init(mode, lock) {
                Ok(id) => {
                    remember(s, id);
                    Ok(())
                }
                Err(e) => check("CALLOUT_INIT", Err(e), &[ENOSPC]),
            }
        }
        4 | 5 => {
            let actions = (r.next() as u32) & 0x3f | if r.below(20) == 0 { 0x100 } else { 0 };
            let rr = sys::hrc_callout_reset {
                id: some_id(r, s),
                time: absurd_time(r).clamp(-MS, 50 * MS),
                flags: r.pick(&[sys::HRC_CALLOUT_NS, sys::HRC_CALLOUT_NS, 0]),
                actions,
                us: r.pick(&[0, 10, 200, 1000, 2_000_000]),
                repeat: r.pick(&[0, 1, 3]),
                cookie: r.next(),
            };
            if r.below(4) == 0 {
                // Mostly real CPUs, sometimes one past the last or absurd.
                let cpu = r.pick(&[0, 1, 1, 2, 4095, u32::MAX]);
                check(
                    "CALLOUT_RESET_BYCPU",
                    d.callout_reset_bycpu(&rr, cpu).map(|()| 0),
                    &[],
                )
            } else {
                check("CALLOUT_RESET", d.callout_reset(&rr).map(|()| 0), &[])
            }
        }
        6 => {
            let id = some_id(r, s);
            let res = match r.below(7) {
                0 => d.callout_stop(id),
                1 => d.callout_stop_async(id),
                2 => d.callout_stop_sync(id),
                3 => d.callout_active(id),
                4 => d.callout_pending(id),
                5 => d.callout_deactivate(id),
                _ => d.callout_destroy(id),
            };
            check("CALLOUT_*", res, &[EBUSY])
        }
        7 => match d.lock_create(r.pick(&[sys::HRC_LOCK_MUTEX, sys::HRC_LOCK_SPIN, 7])) {
            Ok(id) => {
                s.locks.lock().unwrap().push(id);
                Ok(())
            }
            Err(e) => check("LOCK_CREATE", Err(e), &[ENOSPC]),
        },
        8 => {
            let locks = s.locks.lock().unwrap().clone();
            let lock = if locks.is_empty() { 1 } else { r.pick(&locks) };
            let res = d.lock_hold(
                lock,
                r.pick(&[0, 50, 500, 30_000, 2_000_000]),
                r.pick(&[0, 1, 2, 9]),
                some_id(r, s),
            );
            check("LOCK_HOLD", res.map(|_| 0), &[])
        }
        9 => {
            let clock = r.pick(&[0, 1, 1, 5, 7, 11]);
            match d.timer_create(clock, r.pick(&[0, 1, 1, 2, 4]), r.next()) {
                Ok(id) => {
                    remember(s, id);
                    Ok(())
                }
                Err(e) => check("TIMER_CREATE", Err(e), &[ENOSPC]),
            }
        }
        10 | 11 => {
            let v = absurd_time(r) as u64;
            let i = r.pick(&[0u64, 0, 1, MS as u64 / 2, 5 * MS as u64, u64::MAX]);
            let f = r.pick(&[
                0,
                sys::HRC_TIMER_ABSTIME,
                sys::HRC_TIMER_ABSTIME | sys::HRC_TIMER_CANCEL_ON_SET,
                sys::HRC_TIMER_CANCEL_ON_SET,
                0x40,
            ]);
            check(
                "TIMER_SETTIME",
                d.timer_settime(some_id(r, s), f, v, i).map(|_| 0),
                &[],
            )
        }
        12 => {
            let f = r.pick(&[
                0,
                sys::HRC_MACH_ABSOLUTE,
                sys::HRC_MACH_PERIODIC,
                3,
                4,
                0x80,
            ]);
            let res = d.timer_arm(
                some_id(r, s),
                absurd_time(r),
                r.pick(&[0, -1, 1, MS, 10 * MS]),
                f,
            );
            check("TIMER_ARM", res, &[EBUSY])
        }
        13 => match r.below(4) {
            // Mach thread suspension: this thread or an absurd one; resumed at once, so the
            // fuzzing threads never stay parked for long.
            // Mach thread suspension of a thread that only sleeps (never a fuzzing one, which
            // nothing would resume), of no thread, of init (another process), of none.
            0 => {
                let tid = r.pick(&[victim(), victim(), 0, -1, 1, i32::MAX]);
                let res = d.timer_arm_suspend(some_id(r, s), absurd_time(r), MS, 0, tid);
                check("TIMER_ARM(SUSPEND)", res, &[EBUSY, ESRCH, EPERM, ENOSPC])
            }
            1 => check(
                "THREAD_RESUME",
                d.thread_resume(r.pick(&[victim(), victim(), 0, 1]))
                    .map(|c| c as i32),
                &[EALREADY],
            ),
            _ => check(
                "TIMER_CANCEL",
                d.timer_cancel(some_id(r, s), r.pick(&[0, 2, 8])),
                &[EALREADY],
            ),
        },
        14 => {
            let id = some_id(r, s);
            let res = match r.below(4) {
                0 => d.timer_gettime(id).map(|_| 0),
                1 => d.timer_info(id, r.pick(&[0, 1, 6])).map(|_| 0),
                2 => d.mach_timer_info(id).map(|_| 0),
                _ => d.timer_delete(id),
            };
            check("TIMER_*", res, &[])
        }
        15 => {
            let res = d.settimer(
                r.next() as i32,
                r.pick(&[0, 0, -1, 1 << 40]),
                r.pick(&[0, 999_999, 1_000_000, -1, 5000]),
            );
            if let Ok(id) = res {
                remember(s, id);
            }
            check("SETTIMER", res.map(|_| 0), &[ENOSPC])
        }
        16 => check(
            "SET_QLIMIT",
            d.set_qlimit(r.pick(&[0, 1, 4, 1024, u32::MAX])),
            &[],
        ),
        17 => {
            // A known ioctl with a random size, or an unknown one.
            let nr = r.pick(&[
                0x00u32, 0x01, 0x10, 0x11, 0x20, 0x21, 0x42, 0x45, 0x48, 0x49, 0x50, 0x7f, 0xff,
            ]);
            let dir = r.below(4) as u32;
            let size = r.pick(&[0u32, 4, 8, 16, 31, 32, 48, 64, 200, 0x3fff]);
            let mut buf = vec![0u8; 0x4000];
            if r.below(2) == 0 {
                for b in buf.iter_mut().take(64) {
                    *b = r.next() as u8;
                }
            }
            let cmd = (dir << 30) | (size << 16) | (0xC7 << 8) | nr;
            let p = pointer(r, buf.as_mut_ptr() as usize);
            check(
                "RAW",
                // SAFETY: `p` is a buffer of this frame sized for the ioctl, or a deliberately bad address; the kernel writes at most `_IOC_SIZE(cmd)` bytes there.
                unsafe { d.raw_ioctl(cmd, p) },
                &[ENOSPC, EBUSY, EALREADY, EOPNOTSUPP, ESRCH, EPERM],
            )
        }
        18 | 19 => {
            let n = r.pick(&[0usize, 1, 10, 63, 64, 65, 640]);
            let mut buf = vec![0u8; n.max(1)];
            let p = if r.below(10) == 0 {
                8 as *mut libc::c_void
            } else {
                buf.as_mut_ptr().cast()
            };
            // SAFETY: `p` is `buf` (n bytes) or a deliberately bad address the kernel must refuse.
            let ret = unsafe { libc::read(std::os::fd::AsRawFd::as_raw_fd(d), p, n) };
            if ret < 0 {
                let e = std::io::Error::last_os_error();
                check("READ", Err(e), &[EAGAIN])?;
            }
            Ok(())
        }
        20 => check("INFO", d.info().map(|_| 0), &[]),
        21 => {
            // HRC_IOC_BATCH: random entries (some invalid), a random count (sometimes past
            // the array or above the limit), and a random pointer for the array.
            let n = r.below(200) as usize;
            let mut ops: Vec<sys::hrc_timeout> = (0..n)
                .map(|_| sys::hrc_timeout {
                    time: absurd_time(r),
                    cookie: r.next(),
                    flags: r.pick(&[sys::HRC_TIMEOUT_NS, sys::HRC_TIMEOUT_NS, 0, 0x10]),
                    pad: r.pick(&[0, 0, 0, 0, 0, 0, 0, 1]),
                    id: 0,
                })
                .collect();
            let count = r.pick(&[n as u32, n as u32, n as u32, n as u32 + 64, 70000]);
            let good = ops.as_mut_ptr() as usize;
            let mut b = sys::hrc_batch {
                ops: if count as usize > n {
                    8
                } else {
                    pointer(r, good) as u64
                },
                count,
                done: 0,
            };
            let p = pointer(r, &mut b as *mut _ as usize);
            // SAFETY: `p` points at the struct this ioctl's number is sized for, or is a deliberately bad address the kernel must refuse.
            let res = unsafe { d.raw_ioctl(sys::HRC_IOC_BATCH, p) };
            if res.is_ok() && p == &b as *const _ as usize && b.ops == good as u64 {
                for t in ops.iter().take(b.done as usize) {
                    remember(s, t.id);
                }
            }
            check("BATCH", res, &[ENOSPC])
        }
        22 => {
            // Virtual time on this real file: the queries answer, the rest is refused
            // (a start that could succeed is never tried: the file must stay real).
            let res = match r.below(4) {
                0 => d.clock_now().map(|_| 0),
                1 => d.clock_advance(absurd_time(r), r.next() as u32).map(|_| 0),
                2 => d.clock_set_realtime(r.next() as i64).map(|_| 0),
                _ => d
                    .clock_virtual(Some((-1 - r.below(1 << 40) as i64, r.next() as i64)))
                    .map(|_| 0),
            };
            check("CLOCK_*", res, &[EOPNOTSUPP, EBUSY])
        }
        23 => {
            // /proc/self/fdinfo of the file under fuzzing, whatever it holds: all its lines,
            // and a check that passes (or is skipped on a large table).
            let i = d.fdinfo().map_err(|e| format!("fdinfo: {e}"))?;
            if i.check.starts_with("FAILED") {
                return Err(format!("fdinfo: engine invariants violated: {i:?}"));
            }
            Ok(())
        }
        26 => {
            // A clock watch (flags and pad random), or the end of some object as one.
            let mut w = sys::hrc_clock_watch {
                cookie: r.next(),
                flags: r.pick(&[0, 0, 0, 1]),
                pad: r.pick(&[0, 0, 0, 1]),
                id: 0,
            };
            if r.below(2) == 0 {
                let p = pointer(r, &mut w as *mut _ as usize);
                // SAFETY: `p` points at the struct this ioctl's number is sized for, or is a deliberately bad address the kernel must refuse.
                let res = unsafe { d.raw_ioctl(sys::HRC_IOC_CLOCK_WATCH, p) };
                if res.is_ok() && p == &w as *const _ as usize {
                    remember(s, w.id);
                }
                check("CLOCK_WATCH", res, &[ENOSPC])
            } else {
                check(
                    "CLOCK_UNWATCH",
                    d.clock_unwatch(some_id(r, s)).map(|()| 0),
                    &[],
                )
            }
        }
        _ => {
            let c = d.check().map_err(|e| format!("CHECK: {e}"))?;
            if c.ok != 1 {
                return Err(format!("engine invariants violated: {c:?}"));
            }
            Ok(())
        }
    }
}

fn worker(
    seed: u64,
    tid: u64,
    d: &Device,
    s: &Shared,
    stop: &AtomicBool,
    ops: &AtomicU64,
    max: u64,
) -> Result<(), String> {
    let mut r = Rng::new(seed ^ (tid << 56) ^ tid);
    let mut n = 0u64;
    while !stop.load(Relaxed) && ops.load(Relaxed) < max {
        one_op(&mut r, d, s).map_err(|e| format!("seed {seed} thread {tid} op {n}: {e}"))?;
        n += 1;
        ops.fetch_add(1, Relaxed);
        if n.is_multiple_of(256) {
            let c = d.check().map_err(|e| e.to_string())?;
            if c.ok != 1 {
                return Err(format!(
                    "seed {seed} thread {tid} op {n}: invariants violated {c:?}"
                ));
            }
        }
    }
    Ok(())
}

fn fuzz(seed: u64, secs: u64, max_ops: u64) -> Result<u64, String> {
    println!("hrc-fuzz: seed {seed} (replay with --seed {seed}), {secs} s, at most {max_ops} ops");
    let d = Arc::new(Device::open().map_err(|e| e.to_string())?);
    d.set_nonblocking(true).map_err(|e| e.to_string())?;
    let other = Device::open().map_err(|e| e.to_string())?;
    let foreign = vec![
        other.timeout_ns(1 << 40, 0).map_err(|e| e.to_string())?,
        other
            .callout_init(sys::HRC_CALLOUT_INIT_MP, 0)
            .map_err(|e| e.to_string())?,
        other.timer_create(1, 0, 0).map_err(|e| e.to_string())?,
    ];
    let shared = Arc::new(Shared {
        ids: Mutex::new(Vec::new()),
        foreign,
        locks: Mutex::new(Vec::new()),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    // The forked child shares the file (same open file description).
    // SAFETY: fork in a process with no other threads yet; the child only makes syscalls and
    // exits with _exit.
    let child = unsafe { libc::fork() };
    if child == 0 {
        let child_ops = AtomicU64::new(0);
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut r = Rng::new(seed ^ 0xC411D);
        let mut code = 0;
        while Instant::now() < deadline && child_ops.load(Relaxed) < max_ops / 5 {
            if let Err(e) = one_op(&mut r, &d, &shared) {
                println!("hrc-fuzz: child: seed {seed}: {e}");
                code = 1;
                break;
            }
            child_ops.fetch_add(1, Relaxed);
        }
        println!("HRC-STAT fuzz_child_ops {}", child_ops.load(Relaxed));
        // SAFETY: terminate the child without running the parent's destructors twice.
        unsafe { libc::_exit(code) };
    }
    let mut handles = Vec::new();
    for tid in 0..4 {
        let (d, s, st, o) = (d.clone(), shared.clone(), stop.clone(), ops.clone());
        handles.push(std::thread::spawn(move || {
            worker(seed, tid, &d, &s, &st, &o, max_ops)
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline
        && ops.load(Relaxed) < max_ops
        && !handles.iter().all(|h| h.is_finished())
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Relaxed);
    let mut result = Ok(());
    for h in handles {
        if let Err(e) = h
            .join()
            .map_err(|_| "a fuzz thread panicked".to_string())
            .and_then(|r| r)
        {
            result = Err(e);
        }
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(child, &mut status, 0) };
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        result = Err(format!("the forked child failed (status {status:#x})"));
    }
    let c = d.check().map_err(|e| e.to_string())?;
    if c.ok != 1 {
        result = Err(format!("invariants violated at the end: {c:?}"));
    }
    drop(d);
    drop(other);
    result.map(|()| ops.load(Relaxed))
}

fn stress(secs: u64) -> Result<u64, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let iters = Arc::new(AtomicU64::new(0));
    let shared = Arc::new(Device::open().map_err(|e| e.to_string())?);
    let mut handles = Vec::new();
    for tid in 0..6u64 {
        let (stop, iters, shared) = (stop.clone(), iters.clone(), shared.clone());
        handles.push(std::thread::spawn(move || -> Result<(), String> {
            let mut r = Rng::new(tid + 1);
            while !stop.load(Relaxed) {
                // Half the threads churn their own files (close while callbacks run), half
                // hammer the shared one.
                let own;
                let d: &Device = if tid % 2 == 0 {
                    own = Device::open().map_err(|e| e.to_string())?;
                    &own
                } else {
                    &shared
                };
                let _ = d.set_nonblocking(true);
                let lk = d.lock_create(sys::HRC_LOCK_MUTEX).ok();
                let mut callouts = Vec::new();
                for i in 0..8 {
                    let c = match lk {
                        Some(lk) if i % 2 == 1 => d.callout_init(sys::HRC_CALLOUT_INIT_LK, lk),
                        _ => d.callout_init(sys::HRC_CALLOUT_INIT_MP, 0),
                    };
                    if let Ok(c) = c {
                        let rr = sys::hrc_callout_reset {
                            id: c,
                            time: (r.below(3) as i64) * MS,
                            flags: sys::HRC_CALLOUT_NS,
                            actions: sys::HRC_CA_EVENT | sys::HRC_CA_RESET | sys::HRC_CA_SPIN,
                            us: 50,
                            repeat: 20,
                            cookie: 0,
                        };
                        d.callout_reset(&rr).map_err(|e| format!("reset: {e}"))?;
                        callouts.push(c);
                    }
                }
                let mut timeouts = Vec::new();
                for _ in 0..64 {
                    timeouts.push(
                        d.timeout_ns((r.below(4) as i64) * MS, 0)
                            .map_err(|e| format!("timeout: {e}"))?,
                    );
                }
                let t = d
                    .timer_create(1, r.below(2) as u32, 0)
                    .map_err(|e| e.to_string())?;
                d.timer_settime(t, 0, MS as u64, MS as u64 / 2)
                    .map_err(|e| e.to_string())?;
                std::thread::sleep(Duration::from_micros(r.below(3000)));
                for id in timeouts {
                    let _ = d.untimeout(id);
                }
                for (i, c) in callouts.iter().enumerate() {
                    if i % 3 == 0 {
                        d.callout_stop_sync(*c)
                            .map_err(|e| format!("stop_sync: {e}"))?;
                    } else if i % 3 == 1 {
                        let _ = d.callout_stop(*c);
                    }
                    // The rest keep re-arming themselves until their file closes.
                }
                let _ = d.read_events(64);
                if tid % 2 == 1 {
                    for c in callouts {
                        let _ = d.callout_destroy(c);
                    }
                    let _ = d.timer_delete(t);
                    if let Some(l) = lk {
                        let _ = d.lock_destroy(l);
                    }
                }
                let c = d.check().map_err(|e| e.to_string())?;
                if c.ok != 1 {
                    return Err(format!("thread {tid}: invariants violated {c:?}"));
                }
                iters.fetch_add(1, Relaxed);
            }
            Ok(())
        }));
    }
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Relaxed);
    for h in handles {
        h.join()
            .map_err(|_| "a stress thread panicked".to_string())??;
    }
    Ok(iters.load(Relaxed))
}

fn arg(args: &[String], name: &str) -> Option<u64> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}

fn main() {
    let mut args: Vec<String> = std::env::args().collect();
    match user::take_as_user(&mut args).and_then(|u| u.map_or(Ok(()), user::become_user)) {
        Ok(()) => {}
        Err(e) => {
            println!("hrc-fuzz: FAILED: {e}");
            std::process::exit(1);
        }
    }
    let mode = args.get(1).map(String::as_str).unwrap_or("fuzz");
    let secs = arg(&args, "--secs").unwrap_or(60);
    let result = match mode {
        "fuzz" => {
            let seed =
                arg(&args, "--seed").unwrap_or_else(|| hrcallout::now_ns(1) as u64 & 0xffff_ffff);
            let max = arg(&args, "--ops").unwrap_or(u64::MAX);
            fuzz(seed, secs, max).map(|n| println!("HRC-STAT fuzz_ops {n}"))
        }
        "stress" => stress(secs).map(|n| println!("HRC-STAT stress_iterations {n}")),
        _ => Err(format!(
            "usage: hrc-fuzz fuzz|stress [--secs T] [--seed S] [--ops N]; got {mode}"
        )),
    };
    if let Err(e) = result {
        println!("hrc-fuzz: FAILED: {e}");
        std::process::exit(1);
    }
}
