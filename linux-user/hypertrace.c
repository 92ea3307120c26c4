/*
 * Hypertrace in linux-user: -hypertrace channels
 *
 * qemu-<arch> -hypertrace [path=]BASE[,max-clients=N] gives the emulated
 * process three channels, BASE-config, BASE-data and BASE-control
 * (docs/specs/hypertrace.rst).  They are sealed memfds of this QEMU and
 * nothing else: no file is created on the host.  The guest reaches them
 * by name, because a guest open() of one of the three paths returns a new
 * descriptor on the channel (like the files of /proc/self that syscall.c
 * fakes), so every QEMU has channels of its own, however many use the
 * same BASE, and nothing is left behind however QEMU ends.  QEMU maps
 * BASE-data too, to read argument slots.
 *
 * Catching control stores.  The guest's control mappings are never
 * writable on the host.  The first store that faults on one is used only
 * to learn the guest PC of the storing instruction: the PC is marked as a
 * store hook site (include/user/store-hook.h), the translation blocks
 * holding it are invalidated and the instruction is restarted.  When it
 * is translated again, its stores are emitted as calls to
 * hypertrace_user_store(), which fires the event when the address falls
 * in a control mapping and performs an ordinary store otherwise.  From
 * then on, an event from that call site costs one helper call: no signal
 * and no mprotect.
 *
 * Why this is safe.  The signal handler does what the SMC handling in
 * page_unprotect() already does from the same handler: it takes mmap_lock
 * and invalidates translation blocks.  The fault is synchronous and comes
 * from generated code, which never runs with mmap_lock or the allocator's
 * locks held, so neither can deadlock.  Events themselves are never
 * emitted from the signal handler: hypertrace_user_store() runs in the
 * vCPU thread's normal context, where every trace backend may be called.
 * Other threads may still be running a block translated before the PC was
 * remembered; they fault too, find the PC remembered and their block
 * invalid, and restart.  A store that faults although its block was
 * translated with the helper (an atomic or 16-byte store to control) is a
 * guest error: the guest gets SIGSEGV.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/config-file.h"
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "qemu/option.h"
#include "qemu/rcu.h"
#include "qemu/thread.h"
#include "qapi/error.h"
#include "accel/tcg/cpu-ldst.h"
#include "exec/cpu-common.h"
#include "exec/mmap-lock.h"
#include "user/page-protection.h"
#include "exec/translation-block.h"
#include "tcg/tcg.h"
#include "qemu.h"
#include "user-internals.h"
#include "user/cpu_loop.h"
#include "user-mmap.h"
#include "user/store-hook.h"
#include "hypertrace.h"
#include "hypertrace/hypertrace.h"

/* Control mappings in the guest address space */
typedef struct HTRange {
    abi_ulong start;
    abi_ulong last;
    uint64_t offset;        /* offset in BASE-control of @start */
    bool writable;          /* the guest's protection has PROT_WRITE */
} HTRange;

/*
 * Replaced as a whole under mmap_lock and freed after an RCU grace period:
 * helpers read it locklessly (vCPUs execute inside an RCU read section).
 */
typedef struct HTRanges {
    struct rcu_head rcu;
    int n;
    HTRange r[];
} HTRanges;

#define HT_MAX_RANGES 64
/* Remembered call sites; beyond this, further sites get SIGSEGV */
#define HT_MAX_SITES 65536

static const char *const ht_suffix[] = { "-config", "-data", "-control" };

/*
 * Seals of each channel: none can change size, so QEMU's mapping of the
 * data channel can never fault; config and control take no more writes.
 */
static const unsigned ht_seals[] = {
    F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL,
    F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL,
    F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL,
};

/*
 * Posted records: per client, the lock that serializes its takers and the
 * process whose guest last took them with an event of its own.  In a
 * shared anonymous mapping, so that a forked child's QEMU and its
 * parent's take each record once between them; the locks are robust, so
 * that a QEMU killed while it held one does not stop the other.
 */
