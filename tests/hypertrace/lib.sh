# SPDX-License-Identifier: GPL-2.0-or-later
#
# Helpers for hypertrace's own tests (sourced by the scripts beside it).
# Expects BUILD (a configured build directory) to be set.

HT_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HT_CACHE=${HYPERTRACE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hypertrace}
HT_TREE=$(readlink -f "$BUILD/qemu-src")
HT_ARCH=$(uname -m)
QEMU_SYSTEM="$BUILD/qemu-system-x86_64"
QEMU_USER="$BUILD/qemu-x86_64"
# Firmware from Debian's seabios and qemu-system-data (the +ds tarball
# ships none)
# configure's default --firmwarepath finds Debian's firmware packages
QEMU_FW=""

ht_log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
ht_die() { echo "error: $*" >&2; exit 1; }
# Exit code 77 tells the runner "skipped"; the reason is printed
ht_skip() { echo "SKIP: $*"; exit 77; }

# ht_run_logged LOG WHAT CMD...: run CMD with its output in LOG, printing
# a progress line (the last line of LOG) every 30 s so that long builds are
# never silent; on failure print the end of LOG.
ht_run_logged() {
    local log=$1 what=$2 pid rc=0 n=0
    shift 2
    "$@" > "$log" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        sleep 1
        n=$((n + 1))
        if [ $((n % 30)) = 0 ]; then
            ht_log "$what: ${n}s, $(tail -n 1 "$log" | cut -c1-100)"
        fi
    done
    wait "$pid" || rc=$?
    [ $rc = 0 ] || { echo "$what failed (status $rc):"; tail -n 20 "$log"; }
    return $rc
}

# Debian's GNU triplet for a QEMU target architecture
ht_triplet() {
    case $1 in
    i386) echo i686-linux-gnu ;;
    arm) echo arm-linux-gnueabihf ;;
    *) echo "$1-linux-gnu" ;;
    esac
}

# ht_num_args [BUILD-DIR]: the build's --with-hypertrace-args
ht_num_args() {
    sed -n 's/^#define CONFIG_HYPERTRACE_ARGS \([0-9]*\)$/\1/p' \
        "${1:-$BUILD}/config-host.h" 2>/dev/null
}

# ht_binfmt elf|sdt|png FILE...: what FILE is, read from its own header
# bytes (binfmt.py), never from a tool's wording
ht_binfmt() { /usr/bin/python3 "$HT_REPO/tests/hypertrace/binfmt.py" "$@"; }

ht_has_backend() {
    grep -qx "#define CONFIG_TRACE_$(echo "$1" | tr a-z A-Z)" \
        "$BUILD/config-host.h"
}

# Compile a guest program for the host arch, statically, against a guest
# library: ht_cc MODE OUT SRC... (MODE is softmmu or linux-user)
ht_cc() {
    local mode=$1 out=$2
    shift 2
    local libdir="$BUILD/$HT_ARCH-$mode/hypertrace/guest"
    make -s -C "$libdir" >/dev/null || ht_die "building $libdir failed"
    gcc -O2 -Wall -static -o "$out" "$@" "$libdir/libqemu-hypertrace-guest.a" \
        -I"$HT_TREE/hypertrace/guest" -lpthread
}

# The guest comes from the guest tool that QEMU installs (the user guide's
# way to a system-mode guest): Debian's cloud kernel, fetched once
HT_INITRAMFS="$HT_REPO/hypertrace/guest/qemu-hypertrace-initramfs"
ht_kernel() {
    "$HT_INITRAMFS" --kernel
}

# ht_initrd OUT TEST_SCRIPT [FILE...]: a busybox initramfs that runs
# TEST_SCRIPT's commands, prints "guest: exit status N" and powers off.
# FILEs are copied to /bin.
ht_initrd() {
    local out=$1 script=$2
    shift 2
    "$HT_INITRAMFS" -o "$out" -r "$(cat "$script")" "$@" > /dev/null \
        2> "$out.log" || { cat "$out.log" >&2; rm -f "$out.log"; return 1; }
    rm -f "$out.log"
}

# The guest's lines reach the serial console as kernel messages (see
# ht_initrd), without timestamps so that they read as the guest wrote them.
HT_APPEND="console=ttyS0 panic=-1 quiet printk.time=0"

