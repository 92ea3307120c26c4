/*
 * Hypertrace: channel layout and event emission shared by the PCI device
 * and linux-user
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bitops.h"
#include "qemu/bswap.h"
#include "qemu/host-utils.h"
#include "qemu/log.h"
#include "qapi/error.h"
#include "qemu/plugin.h"
#include "hypertrace/hypertrace.h"
#include "trace.h"

/* tracetool takes 10 event arguments: the vCPU, N, the client */
QEMU_BUILD_BUG_ON(CONFIG_HYPERTRACE_ARGS < 1 ||
                  CONFIG_HYPERTRACE_ARGS > HYPERTRACE_MAX_ARGS ||
                  CONFIG_HYPERTRACE_ARGS + 2 > 10);
QEMU_BUILD_BUG_ON(HYPERTRACE_CFG_WORDS * 8 > HYPERTRACE_CFG_SIZE);
QEMU_BUILD_BUG_ON((HYPERTRACE_MAX_ARGS - 1) * 8 > HYPERTRACE_SLOT_ARG1_HIGH);
QEMU_BUILD_BUG_ON(HYPERTRACE_SLOT_ARG1_HIGH + 4 > HYPERTRACE_SLOT_SIZE);

bool hypertrace_options_want_regions(const HypertraceOptions *opts)
{
    return (opts->roi_events && *opts->roi_events) || opts->roi_notify;
}

bool hypertrace_options_check(const HypertraceOptions *opts, Error **errp)
{
    if (opts->max_clients == 0 ||
        opts->max_clients > HYPERTRACE_MAX_CLIENTS) {
        error_setg(errp, "hypertrace: max-clients must be between 1 and %d"
                   " (got %" PRIu64 ")", HYPERTRACE_MAX_CLIENTS,
                   opts->max_clients);
        return false;
    }
    if (opts->roi_pause && !opts->roi_notify) {
        error_setg(errp, "hypertrace: roi-pause=on needs roi-notify=on");
        return false;
    }
    if (!hypertrace_options_want_regions(opts)) {
        if (opts->roi_begin != HYPERTRACE_DEFAULT_ROI_BEGIN ||
            opts->roi_end != HYPERTRACE_DEFAULT_ROI_END) {
            error_setg(errp, "hypertrace: roi-begin and roi-end need"
                       " roi-events");
            return false;
        }
        return true;
    }
    if (opts->roi_begin == opts->roi_end) {
        error_setg(errp, "hypertrace: roi-begin and roi-end must differ"
                   " (both are %" PRIu64 ")", opts->roi_begin);
        return false;
    }
    return true;
}

void hypertrace_layout_init(HypertraceLayout *layout, uint64_t max_clients,
                            uint64_t stride, bool pow2)
{
    uint64_t size;

    assert(max_clients >= 1 && max_clients <= HYPERTRACE_MAX_CLIENTS);
    assert(is_power_of_2(stride) && stride >= HYPERTRACE_SLOT_SIZE &&
           stride <= HYPERTRACE_MAX_STRIDE);

    size = max_clients * stride;
    if (pow2) {
        size = pow2ceil(size);
    }
    layout->max_clients = max_clients;
    layout->stride = stride;
    layout->stride_shift = ctz64(stride);
    layout->data_size = size;
    layout->ctrl_size = size;
    layout->split_stores = false;
    layout->data_bar = 0;
    layout->ctrl_bar = 0;
    layout->regions = NULL;
}

void hypertrace_config_fill(const HypertraceLayout *layout, uint8_t *buf)
{
    memset(buf, 0, HYPERTRACE_CFG_SIZE);
    stq_le_p(buf + HYPERTRACE_CFG_MAGIC, HYPERTRACE_MAGIC);
    stq_le_p(buf + HYPERTRACE_CFG_VERSION, HYPERTRACE_VERSION);
    stq_le_p(buf + HYPERTRACE_CFG_MAX_CLIENTS, layout->max_clients);
    stq_le_p(buf + HYPERTRACE_CFG_NUM_ARGS, CONFIG_HYPERTRACE_ARGS);
    stq_le_p(buf + HYPERTRACE_CFG_DATA_STRIDE, layout->stride);
    stq_le_p(buf + HYPERTRACE_CFG_CTRL_STRIDE, layout->stride);
    stq_le_p(buf + HYPERTRACE_CFG_DATA_SIZE, layout->data_size);
    stq_le_p(buf + HYPERTRACE_CFG_CTRL_SIZE, layout->ctrl_size);
    stq_le_p(buf + HYPERTRACE_CFG_DATA_BAR, layout->data_bar);
    stq_le_p(buf + HYPERTRACE_CFG_CTRL_BAR, layout->ctrl_bar);
}

/* guest_hypertrace with @ev's cpu, arguments and client */
static void trace_event(const HypertraceEvent *ev)
{
    const uint64_t *a = ev->args;

#if CONFIG_HYPERTRACE_ARGS == 1
    trace_guest_hypertrace(ev->cpu, a[0], ev->client);
#elif CONFIG_HYPERTRACE_ARGS == 2
    trace_guest_hypertrace(ev->cpu, a[0], a[1], ev->client);
#elif CONFIG_HYPERTRACE_ARGS == 3
    trace_guest_hypertrace(ev->cpu, a[0], a[1], a[2], ev->client);
#elif CONFIG_HYPERTRACE_ARGS == 4
    trace_guest_hypertrace(ev->cpu, a[0], a[1], a[2], a[3], ev->client);
#elif CONFIG_HYPERTRACE_ARGS == 5
    trace_guest_hypertrace(ev->cpu, a[0], a[1], a[2], a[3], a[4], ev->client);
#elif CONFIG_HYPERTRACE_ARGS == 6
    trace_guest_hypertrace(ev->cpu, a[0], a[1], a[2], a[3], a[4], a[5],
                           ev->client);
#elif CONFIG_HYPERTRACE_ARGS == 7
    trace_guest_hypertrace(ev->cpu, a[0], a[1], a[2], a[3], a[4], a[5], a[6],
                           ev->client);
#else
    trace_guest_hypertrace(ev->cpu, a[0], a[1], a[2], a[3], a[4], a[5], a[6],
                           a[7], ev->client);
#endif
}

