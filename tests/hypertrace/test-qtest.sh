#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# QEMU's own qtests with the device built in (device-introspect-test,
# qom-test) and hypertrace-test, through QEMU's meson test harness.
set -euo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"

tests="hypertrace-test device-introspect-test qom-test"
cd "$BUILD"
targets=""
for t in $tests; do targets="$targets tests/qtest/$t"; done
# shellcheck disable=SC2086
ninja $targets >/dev/null
names=""
for t in $tests; do names="$names qtest-x86_64/$t"; done
# shellcheck disable=SC2086
pyvenv/bin/meson test --no-rebuild --print-errorlogs -t 3 $names
