// SPDX-License-Identifier: GPL-2.0
/*
 * What a virtual-time advance (timebase.rs) asks of the scheduler between its passes, the
 * soft-irq-like context its soft passes run in, and whether a virtual clock's owner has exited
 * (kernel_api/virtual_clock.rs): inline functions or macros of
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
bool hrc_task_exiting(struct task_struct *t);

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

/*
 * Whether @t (which the caller holds a reference to) is exiting or has exited: PF_EXITING is
 * set at the start of do_exit(), before a kthread_stop() of it returns.
 */
bool hrc_task_exiting(struct task_struct *t)
{
	return t->flags & PF_EXITING;
}
