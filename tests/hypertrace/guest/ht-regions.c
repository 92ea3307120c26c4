/*
 * Guest test program: N regions on client 0, back to back, region i with
 * id 0x40 + i % 4 (the begin event's arg2) and K loads and K stores of a
 * counter inside; an event that is no boundary (arg1 = 5) after each.
 *
 *   ht-regions N K
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "qemu-hypertrace.h"
#include "ht-util.h"

static volatile uint64_t counter;

int main(int argc, char **argv)
{
    unsigned long n, k, i, j;
    uint64_t *slot;

    if (argc != 3) {
        fprintf(stderr, "usage: ht-regions N K\n");
        return 2;
    }
    n = strtoul(argv[1], NULL, 0);
    k = strtoul(argv[2], NULL, 0);
    ht_init_or_exit("ht-regions", NULL, 1, 1);
    slot = qemu_hypertrace_data(0);
    for (i = 0; i < n; i++) {
        slot[0] = 0x40 + i % 4;
        qemu_hypertrace(0, 1);
        for (j = 0; j < k; j++) {
            counter++;
        }
        qemu_hypertrace(0, 0);
        qemu_hypertrace(0, 5);
    }
    printf("ht-regions: %lu regions of %lu steps\n", n, k);
    return 0;
}