typedef struct HTRingShared {
    pthread_mutex_t lock;
    pid_t owner;                /* 0: any process takes them */
} HTRingShared;

#define HT_RING_PERIOD_NS (2 * 1000 * 1000)

static struct {
    bool enabled;
    HypertraceLayout layout;
    char *paths[3];         /* absolute and normalised */
    char *base_name;        /* last component of BASE */
    int fds[3];             /* the memfds */
    dev_t dev[3];
    ino_t ino[3];
    uint8_t *data;          /* QEMU's mapping of BASE-data */
    HTRanges *ranges;
    HTRingShared *rings;    /* max_clients, shared with forked QEMUs */
    HypertracePostFile *post_file;
    bool ring_thread;       /* x-ring-thread: off to test the other takes */
    bool ring_thread_running;
} ht;

static QemuOptsList hypertrace_opts = {
    .name = "hypertrace",
    .implied_opt_name = "path",
    .head = QTAILQ_HEAD_INITIALIZER(hypertrace_opts.head),
    .desc = {
        { .name = "path", .type = QEMU_OPT_STRING },
        { .name = "max-clients", .type = QEMU_OPT_NUMBER },
        { .name = "replace", .type = QEMU_OPT_STRING },    /* refused */
        { .name = "roi-events", .type = QEMU_OPT_STRING },
        { .name = "roi-begin", .type = QEMU_OPT_NUMBER },
        { .name = "roi-end", .type = QEMU_OPT_NUMBER },
        { .name = "ring-size", .type = QEMU_OPT_SIZE },
        { .name = "post-file", .type = QEMU_OPT_STRING },
        { .name = "x-ring-thread", .type = QEMU_OPT_BOOL },
        { /* end of list */ }
    },
};

static void hypertrace_user_store(CPUArchState *env, uint64_t addr,
                                  uint64_t val, MemOpIdx oi, uintptr_t ra);
static G_NORETURN void ht_fatal(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static G_NORETURN void ht_fatal(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    error_vreport(fmt, ap);
    va_end(ap);
    exit(EXIT_FAILURE);
}

/* The directory a guest path relative to @dirfd starts from, or NULL */
static char *ht_dirfd_path(int dirfd)
{
    char link[32];
    char buf[PATH_MAX];
    ssize_t n;

    if (dirfd == AT_FDCWD) {
        return g_get_current_dir();
    }
    snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
    n = readlink(link, buf, sizeof(buf) - 1);
    if (n <= 0 || buf[0] != '/') {
        return NULL;
    }
    buf[n] = 0;
    return g_strdup(buf);
}

/* Channel @i's memfd, checked to still be the one QEMU made */
static bool ht_fd_intact(int i)
{
    struct stat st;

    return fstat(ht.fds[i], &st) == 0 && st.st_dev == ht.dev[i] &&
           st.st_ino == ht.ino[i];
}

/*
 * Create channel @i: a sealed memfd of @size bytes holding @contents (if
 * not NULL).
 */
static void ht_create(int i, uint64_t size, const void *contents)
{
    g_autofree char *name = g_strconcat("hypertrace", ht_suffix[i], NULL);
    struct stat st;
    int fd;

    fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        ht_fatal("-hypertrace: cannot create the %s channel: %s", name,
                 strerror(errno));
    }
    if (ftruncate(fd, size) < 0 ||
        (contents && pwrite(fd, contents, size, 0) != (ssize_t)size) ||
        fcntl(fd, F_ADD_SEALS, ht_seals[i]) < 0 || fstat(fd, &st) < 0) {
        ht_fatal("-hypertrace: cannot set up the %s channel: %s", name,
                 strerror(errno));
    }
    ht.fds[i] = fd;
    ht.dev[i] = st.st_dev;
    ht.ino[i] = st.st_ino;
}

/*
 * A new open file description of channel @i: /proc/self/fd/N opens the
 * memfd itself, with its own access mode and offset.
 */
