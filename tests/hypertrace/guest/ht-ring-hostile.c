/*
 * Guest test program: a guest that writes what it likes into its ring's
 * control words and records, as the spec allows it to.  Each step ends
 * with an event on client 1 (which makes QEMU take client 1's records)
 * and a marker event on client 0: arg1 = 0xfe << 56 | step.
 *
 *   1  RING_HEAD a ring and 5 records past RING_TAIL: a guest error,
 *      nothing traced, RING_TAIL moves to RING_HEAD
 *   2  RING_HEAD one record before RING_TAIL (2^32 - 1 past it): the same
 *   3  RING_ARM not armed, 3 records published: nothing taken
 *   4  armed again: those 3 records (all bytes 0xff) are traced as they are
 *   5  a whole ring of records at once: RING_RECORDS posted events
 *   6  RING_TAIL overwritten by the guest, then 4 records: QEMU goes by its
 *      own count and takes the 4
 * The library arms client 1's ring with one post first, flushed (so 1 +
 * 3 + RING_RECORDS + 4 posted events in all), which also gives the ring's
 * address.
 *
 * Prints "ht-ring-hostile: R records per ring" and the steps.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "qemu-hypertrace.h"
#include "ht-util.h"

/* As in include/hypertrace/abi.h (docs/specs/hypertrace.rst) */
#define RING_HEAD   0x80
#define RING_ARM    0x84
#define RING_TAIL   0xc0
#define ARMED       0x74736f70u

static volatile uint32_t *word(uint64_t client, unsigned offset)
{
    return (volatile uint32_t *)((char *)qemu_hypertrace_data(client) +
                                 offset);
}

static void step(int n)
{
    qemu_hypertrace(1, 0xaa00 + n);    /* QEMU takes client 1's records */
    qemu_hypertrace(0, 0xfeull << 56 | n);
}

int main(void)
{
    volatile uint32_t *head, *tail, *arm;
    uint64_t records;
    uint32_t i;

    ht_init_or_exit("ht-ring-hostile", NULL, 2, 1);
    head = word(1, RING_HEAD);
    tail = word(1, RING_TAIL);
    arm = word(1, RING_ARM);
    records = qemu_hypertrace_ring_records();
    if (!records) {
        fprintf(stderr, "ht-ring-hostile: this QEMU offers no rings\n");
        return 1;
    }
    printf("ht-ring-hostile: %llu records per ring\n",
           (unsigned long long)records);
    qemu_hypertrace_post(1, 0x11);
    qemu_hypertrace_flush(1);
    memset(qemu_hypertrace_fast_.rings[1].start, 0xff,
           (char *)qemu_hypertrace_fast_.rings[1].end -
           (char *)qemu_hypertrace_fast_.rings[1].start);
    *head = *tail + records + 5;
    step(1);
    *head = *tail - 1;
    step(2);
    *arm = 0x12345678;
    *head = *tail + 3;
    step(3);
    *arm = ARMED;
    step(4);
    *head = *tail + records;
    step(5);
    *tail = 0x12345678;     /* QEMU's own count decides, not this word */
    *head = *head + 4;
    step(6);
    for (i = 1; i <= 6; i++) {
        printf("ht-ring-hostile: step %u done\n", i);
    }
    return 0;
}
