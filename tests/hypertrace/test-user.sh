#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# User mode on x86_64: the seed's example, a multi-threaded guest, guest
# SIGSEGV handlers, mmap/mprotect/mremap/munmap of the channels, hostile
# stores, fork, no host file on any exit path, a host file at a channel's
# path, and bad option values.
set -uo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
ht_scratch
G="$HT_REPO/tests/hypertrace/guest"
n_args=$(ht_num_args)

events() { grep -c 'guest_hypertrace cpu=' "$1"; }
no_files() {
    for s in config data control; do
        [ ! -e "$1-$s" ] || { bad "$1-$s left behind ($2)"; return; }
    done
}

for p in ht-events ht-mm ht-signals ht-fork; do
    ht_cc linux-user "$work/$p" "$G/$p.c" || exit 1
done

# 1. The seed's user-mode example, verbatim but for the paths
seed="$HT_REPO/../shared/seed/hypertrace-seed.txt"
if [ -f "$seed" ]; then
    sed -n '/cat > \/tmp\/my-hypertrace.c <</,/^+ EOF$/p' "$seed" |
        sed -e '1d' -e '$d' -e 's/^+ //' -e 's/^+$//' > "$work/my-hypertrace.c"
    grep -q 'qemu_hypertrace(client, 1)' "$work/my-hypertrace.c" ||
        bad "could not extract the example from the seed"
    gcc -o "$work/my-hypertrace-user" "$work/my-hypertrace.c" \
        "$BUILD/x86_64-linux-user/hypertrace/guest/libqemu-hypertrace-guest.a" \
        -I"$HT_TREE/hypertrace/guest" -lpthread || bad "seed example: build"
    "$QEMU_USER" -hypertrace "$work/hypertrace" -trace 'enable=guest*' \
        -D /dev/stdout "$work/my-hypertrace-user" "$work/hypertrace" 2>&1 |
        cat > "$work/seed.out" || bad "seed example: status $?"
    cat "$work/seed.out"
    want1="guest_hypertrace cpu=0 arg1=1 arg2=0x000000000000cafe"
    want1="$want1 arg3=0x000000000000dead arg4=0x000000000000beef"
    if [ "$n_args" = 4 ]; then
        grep -q "$want1" "$work/seed.out" || bad "seed example: no '$want1'"
        grep -q "guest_hypertrace cpu=0 arg1=0 arg2=0x000000000000cafe" \
            "$work/seed.out" || bad "seed example: no closing event"
    fi
    grep -q "Some computation" "$work/seed.out" || bad "seed example: no output"
    no_files "$work/hypertrace" "seed example"
else
    echo "SKIP seed example: $seed not found (shared/ is not beside the checkout)"
fi

# 2. Threads: 4 threads x 5000 events, each its own client
"$QEMU_USER" -hypertrace "$work/t,max-clients=4" -trace guest_hypertrace \
    -D "$work/threads.log" "$work/ht-events" 4 5000 || bad "threads: status"
"$HT_REPO/tests/hypertrace/check-events.py" "$work/threads.log" \
    --threads 4 --events 5000 --args "$n_args" || bad "threads: events"
# QEMU_HYPERTRACE and base NULL (QEMU sets QEMU_HYPERTRACE_BASE)
QEMU_HYPERTRACE="path=$work/e,max-clients=2" "$QEMU_USER" \
    -trace guest_hypertrace -D "$work/env.log" "$work/ht-events" 2 100 ||
    bad "QEMU_HYPERTRACE: status"
"$HT_REPO/tests/hypertrace/check-events.py" "$work/env.log" \
    --threads 2 --events 100 --args "$n_args" || bad "QEMU_HYPERTRACE: events"

# Config words out of range or another ABI version: EBADMSG or EPROTO
ht_cc linux-user "$work/ht-badcfg" "$G/ht-badcfg.c" -I"$HT_TREE/include" ||
    bad "building ht-badcfg"
