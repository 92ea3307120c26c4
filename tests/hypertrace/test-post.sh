#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Posted events: a ring per client in the data channel, taken by QEMU
# without a VM exit per event (docs/specs/hypertrace.rst, "Posted
# records").  check-post.py accounts for every posted event of
# tests/hypertrace/guest/ht-post, in order per client, around the
# synchronous events it fires among them.
#
# User mode: 2 threads x 100000 posts into a post file beside a simple
# trace, with a synchronous event every 1000 posts on each client (which
# QEMU must trace after the posts before it); the same through the log
# backend's guest_hypertrace_post lines; a program that leaves with
# _exit(), execs or forks without flushing; a post file whose reader
# stalls (the guest waits, nothing is lost); a guest that writes its
# ring's words and records as it likes (guest errors, nothing else); no
# rings (ring-size=0: posts become events); bad options, with the same
# messages from -hypertrace and -device hypertrace.
# System mode: a Linux guest, 2 vCPUs x 2 clients; the bare-metal guests
# under TCG and KVM, 2 vCPUs x 2 clients x 100000, with the VM exits per
# posted event under KVM; migration with records queued; record and
# replay; a system reset with records queued.
set -uo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
ht_scratch
G="$HT_REPO/tests/hypertrace/guest"
CHECK="$HT_REPO/tests/hypertrace/check-post.py"
EVENTS_ALL="$BUILD/trace/trace-events-all"
n_args=$(ht_num_args)
ht_has_backend simple || ht_skip "this build has no simple backend"
check() {   # TAG TRACE [check-post.py args]
    local tag=$1 trace=$2 out
    shift 2
    if out=$(/usr/bin/python3 "$CHECK" "$trace" --args "$n_args" "$@"); then
        echo "$tag: $out"
    else
        bad "$tag: $out"
    fi
}
simple=(--simple "$EVENTS_ALL" --scripts "$HT_TREE/scripts")

ht_cc linux-user "$work/ht-post" "$G/ht-post.c" || exit 1
ht_cc linux-user "$work/ht-ring-hostile" "$G/ht-ring-hostile.c" || exit 1

# 1. 2 threads x 100000 into a post file; the synchronous events and the
# flushes in a simple trace, whose times place the post file's blocks
"$QEMU_USER" -hypertrace "$work/u,max-clients=2,post-file=$work/u.post" \
    -trace "enable=guest_hypertrace,file=$work/u.bin,wait-ms=10000" \
    "$work/ht-post" -s 1000 -f 2 100000 > u.out 2>&1 ||
    bad "user: status $? ($(cat u.out))"
check "user, post file" "$work/u.bin" "${simple[@]}" --post-file "$work/u.post" \
    --threads 2 --posts 100000 --sync 1000

# 2. The same through the log backend: guest_hypertrace_post lines in the
# order QEMU took the records, before the events that followed them
"$QEMU_USER" -hypertrace "$work/l,max-clients=2" -trace guest_hypertrace \
    -trace guest_hypertrace_post -D "$work/l.log" \
    "$work/ht-post" -s 500 2 20000 > l.out 2>&1 || bad "user, log: status $?"
check "user, log backend" "$work/l.log" --threads 2 --posts 20000 --sync 500

# 3. Leaving without a flush: _exit(), execve() of a native program, and
# a forked child that posts and leaves with _exit().  No thread takes
# records here (x-ring-thread=off), so that only the exit, the exec and
# the fork can.
for how in -x "-X /bin/true" -F; do
    rm -f "$work/x.post"
    # shellcheck disable=SC2086
    "$QEMU_USER" -hypertrace "$work/x,max-clients=2,post-file=$work/x.post,x-ring-thread=off" \
        -trace "enable=guest_hypertrace,file=$work/x.bin,wait-ms=10000" \
        "$work/ht-post" $how 1 5000 > x.out 2>&1 || bad "user $how: status $?"
    t=1
    [ "$how" = -F ] && t=2
    check "user, $how without a flush" "$work/x.bin" "${simple[@]}" \
        --post-file "$work/x.post" --threads $t --posts 5000
done

