//! Helpers and the transport-level cases (info, errnos, ABI sizes, read/poll).

use crate::Case;
use hrcallout::{now_ns, sys, Device, Event, CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_TAI};
use std::io;
use std::sync::{Arc, Mutex, Weak};

pub const MS: i64 = 1_000_000;

/// Fails with a message unless `cond`.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!("{} ({}:{})", format!($($fmt)+), file!(), line!()));
        }
    };
}
pub use crate::ensure;

/// A file of a test case. When the case drops it, its own engine checks itself
/// (`HRC_IOC_CHECK` on this file, with whatever the case left in it), and a failure is kept
/// for [`engine_consistent`], which fails the case.
///
/// While a case runs on virtual time ([`on_virtual_time`]), every file it opens is virtual and
/// belongs to the case's world clock: see [`World`].
pub struct TestDevice(Arc<Device>);

impl std::ops::Deref for TestDevice {
    type Target = Device;
    fn deref(&self) -> &Device {
        &self.0
    }
}

impl Drop for TestDevice {
    fn drop(&mut self) {
        let bad = match self.0.check() {
            Ok(c) if c.ok == 1 => return,
            Ok(c) => format!(
                "the file's engine is inconsistent: live={} queued={} free={} slots={}",
                c.live, c.queued, c.free, c.slots
            ),
            Err(e) => format!("HRC_IOC_CHECK on the file under test: {e}"),
        };
        INCONSISTENT
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(bad);
    }
}

/// What the files of the running case found when they checked themselves.
static INCONSISTENT: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The clock of a case run on virtual time: one simulated now for all the case's files.
///
/// Each file the case opens starts virtual at the world's now; waiting ([`sleep_ms`],
/// [`collect`], [`one_event`], [`readable`]) moves the world forward in 1 ms steps, advancing
/// every live file with it, so the case's files stay in step with each other and with
/// [`now`]. An advance runs every pass at its exact instant, so records carry the same times
/// whatever the step: a timer armed for 10 ms at `now()` fires at exactly `now() + 10 ms`.
struct World {
    mono: i64,
    real: i64,
    /// TAI minus realtime: the host's, in whole seconds, as a file takes it when it turns
    /// virtual (its boot time is its monotonic time).
    tai_offset: i64,
    files: Vec<Weak<Device>>,
}

/// The world of the case running on virtual time; `None` while cases run on real time.
static WORLD: Mutex<Option<World>> = Mutex::new(None);

/// The world's start: an arbitrary instant far from 0 (both clocks), the same for every case.
const WORLD_START: (i64, i64) = (1_000_000 * 1_000 * MS, 1_700_000_000 * 1_000 * MS);

fn world() -> std::sync::MutexGuard<'static, Option<World>> {
    WORLD.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `case` with every file it opens on virtual time (see [`World`]).
