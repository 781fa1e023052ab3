// SPDX-License-Identifier: GPL-2.0

//! `hrcallout_percpu`: the per-CPU kernel engines on real hrtimers — where callbacks run, that
//! they run in parallel but never twice at once, and CPU hotplug. Cases that need a second CPU
//! pass vacuously on one.

use super::*;
use crate::engine::{cpu_count, cpu_online, current_cpu};
use crate::kernel_api::{dtimeout, timeout, untimeout, Callout, KernelEngine, TimeoutId};
use core::ffi::c_void;
use kernel::time::{delay::fsleep, Delta};

/// Runs `f` in process context on `cpu` (a kworker bound there) and waits for it.
fn on_cpu(cpu: u32, f: &dyn Fn()) -> bool {
    /// # Safety
    ///
    /// `p` points at a live `&dyn Fn()`.
    unsafe extern "C" fn call(p: *mut c_void) -> i32 {
        // SAFETY: `p` is the `&&dyn Fn()` below, alive until `smp_call_on_cpu` returns.
        let f = unsafe { &*p.cast::<&dyn Fn()>() };
        f();
        0
    }
    let mut f = f;
    // SAFETY: `call` only uses `p` while `smp_call_on_cpu` waits for it.
    unsafe {
        kernel::bindings::smp_call_on_cpu(
            cpu,
            Some(call),
            core::ptr::from_mut(&mut f).cast(),
            false,
        ) == 0
    }
}

/// The two CPUs the cases use, if there are two online.
fn two_cpus() -> Option<(u32, u32)> {
    let mut on = (0..cpu_count()).filter(|&c| cpu_online(c));
    Some((on.next()?, on.next()?))
}

const NONE: u32 = u32::MAX;

#[kunit_tests(hrcallout_percpu)]
mod percpu_engines {
    use super::*;

    static RAN_ON: [Atomic<u32>; 4] = [const { Atomic::new(NONE) }; 4];
    fn note_cpu(i: usize) {
        RAN_ON[i].store(current_cpu(), Relaxed);
    }
    fn reset_notes() {
        RAN_ON.iter().for_each(|a| a.store(NONE, Relaxed));
    }

    /// The raw id of a typed timeout, or 0.
    fn raw(id: Option<TimeoutId<Numbered>>) -> u64 {
        id.map_or(0, TimeoutId::raw)
    }

    #[test]
    fn timeout_runs_on_the_calling_cpu() -> Result {
        let Some((a, b)) = two_cpus() else {
            return Ok(());
        };
        reset_notes();
        for (i, cpu) in [a, b].into_iter().enumerate() {
            let id = Atomic::new(0u64);
            let target = Numbered::new(note_cpu, i)?;
            assert!(on_cpu(cpu, &|| id.store(raw(timeout(target.clone(), 1)), Relaxed)));
            let id = id.load(Relaxed);
            assert!(id != 0);
            // The id names its engine.
            assert_eq!(KernelEngine::cpu_of(id), cpu);
        }
        assert!(wait_for(
            || RAN_ON[0].load(Relaxed) != NONE && RAN_ON[1].load(Relaxed) != NONE,
            5000
        ));
        assert_eq!(RAN_ON[0].load(Relaxed), a);
        assert_eq!(RAN_ON[1].load(Relaxed), b);
        Ok(())
    }

    #[test]
    fn dtimeout_runs_on_the_named_cpu_and_refuses_others() -> Result {
        reset_notes();
        let cpus = || (0..cpu_count().min(4)).filter(|&c| cpu_online(c));
        // Armed from this CPU for every CPU: the remote ones start their hrtimer by IPI.
        for c in cpus() {
            assert!(dtimeout(Numbered::new(note_cpu, c as usize)?, 1, c).is_some());
        }
        assert!(wait_for(
            || cpus().all(|c| RAN_ON[c as usize].load(Relaxed) != NONE),
            5000
        ));
        for c in cpus() {
            assert_eq!(RAN_ON[c as usize].load(Relaxed), c);
        }
        let target = Numbered::new(note_cpu, 0)?;
        assert!(dtimeout(target.clone(), 1, cpu_count()).is_none());
        assert!(dtimeout(target.clone(), 1, u32::MAX).is_none());
        // Refused timeouts dropped the references they were given.
        assert!(unique(target).is_ok());
        // An id whose CPU field names no engine is unknown, not a crash.
        // SAFETY: no typed timeout has this id (its CPU field names no engine).
        let unknown = unsafe { TimeoutId::<Numbered>::forged(u64::MAX >> 1) };
        assert_eq!(untimeout(unknown), -1);
        Ok(())
    }

    static HELD_RAN: Atomic<u32> = Atomic::new(0);
    fn held_ran(_: usize) {
        HELD_RAN.fetch_add(1, Relaxed);
    }

