#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Region timelines: qemu-hypertrace-regions, as make install installs it,
# on a simple trace and on a timestamped log (-msg timestamp=on in user
# mode) of two threads, 20 regions of about 2 ms on client 0 and 10 of
# about 20 ms on client 1: the table, the Perfetto JSON (a track per
# client, the slices, their durations) and the PNG; unmatched begins and
# ends; clear errors.  In a Linux guest, the guest command qemu-hypertrace
# marks regions by name, which --names maps back.
#
# Usage: test-timeline.sh BUILD

set -euo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
ht_scratch
PY=/usr/bin/python3

ht_log "make install DESTDIR=$work/inst"
make -s -C "$BUILD" install DESTDIR="$work/inst" > install.log 2>&1 ||
    { tail -n 20 install.log; ht_die "make install failed"; }
TOOL=$(find "$work/inst" -path '*/bin/qemu-hypertrace-regions' | head -n 1)
[ -n "$TOOL" ] || ht_die "make install did not install qemu-hypertrace-regions"
echo "installed: ${TOOL#$work/inst}"
# The installed qemu-system-x86_64 finds Debian's firmware with no -L
SYS=$(find "$work/inst" -path '*/bin/qemu-system-x86_64' | head -n 1)
[ -n "$SYS" ] || ht_die "make install did not install qemu-system-x86_64"
out=$(echo quit | "$SYS" -M q35 -accel qtest -display none -monitor stdio -S \
      2>&1 >/dev/null) || bad "installed qemu-system-x86_64, q35, no -L: $out"
[ -z "$out" ] || bad "installed qemu-system-x86_64, q35, no -L: $out"
ht_cc linux-user ht-timeline "$HT_REPO/tests/hypertrace/guest/ht-timeline.c"
ht_cc linux-user ht-roi "$HT_REPO/tests/hypertrace/guest/ht-roi.c"

# check_json WHAT FILE GUEST_OUT: a track per client, 20 and 10 slices, a
# progress instant inside each region, and durations that agree with what
# the guest measured itself (the slice lies within the guest's interval;
# the medians agree within 0.5 ms, and so does their ratio, about 10, to
# 15%: this machine's load stretches both alike)
check_json() {
    $PY - "$2" "$3" <<'PY' | sed "s/^/$1: /" || bad "$1: $2"
import json, re, statistics, sys
d = json.load(open(sys.argv[1]))["traceEvents"]
guest = {}
for line in open(sys.argv[2]):
    m = re.match(r"ht-timeline: client (\d+) region (\d+) (\d+) ns", line)
    if m:
        guest.setdefault("client " + m.group(1), []).append(
            int(m.group(3)) / 1e6)
names = {e["tid"]: e["args"]["name"] for e in d
         if e["ph"] == "M" and e["name"] == "thread_name"}
ok = True
def want(cond, msg):
    global ok
    if not cond:
        print("FAIL: " + msg)
        ok = False
want(sorted(names.values()) == ["client 0", "client 1"],
     "tracks %s, want client 0 and client 1" % sorted(names.values()))
med, gmed = {}, {}
for tid, name in sorted(names.items()):
    xs = sorted((e for e in d if e["ph"] == "X" and e["tid"] == tid),
                key=lambda e: e["ts"])
    inst = [e for e in d if e["ph"] == "i" and e["tid"] == tid]
    n = 20 if name == "client 0" else 10
    want(len(xs) == n and len(inst) == n and len(guest.get(name, [])) == n,
         "%s: %d slices, %d instants, %d guest lines; want %d" %
         (name, len(xs), len(inst), len(guest.get(name, [])), n))
    if len(xs) != n or len(guest.get(name, [])) != n:
        continue
    want(all(e["args"]["arg1"] == 1 for e in xs), "slices' arg1")
    want(all(x["dur"] / 1000 <= g + 0.01 for x, g in zip(xs, guest[name])),
         "%s: a slice is longer than the guest's own interval" % name)
    med[name] = statistics.median(e["dur"] for e in xs) / 1000
    gmed[name] = statistics.median(guest[name])
    print("%s: %d slices, median %.2f ms (guest's own clock %.2f ms), %d "
          "instants" % (name, len(xs), med[name], gmed[name], len(inst)))
    want(abs(med[name] - gmed[name]) < 0.5, "%s: median %.2f ms, guest "
         "%.2f ms" % (name, med[name], gmed[name]))
if ok:
    r, gr = med["client 1"] / med["client 0"], gmed["client 1"] / gmed["client 0"]
    print("median ratio %.1f (guest's clock: %.1f)" % (r, gr))
    want(abs(r - gr) <= 0.15 * gr and r >= 3,
         "median ratio %.1f, guest's %.1f" % (r, gr))
sys.exit(0 if ok else 1)
PY
}

