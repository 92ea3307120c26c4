#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# TCG plugins and hypertrace: a test plugin (tests/hypertrace/plugin/
# ht-check.c) must receive every event of ht-events exactly once, with
# its client, vCPU and arguments, in user mode (4 threads) and in a
# 2-vCPU Linux guest; contrib/plugins' hypertrace-roi must count a
# region's loads and stores exactly and nothing outside regions, and log
# the memory accesses made inside them.
#
# Usage: test-plugins.sh BUILD

set -euo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
ht_scratch

grep -qx "#define CONFIG_PLUGIN" "$BUILD/config-host.h" ||
    ht_skip "this build has no TCG plugins (configured with --disable-plugins)"
ROI="$BUILD/contrib/plugins/libhypertrace-roi.so"
[ -f "$ROI" ] || ht_die "$ROI was not built"
n_args=$(ht_num_args)
THREADS=4
EVENTS=5000
INSIDE=1000000

# make install puts qemu-plugin.h (and the guest library's header) into
# <prefix>/include; the test plugin is built against that copy only
ht_log "make install DESTDIR=$work/inst"
make -s -C "$BUILD" install DESTDIR="$work/inst" > install.log 2>&1 ||
    { tail -n 20 install.log; ht_die "make install failed"; }
inc=$(dirname "$(find "$work/inst" -name qemu-plugin.h | head -n 1)")
[ -f "$inc/qemu-plugin.h" ] && [ -f "$inc/qemu-hypertrace.h" ] ||
    ht_die "make install did not install qemu-plugin.h and qemu-hypertrace.h" \
        "into one include directory: $(find "$work/inst" -name '*.h')"
echo "installed: ${inc#$work/inst}/qemu-plugin.h, qemu-hypertrace.h"
grep -q "qemu_plugin_register_vcpu_hypertrace_cb" "$inc/qemu-plugin.h" ||
    bad "the installed qemu-plugin.h lacks the hypertrace API"
gcc -O2 -Wall -Werror -shared -fPIC -o libht-check.so \
    "$HT_REPO/tests/hypertrace/plugin/ht-check.c" \
    -I"$inc" $(pkg-config --cflags glib-2.0) ||
    ht_die "building the test plugin failed"
rm -rf "$work/inst"
ht_cc linux-user ht-events "$HT_REPO/tests/hypertrace/guest/ht-events.c"
ht_cc linux-user ht-loop "$HT_REPO/tests/hypertrace/guest/ht-loop.c"

# check_events WHAT FILE CPUS: FILE holds ht-check's exit line
check_events() {
    local want="ht-check: events=$((THREADS * EVENTS)) expected=$((THREADS * EVENTS)) duplicates=0 bad=0"
    if grep -q "^$want other=[0-9]* nargs=$n_args$" "$2"; then
        echo "$1: $(grep '^ht-check:' "$2")"
    else
        bad "$1: want '$want ... nargs=$n_args', got:"
        grep -A5 '^ht-check:' "$2" || tail -n 5 "$2"
    fi
}

# field LINE NAME: the value of NAME= in LINE
field() { sed -n "s/.* $2=\([0-9]*\).*/\1/p" <<< "$1"; }

# check_region WHAT OUT ID N [SLACK]: the region with id ID counted N
# loads and N stores, at most 1% more (the library's own accesses at the
# end event), or with SLACK (a system guest, whose kernel works on the
# region's vCPU meanwhile: interrupts) 5% + SLACK more.  The loops outside
# the regions would add millions.
check_region() {
    local line loads stores insns ns max=$(($4 + $4 / 100))
    [ -z "${5:-}" ] || max=$(($4 + $4 / 20 + $5))
    line=$(grep "^hypertrace-roi: region=.* id=$3 " "$2" || true)
    if [ "$(grep -c . <<< "$line")" != 1 ] || [ -z "$line" ]; then
        bad "$1: want one region with id=$3 in:"; cat "$2"; return
    fi
    loads=$(field "$line" loads) stores=$(field "$line" stores)
    insns=$(field "$line" insns) ns=$(field "$line" ns)
    if [ "$loads" -lt "$4" ] || [ "$loads" -gt $max ] ||
       [ "$stores" -lt "$4" ] || [ "$stores" -gt $max ] ||
       [ "$insns" -lt $((3 * $4)) ] || [ "$ns" -le 0 ]; then
        bad "$1: region id=$3 of $4 iterations: $line"
    else
        echo "$1: $line"
    fi
}

# check_roi WHAT OUT THREADS INSIDE [SLACK]: the regions of ht-loop -t
# THREADS INSIDE
check_roi() {
    local t
    for t in $(seq 0 $(($3 - 1))); do
        check_region "$1" "$2" $((7 + t)) $(($4 * (t + 1))) ${5:+"$5"}
    done
    check_region "$1" "$2" 100 1000 ${5:+"$5"}
    grep -q "^hypertrace-roi: $(($3 + 1)) regions closed, 0 still open at exit, 0 ends without an open region$" "$2" ||
        bad "$1: summary line: $(grep 'regions closed' "$2")"
}

