/*
 * Hypertrace: regions of interest
 *
 * Guest events with the "begin" or "end" value as arg1 open and close a
 * region on their client.  While any client of a channel set is inside a
 * region, the trace events named by the set's patterns are enabled; they
 * are disabled again once no region of any channel set that names them is
 * open.  Both happen in the storing vCPU's thread, before it runs another
 * guest instruction.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/lockable.h"
#include "qemu/thread.h"
#include "qapi/error.h"
#include "trace/control.h"
#include "hypertrace/hypertrace.h"

struct HypertraceRegions {
    uint64_t begin;
    uint64_t end;
    bool bql;                   /* serialize on the BQL, else on @lock */
    QemuMutex lock;
    GPtrArray *events;          /* TraceEvent *, what the patterns match */
    uint64_t max_clients;
    uint32_t *depth;            /* regions open on each client */
    uint64_t open_clients;      /* clients whose depth is not 0 */
    bool holding;               /* @events are held (open_clients != 0) */
    bool closed;                /* unplugged: events are ignored */
    HypertraceBoundaryFn *notify;
    void *opaque;
};

/*
 * The trace events that region control holds, across every channel set
 * of the process (system mode may have several devices): how many sets
 * with an open region name each event, and whether region control is what
 * enabled it.  An event someone else enabled is never disabled here.
 * Each set changes its holds under its own serialization (the BQL, or
 * the lock of the single user-mode set); region_uses_lock orders them.
 */
typedef struct RegionUse {
    unsigned holders;
    bool enabled_here;
} RegionUse;

static QemuMutex region_uses_lock;
static GHashTable *region_uses;     /* TraceEvent * -> RegionUse * */

static void __attribute__((__constructor__)) regions_init(void)
{
    qemu_mutex_init(&region_uses_lock);
    region_uses = g_hash_table_new_full(NULL, NULL, NULL, g_free);
}

/* Hold (@on) or release each of @r's events */
static void regions_hold(HypertraceRegions *r, bool on)
{
    unsigned i;

    if (r->holding == on) {
        return;
    }
    r->holding = on;
    QEMU_LOCK_GUARD(&region_uses_lock);
    for (i = 0; i < r->events->len; i++) {
        TraceEvent *ev = g_ptr_array_index(r->events, i);
        RegionUse *use = g_hash_table_lookup(region_uses, ev);

        if (on) {
            if (!use) {
                use = g_new0(RegionUse, 1);
                g_hash_table_insert(region_uses, ev, use);
            }
            if (use->holders++ == 0 && !trace_event_get_state_dynamic(ev)) {
                trace_event_set_state_dynamic(ev, true);
                use->enabled_here = true;
            }
        } else if (--use->holders == 0) {
            if (use->enabled_here && trace_event_get_state_dynamic(ev)) {
                trace_event_set_state_dynamic(ev, false);
            }
            g_hash_table_remove(region_uses, ev);
        }
    }
}

static bool regions_add_pattern(HypertraceRegions *r, const char *pattern,
                                Error **errp)
{
    TraceEventIter iter;
    TraceEvent *ev;
    bool matched = false;

    trace_event_iter_init_pattern(&iter, pattern);
    while ((ev = trace_event_iter_next(&iter)) != NULL) {
        /*
         * The guest's own events are never switched: they carry the
         * boundaries themselves.  Events compiled out cannot be switched
         * at all.
         */
        if (g_str_has_prefix(trace_event_get_name(ev), "guest_hypertrace") ||
            !trace_event_get_state_static(ev)) {
            continue;
        }
        matched = true;
        if (!g_ptr_array_find(r->events, ev, NULL)) {
            g_ptr_array_add(r->events, ev);
        }
    }
    if (!matched) {
        error_setg(errp, "hypertrace: roi-events pattern '%s' matches no"
                   " trace event that can be enabled", pattern);
        return false;
    }
    return true;
}

