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

(cd "$work" && "$HT_TREE/configure" --help) | grep -- '--with-hypertrace-args' ||
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
# (a dry run overestimates: it cannot know generated headers stay the same)
make -s -C "$BUILD" tree
touch "$HT_REPO/hw/misc/hypertrace.c"
ninja -C "$BUILD" qemu-system-x86_64 > "$work/incr.log" 2>&1 ||
    { bad "incremental build failed"; tail -n 5 "$work/incr.log"; }
compiled=$(grep -c 'Compiling C object' "$work/incr.log" || true)
echo "after touching hw/misc/hypertrace.c: $compiled object(s) compiled:" \
     "$(sed -n 's/.*Compiling C object \([^ ]*\).*/\1/p' "$work/incr.log" | tr '\n' ' ')"
if ! grep -q 'Compiling C object libcommon.a.p/hw_misc_hypertrace.c.o' "$work/incr.log" ||
   [ "$compiled" -gt 3 ]; then
    bad "expected hw/misc/hypertrace.c and little else to be recompiled"
fi
exit $fail
