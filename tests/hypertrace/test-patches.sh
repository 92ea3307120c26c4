#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# make patches: a git-am-able series against upstream QEMU 10.0.x that
# passes scripts/checkpatch.pl with no errors (make-patches checks both),
# and whose only checkpatch warnings are the four the cover letter
# explains: the extern "C" guards of the guest header, the new header
# under include/user/ (covered by an existing MAINTAINERS entry), and the
# PNG picture, which cannot carry an SPDX line.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
out=$(mktemp -d)
trap 'rm -rf "$out" "$out.log"' EXIT
"$HT_REPO/scripts/make-patches" --out "$out" | tee "$out.log"
fail=0
n=$(grep -c '^WARNING:' "$out.log" || true)
unexpected=$(grep -A1 '^WARNING:' "$out.log" | grep -v '^--$' | paste - - |
    grep -v -e 'architecture specific defines.*FILE: hypertrace/guest/qemu-hypertrace.h:' \
            -e 'does MAINTAINERS need updating' \
            -e "new file 'docs/system/devices/hypertrace-timeline.png' need 'SPDX" || true)
if [ "$n" -gt 4 ] || [ -n "$unexpected" ]; then
    echo "FAIL: $n checkpatch warnings (4 expected); unexpected:"
    echo "$unexpected"
    fail=1
fi
rm -f "$out.log"
ls "$out"
grep -q "hypertrace: let guests emit QEMU trace events" "$out"/0000-cover-letter.patch
exit $fail
