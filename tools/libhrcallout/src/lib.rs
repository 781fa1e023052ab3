//! Userspace access to `/dev/hrcallout`.
//!
//! The ABI types come from `include/uapi/linux/hrcallout.h` through bindgen at build time
//! ([`sys`]); [`Device`] wraps the ioctls and the event stream.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The ABI, generated from the UAPI header.
#[allow(non_camel_case_types, non_upper_case_globals, dead_code, clippy::all)]
pub mod sys {
    include!(concat!(env!("OUT_DIR"), "/uapi.rs"));
}

pub use sys::hrc_event as Event;

/// The device node.
pub const DEVICE: &str = "/dev/hrcallout";

/// An open `/dev/hrcallout`: one context with its own timers, ids and event queue.
pub struct Device {
    fd: OwnedFd,
}

/// `CLOCK_MONOTONIC` / `CLOCK_REALTIME` / `CLOCK_BOOTTIME` / `CLOCK_TAI` as the ABI numbers
/// them (`clockid_t`).
pub const CLOCK_REALTIME: u32 = 0;
/// See [`CLOCK_REALTIME`].
pub const CLOCK_MONOTONIC: u32 = 1;
/// See [`CLOCK_REALTIME`].
pub const CLOCK_BOOTTIME: u32 = 7;
/// See [`CLOCK_REALTIME`].
pub const CLOCK_TAI: u32 = 11;

fn cvt(r: libc::c_int) -> io::Result<i32> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

impl Device {
    /// Opens [`DEVICE`].
    pub fn open() -> io::Result<Self> {
        Self::open_path(DEVICE)
    }

