#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Bare-metal guests (tests/hypertrace/baremetal): i386 and x86_64
# multiboot programs built with the host's gcc, no OS and no library,
# booted with -kernel on q35 with 2 vCPUs, under TCG and, wherever
# /dev/kvm starts a VM, under KVM.  They find the device by PCI
# configuration cycles, place its BARs, and check what the spec says:
# 2 vCPUs x 2 clients x 2000 events at once (the second CPU started with
# INIT-SIPI-SIPI), 4-byte (i386) and 8-byte (x86_64) event stores, every
# store that is not an event with its -d guest_errors line, and the 8- and
# 16-byte MMX/SSE stores in a boot of their own; and roi-pause driven
# over QMP (baremetal-pause.py): the VM is paused at each boundary, under
# KVM before the instruction after the event store, under TCG at the end
# of its translation block; at such a boundary, system_reset (the data
# slots read 0 in the next boot) and migration into a file (the slots
# arrive as the guest wrote them, and an event on the destination carries
# them).  check-baremetal.py reads the traces.
set -uo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
ht_scratch
CHECK="$HT_REPO/tests/hypertrace/check-baremetal.py"

ht_baremetal
for g in guest32.elf:"class=32 data=lsb machine=i386" guest64.elf:"class=64 data=lsb machine=x86_64"; do
    got=$(ht_binfmt elf "${g%%:*}")
    [[ $got == "${g#*:} "* ]] || bad "${g%%:*}: $got"
done

# run ACCEL GUEST MODE: boot it, check the status and the trace
run() {
    local accel=$1 guest=$2 mode=$3 rc=0 append=
    local tag="$accel ${guest%%.*} $mode"
    [ "$mode" = simd ] && append=simd
    rm -f out.txt trace.log
    timeout 300 "$QEMU_SYSTEM" -M q35 -smp 2 -accel "$accel" -m 64 \
        -nodefaults -display none -kernel "$guest" -append "$append" \
        -device hypertrace,max-clients=3 \
        -device isa-debug-exit,iobase=0xf4,iosize=4 -debugcon file:out.txt \
        -d guest_errors -trace guest_hypertrace -D trace.log \
        2> err.txt < /dev/null || rc=$?
    # isa-debug-exit: the guest's 0 is QEMU's status 1
    if [ $rc != 1 ] || ! grep -q "^bm: done" out.txt; then
        bad "$tag: QEMU status $rc; guest: $(tr '\n' '|' < out.txt);" \
            "stderr: $(grep -v 'warning: host' err.txt | head -n 3 | tr '\n' '|')"
    fi
    /usr/bin/python3 "$CHECK" trace.log "$mode" | sed "s/^/$tag: /" |
        cut -c1-300
    [ "${PIPESTATUS[0]}" = 0 ] || bad "$tag: the trace is not what the spec says"
}

# pause ACCEL GUEST: roi-pause=on; the words the guest stores after the
# event store, as QMP reads them while the VM is paused at the boundary
pause() {
    local accel=$1 guest=$2 rc=0 want
    local tag="$accel ${guest%%.*} roi-pause"
    rm -f out.txt qmp.sock
    timeout 300 /usr/bin/python3 "$HT_REPO/tests/hypertrace/baremetal-pause.py" \
        "$work/qmp.sock" out.txt -- "$QEMU_SYSTEM" -M q35 -accel "$accel" \
        -m 64 -nodefaults -display none -kernel "$guest" -append pause \
        -device hypertrace,max-clients=3,roi-notify=on,roi-pause=on \
        -device isa-debug-exit,iobase=0xf4,iosize=4 -debugcon file:out.txt \
        > pause.out 2> pause.err < /dev/null || rc=$?
    # KVM stops right after the store; TCG at the end of its block, which
    # includes the store to pause_a but not the one after the branch
    if [ "$accel" = kvm ]; then
        want="boundary begin=true status=paused pause_a=0 pause_b=0"
    else
        want="boundary begin=true status=paused pause_a=1 pause_b=0"
    fi
    want="$want|boundary begin=false status=paused pause_a=1 pause_b=1|"
    if [ $rc != 1 ] || [ "$(tr '\n' '|' < pause.out)" != "$want" ] ||
       ! grep -q "^bm: pause steps done" out.txt; then
        bad "$tag: QEMU status $rc; got '$(tr '\n' '|' < pause.out)', want '$want';" \
            "stderr: $(grep -v 'warning: host\|waiting for connection' pause.err | head -n 3)"
    else
        echo "$tag: $(tr '\n' ' ' < pause.out)"
    fi
}

