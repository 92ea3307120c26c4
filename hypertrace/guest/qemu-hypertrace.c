/*
 * Hypertrace guest support library
 *
 * Built once per QEMU target, with QEMU_HYPERTRACE_SYSTEM (the channels are
 * the BARs of the hypertrace PCI device, mapped through sysfs) or
 * QEMU_HYPERTRACE_USER (the channels are the files that qemu-<arch>
 * -hypertrace creates).  The layout is in include/hypertrace/abi.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* This file defines the functions that the header's fast paths inline */
#define QEMU_HYPERTRACE_NO_INLINE
#include "qemu-hypertrace.h"
#include "hypertrace/abi.h"

#if !defined(QEMU_HYPERTRACE_SYSTEM) && !defined(QEMU_HYPERTRACE_USER)
#error "build with -DQEMU_HYPERTRACE_SYSTEM or -DQEMU_HYPERTRACE_USER"
#endif

/*
 * Channels are little-endian.  On a big-endian guest the data slots handed
 * to the program are private native-order copies, converted into the
 * channel by qemu_hypertrace(), so the program never sees swapped data.
 * (Constants rather than #if, so that every build compiles both paths.)
 */
static const bool ht_shadow = __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__;

/*
 * A guest with 32-bit pointers has no store that writes 8 bytes at once
 * (a 64-bit store may be split into two), so it fires events with one
 * 4-byte store after writing the high half of arg1 into the data slot.
 */
static const bool ht_narrow = UINTPTR_MAX == UINT32_MAX;

struct ht_map {
    void *addr;
    size_t size;
};

static pthread_mutex_t ht_lock = PTHREAD_MUTEX_INITIALIZER;

static struct {
    /*
     * Written last by init (release), read first by the event path.  It is
     * 32 bits wide so that the atomic access needs no libatomic on 32-bit
     * guests.
     */
    uint32_t max_clients;
    uint32_t num_args;
    size_t data_stride;
    size_t ctrl_stride;
    struct ht_map config;
    struct ht_map data;
    struct ht_map ctrl;
    uint64_t *shadow;           /* only if ht_shadow */
    /* Posted records: where QEMU offers them, else ring_records is 0 */
    size_t ring_offset;
    size_t ring_stride;
    uint32_t ring_records;
    uint32_t record_words;
} ht;

/* What the header's inline fast paths read; written by init and release */
struct qemu_hypertrace_fast_ qemu_hypertrace_fast_;

/*
 * What the last failed init tried, so that qemu_hypertrace_strerror() can
 * name it: the path whose open, mapping or contents failed (empty when no
 * path was tried: no BASE in user mode) and the errno it ended with.
 */
static struct {
    int err;
    bool base_from_env;
    char path[PATH_MAX];
} ht_fail;

static void fail_at(const char *path)
{
    ht_fail.err = errno;
    snprintf(ht_fail.path, sizeof(ht_fail.path), "%s", path);
}

/*
 * In system mode the config and control channels are device memory: each
 * access must be one 8-byte load or store that the compiler may neither
 * merge, split, nor drop, hence volatile.
 */
static uint64_t cfg_word(const struct ht_map *config, unsigned offset)
{
    const char *addr = (const char *)config->addr + offset;

    return le64toh(*(const volatile uint64_t *)addr); /* device memory */
}

/* mmap @size bytes of @path; the fd is closed again, errno kept on error */
static int map_path(const char *path, size_t size, bool writable,
                    struct ht_map *map)
{
    int fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    int saved;
    void *addr;

    if (fd < 0) {
        if (errno == ENOENT) {
            errno = ENODEV;
        }
        fail_at(path);
        return -1;
    }
    addr = mmap(NULL, size, PROT_READ | (writable ? PROT_WRITE : 0),
                MAP_SHARED, fd, 0);
    saved = errno;
    close(fd);
    if (addr == MAP_FAILED) {
        errno = saved;
        fail_at(path);
        return -1;
    }
    map->addr = addr;
    map->size = size;
    return 0;
}

static void unmap(struct ht_map *map)
{
    if (map->addr) {
        munmap(map->addr, map->size);
    }
    map->addr = NULL;
    map->size = 0;
}