static int ht_reopen(int i, int flags)
{
    char link[32];

    snprintf(link, sizeof(link), "/proc/self/fd/%d", ht.fds[i]);
    return open(link, flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW));
}

/* Lock @c's takers, in whichever QEMU process */
static void ht_ring_lock(uint64_t c)
{
    if (pthread_mutex_lock(&ht.rings[c].lock) == EOWNERDEAD) {
        /* its owner died taking records: they may be traced twice */
        pthread_mutex_consistent(&ht.rings[c].lock);
    }
}

/*
 * Take the records of every client this process's guest fired an event
 * on last, or that no process has taken with an event yet: a forked
 * child and its parent share the rings, and each takes those of the
 * clients its guest uses.
 */
static void ht_ring_take_all(void)
{
    pid_t me = getpid();
    uint64_t c;

    for (c = 0; c < ht.layout.max_clients; c++) {
        pid_t owner = qatomic_read(&ht.rings[c].owner);

        if ((owner == 0 || owner == me) &&
            hypertrace_ring_pending(&ht.layout, ht.data, c)) {
            ht_ring_lock(c);
            hypertrace_ring_take_records(&ht.layout, ht.data, "hypertrace",
                                         c, ht.post_file);
            pthread_mutex_unlock(&ht.rings[c].lock);
        }
    }
}

/* A quiet guest's records reach the trace within a few milliseconds */
static void *ht_ring_thread(void *opaque)
{
    const struct timespec period = { 0, HT_RING_PERIOD_NS };

    rcu_register_thread();
    for (;;) {
        nanosleep(&period, NULL);
        ht_ring_take_all();
    }
    return NULL;
}

static void ht_ring_thread_start(void)
{
    QemuThread thread;

    if (!ht.ring_thread) {
        return;
    }
    qemu_thread_create(&thread, "hypertrace-ring", ht_ring_thread, NULL,
                       QEMU_THREAD_DETACHED);
}

/*
 * An event of a client whose ring is armed: its records come first, taken
 * here.  The first such event starts the thread that takes the records
 * of quiet clients, so that a program that does not post costs nothing.
 */
static void ht_ring_take(void *opaque, uint64_t client)
{
    if (!qatomic_xchg(&ht.ring_thread_running, true)) {
        ht_ring_thread_start();
    }
    qatomic_set(&ht.rings[client].owner, getpid());
    if (hypertrace_ring_pending(&ht.layout, ht.data, client)) {
        ht_ring_lock(client);
        hypertrace_ring_take_records(&ht.layout, ht.data, "hypertrace",
                                     client, ht.post_file);
        pthread_mutex_unlock(&ht.rings[client].lock);
    }
}

static void ht_rings_init(const char *post_file)
{
    pthread_mutexattr_t attr;
    size_t size = ht.layout.max_clients * (sizeof(HTRingShared) +
                                           sizeof(uint32_t));
    Error *err = NULL;
    uint64_t c;
    void *p;

    p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
             -1, 0);
    if (p == MAP_FAILED) {
        ht_fatal("-hypertrace: cannot map the rings' state: %s",
                 strerror(errno));
    }
    ht.rings = p;
    ht.layout.ring_taken = (uint32_t *)(ht.rings + ht.layout.max_clients);
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    for (c = 0; c < ht.layout.max_clients; c++) {
        pthread_mutex_init(&ht.rings[c].lock, &attr);
    }
    pthread_mutexattr_destroy(&attr);
    ht.layout.ring_take = ht_ring_take;
    if (post_file) {
        ht.post_file = hypertrace_post_file_open(post_file, &ht.layout,
                                                 &err);
        if (!ht.post_file) {
            error_report_err(err);
            exit(EXIT_FAILURE);
        }
    }
}

void hypertrace_user_take_records(void)
{
    if (ht.enabled && ht.layout.ring_records) {
        ht_ring_take_all();
    }
}

/* A child whose parent had the thread running gets one of its own */
void hypertrace_user_fork_end(bool child)
{
    if (child && ht.enabled && qatomic_read(&ht.ring_thread_running)) {
        ht_ring_thread_start();
    }
}

