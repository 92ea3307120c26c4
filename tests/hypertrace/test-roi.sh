#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Regions of interest: guest events switch exec_tb on and off at once, in
# user mode and in a Linux guest (-smp 1, TCG), on two clients with
# nesting and an unbalanced end; and the QMP hand-off (roi-notify,
# roi-pause) driven by hypertrace/examples/roi-controller.py: the guest
# is paused at every boundary and prints nothing until "cont".
#
# Usage: test-roi.sh BUILD

set -uo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
ht_scratch
G="$HT_REPO/tests/hypertrace/guest"
CHECK="$HT_REPO/tests/hypertrace/check-roi.py"

# 1. User mode
ht_cc linux-user "$work/ht-roi" "$G/ht-roi.c" || exit 1
"$QEMU_USER" -hypertrace "path=$work/u,max-clients=2,roi-events=exec_tb" \
    -trace enable=guest_hypertrace -d guest_errors -D "$work/user.log" \
    "$work/ht-roi" > "$work/user.out" || bad "user: status $?"
"$CHECK" "$work/user.log" || bad "user: exec_tb outside the regions"
grep -q "client 0 (vCPU 0) ends a region, but none is open on it" \
    "$work/user.log" || bad "user: no guest error for the unbalanced end"
# The same with other boundary values: the program's 1s and 0s are then
# ordinary events and nothing is traced
"$QEMU_USER" -hypertrace "path=$work/u,max-clients=2,roi-events=exec_tb,roi-begin=7,roi-end=8" \
    -trace enable=guest_hypertrace -D "$work/user78.log" "$work/ht-roi" \
    > /dev/null || bad "user, roi-begin=7: status"
n=$(grep -c "exec_tb" "$work/user78.log")
[ "$n" = 0 ] || bad "user, roi-begin=7: $n exec_tb lines, want 0"

# Bad options: a clear error, no files left
expect_error() {
    local opt=$1 want=$2 out
    out=$("$QEMU_USER" -hypertrace "path=$work/bad,$opt" "$work/ht-roi" 2>&1)
    [ $? = 1 ] || bad "-hypertrace $opt: not refused"
    echo "$out" | grep -qF "$want" ||
        bad "-hypertrace $opt: want '$want', got '$out'"
    [ ! -e "$work/bad-control" ] || bad "-hypertrace $opt: files left"
}
expect_error "roi-events=no_such_event" \
    "roi-events pattern 'no_such_event' matches no trace event"
expect_error "roi-events=exec_tb:nope*" "roi-events pattern 'nope*' matches"
expect_error "roi-events=exec_tb,roi-begin=2,roi-end=2" \
    "roi-begin and roi-end must differ (both are 2)"
expect_error "roi-begin=2" "roi-begin and roi-end need roi-events"
expect_error "roi-events=exec_tb,roi-notify=on" "Invalid parameter 'roi-notify'"
expect_error "roi-events=exec_tb,roi-end=x" "roi-end"
echo "user mode: $(grep -c exec_tb "$work/user.log") exec_tb lines, all inside"

# 1b. One definition of the options: the same mistake gives the same
# message from -hypertrace and from -device hypertrace, and the defaults
# are the same (16 clients in both modes)
msg_of() { grep -o 'hypertrace: .*' | head -n 1; }
for case in "max-clients=0|max-clients must be between 1 and 1024 (got 0)" \
            "max-clients=1025|max-clients must be between 1 and 1024 (got 1025)" \
            "roi-begin=2|roi-begin and roi-end need roi-events" \
            "roi-end=5|roi-begin and roi-end need roi-events" \
            "roi-events=exec_tb,roi-begin=0|roi-begin and roi-end must differ (both are 0)" \
            "roi-events=no_such_event|roi-events pattern 'no_such_event' matches no"; do
    opt=${case%%|*} want=${case#*|}
    u=$("$QEMU_USER" -hypertrace "path=$work/bad,$opt" "$work/ht-roi" 2>&1 | msg_of)
    s=$(timeout 60 "$QEMU_SYSTEM" $QEMU_FW -M q35 -S -display none -nodefaults \
        -monitor none -device "hypertrace,$opt" 2>&1 < /dev/null | msg_of)
    case $u in *"$want"*) ;; *) bad "-hypertrace $opt: want '$want', got '$u'" ;; esac
    [ "$u" = "$s" ] ||
        bad "$opt: user mode says '$u', the device says '$s'"
