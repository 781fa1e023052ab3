#!/usr/bin/env bash
# Boots the cached test kernel in QEMU (TCG) with an initramfs holding busybox, hrcallout.ko,
# the userspace tools and JOB (a shell script run as /job.sh), plus any extra files given.
# Usage: scripts/guest.sh JOB LOG [TIMEOUT_S] [FILE...]
# Prints the console to stdout and LOG; exits with the job's status (124 on timeout).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
job=$1 log=$2 limit=${3:-1800}
shift 3 || shift $#
KDIR=${KDIR:-$("$HRC_ROOT/scripts/kernel.sh" --print)}
[ -n "$KDIR" ] || die "no cached test kernel: run scripts/kernel.sh"
ko="${HRC_KO:-$HRC_ROOT/hrcallout.ko}"
[ -f "$ko" ] || die "hrcallout.ko not built"
bin="$HRC_ROOT/target/x86_64-unknown-linux-gnu/release"

step "guest: building the initramfs"
root=$(mktemp -d) && trap 'rm -rf "$root"' EXIT
chmod 755 "$root" # the guest's /: other users may traverse it (mktemp makes it 0700)
mkdir -p "$root"/{bin,proc,sys,dev,tmp,root}
cp /bin/busybox "$root/bin/busybox"
cp "$HRC_ROOT/scripts/guest/init" "$root/init" && chmod +x "$root/init"
cp "$job" "$root/job.sh"
cp "$ko" "$root/hrcallout.ko"
for b in hrcallout hrc-tests hrc-fuzz; do [ -x "$bin/$b" ] && cp "$bin/$b" "$root/bin/"; done
for f in "$@"; do cp "$f" "$root/"; done
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$root.cpio.gz"

step "guest: booting QEMU (TCG, 2 CPUs; hard limit ${limit}s)"
set +e
# shellcheck disable=SC2086 # HRC_QEMU_OPTS is a list of options.
timeout --kill-after=10 "$limit" qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m "${HRC_MEM:-1024}" ${HRC_QEMU_OPTS:-} \
	-nographic -no-reboot -monitor none -serial stdio \
	-kernel "$KDIR/arch/x86/boot/bzImage" -initrd "$root.cpio.gz" \
	-append "console=ttyS0 panic=-1 oops=panic rdinit=/init loglevel=4 log_buf_len=16M ${HRC_APPEND:-kunit.enable=1}" \
	-device isa-debug-exit,iobase=0xf4,iosize=0x04 </dev/null 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
rm -f "$root.cpio.gz"
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	echo "error: the guest did not finish within ${limit}s (killed); see $log" >&2
	exit 124
fi
status=$(sed -n 's/^HRC-EXIT \([0-9]*\).*/\1/p' "$log" | tail -n1)
if [ -z "$status" ]; then
	echo "error: the guest ended without reporting a status (panic or crash?); see $log" >&2
	exit 125
fi
exit "$status"
