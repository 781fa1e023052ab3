#!/usr/bin/env bash
# Fetches the newest linux-source-7.3 from Debian trixie-backports through a
# private apt state (the system's sources are never touched), configures
# tinyconfig + kernel/hrcallout.config, builds it with the brief's toolchain,
# and caches the built tree outside the repo, keyed by version + fragment hash.
# Prints the path of the built tree (KDIR) on stdout.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PRINT_ONLY=0
if [ "${1:-}" = --print ]; then PRINT_ONLY=1; shift; fi
FRAGMENT="${1:-$HRC_ROOT/kernel/hrcallout.config}"
frag_hash=$(sha256sum <"$FRAGMENT" | cut -c1-12)

# --print: the newest cached build for this fragment, without network or build.
if [ $PRINT_ONLY = 1 ]; then
	ls -d "$HRC_CACHE"/kernels/*-"$frag_hash"/.hrcallout-built 2>/dev/null | sort -V | tail -n1 | xargs -r dirname
	exit 0
fi
APT_DIR="$HRC_CACHE/apt"
SRC_DIR="$HRC_CACHE/src"
mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/archives/partial" "$SRC_DIR"

apt_private=(-o Dir::Etc::sourcelist="$APT_DIR/sources.list" -o Dir::Etc::sourceparts=-
	-o Dir::State::Lists="$APT_DIR/lists" -o Dir::Cache::Archives="$APT_DIR/archives"
	-o Dir::Cache="$APT_DIR/cache" -o APT::Get::List-Cleanup=0 -o APT::Sandbox::User=root -qq)
mkdir -p "$APT_DIR/cache"

step "kernel: finding the newest linux-source-7.3 in trixie-backports"
cat >"$APT_DIR/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie-backports main
SRC
# A cached lists dir younger than a day is good enough to pick a version.
if [ -z "$(find "$APT_DIR/lists" -name '*trixie-backports*Packages*' -mtime -1 2>/dev/null)" ]; then
	apt-get "${apt_private[@]}" update
fi
version=$(apt-cache "${apt_private[@]}" madison linux-source-7.3 | awk '{print $3}' | sort -V | tail -n1)
[ -n "$version" ] || die "linux-source-7.3 not found in trixie-backports"
note "linux-source-7.3 $version"

deb=$(ls "$SRC_DIR"/linux-source-7.3_"${version//:/%3a}"_all.deb 2>/dev/null || true)
if [ -z "$deb" ]; then
	step "kernel: downloading linux-source-7.3 $version"
	(cd "$SRC_DIR" && apt-get "${apt_private[@]}" download "linux-source-7.3=$version")
	deb=$(ls "$SRC_DIR"/linux-source-7.3_*"${version##*:}"*_all.deb | tail -n1)
fi

KDIR="$HRC_CACHE/kernels/${version//[:~+]/_}-$frag_hash"
if [ -f "$KDIR/.hrcallout-built" ]; then
	step "kernel: cached build at $KDIR"
	echo "$KDIR"
	exit 0
fi

tree="$SRC_DIR/tree-${version//[:~+]/_}"
if [ ! -f "$tree/Makefile" ]; then
	step "kernel: unpacking the source"
	rm -rf "$tree.tmp" && mkdir -p "$tree.tmp"
	dpkg-deb -x "$deb" "$tree.tmp/deb"
	tarball=$(ls "$tree.tmp"/deb/usr/src/linux-source-7.3*.tar.* | head -n1)
	tar -xf "$tarball" -C "$tree.tmp"
	src=$(find "$tree.tmp" -mindepth 1 -maxdepth 1 -type d -name 'linux-source-*')
	rm -rf "$tree" && mv "$src" "$tree" && rm -rf "$tree.tmp"
fi

step "kernel: configuring tinyconfig + $(basename "$FRAGMENT") in $KDIR"
rm -rf "$KDIR" && mkdir -p "$KDIR"
kmake=(make -C "$tree" O="$KDIR" ARCH=x86_64 "${HRC_KMAKE_VARS[@]}" -j"$(nproc)")
"${kmake[@]}" -s tinyconfig
"$tree/scripts/kconfig/merge_config.sh" -m -O "$KDIR" "$KDIR/.config" "$FRAGMENT" >/dev/null
"${kmake[@]}" -s olddefconfig
# Every line of the fragment must have survived olddefconfig: a silently
# dropped option (a missing dependency) would make tests lie.
bad=0
while IFS= read -r line; do
	case "$line" in CONFIG_*=n) opt=${line%%=*}
		grep -q "^$opt=y" "$KDIR/.config" && { note "not honoured: $line"; bad=1; } ;;
	CONFIG_*) grep -qx "$line" "$KDIR/.config" || { note "not honoured: $line"; bad=1; } ;; esac
done <"$FRAGMENT"
[ $bad = 0 ] || die "the config fragment was not fully applied (see above)"

step "kernel: building (about 10 minutes on 2 cores, once)"
start=$(date +%s)
# Progress: kbuild's quiet command lines ("  CC      kernel/fork.o") are counted, not shown;
# everything else (warnings, errors) passes through. On a terminal the count is refreshed in
# place; otherwise (CI) a line is printed every 30 s. With the object count of an earlier
# build of this fragment (any kernel version) it is also a percentage.
count_file="$HRC_CACHE/kernels/.objects-$frag_hash"
total=$(cat "$count_file" 2>/dev/null || echo 0)
"${kmake[@]}" 2>&1 | awk -v total="$total" -v tty="$([ -t 2 ] && echo 1 || echo 0)" -v t0="$(date +%s)" '
	function show(final,   pct, el) {
		el = systime() - t0
		pct = total > 0 ? sprintf(" (%d%%)", n * 100 / total > 99 && !final ? 99 : n * 100 / total) : ""
		if (tty) printf "\r    objects built: %d%s, %d s ", n, pct, el > "/dev/stderr"
		else printf "    objects built: %d%s, %d s\n", n, pct, el > "/dev/stderr"
		last = systime()
	}
	/^  [A-Z][A-Z0-9_-]* +[^ ]/ { n++; if (tty || systime() - last >= 30) show(0); next }
	/^make(\[[0-9]+\])?: (Entering|Leaving) directory/ { next }
	{ if (tty) printf "\n" > "/dev/stderr"; print > "/dev/stderr" }
	END { show(1); if (tty) printf "\n" > "/dev/stderr"; print n > "/dev/stdout" }
' >"$KDIR/.objects"
cp "$KDIR/.objects" "$count_file"
# The external-module build needs the tree's source next to the output.
ln -sfn "$tree" "$KDIR/source-tree"
touch "$KDIR/.hrcallout-built"
note "built in $(($(date +%s) - start)) s"
echo "$KDIR"
