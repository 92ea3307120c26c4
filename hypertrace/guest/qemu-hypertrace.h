/*
 * Hypertrace guest support library: emit QEMU trace events from a guest
 *
 * Link with libqemu-hypertrace-guest.a built for the QEMU target the
 * program runs on (<build>/<target>/hypertrace/guest) and -lpthread.
 * docs/specs/hypertrace.rst describes the channels underneath.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_HYPERTRACE_H
#define QEMU_HYPERTRACE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Environment variable read by qemu_hypertrace_init(NULL) in user mode: the
 * BASE path that was given to qemu-<arch> -hypertrace.
 */
#define QEMU_HYPERTRACE_ENV "QEMU_HYPERTRACE_BASE"

/*
 * qemu_hypertrace_init:
 * @base: where the channels are.  System mode: NULL finds the first
 *        hypertrace PCI device in /sys/bus/pci/devices, or the sysfs
 *        directory of one device (/sys/bus/pci/devices/0000:00:04.0).
 *        User mode: the BASE given to QEMU's -hypertrace option (QEMU
 *        answers the names BASE-config, BASE-data and BASE-control); NULL
 *        reads it from the QEMU_HYPERTRACE_BASE environment variable.
 *
 * Map the channels.  Thread-safe; calling it again once it succeeded does
 * nothing and returns 0.
 *
 * Returns: 0 on success; -1 with errno set on failure: ENODEV (no device or
 * files), EACCES (no permission; see the docs for non-root use), EBADMSG
 * (the config channel does not carry the hypertrace magic), EPROTO (ABI
 * version unsupported by this library), or the errno of a failed system call.
 */
int qemu_hypertrace_init(const char *base);

/* Unmap the channels; init may be called again afterwards. */
void qemu_hypertrace_fini(void);

/* Number of clients the channels have (0 before init). */
uint64_t qemu_hypertrace_max_clients(void);

/*
 * Number of arguments of the guest_hypertrace event: arg1, which
 * qemu_hypertrace() passes, plus the qemu_hypertrace_num_args() - 1 words of
 * qemu_hypertrace_data() (0 before init).
 */
uint64_t qemu_hypertrace_num_args(void);

/*
 * qemu_hypertrace_data:
 * @client: client index, below qemu_hypertrace_max_clients()
 *
 * Returns: the client's argument slot, qemu_hypertrace_num_args() - 1 words
 * in native byte order that become arg2, arg3, ... of the next event; NULL
 * with errno EINVAL when @client is out of range or init has not succeeded.
 */
uint64_t *qemu_hypertrace_data(uint64_t client);

/*
 * qemu_hypertrace:
 * @client: client index, below qemu_hypertrace_max_clients()
 * @arg1: first event argument
 *
 * Emit one guest_hypertrace event with @arg1 and the client's data slot.
 * One 8-byte store on 64-bit little-endian guests; 32-bit guests store the
 * high half of @arg1 into the data slot, then 4 bytes to the control
 * register.  An out-of-range @client (or a call before init) emits nothing
 * and sets errno to EINVAL.
 */
void qemu_hypertrace(uint64_t client, uint64_t arg1);

/*
 * Lining up the guest's own tracing (ftrace) with QEMU's trace: a marker
 * written into the guest's ftrace buffer and the event emitted right
 * after it are the same instant on the guest's trace clock and on the
 * host's, since the event is synchronous.  qemu-hypertrace-regions
 * --guest-trace reads both traces and maps the guest's onto the host's.
 *
 * arg1 of the events these functions emit: a tag in the high 32 bits.
 */
#define QEMU_HYPERTRACE_SYNC_TAG 0x68747379u   /* "htsy": a sync point */
#define QEMU_HYPERTRACE_MARK_TAG 0x68746d6bu   /* "htmk": a named mark */

/*
 * qemu_hypertrace_mark:
 * @client: client index, below qemu_hypertrace_max_clients()
 * @arg1: first event argument (the data slot holds the others)
 * @text: the marker, a line of text
 *
 * Write @text into the guest's ftrace buffer (the trace_marker file of
 * tracefs, at /sys/kernel/tracing or /sys/kernel/debug/tracing), then emit
 * one event as qemu_hypertrace() does, whether the marker could be
 * written or not.
 *
 * Returns: 1 when the marker was written; QEMU_HYPERTRACE_MARK_LATE when
 * it was, but the thread was switched out between the marker and the
 * event, or more than 100 us of CLOCK_MONOTONIC passed between them, so
 * that the two are not one instant; 0 when the
 * marker was not written (no tracefs mounted, or ftrace refused it: errno
 * says why), the event being emitted all the same; -1 with errno EINVAL,
 * and no event, when @client is out of range or init has not succeeded.
 */
int qemu_hypertrace_mark(uint64_t client, uint64_t arg1, const char *text);
#define QEMU_HYPERTRACE_MARK_LATE 2

/*
 * qemu_hypertrace_sync:
 * @client: client index, below qemu_hypertrace_max_clients()
 * @run: a number shared by the points of one sync session and by no other
 *       session (a random one), so that traces of two runs never pair up
 * @seq: the point's number in the session
 *
 * One sync point: qemu_hypertrace_mark() with the marker
 * "hypertrace-sync run=RUN seq=SEQ mono=NS" (RUN in 16 hex digits, NS the
 * guest's CLOCK_MONOTONIC in nanoseconds) and the event arg1 =
 * QEMU_HYPERTRACE_SYNC_TAG << 32 | SEQ, arg2 = RUN, arg3 = NS, as far as
 * the build's arguments go.  The client's data slot is overwritten.
 *
 * Returns: as qemu_hypertrace_mark().
 */
int qemu_hypertrace_sync(uint64_t client, uint64_t run, uint32_t seq);

/*
 * The trace_marker file that qemu_hypertrace_mark() writes, or NULL when
 * the guest has none (tracefs not mounted).
 */
const char *qemu_hypertrace_marker_path(void);

/*
 * qemu_hypertrace_strerror:
 * @errnum: an errno value set by this library
 *
 * Returns: a message that explains @errnum in hypertrace's terms.
 */
const char *qemu_hypertrace_strerror(int errnum);

#ifdef __cplusplus
}
#endif

#endif
