#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Recording with the simple backend: with -trace wait-ms=N every event of
# many threads reaches the trace file (decoded with simpletrace.py, no
# "dropped" record), a forked child records into a file of its own, and
# the log backend stays quiet while a trace file records unless -D or
# -d trace: asks for it; while the log backend prints the events, -trace
# leaves no trace-<pid> file behind.  A trace file whose reader stalls (a
# FIFO), with events traced from QEMU's host signal handler meanwhile:
# QEMU neither hangs nor crashes, and once the reader resumes every event
# is either in the file or in its dropped count, without wait-ms (which
# drops, as upstream) and with it.
# User mode, and a Linux guest in system mode.
set -uo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
ht_scratch
ht_has_backend simple || ht_skip "this build has no simple backend"
G="$HT_REPO/tests/hypertrace/guest"
n_args=$(ht_num_args)
EVENTS_ALL="$BUILD/trace/trace-events-all"
check_simple() {   # TRACE THREADS EVENTS [check-events args]
    local trace=$1 threads=$2 events=$3
    shift 3
    /usr/bin/python3 "$HT_REPO/tests/hypertrace/check-events.py" "$trace" \
        --simple "$EVENTS_ALL" --scripts "$HT_TREE/scripts" \
        --threads "$threads" --events "$events" --args "$n_args" "$@"
}
ht_cc linux-user "$work/ht-events" "$G/ht-events.c" || exit 1
ht_cc linux-user "$work/ht-fork" "$G/ht-fork.c" || exit 1

# 1. 8 threads x 50000 events, nothing dropped; nothing on stderr
"$QEMU_USER" -hypertrace "$work/u,max-clients=8" \
    -trace "enable=guest_hypertrace,file=$work/user.bin,wait-ms=10000" \
    "$work/ht-events" 8 50000 > "$work/user.out" 2> "$work/user.err" ||
    { bad "user: status $?"; tail -n 5 "$work/user.out" "$work/user.err"; }
check_simple "$work/user.bin" 8 50000 || bad "user: events"
if grep -q guest_hypertrace "$work/user.err"; then
    bad "user: the log backend printed events while a trace file recorded"
fi
# the log backend still prints when asked to
"$QEMU_USER" -hypertrace "$work/v" \
    -trace "enable=guest_hypertrace,file=$work/v.bin" -d trace:guest_hypertrace \
    "$work/ht-events" 1 3 > /dev/null 2> "$work/v.err" || bad "-d trace: status"
[ "$(grep -c 'guest_hypertrace cpu=' "$work/v.err")" = 3 ] ||
    bad "-d trace: want 3 log lines on stderr"
"$QEMU_USER" -hypertrace "$work/w" \
    -trace "enable=guest_hypertrace,file=$work/w.bin" -D "$work/w.log" \
    "$work/ht-events" 1 3 > /dev/null || bad "-D: status"
[ "$(grep -c 'guest_hypertrace cpu=' "$work/w.log")" = 3 ] ||
    bad "-D: want 3 log lines in the -D file"
check_simple "$work/w.bin" 1 3 || bad "-D: the trace file"

# 2. fork: the child's events go to a file of its own
"$QEMU_USER" -hypertrace "$work/f,max-clients=2" \
    -trace "enable=guest_hypertrace,file=$work/fork.bin" \
    "$work/ht-fork" "$work/f" > "$work/fork.out" || bad "fork: status"
child=$(ls "$work"/fork.bin-* 2>/dev/null)
if [ "$(echo "$child" | grep -c .)" != 1 ]; then
    bad "fork: want one child trace file fork.bin-PID, got '$child'"
else
    echo "fork: child trace $(basename "$child")"
    /usr/bin/python3 "$HT_TREE/scripts/simpletrace.py" "$EVENTS_ALL" "$child" \
        > "$work/child.txt" || bad "fork: decoding the child's trace"
    /usr/bin/python3 "$HT_TREE/scripts/simpletrace.py" "$EVENTS_ALL" \
        "$work/fork.bin" > "$work/parent.txt" || bad "fork: decoding the parent's trace"
    # child: arg1 = 300..309 on client 1; parent: 400..409
    [ "$(grep -c 'guest_hypertrace.* arg1=0x1[23][0-9a-f] ' "$work/child.txt")" = 10 ] ||
        bad "fork: want the child's 10 events (arg1 = 300..309) in its file"
    [ "$(grep -c 'guest_hypertrace.* arg1=0x19[0-9a-f] ' "$work/parent.txt")" = 10 ] ||
        bad "fork: want the parent's 10 events in its file"
    ! grep -q 'arg1=0x19[0-9a-f] ' "$work/child.txt" ||
        bad "fork: parent events in the child's file"
    ! grep -q 'Dropped\|dropped' "$work/child.txt" "$work/parent.txt" ||
        bad "fork: dropped records"
