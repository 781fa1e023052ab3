//! `hrcallout`: drive /dev/hrcallout from the shell.
//!
//! Every open file is its own context (its timers vanish when it is closed), so commands that
//! belong together share one file through `--fd`:
//! `exec 3<>/dev/hrcallout; hrcallout --fd 3 timeout 250ms; hrcallout --fd 3 watch --count 1`.

mod bench;
mod script;
mod top;

use clap::{Parser, Subcommand, ValueEnum};
use hrcallout::{describe, format_ns, parse_duration, sys, Device};
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "hrcallout",
    version,
    about = "Classic timer APIs on Linux hrtimers, through /dev/hrcallout"
)]
struct Cli {
    /// Use this already-open file descriptor of /dev/hrcallout (shares its context).
    #[arg(long, global = true)]
    fd: Option<i32>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Print the ABI version, HZ, clock resolution and limits.
    #[command(after_help = "Examples:\n  hrcallout info")]
    Info,
    /// Check the engine's invariants and print its counters.
    #[command(
        after_help = "Examples:\n  exec 3<>/dev/hrcallout\n  hrcallout --fd 3 timeout 1s && hrcallout --fd 3 check"
    )]
    Check,
    /// STREAMS timeout(): arm a one-shot timer, print its id.
    #[command(
        after_help = "Examples:\n  hrcallout timeout 250ms --cookie 7 --wait\n  hrcallout --fd 3 timeout 5 --ticks"
    )]
    Timeout {
        /// Delay: 250ms, 10us, 1s, ... (or ticks with --ticks).
        #[arg(allow_hyphen_values = true)]
        time: String,
        /// TIME is a number of ticks (1/HZ s).
        #[arg(long)]
        ticks: bool,
        #[arg(long, default_value_t = 0)]
        cookie: u64,
        /// Wait for the event and print it.
        #[arg(long)]
        wait: bool,
    },
    /// STREAMS untimeout(): cancel, print the time that was left.
    #[command(
        after_help = "Examples:\n  id=$(hrcallout --fd 3 timeout 10s) && hrcallout --fd 3 untimeout $id"
    )]
    Untimeout { id: String },
    /// Print events as they arrive.
    #[command(
        after_help = "Examples:\n  hrcallout --fd 3 watch --count 1\n  hrcallout --fd 3 watch --idle 2s --json | jq .late_ns"
    )]
    Watch {
        /// Stop after this many events.
        #[arg(long)]
        count: Option<usize>,
        /// Stop after this long without an event.
        #[arg(long)]
        idle: Option<String>,
        /// One JSON object per event (every field, times in ns) instead of a line of text.
        #[arg(long)]
        json: bool,
    },
    /// Write hrcallout(1), a page per subcommand and the bash, zsh and fish completions into
    /// DIR (for packaging).
    #[command(hide = true)]
    Generate {
        dir: std::path::PathBuf,
        /// The pages' date (YYYY-MM-DD).
        #[arg(long, default_value = "")]
        date: String,
    },
    /// DragonFly callout(9).
    #[command(
        after_help = "Examples:\n  hrcallout --fd 3 callout init --mp\n  hrcallout --fd 3 callout reset 0x800000 10ms --actions event,spin --us 500\n  hrcallout --fd 3 callout stop-sync 0x800000"
    )]
    #[command(subcommand)]
    Callout(CalloutCmd),
    /// Locks for callout_init_lk.
    #[command(
        after_help = "Examples:\n  lk=$(hrcallout --fd 3 lock create mutex) && hrcallout --fd 3 callout init --lock $lk"
    )]
    #[command(subcommand)]
    Lock(LockCmd),
    /// Interval timer objects (create, delete, info, cancel, queue limit).
    #[command(
        after_help = "Examples:\n  hrcallout --fd 3 timer create --mach\n  hrcallout --fd 3 timer info 0xc00000\n  hrcallout --fd 3 timer qlimit 2"
    )]
    #[command(subcommand)]
    Timer(TimerCmd),
    /// QNX TimerSettime: set a timer, print the old setting.
    #[command(
        after_help = "Examples:\n  t=$(hrcallout --fd 3 timer create) && hrcallout --fd 3 settime $t 100ms --interval 10ms\n  hrcallout --fd 3 settime $t 0"
    )]
    Settime {
        id: String,
        /// Time to expiry (absolute ns with --abs); 0 disarms.
        #[arg(allow_hyphen_values = true)]
        value: String,
        /// Period; 0 = one-shot.
        #[arg(long, default_value = "0")]
        interval: String,
        /// VALUE is an absolute time on the timer's clock (TIMER_ABSTIME).
        #[arg(long)]
        abs: bool,
    },
    /// Mach timer_arm.
    #[command(
        after_help = "Examples:\n  t=$(hrcallout --fd 3 timer create --mach) && hrcallout --fd 3 arm $t 1ms --interval 1ms\n  hrcallout --fd 3 timer cancel $t"
    )]
    Arm {
        id: String,
        #[arg(allow_hyphen_values = true)]
        expire: String,
        /// Period (implies TIMER_PERIODIC).
        #[arg(long)]
        interval: Option<String>,
        /// EXPIRE is absolute (TIMER_ABSOLUTE).
        #[arg(long)]
        abs: bool,
    },
    /// Benchmarks against same-boot baselines (needs the benchmark kernel; in-kernel figures
    /// need the module loaded with enable_bench=1). JSON lines on stdout, a table on stderr.
    #[command(after_help = "Examples:\n  hrcallout bench --mode icount --user-only")]
    Bench {
        /// How guest time runs: "icount" (instructions) or "tcg" (emulated wall clock).
        #[arg(long, default_value = "tcg")]
        mode: String,
        /// Only the in-kernel benchmarks.
        #[arg(long, conflicts_with = "user_only")]
        kernel_only: bool,
        /// Only the userspace benchmarks.
        #[arg(long)]
        user_only: bool,
        /// Include the 1M-pending point.
        #[arg(long)]
        big: bool,
        /// Only the virtual-time simulation (P13).
        #[arg(long, conflicts_with_all = ["kernel_only", "user_only"])]
        virtual_only: bool,
        /// Only the longest-expiry-pass figures (P14, icount only).
        #[arg(long, conflicts_with_all = ["kernel_only", "user_only", "virtual_only"])]
        passes_only: bool,
    },
    /// What the /dev/hrcallout files of a process hold (timers by kind, live/armed, queued
    /// records, next expiry, check), from /proc/PID/fdinfo, redrawn every second.
    #[command(after_help = "Examples:\n  hrcallout top 1234\n  hrcallout top --once")]
    Top {
        /// The process (default: every process that has the device open).
        pid: Option<u32>,
        /// Print the table once and exit.
        #[arg(long)]
        once: bool,
        /// Seconds between redraws.
        #[arg(long, default_value_t = 1)]
        interval: u64,
    },
    /// Repeat one operation forever, for scripts/profile.sh to trace (prints PROF-READY).
    #[command(hide = true)]
    Spin {
        #[arg(value_enum)]
        op: bench::SpinOp,
    },
    /// Run a command script on a virtual file (its clocks move only at `advance` lines) and
    /// print every record: the same script prints the same lines on every run.
    #[command(
        after_help = "Examples:\n  printf 'timeout 10ms 7\\nmach 1ms 1ms 8\\nadvance 2s\\n' | hrcallout virtual -",
        long_about = None
    )]
    Virtual {
        /// The script (a file, or - for stdin). Lines:
        #[arg(long_help = format!("The script (a file, or - for stdin). Lines (# starts a comment):\n{}", script::SYNTAX))]
        script: String,
        /// Print records as JSON objects.
        #[arg(long)]
        json: bool,
    },
    /// mTCP mtcp_settimer: a one-shot timer whose event carries ID.
    #[command(
        after_help = "Examples:\n  hrcallout --fd 3 settimer 42 0 20000 && hrcallout --fd 3 watch --count 1"
    )]
    Settimer {
        #[arg(allow_hyphen_values = true)]
        id: i32,
        /// Seconds.
        #[arg(allow_hyphen_values = true)]
        sec: i64,
        /// Microseconds (0 .. 999999).
        #[arg(allow_hyphen_values = true)]
        usec: i64,
    },
}

