#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The ust (LTTng) backend: a build of its own, <build>/ust, with only
# x86_64-linux-user and --enable-trace-backends=ust.  lttng-sessiond,
# "lttng enable-event -u qemu:guest_hypertrace", then babeltrace2 must show
# the example's two events with their arguments.
set -uo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
work=$(mktemp -d)
cd "$work"
sessiond=""
relayd=""
cleanup() {
    local i
    lttng destroy ht >/dev/null 2>&1
    lttng destroy fleet >/dev/null 2>&1
    [ -z "$relayd" ] || kill "$relayd" 2>/dev/null
    if [ -n "$sessiond" ] && kill "$sessiond" 2>/dev/null; then
        # it stops its consumer daemons on the way out: wait for that
        for i in $(seq 50); do
            kill -0 "$sessiond" 2>/dev/null || break
            sleep 0.2
        done
    fi
    rm -rf "$work"
}
trap cleanup EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
n_args=$(ht_num_args)

for c in lttng lttng-sessiond babeltrace2; do
    command -v $c >/dev/null || ht_skip "$c missing (scripts/install-deps trace)"
done
pkg-config --exists lttng-ust ||
    ht_skip "liblttng-ust-dev missing (scripts/install-deps trace)"

ub="$BUILD/ust"
if [ ! -f "$ub/GNUmakefile" ]; then
    ht_log "configuring $ub (x86_64-linux-user, ust backend)"
    mkdir -p "$ub"
    (cd "$ub" && "$HT_REPO/configure" --target-list=x86_64-linux-user \
        --enable-trace-backends=ust --disable-plugins \
        --with-hypertrace-args="$n_args") \
        > "$work/configure.log" 2>&1 || { tail -n 20 "$work/configure.log"; exit 1; }
fi
ht_log "building $ub/qemu-x86_64"
make -s -C "$ub" tree >/dev/null &&
    ninja -C "$ub" qemu-x86_64 > "$work/build.log" 2>&1 ||
    { tail -n 20 "$work/build.log"; exit 1; }
ht_cc linux-user "$work/example" "$HT_REPO/hypertrace/guest/example.c"

export LTTNG_HOME="$work/home"
mkdir -p "$LTTNG_HOME"
lttng-sessiond --daemonize --pidfile="$work/sessiond.pid" >/dev/null 2>&1 ||
    ht_skip "lttng-sessiond does not start here"
sessiond=$(cat "$work/sessiond.pid")
lttng create ht --output="$work/trace" >/dev/null &&
    lttng enable-event -u qemu:guest_hypertrace >/dev/null &&
    lttng start >/dev/null || { bad "lttng session setup"; exit 1; }
LTTNG_UST_REGISTER_TIMEOUT=-1 "$ub/qemu-x86_64" -hypertrace "$work/ht" \
    "$work/example" "$work/ht" || bad "example under the ust build"
lttng stop >/dev/null
lttng destroy ht >/dev/null
babeltrace2 "$work/trace" > "$work/events.txt" 2>&1 || bad "babeltrace2 failed"
grep guest_hypertrace "$work/events.txt"
[ "$(grep -c 'qemu:guest_hypertrace' "$work/events.txt")" = 2 ] ||
    bad "want 2 qemu:guest_hypertrace events"
# Two QEMUs recorded through a relay daemon over the network, as a fleet
# of hosts would stream to one collector: per-process buffers with the
# vpid context, so that qemu-hypertrace-regions puts each QEMU on a
# process track of its own
ht_cc linux-user "$work/ht-regions" "$HT_REPO/tests/hypertrace/guest/ht-regions.c"
lttng-relayd -o "$work/relay" > "$work/relayd.log" 2>&1 &
relayd=$!
sleep 1
if ! kill -0 "$relayd" 2>/dev/null; then
    echo "SKIP relay: lttng-relayd does not start: $(head -n 1 "$work/relayd.log")"
elif ! lttng create fleet --set-url=net://127.0.0.1 >/dev/null ||
     ! lttng enable-channel -u --buffers-pid ch >/dev/null ||
     ! lttng enable-event -u -c ch qemu:guest_hypertrace >/dev/null ||
     ! lttng add-context -u -c ch -t vpid >/dev/null ||
     ! lttng start >/dev/null; then
    bad "lttng session through the relay daemon"
else
    for i in 1 2; do
        LTTNG_UST_REGISTER_TIMEOUT=-1 "$ub/qemu-x86_64" -hypertrace "$work/f$i" \
            "$work/ht-regions" $((100 * i)) 10 > /dev/null || bad "ht-regions $i"
    done
    lttng stop >/dev/null
    lttng destroy fleet >/dev/null
    /usr/bin/python3 "$ub/qemu-src/scripts/qemu-hypertrace-regions" "$work/relay" \
        --perfetto "$work/fleet.pftrace" > "$work/fleet.txt" 2>&1 ||
        { cat "$work/fleet.txt"; bad "qemu-hypertrace-regions on the relay daemon's traces"; }
    cat "$work/fleet.txt"
    grep -q "^900 events, 300 regions, 300 other events; unmatched: 0 begins, 0 ends" "$work/fleet.txt" &&
        grep -Eq "^region 64 +75 " "$work/fleet.txt" ||
        bad "the relay daemon's traces: want 300 regions of 2 QEMUs, 75 of region 64"
    mkdir -p "$work/pb"
    /usr/bin/python3 "$HT_REPO/tests/hypertrace/check-perfetto.py" "$work/fleet.pftrace" \
        "$work/pb" > "$work/fleet-pb.txt" || bad "the fleet's protobuf timeline does not decode"
    procs=$(sed -n 's|^slices: \([^/]*\) / client 0 / .*|\1|p' "$work/fleet-pb.txt" | sort -u | wc -l)
    [ "$procs" = 2 ] || { cat "$work/fleet-pb.txt"; bad "the fleet's timeline: $procs processes with slices, want 2"; }
    echo "relay daemon: 2 QEMUs, $procs process tracks on one timeline"
fi

# A field's value, however babeltrace2 prints its base (decimal, or 0x...
# for a field with a hexadecimal display base)
field() {
    local v
    v=$(grep 'qemu:guest_hypertrace' "$work/events.txt" | head -n 1 |
        grep -oE "[{ ,]$1 = [0-9a-fA-Fx]+" | head -n 1 | sed 's/.* = //')
    [ -n "$v" ] && echo $((v))
}
[ "$(field cpu)" = 0 ] && [ "$(field arg1)" = 1 ] ||
    bad "first event: want cpu 0, arg1 1: got '$(field cpu)' '$(field arg1)'"
if [ "$n_args" -ge 2 ]; then
    [ "$(field arg2)" = 161 ] || bad "first event: want arg2 0xa1, got '$(field arg2)'"
fi
exit $fail
