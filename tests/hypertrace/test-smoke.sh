#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The patched binaries start and know hypertrace.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"

"$QEMU_SYSTEM" -version | head -n 1
"$QEMU_SYSTEM" -device help | grep -q '"hypertrace"' ||
    ht_die "-device help does not list hypertrace"
"$QEMU_SYSTEM" -device hypertrace,help | grep -q 'max-clients' ||
    ht_die "-device hypertrace,help does not list max-clients"
"$QEMU_SYSTEM" -trace help | grep -qx 'guest_hypertrace' ||
    ht_die "-trace help does not list guest_hypertrace"
# The firmware install-deps installs is found with no -L (configure's
# --firmwarepath): a q35 machine with its default devices starts
out=$(echo quit | "$QEMU_SYSTEM" -M q35 -accel qtest -display none \
      -monitor stdio -S 2>&1 >/dev/null) ||
    ht_die "q35 without -L does not start: $out"
[ -z "$out" ] || ht_die "q35 without -L: $out"
# A machine with the device starts and quits
echo quit | "$QEMU_SYSTEM" $QEMU_FW -M q35 -accel qtest -nodefaults -display none \
    -device hypertrace -monitor stdio >/dev/null
if [ -x "$QEMU_USER" ]; then
    "$QEMU_USER" -version | head -n 1
    "$QEMU_USER" /bin/true || ht_die "$QEMU_USER /bin/true failed"
fi
# the trace event has the configured arity in trace-events-all
n=$(ht_num_args)
line=$(grep '^guest_hypertrace(' "$BUILD/trace/trace-events-all")
echo "$line"
[ "$(echo "$line" | grep -o 'uint64_t arg' | wc -l)" = "$n" ] ||
    ht_die "guest_hypertrace should have $n uint64_t arguments"
echo "smoke: ok"
