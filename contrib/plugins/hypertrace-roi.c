/*
 * hypertrace-roi: profile the regions a guest marks with hypertrace
 *
 * A guest opens a region with a hypertrace event whose first argument is
 * the begin value (1 unless begin=N) and closes it with one whose first
 * argument is the end value (0 unless end=N).  Regions are kept per
 * client and vCPU and may nest.  For each closed region the plugin counts
 * the guest instructions the vCPU executed, its memory loads and stores,
 * and the host time between the two events, and prints a line per region
 * at exit, on stderr (no -d plugin needed) or into out=FILE:
 *
 *   hypertrace-roi: region=1 client=0 vcpu=0 depth=1 id=7 insns=... ...
 *
 * (id is the begin event's second argument, when the build has one).
 * With log=FILE every memory access made inside a region is written to
 * FILE, one line each: vCPU, L or S, guest virtual address, size.
 *
 * Outside regions nothing is instrumented, and nothing is translated any
 * differently than without the plugin: the plugin has a translation
 * callback only while a region is open somewhere, and flushes the
 * translation cache when the first region opens and when the last one
 * closes.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

/* Per vCPU, in a scoreboard: counted inline by instrumented code */
typedef struct {
    uint64_t insns;
    uint64_t loads;
    uint64_t stores;
    uint64_t inside;        /* regions open on this vCPU, any client */
    GString *log;           /* log=FILE: this vCPU's pending lines */
} VcpuCounts;

/* An open region, or a closed one waiting to be printed */
typedef struct {
    uint64_t seq;           /* order of the begin events, from 1 */
    uint64_t client;
    unsigned int vcpu;
    unsigned int depth;     /* 1 for an outermost region */
    uint64_t id;            /* the begin event's arg2 (0 without one) */
    uint64_t insns, loads, stores;
    uint64_t ns;            /* begin time; once closed, the duration */
} Region;

static struct qemu_plugin_scoreboard *counts;
static qemu_plugin_u64 insns_entry, loads_entry, stores_entry;

static uint64_t begin_value = 1;
static uint64_t end_value;
static FILE *log_file;
static GMutex log_lock;
static FILE *out_file;

/* Under @lock: open regions per (client, vCPU) and the closed ones */
static GMutex lock;
static GHashTable *open_regions;    /* "client/vcpu" -> GPtrArray stack */
static GPtrArray *closed;
static uint64_t next_seq = 1;
static uint64_t unmatched_ends;
/* Regions open on every client and vCPU: instrumentation is on while > 0 */
static int open_total;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void flush_log(GString *buf)
{
    g_mutex_lock(&log_lock);
    fwrite(buf->str, 1, buf->len, log_file);
    g_mutex_unlock(&log_lock);
    g_string_truncate(buf, 0);
}

static void vcpu_mem(unsigned int vcpu_index, qemu_plugin_meminfo_t info,
                     uint64_t vaddr, void *udata)
{
    VcpuCounts *c = qemu_plugin_scoreboard_find(counts, vcpu_index);

    if (!c->inside) {
        return;
    }
    if (!c->log) {
        c->log = g_string_sized_new(1 << 16);
    }
    g_string_append_printf(c->log, "%u %c 0x%" PRIx64 " %u\n", vcpu_index,
                           qemu_plugin_mem_is_store(info) ? 'S' : 'L',
                           vaddr, 1u << qemu_plugin_mem_size_shift(info));
    if (c->log->len >= (1 << 16) - 64) {
        flush_log(c->log);
    }
}