/*
 * guest_hypertrace_clock: the same with QEMU's virtual clock at the store.
 * tracetool takes 10 arguments: with 8 guest arguments there is no room
 * for the vCPU index as well.
 */
static void trace_event_clock(const HypertraceEvent *ev, int64_t clock)
{
    const uint64_t *a = ev->args;

#if CONFIG_HYPERTRACE_ARGS == 1
    trace_guest_hypertrace_clock(ev->cpu, a[0], ev->client, clock);
#elif CONFIG_HYPERTRACE_ARGS == 2
    trace_guest_hypertrace_clock(ev->cpu, a[0], a[1], ev->client, clock);
#elif CONFIG_HYPERTRACE_ARGS == 3
    trace_guest_hypertrace_clock(ev->cpu, a[0], a[1], a[2], ev->client, clock);
#elif CONFIG_HYPERTRACE_ARGS == 4
    trace_guest_hypertrace_clock(ev->cpu, a[0], a[1], a[2], a[3], ev->client,
                                 clock);
#elif CONFIG_HYPERTRACE_ARGS == 5
    trace_guest_hypertrace_clock(ev->cpu, a[0], a[1], a[2], a[3], a[4],
                                 ev->client, clock);
#elif CONFIG_HYPERTRACE_ARGS == 6
    trace_guest_hypertrace_clock(ev->cpu, a[0], a[1], a[2], a[3], a[4], a[5],
                                 ev->client, clock);
#elif CONFIG_HYPERTRACE_ARGS == 7
    trace_guest_hypertrace_clock(ev->cpu, a[0], a[1], a[2], a[3], a[4], a[5],
                                 a[6], ev->client, clock);
#else
    trace_guest_hypertrace_clock(a[0], a[1], a[2], a[3], a[4], a[5], a[6],
                                 a[7], ev->client, clock);
#endif
}

/*
 * A guest store wider than 8 bytes, or not aligned to its size, reaches a
 * device as consecutive aligned pieces, issued one after the other by the
 * storing vCPU's thread (TCG's cputlb and KVM's MMIO emulation both split
 * that way).  The end of the last piece that fired nothing, per thread: a
 * piece that starts there is the rest of the same store, and must not
 * fire an event on the next client, which the store only partly covers.
 */
static __thread const HypertraceLayout *ht_piece_layout;
static __thread uint64_t ht_piece_end;

bool hypertrace_control_store(const HypertraceLayout *layout,
                              const uint8_t *data, const char *who, int cpu,
                              uint64_t offset, unsigned size, uint64_t val)
{
    uint64_t client = offset >> layout->stride_shift;
    bool tail = false, trace, clock, plugins;
    const uint8_t *slot;
    HypertraceEvent ev;
    int i;

    if (layout->split_stores) {
        tail = ht_piece_layout == layout && ht_piece_end == offset;
        ht_piece_layout = NULL;
    }
    if ((size != 8 && size != 4) || (offset & (layout->stride - 1)) ||
        client >= layout->max_clients || tail) {
        qemu_log_mask(LOG_GUEST_ERROR, "%s: store of %u bytes at control"
                      " offset 0x%" PRIx64 " ignored: events take a 4- or"
                      " 8-byte store at offset client * 0x%" PRIx64
                      ", client < %" PRIu64 "%s\n", who, size, offset,
                      layout->stride, layout->max_clients,
                      tail ? " (this is the rest of a store that began"
                      " before the register)" : "");
        if (layout->split_stores) {
            ht_piece_layout = layout;
            ht_piece_end = offset + size;
        }
        return false;
    }

    trace = trace_event_get_state_backends(TRACE_GUEST_HYPERTRACE);
    clock = layout->virtual_clock &&
            trace_event_get_state_backends(TRACE_GUEST_HYPERTRACE_CLOCK);
    plugins = qemu_plugin_vcpu_hypertrace_enabled(current_cpu);
    if (!trace && !clock && !plugins && !layout->regions) {
        return true;
    }

    /* The arguments, read once for every consumer */
    slot = data + (client << layout->stride_shift);
    ev.client = client;
    ev.cpu = cpu;
    ev.args[0] = size == 8 ? val :
        deposit64(val, 32, 32, ldl_le_p(slot + HYPERTRACE_SLOT_ARG1_HIGH));
    for (i = 1; i < CONFIG_HYPERTRACE_ARGS; i++) {
        ev.args[i] = ldq_le_p(slot + 8 * (i - 1));
    }

    if (clock) {
        trace_event_clock(&ev, layout->virtual_clock());
    }
    if (trace) {
        trace_event(&ev);
    }
    /*
     * TCG plugins get every event, traced or not, in the emitting vCPU's
     * thread (current_cpu: the device's MMIO handler and linux-user's
     * store hook both run there).
     */
    if (unlikely(plugins)) {
        qemu_plugin_vcpu_hypertrace_cb(current_cpu, ev.client, ev.args,
                                       CONFIG_HYPERTRACE_ARGS);
    }
    if (unlikely(layout->regions)) {
        hypertrace_regions_event(layout->regions, &ev);
    }
    return true;
}