pub fn on_virtual_time(case: crate::CaseFn) -> Result<(), String> {
    let tai = now_ns(CLOCK_TAI) - now_ns(CLOCK_REALTIME);
    *world() = Some(World {
        mono: WORLD_START.0,
        real: WORLD_START.1,
        tai_offset: (tai + 500_000_000).div_euclid(1_000_000_000) * 1_000_000_000,
        files: Vec::new(),
    });
    let r = std::panic::catch_unwind(case);
    *world() = None;
    r.unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// Whether the running case is on virtual time.
pub fn is_virtual() -> bool {
    world().is_some()
}

pub fn open() -> Result<TestDevice, String> {
    let d = Arc::new(Device::open().map_err(|e| format!("open /dev/hrcallout: {e}"))?);
    if let Some(w) = world().as_mut() {
        d.clock_virtual(Some((w.mono, w.real)))
            .map_err(|e| format!("CLOCK_VIRTUAL: {e}"))?;
        w.files.retain(|f| f.strong_count() > 0);
        w.files.push(Arc::downgrade(&d));
    }
    Ok(TestDevice(d))
}

/// Monotonic now: the real clock's, or the world's on virtual time.
pub fn now() -> i64 {
    now_on(CLOCK_MONOTONIC)
}

/// Now on `clock` (`CLOCK_MONOTONIC`, `_REALTIME`, `_BOOTTIME` or `_TAI`): real, or the
/// world's.
pub fn now_on(clock: u32) -> i64 {
    match world().as_ref() {
        Some(w) if clock == CLOCK_REALTIME => w.real,
        Some(w) if clock == CLOCK_TAI => w.real + w.tai_offset,
        Some(w) => w.mono,
        None => now_ns(clock),
    }
}

/// Moves the world 1 ms forward (every live file of the case with it). False on real time.
fn step_world() -> Result<bool, String> {
    let mut g = world();
    let Some(w) = g.as_mut() else {
        return Ok(false);
    };
    w.mono += MS;
    w.real += MS;
    for f in w.files.iter().filter_map(Weak::upgrade) {
        f.clock_advance_to(w.mono, 0)
            .map_err(|e| format!("CLOCK_ADVANCE: {e}"))?;
    }
    Ok(true)
}

/// Sleeps `ms` (real time), or moves the world forward by `ms`.
pub fn sleep_ms(ms: u64) -> Result<(), String> {
    if !is_virtual() {
        std::thread::sleep(std::time::Duration::from_millis(ms));
        return Ok(());
    }
    for _ in 0..ms {
        step_world()?;
    }
    Ok(())
}

/// Steps CLOCK_REALTIME by `delta` ns: the system's (the guest runs as root), or the world's
/// (every live file of the case, with `HRC_IOC_CLOCK_SET_REALTIME`).
pub fn step_realtime(delta: i64) -> Result<(), String> {
    let mut g = world();
    let Some(w) = g.as_mut() else {
        drop(g);
        let n = now_ns(CLOCK_REALTIME) + delta;
        let ts = libc::timespec {
            tv_sec: n / 1_000_000_000,
            tv_nsec: n % 1_000_000_000,
        };
        // SAFETY: a valid timespec.
        let r = unsafe { libc::clock_settime(libc::CLOCK_REALTIME, &ts) };
        ensure!(r == 0, "clock_settime: {}", std::io::Error::last_os_error());
        return Ok(());
    };
    w.real += delta;
    for f in w.files.iter().filter_map(Weak::upgrade) {
        f.clock_set_realtime(w.real)
            .map_err(|e| format!("CLOCK_SET_REALTIME: {e}"))?;
    }
    Ok(())
}

/// Waits up to `ms` for `dev` to be readable (poll, or world steps); true if it is.
pub fn readable(dev: &Device, ms: i32) -> Result<bool, String> {
    if !is_virtual() {
        return dev.poll_readable(ms).map_err(|e| format!("poll: {e}"));
    }
    for _ in 0..=ms.max(0) {
        if dev.poll_readable(0).map_err(|e| format!("poll: {e}"))? {
            return Ok(true);
        }
        step_world()?;
    }
    dev.poll_readable(0).map_err(|e| format!("poll: {e}"))
}

/// Runs `f` in a forked child process and returns its exit code (`f`'s result; -1 if it died
/// of a signal). The child makes system calls and ends with `_exit`, never returning into the
/// test harness; call it only while the test's other threads, if any, are idle.
pub fn in_child(f: impl FnOnce() -> i32) -> Result<i32, String> {
    // SAFETY: fork; the child runs `f` and `_exit`s without unwinding.
    let child = unsafe { libc::fork() };
    ensure!(child >= 0, "fork: {}", io::Error::last_os_error());
    if child == 0 {
        let code = f();
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for the child forked above.
    let r = unsafe { libc::waitpid(child, &mut status, 0) };
    ensure!(r == child, "waitpid: {}", io::Error::last_os_error());
    Ok(if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    })
}

/// Binds the calling thread to `cpu` (`None`: every CPU).
pub fn pin(cpu: Option<usize>) -> Result<(), String> {
    // SAFETY: a zeroed cpu_set_t is the empty set; the macros only write inside it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for c in 0..libc::CPU_SETSIZE as usize {
        if cpu.is_none_or(|want| want == c) {
            // SAFETY: `c` is below CPU_SETSIZE.
            unsafe { libc::CPU_SET(c, &mut set) };
        }
    }
    // SAFETY: `set` is a valid cpu_set_t of the size passed.
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) };
    ensure!(
        r == 0,
        "sched_setaffinity({cpu:?}): {}",
        std::io::Error::last_os_error()
    );
    Ok(())
}

/// The errno of a failed call, or a message if it succeeded.
pub fn errno<T: std::fmt::Debug>(r: io::Result<T>) -> Result<i32, String> {
    match r {
        Ok(v) => Err(format!("expected an error, got Ok({v:?})")),
        Err(e) => Ok(e.raw_os_error().unwrap_or(0)),
    }
}

/// Expects `r` to fail with `want`.
pub fn expect_errno<T: std::fmt::Debug>(
    r: io::Result<T>,
    want: i32,
    what: &str,
) -> Result<(), String> {
    let got = errno(r).map_err(|e| format!("{what}: {e}"))?;
    ensure!(got == want, "{what}: errno {got}, expected {want}");
    Ok(())
}

/// Collects events until `idle_ms` passes without one (or `max` events).
pub fn collect(dev: &Device, idle_ms: i32, max: usize) -> Result<Vec<Event>, String> {
    let mut out = Vec::new();
    while out.len() < max && readable(dev, idle_ms)? {
        out.extend(dev.read_events(64).map_err(|e| format!("read: {e}"))?);
    }
    Ok(out)
}

/// Waits up to `ms` for exactly one event and returns it.
pub fn one_event(dev: &Device, ms: i32) -> Result<Event, String> {
    ensure!(readable(dev, ms)?, "no event within {ms} ms");
    let ev = dev.read_events(1).map_err(|e| format!("read: {e}"))?;
    ensure!(ev.len() == 1, "read returned {} records", ev.len());
    Ok(ev[0])
}