void hypertrace_user_init(const char *optarg, envlist_t *envlist)
{
    uint8_t config[HYPERTRACE_CFG_SIZE];
    uint64_t stride = MAX(qemu_real_host_page_size(), TARGET_PAGE_SIZE);
    Error *err = NULL;
    QemuOpts *opts;
    const char *opt_base;
    g_autofree char *cwd = g_get_current_dir();
    g_autofree char *base = NULL;
    HypertraceOptions ho = { 0 };
    g_autofree char *env = NULL;
    g_autofree char *roi_events = NULL;
    g_autofree char *post_file = NULL;
    int fd, i;

    opts = qemu_opts_parse_noisily(&hypertrace_opts, optarg, true);
    if (!opts) {
        exit(EXIT_FAILURE);
    }
    opt_base = qemu_opt_get(opts, "path");
    ho.max_clients = qemu_opt_get_number(opts, "max-clients",
                                         HYPERTRACE_DEFAULT_CLIENTS);
    roi_events = g_strdup(qemu_opt_get(opts, "roi-events"));
    ho.roi_events = roi_events;
    ho.roi_begin = qemu_opt_get_number(opts, "roi-begin",
                                       HYPERTRACE_DEFAULT_ROI_BEGIN);
    ho.roi_end = qemu_opt_get_number(opts, "roi-end",
                                     HYPERTRACE_DEFAULT_ROI_END);
    ho.ring_size = qemu_opt_get_size(opts, "ring-size",
                                     HYPERTRACE_DEFAULT_RING_SIZE);
    post_file = g_strdup(qemu_opt_get(opts, "post-file"));
    ho.post_file = post_file;
    ht.ring_thread = qemu_opt_get_bool(opts, "x-ring-thread", true);
    if (qemu_opt_get(opts, "replace")) {
        ht_fatal("-hypertrace: replace is no longer needed: the channels are"
                 " not files on the host, so any number of QEMUs can use the"
                 " same path");
    }
    if (!opt_base || !*opt_base) {
        ht_fatal("-hypertrace: path=BASE is required");
    }
    base = g_canonicalize_filename(opt_base, cwd);
    if (strlen(base) + strlen("-control") >= PATH_MAX) {
        ht_fatal("-hypertrace: path is too long (%zu bytes; the channel"
                 " names must stay below %d)", strlen(base), PATH_MAX);
    }
    if (g_str_has_suffix(opt_base, "/") || !strcmp(base, "/")) {
        ht_fatal("-hypertrace: path=%s names a directory; BASE is the"
                 " beginning of the channel names, e.g. /tmp/hypertrace",
                 opt_base);
    }
    if (!hypertrace_options_check(&ho, &err)) {
        error_report_err(err);
        exit(EXIT_FAILURE);
    }
    hypertrace_layout_init(&ht.layout, ho.max_clients, stride, false,
                           ho.ring_size);
    hypertrace_config_fill(&ht.layout, config);
    if (hypertrace_options_want_regions(&ho)) {
        ht.layout.regions = hypertrace_regions_new(&ho, false, &err);
        if (!ht.layout.regions) {
            error_report_err(err);
            exit(EXIT_FAILURE);
        }
    }

    for (i = 0; i < 3; i++) {
        ht.paths[i] = g_strconcat(base, ht_suffix[i], NULL);
    }
    ht.base_name = g_path_get_basename(base);
    ht_create(0, HYPERTRACE_CFG_SIZE, config);
    ht_create(1, ht.layout.data_size, NULL);
    ht_create(2, ht.layout.ctrl_size, NULL);
    /* writable: QEMU stores each ring's RING_TAIL */
    ht.data = mmap(NULL, ht.layout.data_size, PROT_READ | PROT_WRITE,
                   MAP_SHARED, ht.fds[1], 0);
    if (ht.data == MAP_FAILED) {
        ht_fatal("-hypertrace: cannot map the data channel: %s",
                 strerror(errno));
    }
    if (ht.layout.ring_records) {
        ht_rings_init(ho.post_file);
    }
    /* The guest's descriptors are opened through /proc: check it works */
    fd = ht_reopen(0, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ht_fatal("-hypertrace: cannot reopen a channel through /proc (%s);"
                 " -hypertrace needs /proc mounted", strerror(errno));
    }
    close(fd);

    /* qemu_hypertrace_init(NULL) in the guest finds BASE here */
    env = g_strconcat("QEMU_HYPERTRACE_BASE=", base, NULL);
    envlist_setenv(envlist, env);
    qemu_opts_del(opts);

    user_store_hook_set(hypertrace_user_store);
    ht.enabled = true;
}

