// SPDX-License-Identifier: GPL-2.0
/*
 * The LAPB-style link timers of lapb.h, on hrcallout's C API with the classic names.
 */
#include <linux/module.h>
#include "lapb.h"

/* Under l->lock: (re)starts T1 for the oldest unacknowledged frame. */
static void lapb_t1_expired(void *arg);
static void lapb_t2_expired(void *arg);
static void lapb_t3_expired(void *arg);

static void lapb_start_t1(struct lapb_link *l)
{
	callout_reset(&l->t1, l->p.t1, lapb_t1_expired, l);
}

static void lapb_start_t3(struct lapb_link *l)
{
	callout_reset(&l->t3, l->p.t3, lapb_t3_expired, l);
}

/* T1: retransmit, restart T1 from its own callback, or give up after N2 tries. */
static void lapb_t1_expired(void *arg)
{
	struct lapb_link *l = arg;

	lockdep_assert_held(&l->lock);
	if (l->state != LAPB_UP)
		return;
	if (++l->retries > l->p.n2) {
		l->state = LAPB_FAILED;
		callout_stop(&l->t2);
		callout_stop(&l->t3);
		return;
	}
	atomic_inc(&l->retransmits);
	lapb_start_t1(l);
}

/* T2: one RR acknowledges every frame received so far. */
static void lapb_t2_expired(void *arg)
{
	struct lapb_link *l = arg;

	lockdep_assert_held(&l->lock);
	if (l->state == LAPB_UP)
		atomic_inc(&l->acks_sent);
}

/* T3: the link was idle; poll the peer, and guard the answer with T1. */
static void lapb_t3_expired(void *arg)
{
	struct lapb_link *l = arg;

	lockdep_assert_held(&l->lock);
	if (l->state != LAPB_UP)
		return;
	atomic_inc(&l->polls_sent);
	lapb_start_t1(l);
}

/* T4 (soft irq): queue the idle check and re-arm, unless disconnecting. */
static void lapb_t4_expired(caddr_t arg)
{
	struct lapb_link *l = (struct lapb_link *)arg;

	atomic_inc(&l->t4_runs);
	schedule_work(&l->idle_work);
	spin_lock(&l->t4_lock);
	if (!l->t4_stopping)
		l->t4 = timeout(lapb_t4_expired, (caddr_t)l, l->p.t4);
	spin_unlock(&l->t4_lock);
}

/* Process context, from T4: restart T3 if nothing is outstanding and it is not running. */
static void lapb_idle_work(struct work_struct *w)
{
	struct lapb_link *l = container_of(w, struct lapb_link, idle_work);

	mutex_lock(&l->lock);
	atomic_inc(&l->idle_runs);
	if (l->state == LAPB_UP && l->vs == l->va && !callout_pending(&l->t1) &&
	    !callout_pending(&l->t3))
		lapb_start_t3(l);
	mutex_unlock(&l->lock);
}

void lapb_link_init(struct lapb_link *l, const struct lapb_params *p)
{
	memset(l, 0, sizeof(*l));
	l->p = *p;
	mutex_init(&l->lock);
	spin_lock_init(&l->t4_lock);
	INIT_WORK(&l->idle_work, lapb_idle_work);
	callout_init_lk(&l->t1, &l->lock);
	callout_init_lk(&l->t2, &l->lock);
	callout_init_lk(&l->t3, &l->lock);
	l->state = LAPB_DOWN;
}

void lapb_connect(struct lapb_link *l)
{
	mutex_lock(&l->lock);
	l->state = LAPB_UP;
	l->retries = 0;
	l->vs = l->va = l->vr = 0;
	lapb_start_t3(l);
	mutex_unlock(&l->lock);

	spin_lock_bh(&l->t4_lock);
	l->t4_stopping = false;
	l->t4 = timeout(lapb_t4_expired, (caddr_t)l, l->p.t4);
	spin_unlock_bh(&l->t4_lock);
}

void lapb_send_iframe(struct lapb_link *l)
{
	mutex_lock(&l->lock);
	if (l->state == LAPB_UP) {
		atomic_inc(&l->tx_iframes);
		l->vs++;
		/* T3 is not run while frames are outstanding; T1 guards the oldest. */
		callout_stop(&l->t3);
		if (!callout_pending(&l->t1))
			lapb_start_t1(l);
	}
	mutex_unlock(&l->lock);
}

void lapb_rx_ack(struct lapb_link *l, unsigned int nr)
{
	mutex_lock(&l->lock);
	if (l->state == LAPB_UP) {
		l->va = nr;
		l->retries = 0;
		if (l->va == l->vs) {
			callout_stop(&l->t1);
			lapb_start_t3(l);
		} else {
			lapb_start_t1(l);
		}
	}
	mutex_unlock(&l->lock);
}

/* @n I-frames received in one burst (one pass over the receive ring). */
void lapb_rx_iframes(struct lapb_link *l, int n)
{
	mutex_lock(&l->lock);
	while (l->state == LAPB_UP && n-- > 0) {
		l->vr++;
		if (!callout_pending(&l->t2))
			callout_reset(&l->t2, l->p.t2, lapb_t2_expired, l);
	}
	mutex_unlock(&l->lock);
}

void lapb_rx_iframe(struct lapb_link *l)
{
	lapb_rx_iframes(l, 1);
}

void lapb_disconnect(struct lapb_link *l)
{
	toid_t id;

	/* T4 first: once it cannot re-arm, nothing queues the idle work. */
	spin_lock_bh(&l->t4_lock);
	l->t4_stopping = true;
	id = l->t4;
	spin_unlock_bh(&l->t4_lock);
	untimeout(id);
	cancel_work_sync(&l->idle_work);

	mutex_lock(&l->lock);
	l->state = LAPB_DOWN;
	callout_stop(&l->t1);
	callout_stop(&l->t2);
	callout_stop(&l->t3);
	mutex_unlock(&l->lock);
}

void lapb_link_destroy(struct lapb_link *l)
{
	lapb_disconnect(l);
	callout_terminate(&l->t1);
	callout_terminate(&l->t2);
	callout_terminate(&l->t3);
}

enum lapb_state lapb_state(struct lapb_link *l)
{
	enum lapb_state s;

	mutex_lock(&l->lock);
	s = l->state;
	mutex_unlock(&l->lock);
	return s;
}

MODULE_DESCRIPTION("A LAPB-style link's timers on hrcallout's C API, with KUnit suites");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("HRCALLOUT");
