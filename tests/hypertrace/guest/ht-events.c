/*
 * Guest test program: T threads, each its own hypertrace client, each
 * emitting M events whose arguments encode (thread, sequence number) so
 * that the host can account for every event exactly once.  Every argument
 * has bits set in both 32-bit halves, so that 32-bit guests show that they
 * pass whole 64-bit values.
 *
 * Usage: ht-events [-b BASE] [-c] [-s] [-u UID] THREADS EVENTS
 *   arg1        = (0x5a000000 + thread) << 32 | (thread * 1000000 + i)
 *   data word k = (thread + 1) << 56 | k << 48 | i   (k = 0 .. N-2)
 * With -c, thread t is pinned to CPU t modulo the number of online CPUs
 * (system mode: events carry the vCPU index, which the host checks).  With -u, the program drops root
 * privileges to UID before init (non-root tests).  With -s (user mode),
 * the events are emitted under stress: SIGALRM every 100 us with a
 * handler, and a thread that maps and unmaps control pages meanwhile.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#include "qemu-hypertrace.h"
#include "ht-util.h"

static unsigned long events;
static int pin;

static const char *base;
static volatile int workers_done;
static volatile unsigned long alarms;

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

/* -s: map and unmap control pages until the workers are done */
static void *mapper(void *opaque)
{
    char path[4096];
    const char *b = base ? base : getenv(QEMU_HYPERTRACE_ENV);
    long page = sysconf(_SC_PAGESIZE);
    unsigned long n = 0;
    int fd;

    (void)opaque;
    snprintf(path, sizeof(path), "%s-control", b ? b : "");
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        perror("ht-events: mapper: open");
        exit(1);
    }
    while (!workers_done) {
        void *p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

        if (p == MAP_FAILED || munmap(p, page) != 0) {
            perror("ht-events: mapper");
            exit(1);
        }
        n++;
    }
    close(fd);
    printf("ht-events: mapper: %lu mappings\n", n);
    return NULL;
}

static void *worker(void *opaque)
{
    uint64_t t = (uintptr_t)opaque;
    uint64_t nwords = qemu_hypertrace_num_args() - 1;
    uint64_t *data = qemu_hypertrace_data(t);
    unsigned long i;
    uint64_t k;

    if (pin) {
        cpu_set_t set;

        CPU_ZERO(&set);
        CPU_SET(t % sysconf(_SC_NPROCESSORS_ONLN), &set);
        if (sched_setaffinity(0, sizeof(set), &set) != 0) {
            perror("sched_setaffinity");
            exit(1);
        }
    }
    /* init is idempotent and thread-safe: every thread may call it */
    if (qemu_hypertrace_init(base) != 0) {
        fprintf(stderr, "client %lu: init again: %s\n", (unsigned long)t,
                qemu_hypertrace_strerror(errno));
        exit(1);
    }
    if (!data) {
        fprintf(stderr, "client %lu: %s\n", (unsigned long)t,
                qemu_hypertrace_strerror(errno));
        exit(1);
    }
    for (i = 0; i < events; i++) {
        for (k = 0; k < nwords; k++) {
            data[k] = (t + 1) << 56 | k << 48 | i;
        }
        qemu_hypertrace(t, (0x5a000000 + t) << 32 | (t * 1000000 + i));
    }
    return NULL;
}

int main(int argc, char **argv)
{
    unsigned long threads, t;
    pthread_t *tids, map_tid;
    int opt, stress = 0;

    while ((opt = getopt(argc, argv, "b:csu:")) != -1) {
        switch (opt) {
        case 'u':
            if (setgid(atoi(optarg)) != 0 || setuid(atoi(optarg)) != 0) {
                perror("ht-events: setuid");
                return 1;
            }
            break;
        case 'b':
            base = optarg;
            break;
        case 'c':
            pin = 1;
            break;
        case 's':
            stress = 1;
            break;
        default:
            return 2;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "usage: ht-events [-b BASE] [-c] [-u UID] THREADS EVENTS\n");
        return 2;
    }
    threads = strtoul(argv[optind], NULL, 0);
    events = strtoul(argv[optind + 1], NULL, 0);
    ht_init_or_exit("ht-events", base, threads, 1);
    if (stress) {
        struct sigaction sa = { .sa_handler = on_alarm };
        struct itimerval it = { { 0, 100 }, { 0, 100 } };

        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        sigaction(SIGALRM, &sa, NULL);
        setitimer(ITIMER_REAL, &it, NULL);
        pthread_create(&map_tid, NULL, mapper, NULL);
    }
    tids = calloc(threads, sizeof(*tids));
    for (t = 0; t < threads; t++) {
        pthread_create(&tids[t], NULL, worker, (void *)(uintptr_t)t);
    }
    for (t = 0; t < threads; t++) {
        pthread_join(tids[t], NULL);
    }
    if (stress) {
        struct itimerval off = { { 0, 0 }, { 0, 0 } };

        setitimer(ITIMER_REAL, &off, NULL);
        workers_done = 1;
        pthread_join(map_tid, NULL);
        printf("ht-events: %lu SIGALRM handled\n", alarms);
    }
    printf("ht-events: %lu threads x %lu events done (%lu args)\n",
           threads, events, (unsigned long)qemu_hypertrace_num_args());
    return 0;
}
