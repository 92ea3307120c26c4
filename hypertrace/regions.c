/*
 * Hypertrace: regions of interest
 *
 * Guest events with the "begin" or "end" value as arg1 open and close a
 * region on their client.  While any client of a channel set is inside a
 * region, the trace events named by the user's patterns are enabled; the
 * end that closes the last open region disables them again.  Both happen
 * in the storing vCPU's thread, before it runs another guest instruction.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
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
    bool *ours;                 /* events[i] was enabled by a region */
    uint64_t max_clients;
    uint32_t *depth;            /* regions open on each client */
    uint64_t open_clients;      /* clients whose depth is not 0 */
    HypertraceBoundaryFn *notify;
    void *opaque;
};

static bool regions_add_pattern(HypertraceRegions *r, const char *pattern,
                                Error **errp)
{
    TraceEventIter iter;
    TraceEvent *ev;
    bool matched = false;

    trace_event_iter_init_pattern(&iter, pattern);
    while ((ev = trace_event_iter_next(&iter)) != NULL) {
        /*
         * guest_hypertrace is never switched: it carries the boundaries
         * themselves.  Events compiled out cannot be switched at all.
         */
        if (!strcmp(trace_event_get_name(ev), "guest_hypertrace") ||
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
    r->ours = g_new0(bool, r->events->len);
    return g_steal_pointer(&r);
}

void hypertrace_regions_free(HypertraceRegions *r)
{
    if (!r) {
        return;
    }
    qemu_mutex_destroy(&r->lock);
    g_ptr_array_free(r->events, true);
    g_free(r->ours);
    g_free(r->depth);
    g_free(r);
}

void hypertrace_regions_set_notify(HypertraceRegions *r,
                                   HypertraceBoundaryFn *fn, void *opaque)
{
    r->notify = fn;
    r->opaque = opaque;
}

/*
 * Events already enabled (by -trace, the monitor or QMP) are left alone
 * here and, because they are not ours, at the end too.
 */
static void regions_switch(HypertraceRegions *r, bool on)
{
    unsigned i;

    for (i = 0; i < r->events->len; i++) {
        TraceEvent *ev = g_ptr_array_index(r->events, i);

        if (on && !trace_event_get_state_dynamic(ev)) {
            trace_event_set_state_dynamic(ev, true);
            r->ours[i] = true;
        } else if (!on && r->ours[i]) {
            if (trace_event_get_state_dynamic(ev)) {
                trace_event_set_state_dynamic(ev, false);
            }
            r->ours[i] = false;
        }
    }
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

void hypertrace_regions_event(HypertraceRegions *r, uint64_t client, int cpu,
                              uint64_t arg1, const uint8_t *slot)
{
    HypertraceBoundary b;
    const char *error = NULL;
    bool took_bql;

    if (arg1 != r->begin && arg1 != r->end) {
        return;
    }
    b.client = client;
    b.cpu = cpu;
    b.begin = arg1 == r->begin;

    took_bql = regions_lock(r);
    if (b.begin) {
        if (r->depth[client] == UINT32_MAX) {
            error = "begins too many nested regions";
        } else if (r->depth[client]++ == 0 && r->open_clients++ == 0) {
            regions_switch(r, true);
        }
    } else {
        if (r->depth[client] == 0) {
            error = "ends a region, but none is open on it";
        } else if (--r->depth[client] == 0 && --r->open_clients == 0) {
            regions_switch(r, false);
        }
    }
    if (!error && r->notify) {
        hypertrace_event_args(b.args, arg1, slot);
        r->notify(r->opaque, &b);
    }
    regions_unlock(r, took_bql);

    if (error) {
        qemu_log_mask(LOG_GUEST_ERROR, "hypertrace: client %" PRIu64
                      " (vCPU %d) %s; event ignored by region control\n",
                      client, cpu, error);
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
    if (open && !r->open_clients) {
        regions_switch(r, true);
    } else if (!open && r->open_clients) {
        regions_switch(r, false);
    }
    r->open_clients = open;
    regions_unlock(r, took_bql);
}

void hypertrace_regions_reset(HypertraceRegions *r)
{
    bool took_bql = regions_lock(r);

    memset(r->depth, 0, r->max_clients * sizeof(r->depth[0]));
    if (r->open_clients) {
        r->open_clients = 0;
        regions_switch(r, false);
    }
    regions_unlock(r, took_bql);
}
