/*
 * Hypertrace's bare-metal test guest: no operating system, no library.
 * It finds the hypertrace PCI device with configuration cycles, places
 * its BARs itself, reads the config channel, fires events and makes the
 * stores the spec says are not events, and reports on the debug console
 * (port 0xe9).  It ends QEMU through isa-debug-exit (port 0xf4) with
 * code 0 for success (QEMU's exit status is then 1) and 1 for failure
 * (status 3).
 *
 * The layout comes from the project's ABI header, include/hypertrace/abi.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdint.h>
#include "hypertrace/abi.h"

#define BAR_CFG_ADDR    0xc0000000u
#define BAR_DATA_ADDR   0xc1000000u
#define BAR_CTRL_ADDR   0xc2000000u

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;

    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;

    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return lo | ((uint64_t)hi << 32);
}

static inline uint32_t inl(uint16_t port)
{
    uint32_t v;

    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static void puts_(const char *s)
{
    while (*s) {
        outb(0xe9, *s++);
    }
}

static void putu(uint64_t v)
{
    char buf[24];
    int i = 0;

    do {
        buf[i++] = '0' + v % 10;
        v /= 10;
    } while (v);
    while (i) {
        outb(0xe9, buf[--i]);
    }
}

static void putx(uint64_t v)
{
    int i;

    puts_("0x");
    for (i = 60; i >= 0; i -= 4) {
        outb(0xe9, "0123456789abcdef"[(v >> i) & 0xf]);
    }
}

static void finish(int failed)
{
    puts_(failed ? "bm: FAILED\n" : "bm: done\n");
    outb(0xf4, failed ? 1 : 0);
    for (;;) {
        __asm__ volatile("hlt");
    }
}

static int failures;

static void check(int ok, const char *what)
{
    if (!ok) {
        puts_("bm: FAIL ");
        puts_(what);
        puts_("\n");
        failures++;
    }
}

static uint32_t pci_read(int dev, int off)
{
    outl(0xcf8, 0x80000000u | (dev << 11) | (off & 0xfc));
    return inl(0xcfc);
}

static void pci_write(int dev, int off, uint32_t v)
{
    outl(0xcf8, 0x80000000u | (dev << 11) | (off & 0xfc));
    outl(0xcfc, v);
}

static volatile uint64_t *cfg;
static volatile uint8_t *data, *ctrl;
static uint64_t max_clients, num_args, data_stride, ctrl_stride;

static uint64_t cfg_word(unsigned off)
{
#ifdef __x86_64__
    return *(volatile uint64_t *)((volatile uint8_t *)cfg + off);
#else
    /* two 4-byte loads: an i386 guest has no 8-byte load */
    volatile uint32_t *w = (volatile uint32_t *)((volatile uint8_t *)cfg + off);

    return w[0] | ((uint64_t)w[1] << 32);
#endif
}

static void set_bar(int dev, int bar, uint32_t addr, int is64)
{
    pci_write(dev, 0x10 + 4 * bar, addr);
    if (is64) {
        pci_write(dev, 0x14 + 4 * bar, 0);
    }
}

static int find_pci(uint16_t vendor, uint16_t device)
{
    int dev;

    for (dev = 0; dev < 32; dev++) {
        uint32_t id = pci_read(dev, 0);

        if ((id & 0xffff) == vendor && (id >> 16) == device) {
            return dev;
        }
    }
    return -1;
}

/* The first device with this id in a slot after @after, or -1 */
static int find_pci_after(int after, uint16_t vendor, uint16_t device)
{
    int dev;

    for (dev = after + 1; dev < 32; dev++) {
        uint32_t id = pci_read(dev, 0);

        if ((id & 0xffff) == vendor && (id >> 16) == device) {
            return dev;
        }
    }
    return -1;
}

static int find_device(void)
{
    return find_pci(HYPERTRACE_PCI_VENDOR_ID, HYPERTRACE_PCI_DEVICE_ID);
}

/* arg2 .. argN of @client's next event */
static void set_args(uint64_t client, uint64_t a2)
{
    volatile uint32_t *slot =
        (volatile uint32_t *)(data + client * data_stride);
    uint64_t i;

    for (i = 0; i + 1 < num_args; i++) {
        uint64_t v = a2 + i;

        slot[2 * i] = (uint32_t)v;
        slot[2 * i + 1] = (uint32_t)(v >> 32);
    }
}

