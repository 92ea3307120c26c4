/*
 * Guest test program (system mode, x86_64): stores that cover part of a
 * client's control register without starting at it.  Maps the control
 * BAR of the first hypertrace device through sysfs, then makes:
 *   - a 16-byte store (movdqu) at client 0 + stride - 8, whose second half
 *     covers client 1's register;
 *   - an 8-byte store at client 0 + stride - 4 (not aligned to its size);
 *   - a 4-byte store at client 0 + stride - 2;
 * none of which may fire an event, then one 8-byte event store on client
 * 1 with arg1 = 42.  The host expects exactly that one event.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <dirent.h>
#include <emmintrin.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define STRIDE 0x10000

int main(void)
{
    DIR *d = opendir("/sys/bus/pci/devices");
    struct dirent *e;
    char path[512], id[16];
    volatile char *ctrl = NULL;

    while (d && (e = readdir(d)) != NULL) {
        FILE *f;

        snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device",
                 e->d_name);
        f = fopen(path, "r");
        if (f && fgets(id, sizeof(id), f) && !strncmp(id, "0x0015", 6)) {
            int fd;

            snprintf(path, sizeof(path),
                     "/sys/bus/pci/devices/%s/resource4", e->d_name);
            fd = open(path, O_RDWR);
            ctrl = mmap(NULL, 2 * STRIDE, PROT_READ | PROT_WRITE, MAP_SHARED,
                        fd, 0);
        }
        if (f) {
            fclose(f);
        }
    }
    if (!ctrl || ctrl == MAP_FAILED) {
        fprintf(stderr, "ht-wide: no hypertrace control BAR\n");
        return 1;
    }
    _mm_storeu_si128((__m128i *)(ctrl + STRIDE - 8),
                     _mm_set_epi64x(0x1111, 0x2222));
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    *(volatile uint64_t *)(ctrl + STRIDE - 4) = 0x3333;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    *(volatile uint32_t *)(ctrl + STRIDE - 2) = 0x4444;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    *(volatile uint64_t *)(ctrl + STRIDE) = 42;
    printf("ht-wide: done\n");
    return 0;
}