#[derive(Subcommand, Debug)]
enum TimerCmd {
    /// Create a timer; prints its id.
    #[command(
        after_help = "Examples:\n  hrcallout --fd 3 timer create --realtime --cookie 9\n  hrcallout --fd 3 timer create --pulse"
    )]
    Create {
        /// On CLOCK_REALTIME (absolute times follow clock changes).
        #[arg(long, conflicts_with_all = ["boottime", "tai"])]
        realtime: bool,
        /// On CLOCK_BOOTTIME (counts suspend, relative times too).
        #[arg(long, conflicts_with = "tai")]
        boottime: bool,
        /// On CLOCK_TAI (absolute times follow clock changes, as on CLOCK_REALTIME).
        #[arg(long)]
        tai: bool,
        /// Mach notification (a message per expiry, up to the queue limit) instead of QNX
        /// SI_TIMER.
        #[arg(long, conflicts_with = "pulse")]
        mach: bool,
        /// QNX pulse notification (each expiry its own record, up to the queue limit).
        #[arg(long)]
        pulse: bool,
        #[arg(long, default_value_t = 0)]
        cookie: u64,
    },
    /// Delete a timer.
    #[command(after_help = "Examples:\n  hrcallout --fd 3 timer delete 0xc00000")]
    Delete { id: String },
    /// QNX TimerInfo.
    #[command(after_help = "Examples:\n  hrcallout --fd 3 timer info 0xc00000 --reset")]
    Info {
        id: String,
        /// Clear the overrun count after reading it.
        #[arg(long)]
        reset: bool,
    },
    /// Mach timer_cancel.
    #[command(after_help = "Examples:\n  hrcallout --fd 3 timer cancel 0xc00000 --periodic")]
    Cancel {
        id: String,
        /// Only the current interval of a periodic timer.
        #[arg(long)]
        periodic: bool,
    },
    /// Set this file's Mach queue limit.
    #[command(after_help = "Examples:\n  hrcallout --fd 3 timer qlimit 2")]
    Qlimit { qlimit: u32 },
}

