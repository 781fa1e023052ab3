#!/usr/bin/env python3
"""Summarises scripts/profile.sh traces: per traced call, instructions by function.

Usage: profile_report.py SYSTEM_MAP MODULE_KALLSYMS TRACE
Calls are grouped by (rsi at entry, second syscall argument); each group prints the mean
instruction count of its calls and the mean per function, in the order first executed.
"""
import bisect
import collections
import subprocess
import sys


def load_symbols(paths):
    syms = []
    for path in paths:
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) >= 3 and p[1].lower() in "tw":
                    syms.append((int(p[0], 16), p[2]))
    syms.sort()
    return [a for a, _ in syms], [n for _, n in syms]


def demangle(names):
    try:
        out = subprocess.run(["llvm-cxxfilt-19"], input="\n".join(names), capture_output=True,
                             text=True, check=True).stdout.split("\n")
        return dict(zip(names, out))
    except (OSError, subprocess.CalledProcessError):
        return {n: n for n in names}


def main():
    addrs, names = load_symbols(sys.argv[1:3])
    groups = collections.OrderedDict()
    with open(sys.argv[3]) as f:
        for line in f:
            p = line.split()
            if len(p) < 2:
                continue
            key = (p[0], p[1])
            pcs = [int(x, 16) for x in p[2:]]
            per = collections.OrderedDict()
            for pc in pcs:
                s = names[bisect.bisect_right(addrs, pc) - 1]
                per[s] = per.get(s, 0) + 1
            groups.setdefault(key, []).append((len(pcs), per))
    dm = demangle(sorted({s for g in groups.values() for _, per in g for s in per}))
    for (key, arg), calls in groups.items():
        totals = [t for t, _ in calls]
        print("== rsi=0x%s arg=0x%s: %d calls, instructions mean %.0f (min %d, max %d)"
              % (key, arg, len(calls), sum(totals) / len(totals), min(totals), max(totals)))
        mean = collections.OrderedDict()
        for _, per in calls:
            for s, c in per.items():
                mean[s] = mean.get(s, 0) + c / len(calls)
        for s, c in mean.items():
            print("%8.1f  %s" % (c, dm.get(s, s)[:140]))


main()