# 4. A post file whose reader stalls for 2 s: the guest's flush waits for
# QEMU, which waits for the file; nothing is lost and nothing hangs
rm -f "$work/fifo"
mkfifo "$work/fifo"
( (sleep 2; cat) < "$work/fifo" > "$work/fifo.post" ) &
reader=$!
rc=0
timeout 120 "$QEMU_USER" -hypertrace "$work/f,post-file=$work/fifo" \
    -trace "enable=guest_hypertrace,file=$work/f.bin,wait-ms=10000" \
    "$work/ht-post" -f 1 200000 > f.out 2>&1 || rc=$?
wait $reader
[ $rc = 0 ] || bad "stalled post file: QEMU status $rc$([ $rc = 124 ] && echo ' (hung)')"
check "stalled post file" "$work/f.bin" "${simple[@]}" --post-file "$work/fifo.post" \
    --threads 1 --posts 200000

# 4b. The timeline: posted regions, each ended right before a synchronous
# event, placed by qemu-hypertrace-regions through the flushes; from a
# post file beside a simple trace, and from the log backend's lines.  The
# event is traced once QEMU has taken the records before it: the log
# backend's lines for them, a write(2) each, make it late (tens of
# microseconds at times on this host).
TOOL=(/usr/bin/python3 "$HT_TREE/scripts/qemu-hypertrace-regions")
ht_cc linux-user "$work/ht-post-timeline" "$G/ht-post-timeline.c" || exit 1
"$QEMU_USER" -hypertrace "$work/t,post-file=$work/t.post" \
    -trace "enable=guest_hypertrace,file=$work/t.bin" \
    "$work/ht-post-timeline" 1000 200 > t.out 2>&1 || bad "timeline: status $?"
if "${TOOL[@]}" "$work/t.bin" "$work/t.post" --events "$EVENTS_ALL" \
        --json "$work/t.json" > tool.out 2>&1; then
    grep '^posted events' tool.out
    out=$(/usr/bin/python3 "$HT_REPO/tests/hypertrace/check-post-timeline.py" \
          "$work/t.json" 1000) && echo "timeline, post file: $out" ||
        bad "timeline, post file: $out"
else
    bad "timeline, post file: the tool failed: $(tail -n 3 tool.out)"
fi
"$QEMU_USER" -msg timestamp=on -hypertrace "$work/t" -trace guest_hypertrace \
    -trace guest_hypertrace_post -D "$work/t.log" \
    "$work/ht-post-timeline" 300 200 > t.out 2>&1 || bad "timeline, log: status $?"
if "${TOOL[@]}" "$work/t.log" --json "$work/tl.json" > tool.out 2>&1; then
    out=$(/usr/bin/python3 "$HT_REPO/tests/hypertrace/check-post-timeline.py" \
          "$work/tl.json" 300 --within 100) && echo "timeline, log backend: $out" ||
        bad "timeline, log backend: $out"
else
    bad "timeline, log backend: the tool failed: $(tail -n 3 tool.out)"
fi

# 5. A hostile guest: its ring's words and records as it likes
"$QEMU_USER" -hypertrace "$work/h,max-clients=2" -d guest_errors \
    -trace guest_hypertrace_post -D "$work/h.log" "$work/ht-ring-hostile" \
    > h.out 2>&1 || bad "hostile ring: status $? ($(cat h.out))"
records=$(sed -n 's/^ht-ring-hostile: \([0-9]*\) records per ring$/\1/p' h.out)
posts=$(grep -c "guest_hypertrace_post " "$work/h.log")
errors=$(grep -c "hypertrace: client 1 published records up to .* its ring holds $records: they are skipped" "$work/h.log")
ff=$(grep -c "guest_hypertrace_post client=1 timestamp=18446744073709551615 arg1=18446744073709551615 " "$work/h.log")
if [ -n "$records" ] && [ "$posts" = $((1 + 3 + records + 4)) ] && [ "$errors" = 2 ] &&
   [ "$ff" -ge 3 ] && grep -q "step 6 done" h.out; then
    echo "hostile ring: $posts posted events (1 + 3 + $records + 4), $errors guest errors, records traced as written"
else
    bad "hostile ring: $posts posted events, want $((1 + 3 + ${records:-0} + 4)); $errors guest errors, want 2; $ff records of 0xff bytes; $(tail -n 3 h.out | tr '\n' '|')"
fi