fi

# exec: the events before it are written out, and QEMU says that the new
# program's events do not go to this file
ht_cc linux-user "$work/ht-hostile" "$G/ht-hostile.c" || exit 1
"$QEMU_USER" -hypertrace "$work/e" -trace "enable=guest_hypertrace,file=$work/exec.bin" \
    "$work/ht-hostile" exec "$work/e" /bin/true > /dev/null 2> "$work/exec.err" ||
    bad "exec: status $?"
grep -q "does not record the events of programs that this process executes" \
    "$work/exec.err" || bad "exec: no warning ($(cat "$work/exec.err"))"
/usr/bin/python3 "$HT_TREE/scripts/simpletrace.py" "$EVENTS_ALL" "$work/exec.bin" \
    > "$work/exec.txt" || bad "exec: decoding the trace"
grep -q 'guest_hypertrace.* arg1=0xa ' "$work/exec.txt" ||
    bad "exec: the event before exec is not in the trace"

# 3. System mode: 2 vCPUs, 2 threads x 20000 events into a trace file
ht_cc softmmu "$work/ht-events-sys" "$G/ht-events.c" || exit 1
mkdir -p "$work/sys"
cp "$work/ht-events-sys" "$work/sys/ht-events"
echo "ht-events -c 2 20000 || echo HT-EVENTS-FAILED" > "$work/sys.sh"
ht_initrd "$work/sys.gz" "$work/sys.sh" "$work/sys/ht-events"
kernel=$(ht_kernel)
ht_log "booting a Linux guest: 2 threads x 20000 events into a simple trace"
ht_boot "$work/serial.txt" 300 tcg,thread=multi 2 "$kernel" "$work/sys.gz" \
    -device hypertrace,max-clients=2 \
    -trace "enable=guest_hypertrace,file=$work/sys.bin,wait-ms=10000" 2> "$work/sys.err" ||
    bad "system: QEMU status $?"
grep -q "guest: exit status 0" "$work/serial.txt" && ! grep -q HT-EVENTS-FAILED "$work/serial.txt" ||
    { bad "system: the guest program failed"; tail -n 5 "$work/serial.txt"; }
check_simple "$work/sys.bin" 2 20000 --pin || bad "system: events"
! grep -q guest_hypertrace "$work/sys.err" || bad "system: log backend printed events"

# 4. Where a recording goes by default: the log backend prints the events
# (into FILE with -D, else on stderr) and no trace-<pid> is made; file=
# records; no -trace, no file.  The directory is QEMU's cwd.
only_files() {   # WHAT FILE...: the cwd holds exactly these files
    local what=$1 want have
    shift
    want=$(for f in "$@"; do echo "$f"; done | sort | tr '\n' ' ')
    have=$(ls -A | sort | tr '\n' ' ')
    [ "$have" = "$want" ] || bad "$what: files in the directory: '$have', want '$want'"
}
mkdir "$work/cwd" && cd "$work/cwd" || exit 1
"$QEMU_USER" -hypertrace "$work/d" -trace guest_hypertrace -D log.txt \
    "$work/ht-events" 1 3 > /dev/null 2> err.txt || bad "-D: status $?"
