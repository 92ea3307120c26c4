/*
 * Stores the bare-metal guest cannot write in C with -mgeneral-regs-only:
 * one 8-byte store (also from i386), with MMX's movq, and one 16-byte
 * store, with SSE's movdqu.  Under KVM such a store to MMIO goes through
 * the kernel's instruction emulator; a KVM tried here stopped the guest
 * ("emulation failure") on SSE's 8-byte movq and on an emms right after
 * an MMIO store, so the guest uses neither (it has no x87 code).
 *
 *   void bm_store8(volatile void *dst, const void *src);
 *   void bm_store16(volatile void *dst, const void *src);
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
    .text
    .globl bm_store8, bm_store16
#ifdef __x86_64__
bm_store8:
    movq (%rsi), %mm0
    movq %mm0, (%rdi)
    ret
bm_store16:
    movdqu (%rsi), %xmm0
    movdqu %xmm0, (%rdi)
    ret
#else
bm_store8:
    mov 4(%esp), %eax
    mov 8(%esp), %edx
    movq (%edx), %mm0
    movq %mm0, (%eax)
    ret
bm_store16:
    mov 4(%esp), %eax
    mov 8(%esp), %edx
    movdqu (%edx), %xmm0
    movdqu %xmm0, (%eax)
    ret
#endif

    .section .note.GNU-stack, "", @progbits
