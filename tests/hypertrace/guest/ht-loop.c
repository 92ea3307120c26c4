/*
 * Guest test program for region profiling: loops whose every iteration
 * makes exactly one load and one store (a volatile counter incremented in
 * place), run inside and outside hypertrace regions.
 *
 * Usage: ht-loop [-b BASE] [-c] [-s] [-t THREADS] INSIDE OUTSIDE
 *   Thread t (client t) runs OUTSIDE iterations, a region with id 7 + t
 *   (arg1 = 1 begins, 0 ends, arg2 = id) of INSIDE * (t + 1) iterations,
 *   then OUTSIDE iterations again; with -s every thread's region has
 *   id 7 (one id on several vCPUs at once).  After the threads, the main thread
 *   runs a region with id 100 of 1000 iterations on a counter whose
 *   address it prints ("ht-loop: logged 0x...").  INSIDE = 0: no region
 *   at all, only OUTSIDE iterations (a program without regions).
 *   -c (system mode): thread t runs on CPU t modulo the online CPUs and
 *   the main thread on CPU 0, so that no region moves between vCPUs.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "qemu-hypertrace.h"
#include "ht-util.h"

static const char *base;
static int pin;
static int same_id;
static long inside, outside;
static volatile uint64_t cells[64][8];  /* a cache line per thread */
static volatile uint64_t logged;

static void __attribute__((noinline)) loop(volatile uint64_t *cell, long n)
{
    long i;

    for (i = 0; i < n; i++) {
        *cell = *cell + 1;
    }
}

static void region(uint64_t client, uint64_t id, volatile uint64_t *cell,
                   long n)
{
    uint64_t *data = qemu_hypertrace_data(client);

    if (!data) {
        fprintf(stderr, "ht-loop: client %" PRIu64 ": %s\n", client,
                qemu_hypertrace_strerror(errno));
        exit(1);
    }
    if (qemu_hypertrace_num_args() > 1) {
        data[0] = id;
    }
    qemu_hypertrace(client, 1);
    loop(cell, n);
    qemu_hypertrace(client, 0);
}

static void pin_to(long cpu)
{
    cpu_set_t set;

    if (!pin) {
        return;
    }
    CPU_ZERO(&set);
    CPU_SET(cpu % sysconf(_SC_NPROCESSORS_ONLN), &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
        perror("ht-loop: sched_setaffinity");
        exit(1);
    }
}

static void *worker(void *opaque)
{
    uint64_t t = (uintptr_t)opaque;

    pin_to(t);
    loop(cells[t], outside);
    region(t, same_id ? 7 : 7 + t, cells[t], inside * (t + 1));
    loop(cells[t], outside);
    return NULL;
}

int main(int argc, char **argv)
{
    unsigned long threads = 1, t;
    pthread_t tids[64];
    int opt;

    while ((opt = getopt(argc, argv, "b:cst:")) != -1) {
        switch (opt) {
        case 'c':
            pin = 1;
            break;
        case 's':
            same_id = 1;
            break;
        case 'b':
            base = optarg;
            break;
        case 't':
            threads = strtoul(optarg, NULL, 0);
            break;
        default:
            return 2;
        }
    }
    if (argc - optind != 2 || threads < 1 || threads > 64) {
        fprintf(stderr, "usage: ht-loop [-b BASE] [-c] [-s] [-t THREADS] INSIDE"
                " OUTSIDE\n");
        return 2;
    }
    inside = strtol(argv[optind], NULL, 0);
    outside = strtol(argv[optind + 1], NULL, 0);
    if (inside == 0) {
        loop(cells[0], outside);
        printf("ht-loop: %ld iterations, no region\n", outside);
        return 0;
    }
    ht_init_or_exit("ht-loop", base, threads, 1);
    for (t = 0; t < threads; t++) {
        pthread_create(&tids[t], NULL, worker, (void *)(uintptr_t)t);
    }
    for (t = 0; t < threads; t++) {
        pthread_join(tids[t], NULL);
    }
    pin_to(0);
    region(0, 100, &logged, 1000);
    printf("ht-loop: logged %p\n", (void *)&logged);
    return 0;
}