[ "$(grep -c 'guest_hypertrace cpu=' log.txt)" = 3 ] || bad "-D: not 3 events in log.txt"
[ ! -s err.txt ] || bad "-D: stderr: $(cat err.txt)"
only_files "user -D" log.txt err.txt
rm -f ./*
"$QEMU_USER" -hypertrace "$work/d" -trace guest_hypertrace \
    "$work/ht-events" 1 3 > /dev/null 2> err.txt || bad "-trace alone: status $?"
[ "$(grep -c 'guest_hypertrace cpu=' err.txt)" = 3 ] || bad "-trace alone: not 3 events on stderr"
only_files "user, -trace alone" err.txt
rm -f ./*
printf '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n' |
    "$QEMU_SYSTEM" -M none -display none -nodefaults -qmp stdio \
        -trace guest_hypertrace -D log.txt > /dev/null || bad "system -D: status $?"
only_files "system -D" log.txt
rm -f ./*
printf '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n' |
    "$QEMU_SYSTEM" -M none -display none -nodefaults -qmp stdio \
        -trace guest_hypertrace > /dev/null 2>&1 || bad "system -trace alone: status $?"
only_files "system, -trace alone"
"$QEMU_USER" -hypertrace "$work/d" "$work/ht-events" 1 3 > /dev/null ||
    bad "no -trace: status $?"
only_files "no -trace"
"$QEMU_USER" -hypertrace "$work/d" -trace enable=guest_hypertrace,file=rec.bin \
    "$work/ht-events" 1 3 > /dev/null 2> err.txt || bad "file=: status $?"
check_simple rec.bin 1 3 || bad "file=: rec.bin lacks the events"
[ ! -s err.txt ] || bad "file=: stderr: $(cat err.txt)"
only_files "file=" rec.bin err.txt
cd "$work" || exit 1

# 5. A stalled reader: the trace file is a FIFO whose reader sleeps 3 s
# before it reads.  ht-sigtrace fires 300000 events while QEMU's host
# signal handler traces user_host_signal for each of 20000 real-time
# signals sent to the emitting thread.  Without wait-ms the records that
# find the buffer full are dropped; with wait-ms=N the thread waits up to
# N ms for room, but a record traced from the handler never does (the
# writer may be waiting for the record the signal interrupted).  Either
# way QEMU finishes, and each event is recorded or counted as dropped,
# exactly; with a wait longer than the stall no guest event is dropped.
ht_cc linux-user "$work/ht-sigtrace" "$G/ht-sigtrace.c" || exit 1
for wait in "" ",wait-ms=200" ",wait-ms=10000"; do
    tag="stalled FIFO${wait:+, ${wait#,}}"
    rm -f "$work/fifo" "$work/fifo.bin"
    mkfifo "$work/fifo"
    ( (sleep 3; cat) < "$work/fifo" > "$work/fifo.bin" ) &
    reader=$!
    rc=0
    timeout 120 "$QEMU_USER" -hypertrace "$work/s" -trace enable=guest_hypertrace \
        -trace "enable=user_host_signal,file=$work/fifo$wait" \
        "$work/ht-sigtrace" 300000 20000 > "$work/sig.out" 2>&1 || rc=$?
    wait $reader
    [ $rc = 0 ] || bad "$tag: QEMU status $rc$([ $rc = 124 ] && echo ' (hung)')"
    grep -q "^ht-sigtrace: 300000 events, 20000 signals sent, 20000 handled$" \
        "$work/sig.out" || bad "$tag: guest: $(cat "$work/sig.out")"
    out=$(/usr/bin/python3 "$HT_REPO/tests/hypertrace/check-sigtrace.py" \
        "$EVENTS_ALL" "$work/fifo.bin" --scripts "$HT_TREE/scripts" \
        --events 300000 --signals 20000) || bad "$tag: events unaccounted for"
    echo "$tag: $out"
    # a record traced from the handler never waits for room: none is
    # written after a "dropped" record with a timestamp well before it
    # (how many signals fall into the stall is up to the scheduler, so
    # the drop counts alone prove nothing)
    [[ $out =~ \ 0\ host-signal\ records\ waited\ for\ room$ ]] ||
        bad "$tag: the signal handler waited for room: $out"
    if [ "$wait" = ",wait-ms=10000" ]; then
        # waiting longer than the stall keeps every event of the emitter
        echo "$out" | grep -q "^check-sigtrace: 300000 guest events" ||
            bad "$tag: guest events were dropped although wait-ms was given"
        # and the event that waited out the stall is seen to have waited
        [[ $out =~ \ [1-9][0-9]*\ guest\ and\ [0-9]+\ host-signal\ records\ waited ]] ||
            bad "$tag: no guest event seen waiting for room: $out"
    fi
done
exit $fail
