//! `hrcallout virtual SCRIPT`: a command script run on a virtual file, for reproducing a bug
//! report exactly (docs/semantics.md, "Virtual time"). The same script prints the same lines
//! on every run: virtual times, ids numbered by the file from 1.

use hrcallout::{describe, event_json, format_ns, parse_duration, sys, Device, CLOCK_MONOTONIC};

/// What a script line may say (`#` starts a comment).
pub const SYNTAX: &str = "\
timeout DELAY [COOKIE]              STREAMS timeout()
untimeout ID                        STREAMS untimeout()
callout DELAY [COOKIE]              an MP callout, reset to DELAY with an event
stop ID                             callout_stop()
timer DELAY [INTERVAL] [COOKIE]     a QNX SI_TIMER timer, TimerSettime
mach DELAY [INTERVAL] [COOKIE]      a Mach timer, timer_arm (periodic with INTERVAL)
delete ID                           delete a timer
settimer ID SEC USEC                mTCP mtcp_settimer()
advance DELTA                       move virtual time on, then print the records
realtime NS                         step the virtual CLOCK_REALTIME to NS";

/// Runs `script` on `dev` (a fresh file, made virtual at 0 on both clocks); prints what each
/// line made and every record, with virtual times.
pub fn run(dev: &Device, script: &str, json: bool) -> Result<(), String> {
    dev.clock_virtual(Some((0, 0)))
        .map_err(crate::io("HRC_IOC_CLOCK_VIRTUAL"))?;
    dev.set_nonblocking(true).map_err(|e| e.to_string())?;
    for (n, line) in script.lines().enumerate() {
        let words: Vec<&str> = line
            .split('#')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        if words.is_empty() {
            continue;
        }
        step(dev, &words, json).map_err(|e| format!("line {}: {line}: {e}", n + 1))?;
    }
    Ok(())
}

/// Argument `i` of `w` as a duration (`default` if absent).
fn dur(w: &[&str], i: usize, default: Option<i64>) -> Result<i64, String> {
    match w.get(i) {
        Some(s) => parse_duration(s),
        None => default.ok_or_else(|| format!("argument {i} missing")),
    }
}

/// Argument `i` of `w` as an integer (`default` if absent).
fn int<T: std::str::FromStr>(w: &[&str], i: usize, default: Option<T>) -> Result<T, String> {
    match w.get(i) {
        Some(s) => crate::parse_id(s)
            .ok()
            .and_then(|v| v.to_string().parse().ok())
            .or_else(|| s.parse().ok())
            .ok_or_else(|| format!("not a number: '{s}'")),
        None => default.ok_or_else(|| format!("argument {i} missing")),
    }
}

fn step(dev: &Device, w: &[&str], json: bool) -> Result<(), String> {
    let e = |what: &'static str| crate::io(what);
    match w[0] {
        "timeout" => {
            let id = dev
                .timeout_ns(dur(w, 1, None)?, int(w, 2, Some(0))?)
                .map_err(e("HRC_IOC_TIMEOUT"))?;
            println!("timeout id={id:#x}");
        }
        "untimeout" => {
            let u = dev
                .untimeout(int(w, 1, None)?)
                .map_err(e("HRC_IOC_UNTIMEOUT"))?;
            println!("untimeout remaining={}", format_ns(u.remaining_ns));
        }
        "callout" => {
            let id = dev
                .callout_init(sys::HRC_CALLOUT_INIT_MP, 0)
                .map_err(e("HRC_IOC_CALLOUT_INIT"))?;
            let r = sys::hrc_callout_reset {
                id,
                time: dur(w, 1, None)?,
                flags: sys::HRC_CALLOUT_NS,
                actions: sys::HRC_CA_EVENT,
                cookie: int(w, 2, Some(0))?,
                ..Default::default()
            };
            dev.callout_reset(&r).map_err(e("HRC_IOC_CALLOUT_RESET"))?;
            println!("callout id={id:#x}");
        }
        "stop" => {
            let r = dev
                .callout_stop(int(w, 1, None)?)
                .map_err(e("HRC_IOC_CALLOUT_STOP"))?;
            println!("stop {r}");
        }
        "timer" | "mach" => {
            let (value, interval, cookie) =
                (dur(w, 1, None)?, dur(w, 2, Some(0))?, int(w, 3, Some(0))?);
            let notify = if w[0] == "mach" {
                sys::HRC_NOTIFY_MACH
            } else {
                sys::HRC_NOTIFY_SI_TIMER
            };
            let id = dev
                .timer_create(CLOCK_MONOTONIC, notify, cookie)
                .map_err(e("HRC_IOC_TIMER_CREATE"))?;
            if w[0] == "mach" {
                let flags = if interval > 0 {
                    sys::HRC_MACH_PERIODIC
                } else {
                    0
                };
                dev.timer_arm(id, value, interval, flags)
                    .map_err(e("HRC_IOC_TIMER_ARM"))?;
            } else {
                dev.timer_settime(id, 0, value as u64, interval as u64)
                    .map_err(e("HRC_IOC_TIMER_SETTIME"))?;
            }
            println!("{} id={id:#x}", w[0]);
        }
        "delete" => {
            dev.timer_delete(int(w, 1, None)?)
                .map_err(e("HRC_IOC_TIMER_DELETE"))?;
            println!("delete");
        }
        "settimer" => {
            let id = dev
                .settimer(int(w, 1, None)?, int(w, 2, None)?, int(w, 3, None)?)
                .map_err(e("HRC_IOC_SETTIMER"))?;
            println!("settimer id={id:#x}");
        }
        "advance" => {
            let a = dev
                .clock_advance(dur(w, 1, None)?, 0)
                .map_err(e("HRC_IOC_CLOCK_ADVANCE"))?;
            println!(
                "advance now={} passes={}{}",
                format_ns(a.mono_ns),
                a.passes,
                if a.folded == 1 { " folded" } else { "" }
            );
            records(dev, json)?;
        }
        "realtime" => {
            let s = dev
                .clock_set_realtime(int(w, 1, None)?)
                .map_err(e("HRC_IOC_CLOCK_SET_REALTIME"))?;
            println!("realtime step={}", format_ns(s));
            records(dev, json)?;
        }
        other => {
            return Err(format!(
                "unknown command '{other}'; a script says:\n{SYNTAX}"
            ))
        }
    }
    Ok(())
}

/// Prints every queued record.
fn records(dev: &Device, json: bool) -> Result<(), String> {
    for ev in dev.read_queued().map_err(|e| format!("read: {e}"))? {
        if json {
            println!("{}", event_json(&ev));
        } else {
            println!("  at {} {}", format_ns(ev.fire_ns), describe(&ev));
        }
    }
    Ok(())
}
