/*
 * User-mode guest test: the guest keeps its own SIGSEGV handler.  It
 * installs one before and after hypertrace init, takes real faults on its
 * own read-only page and must see exactly those, while events (whose first
 * store faults on the host) flow.  Emits arg1 = 200 + i for i < 10.
 *
 * Usage: ht-signals BASE
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "qemu-hypertrace.h"

static volatile int faults;
static char *ro_page;
static long page;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    if ((char *)si->si_addr != ro_page) {
        static const char msg[] = "ht-signals: fault at an unexpected address\n";
        write(2, msg, sizeof(msg) - 1);
        _exit(3);
    }
    faults++;
    mprotect(ro_page, page, PROT_READ | PROT_WRITE);
}

static void install(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
}

static void real_fault(void)
{
    mprotect(ro_page, page, PROT_READ);
    *(volatile char *)ro_page = 1;
}

int main(int argc, char **argv)
{
    int i;

    page = sysconf(_SC_PAGESIZE);
    ro_page = mmap(NULL, page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    install();
    real_fault();
    if (argc != 2 || qemu_hypertrace_init(argv[1]) != 0) {
        fprintf(stderr, "ht-signals: init: %s\n",
                qemu_hypertrace_strerror(errno));
        return 2;
    }
    for (i = 0; i < 5; i++) {
        qemu_hypertrace(0, 200 + i);
    }
    install();                  /* signal(SIGSEGV) again after init */
    signal(SIGSEGV, SIG_DFL);
    install();
    real_fault();
    for (i = 5; i < 10; i++) {
        qemu_hypertrace(0, 200 + i);
    }
    real_fault();
    printf("ht-signals: %d guest faults (want 3)\n", faults);
    return faults != 3;
}
