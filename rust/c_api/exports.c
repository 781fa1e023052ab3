// SPDX-License-Identifier: GPL-2.0
/*
 * hrcallout's C API, exported to other modules in the HRCALLOUT namespace. The functions are
 * Rust (rust/c_api/); 7.3's build has no Rust-side export for a loadable module, so the export
 * table entries are made here, from the headers' prototypes. Nothing else lives in this file.
 */
#include <linux/export.h>
#include <hrcallout/ddi.h>
#include <hrcallout/callout.h>
#include <hrcallout/vclock.h>

EXPORT_SYMBOL_NS_GPL(hrc_timeout, "HRCALLOUT");
EXPORT_SYMBOL_NS_GPL(hrc_dtimeout, "HRCALLOUT");
EXPORT_SYMBOL_NS_GPL(hrc_untimeout, "HRCALLOUT");
EXPORT_SYMBOL_NS_GPL(hrc_drv_usectohz, "HRCALLOUT");
EXPORT_SYMBOL_NS_GPL(hrc_drv_hztousec, "HRCALLOUT");

EXPORT_SYMBOL_NS_GPL(hrc_callout_init, "HRCALLOUT");
EXPORT_SYMBOL_NS_GPL(hrc_callout_init_mp, "HRCALLOUT");
EXPORT_SYMBOL_NS_GPL(hrc_callout_init_lk, "HRCALLOUT");
EXPORT_SYMBOL_NS_GPL(hrc_callout_init_spin, "HRCALLOUT");
EXPORT_SYMBOL_NS_GPL(hrc_callout_reset, "HRCALLOUT");
EXPORT_SYMBOL_NS_GPL(hrc_callout_reset_bycpu, "HRCALLOUT");
EXPORT_SYMBOL_NS_GPL(hrc_callout_stop, "HRCALLOUT");
EXPORT_SYMBOL_NS_GPL(hrc_callout_stop_async, "HRCALLOUT");
EXPORT_SYMBOL_NS_GPL(hrc_callout_stop_sync, "HRCALLOUT");
EXPORT_SYMBOL_NS_GPL(hrc_callout_active, "HRCALLOUT");
EXPORT_SYMBOL_NS_GPL(hrc_callout_pending, "HRCALLOUT");
EXPORT_SYMBOL_NS_GPL(hrc_callout_deactivate, "HRCALLOUT");
EXPORT_SYMBOL_NS_GPL(hrc_callout_terminate, "HRCALLOUT");

EXPORT_SYMBOL_NS_GPL(hrc_vclock_create, "HRCALLOUT");
EXPORT_SYMBOL_NS_GPL(hrc_vclock_advance, "HRCALLOUT");
EXPORT_SYMBOL_NS_GPL(hrc_vclock_now, "HRCALLOUT");
EXPORT_SYMBOL_NS_GPL(hrc_vclock_destroy, "HRCALLOUT");
