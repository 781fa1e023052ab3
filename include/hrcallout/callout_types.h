/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hrcallout: the storage of a callout(9) handle, on its own so that the module's Rust side can
 * read its size and alignment at build time (bindgen) and check them against its own state.
 */
#ifndef _HRCALLOUT_CALLOUT_TYPES_H
#define _HRCALLOUT_CALLOUT_TYPES_H

#include <linux/types.h>

/**
 * struct hrc_callout - a callout handle: caller-owned storage, as in BSD.
 * @__opaque: hrcallout's state; never read or written by the caller.
 *
 * Embed it in your own structure (or use &struct callout, which wraps it, with the classic
 * names). It needs no teardown until hrc_callout_init*() was called on it; after that,
 * hrc_callout_terminate() before its memory is freed or reused.
 */
struct hrc_callout {
	__u64 __opaque[4];
} __attribute__((aligned(8)));

#endif /* _HRCALLOUT_CALLOUT_TYPES_H */