/// After each case: every file it used checked itself when it was dropped (see
/// [`TestDevice`]), and the module still answers on a new file.
pub fn engine_consistent() -> Result<(), String> {
    let bad = std::mem::take(&mut *INCONSISTENT.lock().unwrap_or_else(|e| e.into_inner()));
    ensure!(bad.is_empty(), "{}", bad.join("; "));
    let c = Device::open()
        .and_then(|d| d.check())
        .map_err(|e| format!("a new file after the case: {e}"))?;
    ensure!(
        c.ok == 1 && c.live == 0,
        "a new file: ok={} live={}",
        c.ok,
        c.live
    );
    Ok(())
}

pub fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | (0xC7 << 8) | nr
}

fn info_reports_abi_and_a_precise_clock() -> Result<(), String> {
    let i = open()?.info().map_err(|e| e.to_string())?;
    ensure!(
        i.abi_version == sys::HRC_ABI_VERSION,
        "abi_version {}",
        i.abi_version
    );
    ensure!(
        i.hz == 250,
        "hz {} (the test kernel has CONFIG_HZ=250)",
        i.hz
    );
    ensure!(
        i.resolution_ns == 1,
        "hrtimer resolution {} ns: high-resolution timers are off",
        i.resolution_ns
    );
    ensure!(
        i.event_size as usize == std::mem::size_of::<Event>(),
        "event_size {}",
        i.event_size
    );
    // The test kernel (kernel/hrcallout.config) has lockdep, KASAN and kmemleak, not KCSAN;
    // the benchmarks refuse to time on a kernel that reports any of them.
    let debug = sys::HRC_INFO_LOCKDEP | sys::HRC_INFO_KASAN | sys::HRC_INFO_KMEMLEAK;
    ensure!(
        i.kernel_debug == debug,
        "kernel_debug {:#x}, expected {debug:#x}",
        i.kernel_debug
    );
    // The module parameter is honoured (the test job loads it with HRC_MAX_TIMERS).
    let want: u32 = std::env::var("HRC_MAX_TIMERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_048_576);
    ensure!(
        i.max_timers == want,
        "max_timers {}, loaded with {want}",
        i.max_timers
    );
    Ok(())
}

fn unknown_ioctls_get_enotty() -> Result<(), String> {
    let d = open()?;
    // SAFETY: the argument is no address of this process (a small integer, or near the
    // top of the address space): the kernel refuses it or ignores it; nothing is written.
    expect_errno(
        unsafe { d.raw_ioctl(ioc(0, 0x7f, 0), 0) },
        libc::ENOTTY,
        "unknown nr",
    )?;
    expect_errno(
        // SAFETY: the argument is no address of this process (a small integer, or near the
        // top of the address space): the kernel refuses it or ignores it; nothing is written.
        unsafe {
            d.raw_ioctl(0x5401 /* TCGETS */, 0)
        },
        libc::ENOTTY,
        "foreign magic",
    )?;
    // Right number, wrong direction.
    expect_errno(
        // SAFETY: the argument is no address of this process (a small integer, or near the
        // top of the address space): the kernel refuses it or ignores it; nothing is written.
        unsafe { d.raw_ioctl(ioc(1, 0x00, 64), 0) },
        libc::ENOTTY,
        "INFO as _IOW",
    )
}

fn bad_user_pointers_get_efault() -> Result<(), String> {
    let d = open()?;
    expect_errno(
        // SAFETY: the argument is no address of this process (a small integer, or near the
        // top of the address space): the kernel refuses it or ignores it; nothing is written.
        unsafe { d.raw_ioctl(sys::HRC_IOC_INFO, 16) },
        libc::EFAULT,
        "INFO to address 16",
    )?;
    expect_errno(
        // SAFETY: the argument is no address of this process (a small integer, or near the
        // top of the address space): the kernel refuses it or ignores it; nothing is written.
        unsafe { d.raw_ioctl(sys::HRC_IOC_TIMEOUT, 8) },
        libc::EFAULT,
        "TIMEOUT from address 8",
    )?;
    expect_errno(
        // SAFETY: the argument is no address of this process (a small integer, or near the
        // top of the address space): the kernel refuses it or ignores it; nothing is written.
        unsafe { d.raw_ioctl(sys::HRC_IOC_UNTIMEOUT, usize::MAX - 7) },
        libc::EFAULT,
        "UNTIMEOUT near the top",
    )?;
    // A read into an unmapped buffer fails with EFAULT and the record is not lost.
    let id = d.timeout_ns(0, 9).map_err(|e| e.to_string())?;
    ensure!(
        d.poll_readable(2000).map_err(|e| e.to_string())?,
        "no event"
    );
    // SAFETY: a read into an unmapped address; the kernel must refuse it.
    let n = unsafe { libc::read(d_fd(&d), 8 as *mut libc::c_void, 64) };
    ensure!(
        n == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT),
        "read to bad ptr: {n}"
    );
    let ev = one_event(&d, 100)?;
    ensure!(
        ev.id == id && ev.cookie == 9,
        "record after a failed copy: {ev:?}"
    );
    Ok(())
}

