#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Commands of the user guide (docs/system/devices/hypertrace.rst), run
# from the guide itself so that the text and the test cannot drift: the
# literal block after each ".. test-guide: NAME" comment, as written,
# with /tmp/qemu-build pointing at this build, /tmp/qemu-install at a
# "make install" of it, and the rest of /tmp at a scratch directory; the
# commands run in a directory whose hypertrace/ is the checkout's, as in
# QEMU's tree.  Then the checks of what the guide says they print.
#
#   roi-controller  the QMP hand-off: hypertrace/examples/roi-controller.py
#                   starts a Linux guest that brackets a command with a
#                   region, switches exec_tb at both boundaries, runs its
#                   --exec command while the VM is paused, and removes
#                   its socket at the end
set -uo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
ht_scratch
GUIDE="$HT_REPO/docs/system/devices/hypertrace.rst"

ht_log "make install DESTDIR=$work/inst"
make -s -C "$BUILD" install DESTDIR="$work/inst" > install.log 2>&1 ||
    { tail -n 20 install.log; ht_die "make install failed"; }
qemu=$(find "$work/inst" -path '*/bin/qemu-system-x86_64' | head -n 1)
[ -n "$qemu" ] || ht_die "make install did not install qemu-system-x86_64"
INST=$(dirname "$(dirname "$qemu")")
tmp="$work/tmp"
mkdir -p "$tmp" "$work/src"
ln -s "$HT_REPO/hypertrace" "$work/src/hypertrace"

# block NAME: the literal block after ".. test-guide: NAME", paths
# substituted
block() {
    /usr/bin/python3 - "$GUIDE" "$1" <<'PY' |
import sys
lines = open(sys.argv[1]).read().split("\n")
want = ".. test-guide: %s " % sys.argv[2]
i = next((k for k, l in enumerate(lines) if l.startswith(want)), None)
if i is None:
    sys.exit("the guide has no '%s' marker" % want.strip())
while not lines[i].rstrip().endswith("::"):
    i += 1
i += 1
while not lines[i].strip():
    i += 1
out = []
while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
    out.append(lines[i][4:])
    i += 1
print("\n".join(out).strip())
PY
    sed -e "s#/tmp/qemu-build#@BUILD@#g" -e "s#/tmp/qemu-install#@INST@#g" \
        -e "s#/tmp/#$tmp/#g" -e "s#@BUILD@#$BUILD#g" -e "s#@INST@#$INST#g"
}

# --- roi-controller
block roi-controller > roi.sh || exit 1
echo "roi-controller: $(grep -c . roi.sh) lines from the guide"
ht_log "roi-controller.py with a Linux guest (TCG)"
(cd "$work/src" && timeout 600 bash -e "$work/roi.sh" < /dev/null) \
    > roi.out 2>&1 || { tail -n 30 roi.out; bad "roi-controller: the guide's commands failed"; }
# (the guest's console shares the terminal: a line may start after its
# escape sequences)
sed -n -e 's/.*\(roi-controller: \)/\1/p' -e '/^region /p' roi.out > printed.txt
cat printed.txt
want="roi-controller: begin client=0 vcpu=0 args=[1, * status=paused
region 1 on client 0
roi-controller: end client=0 vcpu=0 args=[0, * status=paused
region 0 on client 0
roi-controller: 2 boundaries"
got=$(cat printed.txt)
# shellcheck disable=SC2053
[[ $got == $want ]] || bad "roi-controller: printed '$got', want '$want'"
grep -q "guest: exit status 0" roi.out || bad "roi-controller: the guest did not finish"
read -r in out < <(awk '
    /guest_hypertrace .*arg1=1 / { depth++; next }
    /guest_hypertrace .*arg1=0 / { depth--; next }
    /exec_tb / { if (depth > 0) inside++; else outside++ }
    END { printf "%d %d\n", inside, outside }' "$tmp/roi.log")
[ "$in" -ge 1 ] && [ "$out" = 0 ] ||
    bad "roi-controller: $in exec_tb lines inside the region, $out outside"
echo "roi-controller: $in exec_tb lines, all inside the region"
[ ! -e "$tmp/qmp.sock" ] || bad "roi-controller: the socket was left behind"

# A controller that gives up takes the QEMU it started with it: here QEMU
# waits (-S) on a socket of its own and never connects
ht_log "roi-controller.py gives up: its QEMU goes too"
/usr/bin/python3 "$HT_REPO/hypertrace/examples/roi-controller.py" \
    "$tmp/give-up.sock" --timeout 1 -- "$qemu" -S -display none -nodefaults \
    -qmp unix:"$tmp/other.sock",server=on,wait=off > give-up.out 2>&1
rc=$?
grep -q "QEMU did not connect to $tmp/give-up.sock within 1 s" give-up.out ||
    bad "roi-controller: no message when QEMU does not connect: $(cat give-up.out)"
left=$(pgrep -f -- "$tmp/other.sock" | wc -l)
[ "$rc" = 1 ] && [ "$left" = 0 ] ||
    bad "roi-controller gave up with status $rc and left $left QEMU running"
echo "roi-controller: gave up with status $rc, $left QEMU left"
pkill -f -- "$tmp/other.sock"
exit $fail
