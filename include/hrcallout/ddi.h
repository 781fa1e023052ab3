/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hrcallout: SVR4/STREAMS DDI timeouts for C drivers (OpenSS7 timeout(9), untimeout(9),
 * dtimeout(9), drv_usectohz(9), drv_hztousec(9)), exported by hrcallout.ko.
 *
 * A consumer module says MODULE_IMPORT_NS("HRCALLOUT") and builds with
 * KBUILD_EXTRA_SYMBOLS=<hrcallout>/Module.symvers. Loading it pins hrcallout.ko.
 *
 * The symbols are prefixed (hrc_timeout, ...). Define HRCALLOUT_CLASSIC_NAMES before including
 * this header to also get the classic names (timeout(), untimeout(), ...) as static inlines, so
 * that ported code keeps calling them unchanged.
 *
 * A tick is 1/HZ s (the kernel's CONFIG_HZ). Callbacks run in soft-irq context, on the CPU
 * that armed them (timeout()) or the one named (dtimeout()), never inside the call that armed
 * them, and never at the same time as themselves.
 */
#ifndef _HRCALLOUT_DDI_H
#define _HRCALLOUT_DDI_H

#include <linux/types.h>

/*
 * A timeout id: non-zero when valid, compare only with 0. OpenSS7's man page declares it an
 * int but warns it must never be stored in one on 64-bit machines: here it is a long, and ids
 * are never reused while hrcallout.ko is loaded.
 */
typedef long toid_t;
typedef toid_t timeout_id_t;
/* A timeout callback: called with the argument given to timeout(). */
typedef void timo_fcn_t(caddr_t arg);

/**
 * hrc_timeout() - call a function after a number of ticks (STREAMS timeout(9))
 * @fn: the callback; may be NULL (then nothing is called when the timeout comes due)
 * @arg: its argument
 * @ticks: the delay in ticks; 0 or less means the next opportunity
 *
 * Context: any context, hard irq and timeout callbacks included; does not sleep.
 * Return: a non-zero id, or 0 if nothing could be scheduled (no memory). The callback runs in
 * soft-irq context on the calling CPU, never before this call returned.
 */
toid_t hrc_timeout(timo_fcn_t *fn, caddr_t arg, clock_t ticks);

/**
 * hrc_dtimeout() - hrc_timeout() whose callback runs on a named CPU (OpenSS7 dtimeout(9))
 * @fn: the callback, or NULL
 * @arg: its argument
 * @ticks: the delay in ticks
 * @pl: the priority level; accepted and ignored, as OpenSS7 does on Linux
 * @cpu: the CPU to run the callback on
 *
 * If @cpu goes offline before the callback ran, it runs on a CPU that is online.
 *
 * Context: any context; does not sleep.
 * Return: a non-zero id, or 0 if @cpu is not online or nothing could be scheduled.
 */
toid_t hrc_dtimeout(timo_fcn_t *fn, caddr_t arg, clock_t ticks, unsigned long pl, int cpu);

/**
 * hrc_untimeout() - cancel a timeout (STREAMS untimeout(9))
 * @id: an id from hrc_timeout() or hrc_dtimeout()
 *
 * If the callback is running on another CPU, waits (spinning, as hrtimer_cancel() does) until
 * it has returned; from the callback itself, returns at once.
 *
 * Context: any context, except that a caller on whose CPU the callback cannot make progress
 * (a hard-irq handler that interrupted it) gets -1 at once rather than waiting.
 * Return: the ticks that were left (rounded up, >= 0) if the timeout was cancelled before it
 * ran; -1 if the id is 0, unknown, has fired or is firing, was cancelled already, or the caller
 * is that timeout's own callback (illumos semantics).
 */
clock_t hrc_untimeout(toid_t id);

/**
 * hrc_drv_usectohz() - microseconds to ticks, rounded up (never early), saturating
 * @usec: microseconds
 *
 * Context: any context.
 * Return: ticks.
 */
clock_t hrc_drv_usectohz(clock_t usec);

/**
 * hrc_drv_hztousec() - ticks to microseconds, saturating
 * @ticks: ticks
 *
 * Context: any context.
 * Return: microseconds.
 */
clock_t hrc_drv_hztousec(clock_t ticks);

#ifdef HRCALLOUT_CLASSIC_NAMES
static inline toid_t timeout(timo_fcn_t *fn, caddr_t arg, clock_t ticks)
{
	return hrc_timeout(fn, arg, ticks);
}

static inline toid_t dtimeout(timo_fcn_t *fn, caddr_t arg, clock_t ticks, unsigned long pl,
			      int cpu)
{
	return hrc_dtimeout(fn, arg, ticks, pl, cpu);
}

static inline clock_t untimeout(toid_t id)
{
	return hrc_untimeout(id);
}

static inline clock_t drv_usectohz(clock_t usec)
{
	return hrc_drv_usectohz(usec);
}

static inline clock_t drv_hztousec(clock_t ticks)
{
	return hrc_drv_hztousec(ticks);
}
#endif /* HRCALLOUT_CLASSIC_NAMES */

#endif /* _HRCALLOUT_DDI_H */