static int path_join(char *buf, size_t len, const char *a, const char *b)
{
    int n = snprintf(buf, len, "%s%s", a, b);

    if (n < 0 || (size_t)n >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

#ifdef QEMU_HYPERTRACE_SYSTEM
#define SYSFS_PCI "/sys/bus/pci/devices"

static unsigned long read_hex_file(const char *dir, const char *name)
{
    char path[PATH_MAX];
    unsigned long val = 0;
    FILE *f;

    if (path_join(path, sizeof(path), dir, name) < 0) {
        return 0;
    }
    f = fopen(path, "re");
    if (!f) {
        return 0;
    }
    if (fscanf(f, "%lx", &val) != 1) {
        val = 0;
    }
    fclose(f);
    return val;
}

static bool is_device(const char *path, unsigned long vendor,
                      unsigned long device)
{
    return read_hex_file(path, "/vendor") == vendor &&
           read_hex_file(path, "/device") == device;
}

/*
 * The sysfs directory of the first hypertrace device; failing that, of a
 * device of ABI version 1 or 2, whose config channel then tells its
 * version (EPROTO) instead of ENODEV.
 */
static int find_device(char *dir, size_t len)
{
    DIR *d = opendir(SYSFS_PCI);
    struct dirent *e;
    char old[PATH_MAX] = "";
    int ret = -1;

    if (!d) {
        if (errno != EACCES) {
            errno = ENODEV;
        }
        fail_at(SYSFS_PCI);
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        char path[PATH_MAX];

        if (e->d_name[0] == '.' ||
            snprintf(path, sizeof(path), SYSFS_PCI "/%s", e->d_name) >=
            (int)sizeof(path)) {
            continue;
        }
        if (is_device(path, HYPERTRACE_PCI_VENDOR_ID,
                      HYPERTRACE_PCI_DEVICE_ID)) {
            ret = path_join(dir, len, path, "");
            break;
        }
        if (!old[0] && is_device(path, HYPERTRACE_PCI_OLD_VENDOR_ID,
                                 HYPERTRACE_PCI_OLD_DEVICE_ID)) {
            memcpy(old, path, sizeof(old));
        }
    }
    closedir(d);
    if (ret < 0 && old[0]) {
        ret = path_join(dir, len, old, "");
    }
    if (ret < 0 && errno != ENAMETOOLONG) {
        errno = ENODEV;
        fail_at(SYSFS_PCI);
    }
    return ret;
}

/* Firmware may leave memory decoding off when no driver claimed the device */
static void enable_device(const char *dir)
{
    char path[PATH_MAX];
    int fd;

    if (path_join(path, sizeof(path), dir, "/enable") < 0) {
        return;
    }
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (write(fd, "1", 1) < 0) {
            /* the magic check below reports the failure */
        }
        close(fd);
    }
}

static int map_channel(const char *dir, uint64_t bar, size_t size,
                       bool writable, struct ht_map *map)
{
    char path[PATH_MAX];
    char name[32];

    snprintf(name, sizeof(name), "/resource%u", (unsigned)bar);
    if (path_join(path, sizeof(path), dir, name) < 0) {
        return -1;
    }
    return map_path(path, size, writable, map);
}

static int map_config(const char *base, char *dir, size_t len)
{
    if (base) {
        if (path_join(dir, len, base, "") < 0) {
            return -1;
        }
    } else if (find_device(dir, len) < 0) {
        return -1;
    }
    if (map_channel(dir, HYPERTRACE_PCI_CFG_BAR, HYPERTRACE_CFG_SIZE, false,
                    &ht.config) < 0) {
        return -1;
    }
    if (cfg_word(&ht.config, HYPERTRACE_CFG_MAGIC) != HYPERTRACE_MAGIC) {
        enable_device(dir);
    }
    return 0;
}

#else /* QEMU_HYPERTRACE_USER */

static int map_channel(const char *base, const char *suffix, size_t size,
                       bool writable, struct ht_map *map)
{
    char path[PATH_MAX];

    if (path_join(path, sizeof(path), base, suffix) < 0) {
        return -1;
    }
    return map_path(path, size, writable, map);
}

static int map_config(const char *base, char *dir, size_t len)
{
    if (!base) {
        base = getenv(QEMU_HYPERTRACE_ENV);
        if (!base || !*base) {
            errno = ENODEV;
            fail_at("");
            return -1;
        }
        ht_fail.base_from_env = true;
    }
    if (path_join(dir, len, base, "") < 0) {
        return -1;
    }
    return map_channel(dir, "-config", HYPERTRACE_CFG_SIZE, false,
                       &ht.config);
}
#endif

static void release(void)
{
    __atomic_store_n(&ht.max_clients, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&qemu_hypertrace_fast_.clients, 0, __ATOMIC_RELEASE);
    free(qemu_hypertrace_fast_.rings);
    qemu_hypertrace_fast_.rings = NULL;
    ht.ring_records = 0;
    unmap(&ht.ctrl);
    unmap(&ht.data);
    unmap(&ht.config);
    free(ht.shadow);
    ht.shadow = NULL;
    ht.num_args = 0;
}

/*
 * Whether the config words describe channels this library can use safely:
 * every word that is later divided, multiplied or mapped is bounded here.
 */
static bool layout_valid(uint64_t max_clients, uint64_t num_args,
                         uint64_t data_stride, uint64_t ctrl_stride,
                         uint64_t data_size, uint64_t ctrl_size)
{
    if (max_clients == 0 || max_clients > HYPERTRACE_MAX_CLIENTS ||
        num_args == 0 || num_args > HYPERTRACE_MAX_ARGS) {
        return false;
    }
    if (data_stride < HYPERTRACE_SLOT_SIZE ||
        data_stride > HYPERTRACE_MAX_STRIDE || data_stride % 8 ||
        ctrl_stride < 8 || ctrl_stride > HYPERTRACE_MAX_STRIDE ||
        ctrl_stride % 8) {
        return false;
    }
    /* No overflow: both factors are bounded above */
    return data_size <= HYPERTRACE_MAX_CHANNEL_SIZE &&
           ctrl_size <= HYPERTRACE_MAX_CHANNEL_SIZE &&
           max_clients * data_stride <= data_size &&
           max_clients * ctrl_stride <= ctrl_size;
}

/*
 * Whether the ring words describe rings inside the data channel, with the
 * ring control words inside each data slot
 */
static bool rings_valid(uint64_t max_clients, uint64_t num_args,
                        uint64_t data_stride, uint64_t data_size,
                        uint64_t offset, uint64_t stride, uint64_t records,
                        uint64_t record_size)
{
    if (record_size != 8 * (num_args + 1) || records == 0 ||
        records > UINT32_MAX / 2 || data_stride < HYPERTRACE_SLOT_RING_SIZE ||
        offset % 8 || stride % 8 || stride > HYPERTRACE_MAX_CHANNEL_SIZE ||
        records > stride / record_size) {
        return false;
    }
    /* No overflow: every factor is bounded above */
    return offset <= data_size && max_clients * stride <= data_size - offset;
}

static int do_init(const char *base)
{
    char dir[PATH_MAX];
    uint64_t max_clients, num_args, data_stride, ctrl_stride;
    uint64_t data_size, ctrl_size;

    if (map_config(base, dir, sizeof(dir)) < 0) {
        return -1;
    }
    if (cfg_word(&ht.config, HYPERTRACE_CFG_MAGIC) != HYPERTRACE_MAGIC) {
        errno = EBADMSG;
        fail_at(dir);
        return -1;
    }
    if (cfg_word(&ht.config, HYPERTRACE_CFG_VERSION) != HYPERTRACE_VERSION) {
        errno = EPROTO;
        fail_at(dir);
        return -1;
    }
    max_clients = cfg_word(&ht.config, HYPERTRACE_CFG_MAX_CLIENTS);
    num_args = cfg_word(&ht.config, HYPERTRACE_CFG_NUM_ARGS);
    data_stride = cfg_word(&ht.config, HYPERTRACE_CFG_DATA_STRIDE);
    ctrl_stride = cfg_word(&ht.config, HYPERTRACE_CFG_CTRL_STRIDE);
    data_size = cfg_word(&ht.config, HYPERTRACE_CFG_DATA_SIZE);
    ctrl_size = cfg_word(&ht.config, HYPERTRACE_CFG_CTRL_SIZE);
    if (!layout_valid(max_clients, num_args, data_stride, ctrl_stride,
                      data_size, ctrl_size)) {
        errno = EBADMSG;
        fail_at(dir);
        return -1;
    }
    ht.data_stride = data_stride;
    ht.ctrl_stride = ctrl_stride;

#ifdef QEMU_HYPERTRACE_SYSTEM
    {
        uint64_t data_bar = cfg_word(&ht.config, HYPERTRACE_CFG_DATA_BAR);
        uint64_t ctrl_bar = cfg_word(&ht.config, HYPERTRACE_CFG_CTRL_BAR);

        if (data_bar > 5 || ctrl_bar > 5) {
            errno = EBADMSG;
            fail_at(dir);
            return -1;
        }
        if (map_channel(dir, data_bar, data_size, true, &ht.data) < 0 ||
            map_channel(dir, ctrl_bar, ctrl_size, true, &ht.ctrl) < 0) {
            return -1;
        }
    }
#else
    if (map_channel(dir, "-data", data_size, true, &ht.data) < 0 ||
        map_channel(dir, "-control", ctrl_size, true, &ht.ctrl) < 0) {
        return -1;
    }
#endif
    if (ht_shadow) {
        ht.shadow = calloc(max_clients * num_args, sizeof(uint64_t));
        if (!ht.shadow) {
            return -1;
        }
    }
    if (cfg_word(&ht.config, HYPERTRACE_CFG_FEATURES) &
        HYPERTRACE_FEATURE_POST) {
        uint64_t offset = cfg_word(&ht.config, HYPERTRACE_CFG_RING_OFFSET);
        uint64_t stride = cfg_word(&ht.config, HYPERTRACE_CFG_RING_STRIDE);
        uint64_t records = cfg_word(&ht.config, HYPERTRACE_CFG_RING_RECORDS);
        uint64_t size = cfg_word(&ht.config, HYPERTRACE_CFG_RECORD_SIZE);
        void *rings;

        if (!rings_valid(max_clients, num_args, data_stride, data_size,
                         offset, stride, records, size)) {
            errno = EBADMSG;
            fail_at(dir);
            return -1;
        }
        size_t bytes = max_clients * sizeof(struct qemu_hypertrace_ring_);

        /* a cache line each: clients are threads that post at once */
        if (posix_memalign(&rings, 64, bytes)) {
            errno = ENOMEM;
            return -1;
        }
        memset(rings, 0, bytes);
        qemu_hypertrace_fast_.rings = rings;
        ht.ring_offset = offset;
        ht.ring_stride = stride;
        ht.ring_records = records;
        ht.record_words = num_args + 1;
    }
    ht.num_args = num_args;
    qemu_hypertrace_fast_.ctrl = ht.ctrl.addr;
    qemu_hypertrace_fast_.ctrl_stride = ctrl_stride;
    __atomic_store_n(&ht.max_clients, (uint32_t)max_clients,
                     __ATOMIC_RELEASE);
    /* the inline fast paths: 64-bit little-endian guests only */
    if (!ht_shadow && !ht_narrow) {
        __atomic_store_n(&qemu_hypertrace_fast_.clients,
                         (uint32_t)max_clients, __ATOMIC_RELEASE);
    }
    return 0;
}

int qemu_hypertrace_init(const char *base)
{
    int ret = 0;

    pthread_mutex_lock(&ht_lock);
    if (ht.max_clients == 0) {
        ht_fail.err = 0;
        ht_fail.base_from_env = false;
        ret = do_init(base);
        if (ret < 0) {
            int saved = errno;

            release();
            errno = saved;
        }
    }
    pthread_mutex_unlock(&ht_lock);
    return ret;
}

void qemu_hypertrace_fini(void)
{
    pthread_mutex_lock(&ht_lock);
    release();
    pthread_mutex_unlock(&ht_lock);
}

uint64_t qemu_hypertrace_max_clients(void)
{
    return __atomic_load_n(&ht.max_clients, __ATOMIC_ACQUIRE);
}

uint64_t qemu_hypertrace_num_args(void)
{
    return qemu_hypertrace_max_clients() ? ht.num_args : 0;
}

uint64_t *qemu_hypertrace_data(uint64_t client)
{
    if (client >= qemu_hypertrace_max_clients()) {
        errno = EINVAL;
        return NULL;
    }
    if (ht_shadow) {
        return ht.shadow + client * ht.num_args;
    }
    return (uint64_t *)((char *)ht.data.addr + client * ht.data_stride);
}

/* The client's slot in the data channel */
static char *slot_of(uint64_t client)
{
    return (char *)ht.data.addr + client * ht.data_stride;
}

/* The event store, with the data slot as it is in the channel */
static void fire(uint64_t client, uint64_t arg1)
{
    char *slot_addr = slot_of(client), *ctrl;

    if (ht_narrow) {
        *(uint32_t *)(slot_addr + HYPERTRACE_SLOT_ARG1_HIGH) =
            htole32((uint32_t)(arg1 >> 32));
    }
    /* The data slot must be written before the control register */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    ctrl = (char *)ht.ctrl.addr + client * ht.ctrl_stride;
    /* One store, of the widest size the guest has */
    if (ht_narrow) {
        uint32_t low = (uint32_t)arg1;

        *(volatile uint32_t *)ctrl = htole32(low); /* device memory */
    } else {
        *(volatile uint64_t *)ctrl = htole64(arg1); /* device memory */
    }
}

void qemu_hypertrace(uint64_t client, uint64_t arg1)
{
    if (client >= qemu_hypertrace_max_clients()) {
        errno = EINVAL;
        return;
    }
    if (ht_shadow) {
        uint64_t *slot = (uint64_t *)slot_of(client);
        const uint64_t *src = ht.shadow + client * ht.num_args;
        uint64_t i;

        for (i = 0; i + 1 < ht.num_args; i++) {
            slot[i] = htole64(src[i]);
        }
    }
    fire(client, arg1);
}

static inline uint64_t clock_now(void)
{
#if defined(__x86_64__) || defined(__i386__)
    uint32_t lo, hi;

    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
#elif defined(__aarch64__)
    uint64_t v;

    __asm__ volatile("mrs %0, cntvct_el0" : "=r"(v));
    return v;
#else
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + now.tv_nsec;
#endif
}

uint64_t qemu_hypertrace_clock(void)
{
    return clock_now();
}

uint64_t qemu_hypertrace_ring_records(void)
{
    return qemu_hypertrace_max_clients() ? ht.ring_records : 0;
}

/* a control word of @client's ring, shared with QEMU */
static volatile uint32_t *ring_word(uint64_t c, unsigned off) /* shared */
{
    return (volatile uint32_t *)(slot_of(c) + off); /* shared */
}

/*
 * Posted events are placed on the host's timeline through the flushes,
 * the points known on both clocks (see flush_ring()).  So that a client
 * that posts for long, with room in its ring, still gives such points,
 * the fast path leaves a client's ring every ANCHOR_CHECK records, and a
 * client that has not flushed for ANCHOR_TICKS of its clock flushes then
 * (a millisecond or two of a TSC; an exit that often costs nothing).
 */
#define ANCHOR_CHECK 64
#define ANCHOR_TICKS (1ull << 22)

/* Make QEMU take @client's records: an event with the drain tag */
static void drain_ring(uint64_t client)
{
    fire(client, (uint64_t)QEMU_HYPERTRACE_DRAIN_TAG << 32);
}

/*
 * Make QEMU take @client's records and give the timeline a point on both
 * clocks: a drain if the ring holds records, then, the ring empty (QEMU
 * takes nothing at it, so that it is traced at its store), an event with
 * the flush tag and the clock in arg2, the slot's arg2 word put back
 * afterwards
 */
static void flush_ring(uint64_t client)
{
    struct qemu_hypertrace_ring_ *r = &qemu_hypertrace_fast_.rings[client];
    uint64_t *slot = (uint64_t *)slot_of(client), saved = 0;
    uint32_t tail = le32toh(__atomic_load_n(
                        ring_word(client, HYPERTRACE_SLOT_RING_TAIL),
                        __ATOMIC_ACQUIRE));
    uint64_t now;

    if (tail != r->head) {
        drain_ring(client);
    }
    now = clock_now();
    r->anchor = now;
    if (ht.num_args >= 2) {
        saved = slot[0];
        slot[0] = htole64(now);
    }
    fire(client, (uint64_t)QEMU_HYPERTRACE_FLUSH_TAG << 32);
    if (ht.num_args >= 2) {
        slot[0] = saved;
    }
}

/*
 * How far the client's head may go without the slow path: up to a ring
 * past what QEMU took, and ANCHOR_CHECK records at most
 */
static void ring_refresh(uint64_t client, struct qemu_hypertrace_ring_ *r)
{
    uint32_t tail = le32toh(__atomic_load_n(
                        ring_word(client, HYPERTRACE_SLOT_RING_TAIL),
                        __ATOMIC_ACQUIRE));
    uint32_t used = r->head - tail;
    uint64_t room = used > ht.ring_records ? 0 : ht.ring_records - used;

    /* (no room either for a tail QEMU would not store) */
    r->room_end = r->head + (uint32_t)(room < ANCHOR_CHECK ? room
                                                           : ANCHOR_CHECK);
}

/*
 * The first post of a client: its ring goes on from the head it holds (a
 * program before this one may have posted), armed, and a flush anchors
 * the clock
 */
static void ring_arm(uint64_t client, struct qemu_hypertrace_ring_ *r)
{
    volatile uint32_t *head_word = ring_word(client, /* shared */
                                             HYPERTRACE_SLOT_RING_HEAD);
    uint64_t *ring = (uint64_t *)((char *)ht.data.addr + ht.ring_offset +
                                  client * ht.ring_stride);
    uint32_t tail;

    r->start = ring;
    r->end = ring + (size_t)ht.ring_records * ht.record_words;
    r->words = ht.record_words;
    r->slot = ht_shadow ? ht.shadow + client * ht.num_args :
                          (const uint64_t *)slot_of(client);
    r->head_word = head_word;
    r->head = le32toh(*head_word);
    tail = le32toh(__atomic_load_n(ring_word(client,
                                             HYPERTRACE_SLOT_RING_TAIL),
                                   __ATOMIC_ACQUIRE));
    if (r->head - tail > ht.ring_records) {
        /* not a head QEMU agrees with: start where QEMU stands */
        r->head = tail;
        __atomic_store_n(head_word, htole32(tail), __ATOMIC_RELEASE);
    }
    r->next = ring + (size_t)(r->head % ht.ring_records) * ht.record_words;
    __atomic_store_n(ring_word(client, HYPERTRACE_SLOT_RING_ARM),
                     htole32(HYPERTRACE_RING_ARMED), __ATOMIC_RELEASE);
    r->armed = 1;
    flush_ring(client);
    ring_refresh(client, r);
}

/* One record into @r, which has room, published by the head's store */
static inline void ring_put(struct qemu_hypertrace_ring_ *r, uint64_t arg1)
{
    uint64_t *rec = r->next;
    uint32_t i;

    rec[0] = htole64(clock_now());
    rec[1] = htole64(arg1);
    for (i = 2; i < r->words; i++) {
        rec[i] = htole64(r->slot[i - 2]);
    }
    rec += r->words;
    r->next = rec == r->end ? r->start : rec;
    __atomic_store_n(r->head_word, htole32(++r->head), __ATOMIC_RELEASE);
}

int qemu_hypertrace_post_slow_(uint64_t client, uint64_t arg1)
{
    struct qemu_hypertrace_ring_ *r;
    int tries;

    if (client >= qemu_hypertrace_max_clients()) {
        errno = EINVAL;
        return -1;
    }
    if (!ht.ring_records) {
        qemu_hypertrace(client, arg1);
        return 0;
    }
    r = &qemu_hypertrace_fast_.rings[client];
    if (!r->armed) {
        ring_arm(client, r);
    } else if (clock_now() - r->anchor >= ANCHOR_TICKS) {
        flush_ring(client);
    }
    /* full: what QEMU took since, else a drain makes it take them */
    for (tries = 0; r->head == r->room_end; tries++) {
        if (tries == 3) {
            /* a QEMU that takes nothing: the event all the same */
            qemu_hypertrace(client, arg1);
            return 0;
        }
        if (tries) {
            drain_ring(client);
        }
        ring_refresh(client, r);
    }
    ring_put(r, arg1);
    return 0;
}

/* The same fast path as the header's inline one, for callers of the symbol */
int qemu_hypertrace_post(uint64_t client, uint64_t arg1)
{
    struct qemu_hypertrace_fast_ *f = &qemu_hypertrace_fast_;

    if (client < __atomic_load_n(&f->clients, __ATOMIC_ACQUIRE) && f->rings &&
        f->rings[client].head != f->rings[client].room_end) {
        ring_put(&f->rings[client], arg1);
        return 0;
    }
    return qemu_hypertrace_post_slow_(client, arg1);
}

int qemu_hypertrace_flush(uint64_t client)
{
    struct qemu_hypertrace_ring_ *r;

    if (client >= qemu_hypertrace_max_clients()) {
        errno = EINVAL;
        return -1;
    }
    if (!ht.ring_records) {
        return 0;
    }
    r = &qemu_hypertrace_fast_.rings[client];
    if (!r->armed) {
        ring_arm(client, r);            /* flushes */
    } else {
        flush_ring(client);
        ring_refresh(client, r);
    }
    return 0;
}

/*
 * The guest's ftrace marker: opened on first use and kept open (-1 when
 * there is none; looked for again on the next call, since tracefs may be
 * mounted later).
 */
static const char *const ht_marker_paths[] = {
    "/sys/kernel/tracing/trace_marker",
    "/sys/kernel/debug/tracing/trace_marker",
};
static int ht_marker_fd = -1;
static const char *ht_marker;

static int marker_fd(void)
{
    size_t i;
    int fd;

    pthread_mutex_lock(&ht_lock);
    for (i = 0; ht_marker_fd < 0 &&
         i < sizeof(ht_marker_paths) / sizeof(ht_marker_paths[0]); i++) {
        fd = open(ht_marker_paths[i], O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            ht_marker_fd = fd;
            ht_marker = ht_marker_paths[i];
        }
    }
    fd = ht_marker_fd;
    pthread_mutex_unlock(&ht_lock);
    return fd;
}

const char *qemu_hypertrace_marker_path(void)
{
    return marker_fd() >= 0 ? ht_marker : NULL;
}

/* How often this thread has been switched out, or -1 */
static long switches(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_THREAD, &ru) < 0) {
        return -1;
    }
    return ru.ru_nvcsw + ru.ru_nivcsw;
}

