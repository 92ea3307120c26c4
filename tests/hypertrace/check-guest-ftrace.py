#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Check a guest ftrace trace that qemu-hypertrace-regions put on the host
clock, against QEMU's own trace, without the tool's arithmetic.

The guest wrote "qemu-hypertrace mark check-K" markers, each right before
an event of its own; they take no part in the fit.  The tool's timeline
(JSON) places each marker on the host clock; QEMU's log (-msg
timestamp=on) has the host time of its event.  Every marker must land
within BOUND microseconds of its event, or, where the timeline says how
far its placement can be off (host_bound_us: mapped through QEMU's
virtual clock, under -icount), between the event the guest library
emits right before the marker and the marker's own, as QEMU's log has
them, with that span as the bound.  On the host clock, a marker off
by more than BOUND is still right between its two events when QEMU's
log has them further apart than usual (the median) by at least the
excess: the host ran something else between them.  And each region's workload task
(its pid from the guest console: "NAME pid N") must run, by the guest's
sched_switch slices in the timeline, only inside its region as QEMU's
trace has it.

With --same-regions, it checks that every guest event of a recorded run
falls in the same region in a replay of it.

BOUND_US "-" measures the marks without holding them to a bound; the
tasks are then held to their regions within 50 us.

A task's last slice may end after its region: "qemu-hypertrace run" ends
the region once wait() returns, and the kernel lets the parent's wait()
return before the exiting child's last context switch.  The guest's own
trace (GUEST_TRACE, read here without the tool) tells: such a slice is
accepted when it ends with the task's exit and the guest's trace too has
that exit after the region's end marker; the test prints it.

Usage: check-guest-ftrace.py QEMU_LOG TIMELINE.json CONSOLE GUEST_TRACE
                             BOUND_US REGION...
       check-guest-ftrace.py --same-regions RECORD.json REPLAY.json