# --- simple backend, the installed tool with its installed events file
"$QEMU_USER" -hypertrace path="$work/u",max-clients=2 \
    -trace enable=guest_hypertrace,file="$work/t.bin" ./ht-timeline 20:2 10:20 > guest1.txt
# Run as a user would, through its #! line, with a python3 first on PATH
# that cannot import matplotlib: the installed tool uses the Python QEMU
# was configured with
mkdir -p "$work/nompl"
printf '#!/bin/sh\nexec /usr/bin/python3 -S "$@"\n' > "$work/nompl/python3"
chmod +x "$work/nompl/python3"
head -n 1 "$TOOL" | grep -q '^#!/.*python3' && ! head -n 1 "$TOOL" | grep -q env ||
    bad "installed tool's #! line: $(head -n 1 "$TOOL")"
PATH="$work/nompl:$PATH" "$TOOL" t.bin --json t.json --png t.png > table.txt 2>&1 ||
    { cat table.txt; bad "the tool failed on a simple trace"; }
# A Python without matplotlib: the message names it and says what to do
/usr/bin/python3 -S "$TOOL" t.bin --png nompl.png > nompl.txt 2>&1 &&
    bad "--png without matplotlib succeeded"
grep -q "png needs matplotlib, which /usr/bin/python3 (the Python running this script) cannot import; install it for that Python (Debian: apt-get install python3-matplotlib" nompl.txt ||
    bad "--png without matplotlib: $(cat nompl.txt)"
echo "without matplotlib: $(grep matplotlib nompl.txt)"
[ ! -e nompl.png ] || bad "--png without matplotlib left nompl.png"
cat table.txt
grep -Eq '^region 1 +20 ' table.txt && grep -Eq '^region 2 +10 ' table.txt ||
    bad "simple: the table lacks 20 'region 1' and 10 'region 2'"
grep -q "90 events, 30 regions, 30 other events; unmatched: 0 begins, 0 ends; dropped records: 0" table.txt ||
    bad "simple: summary line"
check_json simple t.json guest1.txt
got=$(ht_binfmt png t.png 2>&1)
if [[ $got =~ ^png\ [0-9]+x[0-9]+$ ]] && [ "$(stat -c %s t.png)" -gt 5000 ]; then
    echo "png: $got, $(stat -c %s t.png) bytes"
else
    bad "png: $got, $(stat -c %s t.png) bytes"
fi

# a trace that lost records: the simple backend no longer drops any, so
# append the "dropped" record it would write (5 records lost)
$PY - t.bin dropped.bin <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
rec = struct.pack("=QQII", 0xfffffffffffffffe, 1 << 62, 24 + 8, 1) + \
    struct.pack("=Q", 5)
open(sys.argv[2], "wb").write(data + struct.pack("=Q", 1) + rec)
PY
$PY "$TOOL" dropped.bin > dropped.txt 2>&1 || bad "the tool failed on a trace with a dropped record"
grep -q "dropped records: 5$" dropped.txt &&
    grep -q "warning: the trace lost 5 records" dropped.txt ||
    { cat dropped.txt; bad "5 dropped records were not reported"; }
echo "dropped: $(grep "dropped records" dropped.txt)"

# --- log backend: timestamps from -msg timestamp=on in user mode
"$QEMU_USER" -hypertrace path="$work/u",max-clients=2 -msg timestamp=on \
    -trace guest_hypertrace -D "$work/t.log" ./ht-timeline 20:2 10:20 > guest2.txt
head -n 1 t.log
# QEMU 10.2's qemu_log() puts an ISO 8601 UTC time before each line
grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z guest_hypertrace cpu=[0-9]+ arg1=1 .* client=0$' t.log ||
    bad "log: no timestamped line"
printf '1 short\n2 long\n' > names.txt
$PY "$TOOL" t.log --names names.txt --json tl.json > table2.txt 2>&1 ||
    { cat table2.txt; bad "the tool failed on a log trace"; }
grep -Eq '^short +20 ' table2.txt && grep -Eq '^long +10 ' table2.txt ||
    { cat table2.txt; bad "log: want 20 'short' and 10 'long' regions"; }
