#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Act on a guest's regions of interest from the host, over QMP.

QEMU runs with "-device hypertrace,roi-notify=on,roi-pause=on" and
"-qmp unix:SOCKET": at every region boundary it sends HYPERTRACE_REGION
and stays paused.  This controller listens on SOCKET and, at each
boundary, while the guest is stopped between two of its instructions:

  --trace PATTERN   enables the matching trace events when a region
                    opens and disables them when one closes
  --exec COMMAND    runs a shell command (perf, a memory dump, ...) with
                    HT_BEGIN (1 or 0), HT_CLIENT, HT_VCPU, HT_ARGS and
                    HT_STATUS (the run state QMP reported) in its
                    environment

and then resumes the guest with "cont".  A QEMU command line given after
"--" is started once the socket listens; otherwise start QEMU yourself.

Needs QEMU's python/ directory (the qemu.qmp package) on the path: give
it with --qemu-python, or run this from a QEMU source tree.
"""

import argparse
import os
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('socket', help='the QMP socket to listen on')
    ap.add_argument('--trace', action='append', default=[],
                    metavar='PATTERN')
    ap.add_argument('--exec', dest='command', metavar='COMMAND')
    ap.add_argument('--qemu-python', metavar='DIR',
                    default=os.path.join(os.path.dirname(
                        os.path.abspath(__file__)), '..', '..', 'python'))
    ap.add_argument('qemu', nargs=argparse.REMAINDER,
                    help='-- QEMU command line (optional)')
    opts = ap.parse_args()

    sys.path.insert(0, opts.qemu_python)
    from qemu.qmp.legacy import QEMUMonitorProtocol

    qmp = QEMUMonitorProtocol(opts.socket, server=True)
    qemu = None
    if opts.qemu and opts.qemu[0] == '--':
        opts.qemu = opts.qemu[1:]
    if opts.qemu:
        qemu = subprocess.Popen(opts.qemu)
    qmp.accept(timeout=60)

    regions = 0
    while True:
        try:
            event = qmp.pull_event(wait=True)
        except Exception:           # QEMU closed the connection
            break
        if event is None or event['event'] == 'SHUTDOWN':
            break
        if event['event'] != 'HYPERTRACE_REGION':
            continue
        data = event['data']
        status = qmp.cmd('query-status')['status']
        print('roi-controller: %s client=%d vcpu=%d args=%s status=%s' %
              ('begin' if data['begin'] else 'end', data['client'],
               data['vcpu'], data['args'], status), flush=True)
        for pattern in opts.trace:
            qmp.cmd('trace-event-set-state', name=pattern,
                    enable=data['begin'])
        if opts.command:
            env = dict(os.environ, HT_BEGIN=str(int(data['begin'])),
                       HT_CLIENT=str(data['client']),
                       HT_VCPU=str(data['vcpu']),
                       HT_ARGS=' '.join(str(a) for a in data['args']),
                       HT_STATUS=status)
            subprocess.run(opts.command, shell=True, env=env, check=False)
        regions += 1
        if status == 'paused':
            qmp.cmd('cont')
    try:
        qmp.close()
    except Exception:               # QEMU may close first when it exits
        pass
    print('roi-controller: %d boundaries' % regions, flush=True)
    return qemu.wait() if qemu else 0


if __name__ == '__main__':
    sys.exit(main())
