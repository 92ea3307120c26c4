#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# System mode with a real Linux guest (Debian cloud kernel, busybox
# initramfs): a static program linked against the guest library finds the
# device by its PCI ids (base NULL) and emits events from 2 threads pinned
# to 2 vCPUs on 2 clients; the host checks every event, its vCPU and its
# arguments.  Also checks the API contract and non-root use.  TCG always;
# KVM when a Linux guest boots under it here, otherwise skipped with the
# reason printed.
#
# Usage: test-system-guest.sh BUILD

set -euo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"

EVENTS=500
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n_args=$(ht_num_args)
kernel=$(ht_kernel)

ht_cc softmmu "$work/ht-events" "$HT_REPO/tests/hypertrace/guest/ht-events.c"
ht_cc softmmu "$work/ht-api" "$HT_REPO/tests/hypertrace/guest/ht-api.c"

cat > "$work/test.sh" <<EOT
ht-api || echo "HT-API-FAILED"
ht-events -c 2 $EVENTS || echo "HT-EVENTS-FAILED"
# Non-root: refused until the resource files are made accessible, which is
# what the udev rule in the docs does.
ht-events -u 65534 1 1
dev=\$(dirname \$(grep -l 0x10f0 /sys/bus/pci/devices/*/device))
chmod 0444 \$dev/resource0
chmod 0666 \$dev/resource2 \$dev/resource4
ht-api -u 65534 > /tmp/nonroot.txt
echo "nonroot rc=\$?"
tail -n 1 /tmp/nonroot.txt
EOT
ht_initrd "$work/initrd.gz" "$work/test.sh" "$work/ht-events" "$work/ht-api"

fail=0
run_guest() {
    local accel=$1 serial="$work/serial-${1%%,*}.txt" trace="$work/trace-${1%%,*}.log"
    local rc=0

    ht_log "booting a Linux guest with -accel $accel -smp 2"
    ht_boot "$serial" 300 "$accel" 2 "$kernel" "$work/initrd.gz" \
        -device hypertrace,max-clients=4 \
        -trace guest_hypertrace -D "$trace" || rc=$?
    if ! grep -q "HT-DONE rc=0" "$serial"; then
        echo "FAIL ($accel): the guest did not finish (QEMU status $rc)"
        tail -n 20 "$serial"
        fail=1
        return
    fi
    if grep -q "HT-API-FAILED\|HT-EVENTS-FAILED\|^FAIL" "$serial"; then
        echo "FAIL ($accel): guest program failed"
        grep -v "^ok" "$serial" | tail -n 20
        fail=1
    fi
    grep "^max_clients=" "$serial" | head -n 1
    "$HT_REPO/tests/hypertrace/check-events.py" "$trace" --threads 2 \
        --events $EVENTS --args "$n_args" --pin --ignore 777 || fail=1
    if ! grep -q "ht-events: init: permission denied" "$serial"; then
        echo "FAIL ($accel): non-root access before chmod was not refused"
        fail=1
    fi
    if ! grep -q "nonroot rc=0" "$serial" ||
       [ "$(grep -c "arg1=777 " "$trace")" != 2 ]; then
        echo "FAIL ($accel): want 2 events arg1=777 (root and non-root), got" \
             "$(grep -c "arg1=777 " "$trace")"
        fail=1
    fi
    echo "$accel: $(grep -c 'guest_hypertrace cpu=' "$trace") events checked"
}

run_guest tcg,thread=multi

# KVM: only where a Linux guest really boots under it
if reason=$(ht_kvm_probe "$kernel" "$work"); then
    run_guest kvm
else
    echo "SKIP kvm: $reason"
fi
exit $fail
