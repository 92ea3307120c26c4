#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The host's scheduling of QEMU's threads beside the guest's regions:
# qemu-hypertrace-regions --host-trace reads perf's context switches of
# QEMU's threads (perf record -e dummy --switch-events -k CLOCK_MONOTONIC
# -p PID, then perf script --ns --show-switch-events).  ht-stopped opens
# region 10 and spins until the host stops QEMU: the test sends SIGSTOP,
# then SIGCONT 50 ms later; region 11 beside it spins 100 ms.  Region 10
# must show at least 45 ms off the CPU, blocked (not preempted), and
# region 11 no blocked time and little time off the CPU; the --perfetto
# timeline has QEMU's threads with their time off the CPU.
set -uo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
ht_scratch
PY=/usr/bin/python3
TOOL=("$PY" "$HT_TREE/scripts/qemu-hypertrace-regions" --events
      "$BUILD/trace/trace-events-all")
command -v perf > /dev/null || ht_skip "no perf (Debian: linux-perf)"
ht_cc linux-user "$work/ht-stopped" "$HT_REPO/tests/hypertrace/guest/ht-stopped.c" || exit 1
printf '10 stopped\n11 beside\n' > names.txt

"$QEMU_USER" -hypertrace "$work/s" -trace "enable=guest_hypertrace,file=$work/s.bin" \
    "$work/ht-stopped" "$work/go" > s.out 2>&1 &
qemu=$!
perf record -q -e dummy --switch-events -k CLOCK_MONOTONIC -o "$work/perf.data" \
    -p "$qemu" > perf.out 2>&1 &
perfpid=$!
# perf prints nothing when it is attached: give it time, then let the
# guest go on
sleep 1
if ! kill -0 "$perfpid" 2> /dev/null; then
    kill "$qemu"; wait "$qemu"
    ht_skip "perf record cannot follow QEMU here: $(head -n 1 perf.out)"
fi
touch "$work/go"
for _ in $(seq 200); do
    grep -q "in region 10" s.out && break
    sleep 0.05
done
grep -q "in region 10" s.out || { kill "$qemu" "$perfpid"; ht_die "ht-stopped did not start: $(cat s.out)"; }
kill -STOP "$qemu"
sleep 0.05
kill -CONT "$qemu"
wait "$qemu" || bad "QEMU status $?"
wait "$perfpid"
cat s.out
perf script -i "$work/perf.data" --ns --show-switch-events > switches.txt 2> perf-script.err ||
    bad "perf script failed: $(head -n 3 perf-script.err)"
echo "perf: $(grep -c PERF_RECORD_SWITCH switches.txt) context switches"
"${TOOL[@]}" "$work/s.bin" --names names.txt --host-trace switches.txt \
    --perfetto "$work/s.pftrace" > table.txt 2>&1 ||
    { cat table.txt; ht_die "the tool failed"; }
cat table.txt
# region  count  total  min  median  p95  max  off-CPU  blocked (in ms)
read -r _ _ _ _ _ _ _ off blocked < <(grep '^stopped ' table.txt)
read -r _ _ _ _ _ _ _ off2 blocked2 < <(grep '^beside ' table.txt)
grep -q "^region .* total ms .* off-CPU ms  blocked ms$" table.txt ||
    bad "the table is not in ms or has no off-CPU columns"
awk -v o="${off:-0}" -v b="${blocked:-0}" -v o2="${off2:-99}" -v b2="${blocked2:-99}" \
    'BEGIN { exit !(o >= 45 && b >= 45 && b2 == 0 && o2 < 20) }' ||
    bad "stopped: $off ms off the CPU, $blocked blocked (want 45 or more); beside: $off2 off, $blocked2 blocked (want 0 blocked)"
grep -q "vCPU 0 of pid $qemu: thread $qemu " table.txt ||
    bad "the vCPU's thread was not found: $(grep '^host trace' table.txt)"
mkdir -p pb
"$PY" "$HT_REPO/tests/hypertrace/check-perfetto.py" "$work/s.pftrace" pb > pb.txt ||
    { cat pb.txt; bad "the protobuf timeline does not decode"; }
grep -q "/ thread $qemu .* / blocked: " pb.txt &&
    grep -q "/ client 0 / stopped: 1," pb.txt ||
    { cat pb.txt; bad "the protobuf timeline has no thread track with blocked time"; }
echo "--perfetto: $(grep -c '/ thread ' pb.txt) kinds of slices on QEMU's threads"
exit $fail
