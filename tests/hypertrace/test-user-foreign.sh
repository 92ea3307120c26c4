#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# User mode on foreign targets: 64-bit aarch64 and s390x (big-endian),
# 32-bit i386, arm (armhf) and mipsel, whose guests fire events with the
# 4-byte control store.  Builds only those linux-user targets, in
# <build>/foreign; the guest library picks Debian's cross compiler by
# itself (no CC=), test programs are linked statically with the seed's
# link line, and every event and argument is checked.  The build uses the
# largest --with-hypertrace-args (8: tracetool's limit of 10 arguments with
# the vCPU and the client), the main build's default being 4.
set -uo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
ht_scratch
n_args=8
G="$HT_REPO/tests/hypertrace/guest"
TARGETS="i386 arm mipsel aarch64 s390x"
list=$(for t in $TARGETS; do printf '%s-linux-user,' "$t"; done)
list=${list%,}

for t in $TARGETS; do
    command -v "$(ht_triplet "$t")-gcc" >/dev/null ||
        ht_skip "$(ht_triplet "$t")-gcc missing (scripts/install-deps cross)"
done

fb="$BUILD/foreign"
if [ -f "$fb/GNUmakefile" ] &&
   { ! grep -qx "TARGET_DIRS=$(echo "$list" | tr , ' ')" "$fb/config-host.mak" ||
     [ "$(ht_num_args "$fb")" != "$n_args" ]; }; then
    ht_log "$fb was configured differently: configuring it again"
    rm -rf "$fb"
fi
if [ ! -f "$fb/GNUmakefile" ]; then
    mkdir -p "$fb"
    ht_run_logged "$work/configure.log" "configuring $fb for $list" \
        sh -c "cd '$fb' && '$HT_REPO/configure' --target-list=$list \
               --enable-trace-backends=log --with-hypertrace-args=$n_args" ||
        exit 1
fi
ht_log "building $(for t in $TARGETS; do printf 'qemu-%s ' "$t"; done)"
ht_run_logged "$work/build.log" "building the foreign targets" \
    sh -c "make -s -C '$fb' tree >/dev/null &&
           ninja -C '$fb' $(for t in $TARGETS; do printf 'qemu-%s ' "$t"; done)" ||
    exit 1

# The guest library refuses a compiler for the wrong architecture, and
# names the package to install when the cross compiler is missing
out=$(make -s -C "$fb/mipsel-linux-user/hypertrace/guest" CC=gcc 2>&1) &&
    bad "CC=gcc for mipsel was accepted"
echo "$out" | grep -q "builds for x86_64.*use CC=mipsel-linux-gnu-gcc" ||
    bad "CC=gcc for mipsel: unexpected message: $out"
if ! command -v powerpc64le-linux-gnu-gcc >/dev/null; then
    mkdir -p "$work/ppc"
    printf 'SRC_PATH = %s\nTARGET = ppc64le-linux-user\ninclude $(SRC_PATH)/hypertrace/guest/Makefile.guest\n' \
        "$HT_TREE" > "$work/ppc/Makefile"
    out=$(make -s -C "$work/ppc" 2>&1) && bad "ppc64le without a compiler built"
    echo "$out" | grep -q "install Debian's gcc-powerpc64le-linux-gnu package" ||
        bad "ppc64le without a compiler: unexpected message: $out"
    [ ! -e "$work/ppc/qemu-hypertrace.o" ] || bad "ppc64le: host object built"
fi

for t in $TARGETS; do
    cc="$(ht_triplet "$t")-gcc"
    lib="$fb/$t-linux-user/hypertrace/guest"
    make -s -C "$lib" clean
    make -s -C "$lib" >/dev/null || { bad "$t: guest library"; continue; }
    # Built for the target: the archive's object has the target's ELF
    # class, byte order and machine
    case $t in
    i386) m="class=32 data=lsb machine=i386" ;;
    arm) m="class=32 data=lsb machine=arm" ;;
    mipsel) m="class=32 data=lsb machine=mips" ;;
    aarch64) m="class=64 data=lsb machine=aarch64" ;;
    s390x) m="class=64 data=msb machine=s390" ;;
    esac
    got=$(ht_binfmt elf "$lib/libqemu-hypertrace-guest.a")
    echo "$t: libqemu-hypertrace-guest.a: $got"
    case $got in "$m "*) ;; *) bad "$t: library is '$got', want '$m'" ;; esac
    # The seed's link line (plus -static to run without a sysroot)
    for p in ht-events ht-api ht-badcfg; do
        "$cc" -static -o "$work/$p-$t" "$G/$p.c" "$lib/libqemu-hypertrace-guest.a" \
            -I"$HT_TREE/hypertrace/guest" -I"$HT_TREE/include" -lpthread ||
            bad "$t: building $p"
    done
    "$cc" -static -o "$work/example-$t" "$HT_REPO/hypertrace/guest/example.c" \
        "$lib/libqemu-hypertrace-guest.a" -I"$HT_TREE/hypertrace/guest" -lpthread ||
        bad "$t: building example"

    qemu="$fb/qemu-$t"
    "$qemu" -hypertrace "$work/$t,max-clients=2" -trace guest_hypertrace \
        -d guest_errors -D "$work/$t.log" "$work/ht-events-$t" 2 2000 ||
        bad "$t: ht-events status"
    "$HT_REPO/tests/hypertrace/check-events.py" "$work/$t.log" --threads 2 \
        --events 2000 --args "$n_args" || bad "$t: events"
    ! grep -q "hypertrace: store of" "$work/$t.log" || bad "$t: guest errors"
    "$qemu" -hypertrace "$work/$t-api" -trace guest_hypertrace \
        -D "$work/$t-api.log" "$work/ht-api-$t" > "$work/$t-api.out" ||
        { bad "$t: ht-api"; grep -v '^ok' "$work/$t-api.out"; }
    grep -q 'arg1=777 ' "$work/$t-api.log" || bad "$t: no ht-api event"
    mkdir -p "$work/bad-$t"
    "$qemu" "$work/ht-badcfg-$t" "$work/bad-$t" > "$work/$t-badcfg.out" ||
        { bad "$t: ht-badcfg"; grep -v '^ok' "$work/$t-badcfg.out"; }
    "$qemu" -hypertrace "$work/$t-ex" -trace guest_hypertrace \
        -D "$work/$t-ex.log" "$work/example-$t" >/dev/null || bad "$t: example"
    want="arg1=1"
    [ "$n_args" -lt 2 ] || want="$want arg2=0x00000000000000a1"
    grep "guest_hypertrace" "$work/$t-ex.log"
    grep -q "cpu=0 $want" "$work/$t-ex.log" || bad "$t: example event"
done
exit $fail