/// A read whose buffer ends in an unmapped page mid-way returns exactly the records before the
/// fault, in order; the others stay queued (the kernel copies records out in batches, and a
/// batch that faults goes back to the queue).
fn read_stops_at_the_faulting_record() -> Result<(), String> {
    const N: usize = 11;
    const FIT: usize = 3;
    let rec = std::mem::size_of::<Event>();
    let d = open()?;
    let t0 = now();
    for i in 0..N {
        // 1 us apart: distinct expiries, so the queue order is the cookie order.
        d.timeout_ns(i as i64 * 1000, i as u64 + 1)
            .map_err(|e| e.to_string())?;
    }
    while d.check().map_err(|e| e.to_string())?.queued < N as u32 {
        ensure!(now() - t0 < 5000 * MS, "{N} records not queued within 5 s");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    // SAFETY: two fresh anonymous pages; the second is unmapped again, so a copy crossing
    // into it faults. Only the first page is read, and it is unmapped at the end.
    let page = unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            8192,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        ensure!(p != libc::MAP_FAILED, "mmap failed");
        libc::munmap(p.cast::<u8>().add(4096).cast(), 4096);
        p.cast::<u8>()
    };
    // SAFETY: `buf` is FIT records before the end of the mapped page; the read may write there.
    let (n, got) = unsafe {
        let buf = page.add(4096 - FIT * rec);
        let n = libc::read(d_fd(&d), buf.cast(), N * rec);
        let got: Vec<Event> = (0..FIT)
            .map(|i| std::ptr::read_unaligned(buf.add(i * rec).cast::<Event>()))
            .collect();
        libc::munmap(page.cast(), 4096);
        (n, got)
    };
    ensure!(
        n == (FIT * rec) as isize,
        "read returned {n}, want {}",
        FIT * rec
    );
    let cookies: Vec<u64> = got.iter().map(|e| e.cookie).collect();
    ensure!(
        cookies == [1, 2, 3],
        "records before the fault: {cookies:?}"
    );
    let rest: Vec<u64> = d
        .read_events(N)
        .map_err(|e| e.to_string())?
        .iter()
        .map(|e| e.cookie)
        .collect();
    let want: Vec<u64> = (FIT as u64 + 1..=N as u64).collect();
    ensure!(
        rest == want,
        "records after the fault: {rest:?}, want {want:?}"
    );
    Ok(())
}

pub fn d_fd(d: &Device) -> i32 {
    use std::os::fd::AsRawFd;
    d.as_raw_fd()
}

fn struct_sizes_are_checked() -> Result<(), String> {
    let d = open()?;
    // Truncated: smaller than the kernel's struct.
    let mut small = [0u8; 16];
    expect_errno(
        // SAFETY: the argument points at a struct or buffer of this frame at least as large as
        // the size the number encodes, alive for the call.
        unsafe { d.raw_ioctl(ioc(3, 0x10, 16), small.as_mut_ptr() as usize) },
        libc::EINVAL,
        "truncated TIMEOUT",
    )?;
    // Larger with a non-zero tail: refused.
    let mut big = [0u8; 48];
    big[0] = 1; // time = 1 ns
    big[16] = 1; // flags = HRC_TIMEOUT_NS
    big[40] = 0xff;
    expect_errno(
        // SAFETY: the argument points at a struct or buffer of this frame at least as large as
        // the size the number encodes, alive for the call.
        unsafe { d.raw_ioctl(ioc(3, 0x10, 48), big.as_mut_ptr() as usize) },
        libc::E2BIG,
        "oversized non-zero tail",
    )?;
    // Larger with a zero tail: accepted (a newer caller), the id comes back at its offset.
    big[40] = 0;
    // SAFETY: the argument points at a struct or buffer of this frame at least as large as
    // the size the number encodes, alive for the call.
    unsafe { d.raw_ioctl(ioc(3, 0x10, 48), big.as_mut_ptr() as usize) }
        .map_err(|e| format!("oversized zero tail: {e}"))?;
    let id = u64::from_ne_bytes(big[24..32].try_into().unwrap());
    ensure!(id != 0, "no id written back");
    // Non-zero padding is refused.
    let mut t = sys::hrc_timeout {
        time: 1,
        flags: sys::HRC_TIMEOUT_NS,
        pad: 1,
        ..Default::default()
    };
    expect_errno(
        // SAFETY: the argument points at a struct or buffer of this frame at least as large as
        // the size the number encodes, alive for the call.
        unsafe { d.raw_ioctl(sys::HRC_IOC_TIMEOUT, &mut t as *mut _ as usize) },
        libc::EINVAL,
        "non-zero pad",
    )?;
    // Unknown flags too.
    let mut t = sys::hrc_timeout {
        time: 1,
        flags: 0x80,
        ..Default::default()
    };
    expect_errno(
        // SAFETY: the argument points at a struct or buffer of this frame at least as large as
        // the size the number encodes, alive for the call.
        unsafe { d.raw_ioctl(sys::HRC_IOC_TIMEOUT, &mut t as *mut _ as usize) },
        libc::EINVAL,
        "unknown flag",
    )
}