#ifdef __x86_64__
/* The 64-bit event store: all of arg1 at once */
static void fire_on(volatile uint8_t *d, volatile uint8_t *c,
                    uint64_t client, uint64_t arg1)
{
    (void)d;
    *(volatile uint64_t *)(c + client * ctrl_stride) = arg1;
}
#else
/* The 32-bit event store: the high half of arg1 first, then 4 bytes */
static void fire_on(volatile uint8_t *d, volatile uint8_t *c,
                    uint64_t client, uint64_t arg1)
{
    volatile uint32_t *high = (volatile uint32_t *)
        (d + client * data_stride + HYPERTRACE_SLOT_ARG1_HIGH);

    *high = (uint32_t)(arg1 >> 32);
    *(volatile uint32_t *)(c + client * ctrl_stride) = (uint32_t)arg1;
}
#endif

static void fire(uint64_t client, uint64_t arg1)
{
    fire_on(data, ctrl, client, arg1);
}

/* client @c's @n events: arg1 = c << 40 | i << 8 | 5, argk = arg1 + k - 1 */
static void fire_events(uint64_t c, uint64_t n)
{
    uint64_t i;

    for (i = 0; i < n; i++) {
        uint64_t a1 = (c << 40) | (i << 8) | 0x5;

        set_args(c, a1 + 1);
        fire(c, a1);
    }
}

#define EVENTS          2000
#define AP_TRAMP        0x8000u
#define APIC            0xfee00000u

extern char ap_tramp[], ap_tramp_end[];
void bm_store8(volatile void *dst, const void *src);
void bm_store16(volatile void *dst, const void *src);

/*
 * A marker event on client 0 (arg1 = 0xfe << 56 | n): the trace shows that
 * nothing fired between two markers.
 */
static void mark(int n)
{
    set_args(0, 0);
    fire(0, 0xfe00000000000000ull | n);
}

/*
 * The spec's "Which stores fire an event" and "Accesses that are not an
 * event", on one CPU.  Each step is followed by a marker, so the test
 * knows which step any event or guest-error line came from.  max-clients
 * is 3, so the control BAR (4 x 64 KiB) has one client's page of
 * padding.  The general steps use general-purpose stores only; the SIMD
 * steps (MMX and SSE stores: 8 bytes from i386, and 16 bytes) run in a
 * boot of their own, as a KVM that cannot emulate them stops the guest.
 */
static void hostile(void)
{
    uint32_t *c32 = (uint32_t *)ctrl;

    mark(0);
    *(volatile uint8_t *)ctrl = 0x11;                   /* 1: 1 byte */
    mark(1);
    *(volatile uint16_t *)ctrl = 0x22;                  /* 2: 2 bytes */
    mark(2);
    *(volatile uint32_t *)(ctrl + 4) = 0x33;            /* 3: in the page */
    mark(3);
    *(volatile uint32_t *)(ctrl + 3 * ctrl_stride) = 0x44;  /* 4: padding */
    mark(4);
    check(*(volatile uint32_t *)ctrl == 0, "a control read returns 0");
    mark(5);                                            /* 5: a read */
    *(volatile uint32_t *)cfg = 0;                      /* 6: config */
    check(cfg_word(HYPERTRACE_CFG_MAGIC) == HYPERTRACE_MAGIC,
          "config unchanged by a write");
    mark(6);
#ifdef __x86_64__
    *(volatile uint64_t *)(ctrl + 8) = 0x55;            /* 7: in the page */
    mark(7);
    *(volatile uint64_t *)(ctrl + 3 * ctrl_stride) = 0x66;  /* 8: padding */
    mark(8);
    /* 9: 8 bytes across client 1's register, not aligned */
    __asm__ volatile("movq %1, (%0)" : : "r"(ctrl + ctrl_stride - 4),
                     "r"((uint64_t)0x77) : "memory");
    mark(9);
#endif
    (void)c32;
}

static void hostile_simd(void)
{
    static const uint64_t wide[2] = { 0x1600, 0x1616161616161616ull };
    static const uint64_t eight = 0x0800000000000008ull;
    static const uint64_t v = 0x88;

    mark(20);
    bm_store8(ctrl + 8, &v);                        /* 21: in the page */
    mark(21);
    bm_store8(ctrl + 3 * ctrl_stride, &v);          /* 22: padding */
    mark(22);
    bm_store16(ctrl + ctrl_stride - 8, wide);       /* 23: ends at client 1's */
    mark(23);
    set_args(1, 0x161);
    bm_store16(ctrl + ctrl_stride, wide);           /* 24: fires, 8 bytes */
    mark(24);
    set_args(1, 0x81);
    bm_store8(ctrl + ctrl_stride, &eight);          /* 25: fires */
    mark(25);
}

