/*
 * User-mode guest test: what a guest can do to the channel mappings.
 * Prints "ok"/"FAIL" lines and "ht-mm: N failures"; emits events with
 * arg1 = 100 + k for the k-th check that must produce one (the host
 * counts them) and none for the stores that must not.
 *
 * Usage: ht-mm BASE
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "qemu-hypertrace.h"

static int failures;

static void check(int cond, const char *what)
{
    printf("%s: %s\n", cond ? "ok" : "FAIL", what);
    failures += !cond;
}

int main(int argc, char **argv)
{
    char path[4096];
    long page = sysconf(_SC_PAGESIZE);
    uint64_t size;
    volatile uint64_t *ctrl;
    volatile uint32_t *ctrl32;
    void *p;
    int fd;

    if (argc != 2 || qemu_hypertrace_init(argv[1]) != 0) {
        fprintf(stderr, "usage: ht-mm BASE (init: %s)\n",
                qemu_hypertrace_strerror(errno));
        return 2;
    }
    size = qemu_hypertrace_max_clients() * page;
    snprintf(path, sizeof(path), "%s-control", argv[1]);
    fd = open(path, O_RDWR);
    check(fd >= 0, "open BASE-control");

    errno = 0;
    p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 8);
    check(p == MAP_FAILED && errno == EINVAL, "mmap at offset 8: EINVAL");
    errno = 0;
    p = mmap(NULL, size + page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    check(p == MAP_FAILED && errno == EINVAL, "mmap too long: EINVAL");
    errno = 0;
    p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, size);
    check(p == MAP_FAILED && errno == EINVAL, "mmap past the end: EINVAL");

    /* a second mapping of client 1's page only */
    p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, page);
    check(p != MAP_FAILED, "mmap of client 1's page");
    ctrl = p;
    *ctrl = 101;                                    /* event 1 */
    errno = 0;
    check(mprotect(p, page, PROT_READ | PROT_WRITE) == -1 && errno == EACCES,
          "mprotect(PROT_WRITE) of control: EACCES");
    /* (the failed mprotect changed nothing: still an event) */
    *ctrl = 102;                                    /* event 2 */
    errno = 0;
    check(mremap(p, page, 2 * page, MREMAP_MAYMOVE) == MAP_FAILED &&
          errno == EINVAL, "mremap of control: EINVAL");

    /* stores that are not events */
    ctrl32 = p;
    ctrl32[1] = 1;                                  /* 4 bytes at 4 */
    ((volatile uint8_t *)p)[7] = 1;                 /* ends on 8 */
    ctrl[1] = 1;                                    /* offset 8 */
    ctrl[page / 8 - 1] = 1;                         /* last word */

    check(munmap(p, page) == 0, "munmap of control");
    /* the same address, now ordinary memory */
    p = mmap(p, page, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    check(p != MAP_FAILED, "anonymous mmap over the old control page");
    ctrl = p;
    *ctrl = 555;                                    /* plain store */
    check(*ctrl == 555, "store to the new anonymous page");

    /* a mapping with a client offset and two pages: client 1 and 2 */
    if (qemu_hypertrace_max_clients() >= 3) {
        p = mmap(NULL, 2 * page, PROT_WRITE, MAP_SHARED, fd, page);
        check(p != MAP_FAILED, "mmap of clients 1-2");
        ctrl = (volatile uint64_t *)((char *)p + page);
        *ctrl = 103;                                /* event 3, client 2 */
        /* partial munmap keeps the rest */
        check(munmap(p, page) == 0, "munmap of client 1's half");
        *ctrl = 104;                                /* event 4, client 2 */
    }
    /* the library's mapping still works */
    qemu_hypertrace(0, 105);                        /* event 5 */
    close(fd);
    printf("ht-mm: %d failures\n", failures);
    return failures != 0;
}
