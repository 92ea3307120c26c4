/*
 * User-mode guest test: fork.  The child emits on client 1 (arg1 = 300 +
 * i) and exits first; the parent then emits on client 0 (arg1 = 400 + i),
 * so the child must not have taken the parent's channels away or broken
 * its mappings.  Prints whether BASE-config still opens after the child
 * left.
 *
 * Usage: ht-fork BASE
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qemu-hypertrace.h"

int main(int argc, char **argv)
{
    char path[4096];
    int status, i, fd;
    pid_t pid;

    if (argc != 2 || qemu_hypertrace_init(argv[1]) != 0) {
        fprintf(stderr, "ht-fork: init: %s\n", qemu_hypertrace_strerror(errno));
        return 2;
    }
    qemu_hypertrace(0, 399);
    pid = fork();
    if (pid == 0) {
        for (i = 0; i < 10; i++) {
            qemu_hypertrace(1, 300 + i);
        }
        return 0;
    }
    waitpid(pid, &status, 0);
    snprintf(path, sizeof(path), "%s-config", argv[1]);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    printf("ht-fork: child status %d, channels %s after the child exited\n",
           WEXITSTATUS(status), fd >= 0 ? "kept" : "GONE");
    if (fd >= 0) {
        close(fd);
    }
    for (i = 0; i < 10; i++) {
        qemu_hypertrace(0, 400 + i);
    }
    return 0;
}
