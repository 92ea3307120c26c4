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
#include "system/replay.h"
#include "system/runstate.h"
#include "hypertrace/hypertrace.h"

#define TYPE_HYPERTRACE "hypertrace"
OBJECT_DECLARE_SIMPLE_TYPE(HypertraceState, HYPERTRACE)


QEMU_BUILD_BUG_ON(PCI_DEVICE_ID_REDHAT_HYPERTRACE != HYPERTRACE_PCI_DEVICE_ID);
QEMU_BUILD_BUG_ON(PCI_VENDOR_ID_REDHAT != HYPERTRACE_PCI_VENDOR_ID);

struct HypertraceState {
    PCIDevice parent_obj;

    HypertraceOptions opts;     /* the properties */
    bool lockless;
    bool ring_timer_on;         /* x-ring-timer: off to test the other takes */
    HypertraceLayout layout;
    uint32_t *roi_depth;        /* region control's depths, migrated */
    uint32_t roi_clients;       /* their number */
    VMChangeStateEntry *vmstate_entry;
    /* Posted records: per client, a lock for its takers and their count */
    QemuMutex *ring_lock;
    uint32_t *ring_taken;       /* migrated */
    uint32_t ring_clients;      /* their number */
    QEMUTimer *ring_timer;
    bool ring_timer_running;
    VMChangeStateEntry *ring_vmstate_entry;
    HypertracePostFile *post_file;
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
 * The event path.  It runs without the BQL (see hypertrace_realize()),
 * possibly on several vCPUs at once, and writes no device state.  It
 * reads the layout, fixed at realize, and the client's data slot; with
 * guest_hypertrace_clock enabled, QEMU's virtual clock too, which needs
 * no lock (under icount TCG makes the store the last instruction of its
 * block, so the instruction count there is exact).  At a region boundary
 * region control takes the BQL itself, and with roi-pause it asks the VM
 * to stop, which TCG honours at the end of the current block.
 */
static void hypertrace_ctrl_write(void *opaque, hwaddr addr, uint64_t val,
                                  unsigned size)
{
    HypertraceState *s = opaque;

    hypertrace_control_store(&s->layout, s->data_ptr, __func__,
                             current_cpu ? current_cpu->cpu_index : -1,
                             addr, size, val);
}

/*
 * guest_hypertrace_clock: the trace backends stamp events with the host's
 * clock, while the guest's clocks follow the virtual one; under -icount
 * the two drift apart at the pace of translation and I/O, and an event
 * known on both clocks lets a tool put the guest's own trace on the
 * host's timeline.
 */
static int64_t hypertrace_virtual_clock(void)
{
    return qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
}

static const MemoryRegionOps hypertrace_ctrl_ops = {
    .read = hypertrace_ctrl_read,
    .write = hypertrace_ctrl_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = HYPERTRACE_ANY_ACCESS,
    .impl = HYPERTRACE_ANY_ACCESS,
};

typedef struct HypertraceBoundary {
    HypertraceEvent ev;
    bool begin;
} HypertraceBoundary;

static void hypertrace_send_boundary(HypertraceState *s,
                                     const HypertraceEvent *ev, bool begin)
{
    g_autofree char *path = object_get_canonical_path(OBJECT(s));
    g_autoptr(uint64List) args = NULL;
    int i;

    for (i = CONFIG_HYPERTRACE_ARGS - 1; i >= 0; i--) {
        QAPI_LIST_PREPEND(args, ev->args[i]);
    }
    qapi_event_send_hypertrace_region(path, ev->client, ev->cpu, begin, args);
}

/*
 * Called with the BQL held, by the vCPU that stored the boundary (or by
 * qtest).  With roi-pause, the event waits until the VM has stopped, so
 * that a QMP client that receives it finds the VM paused: vm_stop() from a
 * vCPU only requests the stop, and this vCPU stops before its next TB.
 */
static void hypertrace_boundary(void *opaque, const HypertraceEvent *ev,
                                bool begin)
{
    HypertraceState *s = opaque;
    HypertraceBoundary *b;

    if (!s->opts.roi_pause || !runstate_is_running()) {
        hypertrace_send_boundary(s, ev, begin);
        return;
    }
    b = g_new(HypertraceBoundary, 1);
    b->ev = *ev;
    b->begin = begin;
    g_queue_push_tail(&s->pending, b);
    vm_stop(RUN_STATE_PAUSED);
}

static void hypertrace_vm_state_change(void *opaque, bool running,
                                       RunState state)
{
    HypertraceState *s = opaque;
    HypertraceBoundary *b;

    while ((b = g_queue_pop_head(&s->pending))) {
        hypertrace_send_boundary(s, &b->ev, b->begin);
        g_free(b);
    }
}

/*
 * Posted records.  QEMU takes a client's records before each of its
 * events (hypertrace_control_store(), on the vCPU), every
 * HYPERTRACE_RING_PERIOD_MS of virtual time, and when the VM stops,
 * resets or loses the device.  A lock per client serializes its takers:
 * vCPUs without the BQL, the timer and the main loop with it.
 */
#define HYPERTRACE_RING_PERIOD_MS 2

static void hypertrace_ring_take_client(HypertraceState *s, uint64_t client)
{
    qemu_mutex_lock(&s->ring_lock[client]);
    hypertrace_ring_take_records(&s->layout, s->data_ptr, "hypertrace",
                                 client, s->post_file);
    qemu_mutex_unlock(&s->ring_lock[client]);
}

static void hypertrace_ring_take_all(HypertraceState *s)
{
    uint64_t c;

    for (c = 0; c < s->layout.max_clients; c++) {
        if (hypertrace_ring_pending(&s->layout, s->data_ptr, c)) {
            hypertrace_ring_take_client(s, c);
        }
    }
}

static bool hypertrace_rings_armed(HypertraceState *s)
{
    uint64_t c;

    for (c = 0; c < s->layout.max_clients; c++) {
        if (ldl_le_p(s->data_ptr + c * s->layout.stride +
                     HYPERTRACE_SLOT_RING_ARM) == HYPERTRACE_RING_ARMED) {
            return true;
        }
    }
    return false;
}

/*
 * The timer runs only while a client's ring is armed, so that a guest
 * that does not post costs nothing: the first event of a client with an
 * armed ring starts it, and it stops when no ring is armed any more
 */
static void hypertrace_ring_timer_start(HypertraceState *s)
{
    if (s->ring_timer && !qatomic_xchg(&s->ring_timer_running, true)) {
        timer_mod(s->ring_timer, qemu_clock_get_ms(QEMU_CLOCK_VIRTUAL) +
                  HYPERTRACE_RING_PERIOD_MS);
    }
}

static void hypertrace_ring_timer(void *opaque)
{
    HypertraceState *s = opaque;

    hypertrace_ring_take_all(s);
    if (hypertrace_rings_armed(s)) {
        timer_mod(s->ring_timer, qemu_clock_get_ms(QEMU_CLOCK_VIRTUAL) +
                  HYPERTRACE_RING_PERIOD_MS);
        return;
    }
    qatomic_set(&s->ring_timer_running, false);
    /* a vCPU may have seen a ring armed since, and found the timer on */
    if (hypertrace_rings_armed(s)) {
        hypertrace_ring_timer_start(s);
    }
}

/* An event of a client whose ring is armed: its records first */
static void hypertrace_ring_take(void *opaque, uint64_t client)
{
    HypertraceState *s = opaque;

    hypertrace_ring_timer_start(s);
    if (hypertrace_ring_pending(&s->layout, s->data_ptr, client)) {
        hypertrace_ring_take_client(s, client);
    }
}

/* Nothing stays queued while the VM is stopped (migration, savevm, quit) */
static void hypertrace_ring_vm_state_change(void *opaque, bool running,
                                            RunState state)
{
    HypertraceState *s = opaque;

    if (!running) {
        hypertrace_ring_take_all(s);
    } else if (hypertrace_rings_armed(s)) {
        hypertrace_ring_timer_start(s);     /* migrated in, resumed */
    }
}

static bool hypertrace_rings_realize(HypertraceState *s, Error **errp)
{
    uint64_t c;

    if (!s->layout.ring_records) {
        return true;
    }
    if (s->opts.post_file) {
        s->post_file = hypertrace_post_file_open(s->opts.post_file,
                                                 &s->layout, errp);
        if (!s->post_file) {
            return false;
        }
    }
    s->ring_clients = s->layout.max_clients;
    s->ring_taken = g_new0(uint32_t, s->ring_clients);
    s->ring_lock = g_new(QemuMutex, s->ring_clients);
    for (c = 0; c < s->ring_clients; c++) {
        qemu_mutex_init(&s->ring_lock[c]);
    }
    s->layout.ring_taken = s->ring_taken;
    s->layout.ring_take = hypertrace_ring_take;
    s->layout.ring_opaque = s;
    /*
     * Under record/replay only the guest's own stores make QEMU take
     * records, so that what the guest reads of RING_TAIL is the same in
     * record and replay
     */
    if (replay_mode == REPLAY_MODE_NONE && s->ring_timer_on) {
        s->ring_timer = timer_new_ms(QEMU_CLOCK_VIRTUAL,
                                     hypertrace_ring_timer, s);
    }
    s->ring_vmstate_entry = qemu_add_vm_change_state_handler(
        hypertrace_ring_vm_state_change, s);
    return true;
}

/* The records the guest left are taken before the device goes */
static void hypertrace_rings_unrealize(HypertraceState *s)
{
    if (!s->ring_taken) {
        return;
    }
    if (s->ring_vmstate_entry) {
        qemu_del_vm_change_state_handler(s->ring_vmstate_entry);
        s->ring_vmstate_entry = NULL;
    }
    g_clear_pointer(&s->ring_timer, timer_free);
    hypertrace_ring_take_all(s);
}

static bool hypertrace_regions_realize(HypertraceState *s, Error **errp)
{
    if (!hypertrace_options_want_regions(&s->opts)) {
        return true;
    }
    s->layout.regions = hypertrace_regions_new(&s->opts, true, errp);
    if (!s->layout.regions) {
        return false;
    }
    s->roi_depth = hypertrace_regions_depths(s->layout.regions);
    s->roi_clients = s->opts.max_clients;
    if (s->opts.roi_notify) {
        hypertrace_regions_set_notify(s->layout.regions, hypertrace_boundary,
                                      s);
        g_queue_init(&s->pending);
        s->vmstate_entry = qemu_add_vm_change_state_handler(
            hypertrace_vm_state_change, s);
    }
    return true;
}

/*
 * On unplug, close the regions (their events switched off, later events
 * ignored) but free nothing that the event path reads: another vCPU may
 * still be inside hypertrace_ctrl_write().  vCPUs dispatch inside RCU
 * read-side critical sections, and the flatviews that reach the BARs hold
 * a reference to the device that they drop only after a grace period, so
 * instance_finalize runs once no handler can reach the device any more.
 */
static void hypertrace_regions_unrealize(HypertraceState *s)
{
    if (s->vmstate_entry) {
        qemu_del_vm_change_state_handler(s->vmstate_entry);
        s->vmstate_entry = NULL;
        g_queue_clear_full(&s->pending, g_free);
    }
    if (s->layout.regions) {
        hypertrace_regions_close(s->layout.regions);
    }
}

static void hypertrace_finalize(Object *obj)
{
    HypertraceState *s = HYPERTRACE(obj);
    uint32_t c;

    /* a handler that outlived unplug may still have taken records */
    hypertrace_post_file_close(s->post_file);
    s->post_file = NULL;
    for (c = 0; s->ring_lock && c < s->ring_clients; c++) {
        qemu_mutex_destroy(&s->ring_lock[c]);
    }
    g_free(s->ring_lock);
    g_free(s->ring_taken);

    hypertrace_regions_free(s->layout.regions);
    s->layout.regions = NULL;
    s->roi_depth = NULL;
}

static void hypertrace_realize(PCIDevice *pdev, Error **errp)
{
    HypertraceState *s = HYPERTRACE(pdev);

    if (!hypertrace_options_check(&s->opts, errp)) {
        return;
    }
    hypertrace_layout_init(&s->layout, s->opts.max_clients,
                           HYPERTRACE_PCI_STRIDE, true, s->opts.ring_size);
    s->layout.split_stores = true;
    s->layout.data_bar = HYPERTRACE_PCI_DATA_BAR;
    s->layout.ctrl_bar = HYPERTRACE_PCI_CTRL_BAR;
    s->layout.virtual_clock = hypertrace_virtual_clock;
    hypertrace_config_fill(&s->layout, s->config);
    if (!hypertrace_regions_realize(s, errp)) {
        return;
    }

    if (!memory_region_init_ram(&s->data_bar, OBJECT(s), "hypertrace.data",
                                s->layout.data_size, errp)) {
        hypertrace_regions_unrealize(s);
        return;
    }
    s->data_ptr = memory_region_get_ram_ptr(&s->data_bar);
    memset(s->data_ptr, 0, s->layout.data_size);
    if (!hypertrace_rings_realize(s, errp)) {
        hypertrace_regions_unrealize(s);
        return;
    }

    memory_region_init_io(&s->config_bar, OBJECT(s), &hypertrace_config_ops,
                          s, "hypertrace.config", HYPERTRACE_CFG_SIZE);
    memory_region_init_io(&s->ctrl_bar, OBJECT(s), &hypertrace_ctrl_ops, s,
                          "hypertrace.control", s->layout.ctrl_size);
    /*
     * The control BAR's write handler needs no BQL, under KVM or TCG: it
     * writes no device state, raises no interrupt, changes no memory map
     * and no CPU state, and region control takes the BQL itself (see
     * hypertrace_ctrl_write()).  x-lockless-io=off keeps the lock, to
     * measure what it costs.
     */
    if (s->lockless) {
        memory_region_enable_tcg_lockless_io(&s->ctrl_bar);
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

    hypertrace_rings_unrealize(s);
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

    /* what the guest posted before the reset is traced, then forgotten */
    if (s->ring_taken) {
        hypertrace_ring_take_all(s);
        memset(s->ring_taken, 0, s->ring_clients * sizeof(s->ring_taken[0]));
    }
    memset(s->data_ptr, 0, s->layout.data_size);
    if (s->layout.regions) {
        hypertrace_regions_reset(s->layout.regions);
    }
}

static const Property hypertrace_properties[] = {
    DEFINE_PROP_UINT64("max-clients", HypertraceState, opts.max_clients,
                       HYPERTRACE_DEFAULT_CLIENTS),
    DEFINE_PROP_BOOL("x-lockless-io", HypertraceState, lockless, true),
    DEFINE_PROP_BOOL("x-ring-timer", HypertraceState, ring_timer_on, true),
    DEFINE_PROP_STRING("roi-events", HypertraceState, opts.roi_events),
    DEFINE_PROP_UINT64("roi-begin", HypertraceState, opts.roi_begin,
                       HYPERTRACE_DEFAULT_ROI_BEGIN),
    DEFINE_PROP_UINT64("roi-end", HypertraceState, opts.roi_end,
                       HYPERTRACE_DEFAULT_ROI_END),
    DEFINE_PROP_BOOL("roi-notify", HypertraceState, opts.roi_notify, false),
    DEFINE_PROP_BOOL("roi-pause", HypertraceState, opts.roi_pause, false),
    DEFINE_PROP_SIZE("ring-size", HypertraceState, opts.ring_size,
                     HYPERTRACE_DEFAULT_RING_SIZE),
    DEFINE_PROP_STRING("post-file", HypertraceState, opts.post_file),
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
        VMSTATE_VARRAY_UINT32(roi_depth, HypertraceState, roi_clients, 0,
                              vmstate_info_uint32, uint32_t),
        VMSTATE_END_OF_LIST()
    }
};

static bool hypertrace_rings_needed(void *opaque)
{
    HypertraceState *s = opaque;

    return s->ring_taken != NULL;
}

/* What QEMU took of each ring: the rings themselves are the data BAR's */
static const VMStateDescription vmstate_hypertrace_rings = {
    .name = TYPE_HYPERTRACE "/rings",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = hypertrace_rings_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_VARRAY_UINT32(ring_taken, HypertraceState, ring_clients, 0,
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
        &vmstate_hypertrace_rings,
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
        .instance_finalize = hypertrace_finalize,
        .class_init    = hypertrace_class_init,
        .interfaces    = (const InterfaceInfo[]) {
            { INTERFACE_CONVENTIONAL_PCI_DEVICE },
            { }
        },
    },
};

DEFINE_TYPES(hypertrace_types)
