/*
 * Hypertrace: helpers shared by the PCI device and linux-user
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HYPERTRACE_HYPERTRACE_H
#define HYPERTRACE_HYPERTRACE_H

#include "qemu/bswap.h"
#include "hypertrace/abi.h"

typedef struct HypertraceRegions HypertraceRegions;
typedef struct HypertracePostFile HypertracePostFile;

/*
 * One event: its client, the vCPU that emitted it, and its arguments,
 * arg1 from the control store and the others from the client's data slot,
 * read once and handed to every consumer (trace, plugins, region control).
 */
typedef struct HypertraceEvent {
    uint64_t client;
    int cpu;                    /* vCPU index, or -1 */
    uint64_t args[CONFIG_HYPERTRACE_ARGS];  /* arg1 .. argN */
} HypertraceEvent;

/* Geometry of one hypertrace channel set (device instance or user files) */
typedef struct HypertraceLayout {
    uint64_t max_clients;
    uint64_t stride;        /* bytes between two clients, data and control */
    unsigned stride_shift;  /* log2(stride) */
    uint64_t data_size;
    uint64_t ctrl_size;
    bool split_stores;      /* wide stores may arrive in pieces (devices) */
    uint64_t data_bar;      /* BAR numbers; 0 where there is no PCI */
    uint64_t ctrl_bar;
    HypertraceRegions *regions; /* region control, or NULL */
    /*
     * QEMU's virtual clock, for guest_hypertrace_clock (the device sets
     * it; NULL in user mode, which has no virtual clock of its own)
     */
    int64_t (*virtual_clock)(void);
    /*
     * Posted records (docs/specs/hypertrace.rst): the rings follow the
     * slots in the data channel; ring_records is 0 without rings.
     * ring_taken[c] counts the records QEMU took of client c; ring_take()
     * is called before each event of a client whose ring is armed (see
     * hypertrace_control_store()) and takes its new records with the
     * owner's lock held.
     */
    uint64_t ring_offset;
    uint64_t ring_stride;
    uint64_t ring_records;
    uint64_t record_size;
    uint32_t *ring_taken;
    void (*ring_take)(void *opaque, uint64_t client);
    void *ring_opaque;
} HypertraceLayout;

/*
 * hypertrace_layout_init:
 * @layout: filled in
 * @max_clients: number of clients, checked by hypertrace_options_check()
 * @stride: bytes between clients, a power of two
 * @pow2: round the channel sizes up to a power of two (PCI BARs)
 * @ring_size: bytes of each client's ring, checked by
 *     hypertrace_options_check(); 0 for no rings
 */
void hypertrace_layout_init(HypertraceLayout *layout, uint64_t max_clients,
                            uint64_t stride, bool pow2, uint64_t ring_size);

/*
 * The options of a channel set.  -device hypertrace takes them as
 * properties and -hypertrace as suboptions, with the same names, defaults
 * and checks (hypertrace_options_check()), so that the same mistake gives
 * the same message in both modes.  roi-notify and roi-pause exist only in
 * system mode, where there is a QMP monitor.
 */
#define HYPERTRACE_DEFAULT_CLIENTS  16
#define HYPERTRACE_DEFAULT_ROI_BEGIN 1
#define HYPERTRACE_DEFAULT_ROI_END  0

/*
 * The rings of all clients together: the data channel stays below the
 * 1 GiB the guest library accepts, with the PCI device's slots too
 */
#define HYPERTRACE_MAX_RINGS_SIZE (512 << 20)

typedef struct HypertraceOptions {
    uint64_t max_clients;       /* max-clients */
    char *roi_events;           /* roi-events: NULL or "" for none */
    uint64_t roi_begin;         /* roi-begin */
    uint64_t roi_end;           /* roi-end */
    bool roi_notify;            /* roi-notify (system mode) */
    bool roi_pause;             /* roi-pause (system mode) */
    uint64_t ring_size;         /* ring-size: bytes per client, 0 for none */
    char *post_file;            /* post-file: NULL for none */
} HypertraceOptions;

/*
 * hypertrace_options_check:
 *
 * Returns: true when @opts can be used; false, with @errp set, for a
 * max-clients out of range, roi-pause without roi-notify, a roi-begin or
 * roi-end other than the default with no region control to use it, a
 * roi-begin equal to roi-end, a ring-size other than 0 or a multiple of 8
 * from 4 KiB to 16 MiB, rings of more than HYPERTRACE_MAX_RINGS_SIZE
 * bytes in all, or a post-file without rings.
 */
bool hypertrace_options_check(const HypertraceOptions *opts, Error **errp);

/* Whether @opts ask for region control (roi-events, or roi-notify) */
bool hypertrace_options_want_regions(const HypertraceOptions *opts);

/*
 * hypertrace_config_fill:
 * @layout: the channel geometry
 * @buf: HYPERTRACE_CFG_SIZE bytes, receives the little-endian config page
 */
void hypertrace_config_fill(const HypertraceLayout *layout, uint8_t *buf);

