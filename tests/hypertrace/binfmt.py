#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Describe a file from its own header bytes, for the tests.

What a binary is must not depend on the wording of a tool that changes
between releases (file(1) 5.44 says "Intel 80386" where 5.46 says "Intel
i386"), so the tests read ELF, ar and PNG headers themselves.

Usage:
  binfmt.py elf FILE      -> "class=32 data=lsb machine=i386 static=yes"
                             (FILE may be an ELF file or an ar archive, whose
                             first ELF member is described; static is "-"
                             for an object file)
  binfmt.py sdt FILE PROVIDER NAME
                          -> the argument string of that SystemTap SDT probe
                             (from the .note.stapsdt notes), one per site
  binfmt.py png FILE      -> "png WIDTHxHEIGHT"
Exit status 1, with a message on stderr, when FILE is not of that kind.
"""

import struct
import sys

MACHINES = {
    3: "i386", 8: "mips", 20: "ppc", 21: "ppc64", 22: "s390", 40: "arm",
    62: "x86_64", 183: "aarch64", 243: "riscv",
}
PT_INTERP = 3
ET_REL = 1
SHT_NOTE = 7


def fail(msg):
    sys.stderr.write("binfmt: %s\n" % msg)
    sys.exit(1)


def first_elf_member(data, path):
    """The bytes of the first ELF member of an ar archive."""
    pos = 8
    while pos + 60 <= len(data):
        size = int(data[pos + 48:pos + 58].decode("ascii").strip() or "0")
        body = data[pos + 60:pos + 60 + size]
        if body[:4] == b"\x7fELF":
            return body
        pos += 60 + size + (size & 1)
    fail("%s: archive without an ELF member" % path)


class Elf:
    def __init__(self, data, path):
        if data[:8] == b"!<arch>\n":
            data = first_elf_member(data, path)
        if len(data) < 52 or data[:4] != b"\x7fELF":
            fail("%s: not an ELF file" % path)
        self.data = data
        self.bits = {1: 32, 2: 64}.get(data[4]) or fail("%s: bad class" % path)
        self.end = {1: "<", 2: ">"}.get(data[5]) or fail("%s: bad data" % path)
        if self.bits == 32:
            hdr = struct.unpack_from(self.end + "HHIIIIIHHHHHH", data, 16)
        else:
            hdr = struct.unpack_from(self.end + "HHIQQQIHHHHHH", data, 16)
        (self.type, self.machine, _, _, self.phoff, self.shoff, _, _,
         self.phentsize, self.phnum, self.shentsize, self.shnum, _) = hdr

    def segment_types(self):
        types = []
        for i in range(self.phnum):
            off = self.phoff + i * self.phentsize
            types.append(struct.unpack_from(self.end + "I", self.data, off)[0])
        return types

    def sections(self):
        """(type, offset, size) of each section."""
        out = []
        for i in range(self.shnum):
            off = self.shoff + i * self.shentsize
            if self.bits == 32:
                _, typ, _, _, soff, size = struct.unpack_from(
                    self.end + "IIIIII", self.data, off)
            else:
                _, typ, _, _, soff, size = struct.unpack_from(
                    self.end + "IIQQQQ", self.data, off)
            out.append((typ, soff, size))
        return out

    def notes(self):
        """(owner, type, descriptor) of every note in SHT_NOTE sections."""
        for typ, off, size in self.sections():
            if typ != SHT_NOTE:
                continue
            pos, stop = off, off + size
            while pos + 12 <= stop:
                namesz, descsz, ntype = struct.unpack_from(
                    self.end + "III", self.data, pos)
                pos += 12
                name = self.data[pos:pos + namesz].rstrip(b"\0")
                pos += (namesz + 3) & ~3
                desc = self.data[pos:pos + descsz]
                pos += (descsz + 3) & ~3
                yield name, ntype, desc


def cmd_elf(path):
    elf = Elf(open(path, "rb").read(), path)
    segs = elf.segment_types()
    # An executable that names no program interpreter runs without the
    # dynamic loader (static or static-pie); objects have no segments.
    if elf.type == ET_REL:
        static = "-"
    else:
        static = "no" if PT_INTERP in segs else "yes"
    print("class=%d data=%s machine=%s static=%s" % (
        elf.bits, "lsb" if elf.end == "<" else "msb",
        MACHINES.get(elf.machine, "em%d" % elf.machine), static))


def cmd_sdt(path, provider, name):
    elf = Elf(open(path, "rb").read(), path)
    addr = "I" if elf.bits == 32 else "Q"
    skip = struct.calcsize(elf.end + addr * 3)
    found = 0
    for owner, ntype, desc in elf.notes():
        if owner != b"stapsdt" or ntype != 3:
            continue
        strings = desc[skip:].split(b"\0")
        if len(strings) >= 3 and strings[0].decode() == provider and \
                strings[1].decode() == name:
            print(strings[2].decode())
            found += 1
    if not found:
        fail("%s: no SDT probe %s:%s" % (path, provider, name))


def cmd_png(path):
    data = open(path, "rb").read(33)
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        fail("%s: not a PNG file" % path)
    width, height = struct.unpack_from(">II", data, 16)
    print("png %dx%d" % (width, height))


def main(argv):
    cmds = {"elf": (cmd_elf, 1), "sdt": (cmd_sdt, 3), "png": (cmd_png, 1)}
    if len(argv) < 2 or argv[1] not in cmds or \
            len(argv) - 2 != cmds[argv[1]][1]:
        fail("usage: binfmt.py elf FILE | sdt FILE PROVIDER NAME | png FILE")
    try:
        cmds[argv[1]][0](*argv[2:])
    except OSError as e:
        fail(str(e))
    except struct.error:
        fail("%s: truncated" % argv[2])


if __name__ == "__main__":
    main(sys.argv)
