/*
 * Guest test program: events traced from QEMU's host signal handler while
 * a thread traces its own.  The emitter thread fires EVENTS events
 * (arg1 = i, client 0) while a second thread sends it SIGNALS real-time
 * signals, at most 32 of them pending at once.  Real-time signals are
 * queued, not merged, and linux-user keeps host signals blocked until the
 * guest has taken the one it queued, so QEMU's host handler runs, and
 * traces user_host_signal, exactly once per signal, wherever it
 * interrupts the emitter: in guest code, or inside QEMU's trace backend.
 *
 * Usage: ht-sigtrace EVENTS SIGNALS
 * Prints "ht-sigtrace: EVENTS events, SIGNALS signals sent, N handled".
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "qemu-hypertrace.h"
#include "ht-util.h"

static unsigned long events, signals;
static volatile unsigned long handled;
static volatile pid_t emitter_tid;

static void on_signal(int sig)
{
    (void)sig;
    __atomic_add_fetch(&handled, 1, __ATOMIC_RELAXED);
}

static void *sender(void *opaque)
{
    struct timespec pause = { 0, 20000 };
    unsigned long sent;

    (void)opaque;
    for (sent = 0; sent < signals; sent++) {
        while (sent - __atomic_load_n(&handled, __ATOMIC_RELAXED) >= 32) {
            nanosleep(&pause, NULL);
        }
        if (syscall(SYS_tgkill, getpid(), emitter_tid, SIGRTMIN) != 0) {
            perror("ht-sigtrace: tgkill");
            exit(1);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    struct sigaction sa = { .sa_handler = on_signal };
    struct timespec pause = { 0, 1000000 };
    pthread_t tid;
    unsigned long i;

    if (argc != 3) {
        fprintf(stderr, "usage: ht-sigtrace EVENTS SIGNALS\n");
        return 2;
    }
    events = strtoul(argv[1], NULL, 0);
    signals = strtoul(argv[2], NULL, 0);
    ht_init_or_exit("ht-sigtrace", NULL, 1, 1);
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGRTMIN, &sa, NULL);

    emitter_tid = syscall(SYS_gettid);
    pthread_create(&tid, NULL, sender, NULL);
    for (i = 0; i < events; i++) {
        qemu_hypertrace(0, i);
    }
    /* the signals still on their way are taken here */
    while (__atomic_load_n(&handled, __ATOMIC_RELAXED) < signals) {
        nanosleep(&pause, NULL);
    }
    pthread_join(tid, NULL);
    printf("ht-sigtrace: %lu events, %lu signals sent, %lu handled\n",
           events, signals, handled);
    return 0;
}
