/*
 * Guest test program: the guest library's API contract.  Prints one
 * "ok"/"FAIL" line per check and the number of failures last; emits
 * exactly one event (arg1 = 777, client 0) when everything works.
 *
 * Usage: ht-api [-u UID] [BASE]   (-u: drop root privileges to UID first)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    const char *base;
    uint64_t max;

    if (argc > 2 && !strcmp(argv[1], "-u")) {
        if (setgid(atoi(argv[2])) != 0 || setuid(atoi(argv[2])) != 0) {
            perror("ht-api: setuid");
            return 1;
        }
        argc -= 2;
        argv += 2;
    }
    base = argc > 1 ? argv[1] : NULL;

    errno = 0;
    check(qemu_hypertrace_data(0) == NULL && errno == EINVAL,
          "data() before init is EINVAL");
    errno = 0;
    qemu_hypertrace(0, 1);
    check(errno == EINVAL, "event before init is EINVAL");
    check(qemu_hypertrace_max_clients() == 0, "max_clients() before init");

    /* a failed init leaves nothing locked or mapped behind */
    errno = 0;
    check(qemu_hypertrace_init("/nonexistent/hypertrace") == -1 &&
          errno == ENODEV, "init of a missing channel is ENODEV");
    check(qemu_hypertrace_max_clients() == 0, "failed init maps nothing");
    check(qemu_hypertrace_init(base) == 0, "init");
    check(qemu_hypertrace_init(base) == 0, "init again is a no-op");
    max = qemu_hypertrace_max_clients();
    check(max >= 1, "max_clients() after init");
    check(qemu_hypertrace_num_args() >= 1 && qemu_hypertrace_num_args() <= 9,
          "num_args() in 1..9");
    printf("max_clients=%lu num_args=%lu\n", (unsigned long)max,
           (unsigned long)qemu_hypertrace_num_args());

    errno = 0;
    check(qemu_hypertrace_data(max) == NULL && errno == EINVAL,
          "data(max_clients) is EINVAL");
    errno = 0;
    qemu_hypertrace(max, 666);
    check(errno == EINVAL, "event on client max_clients is EINVAL");
    errno = 0;
    qemu_hypertrace(UINT64_MAX, 666);
    check(errno == EINVAL, "event on client UINT64_MAX is EINVAL");

    qemu_hypertrace_fini();
    check(qemu_hypertrace_max_clients() == 0, "fini resets");
    check(qemu_hypertrace_init(base) == 0, "init after fini");
    check(strstr(qemu_hypertrace_strerror(EPROTO), "ABI") != NULL,
          "strerror(EPROTO) names the ABI");
    if (failures == 0) {
        qemu_hypertrace(0, 777);
    }
    printf("ht-api: %d failures\n", failures);
    return failures != 0;
}
