#!/bin/sh
# DKMS's build command (dkms.conf MAKE[0] and CLEAN): the external-module build of the copy
# DKMS made, with the toolchain of scripts/toolchain.mk. Usage: dkms-make.sh KDIR DIR TARGET
set -eu
kdir=$1 dir=$2 target=$3
mk="$dir/scripts/toolchain.mk"
vars=$(sed -n 's/^HRC_KMAKE_VARS := //p' "$mk")
LIBCLANG_PATH=$(sed -n 's/^LIBCLANG_PATH := //p' "$mk")
PATH="$HOME/.cargo/bin:$PATH"
export LIBCLANG_PATH PATH
# shellcheck disable=SC2086 # the toolchain's variables, one word each
exec make -C "$kdir" M="$dir" $vars "$target"
