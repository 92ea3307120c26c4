#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Turn make bench's raw lines into a table, CSV, JSON and (where
matplotlib is installed) a PNG.

Raw line: MODE WHERE VARIANT OP MEDIAN MIN MAX RUNS.  Ratios compare each
operation with the baseline measured in the same guest run: the
pci-testdev MMIO write in system mode, getppid() in user mode.  Thread
rows are aggregate events per second; their ratio is to one thread.
Whole-program rows (run-*) are ms per run; their ratio is to the same
program run without a plugin (run-without-plugin).
"""

import argparse
import csv
import datetime
import json
import os
import platform
import sys

BASELINE = {"system": "pci-testdev-mmio-write", "user": "getppid"}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# The posted events' goals: (what, numerator, denominator, goal, at most?),
# each a ratio of two medians of the same make bench run
GOALS = [
    ("posted / synchronous event, Linux guest, TCG",
     ("system", "tcg-smp1", "disabled", "post"),
     ("system", "tcg-smp1", "disabled", "event"), 0.35, True),
    ("posted / synchronous event, user mode",
     ("user", "qemu-x86_64", "disabled", "post"),
     ("user", "qemu-x86_64", "disabled", "event"), 0.75, True),
    ("posted event / synchronous event recorded by the simple backend, "
     "Linux guest, TCG",
     ("system", "tcg-smp1", "simple", "post"),
     ("system", "tcg-smp1", "simple", "event"), 0.35, True),
    ("posted event / synchronous event recorded by the simple backend, "
     "user mode",
     ("user", "qemu-x86_64", "simple", "post"),
     ("user", "qemu-x86_64", "simple", "event"), 0.75, True),
    ("posted events recorded into a post file / synchronous events "
     "recorded by the simple backend, 1 thread",
     ("user", "qemu-x86_64", "post-file", "posts-per-s-1thread"),
     ("user", "qemu-x86_64", "simple", "events-per-s-1thread"), 5, False),
    ("the same, the synchronous events recorded without loss (wait-ms)",
     ("user", "qemu-x86_64", "post-file", "posts-per-s-1thread"),
     ("user", "qemu-x86_64", "simple-wait-ms", "events-per-s-1thread"), 5,
     False),
    ("posted events recorded into a post file, 2 threads / 1, user mode",
     ("user", "qemu-x86_64", "post-file", "posts-per-s-2thread"),
     ("user", "qemu-x86_64", "post-file", "posts-per-s-1thread"), 1.8, False),
    ("posted events recorded into a post file, 2 vCPUs / 1, Linux guest",
     ("system", "tcg-smp2", "post-file", "posts-per-s-2thread"),
     ("system", "tcg-smp2", "post-file", "posts-per-s-1thread"), 1.8, False),
]


def goals(medians):
    """A line per goal whose two rows this run measured"""
    out = []
    for what, num, den, goal, at_most in GOALS:
        n, d = medians.get((num[:3], num[3])), medians.get((den[:3], den[3]))
        if not n or not d:
            continue
        r = n / d
        met = r <= goal if at_most else r >= goal
        out.append("goal: %s: %.2fx (%s %gx: %s)" % (
            what, r, "at most" if at_most else "at least", goal,
            "met" if met else "NOT met"))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("--qemu", default="")
    ap.add_argument("--json")
    ap.add_argument("--csv")
    ap.add_argument("--markdown")
    ap.add_argument("--png")
    ap.add_argument("--note", action="append", default=[])
    a = ap.parse_args()

    rows = []
    with open(a.raw) as f:
        for line in f:
            p = line.split()
            if len(p) != 8:
                continue
            rows.append(dict(mode=p[0], where=p[1], variant=p[2], op=p[3],
                             median=float(p[4]), min=float(p[5]),
                             max=float(p[6]), runs=int(p[7])))
    # Baselines per (mode, where, variant): same guest run
    base = {}
    one_thread = {}
    for r in rows:
        key = (r["mode"], r["where"], r["variant"])
        if r["op"] == BASELINE.get(r["mode"]):
            base[key] = r["median"]
        if r["op"].endswith("-per-s-1thread"):
            one_thread[(key, r["op"].split("-")[0])] = r["median"]
    medians = {((r["mode"], r["where"], r["variant"]), r["op"]): r["median"]
               for r in rows}

    def ratio_to(r, key, op):
        """r's median over that of op in the same run, if there is one"""
        return r["median"] / medians[(key, op)] if (key, op) in medians \
            else None

    for r in rows:
        key = (r["mode"], r["where"], r["variant"])
        if r["op"].startswith("run-"):
            r["unit"] = "ms/run"
            r["ratio"] = ratio_to(r, key, "run-without-plugin")
            r["ratio_to"] = "without plugin"
        elif r["op"].startswith("loss-"):
            r["unit"] = "events"
            r["ratio"] = ratio_to(r, key, "loss-expected")
            r["ratio_to"] = "expected"
        elif r["op"].startswith("tool-"):
            r["unit"] = {"tool-seconds": "s", "tool-events-per-s": "events/s",
                         "tool-peak-mb": "MB", "tool-output-mb": "MB"}[r["op"]]
            r["ratio"] = None
            r["ratio_to"] = ""
        elif "-per-s-" in r["op"]:
            kind = r["op"].split("-")[0]
            r["unit"] = kind + "/s"
            r["ratio"] = (r["median"] / one_thread[(key, kind)]
                          if (key, kind) in one_thread else None)
            r["ratio_to"] = "1 thread"
        else:
            r["unit"] = "ns/op"
            r["ratio"] = r["median"] / base[key] if key in base else None
            r["ratio_to"] = BASELINE.get(r["mode"], "")

    notes = list(a.note) + goals(medians)
    meta = dict(qemu=a.qemu, cpu=cpu_model(), cores=os.cpu_count(),
                kernel=platform.release(),
                date=datetime.datetime.now(datetime.timezone.utc)
                .strftime("%Y-%m-%d %H:%M UTC"),
                notes=notes)
    head = ["mode", "where", "variant", "operation", "median", "min", "max",
            "unit", "ratio", "ratio to"]
    table = []
    for r in rows:
        ratio = "" if r["ratio"] is None else "%.2fx" % r["ratio"]
        fmt = {"ns/op": "%.1f", "ms/run": "%.1f", "s": "%.2f"}.get(r["unit"],
                                                                 "%.0f")
        table.append([r["mode"], r["where"], r["variant"], r["op"],
                      fmt % r["median"], fmt % r["min"], fmt % r["max"],
                      r["unit"], ratio, r["ratio_to"]])

    widths = [max(len(str(x)) for x in col) for col in zip(head, *table)]
    print("%s; %s (%s cores); %s" % (meta["qemu"], meta["cpu"],
                                      meta["cores"], meta["date"]))
    for line in [head] + table:
        print("  ".join(str(x).ljust(w) for x, w in zip(line, widths)))
    for n in notes:
        print(n)

    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(head)
            w.writerows(table)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(meta=meta, results=rows), f, indent=1)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write("%s; %s (%s cores); %s\n\n" % (
                meta["qemu"], meta["cpu"], meta["cores"], meta["date"]))
            f.write("| " + " | ".join(head) + " |\n")
            f.write("|" + "---|" * len(head) + "\n")
            for line in table:
                f.write("| " + " | ".join(line) + " |\n")
            for n in notes:
                f.write("\n%s\n" % n)
    if a.png:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("(no PNG: python3-matplotlib is not installed)")
            return 0
        ns = [r for r in rows if r["unit"] == "ns/op"
              and not r["op"].startswith("store")]
        labels = ["%s %s %s %s" % (r["mode"], r["where"], r["variant"],
                                   r["op"]) for r in ns]
        fig, ax = plt.subplots(figsize=(10, 0.28 * len(ns) + 1.5))
        ax.barh(range(len(ns)), [r["median"] for r in ns],
                xerr=[[r["median"] - r["min"] for r in ns],
                      [r["max"] - r["median"] for r in ns]])
        ax.set_yticks(range(len(ns)))
        ax.set_yticklabels(labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlabel("ns per operation (median, min-max), log scale")
        ax.set_title("hypertrace: %s" % meta["qemu"])
        fig.tight_layout()
        fig.savefig(a.png, dpi=100)
        print("plot: %s" % a.png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
