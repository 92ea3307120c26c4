#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# make patches: a git-am-able series against upstream QEMU 10.0.x that
# passes scripts/checkpatch.pl with no errors (make-patches checks both).
set -euo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$HT_REPO/scripts/make-patches" --out "$out"
ls "$out"
grep -q "hypertrace: let guests emit QEMU trace events" "$out"/0000-cover-letter.patch