check_json log tl.json guest2.txt

# a log without timestamps, and bad options
"$QEMU_USER" -hypertrace path="$work/u",max-clients=2 -trace guest_hypertrace \
    -D "$work/plain.log" ./ht-timeline 1:1 > /dev/null
if $PY "$TOOL" plain.log > err.txt 2>&1 ||
   ! grep -q "have no host timestamps: run QEMU with -msg timestamp=on" err.txt; then
    bad "untimed log: $(cat err.txt)"
fi
if $PY "$TOOL" t.log --begin 3 --end 3 > err.txt 2>&1 ||
   ! grep -q "begin and --end must differ" err.txt; then
    bad "--begin 3 --end 3: $(cat err.txt)"
fi

# unmatched ends and nesting: ht-roi (client 0 region, client 1 region
# with a nested one, then an end on client 0 with none open)
"$QEMU_USER" -hypertrace path="$work/r",max-clients=2 \
    -trace enable=guest_hypertrace,file="$work/roi.bin" ./ht-roi "$work/r" > /dev/null
$PY "$TOOL" roi.bin > roi.txt 2>&1 || bad "the tool failed on ht-roi's trace"
grep -q "unmatched: 0 begins, 1 ends" roi.txt && grep -q "3 regions, 6 other" roi.txt &&
    grep -q "^unmatched end: client 0 at " roi.txt ||
    { cat roi.txt; bad "ht-roi: want 3 regions, 6 other events, 1 unmatched end"; }

# The streaming path on what QEMU wrote: ht-roi's trace (nested regions,
# an unmatched end) gives the same table as the in-memory path (--json),
# and its --perfetto, read back by protoc's classes, has the regions
$PY "$TOOL" roi.bin --json roi.json > roi-mem.txt 2>&1 ||
    bad "the tool failed on ht-roi's trace with --json"
if ! diff <(grep -v '^timeline:' roi-mem.txt) roi.txt > /dev/null; then
    bad "ht-roi: the streaming and in-memory tables differ: $(diff roi-mem.txt roi.txt)"
fi
$PY "$TOOL" roi.bin --perfetto roi.pftrace > /dev/null 2>&1 ||
    bad "the tool failed on ht-roi's trace with --perfetto"
mkdir -p pb
$PY "$HT_REPO/tests/hypertrace/check-perfetto.py" roi.pftrace pb > roi-pb.txt ||
    { cat roi-pb.txt; bad "ht-roi's protobuf timeline does not decode"; }
nslices=$(sed -n 's|^slices: .*: \([0-9]*\), total.*|\1|p' roi-pb.txt | awk '{ n += $1 } END { print n + 0 }')
[ "${nslices:-0}" = 3 ] && grep -q "slices still open: 0" roi-pb.txt ||
    { cat roi-pb.txt; bad "ht-roi's protobuf timeline: $nslices slices, want 3"; }
echo "ht-roi --perfetto: $nslices slices, $(grep -c '^instants:' roi-pb.txt) kinds of instants"

# Several traces at once, at scale: two generated traces (300000 regions
# of 200 ns, 8 names; 100000 more in another process), streamed
$PY "$HT_REPO/tests/hypertrace/gen-trace.py" big1.bin 300000 --pid 101
$PY "$HT_REPO/tests/hypertrace/gen-trace.py" big2.bin 100000 --pid 102 --start 1000000050
$PY "$TOOL" big1.bin big2.bin --perfetto big.pftrace > big.txt 2>&1 ||
    { cat big.txt; bad "the tool failed on two generated traces"; }
grep -q "^900000 events, 300000 regions, 300000 other events; unmatched: 0 begins, 0 ends" big.txt &&
    grep -q "^300000 events, 100000 regions, 100000 other events; unmatched: 0 begins, 0 ends" big.txt &&
    grep -Eq "^region 3 +50000 +10000000 +200 +200 +200 +200$" big.txt &&
    grep -q "^== all 2 traces" big.txt ||
    { cat big.txt; bad "two generated traces: wrong tables"; }
$PY "$HT_REPO/tests/hypertrace/check-perfetto.py" big.pftrace pb > big-pb.txt ||
    { tail -n 5 big-pb.txt; bad "the protobuf timeline of two traces does not decode"; }
