// SPDX-License-Identifier: GPL-2.0

//! hrcallout: classic timer APIs on Linux hrtimers.
//!
//! One [`engine`] that knows no personality; thin personalities that own their state and
//! their ioctl decoders ([`streams`], [`callout`], [`itimer`] for QNX and Mach, [`mtcp`]); the
//! typed in-kernel Rust API ([`kernel_api`]) and the C API for other modules ([`c_api`], declared
//! in `include/hrcallout/`); `/dev/hrcallout` as a transport only ([`device`]). Ticks and
//! nanoseconds convert in [`ticks`]. The ioctl ABI is `include/uapi/linux/hrcallout.h`
//! ([`uapi`]). [`clock_set`] tells files when `CLOCK_REALTIME` is set. Dependencies run one way: device and C API → personalities → engine; the engine
//! imports none of the others.
//!
//! # Locking
//!
//! Every lock of the module, what it guards, and how they nest (outermost first; a lock is
//! only ever taken while holding locks above it in this list):
//!
//! 1. A callout's lock: a [`callout::CalloutLock`] (mutex or spinlock), a C driver's own mutex
//!    or spinlock (`callout::ForeignLock`, taken with interrupts off), or the module-wide lock
//!    of non-MP callouts (`callout::lock::GIANT`, a mutex, initialised in module init).
//!    Guards nothing of ours: the executor holds it around the callback, so that a
//!    `callout_stop` made under it prevents the run. Each records its holder (an atomic,
//!    written only by the holder) for `stop_sync`'s "held by the caller" test. Never two at
//!    once.
//! 2. A file's lock registry (`callout::registry::LockRegistry`, a mutex): the file's list of
//!    callout locks. Leaf; process context. Beside it, two module-wide mutexes, process
//!    context only: the per-user quotas (`device::users::USERS`: the users with a file, at
//!    open; leaf) and the files told when the clock is set (`clock_set::FILES`: taken at open,
//!    at release and by the clock-set work item, which takes engine locks under it).
//! 3. No lock: the kernel engines (one per CPU) are published once through an atomic pointer
//!    (`kernel_api::ENGINES`), so CPUs share no lock to reach theirs. Beside them, the in-kernel
//!    virtual clock's slot (`kernel_api::Engines::virtual_clock`, a `SpinLockIrq`): which
//!    engine, if any, is the virtual clock's; leaf, held only to clone or swap that reference,
//!    in any context (a lookup by a virtual id, or by its owner arming a timeout).
//! 4. An engine's lock (`engine::Engine::inner`, a `SpinLockIrq`, also taken in hard irq):
//!    everything of one engine — slots, objects (including a callout's state), timer queues,
//!    hrtimer state, event queue, fired list. Below it only the hrtimer core's base lock
//!    (starting an hrtimer), the wait queues of the engine's condition variables (`readers`:
//!    readers and poll, waited on with the engine lock; `done`: `stop_sync`, likewise), and the
//!    workqueue's pool lock (kicking an executor lane) and the irq-work queue of another CPU
//!    (starting a per-CPU engine's hrtimers there). Dropped around inline callbacks, executor
//!    jobs, table growth and teardown's waits.
//! 5. The fake clock's lock (`engine::fake`, KUnit only, a `SpinLockIrq`): its time and
//!    started timers; taken under the engine lock by the backend calls, leaf.
//! 6. The benchmarks' lock (`bench::BENCH_LOCK`, a mutex, benchmark builds only): one
//!    benchmark at a time; taken in process context before anything else.

#![crate_name = "hrcallout"]

use kernel::prelude::*;

#[cfg(hrc_bench)]
mod bench;
pub mod c_api;
mod callout;
mod clock_set;
mod device;
mod engine;
mod itimer;
pub mod kernel_api;
#[cfg(hrc_kunit)]
mod kunit;
mod mtcp;
mod streams;
pub mod ticks;
mod uapi;
mod virtual_time;

/// The engine of a file: real hrtimers or virtual time (`Timebase`), callouts on its executor.
pub(crate) type HrEngine = engine::Engine<engine::Timebase, callout::Callouts>;

module! {
    type: HrCallout,
    name: "hrcallout",
    authors: ["hrcallout developers"],
    description: "STREAMS timeout, DragonFly callout, Mach/QNX/mTCP timers on hrtimers",
    license: "GPL",
    // /dev/hrcallout is misc minor MISC_MINOR (see `device`): udev's static nodes and the
    // kernel's char-major request load the module on first open.
    alias: ["devname:hrcallout", "char-major-10-246"],
    params: {
        max_timers: u32 {
            default: 1048576,
            description: "Live timer objects per open file, in objects (unread records count; 1..4194304)",
        },
        max_user_timers: u32 {
            default: 4194304,
            description: "Slots the files one user opened may hold together, in slots (openers with CAP_SYS_RESOURCE or CAP_SYS_ADMIN: no limit)",
        },
        qlimit: u32 {
            default: 1024,
            description: "Default queue limit of a file's Mach and pulse records, in records (1..max_timers)",
        },
        root_only: bool {
            default: false,
            description: "Create /dev/hrcallout mode 0600 (root only) instead of 0666, a boolean",
        },
        enable_bench: bool {
            default: false,
            description: "Allow HRC_IOC_BENCH, a boolean (benchmark builds only; seconds of CPU per call)",
        },
    },
}

/// The per-file cap on live timer objects.
pub(crate) fn max_timers() -> u32 {
    module_parameters::max_timers
        .value()
        .clamp(1, engine::MAX_SLOTS)
}

/// Whether `HRC_IOC_BENCH` is allowed.
pub(crate) fn bench_enabled() -> bool {
    module_parameters::enable_bench.value()
}

/// The per-user cap on slots, over all the files a user opened (`device/users.rs`).
pub(crate) fn max_user_timers() -> u32 {
    module_parameters::max_user_timers.value()
}

/// The mode `/dev/hrcallout` is created with: 0666, since every user is bounded (per-file and
/// per-user limits, bounded hard-irq passes, ids that name no address and no other file's
/// timers), or 0600 with `root_only`.
pub(crate) fn device_mode() -> u16 {
    if module_parameters::root_only.value() {
        0o600
    } else {
        0o666
    }
}

/// The default Mach queue limit of a new file.
pub(crate) fn default_qlimit() -> u32 {
    module_parameters::qlimit.value().max(1)
}

/// The module: the device, the clock-set hook and the kernel engine. Dropped in declaration
/// order: the device is gone (no new files; open ones pin the module) before the hook stops
/// and the kernel engine shuts down.
#[pin_data]
struct HrCallout {
    #[pin]
    _dev: device::Registration,
    _clock_set: clock_set::Hook,
    _users: UsersRegistry,
    _kernel_api: kernel_api::KernelApi,
}

/// Empties the per-user registry at unload (`device/users.rs`), once no file is left.
struct UsersRegistry;

impl Drop for UsersRegistry {
    fn drop(&mut self) {
        device::clear_users();
    }
}

impl kernel::InPlaceModule for HrCallout {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        callout::lock::init_giant();
        device::init_users();
        clock_set::init();
        #[cfg(hrc_bench)]
        bench::init();
        // The kernel engine first: if the device cannot be registered, it is dropped again.
        try_pin_init!(Self {
            _kernel_api: kernel_api::KernelApi::new()?,
            _clock_set: clock_set::Hook::start()?,
            _users: UsersRegistry,
            _dev <- device::Registration::register(),
        })
    }
}