/*
 * hypertrace_control_store:
 * @layout: the channel geometry
 * @data: the data channel (every client's slot), read and never written
 * @who: prefix of the guest-error message for a store that is no event
 * @cpu: index of the vCPU that stored, or -1
 * @offset: byte offset of the store in the control channel
 * @size: bytes stored
 * @val: the stored bytes read as a little-endian number
 *
 * The one rule for stores to a control channel (docs/specs/hypertrace.rst):
 * an 8-byte store at a client's offset fires guest_hypertrace with arg1 =
 * @val; a 4-byte store there fires it with the high half of arg1 taken
 * from the slot's HYPERTRACE_SLOT_ARG1_HIGH word; any other store is
 * logged as a guest error and ignored.  The event's arguments are read
 * once, and only when something consumes them: the trace backends
 * (guest_hypertrace, and guest_hypertrace_clock where @layout has a
 * virtual clock), TCG plugins, then @layout's region control, if any.
 *
 * Returns: true when the store fired an event.
 */
bool hypertrace_control_store(const HypertraceLayout *layout,
                              const uint8_t *data, const char *who, int cpu,
                              uint64_t offset, unsigned size, uint64_t val);

/*
 * hypertrace_ring_pending:
 *
 * Whether @client's ring holds records that QEMU has not taken: a look
 * without the owner's lock, which ring_take() looks again with.
 */
static inline bool hypertrace_ring_pending(const HypertraceLayout *layout,
                                           const uint8_t *data,
                                           uint64_t client)
{
    const uint8_t *slot = data + (client << layout->stride_shift);

    return ldl_le_p(slot + HYPERTRACE_SLOT_RING_ARM) ==
           HYPERTRACE_RING_ARMED &&
           (uint32_t)ldl_le_p(slot + HYPERTRACE_SLOT_RING_HEAD) !=
           qatomic_read(&layout->ring_taken[client]);
}

/*
 * hypertrace_ring_take_records:
 * @layout: the channel geometry, with rings
 * @data: the data channel, whose RING_TAIL words QEMU writes
 * @who: prefix of the guest-error message for a head out of range
 * @client: the client
 * @post_file: where the records go in bulk, or NULL
 *
 * Take the records @client published since layout->ring_taken[client]:
 * write them to @post_file, trace each as guest_hypertrace_post where
 * that event is enabled, then move ring_taken and the client's RING_TAIL
 * past them.  The caller holds the lock that serializes the client's
 * takers.
 */
void hypertrace_ring_take_records(const HypertraceLayout *layout,
                                  uint8_t *data, const char *who,
                                  uint64_t client,
                                  HypertracePostFile *post_file);

/*
 * hypertrace_post_file_open:
 *
 * Create @path (truncated) for the records of @layout's rings: a header,
 * then a block per take, appended with one write each, so that several
 * threads and processes may share it.  NULL with @errp set on failure.
 */
HypertracePostFile *hypertrace_post_file_open(const char *path,
                                              const HypertraceLayout *layout,
                                              Error **errp);
void hypertrace_post_file_close(HypertracePostFile *pf);

/*
 * Called at a region boundary: @begin when @ev opens a region on its
 * client, else when it closes one.
 */
typedef void HypertraceBoundaryFn(void *opaque, const HypertraceEvent *ev,
                                  bool begin);

/*
 * hypertrace_regions_new:
 * @opts: the options, checked by hypertrace_options_check(): roi-events
 *     holds trace event name patterns separated by ':', with the glob
 *     syntax of -trace enable= (none switches no event), roi-begin and
 *     roi-end the arg1 values that open and close a region on a client
 * @bql: serialize boundaries on the BQL (system mode) rather than on a
 *     lock of their own (user mode)
 * @errp: error object
 *
 * While a region of the channel set is open, the events its patterns
 * match are enabled, unless they already were (by -trace, the monitor or
 * QMP: those are left as they are).  An event that regions enabled is
 * disabled again when the last open region of every channel set that
 * names it has closed: with several devices, one device's end does not
 * switch off what another device's open region still wants.
 *
 * Returns: the region state, or NULL with @errp set when a pattern
 * matches no event that can be enabled.
 */
HypertraceRegions *hypertrace_regions_new(const HypertraceOptions *opts,
                                          bool bql, Error **errp);

/*
 * hypertrace_regions_close:
 *
 * Close every region, switching off what they switched on, and ignore
 * the events that still arrive (a device being unplugged: a vCPU may be
 * inside its control handler).  The state itself stays valid until
 * hypertrace_regions_free(), which must wait until no handler can reach
 * it any more (the device's instance_finalize).
 */
void hypertrace_regions_close(HypertraceRegions *r);
void hypertrace_regions_free(HypertraceRegions *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HypertraceRegions, hypertrace_regions_free)

/*
 * hypertrace_regions_set_notify:
 *
 * Call @fn at every boundary (each begin, and each end that closes an
 * open region), after the trace events were switched and with the same
 * lock held (the BQL when @bql was given).
 */
void hypertrace_regions_set_notify(HypertraceRegions *r,
                                   HypertraceBoundaryFn *fn, void *opaque);

/*
 * hypertrace_regions_event:
 *
 * An event: when its arg1 is the begin or end value, open or close a
 * region on its client.  An end on a client with no open region is
 * logged as a guest error and changes nothing.
 */
void hypertrace_regions_event(HypertraceRegions *r, const HypertraceEvent *ev);

/*
 * The per-client region depths (an array of @max_clients), for migration;
 * after writing them, call hypertrace_regions_sync() to switch the events
 * accordingly.
 */
uint32_t *hypertrace_regions_depths(HypertraceRegions *r);
void hypertrace_regions_sync(HypertraceRegions *r);

/* Close every region (device reset), switching the events off */
void hypertrace_regions_reset(HypertraceRegions *r);

#endif