int hypertrace_user_open(int dirfd, const char *path, int flags)
{
    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    size_t n;
    g_autofree char *dir = NULL;
    g_autofree char *abs = NULL;
    int i, fd;

    if (!ht.enabled) {
        return -2;
    }
    /* Cheap test first: the last component must be a channel's */
    n = strlen(ht.base_name);
    if (strncmp(name, ht.base_name, n)) {
        return -2;
    }
    for (i = 0; i < 3; i++) {
        if (!strcmp(name + n, ht_suffix[i])) {
            break;
        }
    }
    if (i == 3) {
        return -2;
    }
    if (!g_path_is_absolute(path)) {
        dir = ht_dirfd_path(dirfd);
        if (!dir) {
            return -2;
        }
    }
    abs = g_canonicalize_filename(path, dir);
    if (strcmp(abs, ht.paths[i])) {
        return -2;
    }

    if ((flags & O_CREAT) && (flags & O_EXCL)) {
        errno = EEXIST;
        return -1;
    }
    if (flags & O_DIRECTORY) {
        errno = ENOTDIR;
        return -1;
    }
    /* config is read-only: like a file without write permission */
    if (i == 0 && (flags & O_ACCMODE) != O_RDONLY) {
        errno = EACCES;
        return -1;
    }
    if (!ht_fd_intact(i)) {
        qemu_log_mask(LOG_GUEST_ERROR, "hypertrace: QEMU's descriptor of %s"
                      " was closed or replaced by the guest\n", ht.paths[i]);
        errno = EIO;
        return -1;
    }
    fd = ht_reopen(i, flags);
    return fd;
}

/*
 * The control mapping holding @addr: its offset in BASE-control, and
 * whether the guest may store there.
 */
static bool ht_ctrl_lookup(abi_ptr addr, uint64_t *offset, bool *writable)
{
    HTRanges *rs;
    int i;

    RCU_READ_LOCK_GUARD();
    rs = qatomic_rcu_read(&ht.ranges);

    for (i = 0; rs && i < rs->n; i++) {
        if (addr >= rs->r[i].start && addr <= rs->r[i].last) {
            *offset = rs->r[i].offset + (addr - rs->r[i].start);
            *writable = rs->r[i].writable;
            return true;
        }
    }
    return false;
}

int hypertrace_user_mmap_check(int fd, abi_ulong len, off_t offset,
                               int *prot, int *ctrl_prot)
{
    struct stat st;

    *ctrl_prot = -1;
    if (!ht.enabled || fd < 0 || fstat(fd, &st) < 0 ||
        st.st_dev != ht.dev[2] || st.st_ino != ht.ino[2]) {
        return 0;
    }
    if (offset < 0 || offset % ht.layout.stride ||
        offset >= ht.layout.ctrl_size ||
        len > ht.layout.ctrl_size - offset) {
        errno = EINVAL;
        return -1;
    }
    *ctrl_prot = *prot;
    /* Readable, so that a store faults as ACCERR and reaches us */
    if (*prot & PROT_WRITE) {
        *prot = (*prot & ~PROT_WRITE) | PROT_READ;
    }
    return 0;
}

/*
 * Replace the set of control mappings by the current one, in which
 * [start, last] is forgotten (@remove) or made read-only (otherwise),
 * plus @add if not NULL.  Called with mmap_lock held.
 */
