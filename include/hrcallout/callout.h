/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hrcallout: DragonFly BSD callout(9) for C drivers, exported by hrcallout.ko.
 *
 * A consumer module says MODULE_IMPORT_NS("HRCALLOUT") and builds with
 * KBUILD_EXTRA_SYMBOLS=<hrcallout>/Module.symvers. Loading it pins hrcallout.ko.
 *
 * The handle is caller-owned storage, &struct hrc_callout, embedded in the caller's own
 * structure. The symbols are prefixed (hrc_callout_reset, ...). Define HRCALLOUT_CLASSIC_NAMES
 * before including this header to also get &struct callout and the classic names
 * (callout_reset(), ...) as static inlines, so that ported code keeps calling them unchanged.
 *
 * Callbacks run in thread context (a high-priority kworker of the CPU of the last reset, the
 * DragonFly softclock thread), with the callout's lock held if it has one; callouts on
 * different CPUs run in parallel, one callout never on two CPUs at once. A callback may call any
 * of these functions on its own callout (reset it, stop it) except terminate.
 *
 * The lock of hrc_callout_init_lk() is a struct mutex (DragonFly's struct lock: the callback
 * may sleep); that of hrc_callout_init_spin() a spinlock_t (the callback runs atomically). The
 * executor takes a spinlock with interrupts disabled, so the driver may take it anywhere, hard
 * irq included. Either lock must outlive the callout (until hrc_callout_terminate()). Holding
 * it, a stop prevents the run even if the timer has expired already and the executor is waiting
 * for the lock.
 *
 * See docs/semantics.md ("The C API") for the rules chosen where DragonFly versions differ.
 */
#ifndef _HRCALLOUT_CALLOUT_H
#define _HRCALLOUT_CALLOUT_H

#include <linux/types.h>
#include <linux/spinlock_types.h>
#include <hrcallout/callout_types.h>

struct mutex;

/* A callout function: called with the argument given to the reset. */
typedef void hrc_timeout_t(void *arg);

/**
 * hrc_callout_init() - initialise a callout whose callbacks are not MP-safe
 * @c: the callout's storage
 *
 * Its callbacks run one at a time under one module-wide mutex, DragonFly's MP lock.
 *
 * Cannot fail: it allocates the callout's state, waiting for memory rather than failing
 * (DragonFly allocates it with M_INTWAIT); nothing after it allocates.
 * Context: process context; may sleep.
 */
void hrc_callout_init(struct hrc_callout *c);

/**
 * hrc_callout_init_mp() - initialise a callout whose callbacks are MP-safe (no lock)
 * @c: the callout's storage
 *
 * Context: process context; may sleep. Cannot fail, as hrc_callout_init().
 */
void hrc_callout_init_mp(struct hrc_callout *c);

/**
 * hrc_callout_init_lk() - initialise a callout whose callbacks run under a mutex
 * @c: the callout's storage
 * @lk: an initialised mutex, owned by the caller, that outlives the callout
 *
 * Context: process context; may sleep. Cannot fail, as hrc_callout_init().
 */
void hrc_callout_init_lk(struct hrc_callout *c, struct mutex *lk);

/**
 * hrc_callout_init_spin() - initialise a callout whose callbacks run under a spinlock
 * @c: the callout's storage
 * @lk: an initialised spinlock, owned by the caller, that outlives the callout
 *
 * The callbacks run with @lk held and interrupts disabled: they must not sleep.
 *
 * Context: process context; may sleep. Cannot fail, as hrc_callout_init().
 */
void hrc_callout_init_spin(struct hrc_callout *c, spinlock_t *lk);

/**
 * hrc_callout_reset() - (re)arm a callout to call @fn(@arg) after @ticks ticks
 * @c: an initialised callout
 * @ticks: the delay in ticks; less than one means one
 * @fn: the function
 * @arg: its argument
 *
 * Replaces a pending schedule; a run already claimed by the executor is cancelled unless it
 * has started. Of a running callout: does not wait, the new run follows the current one. The
 * callback runs on the calling CPU.
 *
 * Context: any context; does not sleep or allocate.
 * Return: 0, or -EINVAL if @c is not an initialised callout (nothing is scheduled).
 */
int hrc_callout_reset(struct hrc_callout *c, int ticks, hrc_timeout_t *fn, void *arg);

/**
 * hrc_callout_reset_bycpu() - hrc_callout_reset() whose callback runs on @cpu
 * @c: an initialised callout
 * @ticks: the delay in ticks
 * @fn: the function
 * @arg: its argument
 * @cpu: the CPU to run it on
 *
 * Context: any context; does not sleep or allocate.
 * Return: 0, or -EINVAL if @cpu is not online or @c is not an initialised callout (nothing is
 * scheduled, a pending schedule stays).
 */