static uint64_t mono_ns(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + now.tv_nsec;
}

/*
 * Longer than this between the marker and its event, and the two are not
 * one instant any more (under TCG a pair takes about 10 us; a host that
 * deschedules the vCPU in between stretches it on both clocks)...
 */
#define MARK_SLACK_NS 100000

/*
 * ...or longer than this many system calls: under -icount every
 * instruction costs the guest's clock the same virtual time, and a
 * system call can take a millisecond of it; a slack that counts in
 * system calls follows what the guest's clock makes of one
 */
#define MARK_SLACK_SYSCALLS 25

/* The guest clock's cost of a system call, the fastest of a few */
static uint64_t syscall_ns(void)
{
    static unsigned long cost;      /* a word: atomic on every target */
    unsigned long c = __atomic_load_n(&cost, __ATOMIC_RELAXED);

    if (!c) {
        c = ULONG_MAX;
        for (int i = 0; i < 3; i++) {
            uint64_t t0 = mono_ns(), t;

            getppid();
            t = mono_ns() - t0;
            c = t < c ? t : c;
        }
        c = c ? c : 1;
        __atomic_store_n(&cost, c, __ATOMIC_RELAXED);
    }
    return c;
}

int qemu_hypertrace_mark(uint64_t client, uint64_t arg1, const char *text)
{
    size_t len = strlen(text);
    uint64_t t0 = 0, slack = MARK_SLACK_NS;
    int fd, err = ENOENT;
    long before = -1;
    ssize_t n = -1;

    if (client >= qemu_hypertrace_max_clients()) {
        errno = EINVAL;
        return -1;
    }
    fd = marker_fd();
    if (fd >= 0) {
        slack = MARK_SLACK_SYSCALLS * syscall_ns();
        slack = slack > MARK_SLACK_NS ? slack : MARK_SLACK_NS;
        before = switches();
        /*
         * The marker's host time lies between this event and the next:
         * under -icount, where the guest's clock and the host's part
         * across idle time, the two bound it on the host clock
         */
        qemu_hypertrace(client, (uint64_t)QEMU_HYPERTRACE_BRACKET_TAG << 32 |
                        (uint32_t)arg1);
        t0 = mono_ns();
        /* the marker's timestamp is taken in this call... */
        n = write(fd, text, len);
        err = n < 0 ? errno : EIO;
    }
    /* ...and the event's right after it returns */
    qemu_hypertrace(client, arg1);
    if (n == (ssize_t)len) {
        /* a preemption on the way back from write() parts the two */
        return mono_ns() - t0 > slack ||
               (before >= 0 && switches() != before) ?
               QEMU_HYPERTRACE_MARK_LATE : 1;
    }
    errno = err;
    return 0;
}