mkdir -p "$work/badcfg"
"$QEMU_USER" "$work/ht-badcfg" "$work/badcfg" > "$work/badcfg.out" ||
    { bad "ht-badcfg"; grep -v '^ok' "$work/badcfg.out"; }
tail -n 1 "$work/badcfg.out"

# 3. The guest's own SIGSEGV handler
"$QEMU_USER" -hypertrace "$work/s" -trace guest_hypertrace \
    -D "$work/sig.log" "$work/ht-signals" "$work/s" || bad "signals: status"
[ "$(grep -c 'arg1=20[0-9] ' "$work/sig.log")" = 10 ] ||
    bad "signals: want 10 events, got $(grep -c 'arg1=20[0-9] ' "$work/sig.log")"

# 4. Mappings and hostile stores
"$QEMU_USER" -hypertrace "$work/m,max-clients=3" -trace guest_hypertrace \
    -d guest_errors -D "$work/mm.log" "$work/ht-mm" "$work/m" > "$work/mm.out" ||
    bad "mm: status"
grep -v '^ok' "$work/mm.out"
got=$(grep 'guest_hypertrace cpu=' "$work/mm.log" | sed 's/.* arg1=\([0-9]*\) .*/\1/' | tr '\n' ' ')
[ "$got" = "101 102 103 104 105 " ] || bad "mm: events arg1 '$got', want 101..105"
[ "$(grep -c 'hypertrace: store of' "$work/mm.log")" = 4 ] ||
    bad "mm: want 4 guest errors, got $(grep -c 'hypertrace: store of' "$work/mm.log")"

# 5. fork
"$QEMU_USER" -hypertrace "$work/f,max-clients=2" -trace guest_hypertrace \
    -D "$work/fork.log" "$work/ht-fork" "$work/f" > "$work/fork.out" ||
    bad "fork: status"
cat "$work/fork.out"
grep -q "channels kept" "$work/fork.out" || bad "fork: the child took the channels away"
[ "$(grep -c 'arg1=3[0-9][0-9] ' "$work/fork.log")" = 11 ] &&
[ "$(grep -c 'arg1=4[0-9][0-9] ' "$work/fork.log")" = 10 ] ||
    bad "fork: want 11 + 10 events"
no_files "$work/f" "fork"
# fork with the simple backend: the child exits without a writer thread
if ht_has_backend simple; then
    timeout 60 "$QEMU_USER" -hypertrace "$work/fs,max-clients=2" \
        -trace "enable=guest_hypertrace,file=$work/fork.bin" -D /dev/null \
        "$work/ht-fork" "$work/fs" > /dev/null
    rc=$?
    [ $rc = 0 ] || bad "fork with the simple backend: status $rc (124: hung)"
    /usr/bin/python3 "$HT_TREE/scripts/simpletrace.py" \
        "$BUILD/trace/trace-events-all" "$work/fork.bin" > "$work/fork-simple.txt" 2>&1
    [ "$(grep -c 'arg1=0x19[0-9a-f] ' "$work/fork-simple.txt")" = 10 ] ||
        bad "fork with the simple backend: the parent's 10 events (arg1=400..409) missing"
fi

# 6. Exit paths: exit_group from a thread is covered above; a fatal signal
# and QEMU's own error exit
cat > "$work/abort.c" <<'EOT'
#include <stdlib.h>
#include "qemu-hypertrace.h"
int main(int argc, char **argv)
{
    qemu_hypertrace_init(argv[1]);
    qemu_hypertrace(0, 1);
    abort();
}
EOT
ht_cc linux-user "$work/abort" "$work/abort.c"
# (a brace group: the shell's "Aborted" report goes to /dev/null too)
{ "$QEMU_USER" -hypertrace "$work/a" "$work/abort" "$work/a"; } 2>/dev/null
[ $? -ge 128 ] || bad "abort: expected death by signal"
no_files "$work/a" "fatal guest signal"
"$QEMU_USER" -hypertrace "$work/l" "$work/does-not-exist" >/dev/null 2>&1 &&
    bad "QEMU ran a missing program"
