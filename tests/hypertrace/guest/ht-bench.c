/*
 * Benchmark guest program for make bench: the cost of one hypertrace
 * event next to other ways out of guest code, all measured in the same
 * run.  Prints "BENCH name median_ns min_ns max_ns runs" lines.
 *
 *   ht-bench system [ITERS]   inside a Linux guest (x86): store, pci-testdev
 *                             MMIO, outb 0xe9, getppid, hypertrace
 *   ht-bench user BASE [ITERS]  under qemu-<arch> -hypertrace BASE: store,
 *                             getppid, write, hypertrace, first event at a
 *                             new call site
 * Each operation runs inline in its timing loop: "event" and "post" are
 * the header's inline fast paths, "event-call" and "post-call" the
 * library's functions (what another language calls), "clock" the
 * timestamp a post takes.
 *   ht-bench threads T[,T...] ITERS [BASE]  T threads on T clients
 *                             (pinned to CPU t in system mode): aggregate
 *                             events/s; the runs of several counts
 *                             alternate
 *   ht-bench threads-store T[,T...] ITERS [BASE]  the same with plain
 *                             stores: how far the machine scales without
 *                             events
 *   ht-bench threads-post T[,T...] ITERS [BASE]  the same with posted
 *                             events, a flush at the end of each thread's
 *                             run: posted events taken per second
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <sys/io.h>
#endif

#include "qemu-hypertrace.h"
#include "ht-util.h"

#define RUNS 7

static volatile uint64_t sink;
static volatile uint8_t *testdev;
static int devnull;
static const char payload[40] = "hypertrace benchmark write of 40 bytes.";

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void report(const char *name, double *ns)
{
    qsort(ns, RUNS, sizeof(ns[0]), cmp_double);
    printf("BENCH %s %.1f %.1f %.1f %d\n", name, ns[RUNS / 2], ns[0],
           ns[RUNS - 1], RUNS);
    fflush(stdout);
}

/*
 * Time OP (a statement that may use i) over ITERS iterations, RUNS times,
 * after a warm-up that translates the code and faults the pages in; OP
 * is inline in the loop, so that only what it does is measured
 */
#define BENCH(name, iters, op) do {                                 \
        double ns_[RUNS];                                           \
        long i;                                                     \
        int r_;                                                     \
                                                                    \
        for (i = 0; i < (iters) / 10; i++) {                        \
            op;                                                     \
        }                                                           \
        for (r_ = 0; r_ < RUNS; r_++) {                             \
            double t0_ = now_ns();                                  \
                                                                    \
            for (i = 0; i < (iters); i++) {                         \
                op;                                                 \
            }                                                       \
            ns_[r_] = (now_ns() - t0_) / (iters);                   \
        }                                                           \
        report(name, ns_);                                          \
    } while (0)

/* The events, as a program that includes qemu-hypertrace.h makes them */
static void bench_events(long iters)
{
    BENCH("event", iters, qemu_hypertrace(0, i));
    BENCH("event-call", iters, (qemu_hypertrace)(0, i));
    if (qemu_hypertrace_ring_records()) {
        BENCH("clock", iters, sink = qemu_hypertrace_clock());
        BENCH("post", iters * 10, qemu_hypertrace_post(0, i));
        BENCH("post-call", iters * 10, (qemu_hypertrace_post)(0, i));
        qemu_hypertrace_flush(0);
    }
}

/* pci-testdev (1b36:0005) BAR 0 through sysfs */
static int map_testdev(void)
{
    DIR *d = opendir("/sys/bus/pci/devices");
    struct dirent *e;
    char path[512], id[32];
    int found = 0;

    while (d && (e = readdir(d)) != NULL) {
        FILE *f;

        snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device",
                 e->d_name);
        f = fopen(path, "r");
        if (!f) {
            continue;
        }
        if (fgets(id, sizeof(id), f) && !strncmp(id, "0x0005", 6)) {
            snprintf(path, sizeof(path),
                     "/sys/bus/pci/devices/%s/resource0", e->d_name);
            found = 1;
        }
        fclose(f);
        if (found) {
            int fd = open(path, O_RDWR);

            testdev = fd < 0 ? MAP_FAILED :
                      mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
                           fd, 0);
            break;
        }
    }
    if (d) {
        closedir(d);
    }
    return found && testdev != MAP_FAILED ? 0 : -1;
}

