/*
 * Guest test program for posted events: T threads, each on a client of
 * its own, each posting N events whose arguments encode (thread, number),
 * so that the host can account for every one exactly once and in order.
 *
 * Usage: ht-post [-b BASE] [-c] [-s K] [-x | -X PROGRAM] [-f] THREADS POSTS
 *   posted arg1  = (0x5b000000 + thread) << 32 | i
 *   posted argk  = (thread + 1) << 56 | k << 48 | i     (k = 0 .. N-2)
 *   -s K         after every K posts, a synchronous event on the same
 *                client: arg1 = (0x5c000000 + thread) << 32 | i, i the
 *                number of posts before it (QEMU must trace those first)
 *   -f           flush at the end (otherwise QEMU takes the last records
 *                on its own)
 *   -x           leave with _exit() right after posting, no flush, no
 *                exit handlers
 *   -F           then fork: the child posts POSTS events on client
 *                THREADS (as thread THREADS would) and leaves with
 *                _exit(), no flush; the parent waits for it
 *   -X PROGRAM   execve() PROGRAM right after posting, no flush
 *   -c           pin thread t to CPU t (system mode: the vCPU)
 * Prints "ht-post: T threads x N posts, ring R records".
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qemu-hypertrace.h"
#include "ht-util.h"

static unsigned long posts, sync_every;
static int pin, flush_at_end;
static const char *base;

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
            perror("ht-post: sched_setaffinity");
            exit(1);
        }
    }
    for (i = 0; i < posts; i++) {
        if (sync_every && i && i % sync_every == 0) {
            /* with the slot as the last post left it */
            qemu_hypertrace(t, (0x5c000000 + t) << 32 | i);
        }
        for (k = 0; k < nwords; k++) {
            data[k] = (t + 1) << 56 | k << 48 | i;
        }
        if (qemu_hypertrace_post(t, (0x5b000000 + t) << 32 | i) != 0) {
            perror("ht-post: qemu_hypertrace_post");
            exit(1);
        }
    }
    if (flush_at_end) {
        qemu_hypertrace_flush(t);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *exec_prog = NULL;
    unsigned long threads, t;
    pthread_t *tids;
    int opt, quick_exit = 0, do_fork = 0;

    while ((opt = getopt(argc, argv, "b:cfFs:xX:")) != -1) {
        switch (opt) {
        case 'b':
            base = optarg;
            break;
        case 'c':
            pin = 1;
            break;
        case 'f':
            flush_at_end = 1;
            break;
        case 's':
            sync_every = strtoul(optarg, NULL, 0);
            break;
        case 'x':
            quick_exit = 1;
            break;
        case 'F':
            do_fork = 1;
            break;
        case 'X':
            exec_prog = optarg;
            break;
        default:
            return 2;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "usage: ht-post [-b BASE] [-c] [-f] [-s K]"
                " [-x | -X PROGRAM] THREADS POSTS\n");
        return 2;
    }
    threads = strtoul(argv[optind], NULL, 0);
    posts = strtoul(argv[optind + 1], NULL, 0);
    ht_init_or_exit("ht-post", base, threads + do_fork, 1);
    if (!qemu_hypertrace_ring_records()) {
        fprintf(stderr, "ht-post: this QEMU offers no rings\n");
        return 1;
    }
    tids = calloc(threads, sizeof(*tids));
    for (t = 0; t < threads; t++) {
        pthread_create(&tids[t], NULL, worker, (void *)(uintptr_t)t);
    }
    for (t = 0; t < threads; t++) {
        pthread_join(tids[t], NULL);
    }
    printf("ht-post: %lu threads x %lu posts, ring %lu records\n", threads,
           posts, (unsigned long)qemu_hypertrace_ring_records());
    fflush(stdout);
    if (do_fork) {
        pid_t pid = fork();
        int status;

        if (pid == 0) {
            worker((void *)(uintptr_t)threads);
            _exit(0);
        }
        if (pid < 0 || waitpid(pid, &status, 0) != pid ||
            !WIFEXITED(status) || WEXITSTATUS(status)) {
            fprintf(stderr, "ht-post: the forked child failed\n");
            return 1;
        }
        printf("ht-post: a forked child posted %lu\n", posts);
    }
    if (quick_exit) {
        _exit(0);
    }
    if (exec_prog) {
        execl(exec_prog, exec_prog, (char *)NULL);
        perror("ht-post: execl");
        return 1;
    }
    return 0;
}