# check_log WHAT OUT LOG: LOG has exactly the 1000 loads and 1000 stores
# of the counter ht-loop printed
check_log() {
    local addr
    addr=$(sed -n 's/.*ht-loop: logged \(0x[0-9a-f]*\).*/\1/p' "$2")
    [ -n "$addr" ] || { bad "$1: ht-loop printed no address"; return; }
    if [ "$(grep -c " L $addr 8$" "$3")" != 1000 ] ||
       [ "$(grep -c " S $addr 8$" "$3")" != 1000 ]; then
        bad "$1: log: $(grep -c " L $addr 8$" "$3") loads and" \
            "$(grep -c " S $addr 8$" "$3") stores of $addr, want 1000 each"
    else
        echo "$1: log: 1000 loads and 1000 stores of $addr," \
             "$(grep -c . "$3") accesses in all"
    fi
}

# --- user mode
rc=0
"$QEMU_USER" -hypertrace path="$work/u",max-clients=$THREADS \
    -plugin "$work/libht-check.so,threads=$THREADS,events=$EVENTS,nargs=$n_args" \
    ./ht-events $THREADS $EVENTS > user.out 2>&1 || rc=$?
[ $rc = 0 ] || bad "user mode: qemu-x86_64 exited with $rc"
check_events "user mode, trace event disabled" user.out

"$QEMU_USER" -hypertrace path="$work/u",max-clients=$THREADS \
    -trace enable=guest_hypertrace -D user.log \
    -plugin "$work/libht-check.so,threads=$THREADS,events=$EVENTS,nargs=$n_args" \
    ./ht-events $THREADS $EVENTS > user2.out 2>&1 || bad "user mode (traced) failed"
check_events "user mode, trace event enabled" user2.out
[ "$(grep -c 'guest_hypertrace cpu=' user.log)" = $((THREADS * EVENTS)) ] ||
    bad "user mode: the trace has $(grep -c 'guest_hypertrace cpu=' user.log) events"

"$QEMU_USER" -hypertrace path="$work/u",max-clients=2 \
    -plugin "$ROI" ./ht-loop -t 2 $INSIDE 2000000 \
    > roi-user.out 2>&1 || bad "user mode: ht-loop under hypertrace-roi failed"
check_roi "user mode, hypertrace-roi" roi-user.out 2 $INSIDE
# summary=on with one id in four threads (four vCPUs) at once: its sums
# are the four regions', 1+2+3+4 times INSIDE loads and stores, and 1%
# more at most (the library's accesses at each end)
"$QEMU_USER" -hypertrace path="$work/u",max-clients=4 \
    -plugin "$ROI,summary=on" ./ht-loop -s -t 4 $INSIDE 200000 \
    > roi-same.out 2>&1 || bad "user mode: ht-loop -s under summary=on failed"
line=$(grep "^hypertrace-roi: id=7 " roi-same.out || true)
want=$((10 * INSIDE))
if [[ $line =~ regions=4\ insns=[0-9]+\ loads=([0-9]+)\ stores=([0-9]+)\ ns=[1-9] ]] &&
   [ "${BASH_REMATCH[1]}" -ge $want ] && [ "${BASH_REMATCH[1]}" -le $((want + want / 100)) ] &&
   [ "${BASH_REMATCH[2]}" -ge $want ] && [ "${BASH_REMATCH[2]}" -le $((want + want / 100)) ] &&
   grep -q "^hypertrace-roi: id=100 regions=1 " roi-same.out &&
   grep -q "^hypertrace-roi: 5 regions closed, 0 still open at exit, 0 ends without an open region$" roi-same.out; then
    echo "summary=on, one id on 4 vCPUs: $line"
else
    bad "summary=on, one id on 4 vCPUs: $(cat roi-same.out)"
fi
"$QEMU_USER" -hypertrace path="$work/u",max-clients=2 \
    -plugin "$ROI,log=$work/mem-user.log" ./ht-loop 500 20000 \
    > log-user.out 2>&1 || bad "user mode: hypertrace-roi log=FILE failed"
check_log "user mode, hypertrace-roi log=" log-user.out mem-user.log

# 20000 short regions back to back: the plugin changes its instrumentation
# three times in all (on at the first region, off after it, on again for
# good), not twice per region, and every region counts the same loads and
# stores, the loop's and the closing event's; summary=on sums them per id
ht_cc linux-user ht-regions "$HT_REPO/tests/hypertrace/guest/ht-regions.c" || exit 1
"$QEMU_USER" -hypertrace path="$work/u" -plugin "$ROI,out=$work/many.out" \
    ./ht-regions 20000 10 > /dev/null || bad "ht-regions under hypertrace-roi failed"
counts=$(sed -n 's/^hypertrace-roi: region=.* loads=\([0-9]*\) stores=\([0-9]*\) .*/\1 \2/p' \
         many.out | sort | uniq -c)
read -r nreg loads stores <<< "$counts"
if [ "$(grep -c . <<< "$counts")" = 1 ] && [ "$nreg" = 20000 ] &&
   [ "$loads" -ge 10 ] && [ "$loads" -le 14 ] &&
   [ "$stores" -ge 10 ] && [ "$stores" -le 12 ] &&
   grep -q "^hypertrace-roi: 3 translation flushes$" many.out; then
    echo "20000 short regions: each loads=$loads stores=$stores; $(tail -n 1 many.out)"