# ht_boot OUT TIMEOUT ACCEL SMP KERNEL INITRD [QEMU ARGS...]: boot, serial
# console to OUT.  Returns QEMU's status (124 on timeout).
ht_boot() {
    local out=$1 tmo=$2 accel=$3 smp=$4 kernel=$5 initrd=$6
    shift 6
    # shellcheck disable=SC2086
    timeout "$tmo" "$QEMU_SYSTEM" $QEMU_FW -M q35 -accel "$accel" \
        -smp "$smp" -m 512 -nodefaults -display none -no-reboot \
        -serial "file:$out" -kernel "$kernel" -initrd "$initrd" \
        -append "$HT_APPEND" "$@" </dev/null
}

# A scratch directory removed on exit, and failure bookkeeping: tests call
# bad for each failed check and end with "exit $fail".
ht_scratch() {
    work=$(mktemp -d)
    # shellcheck disable=SC2064
    trap "rm -rf '$work'" EXIT
    cd "$work" || exit 1
    fail=0
}
bad() { echo "FAIL: $*"; fail=1; }

# ht_kvm_probe KERNEL DIR: does a Linux guest boot under -accel kvm here?
# Returns 0 if so; otherwise prints the reason and returns 1.  (Software
# KVM implementations may fail in early boot, or hang.)
ht_kvm_probe() {
    local kernel=$1 dir=$2 rc=0
    if [ ! -w /dev/kvm ]; then
        echo "/dev/kvm is missing or not writable"
        return 1
    fi
    echo 'echo probe' > "$dir/probe.sh"
    ht_initrd "$dir/probe.gz" "$dir/probe.sh"
    ht_boot "$dir/probe.txt" 30 kvm 1 "$kernel" "$dir/probe.gz" \
        > "$dir/probe.err" 2>&1 || rc=$?
    grep -q "guest: exit status 0" "$dir/probe.txt" 2>/dev/null && return 0
    echo "a Linux guest does not boot under -accel kvm on this host (probe" \
         "boot: QEMU status $rc$([ $rc = 124 ] && echo ', timed out after 30 s');" \
         "last output: $(cat "$dir/probe.err" "$dir/probe.txt" 2>/dev/null |
                         grep -v '^$' | tail -n 1 | cut -c1-120))"
    return 1
}

# ht_baremetal: build the bare-metal guests (tests/hypertrace/baremetal) in
# the current directory: guest32.elf (i386, multiboot ELF) and guest64.bin
# (x86_64, a flat image whose multiboot header gives the load addresses:
# QEMU's multiboot loader takes no 64-bit ELF)
ht_baremetal() {
    local d="$HT_REPO/tests/hypertrace/baremetal"
    local cflags=(-O2 -ffreestanding -fno-pic -fno-stack-protector
                  -mgeneral-regs-only -nostdlib -static -no-pie -Wall -Werror
                  -I"$HT_TREE/include" -T "$d/guest.ld" -Wl,--build-id=none
                  -Wl,--no-warn-rwx-segments)
    gcc -m32 "${cflags[@]}" -o guest32.elf "$d/boot32.S" "$d/ap.S" \
        "$d/store.S" "$d/guest.c" > build.log 2>&1 ||
        { cat build.log; ht_die "building the i386 guest failed"; }
    gcc -m64 -mno-red-zone "${cflags[@]}" -o guest64.elf "$d/boot64.S" \
        "$d/ap.S" "$d/store.S" "$d/guest.c" > build.log 2>&1 ||
        { cat build.log; ht_die "building the x86_64 guest failed"; }
    objcopy -O binary guest64.elf guest64.bin || ht_die "objcopy failed"
}

# ht_kvm_accels: "tcg kvm" where /dev/kvm starts a VM, else "tcg" (and a
# line saying why not)
ht_kvm_accels() {
    local out
    if [ ! -e /dev/kvm ]; then
        echo "SKIP kvm: /dev/kvm does not exist on this host" >&2
    elif [ ! -w /dev/kvm ]; then
        echo "SKIP kvm: /dev/kvm is not writable by $(id -un)" >&2
    elif ! out=$(echo quit | "$QEMU_SYSTEM" -M q35 -accel kvm -display none \
                    -nodefaults -monitor stdio -S 2>&1 >/dev/null); then
        echo "SKIP kvm: QEMU cannot start a VM with -accel kvm: $(echo "$out" | head -n 1)" >&2
    else
        echo "tcg kvm"
        return
    fi
    echo tcg
}