no_files "$work/l" "QEMU's error exit"

# 7. Host files and bad options: a clear message and exit status 1
expect_error() {
    local what=$1 msg=$2
    shift 2
    "$QEMU_USER" "$@" /bin/true > "$work/err.out" 2>&1
    local rc=$?
    if [ $rc != 1 ] || ! grep -q -- "$msg" "$work/err.out"; then
        bad "$what: status $rc, output: $(cat "$work/err.out")"
    else
        echo "ok: $what: $(head -n 1 "$work/err.out")"
    fi
}
# A host file at a channel's path: the guest sees the channel, the file
# stays as it was
echo "host file" > "$work/h-config"
"$QEMU_USER" -hypertrace "$work/h" -trace guest_hypertrace -D "$work/hostfile.log" \
    "$work/ht-events" 1 3 > /dev/null || bad "host file at BASE-config: status $?"
[ "$(grep -c 'guest_hypertrace cpu=' "$work/hostfile.log")" = 3 ] ||
    bad "host file at BASE-config: the guest did not get the channel"
[ "$(cat "$work/h-config")" = "host file" ] || bad "host file at BASE-config was changed"
rm -f "$work/h-config"
expect_error "replace=on" "replace is no longer needed: the channels are not files on the host" \
    -hypertrace "$work/x,replace=on"
expect_error "BASE that names a directory" "names a directory; BASE is the beginning of the channel names" \
    -hypertrace "$work/"
expect_error "max-clients=0" "max-clients must be between 1 and 1024" \
    -hypertrace "$work/x,max-clients=0"
expect_error "max-clients=100000" "max-clients must be between 1 and 1024" \
    -hypertrace "$work/x,max-clients=100000"
expect_error "max-clients=abc" "max-clients" -hypertrace "$work/x,max-clients=abc"
expect_error "missing path" "path=BASE is required" -hypertrace max-clients=2
# No file is made: a BASE in a directory nobody can write works
"$QEMU_USER" -hypertrace /proc/hypertrace-x "$work/ht-events" 1 2 > /dev/null ||
    bad "BASE in /proc: status $?"
expect_error "overlong path" "path is too long" \
    -hypertrace "$work/$(head -c 5000 /dev/zero | tr '\0' a)"
expect_error "unknown parameter" "Invalid parameter 'bogus'" \
    -hypertrace "$work/x,bogus=1"
no_files "$work/x" "bad options"
"$QEMU_USER" -help | grep -q -- '-hypertrace' || bad "-help lacks -hypertrace"

# 8. The guest command's messages name the cause: not under QEMU, a
# program exec'd by the guest (outside QEMU), a host file at BASE, no
# device; --help is help
cmd_u="$BUILD/x86_64-linux-user/hypertrace/guest/qemu-hypertrace"
cmd_s="$BUILD/x86_64-softmmu/hypertrace/guest/qemu-hypertrace"
make -s -C "$(dirname "$cmd_s")" > /dev/null || bad "building $cmd_s"
expect_cmd() {
    local what=$1 msg=$2 rc
    shift 2
    "$@" > "$work/cmd.out" 2> "$work/cmd.err"
    rc=$?
    if [ $rc != 1 ] || ! grep -qF -- "$msg" "$work/cmd.err" ||
       [ -s "$work/cmd.out" ]; then
        bad "$what: status $rc, stderr: $(cat "$work/cmd.err")"
    else
        echo "ok: $what: $(cat "$work/cmd.err")"
    fi
}
expect_cmd "guest command outside QEMU" \
    "not running under QEMU with hypertrace: QEMU_HYPERTRACE_BASE is not set" \
    env -u QEMU_HYPERTRACE_BASE "$cmd_u" begin x