static void vcpu_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n, i;

    if (!g_atomic_int_get(&open_total)) {
        return;
    }
    n = qemu_plugin_tb_n_insns(tb);
    qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(
        tb, QEMU_PLUGIN_INLINE_ADD_U64, insns_entry, n);
    for (i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);

        qemu_plugin_register_vcpu_mem_inline_per_vcpu(
            insn, QEMU_PLUGIN_MEM_R, QEMU_PLUGIN_INLINE_ADD_U64,
            loads_entry, 1);
        qemu_plugin_register_vcpu_mem_inline_per_vcpu(
            insn, QEMU_PLUGIN_MEM_W, QEMU_PLUGIN_INLINE_ADD_U64,
            stores_entry, 1);
        if (log_file) {
            qemu_plugin_register_vcpu_mem_cb(insn, vcpu_mem,
                                             QEMU_PLUGIN_CB_NO_REGS,
                                             QEMU_PLUGIN_MEM_RW, NULL);
        }
    }
}

static GPtrArray *region_stack(uint64_t client, unsigned int vcpu)
{
    char *key = g_strdup_printf("%" PRIu64 "/%u", client, vcpu);
    GPtrArray *stack = g_hash_table_lookup(open_regions, key);

    if (!stack) {
        stack = g_ptr_array_new();
        g_hash_table_insert(open_regions, key, stack);
    } else {
        g_free(key);
    }
    return stack;
}

static void vcpu_hypertrace(qemu_plugin_id_t id, unsigned int vcpu_index,
                            uint64_t client, const uint64_t *args,
                            size_t nargs)
{
    VcpuCounts *c;
    GPtrArray *stack;
    Region *r;
    bool flush = false;

    if (args[0] != begin_value && args[0] != end_value) {
        return;
    }
    c = qemu_plugin_scoreboard_find(counts, vcpu_index);

    g_mutex_lock(&lock);
    stack = region_stack(client, vcpu_index);
    if (args[0] == begin_value) {
        r = g_new0(Region, 1);
        r->seq = next_seq++;
        r->client = client;
        r->vcpu = vcpu_index;
        r->depth = stack->len + 1;
        r->id = nargs > 1 ? args[1] : 0;
        r->insns = c->insns;
        r->loads = c->loads;
        r->stores = c->stores;
        g_ptr_array_add(stack, r);
        c->inside++;
        flush = open_total++ == 0;
        r->ns = now_ns();
    } else if (stack->len) {
        uint64_t t = now_ns();

        r = g_ptr_array_steal_index(stack, stack->len - 1);
        r->ns = t - r->ns;
        r->insns = c->insns - r->insns;
        r->loads = c->loads - r->loads;
        r->stores = c->stores - r->stores;
        g_ptr_array_add(closed, r);
        c->inside--;
        flush = --open_total == 0;
        if (!c->inside && c->log && c->log->len) {
            flush_log(c->log);
        }
    } else {
        unmatched_ends++;
    }
    if (flush) {
        /*
         * The first region opens: translate with instrumentation from now
         * on.  The last one closes: translate as if no plugin were loaded
         * (a translation callback alone makes TCG record every memory
         * access's value for plugins).  Under @lock, so that the
         * registrations happen in the order of the boundaries.
         */
        qemu_plugin_register_vcpu_tb_trans_cb(id, open_total ? vcpu_tb_trans
                                                             : NULL);
    }
    g_mutex_unlock(&lock);

    if (flush) {
        qemu_plugin_flush_translations();
    }
}

static gint by_seq(gconstpointer a, gconstpointer b)
{
    const Region *ra = *(Region * const *)a;
    const Region *rb = *(Region * const *)b;

    return ra->seq < rb->seq ? -1 : ra->seq > rb->seq;
}

static void print_region(GString *out, const Region *r, const char *state)
{
    g_string_append_printf(out, "hypertrace-roi: region=%" PRIu64
                           " client=%" PRIu64 " vcpu=%u depth=%u"
                           " id=%" PRIu64 " insns=%" PRIu64
                           " loads=%" PRIu64 " stores=%" PRIu64
                           " ns=%" PRIu64 "%s\n",
                           r->seq, r->client, r->vcpu, r->depth, r->id,
                           r->insns, r->loads, r->stores, r->ns, state);
}