/// Calls ioctl `cmd` on `arg` and expects `EINVAL`: a reserved field of `arg` is set.
fn refused<T>(d: &Device, cmd: u32, mut arg: T, what: &str) -> Result<(), String> {
    // SAFETY: `arg` is the struct `cmd` is sized for, alive for the call.
    let res = unsafe { d.raw_ioctl(cmd, &mut arg as *mut T as usize) };
    expect_errno(res, libc::EINVAL, what)
}

fn reserved_fields_are_refused() -> Result<(), String> {
    let d = open()?;
    let t = d
        .timer_create(CLOCK_MONOTONIC, sys::HRC_NOTIFY_MACH, 0)
        .map_err(|e| e.to_string())?;
    // Mach `tid` is reserved unless TIMER_THREAD_SUSPEND names a thread.
    let arm = sys::hrc_timer_arm {
        id: t,
        expire_ns: 1_000_000_000,
        tid: 7,
        ..Default::default()
    };
    refused(
        &d,
        sys::HRC_IOC_TIMER_ARM,
        arm,
        "TIMER_ARM tid without THREAD_SUSPEND",
    )?;
    ensure!(
        d.timer_info(t, 0).map_err(|e| e.to_string())?.info_flags & sys::HRC_TI_ACTIVE == 0,
        "refused arm armed the timer"
    );
    let cancel = sys::hrc_timer_cancel {
        id: t,
        pad: 1,
        ..Default::default()
    };
    refused(&d, sys::HRC_IOC_TIMER_CANCEL, cancel, "TIMER_CANCEL pad")?;
    let settime = sys::hrc_timer_settime {
        id: t,
        pad: 1,
        ..Default::default()
    };
    refused(&d, sys::HRC_IOC_TIMER_SETTIME, settime, "TIMER_SETTIME pad")?;
    let init = sys::hrc_callout_init {
        mode: sys::HRC_CALLOUT_INIT_MP,
        pad: 1,
        ..Default::default()
    };
    refused(&d, sys::HRC_IOC_CALLOUT_INIT, init, "CALLOUT_INIT pad")?;
    let lock = sys::hrc_lock_create {
        kind: sys::HRC_LOCK_MUTEX,
        pad: 1,
        ..Default::default()
    };
    refused(&d, sys::HRC_IOC_LOCK_CREATE, lock, "LOCK_CREATE pad")?;
    let q = sys::hrc_qlimit { qlimit: 4, pad: 1 };
    refused(&d, sys::HRC_IOC_SET_QLIMIT, q, "SET_QLIMIT pad")?;
    let st = sys::hrc_settimer {
        id: 1,
        pad: 1,
        tv_sec: 1,
        ..Default::default()
    };
    refused(&d, sys::HRC_IOC_SETTIMER, st, "SETTIMER pad")?;
    // Nothing was created by the refused calls: the timer is the file's one live object.
    ensure!(
        d.check().map_err(|e| e.to_string())?.live == 1,
        "a refused call left an object"
    );
    Ok(())
}

/// Two pages, the second unmapped: a copy crossing into it faults. The first can be made
/// read-only after a struct is put there, so the kernel can read it but not write it back.
pub struct Pages(pub *mut u8);

impl Pages {
    pub const SIZE: usize = 4096;

    pub fn new() -> Result<Self, String> {
        // SAFETY: an anonymous private mapping of two fresh pages.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                2 * Self::SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        ensure!(p != libc::MAP_FAILED, "mmap failed");
        // SAFETY: the second page of the mapping just made.
        let r = unsafe {
            libc::mprotect(
                p.cast::<u8>().add(Self::SIZE).cast(),
                Self::SIZE,
                libc::PROT_NONE,
            )
        };
        ensure!(r == 0, "mprotect failed");
        Ok(Self(p.cast()))
    }

    /// Writes `v` at byte `off` of the first page, then makes that page read-only (`ro`).
    pub fn put<T: Copy>(&self, off: usize, v: &[T], ro: bool) -> Result<usize, String> {
        ensure!(off + std::mem::size_of_val(v) <= Self::SIZE, "too large");
        // SAFETY: the range is inside the first page, which is writable until `seal`.
        unsafe {
            std::ptr::copy_nonoverlapping(
                v.as_ptr().cast::<u8>(),
                self.0.add(off),
                std::mem::size_of_val(v),
            )
        };
        if ro {
            // SAFETY: the first page of our mapping.
            let r = unsafe { libc::mprotect(self.0.cast(), Self::SIZE, libc::PROT_READ) };
            ensure!(r == 0, "mprotect failed");
        }
        Ok(self.0 as usize + off)
    }
}