printf '#!/bin/sh\n%s begin phase\n' "$cmd_u" > "$work/mark.sh"
chmod +x "$work/mark.sh"
expect_cmd "guest command exec'd by a user-mode guest" \
    "no channel $work/sh-config, although QEMU_HYPERTRACE_BASE names it: a program under qemu-<arch> -hypertrace executed this one, which runs outside QEMU" \
    "$QEMU_USER" -hypertrace "$work/sh" -trace guest_hypertrace \
        -D "$work/sh.log" /bin/sh "$work/mark.sh"
[ ! -s "$work/sh.log" ] || bad "an exec'd command fired: $(cat "$work/sh.log")"
echo "not a channel" > "$work/hf-config"
expect_cmd "guest command on a host file" \
    "$work/hf-config is not a hypertrace channel (a host file?" \
    env QEMU_HYPERTRACE_BASE="$work/hf" "$cmd_u" emit 1
if [ "$(id -u)" = 0 ]; then
    chmod 0600 "$work/hf-config"
    chmod 0755 "$work"
    expect_cmd "guest command on a host file it may not read" \
        "$work/hf-config: Permission denied; hypertrace channels are never refused to this library, so this is a host file" \
        setpriv --reuid=65534 --regid=65534 --clear-groups \
            env QEMU_HYPERTRACE_BASE="$work/hf" "$cmd_u" emit 1
fi
rm -f "$work/hf-config"
expect_cmd "system-mode guest command with no device" \
    "not running under QEMU with hypertrace: no hypertrace PCI device (1b36:0015) in /sys/bus/pci/devices (start QEMU with -device hypertrace" \
    "$cmd_s" begin x
# run: a shell script's phase in user mode.  qemu-hypertrace runs under
# QEMU and emits begin and end around COMMAND, which runs natively; the
# exit status is COMMAND's
id=$("$cmd_u" id phase | cut -d' ' -f1)
idhex=$(printf '0x%016x' "$id")
"$QEMU_USER" -hypertrace "$work/run" -trace guest_hypertrace -D "$work/run.log" \
    "$cmd_u" run phase -- sh -c 'echo in-phase; exit 3' > "$work/run.out"
rc=$?
[ $rc = 3 ] || bad "run: status $rc, want the command's 3"
grep -qx in-phase "$work/run.out" || bad "run: the command's output is missing"
if [ "$(grep -c "arg1=1 arg2=$idhex " "$work/run.log")" = 1 ] &&
   [ "$(grep -c "arg1=0 arg2=$idhex " "$work/run.log")" = 1 ] &&
   [ "$(grep -c 'guest_hypertrace cpu=' "$work/run.log")" = 2 ] &&
   head -n 1 "$work/run.log" | grep -q "arg1=1 "; then
    echo "ok: run: begin and end of 'phase' ($idhex) around the command, status 3"
else
    bad "run: want begin then end of $idhex: $(cat "$work/run.log")"
fi
"$QEMU_USER" -hypertrace "$work/run" -trace guest_hypertrace -D "$work/run2.log" \
    "$cmd_u" run phase "$work/no-such-command" 2> "$work/run2.err"
rc=$?
[ $rc = 127 ] && grep -q "no-such-command: No such file or directory" "$work/run2.err" &&
    [ "$(grep -c 'guest_hypertrace cpu=' "$work/run2.log")" = 2 ] ||
    bad "run of a missing command: status $rc, $(cat "$work/run2.err")"
for h in --help -h; do
    "$cmd_u" $h > "$work/help.out" 2> "$work/help.err"
    rc=$?
    [ $rc = 0 ] && grep -q '^usage: qemu-hypertrace' "$work/help.out" &&
        [ ! -s "$work/help.err" ] ||
        bad "qemu-hypertrace $h: status $rc, stderr: $(cat "$work/help.err")"
done
exit $fail