static void plugin_exit(qemu_plugin_id_t id, void *p)
{
    g_autoptr(GString) out = g_string_new("");
    GHashTableIter iter;
    gpointer value;
    unsigned int i;
    int still_open = 0;

    g_mutex_lock(&lock);
    g_ptr_array_sort(closed, by_seq);
    for (i = 0; i < closed->len; i++) {
        print_region(out, g_ptr_array_index(closed, i), "");
    }
    g_hash_table_iter_init(&iter, open_regions);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        still_open += ((GPtrArray *)value)->len;
    }
    g_string_append_printf(out, "hypertrace-roi: %u regions closed, %d still"
                           " open at exit, %" PRIu64 " ends without an open"
                           " region\n", closed->len, still_open,
                           unmatched_ends);
    g_mutex_unlock(&lock);
    fputs(out->str, out_file ? out_file : stderr);
    fflush(out_file ? out_file : stderr);

    if (log_file) {
        int n = qemu_plugin_num_vcpus();

        for (i = 0; i < n; i++) {
            VcpuCounts *c = qemu_plugin_scoreboard_find(counts, i);

            if (c->log) {
                flush_log(c->log);
            }
        }
        fclose(log_file);
        log_file = NULL;
    }
}

static bool parse_u64(const char *name, const char *val, uint64_t *ret)
{
    char *end;

    *ret = g_ascii_strtoull(val, &end, 0);
    if (!*val || *val == '-' || *end) {
        fprintf(stderr, "hypertrace-roi: %s=%s: not a number\n", name, val);
        return false;
    }
    return true;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
                                           const qemu_info_t *info,
                                           int argc, char **argv)
{
    const char *log_name = NULL;
    int i;

    for (i = 0; i < argc; i++) {
        g_auto(GStrv) kv = g_strsplit(argv[i], "=", 2);

        if (!kv[1]) {
            fprintf(stderr, "hypertrace-roi: option %s has no value\n",
                    argv[i]);
            return -1;
        }
        if (g_strcmp0(kv[0], "begin") == 0) {
            if (!parse_u64(kv[0], kv[1], &begin_value)) {
                return -1;
            }
        } else if (g_strcmp0(kv[0], "end") == 0) {
            if (!parse_u64(kv[0], kv[1], &end_value)) {
                return -1;
            }
        } else if (g_strcmp0(kv[0], "log") == 0) {
            log_name = argv[i] + strlen("log=");
        } else if (g_strcmp0(kv[0], "out") == 0) {
            out_file = fopen(kv[1], "w");
            if (!out_file) {
                fprintf(stderr, "hypertrace-roi: out=%s: %s\n", kv[1],
                        g_strerror(errno));
                return -1;
            }
        } else {
            fprintf(stderr, "hypertrace-roi: unknown option %s (options:"
                    " begin=N, end=N, out=FILE, log=FILE)\n", argv[i]);
            return -1;
        }
    }
    if (begin_value == end_value) {
        fprintf(stderr, "hypertrace-roi: begin and end must differ"
                " (both are %" PRIu64 ")\n", begin_value);
        return -1;
    }
    if (log_name) {
        log_file = fopen(log_name, "w");
        if (!log_file) {
            fprintf(stderr, "hypertrace-roi: log=%s: %s\n", log_name,
                    g_strerror(errno));
            return -1;
        }
    }

    counts = qemu_plugin_scoreboard_new(sizeof(VcpuCounts));
    insns_entry = qemu_plugin_scoreboard_u64_in_struct(counts, VcpuCounts,
                                                       insns);
    loads_entry = qemu_plugin_scoreboard_u64_in_struct(counts, VcpuCounts,
                                                       loads);
    stores_entry = qemu_plugin_scoreboard_u64_in_struct(counts, VcpuCounts,
                                                        stores);
    open_regions = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify)g_ptr_array_unref);
    closed = g_ptr_array_new_with_free_func(g_free);

    qemu_plugin_register_vcpu_hypertrace_cb(id, vcpu_hypertrace);
    qemu_plugin_register_atexit_cb(id, plugin_exit, NULL);
    return 0;
}
