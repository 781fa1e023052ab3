//! `hrc-tests`: integration tests against `/dev/hrcallout`, run inside the QEMU guest.
//!
//! Prints `ok N name` / `not ok N name: why` per case and a final `hrc-tests: N passed, M
//! failed`; exits 1 if any case failed. `hrc-tests NAME...` runs the cases whose names contain
//! one of the arguments.
//!
//! The cases a module lists in its `ON_VIRTUAL_TIME` run twice: as themselves, and as
//! `NAME@virtual` with every file they open on virtual time (`common::on_virtual_time`), where
//! waiting moves a simulated clock and every timing bound is exact.
//!
//! Timing bounds hold under QEMU TCG: "not early" bounds are exact (hrtimers never fire
//! early), "late" bounds are generous (hundreds of ms) because the emulator can stall.

mod callout;
mod common;
mod fdinfo;
mod itimer;
mod percpu;
mod streams;
mod user;
mod virtual_time;

use std::panic;
use std::time::Instant;

/// A test case: Err(reason) or a panic fails it.
pub type Case = (&'static str, CaseFn);
/// The body of a [`Case`].
pub type CaseFn = fn() -> Result<(), String>;

/// The cases that need root: they step the host's clocks, enter a time namespace, switch
/// users themselves, make cgroups or take CPUs offline. `--as-user` leaves them out (their
/// `@virtual` runs step only virtual clocks, and stay).
const NEEDS_ROOT: &[&str] = &[
    "itimer_relative_realtime_ignores_clock_steps",
    "itimer_realtime_follows_clock_settime",
    "itimer_clock_sets_are_told_and_cancel_on_set_timers_cancelled",
    "itimer_boottime_and_tai",
    "itimer_time_namespace_absolute_times",
    "ids_of_another_users_file_are_unknown",
    "a_users_files_share_one_quota",
    "cpu_hotplug_loses_and_repeats_nothing",
    "a_full_memory_cgroup_gives_enomem",
];

fn main() {
    let mut filters: Vec<String> = std::env::args().skip(1).collect();
    let as_user = user::take_as_user(&mut filters).unwrap_or_else(|e| {
        println!("Bail out! {e}");
        std::process::exit(1);
    });
    if let Some(uid) = as_user {
        if let Err(e) = user::become_user(uid) {
            println!("Bail out! {e}");
            std::process::exit(1);
        }
    }
    let cases: Vec<Case> = [
        common::CASES,
        fdinfo::CASES,
        streams::CASES,
        callout::CASES,
        itimer::CASES,
        percpu::CASES,
        virtual_time::CASES,
    ]
    .concat();
    let on_virtual_time: Vec<&str> = [
        fdinfo::ON_VIRTUAL_TIME,
        streams::ON_VIRTUAL_TIME,
        callout::ON_VIRTUAL_TIME,
        itimer::ON_VIRTUAL_TIME,
    ]
    .concat();
    if let Some(n) = NEEDS_ROOT
        .iter()
        .find(|n| !cases.iter().any(|c| c.0 == **n))
    {
        println!("Bail out! NEEDS_ROOT names no case {n}");
        std::process::exit(1);
    }
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let mut runs: Vec<(String, CaseFn, bool)> = Vec::new();
    for &(name, f) in &cases {
        if root || !NEEDS_ROOT.contains(&name) {
            runs.push((name.to_string(), f, false));
        } else {
            println!("# {name}: left out, it needs root");
        }
        if on_virtual_time.contains(&name) {
            runs.push((format!("{name}@virtual"), f, true));
        }
    }
    if let Some(n) = on_virtual_time
        .iter()
        .find(|n| !cases.iter().any(|c| c.0 == **n))
    {
        println!("Bail out! ON_VIRTUAL_TIME names no case {n}");
        std::process::exit(1);
    }
    let selected: Vec<_> = runs
        .iter()
        .filter(|(n, ..)| filters.is_empty() || filters.iter().any(|f| n.contains(f.as_str())))
        .collect();
    println!("TAP version 13\n1..{}", selected.len());
    let (mut pass, mut fail) = (0, 0);
    for (i, (name, f, virtual_time)) in selected.iter().enumerate() {
        let t = Instant::now();
        let r = panic::catch_unwind(|| {
            if *virtual_time {
                common::on_virtual_time(*f)
            } else {
                f()
            }
        })
        .unwrap_or_else(|p| {
            Err(p
                .downcast_ref::<String>()
                .cloned()
                .or(p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default())
        });
        let r = r.and_then(|()| common::engine_consistent());
        match r {
            Ok(()) => {
                pass += 1;
                println!(
                    "ok {} {name} # {:.0} ms",
                    i + 1,
                    t.elapsed().as_secs_f64() * 1e3
                );
            }
            Err(e) => {
                fail += 1;
                println!("not ok {} {name}: {e}", i + 1);
            }
        }
    }
    println!("hrc-tests: {pass} passed, {fail} failed");
    std::process::exit(i32::from(fail > 0));
}
