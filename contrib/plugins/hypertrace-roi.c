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
 * summary=on prints a line per id instead, the regions' number and their
 * counts summed.  With log=FILE every memory access made inside a region
 * is written to FILE, one line each: vCPU, L or S, guest virtual address,
 * size.
 *
 * Counting needs instrumented code, and changing the instrumentation
 * means flushing the translation cache, which costs far more than a short
 * region.  So the plugin instruments from the first region on and keeps
 * the (inline, uncounted) instrumentation while regions keep coming: it
 * goes back to translating as if no plugin were loaded when the last open
 * region closes after a pause of LONG_PAUSE_NS or more before it, so that
 * a program whose regions come rarely pays nothing between them, and one
 * that opens a region per request pays one flush, not one per region.  A
 * program without regions is never instrumented.
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
    GArray *stack;          /* under @lock: the last stack looked up... */
    uint64_t stack_client;  /* ...and its client */
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
static bool summary;        /* summary=on: a line per id, not per region */

/* Under @lock: open regions per (client, vCPU) and the closed ones */
static GMutex lock;
static GHashTable *open_regions;    /* client << 32 | vcpu -> Region GArray */
static GArray *closed;
static GHashTable *totals;          /* summary=on: id -> Region, summed */
static uint64_t next_seq = 1;
static uint64_t unmatched_ends;
/* Regions open on every client and vCPU */
static int open_total;
/*
 * Whether code is translated with the counters (read by the translation
 * callback without @lock), when the last region closed, and how long
 * nothing was open before the current stretch of regions
 */