#[derive(Subcommand, Debug)]
enum CalloutCmd {
    /// callout_init / callout_init_mp / callout_init_lk; prints the id.
    #[command(
        after_help = "Examples:\n  hrcallout --fd 3 callout init\n  hrcallout --fd 3 callout init --mp"
    )]
    Init {
        /// MP-safe: no lock around the callback.
        #[arg(long, conflicts_with = "lock")]
        mp: bool,
        /// Run the callback under this lock (callout_init_lk).
        #[arg(long)]
        lock: Option<u64>,
    },
    /// callout_reset ID TIME with the callback's actions.
    #[command(
        after_help = "Examples:\n  hrcallout --fd 3 callout reset 0x800000 10ms\n  hrcallout --fd 3 callout reset 0x800000 3 --ticks --actions reset --repeat 2"
    )]
    Reset {
        id: String,
        #[arg(allow_hyphen_values = true)]
        time: String,
        #[arg(long)]
        ticks: bool,
        /// What the callback does.
        #[arg(long, value_enum, value_delimiter = ',', default_value = "event")]
        actions: Vec<Action>,
        /// Spin/sleep window in µs.
        #[arg(long, default_value_t = 0)]
        us: u32,
        /// Self-resets left for the reset action.
        #[arg(long, default_value_t = 0)]
        repeat: u32,
        #[arg(long, default_value_t = 0)]
        cookie: u64,
    },
    /// callout_stop: prints 1 if a pending run was prevented.
    #[command(after_help = "Examples:\n  hrcallout --fd 3 callout stop 0x800000")]
    Stop { id: String },
    /// callout_stop_async.
    #[command(after_help = "Examples:\n  hrcallout --fd 3 callout stop-async 0x800000")]
    StopAsync { id: String },
    /// callout_stop_sync.
    #[command(after_help = "Examples:\n  hrcallout --fd 3 callout stop-sync 0x800000")]
    StopSync { id: String },
    /// callout_active.
    #[command(after_help = "Examples:\n  hrcallout --fd 3 callout active 0x800000")]
    Active { id: String },
    /// callout_pending.
    #[command(after_help = "Examples:\n  hrcallout --fd 3 callout pending 0x800000")]
    Pending { id: String },
    /// callout_deactivate.
    #[command(after_help = "Examples:\n  hrcallout --fd 3 callout deactivate 0x800000")]
    Deactivate { id: String },
    /// Destroy the callout.
    #[command(after_help = "Examples:\n  hrcallout --fd 3 callout destroy 0x800000")]
    Destroy { id: String },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq)]
