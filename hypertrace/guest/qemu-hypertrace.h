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
