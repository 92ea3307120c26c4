#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# README's "Your first hour", run from README.md itself so that the text
# and the test cannot drift: the blocks after each "<!-- first-hour: MODE
# -->" line, as written, with the walk-through's paths pointed at this
# build (/tmp/qemu-build), a "make install" of it (/tmp/qemu-install) and
# a scratch directory (/tmp/first-hour).  User mode, then a Linux guest
# booted by the installed qemu-system-x86_64 with no -L.  Checks what
# each step promises, and that the directory holds only the files the
# walk-through names.
set -uo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
ht_scratch

ht_log "make install DESTDIR=$work/inst"
make -s -C "$BUILD" install DESTDIR="$work/inst" > install.log 2>&1 ||
    { tail -n 20 install.log; ht_die "make install failed"; }
qemu=$(find "$work/inst" -path '*/bin/qemu-x86_64' | head -n 1)
[ -n "$qemu" ] || ht_die "make install did not install qemu-x86_64"
INST=$(dirname "$(dirname "$qemu")")
dir="$work/first-hour"

# blocks MODE: the walk-through's blocks for MODE, paths substituted
blocks() {
    /usr/bin/python3 - "$HT_REPO/README.md" "$1" <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
want = "<!-- first-hour: %s -->" % sys.argv[2]
out, i, n = [], 0, 0
while i < len(lines):
    if lines[i].strip() != want:
        i += 1
        continue
    n += 1
    i += 1
    while i < len(lines) and not lines[i].strip():
        i += 1
    while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
        out.append(lines[i][4:])
        i += 1
if not n:
    sys.exit("README.md has no %s block" % want)
print("\n".join(out))
PY
}
subst() {
    sed -e "s#/tmp/qemu-build#$BUILD#g" -e "s#/tmp/qemu-install#$INST#g" \
        -e "s#/tmp/first-hour#$dir#g"
}
blocks user | subst > user.sh || exit 1
blocks system | subst > system.sh || exit 1
echo "user mode: $(grep -c . user.sh) lines; system mode: $(grep -c . system.sh) lines"

# Between begins and ends only: EVENT lines of LOG all inside a region
inside_only() {   # LOG EVENT
    awk -v ev="$2" '
        /guest_hypertrace .*arg1=1 / { depth++; next }
        /guest_hypertrace .*arg1=0 / { depth--; next }
        index($0, ev " ") { if (depth > 0) inside++; else outside++ }
        END { printf "%d %d\n", inside, outside }' "$1"
}
check_png() {
    local got
    got=$(ht_binfmt png "$1" 2>&1)
    [[ $got =~ ^png\ [0-9]+x[0-9]+$ ]] || bad "$1: $got"
}

ht_log "user mode"
(set -e; bash -e user.sh) > user.out 2>&1 || { cat user.out; bad "user-mode blocks failed"; }
cat user.out
cd "$dir" || exit 1
[ "$(grep -c 'guest_hypertrace cpu=0 arg1=1 arg2=0x0000000000000007 ' region.log)" = 3 ] &&
[ "$(grep -c 'guest_hypertrace cpu=0 arg1=0 arg2=0x0000000000000007 ' region.log)" = 3 ] ||
    bad "region.log: want 3 begins and 3 ends of region 7"
grep -Eq '^work +3 ' "$work/user.out" || bad "the table has no 'work 3' line"
read -r in out < <(inside_only roi.log exec_tb)
[ "$in" -ge 1 ] && [ "$out" = 0 ] ||
    bad "roi.log: $in exec_tb lines inside regions, $out outside"
echo "roi.log: $in exec_tb lines, all inside the regions"
for r in 1 2 3; do
    grep -q "region=$r client=0 vcpu=0 depth=1 id=7 insns=[0-9]* loads=${r}0002 stores=${r}0000 " roi.txt ||
        bad "roi.txt: region $r: want loads=${r}0002 stores=${r}0000"
done
[ "$(wc -l < mem.log)" -ge 120000 ] || bad "mem.log: $(wc -l < mem.log) lines"
check_png region.png
/usr/bin/python3 -c '
import json, sys
d = json.load(open("region.json"))["traceEvents"]
n = sum(1 for e in d if e.get("ph") == "X")
sys.exit(0 if n == 3 else "region.json: %d slices" % n)' || bad "region.json"
cd "$work" || exit 1

ht_log "system mode: the installed qemu-system-x86_64 boots the guest (TCG)"
(set -e; timeout 600 bash -e system.sh < /dev/null) > system.out 2>&1 ||
    { tail -n 30 system.out; bad "system-mode blocks failed"; }
grep -v '^$' system.out | grep -v '\[' | tail -n 12
cd "$dir" || exit 1
grep -q "region: total 699970000" "$work/system.out" &&
    grep -q "guest: exit status 0" "$work/system.out" ||
    bad "the guest program did not run to the end"
[ "$(grep -c 'guest_hypertrace cpu=0 arg1=1 arg2=0x0000000000000007 ' guest.log)" = 3 ] ||
    bad "guest.log: want 3 begins of region 7"
read -r in out < <(inside_only guest.log exec_tb)
[ "$in" -ge 1 ] && [ "$out" = 0 ] ||
    bad "guest.log: $in exec_tb lines inside regions, $out outside"
grep -Eq '^work +3 ' "$work/system.out" || bad "system: the table has no 'work 3' line"
for r in 1 2 3; do
    loads=$(sed -n "s/.*region=$r client=0 .* id=7 .*loads=\([0-9]*\) .*/\1/p" guest-roi.txt)
    [ -n "$loads" ] && [ "$loads" -ge "${r}0002" ] ||
        bad "guest-roi.txt: region $r: loads=${loads:-none}, want at least ${r}0002"
done
check_png guest.png

# Only the files the walk-through names, nothing QEMU left on its own
have=$(ls -A | sort | tr '\n' ' ')
want="guest-roi.txt guest.cpio.gz guest.log guest.png mem.log names.txt region region-sys region.c region.json region.log region.png roi.log roi.txt "
[ "$have" = "$want" ] || bad "files in /tmp/first-hour: '$have', want '$want'"
exit $fail