HypertraceRegions *hypertrace_regions_new(const HypertraceOptions *opts,
                                          bool bql, Error **errp)
{
    g_autoptr(HypertraceRegions) r = g_new0(HypertraceRegions, 1);
    g_auto(GStrv) list = NULL;
    int i;

    assert(opts->roi_begin != opts->roi_end);
    r->begin = opts->roi_begin;
    r->end = opts->roi_end;
    r->bql = bql;
    qemu_mutex_init(&r->lock);
    r->events = g_ptr_array_new();
    r->max_clients = opts->max_clients;
    r->depth = g_new0(uint32_t, opts->max_clients);

    list = g_strsplit(opts->roi_events ? opts->roi_events : "", ":", -1);
    for (i = 0; list[i]; i++) {
        if (!*list[i]) {
            continue;
        }
        if (!regions_add_pattern(r, list[i], errp)) {
            return NULL;
        }
    }
    return g_steal_pointer(&r);
}

void hypertrace_regions_free(HypertraceRegions *r)
{
    if (!r) {
        return;
    }
    assert(!r->holding);
    qemu_mutex_destroy(&r->lock);
    g_ptr_array_free(r->events, true);
    g_free(r->depth);
    g_free(r);
}

void hypertrace_regions_set_notify(HypertraceRegions *r,
                                   HypertraceBoundaryFn *fn, void *opaque)
{
    r->notify = fn;
    r->opaque = opaque;
}

static bool regions_lock(HypertraceRegions *r)
{
    if (!r->bql) {
        qemu_mutex_lock(&r->lock);
        return false;
    }
    if (bql_locked()) {
        return false;
    }
    bql_lock();
    return true;
}

static void regions_unlock(HypertraceRegions *r, bool took_bql)
{
    if (!r->bql) {
        qemu_mutex_unlock(&r->lock);
    } else if (took_bql) {
        bql_unlock();
    }
}

void hypertrace_regions_event(HypertraceRegions *r, const HypertraceEvent *ev)
{
    uint64_t arg1 = ev->args[0], client = ev->client;
    const char *error = NULL;
    bool begin = arg1 == r->begin;
    bool took_bql;

    if (arg1 != r->begin && arg1 != r->end) {
        return;
    }

    took_bql = regions_lock(r);
    if (r->closed) {
        regions_unlock(r, took_bql);
        return;
    }
    if (begin) {
        if (r->depth[client] == UINT32_MAX) {
            error = "begins too many nested regions";
        } else if (r->depth[client]++ == 0 && r->open_clients++ == 0) {
            regions_hold(r, true);
        }
    } else {
        if (r->depth[client] == 0) {
            error = "ends a region, but none is open on it";
        } else if (--r->depth[client] == 0 && --r->open_clients == 0) {
            regions_hold(r, false);
        }
    }
    if (!error && r->notify) {
        r->notify(r->opaque, ev, begin);
    }
    regions_unlock(r, took_bql);

    if (error) {
        qemu_log_mask(LOG_GUEST_ERROR, "hypertrace: client %" PRIu64
                      " (vCPU %d) %s; event ignored by region control\n",
                      client, ev->cpu, error);
    }
}

uint32_t *hypertrace_regions_depths(HypertraceRegions *r)
{
    return r->depth;
}

void hypertrace_regions_sync(HypertraceRegions *r)
{
    bool took_bql = regions_lock(r);
    uint64_t open = 0, i;

    for (i = 0; i < r->max_clients; i++) {
        open += r->depth[i] != 0;
    }
    r->open_clients = open;
    regions_hold(r, open && !r->closed);
    regions_unlock(r, took_bql);
}

void hypertrace_regions_reset(HypertraceRegions *r)
{
    bool took_bql = regions_lock(r);

    memset(r->depth, 0, r->max_clients * sizeof(r->depth[0]));
    r->open_clients = 0;
    regions_hold(r, false);
    regions_unlock(r, took_bql);
}

void hypertrace_regions_close(HypertraceRegions *r)
{
    bool took_bql = regions_lock(r);

    r->closed = true;
    regions_unlock(r, took_bql);
    hypertrace_regions_reset(r);
}