else
    bad "20000 short regions: counts '$counts'; $(tail -n 2 many.out | tr '\n' ' ')"
fi
"$QEMU_USER" -hypertrace path="$work/u" \
    -plugin "$ROI,out=$work/sum.out,summary=on" ./ht-regions 20000 10 > /dev/null ||
    bad "ht-regions under hypertrace-roi summary=on failed"
for id in 64 65 66 67; do
    grep -q "^hypertrace-roi: id=$id regions=5000 insns=[0-9]* loads=$((5000 * ${loads:-0})) stores=$((5000 * ${stores:-0})) ns=[0-9]*$" sum.out ||
        bad "summary=on: no line for id $id with 5000 regions: $(cat sum.out)"
done
grep -q "^hypertrace-roi: 20000 regions closed, 0 still open" sum.out ||
    bad "summary=on: $(cat sum.out)"
echo "summary=on: $(head -n 1 sum.out)"

# A program without regions: nothing counted, nothing logged
"$QEMU_USER" -plugin "$ROI,log=$work/mem-none.log,out=$work/none.out" \
    ./ht-loop 0 1000000 > /dev/null || bad "ht-loop without regions failed"
grep -q "^hypertrace-roi: 0 regions closed, 0 still open" none.out &&
    grep -q "^hypertrace-roi: 0 translation flushes$" none.out &&
    [ ! -s mem-none.log ] || bad "no regions: $(cat none.out), $(wc -l < mem-none.log) logged"

# Other begin/end values: the default ones open nothing
"$QEMU_USER" -hypertrace path="$work/u",max-clients=2 \
    -plugin "$ROI,begin=5,end=6,out=$work/other.out" ./ht-loop 1000 0 > /dev/null ||
    bad "hypertrace-roi begin=5,end=6 failed"
grep -q "^hypertrace-roi: 0 regions closed" other.out ||
    bad "begin=5,end=6 counted regions: $(cat other.out)"

# Bad options: QEMU refuses to start, with the plugin's reason
for opt in "begin=3,end=3:begin and end must differ" \
           "begin=x:begin=x: not a number" "depth=2:unknown option depth=2" \
           "summary=maybe:summary=maybe: on or off" \
           "log=/nonexistent/x:log=/nonexistent/x: No such file"; do
    if "$QEMU_USER" -plugin "$ROI,${opt%%:*}" ./ht-loop 0 1 > bad.out 2>&1; then
        bad "hypertrace-roi accepted ${opt%%:*}"
    elif ! grep -q "hypertrace-roi: ${opt#*:}" bad.out; then
        bad "hypertrace-roi ${opt%%:*}: want '${opt#*:}', got: $(cat bad.out)"
    fi
done

# --- system mode: 2-vCPU Linux guests
kernel=$(ht_kernel)
ht_cc softmmu ht-events-s "$HT_REPO/tests/hypertrace/guest/ht-events.c"
ht_cc softmmu ht-loop-s "$HT_REPO/tests/hypertrace/guest/ht-loop.c"
mkdir -p bin
cp ht-events-s bin/ht-events
cp ht-loop-s bin/ht-loop
# boot_guest WHAT SCRIPT QEMU-ARGS...: the guest runs SCRIPT (serial
# console in WHAT.serial, QEMU's output in WHAT.out)
boot_guest() {
    local what=$1 script=$2 rc=0
    shift 2
    echo "$script" > "$what.sh"
    ht_initrd "$what.gz" "$what.sh" bin/ht-events bin/ht-loop
    ht_log "booting a Linux guest with -smp 2: $what"
    ht_boot "$what.serial" 300 tcg,thread=multi 2 "$kernel" "$what.gz" \
        -device hypertrace,max-clients=$THREADS "$@" > "$what.out" 2>&1 || rc=$?
    if ! grep -q "guest: exit status 0" "$what.serial" || grep -q "FAILED" "$what.serial"; then
        bad "system mode ($what): the guest did not finish (QEMU status $rc)"
        tail -n 20 "$what.serial"
    fi
}

# Both plugins at once: every event, and the regions' counts (the
# kernel's work on a region's vCPU meanwhile, e.g. interrupts, counts too)
boot_guest sys "ht-events -c $THREADS $EVENTS || echo HT-EVENTS-FAILED
ht-loop -c -t 2 $INSIDE 2000000 || echo HT-LOOP-FAILED" \
    -plugin "$work/libht-check.so,threads=$THREADS,events=$EVENTS,nargs=$n_args,cpus=2" \
    -plugin "$ROI,out=$work/roi-sys.out"
check_events "system mode, 2 vCPUs" sys.out
check_roi "system mode, hypertrace-roi" roi-sys.out 2 $INSIDE 50000

boot_guest syslog "ht-loop -c 500 20000 || echo HT-LOOP-FAILED" \
    -plugin "$ROI,log=$work/mem-sys.log"
check_log "system mode, hypertrace-roi log=" syslog.serial mem-sys.log

exit $fail