enum Action {
    Event,
    Spin,
    Sleep,
    Reset,
    Stop,
    StopSync,
}

#[derive(Subcommand, Debug)]
enum LockCmd {
    /// Create a lock; prints its id.
    #[command(after_help = "Examples:\n  hrcallout --fd 3 lock create spin")]
    Create {
        #[arg(value_enum)]
        kind: LockKind,
    },
    /// Destroy a lock.
    #[command(after_help = "Examples:\n  hrcallout --fd 3 lock destroy 1")]
    Destroy { id: u64 },
    /// Hold a lock for US µs, then optionally stop a callout with it held.
    #[command(after_help = "Examples:\n  hrcallout --fd 3 lock hold 1 500 --stop 0x800000")]
    Hold {
        id: u64,
        us: u32,
        #[arg(long, conflicts_with = "stop_sync")]
        stop: Option<String>,
        #[arg(long)]
        stop_sync: Option<String>,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq)]
enum LockKind {
    Mutex,
    Spin,
}

fn parse_id(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|_| format!("not an id: '{s}'"))
}

fn actions_mask(a: &[Action]) -> u32 {
    a.iter()
        .map(|a| match a {
            Action::Event => sys::HRC_CA_EVENT,
            Action::Spin => sys::HRC_CA_SPIN,
            Action::Sleep => sys::HRC_CA_SLEEP,
            Action::Reset => sys::HRC_CA_RESET,
            Action::Stop => sys::HRC_CA_STOP,
            Action::StopSync => sys::HRC_CA_STOP_SYNC,
        })
        .fold(0, |m, b| m | b)
}

fn time_arg(time: &str, ticks: bool) -> Result<i64, String> {
    if ticks {
        time.parse()
            .map_err(|_| format!("not a tick count: '{time}'"))
    } else {
        parse_duration(time)
    }
}

fn open(fd: Option<i32>) -> std::io::Result<Device> {
    match fd {
        // The caller lends us its fd: wrap it, and give it back unclosed at exit.
        Some(fd) => Ok(Device::from_fd(unsafe_owned(fd))),
        None => Device::open(),
    }
}

fn unsafe_owned(fd: i32) -> OwnedFd {
    // SAFETY: the user named an fd open in this process; `run` leaks it back with
    // `into_raw_fd` instead of closing it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn run(cli: Cli) -> Result<(), String> {
    // Packaging needs no device.
    if let Cmd::Generate { dir, date } = &cli.cmd {
        return generate(dir, date);
    }
    // Nor does reading other files' fdinfo.
    if let Cmd::Top {
        pid,
        once,
        interval,
    } = cli.cmd
    {
        return top::run(pid, once, interval);
    }
    let dev = open(cli.fd).map_err(|e| format!("cannot open {}: {e}", hrcallout::DEVICE))?;
    let r = run_cmd(&dev, cli.cmd);
    if cli.fd.is_some() {
        let _ = dev.into_fd().into_raw_fd();
    }
    r
}

/// An ioctl's error as the user should read it: the call, the errno's name, and what that
/// errno means for that call (docs/errno.md, compiled in).
fn io(what: &str) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| hrcallout::explain(what, &e)
}

/// Writes one generated file.
type WriteFile<'a> = &'a dyn Fn(&str, &[u8]) -> Result<(), String>;