"""

import calendar
import json
import re
import sys
import time

MARK_TAG = 0x68746d6b
BRACKET_TAG = 0x68746272
# guest_hypertrace, or guest_hypertrace_clock (the same fields, no cpu
# with 8 arguments, and the virtual clock)
LINE = re.compile(r"^(?:(\d+)@(\d+)\.(\d+):|(\S+?)(?:\.(\d+))?Z )"
                  r"guest_hypertrace(?:_clock)? (?:cpu=\d+ )?arg1=(\d+)"
                  r"((?: arg\d+=0x[0-9a-f]+)*) client=(\d+)")


def fnv(name):
    h = 0xcbf29ce484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001b3) & (2 ** 64 - 1)
    return h


def host_events(path):
    out = []
    for line in open(path):
        m = LINE.match(line)
        if not m:
            continue
        if m.group(1):
            ns = int(m.group(2)) * 10 ** 9 + int(m.group(3)) * 1000
        else:
            ns = calendar.timegm(time.strptime(m.group(4),
                                               "%Y-%m-%dT%H:%M:%S")) * 10 ** 9
            ns += int((m.group(5) or "0").ljust(6, "0")) * 1000
        args = [int(m.group(6))] + [int(v, 16) for v in
                                    re.findall(r"0x([0-9a-f]+)", m.group(7))]
        out.append((ns, args, int(m.group(8))))
    return out


def exit_after_end(guest_trace, pid, name):
    """Guest ns of task @pid's exit (its last sched_switch away, in state
    X or Z) if the guest's trace has it after the end marker of region
    @name, else None"""
    end = exit_ts = None
    for line in open(guest_trace, errors="replace"):
        m = re.search(r"\s(\d+)\.(\d+): (\w+): (.*)$", line)
        if not m:
            continue
        ts = int(m.group(1)) * 10 ** 9 + int(m.group(2).ljust(9, "0")[:9])
        if m.group(3) == "tracing_mark_write" and \
                re.match(r"hypertrace-end client=\d+ id=[0-9a-f]+ %s$" %
                         re.escape(name), m.group(4)):
            end = ts
        elif m.group(3) == "sched_switch":
            d = re.search(r"prev_pid=(\d+) prev_prio=\d+ prev_state=(\S+)",
                          m.group(4))
            if d and int(d.group(1)) == pid:
                exit_ts = ts if d.group(2) in ("X", "Z") else None
    if end is not None and exit_ts is not None and exit_ts > end:
        return exit_ts - end
    return None


def region_of(doc):
    """For each guest event of a timeline (by its guest time), the region
    its host time falls in"""
    t0 = doc["otherData"]["host_t0_ns"]
    regions = [(t0 + round(e["ts"] * 1000),
                t0 + round((e["ts"] + e["dur"]) * 1000), e["name"])
               for e in doc["traceEvents"]
               if e.get("cat") == "hypertrace" and e["ph"] == "X"]
    out = {}
    for e in doc["traceEvents"]:
        # a boundary's own marker is the region's edge: in or out is a
        # matter of rounding
        if e.get("cat") != "guest" or e["name"].startswith(("begin ",
                                                             "end ")):
            continue
        ns = t0 + round(e["ts"] * 1000)
        inside = [n for b, x, n in regions if b <= ns <= x]
        out[(e["args"]["guest_ts"], e["name"])] = inside[0] if inside else None
    return out


def same_regions(a_path, b_path):
    """Every guest event of the recording falls in the same region in the
    replay"""
    a = region_of(json.load(open(a_path)))
    b = region_of(json.load(open(b_path)))
    differ = [k for k in a if k in b and a[k] != b[k]]
    missing = [k for k in a if k not in b]
    inside = sum(1 for k in a if a[k])
    print("check-guest-ftrace: %d guest events in the recording (%d inside a "
          "region), %d of them in the replay; %d in another region" %
          (len(a), inside, len(a) - len(missing), len(differ)))
    for k in (differ + missing)[:5]:
        print("check-guest-ftrace: guest event %s at %d: %s, then %s" %
              (k[1], k[0], a[k], b.get(k, "missing")))
    return 1 if differ or missing or len(a) != len(b) or not inside else 0


def main():
    if sys.argv[1] == "--same-regions":
        return same_regions(sys.argv[2], sys.argv[3])
    log, timeline, console, guest_trace, bound = sys.argv[1:6]
    regions = sys.argv[6:]
    # "-": the marks are measured, not held to a bound (the regions are)
    marks_bound = None if bound == "-" else float(bound) * 1000
    bound = marks_bound or 50000
    host = host_events(log)
    doc = json.load(open(timeline))
    t0 = doc["otherData"]["host_t0_ns"]
    fit = doc["otherData"].get("guest_fit")
    problems = []
    if not fit:
        print("check-guest-ftrace: the timeline has no guest fit")
        return 1
    guest = [e for e in doc["traceEvents"] if e.get("cat") == "guest"]

    # held-out markers: the k-th "mark NAME" of the guest against the k-th
    # host event of that name's mark
    host_marks = {}
    before = {}
    for ns, args, client in host:
        if args[0] >> 32 == MARK_TAG and len(args) > 1:
            pre = before.get(client)
            if pre and (pre[1][0] >> 32 != BRACKET_TAG or
                        pre[1][0] & 0xffffffff != args[0] & 0xffffffff):
                pre = None
            host_marks.setdefault(args[1], []).append(
                (ns, pre[0] if pre else None))
        before[client] = (ns, args)
    guest_marks = {}
    late = 0
    for e in guest:
        if e["ph"] == "i" and e["name"].startswith("mark "):
            name = e["name"][5:]
            is_late = name.endswith(" (late)")
            name = name[:-7] if is_late else name
            guest_marks.setdefault(name, []).append(
                (t0 + round(e["ts"] * 1000), is_late,
                 e["args"].get("host_bound_us")))
    errors = []
    bracketed = []
    spans_host = []
    for name, times in sorted(guest_marks.items()):
        htimes = host_marks.get(fnv(name), [])
        if len(htimes) != len(times):
            problems.append("mark %s: %d in the guest trace, %d host events" %
                            (name, len(times), len(htimes)))
        # a mark the guest reports late (switched out between marker and
        # event) is no sample of the alignment
        for (g, is_late, rb), (h, pre) in zip(sorted(times), sorted(htimes)):
            if is_late:
                late += 1
                continue
            errors.append((abs(g - h), g - h, name))
            if rb is None:
                if pre is not None:
                    spans_host.append((h - pre, name, pre <= g <= h,
                                       abs(g - h)))
                continue
            # the bound the timeline gives: the span between the two
            # events around the marker, from the log
            if pre is None:
                problems.append("mark %s: the timeline gives a bound, but "
                                "the log has no event right before its "
                                "event" % name)
            elif abs(rb * 1000 - (h - pre)) > 1000:
                problems.append("mark %s: bound %.1f us in the timeline, "
                                "%.1f us between its two events in the log"
                                % (name, rb, (h - pre) / 1e3))
            else:
                bracketed.append((h - pre, name, pre <= g <= h))
    if late:
        print("check-guest-ftrace: %d marks late by the guest's own account,"
              " not counted" % late)
    if len(errors) < 8:
        problems.append("%d marks on time, %d late: too few samples (8 or "
                        "more wanted)" % (len(errors), late))
    if errors:
        errors.sort()
        worst = errors[-1]
        print("check-guest-ftrace: %d held-out marks: largest error %.1f us "
              "(%s, guest %+.1f us), median %.1f us; %s" %
              (len(errors), worst[0] / 1e3, worst[2], worst[1] / 1e3,
               errors[len(errors) // 2][0] / 1e3,
               "bound %.0f us" % (marks_bound / 1e3) if marks_bound
               else "measured only"))
        inside = {name for _, name, ok in bracketed if ok}
        if bracketed:
            spans = sorted(x[0] for x in bracketed)
            print("check-guest-ftrace: %d marks with a bound in the "
                  "timeline, %d of them between their two events in the "
                  "log; the two events %.1f us apart at most, median %.1f "
                  "us" % (len(bracketed), len(inside), spans[-1] / 1e3,
                          spans[len(spans) // 2] / 1e3))
            for _, name, ok in bracketed:
                if not ok:
                    problems.append("mark %s lands outside its two events"
                                    % name)
        # On the host clock, a mark further than the bound from its event
        # is still right when it lies between its two events and those
        # are further apart than usual by at least the excess: the host
        # ran something else between them (QEMU descheduled), which the
        # guest's clock does not see
        if spans_host and marks_bound:
            med = sorted(x[0] for x in spans_host)[len(spans_host) // 2]
            excused = [(span, name) for span, name, ok, err in spans_host
                       if err > marks_bound and ok and
                       span - med >= err - marks_bound]
            print("check-guest-ftrace: the event before each marker and its "
                  "own: %.1f us apart (median), %.1f us at most; %d marks "
                  "beyond the bound, between two events that much further "
                  "apart than usual" %
                  (med / 1e3, max(x[0] for x in spans_host) / 1e3,
                   len(excused)))
            inside |= {name for _, name in excused}
        for err, signed, name in errors:
            if marks_bound and err > marks_bound and name not in inside:
                problems.append("mark %s lands %+.1f us from its event" %
                                (name, signed / 1e3))

    # each region's task runs inside the region
    text = open(console, errors="replace").read()
    for name in regions:
        m = re.search(r"%s pid (\d+)" % re.escape(name), text)
        begins = [ns for ns, a, c in host if a[0] == 1 and len(a) > 1 and
                  a[1] == fnv(name)]
        ends = [ns for ns, a, c in host if a[0] == 0 and len(a) > 1 and
                a[1] == fnv(name)]
        if not m or len(begins) != 1 or len(ends) != 1:
            problems.append("region %s: pid %s, %d begins, %d ends" %
                            (name, m.group(1) if m else "not printed",
                             len(begins), len(ends)))
            continue
        pid = int(m.group(1))
        b, e = begins[0], ends[0]
        slices = [(t0 + round(x["ts"] * 1000),
                   t0 + round((x["ts"] + x["dur"]) * 1000))
                  for x in guest if x["ph"] == "X" and
                  x["args"].get("pid") == pid]
        if not slices:
            problems.append("region %s: task %d has no sched_switch slice" %
                            (name, pid))
            continue
        first = min(s for s, _ in slices)
        last = max(x for _, x in slices)
        print("check-guest-ftrace: region %s: %.3f ms on the host; task %d: "
              "%d slices from %+.1f us after its begin to %+.1f us before "
              "its end" % (name, (e - b) / 1e6, pid, len(slices),
                           (first - b) / 1e3, (e - last) / 1e3))
        out = [x for x in guest if x["ph"] == "X" and
               x["args"].get("pid") == pid and
               (t0 + round(x["ts"] * 1000) < b - bound or
                t0 + round((x["ts"] + x["dur"]) * 1000) > e + bound)]
        tail = exit_after_end(guest_trace, pid, name)
        if len(out) == 1 and first >= b - bound and tail is not None and \
                t0 + round((out[0]["ts"] + out[0]["dur"]) * 1000) == last:
            print("check-guest-ftrace: region %s: task %d exits %+.1f us "
                  "after its end on the host, %.1f us after the end marker "
                  "in the guest's own trace: the region's end came from the "
                  "parent's wait(), before the child's last switch" %
                  (name, pid, (last - e) / 1e3, tail / 1e3))
            out = []
        if out:
            problems.append("region %s: task %d runs outside it: %s" %
                            (name, pid, "; ".join(
                                "slice on tid %d from %+.1f us to %+.1f us "
                                "of the region's begin (guest ts %s)" %
                                (x["tid"], (t0 + x["ts"] * 1000 - b) / 1e3,
                                 (t0 + (x["ts"] + x["dur"]) * 1000 - b) / 1e3,
                                 x["args"].get("guest_ts")) for x in out[:3])))
    for p in problems:
        print("check-guest-ftrace: %s" % p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
