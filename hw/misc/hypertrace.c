/*
 * Hypertrace PCI device: guest code emits QEMU trace events
 *
 * BAR 0 (config) is read-only and describes the layout, BAR 2 (data) is
 * RAM holding one argument slot per client, BAR 4 (control) is MMIO: an
 * 8-byte (or, from guests that cannot store 8 bytes at once, a 4-byte)
 * write to a client's register fires guest_hypertrace.
 * docs/specs/hypertrace.rst is the guest ABI.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/module.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "qapi/qapi-events-hypertrace.h"
#include "hw/core/cpu.h"
#include "hw/pci/pci_device.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "system/runstate.h"
#include "hypertrace/hypertrace.h"
#include "trace.h"

#define TYPE_HYPERTRACE "hypertrace"
OBJECT_DECLARE_SIMPLE_TYPE(HypertraceState, HYPERTRACE)


QEMU_BUILD_BUG_ON(PCI_DEVICE_ID_REDHAT_HYPERTRACE != HYPERTRACE_PCI_DEVICE_ID);
QEMU_BUILD_BUG_ON(PCI_VENDOR_ID_REDHAT != HYPERTRACE_PCI_VENDOR_ID);

struct HypertraceState {
    PCIDevice parent_obj;

    uint32_t max_clients;
    bool lockless;
    char *roi_events;
    uint64_t roi_begin;
    uint64_t roi_end;
    bool roi_notify;
    bool roi_pause;
    HypertraceLayout layout;
    uint32_t *roi_depth;        /* region control's depths, migrated */
    VMChangeStateEntry *vmstate_entry;
    GQueue pending;             /* boundaries to announce once stopped */
    uint8_t config[HYPERTRACE_CFG_SIZE];
    uint8_t *data_ptr;
    MemoryRegion config_bar;
    MemoryRegion data_bar;
    MemoryRegion ctrl_bar;
};

/*
 * Both MMIO BARs take accesses of any size up to 8 bytes and any
 * alignment, unsplit: the handlers decide what is valid
 * (docs/specs/hypertrace.rst).
 */
#define HYPERTRACE_ANY_ACCESS { \
    .min_access_size = 1,       \
    .max_access_size = 8,       \
    .unaligned = true,          \
}

static uint64_t hypertrace_config_read(void *opaque, hwaddr addr,
                                       unsigned size)
{
    HypertraceState *s = opaque;

    if (addr + size > HYPERTRACE_CFG_SIZE) {
        qemu_log_mask(LOG_GUEST_ERROR, "%s: read of %u bytes at 0x%" HWADDR_PRIx
                      " crosses the end of the config BAR\n",
                      __func__, size, addr);
        return 0;
    }
    return ldn_le_p(s->config + addr, size);
}

static void hypertrace_config_write(void *opaque, hwaddr addr, uint64_t val,
                                    unsigned size)
{
    qemu_log_mask(LOG_GUEST_ERROR, "%s: the config BAR is read-only"
                  " (write of %u bytes at 0x%" HWADDR_PRIx " ignored)\n",
                  __func__, size, addr);
}

static const MemoryRegionOps hypertrace_config_ops = {
    .read = hypertrace_config_read,
    .write = hypertrace_config_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = HYPERTRACE_ANY_ACCESS,
    .impl = HYPERTRACE_ANY_ACCESS,
};

static uint64_t hypertrace_ctrl_read(void *opaque, hwaddr addr, unsigned size)
{
    qemu_log_mask(LOG_GUEST_ERROR, "%s: the control BAR is write-only"
                  " (read of %u bytes at 0x%" HWADDR_PRIx " returns 0)\n",
                  __func__, size, addr);
    return 0;
}

/*
 * The event path: no device state is written here, only the client's data
 * slot is read.
 *
 * hypertrace_event_clock, when enabled, follows each event with QEMU's
 * virtual clock at the store.  The trace backends stamp events with the
 * host's clock, while the guest's clocks follow the virtual one; under
 * -icount the two drift apart at the pace of translation and I/O, and
 * only a point known on both lets a tool put the guest's own trace on
 * the host's timeline.
 */
static void hypertrace_ctrl_write(void *opaque, hwaddr addr, uint64_t val,
                                  unsigned size)
{
    HypertraceState *s = opaque;
    int cpu = current_cpu ? current_cpu->cpu_index : -1;

    if (hypertrace_control_store(&s->layout, s->data_ptr, __func__, cpu,
                                 addr, size, val) &&
        trace_event_get_state_backends(TRACE_HYPERTRACE_EVENT_CLOCK)) {
        trace_hypertrace_event_clock(cpu, addr >> s->layout.stride_shift,
                                     qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL));
    }
}

static const MemoryRegionOps hypertrace_ctrl_ops = {
    .read = hypertrace_ctrl_read,
    .write = hypertrace_ctrl_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = HYPERTRACE_ANY_ACCESS,
    .impl = HYPERTRACE_ANY_ACCESS,
};