static volatile int ap_ready, ap_go, ap_done;

/*
 * Posted events (the spec's "Posted records"), written here from the
 * spec's layout rather than with the guest library: each vCPU posts
 * POSTS events on each of two clients of its own, alternating between
 * them, draining a client whose ring is full with the drain event, and
 * flushing (the TSC in arg2, the slot's words put back) at the start and
 * the end.  Posted arg1 = c << 40 | i << 8
 * | 6, argk = arg1 + k - 1.
 */
#define POSTS           100000
#define FLUSH_TAG       0x6874666cull
#define DRAIN_TAG       0x68746472ull

static uint64_t ring_offset, ring_stride;
static uint32_t ring_records, record_words;    /* no 64-bit division on i386 */
static volatile int ap_post;

typedef struct {
    uint64_t client;
    volatile uint32_t *head_word, *tail_word;
    volatile uint32_t *ring;
    uint32_t head, room_end, pos;
} PostRing;

static volatile uint32_t *slot_word(uint64_t c, unsigned offset)
{
    return (volatile uint32_t *)(data + c * data_stride + offset);
}

static void post_flush(uint64_t c)
{
    volatile uint32_t *slot = slot_word(c, 0);
    uint32_t s0 = slot[0], s1 = slot[1];
    uint64_t t = rdtsc();

    slot[0] = (uint32_t)t;
    slot[1] = (uint32_t)(t >> 32);
    fire(c, FLUSH_TAG << 32);
    slot[0] = s0;
    slot[1] = s1;
}

static void post_refresh(PostRing *r)
{
    uint32_t tail = *r->tail_word;

    r->room_end = tail + (uint32_t)ring_records;
}

static void post_arm(PostRing *r, uint64_t c)
{
    r->client = c;
    r->head_word = slot_word(c, HYPERTRACE_SLOT_RING_HEAD);
    r->tail_word = slot_word(c, HYPERTRACE_SLOT_RING_TAIL);
    r->ring = (volatile uint32_t *)(data + ring_offset + c * ring_stride);
    r->head = *r->head_word;
    r->pos = r->head % ring_records;
    *slot_word(c, HYPERTRACE_SLOT_RING_ARM) = HYPERTRACE_RING_ARMED;
    post_flush(c);
    post_refresh(r);
}

static void post(PostRing *r, uint64_t arg1)
{
    volatile uint32_t *rec;
    uint64_t t;
    uint32_t k;

    while (r->head == r->room_end) {
        post_refresh(r);
        if (r->head == r->room_end) {
            fire(r->client, DRAIN_TAG << 32);       /* full: make room */
        }
    }
    rec = r->ring + 2 * r->pos * record_words;
    t = rdtsc();
    rec[0] = (uint32_t)t;
    rec[1] = (uint32_t)(t >> 32);
    for (k = 1; k < record_words; k++) {
        uint64_t v = arg1 + k - 1;

        rec[2 * k] = (uint32_t)v;
        rec[2 * k + 1] = (uint32_t)(v >> 32);
    }
    if (++r->pos == ring_records) {
        r->pos = 0;
    }
    /* the record before the head that publishes it (x86 keeps stores in order) */
    __asm__ volatile("" : : : "memory");
    *r->head_word = ++r->head;
}

/*
 * One vCPU, clients 0 and 1, @n events each, a synchronous event on
 * client 0 every 1000 (arg1 = 0x5c << 32 | i): for record and replay
 */
static void post_one_cpu(uint32_t n)
{
    PostRing a, b;
    uint64_t i;
    uint32_t k = 0;

    post_arm(&a, 0);
    post_arm(&b, 1);
    for (i = 0; i < n; i++) {
        if (i && ++k == 1000) {
            fire(0, 0x5cull << 32 | i);
            k = 0;
        }
        post(&a, 0ull << 40 | i << 8 | 6);
        post(&b, 1ull << 40 | i << 8 | 6);
    }
    post_flush(0);
    post_flush(1);
}

/*
 * Migration with records queued: client 1 posts @n events, then client 0
 * opens a region (roi-pause: the driver migrates the VM there), then
 * client 1 posts @n more on the destination and flushes
 */