int hrc_callout_reset_bycpu(struct hrc_callout *c, int ticks, hrc_timeout_t *fn, void *arg,
			    int cpu);

/**
 * hrc_callout_stop() - cancel a callout's pending run; never waits
 * @c: an initialised callout
 *
 * Clears the active flag.
 *
 * Context: any context.
 * Return: 1 if this call prevented a run that had not started (queued, or expired and waiting
 * for the executor or the lock), 0 otherwise (not set, already run, running).
 */
int hrc_callout_stop(struct hrc_callout *c);

/**
 * hrc_callout_stop_async() - hrc_callout_stop() without its result
 * @c: an initialised callout
 *
 * Context: any context.
 */
void hrc_callout_stop_async(struct hrc_callout *c);

/**
 * hrc_callout_stop_sync() - hrc_callout_stop(), then wait for a running callback to return
 * @c: an initialised callout
 *
 * Returns at once when called from the callback itself, or with the callout's own lock held
 * (the callback cannot be running then).
 *
 * Context: process context; may sleep.
 * Return: as hrc_callout_stop().
 */
int hrc_callout_stop_sync(struct hrc_callout *c);

/**
 * hrc_callout_active() - whether the callout was reset and not stopped or deactivated since
 * @c: an initialised callout
 *
 * Stable only from the callback, or after it ran and before the next reset.
 *
 * Context: any context.
 * Return: 1 or 0.
 */
int hrc_callout_active(struct hrc_callout *c);

/**
 * hrc_callout_pending() - whether the callout is scheduled and has not expired yet
 * @c: an initialised callout
 *
 * Context: any context.
 * Return: 1 or 0.
 */
int hrc_callout_pending(struct hrc_callout *c);

/**
 * hrc_callout_deactivate() - clear the active flag
 * @c: an initialised callout
 *
 * A queued schedule stays queued; when it comes due the callback is skipped.
 *
 * Context: any context.
 */
void hrc_callout_deactivate(struct hrc_callout *c);

/**
 * hrc_callout_terminate() - stop a callout, wait for its callback, and free its state
 * @c: an initialised callout
 *
 * After it returned 0, @c may be freed or initialised again. A callout reset and run again by
 * another thread meanwhile is stopped again.
 *
 * Context: process context; may sleep. Not from the callout's own callback.
 * Return: 0; -EBUSY from the callout's own callback (nothing is freed); -EINVAL if @c is not
 * an initialised callout.
 */
int hrc_callout_terminate(struct hrc_callout *c);

#ifdef HRCALLOUT_CLASSIC_NAMES
/* The classic handle: struct callout, storage for one struct hrc_callout. */
struct callout {
	struct hrc_callout hrc;
};

typedef hrc_timeout_t timeout_t;

static inline void callout_init(struct callout *c)
{
	hrc_callout_init(&c->hrc);
}

static inline void callout_init_mp(struct callout *c)
{
	hrc_callout_init_mp(&c->hrc);
}

static inline void callout_init_lk(struct callout *c, struct mutex *lk)
{
	hrc_callout_init_lk(&c->hrc, lk);
}

static inline void callout_reset(struct callout *c, int ticks, timeout_t *fn, void *arg)
{
	hrc_callout_reset(&c->hrc, ticks, fn, arg);
}

static inline void callout_reset_bycpu(struct callout *c, int ticks, timeout_t *fn, void *arg,
				       int cpu)
{
	hrc_callout_reset_bycpu(&c->hrc, ticks, fn, arg, cpu);
}

static inline int callout_stop(struct callout *c)
{
	return hrc_callout_stop(&c->hrc);
}

static inline void callout_stop_async(struct callout *c)
{
	hrc_callout_stop_async(&c->hrc);
}

static inline int callout_stop_sync(struct callout *c)
{
	return hrc_callout_stop_sync(&c->hrc);
}

static inline int callout_active(struct callout *c)
{
	return hrc_callout_active(&c->hrc);
}

static inline int callout_pending(struct callout *c)
{
	return hrc_callout_pending(&c->hrc);
}

static inline void callout_deactivate(struct callout *c)
{
	hrc_callout_deactivate(&c->hrc);
}

static inline void callout_terminate(struct callout *c)
{
	hrc_callout_terminate(&c->hrc);
}
#endif /* HRCALLOUT_CLASSIC_NAMES */

#endif /* _HRCALLOUT_CALLOUT_H */
