#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# make patches: seven git-am-able series against upstream QEMU 10.2.x, one
# per directory with its cover letter, that apply in order (the first two
# also alone) and pass scripts/checkpatch.pl with no errors (make-patches
# checks both), and whose only checkpatch warnings are the ones their
# cover letters explain: the guest library's architecture-specific code
# (the header's guards and inline fast paths, the clock of posted
# events), the new header under include/user/ (covered by an existing
# MAINTAINERS entry), and the PNG pictures, which cannot carry an SPDX
# line.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
out=$(mktemp -d)
trap 'rm -rf "$out" "$out.log"' EXIT
fail=0
# Without an identity, make-patches refuses to sign (user.name forced empty)
if GIT_CONFIG_COUNT=2 GIT_CONFIG_KEY_0=user.name GIT_CONFIG_VALUE_0= \
   GIT_CONFIG_KEY_1=user.email GIT_CONFIG_VALUE_1= \
   env -u GIT_AUTHOR_NAME -u GIT_AUTHOR_EMAIL \
   "$HT_REPO/scripts/make-patches" --out "$out" > "$out.log" 2>&1; then
    echo "FAIL: make-patches ran without an identity"; fail=1
elif ! grep -q "no identity to sign the patches with: set git's user.name" "$out.log"; then
    echo "FAIL: make-patches without an identity: $(cat "$out.log")"; fail=1
else
    echo "no identity: $(cat "$out.log")"
fi
# The exporter's identity: git's, or (a clone with none) the user's own
# login and host name
if [ -z "$(git -C "$HT_REPO" config user.name)" ] ||
   [ -z "$(git -C "$HT_REPO" config user.email)" ]; then
    export GIT_AUTHOR_NAME=${GIT_AUTHOR_NAME:-$(id -un)}
    export GIT_AUTHOR_EMAIL=${GIT_AUTHOR_EMAIL:-$(id -un)@$(hostname)}
fi
who="${GIT_AUTHOR_NAME:-$(git -C "$HT_REPO" config user.name)} <${GIT_AUTHOR_EMAIL:-$(git -C "$HT_REPO" config user.email)}>"
"$HT_REPO/scripts/make-patches" --out "$out" | tee "$out.log"
for f in "$out"/*/0*.patch; do
    case $f in */0000-cover-letter.patch) continue ;; esac
    # (git folds a long From: header onto a second line)
    from=$(awk '/^From: / { l = $0; getline n
                             if (n ~ /^[ \t]/) { sub(/^[ \t]+/, " ", n); l = l n }
                             print l; exit }' "$f")
    [ "$from" = "From: $who" ] && grep -qxF "Signed-off-by: $who" "$f" ||
        { echo "FAIL: $(basename "$f") is not from and signed by $who"; fail=1; }
done
echo "every patch from and signed off by $who"
# Identities come from the export alone: no patch file names anyone, and
# the MAINTAINERS section's M: is the exporter
if grep -lE '^(From|Signed-off-by|Author): ' "$HT_REPO"/patches/*/*.patch; then
    echo "FAIL: a patch file carries an identity of its own"; fail=1
fi
grep -qxF "+M: $who" "$out"/3-hypertrace/0001-*.patch ||
    { echo "FAIL: the MAINTAINERS section's M: is not $who"; fail=1; }
n=$(grep -c '^WARNING:' "$out.log" || true)
unexpected=$(grep -A1 '^WARNING:' "$out.log" | grep -v '^--$' | paste - - |
    grep -v -e 'architecture specific defines.*FILE: hypertrace/guest/qemu-hypertrace\.[ch]:' \
            -e 'added, moved or deleted file(s):' \
            -e "new file 'docs/system/devices/hypertrace-\(guest-ftrace\|timeline\).png' need 'SPDX" || true)
if [ "$n" -gt 10 ] || [ -n "$unexpected" ]; then
    echo "FAIL: $n checkpatch warnings (10 expected); unexpected:"
    echo "$unexpected"
    fail=1
fi
# The series, in order, each with its cover letter and its own numbering
want="1-trace 2-tcg-lockless-mmio 3-hypertrace 4-plugins 5-timeline 6-posted 7-scale"
got=$(cd "$out" && echo */ | tr -d /)
[ "$got" = "$want" ] || { echo "FAIL: series $got, want $want"; fail=1; }
for d in $want; do
    c="$out/$d/0000-cover-letter.patch"
    if [ ! -f "$c" ] || grep -q '\*\*\* \(SUBJECT\|BLURB\) HERE' "$c"; then
        echo "FAIL: $d has no filled-in cover letter"; fail=1
    fi
    compgen -G "$out/$d/0001-*.patch" > /dev/null ||
        { echo "FAIL: $d does not start at patch 1"; fail=1; }
done
grep -q "^Subject: \[PATCH 0/9\] hypertrace: let guests emit QEMU trace events" \
    "$out"/3-hypertrace/0000-cover-letter.patch ||
    { echo "FAIL: the hypertrace cover letter"; fail=1; }
grep -q "^Subject: \[PATCH 0/7\] hypertrace: posted events, a ring per client" \
    "$out"/6-posted/0000-cover-letter.patch ||
    { echo "FAIL: the posted events' cover letter"; fail=1; }
# The fuzzing patches: generic-fuzz's RAM regions, then the device's
# configs (with its data BAR as such RAM) and the coverage filter line
fr=$(ls "$out"/3-hypertrace/0008-*.patch 2>/dev/null)
fz=$(ls "$out"/3-hypertrace/0009-*.patch 2>/dev/null)
grep -q '^+    if (getenv("QEMU_FUZZ_RAM")) {' "$fr" &&
    ! grep -q hypertrace "$fr" ||
    { echo "FAIL: 3-hypertrace/0008 is not generic-fuzz's QEMU_FUZZ_RAM alone"; fail=1; }
grep -q '^+        .name = "hypertrace",' "$fz" &&
    grep -q '^+        .name = "hypertrace-roi",' "$fz" &&
    grep -q '^+        .ram = "hypertrace.data\*",' "$fz" &&
    grep -q '^+src:\*/hypertrace/\*' "$fz" ||
    { echo "FAIL: 3-hypertrace/0009 lacks the generic-fuzz configs or the filter line"; fail=1; }
for d in 1-trace 2-tcg-lockless-mmio; do
    grep -q "^make-patches: $d: .*git am onto QEMU [0-9.]*.*: ok" "$out.log" ||
        { echo "FAIL: $d not checked with git am"; fail=1; }
done
grep -q "^make-patches: 2-tcg-lockless-mmio: .*onto QEMU [0-9.]* alone and" "$out.log" ||
    { echo "FAIL: 2-tcg-lockless-mmio not checked alone"; fail=1; }
# A new file that a later patch extends is exported without the later
# hunks: the device's first version of the guide has no plugin section,
# and plugins/0002 adds the plugin call to hypertrace/common.c
grep -q '^+TCG plugins$' "$out"/4-plugins/0003-*.patch &&
    ! grep -q '^+TCG plugins$' "$out"/3-hypertrace/0007-*.patch ||
    { echo "FAIL: the guide's plugin section is not added by the plugin series"; fail=1; }
grep -q '^+        qemu_plugin_vcpu_hypertrace_cb(current_cpu, ev.client, ev.args,' "$out"/4-plugins/0002-*.patch &&
    ! grep -q 'qemu_plugin' "$out"/3-hypertrace/0001-*.patch ||
    { echo "FAIL: hypertrace/common.c's plugin call is not in the plugin series"; fail=1; }
rm -f "$out.log"
ls "$out"/*
exit $fail