# state ACCEL GUEST reset|migrate
state() {
    local accel=$1 guest=$2 what=$3 rc=0 opt
    local tag="$accel ${guest%%.*} $what"
    rm -f out-*.txt trace-*.log mig qmp.sock*
    if [ "$what" = reset ]; then opt=(--reset); else opt=(--migrate "$work/mig"); fi
    timeout 300 /usr/bin/python3 "$HT_REPO/tests/hypertrace/baremetal-pause.py" \
        "${opt[@]}" "$work/qmp.sock" out-@SIDE@.txt -- "$QEMU_SYSTEM" -M q35 \
        -accel "$accel" -m 64 -nodefaults -display none -kernel "$guest" \
        -append "$what" \
        -device hypertrace,max-clients=3,roi-notify=on,roi-pause=on \
        -device isa-debug-exit,iobase=0xf4,iosize=4 \
        -debugcon file:out-@SIDE@.txt -trace guest_hypertrace \
        -D trace-@SIDE@.log > state.out 2> state.err < /dev/null || rc=$?
    local guest_out
    guest_out=$(cat out-src.txt out-dst.txt 2>/dev/null | tr '\n' '|')
    if [ "$what" = reset ]; then
        [ $rc = 1 ] && grep -q "^boundary: system_reset" state.out &&
            [[ $guest_out == *"bm: data slots written|"*"bm: data slots are 0 after the reset|bm: done|" ]] ||
            bad "$tag: QEMU status $rc; guest: $guest_out; $(cat state.out state.err | grep -v 'warning: host\|waiting for' | head -n 5)"
    else
        # the destination's event: client 2's slot as written before
        [ $rc = 1 ] && grep -q "^migration: completed" state.out &&
            [[ $guest_out == *"bm: data slots written|bm: data slots kept across the migration|bm: done|" ]] &&
            grep -q "guest_hypertrace cpu=0 arg1=8738 $want_args.*client=2$" trace-dst.log &&
            [ "$(grep -c guest_hypertrace trace-dst.log)" = 1 ] ||
            bad "$tag: QEMU status $rc; guest: $guest_out; $(cat state.out state.err | grep -v 'warning: host\|waiting for' | head -n 5); destination trace: $(head -n 3 trace-dst.log 2>/dev/null)"
    fi
    [ "$fail" = 1 ] || echo "$tag: $guest_out"
}

# what the destination's event carries, as far as this build's arity goes
want_args=
[ "$(ht_num_args)" -ge 2 ] && want_args="arg2=0xd0000201d0000200 "
[ "$(ht_num_args)" -ge 3 ] && want_args="${want_args}arg3=0xd0000203d0000202 "

accels=$(ht_kvm_accels)
for accel in $accels; do
    ht_log "$accel: i386 and x86_64 guests, 2 vCPUs"
    run "$accel" guest32.elf general32
    run "$accel" guest64.bin general64
    run "$accel" guest32.elf simd
    run "$accel" guest64.bin simd
    pause "$accel" guest32.elf
    pause "$accel" guest64.bin
    for what in reset migrate; do
        state "$accel" guest32.elf $what
        state "$accel" guest64.bin $what
    done
done
exit $fail
