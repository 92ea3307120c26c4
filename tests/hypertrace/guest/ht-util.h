/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Shared by the guest test programs.
 */
#ifndef HT_UTIL_H
#define HT_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "qemu-hypertrace.h"

/*
 * qemu_hypertrace_init(@base), and at least @clients clients; otherwise
 * print why, after the program's name @prog, and exit with @status.
 */
static inline void ht_init_or_exit(const char *prog, const char *base,
                                   unsigned long clients, int status)
{
    if (qemu_hypertrace_init(base) != 0) {
        fprintf(stderr, "%s: init: %s\n", prog,
                qemu_hypertrace_strerror(errno));
        exit(status);
    }
    if (clients > qemu_hypertrace_max_clients()) {
        fprintf(stderr, "%s: needs %lu clients, the channel has %lu\n", prog,
                clients, (unsigned long)qemu_hypertrace_max_clients());
        exit(status);
    }
}

#endif
