#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Act on a guest's regions of interest from the host, over QMP.

usage: roi-controller.py SOCKET [--trace PATTERN]... [--exec COMMAND]
                         [-- QEMU COMMAND LINE]

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
The socket file is removed when the controller ends.

It speaks QMP itself (JSON objects over the socket), so it needs nothing
but Python's standard library.
"""

import argparse
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time


class QMP:
    """The server end of one QMP connection: QEMU connects to us."""

    def __init__(self, path):
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(1)
        self.listener.settimeout(0.2)
        self.sock = None
        self.buf = b''
        self.events = []

    def accept(self, timeout, qemu):
        """Wait for QEMU to connect; False if it did not in @timeout
        seconds or if the QEMU we started has exited"""
        deadline = time.monotonic() + timeout
        while self.sock is None:
            try:
                self.sock, _ = self.listener.accept()
            except socket.timeout:
                if time.monotonic() > deadline or \
                   (qemu and qemu.poll() is not None):
                    return False
        self.sock.settimeout(None)
        self.listener.close()
        self.recv()                 # the greeting
        self.cmd('qmp_capabilities')
        return True

    def recv(self):
        """The next JSON object QEMU sends, or None once it has gone"""
        while b'\n' not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b'\n', 1)
        return json.loads(line) if line.strip() else self.recv()

    def cmd(self, command, **args):
        """Run a command; events that arrive meanwhile are kept for later"""
        msg = {"execute": command}
        if args:
            msg['arguments'] = args
        self.sock.sendall(json.dumps(msg).encode() + b'\n')
        while True:
            reply = self.recv()
            if reply is None:
                raise EOFError('QEMU closed the QMP connection')
            if 'event' in reply:
                self.events.append(reply)
            elif 'error' in reply:
                raise RuntimeError("%s: %s" % (command, reply["error"]["desc"]))
            elif 'return' in reply:
                return reply['return']

    def event(self):
        """The next event, or None once QEMU has gone"""
        while not self.events:
            reply = self.recv()
            if reply is None:
                return None
            if 'event' in reply:
                self.events.append(reply)
        return self.events.pop(0)

    def close(self):
        if self.sock:
            self.sock.close()


def listen(path):
    """A socket at @path, replacing only a stale socket left there"""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return QMP(path)
    if not stat.S_ISSOCK(st.st_mode):
        sys.exit('roi-controller: %s exists and is not a socket' % path)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)             # nobody listens there any more
        return QMP(path)
    finally:
        probe.close()
    sys.exit('roi-controller: something already listens on %s' % path)


def main():
    # Everything after "--" is QEMU's command line, whatever it holds
    argv = sys.argv[1:]
    qemu_cmd = []
    if '--' in argv:
        i = argv.index('--')
        argv, qemu_cmd = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(
        prog='roi-controller.py',
        usage='%(prog)s SOCKET [--trace PATTERN]... [--exec COMMAND]'
              ' [-- QEMU COMMAND LINE]',
        description=__doc__.split('\n')[0])
    ap.add_argument('socket', help='the QMP socket to listen on')
    ap.add_argument('--trace', action='append', default=[],
                    metavar='PATTERN')
    ap.add_argument('--exec', dest='command', metavar='COMMAND')
    ap.add_argument('--timeout', type=float, default=60, metavar='SECONDS',
                    help='how long to wait for QEMU to connect [60]')
    opts = ap.parse_args(argv)

    # A signal ends the controller through the finally clause below
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda num, frame: sys.exit(128 + num))
    qmp = listen(opts.socket)
    qemu = None
    regions = 0
    done = False
    try:
        if qemu_cmd:
            qemu = subprocess.Popen(qemu_cmd)
        if not qmp.accept(opts.timeout, qemu):
            if qemu and qemu.poll() is not None:
                sys.exit('roi-controller: QEMU exited with status %d before'
                         ' it connected to %s' % (qemu.returncode,
                                                  opts.socket))
            sys.exit('roi-controller: QEMU did not connect to %s within'
                     ' %g s' % (opts.socket, opts.timeout))
        while True:
            event = qmp.event()
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
                subprocess.run(opts.command, shell=True, env=env,
                               check=False)
            regions += 1
            if status == 'paused':
                qmp.cmd('cont')
        done = True
    except (EOFError, ConnectionError):
        done = True                 # QEMU went away in mid-command
    finally:
        qmp.close()
        # Leaving early (an error, a signal): a QEMU started here could
        # wait paused for a controller that is gone, so it goes too
        if not done and qemu and qemu.poll() is None:
            qemu.terminate()
            try:
                qemu.wait(10)
            except subprocess.TimeoutExpired:
                qemu.kill()
                qemu.wait()
        try:
            os.unlink(opts.socket)
        except FileNotFoundError:
            pass
    print('roi-controller: %d boundaries' % regions, flush=True)
    return qemu.wait() if qemu else 0


if __name__ == '__main__':
    sys.exit(main())
