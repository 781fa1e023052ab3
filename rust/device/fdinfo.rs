// SPDX-License-Identifier: GPL-2.0

//! `/proc/<pid>/fdinfo/<fd>` of a `/dev/hrcallout` file: what the file holds, for a user who
//! wants to see a process's timers without a debugger (`hrcallout top` reads it).
//!
//! One `key:<TAB>value` line each, as the kernel's other fdinfo files (timerfd's `clockid:`,
//! `ticks:`) are written; the keys are an ABI of their own and only grow:
//!
//! ```text
//! hrc-clock: real|virtual mono=<ns> real=<ns>
//! hrc-timeouts: <live> armed=<n>     (STREAMS timeouts; live counts unread fired ones)
//! hrc-callouts: <live> armed=<n>
//! hrc-interval-timers: <live> armed=<n>     (QNX and Mach timers)
//! hrc-mtcp-timers: <live> armed=<n>
//! hrc-records-queued: <n>
//! hrc-qlimit: <n>
//! hrc-next-monotonic: <ns>|-
//! hrc-next-realtime: <ns>|-
//! hrc-next-boottime: <ns>|-
//! hrc-next-tai: <ns>|-
//! hrc-slots: <n>
//! hrc-longest-pass: <ns> expiries=<n>     (the longest pass its hrtimers ran, by its clock)
//! hrc-user-slots: <n> limit=<n>|unlimited   (slots its opener's files hold together)
//! hrc-check: ok|FAILED live=<n> queued=<n>|skipped
//! ```
//!
//! The counts come from [`Engine::census`](crate::engine::Engine::census), a walk that takes
//! the engine lock a chunk at a time. The full consistency check (`HRC_IOC_CHECK`) walks every
//! list under one hold of the lock: it runs here only for a table of up to [`CHECK_SLOTS`]
//! slots, so that a reader holds off the file's expiries for a bounded walk, and is `skipped`
//! above (`HRC_IOC_CHECK` runs it on any table, for the file's owner).

use super::Context;
use crate::engine::{Census, Clock, TAGS};
use crate::{callout, itimer, mtcp, streams};
use kernel::{seq_file::SeqFile, seq_print};

/// The largest slot table whose consistency check fdinfo runs.
const CHECK_SLOTS: u32 = 65_536;

/// Writes the file's fdinfo lines to `m`.
pub(super) fn show(ctx: &Context, m: &SeqFile) {
    let c = ctx.engine.census();
    let (mono, real) = (c.now(Clock::Monotonic), c.now(Clock::Realtime));
    let kind = if c.virtual_time { "virtual" } else { "real" };
    seq_print!(m, "hrc-clock:\t{kind} mono={mono} real={real}\n");
    for (name, tag) in [
        ("timeouts", streams::TAG),
        ("callouts", callout::TAG),
        ("interval-timers", itimer::TAG),
        ("mtcp-timers", mtcp::TAG),
    ] {
        let t = usize::from(tag).min(TAGS - 1);
        seq_print!(m, "hrc-{name}:\t{} armed={}\n", c.live[t], c.armed[t]);
    }
    seq_print!(m, "hrc-records-queued:\t{}\n", c.queued);
    seq_print!(m, "hrc-qlimit:\t{}\n", c.qlimit);
    next(m, "monotonic", &c, Clock::Monotonic);
    next(m, "realtime", &c, Clock::Realtime);
    next(m, "boottime", &c, Clock::Boottime);
    next(m, "tai", &c, Clock::Tai);
    seq_print!(m, "hrc-slots:\t{}\n", c.slots);
    let p = c.longest_pass;
    seq_print!(m, "hrc-longest-pass:\t{} expiries={}\n", p.ns, p.expiries);
    match ctx.engine.quota() {
        Some((used, limit)) => seq_print!(m, "hrc-user-slots:\t{used} limit={limit}\n"),
        None => seq_print!(m, "hrc-user-slots:\t{} limit=unlimited\n", c.slots),
    }
    if c.slots > CHECK_SLOTS {
        seq_print!(m, "hrc-check:\tskipped\n");
    } else {
        let k = ctx.engine.check();
        let ok = if k.ok { "ok" } else { "FAILED" };
        seq_print!(m, "hrc-check:\t{ok} live={} queued={}\n", k.live, k.queued);
    }
}

fn next(m: &SeqFile, name: &str, c: &Census, clock: Clock) {
    match c.next(clock) {
        Some(ns) => seq_print!(m, "hrc-next-{name}:\t{ns}\n"),
        None => seq_print!(m, "hrc-next-{name}:\t-\n"),
    }
}