    #[test]
    fn no_callback_runs_while_an_arming_call_is_in_progress() -> Result {
        let target = Numbered::new(held_ran, 0)?;
        let cpu = current_cpu();
        let ran_while_held = Atomic::new(u32::MAX);
        // On `cpu` (a kworker bound there), as a `timeout()` interrupted or preempted after
        // arming would be: its `Arming` held, the timeout due at once, for 30 ms.
        assert!(on_cpu(cpu, &|| {
            let Some(e) = crate::kernel_api::engine_of(cpu) else {
                return;
            };
            let arming = e.arming();
            if timeout(target.clone(), 0).is_none() {
                return;
            }
            callout::spin(Delta::from_millis(30));
            ran_while_held.store(HELD_RAN.load(Relaxed), Relaxed);
            drop(arming);
        }));
        assert_eq!(ran_while_held.load(Relaxed), 0);
        // Let go, it runs at the next pass.
        assert!(wait_for(|| HELD_RAN.load(Relaxed) == 1, 5000));
        Ok(())
    }

    static NEVER: Atomic<u32> = Atomic::new(0);
    fn never(_: usize) {
        NEVER.fetch_add(1, Relaxed);
    }

    #[test]
    fn untimeout_from_another_cpu() -> Result {
        let Some((a, b)) = two_cpus() else {
            return Ok(());
        };
        let target = Numbered::new(never, 0)?;
        let id = Atomic::new(0u64);
        assert!(on_cpu(a, &|| id
            .store(raw(timeout(target.clone(), 10_000)), Relaxed)));
        let left = Atomic::new(0i64);
        // SAFETY: the id of the typed timeout on a `Numbered` armed above.
        let id = unsafe { TimeoutId::<Numbered>::forged(id.load(Relaxed)) };
        assert!(on_cpu(b, &|| left.store(untimeout(id), Relaxed)));
        let left = left.load(Relaxed);
        assert!(left > 0 && left <= 10_000);
        assert_eq!(NEVER.load(Relaxed), 0);
        // The cancelled timeout gave its reference back.
        assert!(unique(target).is_ok());
        Ok(())
    }

    #[test]
    fn callout_runs_on_the_cpu_of_its_reset() -> Result {
        let Some((a, b)) = two_cpus() else {
            return Ok(());
        };
        reset_notes();
        let c0 = Callout::init_mp(Numbered::new(note_cpu, 0)?)?;
        let c1 = Callout::init_mp(Numbered::new(note_cpu, 1)?)?;
        c0.reset_bycpu(a, 1)?;
        c1.reset_bycpu(b, 1)?;
        assert!(wait_for(
            || RAN_ON[0].load(Relaxed) != NONE && RAN_ON[1].load(Relaxed) != NONE,
            5000
        ));
        assert_eq!(RAN_ON[0].load(Relaxed), a);
        assert_eq!(RAN_ON[1].load(Relaxed), b);
        // A plain reset runs on the CPU that called it.
        reset_notes();
        let r = Atomic::new(0i32);
        assert!(on_cpu(b, &|| r.store(c0.reset(1).map_or(-1, |()| 0), Relaxed)));
        assert_eq!(r.load(Relaxed), 0);
        assert!(wait_for(|| RAN_ON[0].load(Relaxed) != NONE, 5000));
        assert_eq!(RAN_ON[0].load(Relaxed), b);
        assert_eq!(c0.reset_bycpu(cpu_count(), 1), Err(EINVAL));
        Ok(())
    }

    static SPAN: [(Atomic<i64>, Atomic<i64>); 2] = [const { (Atomic::new(0), Atomic::new(0)) }; 2];
    fn spin_50ms(i: usize) {
        SPAN[i].0.store(Clock::Monotonic.now(), Relaxed);
        callout::spin(Delta::from_millis(50));
        SPAN[i].1.store(Clock::Monotonic.now(), Relaxed);
    }

    #[test]
    fn callouts_on_two_cpus_overlap() -> Result {
        let Some((a, b)) = two_cpus() else {
            return Ok(());
        };
        let c0 = Callout::init_mp(Numbered::new(spin_50ms, 0)?)?;
        let c1 = Callout::init_mp(Numbered::new(spin_50ms, 1)?)?;
        c0.reset_bycpu(a, 1)?;
        c1.reset_bycpu(b, 1)?;
        assert!(wait_for(
            || SPAN[0].1.load(Relaxed) != 0 && SPAN[1].1.load(Relaxed) != 0,
            5000
        ));
        let (s0, e0) = (SPAN[0].0.load(Relaxed), SPAN[0].1.load(Relaxed));
        let (s1, e1) = (SPAN[1].0.load(Relaxed), SPAN[1].1.load(Relaxed));
        // Run one after the other, one would start after the other ended.
        assert!(s0 < e1 && s1 < e0);
        Ok(())
    }

