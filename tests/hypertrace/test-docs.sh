#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# QEMU's manual, with hypertrace's pages, builds with Sphinx -W (warnings
# are errors): configure --enable-docs --enable-werror in BUILD/docs and
# build only the html target.
set -uo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
ht_scratch

/usr/bin/python3 -c 'import sphinx, sphinx_rtd_theme' 2>/dev/null ||
    ht_skip "python3-sphinx or python3-sphinx-rtd-theme missing (scripts/install-deps docs)"
db="$BUILD/docs"
if [ ! -f "$db/GNUmakefile" ]; then
    ht_log "configuring $db with --enable-docs --enable-werror"
    mkdir -p "$db"
    (cd "$db" && "$HT_REPO/configure" --target-list=x86_64-softmmu,x86_64-linux-user \
        --enable-docs --enable-werror) > "$work/configure.log" 2>&1 ||
        { tail -n 20 "$work/configure.log"; exit 1; }
fi
make -s -C "$db" tree >/dev/null
ht_log "building the manual (html)"
if ! ninja -C "$db" html > "$work/html.log" 2>&1; then
    grep -i -B2 -A5 "warning\|error" "$work/html.log" | head -n 40
    bad "the manual does not build with -W"
fi
for page in specs/hypertrace.html system/devices/hypertrace.html; do
    f="$db/docs/manual/$page"
    if [ -f "$f" ]; then
        echo "built $page ($(wc -c < "$f") bytes)"
    else
        bad "$page missing from the manual"
    fi
done
grep -q "QEMU_HYPERTRACE" "$db/docs/manual/user/main.html" ||
    bad "user/main.html does not document QEMU_HYPERTRACE"
grep -q "hypertrace" "$db/docs/manual/devel/tracing.html" ||
    bad "devel/tracing.html does not point to hypertrace"
exit $fail