static void hypertrace_send_boundary(HypertraceState *s,
                                     const HypertraceBoundary *b)
{
    g_autofree char *path = object_get_canonical_path(OBJECT(s));
    g_autoptr(uint64List) args = NULL;
    int i;

    for (i = CONFIG_HYPERTRACE_ARGS - 1; i >= 0; i--) {
        QAPI_LIST_PREPEND(args, b->args[i]);
    }
    qapi_event_send_hypertrace_region(path, b->client, b->cpu, b->begin,
                                      args);
}

/*
 * Called with the BQL held, by the vCPU that stored the boundary (or by
 * qtest).  With roi-pause, the event waits until the VM has stopped, so
 * that a QMP client that receives it finds the VM paused: vm_stop() from a
 * vCPU only requests the stop, and this vCPU stops before its next TB.
 */
static void hypertrace_boundary(void *opaque, const HypertraceBoundary *b)
{
    HypertraceState *s = opaque;

    if (!s->roi_pause || !runstate_is_running()) {
        hypertrace_send_boundary(s, b);
        return;
    }
    g_queue_push_tail(&s->pending, g_memdup2(b, sizeof(*b)));
    vm_stop(RUN_STATE_PAUSED);
}

static void hypertrace_vm_state_change(void *opaque, bool running,
                                       RunState state)
{
    HypertraceState *s = opaque;
    HypertraceBoundary *b;

    while ((b = g_queue_pop_head(&s->pending))) {
        hypertrace_send_boundary(s, b);
        g_free(b);
    }
}

static bool hypertrace_regions_realize(HypertraceState *s,
                                       const HypertraceOptions *opts,
                                       Error **errp)
{
    if (!hypertrace_options_want_regions(opts)) {
        return true;
    }
    s->layout.regions = hypertrace_regions_new(opts, true, errp);
    if (!s->layout.regions) {
        return false;
    }
    s->roi_depth = hypertrace_regions_depths(s->layout.regions);
    if (s->roi_notify) {
        hypertrace_regions_set_notify(s->layout.regions, hypertrace_boundary,
                                      s);
        g_queue_init(&s->pending);
        s->vmstate_entry = qemu_add_vm_change_state_handler(
            hypertrace_vm_state_change, s);
    }
    return true;
}

static void hypertrace_regions_unrealize(HypertraceState *s)
{
    if (s->vmstate_entry) {
        qemu_del_vm_change_state_handler(s->vmstate_entry);
        s->vmstate_entry = NULL;
        g_queue_clear_full(&s->pending, g_free);
    }
    if (s->layout.regions) {
        hypertrace_regions_reset(s->layout.regions);
        hypertrace_regions_free(s->layout.regions);
        s->layout.regions = NULL;
        s->roi_depth = NULL;
    }
}

static void hypertrace_realize(PCIDevice *pdev, Error **errp)
{
    HypertraceState *s = HYPERTRACE(pdev);
    HypertraceOptions opts = {
        .max_clients = s->max_clients,
        .roi_events = s->roi_events,
        .roi_begin = s->roi_begin,
        .roi_end = s->roi_end,
        .roi_notify = s->roi_notify,
        .roi_pause = s->roi_pause,
    };

    if (!hypertrace_options_check(&opts, errp)) {
        return;
    }
    hypertrace_layout_init(&s->layout, s->max_clients,
                           HYPERTRACE_PCI_STRIDE, true);
    s->layout.split_stores = true;
    s->layout.data_bar = HYPERTRACE_PCI_DATA_BAR;
    s->layout.ctrl_bar = HYPERTRACE_PCI_CTRL_BAR;
    hypertrace_config_fill(&s->layout, s->config);
    if (!hypertrace_regions_realize(s, &opts, errp)) {
        return;
    }

    if (!memory_region_init_ram(&s->data_bar, OBJECT(s), "hypertrace.data",
                                s->layout.data_size, errp)) {
        hypertrace_regions_unrealize(s);
        return;
    }
    s->data_ptr = memory_region_get_ram_ptr(&s->data_bar);
    memset(s->data_ptr, 0, s->layout.data_size);

    memory_region_init_io(&s->config_bar, OBJECT(s), &hypertrace_config_ops,
                          s, "hypertrace.config", HYPERTRACE_CFG_SIZE);
    memory_region_init_io(&s->ctrl_bar, OBJECT(s), &hypertrace_ctrl_ops, s,
                          "hypertrace.control", s->layout.ctrl_size);
    /*
     * Events need no BQL: the write handler changes no device state, reads
     * only the layout (fixed at realize) and the client's slot, and every
     * trace backend may be called from several threads at once.  It also
     * raises no interrupt and reads no virtual clock, so TCG need not end
     * the TB at a control write.
     * x-lockless-io=off keeps the lock, to measure what it costs.
     * Hot-unplug cannot free the device under a running handler: vCPUs
     * dispatch inside RCU read sections, and the flatviews that reach
     * this region drop their reference to the device only after a grace
     * period (see memory_region_enable_lockless_io()).
     */
    if (s->lockless) {
        memory_region_enable_lockless_io(&s->ctrl_bar);
    }

    pci_register_bar(pdev, HYPERTRACE_PCI_CFG_BAR,
                     PCI_BASE_ADDRESS_SPACE_MEMORY, &s->config_bar);
    pci_register_bar(pdev, HYPERTRACE_PCI_DATA_BAR,
                     PCI_BASE_ADDRESS_SPACE_MEMORY |
                     PCI_BASE_ADDRESS_MEM_TYPE_64 |
                     PCI_BASE_ADDRESS_MEM_PREFETCH, &s->data_bar);
    pci_register_bar(pdev, HYPERTRACE_PCI_CTRL_BAR,
                     PCI_BASE_ADDRESS_SPACE_MEMORY |
                     PCI_BASE_ADDRESS_MEM_TYPE_64, &s->ctrl_bar);
}

