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
#include "qemu/error-report.h"
#include "qemu/timer.h"
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
QEMU_BUILD_BUG_ON(HYPERTRACE_SLOT_RING_TAIL + 4 > HYPERTRACE_SLOT_RING_SIZE);

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
    if (opts->ring_size && (opts->ring_size < 4096 ||
                            opts->ring_size > HYPERTRACE_MAX_RING_SIZE ||
                            opts->ring_size % 8)) {
        error_setg(errp, "hypertrace: ring-size must be 0 (no rings) or a"
                   " multiple of 8 from 4 KiB to 16 MiB (got %" PRIu64 ")",
                   opts->ring_size);
        return false;
    }
    if (opts->ring_size * opts->max_clients > HYPERTRACE_MAX_RINGS_SIZE) {
        error_setg(errp, "hypertrace: the rings of max-clients clients of"
                   " ring-size bytes must fit in %d MiB (got %" PRIu64
                   " x %" PRIu64 ")", HYPERTRACE_MAX_RINGS_SIZE >> 20,
                   opts->max_clients, opts->ring_size);
        return false;
    }
    if (opts->post_file && !opts->ring_size) {
        error_setg(errp, "hypertrace: post-file needs rings (ring-size is"
                   " 0)");
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
                            uint64_t stride, bool pow2, uint64_t ring_size)
{
    uint64_t size;

    assert(max_clients >= 1 && max_clients <= HYPERTRACE_MAX_CLIENTS);
    assert(is_power_of_2(stride) && stride >= HYPERTRACE_SLOT_RING_SIZE &&
           stride <= HYPERTRACE_MAX_STRIDE);
    assert(ring_size % 8 == 0 && ring_size <= HYPERTRACE_MAX_RING_SIZE);

    memset(layout, 0, sizeof(*layout));
    size = max_clients * stride;
    layout->ctrl_size = pow2 ? pow2ceil(size) : size;
    /* the rings follow the slots */
    if (ring_size) {
        layout->record_size = 8 * (CONFIG_HYPERTRACE_ARGS + 1);
        layout->ring_offset = size;
        layout->ring_stride = ring_size;
        layout->ring_records = ring_size / layout->record_size;
        size += max_clients * ring_size;
    }
    layout->max_clients = max_clients;
    layout->stride = stride;
    layout->stride_shift = ctz64(stride);
    layout->data_size = pow2 ? pow2ceil(size) : size;
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
    if (layout->ring_records) {
        stq_le_p(buf + HYPERTRACE_CFG_FEATURES, HYPERTRACE_FEATURE_POST);
        stq_le_p(buf + HYPERTRACE_CFG_RING_OFFSET, layout->ring_offset);
        stq_le_p(buf + HYPERTRACE_CFG_RING_STRIDE, layout->ring_stride);
        stq_le_p(buf + HYPERTRACE_CFG_RING_RECORDS, layout->ring_records);
        stq_le_p(buf + HYPERTRACE_CFG_RECORD_SIZE, layout->record_size);
    }
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

/* guest_hypertrace_post with the record @rec (little-endian words) */
static void trace_record(uint64_t client, const uint8_t *rec)
{
    uint64_t a[CONFIG_HYPERTRACE_ARGS + 1];
    int i;

    for (i = 0; i <= CONFIG_HYPERTRACE_ARGS; i++) {
        a[i] = ldq_le_p(rec + 8 * i);
    }
#if CONFIG_HYPERTRACE_ARGS == 1
    trace_guest_hypertrace_post(client, a[0], a[1]);
#elif CONFIG_HYPERTRACE_ARGS == 2
    trace_guest_hypertrace_post(client, a[0], a[1], a[2]);
#elif CONFIG_HYPERTRACE_ARGS == 3
    trace_guest_hypertrace_post(client, a[0], a[1], a[2], a[3]);
#elif CONFIG_HYPERTRACE_ARGS == 4
    trace_guest_hypertrace_post(client, a[0], a[1], a[2], a[3], a[4]);
#elif CONFIG_HYPERTRACE_ARGS == 5
    trace_guest_hypertrace_post(client, a[0], a[1], a[2], a[3], a[4], a[5]);
#elif CONFIG_HYPERTRACE_ARGS == 6
    trace_guest_hypertrace_post(client, a[0], a[1], a[2], a[3], a[4], a[5],
                                a[6]);
#elif CONFIG_HYPERTRACE_ARGS == 7
    trace_guest_hypertrace_post(client, a[0], a[1], a[2], a[3], a[4], a[5],
                                a[6], a[7]);
#else
    trace_guest_hypertrace_post(client, a[0], a[1], a[2], a[3], a[4], a[5],
                                a[6], a[7], a[8]);
#endif
}

/*
 * The post file: a header, then one block per take (a block header and
 * the records as the ring holds them), each appended with one write so
 * that the blocks of threads and processes that share the file never
 * mix.  Little-endian, docs/specs/hypertrace.rst ("Posted records").
 */
struct HypertracePostFile {
    int fd;
};

typedef struct QEMU_PACKED HypertracePostFileHeader {
    char magic[8];              /* "HTPOST01" */
    uint32_t num_args;
    uint32_t record_size;
    uint32_t pid;
    uint32_t flags;
    uint64_t reserved;
} HypertracePostFileHeader;

typedef struct QEMU_PACKED HypertracePostBlock {
    uint32_t magic;             /* "hblk" */
    uint32_t client;
    uint32_t count;
    uint32_t pid;               /* the process that took the records */
    uint64_t index;             /* the first record's index in the ring */
    uint64_t mono_ns;           /* CLOCK_MONOTONIC when they were taken */
    uint64_t real_ns;           /* CLOCK_REALTIME, the same instant */
} HypertracePostBlock;

#define HYPERTRACE_POST_BLOCK_MAGIC 0x6b6c6268u

HypertracePostFile *hypertrace_post_file_open(const char *path,
                                              const HypertraceLayout *layout,
                                              Error **errp)
{
    HypertracePostFileHeader h = {
        .magic = "HTPOST01",
        .num_args = cpu_to_le32(CONFIG_HYPERTRACE_ARGS),
        .record_size = cpu_to_le32(layout->record_size),
        .pid = cpu_to_le32(getpid()),
    };
    HypertracePostFile *pf;
    int fd;

    fd = qemu_create(path, O_WRONLY | O_TRUNC | O_APPEND, 0644, errp);
    if (fd < 0) {
        error_prepend(errp, "hypertrace: post-file: ");
        return NULL;
    }
    if (qemu_write_full(fd, &h, sizeof(h)) != sizeof(h)) {
        error_setg_errno(errp, errno, "hypertrace: post-file: cannot write"
                         " '%s'", path);
        close(fd);
        return NULL;
    }
    pf = g_new0(HypertracePostFile, 1);
    pf->fd = fd;
    return pf;
}

void hypertrace_post_file_close(HypertracePostFile *pf)
{
    if (pf) {
        close(pf->fd);
        g_free(pf);
    }
}

/* One block: @n records of @client from index @first, in one write */
static void post_file_write(HypertracePostFile *pf, uint64_t client,
                            uint32_t first, const uint8_t *a, size_t alen,
                            const uint8_t *b, size_t blen, uint32_t n)
{
    HypertracePostBlock h = {
        .magic = cpu_to_le32(HYPERTRACE_POST_BLOCK_MAGIC),
        .client = cpu_to_le32(client),
        .count = cpu_to_le32(n),
        .pid = cpu_to_le32(getpid()),
        .index = cpu_to_le64(first),
        .mono_ns = cpu_to_le64(get_clock()),
        .real_ns = cpu_to_le64(get_clock_realtime()),
    };
    struct iovec iov[3] = {
        { &h, sizeof(h) }, { (void *)a, alen }, { (void *)b, blen },
    };
    size_t left = sizeof(h) + alen + blen;
    unsigned cnt = blen ? 3 : 2;
    struct iovec *v = iov;

    while (left) {
        ssize_t ret = writev(pf->fd, v, cnt);

        if (ret < 0 && errno == EINTR) {
            continue;
        }
        if (ret <= 0) {
            warn_report_once("hypertrace: post-file: write failed: %s;"
                             " posted records are lost",
                             ret < 0 ? strerror(errno) : "nothing written");
            return;
        }
        left -= ret;
        while (cnt && (size_t)ret >= v->iov_len) {
            ret -= v->iov_len;
            v++;
            cnt--;
        }
        if (cnt) {
            v->iov_base = (uint8_t *)v->iov_base + ret;
            v->iov_len -= ret;
        }
    }
}

void hypertrace_ring_take_records(const HypertraceLayout *layout,
                                  uint8_t *data, const char *who,
                                  uint64_t client,
                                  HypertracePostFile *post_file)
{
    uint8_t *slot = data + (client << layout->stride_shift);
    uint8_t *ring = data + layout->ring_offset + client * layout->ring_stride;
    uint64_t records = layout->ring_records, size = layout->record_size;
    uint32_t taken = layout->ring_taken[client], head, n, first, k;
    uint32_t *head_word;

    if (ldl_le_p(slot + HYPERTRACE_SLOT_RING_ARM) != HYPERTRACE_RING_ARMED) {
        return;
    }
    /* the records before the head that published them */
    head_word = (uint32_t *)(slot + HYPERTRACE_SLOT_RING_HEAD);
    head = le32_to_cpu(qatomic_load_acquire(head_word));
    n = head - taken;
    if (!n) {
        return;
    }
    if (n > records) {
        qemu_log_mask(LOG_GUEST_ERROR, "%s: client %" PRIu64 " published"
                      " records up to %" PRIu32 ", %" PRIu32 " past the %"
                      PRIu32 " QEMU took, and its ring holds %" PRIu64
                      ": they are skipped\n", who, client, head, n, taken,
                      records);
    } else {
        first = taken % records;
        k = MIN(n, records - first);
        if (post_file) {
            post_file_write(post_file, client, taken, ring + first * size,
                            k * size, ring, (n - k) * size, n);
        }
        if (trace_event_get_state_backends(TRACE_GUEST_HYPERTRACE_POST)) {
            for (k = 0; k < n; k++) {
                trace_record(client, ring + ((first + k) % records) * size);
            }
        }
    }
    qatomic_set(&layout->ring_taken[client], head);
    /* hand the space back once the records are out */
    qatomic_store_release((uint32_t *)(slot + HYPERTRACE_SLOT_RING_TAIL),
                          cpu_to_le32(head));
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

    /* the client's posted records come before its event */
    if (unlikely(layout->ring_records) &&
        ldl_le_p(data + (client << layout->stride_shift) +
                 HYPERTRACE_SLOT_RING_ARM) == HYPERTRACE_RING_ARMED) {
        layout->ring_take(layout->ring_opaque, client);
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
