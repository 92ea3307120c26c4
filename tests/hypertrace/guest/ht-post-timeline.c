/*
 * Guest test program: posted regions beside synchronous events, for the
 * timeline.  N times on client 0: post a region's begin (arg1 = 1, arg2 =
 * 0x2000 + i % 4, the region's name), spin GAP_US/2, post its end (arg1 =
 * 0, same arg2), fire a synchronous event at once (arg1 = 0x7f << 32 | i),
 * spin GAP_US/2.  A posted end and the event after it are a few guest
 * instructions apart: placed by its timestamp, the end lands on the
 * event's host time.
 *
 *   ht-post-timeline [-b BASE] N GAP_US
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "qemu-hypertrace.h"
#include "ht-util.h"

static double now_us(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void spin_us(double us)
{
    double end = now_us() + us;

    while (now_us() < end) {
        continue;
    }
}

int main(int argc, char **argv)
{
    const char *base = NULL;
    unsigned long n, i;
    double gap;
    uint64_t *slot;
    int opt;

    while ((opt = getopt(argc, argv, "b:")) != -1) {
        if (opt != 'b') {
            return 2;
        }
        base = optarg;
    }
    if (argc - optind != 2) {
        fprintf(stderr, "usage: ht-post-timeline [-b BASE] N GAP_US\n");
        return 2;
    }
    n = strtoul(argv[optind], NULL, 0);
    gap = atof(argv[optind + 1]);
    ht_init_or_exit("ht-post-timeline", base, 1, 2);
    slot = qemu_hypertrace_data(0);
    for (i = 0; i < n; i++) {
        slot[0] = 0x2000 + i % 4;
        qemu_hypertrace_post(0, 1);
        spin_us(gap / 2);
        qemu_hypertrace_post(0, 0);
        qemu_hypertrace(0, 0x7full << 32 | i);
        spin_us(gap / 2);
    }
    printf("ht-post-timeline: %lu posted regions, ring %llu records\n", n,
           (unsigned long long)qemu_hypertrace_ring_records());
    return 0;
}