static int instrumented;
static uint64_t last_close_ns;
static uint64_t pause_ns = UINT64_MAX;
static uint64_t flushes;            /* changes of the instrumentation */
#define LONG_PAUSE_NS (50 * 1000 * 1000ull)

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

    if (!g_atomic_int_get(&instrumented)) {
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

/* The key of (client, vCPU) in open_regions */
static uint64_t stack_key(uint64_t client, unsigned int vcpu)
{
    return client << 32 | vcpu;
}

static GArray *region_stack(VcpuCounts *c, uint64_t client,
                            unsigned int vcpu)
{
    uint64_t key = stack_key(client, vcpu);
    GArray *stack;

    if (c->stack && c->stack_client == client) {
        return c->stack;
    }
    stack = g_hash_table_lookup(open_regions, &key);
    if (!stack) {
        stack = g_array_new(false, false, sizeof(Region));
        g_hash_table_insert(open_regions, g_memdup2(&key, sizeof(key)),
                            stack);
    }
    c->stack = stack;
    c->stack_client = client;
    return stack;
}

static void vcpu_hypertrace(qemu_plugin_id_t id, unsigned int vcpu_index,
                            uint64_t client, const uint64_t *args,
                            size_t nargs)
{
    VcpuCounts *c;
    GArray *stack;
    Region *r;
    bool flush = false;

    if (args[0] != begin_value && args[0] != end_value) {
        return;
    }
    c = qemu_plugin_scoreboard_find(counts, vcpu_index);

    g_mutex_lock(&lock);
    stack = region_stack(c, client, vcpu_index);
    if (args[0] == begin_value) {
        Region b = {
            .seq = next_seq++,
            .client = client,
            .vcpu = vcpu_index,
            .depth = stack->len + 1,
            .id = nargs > 1 ? args[1] : 0,
            .insns = c->insns,
            .loads = c->loads,
            .stores = c->stores,
        };

        c->inside++;
        b.ns = now_ns();
        g_array_append_val(stack, b);
        if (open_total++ == 0) {
            pause_ns = last_close_ns ? b.ns - last_close_ns : UINT64_MAX;
            flush = !instrumented;
        }
    } else if (stack->len) {
        uint64_t t = now_ns();

        r = &g_array_index(stack, Region, stack->len - 1);
        r->ns = t - r->ns;
        r->insns = c->insns - r->insns;
        r->loads = c->loads - r->loads;
        r->stores = c->stores - r->stores;
        if (summary) {
            Region *sum = g_hash_table_lookup(totals, &r->id);

            if (!sum) {
                sum = g_new0(Region, 1);
                sum->id = r->id;
                g_hash_table_insert(totals, &sum->id, sum);
            }
            sum->seq++;             /* the number of regions */
            sum->insns += r->insns;
            sum->loads += r->loads;
            sum->stores += r->stores;
            sum->ns += r->ns;
        } else {
            g_array_append_val(closed, *r);
        }
        g_array_set_size(stack, stack->len - 1);
        c->inside--;
        if (--open_total == 0) {
            last_close_ns = t;
            /* after a long pause, another one is likely: stop counting */
            flush = pause_ns >= LONG_PAUSE_NS;
        }
        if (!c->inside && c->log && c->log->len) {
            flush_log(c->log);
        }
    } else {
        unmatched_ends++;
    }
    if (flush) {
        /*
         * Instrument from now on, or translate as if no plugin were
         * loaded (a translation callback alone makes TCG record every
         * memory access's value for plugins).  Under @lock, so that the
         * registrations happen in the order of the boundaries.
         */
        g_atomic_int_set(&instrumented, !instrumented);
        flushes++;
        qemu_plugin_register_vcpu_tb_trans_cb(id, instrumented ? vcpu_tb_trans
                                                               : NULL);
    }
    g_mutex_unlock(&lock);

    if (flush) {
        qemu_plugin_flush_translations();
    }
}

/* " name=value" in decimal at @p: a million lines in a fraction of a second */
static char *put_field(char *p, const char *name, uint64_t v)
{
    char digits[20];
    int n = 0;

    *p++ = ' ';
    while (*name) {
        *p++ = *name++;
    }
    *p++ = '=';
    do {
        digits[n++] = '0' + v % 10;
        v /= 10;
    } while (v);
    while (n) {
        *p++ = digits[--n];
    }
    return p;
}

static void print_region(GString *out, const Region *r, const char *state)
{
    char line[512];
    char *p = line;

    p = put_field(p, "region", r->seq);
    p = put_field(p, "client", r->client);
    p = put_field(p, "vcpu", r->vcpu);
    p = put_field(p, "depth", r->depth);
    p = put_field(p, "id", r->id);
    p = put_field(p, "insns", r->insns);
    p = put_field(p, "loads", r->loads);
    p = put_field(p, "stores", r->stores);
    p = put_field(p, "ns", r->ns);
    g_string_append(out, "hypertrace-roi:");
    g_string_append_len(out, line, p - line);
    g_string_append(out, state);
    g_string_append_c(out, '\n');
}

static gint cmp_u64(gconstpointer a, gconstpointer b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static void plugin_exit(qemu_plugin_id_t id, void *p)
{
    g_autoptr(GString) out = g_string_new("");
    GHashTableIter iter;
    gpointer value;
    Region **by_seq;
    uint64_t seq, n_closed = closed->len;
    unsigned int i;
    int still_open = 0;

    g_mutex_lock(&lock);
    /* in the order of the begin events: seq numbers them from 1 */
    by_seq = g_new0(Region *, next_seq);
    for (i = 0; i < closed->len; i++) {
        Region *r = &g_array_index(closed, Region, i);

        by_seq[r->seq] = r;
    }
    for (seq = 1; seq < next_seq; seq++) {
        if (by_seq[seq]) {
            print_region(out, by_seq[seq], "");
        }
    }
    g_free(by_seq);
    g_hash_table_iter_init(&iter, open_regions);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        still_open += ((GArray *)value)->len;
    }
    if (summary) {
        g_autoptr(GList) ids = g_hash_table_get_keys(totals);
        GList *l;

        ids = g_list_sort(ids, cmp_u64);
        for (l = ids; l; l = l->next) {
            Region *sum = g_hash_table_lookup(totals, l->data);

            g_string_append(out, "hypertrace-roi:");
            g_string_append_printf(out, " id=%" PRIu64 " regions=%" PRIu64
                                   " insns=%" PRIu64 " loads=%" PRIu64
                                   " stores=%" PRIu64 " ns=%" PRIu64 "\n",
                                   sum->id, sum->seq, sum->insns, sum->loads,
                                   sum->stores, sum->ns);
            n_closed += sum->seq;
        }
    }
    g_string_append_printf(out, "hypertrace-roi: %" PRIu64 " regions closed,"
                           " %d still open at exit, %" PRIu64 " ends without"
                           " an open region\n", n_closed, still_open,
                           unmatched_ends);
    g_string_append_printf(out, "hypertrace-roi: %" PRIu64 " translation"
                           " flushes\n", flushes);
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
        } else if (g_strcmp0(kv[0], "summary") == 0) {
            if (!qemu_plugin_bool_parse(kv[0], kv[1], &summary)) {
                fprintf(stderr, "hypertrace-roi: summary=%s: on or off\n",
                        kv[1]);
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
                    " begin=N, end=N, out=FILE, log=FILE, summary=on)\n",
                    argv[i]);
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
    open_regions = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
                                         (GDestroyNotify)g_array_unref);
    closed = g_array_new(false, false, sizeof(Region));
    totals = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);

    qemu_plugin_register_vcpu_hypertrace_cb(id, vcpu_hypertrace);
    qemu_plugin_register_atexit_cb(id, plugin_exit, NULL);
    return 0;
}
