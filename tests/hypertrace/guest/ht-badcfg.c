/*
 * Guest test program (user-mode library): qemu_hypertrace_init() on
 * channel files whose config words are wrong.  Each case writes
 * DIR/case-config, -data and -control, then expects init to fail with the
 * given errno (EPROTO for another ABI version, EBADMSG for a layout word
 * out of range) without crashing, or to succeed for the valid layout.
 * Prints one "ok"/"FAIL" line per case; exits 1 on any failure.
 *
 * Usage: ht-badcfg DIR
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qemu-hypertrace.h"
#include "hypertrace/abi.h"

struct layout {
    const char *name;
    int want_errno;             /* 0: init succeeds */
    uint64_t word[HYPERTRACE_CFG_WORDS];
};

#define OK_LAYOUT(v, clients, args, ds, cs, dsz, csz) \
    { HYPERTRACE_MAGIC, v, clients, args, ds, cs, dsz, csz, 0, 0 }

static const struct layout cases[] = {
    { "valid", 0, OK_LAYOUT(HYPERTRACE_VERSION, 2, 4, 4096, 4096, 8192, 8192) },
    { "ABI version 2", EPROTO, OK_LAYOUT(2, 2, 4, 4096, 4096, 8192, 8192) },
    { "ABI version 4", EPROTO, OK_LAYOUT(4, 2, 4, 4096, 4096, 8192, 8192) },
    { "bad magic", EBADMSG, { 0x1234, HYPERTRACE_VERSION, 1, 4, 4096, 4096,
                              4096, 4096 } },
    { "data stride 0", EBADMSG,
      OK_LAYOUT(HYPERTRACE_VERSION, 2, 4, 0, 4096, 8192, 8192) },
    { "control stride 0", EBADMSG,
      OK_LAYOUT(HYPERTRACE_VERSION, 2, 4, 4096, 0, 8192, 8192) },
    { "data stride smaller than a slot", EBADMSG,
      OK_LAYOUT(HYPERTRACE_VERSION, 2, 4, 0x40, 4096, 8192, 8192) },
    { "odd control stride", EBADMSG,
      OK_LAYOUT(HYPERTRACE_VERSION, 2, 4, 4096, 4095, 8192, 8192) },
    { "huge stride", EBADMSG,
      OK_LAYOUT(HYPERTRACE_VERSION, 2, 4, UINT64_C(1) << 63, 4096,
                UINT64_MAX, 8192) },
    { "0 clients", EBADMSG,
      OK_LAYOUT(HYPERTRACE_VERSION, 0, 4, 4096, 4096, 8192, 8192) },
    { "too many clients", EBADMSG,
      OK_LAYOUT(HYPERTRACE_VERSION, UINT64_C(1) << 62, 4, 4096, 4096, 8192,
                8192) },
    { "0 arguments", EBADMSG,
      OK_LAYOUT(HYPERTRACE_VERSION, 2, 0, 4096, 4096, 8192, 8192) },
    { "10 arguments", EBADMSG,
      OK_LAYOUT(HYPERTRACE_VERSION, 2, 10, 4096, 4096, 8192, 8192) },
    { "data channel too small", EBADMSG,
      OK_LAYOUT(HYPERTRACE_VERSION, 2, 4, 4096, 4096, 4096, 8192) },
    { "channel size beyond the limit", EBADMSG,
      OK_LAYOUT(HYPERTRACE_VERSION, 2, 4, 4096, 4096, UINT64_MAX, 8192) },
};

static int write_file(const char *path, const void *buf, size_t len,
                      size_t size)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    int ret = 0;

    if (fd < 0 || ftruncate(fd, size) < 0 ||
        (len && pwrite(fd, buf, len, 0) != (ssize_t)len)) {
        ret = -1;
    }
    if (fd >= 0) {
        close(fd);
    }
    return ret;
}

int main(int argc, char **argv)
{
    int failures = 0;
    size_t i;

    if (argc != 2) {
        fprintf(stderr, "usage: ht-badcfg DIR\n");
        return 2;
    }
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t cfg[HYPERTRACE_CFG_SIZE / 8] = { 0 };
        char base[4096], path[4200];
        int j, ret, err;

        for (j = 0; j < HYPERTRACE_CFG_WORDS; j++) {
            cfg[j] = htole64(cases[i].word[j]);
        }
        snprintf(base, sizeof(base), "%s/case%zu", argv[1], i);
        snprintf(path, sizeof(path), "%s-config", base);
        ret = write_file(path, cfg, sizeof(cfg), sizeof(cfg));
        snprintf(path, sizeof(path), "%s-data", base);
        ret |= write_file(path, NULL, 0, 8192);
        snprintf(path, sizeof(path), "%s-control", base);
        ret |= write_file(path, NULL, 0, 8192);
        if (ret < 0) {
            perror("ht-badcfg: writing the channel files");
            return 2;
        }
        errno = 0;
        ret = qemu_hypertrace_init(base);
        err = errno;
        if (cases[i].want_errno == 0) {
            ret = ret == 0 && qemu_hypertrace_max_clients() == 2 &&
                  qemu_hypertrace_num_args() == 4;
        } else {
            ret = ret == -1 && err == cases[i].want_errno &&
                  qemu_hypertrace_max_clients() == 0;
        }
        printf("%s: %s: init %s (%s)\n", ret ? "ok" : "FAIL", cases[i].name,
               err ? "fails" : "succeeds", err ? strerror(err) : "-");
        failures += !ret;
        qemu_hypertrace_fini();
    }
    printf("ht-badcfg: %d failures\n", failures);
    return failures != 0;
}
