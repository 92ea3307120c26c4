#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Check guest_hypertrace events written by tests/hypertrace/guest/ht-events.

Reads QEMU's log-backend output (or, with --simple, a simple-backend
trace file decoded with QEMU's scripts/simpletrace.py) and verifies that each of THREADS x EVENTS
events appears exactly once, with the arg1 (both 32-bit halves) and data
words ht-events wrote, and (with
--pin) from the vCPU its thread was pinned to.  Events whose arg1 is in
--ignore are skipped.  Prints a summary; exits 1 on any mismatch.
"""

import argparse
import os
import re
import sys

EVENT = re.compile(r"guest_hypertrace cpu=(-?\d+) arg1=(\d+)"
                   r"((?: arg\d+=0x[0-9a-f]{16})*) client=(\d+)\s*$")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("log")
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--events", type=int, required=True)
    p.add_argument("--args", type=int, required=True)
    p.add_argument("--pin", action="store_true")
    p.add_argument("--ignore", type=int, action="append", default=[])
    p.add_argument("--simple", metavar="TRACE_EVENTS_ALL",
                   help="LOG is a simple-backend trace; decode it with this"
                   " events file and the simpletrace.py beside it in"
                   " --scripts")
    p.add_argument("--scripts", help="QEMU's scripts/ directory")
    a = p.parse_args()

    seen = {}
    errors = []
    cpus = set()
    dropped = 0
    if a.simple:
        sys.path.insert(0, a.scripts)
        import simpletrace

        class Collect(simpletrace.Analyzer2):
            def guest_hypertrace(self, cpu, arg1, *words, **kwargs):
                # the last argument is the client
                records.append((cpu, arg1, list(words[:-1]), words[-1]))

            def Dropped_Event(self, num, **kwargs):
                nonlocal dropped
                dropped += num

        records = []
        simpletrace.process(a.simple, a.log, Collect())
    else:
        records = []
        with open(a.log, errors="replace") as f:
            for line in f:
                m = EVENT.search(line)
                if m:
                    records.append((int(m.group(1)), int(m.group(2)),
                                    [int(x.split("=")[1], 16)
                                     for x in m.group(3).split()],
                                    int(m.group(4))))
    for cpu, arg1, words, client in records:
        if cpu >= 1 << 63:
            cpu -= 1 << 64
        elif cpu >= 1 << 31:
            cpu -= 1 << 32
        if arg1 in a.ignore:
            continue
        t, i = divmod(arg1 & 0xffffffff, 1000000)
        if arg1 >> 32 != 0x5a000000 + t:
            errors.append(f"event arg1={arg1:#x}: high half {arg1 >> 32:#x},"
                          f" want {0x5a000000 + t:#x}")
            continue
        if len(words) != a.args - 1:
            errors.append(f"event arg1={arg1}: {len(words) + 1} args, want {a.args}")
            continue
        if t >= a.threads or i >= a.events:
            errors.append(f"unexpected event arg1={arg1:#x}")
            continue
        if client != t:
            errors.append(f"event arg1={arg1:#x}: client={client}, want {t}")
        want = [(t + 1) << 56 | k << 48 | i for k in range(a.args - 1)]
        if words != want:
            errors.append(f"event arg1={arg1}: data {words} != {want}")
        if a.pin and cpu != t:
            errors.append(f"event arg1={arg1}: cpu={cpu}, thread pinned to {t}")
        cpus.add(cpu)
        seen[(t, i)] = seen.get((t, i), 0) + 1

    missing = [(t, i) for t in range(a.threads) for i in range(a.events)
               if (t, i) not in seen]
    dups = [k for k, v in seen.items() if v > 1]
    total = sum(seen.values())
    print(f"check-events: {total} events, {len(missing)} missing, "
          f"{len(dups)} duplicated, {len(errors)} wrong"
          f"{f', {dropped} dropped' if a.simple else ''}; vCPUs {sorted(cpus)}")
    for e in (errors + [f"missing {k}" for k in missing[:5]] +
              [f"duplicated {k}" for k in dups[:5]])[:20]:
        print("  " + e)
    return 1 if (missing or dups or errors or dropped) else 0


if __name__ == "__main__":
    sys.exit(main())
