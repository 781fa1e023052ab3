// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel hook of clock_set.rs: a listener on timekeeping updates (the notifier KVM uses
 * for its pvclock, <linux/pvclock_gtod.h>, exported to GPL modules). The timekeeper calls it
 * on every update, under its raw lock with interrupts off, saying whether the clock was set
 * (TK_CLOCK_WAS_SET: settimeofday, clock_settime, adjtimex offsets, leap seconds, resume).
 * Only then does it queue an irq work, whose handler queues a work item, which runs
 * hrc_clock_was_set() (Rust) in process context. The irq work is KVM's way too: queueing a work
 * item there may wake a worker, and waking reads the clock, which spins on the timekeeper's
 * sequence count that the caller holds for writing (lockdep reports the cycle).
 */
#include <linux/irq_work.h>
#include <linux/notifier.h>
#include <linux/pvclock_gtod.h>
#include <linux/workqueue.h>

void hrc_clock_was_set(void);
int hrc_clock_set_start(void);
void hrc_clock_set_stop(void);

static void hrc_clock_set_work_fn(struct work_struct *work)
{
	hrc_clock_was_set();
}

static DECLARE_WORK(hrc_clock_set_work, hrc_clock_set_work_fn);

static void hrc_clock_set_irq_work_fn(struct irq_work *w)
{
	queue_work(system_unbound_wq, &hrc_clock_set_work);
}

static DEFINE_IRQ_WORK(hrc_clock_set_irq_work, hrc_clock_set_irq_work_fn);

static int hrc_clock_set_notify(struct notifier_block *nb, unsigned long was_set, void *tk)
{
	if (was_set)
		irq_work_queue(&hrc_clock_set_irq_work);
	return NOTIFY_OK;
}

static struct notifier_block hrc_clock_set_nb = {
	.notifier_call = hrc_clock_set_notify,
};

/* Starts listening (the registration itself reports one set, which finds no file). */
int hrc_clock_set_start(void)
{
	return pvclock_gtod_register_notifier(&hrc_clock_set_nb);
}

/*
 * Stops listening: unregistering takes the timekeeper's lock, so no call of the notifier runs
 * after it; then the last irq work, and the work item it may have queued, are waited for.
 */
void hrc_clock_set_stop(void)
{
	pvclock_gtod_unregister_notifier(&hrc_clock_set_nb);
	irq_work_sync(&hrc_clock_set_irq_work);
	cancel_work_sync(&hrc_clock_set_work);
}