static void hypertrace_exit(PCIDevice *pdev)
{
    HypertraceState *s = HYPERTRACE(pdev);

    vmstate_unregister_ram(&s->data_bar, DEVICE(pdev));
    hypertrace_regions_unrealize(s);
}

/*
 * Reset clears every data slot and closes every region; the config and
 * control BARs have no state.
 */
static void hypertrace_reset_hold(Object *obj, ResetType type)
{
    HypertraceState *s = HYPERTRACE(obj);

    memset(s->data_ptr, 0, s->layout.data_size);
    if (s->layout.regions) {
        hypertrace_regions_reset(s->layout.regions);
    }
}

static const Property hypertrace_properties[] = {
    DEFINE_PROP_UINT32("max-clients", HypertraceState, max_clients,
                       HYPERTRACE_DEFAULT_CLIENTS),
    DEFINE_PROP_BOOL("x-lockless-io", HypertraceState, lockless, true),
    DEFINE_PROP_STRING("roi-events", HypertraceState, roi_events),
    DEFINE_PROP_UINT64("roi-begin", HypertraceState, roi_begin,
                       HYPERTRACE_DEFAULT_ROI_BEGIN),
    DEFINE_PROP_UINT64("roi-end", HypertraceState, roi_end,
                       HYPERTRACE_DEFAULT_ROI_END),
    DEFINE_PROP_BOOL("roi-notify", HypertraceState, roi_notify, false),
    DEFINE_PROP_BOOL("roi-pause", HypertraceState, roi_pause, false),
};

static bool hypertrace_regions_needed(void *opaque)
{
    HypertraceState *s = opaque;

    return s->layout.regions != NULL;
}

/* Regions open on the source stay open: switch their events on here too */
static int hypertrace_regions_post_load(void *opaque, int version_id)
{
    HypertraceState *s = opaque;

    hypertrace_regions_sync(s->layout.regions);
    return 0;
}

static const VMStateDescription vmstate_hypertrace_regions = {
    .name = TYPE_HYPERTRACE "/regions",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = hypertrace_regions_needed,
    .post_load = hypertrace_regions_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_VARRAY_UINT32(roi_depth, HypertraceState, max_clients, 0,
                              vmstate_info_uint32, uint32_t),
        VMSTATE_END_OF_LIST()
    }
};

static const VMStateDescription vmstate_hypertrace = {
    .name = TYPE_HYPERTRACE,
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, HypertraceState),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription * const []) {
        &vmstate_hypertrace_regions,
        NULL
    }
};

static void hypertrace_class_init(ObjectClass *klass, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);

    k->realize = hypertrace_realize;
    k->exit = hypertrace_exit;
    k->vendor_id = PCI_VENDOR_ID_REDHAT;
    k->device_id = PCI_DEVICE_ID_REDHAT_HYPERTRACE;
    k->revision = HYPERTRACE_VERSION;
    k->class_id = PCI_CLASS_SYSTEM_OTHER;
    dc->desc = "Hypertrace channel: guest-emitted trace events";
    dc->vmsd = &vmstate_hypertrace;
    rc->phases.hold = hypertrace_reset_hold;
    device_class_set_props(dc, hypertrace_properties);
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
}

static const TypeInfo hypertrace_types[] = {
    {
        .name          = TYPE_HYPERTRACE,
        .parent        = TYPE_PCI_DEVICE,
        .instance_size = sizeof(HypertraceState),
        .class_init    = hypertrace_class_init,
        .interfaces    = (const InterfaceInfo[]) {
            { INTERFACE_CONVENTIONAL_PCI_DEVICE },
            { }
        },
    },
};

DEFINE_TYPES(hypertrace_types)
