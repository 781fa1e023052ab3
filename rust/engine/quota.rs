// SPDX-License-Identifier: GPL-2.0

//! Quotas: a limit on the slots several engines hold together, so that a user who opens a
//! thousand files cannot pin a thousand times `max_timers` (issue 23).
//!
//! An engine charged to a [`Quota`] ([`Charge`]) charges it for each chunk of slots its table
//! grows by, before allocating the chunk, and gives the whole charge back when it is dropped,
//! with its table. The quota counts the slots the engines have, free or used, the way
//! `RLIMIT_MEMLOCK` counts pinned pages: charging per chunk (`slots::CHUNK` slots), never per
//! timer, keeps arming and cancelling free of it. A charge that would pass the limit fails
//! with `ENOSPC`, the error of the per-file cap. Who shares a quota is its owner's choice
//! (`device/users.rs`: one per user).

use kernel::{
    prelude::*,
    sync::{
        atomic::{ordering::Relaxed, Atomic},
        Arc,
    },
};

/// Slots that the engines charged to it may hold together.
pub(crate) struct Quota {
    /// Slots charged now. Engines charge it without a common lock; a charge that passes the
    /// limit is undone, so two racing charges may both be refused near the limit, never both
    /// granted past it.
    used: Atomic<u64>,
    /// The [`Charge`]s alive on it: while 0 nobody can charge it but through its owner.
    charges: Atomic<u32>,
    /// Immutable after creation.
    limit: u64,
}

impl Quota {
    /// A quota of `limit` slots, nothing charged.
    pub(crate) fn new(limit: u64) -> Result<Arc<Self>> {
        Ok(Arc::new(
            Self {
                used: Atomic::new(0),
                charges: Atomic::new(0),
                limit,
            },
            GFP_KERNEL,
        )?)
    }

    /// Slots charged now.
    pub(crate) fn used(&self) -> u64 {
        self.used.load(Relaxed)
    }

    /// Whether a [`Charge`] is alive on it. Its owner creates charges with its own lock held,
    /// and may forget a quota that has none.
    pub(crate) fn in_use(&self) -> bool {
        self.charges.load(Relaxed) != 0
    }

    fn charge(&self, n: u64) -> Result {
        let before = self.used.fetch_add(n, Relaxed);
        if before.saturating_add(n) > self.limit {
            self.used.fetch_sub(n, Relaxed);
            return Err(ENOSPC);
        }
        Ok(())
    }

    fn refund(&self, n: u64) {
        self.used.fetch_sub(n, Relaxed);
    }
}

/// What one engine has charged to its quota, if it has one; given back when dropped.
pub(crate) struct Charge {
    quota: Option<Arc<Quota>>,
    /// Slots this engine charged. Atomic: tables grow with the engine lock dropped.
    charged: Atomic<u64>,
}

impl Charge {
    /// No quota: the engine's table is bounded only by its own `max_timers`.
    pub(crate) fn none() -> Self {
        Self {
            quota: None,
            charged: Atomic::new(0),
        }
    }

    /// The quota's slots charged now and its limit, if there is one.
    pub(crate) fn quota(&self) -> Option<(u64, u64)> {
        self.quota.as_ref().map(|q| (q.used(), q.limit))
    }

    /// A charge on `quota` (see [`Quota::in_use`] for who may call this).
    pub(crate) fn on(quota: Arc<Quota>) -> Self {
        quota.charges.fetch_add(1, Relaxed);
        Self {
            quota: Some(quota),
            charged: Atomic::new(0),
        }
    }

    /// Charges `n` more slots: `ENOSPC` past the quota.
    pub(super) fn take(&self, n: u64) -> Result {
        if let Some(q) = &self.quota {
            q.charge(n)?;
            self.charged.fetch_add(n, Relaxed);
        }
        Ok(())
    }

    /// Gives back `n` slots taken but not used (the chunk could not be allocated, or another
    /// thread grew the table first).
    pub(super) fn give_back(&self, n: u64) {
        if let Some(q) = &self.quota {
            self.charged.fetch_sub(n, Relaxed);
            q.refund(n);
        }
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        if let Some(q) = &self.quota {
            q.refund(self.charged.load(Relaxed));
            q.charges.fetch_sub(1, Relaxed);
        }
    }
}
