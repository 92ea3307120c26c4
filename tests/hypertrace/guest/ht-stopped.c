/*
 *   ht-stopped [GO]
 *
 * Guest test program for --host-trace: once file GO exists (the test's
 * perf record is attached then), region 10 on client 0 spins until
 * it sees its clock jump by 40 ms or more (the host stopped QEMU: the
 * test sends SIGSTOP, then SIGCONT 50 ms later, once this prints "in
 * region 10"), or for 10 s; region 11 beside it spins 100 ms.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "qemu-hypertrace.h"
#include "ht-util.h"

static int64_t now_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000ll + t.tv_nsec;
}

int main(int argc, char **argv)
{
    uint64_t *slot;
    int64_t start, prev, t, gap = 0;

    ht_init_or_exit("ht-stopped", NULL, 1, 1);
    while (argc > 1 && access(argv[1], F_OK) != 0) {
        usleep(10000);
    }
    slot = qemu_hypertrace_data(0);
    slot[0] = 10;
    qemu_hypertrace(0, 1);
    printf("ht-stopped: in region 10\n");
    fflush(stdout);
    start = prev = now_ns();
    while ((t = now_ns()) - start < 10000000000ll) {
        if (t - prev > gap) {
            gap = t - prev;
        }
        prev = t;
        if (gap >= 40000000) {
            break;
        }
    }
    qemu_hypertrace(0, 0);
    slot[0] = 11;
    qemu_hypertrace(0, 1);
    start = now_ns();
    while (now_ns() - start < 100000000) {
        continue;
    }
    qemu_hypertrace(0, 0);
    printf("ht-stopped: the longest gap in region 10 was %lld ms\n",
           (long long)(gap / 1000000));
    return 0;
}
