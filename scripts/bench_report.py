#!/usr/bin/env python3
"""Turns bench/results.jsonl into results.json, results.md and PNG plots."""
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
rows = [json.loads(l) for l in (out / "results.jsonl").read_text().splitlines() if l.strip()]
(out / "results.json").write_text(json.dumps(rows, indent=1) + "\n")

md = ["# hrcallout benchmark results", "",
      "Ratios are subject / same-boot baseline. `icount`: guest ns = guest instructions "
      "(QEMU `-icount shift=0`), deterministic, the mode targets are judged in. `tcg`: "
      "emulated wall clock, reported, not gated.", "",
      "| id | metric | mode | subject | baseline | ratio | target | met |",
      "|---|---|---|---:|---:|---:|---|---|"]
for r in rows:
    if "ratio" in r:
        md.append(f"| {r['id']} | {r['name']} | {r['mode']} | {r['subject']:.1f} {r['unit']} | "
                  f"{r['baseline']:.1f} | {r['ratio']:.3f} | {r['target']} | {'yes' if r['met'] else '**no**'} |")
    elif "lock" in r:
        md.append(f"| floor | {r['name']} | {r['mode']} | {r['lock']} / {r['clock']} ns | | | | |")
    elif "value" in r:
        md.append(f"| {r['id']} | {r['name']} | {r['mode']} | {r['value']:.1f} {r['unit']} | | | | |")
    elif "p50" in r:
        md.append(f"| {r['id']} | {r['name']} (p50/p99/p99.9/max ns) | {r['mode']} | "
                  f"{r['p50']} / {r['p99']} / {r['p999']} / {r['max']} | | | | |")
    else:
        md.append(f"| {r['id']} | {r['name']} | {r['mode']} | {r['subject']:.1f} {r['unit']} | | | {r['target']} | "
                  f"{'yes' if r['met'] else '**no**'} |")
(out / "results.md").write_text("\n".join(md) + "\n")
print("\n".join(md))

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib missing: no plots", file=sys.stderr)
    sys.exit(0)

def finish(fig, ax, name):
    """Grid, legend, layout, save, close: the same for every plot."""
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / name, dpi=100)
    plt.close(fig)


for mode in sorted({r["mode"] for r in rows}):
    # Cost versus pending timers.
    pts = {}
    for r in rows:
        if r["mode"] == mode and r["id"] in ("P1a", "P1b"):
            pending = int(r["name"].split(", ")[-1].split()[0])
            label = r["name"].split(" pair")[0]
            pts.setdefault(label, []).append((pending, r["subject"]))
            pts.setdefault("raw hrtimer start+cancel", []).append((pending, r["baseline"]))
    if pts:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for label, p in pts.items():
            p = sorted(set(p))
            ax.plot([max(x, 1) for x, _ in p], [y for _, y in p], marker="o", label=label)
        ax.set_xscale("log")
        ax.set_xlabel("timers pending on the same CPU: raw hrtimers, or the engine's (0 plotted at 1)")
        ax.set_ylabel("ns per arm+cancel pair" + (" (= instructions)" if mode == "icount" else ""))
        ax.set_title(f"arm+cancel cost vs pending timers ({mode})")
        finish(fig, ax, f"cost-vs-pending-{mode}.png")
    # Lateness percentiles per path.
    lat = [r for r in rows if r["mode"] == mode and r["id"] == "lat"]
    if lat:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        # Quantiles at even positions: on a percentile axis p99, p99.9 and max would overlap.
        qs = [0, 1, 2, 3]
        for r in lat:
            ax.plot(qs, [max(r["p50"], 1), max(r["p99"], 1), max(r["p999"], 1), max(r["max"], 1)],
                    marker="o", label=r["name"].replace("lateness ", ""))
        ax.set_yscale("log")
        ax.set_xticks(qs)
        ax.set_xticklabels(["p50", "p99", "p99.9", "max"])
        ax.set_xlabel("quantile of 10 000 expiries")
        ax.set_ylabel("lateness, ns" + (" (= instructions)" if mode == "icount" else ""))
        ax.set_title(f"expiry lateness, 10k timers over 1 s ({mode})")
        finish(fig, ax, f"lateness-{mode}.png")
print(f"wrote {out}/results.json, results.md and plots", file=sys.stderr)