int qemu_hypertrace_sync(uint64_t client, uint64_t run, uint32_t seq)
{
    uint64_t *data = qemu_hypertrace_data(client), mono;
    char text[96];

    if (!data) {
        return -1;
    }
    mono = mono_ns();
    snprintf(text, sizeof(text), "hypertrace-sync run=%016" PRIx64
             " seq=%" PRIu32 " mono=%" PRIu64 "\n", run, seq, mono);
    if (ht.num_args >= 2) {
        data[0] = run;
    }
    if (ht.num_args >= 3) {
        data[1] = mono;
    }
    return qemu_hypertrace_mark(client,
                                (uint64_t)QEMU_HYPERTRACE_SYNC_TAG << 32 | seq,
                                text);
}

/* The generic message for @errnum, without a path */
static const char *generic_message(int errnum)
{
    switch (errnum) {
    case ENODEV:
#ifdef QEMU_HYPERTRACE_SYSTEM
        return "not running under QEMU with hypertrace: no hypertrace PCI"
               " device (start QEMU with -device hypertrace; a program run"
               " by qemu-<arch> in user mode needs the library built for"
               " <arch>-linux-user)";
#else
        return "not running under QEMU with hypertrace: no hypertrace"
               " channel at that BASE (start this program itself under"
               " qemu-<arch> -hypertrace BASE; the programs it executes run"
               " outside QEMU)";
#endif
    case EACCES:
    case EPERM:
#ifdef QEMU_HYPERTRACE_SYSTEM
        return "permission denied on the hypertrace device's sysfs files"
               " (run as root, or grant access to them as the hypertrace"
               " user guide's \"Use without root\" shows)";
#else
        return "permission denied: hypertrace channels are never refused to"
               " this library, so this is a host file, and the program is"
               " not running under qemu-<arch> -hypertrace with that BASE";
#endif
    case EBADMSG:
        return "the config channel does not describe a hypertrace channel"
               " (bad magic, or a layout word out of range)";
    case EPROTO:
        return "the hypertrace ABI version of QEMU differs from this guest"
               " library's (rebuild the library from the same QEMU)";
    case EINVAL:
        return "client index out of range, or hypertrace not initialised";
    default:
        return strerror(errnum);
    }
}

