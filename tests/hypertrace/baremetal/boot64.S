/*
 * Multiboot entry of hypertrace's x86_64 bare-metal test guest.  QEMU's
 * multiboot loader takes 32-bit images only, so this one is a flat binary
 * described by the header's address fields: QEMU loads it at 1 MiB and
 * enters _start in 32-bit protected mode, which maps the first 4 GiB 1:1
 * with 2 MiB pages, switches to long mode and calls bm_main.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
    .section .multiboot, "a"
    .align 4
mb_header:
    .long 0x1badb002                    /* magic */
    .long 0x00010000                    /* flags: the address fields below */
    .long -(0x1badb002 + 0x00010000)    /* checksum */
    .long mb_header                     /* header_addr */
    .long __load_start                  /* load_addr */
    .long __load_end                    /* load_end_addr */
    .long __bss_end                     /* bss_end_addr */
    .long _start                        /* entry_addr */

    .text
    .code32
    .globl _start
_start:
    cli
    mov %eax, %esi                      /* multiboot magic */
    mov %ebx, %edi                      /* multiboot info */
    mov $stack_top, %esp
    /* pml4[0] -> pdpt, pdpt[0..3] -> pd[0..3], pd: 2 MiB pages */
    mov $pdpt, %eax
    or $0x3, %eax
    mov %eax, pml4
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $12, %eax
    add $pd, %eax
    or $0x3, %eax
    mov %eax, pdpt(,%ecx,8)
    inc %ecx
    cmp $4, %ecx
    jne 1b
    xor %ecx, %ecx
2:  mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax                      /* present, writable, 2 MiB */
    mov %eax, pd(,%ecx,8)
    mov %ecx, %eax
    shr $11, %eax                       /* bits 32+ of the address */
    mov %eax, pd+4(,%ecx,8)
    inc %ecx
    cmp $2048, %ecx
    jne 2b
    mov %cr4, %eax
    or $0x620, %eax                     /* PAE, OSFXSR, OSXMMEXCPT */
    mov %eax, %cr4
    mov $pml4, %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx               /* EFER */
    rdmsr
    or $0x100, %eax                     /* LME */
    wrmsr
    mov %cr0, %eax
    and $~0x4, %eax                     /* no x87 emulation: SSE works */
    or $0x80000002, %eax                /* PG, MP */
    mov %eax, %cr0
    lgdt ap_gdt_ptr                     /* the GDT of ap.S, shared */
    ljmp $0x18, $long_mode

    .code64
long_mode:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $stack_top, %rsp
    xchg %esi, %edi                     /* bm_main(magic, mbi) */
    call bm_main
3:  hlt
    jmp 3b

    .bss
    .align 4096
    .globl pml4
pml4:
    .space 4096
pdpt:
    .space 4096
pd:
    .space 4 * 4096
    .space 16384
stack_top:

    .section .note.GNU-stack, "", @progbits