/// The man pages and the completions, from the definitions above.
fn generate(dir: &std::path::Path, date: &str) -> Result<(), String> {
    use clap::CommandFactory;
    use clap_complete::Shell;
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(dir.join(name), bytes)
            .map_err(|e| format!("{}: {e}", dir.join(name).display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut cmd = Cli::command();
    cmd.build();
    // hrcallout.1, and a page per subcommand (hrcallout-timeout.1, hrcallout-timer-create.1..).
    fn pages(
        c: &clap::Command,
        name: &str,
        date: &str,
        write: WriteFile<'_>,
    ) -> Result<(), String> {
        let mut page = Vec::new();
        clap_mangen::Man::new(c.clone().name(name.to_string()))
            .section("1")
            .date(date.to_string())
            .source(format!("hrcallout {}", env!("CARGO_PKG_VERSION")))
            .manual("hrcallout")
            .render(&mut page)
            .map_err(|e| e.to_string())?;
        // clap_mangen leaves blank lines (roff: a paragraph break) around possible-value
        // lists, which man page linters flag; the line breaks beside them do the same job.
        let page = String::from_utf8_lossy(&page)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .fold(String::new(), |mut out, l| {
                if !(l == ".br" && out.ends_with(".br\n")) {
                    out.push_str(l);
                    out.push('\n');
                }
                out
            });
        write(&format!("{name}.1"), page.as_bytes())?;
        for sub in c
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        {
            pages(sub, &format!("{name}-{}", sub.get_name()), date, write)?;
        }
        Ok(())
    }
    pages(&cmd, "hrcallout", date, &write)?;
    for (shell, name) in [
        (Shell::Bash, "hrcallout.bash"),
        (Shell::Zsh, "_hrcallout"),
        (Shell::Fish, "hrcallout.fish"),
    ] {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut cmd.clone(), "hrcallout", &mut out);
        write(name, &out)?;
    }
    Ok(())
}

fn run_cmd(dev: &Device, cmd: Cmd) -> Result<(), String> {
    match cmd {
        Cmd::Info => {
            let i = dev.info().map_err(io("HRC_IOC_INFO"))?;
            println!("abi_version:   {}", i.abi_version);
            println!("hz:            {}", i.hz);
            println!("resolution:    {} ns", i.resolution_ns);
            println!("max_timers:    {} per file", i.max_timers);
            match i.max_user_timers {
                0 => println!("max_user_timers: none for this opener (CAP_SYS_RESOURCE)"),
                n => println!("max_user_timers: {n} slots over this user's files"),
            }
            println!("max_events:    {} per file", i.max_events);
            println!("event_size:    {} bytes", i.event_size);
            println!("qlimit:        {}", i.qlimit);
        }
        Cmd::Check => {
            let c = dev.check().map_err(io("HRC_IOC_CHECK"))?;
            println!(
                "ok={} live={} queued={} free={} slots={}",
                c.ok, c.live, c.queued, c.free, c.slots
            );
            if c.ok != 1 {
                return Err("engine invariants violated".into());
            }
        }
        Cmd::Timeout {
            time,
            ticks,
            cookie,
            wait,
        } => {
            let t = time_arg(&time, ticks)?;
            let id = if ticks {
                dev.timeout_ticks(t, cookie)
            } else {
                dev.timeout_ns(t, cookie)
            }
            .map_err(io("HRC_IOC_TIMEOUT"))?;
            println!("{id:#x}");
            if wait {
                for e in dev.read_events(1).map_err(io("read"))? {
                    println!("{}", describe(&e));
                }
            }
        }
        Cmd::Untimeout { id } => {
            let u = dev
                .untimeout(parse_id(&id)?)
                .map_err(io("HRC_IOC_UNTIMEOUT"))?;
            println!(
                "remaining {} ({} ticks)",
                format_ns(u.remaining_ns),
                u.remaining_ticks
            );
        }
        Cmd::Watch { count, idle, json } => {
            let idle_ms = match idle {
                Some(d) => (parse_duration(&d)? / 1_000_000) as i32,
                None => -1,
            };
            let mut seen = 0;
            while count.is_none_or(|c| seen < c) {
                if !dev.poll_readable(idle_ms).map_err(io("poll"))? {
                    break;
                }
                for e in dev.read_events(64).map_err(io("read"))? {
                    if json {
                        println!("{}", hrcallout::event_json(&e));
                    } else {
                        println!("{}", describe(&e));
                    }
                    seen += 1;
                }
            }
        }
        Cmd::Bench {
            mode,
            kernel_only,
            user_only,
            big,
            virtual_only,
            passes_only,
        } => {
            if virtual_only {
                bench::run_virtual_time(&mode)?
            } else if passes_only {
                bench::run_passes(&mode)?
            } else {
                bench::run(&mode, !user_only, !kernel_only, big)?
            }
        }
        Cmd::Spin { op } => bench::spin(op)?,
        Cmd::Generate { dir, date } => generate(&dir, &date)?,
        Cmd::Top {
            pid,
            once,
            interval,
        } => top::run(pid, once, interval)?,
        Cmd::Callout(c) => callout(dev, c)?,
        Cmd::Timer(t) => timer(dev, t)?,
        Cmd::Settime {
            id,
            value,
            interval,
            abs,
        } => {
            let flags = if abs { sys::HRC_TIMER_ABSTIME } else { 0 };
            let v = if abs {
                value.parse().map_err(|_| format!("not ns: {value}"))?
            } else {
                parse_duration(&value)?
            };
            let old = dev
                .timer_settime(
                    parse_id(&id)?,
                    flags,
                    v as u64,
                    parse_duration(&interval)? as u64,
                )
                .map_err(io("HRC_IOC_TIMER_SETTIME"))?;
            println!(
                "old value {} interval {}",
                format_ns(old.value_ns as i64),
                format_ns(old.interval_ns as i64)
            );
        }
        Cmd::Arm {
            id,
            expire,
            interval,
            abs,
        } => {
            let mut flags = if abs { sys::HRC_MACH_ABSOLUTE } else { 0 };
            let e = if abs {
                expire.parse().map_err(|_| format!("not ns: {expire}"))?
            } else {
                parse_duration(&expire)?
            };
            let i = match interval {
                Some(i) => {
                    flags |= sys::HRC_MACH_PERIODIC;
                    parse_duration(&i)?
                }
                None => 0,
            };
            dev.timer_arm(parse_id(&id)?, e, i, flags)
                .map_err(io("HRC_IOC_TIMER_ARM"))?;
        }
        Cmd::Virtual { script, json } => {
            let text = if script == "-" {
                std::io::read_to_string(std::io::stdin()).map_err(|e| format!("stdin: {e}"))?
            } else {
                std::fs::read_to_string(&script).map_err(|e| format!("{script}: {e}"))?
            };
            script::run(dev, &text, json)?;
        }
        Cmd::Settimer { id, sec, usec } => {
            let t = dev
                .settimer(id, sec, usec)
                .map_err(io("HRC_IOC_SETTIMER"))?;
            println!("{t:#x}");
        }
        Cmd::Lock(l) => match l {
            LockCmd::Create { kind } => {
                let k = if kind == LockKind::Mutex {
                    sys::HRC_LOCK_MUTEX
                } else {
                    sys::HRC_LOCK_SPIN
                };
                println!("{}", dev.lock_create(k).map_err(io("HRC_IOC_LOCK_CREATE"))?);
            }
            LockCmd::Destroy { id } => {
                dev.lock_destroy(id).map_err(io("HRC_IOC_LOCK_DESTROY"))?;
            }
            LockCmd::Hold {
                id,
                us,
                stop,
                stop_sync,
            } => {
                let (op, c) = match (stop, stop_sync) {
                    (Some(c), _) => (sys::HRC_HOLD_STOP, parse_id(&c)?),
                    (_, Some(c)) => (sys::HRC_HOLD_STOP_SYNC, parse_id(&c)?),
                    _ => (sys::HRC_HOLD_NONE, 0),
                };
                println!(
                    "{}",
                    dev.lock_hold(id, us, op, c)
                        .map_err(io("HRC_IOC_LOCK_HOLD"))?
                );
            }
        },
    }
    Ok(())
}

fn timer(dev: &Device, t: TimerCmd) -> Result<(), String> {
    match t {
        TimerCmd::Create {
            realtime,
            boottime,
            tai,
            mach,
            pulse,
            cookie,
        } => {
            let clock = match (realtime, boottime, tai) {
                (true, ..) => hrcallout::CLOCK_REALTIME,
                (_, true, _) => hrcallout::CLOCK_BOOTTIME,
                (.., true) => hrcallout::CLOCK_TAI,
                _ => hrcallout::CLOCK_MONOTONIC,
            };
            let notify = if mach {
                sys::HRC_NOTIFY_MACH
            } else if pulse {
                sys::HRC_NOTIFY_PULSE
            } else {
                sys::HRC_NOTIFY_SI_TIMER
            };
            println!(
                "{:#x}",
                dev.timer_create(clock, notify, cookie)
                    .map_err(io("HRC_IOC_TIMER_CREATE"))?
            );
        }
        TimerCmd::Delete { id } => {
            dev.timer_delete(parse_id(&id)?)
                .map_err(io("HRC_IOC_TIMER_DELETE"))?;
        }
        TimerCmd::Info { id, reset } => {
            let f = if reset {
                sys::HRC_TIMER_RESET_OVERRUNS
            } else {
                0
            };
            let i = dev
                .timer_info(parse_id(&id)?, f)
                .map_err(io("HRC_IOC_TIMER_INFO"))?;
            println!(
                "flags={:#x} overruns={} value={} interval={} clock={} notify={}",
                i.info_flags,
                i.overruns,
                format_ns(i.value.value_ns as i64),
                format_ns(i.value.interval_ns as i64),
                i.clock,
                i.notify
            );
        }
        TimerCmd::Cancel { id, periodic } => {
            let f = if periodic { sys::HRC_MACH_PERIODIC } else { 0 };
            dev.timer_cancel(parse_id(&id)?, f)
                .map_err(io("HRC_IOC_TIMER_CANCEL"))?;
        }
        TimerCmd::Qlimit { qlimit } => {
            dev.set_qlimit(qlimit).map_err(io("HRC_IOC_SET_QLIMIT"))?;
        }
    }
    Ok(())
}

fn callout(dev: &Device, c: CalloutCmd) -> Result<(), String> {
    let call = |name: &str, r: std::io::Result<i32>| -> Result<(), String> {
        println!("{}", r.map_err(io(name))?);
        Ok(())
    };
    match c {
        CalloutCmd::Init { mp, lock } => {
            let (mode, l) = match (mp, lock) {
                (_, Some(l)) => (sys::HRC_CALLOUT_INIT_LK, l),
                (true, None) => (sys::HRC_CALLOUT_INIT_MP, 0),
                (false, None) => (sys::HRC_CALLOUT_INIT, 0),
            };
            println!(
                "{:#x}",
                dev.callout_init(mode, l)
                    .map_err(io("HRC_IOC_CALLOUT_INIT"))?
            );
        }
        CalloutCmd::Reset {
            id,
            time,
            ticks,
            actions,
            us,
            repeat,
            cookie,
        } => {
            let r = sys::hrc_callout_reset {
                id: parse_id(&id)?,
                time: time_arg(&time, ticks)?,
                flags: if ticks { 0 } else { sys::HRC_CALLOUT_NS },
                actions: actions_mask(&actions),
                us,
                repeat,
                cookie,
            };
            dev.callout_reset(&r).map_err(io("HRC_IOC_CALLOUT_RESET"))?;
        }
        CalloutCmd::Stop { id } => call("callout_stop", dev.callout_stop(parse_id(&id)?))?,
        CalloutCmd::StopAsync { id } => {
            call("callout_stop_async", dev.callout_stop_async(parse_id(&id)?))?
        }
        CalloutCmd::StopSync { id } => {
            call("callout_stop_sync", dev.callout_stop_sync(parse_id(&id)?))?
        }
        CalloutCmd::Active { id } => call("callout_active", dev.callout_active(parse_id(&id)?))?,
        CalloutCmd::Pending { id } => call("callout_pending", dev.callout_pending(parse_id(&id)?))?,
        CalloutCmd::Deactivate { id } => {
            call("callout_deactivate", dev.callout_deactivate(parse_id(&id)?))?
        }
        CalloutCmd::Destroy { id } => call("destroy", dev.callout_destroy(parse_id(&id)?))?,
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hrcallout: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command a user can see (`hrcallout X --help`) shows examples; every example
    /// names a real command.
    #[test]
    fn every_visible_subcommand_has_examples() {
        use clap::CommandFactory;
        fn walk(c: &clap::Command, path: &str, names: &[String]) {
            for sub in c
                .get_subcommands()
                .filter(|s| !s.is_hide_set() && s.get_name() != "help")
            {
                let p = format!("{path} {}", sub.get_name());
                let help = sub
                    .get_after_help()
                    .map(|h| h.to_string())
                    .unwrap_or_default();
                assert!(help.starts_with("Examples:"), "`{p}` has no examples");
                for ex in help.lines().skip(1).filter(|l| l.contains("hrcallout ")) {
                    assert!(
                        names.iter().any(|n| ex.contains(&format!("hrcallout{n}"))
                            || ex.contains(&format!("hrcallout --fd 3{n}"))),
                        "`{p}` example '{ex}' names no command"
                    );
                }
                walk(sub, &p, names);
            }
        }
        fn names(c: &clap::Command, path: &str, out: &mut Vec<String>) {
            for sub in c.get_subcommands() {
                let p = format!("{path} {}", sub.get_name());
                out.push(p.clone());
                names(sub, &p, out);
            }
        }
        let cmd = Cli::command();
        let mut all = Vec::new();
        names(&cmd, "", &mut all);
        walk(&cmd, "", &all);
    }

    #[test]
    fn parses_timeout_and_shared_fd() {
        let c = Cli::try_parse_from([
            "hrcallout",
            "--fd",
            "3",
            "timeout",
            "250ms",
            "--cookie",
            "7",
        ])
        .unwrap();
        assert_eq!(c.fd, Some(3));
        match c.cmd {
            Cmd::Timeout {
                time,
                ticks,
                cookie,
                wait,
            } => {
                assert_eq!(parse_duration(&time), Ok(250_000_000));
                assert!(!ticks && !wait);
                assert_eq!(cookie, 7);
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn parses_callout_actions_list() {
        let c = Cli::try_parse_from([
            "hrcallout",
            "callout",
            "reset",
            "0x10",
            "5ms",
            "--actions",
            "event,spin",
            "--us",
            "100",
        ])
        .unwrap();
        match c.cmd {
            Cmd::Callout(CalloutCmd::Reset {
                id, actions, us, ..
            }) => {
                assert_eq!(parse_id(&id), Ok(0x10));
                assert_eq!(actions_mask(&actions), sys::HRC_CA_EVENT | sys::HRC_CA_SPIN);
                assert_eq!(us, 100);
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn parses_interval_commands() {
        let c =
            Cli::try_parse_from(["hrcallout", "arm", "0x5", "10ms", "--interval", "1ms"]).unwrap();
        assert!(matches!(
            c.cmd,
            Cmd::Arm {
                interval: Some(_),
                abs: false,
                ..
            }
        ));
        let c = Cli::try_parse_from(["hrcallout", "settimer", "-3", "0", "20000"]).unwrap();
        assert!(matches!(
            c.cmd,
            Cmd::Settimer {
                id: -3,
                sec: 0,
                usec: 20000
            }
        ));
        let c =
            Cli::try_parse_from(["hrcallout", "timer", "create", "--realtime", "--mach"]).unwrap();
        assert!(matches!(
            c.cmd,
            Cmd::Timer(TimerCmd::Create {
                realtime: true,
                mach: true,
                ..
            })
        ));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(Cli::try_parse_from(["hrcallout", "frobnicate"]).is_err());
        assert!(
            Cli::try_parse_from(["hrcallout", "callout", "init", "--mp", "--lock", "1"]).is_err()
        );
        assert!(parse_id("zz").is_err());
        assert!(time_arg("12x", true).is_err());
    }
}
