#!/usr/bin/env bash
# Writes the man pages and shell completions into DIR (default build/man): hrcallout(4) from
# the header, docs/errno.md and the README (scripts/man.py), hrcallout(1) and the completions
# from the CLI's clap definitions (its hidden `generate` command). Needs the built CLI.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
dir=${1:-$HRC_ROOT/build/man}
mkdir -p "$dir"
# The pages' date: the last commit's, so that a build is reproducible.
date=$(git -C "$HRC_ROOT" log -1 --format=%cs 2>/dev/null || date -u +%F)
HRC_MAN_DATE=$date python3 "$HRC_ROOT/scripts/man.py" "$dir/hrcallout.4"
"$HRC_ROOT/target/x86_64-unknown-linux-gnu/release/hrcallout" generate "$dir" --date "$date"
