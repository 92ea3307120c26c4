/*
 * Hypertrace in linux-user: -hypertrace channels
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef LINUX_USER_HYPERTRACE_H
#define LINUX_USER_HYPERTRACE_H

#include "qemu/envlist.h"

/* Parse -hypertrace / QEMU_HYPERTRACE, make the channels; exit(1) on error */
void hypertrace_user_init(const char *optarg, envlist_t *envlist);

/*
 * A guest open of @path relative to @dirfd with host open @flags: -2 when
 * @path is not one of the channels; otherwise a new descriptor on the
 * channel, or -1 with errno set (EACCES for config opened for writing,
 * EEXIST with O_CREAT | O_EXCL, ENOTDIR with O_DIRECTORY).
 */
int hypertrace_user_open(int dirfd, const char *path, int flags);

/*
 * target_mmap() of @fd: 0 when @fd is not the control file (*@ctrl_prot is
 * then -1) or the mapping is valid (*@ctrl_prot is the guest's protection,
 * and *@prot loses PROT_WRITE: stores are caught, not made); -1 with errno
 * EINVAL for a bad offset or length.
 */
int hypertrace_user_mmap_check(int fd, abi_ulong len, off_t offset,
                               int *prot, int *ctrl_prot);

/*
 * A new mapping at [start, start + len) (mmap_lock held): of control at
 * @offset with the guest's protection @ctrl_prot, or anything else when
 * @ctrl_prot is -1.
 */
void hypertrace_user_mapped(abi_ulong start, abi_ulong len, int ctrl_prot,
                            off_t offset);

/*
 * target_mprotect() gave [start, start + len) protection @prot (mmap_lock
 * held): stores to control there now fault unless @prot has PROT_WRITE.
 */
void hypertrace_user_protected(abi_ulong start, abi_ulong len, int prot);

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

/*
 * Posted records: take what the guest queued (its exit, execve(), and
 * before fork(), so that nothing queued is lost), and start the child's
 * taker after fork()
 */
void hypertrace_user_take_records(void);
void hypertrace_user_fork_end(bool child);

#endif