    static RUNNING: Atomic<u32> = Atomic::new(0);
    static OVERLAPS: Atomic<u32> = Atomic::new(0);
    static RUNS: Atomic<u32> = Atomic::new(0);
    static SEEN: [Atomic<u32>; 2] = [const { Atomic::new(0) }; 2];
    static HOPPER: Atomic<usize> = Atomic::new(0);
    static HOPPING: Atomic<bool> = Atomic::new(false);
    static FIRST: Atomic<u32> = Atomic::new(0);
    static SECOND: Atomic<u32> = Atomic::new(0);
    /// Moves its callout to the other CPU (due in one tick, before this run ends), then spins
    /// past that: the next run comes due while this one runs, on another CPU.
    fn hop(_: usize) {
        if RUNNING.fetch_add(1, Relaxed) != 0 {
            OVERLAPS.fetch_add(1, Relaxed);
        }
        let me = current_cpu();
        SEEN[usize::from(me != FIRST.load(Relaxed))].fetch_add(1, Relaxed);
        if HOPPING.load(Relaxed) {
            // SAFETY: `HOPPER` holds the address of the test's live callout while it can run
            // (the test stops it synchronously before dropping it).
            let c = unsafe { &*(HOPPER.load(Relaxed) as *const Callout<Numbered>) };
            let (first, second) = (FIRST.load(Relaxed), SECOND.load(Relaxed));
            let _ = c.reset_bycpu(if me == first { second } else { first }, 1);
        }
        callout::spin(Delta::from_micros(2 * tick_ns() / 1000));
        RUNS.fetch_add(1, Relaxed);
        RUNNING.fetch_sub(1, Relaxed);
    }

    #[test]
    fn a_callout_moved_while_it_runs_never_runs_twice_at_once() -> Result {
        let Some((a, b)) = two_cpus() else {
            return Ok(());
        };
        let c = KBox::new(Callout::init_mp(Numbered::new(hop, 0)?)?, GFP_KERNEL)?;
        HOPPER.store(core::ptr::from_ref(&*c) as usize, Relaxed);
        FIRST.store(a, Relaxed);
        SECOND.store(b, Relaxed);
        HOPPING.store(true, Relaxed);
        c.reset_bycpu(a, 1)?;
        // Meanwhile this thread resets it too, from its own CPU.
        for _ in 0..20 {
            fsleep(Delta::from_millis(15));
            let _ = c.reset(1);
        }
        // The run in progress may re-arm it once more; the second stop_sync catches that run.
        HOPPING.store(false, Relaxed);
        c.stop_sync();
        c.stop_sync();
        let runs = RUNS.load(Relaxed);
        fsleep(Delta::from_millis(30));
        // Nothing runs after stop_sync returned.
        assert_eq!(RUNS.load(Relaxed), runs);
        assert_eq!(RUNNING.load(Relaxed), 0);
        assert_eq!(OVERLAPS.load(Relaxed), 0);
        assert!(runs >= 10);
        assert!(SEEN[0].load(Relaxed) > 0 && SEEN[1].load(Relaxed) > 0);
        drop(c);
        Ok(())
    }

    const HP_N: usize = 32;
    static HP_RUNS: [Atomic<u32>; HP_N] = [const { Atomic::new(0) }; HP_N];
    fn hp_fired(i: usize) {
        HP_RUNS[i].fetch_add(1, Relaxed);
    }

    #[test]
    fn cpu_hotplug_moves_timers_and_brings_them_back() -> Result {
        let Some((_, b)) = two_cpus() else {
            return Ok(());
        };
        // Timeouts and a callout due on CPU `b` within 20 ms, then `b` goes offline.
        for i in 0..HP_N - 1 {
            assert!(dtimeout(Numbered::new(hp_fired, i)?, 1 + (i % 5) as i64, b).is_some());
        }
        let c = Callout::init_mp(Numbered::new(hp_fired, HP_N - 1)?)?;
        c.reset_bycpu(b, 2)?;
        // SAFETY: `remove_cpu` may be called from a kernel thread; it takes the hotplug lock.
        if unsafe { kernel::bindings::remove_cpu(b) } != 0 {
            // Hotplug refused (e.g. not supported for this CPU): nothing to test.
            return Ok(());
        }
        assert!(!cpu_online(b));
        assert!(dtimeout(Numbered::new(hp_fired, 0)?, 1, b).is_none());
        assert_eq!(c.reset_bycpu(b, 1), Err(EINVAL));
        // Every one runs, once, on a live CPU.
        let all = || HP_RUNS.iter().all(|r| r.load(Relaxed) >= 1);
        let done = wait_for(all, 5000);
        fsleep(Delta::from_millis(20));
        // SAFETY: as for `remove_cpu`.
        let up = unsafe { kernel::bindings::add_cpu(b) };
        assert!(done);
        assert!(HP_RUNS.iter().all(|r| r.load(Relaxed) == 1));
        assert_eq!(up, 0);
        // Back online, `b` runs its timeouts again.
        reset_notes();
        assert!(dtimeout(Numbered::new(note_cpu, 3)?, 1, b).is_some());
        assert!(wait_for(|| RAN_ON[3].load(Relaxed) != NONE, 5000));
        assert_eq!(RAN_ON[3].load(Relaxed), b);
        Ok(())
    }
}
