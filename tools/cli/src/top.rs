//! `hrcallout top`: what the `/dev/hrcallout` files of a process (or of every process) hold,
//! from `/proc/<pid>/fdinfo`, refreshed every second.

use hrcallout::{format_ns, FdInfo};
use std::fs;

/// One open `/dev/hrcallout` file of a process.
struct Row {
    pid: u32,
    fd: i32,
    info: FdInfo,
}

/// The fds of `pid` that are `/dev/hrcallout`, with their fdinfo (a file closed meanwhile, or
/// a process that is gone, is skipped).
fn files_of(pid: u32, rows: &mut Vec<Row>) {
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return;
    };
    for e in dir.flatten() {
        let is_ours = fs::read_link(e.path()).is_ok_and(|t| t.as_os_str() == hrcallout::DEVICE);
        let fd = e.file_name().to_str().and_then(|s| s.parse().ok());
        if let (true, Some(fd)) = (is_ours, fd) {
            if let Ok(info) = FdInfo::read(&pid.to_string(), fd) {
                rows.push(Row { pid, fd, info });
            }
        }
    }
}

/// Every process's files, or `pid`'s.
fn rows(pid: Option<u32>) -> Vec<Row> {
    let mut rows = Vec::new();
    match pid {
        Some(p) => files_of(p, &mut rows),
        None => {
            let mut pids: Vec<u32> = fs::read_dir("/proc")
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect();
            pids.sort_unstable();
            for p in pids {
                files_of(p, &mut rows);
            }
        }
    }
    rows
}

fn pair(p: (u32, u32)) -> String {
    format!("{}/{}", p.0, p.1)
}

/// When the next expiry of a file is, from its own now (`-`: none armed).
fn next(i: &FdInfo) -> String {
    let in_ns = |at: Option<i64>, now: i64| at.map(|t| t.saturating_sub(now));
    match [
        in_ns(i.next_monotonic, i.mono_ns),
        in_ns(i.next_realtime, i.real_ns),
    ]
    .into_iter()
    .flatten()
    .min()
    {
        Some(ns) if ns <= 0 => "due".into(),
        Some(ns) => format!("in {}", format_ns(ns)),
        None => "-".into(),
    }
}

fn print(rows: &[Row]) {
    println!(
        "{:>7} {:>4} {:<7} {:>11} {:>11} {:>11} {:>9} {:>7} {:>6} {:>9} {:<14} check",
        "PID",
        "FD",
        "CLOCK",
        "TIMEOUTS",
        "CALLOUTS",
        "ITIMERS",
        "MTCP",
        "QUEUED",
        "QLIMIT",
        "SLOTS",
        "NEXT"
    );
    for r in rows {
        let i = &r.info;
        println!(
            "{:>7} {:>4} {:<7} {:>11} {:>11} {:>11} {:>9} {:>7} {:>6} {:>9} {:<14} {}",
            r.pid,
            r.fd,
            if i.virtual_time { "virtual" } else { "real" },
            pair(i.timeouts),
            pair(i.callouts),
            pair(i.interval_timers),
            pair(i.mtcp_timers),
            i.records_queued,
            i.qlimit,
            i.slots,
            next(i),
            i.check
        );
    }
    println!("{} file(s); counts are live/armed", rows.len());
}

/// Prints the table once, or every `interval_s` seconds until killed.
pub fn run(pid: Option<u32>, once: bool, interval_s: u64) -> Result<(), String> {
    if let Some(p) = pid {
        if fs::metadata(format!("/proc/{p}")).is_err() {
            return Err(format!("no process {p}"));
        }
    }
    loop {
        let rows = rows(pid);
        if !once {
            // Home and clear, as top(1) redraws.
            print!("\x1b[H\x1b[2J");
        }
        print(&rows);
        if once {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_secs(interval_s.max(1)));
    }
}
