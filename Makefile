# SPDX-License-Identifier: GPL-2.0
# hrcallout: top-level entry points. `make help` lists them.
SHELL := /bin/bash
KDIR ?= $(shell scripts/kernel.sh --print 2>/dev/null)
include scripts/toolchain.mk
KMAKE_VARS := $(HRC_KMAKE_VARS)
export LIBCLANG_PATH
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: all module modules sample clippy tools kernel run check bench soak clean help fmt \
	install uninstall man rust-analyzer

# make install: for the kernel tree given as KDIR on the command line, else the running
# kernel's; PREFIX for the CLI, headers, man pages and completions; DESTDIR and
# INSTALL_MOD_PATH stage it elsewhere (INSTALL_MOD_PATH defaults to DESTDIR);
# INSTALL_UDEV=1 adds the udev rule that opens /dev/hrcallout to group hrcallout.
PREFIX ?= /usr/local
DESTDIR ?=
INSTALL_MOD_PATH ?= $(DESTDIR)
INSTALL_UDEV ?=
INSTALL_KDIR := $(if $(filter command line environment,$(origin KDIR)),$(KDIR),/lib/modules/$(shell uname -r)/build)
CLI_BIN := target/x86_64-unknown-linux-gnu/release/hrcallout
MAN_DIR := build/man

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

# hrcallout(4) from the header and docs/errno.md, hrcallout(1) and the shell completions
# from the CLI's own definitions.
man: tools
	scripts/man.sh $(MAN_DIR)

install: tools man
	@test -d "$(INSTALL_KDIR)" || { echo "no kernel tree at $(INSTALL_KDIR): give KDIR=" >&2; exit 1; }
	$(MAKE) -C $(INSTALL_KDIR) M=$(CURDIR) $(KMAKE_VARS) modules
	$(MAKE) -C $(INSTALL_KDIR) M=$(CURDIR) $(KMAKE_VARS) INSTALL_MOD_PATH=$(abspath $(INSTALL_MOD_PATH)) \
		INSTALL_MOD_DIR=extra DEPMOD=true modules_install
	depmod $(if $(INSTALL_MOD_PATH),-b $(abspath $(INSTALL_MOD_PATH))) $$(cat $(INSTALL_KDIR)/include/config/kernel.release)
	install -D -m 755 $(CLI_BIN) $(DESTDIR)$(PREFIX)/bin/hrcallout
	install -D -m 644 include/uapi/linux/hrcallout.h $(DESTDIR)$(PREFIX)/include/linux/hrcallout.h
	install -d $(DESTDIR)$(PREFIX)/include/hrcallout
	install -m 644 include/hrcallout/*.h $(DESTDIR)$(PREFIX)/include/hrcallout/
	install -D -m 644 Module.symvers $(DESTDIR)$(PREFIX)/share/hrcallout/Module.symvers
	install -D -m 644 $(MAN_DIR)/hrcallout.4 $(DESTDIR)$(PREFIX)/share/man/man4/hrcallout.4
	install -d $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 644 $(MAN_DIR)/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -D -m 644 $(MAN_DIR)/hrcallout.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/hrcallout
	install -D -m 644 $(MAN_DIR)/_hrcallout $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_hrcallout
	install -D -m 644 $(MAN_DIR)/hrcallout.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/hrcallout.fish
	$(if $(INSTALL_UDEV),install -D -m 644 packaging/70-hrcallout.rules $(DESTDIR)/etc/udev/rules.d/70-hrcallout.rules)

uninstall:
	rm -f $(INSTALL_MOD_PATH)/lib/modules/$$(cat $(INSTALL_KDIR)/include/config/kernel.release)/extra/hrcallout.ko
	depmod $(if $(INSTALL_MOD_PATH),-b $(abspath $(INSTALL_MOD_PATH))) $$(cat $(INSTALL_KDIR)/include/config/kernel.release)
	rm -f $(DESTDIR)$(PREFIX)/bin/hrcallout $(DESTDIR)$(PREFIX)/include/linux/hrcallout.h
	rm -rf $(DESTDIR)$(PREFIX)/include/hrcallout $(DESTDIR)$(PREFIX)/share/hrcallout
	rm -f $(DESTDIR)$(PREFIX)/share/man/man4/hrcallout.4 $(DESTDIR)$(PREFIX)/share/man/man1/hrcallout.1
	rm -f $(DESTDIR)$(PREFIX)/share/man/man1/hrcallout-*.1
	rm -f $(DESTDIR)$(PREFIX)/share/bash-completion/completions/hrcallout
	rm -f $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_hrcallout
	rm -f $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/hrcallout.fish
	rm -f $(DESTDIR)/etc/udev/rules.d/70-hrcallout.rules

# rust-project.json for rust-analyzer: the kernel's own generator writes the kernel crates;
# scripts/rust-analyzer.py adds the module's crate, which the generator cannot find.
rust-analyzer:
	@test -n "$(KDIR)" || { echo "no test kernel: run 'make kernel' first" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) $(KMAKE_VARS) rust-analyzer
	python3 scripts/rust-analyzer.py rust-project.json

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
	@echo "make install  module (modules_install + depmod), CLI, headers, man pages, completions;"
	@echo "              KDIR= (default: the running kernel's), PREFIX=, DESTDIR=, INSTALL_MOD_PATH=,"
	@echo "              INSTALL_UDEV=1 for the group rule; make uninstall reverses it"
	@echo "make man      hrcallout(4), hrcallout(1) and the shell completions in build/man"
	@echo "make rust-analyzer  rust-project.json for the module, against KDIR"
	@echo "make clean    remove build outputs"
