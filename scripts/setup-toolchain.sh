#!/usr/bin/env bash
# Installs what hrcallout needs to build a test kernel, the module, the tools,
# and to boot QEMU. Installs only what is missing; a second run says so.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DEBS=(rustc-web rust-web-src rust-web-clippy clang-19 lld-19 llvm-19 libclang-19-dev
	flex bison bc cpio libelf-dev libssl-dev kmod make xz-utils
	qemu-system-x86 busybox-static python3 gdb
	dkms mandoc man-db groff-base)

step "toolchain: checking Debian packages"
missing=()
for p in "${DEBS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	note "installing: ${missing[*]}"
	SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
	note "all Debian packages already installed"
fi

step "toolchain: checking bindgen-cli"
command -v cargo >/dev/null || die "cargo not found (install rustup's toolchain)"
if command -v bindgen >/dev/null; then
	note "bindgen already installed: $(bindgen --version)"
else
	note "installing bindgen-cli from crates.io"
	cargo install --locked --quiet bindgen-cli
fi

step "toolchain: ready"