grep -q "^slices: big1.bin (pid 101) / client 0 / region 7: 37500, total 7500000 ns, min 200, max 200$" big-pb.txt &&
    grep -q "^slices: big2.bin (pid 102) / client 0 / region 0: 12500, total 2500000 ns, min 200, max 200$" big-pb.txt &&
    grep -q "^instants: big2.bin (pid 102) / client 0 / event 5: 100000$" big-pb.txt ||
    { cat big-pb.txt; bad "the protobuf timeline of two traces: wrong slices"; }
echo "two traces, --perfetto: $(tail -n 1 big-pb.txt), $(stat -c %s big.pftrace) bytes"
# Two traces joined into one file: refused with what to do instead
cat big2.bin big2.bin > joined.bin
if $PY "$TOOL" joined.bin > joined.txt 2>&1 ||
   ! grep -q "another trace's header at byte $(stat -c %s big2.bin): traces joined into one file? give each QEMU's trace as a file of its own" joined.txt; then
    bad "two traces in one file: $(cat joined.txt)"
fi
rm -f joined.bin

# Two programs whose regions cross, their logs sorted into one: each end
# closes the other program's region, which the tool says, with what to
# do; the two logs given as they are pair right, without a warning
cmd_u="$BUILD/x86_64-linux-user/hypertrace/guest/qemu-hypertrace"
"$QEMU_USER" -hypertrace path="$work/xa" -trace guest_hypertrace \
    -msg timestamp=on -D "$work/xa.log" "$cmd_u" run first -- /bin/sleep 0.6 &
sleep 0.3
"$QEMU_USER" -hypertrace path="$work/xb" -trace guest_hypertrace \
    -msg timestamp=on -D "$work/xb.log" "$cmd_u" run second -- /bin/sleep 0.6
wait
printf 'first\nsecond\n' > xnames.txt
sort xa.log xb.log > xab.log
for opt in "" "--json xab.json"; do
    # shellcheck disable=SC2086
    $PY "$TOOL" xab.log --names xnames.txt $opt > xab.txt 2>&1 ||
        bad "the tool failed on two sorted logs: $(cat xab.txt)"
    grep -q "^warning: xab.log: 2 ends closed a region of another name (the first: the end of first closed second, client 0 at [0-9.]* ms): the regions of several programs joined into one trace (sort a.log b.log, one -D file for several QEMUs) pair each other's events; give each QEMU a trace of its own and the tool the files together$" xab.txt ||
        bad "two sorted logs${opt:+ ($opt)}: no warning: $(cat xab.txt)"
done
$PY "$TOOL" xa.log xb.log --names xnames.txt > xsep.txt 2>&1 ||
    bad "the tool failed on two logs: $(cat xsep.txt)"
if grep -q "^warning" xsep.txt ||
   [ "$(grep -Ec '^(first|second) +1 +(6[0-9][0-9])\.' xsep.txt)" != 4 ]; then
    bad "two logs given apart: $(cat xsep.txt)"
fi
echo "two programs' logs sorted into one: $(grep -c '^warning' xab.txt) warning; given apart: $(grep -E '^(first|second) ' xsep.txt | sort -u | tr -s ' ' | tr '\n' ';')"

# A picture of more regions than pixels: drawn per pixel column
$PY "$HT_REPO/tests/hypertrace/gen-trace.py" many.bin 20000
$PY "$TOOL" many.bin --png many.png > many.txt 2>&1 ||
    { cat many.txt; bad "--png of 20000 regions failed"; }
got=$(ht_binfmt png many.png 2>&1)
[[ $got =~ ^png\ [0-9]+x[0-9]+$ ]] && grep -q "^20000 regions" <(sed -n 's/^60000 events, //p' many.txt) ||
    bad "--png of 20000 regions: $got; $(tail -n 2 many.txt)"
echo "png of 20000 regions: $got"
# that picture is streamed; the in-memory path (with --json) draws the
# same pixels
$PY "$TOOL" many.bin --png many-mem.png --json many.json > /dev/null 2>&1 ||
    bad "--png with --json of 20000 regions failed"
