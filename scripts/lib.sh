# Shared helpers for hrcallout's scripts. Sourced, never run.
# shellcheck shell=bash

# Where built kernels, the kernel source and the private apt state live:
# outside the repo so a fresh clone reuses them and `git clean` never wipes them.
: "${HRC_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/hrcallout}"
export HRC_CACHE

HRC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export HRC_ROOT

# The kernel toolchain of the brief, from its one definition (scripts/toolchain.mk).
read -ra HRC_KMAKE_VARS < <(sed -n 's/^HRC_KMAKE_VARS := //p' "$HRC_ROOT/scripts/toolchain.mk")
LIBCLANG_PATH=$(sed -n 's/^LIBCLANG_PATH := //p' "$HRC_ROOT/scripts/toolchain.mk")
export LIBCLANG_PATH
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
note() { printf '    %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Copies the module's sources (Kbuild, include/, rust/) into the empty directory $1, without
# what a build in the repo left in rust/.
copy_module_source() {
	cp -r "$HRC_ROOT"/{Kbuild,include,rust} "$1/"
	find "$1/rust" \( -name '*.o' -o -name '.*.cmd' -o -name '*generated.rs' -o -name '*.rmeta' \) -delete
}

# Builds hrcallout.ko against kernel tree $1 in build/$2 (a copy of the sources, so the
# module built for the test kernel stays as it is), with the extra make variables that follow.
build_module_copy() {
	local kdir=$1 dir="$HRC_ROOT/build/$2"
	shift 2
	rm -rf "$dir" && mkdir -p "$dir"
	copy_module_source "$dir"
	make -s -C "$kdir" M="$dir" "${HRC_KMAKE_VARS[@]}" "$@" modules
}

# What a guest job needs, from a fresh machine: the toolchain, the cached test kernel (exported
# as KDIR), the module and the tools (make run, make soak).
build_for_guest() {
	scripts/setup-toolchain.sh
	KDIR=$(scripts/kernel.sh | tail -n1)
	export KDIR
	step "build: hrcallout.ko and the tools"
	make -s module KDIR="$KDIR"
	cargo build --release --locked -q
	mkdir -p build
}

# The benchmark module: against the benchmark kernel $1, with the benchmarks built in.
build_bench_module() {
	build_module_copy "$1" bench-module HRC_BENCH=1
}

# The ported C driver (samples/lapb) in build/$2, against kernel $1 and the module built in
# build/$3 (its Module.symvers).
build_sample_copy() {
	local kdir=$1 dir="$HRC_ROOT/build/$2" symvers="$HRC_ROOT/build/$3/Module.symvers"
	rm -rf "$dir" && mkdir -p "$dir"
	cp "$HRC_ROOT"/samples/lapb/{Kbuild,*.c,*.h} "$dir/"
	make -s -C "$kdir" M="$dir" "${HRC_KMAKE_VARS[@]}" KBUILD_EXTRA_SYMBOLS="$symvers" \
		ccflags-y="-I$HRC_ROOT/include" modules
}