/* A store instruction of its own per site: the first use of each is
 * what user mode learns from a fault */
#define SITE(n) \
    static void __attribute__((noinline)) site##n(volatile uint64_t *p, \
                                                  uint64_t v) { *p = v; }
#define SITES8(n) SITE(n##0) SITE(n##1) SITE(n##2) SITE(n##3) \
                  SITE(n##4) SITE(n##5) SITE(n##6) SITE(n##7)
SITES8(1) SITES8(2) SITES8(3) SITES8(4)
typedef void site_fn(volatile uint64_t *, uint64_t);
#define S8(n) site##n##0, site##n##1, site##n##2, site##n##3, \
              site##n##4, site##n##5, site##n##6, site##n##7
static site_fn *const sites[] = { S8(1), S8(2), S8(3), S8(4) };
#define NSITES (sizeof(sites) / sizeof(sites[0]))

static void bench_first_event(const char *base)
{
    char path[4096];
    double first[NSITES], second[NSITES];
    volatile uint64_t *ctrl;
    unsigned s;
    int fd;

    snprintf(path, sizeof(path), "%s-control", base);
    fd = open(path, O_RDWR);
    ctrl = fd < 0 ? MAP_FAILED : mmap(NULL, sysconf(_SC_PAGESIZE),
                                      PROT_READ | PROT_WRITE, MAP_SHARED,
                                      fd, 0);
    if (ctrl == MAP_FAILED) {
        perror("ht-bench: map control");
        return;
    }
    for (s = 0; s < NSITES; s++) {
        double t0 = now_ns(), t1, t2;

        sites[s](ctrl, s);
        t1 = now_ns();
        sites[s](ctrl, s);
        t2 = now_ns();
        first[s] = t1 - t0;
        second[s] = t2 - t1;
    }
    qsort(first, NSITES, sizeof(double), cmp_double);
    qsort(second, NSITES, sizeof(double), cmp_double);
    printf("BENCH event-first-at-site %.1f %.1f %.1f %d\n",
           first[NSITES / 2], first[0], first[NSITES - 1], (int)NSITES);
    printf("BENCH event-second-at-site %.1f %.1f %.1f %d\n",
           second[NSITES / 2], second[0], second[NSITES - 1], (int)NSITES);
    close(fd);
}

struct worker {
    pthread_t tid;
    int index;
    int pin;
    int stores;             /* plain stores instead of events */
    int post;               /* posted events instead */
    long iters;
    pthread_barrier_t *go;
    volatile uint64_t slot[16];     /* a cache line of its own */
};

static void *worker(void *opaque)
{
    struct worker *w = opaque;
    long i;

    if (w->pin) {
        cpu_set_t set;

        CPU_ZERO(&set);
        CPU_SET(w->index, &set);
        sched_setaffinity(0, sizeof(set), &set);
    }
    pthread_barrier_wait(w->go);
    if (w->stores) {
        for (i = 0; i < w->iters; i++) {
            w->slot[8] = i;
        }
        return NULL;
    }
    if (w->post) {
        for (i = 0; i < w->iters; i++) {
            qemu_hypertrace_post(w->index, i);
        }
        qemu_hypertrace_flush(w->index);
        return NULL;
    }
    for (i = 0; i < w->iters; i++) {
        qemu_hypertrace(w->index, i);
    }
    return NULL;
}

/*
 * T threads at once, each on its own client: aggregate events per second.
 * With @stores, plain stores instead: how far the machine itself scales.
 * @counts lists thread counts ("1,2"): their runs alternate, so that a
 * change of the host's load during the measurement reaches each count
 * alike and their ratio stays meaningful.
 */
static double run_threads(int threads, long iters, int pin, int stores,
                          int post)
{
    static struct worker w[64];
    pthread_barrier_t go;
    double t0, rate;
    int t;

    pthread_barrier_init(&go, NULL, threads + 1);
    for (t = 0; t < threads; t++) {
        w[t].index = t;
        w[t].pin = pin;
        w[t].stores = stores;
        w[t].post = post;
        w[t].iters = iters;
        w[t].go = &go;
        pthread_create(&w[t].tid, NULL, worker, &w[t]);
    }
    t0 = now_ns();
    pthread_barrier_wait(&go);
    for (t = 0; t < threads; t++) {
        pthread_join(w[t].tid, NULL);
    }
    rate = threads * iters / ((now_ns() - t0) / 1e9);
    pthread_barrier_destroy(&go);
    return rate;
}

static void bench_threads(const char *counts, long iters, int pin, int stores,
                          int post)
{
    int n[8], k = 0, i, r;
    double rates[8][RUNS];
    char *end;

    do {
        n[k] = strtol(counts, &end, 10);
        if (n[k] < 1 || n[k] > 64) {
            fprintf(stderr, "ht-bench: bad thread count in %s\n", counts);
            exit(2);
        }
        k++;
        counts = end + (*end == ',');
    } while (*end == ',' && k < 8);
    for (r = 0; r < RUNS; r++) {
        for (i = 0; i < k; i++) {
            rates[i][r] = run_threads(n[i], iters, pin, stores, post);
        }
    }
    for (i = 0; i < k; i++) {
        qsort(rates[i], RUNS, sizeof(double), cmp_double);
        printf("BENCH %s-per-s-%dthread %.0f %.0f %.0f %d\n",
               stores ? "stores" : post ? "posts" : "events", n[i],
               rates[i][RUNS / 2], rates[i][0], rates[i][RUNS - 1], RUNS);
    }
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    long iters;

    devnull = open("/dev/null", O_WRONLY);
    if (!strcmp(mode, "system")) {
        iters = argc > 2 ? atol(argv[2]) : 200000;
        ht_init_or_exit("ht-bench", NULL, 1, 1);
        BENCH("store", iters * 10, sink = i);
        if (map_testdev() == 0) {
            BENCH("pci-testdev-mmio-write", iters, testdev[0x100] = i);
        } else {
            fprintf(stderr, "ht-bench: no pci-testdev\n");
        }
#if defined(__x86_64__) || defined(__i386__)
        if (ioperm(0xe9, 1, 1) == 0) {
            BENCH("outb-0xe9", iters, outb(i, 0xe9));
        }
#endif
        BENCH("getppid", iters, syscall(SYS_getppid));
        bench_events(iters);
    } else if (!strcmp(mode, "user") && argc > 2) {
        iters = argc > 3 ? atol(argv[3]) : 200000;
        ht_init_or_exit("ht-bench", argv[2], 1, 1);
        BENCH("store", iters * 10, sink = i);
        BENCH("getppid", iters, syscall(SYS_getppid));
        BENCH("write-40-bytes", iters,
              (void)!write(devnull, payload, sizeof(payload)));
        bench_events(iters);
        bench_first_event(argv[2]);
    } else if ((!strcmp(mode, "threads") || !strcmp(mode, "threads-store") ||
                !strcmp(mode, "threads-post")) && argc > 3) {
        iters = atol(argv[3]);
        ht_init_or_exit("ht-bench", argc > 4 ? argv[4] : NULL, 1, 1);
        bench_threads(argv[2], iters, argc <= 4,
                      !strcmp(mode, "threads-store"),
                      !strcmp(mode, "threads-post"));
    } else {
        fprintf(stderr, "usage: see the comment at the top of ht-bench.c\n");
        return 2;
    }
    return 0;
}
