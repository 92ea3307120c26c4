/*
 * Test plugin: checks every hypertrace event a plugin receives against
 * what tests/hypertrace/guest/ht-events.c emits.
 *
 * Options: threads=T events=M nargs=N [cpus=C]
 *   Thread t of ht-events uses client t and emits M events i = 0..M-1:
 *   arg1 = (0x5a000000 + t) << 32 | (t * 1000000 + i), data word k =
 *   (t + 1) << 56 | k << 48 | i.  With cpus=C (ht-events -c in a guest
 *   with C vCPUs) thread t runs on vCPU t % C; without it each thread
 *   must keep to one vCPU.  Events with other arg1 values are counted
 *   apart (other programs of the same run).
 *
 * At exit it prints, on stderr:
 *   ht-check: events=E expected=X duplicates=D bad=B other=O nargs=N
 * and the first few problems.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

static uint64_t threads, events, want_nargs, cpus;
static GMutex lock;
static uint8_t *seen;
static int64_t *thread_vcpu;
static uint64_t n_events, n_dup, n_bad, n_other;
static size_t last_nargs;
static GString *problems;

static void problem(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void problem(const char *fmt, ...)
{
    va_list ap;

    n_bad++;
    if (n_bad <= 5) {
        va_start(ap, fmt);
        g_string_append_vprintf(problems, fmt, ap);
        va_end(ap);
        g_string_append_c(problems, '\n');
    }
}

static void on_event(qemu_plugin_id_t id, unsigned int vcpu, uint64_t client,
                     const uint64_t *args, size_t nargs)
{
    uint64_t t = (args[0] >> 32) - 0x5a000000;
    uint64_t i = (uint32_t)args[0] - t * 1000000;
    size_t k;

    g_mutex_lock(&lock);
    last_nargs = nargs;
    if (t >= threads || i >= events) {
        n_other++;
        goto out;
    }
    n_events++;
    if (nargs != want_nargs) {
        problem("event t=%" PRIu64 " i=%" PRIu64 ": nargs=%zu, want %"
                PRIu64, t, i, nargs, want_nargs);
    }
    if (client != t) {
        problem("event t=%" PRIu64 " i=%" PRIu64 ": client %" PRIu64, t, i,
                client);
    }
    for (k = 1; k < nargs; k++) {
        uint64_t want = (t + 1) << 56 | (uint64_t)(k - 1) << 48 | i;

        if (args[k] != want) {
            problem("event t=%" PRIu64 " i=%" PRIu64 ": args[%zu]=0x%"
                    PRIx64 ", want 0x%" PRIx64, t, i, k, args[k], want);
        }
    }
    if (cpus) {
        if (vcpu != t % cpus) {
            problem("event t=%" PRIu64 " i=%" PRIu64 ": vCPU %u, want %"
                    PRIu64, t, i, vcpu, t % cpus);
        }
    } else if (thread_vcpu[t] < 0) {
        thread_vcpu[t] = vcpu;
    } else if (thread_vcpu[t] != vcpu) {
        problem("event t=%" PRIu64 " i=%" PRIu64 ": vCPU %u, earlier %"
                PRId64, t, i, vcpu, thread_vcpu[t]);
    }
    if (seen[t * events + i]++) {
        n_dup++;
    }
out:
    g_mutex_unlock(&lock);
}

static void report_at_exit(qemu_plugin_id_t id, void *p)
{
    g_mutex_lock(&lock);
    fprintf(stderr, "ht-check: events=%" PRIu64 " expected=%" PRIu64
            " duplicates=%" PRIu64 " bad=%" PRIu64 " other=%" PRIu64
            " nargs=%zu\n%s", n_events, threads * events, n_dup, n_bad,
            n_other, last_nargs, problems->str);
    g_mutex_unlock(&lock);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
                                           const qemu_info_t *info,
                                           int argc, char **argv)
{
    int i;

    for (i = 0; i < argc; i++) {
        char *v = strchr(argv[i], '=');

        if (!v) {
            return -1;
        }
        v++;
        if (g_str_has_prefix(argv[i], "threads=")) {
            threads = strtoull(v, NULL, 0);
        } else if (g_str_has_prefix(argv[i], "events=")) {
            events = strtoull(v, NULL, 0);
        } else if (g_str_has_prefix(argv[i], "nargs=")) {
            want_nargs = strtoull(v, NULL, 0);
        } else if (g_str_has_prefix(argv[i], "cpus=")) {
            cpus = strtoull(v, NULL, 0);
        } else {
            fprintf(stderr, "ht-check: unknown option %s\n", argv[i]);
            return -1;
        }
    }
    if (!threads || !events || !want_nargs) {
        fprintf(stderr, "ht-check: threads=, events= and nargs= needed\n");
        return -1;
    }
    seen = g_new0(uint8_t, threads * events);
    thread_vcpu = g_new(int64_t, threads);
    for (i = 0; i < threads; i++) {
        thread_vcpu[i] = -1;
    }
    problems = g_string_new("");
    qemu_plugin_register_vcpu_hypertrace_cb(id, on_event);
    qemu_plugin_register_atexit_cb(id, report_at_exit, NULL);
    return 0;
}
