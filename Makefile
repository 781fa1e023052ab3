# SPDX-License-Identifier: GPL-2.0
# hrcallout: top-level entry points. `make help` lists them.
SHELL := /bin/bash
KDIR ?= $(shell scripts/kernel.sh --print 2>/dev/null)
include scripts/toolchain.mk
KMAKE_VARS := $(HRC_KMAKE_VARS)
export LIBCLANG_PATH
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: all module modules sample clippy tools kernel run check bench soak clean help fmt

all: module sample tools

module modules:
	@test -n "$(KDIR)" || { echo "no test kernel: run 'make kernel' first" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) $(KMAKE_VARS) modules

# The ported C driver (samples/lapb), against the module's exports.
sample: module
	$(MAKE) -C $(KDIR) M=$(CURDIR)/samples/lapb $(KMAKE_VARS) KBUILD_EXTRA_SYMBOLS=$(CURDIR)/Module.symvers modules

clippy:
	$(MAKE) -C $(KDIR) M=$(CURDIR) $(KMAKE_VARS) CLIPPY=1 modules

tools:
	cargo build --release --locked

kernel:
	scripts/kernel.sh

run:
	scripts/run.sh

check:
	scripts/test.sh

bench:
	scripts/bench.sh

soak:
	scripts/soak.sh

fmt:
	rustfmt --edition 2021 --config-path $(KDIR)/source-tree/.rustfmt.toml $$(find rust -name '*.rs' ! -name uapi_generated.rs)
	cargo fmt

clean:
	-test -n "$(KDIR)" && $(MAKE) -C $(KDIR) M=$(CURDIR) $(KMAKE_VARS) clean
	-test -n "$(KDIR)" && $(MAKE) -C $(KDIR) M=$(CURDIR)/samples/lapb $(KMAKE_VARS) clean
	rm -f rust/uapi_generated.rs
	cargo clean

help:
	@echo "make kernel   fetch, configure and build the cached test kernel"
	@echo "make          build hrcallout.ko and the userspace tools"
	@echo "make sample   build the ported C driver samples/lapb (hrc_lapb.ko)"
	@echo "make clippy   build the module with CLIPPY=1"
	@echo "make tools    build the userspace crates (CLI, tests)"
	@echo "make run      boot QEMU, insmod, show timers firing"
	@echo "make check    the whole test suite (KUnit + guest tests), ends with 'N passed, N failed'"
	@echo "make bench    benchmark kernel + QEMU (-icount and TCG): bench/results.{json,md}, plots"
	@echo "make soak     fuzz + stress on the sanitizer kernel for SOAK_SECS (default 3600)"
	@echo "make clean    remove build outputs"
