/*
 * Hypertrace in linux-user: -hypertrace channel files
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef LINUX_USER_HYPERTRACE_H
#define LINUX_USER_HYPERTRACE_H

#include "qemu/envlist.h"

/* Parse -hypertrace / QEMU_HYPERTRACE, create the files; exit(1) on error */
void hypertrace_user_init(const char *optarg, envlist_t *envlist);

/* Remove the channel files (only in the process that created them) */
void hypertrace_user_exit(void);

/*
 * target_mmap() of @fd: 0 when @fd is not the control file or the mapping
 * is valid (then *@prot loses PROT_WRITE: stores are caught, not made);
 * -1 with errno EINVAL for a bad offset or length.
 */
int hypertrace_user_mmap_check(int fd, abi_ulong len, off_t offset,
                               int *prot, bool *is_ctrl);

/* A new mapping at [start, start + len) (mmap_lock held) */
void hypertrace_user_mapped(abi_ulong start, abi_ulong len, bool is_ctrl,
                            off_t offset);

/* [start, start + len) was unmapped or replaced (mmap_lock held) */
void hypertrace_user_unmapped(abi_ulong start, abi_ulong len);

/* Whether [start, start + len) overlaps a control mapping */
bool hypertrace_user_overlaps(abi_ulong start, abi_ulong len);

/*
 * host_sigsegv_handler(): a write fault at @guest_addr from generated code
 * at @host_pc.  Returns false when the fault is not hypertrace's; does not
 * return when it is (the store is restarted).
 */
bool hypertrace_user_fault(CPUState *cpu, sigset_t *old_set,
                           uintptr_t host_pc, abi_ptr guest_addr);

#endif
