/*
 * qemu-hypertrace: emit hypertrace events from a guest's command line, so
 * that shell scripts and benchmark harnesses can mark their phases.
 *
 *   qemu-hypertrace [-c CLIENT] begin NAME     arg1 = 1, arg2 = id(NAME)
 *   qemu-hypertrace [-c CLIENT] end NAME       arg1 = 0, arg2 = id(NAME)
 *   qemu-hypertrace [-c CLIENT] emit ARG1 [ARG2 ...]
 *   qemu-hypertrace [-c CLIENT] post ARG1 [ARG2 ...]
 *                                              the same event, posted
 *   qemu-hypertrace [-c CLIENT] flush          make QEMU take the client's
 *                                              posted events now
 *   qemu-hypertrace [-c CLIENT] run NAME [--] COMMAND [ARG ...]
 *                                              begin NAME, run COMMAND,
 *                                              end NAME, exit as COMMAND
 *   qemu-hypertrace [-c CLIENT] mark NAME      an ftrace marker, then an
 *                                              event: arg2 = id(NAME)
 *   qemu-hypertrace [-c CLIENT] sync [--count N] [--interval MS]
 *                                              a warm-up sync point, then N
 *                                              (marker, then event), MS
 *                                              apart
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
#include <stdbool.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qemu-hypertrace.h"

static const char usage_text[] =
    "usage: qemu-hypertrace [-c CLIENT] begin NAME\n"
    "       qemu-hypertrace [-c CLIENT] end NAME\n"
    "       qemu-hypertrace [-c CLIENT] emit ARG1 [ARG2 ...]\n"
    "       qemu-hypertrace [-c CLIENT] post ARG1 [ARG2 ...]\n"
    "       qemu-hypertrace [-c CLIENT] flush\n"
    "       qemu-hypertrace [-c CLIENT] run NAME [--] COMMAND [ARG ...]\n"
    "       qemu-hypertrace [-c CLIENT] mark NAME\n"
    "       qemu-hypertrace [-c CLIENT] sync [--count N] [--interval MS]\n"
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
          "                (and in system mode, with the guest's ftrace mounted,\n"
          "                the marker\n"
          "                \"hypertrace-begin client=C id=ID NAME\" just before)\n"
          "  end NAME      close it: arg1=0, arg2=the number of NAME (marker\n"
          "                \"hypertrace-end ...\")\n"
          "  emit ARG...   one event with these arguments (decimal or 0x hex)\n"
          "  post ARG...   the same event, posted into the client's ring: QEMU\n"
          "                traces it as guest_hypertrace_post when it takes\n"
          "                the ring's records (within milliseconds, or at the\n"
          "                client's next event or flush)\n"
          "  flush         make QEMU take the client's posted events now\n"
          "  run NAME COMMAND...\n"
          "                begin NAME, run COMMAND and wait for it, end NAME;\n"
          "                exit with COMMAND's status.  In user mode this is\n"
          "                how a shell script marks a phase: qemu-hypertrace\n"
          "                runs under QEMU and emits, COMMAND runs natively\n"
          "  mark NAME     write \"hypertrace-mark id=ID NAME\" into the guest's\n"
          "                ftrace buffer (trace_marker), then emit an event\n"
          "                with arg2=ID, the number of NAME\n"
          "  sync          sync points for lining up the guest's ftrace trace\n"
          "                with QEMU's (qemu-hypertrace-regions --guest-trace):\n"
          "                each a marker \"hypertrace-sync run=RUN seq=SEQ\n"
          "                mono=NS\" and the event right after it;\n"
          "                --count N points (5) after a warm-up point 0,\n"
          "                --interval MS apart (10)\n"
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

/* args[1..] into the client's data slot */
static void fill_slot(uint64_t *data, uint64_t nargs, const uint64_t *args)
{
    uint64_t i;

    for (i = 1; i < nargs; i++) {
        data[i - 1] = args[i];
    }
}

/* One event: the slot, then args[0] */
static void emit(uint64_t client, uint64_t *data, uint64_t nargs,
                 const uint64_t *args)
{
    fill_slot(data, nargs, args);
    qemu_hypertrace(client, args[0]);
}

static void late_marker(const char *text);

#ifdef QEMU_HYPERTRACE_SYSTEM
static const bool marks_boundaries = true;
#else
static const bool marks_boundaries;
#endif

/*
 * A region's begin or end: when the guest's ftrace is there, the marker
 * "hypertrace-begin client=C id=ID NAME" (or -end) first, so that the
 * guest's trace has the boundary too, at the same instant as the event
 */
