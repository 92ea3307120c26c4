#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# User mode against hostile guests and host signals (x86_64): the guest
# opens, truncates, writes and stats the channels; 8 QEMUs share one BASE;
# every fatal host signal ends QEMU and the next QEMU on the same BASE
# starts at once; execve() of a native program and of another QEMU; names
# relative to the guest's cwd, through "..", openat(); stores hit control
# mappings made PROT_NONE or replaced by shmat(), and a thread flips a
# page between anonymous memory and control while another stores to it.
# No crash, no file on the host, no event that should not fire, no fault
# that should not.
set -uo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
ht_scratch
G="$HT_REPO/tests/hypertrace/guest"
H="$work/ht-hostile"
ht_cc linux-user "$H" "$G/ht-hostile.c" || exit 1

events() { grep -c "guest_hypertrace cpu=.* arg1=$2 " "$1"; }
no_files() {
    for s in config data control; do
        [ ! -e "$1-$s" ] && [ ! -L "$1-$s" ] ||
            { bad "$1-$s left behind ($2)"; return 1; }
    done
}
run_guest() {      # run_guest NAME QEMU-ARGS... -- GUEST-ARGS...
    local name=$1
    shift
    "$QEMU_USER" "$@" > "$work/$name.out" 2> "$work/$name.err"
}
# wait until FILE contains "ready" (at most 10 s)
wait_ready() {
    local i
    for i in $(seq 100); do
        grep -q ready "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# BASE's directory as seen from the host: it never changes
listing() { ls -A "$1" | tr '\n' ' '; }

# 1. The guest opens, truncates, writes and stats its channels
run_guest files -hypertrace "$work/f" -trace guest_hypertrace -D "$work/files.log" \
    "$H" files "$work/f" || bad "files: status $? ($(tail -n 3 "$work/files.err"))"
grep -v '^ok' "$work/files.out"
[ "$(events "$work/files.log" 901)" = 1 ] && [ "$(events "$work/files.log" 902)" = 1 ] ||
    bad "files: want events 901 and 902 once each"
grep -q "arg1=901 arg2=0x000000000000feed" "$work/files.log" ||
    bad "files: event 901 lost its argument"
no_files "$work/f" files

# 2. 8 QEMUs at once with one BASE: each guest sees its own channels only
mkdir -p "$work/many"
before=$(listing "$work/many")
ht_cc linux-user "$work/ht-events" "$G/ht-events.c" || exit 1
pids=()
for i in 1 2 3 4 5 6 7 8; do
    QEMU_HYPERTRACE="path=$work/many/ht,max-clients=2" "$QEMU_USER" \
        -trace guest_hypertrace -D "$work/many-$i.log" "$work/ht-events" 2 5000 \
        > "$work/many-$i.out" 2>&1 &
    pids+=($!)
done
for i in 1 2 3 4 5 6 7 8; do
    wait "${pids[$((i - 1))]}" || bad "8 QEMUs: QEMU $i status $? ($(tail -n 2 "$work/many-$i.out"))"
done
for i in 1 2 3 4 5 6 7 8; do
    out=$("$HT_REPO/tests/hypertrace/check-events.py" "$work/many-$i.log" \
          --threads 2 --events 5000 --args "$(ht_num_args)" 2>&1) ||
        bad "8 QEMUs: QEMU $i: $out"
done
echo "8 QEMUs on one BASE: each $(echo "$out" | tail -n 1)"
[ "$(listing "$work/many")" = "$before" ] ||
    bad "8 QEMUs: BASE's directory changed: '$(listing "$work/many")'"

# 3. While a guest runs, and after it ends by any fatal signal from the
# host, BASE's directory is unchanged; a new QEMU with the same BASE and no
# option starts at once
mkdir -p "$work/sig"
before=$(listing "$work/sig")
for sig in KILL ABRT TERM INT HUP QUIT USR1 USR2 ALRM XCPU XFSZ VTALRM PROF \
           SEGV BUS ILL FPE TRAP SYS; do
    rm -f "$work/sig.out"
    (ulimit -c 0; exec env --default-signal "$QEMU_USER" -hypertrace "$work/sig/s" \
        "$H" sleep "$work/sig/s") > "$work/sig.out" 2>&1 &
    qpid=$!
    wait_ready "$work/sig.out" || bad "SIG$sig: the guest did not start"
    [ "$(listing "$work/sig")" = "$before" ] ||
        bad "SIG$sig: BASE's directory changed while the guest ran"
    kill -s "$sig" $qpid
    { wait $qpid; } 2>/dev/null
    rc=$?
    [ $rc -ge 128 ] || bad "SIG$sig: status $rc, want death by a signal"
    [ "$(listing "$work/sig")" = "$before" ] ||
        { bad "SIG$sig: BASE's directory changed: '$(listing "$work/sig")'"; break; }
    "$QEMU_USER" -hypertrace "$work/sig/s" -trace guest_hypertrace \
        -D "$work/sig-next.log" "$H" spin "$work/sig/s" 3 > "$work/sig-next.out" 2>&1 ||
        bad "SIG$sig: the next QEMU on the same BASE: $(cat "$work/sig-next.out")"
    [ "$(grep -c 'guest_hypertrace cpu=' "$work/sig-next.log")" = 3 ] ||
        bad "SIG$sig: the next QEMU lost events"
done
echo "host signals KILL ABRT TERM INT HUP QUIT USR1 USR2 ALRM XCPU XFSZ VTALRM PROF SEGV BUS ILL FPE TRAP SYS: directory unchanged, next QEMU ran"
# SIGPIPE: the guest writes into a pipe whose reader is gone
"$QEMU_USER" -hypertrace "$work/p" "$H" pipe "$work/p" 2>/dev/null | head -n 1 >/dev/null
rc=${PIPESTATUS[0]}
[ $rc = 141 ] || bad "SIGPIPE: status $rc, want 141"
no_files "$work/p" SIGPIPE
# the guest kills itself with SIGKILL
{ "$QEMU_USER" -hypertrace "$work/k" "$H" killself "$work/k"; } > /dev/null 2>&1
rc=$?
[ $rc = 137 ] || bad "guest SIGKILL: status $rc, want 137"
no_files "$work/k" "guest kill(getpid(), SIGKILL)"

# 4. execve(): a native program has no channel; a failed execve() changes
# nothing; a QEMU the guest runs with QEMU_HYPERTRACE gets channels of its
# own on the same BASE
"$QEMU_USER" -hypertrace "$work/ex" "$H" exec "$work/ex" /bin/true > /dev/null 2>&1 ||
    bad "exec: status $?"
no_files "$work/ex" "exec"
"$QEMU_USER" -hypertrace "$work/ey" -trace guest_hypertrace -D "$work/ey.log" \
    "$H" exec "$work/ey" /nonexistent > "$work/ey.out" 2>&1 || bad "failed exec: status $?"
grep -q "^ok: channels still open after a failed exec" "$work/ey.out" ||
    bad "failed exec: $(cat "$work/ey.out")"
[ "$(events "$work/ey.log" 11)" = 1 ] || bad "failed exec: no event afterwards"
QEMU_HYPERTRACE="$work/ez" "$QEMU_USER" -trace guest_hypertrace -D "$work/ez-outer.log" \
    "$H" exec "$work/ez" "$QEMU_USER" \
    -trace guest_hypertrace -D "$work/ez-inner.log" "$H" spin "$work/ez" 4 \
    > "$work/ez.out" 2>&1 || bad "QEMU run by the guest: status $? ($(cat "$work/ez.out"))"
[ "$(events "$work/ez-outer.log" 10)" = 1 ] && [ "$(grep -c 'guest_hypertrace cpu=' "$work/ez-outer.log")" = 1 ] ||
    bad "QEMU run by the guest: the outer QEMU's events"
[ "$(grep -c 'guest_hypertrace cpu=.* arg1=100[0-3] ' "$work/ez-inner.log")" = 4 ] ||
    bad "QEMU run by the guest: the inner QEMU's 4 events"
echo "exec: a QEMU run by the guest with QEMU_HYPERTRACE: its own 4 events"
no_files "$work/ez" "QEMU run by the guest"

# 5. Names: relative to the guest's cwd at the time of the open, through
# "..", openat(); after a chdir elsewhere the same relative name is the
# host's file.  And a relative BASE whose guest moves away still works.
mkdir -p "$work/n/dir" "$work/n/other"
for s in config data control; do echo theirs > "$work/n/other/c-$s"; done
run_guest names -hypertrace "$work/n/dir/c" -trace guest_hypertrace -D "$work/names.log" \
    "$H" names "$work/n/dir/c" "$work/n/dir" "$work/n/other" ||
    bad "names: status $? ($(cat "$work/names.err"))"
grep -v '^ok' "$work/names.out"
[ "$(events "$work/names.log" 8)" = 1 ] || bad "names: no event"
for s in config data control; do
    [ "$(cat "$work/n/other/c-$s")" = theirs ] || bad "names: other/c-$s changed"
done
[ -z "$(ls -A "$work/n/dir")" ] || bad "names: files appeared in BASE's directory"
mkdir -p "$work/a/rel" "$work/b"
(cd "$work/a" && "$QEMU_USER" -hypertrace rel/c -trace guest_hypertrace \
    -D "$work/chdir.log" "$H" chdir rel/c "$work/b" > "$work/chdir.out" 2>&1) ||
    bad "chdir: status $? ($(cat "$work/chdir.out"))"
[ "$(events "$work/chdir.log" 8)" = 1 ] || bad "chdir: no event after chdir"
[ -z "$(ls -A "$work/a/rel" "$work/b" | grep -v ':$' | grep .)" ] ||
    bad "chdir: files appeared on the host"

# 6. Protections, shmat and a MAP_FIXED race
run_guest prot -hypertrace "$work/m" -trace guest_hypertrace -D "$work/prot.log" \
    "$H" prot "$work/m" || bad "prot: status $?"
grep -v '^ok' "$work/prot.out"
got=$(grep 'guest_hypertrace cpu=' "$work/prot.log" | sed 's/.* arg1=\([0-9]*\) .*/\1/' | tr '\n' ' ')
[ "$got" = "903 904 " ] || bad "prot: events '$got', want '903 904 '"
run_guest shmat -hypertrace "$work/h" -trace guest_hypertrace -D "$work/shmat.log" \
    "$H" shmat "$work/h" || bad "shmat: status $?"
grep -v '^ok' "$work/shmat.out"
got=$(grep 'guest_hypertrace cpu=' "$work/shmat.log" | sed 's/.* arg1=\([0-9]*\) .*/\1/' | tr '\n' ' ')
[ "$got" = "905 " ] || bad "shmat: events '$got', want '905 '"
run_guest race -hypertrace "$work/q" -trace guest_hypertrace -D "$work/race.log" \
    "$H" race "$work/q" 20000 || bad "race: status $?"
grep -v '^ok' "$work/race.out"
! grep 'guest_hypertrace cpu=' "$work/race.log" | grep -v ' arg1=77 ' | grep -q . ||
    bad "race: an event with another arg1"
echo "race: $(grep -c 'guest_hypertrace cpu=' "$work/race.log") events"

# 7. Stress: 8 threads x 20000 events while SIGALRM fires every 100 us and
# a thread maps and unmaps control pages
"$QEMU_USER" -hypertrace "$work/z,max-clients=8" -trace guest_hypertrace \
    -D "$work/stress.log" "$work/ht-events" -s 8 20000 > "$work/stress.out" 2>&1 ||
    bad "stress: status $? ($(tail -n 2 "$work/stress.out"))"
cat "$work/stress.out"
grep -q "SIGALRM handled" "$work/stress.out" || bad "stress: no SIGALRM report"
"$HT_REPO/tests/hypertrace/check-events.py" "$work/stress.log" \
    --threads 8 --events 20000 --args "$(ht_num_args)" || bad "stress: events"
no_files "$work/z" stress
exit $fail
