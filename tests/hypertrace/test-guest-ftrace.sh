#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The guest's own tracing on the host's timeline: a Linux guest (-smp 2,
# TCG) enables sched_switch in its ftrace, runs "qemu-hypertrace sync",
# two regions of work with held-out "qemu-hypertrace mark" markers from
# the other CPU, ten marks each right after a sleep, and a second sync,
# and writes its ftrace trace to a second serial port.  qemu-hypertrace-regions --guest-trace puts that
# trace on the host clock; check-guest-ftrace.py checks, from QEMU's log
# alone, that each held-out marker lands within 50 us of its event and
# that each region's task runs inside its region.  Then the tool's
# refusals: no sync marker, traces of different runs, a run's trace
# twice, a truncated trace.  The same checks under -icount and on a
# recorded run and its replay, where the tool maps through QEMU's virtual
# clock (guest_hypertrace_clock).
#
# Usage: test-guest-ftrace.sh BUILD

set -uo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
ht_scratch
TOOL=(/usr/bin/python3 "$HT_REPO/scripts/qemu-hypertrace-regions")
CHECK="$HT_REPO/tests/hypertrace/check-guest-ftrace.py"
BOUND_US=50
[ "$(ht_num_args)" -ge 2 ] || ht_skip "events with one argument carry no region name"

guestdir="$BUILD/$HT_ARCH-softmmu/hypertrace/guest"
make -s -C "$guestdir" > /dev/null || ht_die "building the guest command failed"
kernel=$(ht_kernel) || ht_die "no guest kernel"

# The workload: a region per task, on either CPU, while the marks come
# from the shell on the other
cat > guest.sh <<'EOT'
# before tracefs is mounted: events without markers
qemu-hypertrace sync --count 2 --interval 1 || exit 1
mount -t tracefs nodev /sys/kernel/tracing || exit 1
T=/sys/kernel/tracing
# Under TCG with two vCPUs Linux finds its TSCs unsynchronized and its
# sched_clock unstable, and makes "global" the trace clock: each CPU's
# clock is then filtered on its own, and an event may be stamped up to a
# tick away from the others (a begin marker 1.1 ms early, here).  "mono"
# is one clock for all CPUs.  The guest command notes that; a sync with
# the default clock shows it (switching the clock empties the buffer)
qemu-hypertrace sync --count 1 --interval 1 > /tmp/default-clock.out || exit 1
cat /tmp/default-clock.out
echo mono > $T/trace_clock
echo 1 > $T/events/sched/sched_switch/enable
qemu-hypertrace sync --count 5 --interval 10 || exit 1
for w in work1 work2; do
    qemu-hypertrace run $w -- sh -c 'echo "$0 pid $$"; i=0; while [ $i -lt 4000 ]; do i=$((i+1)); done' $w &
    work=$!
    k=1
    while [ $k -le 10 ]; do
        qemu-hypertrace -c 1 mark check-$w-$k || exit 1
        k=$((k+1))
    done
    wait $work
done
# marks right after a sleep: under -icount the host's clock and the
# virtual one part across idle time
k=1
while [ $k -le 10 ]; do
    usleep $((20000 + k * 1700))
    qemu-hypertrace mark after-sleep-$k || exit 1
    k=$((k+1))
done
qemu-hypertrace sync --count 5 --interval 10 || exit 1
echo 0 > $T/tracing_on
cat $T/trace > /dev/ttyS1
EOT
ht_initrd initrd.gz guest.sh "$guestdir/qemu-hypertrace" ||
    ht_die "building the initramfs failed"

# boot NAME SMP [QEMU ARGS...]: console NAME.txt, guest trace
# NAME-ftrace.txt, QEMU's log NAME.log; the events traced as $EVENT
EVENT=guest_hypertrace
boot() {
    local name=$1 smp=$2 rc=0
    shift 2
    ht_log "booting the guest ($name, $smp vCPUs, $EVENT)"
    ht_boot "$name.txt" 300 tcg "$smp" "$kernel" initrd.gz \
        -serial "file:$name-ftrace.txt" \
        -device hypertrace,max-clients=3 -trace "$EVENT" \
        -msg timestamp=on -D "$name.log" "$@" || rc=$?
    grep -q "guest: exit status 0" "$name.txt" ||
        { bad "$name: the guest did not finish (QEMU status $rc): $(tail -n 5 "$name.txt" | tr '\n' '|')"; return 1; }
}

