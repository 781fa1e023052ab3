// SPDX-License-Identifier: GPL-2.0
/*
 * The C side of make bench's P1c: timeout()+untimeout() pairs through the exported API, as a
 * driver makes them, measured when the module is loaded with bench_pairs=N (on CPU 0, the
 * method of hrcallout's own P1k: 15 rounds of N pairs with far random delays, the median round's
 * time per pair). The result is read back from /sys/module/hrc_lapb/parameters/bench_pair_ns.
 */
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/smp.h>
#include <linux/sort.h>
#include "lapb.h"

static uint bench_pairs;
module_param(bench_pairs, uint, 0444);
MODULE_PARM_DESC(bench_pairs, "Measure this many timeout()+untimeout() pairs per round at load (0: no)");

static ulong bench_pair_ns;
module_param(bench_pair_ns, ulong, 0444);
MODULE_PARM_DESC(bench_pair_ns, "The measured median time per pair, in ns (output)");

#define BENCH_ROUNDS 15

static void bench_noop(caddr_t arg)
{
}

/* xorshift64, as hrcallout's benchmarks use. */
static u64 bench_below(u64 *r, u64 n)
{
	*r ^= *r << 13;
	*r ^= *r >> 7;
	*r ^= *r << 17;
	return *r % n;
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static int bench_on_cpu(void *unused)
{
	u64 rng = 0x2545f4914f6cdd1dULL, per[BENCH_ROUNDS];
	const u64 tick = NSEC_PER_SEC / HZ;
	unsigned int r, i;

	for (r = 0; r < BENCH_ROUNDS; r++) {
		u64 t0 = ktime_get_ns();

		for (i = 0; i < bench_pairs; i++) {
			u64 delay = 10 * NSEC_PER_SEC + bench_below(&rng, 1000 * NSEC_PER_SEC);
			toid_t id = timeout(bench_noop, NULL, DIV_ROUND_UP_ULL(delay, tick));

			if (untimeout(id) < 0)
				return -ENOENT;
		}
		per[r] = (ktime_get_ns() - t0) / bench_pairs;
	}
	sort(per, BENCH_ROUNDS, sizeof(per[0]), cmp_u64, NULL);
	bench_pair_ns = per[BENCH_ROUNDS / 2];
	return 0;
}

static int __init hrc_lapb_init(void)
{
	if (!bench_pairs)
		return 0;
	return smp_call_on_cpu(0, bench_on_cpu, NULL, false);
}
module_init(hrc_lapb_init);

static void __exit hrc_lapb_exit(void)
{
}
module_exit(hrc_lapb_exit);