static void post_migrate(uint64_t n)
{
    PostRing r;
    uint64_t i;

    post_arm(&r, 1);
    for (i = 0; i < n; i++) {
        post(&r, 1ull << 40 | i << 8 | 6);
    }
    *(volatile uint32_t *)ctrl = 1;             /* the boundary */
    for (; i < 2 * n; i++) {
        post(&r, 1ull << 40 | i << 8 | 6);
    }
    post_flush(1);
    puts_("bm: posted across the migration\n");
}

/*
 * A system reset with records queued: client 1 posts @n events without a
 * flush and the guest resets the machine (the reset control register,
 * 0xcf9).  A word at RESET_MARK_ADDR, which neither the firmware nor the
 * loader writes, tells the second boot from the first; the second checks
 * that the reset cleared the ring's words and finishes.
 */
#define RESET_MARK_ADDR 0x2000000u
#define RESET_MARK      0x72737470u

static void post_reset(uint32_t n)
{
    volatile uint32_t *mark_word = (volatile uint32_t *)RESET_MARK_ADDR;
    PostRing r;
    uint64_t i;

    if (*mark_word == RESET_MARK) {
        *mark_word = 0;
        check(*slot_word(1, HYPERTRACE_SLOT_RING_HEAD) == 0 &&
              *slot_word(1, HYPERTRACE_SLOT_RING_ARM) == 0 &&
              *slot_word(1, HYPERTRACE_SLOT_RING_TAIL) == 0,
              "the ring's words after the reset");
        puts_("bm: booted again after the reset\n");
        return;
    }
    post_arm(&r, 1);
    for (i = 0; i < n; i++) {
        post(&r, 1ull << 40 | i << 8 | 6);
    }
    *mark_word = RESET_MARK;
    puts_("bm: posted, resetting\n");
    outb(0xcf9, 0x02);
    outb(0xcf9, 0x06);
    for (;;) {
        __asm__ volatile("hlt");
    }
}

/* The rings' layout from the config words */
static void post_setup(void)
{
    if (!(cfg_word(HYPERTRACE_CFG_FEATURES) & HYPERTRACE_FEATURE_POST)) {
        puts_("bm: no rings\n");
        finish(1);
    }
    ring_offset = cfg_word(HYPERTRACE_CFG_RING_OFFSET);
    ring_stride = cfg_word(HYPERTRACE_CFG_RING_STRIDE);
    ring_records = cfg_word(HYPERTRACE_CFG_RING_RECORDS);
    record_words = cfg_word(HYPERTRACE_CFG_RECORD_SIZE) / 8;
    puts_("bm: ring of ");
    putu(ring_records);
    puts_(" records\n");
}

/* @n events on each of clients @c and @c + 1 */
static void post_events(uint64_t c, uint64_t n)
{
    PostRing a, b;
    uint64_t i;

    post_arm(&a, c);
    post_arm(&b, c + 1);
    for (i = 0; i < n; i++) {
        post(&a, c << 40 | i << 8 | 6);
        post(&b, (c + 1) << 40 | i << 8 | 6);
    }
}

/*
 * Several devices and hot-unplug.  Both run with roi-events=pci_cfg_read,
 * so that the trace shows, at each configuration read the guest makes,
 * whether region control has that trace event on.
 */
#define BAR2_CFG_ADDR   0xc4000000u
#define BAR2_DATA_ADDR  0xc5000000u
#define BAR2_CTRL_ADDR  0xc6000000u

/* @n configuration reads of the host bridge: @n pci_cfg_read lines, if on */
static void cfg_reads(int n)
{
    while (n--) {
        (void)pci_read(0, 0);
    }
}

/*
 * Two devices, A (the first) and B, each with regions: A begins, B
 * begins, A ends, B ends, with five configuration reads after each.
 * pci_cfg_read must stay on while B's region is open after A's end.  The
 * event's arg2 tells the steps apart (0xa1: A begins, 0xb1, 0xa0, 0xb0),
 * and a last event on A (arg1 = 2, arg2 = 0xee) closes the sequence.
 */