# align NAME [TOOL ARGS...]: the tool's timeline NAME.json, then the check
align() {
    local name=$1
    shift
    if ! "${TOOL[@]}" "$name.log" --guest-trace "$name-ftrace.txt" \
            --json "$name.json" "$@" > "$name.out" 2>&1; then
        bad "$name: qemu-hypertrace-regions failed: $(cat "$name.out")"
        return 1
    fi
    grep "^guest clock\|^host clock" "$name.out" | sed "s/^/$name: /"
    grep "^warning" "$name.out" | sed "s/^/$name: /"
    /usr/bin/python3 "$CHECK" "$name.log" "$name.json" "$name.txt" \
        "$name-ftrace.txt" "$BOUND_US" work1 work2 | tee "$name.check" |
        sed "s/^/$name: /"
    [ "${PIPESTATUS[0]}" = 0 ] || bad "$name: the guest trace is not where QEMU's says"
}

if boot tcg 2; then
    align tcg
    # what the guest trace holds, read without the tool
    n_sync=$(grep -c "tracing_mark_write: hypertrace-sync run=" tcg-ftrace.txt)
    n_switch=$(grep -c " sched_switch: " tcg-ftrace.txt)
    echo "tcg: guest trace: $n_sync sync markers, $n_switch sched_switch events"
    [ "$n_sync" = 12 ] || bad "tcg: $n_sync sync markers in the guest trace, want 12"
    # the sync before tracefs was mounted: said so, and its events (the
    # warm-up point and 2) carry the guest's CLOCK_MONOTONIC, ascending
    run=$(sed -n 's/^qemu-hypertrace: sync: 3 events of run \([0-9a-f]\{16\}\) without markers: the guest has no ftrace trace_marker .*/\1/p' tcg.txt)
    monos=$(sed -n "s/.* guest_hypertrace cpu=[0-9]* arg1=[0-9]* arg2=0x$run arg3=0x\([0-9a-f]*\) .*/\1/p" tcg.log)
    if [ -n "$run" ] && [ "$(echo "$monos" | wc -l)" = 3 ] &&
       [ "$(printf '%d\n' $(printf '0x%s ' $monos) | sort -n -c 2>&1)" = "" ] &&
       [ "$(printf '%d\n' "0x$(echo "$monos" | head -n 1)")" -gt 0 ]; then
        echo "tcg: sync without tracefs: run $run, 3 events, CLOCK_MONOTONIC $(printf '%d ' $(printf '0x%s ' $monos))"
    else
        bad "tcg: sync without tracefs: run '$run', arg3 '$monos': $(grep 'sync:' tcg.txt | head -n 1)"
    fi
    grep -q "^qemu-hypertrace: sync: 5 points of run [0-9a-f]\{16\} after a warm-up, markers in /sys/kernel/tracing/trace_marker (trace clock: mono)" tcg.txt ||
        bad "tcg: the guest command's sync line: $(grep 'sync: 5' tcg.txt | head -n 1)"
    # the guest's default clock: the note comes with "global" only
    default=$(tr -d '\r' < tcg.txt | sed -n 's/^qemu-hypertrace: sync: 1 points of run .*(trace clock: \(.*\))$/\1/p')
    notes=$(grep -c "^qemu-hypertrace: sync: note: with the global trace clock, events of different CPUs may be up to a tick apart" tcg.txt)
    echo "tcg: the guest's default trace clock: $default; $notes note(s)"
    case $default/$notes in
    global/1|local/0) ;;
    *) bad "tcg: default trace clock '$default' with $notes notes" ;;
    esac

    # refusals, each with its reason and no output file
    refuse() {
        local what=$1 want=$2 rc=0
        shift 2
        rm -f refused.json
        "${TOOL[@]}" "$@" --json refused.json > refused.out 2>&1 || rc=$?
        if [ $rc != 1 ] || ! grep -q -- "$want" refused.out || [ -e refused.json ]; then
            bad "$what: status $rc, want 1 and '$want': $(tr '\n' '|' < refused.out)"
        else
            echo "refused ($what): $(grep -- "$want" refused.out | head -n 1)"
        fi
    }
    grep -v "hypertrace-sync" tcg-ftrace.txt > nosync.txt
    refuse "no sync marker" "holds no hypertrace-sync marker" \
        tcg.log --guest-trace nosync.txt
    # another run's guest trace: the same file with other run numbers
    sed 's/run=[0-9a-f]\{8\}/run=00000000/' tcg-ftrace.txt > other-run.txt
    refuse "another run" "have no run in common: the two traces come from different runs" \
        tcg.log --guest-trace other-run.txt
    cat tcg-ftrace.txt tcg-ftrace.txt > twice.txt
    refuse "two traces mixed" "twice: the traces of two runs are mixed" \
        tcg.log --guest-trace twice.txt
    grep -v "arg1=7526767840771" tcg.log > nohost.log
    refuse "no host sync event" "holds no sync event" \
        nohost.log --guest-trace tcg-ftrace.txt
    # a guest trace cut after its first sync: one pair left
    awk '/hypertrace-sync run=.* seq=1 /{print; exit} {print}' tcg-ftrace.txt > cut.txt
    refuse "one pair" "1 sync pair: a fit needs two or more" \
        tcg.log --guest-trace cut.txt
    # the same trace as "trace-cmd report" prints it (sched_switch as
    # "prev:pid [prio] state ==> next:pid [prio]", markers as "print:"
    # events): the same fit
    /usr/bin/python3 - tcg-ftrace.txt > report.txt <<'PY'
