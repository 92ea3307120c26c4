/*
 * Guest test program (user mode): a guest that attacks its own hypertrace
 * channels.  Each mode prints "ok"/"FAIL" lines and "ht-hostile: N
 * failures" last (except the modes that end the process).
 *
 * Usage: ht-hostile MODE BASE [ARG]
 *   files    truncate, write and map the channels in forbidden ways
 *   prot     stores to control mappings made PROT_NONE and PROT_READ
 *   shmat    shmat(SHM_REMAP) over a control mapping
 *   race N   one thread flips a page between anonymous memory and control
 *            with MAP_FIXED N times while another stores to it
 *   spin N   emit N events (arg1 = 1000 + i)
 *   sleep    emit one event (arg1 = 7), print "ready", wait for signals
 *   pipe     emit one event, then write lines to stdout until it breaks
 *   chdir D  chdir(D), then emit one event (arg1 = 8)
 *   killself emit one event (arg1 = 9), then kill(getpid(), SIGKILL)
 *   exec P   emit one event (arg1 = 10), then execv(P); if that fails,
 *            emit another (arg1 = 11)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

#include "qemu-hypertrace.h"
#include "ht-util.h"

static int failures;
static const char *base;
static long page;

static void check(int cond, const char *what)
{
    printf("%s: %s\n", cond ? "ok" : "FAIL", what);
    failures += !cond;
}

static char *path_of(const char *suffix)
{
    static char buf[4][4096];
    static int n;
    char *p = buf[n++ % 4];

    snprintf(p, sizeof(buf[0]), "%s%s", base, suffix);
    return p;
}

static sigjmp_buf fault_jmp;
static volatile sig_atomic_t faults;

static void on_segv(int sig)
{
    (void)sig;
    faults++;
    siglongjmp(fault_jmp, 1);
}

/* Two store sites: one that has fired events before, one that has not */
static void __attribute__((noinline)) store_learned(volatile uint64_t *p,
                                                    uint64_t v)
{
    *p = v;
}

static void __attribute__((noinline)) store_fresh(volatile uint64_t *p,
                                                  uint64_t v)
{
    *p = v;
}

/* Whether the store faults (SIGSEGV caught) */
static int store_faults(void (*fn)(volatile uint64_t *, uint64_t),
                        volatile uint64_t *p, uint64_t v)
{
    int before = faults;

    if (sigsetjmp(fault_jmp, 1) == 0) {
        fn(p, v);
    }
    return faults != before;
}

static void *map_ctrl(void *addr, int prot, int flags)
{
    int fd = open(path_of("-control"), O_RDWR | O_CLOEXEC);
    void *p;

    if (fd < 0) {
        perror("open control");
        exit(2);
    }
    p = mmap(addr, page, prot, MAP_SHARED | flags, fd, 0);
    close(fd);
    return p;
}

static void mode_files(void)
{
    char cfg[8];
    void *m;
    int fd;

    fd = open(path_of("-data"), O_RDWR);
    errno = 0;
    check(fd >= 0 && ftruncate(fd, 0) == -1 && errno == EPERM,
          "ftruncate(data, 0) is EPERM");
    errno = 0;
    check(truncate(path_of("-data"), page * 64) == -1 && errno == EPERM,
          "truncate(data) to grow it is EPERM");
    errno = 0;
    check(pwrite(fd, "x", 1, 1 << 30) == -1 && errno == EPERM,
          "pwrite beyond the end of data is EPERM");
    close(fd);
    /* the event still carries the slot */
    qemu_hypertrace_data(0)[0] = 0xfeed;
    qemu_hypertrace(0, 901);

    fd = open(path_of("-config"), O_RDWR);
    errno = 0;
    check(fd >= 0 && pwrite(fd, "XXXXXXXX", 8, 0) == -1 && errno == EPERM,
          "write to config is EPERM");
    m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    check(m == MAP_FAILED, "config cannot be mapped writable");
    check(pread(fd, cfg, 8, 0) == 8 && !memcmp(cfg, "HYPTRACE", 8),
          "config still says HYPTRACE");
    errno = 0;
    check(ftruncate(fd, 0) == -1 && errno == EPERM,
          "ftruncate(config) is EPERM");
    close(fd);

    fd = open(path_of("-control"), O_RDWR);
    errno = 0;
    check(fd >= 0 && pwrite(fd, "\1\0\0\0\0\0\0\0", 8, 0) == -1 &&
          errno == EPERM, "write to control is EPERM");
    check(pread(fd, cfg, 8, 0) == 8 && !memcmp(cfg, "\0\0\0\0\0\0\0\0", 8),
          "control still reads 0");
    close(fd);
    qemu_hypertrace(0, 902);
}

