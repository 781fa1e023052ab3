// SPDX-License-Identifier: GPL-2.0
/*
 * What suspend.rs needs to know of a task, and what an absolute time of the caller's time
 * namespace is on the host's clocks (qnx.rs, mach.rs), asked in C: the answers are inline
 * functions of <linux/sched/signal.h> and <linux/time_namespace.h>, and they read struct
 * task_struct with the C compiler's layout. (The kernel crate's view of task_struct cannot be
 * trusted for that on this toolchain: in the guest, Task::tgid() reads -1 for every task;
 * bindgen gives its sched_statistics member no fields.)
 */
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/time_namespace.h>

bool hrc_task_in_my_process(struct task_struct *t);
s64 hrc_timens_to_host(u32 clockid, s64 t);
bool hrc_task_exited(struct task_struct *t);
bool hrc_current_must_not_wait(void);

/* Whether @t is a thread of the caller's process. */
bool hrc_task_in_my_process(struct task_struct *t)
{
	return same_thread_group(t, current);
}

/* Whether @t has exited (or is being reaped). */
bool hrc_task_exited(struct task_struct *t)
{
	return !pid_alive(t) || READ_ONCE(t->exit_state);
}

/* Whether the current task is being killed or is exiting: it must not wait to be resumed. */
bool hrc_current_must_not_wait(void)
{
	return fatal_signal_pending(current) || (current->flags & PF_EXITING);
}

/*
 * @t, an absolute time on clock @clockid as the calling task sees it, on the host's clock: a
 * task in a time namespace sees CLOCK_MONOTONIC and CLOCK_BOOTTIME shifted (timerfd and POSIX
 * timers translate their absolute times the same way). Process context.
 */
s64 hrc_timens_to_host(u32 clockid, s64 t)
{
	return timens_ktime_to_host(clockid, t);
}