const char *qemu_hypertrace_strerror(int errnum)
{
    static char msg[PATH_MAX + 512];

    if (errnum != ht_fail.err || errnum == 0) {
        return generic_message(errnum);
    }
    switch (errnum) {
#ifdef QEMU_HYPERTRACE_USER
    case ENODEV:
        if (!ht_fail.path[0]) {
            return "not running under QEMU with hypertrace: "
                   QEMU_HYPERTRACE_ENV " is not set and no BASE was given"
                   " (start this program itself under qemu-<arch>"
                   " -hypertrace BASE, which sets it; the programs it"
                   " executes run outside QEMU)";
        }
        if (ht_fail.base_from_env) {
            snprintf(msg, sizeof(msg),
                     "not running under QEMU with hypertrace: no channel %s,"
                     " although " QEMU_HYPERTRACE_ENV " names it: a program"
                     " under qemu-<arch> -hypertrace executed this one, which"
                     " runs outside QEMU (in user mode only the program QEMU"
                     " runs and its forks can emit; run this program under"
                     " qemu-<arch> -hypertrace itself)", ht_fail.path);
            return msg;
        }
        snprintf(msg, sizeof(msg),
                 "not running under QEMU with hypertrace: no channel %s"
                 " (start this program itself under qemu-<arch> -hypertrace"
                 " with that BASE; the programs it executes run outside"
                 " QEMU)", ht_fail.path);
        return msg;
    case EACCES:
    case EPERM:
        snprintf(msg, sizeof(msg),
                 "%s: %s; hypertrace channels are never refused to this"
                 " library, so this is a host file: the program is not"
                 " running under qemu-<arch> -hypertrace with that BASE",
                 ht_fail.path, strerror(errnum));
        return msg;
    case EBADMSG:
        snprintf(msg, sizeof(msg),
                 "%s-config is not a hypertrace channel (a host file? the"
                 " program is not running under qemu-<arch> -hypertrace"
                 " with that BASE)", ht_fail.path);
        return msg;
#else
    case ENODEV:
        snprintf(msg, sizeof(msg),
                 "not running under QEMU with hypertrace: no hypertrace PCI"
                 " device (%04x:%04x) %s %s (start QEMU with -device"
                 " hypertrace; a program run by qemu-<arch> in user mode"
                 " needs the library built for <arch>-linux-user)",
                 HYPERTRACE_PCI_VENDOR_ID, HYPERTRACE_PCI_DEVICE_ID,
                 strcmp(ht_fail.path, SYSFS_PCI) ? "at" : "in",
                 ht_fail.path);
        return msg;
    case EACCES:
    case EPERM:
        snprintf(msg, sizeof(msg),
                 "%s: %s (the device's sysfs files are root's: run as root,"
                 " or grant access to them as the hypertrace user guide's"
                 " \"Use without root\" shows)",
                 ht_fail.path, strerror(errnum));
        return msg;
#endif
    default:
        return generic_message(errnum);
    }
}
