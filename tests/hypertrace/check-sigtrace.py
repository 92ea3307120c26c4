#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Account for every event of tests/hypertrace/guest/ht-sigtrace in a
simple-backend trace: EVENTS guest_hypertrace events (arg1 = 0 ..
EVENTS - 1, each at most once) and SIGNALS user_host_signal events, each
either recorded or counted in a "dropped" record.  Exits 1 unless the
recorded events plus the dropped count are exactly EVENTS + SIGNALS and
every recorded event is one the guest fired.

It also counts the host-signal records that waited for room: a record
written after a "dropped" record but stamped more than LATE_NS before
it was started while the buffer was full and waited until the writer
made room (a record's timestamp is taken before it reserves its space),
which a record traced from a signal handler must never do; and, to
show the measure works, the guest events that waited so (with wait-ms).
"""

import argparse
import sys

LATE_NS = 50 * 1000 * 1000


def main():
    p = argparse.ArgumentParser()
    p.add_argument("events_all")
    p.add_argument("trace")
    p.add_argument("--scripts", required=True)
    p.add_argument("--events", type=int, required=True)
    p.add_argument("--signals", type=int, required=True)
    a = p.parse_args()
    sys.path.insert(0, a.scripts)
    import simpletrace

    seen = {}
    signals = 0
    dropped = 0
    waited = 0
    guest_waited = 0
    last_drop_ns = None
    errors = []

    def waited_for_room(timestamp_ns):
        return last_drop_ns is not None and \
            timestamp_ns < last_drop_ns - LATE_NS

    class Count(simpletrace.Analyzer2):
        def guest_hypertrace(self, cpu, arg1, *rest, timestamp_ns,
                             **kwargs):
            nonlocal guest_waited
            guest_waited += waited_for_room(timestamp_ns)
            if arg1 >= a.events:
                errors.append("an event with arg1=%d" % arg1)
            seen[arg1] = seen.get(arg1, 0) + 1

        def user_host_signal(self, env, host_sig, target_sig, *,
                             timestamp_ns, **kwargs):
            nonlocal signals, waited
            signals += 1
            waited += waited_for_room(timestamp_ns)

        def Dropped_Event(self, num_events_dropped, *, timestamp_ns,
                          **kwargs):
            nonlocal dropped, last_drop_ns
            dropped += num_events_dropped
            last_drop_ns = timestamp_ns

    simpletrace.process(a.events_all, a.trace, Count())
    dups = sum(1 for v in seen.values() if v > 1)
    recorded = sum(seen.values()) + signals
    want = a.events + a.signals
    print("check-sigtrace: %d guest events and %d host-signal events"
          " recorded, %d dropped: %d of %d accounted for; %d duplicated,"
          " %d wrong; %d guest and %d host-signal records waited for room" %
          (sum(seen.values()), signals, dropped, recorded + dropped, want,
           dups, len(errors), guest_waited, waited))
    for e in errors[:5]:
        print("  " + e)
    return 0 if recorded + dropped == want and not dups and not errors \
        and signals <= a.signals else 1


if __name__ == "__main__":
    sys.exit(main())