# 6. No rings: a post is an event
"$QEMU_USER" -hypertrace "$work/n,ring-size=0" -trace guest_hypertrace \
    -D "$work/n.log" "$work/ht-post" 1 1000 > n.out 2>&1
grep -q "this QEMU offers no rings" n.out ||
    bad "ring-size=0: the guest saw rings ($(cat n.out))"
cat > "$work/fallback.c" <<'EOT'
#include <stdio.h>
#include "qemu-hypertrace.h"
int main(void)
{
    qemu_hypertrace_init(NULL);
    for (int i = 0; i < 1000; i++) {
        qemu_hypertrace_post(0, 5000 + i);
    }
    printf("rings %llu\n", (unsigned long long)qemu_hypertrace_ring_records());
    return 0;
}
EOT
ht_cc linux-user "$work/fallback" "$work/fallback.c" || exit 1
"$QEMU_USER" -hypertrace "$work/n,ring-size=0" -trace guest_hypertrace \
    -D "$work/n.log" "$work/fallback" > n.out 2>&1
n=$(grep -c "guest_hypertrace cpu=0 arg1=5[0-9][0-9][0-9] " "$work/n.log")
[ "$n" = 1000 ] && grep -q "^rings 0$" n.out &&
    echo "ring-size=0: 1000 posts became 1000 events" ||
    bad "ring-size=0: $n events of 1000 posts ($(cat n.out))"

# 7. Bad options: the same message from -hypertrace and -device hypertrace
msg_of() { grep -o 'hypertrace: .*' | head -n 1; }
for case in "ring-size=100|ring-size must be 0 (no rings) or a multiple of 8 from 4 KiB to 16 MiB (got 100)" \
            "ring-size=32M|ring-size must be 0 (no rings) or a multiple of 8 from 4 KiB to 16 MiB (got 33554432)" \
            "ring-size=4100|ring-size must be 0 (no rings) or a multiple of 8 from 4 KiB to 16 MiB (got 4100)" \
            "max-clients=64,ring-size=16M|the rings of max-clients clients of ring-size bytes must fit in 512 MiB (got 64 x 16777216)" \
            "ring-size=0,post-file=$work/p|post-file needs rings (ring-size is 0)" \
            "post-file=$work/nodir/p|post-file: Could not create '$work/nodir/p'"; do
    opt=${case%%|*} want=${case#*|}
    u=$("$QEMU_USER" -hypertrace "path=$work/bad,$opt" "$work/ht-post" 1 1 2>&1 | msg_of)
    s=$(timeout 60 "$QEMU_SYSTEM" -M q35 -S -display none -nodefaults \
        -monitor none -device "hypertrace,$opt" 2>&1 < /dev/null | msg_of)
    case $u in *"$want"*) ;; *) bad "-hypertrace $opt: want '$want', got '$u'" ;; esac
    case $s in *"$want"*) ;; *) bad "-device hypertrace,$opt: want '$want', got '$s'" ;; esac
done
[ ! -e "$work/p" ] || bad "a refused post-file was created"
echo "bad options: the same messages in both modes"

# 8. A Linux guest: 2 vCPUs, a thread on each, each on a client of its own
# (then the timeline's posted regions, and the guest command's post and
# flush on client 1)
ht_cc softmmu "$work/ht-post-sys" "$G/ht-post.c" || exit 1
ht_cc softmmu "$work/ht-post-timeline-sys" "$G/ht-post-timeline.c" || exit 1
mkdir -p "$work/sys"
cp "$work/ht-post-sys" "$work/sys/ht-post"
cp "$work/ht-post-timeline-sys" "$work/sys/ht-post-timeline"
cat > "$work/sys.sh" <<'EOT'
ht-post -c -s 1000 -f 2 50000 || echo HT-POST-FAILED
ht-post-timeline 300 200 || echo HT-POST-FAILED
qemu-hypertrace -c 1 post 1 0x3000 && qemu-hypertrace -c 1 post 0 0x3000 &&
    qemu-hypertrace -c 1 flush || echo HT-POST-FAILED
EOT
ht_initrd "$work/sys.gz" "$work/sys.sh" "$work/sys/ht-post" "$work/sys/ht-post-timeline" \
    "$BUILD/x86_64-softmmu/hypertrace/guest/qemu-hypertrace"
