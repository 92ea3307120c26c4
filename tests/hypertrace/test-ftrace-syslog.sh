#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The ftrace and syslog backends, end to end: a build of their own,
# <build>/ftrace-syslog (x86_64-linux-user, --enable-trace-backends=
# ftrace,syslog, --with-hypertrace-args=1), runs ht-events with 2 threads
# x 300 events, and every event must reach
#   - the ftrace buffer: a tracefs instance of our own, with a buffer of
#     4 MB per CPU, bind-mounted where QEMU looks for tracefs, in a mount
#     namespace of our own whose /sys and /dev mounts are made private
#     first (so it also works in a chroot, where / is no mount point): the
#     machine's trace buffer and mounts are left alone, and the instance
#     is removed at the end;
#   - a real syslog daemon's file: busybox syslogd on /dev/log, in the
#     same namespace, where /dev is covered by a tmpfs holding the devices
#     QEMU needs (bind-mounted) plus the daemon's socket.
# Needs root (tracefs, mounts); skipped with the reason otherwise.
#
# Usage: test-ftrace-syslog.sh BUILD

set -uo pipefail
BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
ht_scratch
# The smallest --with-hypertrace-args: one guest argument (the guest
# library adapts to the size the channel announces)
n_args=1
THREADS=2
EVENTS=300

[ "$(id -u)" = 0 ] || ht_skip "needs root (tracefs and mounts)"
command -v unshare >/dev/null || ht_skip "unshare (util-linux) missing"
# a namespace of our own, and its /sys and /dev mounts private
NS="unshare -m --propagation unchanged"
$NS sh -c 'mount --make-rprivate /sys && mount --make-rprivate /dev' 2>/dev/null ||
    ht_skip "cannot make a mount namespace with private /sys and /dev here"
busybox syslogd --help >/dev/null 2>&1 ||
    ht_skip "busybox has no syslogd (scripts/install-deps installs busybox-static)"

fb="$BUILD/ftrace-syslog"
if [ -f "$fb/GNUmakefile" ] && [ "$(ht_num_args "$fb")" != "$n_args" ]; then
    ht_log "$fb was configured differently: configuring it again"
    rm -rf "$fb"
fi
if [ ! -f "$fb/GNUmakefile" ]; then
    mkdir -p "$fb"
    ht_run_logged "$work/configure.log" "configuring $fb" \
        sh -c "cd '$fb' && '$HT_REPO/configure' --target-list=x86_64-linux-user \
            --enable-trace-backends=ftrace,syslog --disable-plugins \
            --with-hypertrace-args=$n_args" || exit 1
fi
ht_log "building $fb/qemu-x86_64 (ftrace and syslog backends)"
make -s -C "$fb" tree > /dev/null &&
    ht_run_logged "$work/build.log" "building $fb" ninja -C "$fb" qemu-x86_64 ||
    exit 1
ht_cc linux-user ht-events "$HT_REPO/tests/hypertrace/guest/ht-events.c"

# Runs in the private mount namespace: $1 = work dir
cat > inner.sh <<'EOT'
set -u
w=$1 qemu=$2 threads=$3 events=$4
mount --make-rprivate /sys && mount --make-rprivate /dev || exit 10
T=/sys/kernel/tracing
grep -q " $T tracefs " /proc/mounts || mount -t tracefs nodev $T || exit 10
inst=$T/instances/hypertrace-test-$$
mkdir "$inst" || exit 11
echo "$inst" > "$w/instance"
echo 4096 > "$inst/buffer_size_kb"
echo 1 > "$inst/tracing_on"
# QEMU writes to the first tracefs mount it finds: cover every one ($T last)
for m in $(awk '$3 == "tracefs" { print $2 }' /proc/mounts | sort -u); do
    [ "$m" = $T ] || mount --bind "$inst" "$m" || exit 12
done
mount --bind "$inst" $T || exit 12

# /dev: a private tmpfs with the devices QEMU and the program use, and
# room for syslogd's /dev/log
mount -t tmpfs none /dev/shm || exit 13
mkdir /dev/shm/dev
for d in null zero random urandom; do
    touch "/dev/shm/dev/$d" && mount --bind "/dev/$d" "/dev/shm/dev/$d" || exit 13
done
mount --rbind /dev/shm/dev /dev || exit 13
busybox syslogd -n -S -O "$w/syslog.txt" & syslogd=$!
for i in $(seq 50); do [ -S /dev/log ] && break; sleep 0.1; done
[ -S /dev/log ] || { kill $syslogd; exit 14; }

"$qemu" -hypertrace path="$w/ht",max-clients="$threads" \
    -trace enable=guest_hypertrace "$w/ht-events" "$threads" "$events" \
    > "$w/run.txt" 2>&1
echo "qemu rc=$?" >> "$w/run.txt"
sleep 0.5
kill $syslogd; wait $syslogd 2>/dev/null
cat $T/trace > "$w/ftrace.txt"
echo "buffer_size_kb=$(cat $T/buffer_size_kb)" >> "$w/run.txt"
EOT
$NS sh inner.sh "$work" "$fb/qemu-x86_64" $THREADS $EVENTS
rc=$?
# The instance lives in the machine's tracefs: remove it whatever happened
in_tracefs() {   # run a command in a namespace where tracefs is mounted
    $NS sh -c "mount --make-rprivate /sys &&
        { grep -q ' /sys/kernel/tracing tracefs ' /proc/mounts ||
          mount -t tracefs nodev /sys/kernel/tracing; } && $1"
}
ls_instances() { in_tracefs "ls /sys/kernel/tracing/instances" 2>/dev/null; }
if [ -s instance ]; then
    in_tracefs "rmdir '$(cat instance)'" || bad "could not remove $(cat instance)"
fi
case $rc in
0) ;;
10|11) ht_skip "cannot mount tracefs or make a trace instance here (status $rc)" ;;
*) bad "setting up tracefs and syslogd failed (status $rc)" ;;
esac
cat run.txt
grep -q "qemu rc=0" run.txt || bad "qemu-x86_64 failed"

check() {   # WHAT FILE
    local out
    out=$(/usr/bin/python3 "$HT_REPO/tests/hypertrace/check-events.py" "$2" \
          --threads $THREADS --events $EVENTS --args "$n_args") ||
        bad "$1: $(echo "$out" | head -n 5)"
    echo "$1: $out" | head -n 3
    echo "$1: $(grep -c 'guest_hypertrace cpu=' "$2") lines; first: $(grep -m1 guest_hypertrace "$2")"
}
check ftrace ftrace.txt
check syslog syslog.txt
# nothing left behind in the machine's tracefs or mounts
! ls_instances | grep -q hypertrace-test || bad "a trace instance was left behind"
! grep -q "$work\|hypertrace-test" /proc/mounts || bad "a mount was left behind"
exit $fail
