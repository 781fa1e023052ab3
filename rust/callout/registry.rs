// SPDX-License-Identifier: GPL-2.0

//! The callout locks a file created (`HRC_IOC_LOCK_CREATE`), by id.

use super::lock::{CalloutLock, LockKind};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

/// The most callout locks one file may create.
const MAX_LOCKS: usize = 256;

/// A file's callout locks. Few per file, so a list.
///
/// Lock order: its mutex is a leaf, taken in process context only, never with an engine lock
/// or a callout lock held by this code.
#[pin_data]
pub(crate) struct LockRegistry {
    /// (id, lock); ids are 1, 2, ... and never 0.
    #[pin]
    locks: Mutex<KVec<(u64, Arc<CalloutLock>)>>,
}

impl LockRegistry {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            locks <- new_mutex!(KVec::new()),
        })
    }

    /// The lock `id`: `ENOENT` if there is none.
    pub(crate) fn get(&self, id: u64) -> Result<Arc<CalloutLock>> {
        let locks = self.locks.lock();
        locks
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, l)| l.clone())
            .ok_or(ENOENT)
    }

    /// A new lock of `kind`: its id. `ENOSPC` with [`MAX_LOCKS`] locks.
    pub(crate) fn create(&self, kind: LockKind) -> Result<u64> {
        let lock = CalloutLock::new(kind)?;
        let mut locks = self.locks.lock();
        if locks.len() >= MAX_LOCKS {
            return Err(ENOSPC);
        }
        let id = locks.iter().map(|(i, _)| *i).max().unwrap_or(0) + 1;
        locks.push((id, lock), GFP_KERNEL_ACCOUNT)?;
        Ok(id)
    }

    /// Forgets lock `id`; callouts still associated with it keep it alive through their
    /// reference.
    pub(crate) fn destroy(&self, id: u64) -> Result {
        let mut locks = self.locks.lock();
        let i = locks.iter().position(|(i, _)| *i == id).ok_or(ENOENT)?;
        locks.remove(i)?;
        Ok(())
    }
}