kernel=$(ht_kernel)
ht_log "booting a Linux guest: 2 threads x 50000 posts"
ht_boot "$work/serial.txt" 300 tcg,thread=multi 2 "$kernel" "$work/sys.gz" \
    -device "hypertrace,max-clients=2,post-file=$work/sys.post" \
    -trace "enable=guest_hypertrace,file=$work/sys.bin,wait-ms=10000" ||
    bad "system: QEMU status $?"
grep -q "guest: exit status 0" "$work/serial.txt" && ! grep -q HT-POST-FAILED "$work/serial.txt" ||
    { bad "system: the guest program failed"; tail -n 5 "$work/serial.txt"; }
check "Linux guest, 2 vCPUs" "$work/sys.bin" "${simple[@]}" --post-file "$work/sys.post" \
    --threads 2 --posts 50000 --sync 1000 --ignore-arg1 1,0
if "${TOOL[@]}" "$work/sys.bin" "$work/sys.post" --events "$EVENTS_ALL" \
        --json "$work/sys.json" > tool.out 2>&1; then
    out=$(/usr/bin/python3 "$HT_REPO/tests/hypertrace/check-post-timeline.py" \
          "$work/sys.json" 300) && echo "Linux guest, timeline: $out" ||
        bad "Linux guest, timeline: $out"
    grep -q '"name": "region 12288"' "$work/sys.json" &&
        echo "Linux guest: qemu-hypertrace post and flush made region 12288" ||
        bad "Linux guest: no region 12288 from qemu-hypertrace post"
else
    bad "Linux guest, timeline: the tool failed: $(tail -n 3 tool.out)"
fi

