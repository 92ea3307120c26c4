/*
 * Store hooks: guest instructions whose stores go to a hook (user mode)
 *
 * A user-mode emulator that must handle the stores of some guest
 * instructions itself (linux-user does for the control mappings of
 * -hypertrace) marks those instructions by guest PC.  Translation blocks
 * translated afterwards emit each store of a marked instruction as a call
 * to the hook in place of the store; the hook performs the store or does
 * something else with it.  Marks are never removed.  Nothing is looked up
 * while no instruction is marked.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef USER_STORE_HOOK_H
#define USER_STORE_HOOK_H

#include "exec/memopidx.h"
#include "exec/vaddr.h"

/*
 * UserStoreHook:
 * @env: the storing vCPU
 * @addr: guest address of the store
 * @val: the value, zero-extended to 64 bits
 * @oi: the store's MemOp and MMU index
 * @ra: host return address into the translated code, for unwinding
 */
typedef void UserStoreHook(CPUArchState *env, uint64_t addr, uint64_t val,
                           MemOpIdx oi, uintptr_t ra);

/* Set the hook; before any instruction is marked */
void user_store_hook_set(UserStoreHook *hook);

/*
 * user_store_hook_mark: send the stores of the guest instruction at @pc
 * to the hook, in blocks translated from now on (the caller invalidates
 * those already translated).  Call with mmap_lock held.
 *
 * Returns: false if @pc was already marked.
 */
bool user_store_hook_mark(vaddr pc);

/* Whether the instruction at @pc is marked; with mmap_lock held */
bool user_store_hook_marked(vaddr pc);

/* Number of marked instructions */
unsigned user_store_hook_count(void);

/* Called from translated code in place of a marked instruction's store */
void user_store_hook_call(CPUArchState *env, uint64_t addr, uint64_t val,
                          uint32_t oi);

#endif
