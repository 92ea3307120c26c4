#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# User mode against hostile guests and host signals (x86_64): the guest
# and other processes truncate and write the channels, host signals end
# QEMU, a relative BASE meets a guest chdir(), a second QEMU takes the
# files over with replace=on, stores hit control mappings made PROT_NONE
# or replaced by shmat(), and a thread flips a page between anonymous
# memory and control while another stores to it.  No crash, no file left
# or stolen, no event that should not fire, no fault that should not.
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

# 1. The guest truncates and writes its channels; another process of the
# same user truncates BASE-data while the guest emits.
run_guest files -hypertrace "$work/f" -trace guest_hypertrace -D "$work/files.log" \
    "$H" files "$work/f" || bad "files: status $? ($(tail -n 3 "$work/files.err"))"
grep -v '^ok' "$work/files.out"
[ "$(events "$work/files.log" 901)" = 1 ] && [ "$(events "$work/files.log" 902)" = 1 ] ||
    bad "files: want events 901 and 902 once each"
grep -q "arg1=901 arg2=0x000000000000feed" "$work/files.log" ||
    bad "files: event 901 lost its argument"
no_files "$work/f" files
"$QEMU_USER" -hypertrace "$work/t" -trace guest_hypertrace -D "$work/spin.log" \
    "$H" spin "$work/t" 200000 > "$work/spin.out" 2>&1 &
qpid=$!
truncated=0
for i in $(seq 50); do
    # -c: never create the file once QEMU has removed its link
    truncate -c -s 0 "$work/t-data" 2>/dev/null &&
        [ "$(stat -L -c %s "$work/t-data" 2>/dev/null)" = 0 ] && truncated=1
    sleep 0.02
done
wait $qpid
rc=$?
[ $rc = 0 ] || bad "host truncate: QEMU status $rc ($(tail -n 2 "$work/spin.out"))"
[ $truncated = 0 ] || bad "host truncate: BASE-data could be truncated"
[ "$(grep -c 'guest_hypertrace cpu=' "$work/spin.log")" = 200000 ] ||
    bad "host truncate: want 200000 events, got $(grep -c 'guest_hypertrace cpu=' "$work/spin.log")"
echo "host truncate: refused, QEMU status $rc"

# 2. Host signals: every fatal one removes the files
for sig in TERM INT HUP USR1 USR2 ALRM XCPU VTALRM PROF; do
    rm -f "$work/sig.out"
    env --default-signal "$QEMU_USER" -hypertrace "$work/s" "$H" sleep "$work/s" \
        > "$work/sig.out" 2>&1 &
    qpid=$!
    wait_ready "$work/sig.out" || bad "SIG$sig: the guest did not start"
    kill -s "$sig" $qpid
    { wait $qpid; } 2>/dev/null
    rc=$?
    want=$((128 + $(kill -l "$sig")))
    [ $rc = $want ] || bad "SIG$sig: status $rc, want $want"
    no_files "$work/s" "SIG$sig" || break
done
echo "host signals: files removed after TERM INT HUP USR1 USR2 ALRM XCPU VTALRM PROF"
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
# execve(): the process stops being this QEMU, its files go; a failed
# execve() puts them back
"$QEMU_USER" -hypertrace "$work/ex" "$H" exec "$work/ex" /bin/true > /dev/null 2>&1 ||
    bad "exec: status $?"
no_files "$work/ex" "exec"
"$QEMU_USER" -hypertrace "$work/ey" -trace guest_hypertrace -D "$work/ey.log" \
    "$H" exec "$work/ey" /nonexistent > "$work/ey.out" 2>&1 || bad "failed exec: status $?"
grep -q "^ok: files back after a failed exec" "$work/ey.out" ||
    bad "failed exec: $(cat "$work/ey.out")"