# 9. The bare-metal guests: 2 vCPUs x 2 clients x 100000 posts, written by
# the guest from the spec's layout; under KVM, the exits to QEMU
# (kvm_run_exit) between the markers before and after the posting, per
# posted event
ht_baremetal
bm() {   # TAG LOG QEMU ARGS...: boot a bare-metal guest, check its status
    local tag=$1 log=$2 rc=0
    shift 2
    rm -f out.txt
    timeout 600 "$QEMU_SYSTEM" -m 64 -nodefaults -display none \
        -device isa-debug-exit,iobase=0xf4,iosize=4 -debugcon file:out.txt \
        -D "$log" "$@" 2> err.txt < /dev/null || rc=$?
    if [ $rc != 1 ] || ! grep -q "^bm: done" out.txt; then
        bad "$tag: QEMU status $rc; guest: $(tr '\n' '|' < out.txt); $(grep -v 'warning: host' err.txt | head -n 3)"
        return 1
    fi
}
for accel in $(ht_kvm_accels); do
    for g in guest32.elf guest64.bin; do
        tag="$accel ${g%%.*} posts"
        rm -f bm.post
        bm "$tag" bm.log -M q35 -smp 2 -accel "$accel" -kernel "$g" -append post \
            -device hypertrace,max-clients=4,post-file=bm.post \
            -trace guest_hypertrace -trace kvm_run_exit || continue
        check "$tag" bm.log --post-file bm.post --baremetal 0,1,2,3 --posts 100000
        if [ "$accel" = kvm ]; then
            exits=$(awk '/guest_hypertrace .*arg1=18302628885633695774 / { on = 1 }
                         /guest_hypertrace .*arg1=18302628885633695775 / { on = 0 }
                         on && /kvm_run_exit/ { n++ } END { print n + 0 }' bm.log)
            per=$(awk -v e="$exits" 'BEGIN { printf "%.3f", e * 1000 / 400000 }')
            echo "$tag: $exits exits to QEMU for 400000 posted events: $per per 1000"
            awk -v p="$per" 'BEGIN { exit !(p <= 1) }' ||
                bad "$tag: $per exits per 1000 posted events, want at most 1"
        fi
    done
done

# 10. Migration with records queued: the guest posts 10000 on client 1,
# opens a region on client 0 (roi-pause: the VM is migrated into a file
# there), and posts 10000 more on the destination, then flushes.  The
# source takes what was queued when the VM stopped (no timer takes
# records, x-ring-timer=off); between the two post files every post is
# there once, in order
for g in guest32.elf guest64.bin; do
    tag="${g%%.*} migration"
    rm -f post-src.bin post-dst.bin mig out-*.txt
    timeout 300 /usr/bin/python3 "$HT_REPO/tests/hypertrace/baremetal-pause.py" \
        --migrate "$work/mig" "$work/qmp.sock" out-@SIDE@.txt -- "$QEMU_SYSTEM" \
        -M q35 -accel tcg -m 64 -nodefaults -display none -kernel "$g" \
        -append postmig \
        -device hypertrace,max-clients=3,roi-notify=on,roi-pause=on,post-file=post-@SIDE@.bin,x-ring-timer=off \
        -device isa-debug-exit,iobase=0xf4,iosize=4 \
        -debugcon file:out-@SIDE@.txt -trace guest_hypertrace \
        -D trace-@SIDE@.log > mig.out 2> mig.err < /dev/null
    rc=$?
    if [ $rc = 1 ] && grep -q "^migration: completed" mig.out &&
       grep -q "bm: posted across the migration" out-dst.txt; then
        src=$(/usr/bin/python3 - post-src.bin <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
off, n = 32, 0
while off < len(d):
    count = struct.unpack_from("<I", d, off + 8)[0]
    n += count
    off += 40 + count * struct.unpack_from("<I", d, 12)[0]
print(n)
PY
)
        cat trace-src.log trace-dst.log > mig.log
        check "$tag ($src taken on the source)" mig.log --post-file post-src.bin \
            --post-file post-dst.bin --baremetal 1 --posts 20000
    else
        bad "$tag: QEMU status $rc; $(cat mig.out mig.err | grep -v 'waiting for' | head -n 5); guest: $(cat out-src.txt out-dst.txt 2>/dev/null | tr '\n' '|')"
    fi
done

# 11. A system reset with records queued: the reset takes them before it
# clears the ring's words, and the guest boots again.  No timer takes
# records here (x-ring-timer=off), so that only the reset can.
for g in guest32.elf guest64.bin; do
    tag="${g%%.*} reset"
    rm -f reset.post
    bm "$tag" reset.log -M q35 -accel tcg -kernel "$g" -append postreset \
        -device hypertrace,max-clients=2,post-file=reset.post,x-ring-timer=off \
        -trace guest_hypertrace || continue
    grep -q "^bm: booted again after the reset" out.txt ||
        bad "$tag: the guest did not boot again ($(tr '\n' '|' < out.txt))"
    check "$tag" reset.log --post-file reset.post --baremetal 1 --posts 5000
done

# 12. Record and replay (one vCPU): the same records, in the same order
# with the same events, in both runs (the log's times, -msg timestamp=on,
# place the post file's blocks among the events)
for side in record replay; do
    rm -f "post-$side.bin"
    bm "postrr $side" "rr-$side.log" -M q35 -smp 1 -accel tcg \
        -icount "shift=auto,rr=$side,rrfile=$work/rr.bin" -kernel guest64.bin \
        -append postrr -device "hypertrace,max-clients=3,post-file=post-$side.bin" \
        -trace guest_hypertrace -msg timestamp=on &&
        check "postrr $side" "rr-$side.log" --post-file "post-$side.bin" \
            --baremetal 0,1 --posts 20000 --sync 1000
done
same=$(/usr/bin/python3 - post-record.bin post-replay.bin rr-record.log rr-replay.log <<'PY'
import re, struct, sys
def records(path):
    d = open(path, "rb").read()
    size = struct.unpack_from("<I", d, 12)[0]
    out, off = [], 32
    while off < len(d):
        client, count = struct.unpack_from("<II", d, off + 4)
        off += 40
        out += [(client, d[off + k * size:off + (k + 1) * size])
                for k in range(count)]
        off += count * size
    return out
def events(path):
    return [re.sub(r"^\S+Z ", "", l) for l in open(path)
            if "guest_hypertrace " in l]
a, b = records(sys.argv[1]), records(sys.argv[2])
print("%d records, %s; %d events, %s" % (
    len(a), "the same" if a == b else "different",
    len(events(sys.argv[3])),
    "the same" if events(sys.argv[3]) == events(sys.argv[4]) else "different"))
PY
)
echo "record and replay: $same"
[[ $same == *"records, the same; "*" events, the same" ]] ||
    bad "record and replay differ: $same"
exit $fail