static void two_devices(int dev_b)
{
    volatile uint8_t *data_b = (volatile uint8_t *)BAR2_DATA_ADDR;
    volatile uint8_t *ctrl_b = (volatile uint8_t *)BAR2_CTRL_ADDR;
    static const struct {
        int on_b;
        uint64_t arg1, arg2;
    } steps[] = {
        { 0, 1, 0xa1 }, { 1, 1, 0xb1 }, { 0, 0, 0xa0 }, { 1, 0, 0xb0 },
        { 0, 2, 0xee },
    };
    unsigned i;

    set_bar(dev_b, HYPERTRACE_PCI_CFG_BAR, BAR2_CFG_ADDR, 0);
    set_bar(dev_b, HYPERTRACE_PCI_DATA_BAR, BAR2_DATA_ADDR, 1);
    set_bar(dev_b, HYPERTRACE_PCI_CTRL_BAR, BAR2_CTRL_ADDR, 1);
    pci_write(dev_b, 0x04, pci_read(dev_b, 0x04) | 0x2);
    check(*(volatile uint32_t *)BAR2_CFG_ADDR == (uint32_t)HYPERTRACE_MAGIC,
          "the second device's config BAR");
    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        volatile uint8_t *d = steps[i].on_b ? data_b : data;
        volatile uint32_t *slot = (volatile uint32_t *)d;

        slot[0] = (uint32_t)steps[i].arg2;
        slot[1] = 0;
        fire_on(d, steps[i].on_b ? ctrl_b : ctrl, 0, steps[i].arg1);
        cfg_reads(5);
    }
    puts_("bm: two devices done\n");
}

/*
 * Hot-unplug while the other vCPU emits region events on client 1:
 * after @rounds begin/end pairs, the BSP ejects the device through the
 * PIIX4 ACPI hotplug controller's eject register (-M pc), lets the AP
 * stop, and checks that the slot is empty.  Region control must have
 * switched pci_cfg_read off: the reads that follow must not be traced.
 */
#define PIIX4_PCIHP_EJECT 0xae08
static volatile int ap_unplug, ap_stop;
static volatile uint64_t ap_rounds;

static volatile uint32_t *ap_testdev;     /* "unplug-testdev": its BAR 0 */

static void ap_region_loop(void)
{
    while (!ap_stop) {
        if (ap_testdev) {
            ap_testdev[0x100 / 4] = (uint32_t)ap_rounds;
        } else {
            set_args(1, ap_rounds);
            fire(1, 1);
            fire(1, 0);
        }
        ap_rounds++;
    }
}

static int start_ap(void);

static void unplug(int dev, uint64_t rounds)
{
    if (!start_ap()) {
        puts_("bm: the second CPU did not start\n");
        finish(1);
    }
    ap_unplug = 1;
    ap_go = 1;
    while (ap_rounds < rounds) {
        __asm__ volatile("pause");
    }
    outl(PIIX4_PCIHP_EJECT, 1u << dev);
    ap_stop = 1;
    while (!ap_done) {
        __asm__ volatile("pause");
    }
    check(pci_read(dev, 0) == 0xffffffffu, "the slot is empty after eject");
    cfg_reads(5);
    puts_("bm: unplugged after ");
    putu(ap_rounds);
    puts_(" rounds\n");
}

/*
 * roi-pause: the event store that opens a region, then a store to
 * pause_a with no branch in between, then one to pause_b after a branch.
 * Under KVM the VM stops right after the event store (neither store has
 * run when QEMU reports the boundary); under TCG at the end of the
 * translation block, so pause_a is already written and pause_b not.
 */
static volatile uint32_t pause_a, pause_b;

static void roi_pause(void)
{
    puts_("bm: pause_a=");
    putx((uintptr_t)&pause_a);
    puts_(" pause_b=");
    putx((uintptr_t)&pause_b);
    puts_("\n");
    set_args(0, 0x70);
#ifndef __x86_64__
    *(volatile uint32_t *)(data + HYPERTRACE_SLOT_ARG1_HIGH) = 0;
#endif
    /* "mov" stores the width of the register: 8 bytes, or 4 on i386 */
    __asm__ volatile("mov %2, (%0)\n\t"
                     "movl $1, (%1)\n\t"
                     "jmp 1f\n"
                     "1:\tmovl $1, (%3)"
                     : : "r"(ctrl), "r"(&pause_a), "r"((uintptr_t)1),
                       "r"(&pause_b) : "memory");
    fire(0, 0);                                 /* closes the region */
    puts_("bm: pause steps done\n");
}

/*
 * Reset and migration (the spec's "Reset and migration"): data slots are
 * guest RAM that migrates, and a reset sets them to 0.  The guest fills
 * every client's slot, then opens a region with roi-pause on: the driver
 * resets or migrates the VM there.  After a migration the guest reads
 * the slots back and fires an event with them; after a reset it boots
 * again and finds them 0.  A word in RAM outside the image (which the
 * loader does not reload) tells the boots apart.
 */
#define BOOT_COUNT      ((volatile uint32_t *)0x300000)
#define SLOT_WORD(c, i) ((volatile uint32_t *)(data + (c) * data_stride) + (i))

