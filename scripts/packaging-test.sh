#!/usr/bin/env bash
# The install, DKMS, man page, modinfo and editor checks of `make check`, on the host, against
# the test kernel KDIR (which is not the running kernel, so everything is staged):
#  - make install into a staging root, the tree it leaves, make uninstall;
#  - a real DKMS build of the module for KDIR, in a private DKMS tree;
#  - the man pages, linted (mandoc -Tlint and man --warnings);
#  - modinfo: description, license, aliases, every parameter with its description as the
#    README's table has it;
#  - make rust-analyzer: rust-project.json holds the module's crate and the kernel crate.
# Prints one "PASS name" or "FAIL name" line per check; leaves OUT/installed-modules.tar (the
# staged /lib/modules) for the guest's modprobe test. Usage: packaging-test.sh KDIR OUT
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$HRC_ROOT"
KDIR=$1 OUT=$2
ok() { echo "PASS $*"; }
bad() { echo "FAIL $*"; }
mkdir -p "$OUT"
rel=$(cat "$KDIR/include/config/kernel.release")
stage="$OUT/stage"
rm -rf "$stage"

# 1. make install / uninstall into a staging root.
if make -s install KDIR="$KDIR" DESTDIR="$stage" PREFIX=/usr INSTALL_UDEV=1 >"$OUT/install.log" 2>&1; then
	ok "make install (staged)"
else
	bad "make install (staged)"; tail -20 "$OUT/install.log"
fi
want=(lib/modules/"$rel"/extra/hrcallout.ko usr/bin/hrcallout usr/include/linux/hrcallout.h
	usr/include/hrcallout/callout.h usr/include/hrcallout/ddi.h usr/share/hrcallout/Module.symvers
	usr/share/man/man4/hrcallout.4 usr/share/man/man1/hrcallout.1
	usr/share/man/man1/hrcallout-timer-create.1 	usr/share/bash-completion/completions/hrcallout
	usr/share/zsh/site-functions/_hrcallout usr/share/fish/vendor_completions.d/hrcallout.fish
	etc/udev/rules.d/70-hrcallout.rules)
missing=0
for f in "${want[@]}"; do [ -e "$stage/$f" ] || { echo "    missing: $f"; missing=1; }; done
[ $missing = 0 ] && ok "install tree complete (${#want[@]} paths)" || bad "install tree complete"
grep -q "^extra/hrcallout.ko:" "$stage/lib/modules/$rel/modules.dep" 2>/dev/null &&
	ok "depmod ran on the staged tree" || bad "depmod ran on the staged tree"
grep -q "^hrcallout hrcallout c10:246" "$stage/lib/modules/$rel/modules.devname" 2>/dev/null &&
	ok "modules.devname names /dev/hrcallout (autoload on open)" ||
	bad "modules.devname names /dev/hrcallout (autoload on open)"
tar -C "$stage" -cf "$OUT/installed-modules.tar" lib/modules
if make -s uninstall KDIR="$KDIR" DESTDIR="$stage" PREFIX=/usr >>"$OUT/install.log" 2>&1 &&
	[ -z "$(find "$stage" -type f ! -path "*/lib/modules/$rel/modules.*")" ]; then
	ok "make uninstall leaves nothing but depmod's indexes"
else
	bad "make uninstall leaves nothing but depmod's indexes"; find "$stage" -type f | head
fi

# 2. DKMS: a real build for KDIR, in a private tree (the system's DKMS state is untouched).
dk="$OUT/dkms"
rm -rf "$dk" && mkdir -p "$dk/tree" "$dk/src/hrcallout-0.1.0/scripts" "$dk/install"
copy_module_source "$dk/src/hrcallout-0.1.0"
cp dkms.conf "$dk/src/hrcallout-0.1.0/"
cp scripts/toolchain.mk scripts/dkms-make.sh "$dk/src/hrcallout-0.1.0/scripts/"
dkms_args=(--dkmstree "$dk/tree" --sourcetree "$dk/src" --installtree "$dk/install")
if dkms "${dkms_args[@]}" build -m hrcallout -v 0.1.0 -k "$rel" --kernelsourcedir "$KDIR" \
	>"$OUT/dkms.log" 2>&1 && dkms "${dkms_args[@]}" status 2>/dev/null | grep -q "hrcallout/0.1.0, $rel, x86_64: built"; then
	ok "dkms build for $rel"
