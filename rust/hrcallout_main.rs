// SPDX-License-Identifier: GPL-2.0

//! hrcallout: classic timer APIs on Linux hrtimers.
//!
//! Personalities ([`streams`], [`callout`], [`itimer`]) are thin layers over one [`engine`]; [`device`] is
//! the `/dev/hrcallout` transport. The ioctl ABI is `include/uapi/linux/hrcallout.h`.

#![crate_name = "hrcallout"]

use kernel::prelude::*;

mod bench;
pub mod callout;
mod device;
mod engine;
mod itimer;
pub mod streams;
mod timer;
mod timerqueue;
mod uapi;

#[cfg(CONFIG_KUNIT = "y")]
mod tests;

module! {
    type: HrCallout,
    name: "hrcallout",
    authors: ["hrcallout developers"],
    description: "STREAMS timeout, DragonFly callout, Mach/QNX/mTCP timers on hrtimers",
    license: "GPL",
    params: {
        max_timers: u32 {
            default: 1048576,
            description: "Live timer objects per open file (unread one-shot records count)",
        },
        qlimit: u32 {
            default: 1024,
            description: "Default Mach queue limit of a file's event queue",
        },
        enable_bench: bool {
            default: false,
            description: "Allow HRC_IOC_BENCH (in-kernel benchmarks, seconds of CPU each)",
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

/// The default Mach queue limit of a new file.
pub(crate) fn default_qlimit() -> u32 {
    module_parameters::qlimit.value().max(1)
}

#[pin_data(PinnedDrop)]
struct HrCallout {
    #[pin]
    _dev: device::Registration,
}

impl kernel::InPlaceModule for HrCallout {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        callout::init_giant();
        bench::init();
        streams::init_global();
        // In-kernel `timeout()` callbacks run in the expiry pass, in soft irq as STREAMS expects.
        let kernel_engine = engine::Engine::new(
            engine::HrBackend,
            max_timers(),
            default_qlimit(),
            timer::Expiry::Soft,
        );
        let installed = kernel_engine.map(|e| streams::install(Some(e)));
        try_pin_init!(Self {
            _dev <- {
                installed?;
                device::Registration::register()
            },
        })
    }
}

#[pinned_drop]
impl PinnedDrop for HrCallout {
    fn drop(self: Pin<&mut Self>) {
        // Files hold a module reference, so none is open now. In-kernel users must have
        // cancelled their timeouts; shut the kernel engine down anyway so nothing of ours runs
        // after unload.
        if let Some(e) = streams::install(None) {
            e.shutdown();
        }
    }
}
