//! `/proc/<pid>/fdinfo` of a `/dev/hrcallout` file (issue 23 point 5).

use crate::common::*;
use crate::Case;
use hrcallout::{sys, CLOCK_REALTIME};

/// A file holding two far timeouts, one fired and unread, an armed callout, an idle one, an
/// absolute REALTIME QNX timer and an mTCP timer says so, with its earliest expiry per clock,
/// a queue limit and a passing check; nothing is counted twice and nothing a cancel removed.
fn fdinfo_shows_what_the_file_holds() -> Result<(), String> {
    let d = open()?;
    let err = |e: std::io::Error| e.to_string();
    let empty = d.fdinfo().map_err(|e| format!("fdinfo: {e}"))?;
    ensure!(
        empty.timeouts == (0, 0) && empty.records_queued == 0 && empty.next_monotonic.is_none(),
        "a new file: {empty:?}"
    );
    ensure!(empty.virtual_time == is_virtual(), "clock: {empty:?}");
    d.timeout_ns(60_000 * MS, 1).map_err(err)?;
    d.timeout_ns(70_000 * MS, 2).map_err(err)?;
    let gone = d.timeout_ns(80_000 * MS, 3).map_err(err)?;
    d.untimeout(gone).map_err(err)?;
    d.timeout_ns(0, 4).map_err(err)?;
    ensure!(readable(&d, 2000)?, "the due timeout gave no record");
    let c = d.callout_init(sys::HRC_CALLOUT_INIT_MP, 0).map_err(err)?;
    let t0 = now();
    d.callout_reset(&sys::hrc_callout_reset {
        id: c,
        time: 50_000 * MS,
        flags: sys::HRC_CALLOUT_NS,
        actions: sys::HRC_CA_EVENT,
        ..Default::default()
    })
    .map_err(err)?;
    d.callout_init(sys::HRC_CALLOUT_INIT_MP, 0).map_err(err)?;
    let q = d
        .timer_create(CLOCK_REALTIME, sys::HRC_NOTIFY_SI_TIMER, 0)
        .map_err(err)?;
    let at = now_on(CLOCK_REALTIME) + 100_000 * MS;
    d.timer_settime(q, sys::HRC_TIMER_ABSTIME, at as u64, 0)
        .map_err(err)?;
    d.settimer(9, 3600, 0).map_err(err)?;
    let t1 = now();
    let i = d.fdinfo().map_err(|e| format!("fdinfo: {e}"))?;
    ensure!(i.timeouts == (3, 2), "timeouts (live, armed): {i:?}");
    ensure!(i.callouts == (2, 1), "callouts: {i:?}");
    ensure!(i.interval_timers == (1, 1), "interval timers: {i:?}");
    ensure!(i.mtcp_timers == (1, 1), "mTCP timers: {i:?}");
    ensure!(i.records_queued == 1, "records queued: {i:?}");
    let info = d.info().map_err(err)?;
    ensure!(
        i.qlimit == info.qlimit,
        "qlimit {} vs INFO's {}",
        i.qlimit,
        info.qlimit
    );
    // The earliest monotonic expiry is the callout's, 50 s after it was reset.
    let next = i.next_monotonic.ok_or("no monotonic expiry")?;
    ensure!(
        next >= t0 + 50_000 * MS && next <= t1 + 50_000 * MS,
        "next monotonic {next} not in [t0 + 50 s, t1 + 50 s]"
    );
    ensure!(
        !is_virtual() || next == t0 + 50_000 * MS,
        "virtual time: next monotonic {next}, not exactly t0 + 50 s"
    );
    ensure!(
        i.next_realtime == Some(at),
        "next realtime {:?}, armed for {at}",
        i.next_realtime
    );
    ensure!(i.check.starts_with("ok "), "check: {}", i.check);
    ensure!(
        !is_virtual() || (i.mono_ns == t1 && i.real_ns == now_on(CLOCK_REALTIME)),
        "virtual clock {} / {}, the world's {t1} / {}",
        i.mono_ns,
        i.real_ns,
        now_on(CLOCK_REALTIME)
    );
    // Reading the record takes it off the queue and frees the fired timeout.
    d.read_queued().map_err(err)?;
    let after = d.fdinfo().map_err(err)?;
    ensure!(
        after.timeouts == (2, 2) && after.records_queued == 0,
        "after the read: {after:?}"
    );
    Ok(())
}

pub const ON_VIRTUAL_TIME: &[&str] = &["fdinfo_shows_what_the_file_holds"];

pub const CASES: &[Case] = &[(
    "fdinfo_shows_what_the_file_holds",
    fdinfo_shows_what_the_file_holds,
)];