done
echo "same messages in both modes, e.g. '$s'"
ht_cc linux-user "$work/ht-api" "$G/ht-api.c" || exit 1
"$QEMU_USER" -hypertrace "path=$work/d" "$work/ht-api" > "$work/api-default.out" 2>&1 ||
    bad "ht-api with the default max-clients: $(cat "$work/api-default.out")"
grep -q '^max_clients=16 ' "$work/api-default.out" ||
    bad "user mode default max-clients: $(grep max_clients "$work/api-default.out")"

# 2. A Linux guest, -smp 1
kernel=$(ht_kernel)
ht_cc softmmu "$work/ht-roi-sys" "$G/ht-roi.c" || exit 1
mkdir -p "$work/bin"
cp "$work/ht-roi-sys" "$work/bin/ht-roi"
echo 'ht-roi -s || echo HT-ROI-FAILED' > "$work/roi.sh"
ht_initrd "$work/roi.gz" "$work/roi.sh" "$work/bin/ht-roi"
ht_log "booting a Linux guest with roi-events=exec_tb"
rc=0
ht_boot "$work/serial.txt" 300 tcg 1 "$kernel" "$work/roi.gz" \
    -device hypertrace,max-clients=2,roi-events=exec_tb \
    -trace enable=guest_hypertrace -d guest_errors -D "$work/sys.log" || rc=$?
if ! grep -q "guest: exit status 0" "$work/serial.txt" ||
   grep -q "HT-ROI-FAILED" "$work/serial.txt"; then
    bad "system: the guest did not finish (QEMU status $rc)"
    tail -n 20 "$work/serial.txt"
fi
"$CHECK" "$work/sys.log" || bad "system: exec_tb outside the regions"
grep -q "client 0 (vCPU 0) ends a region, but none is open on it" \
    "$work/sys.log" || bad "system: no guest error for the unbalanced end"

# 3. QMP hand-off: paused at each boundary, nothing printed until cont
cat > "$work/quiet.sh" <<EOT
#!/bin/sh
# run by roi-controller.py at each boundary, while the guest is paused
a=\$(wc -c < "$work/serial-p.txt")
sleep 0.5
b=\$(wc -c < "$work/serial-p.txt")
echo "boundary begin=\$HT_BEGIN client=\$HT_CLIENT status=\$HT_STATUS printed=\$((b - a))" >> "$work/boundaries.txt"
EOT
chmod +x "$work/quiet.sh"
echo 'ht-roi -v -s || echo HT-ROI-FAILED' > "$work/roi-p.sh"
ht_initrd "$work/roi-p.gz" "$work/roi-p.sh" "$work/bin/ht-roi"
ht_log "booting a Linux guest with roi-notify=on,roi-pause=on"
# shellcheck disable=SC2086
timeout 300 "$HT_REPO/hypertrace/examples/roi-controller.py" \
    --exec "$work/quiet.sh" \
    "$work/qmp.sock" -- \
    "$QEMU_SYSTEM" $QEMU_FW -M q35 -accel tcg -smp 1 -m 512 -nodefaults \
    -display none -no-reboot -serial "file:$work/serial-p.txt" \
    -kernel "$kernel" -initrd "$work/roi-p.gz" \
    -append "$HT_APPEND" \
    -device hypertrace,id=ht0,max-clients=2,roi-notify=on,roi-pause=on \
    -qmp "unix:$work/qmp.sock" > "$work/controller.out" 2>&1 </dev/null ||
    bad "roi-controller: status $?"
cat "$work/controller.out"
grep -q "guest: exit status 0" "$work/serial-p.txt" && ! grep -q HT-ROI-FAILED "$work/serial-p.txt" ||
    bad "pause: the guest did not finish"
want="1 0
1 1
0 0
1 1
0 1
0 1"
got=$(sed -n 's/^boundary begin=\([01]\) client=\([01]\) .*/\1 \2/p' \
      "$work/boundaries.txt" 2>/dev/null)
[ "$got" = "$want" ] || bad "pause: boundaries (begin client) '$got', want '$want'"
n=$(grep -c "status=paused printed=0$" "$work/boundaries.txt" 2>/dev/null)
[ "$n" = 6 ] || { bad "pause: $n of 6 boundaries paused and quiet"; cat "$work/boundaries.txt"; }
grep -q "^ht-roi: phase 5" "$work/serial-p.txt" || bad "pause: the guest did not resume"
exit $fail