/* Word @i of client @c's slot as the guest fills it (client 0's ARG1_HIGH
 * stays 0: the boundary is a 4-byte store of 1 on client 0) */
static uint32_t pattern(uint64_t c, uint64_t i)
{
    if (c == 0 && i == HYPERTRACE_SLOT_ARG1_HIGH / 4) {
        return 0;
    }
    return 0xd0000000u | (uint32_t)(c << 8 | i);
}

static void state(int reset)
{
    uint64_t c, i, words = HYPERTRACE_SLOT_SIZE / 4;

    if (reset && *BOOT_COUNT == 0x5e7b0071) {
        *BOOT_COUNT = 0;
        for (c = 0; c < max_clients; c++) {
            for (i = 0; i < words; i++) {
                check(*SLOT_WORD(c, i) == 0, "a data word is 0 after reset");
            }
        }
        puts_("bm: data slots are 0 after the reset\n");
        return;
    }
    for (c = 0; c < max_clients; c++) {
        for (i = 0; i < words; i++) {
            *SLOT_WORD(c, i) = pattern(c, i);
        }
    }
    *BOOT_COUNT = reset ? 0x5e7b0071 : 0;
    puts_("bm: data slots written\n");
    /* The boundary: the driver resets or migrates here */
    *(volatile uint32_t *)ctrl = 1;
    if (reset) {
        puts_("bm: FAIL the guest ran on after the reset\n");
        failures++;
        return;
    }
    for (c = 0; c < max_clients; c++) {
        for (i = 0; i < words; i++) {
            check(*SLOT_WORD(c, i) == pattern(c, i),
                  "a data word survives the migration");
        }
    }
    /* client 2's slot as written: arg2 = 0xd0000201d0000200, ... */
    *(volatile uint32_t *)(data + 2 * data_stride +
                           HYPERTRACE_SLOT_ARG1_HIGH) = 0;
    *(volatile uint32_t *)(ctrl + 2 * ctrl_stride) = 0x2222;
    puts_("bm: data slots kept across the migration\n");
}

void ap_main(void);
void bm_main(uint32_t magic, uint32_t mbi);

/* The second CPU: client 1's events, at the same time as the BSP's */
void ap_main(void)
{
    ap_ready = 1;
    while (!ap_go) {
        __asm__ volatile("pause");
    }
    if (ap_unplug) {
        ap_region_loop();
    } else if (ap_post) {
        post_events(2, POSTS);
    } else {
        fire_events(1, EVENTS);
    }
    ap_done = 1;
    for (;;) {
        __asm__ volatile("hlt");
    }
}

static void apic_icr(uint32_t apic_id, uint32_t low)
{
    volatile uint32_t *apic = (volatile uint32_t *)APIC;
    int spin;

    apic[0x310 / 4] = apic_id << 24;
    apic[0x300 / 4] = low;
    for (spin = 0; spin < 1000000 && (apic[0x300 / 4] & 0x1000); spin++) {
        __asm__ volatile("pause");      /* delivery pending */
    }
}

/* INIT-SIPI-SIPI to the CPU with APIC id 1; returns whether it started */
static int start_ap(void)
{
    volatile char *dst = (volatile char *)AP_TRAMP;
    const char *src;
    long spin;

    for (src = ap_tramp; src < ap_tramp_end; src++) {
        *dst++ = *src;
    }
    apic_icr(1, 0x4500);                        /* INIT */
    apic_icr(1, 0x4600 | (AP_TRAMP >> 12));     /* SIPI */
    apic_icr(1, 0x4600 | (AP_TRAMP >> 12));
    for (spin = 0; spin < 100000000 && !ap_ready; spin++) {
        __asm__ volatile("pause");
    }
    return ap_ready;
}

/*
 * make bench's rows for bare-metal guests (under KVM wherever it runs):
 * "BENCH op median_ns min_ns max_ns runs" lines on the debug console,
 * timed with the TSC, whose rate the PIT's channel 2 gives.  "loop" is a
 * guest-side loop of plain instructions: under hardware KVM it runs at
 * the host's speed, far faster than under TCG.  x86_64 only (the i386
 * guest has no 64-bit division without libgcc).
 */
#ifdef __x86_64__
#define BENCH_RUNS      5
#define TESTDEV_ADDR    0xc3000000u

static uint64_t tsc_per_10ms;
static volatile uint64_t sink;
static volatile uint32_t *testdev;