else
	bad "dkms build for $rel"; tail -20 "$OUT/dkms.log"; tail -20 "$dk"/tree/hrcallout/0.1.0/build/make.log 2>/dev/null
fi
ko=$(find "$dk/tree" -name hrcallout.ko | head -n1)
[ -n "$ko" ] && modinfo -F vermagic "$ko" | grep -q "^$rel " &&
	ok "dkms module's vermagic is $rel" || bad "dkms module's vermagic is $rel"

# 3. Man pages: generated (make man), and lint-clean.
if make -s man >"$OUT/man.log" 2>&1; then ok "make man"; else bad "make man"; cat "$OUT/man.log"; fi
lint=0
for f in build/man/*.[14]; do
	mandoc -Tlint -Wwarning "$f" >>"$OUT/man-lint.log" 2>&1 || lint=1
	LC_ALL=C.UTF-8 man --warnings -l "$f" 2>>"$OUT/man-lint.log" >/dev/null
done
[ $lint = 0 ] && ! [ -s "$OUT/man-lint.log" ] && ok "man pages lint-clean ($(ls build/man/*.[14] | wc -l) pages)" ||
	{ bad "man pages lint-clean"; head -20 "$OUT/man-lint.log"; }
for shell in bash zsh fish; do
	case $shell in bash) f=build/man/hrcallout.bash ;; zsh) f=build/man/_hrcallout ;; fish) f=build/man/hrcallout.fish ;; esac
	grep -q settimer "$f" && ok "$shell completion covers the subcommands" || bad "$shell completion covers the subcommands"
done
bash -n build/man/hrcallout.bash && ok "bash completion parses" || bad "bash completion parses"

# 4. modinfo against the README's parameter table.
mi=$(modinfo hrcallout.ko)
for f in "description:.*STREAMS timeout" "license: *GPL" "alias: *devname:hrcallout" "alias: *char-major-10-246"; do
	grep -qE "^$f" <<<"$mi" && ok "modinfo: ${f%%:*} (${f#*: })" || bad "modinfo: $f"
done
readme=$(sed -n '/^| parameter | default | meaning | unit |$/,/^$/p' README.md | sed '1,2d;/^$/d' |
	sed -E 's/^\| `([a-z_]+)` \| [^|]* \| (.*) \| [a-z]+ \|$/\1:\2/' | sort)
params=$(modinfo -F parm hrcallout.ko | sed -E 's/ \((uint|u32|bool|int)\)$//' | sort)
if [ -n "$readme" ] && [ "$readme" = "$params" ]; then
	ok "modinfo parameters match the README's table ($(wc -l <<<"$params"))"
else
	bad "modinfo parameters match the README's table"; diff <(echo "$readme") <(echo "$params")
fi

# 5. make rust-analyzer.
rm -f rust-project.json
if make -s rust-analyzer KDIR="$KDIR" >"$OUT/rust-analyzer.log" 2>&1 &&
	python3 - <<'PY'
import json, sys
p = json.load(open("rust-project.json"))
names = [c.get("display_name") for c in p["crates"]]
roots = [c["root_module"] for c in p["crates"]]
ok = "kernel" in names and any(r.endswith("rust/hrcallout_main.rs") for r in roots)
sys.exit(0 if ok else 1)
PY
then
	ok "make rust-analyzer: rust-project.json has the module and the kernel crate"
else
	bad "make rust-analyzer"; tail -5 "$OUT/rust-analyzer.log"
fi
