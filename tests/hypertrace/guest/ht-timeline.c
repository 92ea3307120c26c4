/*
 * Guest test program for region timelines: thread t (client t) runs
 * COUNT_t regions of about MS_t milliseconds of busy work each, named by
 * arg2 = t + 1, with a progress event (arg1 = 42, arg2 = region number)
 * in the middle of each region and a pause of 1 ms between regions.
 * At the end it prints how long each region took by its own clock
 * (CLOCK_MONOTONIC, read just before the begin event and just after the
 * end event): "ht-timeline: client C region I NS ns".
 *
 * Usage: ht-timeline [-b BASE] COUNT0:MS0 [COUNT1:MS1 ...]
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "qemu-hypertrace.h"
#include "ht-util.h"

static const char *base;

struct job {
    pthread_t tid;
    uint64_t client;
    long count;
    long ms;
    uint64_t *took;
};

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void spin(long us)
{
    uint64_t until = now_ns() + us * 1000ull;

    while (now_ns() < until) {
        /* busy: the region is guest work */
    }
}

static void emit(uint64_t client, uint64_t arg1, uint64_t arg2)
{
    uint64_t *data = qemu_hypertrace_data(client);

    if (!data) {
        fprintf(stderr, "ht-timeline: client %lu: %s\n",
                (unsigned long)client, qemu_hypertrace_strerror(errno));
        exit(1);
    }
    if (qemu_hypertrace_num_args() > 1) {
        data[0] = arg2;
    }
    qemu_hypertrace(client, arg1);
}

static void *run(void *opaque)
{
    struct job *j = opaque;
    long i;

    for (i = 0; i < j->count; i++) {
        uint64_t t0 = now_ns();

        emit(j->client, 1, j->client + 1);
        spin(j->ms * 500);
        emit(j->client, 42, i);
        spin(j->ms * 500);
        emit(j->client, 0, j->client + 1);
        j->took[i] = now_ns() - t0;
        spin(1000);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    struct job jobs[16];
    int n = 0, i;

    if (argc > 2 && argv[1][0] == '-' && argv[1][1] == 'b') {
        base = argv[2];
        argc -= 2;
        argv += 2;
    }
    if (argc < 2 || argc - 1 > 16) {
        fprintf(stderr, "usage: ht-timeline [-b BASE] COUNT:MS...\n");
        return 2;
    }
    ht_init_or_exit("ht-timeline", base, 1, 1);
    for (i = 1; i < argc; i++, n++) {
        if (sscanf(argv[i], "%ld:%ld", &jobs[n].count, &jobs[n].ms) != 2) {
            fprintf(stderr, "ht-timeline: %s is not COUNT:MS\n", argv[i]);
            return 2;
        }
        jobs[n].client = n;
        jobs[n].took = calloc(jobs[n].count + 1, sizeof(uint64_t));
    }
    if ((uint64_t)n > qemu_hypertrace_max_clients()) {
        fprintf(stderr, "ht-timeline: %d threads but %lu clients\n", n,
                (unsigned long)qemu_hypertrace_max_clients());
        return 1;
    }
    for (i = 0; i < n; i++) {
        pthread_create(&jobs[i].tid, NULL, run, &jobs[i]);
    }
    for (i = 0; i < n; i++) {
        long k;

        pthread_join(jobs[i].tid, NULL);
        for (k = 0; k < jobs[i].count; k++) {
            printf("ht-timeline: client %d region %ld %lu ns\n", i, k,
                   (unsigned long)jobs[i].took[k]);
        }
    }
    printf("ht-timeline: %d threads done\n", n);
    return 0;
}
