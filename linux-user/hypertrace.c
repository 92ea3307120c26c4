/*
 * Hypertrace in linux-user: -hypertrace channel files
 *
 * qemu-<arch> -hypertrace [path=]BASE[,max-clients=N][,replace=on] creates
 * BASE-config, BASE-data and BASE-control (docs/specs/hypertrace.rst).  The
 * guest maps them; QEMU maps BASE-data too, to read argument slots.
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
#include <sys/syscall.h>
#include "qemu/bswap.h"
#include "qemu/config-file.h"
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "qemu/option.h"
#include "qemu/rcu.h"
#include "qapi/error.h"
#include "exec/cpu_ldst.h"
#include "exec/exec-all.h"
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

static struct {
    bool enabled;
    pid_t owner;            /* the process that created the files */
    HypertraceLayout layout;
    char *paths[3];         /* absolute */
    bool created[3];
    char *targets[3];       /* what the links this process made point to */
    dev_t ctrl_dev;
    ino_t ctrl_ino;
    uint8_t *data;          /* QEMU's mapping of BASE-data */
    HTRanges *ranges;
} ht;

static QemuOptsList hypertrace_opts = {
    .name = "hypertrace",
    .implied_opt_name = "path",
    .head = QTAILQ_HEAD_INITIALIZER(hypertrace_opts.head),
    .desc = {
        { .name = "path", .type = QEMU_OPT_STRING },
        { .name = "max-clients", .type = QEMU_OPT_NUMBER },
        { .name = "replace", .type = QEMU_OPT_BOOL },
        { .name = "roi-events", .type = QEMU_OPT_STRING },
        { .name = "roi-begin", .type = QEMU_OPT_NUMBER },
        { .name = "roi-end", .type = QEMU_OPT_NUMBER },
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
    hypertrace_user_exit();
    exit(EXIT_FAILURE);
}

/*
 * If @path is a channel link ("/proc/PID/fd/N"), the PID of the QEMU that
 * made it; 0 otherwise.
 */
static pid_t ht_link_owner(const char *path)
{
    char target[64];
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    unsigned long pid, fd;
    int end = 0;

    if (n <= 0) {
        return 0;
    }
    target[n] = 0;
    if (sscanf(target, "/proc/%lu/fd/%lu%n", &pid, &fd, &end) != 2 ||
        end != n || pid == 0 || pid > INT_MAX) {
        return 0;
    }
    return pid;
}

/* Remove what is at @path if replace=on may: a channel link or a file */
static void ht_replace(const char *path)
{
    struct stat st;
    pid_t pid;

    if (lstat(path, &st) < 0) {
        return;
    }
    pid = S_ISLNK(st.st_mode) ? ht_link_owner(path) : 0;
    if (!S_ISREG(st.st_mode) && !pid) {
        ht_fatal("-hypertrace: %s exists and is neither a hypertrace channel"
                 " nor a regular file; not replacing it", path);
    }
    if (unlink(path) < 0) {
        ht_fatal("-hypertrace: cannot remove %s: %s", path, strerror(errno));
    }
}

static G_NORETURN void ht_exists(const char *path)
{
    pid_t pid = ht_link_owner(path);
    struct stat st;

    if (pid && stat(path, &st) == 0) {
        ht_fatal("-hypertrace: %s is in use by QEMU process %d; choose"
                 " another path, or add replace=on to take it over", path,
                 (int)pid);
    } else if (pid) {
        ht_fatal("-hypertrace: %s was left by QEMU process %d, which was"
                 " killed; remove it or add replace=on", path, (int)pid);
    }
    ht_fatal("-hypertrace: %s already exists; remove it or add replace=on",
             path);
}

/*
 * Create channel @i: a sealed memfd of @size bytes (holding @contents, if
 * not NULL) and, at ht.paths[i], a symbolic link through which other
 * processes, and the guest, open it.  Returns the memfd.
 */
static int ht_create(int i, bool replace, uint64_t size, const void *contents)
{
    const char *path = ht.paths[i];
    g_autofree char *name = g_strconcat("hypertrace", ht_suffix[i], NULL);
    char *target;
    struct stat st;
    int fd;

    if (replace) {
        ht_replace(path);
    }
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
    target = g_strdup_printf("/proc/%d/fd/%d", (int)getpid(), fd);
    if (symlink(target, path) < 0) {
        if (errno == EEXIST) {
            ht_exists(path);
        }
        ht_fatal("-hypertrace: cannot create %s: %s", path, strerror(errno));
    }
    ht.created[i] = true;
    ht.targets[i] = target;
    /* Other processes reach the channel through /proc: check that they can */
    {
        struct stat via;

        if (stat(path, &via) < 0 || via.st_dev != st.st_dev ||
            via.st_ino != st.st_ino) {
            ht_fatal("-hypertrace: %s does not lead to QEMU's channel (%s);"
                     " -hypertrace needs /proc mounted", path,
                     strerror(errno));
        }
    }
    return fd;
}

/* @base made absolute, so that a guest chdir() changes nothing */
static char *ht_absolute(const char *base)
{
    g_autofree char *cwd = NULL;

    if (g_path_is_absolute(base)) {
        return g_strdup(base);
    }
    cwd = g_get_current_dir();
    return g_build_filename(cwd, base, NULL);
}

void hypertrace_user_init(const char *optarg, envlist_t *envlist)
{
    uint8_t config[HYPERTRACE_CFG_SIZE];
    uint64_t stride = MAX(qemu_real_host_page_size(), TARGET_PAGE_SIZE);
    Error *err = NULL;
    QemuOpts *opts;
    const char *opt_base;
    g_autofree char *base = NULL;
    uint64_t max_clients;
    bool replace;
    struct stat st;
    g_autofree char *env = NULL;
    int fd[3];
    int i;

    opts = qemu_opts_parse_noisily(&hypertrace_opts, optarg, true);
    if (!opts) {
        exit(EXIT_FAILURE);
    }
    opt_base = qemu_opt_get(opts, "path");
    max_clients = qemu_opt_get_number(opts, "max-clients", 1);
    replace = qemu_opt_get_bool(opts, "replace", false);
    if (!opt_base || !*opt_base) {
        ht_fatal("-hypertrace: path=BASE is required");
    }
    base = ht_absolute(opt_base);
    if (strlen(base) + strlen("-control") >= PATH_MAX) {
        ht_fatal("-hypertrace: path is too long (%zu bytes; the file names"
                 " must stay below %d)", strlen(base), PATH_MAX);
    }
    if (!hypertrace_layout_init(&ht.layout, max_clients, stride, false,
                                &err)) {
        error_report_err(err);
        exit(EXIT_FAILURE);
    }
    hypertrace_config_fill(&ht.layout, config);
    if (qemu_opt_get(opts, "roi-events")) {
        ht.layout.regions = hypertrace_regions_new(
            qemu_opt_get(opts, "roi-events"),
            qemu_opt_get_number(opts, "roi-begin", 1),
            qemu_opt_get_number(opts, "roi-end", 0),
            max_clients, false, &err);
        if (!ht.layout.regions) {
            error_report_err(err);
            exit(EXIT_FAILURE);
        }
    } else if (qemu_opt_get(opts, "roi-begin") ||
               qemu_opt_get(opts, "roi-end")) {
        ht_fatal("-hypertrace: roi-begin and roi-end need roi-events");
    }

    ht.owner = getpid();
    for (i = 0; i < 3; i++) {
        ht.paths[i] = g_strconcat(base, ht_suffix[i], NULL);
    }
    fd[0] = ht_create(0, replace, HYPERTRACE_CFG_SIZE, config);
    fd[1] = ht_create(1, replace, ht.layout.data_size, NULL);
    fd[2] = ht_create(2, replace, ht.layout.ctrl_size, NULL);
    ht.data = mmap(NULL, ht.layout.data_size, PROT_READ, MAP_SHARED,
                   fd[1], 0);
    if (ht.data == MAP_FAILED) {
        ht_fatal("-hypertrace: cannot map %s: %s", ht.paths[1],
                 strerror(errno));
    }
    if (fstat(fd[2], &st) < 0) {
        ht_fatal("-hypertrace: cannot stat %s: %s", ht.paths[2],
                 strerror(errno));
    }
    ht.ctrl_dev = st.st_dev;
    ht.ctrl_ino = st.st_ino;
    /* The memfds stay open: the links lead to them */
    atexit(hypertrace_user_exit);

    /* qemu_hypertrace_init(NULL) in the guest finds BASE here */
    env = g_strconcat("QEMU_HYPERTRACE_BASE=", base, NULL);
    envlist_setenv(envlist, env);
    qemu_opts_del(opts);

    user_store_hook_set(hypertrace_user_store);
    ht.enabled = true;
}

/*
 * Remove the links this process created, and only those: a link that was
 * replaced since (replace=on by another QEMU) points to another process
 * and is left alone.  (Inode numbers cannot tell: a link made after ours
 * was removed may get the same one.)  Async-signal-safe, for
 * dump_core_and_abort().
 */
void hypertrace_user_exit(void)
{
    char target[64];
    ssize_t n;
    int i;

    if (ht.owner != getpid()) {
        return;
    }
    for (i = 0; i < 3; i++) {
        if (!ht.created[i]) {
            continue;
        }
        ht.created[i] = false;
        n = readlink(ht.paths[i], target, sizeof(target));
        if (n > 0 && (size_t)n == strlen(ht.targets[i]) &&
            !memcmp(target, ht.targets[i], n)) {
            unlink(ht.paths[i]);
        }
    }
}

void hypertrace_user_exec(bool before)
{
    static bool removed[3];
    int i;

    if (!ht.enabled || ht.owner != getpid()) {
        return;
    }
    for (i = 0; i < 3; i++) {
        if (before) {
            /* The new program is not this QEMU: its files go away */
            removed[i] = ht.created[i];
        } else if (removed[i]) {
            /* execve() failed: this QEMU goes on with its files */
            removed[i] = false;
            if (symlink(ht.targets[i], ht.paths[i]) == 0) {
                ht.created[i] = true;
            }
        }
    }
    if (before) {
        hypertrace_user_exit();
    }
}

bool hypertrace_user_enabled(void)
{
    return ht.enabled;
}

void hypertrace_user_kill(int host_sig, pid_t pid, pid_t tid)
{
    pid_t self = getpid();
    bool hits;

    if (!ht.enabled || host_sig != SIGKILL) {
        return;
    }
    if (tid) {
        /* Signal 0 checks that @tid is one of this process's threads */
        hits = pid == self && syscall(SYS_tgkill, self, tid, 0) == 0;
    } else {
        hits = pid == self || pid == 0 || pid == -getpgrp();
    }
    if (hits) {
        hypertrace_user_exit();
    }
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
        st.st_dev != ht.ctrl_dev || st.st_ino != ht.ctrl_ino) {
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
        tb_invalidate_phys_range(pc, pc);
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