static void mode_prot(void)
{
    volatile uint64_t *p = map_ctrl(NULL, PROT_READ | PROT_WRITE, 0);

    check(p != MAP_FAILED, "map control");
    check(!store_faults(store_learned, p, 903), "store to control: event");
    check(mprotect((void *)p, page, PROT_NONE) == 0, "mprotect(PROT_NONE)");
    check(store_faults(store_learned, p, 666), "PROT_NONE, learned site: SIGSEGV");
    check(store_faults(store_fresh, p, 666), "PROT_NONE, new site: SIGSEGV");
    check(mprotect((void *)p, page, PROT_READ) == 0, "mprotect(PROT_READ)");
    check(store_faults(store_learned, p, 666), "PROT_READ, learned site: SIGSEGV");
    check(store_faults(store_fresh, p, 666), "PROT_READ, new site: SIGSEGV");
    check(*p == 0, "control reads 0");
    munmap((void *)p, page);

    /* mapped read-only from the start */
    p = map_ctrl(NULL, PROT_READ, 0);
    check(store_faults(store_learned, p, 666), "read-only mapping: SIGSEGV");
    munmap((void *)p, page);
    /* a writable mapping still works afterwards */
    p = map_ctrl(NULL, PROT_READ | PROT_WRITE, 0);
    check(!store_faults(store_learned, p, 904), "new writable mapping: event");
    munmap((void *)p, page);
}

static void mode_shmat(void)
{
    volatile uint64_t *p = map_ctrl(NULL, PROT_READ | PROT_WRITE, 0);
    int id = shmget(IPC_PRIVATE, page, IPC_CREAT | 0600);
    void *q;

    check(!store_faults(store_learned, p, 905), "store to control: event");
    check(id >= 0, "shmget");
    q = shmat(id, (void *)p, SHM_REMAP);
    check(q == (void *)p, "shmat(SHM_REMAP) over control");
    shmctl(id, IPC_RMID, NULL);
    check(!store_faults(store_learned, p, 0x1234), "store to the segment");
    check(*p == 0x1234, "the segment holds the store");
    check(mprotect((void *)p, page, PROT_READ | PROT_WRITE) == 0,
          "mprotect of the segment");
    shmdt((void *)p);
}

static volatile uint64_t *race_page;
static volatile int race_done;

static void *race_mapper(void *opaque)
{
    long n = (long)opaque, i;
    int fd = open(path_of("-control"), O_RDWR | O_CLOEXEC);

    for (i = 0; i < n; i++) {
        if (mmap((void *)race_page, page, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED ||
            mmap((void *)race_page, page, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
            perror("race: mmap");
            exit(2);
        }
    }
    close(fd);
    race_done = 1;
    return NULL;
}

static void mode_race(long n)
{
    pthread_t t;
    volatile long stores = 0;

    race_page = map_ctrl(NULL, PROT_READ | PROT_WRITE, 0);
    pthread_create(&t, NULL, race_mapper, (void *)n);
    while (!race_done) {
        if (sigsetjmp(fault_jmp, 1) == 0) {
            store_learned(race_page, 77);
        }
        stores++;
    }
    pthread_join(t, NULL);
    printf("race: %ld stores, %d faults\n", stores, (int)faults);
    check(faults == 0, "no store faulted");
}

int main(int argc, char **argv)
{
    const char *mode;
    struct sigaction sa = { .sa_handler = on_segv };

    if (argc < 3) {
        fprintf(stderr, "usage: ht-hostile MODE BASE [ARG]\n");
        return 2;
    }
    mode = argv[1];
    base = argv[2];
    page = sysconf(_SC_PAGESIZE);
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    ht_init_or_exit("ht-hostile", base, 1, 2);

    if (!strcmp(mode, "files")) {
        mode_files();
    } else if (!strcmp(mode, "prot")) {
        mode_prot();
    } else if (!strcmp(mode, "shmat")) {
        mode_shmat();
    } else if (!strcmp(mode, "race") && argc > 3) {
        mode_race(atol(argv[3]));
    } else if (!strcmp(mode, "spin") && argc > 3) {
        long i, n = atol(argv[3]);

        for (i = 0; i < n; i++) {
            qemu_hypertrace(0, 1000 + i);
        }
    } else if (!strcmp(mode, "sleep")) {
        qemu_hypertrace(0, 7);
        printf("ready\n");
        for (;;) {
            pause();
        }
    } else if (!strcmp(mode, "pipe")) {
        qemu_hypertrace(0, 7);
        for (;;) {
            printf("line\n");
        }
    } else if (!strcmp(mode, "chdir") && argc > 3) {
        check(chdir(argv[3]) == 0, "chdir");
        qemu_hypertrace(0, 8);
    } else if (!strcmp(mode, "exec") && argc > 3) {
        qemu_hypertrace(0, 10);
        execv(argv[3], &argv[3]);
        /* the exec failed: this QEMU's files are back, events still work */
        check(access(path_of("-config"), R_OK) == 0, "files back after a failed exec");
        qemu_hypertrace(0, 11);
    } else if (!strcmp(mode, "killself")) {
        qemu_hypertrace(0, 9);
        kill(getpid(), SIGKILL);
    } else {
        fprintf(stderr, "ht-hostile: bad mode %s\n", mode);
        return 2;
    }
    printf("ht-hostile: %d failures\n", failures);
    return failures != 0;
}
