// SPDX-License-Identifier: GPL-2.0
/*
 * What a virtual-time advance (timebase.rs) asks of the scheduler between its passes, and
 * the soft-irq-like context its soft passes run in: inline functions or macros of
 * <linux/sched.h>, <linux/sched/signal.h> and <linux/bottom_half.h> that the kernel crate does
 * not bind.
 */
#include <linux/bottom_half.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>

bool hrc_current_killed(void);
void hrc_cond_resched(void);
void hrc_local_bh_disable(void);
void hrc_local_bh_enable(void);

/* Whether the current task has a fatal signal pending. */
bool hrc_current_killed(void)
{
	return fatal_signal_pending(current);
}

/* Lets other tasks run (a no-op on a preemptible kernel). */
void hrc_cond_resched(void)
{
	cond_resched();
}

/* Bottom halves off on this CPU: what a soft-irq hrtimer callback runs with. */
void hrc_local_bh_disable(void)
{
	local_bh_disable();
}

/* Bottom halves back on (runs the soft irqs that came meanwhile). */
void hrc_local_bh_enable(void)
{
	local_bh_enable();
}
