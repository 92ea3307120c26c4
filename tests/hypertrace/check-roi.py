#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Check a log-backend trace of tests/hypertrace/guest/ht-roi.c run with
# roi-events=exec_tb: the program's guest_hypertrace events in order, no
# exec_tb line while no region is open, and at least --min of them in each
# stretch of work inside a region (including while only client 1 has one
# open).

import argparse
import re
import sys

# arg1 of each event ht-roi emits; whether a region is open after it; and
# whether work follows inside (the gap must then hold --min exec_tb lines)
PROGRAM = [
    (100, False, False),
    (1, True, False),
    (101, True, True),
    (1, True, False),
    (0, True, False),       # client 0 ends; client 1 still inside
    (102, True, True),
    (1, True, False),       # client 1 nests
    (103, True, True),
    (0, True, True),        # the nested region ends
    (0, False, False),      # the last open region ends
    (104, False, False),
    (0, False, False),      # unbalanced: ignored
    (105, False, False),
]

EVENT = re.compile(r'guest_hypertrace cpu=\S+ arg1=(\d+)')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('log')
    ap.add_argument('--min', type=int, default=100)
    ap.add_argument('--event', default='exec_tb')
    opts = ap.parse_args()

    traced = re.compile(r'(^|[\s:])' + re.escape(opts.event) + r' ')
    events = []
    gaps = [0]
    with open(opts.log, errors='replace') as f:
        for line in f:
            m = EVENT.search(line)
            if m:
                arg1 = int(m.group(1))
                if arg1 in (0, 1) or 100 <= arg1 <= 105:
                    events.append(arg1)
                    gaps.append(0)
            elif traced.search(line):
                gaps[-1] += 1

    want = [e[0] for e in PROGRAM]
    if events != want:
        print('check-roi: events %s, want %s' % (events, want))
        return 1
    errors = []
    if gaps[0]:
        errors.append('%d %s lines before the first event' %
                      (gaps[0], opts.event))
    for i, (arg1, inside, work) in enumerate(PROGRAM):
        n = gaps[i + 1]
        if not inside and n:
            errors.append('%d %s lines after event %d (arg1=%d), where no'
                          ' region is open' % (n, opts.event, i, arg1))
        if work and n < opts.min:
            errors.append('only %d %s lines after event %d (arg1=%d), inside'
                          ' a region; want %d or more' %
                          (n, opts.event, i, arg1, opts.min))
    inside = [gaps[i + 1] for i, e in enumerate(PROGRAM) if e[2]]
    print('check-roi: %s lines in the 4 stretches inside: %s; outside: %d' %
          (opts.event, inside, sum(gaps[i + 1] for i, e in
                                   enumerate(PROGRAM) if not e[1]) + gaps[0]))
    for e in errors:
        print('check-roi: ' + e)
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