    /// Opens the device at `path`.
    pub fn open_path(path: &str) -> io::Result<Self> {
        let c = CString::new(path).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: `c` is a valid NUL-terminated string.
        let fd = cvt(unsafe { libc::open(c.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) })?;
        // SAFETY: `fd` was just opened and is owned by nobody else.
        Ok(Self {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Wraps an fd of `/dev/hrcallout` (e.g. one inherited from a shell).
    pub fn from_fd(fd: OwnedFd) -> Self {
        Self { fd }
    }

    /// Gives the fd back.
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// Calls ioctl `cmd` with `arg` (a pointer or an integer), returning its non-negative result.
    ///
    /// # Safety
    ///
    /// The kernel reads and writes up to `_IOC_SIZE(cmd)` bytes at `arg` (and, for
    /// `HRC_IOC_BATCH`, the array the struct points at): if `arg` is an address of this
    /// process, those bytes must be memory the caller owns and no one else uses during the
    /// call. An address that is not mapped is safe: the kernel answers `EFAULT`.
    pub unsafe fn raw_ioctl(&self, cmd: u32, arg: usize) -> io::Result<i32> {
        // SAFETY: the caller upholds the contract above; the fd is ours and open.
        cvt(unsafe { libc::ioctl(self.fd.as_raw_fd(), cmd as libc::c_ulong, arg) })
    }

    /// [`Device::raw_ioctl`] on `arg`, for a `cmd` whose size is `size_of::<T>()` (every
    /// caller passes the number the header declares for `T`).
    fn ioctl<T>(&self, cmd: u32, arg: &mut T) -> io::Result<i32> {
        // SAFETY: `arg` is a `T` we borrow mutably for the call, and `cmd` is sized for `T`.
        unsafe { self.raw_ioctl(cmd, arg as *mut T as usize) }
    }

    /// `HRC_IOC_INFO`.
    pub fn info(&self) -> io::Result<sys::hrc_info> {
        let mut i = sys::hrc_info::default();
        self.ioctl(sys::HRC_IOC_INFO, &mut i)?;
        Ok(i)
    }

    /// `HRC_IOC_CHECK`: the engine's consistency check and counters.
    pub fn check(&self) -> io::Result<sys::hrc_check> {
        let mut c = sys::hrc_check::default();
        self.ioctl(sys::HRC_IOC_CHECK, &mut c)?;
        Ok(c)
    }

    /// STREAMS `timeout()` in ticks; returns the id.
    pub fn timeout_ticks(&self, ticks: i64, cookie: u64) -> io::Result<u64> {
        let mut t = sys::hrc_timeout {
            time: ticks,
            cookie,
            ..Default::default()
        };
        self.ioctl(sys::HRC_IOC_TIMEOUT, &mut t)?;
        Ok(t.id)
    }

    /// STREAMS `timeout()` in nanoseconds; returns the id.
    pub fn timeout_ns(&self, ns: i64, cookie: u64) -> io::Result<u64> {
        let mut t = sys::hrc_timeout {
            time: ns,
            cookie,
            flags: sys::HRC_TIMEOUT_NS,
            ..Default::default()
        };
        self.ioctl(sys::HRC_IOC_TIMEOUT, &mut t)?;
        Ok(t.id)
    }

    /// `HRC_IOC_BATCH`: arms a timeout for each entry of `ops` (its `id` is written back);
    /// returns how many were armed. Stops at the first entry that fails, which is the call's
    /// error only when it is the first.
    pub fn timeout_batch(&self, ops: &mut [sys::hrc_timeout]) -> io::Result<u32> {
        let mut b = sys::hrc_batch {
            ops: ops.as_mut_ptr() as u64,
            count: u32::try_from(ops.len())
                .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?,
            done: 0,
        };
        self.ioctl(sys::HRC_IOC_BATCH, &mut b)?;
        Ok(b.done)
    }

    /// STREAMS `untimeout()`: the time that was left.
    pub fn untimeout(&self, id: u64) -> io::Result<sys::hrc_untimeout> {
        let mut u = sys::hrc_untimeout {
            id,
            ..Default::default()
        };
        self.ioctl(sys::HRC_IOC_UNTIMEOUT, &mut u)?;
        Ok(u)
    }

    /// `callout_init` (`HRC_CALLOUT_INIT`), `_mp` or `_lk` (with a lock id); returns its id.
    pub fn callout_init(&self, mode: u32, lock_id: u64) -> io::Result<u64> {
        let mut c = sys::hrc_callout_init {
            mode,
            lock_id,
            ..Default::default()
        };
        self.ioctl(sys::HRC_IOC_CALLOUT_INIT, &mut c)?;
        Ok(c.id)
    }

    /// `callout_reset` with the callback's actions (`HRC_CA_*`).
    pub fn callout_reset(&self, r: &sys::hrc_callout_reset) -> io::Result<()> {
        let mut r = *r;
        self.ioctl(sys::HRC_IOC_CALLOUT_RESET, &mut r).map(drop)
    }

    /// `callout_reset_bycpu`: [`Device::callout_reset`] whose callback runs on `cpu`.
    pub fn callout_reset_bycpu(&self, r: &sys::hrc_callout_reset, cpu: u32) -> io::Result<()> {
        let mut b = sys::hrc_callout_reset_bycpu {
            reset: *r,
            cpu,
            reserved: 0,
        };
        self.ioctl(sys::HRC_IOC_CALLOUT_RESET_BYCPU, &mut b)
            .map(drop)
    }

    fn callout_call(&self, cmd: u32, id: u64) -> io::Result<i32> {
        let mut c = sys::hrc_callout_id { id };
        self.ioctl(cmd, &mut c)
    }

    /// `callout_stop`: 1 if a pending run was prevented.
    pub fn callout_stop(&self, id: u64) -> io::Result<i32> {
        self.callout_call(sys::HRC_IOC_CALLOUT_STOP, id)
    }
    /// `callout_stop_async`.
    pub fn callout_stop_async(&self, id: u64) -> io::Result<i32> {
        self.callout_call(sys::HRC_IOC_CALLOUT_STOP_ASYNC, id)
    }
    /// `callout_stop_sync`.
    pub fn callout_stop_sync(&self, id: u64) -> io::Result<i32> {
        self.callout_call(sys::HRC_IOC_CALLOUT_STOP_SYNC, id)
    }
    /// `callout_active`.
    pub fn callout_active(&self, id: u64) -> io::Result<i32> {
        self.callout_call(sys::HRC_IOC_CALLOUT_ACTIVE, id)
    }
    /// `callout_pending`.
    pub fn callout_pending(&self, id: u64) -> io::Result<i32> {
        self.callout_call(sys::HRC_IOC_CALLOUT_PENDING, id)
    }
    /// `callout_deactivate`.
    pub fn callout_deactivate(&self, id: u64) -> io::Result<i32> {
        self.callout_call(sys::HRC_IOC_CALLOUT_DEACTIVATE, id)
    }
    /// Destroys a callout.
    pub fn callout_destroy(&self, id: u64) -> io::Result<i32> {
        self.callout_call(sys::HRC_IOC_CALLOUT_DESTROY, id)
    }

    /// Creates a lock (`HRC_LOCK_MUTEX` or `HRC_LOCK_SPIN`).
    pub fn lock_create(&self, kind: u32) -> io::Result<u64> {
        let mut c = sys::hrc_lock_create {
            kind,
            ..Default::default()
        };
        self.ioctl(sys::HRC_IOC_LOCK_CREATE, &mut c)?;
        Ok(c.id)
    }
    /// Destroys a lock.
    pub fn lock_destroy(&self, id: u64) -> io::Result<i32> {
        self.callout_call(sys::HRC_IOC_LOCK_DESTROY, id)
    }
    /// Holds a lock for `us` µs, then does `op` on `callout` with it still held.
    pub fn lock_hold(&self, lock: u64, us: u32, op: u32, callout: u64) -> io::Result<i64> {
        let mut h = sys::hrc_lock_hold {
            lock_id: lock,
            us,
            op,
            callout_id: callout,
            result: 0,
        };
        self.ioctl(sys::HRC_IOC_LOCK_HOLD, &mut h)?;
        Ok(h.result)
    }

    /// Creates an interval timer (Mach/QNX) on `clock` with `notify` (`HRC_NOTIFY_*`).
    pub fn timer_create(&self, clock: u32, notify: u32, cookie: u64) -> io::Result<u64> {
        let mut c = sys::hrc_timer_create {
            clock,
            notify,
            cookie,
            id: 0,
        };
        self.ioctl(sys::HRC_IOC_TIMER_CREATE, &mut c)?;
        Ok(c.id)
    }
    /// Deletes an interval timer.
    pub fn timer_delete(&self, id: u64) -> io::Result<i32> {
        self.callout_call(sys::HRC_IOC_TIMER_DELETE, id)
    }
    /// QNX `TimerSettime`: returns the old setting.
    pub fn timer_settime(
        &self,
        id: u64,
        flags: u32,
        value_ns: u64,
        interval_ns: u64,
    ) -> io::Result<sys::hrc_itimer> {
        let mut t = sys::hrc_timer_settime {
            id,
            flags,
            pad: 0,
            value: sys::hrc_itimer {
                value_ns,
                interval_ns,
            },
            old: sys::hrc_itimer::default(),
        };
        self.ioctl(sys::HRC_IOC_TIMER_SETTIME, &mut t)?;
        Ok(t.old)
    }
    /// Time left and period.
    pub fn timer_gettime(&self, id: u64) -> io::Result<sys::hrc_itimer> {
        let mut t = sys::hrc_timer_gettime {
            id,
            ..Default::default()
        };
        self.ioctl(sys::HRC_IOC_TIMER_GETTIME, &mut t)?;
        Ok(t.value)
    }
    /// QNX `TimerInfo`.
    pub fn timer_info(&self, id: u64, flags: u32) -> io::Result<sys::hrc_timer_info> {
        let mut t = sys::hrc_timer_info {
            id,
            flags,
            ..Default::default()
        };
        self.ioctl(sys::HRC_IOC_TIMER_INFO, &mut t)?;
        Ok(t)
    }
    /// Mach `timer_arm`.
    pub fn timer_arm(
        &self,
        id: u64,
        expire_ns: i64,
        interval_ns: i64,
        flags: u32,
    ) -> io::Result<i32> {
        let mut a = sys::hrc_timer_arm {
            id,
            expire_ns,
            interval_ns,
            flags,
            tid: 0,
        };
        self.ioctl(sys::HRC_IOC_TIMER_ARM, &mut a)
    }
    /// Mach `timer_arm` with `TIMER_THREAD_SUSPEND` (added to `flags`) of thread `tid`.
    pub fn timer_arm_suspend(
        &self,
        id: u64,
        expire_ns: i64,
        interval_ns: i64,
        flags: u32,
        tid: i32,
    ) -> io::Result<i32> {
        let mut a = sys::hrc_timer_arm {
            id,
            expire_ns,
            interval_ns,
            flags: flags | sys::HRC_MACH_THREAD_SUSPEND,
            tid,
        };
        self.ioctl(sys::HRC_IOC_TIMER_ARM, &mut a)
    }
    /// Mach `thread_resume`: returns the suspend count left.
    pub fn thread_resume(&self, tid: i32) -> io::Result<u32> {
        let mut r = sys::hrc_thread_resume { tid, count: 0 };
        self.ioctl(sys::HRC_IOC_THREAD_RESUME, &mut r)?;
        Ok(r.count)
    }
    /// Mach `timer_cancel`.
    pub fn timer_cancel(&self, id: u64, flags: u32) -> io::Result<i32> {
        let mut c = sys::hrc_timer_cancel { id, flags, pad: 0 };
        self.ioctl(sys::HRC_IOC_TIMER_CANCEL, &mut c)
    }
    /// This file's Mach queue limit.
    pub fn set_qlimit(&self, qlimit: u32) -> io::Result<i32> {
        let mut q = sys::hrc_qlimit { qlimit, pad: 0 };
        self.ioctl(sys::HRC_IOC_SET_QLIMIT, &mut q)
    }
    /// Mach `timer_info(MACH_TIMER_BASIC_INFO)`.
    pub fn mach_timer_info(&self, id: u64) -> io::Result<sys::hrc_mach_timer_info> {
        let mut t = sys::hrc_mach_timer_info {
            id,
            ..Default::default()
        };
        self.ioctl(sys::HRC_IOC_MACH_TIMER_INFO, &mut t)?;
        Ok(t)
    }
    /// mTCP `mtcp_settimer`: returns the engine id of the registration.
    pub fn settimer(&self, id: i32, tv_sec: i64, tv_usec: i64) -> io::Result<u64> {
        let mut t = sys::hrc_settimer {
            id,
            pad: 0,
            tv_sec,
            tv_usec,
            timer_id: 0,
        };
        self.ioctl(sys::HRC_IOC_SETTIMER, &mut t)?;
        Ok(t.timer_id)
    }

    /// `HRC_IOC_CLOCK_VIRTUAL`: makes this fresh file's clocks virtual, at monotonic `mono_ns`
    /// and realtime `real_ns` (`None`: the real clocks' now).
    pub fn clock_virtual(&self, start: Option<(i64, i64)>) -> io::Result<()> {
        let mut v = sys::hrc_clock_virtual::default();
        match start {
            Some((mono, real)) => (v.mono_ns, v.real_ns) = (mono, real),
            None => v.flags = sys::HRC_CLOCK_VIRTUAL_AT_NOW,
        }
        self.ioctl(sys::HRC_IOC_CLOCK_VIRTUAL, &mut v).map(drop)
    }
    /// `HRC_IOC_CLOCK_ADVANCE` by `delta_ns` (`max_passes` 0: the default budget).
    pub fn clock_advance(
        &self,
        delta_ns: i64,
        max_passes: u32,
    ) -> io::Result<sys::hrc_clock_advance> {
        self.advance(0, delta_ns, max_passes)
    }
    /// `HRC_IOC_CLOCK_ADVANCE` to absolute monotonic `mono_ns`.
    pub fn clock_advance_to(
        &self,
        mono_ns: i64,
        max_passes: u32,
    ) -> io::Result<sys::hrc_clock_advance> {
        self.advance(sys::HRC_ADVANCE_ABS, mono_ns, max_passes)
    }
    fn advance(&self, flags: u32, ns: i64, max_passes: u32) -> io::Result<sys::hrc_clock_advance> {
        let mut a = sys::hrc_clock_advance {
            flags,
            max_passes,
            ns,
            ..Default::default()
        };
        self.ioctl(sys::HRC_IOC_CLOCK_ADVANCE, &mut a)?;
        Ok(a)
    }
    /// `HRC_IOC_CLOCK_NOW`: whether the file is virtual, and its monotonic and realtime now.
    pub fn clock_now(&self) -> io::Result<sys::hrc_clock_now> {
        let mut n = sys::hrc_clock_now::default();
        self.ioctl(sys::HRC_IOC_CLOCK_NOW, &mut n)?;
        Ok(n)
    }
    /// `HRC_IOC_CLOCK_SET_REALTIME`: steps a virtual file's realtime clock; returns the step.
    pub fn clock_set_realtime(&self, real_ns: i64) -> io::Result<i64> {
        let mut s = sys::hrc_clock_set_realtime {
            real_ns,
            step_ns: 0,
        };
        self.ioctl(sys::HRC_IOC_CLOCK_SET_REALTIME, &mut s)?;
        Ok(s.step_ns)
    }

    /// Asks for an `HRC_EV_CLOCK_SET` record (carrying `cookie`) whenever `CLOCK_REALTIME` is
    /// set: the watch's id.
    pub fn clock_watch(&self, cookie: u64) -> io::Result<u64> {
        let mut w = sys::hrc_clock_watch {
            cookie,
            ..Default::default()
        };
        self.ioctl(sys::HRC_IOC_CLOCK_WATCH, &mut w)?;
        Ok(w.id)
    }

    /// Ends a watch made by [`Device::clock_watch`].
    pub fn clock_unwatch(&self, id: u64) -> io::Result<()> {
        self.callout_call(sys::HRC_IOC_CLOCK_UNWATCH, id).map(drop)
    }

    /// Reads up to `max` records (blocks for the first unless non-blocking).
    pub fn read_events(&self, max: usize) -> io::Result<Vec<Event>> {
        let mut buf: Vec<Event> = vec![Event::default(); max.max(1)];
        let bytes = std::mem::size_of_val(buf.as_slice());
        // SAFETY: `buf` is writable for `bytes` bytes.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), bytes) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        buf.truncate(n as usize / std::mem::size_of::<Event>());
        Ok(buf)
    }

    /// Reads every record queued now, without waiting (`read` until it finds none; the file
    /// need not be non-blocking).
    pub fn read_queued(&self) -> io::Result<Vec<Event>> {
        let mut out = Vec::new();
        while self.poll_readable(0)? {
            match self.read_events(256) {
                Ok(v) if v.is_empty() => break,
                Ok(v) => out.extend(v),
                // Another reader took them between the poll and the read.
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Switches `O_NONBLOCK` on or off.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        // SAFETY: plain fcntl calls on our own fd.
        let flags = cvt(unsafe { libc::fcntl(self.fd.as_raw_fd(), libc::F_GETFL) })?;
        let flags = if on {
            flags | libc::O_NONBLOCK
        } else {
            flags & !libc::O_NONBLOCK
        };
        // SAFETY: as above.
        cvt(unsafe { libc::fcntl(self.fd.as_raw_fd(), libc::F_SETFL, flags) }).map(drop)
    }

    /// Waits up to `timeout_ms` for a record; true if readable.
    pub fn poll_readable(&self, timeout_ms: i32) -> io::Result<bool> {
        let mut p = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = cvt(unsafe { libc::poll(&mut p, 1, timeout_ms) })?;
        Ok(n == 1 && p.revents & libc::POLLIN != 0)
    }
}

impl Device {
    /// This file's `/proc/self/fdinfo` lines, parsed.
    pub fn fdinfo(&self) -> io::Result<FdInfo> {
        FdInfo::read("self", self.fd.as_raw_fd())
    }
}

/// What `/proc/<pid>/fdinfo/<fd>` of a `/dev/hrcallout` file says it holds (the module's
/// `device/fdinfo.rs` documents the lines).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FdInfo {
    /// Whether the file's clocks are virtual, and its now on each.
    pub virtual_time: bool,
    pub mono_ns: i64,
    pub real_ns: i64,
    /// (live, armed) STREAMS timeouts (live counts unread fired ones), callouts, QNX and Mach
    /// interval timers, mTCP timers.
    pub timeouts: (u32, u32),
    pub callouts: (u32, u32),
    pub interval_timers: (u32, u32),
    pub mtcp_timers: (u32, u32),
    /// Records queued for `read`.
    pub records_queued: u32,
    pub qlimit: u32,
    /// The earliest armed expiry on each clock.
    pub next_monotonic: Option<i64>,
    pub next_realtime: Option<i64>,
    pub next_boottime: Option<i64>,
    pub next_tai: Option<i64>,
    pub slots: u32,
    /// The longest expiry pass the file's hrtimers have run: its ns by the clock it expired
    /// (instructions under `-icount shift=0`) and how many expiries it handled.
    pub longest_pass: (i64, u32),
    /// The slots its opener's files hold together and the per-user limit on them (`None`: the
    /// opener is not limited; then the first figure is this file's own).
    pub user_slots: (u64, Option<u64>),
    /// The consistency check: `ok ...`, `FAILED ...` or `skipped` (a large table).
    pub check: String,
}

impl FdInfo {
    /// Reads and parses `/proc/<pid>/fdinfo/<fd>` (`pid` may be `self`).
    pub fn read(pid: &str, fd: RawFd) -> io::Result<Self> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}"))?;
        Self::parse(&text).ok_or_else(|| io::Error::other("not the fdinfo of /dev/hrcallout"))
    }

    /// Parses fdinfo text; `None` unless it has every `hrc-` line.
    pub fn parse(text: &str) -> Option<Self> {
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
                .map(str::trim)
        };
        let pair = |key: &str| -> Option<(u32, u32)> {
            let v = field(key)?;
            let (live, armed) = v.split_once(" armed=")?;
            Some((live.parse().ok()?, armed.parse().ok()?))
        };
        let num = |key: &str| field(key)?.parse().ok();
        let next = |key: &str| -> Option<Option<i64>> {
            match field(key)? {
                "-" => Some(None),
                v => Some(Some(v.parse().ok()?)),
            }
        };
        let clock = field("hrc-clock")?;
        let mut words = clock.split(' ');
        let virtual_time = words.next()? == "virtual";
        let mono_ns = words.next()?.strip_prefix("mono=")?.parse().ok()?;
        let real_ns = words.next()?.strip_prefix("real=")?.parse().ok()?;
        Some(Self {
            virtual_time,
            mono_ns,
            real_ns,
            timeouts: pair("hrc-timeouts")?,
            callouts: pair("hrc-callouts")?,
            interval_timers: pair("hrc-interval-timers")?,
            mtcp_timers: pair("hrc-mtcp-timers")?,
            records_queued: num("hrc-records-queued")?,
            qlimit: num("hrc-qlimit")?,
            next_monotonic: next("hrc-next-monotonic")?,
            next_realtime: next("hrc-next-realtime")?,
            next_boottime: next("hrc-next-boottime")?,
            next_tai: next("hrc-next-tai")?,
            slots: num("hrc-slots")?,
            // Younger than the other lines: a module without it reports none.
            longest_pass: field("hrc-longest-pass")
                .and_then(|v| {
                    let (ns, n) = v.split_once(" expiries=")?;
                    Some((ns.parse().ok()?, n.parse().ok()?))
                })
                .unwrap_or((0, 0)),
            user_slots: field("hrc-user-slots")
                .and_then(|v| {
                    let (used, limit) = v.split_once(" limit=")?;
                    let limit = match limit {
                        "unlimited" => None,
                        n => Some(n.parse().ok()?),
                    };
                    Some((used.parse().ok()?, limit))
                })
                .unwrap_or((0, None)),
            check: field("hrc-check")?.to_string(),
        })
    }
}

impl AsRawFd for Device {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// The calling thread's id (`gettid(2)`), as `TIMER_THREAD_SUSPEND` names threads.
pub fn gettid() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

/// Now on `clock` (a [`CLOCK_REALTIME`]-style number), in ns.
pub fn now_ns(clock: u32) -> i64 {
    // The ABI's numbers are clockid_t's.
    let id = clock as libc::clockid_t;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is writable.
    unsafe { libc::clock_gettime(id, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// Parses a duration: `250ms`, `10us`, `1.5s`, `5000ns`, or a bare number of ns.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let mult: f64 = match unit {
        "" | "ns" => 1.0,
        "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => {
            return Err(format!(
                "unknown unit '{unit}' in '{s}' (use ns, us, ms or s)"
            ))
        }
    };
    let v: f64 = num.parse().map_err(|_| format!("not a duration: '{s}'"))?;
    let ns = v * mult;
    if !ns.is_finite() || ns.abs() > i64::MAX as f64 {
        return Err(format!("duration out of range: '{s}'"));
    }
    Ok(ns.round() as i64)
}

/// Formats ns for humans: `1.250 ms`.
pub fn format_ns(ns: i64) -> String {
    let a = ns.unsigned_abs() as f64;
    let sign = if ns < 0 { "-" } else { "" };
    if a >= 1e9 {
        format!("{sign}{:.3} s", a / 1e9)
    } else if a >= 1e6 {
        format!("{sign}{:.3} ms", a / 1e6)
    } else if a >= 1e3 {
        format!("{sign}{:.3} us", a / 1e3)
    } else {
        format!("{sign}{a} ns")
    }
}

/// The name of an event kind.
pub fn kind_name(kind: u16) -> &'static str {
    match u32::from(kind) {
        sys::HRC_EV_TIMEOUT => "timeout",
        sys::HRC_EV_CALLOUT => "callout",
        sys::HRC_EV_INTERVAL => "interval",
        sys::HRC_EV_MTCP => "mtcp",
        sys::HRC_EV_CLOCK_SET => "clock-set",
        _ => "unknown",
    }
}

/// One event as a JSON object (every field; times in ns), as `hrcallout watch --json` prints it.
pub fn event_json(e: &Event) -> String {
    format!(
        "{{\"kind\":\"{}\",\"id\":{},\"cookie\":{},\"expiry_ns\":{},\"fire_ns\":{},\"late_ns\":{},\"overruns\":{},\"flags\":{},\"clock\":{},\"cpu\":{},\"extra\":{}}}",
        kind_name(e.kind),
        e.id,
        e.cookie,
        e.expiry_ns,
        e.fire_ns,
        e.fire_ns - e.expiry_ns,
        e.overruns,
        e.flags,
        e.clock,
        e.cpu,
        e.extra
    )
}

/// docs/errno.md, the one errno table: what each errno of each ioctl means.
const ERRNO_TABLE: &str = include_str!("../../../docs/errno.md");

/// The symbolic names of the errnos the module returns.
const ERRNO_NAMES: &[(i32, &str)] = &[
    (libc::EPERM, "EPERM"),
    (libc::ENOENT, "ENOENT"),
    (libc::ESRCH, "ESRCH"),
    (libc::EINTR, "EINTR"),
    (libc::E2BIG, "E2BIG"),
    (libc::EAGAIN, "EAGAIN"),
    (libc::ENOMEM, "ENOMEM"),
    (libc::EFAULT, "EFAULT"),
    (libc::EBUSY, "EBUSY"),
    (libc::ENODEV, "ENODEV"),
    (libc::EINVAL, "EINVAL"),
    (libc::ENOTTY, "ENOTTY"),
    (libc::ENOSPC, "ENOSPC"),
    (libc::EOPNOTSUPP, "EOPNOTSUPP"),
    (libc::ETIMEDOUT, "ETIMEDOUT"),
    (libc::EALREADY, "EALREADY"),
];

/// The symbolic name of errno `no` ("errno N" if it is not one the module returns).
pub fn errno_name(no: i32) -> String {
    ERRNO_NAMES
        .iter()
        .find(|(n, _)| *n == no)
        .map_or_else(|| format!("errno {no}"), |(_, name)| (*name).to_string())
}

/// What errno `name` means for `ioctl` (e.g. "HRC_IOC_UNTIMEOUT"), from docs/errno.md: the
/// clauses of the ioctl's row that name it, else the common table's; none if neither does.
pub fn errno_meaning(ioctl: &str, name: &str) -> Option<String> {
    let tick = format!("`{name}`");
    let short = ioctl.strip_prefix("HRC_IOC_").unwrap_or(ioctl);
    let cells = |line: &str| -> Vec<String> {
        line.trim()
            .trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_string())
            .collect()
    };
    let row = ERRNO_TABLE.lines().find(|l| {
        let c = cells(l);
        l.starts_with("| `HRC_IOC_")
            && c.first().is_some_and(|k| {
                k.contains(&format!("`{ioctl}`")) || k.contains(&format!("`_{short}`"))
            })
    });
    let mut found: Vec<String> = Vec::new();
    if let Some(row) = row {
        if let Some(errors) = cells(row).get(2) {
            found.extend(
                errors
                    .split("; ")
                    .filter(|part| part.contains(&tick))
                    .map(|part| part.to_string()),
            );
        }
    }
    if found.is_empty() {
        // The common errors: `| `EINVAL` | when |`.
        if let Some(row) = ERRNO_TABLE
            .lines()
            .find(|l| l.starts_with(&format!("| {tick} |")))
        {
            found.extend(cells(row).get(1).cloned());
        }
    }
    if found.is_empty() {
        return None;
    }
    let text = found.join("; ").replace('`', "");
    let text = text
        .strip_prefix(&format!("{name}: "))
        .unwrap_or(&text)
        .to_string();
    Some(text)
}