[ "$(events "$work/ey.log" 11)" = 1 ] || bad "failed exec: no event afterwards"
no_files "$work/ey" "failed exec"
# SIGKILL from outside: the links stay, name the dead QEMU, replace=on
"$QEMU_USER" -hypertrace "$work/x" "$H" sleep "$work/x" > "$work/x.out" 2>&1 &
qpid=$!
wait_ready "$work/x.out"
kill -KILL $qpid
{ wait $qpid; } 2>/dev/null
[ -L "$work/x-config" ] || bad "SIGKILL: expected the links to stay"
"$QEMU_USER" -hypertrace "$work/x" /bin/true > "$work/x2.out" 2>&1 &&
    bad "SIGKILL: a new QEMU took the stale files without replace=on"
grep -q "was left by QEMU process $qpid, which was killed" "$work/x2.out" ||
    bad "SIGKILL: message '$(cat "$work/x2.out")'"
echo "ok: stale files after SIGKILL: $(cat "$work/x2.out")"
"$QEMU_USER" -hypertrace "$work/x,replace=on" -trace guest_hypertrace \
    -D "$work/x.log" "$H" spin "$work/x" 3 > /dev/null ||
    bad "SIGKILL: replace=on did not recover"
[ "$(grep -c 'guest_hypertrace cpu=' "$work/x.log")" = 3 ] ||
    bad "SIGKILL: replace=on run lost events"
no_files "$work/x" "replace=on after SIGKILL"

# 3. A relative BASE and a guest chdir(): QEMU removes its own files, not
# the same names in the guest's new directory
mkdir -p "$work/a" "$work/b/rel"
for s in config data control; do echo theirs > "$work/b/rel/c-$s"; done
mkdir -p "$work/a/rel"
(cd "$work/a" && "$QEMU_USER" -hypertrace rel/c -trace guest_hypertrace \
    -D "$work/chdir.log" "$H" chdir rel/c "$work/b" > "$work/chdir.out" 2>&1) ||
    bad "chdir: status $? ($(cat "$work/chdir.out"))"
for s in config data control; do
    [ "$(cat "$work/b/rel/c-$s" 2>/dev/null)" = theirs ] ||
        bad "chdir: $work/b/rel/c-$s was removed or changed"
done
no_files "$work/a/rel/c" "relative BASE"
[ "$(events "$work/chdir.log" 8)" = 1 ] || bad "chdir: no event after chdir"

# 4. replace=on while the first QEMU runs: its exit leaves the second's
# files alone
"$QEMU_USER" -hypertrace "$work/r" "$H" sleep "$work/r" > "$work/r1.out" 2>&1 &
q1=$!
wait_ready "$work/r1.out"
"$QEMU_USER" -hypertrace "$work/r,replace=on" "$H" sleep "$work/r" > "$work/r2.out" 2>&1 &
q2=$!
wait_ready "$work/r2.out"
kill -TERM $q1
wait $q1
for s in config data control; do
    [ "$(readlink "$work/r-$s")" = "/proc/$q2/fd/$(readlink "$work/r-$s" | sed 's|.*/||')" ] ||
        bad "replace: r-$s is not the second QEMU's after the first exited"
done
kill -TERM $q2
wait $q2
no_files "$work/r" "replace=on, second QEMU"

# 5. Protections, shmat and a MAP_FIXED race
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

# 6. Stress: 8 threads x 20000 events while SIGALRM fires every 100 us and
# a thread maps and unmaps control pages
ht_cc linux-user "$work/ht-events" "$G/ht-events.c" || exit 1
"$QEMU_USER" -hypertrace "$work/z,max-clients=8" -trace guest_hypertrace \
    -D "$work/stress.log" "$work/ht-events" -s 8 20000 > "$work/stress.out" 2>&1 ||
    bad "stress: status $? ($(tail -n 2 "$work/stress.out"))"
cat "$work/stress.out"
grep -q "SIGALRM handled" "$work/stress.out" || bad "stress: no SIGALRM report"
"$HT_REPO/tests/hypertrace/check-events.py" "$work/stress.log" \
    --threads 8 --events 20000 --args "$(ht_num_args)" || bad "stress: events"
no_files "$work/z" stress
exit $fail
