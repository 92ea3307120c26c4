#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Read a Perfetto protobuf trace that qemu-hypertrace-regions --perfetto
wrote with an independent decoder: Debian's protobuf library, with the
message classes protoc generates from perfetto-subset.proto (Perfetto's
field numbers).  Rebuilds each sequence's timestamps (a ClockSnapshot,
then deltas on the incremental clock, absolute ones where a packet names
another clock), its interned names and its track, pairs the slices, and
prints per process and track: slices per name with their total and
extreme durations, instants per name.

Usage: check-perfetto.py TRACE.pftrace WORKDIR
"""

import importlib
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    trace, work = sys.argv[1], sys.argv[2]
    subprocess.run(["protoc", "-I", HERE, "--python_out", work,
                    os.path.join(HERE, "perfetto-subset.proto")], check=True)
    sys.path.insert(0, work)
    pb = importlib.import_module("perfetto_subset_pb2")
    t = pb.Trace()
    with open(trace, "rb") as f:
        t.ParseFromString(f.read())
    tracks = {}             # uuid -> (name, parent uuid, pid, process name)
    seqs = {}               # seq id -> state
    slices = {}             # (track uuid, name) -> [count, total, min, max]
    instants = {}
    stacks = {}
    problems = []
    for p in t.packet:
        if p.HasField("track_descriptor"):
            d = p.track_descriptor
            tracks[d.uuid] = (d.name, d.parent_uuid, d.process.pid,
                              d.process.process_name)
            continue
        s = seqs.get(p.trusted_packet_sequence_id)
        if p.sequence_flags & 1:
            s = seqs[p.trusted_packet_sequence_id] = {
                "names": {}, "clock": None, "value": None, "track": None}
        if s is None:
            problems.append("a packet on sequence %d before it was cleared" %
                            p.trusted_packet_sequence_id)
            continue
        if p.HasField("clock_snapshot"):
            for c in p.clock_snapshot.clocks:
                if c.is_incremental:
                    s["value"] = c.timestamp
        if p.HasField("trace_packet_defaults"):
            d = p.trace_packet_defaults
            s["clock"] = d.timestamp_clock_id
            s["track"] = d.track_event_defaults.track_uuid
        for n in p.interned_data.event_names:
            s["names"][n.iid] = n.name
        if not p.HasField("track_event"):
            continue
        e = p.track_event
        if p.HasField("timestamp_clock_id") and \
                p.timestamp_clock_id != s["clock"]:
            ts = p.timestamp                    # absolute
        else:
            s["value"] += p.timestamp
            ts = s["value"]
        track = e.track_uuid or s["track"]
        name = s["names"].get(e.name_iid) if e.name_iid else None
        if e.name_iid and name is None:
            problems.append("name iid %d not interned" % e.name_iid)
        if e.type == e.TYPE_SLICE_BEGIN:
            stacks.setdefault(track, []).append((ts, name))
        elif e.type == e.TYPE_SLICE_END:
            st = stacks.get(track)
            if not st:
                problems.append("an end with no slice open")
                continue
            b, bname = st.pop()
            r = slices.setdefault((track, bname), [0, 0, None, None])
            d = ts - b
            r[0] += 1
            r[1] += d
            r[2] = d if r[2] is None else min(r[2], d)
            r[3] = d if r[3] is None else max(r[3], d)
        elif e.type == e.TYPE_INSTANT:
            k = (track, name)
            instants[k] = instants.get(k, 0) + 1
    for (track, name), (n, total, lo, hi) in sorted(slices.items()):
        tname, parent, _, _ = tracks[track]
        pname = tracks[parent][3]
        print("slices: %s / %s / %s: %d, total %d ns, min %d, max %d" %
              (pname, tname, name, n, total, lo, hi))
    for (track, name), n in sorted(instants.items()):
        tname, parent, _, _ = tracks[track]
        print("instants: %s / %s / %s: %d" %
              (tracks[parent][3], tname, name, n))
    open_ = sum(len(v) for v in stacks.values())
    print("packets: %d; tracks: %d; slices still open: %d" %
          (len(t.packet), len(tracks), open_))
    for p in problems[:10]:
        print("problem: %s" % p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
