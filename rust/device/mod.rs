// SPDX-License-Identifier: GPL-2.0

//! `/dev/hrcallout`: the misc device, a transport over the personalities.
//!
//! Each open file is a [`Context`]: its own engine (timers, ids, event queue) and its own
//! callout locks. The ioctls (`ioctl.rs`) read a UAPI struct, check its reserved fields, and
//! hand it to its personality's decoder; `read` (`read.rs`) copies records out; `poll` reports
//! them; `/proc/<pid>/fdinfo` (`fdinfo.rs`) shows what the file holds. No timer semantics live
//! here.
//!
//! Why not 7.3's [`kernel::miscdevice::MiscDevice`]: it has no `poll` hook, and its
//! `read_iter` cannot see `O_NONBLOCK`. So this module owns the whole `file_operations`
//! (`fops.rs`, as binder does) and registers a plain `struct miscdevice` with it
//! ([`Registration`]); nothing depends on the layout of the kernel crate's types. The unsafe
//! code of the transport is the fops shims and the registration, and nothing else.

mod fdinfo;
mod fops;
mod ioctl;
mod read;
mod users;

pub(crate) use users::{clear as clear_users, init as init_users};

#[cfg(hrc_kunit)]
pub(crate) use read::encode;

use crate::callout::registry::LockRegistry;
use crate::engine::{Engine, Expiry, Timebase};
use crate::itimer::suspend::Threads;
use crate::HrEngine;
use kernel::{bindings, prelude::*, sync::Arc, types::Opaque};

/// Per-file state.
#[pin_data]
pub(crate) struct Context {
    /// The file's engine. Its lock is the engine's (see `engine`).
    pub(crate) engine: Arc<HrEngine>,
    /// The callout locks created on this file.
    #[pin]
    pub(crate) locks: LockRegistry,
    /// The threads this file's Mach timers suspend.
    #[pin]
    pub(crate) threads: Threads,
}

impl Context {
    /// The state of a new file.
    fn new() -> Result<Arc<Self>> {
        // A file's expiries only queue records and wake readers or the executor: hard irq.
        // Its table is charged to the opener's per-user quota.
        let engine = Engine::new_charged(
            Timebase::real(),
            crate::max_timers(),
            crate::default_qlimit(),
            Expiry::Irq,
            users::charge_for_opener()?,
        )?;
        let ctx = Arc::pin_init(
            try_pin_init!(Context {
                engine,
                locks <- LockRegistry::new(),
                threads <- Threads::new(),
            }? Error),
            GFP_KERNEL_ACCOUNT,
        )?;
        crate::clock_set::register(&ctx.engine)?;
        Ok(ctx)
    }

    /// The file is being released: cancel every timer and wait for running callbacks; the
    /// state is freed with the last reference.
    fn release(&self) {
        crate::clock_set::forget(&self.engine);
        self.engine.shutdown();
        // No timer suspends them any more.
        self.threads.release();
    }
}

/// The misc minor of `/dev/hrcallout`: fixed, so that the module's `devname:` and
/// `char-major-10-246` aliases (`hrcallout_main.rs`) can load it on first open. 246 is in the
/// range `Documentation/admin-guide/devices.txt` reserves for local use (243-254).
const MISC_MINOR: i32 = 246;

/// The registered misc device, using [`fops::FOPS`].
///
/// # Invariants
///
/// `inner` holds a `struct miscdevice` registered with `misc_register` for as long as this
/// value lives; it is deregistered exactly once, in `drop`.
#[pin_data(PinnedDrop)]
pub(crate) struct Registration {
    #[pin]
    inner: Opaque<bindings::miscdevice>,
}

// SAFETY: `misc_deregister` may be called from any thread.
unsafe impl Send for Registration {}
// SAFETY: no `&self` method exists.
unsafe impl Sync for Registration {}

impl Registration {
    /// Registers `/dev/hrcallout`, mode 0666, or 0600 with the `root_only` parameter.
    pub(crate) fn register() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            inner <- Opaque::try_ffi_init(move |slot: *mut bindings::miscdevice| {
                let mut misc: bindings::miscdevice = pin_init::zeroed();
                misc.minor = MISC_MINOR;
                misc.name = c"hrcallout".as_char_ptr();
                misc.fops = fops::table();
                misc.mode = crate::device_mode();
                // SAFETY: the initializer may write to `slot`.
                unsafe { slot.write(misc) };
                // SAFETY: `slot` holds a filled miscdevice in pinned memory that lives until
                // `drop` deregisters it; its fops are `'static` and only ever see the
                // `private_data` their own `open` stored.
                // INVARIANT: on success the device is registered.
                kernel::error::to_result(unsafe { bindings::misc_register(slot) })
            }),
        })
    }
}

#[pinned_drop]
impl PinnedDrop for Registration {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: registered, by the type invariant.
        unsafe { bindings::misc_deregister(self.inner.get()) };
    }
}