same=$(/usr/bin/python3 -c 'import sys, matplotlib.image as im, numpy as np
a, b = im.imread(sys.argv[1]), im.imread(sys.argv[2])
print(int((np.abs(a - b).sum(axis=2) > 0.01).sum()) if a.shape == b.shape
      else "shapes %s %s" % (a.shape, b.shape))' many.png many-mem.png)
[ "$same" = 0 ] || bad "--png streamed and in memory: $same pixels differ"
# --json holds the whole trace in memory: a trace too big for this
# machine (a sparse file of 1 TiB behind a real trace's header) is
# refused before a byte is read, with nothing written; the table streams
cp many.bin huge.bin
truncate -s 1T huge.bin
rc=0
$PY "$TOOL" huge.bin --json huge.json > huge.txt 2>&1 || rc=$?
[ $rc = 1 ] && [ ! -e huge.json ] &&
    grep -q "^qemu-hypertrace-regions: huge.bin: --json takes the whole trace into memory, about [0-9.]* GB for its 1099.5 GB, more than the [0-9.]* GB available here; the table, --perfetto and --png stream a trace of any size$" huge.txt ||
    bad "--json of a 1 TiB trace: exit $rc, $(cat huge.txt)"
rm -f huge.bin
echo "--json of a 1 TiB trace: $(sed 's/ available.*/ available/' huge.txt)"
# several traces on one picture, a row per process
$PY "$TOOL" big1.bin big2.bin --png big.png > bigpng.txt 2>&1 ||
    { cat bigpng.txt; bad "--png of two traces failed"; }
got=$(ht_binfmt png big.png 2>&1)
[[ $got =~ ^png\ [0-9]+x[0-9]+$ ]] && grep -q "^== all 2 traces" bigpng.txt &&
    grep -q "^picture: big.png$" bigpng.txt ||
    bad "--png of two traces: $got; $(tail -n 2 bigpng.txt)"
echo "png of two traces (400000 regions): $got, the streamed and in-memory pictures of 20000 regions: $same pixels apart"

# --- a Linux guest: regions named from the shell with qemu-hypertrace
GCMD="$BUILD/x86_64-softmmu/hypertrace/guest/qemu-hypertrace"
make -s -C "$(dirname "$GCMD")" > /dev/null || ht_die "building qemu-hypertrace"
case $(ht_binfmt elf "$GCMD") in
*" static=yes") ;; *) bad "qemu-hypertrace is not static: $(ht_binfmt elf "$GCMD")" ;;
esac
kernel=$(ht_kernel)
cat > guest.sh <<'EOT'
qemu-hypertrace begin compile && echo step1
qemu-hypertrace emit 42 7
qemu-hypertrace -c 1 begin 5
qemu-hypertrace -c 1 end 5
qemu-hypertrace end compile
QEMU_HYPERTRACE_CLIENT=1 qemu-hypertrace emit 43
qemu-hypertrace emit 1 2 3 4 5 6 7 8 9 10 ; echo "toomany rc=$?"
qemu-hypertrace -c 9 emit 44 ; echo "badclient rc=$?"
qemu-hypertrace id compile
EOT
ht_initrd initrd.gz guest.sh "$GCMD"
ht_log "booting a Linux guest that marks regions with qemu-hypertrace"
rc=0
ht_boot serial.txt 120 tcg 1 "$kernel" initrd.gz \
    -device hypertrace,max-clients=2 -msg timestamp=on \
    -trace guest_hypertrace -D "$work/g.log" || rc=$?
grep -q "guest: exit status 0" serial.txt || { tail -n 20 serial.txt; bad "guest did not finish ($rc)"; }
grep -q "toomany rc=2" serial.txt || bad "emit with 10 arguments was not refused"
grep -q "badclient rc=1" serial.txt || bad "client 9 of 2 was not refused"
id=$(sed -n 's/^\([0-9]*\) compile\r*$/\1/p' serial.txt)
[ "$id" = "$($PY -c 'import sys
h = 0xcbf29ce484222325
for b in b"compile": h = ((h ^ b) * 0x100000001b3) % (1 << 64)
print(h)')" ] || bad "qemu-hypertrace id compile printed '$id'"
echo compile > gnames.txt
$PY "$TOOL" g.log --names gnames.txt > g.txt 2>&1 || bad "the tool failed on the guest's log"
cat g.txt
grep -Eq '^compile +1 ' g.txt && grep -Eq '^region 5 +1 ' g.txt &&
    grep -q "6 events, 2 regions, 2 other events; unmatched: 0 begins, 0 ends" g.txt ||
    bad "guest: want one 'compile' and one 'region 5' region and 2 other events"
grep -q "guest_hypertrace cpu=0 arg1=43 .* client=1$" g.log ||
    bad "QEMU_HYPERTRACE_CLIENT=1: no event on client 1"
exit $fail
