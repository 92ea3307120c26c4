#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Check the posted events of tests/hypertrace/guest/ht-post (or, with
--baremetal CLIENTS, of the bare-metal guest's post modes: client c's
post i has arg1 = c << 40 | i << 8 | 6 and argk = arg1 + k - 1, and its
synchronous events arg1 = 0x5c << 32 | i on client 0).

Reads QEMU's log-backend output (or, with --simple, a simple-backend trace
decoded with QEMU's scripts/simpletrace.py), and the records of
--post-file files if given, and verifies that each of THREADS x POSTS
posted events appears exactly once, with the arguments ht-post gave it,
in posting order per client; with --sync K, that each synchronous event
ht-post fired after i posts comes after exactly those i posts in its
client's stream; and that timestamps never go back within a client.
The post file is decoded here from its layout in docs/specs/hypertrace.rst,
not with QEMU's tools.  Prints a summary; exits 1 on any mismatch.
"""

import argparse
import re
import struct
import sys

LOG_POST = re.compile(r"(?:^|\s)guest_hypertrace_post client=(\d+) "
                      r"timestamp=(\d+) arg1=(\d+)((?: arg\d+=0x[0-9a-f]+)*)")
LOG_EVENT = re.compile(r"(?:^|\s)guest_hypertrace cpu=-?\d+ arg1=(\d+)"
                       r"(?: arg\d+=0x[0-9a-f]+)* client=(\d+)")
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?Z ")
POST_MAGIC = b"HTPOST01"
BLOCK_MAGIC = 0x6b6c6268
FLUSH_TAG = 0x6874666c


def log_ns(line):
    import calendar
    import time
    m = LOG_TIME.match(line)
    if not m:
        return None
    secs = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
    return secs * 10 ** 9 + int((m.group(2) or "0").ljust(6, "0")) * 1000


def read_post_file(path, realtime):
    """[(order key, client, timestamp, args)] of a post file"""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != POST_MAGIC:
        sys.exit("%s: not a hypertrace post file" % path)
    num_args, record_size = struct.unpack_from("<II", data, 8)
    if record_size != 8 * (num_args + 1):
        sys.exit("%s: record size %d for %d arguments" %
                 (path, record_size, num_args))
    off = 32
    while off < len(data):
        if off + 40 > len(data):
            sys.exit("%s: a block header cut at byte %d" % (path, off))
        magic, client, count, pid, index, mono, real = \
            struct.unpack_from("<IIIIQQQ", data, off)
        if magic != BLOCK_MAGIC:
            sys.exit("%s: no block at byte %d" % (path, off))
        off += 40
        for k in range(count):
            words = struct.unpack_from("<%dQ" % (num_args + 1), data,
                                       off + k * record_size)
            # a log's times are whole microseconds: a drain and the event
            # that follows it may share one, and the records come first
            key = (real // 1000 * 1000, 0, k) if realtime else (mono, 0, k)
            out.append((key, client, words[0], list(words[1:])))
        off += count * record_size
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("trace")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--posts", type=int, required=True)
    p.add_argument("--args", type=int, required=True)
    p.add_argument("--sync", type=int, default=0)
    p.add_argument("--post-file", action="append", default=[])
    p.add_argument("--simple", metavar="TRACE_EVENTS_ALL")
    p.add_argument("--scripts", help="QEMU's scripts/ directory")
    p.add_argument("--ignore-arg1", metavar="ARG1,...", default="",
                   help="posts with these arg1 values are another "
                   "program's: left out")
    p.add_argument("--baremetal", metavar="CLIENTS",
                   help="the bare-metal guest's clients, comma-separated")
    a = p.parse_args()
    if a.baremetal:
        clients = [int(c) for c in a.baremetal.split(",")]

        def decode(client, args):
            """(stream, i, expected args) of a post, or None"""
            i = (args[0] >> 8) & 0xffffffff
            if args[0] >> 40 != client or args[0] & 0xff != 6:
                return None
            return client, i, [args[0] + k for k in range(a.args)]

        def sync_of(client, arg1):
            return arg1 & 0xffffffff if arg1 >> 32 == 0x5c else None
    else:
        clients = list(range(a.threads))

        def decode(client, args):
            t, i = client, args[0] & 0xffffffff
            if args[0] >> 32 != 0x5b000000 + t:
                return None
            return t, i, [args[0]] + [(t + 1) << 56 | k << 48 | i
                                      for k in range(a.args - 1)]

        def sync_of(client, arg1):
            if arg1 >> 32 == 0x5c000000 + client:
                return arg1 & 0xffffffff
            return None

    # (order key, kind, client, timestamp, args); kind 0 posted, 1 event
    items = []
    if a.simple:
        sys.path.insert(0, a.scripts)
        import simpletrace

        class Collect(simpletrace.Analyzer2):
            def guest_hypertrace_post(self, client, timestamp, *args,
                                      timestamp_ns, **kwargs):
                items.append(((timestamp_ns, 0, 0), 0, client, timestamp,
                              list(args)))

            def guest_hypertrace(self, cpu, arg1, *rest, timestamp_ns,
                                 **kwargs):
                items.append(((timestamp_ns, 1, 0), 1, rest[-1], 0, [arg1]))

        simpletrace.process(a.simple, a.trace, Collect())
    else:
        with open(a.trace, errors="replace") as f:
            for n, line in enumerate(f):
                ts = log_ns(line) or 0
                m = LOG_POST.search(line)
                if m:
                    args = [int(m.group(3))] + [
                        int(v, 16) for v in re.findall(r"=0x([0-9a-f]+)",
                                                      m.group(4))]
                    items.append(((ts, 0, n), 0, int(m.group(1)),
                                  int(m.group(2)), args))
                    continue
                m = LOG_EVENT.search(line)
                if m:
                    items.append(((ts, 1, n), 1, int(m.group(2)), 0,
                                  [int(m.group(1))]))
    for path in a.post_file:
        for key, client, ts, args in read_post_file(path, not a.simple):
            items.append((key, 0, client, ts, args))
    # One trace alone: its own order.  With post files, the drains'
    # times place their records among the trace's events.
    if a.post_file:
        items.sort(key=lambda x: x[0])

    ignored = {int(v, 0) for v in a.ignore_arg1.split(",") if v}
    errors = []
    seen = 0
    flushes = 0
    dups = 0
    next_i = {}
    last_ts = {}
    syncs = {}
    for key, kind, client, ts, args in items:
        if kind == 1:
            arg1 = args[0]
            i = sync_of(client, arg1)
            if arg1 >> 32 == FLUSH_TAG:
                flushes += 1
            elif i is not None:
                syncs[client] = syncs.get(client, 0) + 1
                if next_i.get(client, 0) != i:
                    errors.append("client %d: the event after %d posts comes"
                                  " after %d of them" %
                                  (client, i, next_i.get(client, 0)))
            continue
        arg1 = args[0]
        if arg1 in ignored:
            continue
        d = decode(client, args)
        if d is None or d[0] not in clients or d[1] >= a.posts:
            errors.append("unexpected post arg1=%#x on client %d" %
                          (arg1, client))
            continue
        t, i, want = d
        if len(args) != a.args:
            errors.append("post arg1=%#x: %d args, want %d" %
                          (arg1, len(args), a.args))
            continue
        if args != want:
            errors.append("post arg1=%#x: args %s, want %s" %
                          (arg1, args, want))
        if i < next_i.get(t, 0):
            dups += 1
            continue
        if i != next_i.get(t, 0):
            errors.append("client %d: post %d follows post %d" %
                          (t, i, next_i.get(t, 0) - 1))
        next_i[t] = i + 1
        if ts < last_ts.get(t, 0):
            errors.append("client %d: post %d's timestamp %d goes back from"
                          " %d" % (t, i, ts, last_ts[t]))
        last_ts[t] = ts
        seen += 1
    missing = sum(a.posts - next_i.get(t, 0) for t in clients)
    want_syncs = (a.posts - 1) // a.sync if a.sync else 0
    for t in clients[:1] if a.baremetal else clients:
        if a.sync and syncs.get(t, 0) != want_syncs:
            errors.append("client %d: %d synchronous events, want %d" %
                          (t, syncs.get(t, 0), want_syncs))
    print("check-post: %d posted events in order, %d missing, %d duplicated,"
          " %d wrong; %d synchronous events in place; %d flushes" %
          (seen, missing, dups, len(errors), sum(syncs.values()), flushes))
    for e in errors[:10]:
        print("  " + e)
    return 1 if missing or dups or errors else 0


if __name__ == "__main__":
    sys.exit(main())