/// An ioctl's failure for a person: the ioctl, the errno's name and text, and what it means
/// for that ioctl.
pub fn explain(ioctl: &str, e: &io::Error) -> String {
    let Some(no) = e.raw_os_error() else {
        return format!("{ioctl}: {e}");
    };
    let name = errno_name(no);
    let text = io::Error::from_raw_os_error(no)
        .to_string()
        .split(" (os error")
        .next()
        .unwrap_or_default()
        .to_string();
    match errno_meaning(ioctl, &name) {
        Some(m) => format!("{ioctl} failed with {name} ({text}): {m}"),
        None => format!("{ioctl} failed with {name} ({text})"),
    }
}

/// One line describing an event, as `hrcallout watch` prints it.
pub fn describe(e: &Event) -> String {
    let late = e.fire_ns - e.expiry_ns;
    let mut s = format!(
        "{:<8} id={:#x} cookie={} late={} overruns={}",
        kind_name(e.kind),
        e.id,
        e.cookie,
        format_ns(late),
        e.overruns
    );
    if e.flags & sys::HRC_EVF_LOCK_HELD != 0 {
        s.push_str(" lock-held");
    }
    if e.flags & sys::HRC_EVF_PERIODIC != 0 {
        s.push_str(" periodic");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn errors_are_explained_from_docs_errno_md() {
        let m = errno_meaning("HRC_IOC_UNTIMEOUT", "ENOENT").unwrap();
        assert!(m.starts_with("fired"), "{m}");
        let m = errno_meaning("HRC_IOC_TIMER_CANCEL", "EALREADY").unwrap();
        assert!(m.contains("not armed"), "{m}");
        // An errno the row does not name: the common table's meaning.
        let m = errno_meaning("HRC_IOC_UNTIMEOUT", "EFAULT").unwrap();
        assert!(m.contains("not readable"), "{m}");
        let e = explain(
            "HRC_IOC_UNTIMEOUT",
            &io::Error::from_raw_os_error(libc::ENOENT),
        );
        assert!(
            e.starts_with(
                "HRC_IOC_UNTIMEOUT failed with ENOENT (No such file or directory): fired"
            ),
            "{e}"
        );
        // Every errno of every row of the table has a name here.
        for line in ERRNO_TABLE.lines().filter(|l| l.starts_with("| `")) {
            for w in line.split('`').filter(|w| {
                w.starts_with('E')
                    && w.len() > 2
                    && w.chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            }) {
                assert!(ERRNO_NAMES.iter().any(|(_, n)| *n == w), "{w} has no name");
            }
        }
    }

    #[test]
    fn event_json_has_every_field() {
        let e = Event {
            kind: sys::HRC_EV_TIMEOUT as u16,
            id: 7,
            expiry_ns: 10,
            fire_ns: 15,
            ..Default::default()
        };
        let j = event_json(&e);
        assert!(j.starts_with("{\"kind\":\"timeout\",\"id\":7,"), "{j}");
        assert!(j.contains("\"late_ns\":5,"), "{j}");
        assert!(j.ends_with("\"extra\":0}"), "{j}");
    }

    #[test]
    fn event_record_is_64_bytes_with_fixed_offsets() {
        assert_eq!(size_of::<Event>(), 64);
        assert_eq!(offset_of!(Event, id), 8);
        assert_eq!(offset_of!(Event, expiry_ns), 24);
        assert_eq!(offset_of!(Event, overruns), 40);
        assert_eq!(offset_of!(Event, extra), 56);
    }

    #[test]
    fn ioctl_numbers_encode_magic_direction_and_size() {
        let nr = |c: u32| (c & 0xff, (c >> 8) & 0xff, (c >> 16) & 0x3fff, c >> 30);
        assert_eq!(
            nr(sys::HRC_IOC_INFO),
            (0, 0xC7, size_of::<sys::hrc_info>() as u32, 2)
        );
        assert_eq!(nr(sys::HRC_IOC_TIMEOUT), (0x10, 0xC7, 32, 3));
        assert_eq!(nr(sys::HRC_IOC_CALLOUT_STOP), (0x22, 0xC7, 8, 1));
    }

    #[test]
    fn structs_have_no_implicit_padding() {
        // Every struct's size is the sum of its fields (explicit pads included): same layout
        // for 32- and 64-bit callers and nothing uninitialised reaches the kernel.
        assert_eq!(size_of::<sys::hrc_timeout>(), 8 + 8 + 4 + 4 + 8);
        assert_eq!(
            size_of::<sys::hrc_callout_reset>(),
            8 + 8 + 4 + 4 + 4 + 4 + 8
        );
        assert_eq!(size_of::<sys::hrc_lock_hold>(), 8 + 4 + 4 + 8 + 8);
        assert_eq!(size_of::<sys::hrc_info>() % 8, 0);
    }

    #[test]
    fn durations_parse_and_reject() {
        assert_eq!(parse_duration("250ms"), Ok(250_000_000));
        assert_eq!(parse_duration("10us"), Ok(10_000));
        assert_eq!(parse_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_duration("42"), Ok(42));
        assert!(parse_duration("3 fortnights").is_err());
        assert!(parse_duration("1e400s").is_err());
    }

    #[test]
    fn formatting_picks_a_unit() {
        assert_eq!(format_ns(1_250_000), "1.250 ms");
        assert_eq!(format_ns(-5), "-5 ns");
        assert_eq!(format_ns(2_000_000_000), "2.000 s");
    }
}