static void calibrate(void)
{
    uint64_t t0;

    outb(0x61, (inb(0x61) & ~0x02) | 0x01);     /* gate 2 on, speaker off */
    outb(0x43, 0xb0);                           /* ch 2, lo/hi, mode 0 */
    outb(0x42, 11932 & 0xff);                   /* 10 ms at 1.193182 MHz */
    outb(0x42, 11932 >> 8);
    t0 = rdtsc();
    while (!(inb(0x61) & 0x20)) {
        continue;
    }
    tsc_per_10ms = rdtsc() - t0;
}

static void op_loop(uint64_t i) { __asm__ volatile("" : : "r"(i)); }
static void op_store(uint64_t i) { sink = i; }
static void op_testdev(uint64_t i) { testdev[0x100 / 4] = (uint32_t)i; }
static void op_outb(uint64_t i) { outb(0xea, (uint8_t)i); }
static void op_event(uint64_t i) { fire(0, i + 2); }

/* tenths of a nanosecond per op */
static uint64_t tenths(uint64_t ticks, uint64_t iters)
{
    return ticks * 100000000 / tsc_per_10ms / iters;
}

static void put_tenths(uint64_t t)
{
    putu(t / 10);
    puts_(".");
    putu(t % 10);
}

static void bench(const char *name, void (*op)(uint64_t), uint64_t iters)
{
    uint64_t t[BENCH_RUNS], i, x;
    int r, j;

    for (i = 0; i < iters / 10; i++) {
        op(i);                                  /* warm up */
    }
    for (r = 0; r < BENCH_RUNS; r++) {
        uint64_t t0 = rdtsc();

        for (i = 0; i < iters; i++) {
            op(i);
        }
        t[r] = tenths(rdtsc() - t0, iters);
    }
    for (r = 1; r < BENCH_RUNS; r++) {          /* insertion sort */
        for (j = r; j > 0 && t[j - 1] > t[j]; j--) {
            x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    }
    puts_("BENCH ");
    puts_(name);
    puts_(" ");
    put_tenths(t[BENCH_RUNS / 2]);
    puts_(" ");
    put_tenths(t[0]);
    puts_(" ");
    put_tenths(t[BENCH_RUNS - 1]);
    puts_(" ");
    putu(BENCH_RUNS);
    puts_("\n");
}

static void bm_bench(uint64_t iters)
{
    int td = find_pci(0x1b36, 0x0005);

    calibrate();
    puts_("bm: tsc ");
    putu(tsc_per_10ms * 100);
    puts_(" Hz\n");
    if (td < 0) {
        puts_("bm: no pci-testdev\n");
        finish(1);
    }
    set_bar(td, 0, TESTDEV_ADDR, 0);
    pci_write(td, 0x04, pci_read(td, 0x04) | 0x2);
    testdev = (volatile uint32_t *)TESTDEV_ADDR;
    bench("loop", op_loop, iters * 10);
    bench("store", op_store, iters * 10);
    bench("pci-testdev-mmio-write", op_testdev, iters);
    bench("outb-debugcon", op_outb, iters);
    bench("event", op_event, iters);
}
#endif

/* Whether the multiboot command line (-append) holds @word */
static int cmdline_has(uint32_t magic, uint32_t mbi, const char *word)
{
    const char *p, *w;

    if (magic != 0x2badb002 || !(*(volatile uint32_t *)(uintptr_t)mbi & 4)) {
        return 0;
    }
    for (p = (const char *)(uintptr_t)((volatile uint32_t *)(uintptr_t)mbi)[4];
         *p; p++) {
        for (w = word; *w && p[w - word] == *w; w++) {
            continue;
        }
        if (!*w) {
            return 1;
        }
    }
    return 0;
}

void bm_main(uint32_t magic, uint32_t mbi)
{
    int dev = find_device();

    puts_("bm: start\n");
    if (dev < 0) {
        puts_("bm: no hypertrace device\n");
        finish(1);
    }
    set_bar(dev, HYPERTRACE_PCI_CFG_BAR, BAR_CFG_ADDR, 0);
    set_bar(dev, HYPERTRACE_PCI_DATA_BAR, BAR_DATA_ADDR, 1);
    set_bar(dev, HYPERTRACE_PCI_CTRL_BAR, BAR_CTRL_ADDR, 1);
    pci_write(dev, 0x04, pci_read(dev, 0x04) | 0x2);    /* memory space */
    cfg = (volatile uint64_t *)BAR_CFG_ADDR;
    data = (volatile uint8_t *)BAR_DATA_ADDR;
    ctrl = (volatile uint8_t *)BAR_CTRL_ADDR;

    check(cfg_word(HYPERTRACE_CFG_MAGIC) == HYPERTRACE_MAGIC, "magic");
    check(cfg_word(HYPERTRACE_CFG_VERSION) == HYPERTRACE_VERSION, "version");
    max_clients = cfg_word(HYPERTRACE_CFG_MAX_CLIENTS);
    num_args = cfg_word(HYPERTRACE_CFG_NUM_ARGS);
    data_stride = cfg_word(HYPERTRACE_CFG_DATA_STRIDE);
    ctrl_stride = cfg_word(HYPERTRACE_CFG_CTRL_STRIDE);
    puts_("bm: max_clients=");
    putu(max_clients);
    puts_(" num_args=");
    putu(num_args);
    puts_(" data_stride=");
    putx(data_stride);
    puts_("\n");
#ifdef __x86_64__
    if (!failures && cmdline_has(magic, mbi, "bench")) {
        bm_bench(cmdline_has(magic, mbi, "short") ? 200 : 2000);
        finish(failures);
    }
#endif
    if (cmdline_has(magic, mbi, "postrr")) {
        post_setup();
        post_one_cpu(20000);
        puts_("bm: posted 1 vCPU x 2 clients x 20000\n");
        finish(failures);
    }
    if (cmdline_has(magic, mbi, "postreset")) {
        post_setup();
        post_reset(5000);
        finish(failures);
    }
    if (cmdline_has(magic, mbi, "postmig")) {
        post_setup();
        post_migrate(10000);
        finish(failures);
    }
    if (cmdline_has(magic, mbi, "post")) {
        if (max_clients < 4) {
            puts_("bm: fewer than 4 clients\n");
            finish(1);
        }
        post_setup();
        if (!start_ap()) {
            puts_("bm: the second CPU did not start\n");
            finish(1);
        }
        mark(30);
        ap_post = 1;
        ap_go = 1;
        post_events(0, POSTS);
        while (!ap_done) {
            __asm__ volatile("pause");
        }
        mark(31);
        puts_("bm: posted 2 vCPUs x 2 clients x ");
        putu(POSTS);
        puts_("\n");
        finish(failures);
    }
    if (failures || max_clients != 3 || data_stride != HYPERTRACE_PCI_STRIDE ||
        ctrl_stride != HYPERTRACE_PCI_STRIDE) {
        finish(1);
    }

    if (cmdline_has(magic, mbi, "reset")) {
        state(1);
        finish(failures);
    }
    if (cmdline_has(magic, mbi, "migrate")) {
        state(0);
        finish(failures);
    }
    if (cmdline_has(magic, mbi, "twodev")) {
        int dev_b = find_pci_after(dev, HYPERTRACE_PCI_VENDOR_ID,
                                   HYPERTRACE_PCI_DEVICE_ID);

        if (dev_b < 0) {
            puts_("bm: no second hypertrace device\n");
            finish(1);
        }
        two_devices(dev_b);
        finish(failures);
    }
    if (cmdline_has(magic, mbi, "unplug-testdev")) {
        /* the same race with a device that takes the BQL: pci-testdev */
        int td = find_pci(0x1b36, 0x0005);

        if (td < 0) {
            puts_("bm: no pci-testdev\n");
            finish(1);
        }
        set_bar(td, 0, 0xc3000000u, 0);
        pci_write(td, 0x04, pci_read(td, 0x04) | 0x2);
        ap_testdev = (volatile uint32_t *)0xc3000000u;
        unplug(td, 2000);
        finish(failures);
    }
    if (cmdline_has(magic, mbi, "unplug")) {
        unplug(dev, 2000);
        finish(failures);
    }
    if (cmdline_has(magic, mbi, "pause")) {
        roi_pause();
        finish(failures);
    }
    if (cmdline_has(magic, mbi, "simd")) {
        hostile_simd();
        puts_("bm: simd steps done\n");
        finish(failures);
    }
    hostile();

    /* Two vCPUs at once, each on a client of its own */
    if (!start_ap()) {
        puts_("bm: the second CPU did not start\n");
        finish(1);
    }
    ap_go = 1;
    fire_events(0, EVENTS);
    while (!ap_done) {
        __asm__ volatile("pause");
    }
    puts_("bm: events 2 x ");
    putu(EVENTS);
    puts_("\n");
    finish(failures);
}
