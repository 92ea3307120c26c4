#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Check the trace of a bare-metal guest run (tests/hypertrace/baremetal).

The log holds the guest_hypertrace events and the device's -d guest_errors
lines, in order.  The guest follows each step of its hostile phase with a
marker event (client 0, arg1 = 0xfe << 56 | step); what a step did is what
lies between the previous marker and its own, and must be exactly what
the spec says.  After the last marker come the two vCPUs' events: 2000 on
client 0 from vCPU 0 and 2000 on client 1 from vCPU 1, each client's in
order, every argument as the guest wrote it.

Usage: check-baremetal.py LOG general32|general64|simd [EVENTS]
"""

import re
import sys

EV = re.compile(r"guest_hypertrace cpu=(\d+) arg1=(\d+) ((?:arg\d+=0x[0-9a-f]+ )*)"
                r"client=(\d+)$")
ERR = re.compile(r"hypertrace_(ctrl_write|ctrl_read|config_write): (.*)$")


def w(size, off, rest=False):
    return ("err", r"store of %d bytes at control offset 0x%x ignored: .*%s"
            % (size, off, r"\(this is the rest of a store" if rest else ""))


GENERAL = {
    1: [w(1, 0)],
    2: [w(2, 0)],
    3: [w(4, 4)],
    4: [w(4, 0x30000)],
    5: [("err", r"the control BAR is write-only \(read of 4 bytes at 0x0 "
         r"returns 0\)")],
    6: [("err", r"the config BAR is read-only \(write of 4 bytes at 0x0 "
         r"ignored\)")],
}
GENERAL64 = dict(GENERAL)
GENERAL64.update({
    7: [w(8, 8)],
    8: [w(8, 0x30000)],
    9: [w(4, 0xfffc), w(4, 0x10000, rest=True)],
})
SIMD = {
    21: [w(8, 8)],
    22: [w(8, 0x30000)],
    23: [w(8, 0xfff8), w(8, 0x10000, rest=True)],
    24: [("ev", 1, 0x1600, 0x161), w(8, 0x10008)],
    25: [("ev", 1, 0x0800000000000008, 0x81)],
}


def parse(path):
    items = []
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        m = EV.search(line)
        if m:
            args = [int(a.split("=")[1], 16) for a in m.group(3).split()]
            items.append(("ev", int(m.group(1)), int(m.group(2)), args,
                          int(m.group(4)), line))
            continue
        m = ERR.search(line)
        if m:
            items.append(("err", m.group(2), line))
    return items


def matches(item, want):
    if want[0] == "err":
        return item[0] == "err" and re.search(want[1], item[1])
    _, client, arg1, arg2 = want
    return (item[0] == "ev" and item[4] == client and item[2] == arg1 and
            item[3][:1] in ([arg2], []) and item[1] == 0)


def main():
    path, mode = sys.argv[1], sys.argv[2]
    events = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    steps = {"general32": GENERAL, "general64": GENERAL64,
             "simd": SIMD}[mode]
    items = parse(path)
    bad = []
    seg, last, i = [], None, 0
    while i < len(items):
        it = items[i]
        i += 1
        if it[0] == "ev" and it[4] == 0 and it[2] >> 56 == 0xfe:
            step = it[2] & 0xff
            if last is not None or seg:
                want = steps.get(step, [])
                if len(seg) != len(want) or \
                        not all(matches(a, b) for a, b in zip(seg, want)):
                    bad.append("step %d: got %s; want %s" %
                               (step, [s[-1] for s in seg] or "nothing",
                                [b[1] if b[0] == "err" else b for b in want]
                                or "nothing"))
            last, seg = step, []
            continue
        seg.append(it)
    want_steps = sorted(steps)
    if last != want_steps[-1]:
        bad.append("the last marker is step %s, want %d" %
                   (last, want_steps[-1]))
    # seg now holds what came after the last marker
    if mode == "simd":
        if seg:
            bad.append("after the last step: %s" % [s[-1] for s in seg[:3]])
    else:
        # each vCPU's events in order, numbered by the guest in arg1
        # (client << 40 | n << 8 | 5): a gap is reported once, as missing
        # events, and the events after it are checked against their own
        # numbers
        nxt, got = {0: 0, 1: 0}, {0: 0, 1: 0}
        for it in seg:
            if it[0] != "ev" or it[4] not in nxt:
                bad.append("unexpected: %s" % it[-1])
                continue
            c, n = it[4], nxt[it[4]]
            got[c] += 1
            if it[2] & 0xff == 5 and it[2] >> 40 == c and \
                    n < (it[2] >> 8) & 0xffffffff < events:
                m = (it[2] >> 8) & 0xffffffff
                bad.append("client %d: event %s missing (the next one was"
                           " %d)" % (c, n if m == n + 1 else
                                     "%d-%d" % (n, m - 1), m))
                n = m
            a1 = (c << 40) | (n << 8) | 5
            if it[1] != c or it[2] != a1 or \
                    it[3] != [a1 + 1 + k for k in range(len(it[3]))]:
                bad.append("client %d event %d: %s" % (c, n, it[-1]))
            nxt[c] = n + 1
        # the counts first: they are the summary of what follows
        bad[:0] = ["client %d: %d events, want %d" % (c, got[c], events)
                   for c in (0, 1) if got[c] != events or nxt[c] != events]
    for b in bad[:10]:
        print("check-baremetal: %s" % b)
    if len(bad) > 10:
        print("check-baremetal: ... and %d more" % (len(bad) - 10))
    steps_seen = len(want_steps)
    print("check-baremetal: %s: %d steps%s, %s" %
          (mode, steps_seen,
           "" if mode == "simd" else ", 2 vCPUs x %d events" % events,
           "%d problems" % len(bad) if bad else "all as the spec says"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
