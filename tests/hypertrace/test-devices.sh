#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Several devices and hot-unplug, with the bare-metal guests
# (tests/hypertrace/baremetal), under TCG and, wherever /dev/kvm starts a
# VM, under KVM.  Both devices run with roi-events=pci_cfg_read, so each
# configuration read the guest makes shows in the trace whether region
# control has that event on.
#
# - Two devices: A begins, B begins, A ends, B ends, five reads after
#   each step: the reads are traced while either region is open (also
#   after A's end) and not after B's.
# - Hot-unplug: the second vCPU opens and closes regions in a loop while
#   the first ejects the device through the PIIX4 ACPI hotplug register
#   (-M pc); QEMU neither crashes nor reports a sanitizer error, the slot
#   is empty afterwards, and no read after the eject is traced.  Three
#   boots per accelerator.
#
# make check-asan runs this test against a build with AddressSanitizer
# (<build>/asan), where a use of the device's state after the unplug
# freed it is reported.
set -uo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
ht_scratch

ht_baremetal

# boot TAG ACCEL MACHINE GUEST MODE SMP [QEMU ARGS...]: boot, check that
# the guest finished and that QEMU reported nothing on stderr but KVM's
# host-feature warnings
boot() {
    local tag=$1 accel=$2 machine=$3 guest=$4 mode=$5 smp=$6 rc=0
    shift 6
    rm -f out.txt trace.log
    timeout 300 "$QEMU_SYSTEM" -M "$machine" -smp "$smp" -accel "$accel" \
        -m 64 -nodefaults -display none -kernel "$guest" -append "$mode" \
        -device isa-debug-exit,iobase=0xf4,iosize=4 -debugcon file:out.txt \
        -trace guest_hypertrace \
        -trace acpi_pci_eject_slot -D trace.log "$@" \
        2> err.txt < /dev/null || rc=$?
    # isa-debug-exit: the guest's 0 is QEMU's status 1
    if [ $rc != 1 ] || ! grep -q "^bm: done" out.txt; then
        bad "$tag: QEMU status $rc; guest: $(tr '\n' '|' < out.txt)"
    fi
    # (ASan's note that it does not follow QEMU's coroutine stack switches
    # is no report)
    if grep -v "warning: host doesn't support" err.txt |
       grep -v "WARNING: ASan doesn't fully support makecontext/swapcontext" |
       grep -q .; then
        bad "$tag: QEMU's stderr: $(head -c 600 err.txt)"
    fi
}

# two ACCEL GUEST
two() {
    local tag="$1 ${2%%.*} two devices" got
    boot "$tag" "$1" q35 "$2" twodev 1 \
        -device hypertrace,max-clients=3,roi-events=pci_cfg_read \
        -device hypertrace,max-clients=3,roi-events=pci_cfg_read
    # configuration reads of the host bridge (slot 0) after each event
    got=$(awk '
        /guest_hypertrace / { n++; c[n] = 0; next }
        /pci_cfg_read .* 00:00.0 @0x0 / && n { c[n]++ }
        END { for (i = 1; i <= n; i++) printf "%s%d", (i > 1 ? " " : ""), c[i] }
    ' trace.log)
    # A begins, B begins, A ends, B ends, the closing event
    [ "$got" = "5 5 5 0 0" ] ||
        bad "$tag: traced reads after each step '$got', want '5 5 5 0 0'"
    echo "$tag: traced reads after A begins, B begins, A ends, B ends: $got"
}

# unplug ACCEL GUEST N
unplug() {
    local tag="$1 ${2%%.*} unplug $3" events after
    boot "$tag" "$1" pc "$2" unplug 2 \
        -device hypertrace,addr=5,max-clients=3,roi-events=pci_cfg_read
    events=$(grep -c "guest_hypertrace " trace.log)
    after=$(awk '/acpi_pci_eject_slot/ { e = 1; next }
                 e && /pci_cfg_read/ { n++ } END { print n + 0 }' trace.log)
    grep -q "acpi_pci_eject_slot" trace.log || bad "$tag: no eject in the trace"
    [ "$events" -ge 4000 ] || bad "$tag: $events events before the unplug, want 4000+"
    [ "$after" = 0 ] || bad "$tag: $after configuration reads traced after the eject"
    echo "$tag: $(grep -o 'unplugged after [0-9]* rounds' out.txt); $events events; traced reads after the eject: $after"
}

accels=$(ht_kvm_accels)
for accel in $accels; do
    two "$accel" guest32.elf
    two "$accel" guest64.bin
    for n in 1 2 3; do
        unplug "$accel" guest32.elf $n
        unplug "$accel" guest64.bin $n
    done
done
exit $fail