impl Drop for Pages {
    fn drop(&mut self) {
        // SAFETY: the mapping `new` made.
        unsafe { libc::munmap(self.0.cast(), 2 * Self::SIZE) };
    }
}

/// An object whose id cannot be copied out (the struct is read-only) must not exist: every
/// creating ioctl fails with EFAULT and leaves nothing behind, no timer and no record.
fn unlearnable_ids_leave_nothing() -> Result<(), String> {
    let d = open()?;
    let live = |d: &Device| d.check().map(|c| c.live).map_err(|e| e.to_string());
    let efault = |cmd: u32, addr: usize, what: &str| -> Result<(), String> {
        // SAFETY: `addr` is a struct for `cmd` in a read-only page of ours: the kernel reads it
        // and fails to write it back.
        expect_errno(unsafe { d.raw_ioctl(cmd, addr) }, libc::EFAULT, what)
    };
    for time in [0, 10_000 * MS] {
        let p = Pages::new()?;
        let t = sys::hrc_timeout {
            time,
            flags: sys::HRC_TIMEOUT_NS,
            ..Default::default()
        };
        efault(
            sys::HRC_IOC_TIMEOUT,
            p.put(0, &[t], true)?,
            "TIMEOUT, read-only struct",
        )?;
    }
    let p = Pages::new()?;
    let c = sys::hrc_timer_create {
        clock: CLOCK_MONOTONIC,
        ..Default::default()
    };
    efault(
        sys::HRC_IOC_TIMER_CREATE,
        p.put(0, &[c], true)?,
        "TIMER_CREATE, read-only",
    )?;
    let p = Pages::new()?;
    let c = sys::hrc_callout_init {
        mode: sys::HRC_CALLOUT_INIT_MP,
        ..Default::default()
    };
    efault(
        sys::HRC_IOC_CALLOUT_INIT,
        p.put(0, &[c], true)?,
        "CALLOUT_INIT, read-only",
    )?;
    let p = Pages::new()?;
    let t = sys::hrc_settimer {
        id: 3,
        ..Default::default()
    };
    efault(
        sys::HRC_IOC_SETTIMER,
        p.put(0, &[t], true)?,
        "SETTIMER, read-only",
    )?;
    let p = Pages::new()?;
    let c = sys::hrc_lock_create {
        kind: sys::HRC_LOCK_MUTEX,
        ..Default::default()
    };
    efault(
        sys::HRC_IOC_LOCK_CREATE,
        p.put(0, &[c], true)?,
        "LOCK_CREATE, read-only",
    )?;
    expect_errno(d.lock_destroy(1), libc::ENOENT, "the refused lock exists")?;
    // A batch whose ids cannot be written back (read-only array)...
    let entries = [sys::hrc_timeout {
        time: 10_000 * MS,
        flags: sys::HRC_TIMEOUT_NS,
        ..Default::default()
    }; 3];
    let p = Pages::new()?;
    let ops = p.put(0, &entries, true)?;
    let mut b = sys::hrc_batch {
        ops: ops as u64,
        count: 3,
        done: 0,
    };
    // SAFETY: `b` is the batch struct, alive for the call; `ops` is our read-only array.
    let r = unsafe { d.raw_ioctl(sys::HRC_IOC_BATCH, &mut b as *mut _ as usize) };
    expect_errno(r, libc::EFAULT, "BATCH, read-only ids")?;
    // ... or whose `done` cannot (read-only struct, writable array).
    let mut arr = entries;
    let p = Pages::new()?;
    let b = sys::hrc_batch {
        ops: arr.as_mut_ptr() as u64,
        count: 3,
        done: 0,
    };
    efault(
        sys::HRC_IOC_BATCH,
        p.put(0, &[b], true)?,
        "BATCH, read-only struct",
    )?;
    ensure!(live(&d)? == 0, "objects left behind: {}", live(&d)?);
    ensure!(
        collect(&d, 200, 8)?.is_empty(),
        "a record of an unlearnable id"
    );
    // A fault inside the array: the entries before it are armed, counted, and the call
    // succeeds (the header's promise).
    let p = Pages::new()?;
    let at = Pages::SIZE - 2 * std::mem::size_of::<sys::hrc_timeout>();
    let ops = p.put(at, &entries[..2], false)?;
    let mut b = sys::hrc_batch {
        ops: ops as u64,
        count: 3,
        done: 0,
    };
    // SAFETY: as above; the third entry is on the unmapped page.
    unsafe { d.raw_ioctl(sys::HRC_IOC_BATCH, &mut b as *mut _ as usize) }
        .map_err(|e| format!("BATCH with a fault after two entries: {e}"))?;
    ensure!(
        b.done == 2 && live(&d)? == 2,
        "done {} live {}",
        b.done,
        live(&d)?
    );
    Ok(())
}