static void ht_update_ranges(abi_ulong start, abi_ulong last, bool remove,
                             const HTRange *add)
{
    HTRanges *old = ht.ranges;
    int n = old ? old->n : 0;
    HTRanges *rs = g_malloc(sizeof(*rs) + (3 * n + 1) * sizeof(HTRange));
    int i;

    rs->n = 0;
    for (i = 0; i < n; i++) {
        HTRange r = old->r[i];

        if (r.last < start || r.start > last) {
            rs->r[rs->n++] = r;
            continue;
        }
        if (r.start < start) {
            rs->r[rs->n++] = (HTRange) {
                r.start, start - 1, r.offset, r.writable
            };
        }
        if (!remove) {
            abi_ulong s = MAX(r.start, start), l = MIN(r.last, last);

            rs->r[rs->n++] = (HTRange) {
                s, l, r.offset + (s - r.start), false
            };
        }
        if (r.last > last) {
            rs->r[rs->n++] = (HTRange) {
                last + 1, r.last, r.offset + (last + 1 - r.start), r.writable
            };
        }
    }
    if (add) {
        if (rs->n < HT_MAX_RANGES) {
            rs->r[rs->n++] = *add;
        } else {
            qemu_log_mask(LOG_GUEST_ERROR, "hypertrace: more than %d control"
                          " mappings; stores to the one at 0x"
                          TARGET_ABI_FMT_lx " will fault\n", HT_MAX_RANGES,
                          add->start);
        }
    }
    qatomic_rcu_set(&ht.ranges, rs);
    if (old) {
        g_free_rcu(old, rcu);
    }
}

void hypertrace_user_mapped(abi_ulong start, abi_ulong len, int ctrl_prot,
                            off_t offset)
{
    HTRange add = {
        start, start + len - 1, offset, (ctrl_prot & PROT_WRITE) != 0
    };

    if (ctrl_prot >= 0) {
        ht_update_ranges(start, start + len - 1, true, &add);
    } else {
        hypertrace_user_unmapped(start, len);
    }
}

void hypertrace_user_unmapped(abi_ulong start, abi_ulong len)
{
    if (hypertrace_user_overlaps(start, len)) {
        ht_update_ranges(start, start + len - 1, true, NULL);
    }
}

void hypertrace_user_protected(abi_ulong start, abi_ulong len, int prot)
{
    if (!(prot & PROT_WRITE) && hypertrace_user_overlaps(start, len)) {
        ht_update_ranges(start, start + len - 1, false, NULL);
    }
}

bool hypertrace_user_overlaps(abi_ulong start, abi_ulong len)
{
    abi_ulong last = start + len - 1;
    HTRanges *rs;
    int i;

    RCU_READ_LOCK_GUARD();
    rs = qatomic_rcu_read(&ht.ranges);

    for (i = 0; rs && i < rs->n; i++) {
        if (rs->r[i].start <= last && rs->r[i].last >= start) {
            return true;
        }
    }
    return false;
}

