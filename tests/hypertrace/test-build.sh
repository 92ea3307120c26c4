#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The foundation: bad --with-hypertrace-args values are refused (by our
# configure and by QEMU's own meson option), the option shows in QEMU's
# configure --help, every new file is carried by a patch, and touching a
# new file rebuilds incrementally.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
ht_scratch

for n in 0 10 x; do
    if (cd "$work" && "$HT_REPO/configure" --with-hypertrace-args=$n) \
            >"$work/out" 2>&1; then
        echo "FAIL: configure accepted --with-hypertrace-args=$n"; fail=1
    elif ! grep -q "N must be an integer from 1 to 9" "$work/out"; then
        echo "FAIL: no clear message for N=$n:"; cat "$work/out"; fail=1
    fi
done
grep -h "from 1 to 9" "$work/out"

"$HT_TREE/configure" --help | grep -- '--with-hypertrace-args' ||
    { echo "FAIL: QEMU's configure --help lacks --with-hypertrace-args"; fail=1; }

# QEMU's own meson option refuses N=10 too (configure in a scratch dir)
mkdir "$work/b"
if (cd "$work/b" && "$HT_TREE/configure" --python=/usr/bin/python3 \
        --without-default-features --target-list=x86_64-linux-user \
        --with-hypertrace-args=10) >"$work/qemu-out" 2>&1; then
    echo "FAIL: QEMU's configure accepted --with-hypertrace-args=10"; fail=1
elif ! grep -q "hypertrace_args" "$work/qemu-out"; then
    echo "FAIL: QEMU's configure failed without naming hypertrace_args:"
    tail -n 5 "$work/qemu-out"; fail=1
else
    grep -m1 "hypertrace_args" "$work/qemu-out"
fi
grep -q "Hypertrace arguments *: $(ht_num_args)" "$BUILD/meson-logs/meson-log.txt" ||
    { echo "FAIL: meson summary lacks 'Hypertrace arguments'"; fail=1; }

"$HT_REPO/scripts/assemble" --check || fail=1

# Incremental: touching a new file recompiles it and relinks, nothing more
make -s -C "$BUILD" tree
touch "$HT_REPO/hw/misc/hypertrace.c"
steps=$(ninja -C "$BUILD" -n | grep -c '^\[' || true)
echo "after touching hw/misc/hypertrace.c ninja has $steps steps to run"
if [ "$steps" -lt 1 ] || [ "$steps" -gt 8 ]; then
    echo "FAIL: expected a handful of build steps, got $steps"
    ninja -C "$BUILD" -n | head -n 20
    fail=1
fi
exit $fail