fn read_rules() -> Result<(), String> {
    let d = open()?;
    let mut small = [0u8; 10];
    // SAFETY: `small` is writable for 10 bytes.
    let n = unsafe { libc::read(d_fd(&d), small.as_mut_ptr().cast(), small.len()) };
    ensure!(
        n == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL),
        "short read gave {n}"
    );
    d.set_nonblocking(true).map_err(|e| e.to_string())?;
    expect_errno(d.read_events(4), libc::EAGAIN, "empty non-blocking read")?;
    ensure!(
        !d.poll_readable(0).map_err(|e| e.to_string())?,
        "poll says readable on an empty queue"
    );
    Ok(())
}

fn poll_wakes_on_expiry() -> Result<(), String> {
    let d = open()?;
    let t0 = now();
    d.timeout_ns(20 * MS, 1).map_err(|e| e.to_string())?;
    ensure!(
        d.poll_readable(5000).map_err(|e| e.to_string())?,
        "poll did not wake within 5 s"
    );
    let waited = now() - t0;
    ensure!(
        waited >= 20 * MS,
        "poll woke after {waited} ns, before the 20 ms expiry"
    );
    // epoll sees it too.
    // SAFETY: plain epoll calls on valid fds.
    unsafe {
        let ep = libc::epoll_create1(0);
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: 7,
        };
        ensure!(
            libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, d_fd(&d), &mut ev) == 0,
            "epoll_ctl failed"
        );
        let mut out = [libc::epoll_event { events: 0, u64: 0 }; 1];
        let n = libc::epoll_wait(ep, out.as_mut_ptr(), 1, 1000);
        libc::close(ep);
        ensure!(n == 1 && out[0].u64 == 7, "epoll_wait gave {n}");
    }
    Ok(())
}

fn blocking_read_waits_for_the_event() -> Result<(), String> {
    let d = open()?;
    let t0 = now();
    let id = d.timeout_ns(30 * MS, 5).map_err(|e| e.to_string())?;
    let ev = d.read_events(8).map_err(|e| e.to_string())?;
    let waited = now() - t0;
    ensure!(ev.len() == 1 && ev[0].id == id, "read returned {ev:?}");
    ensure!(
        waited >= 30 * MS,
        "blocking read returned after {waited} ns"
    );
    Ok(())
}

/// An epoll set watching one file for `EPOLLIN | EPOLLET`; closed when dropped.
struct EdgeEpoll(i32);

impl EdgeEpoll {
    fn new(d: &Device) -> Result<Self, String> {
        // SAFETY: a plain epoll call; the fd is owned by the returned value.
        let ep = EdgeEpoll(unsafe { libc::epoll_create1(0) });
        ensure!(ep.0 >= 0, "epoll_create1 failed");
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLET) as u32,
            u64: 1,
        };
        // SAFETY: valid fds and event.
        let rc = unsafe { libc::epoll_ctl(ep.0, libc::EPOLL_CTL_ADD, d_fd(d), &mut ev) };
        ensure!(rc == 0, "epoll_ctl failed");
        Ok(ep)
    }

    /// `epoll_wait` for one event, up to `ms` ms: 1 for an edge, 0 for none.
    fn wait(&self, ms: i32) -> i32 {
        let mut out = [libc::epoll_event { events: 0, u64: 0 }; 1];
        // SAFETY: `out` has room for one event.
        unsafe { libc::epoll_wait(self.0, out.as_mut_ptr(), 1, ms) }
    }
}

impl Drop for EdgeEpoll {
    fn drop(&mut self) {
        // SAFETY: our epoll fd, closed once.
        unsafe { libc::close(self.0) };
    }
}

/// Readers are woken by the first record after a read (an empty queue's first included), so an
/// edge-triggered epoll user that reads until `EAGAIN` gets a new edge for the next record, and
/// none while nothing new arrives.
fn edge_triggered_epoll_wakes_after_a_drain() -> Result<(), String> {
    let d = open()?;
    d.set_nonblocking(true).map_err(|e| e.to_string())?;
    let ep = EdgeEpoll::new(&d)?;
    let wait = |ms: i32| ep.wait(ms);
    for (delay, cookie) in [(20 * MS, 1), (20 * MS, 2), (400 * MS, 3)] {
        d.timeout_ns(delay, cookie).map_err(|e| e.to_string())?;
    }
    ensure!(wait(5000) == 1, "no edge for the first records");
    std::thread::sleep(std::time::Duration::from_millis(100));
    let mut got = Vec::new();
    loop {
        match d.read_events(1) {
            Ok(v) => got.extend(v.iter().map(|e| e.cookie)),
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => break,
            Err(e) => return Err(e.to_string()),
        }
    }
    ensure!(
        got == [1, 2],
        "drained {got:?}, expected the two due at 20 ms"
    );
    ensure!(wait(5000) == 1, "no edge for a record after the drain");
    let last = d.read_events(4).map_err(|e| e.to_string())?;
    ensure!(
        last.len() == 1 && last[0].cookie == 3,
        "read {last:?} after the second edge"
    );
    ensure!(wait(100) == 0, "an edge with nothing new queued");
    Ok(())
}