import re, sys
print("cpus=2")
for line in open(sys.argv[1]):
    m = re.match(r"^\s*(.+?)-(\d+)\s+\[(\d+)\]\s+\S+\s+(\d+\.\d+): (\w+): (.*)$",
                 line.rstrip("\n"))
    if not m:
        continue
    task, pid, cpu, ts, ev, det = m.groups()
    head = "%16s-%-5s [%s] %s: " % (task, pid, cpu, ts)
    if ev == "tracing_mark_write":
        print(head + "print:                tracing_mark_write: " + det)
    elif ev == "sched_switch":
        d = re.search(r"prev_comm=(.*?) prev_pid=(\d+) prev_prio=(\d+) "
                      r"prev_state=(\S+) ==> next_comm=(.*?) next_pid=(\d+) "
                      r"next_prio=(\d+)", det)
        print(head + "sched_switch:         %s:%s [%s] %s ==> %s:%s [%s]" %
              d.groups())
PY
    "${TOOL[@]}" tcg.log --guest-trace report.txt --json report.json > report.out 2>&1
    slices() {
        /usr/bin/python3 -c 'import json, sys
print(sum(1 for e in json.load(open(sys.argv[1]))["traceEvents"]
          if e.get("cat") == "guest" and e["ph"] == "X"))' "$1"
    }
    n_slices=$(slices tcg.json)
    if [ "$(grep '^guest clock' report.out)" = "$(grep '^guest clock' tcg.out)" ] &&
       [ "$n_slices" -gt 0 ] && [ "$(slices report.json)" = "$n_slices" ]; then
        echo "trace-cmd report: the same fit and the same $n_slices task slices"
    else
        bad "trace-cmd report format: $(head -c 300 report.out)"
    fi
    # a marker whose number has no host event: left out, with a warning
    awk '{print} /hypertrace-sync run=.* seq=3 / && !done {sub(/seq=3 /, "seq=99 "); print; done=1}' \
        tcg-ftrace.txt > extra.txt
    if "${TOOL[@]}" tcg.log --guest-trace extra.txt > extra.out 2>&1 &&
       grep -q "warning: sync point 99 of run [0-9a-f]\{16\} has no event in tcg.log: left out" extra.out; then
        echo "extra marker: $(grep -c '^warning' extra.out) warning, timeline made"
    else
        bad "a sync marker without its event: $(tr '\n' '|' < extra.out)"
    fi
    # truncated in the middle of a line: a warning, the rest is used
    head -c "$(( $(wc -c < tcg-ftrace.txt) - 40 ))" tcg-ftrace.txt > trunc.txt
    if "${TOOL[@]}" tcg.log --guest-trace trunc.txt > trunc.out 2>&1 &&
       grep -q "ends in the middle of line [0-9]* (truncated?)" trunc.out &&
       grep -q "holds [0-9]* of the [0-9]* events its header announces" trunc.out; then
        echo "truncated: $(grep -c '^warning' trunc.out) warnings, timeline made"
    else
        bad "truncated guest trace: $(tr '\n' '|' < trunc.out)"
    fi
