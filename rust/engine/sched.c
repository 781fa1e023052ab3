// SPDX-License-Identifier: GPL-2.0
/*
 * What a virtual-time advance (timebase.rs) asks of the scheduler between its passes: both
 * are inline functions or macros of <linux/sched.h> and <linux/sched/signal.h> that the kernel
 * crate does not bind.
 */
#include <linux/sched.h>
#include <linux/sched/signal.h>

bool hrc_current_killed(void);
void hrc_cond_resched(void);

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
