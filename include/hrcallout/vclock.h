/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hrcallout: virtual time for a C driver's own tests (KUnit), exported by hrcallout.ko.
 *
 * A virtual clock stands still until its owner advances it. While it exists, the calls of the
 * task that created it go to it instead of to a CPU: hrc_timeout() and hrc_dtimeout() (whose
 * CPU is then ignored) and every hrc_callout_init*(), so the driver's code runs unchanged. Its
 * callbacks run inside hrc_vclock_advance(), in the caller's task, each at exactly its instant
 * and in expiry order (equal expiries in arming order): timeout callbacks with bottom halves
 * off, as in soft irq; callouts in thread context under their locks. What they arm during the
 * advance and falls due by its end runs in the same advance. A callout stays on the clock it
 * was initialised on, whoever resets it; hrc_untimeout() finds a virtual timeout by its id.
 * Other tasks' new timeouts (a work item's, say) stay on real time.
 *
 * One virtual clock exists at a time. Destroying it drops its pending timeouts (their
 * callbacks never run: cancel them first, as before an unload); callouts initialised on it
 * must be terminated first (afterwards every call on them is refused with a warning). A clock
 * whose creator exited without destroying it (a KUnit test killed by a failed assertion) is
 * reclaimed, with a warning, by the next hrc_vclock_create(); its handle stays safe to destroy.
 * In a KUnit test, register hrc_vclock_destroy() as a deferred action (kunit_add_action_or_reset,
 * as samples/lapb/lapb_test.c does) so that the clock goes with the test however it ends.
 *
 * See docs/semantics.md ("Virtual time") for what an advance runs and in what order.
 */
#ifndef _HRCALLOUT_VCLOCK_H
#define _HRCALLOUT_VCLOCK_H

#include <linux/types.h>

/* A virtual clock: opaque. */
struct hrc_vclock;

/**
 * hrc_vclock_create() - create the virtual clock, owned by the calling task
 * @mono_ns: its monotonic start, in ns (>= 0)
 * @real_ns: its realtime start, in ns
 *
 * Context: process context; may sleep.
 * Return: the clock, or ERR_PTR(-EBUSY) if one exists whose creator is still alive,
 * ERR_PTR(-EINVAL) for a negative @mono_ns, ERR_PTR(-ENOMEM).
 */
struct hrc_vclock *hrc_vclock_create(s64 mono_ns, s64 real_ns);

/**
 * hrc_vclock_advance() - move a virtual clock forward, running what falls due
 * @vc: the clock
 * @delta_ns: how far, in ns (>= 0)
 *
 * Runs every expiry due by now + @delta_ns, each at its own instant, and returns once every
 * callback it started has returned. The caller must not hold a lock a callback takes.
 *
 * Context: process context; may sleep.
 * Return: 0; -EINVAL for a negative @delta_ns or a null or error @vc; -EBUSY while another
 * advance of @vc runs; -EINTR if the caller was killed (time stands where the last expiry
 * left it).
 */
int hrc_vclock_advance(struct hrc_vclock *vc, s64 delta_ns);

/**
 * hrc_vclock_now() - a virtual clock's monotonic now
 * @vc: the clock
 *
 * Context: any context.
 * Return: now, in ns; -EINVAL for a null or error @vc.
 */
s64 hrc_vclock_now(struct hrc_vclock *vc);

/**
 * hrc_vclock_destroy() - destroy a virtual clock
 * @vc: the clock (null and error pointers are ignored)
 *
 * Its pending timeouts are dropped without running; from now on the creator's calls go to the
 * CPUs again.
 *
 * Context: process context; may sleep.
 */
void hrc_vclock_destroy(struct hrc_vclock *vc);

#endif /* _HRCALLOUT_VCLOCK_H */
