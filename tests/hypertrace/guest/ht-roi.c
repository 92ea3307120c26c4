/*
 * Guest test program: regions of interest on two clients.
 *
 * Phases, each followed by the same work (WORK getppid() calls and a
 * short computation), separated by events whose arg1 is 100 + phase on
 * the client that follows (markers; they open or close nothing):
 *
 *   100  before any region                        (outside)
 *   101  client 0 begins                          (inside)
 *   102  client 1 begins, then client 0 ends      (inside: client 1 only)
 *   103  client 1 nests a region and closes it    (inside)
 *   104  client 1 ends its region                 (outside)
 *   105  an end on client 0, which has none open  (outside)
 *
 * Usage: ht-roi [-s] [-v] [BASE]   (-s: also the work of a system guest,
 * where a getppid() does not leave the vCPU loop: it writes to /dev/null;
 * -v: print "ht-roi: phase N" after each marker)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qemu-hypertrace.h"
#include "ht-util.h"

#define WORK 300

static volatile unsigned long sink;
static int verbose;

static void work(int fd)
{
    int i, j;

    for (i = 0; i < WORK; i++) {
        sink += getppid();
        if (fd >= 0 && write(fd, "x", 1) != 1) {
            perror("ht-roi: write");
            exit(1);
        }
        for (j = 0; j < 100; j++) {
            sink += j * i;
        }
    }
}

static void mark(uint64_t client, int phase)
{
    qemu_hypertrace(client, 100 + phase);
    if (verbose) {
        printf("ht-roi: phase %d\n", phase);
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    int fd = -1;

    for (; argc > 1 && argv[1][0] == '-'; argc--, argv++) {
        if (!strcmp(argv[1], "-s")) {
            fd = open("/dev/null", O_WRONLY);
        } else if (!strcmp(argv[1], "-v")) {
            verbose = 1;
        } else {
            fprintf(stderr, "ht-roi: unknown option %s\n", argv[1]);
            return 1;
        }
    }
    ht_init_or_exit("ht-roi", argc > 1 ? argv[1] : NULL, 2, 1);

    mark(0, 0);
    work(fd);

    qemu_hypertrace(0, 1);
    mark(0, 1);
    work(fd);

    qemu_hypertrace(1, 1);
    qemu_hypertrace(0, 0);
    mark(1, 2);
    work(fd);

    qemu_hypertrace(1, 1);
    mark(1, 3);
    work(fd);
    qemu_hypertrace(1, 0);
    work(fd);

    qemu_hypertrace(1, 0);
    mark(1, 4);
    work(fd);

    qemu_hypertrace(0, 0);
    mark(0, 5);
    work(fd);

    qemu_hypertrace_fini();
    printf("ht-roi: done\n");
    return 0;
}
