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

for n in 0 9 10 x; do
    if (cd "$work" && "$HT_REPO/configure" --with-hypertrace-args=$n) \
            >"$work/out" 2>&1; then
        echo "FAIL: configure accepted --with-hypertrace-args=$n"; fail=1
    elif ! grep -q "N must be an integer from 1 to 8" "$work/out"; then
        echo "FAIL: no clear message for N=$n:"; cat "$work/out"; fail=1
    fi
done
grep -h "from 1 to 8" "$work/out"

(cd "$work" && "$HT_TREE/configure" --help) | grep -- '--with-hypertrace-args' ||
    { echo "FAIL: QEMU's configure --help lacks --with-hypertrace-args"; fail=1; }

# QEMU's own meson option refuses N=9 too (configure in a scratch dir)
mkdir "$work/b"
if (cd "$work/b" && "$HT_TREE/configure" --python=/usr/bin/python3 \
        --without-default-features --target-list=x86_64-linux-user \
        --with-hypertrace-args=9) >"$work/qemu-out" 2>&1; then
    echo "FAIL: QEMU's configure accepted --with-hypertrace-args=9"; fail=1
elif ! grep -q "hypertrace_args" "$work/qemu-out"; then
    echo "FAIL: QEMU's configure failed without naming hypertrace_args:"
    tail -n 5 "$work/qemu-out"; fail=1
else
    grep -m1 "hypertrace_args" "$work/qemu-out"
fi
# (the value alone, whatever meson pads or colours the summary line with)
grep -Eq "Hypertrace arguments[^0-9]*$(ht_num_args)\b" "$BUILD/meson-logs/meson-log.txt" ||
    { echo "FAIL: meson summary lacks 'Hypertrace arguments'"; fail=1; }

"$HT_REPO/scripts/assemble" --check || fail=1

# fetch-qemu's choice of version, with a stand-in apt-cache that offers
# given versions and a cache where those versions are already extracted
fake_fetch() {   # VERSIONS...: prints fetch-qemu's stdout and stderr
    local d="$work/fetch" v
    rm -rf "$d" && mkdir -p "$d/bin" "$d/cache"
    { echo '#!/bin/sh'; for v in "$@"; do echo "echo 'Version: $v'"; done; } \
        > "$d/bin/apt-cache"
    chmod +x "$d/bin/apt-cache"
    for v in "$@"; do
        mkdir -p "$d/cache/qemu-${v#*:}"
        echo "$v" > "$d/cache/qemu-${v#*:}/.hypertrace-extracted"
    done
    PATH="$d/bin:$PATH" "$HT_REPO/scripts/fetch-qemu" "$d/cache" 2>&1
}
pin=$(sed -n 's/^QEMU_DEBIAN_VERSION=//p' "$HT_REPO/qemu-version")
out=$(fake_fetch "$pin")
case $out in */qemu-${pin#*:}) echo "fetch-qemu: pinned $pin -> ok" ;;
*) bad "fetch-qemu with the pinned version: $out" ;; esac
newer="1:10.2.99+ds-1"
out=$(fake_fetch "$pin" "$newer")
if echo "$out" | grep -q "warning: Debian serves qemu $newer, newer than the pinned $pin" &&
   echo "$out" | grep -q "/qemu-${newer#*:}$"; then
    echo "fetch-qemu: newer point release -> $(echo "$out" | head -n 1)"
else
    bad "fetch-qemu with a newer 10.2.x: $out"
fi
out=$(fake_fetch "1:11.1.3+ds-1") &&
    bad "fetch-qemu accepted QEMU 11.1: $out"
echo "$out" | grep -q "Debian serves qemu 1:11.1.3+ds-1, but hypertrace is for QEMU 10.2.x" &&
    echo "fetch-qemu: 11.1 refused -> $out" || bad "fetch-qemu, 11.1: $out"
out=$(fake_fetch "1:10.2.1+ds-1") && bad "fetch-qemu accepted an older 10.2.x: $out"
echo "$out" | grep -q "older than the pinned" || bad "fetch-qemu, older 10.2.x: $out"

# --qemu-src=DIR: a QEMU tree the user has (Debian's, whose patches also
# keep the firmware blobs the +ds tarball lacks out of the build), copied
# and patched elsewhere, never modified in place
up=$("$HT_REPO/scripts/fetch-qemu" 2>/dev/null)
qs="$BUILD/qemu-src-check"
rm -rf "$qs" && mkdir -p "$qs"
touch "$work/stamp"
if (cd "$qs" && "$HT_REPO/configure" --qemu-src="$up" \
        --target-list=x86_64-linux-user) > "$work/qemu-src.log" 2>&1 &&
   grep -q "Hypertrace arguments" "$qs/meson-logs/meson-log.txt"; then
    echo "configure --qemu-src=$up: ok"
else
    bad "configure --qemu-src failed: $(tail -n 3 "$work/qemu-src.log")"
fi
changed=$(find "$up" -newer "$work/stamp" | head -n 3)
[ -z "$changed" ] || bad "--qemu-src modified the given tree: $changed"
rm -rf "$qs"

# The store hooks that linux-user uses exist only in user-mode builds: the
# system emulator's TCG objects name neither them nor hypertrace
# (QEMU 10.2 builds tcg/ and accel/tcg/ into libsystem and libuser)
sys_objs=$(ls "$BUILD"/libsystem.a.p/tcg_*.o "$BUILD"/libsystem.a.p/accel_tcg_*.o)
syms=$(nm $sys_objs | grep -i -e hypertrace -e store_hook || true)
[ -z "$syms" ] || bad "system-mode TCG objects reference: $syms"
n=$(nm "$BUILD"/libuser.a.p/tcg_*.o | grep -c " U user_store_hook_call" || true)
[ "$n" -ge 1 ] || bad "user-mode TCG objects do not call user_store_hook_call"
echo "system-mode TCG: $(echo $sys_objs | wc -w) objects, no hypertrace or" \
     "store hook symbol; user-mode TCG calls user_store_hook_call"

# Incremental: touching a new file recompiles it and relinks, nothing more
# (a dry run overestimates: it cannot know generated headers stay the same)
make -s -C "$BUILD" tree
touch "$HT_REPO/hw/misc/hypertrace.c"
ninja -C "$BUILD" qemu-system-x86_64 > "$work/incr.log" 2>&1 ||
    { bad "incremental build failed"; tail -n 5 "$work/incr.log"; }
compiled=$(grep -c 'Compiling C object' "$work/incr.log" || true)
echo "after touching hw/misc/hypertrace.c: $compiled object(s) compiled:" \
     "$(sed -n 's/.*Compiling C object \([^ ]*\).*/\1/p' "$work/incr.log" | tr '\n' ' ')"
if ! grep -Eq 'Compiling C object lib(common|system).a.p/hw_misc_hypertrace.c.o' "$work/incr.log" ||
   [ "$compiled" -gt 3 ]; then
    bad "expected hw/misc/hypertrace.c and little else to be recompiled"
fi
exit $fail
