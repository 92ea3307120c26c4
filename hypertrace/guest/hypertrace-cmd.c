/*
 * qemu-hypertrace: emit hypertrace events from a guest's command line, so
 * that shell scripts and benchmark harnesses can mark their phases.
 *
 *   qemu-hypertrace [-c CLIENT] begin NAME     arg1 = 1, arg2 = id(NAME)
 *   qemu-hypertrace [-c CLIENT] end NAME       arg1 = 0, arg2 = id(NAME)
 *   qemu-hypertrace [-c CLIENT] emit ARG1 [ARG2 ...]
 *   qemu-hypertrace [-c CLIENT] run NAME [--] COMMAND [ARG ...]
 *                                              begin NAME, run COMMAND,
 *                                              end NAME, exit as COMMAND
 *   qemu-hypertrace id NAME                    print id(NAME) and NAME
 *
 * id(NAME) is NAME itself when it is a number, and otherwise the 64-bit
 * FNV-1a hash of its bytes; qemu-hypertrace-regions --names computes the
 * same for the names a file lists.  CLIENT defaults to
 * $QEMU_HYPERTRACE_CLIENT, or 0.  emit refuses more arguments than the
 * build's events take; missing ones are 0.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qemu-hypertrace.h"

static const char usage_text[] =
    "usage: qemu-hypertrace [-c CLIENT] begin NAME\n"
    "       qemu-hypertrace [-c CLIENT] end NAME\n"
    "       qemu-hypertrace [-c CLIENT] emit ARG1 [ARG2 ...]\n"
    "       qemu-hypertrace [-c CLIENT] run NAME [--] COMMAND [ARG ...]\n"
    "       qemu-hypertrace id NAME\n";

static void usage(void)
{
    fputs(usage_text, stderr);
    exit(2);
}

static void help(void)
{
    fputs(usage_text, stdout);
    fputs("\n"
          "Fire QEMU's guest_hypertrace trace event from a guest: through the\n"
          "hypertrace PCI device in system mode, or through the channels that\n"
          "qemu-<arch> -hypertrace gives the program it runs in user mode\n"
          "(QEMU_HYPERTRACE_BASE names them).\n"
          "\n"
          "  begin NAME    open region NAME: arg1=1, arg2=the number of NAME\n"
          "  end NAME      close it: arg1=0, arg2=the number of NAME\n"
          "  emit ARG...   one event with these arguments (decimal or 0x hex)\n"
          "  run NAME COMMAND...\n"
          "                begin NAME, run COMMAND and wait for it, end NAME;\n"
          "                exit with COMMAND's status.  In user mode this is\n"
          "                how a shell script marks a phase: qemu-hypertrace\n"
          "                runs under QEMU and emits, COMMAND runs natively\n"
          "  id NAME       print the number NAME stands for (NAME itself if it\n"
          "                is a number, otherwise a 64-bit hash)\n"
          "  -c CLIENT     the client to emit on (default 0, or\n"
          "                QEMU_HYPERTRACE_CLIENT)\n"
          "  -h, --help    this help\n", stdout);
    exit(0);
}

/* A decimal or 0x-prefixed hexadecimal number, all of s */
static int parse_u64(const char *s, uint64_t *v)
{
    unsigned base = 10, d;
    uint64_t n = 0;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s) {
        return -1;
    }
    for (; *s; s++) {
        if (*s >= '0' && *s <= '9') {
            d = *s - '0';
        } else if (base == 16 && *s >= 'a' && *s <= 'f') {
            d = *s - 'a' + 10;
        } else if (base == 16 && *s >= 'A' && *s <= 'F') {
            d = *s - 'A' + 10;
        } else {
            return -1;
        }
        if (n > (UINT64_MAX - d) / base) {
            return -1;
        }
        n = n * base + d;
    }
    *v = n;
    return 0;
}

