#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Drive a bare-metal guest run with roi-pause=on over QMP.

Starts QEMU (the command after --) with a QMP socket it waits on, and at
each HYPERTRACE_REGION event records whether the VM is paused and the
guest's two words pause_a and pause_b (addresses read from the debug
console file), then sends cont.  Prints one line per boundary:
"boundary begin=B status=S pause_a=N pause_b=N" and exits with QEMU's
status.  A VM that is not paused at a boundary is a failure: it prints
"boundary begin=B status=S: the VM runs on after the boundary", kills
QEMU and exits with 3.

With --reset, it resets the VM (system_reset) at the first boundary
instead.  With --migrate FILE, it migrates the VM into FILE there, ends
that QEMU, starts the same command with -incoming file:FILE and resumes
the guest in it; "@SIDE@" in the command's arguments becomes "src" or
"dst", so that each QEMU gets files of its own.

Usage: baremetal-pause.py [--reset | --migrate FILE] SOCKET DEBUGCON -- QEMU ARGS...
"""

import json
import os
import re
import socket
import subprocess
import sys
import time


REPLY_TIMEOUT = 60
PROCS = []          # the QEMUs started, killed if the driver gives up


class QMP:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        for _ in range(300):
            try:
                self.sock.connect(path)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit("baremetal-pause: cannot connect to %s" % path)
        self.f = self.sock.makefile("rw")
        self.events = []
        self.recv()                                 # the greeting
        self.cmd("qmp_capabilities")

    def recv(self):
        try:
            line = self.f.readline()
        except TimeoutError:
            raise
        except OSError:             # QEMU ended: the guest powered off
            return None
        if not line:
            return None
        return json.loads(line)

    def cmd(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.f.flush()
        while True:
            # QEMU answers from its main loop whatever the guest does; no
            # answer means it hangs (as a QEMU that exits while a command
            # is in flight can, in monitor_cleanup)
            self.sock.settimeout(REPLY_TIMEOUT)
            try:
                msg = self.recv()
            except TimeoutError:
                raise SystemExit("baremetal-pause: no answer to %s in %d s"
                                 % (name, REPLY_TIMEOUT))
            finally:
                self.sock.settimeout(None)
            if msg is None:
                raise SystemExit("baremetal-pause: QMP closed during %s" % name)
            if "event" in msg:
                self.events.append(msg)
                continue
            if "error" in msg:
                raise SystemExit("baremetal-pause: %s: %s" % (name, msg["error"]))
            return msg["return"]

    def event(self):
        if self.events:
            return self.events.pop(0)
        return self.recv()


def word(qmp, addr):
    out = qmp.cmd("human-monitor-command", **{"command-line": "xp /1wx %#x" % addr})
    return int(out.split(":")[1].split()[0], 16)


def start(qemu, side, sock, extra=()):
    args = [a.replace("@SIDE@", side) for a in qemu]
    path = sock + "." + side
    proc = subprocess.Popen(args + list(extra) +
                            ["-qmp", "unix:%s,server=on,wait=on" % path])
    PROCS.append(proc)
    return proc, QMP(path)


def migrate(qmp, proc, qemu, sock, path):
    """Migrate into @path, end this QEMU, resume in a new one"""
    qmp.cmd("migrate", uri="file:" + path)
    for _ in range(3000):
        st = qmp.cmd("query-migrate").get("status")
        if st in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.1)
    print("migration: %s" % st, flush=True)
    qmp.cmd("quit")
    proc.wait()
    proc, qmp = start(qemu, "dst", sock, ["-incoming", "file:" + path])
    for _ in range(3000):
        st = qmp.cmd("query-status")["status"]
        if st != "inmigrate":
            break
        time.sleep(0.1)
    print("destination: %s" % st, flush=True)
    qmp.cmd("cont")
    return proc, qmp


def main():
    args = sys.argv[1:]
    mode = None
    if args[0] == "--reset":
        mode, args = "reset", args[1:]
    elif args[0] == "--migrate":
        mode, mig, args = "migrate", args[1], args[2:]
    sock, con = args[0], args[1]
    qemu = args[args.index("--") + 1:]
    proc, qmp = start(qemu, "src", sock)
    while True:
        msg = qmp.event()
        if msg is None:
            break
        if msg.get("event") != "HYPERTRACE_REGION":
            continue
        status = qmp.cmd("query-status")["status"]
        if status != "paused":
            # the guest runs on: no command of the driver's would act at
            # the boundary, so stop here rather than race its power-off
            print("boundary begin=%s status=%s: the VM runs on after the"
                  " boundary" % (str(msg["data"]["begin"]).lower(), status),
                  flush=True)
            proc.kill()
            proc.wait()
            return 3
        if mode == "reset":
            print("boundary: system_reset", flush=True)
            qmp.cmd("system_reset")
            qmp.cmd("cont")
            mode = None
            continue
        if mode == "migrate":
            proc, qmp = migrate(qmp, proc, qemu, sock, mig)
            mode = None
            continue
        m = re.search(r"pause_a=(0x[0-9a-f]+) pause_b=(0x[0-9a-f]+)",
                      open(con.replace("@SIDE@", "src")).read())
        a, b = (word(qmp, int(m.group(1), 16)), word(qmp, int(m.group(2), 16))) \
            if m else (-1, -1)
        print("boundary begin=%s status=%s pause_a=%d pause_b=%d" %
              (str(msg["data"]["begin"]).lower(), status, a, b), flush=True)
        qmp.cmd("cont")
    return proc.wait()


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        for p in PROCS:
            if p.poll() is None:
                p.kill()
                p.wait()
