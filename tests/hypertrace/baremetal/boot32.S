/*
 * Multiboot entry of hypertrace's bare-metal test guest (i386): QEMU's
 * -kernel loads it at 1 MiB and jumps here in 32-bit protected mode with
 * flat segments and paging off.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
    .section .multiboot, "a"
    .align 4
    .long 0x1badb002            /* multiboot magic */
    .long 0                     /* flags: an ELF image, nothing asked */
    .long -0x1badb002           /* checksum */

    .text
    .globl _start
_start:
    cli
    mov %eax, %esi                      /* multiboot magic */
    mov %ebx, %edi                      /* multiboot info */
    mov $stack_top, %esp
    mov %cr0, %eax
    and $~0x4, %eax                     /* no x87 emulation: SSE works */
    or $0x2, %eax                       /* MP */
    mov %eax, %cr0
    mov %cr4, %eax
    or $0x600, %eax                     /* OSFXSR, OSXMMEXCPT */
    mov %eax, %cr4
    push %edi                           /* bm_main(magic, mbi) */
    push %esi
    call bm_main
    /* bm_main exits through isa-debug-exit; if it returns, stop */
1:  hlt
    jmp 1b

    .bss
    .align 16
    .space 16384
stack_top:

    .section .note.GNU-stack, "", @progbits