static uint64_t name_id(const char *name)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    const unsigned char *p;

    if (parse_u64(name, &h) == 0) {
        return h;
    }
    h = 0xcbf29ce484222325ULL;
    for (p = (const unsigned char *)name; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* One event: args[1..] into the client's data slot, then args[0] */
static void emit(uint64_t client, uint64_t *data, uint64_t nargs,
                 const uint64_t *args)
{
    uint64_t i;

    for (i = 1; i < nargs; i++) {
        data[i - 1] = args[i];
    }
    qemu_hypertrace(client, args[0]);
}

/*
 * Run @command and wait for it, as system() does: SIGINT and SIGQUIT go
 * to the command, not to us, so that the region is closed whatever
 * happens to it.  Returns an exit status for it (128 + signal if killed,
 * 127 if it could not be executed).
 */
static int run(char **command)
{
    struct sigaction ign = { .sa_handler = SIG_IGN }, old_int, old_quit;
    int status;
    pid_t pid;

    sigemptyset(&ign.sa_mask);
    sigaction(SIGINT, &ign, &old_int);
    sigaction(SIGQUIT, &ign, &old_quit);
    pid = fork();
    if (pid == 0) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGQUIT, &old_quit, NULL);
        execvp(command[0], command);
        fprintf(stderr, "qemu-hypertrace: %s: %s\n", command[0],
                strerror(errno));
        _exit(127);
    }
    if (pid < 0) {
        fprintf(stderr, "qemu-hypertrace: fork: %s\n", strerror(errno));
        status = 127;
    } else {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            continue;
        }
        status = WIFEXITED(status) ? WEXITSTATUS(status) :
                 WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);
    return status;
}

int main(int argc, char **argv)
{
    uint64_t client = 0, args[16] = { 0 }, nargs, *data;
    const char *env = getenv("QEMU_HYPERTRACE_CLIENT");
    char **command = NULL;
    int opt, n = 0;

    if (env && parse_u64(env, &client)) {
        fprintf(stderr, "qemu-hypertrace: QEMU_HYPERTRACE_CLIENT=%s is not"
                " a client number\n", env);
        return 2;
    }
    if (argc > 1 && !strcmp(argv[1], "--help")) {
        help();
    }
    while ((opt = getopt(argc, argv, "+c:h")) != -1) {
        switch (opt) {
        case 'h':
            help();
            break;
        case 'c':
            if (parse_u64(optarg, &client)) {
                fprintf(stderr, "qemu-hypertrace: -c %s is not a client"
                        " number\n", optarg);
                return 2;
            }
            break;
        default:
            usage();
        }
    }
    argc -= optind;
    argv += optind;
    if (argc < 2) {
        usage();
    }
    if (!strcmp(argv[0], "id") && argc == 2) {
        printf("%" PRIu64 " %s\n", name_id(argv[1]), argv[1]);
        return 0;
    } else if ((!strcmp(argv[0], "begin") || !strcmp(argv[0], "end")) &&
               argc == 2) {
        args[0] = !strcmp(argv[0], "begin");
        args[1] = name_id(argv[1]);
        n = 2;
    } else if (!strcmp(argv[0], "emit") && argc - 1 <= 16) {
        for (n = 0; n < argc - 1; n++) {
            if (parse_u64(argv[n + 1], &args[n])) {
                fprintf(stderr, "qemu-hypertrace: %s is not a number\n",
                        argv[n + 1]);
                return 2;
            }
        }
    } else if (!strcmp(argv[0], "run") && argc >= 3) {
        args[0] = 1;
        args[1] = name_id(argv[1]);
        n = 2;
        command = argv + 2;
        if (!strcmp(command[0], "--")) {
            command++;
        }
        if (!command[0]) {
            usage();
        }
    } else {
        usage();
    }

    if (qemu_hypertrace_init(NULL) != 0) {
        fprintf(stderr, "qemu-hypertrace: %s\n",
                qemu_hypertrace_strerror(errno));
        return 1;
    }
    nargs = qemu_hypertrace_num_args();
    /* begin, end and run without arg2 (a build with one argument): no name */
    if ((uint64_t)n > nargs && !strcmp(argv[0], "emit")) {
        fprintf(stderr, "qemu-hypertrace: %d arguments, but this QEMU's"
                " events take %" PRIu64 "\n", n, nargs);
        return 2;
    }
    data = qemu_hypertrace_data(client);
    if (!data) {
        fprintf(stderr, "qemu-hypertrace: client %" PRIu64 ": %s\n", client,
                qemu_hypertrace_strerror(errno));
        return 1;
    }
    emit(client, data, nargs, args);
    if (command) {
        int status = run(command);

        args[0] = 0;
        emit(client, data, nargs, args);
        return status;
    }
    return 0;
}
