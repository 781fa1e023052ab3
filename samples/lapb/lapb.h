/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A LAPB-style data link's timers (ITU-T X.25 layer 2), written against the classic STREAMS and
 * BSD timer calls, as a driver ported from another kernel would be:
 *
 *  T1  retransmission: started when an I-frame goes out unacknowledged; on expiry the oldest
 *      frame is sent again and T1 restarted, up to N2 times, then the link has failed.
 *  T2  acknowledgement delay: started by the first unacknowledged received I-frame; on expiry
 *      one RR acknowledges everything received so far.
 *  T3  idle: runs while nothing is outstanding; on expiry a poll (RR with P=1) goes out and T1
 *      guards its answer.
 *  T4  a STREAMS timeout() in soft-irq context that re-arms itself from its own callback and
 *      queues work; the work, in process context, restarts T3 if the link is idle.
 *
 * T1-T3 are callouts under the link's mutex (callout_init_lk): their callbacks and every call
 * below run under it, so a stop made under the mutex always prevents the run.
 */
#ifndef _HRC_LAPB_H
#define _HRC_LAPB_H

#include <linux/atomic.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#define HRCALLOUT_CLASSIC_NAMES
#include <hrcallout/ddi.h>
#include <hrcallout/callout.h>

enum lapb_state { LAPB_DOWN, LAPB_UP, LAPB_FAILED };

struct lapb_params {
	int t1, t2, t3, t4; /* in ticks */
	int n2;             /* retransmissions before the link fails */
};

struct lapb_link {
	struct lapb_params p;

	/* The callouts' lock: protects everything down to the counters. */
	struct mutex lock;
	struct callout t1, t2, t3;
	enum lapb_state state;
	int retries;                  /* T1 expiries since the last acknowledgement */
	unsigned int vs, va, vr;      /* send, acknowledged and receive state variables */

	/* T4's id and whether it may re-arm; under t4_lock (taken in soft irq). */
	spinlock_t t4_lock;
	toid_t t4;
	bool t4_stopping;
	struct work_struct idle_work; /* queued by T4: restarts T3 */

	/* What the link did, for its tests. */
	atomic_t tx_iframes, retransmits, acks_sent, polls_sent, t4_runs, idle_runs;
};

void lapb_link_init(struct lapb_link *l, const struct lapb_params *p);
void lapb_connect(struct lapb_link *l);
void lapb_send_iframe(struct lapb_link *l);
void lapb_rx_ack(struct lapb_link *l, unsigned int nr);
void lapb_rx_iframe(struct lapb_link *l);
void lapb_rx_iframes(struct lapb_link *l, int n);
void lapb_disconnect(struct lapb_link *l);
void lapb_link_destroy(struct lapb_link *l);
enum lapb_state lapb_state(struct lapb_link *l);

#endif /* _HRC_LAPB_H */