fi

# -icount: the guest's clocks count instructions, the host's runs at the
# speed QEMU happens to execute them, so the sync pairs lie on no line on
# the host clock.  With guest_hypertrace_clock QEMU records its virtual
# clock, which the guest's follow, at each event: the tool fits the
# guest's clock onto it and maps it onto the host's through every event.
# Across a sleep the host's clock and the virtual one part: a marker
# lies between the event the guest library emits right before it and its
# own, and the tool places it there and gives that span as the bound of
# its place; a held-out mark lands within 50 us of its event as under
# TCG, or between its two events, as QEMU's log has them
printf 'work1\nwork2\n' > names.txt
# (and QEMU's own events on the timeline: a chatty one, which would
# hold up the log's timestamps in the TCG run)
# the device traces each event with the virtual clock, as the guide says
EVENT=guest_hypertrace_clock
if boot icount 2 -icount shift=auto \
        -trace serial_write -trace file=icount.simple; then
    align icount --names names.txt
    # the simple backend recorded the same events: the same virtual
    # clock values, so the same fit of the guest's clock (the tool from
    # QEMU's scripts directory, where it finds simpletrace.py)
    if /usr/bin/python3 "$HT_TREE/scripts/qemu-hypertrace-regions" \
            icount.simple --events "$BUILD/trace/trace-events-all" \
            --guest-trace icount-ftrace.txt > simple.out 2>&1 &&
       [ "$(grep '^guest clock' simple.out)" = "$(grep '^guest clock' icount.out)" ] &&
       [ "$(grep -o '^host clock: from the virtual clock through [0-9]* events' simple.out)" = \
         "$(grep -o '^host clock: from the virtual clock through [0-9]* events' icount.out)" ]; then
        echo "icount: simple backend: the same fit and $(grep -o 'through [0-9]* events' simple.out)"
    else
        bad "icount: simple backend: $(tr '\n' '|' < simple.out)"
    fi
    # through the virtual clock, each mark between the event the guest
    # library emits before its marker and its own: the bound of its place
    grep "^host placement: " icount.out | sed "s/^/icount: /"
    n_bound=$(sed -n 's/^check-guest-ftrace: \([0-9]*\) marks with a bound in the timeline, \1 of them between their two events in the log;.*/\1/p' icount.check)
    n_marks=$(grep -c "tracing_mark_write: hypertrace-mark " icount-ftrace.txt)
    n_late=$(grep -c "tracing_mark_write: hypertrace-late id=" icount-ftrace.txt)
    [ "$n_marks" = 30 ] && [ -n "$n_bound" ] &&
        [ "$n_bound" = $((n_marks - n_late)) ] ||
        bad "icount: ${n_bound:-no} marks between their two events, of $n_marks marks ($n_late late)"
    grep -q "^guest clock: virtual = a \* guest + b" icount.out &&
        grep -q "^host clock: from the virtual clock through [0-9]* events" icount.out ||
        bad "icount: the tool did not map through the virtual clock: $(tr '\n' '|' < icount.out)"
    # the same trace without the virtual clock: the tool maps piecewise
    # between the pairs, says what would do better, and the marks are
    # off by far more (measured only)
    sed -e 's/ guest_hypertrace_clock / guest_hypertrace /' \
        -e 's/ virtual_ns=-\{0,1\}[0-9]*$//' icount.log > noclock.log
    if "${TOOL[@]}" noclock.log --guest-trace icount-ftrace.txt \
            --json noclock.json > noclock.out 2>&1 &&
       grep -q "^guest clock: host = a \* guest + b" noclock.out &&
       grep -q "^note: .*with -trace guest_hypertrace_clock" noclock.out; then
        /usr/bin/python3 "$CHECK" noclock.log noclock.json icount.txt \
            icount-ftrace.txt - \
            work1 work2 | grep "held-out" | sed "s/^/icount without the virtual clock: /"
    else
        bad "icount without guest_hypertrace_clock: $(tr '\n' '|' < noclock.out)"
    fi
    # QEMU's own events on the same timeline: every serial_write of the log
    n_log=$(grep -c " serial_write " icount.log)
    if "${TOOL[@]}" icount.log --guest-trace icount-ftrace.txt \
            --qemu-events 'serial_w*' --json qemu.json > qemu.out 2>&1; then
        n_json=$(/usr/bin/python3 -c 'import json, sys
print(sum(1 for e in json.load(open(sys.argv[1]))["traceEvents"]
          if e.get("cat") == "qemu" and e["name"] == "serial_write"))' qemu.json)
        echo "icount: QEMU events: $n_log serial_write lines in the log, $n_json on the timeline; $(grep '^QEMU events' qemu.out)"
        [ "$n_log" -gt 0 ] && [ "$n_json" = "$n_log" ] &&
            grep -q "^QEMU events: serial_write $n_log$" qemu.out ||
            bad "icount: --qemu-events: $n_json of $n_log serial_write events"
    else
        bad "icount: --qemu-events failed: $(cat qemu.out)"
    fi
    # --window regions: only the serial_write events around the guest's
    # events, fewer than the whole boot's
    if "${TOOL[@]}" icount.log --qemu-events 'serial_w*' --window regions \
            --json window.json > window.out 2>&1; then
        n_win=$(sed -n 's/^QEMU events: \([0-9]*\) of \([0-9]*\) within --window regions$/\1/p' window.out)
        echo "icount: --window regions: $(grep 'within --window' window.out)"
        [ -n "$n_win" ] && [ "$n_win" -gt 0 ] && [ "$n_win" -lt "$n_log" ] ||
            bad "icount: --window regions kept ${n_win:-no} of $n_log serial_write events"
    else
        bad "icount: --window regions failed: $(cat window.out)"
    fi
    # a window in ms from the first guest event: those before it and
    # those after it make up the whole
    n_before=$("${TOOL[@]}" icount.log --qemu-events 'serial_w*' \
        --window :0 | sed -n 's/^QEMU events: \([0-9]*\) of .* within --window :0$/\1/p')
    n_after=$("${TOOL[@]}" icount.log --qemu-events 'serial_w*' \
        --window 0: | sed -n 's/^QEMU events: \([0-9]*\) of .* within --window 0:$/\1/p')
    echo "icount: --window :0 and 0: keep ${n_before:-?} and ${n_after:-?} of $n_log"
    [ -n "$n_before" ] && [ -n "$n_after" ] && [ "$n_after" -ge "$n_win" ] &&
        [ $((n_before + n_after)) = "$n_log" ] ||
        bad "icount: --window :0 and 0: do not split the serial_write events"
    for w in 5 10:5 x:y; do
        if "${TOOL[@]}" icount.log --qemu-events serial_write --window "$w" \
                > badwin.out 2>&1 ||
                ! grep -q "^qemu-hypertrace-regions: --window $w: " badwin.out; then
            bad "icount: --window $w was not refused: $(cat badwin.out)"
        fi
    done
    if "${TOOL[@]}" icount.log --window regions > badwin.out 2>&1 ||
            ! grep -q "^qemu-hypertrace-regions: --window .* goes with --qemu-events" badwin.out; then
        bad "icount: --window without --qemu-events: $(cat badwin.out)"
    fi
    "${TOOL[@]}" icount.log --guest-trace icount-ftrace.txt --qemu-events nosuch > nosuch.out 2>&1
    grep -q "warning: no event of icount.log matches --qemu-events nosuch" nosuch.out ||
        bad "icount: --qemu-events with no match: $(cat nosuch.out)"
fi

# A recorded run and its replay: the guest runs the same instructions
# again, so its trace is the same, and each of its events falls in the
# same region on the replay's host clock.  (QEMU records one vCPU only.)
if boot record 1 -icount shift=auto,rr=record,rrfile=rr.bin &&
   align record --names names.txt &&
   boot replay 1 -icount shift=auto,rr=replay,rrfile=rr.bin &&
   align replay --names names.txt; then
    cmp -s record-ftrace.txt replay-ftrace.txt ||
        bad "replay: the guest's trace differs from the recording's"
    /usr/bin/python3 "$CHECK" --same-regions record.json replay.json |
        sed "s/^/replay: /"
    [ "${PIPESTATUS[0]}" = 0 ] || bad "replay: guest events moved to other regions"
fi
exit $fail