/// An edge-triggered epoll reader that reads one record per edge, leaving others queued, still
/// gets an edge for the next record that arrives after its read (as a socket's reader does for
/// new data); without one it would wait forever.
fn edge_triggered_epoll_wakes_for_new_records_after_a_partial_read() -> Result<(), String> {
    let d = open()?;
    d.set_nonblocking(true).map_err(|e| e.to_string())?;
    let ep = EdgeEpoll::new(&d)?;
    let wait = |ms: i32| ep.wait(ms);
    for (delay, cookie) in [(20 * MS, 1), (20 * MS, 2), (500 * MS, 3)] {
        d.timeout_ns(delay, cookie).map_err(|e| e.to_string())?;
    }
    ensure!(wait(5000) == 1, "no edge for the first records");
    std::thread::sleep(std::time::Duration::from_millis(100));
    let one = d.read_events(1).map_err(|e| e.to_string())?;
    ensure!(one.len() == 1 && one[0].cookie == 1, "first read {one:?}");
    // Record 2 is still queued; record 3 arrives at 500 ms: an edge for it.
    ensure!(
        wait(5000) == 1,
        "no edge for a record arriving after a partial read"
    );
    let rest = d.read_events(4).map_err(|e| e.to_string())?;
    let cookies: Vec<u64> = rest.iter().map(|e| e.cookie).collect();
    ensure!(cookies == [2, 3], "then read {cookies:?}");
    Ok(())
}

/// Two readers blocked on one file share a burst: every record reaches one of them, and the
/// one left sleeping after the burst is still woken by a later record.
fn blocked_readers_share_a_burst() -> Result<(), String> {
    const N: usize = 200;
    const STOP: u64 = u64::MAX;
    let d = std::sync::Arc::new(open()?);
    let (tx, rx) = std::sync::mpsc::channel();
    for _ in 0..2 {
        let (d, tx) = (d.clone(), tx.clone());
        std::thread::spawn(move || {
            let mut n = 0usize;
            // One record per read, until a STOP record: each reader takes exactly one.
            let r = loop {
                match d.read_events(1) {
                    Ok(v) if v.first().is_some_and(|e| e.cookie == STOP) => break Ok(n),
                    Ok(v) => n += v.len(),
                    Err(e) => break Err(e.to_string()),
                }
            };
            let _ = tx.send(r);
        });
    }
    std::thread::sleep(std::time::Duration::from_millis(50));
    // Due within nanoseconds of each other (one clock read per few batch entries).
    let mut ops = vec![
        sys::hrc_timeout {
            time: 100 * MS,
            flags: sys::HRC_TIMEOUT_NS,
            ..Default::default()
        };
        N
    ];
    let done = d.timeout_batch(&mut ops).map_err(|e| e.to_string())?;
    ensure!(done as usize == N, "batch armed {done} of {N}");
    d.timeout_ns(500 * MS, STOP).map_err(|e| e.to_string())?;
    d.timeout_ns(700 * MS, STOP).map_err(|e| e.to_string())?;
    let mut total = 0;
    for _ in 0..2 {
        let n = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .map_err(|_| "a blocked reader was not woken within 20 s".to_string())??;
        total += n;
    }
    ensure!(total == N, "the readers got {total} of {N} records");
    Ok(())
}

pub const CASES: &[Case] = &[
    (
        "info_reports_abi_and_a_precise_clock",
        info_reports_abi_and_a_precise_clock,
    ),
    ("unknown_ioctls_get_enotty", unknown_ioctls_get_enotty),
    ("bad_user_pointers_get_efault", bad_user_pointers_get_efault),
    ("struct_sizes_are_checked", struct_sizes_are_checked),
    ("reserved_fields_are_refused", reserved_fields_are_refused),
    (
        "edge_triggered_epoll_after_a_partial_read",
        edge_triggered_epoll_wakes_for_new_records_after_a_partial_read,
    ),
    (
        "unlearnable_ids_leave_nothing",
        unlearnable_ids_leave_nothing,
    ),
    (
        "read_stops_at_the_faulting_record",
        read_stops_at_the_faulting_record,
    ),
    ("read_rules", read_rules),
    ("poll_wakes_on_expiry", poll_wakes_on_expiry),
    (
        "blocking_read_waits_for_the_event",
        blocking_read_waits_for_the_event,
    ),
    (
        "edge_triggered_epoll_wakes_after_a_drain",
        edge_triggered_epoll_wakes_after_a_drain,
    ),
    (
        "blocked_readers_share_a_burst",
        blocked_readers_share_a_burst,
    ),
];
