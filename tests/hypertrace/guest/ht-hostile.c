/*
 * Guest test program (user mode): a guest that attacks its own hypertrace
 * channels.  Each mode prints "ok"/"FAIL" lines and "ht-hostile: N
 * failures" last (except the modes that end the process).
 *
 * Usage: ht-hostile MODE BASE [ARG]
 *   files    open, truncate, write and map the channels in forbidden ways,
 *            stat() and unlink() their names
 *   prot     stores to control mappings made PROT_NONE and PROT_READ
 *   shmat    shmat(SHM_REMAP) over a control mapping
 *   race N   one thread flips a page between anonymous memory and control
 *            with MAP_FIXED N times while another stores to it
 *   spin N   emit N events (arg1 = 1000 + i)
 *   sleep    emit one event (arg1 = 7), print "ready", wait for signals
 *   pipe     emit one event, then write lines to stdout until it breaks
 *   chdir D  chdir(D), then emit one event (arg1 = 8)
 *   names DIR OTHER  BASE (absolute) is in DIR: open the channels by
 *            relative names, through "..", with openat(); then chdir(OTHER)
 *            and open the same relative name there (a host file holding
 *            "theirs"); emit one event (arg1 = 8)
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
#include <sys/stat.h>
#include <endian.h>
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

/* Whether the open fails with @err */
static int open_fails(const char *path, int flags, int err)
{
    int fd;

    errno = 0;
    fd = open(path, flags | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return errno == err;
}

/* fstat(@fd) shows a regular file of @size bytes */
static int is_file_of(int fd, uint64_t size)
{
    struct stat st;

    return fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
           (uint64_t)st.st_size == size;
}

static uint64_t config_word(unsigned offset)
{
    uint64_t v = 0;
    int fd = open(path_of("-config"), O_RDONLY | O_CLOEXEC);

    if (fd < 0 || pread(fd, &v, 8, offset) != 8) {
        v = 0;
    }
    if (fd >= 0) {
        close(fd);
    }
    return le64toh(v);
}

static void mode_files(void)
{
    uint64_t data_size = config_word(0x30), ctrl_size = config_word(0x38);
    char cfg[8];
    struct stat st;
    void *m;
    int fd, fd2;

    fd = open(path_of("-data"), O_RDWR);
    check(is_file_of(fd, data_size), "fstat(data): a regular file of DATA_SIZE");
    errno = 0;
    check(fd >= 0 && ftruncate(fd, 0) == -1 && errno == EPERM,
          "ftruncate(data, 0) is EPERM");
    errno = 0;
    check(pwrite(fd, "x", 1, 1 << 30) == -1 && errno == EPERM,
          "pwrite beyond the end of data is EPERM");
    close(fd);
    check(open_fails(path_of("-data"), O_RDWR | O_TRUNC, EPERM),
          "open(data, O_TRUNC) is EPERM");
    /* the event still carries the slot */
    qemu_hypertrace_data(0)[0] = 0xfeed;
    qemu_hypertrace(0, 901);

    check(open_fails(path_of("-config"), O_RDWR, EACCES),
          "open(config, O_RDWR) is EACCES");
    check(open_fails(path_of("-config"), O_WRONLY, EACCES),
          "open(config, O_WRONLY) is EACCES");
    check(open_fails(path_of("-config"), O_RDONLY | O_CREAT | O_EXCL, EEXIST),
          "open(config, O_CREAT | O_EXCL) is EEXIST");
    check(open_fails(path_of("-config"), O_RDONLY | O_DIRECTORY, ENOTDIR),
          "open(config, O_DIRECTORY) is ENOTDIR");
    fd = open(path_of("-config"), O_RDONLY);
    check(is_file_of(fd, 4096), "fstat(config): a regular file of 4 KiB");
    check(write(fd, "XXXXXXXX", 8) == -1, "write to config fails");
    m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    check(m == MAP_FAILED, "config cannot be mapped writable");
    check(pread(fd, cfg, 8, 0) == 8 && !memcmp(cfg, "HYPTRACE", 8),
          "config still says HYPTRACE");
    /* each open has its own offset, as for a file */
    fd2 = open(path_of("-config"), O_RDONLY);
    check(read(fd, cfg, 8) == 8 && read(fd2, cfg, 8) == 8 &&
          !memcmp(cfg, "HYPTRACE", 8), "two opens, two file offsets");
    close(fd2);
    close(fd);

    fd = open(path_of("-control"), O_RDWR);
    check(is_file_of(fd, ctrl_size), "fstat(control): a regular file of CTRL_SIZE");
    errno = 0;
    check(fd >= 0 && pwrite(fd, "\1\0\0\0\0\0\0\0", 8, 0) == -1 &&
          errno == EPERM, "write to control is EPERM");
    check(pread(fd, cfg, 8, 0) == 8 && !memcmp(cfg, "\0\0\0\0\0\0\0\0", 8),
          "control still reads 0");
    close(fd);

    /* Only open() knows the channels: nothing is in the host's directory */
    errno = 0;
    check(stat(path_of("-config"), &st) == -1 && errno == ENOENT,
          "stat(config) is ENOENT");
    errno = 0;
    check(access(path_of("-data"), F_OK) == -1 && errno == ENOENT,
          "access(data) is ENOENT");
    errno = 0;
    check(unlink(path_of("-control")) == -1 && errno == ENOENT,
          "unlink(control) is ENOENT");
    errno = 0;
    check(truncate(path_of("-data"), 0) == -1 && errno == ENOENT,
          "truncate(data) is ENOENT");
    qemu_hypertrace(0, 902);
}

/*
 * Relative names and other directories: @dir is BASE's directory, @name
 * its last component.  Through a relative path from the cwd, through
 * openat() on a directory descriptor and through "..", the name reaches
 * the channel; after a chdir elsewhere the same relative name is an
 * ordinary file (or none).
 */
static void mode_names(const char *dir, const char *name, const char *other)
{
    char rel[4096], dots[8192], cfg[8];
    int dfd, fd;

    snprintf(rel, sizeof(rel), "%s-config", name);
    check(chdir(dir) == 0, "chdir to BASE's directory");
    fd = open(rel, O_RDONLY);
    check(fd >= 0 && pread(fd, cfg, 8, 0) == 8 && !memcmp(cfg, "HYPTRACE", 8),
          "a relative name opens the channel");
    if (fd >= 0) {
        close(fd);
    }
    snprintf(dots, sizeof(dots), "././/../%s/%s", strrchr(dir, '/') + 1, rel);
    fd = open(dots, O_RDONLY);
    check(fd >= 0, "a name with . and .. opens the channel");
    if (fd >= 0) {
        close(fd);
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY);
    fd = openat(dfd, rel, O_RDONLY);
    check(fd >= 0 && pread(fd, cfg, 8, 0) == 8 && !memcmp(cfg, "HYPTRACE", 8),
          "openat(dirfd, name) opens the channel");
    if (fd >= 0) {
        close(fd);
    }
    close(dfd);
    check(chdir(other) == 0, "chdir elsewhere");
    fd = open(rel, O_RDONLY);
    check(fd >= 0 && read(fd, cfg, 6) == 6 && !memcmp(cfg, "theirs", 6),
          "elsewhere, the same relative name is the host's file");
    if (fd >= 0) {
        close(fd);
    }
    qemu_hypertrace(0, 8);
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
    } else if (!strcmp(mode, "names") && argc > 4) {
        mode_names(argv[3], strrchr(base, '/') + 1, argv[4]);
    } else if (!strcmp(mode, "exec") && argc > 3) {
        int fd;

        qemu_hypertrace(0, 10);
        execv(argv[3], &argv[3]);
        /* the exec failed: this QEMU goes on, with its channels */
        fd = open(path_of("-config"), O_RDONLY);
        check(fd >= 0, "channels still open after a failed exec");
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
