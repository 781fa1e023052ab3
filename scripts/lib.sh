# Shared helpers for hrcallout's scripts. Sourced, never run.
# shellcheck shell=bash

# Where built kernels, the kernel source and the private apt state live:
# outside the repo so a fresh clone reuses them and `git clean` never wipes them.
: "${HRC_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/hrcallout}"
export HRC_CACHE

HRC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export HRC_ROOT

# The kernel toolchain of the brief: clang-19 for C, Debian's rustc-web for
# Rust (the rustup toolchain on PATH has no rust-src).
HRC_KMAKE_VARS=(LLVM=-19 RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
	BINDGEN="$HOME/.cargo/bin/bindgen")
export LIBCLANG_PATH=/usr/lib/llvm-19/lib
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
note() { printf '    %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Builds hrcallout.ko against the benchmark kernel tree $1 in build/bench-module (a copy of
# the sources, so the module built for the test kernel stays as it is).
build_bench_module() {
	rm -rf "$HRC_ROOT/build/bench-module" && mkdir -p "$HRC_ROOT/build/bench-module"
	cp -r "$HRC_ROOT"/{Kbuild,include,rust} "$HRC_ROOT/build/bench-module/"
	rm -f "$HRC_ROOT"/build/bench-module/rust/*.o "$HRC_ROOT"/build/bench-module/rust/.*.cmd
	make -s -C "$1" M="$HRC_ROOT/build/bench-module" "${HRC_KMAKE_VARS[@]}" modules
}
