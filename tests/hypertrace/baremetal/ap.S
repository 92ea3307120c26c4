/*
 * The second CPU of hypertrace's bare-metal test guest.  bm_start_ap()
 * copies ap_tramp to AP_TRAMP (below 1 MiB) and sends INIT-SIPI-SIPI; the
 * CPU starts there in real mode, enters protected mode with the GDT
 * below, then (x86_64) long mode with the BSP's page tables, and calls
 * ap_main on a stack of its own.  boot64.S enters long mode with the same
 * GDT (through ap_gdt_ptr, which holds its linear address).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
    .text
    .code16
    .globl ap_tramp, ap_tramp_end, ap_gdt_ptr
ap_tramp:
    cli
    mov %cs, %ax
    mov %ax, %ds
    lgdtl ap_gdt_ptr - ap_tramp
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $ap_pm32
    .align 4
ap_gdt_ptr:
    .word ap_gdt_end - ap_gdt - 1
    .long ap_gdt
ap_tramp_end:

    .code32
ap_pm32:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $ap_stack_top, %esp
    mov %cr0, %eax
    and $~0x4, %eax                     /* SSE as on the BSP */
    or $0x2, %eax
    mov %eax, %cr0
    mov %cr4, %eax
    or $0x600, %eax
#ifdef __x86_64__
    or $0x20, %eax                      /* PAE */
    mov %eax, %cr4
    mov $pml4, %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx
    rdmsr
    or $0x100, %eax
    wrmsr
    mov %cr0, %eax
    or $0x80000000, %eax
    mov %eax, %cr0
    ljmp $0x18, $ap_long

    .code64
ap_long:
    mov $ap_stack_top, %rsp
#else
    mov %eax, %cr4
#endif
    call ap_main
1:  hlt
    jmp 1b

    .section .rodata
    .align 8
ap_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff            /* 0x08: 32-bit code */
    .quad 0x00cf92000000ffff            /* 0x10: data */
    .quad 0x00af9a000000ffff            /* 0x18: 64-bit code */
ap_gdt_end:

    .bss
    .align 16
    .space 16384
ap_stack_top:

    .section .note.GNU-stack, "", @progbits