static void emit_boundary(uint64_t client, uint64_t *data, uint64_t nargs,
                          const uint64_t *args, const char *name)
{
    const char *kind = args[0] ? "begin" : "end";
    char text[512];
    int r;

    fill_slot(data, nargs, args);
    snprintf(text, sizeof(text), "hypertrace-%s client=%" PRIu64 " id=%016"
             PRIx64 " %s\n", kind, client, args[1], name);
    r = qemu_hypertrace_mark(client, args[0], text);
    if (r == QEMU_HYPERTRACE_MARK_LATE) {
        snprintf(text, sizeof(text), "hypertrace-late %s client=%" PRIu64
                 " id=%016" PRIx64 "\n", kind, client, args[1]);
        late_marker(text);
    }
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

/* The trace clock the guest's ftrace stamps its events with */
static void trace_clock(const char *marker, char *buf, size_t len)
{
    char path[128], text[256], *p, *q;
    size_t dir = strrchr(marker, '/') - marker;
    FILE *f;

    snprintf(buf, len, "unknown");
    snprintf(path, sizeof(path), "%.*s/trace_clock", (int)dir, marker);
    f = fopen(path, "r");
    if (!f) {
        return;
    }
    if (fgets(text, sizeof(text), f)) {
        p = strchr(text, '[');
        q = p ? strchr(p, ']') : NULL;
        if (q) {
            snprintf(buf, len, "%.*s", (int)(q - p - 1), p + 1);
        }
    }
    fclose(f);
}

/*
 * A run number no other sync session shares: the clocks and the pid,
 * mixed (splitmix64).  Not /dev/urandom: early in a boot, before the
 * kernel's random pool is ready, its first read costs more than a second
 * of entropy gathering under TCG.
 */
static uint64_t new_run(void)
{
    struct timespec mono, real;
    uint64_t z;

    clock_gettime(CLOCK_MONOTONIC, &mono);
    clock_gettime(CLOCK_REALTIME, &real);
    z = (uint64_t)mono.tv_sec * 1000000000u + mono.tv_nsec;
    z ^= ((uint64_t)real.tv_sec << 30) ^ real.tv_nsec ^
         ((uint64_t)getpid() << 42);
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/*
 * After a marker whose event came late (the thread was switched out in
 * between): a second marker that tells the timeline tool so
 */
static void late_marker(const char *text)
{
    const char *path = qemu_hypertrace_marker_path();
    FILE *f = path ? fopen(path, "w") : NULL;

    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static volatile sig_atomic_t sync_stop;

static void stop_sync(int sig)
{
    sync_stop = sig;
}

/*
 * sync [--count N] [--interval MS]: SIGINT or SIGTERM ends it after the
 * point in progress, so that a sync run in the background during a
 * workload (kill %1) leaves no marker without its event
 */
static int sync_points(uint64_t client, int argc, char **argv)
{
    uint64_t count = 5, interval = 10, run, i, done = 0;
    struct sigaction sa = { .sa_handler = stop_sync };
    struct timespec gap;
    int marked = 0, err = 0, r;
    char clock_name[64];
    const char *marker;

    for (i = 1; i < (uint64_t)argc; i += 2) {
        uint64_t *v = !strcmp(argv[i], "--count") ? &count :
                      !strcmp(argv[i], "--interval") ? &interval : NULL;

        if (!v || i + 1 >= (uint64_t)argc || parse_u64(argv[i + 1], v)) {
            usage();
        }
    }
    if (count == 0 || count >= UINT32_MAX || interval > 3600000) {
        fprintf(stderr, "qemu-hypertrace: sync: --count must be 1 to %u and"
                " --interval at most 3600000 ms\n", UINT32_MAX - 1);
        return 2;
    }
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    run = new_run();
    /*
     * Point 0 warms up: the first run of this code and of the kernel's
     * path is slower (under TCG, it is translated then), so the timeline
     * tool leaves it out of the fit
     */
    for (i = 0; i <= count && !sync_stop; i++) {
        if (i) {
            gap.tv_sec = interval / 1000;
            gap.tv_nsec = (interval % 1000) * 1000000;
            while (nanosleep(&gap, &gap) < 0 && errno == EINTR &&
                   !sync_stop) {
                continue;
            }
            if (sync_stop) {
                break;
            }
        }
        r = qemu_hypertrace_sync(client, run, i);
        if (r < 0) {
            fprintf(stderr, "qemu-hypertrace: client %" PRIu64 ": %s\n",
                    client, qemu_hypertrace_strerror(errno));
            return 1;
        }
        done++;
        if (r == QEMU_HYPERTRACE_MARK_LATE) {
            char text[80];

            snprintf(text, sizeof(text), "hypertrace-late run=%016" PRIx64
                     " seq=%" PRIu64 "\n", run, i);
            late_marker(text);
        }
        if (r) {
            marked++;
        } else if (!err) {
            err = errno;
        }
    }
    if (!done) {
        printf("qemu-hypertrace: sync: stopped by a signal before its first"
               " point\n");
        return 0;
    }
    marker = qemu_hypertrace_marker_path();
    if ((uint64_t)marked == done) {
        trace_clock(marker, clock_name, sizeof(clock_name));
        printf("qemu-hypertrace: sync: %" PRIu64 " points of run %016" PRIx64
               " after a warm-up%s, markers in %s (trace clock: %s)\n",
               done - 1, run, sync_stop ? " (stopped by a signal)" : "",
               marker, clock_name);
        /*
         * Linux picks "global" by itself when it finds its sched_clock
         * unstable (under TCG with several vCPUs it marks the TSC so):
         * each CPU's clock is then filtered on its own and may lag the
         * others by up to a tick, which no fit can undo.
         */
        if (!strcmp(clock_name, "global")) {
            printf("qemu-hypertrace: sync: note: with the global trace"
                   " clock, events of different CPUs may be up to a tick"
                   " apart from where they happened; \"echo mono >"
                   " trace_clock\" in tracefs gives them one clock\n");
        }
        return 0;
    }
    if (!marker) {
        printf("qemu-hypertrace: sync: %" PRIu64 " events of run %016" PRIx64
               " without markers: the guest has no ftrace trace_marker"
               " (tracefs is not mounted at /sys/kernel/tracing or"
               " /sys/kernel/debug/tracing); the events carry the guest's"
               " CLOCK_MONOTONIC only\n", done, run);
        return 0;
    }
    fprintf(stderr, "qemu-hypertrace: sync: %d of %" PRIu64 " markers written"
            " to %s (%s; is tracing on?); the %" PRIu64 " events of run %016"
            PRIx64 " were emitted\n", marked, done, marker, strerror(err),
            done, run);
    return 1;
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
    if (argc < 1 ||
        (argc < 2 && strcmp(argv[0], "sync") && strcmp(argv[0], "flush"))) {
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
    } else if (!strcmp(argv[0], "flush") && argc == 1) {
        n = 0;
    } else if ((!strcmp(argv[0], "emit") || !strcmp(argv[0], "post")) &&
               argc - 1 <= 16) {
        for (n = 0; n < argc - 1; n++) {
            if (parse_u64(argv[n + 1], &args[n])) {
                fprintf(stderr, "qemu-hypertrace: %s is not a number\n",
                        argv[n + 1]);
                return 2;
            }
        }
    } else if (!strcmp(argv[0], "mark") && argc == 2) {
        n = 2;
    } else if (!strcmp(argv[0], "sync")) {
        n = -1;
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
    if ((uint64_t)n > nargs &&
        (!strcmp(argv[0], "emit") || !strcmp(argv[0], "post"))) {
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
    if (n < 0) {
        return sync_points(client, argc, argv);
    }
    if (!strcmp(argv[0], "flush")) {
        qemu_hypertrace_flush(client);
        return 0;
    }
    if (!strcmp(argv[0], "post")) {
        fill_slot(data, nargs, args);
        qemu_hypertrace_post(client, args[0]);
        return 0;
    }
    if (!strcmp(argv[0], "mark")) {
        char text[512];
        uint64_t id = name_id(argv[1]);
        int r;

        snprintf(text, sizeof(text), "hypertrace-mark id=%016" PRIx64 " %s\n",
                 id, argv[1]);
        if (nargs >= 2) {
            data[0] = id;
        }
        r = qemu_hypertrace_mark(client, (uint64_t)QEMU_HYPERTRACE_MARK_TAG
                                 << 32 | (uint32_t)id, text);
        if (r == QEMU_HYPERTRACE_MARK_LATE) {
            snprintf(text, sizeof(text), "hypertrace-late id=%016" PRIx64
                     "\n", id);
            late_marker(text);
        }
        if (r == 0) {
            fprintf(stderr, "qemu-hypertrace: mark: no marker written (%s),"
                    " the event was emitted\n",
                    qemu_hypertrace_marker_path() ?
                    strerror(errno) : "the guest has no ftrace"
                    " trace_marker: tracefs is not mounted");
            return 1;
        }
        return 0;
    }
    /*
     * begin, end, run: region boundaries, marked in the guest's ftrace too
     * in system mode (in user mode the ftrace there is the host's)
     */
    if (strcmp(argv[0], "emit") && marks_boundaries) {
        emit_boundary(client, data, nargs, args, argv[1]);
    } else {
        emit(client, data, nargs, args);
    }
    if (command) {
        int status = run(command);

        args[0] = 0;
        if (marks_boundaries) {
            emit_boundary(client, data, nargs, args, argv[1]);
        } else {
            emit(client, data, nargs, args);
        }
        return status;
    }
    return 0;
}
