/*
 * Hypertrace example: mark a region of interest in a guest program
 *
 * The first event (arg1 = 1) opens the region, the second (arg1 = 0)
 * closes it; both carry three more arguments taken from client 0's data
 * slot.  On the host, the two guest_hypertrace events bracket everything
 * QEMU traced while the region ran, with host timestamps.
 *
 * Build (x86_64 guest; use the guest library of the target you run on):
 *   cc -o example example.c \
 *       <build>/x86_64-softmmu/hypertrace/guest/libqemu-hypertrace-guest.a \
 *       -I<prefix>/include -lpthread
 * Run: ./example            (system mode, inside a guest with the device)
 *      ./example BASE       (user mode: qemu-x86_64 -hypertrace BASE ...)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <qemu-hypertrace.h>

int main(int argc, char **argv)
{
    const char *base = argc > 1 ? argv[1] : NULL;
    uint64_t *args;
    unsigned long sum = 0;
    int i;

    if (qemu_hypertrace_init(base) != 0) {
        fprintf(stderr, "example: qemu_hypertrace_init: %s\n",
                qemu_hypertrace_strerror(errno));
        return EXIT_FAILURE;
    }

    /* Arguments 2..N of client 0's events (the build may have fewer) */
    args = qemu_hypertrace_data(0);
    for (i = 0; i < 3 && i + 1 < (int)qemu_hypertrace_num_args(); i++) {
        args[i] = 0xa1 + i;
    }

    qemu_hypertrace(0, 1);                  /* region of interest begins */
    for (i = 0; i < 1000000; i++) {
        sum += i % 7;
    }
    printf("example: region computed %lu\n", sum);
    qemu_hypertrace(0, 0);                  /* region of interest ends */

    qemu_hypertrace_fini();
    return EXIT_SUCCESS;
}
