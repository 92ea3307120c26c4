#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Write a simple-backend trace of REGIONS regions on client 0, as QEMU's
simple backend would: each region a begin (arg1 = 1, arg2 = i % NAMES),
a point event (arg1 = 5) and an end (arg1 = 0), 100 ns apart, so that
every region lasts 200 ns.  For make bench and the tests of
qemu-hypertrace-regions on traces larger than a test run makes.

Usage: gen-trace.py OUT REGIONS [--args N] [--pid PID] [--names N]
                    [--start NS] [--client C]
"""

import argparse
import struct

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("regions", type=int)
    ap.add_argument("--args", type=int, default=4)
    ap.add_argument("--pid", type=int, default=4242)
    ap.add_argument("--names", type=int, default=8)
    ap.add_argument("--start", type=int, default=10 ** 9)
    ap.add_argument("--client", type=int, default=0)
    a = ap.parse_args()
    eid = 7
    length = 24 + 8 * (a.args + 2)          # cpu, arg1..argN, client
    words = (8 + length) // 8
    with open(a.out, "wb") as f:
        f.write(struct.pack("=QQQ", 0xffffffffffffffff, 0xf2b177cb0aa429b4,
                            4))
        name = b"guest_hypertrace"
        f.write(struct.pack("=QQI", 0, eid, len(name)) + name)
        step = 200000
        for first in range(0, a.regions, step):
            m = min(step, a.regions - first)
            rec = np.zeros((3 * m, words), np.uint64)
            rec[:, 0] = 1
            rec[:, 1] = eid
            rec[:, 2] = a.start + 100 * np.arange(3 * first, 3 * (first + m),
                                                  dtype=np.uint64)
            rec[:, 3] = np.uint64(length) | (np.uint64(a.pid) << np.uint64(32))
            rec[0::3, 5] = 1
            rec[1::3, 5] = 5
            rec[2::3, 5] = 0
            if a.args > 1:
                rec[:, 6] = np.repeat(np.arange(first, first + m,
                                                dtype=np.uint64) %
                                      np.uint64(a.names), 3)
            rec[:, 5 + a.args] = a.client
            f.write(rec.tobytes())


if __name__ == "__main__":
    main()
