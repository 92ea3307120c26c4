#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Seed inputs for generic-fuzz-hypertrace (make fuzz).

generic-fuzz reads its input as commands separated by "FUZZ": an opcode
byte, then the command's fields (tests/qtest/fuzz/generic_fuzz.c).  A
write is opcode 3 and 16 bytes: size (0-3: 1, 2, 4, 8 bytes), the index
of the fuzzable region in the flat view, 2 bytes of padding, a 32-bit
offset into the region, a 64-bit value.  Random inputs rarely hold such
a write at a client's register, so the fuzzer rarely sees an event; these
seeds do: 4- and 8-byte stores at each client's register of each region
index (the order of the device's regions in the flat view is not fixed),
after data-slot writes with non-zero arguments, and region-opening and
-closing values.

Usage: fuzz-seeds.py DIR [CLIENTS]
"""

import os
import struct
import sys

OP_WRITE = 3
SIZES = {1: 0, 2: 1, 4: 2, 8: 3}


def write(size, index, offset, value):
    return bytes([OP_WRITE]) + struct.pack("<BBxxIQ", SIZES[size], index,
                                           offset, value)


def main():
    out = sys.argv[1]
    clients = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    stride = 0x10000
    os.makedirs(out, exist_ok=True)
    n = 0
    for index in range(4):
        for size in (8, 4):
            cmds = []
            for c in range(clients):
                for other in range(4):
                    if other != index:      # arguments into the data slot
                        cmds.append(write(8, other, c * stride,
                                          0x1111 * (c + 1)))
                        cmds.append(write(4, other, c * stride + 0x40, 0))
                cmds.append(write(size, index, c * stride, 1))       # begin
                cmds.append(write(size, index, c * stride, 0x42 + c))
                cmds.append(write(size, index, c * stride, 0))       # end
            with open(os.path.join(out, "seed-%d-%d" % (index, size)),
                      "wb") as f:
                f.write(b"FUZZ".join(cmds))
            n += 1
    print("fuzz-seeds: %d inputs in %s" % (n, out))


if __name__ == "__main__":
    main()