bool hypertrace_user_fault(CPUState *cpu, sigset_t *old_set,
                           uintptr_t host_pc, abi_ptr guest_addr)
{
    TranslationBlock *tb;
    uint64_t offset;
    bool found, writable;
    uint64_t pc;

    if (!ht.enabled ||
        !in_code_gen_buffer((void *)(host_pc - tcg_splitwx_diff))) {
        return false;
    }
    found = ht_ctrl_lookup(guest_addr, &offset, &writable);
    if (!found && !have_mmap_lock()) {
        /*
         * target_mmap() creates the host mapping before it registers the
         * control range, both under mmap_lock: wait for a concurrent one
         * to finish, then look again.
         */
        mmap_lock();
        found = ht_ctrl_lookup(guest_addr, &offset, &writable);
        mmap_unlock();
    }
    /* A store to control that the guest's protection forbids: SIGSEGV */
    if (!found || !writable || !(page_get_flags(guest_addr) & PAGE_READ)) {
        return false;
    }

    mmap_lock();
    tb = tcg_tb_lookup(host_pc);
    cpu_restore_state(cpu, host_pc);
    pc = cpu->cc->get_pc(cpu);
    if (user_store_hook_marked(pc)) {
        if (tb && !(tb_cflags(tb) & CF_INVALID)) {
            /* Translated with the helper and still faulting */
            mmap_unlock();
            qemu_log_mask(LOG_GUEST_ERROR, "hypertrace: the store at pc 0x%"
                          PRIx64 " to control 0x" TARGET_ABI_FMT_lx " is"
                          " atomic or wider than 8 bytes: SIGSEGV\n",
                          pc, guest_addr);
            return false;
        }
    } else if (user_store_hook_count() >= HT_MAX_SITES) {
        mmap_unlock();
        qemu_log_mask(LOG_GUEST_ERROR, "hypertrace: more than %d code sites"
                      " store to control; the one at pc 0x%" PRIx64
                      " gets SIGSEGV\n", HT_MAX_SITES, pc);
        return false;
    } else {
        user_store_hook_mark(pc);
        tb_invalidate_phys_range(cpu, pc, pc);
    }
    mmap_unlock();

    /* Re-execute the store, now translated with the helper */
    sigprocmask(SIG_SETMASK, old_set, NULL);
    cpu_loop_exit_noexc(cpu);
}

/* The bytes that a store of @val with @mop writes, read as little-endian */
static uint64_t ht_le_value(uint64_t val, MemOp mop)
{
    unsigned size = memop_size(mop);
    uint8_t bytes[8];

    if (mop & MO_BSWAP) {
        switch (size) {
        case 2:
            val = bswap16(val);
            break;
        case 4:
            val = bswap32(val);
            break;
        case 8:
            val = bswap64(val);
            break;
        }
    }
    stn_he_p(bytes, size, val);
    return ldn_le_p(bytes, size);
}

/* An ordinary store of a remembered instruction */
static void ht_plain_store(CPUArchState *env, uint64_t addr, uint64_t val,
                           MemOpIdx oi, uintptr_t ra)
{
    switch (get_memop(oi) & MO_SIZE) {
    case MO_8:
        cpu_stb_mmu(env, addr, val, oi, ra);
        break;
    case MO_16:
        cpu_stw_mmu(env, addr, val, oi, ra);
        break;
    case MO_32:
        cpu_stl_mmu(env, addr, val, oi, ra);
        break;
    case MO_64:
        cpu_stq_mmu(env, addr, val, oi, ra);
        break;
    default:
        g_assert_not_reached();
    }
}

/*
 * The store hook: a store by an instruction marked above, called from the
 * translated code in the vCPU thread's normal context.
 */
static void hypertrace_user_store(CPUArchState *env, uint64_t addr,
                                  uint64_t val, MemOpIdx oi, uintptr_t ra)
{
    MemOp mop = get_memop(oi);
    uint64_t offset;
    bool found, writable;

    found = ht_ctrl_lookup(addr, &offset, &writable);
    if (!found) {
        /*
         * Ordinary memory, unless a concurrent mmap() is turning it into
         * a control mapping: decide and store under mmap_lock, which
         * target_mmap() holds while it changes mappings, so that the
         * store cannot meet a half-made mapping and fault.
         */
        mmap_lock();
        found = ht_ctrl_lookup(addr, &offset, &writable);
        if (!found) {
            ht_plain_store(env, addr, val, oi, ra);
            mmap_unlock();
            return;
        }
        mmap_unlock();
    }
    if (!writable) {
        /* As natively: the guest made the mapping read-only or none */
        cpu_loop_exit_sigsegv(env_cpu(env), addr, MMU_DATA_STORE, false, ra);
    }
    hypertrace_control_store(&ht.layout, ht.data, "hypertrace",
                             env_cpu(env)->cpu_index, offset,
                             memop_size(mop), ht_le_value(val, mop));
}
