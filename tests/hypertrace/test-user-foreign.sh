#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# User mode on foreign targets: aarch64 (little-endian) and s390x
# (big-endian).  Builds only those two linux-user targets, in
# <build>/foreign, cross-compiles the guest library and test programs
# statically with Debian's cross compilers, and checks every event.
set -uo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
ht_scratch
n_args=$(ht_num_args)
G="$HT_REPO/tests/hypertrace/guest"
TARGETS="aarch64 s390x"

for t in $TARGETS; do
    command -v "$t-linux-gnu-gcc" >/dev/null ||
        ht_skip "$t-linux-gnu-gcc missing (scripts/install-deps cross)"
done

fb="$BUILD/foreign"
if [ ! -f "$fb/GNUmakefile" ]; then
    ht_log "configuring $fb for aarch64-linux-user,s390x-linux-user"
    mkdir -p "$fb"
    (cd "$fb" && "$HT_REPO/configure" \
        --target-list=aarch64-linux-user,s390x-linux-user \
        --enable-trace-backends=log --with-hypertrace-args="$n_args") \
        > "$work/configure.log" 2>&1 || { tail -n 20 "$work/configure.log"; exit 1; }
fi
ht_log "building qemu-aarch64 and qemu-s390x"
make -s -C "$fb" tree >/dev/null &&
    ninja -C "$fb" qemu-aarch64 qemu-s390x > "$work/build.log" 2>&1 ||
    { tail -n 20 "$work/build.log"; exit 1; }

for t in $TARGETS; do
    cc="$t-linux-gnu-gcc"
    lib="$fb/$t-linux-user/hypertrace/guest"
    make -s -C "$lib" clean
    make -s -C "$lib" CC="$cc" >/dev/null || { bad "$t: guest library"; continue; }
    file "$lib/libqemu-hypertrace-guest.a" 2>/dev/null | head -n 1
    for p in ht-events ht-api; do
        "$cc" -O2 -static -o "$work/$p-$t" "$G/$p.c" "$lib/libqemu-hypertrace-guest.a" \
            -I"$HT_TREE/hypertrace/guest" -lpthread || bad "$t: building $p"
    done
    "$cc" -O2 -static -o "$work/example-$t" "$HT_REPO/hypertrace/guest/example.c" \
        "$lib/libqemu-hypertrace-guest.a" -I"$HT_TREE/hypertrace/guest" -lpthread ||
        bad "$t: building example"

    qemu="$fb/qemu-$t"
    "$qemu" -hypertrace "$work/$t,max-clients=2" -trace guest_hypertrace \
        -D "$work/$t.log" "$work/ht-events-$t" 2 2000 || bad "$t: ht-events status"
    "$HT_REPO/tests/hypertrace/check-events.py" "$work/$t.log" --threads 2 \
        --events 2000 --args "$n_args" || bad "$t: events"
    "$qemu" -hypertrace "$work/$t-api" -trace guest_hypertrace \
        -D "$work/$t-api.log" "$work/ht-api-$t" > "$work/$t-api.out" ||
        { bad "$t: ht-api"; grep -v '^ok' "$work/$t-api.out"; }
    grep -q 'arg1=777 ' "$work/$t-api.log" || bad "$t: no ht-api event"
    "$qemu" -hypertrace "$work/$t-ex" -trace guest_hypertrace \
        -D "$work/$t-ex.log" "$work/example-$t" >/dev/null || bad "$t: example"
    want="arg1=1"
    [ "$n_args" -lt 2 ] || want="$want arg2=0x00000000000000a1"
    grep "guest_hypertrace" "$work/$t-ex.log"
    grep -q "cpu=0 $want" "$work/$t-ex.log" || bad "$t: example event"
done
exit $fail
