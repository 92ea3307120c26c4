#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Check qemu-hypertrace-regions' placement of the posted regions of
tests/hypertrace/guest/ht-post-timeline: N regions on client 0, each
ended by a posted event right before a synchronous event (arg1 = 0x7f <<
32 | i).  Each region's end must land within --within microseconds of
that event (90% of them: the host can preempt QEMU between the two, and
the guest's clock runs on); prints the median, 90th and 95th percentile
and largest distance.

Usage: check-post-timeline.py TIMELINE.json N [--within US]
"""

import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("json")
    ap.add_argument("n", type=int)
    ap.add_argument("--within", type=float, default=10.0)
    a = ap.parse_args()
    with open(a.json) as f:
        d = json.load(f)
    events = d["traceEvents"] if isinstance(d, dict) else d
    names = {"region %d" % (0x2000 + k) for k in range(min(a.n, 4))}
    regions = sorted((e for e in events if e.get("ph") == "X" and
                      e.get("cat") == "hypertrace" and e["name"] in names),
                     key=lambda e: e["ts"])
    syncs = {}
    for e in events:
        if e.get("ph") == "i" and e["name"].startswith("event "):
            arg1 = int(e["name"].split()[1])
            if arg1 >> 32 == 0x7f:
                syncs[arg1 & 0xffffffff] = e["ts"]
    errors = []
    if len(regions) != a.n or len(syncs) != a.n:
        errors.append("%d regions and %d synchronous events, want %d of each"
                      % (len(regions), len(syncs), a.n))
    dist = []
    for i, r in enumerate(regions):
        if i in syncs:
            dist.append(abs(r["ts"] + r["dur"] - syncs[i]))
    dist.sort()
    if dist:
        med = dist[len(dist) // 2]
        p90, p95 = dist[int(len(dist) * 0.9)], dist[int(len(dist) * 0.95)]
        print("check-post-timeline: %d posted regions; their ends land from"
              " the events fired right after them: median %.2f us, 90%% "
              "within %.2f us, 95%% within %.2f us, max %.2f us" %
              (len(regions), med, p90, p95, dist[-1]))
        # the host may preempt QEMU between the two: the guest's time
        # runs on, and some pairs are that far apart
        if p90 > a.within:
            errors.append("10%% of the ends land more than %.2f us from "
                          "their events, want %g us at most" %
                          (p90, a.within))
    for e in errors:
        print("  " + e)
    return 1 if errors or not dist else 0


if __name__ == "__main__":
    sys.exit(main())
