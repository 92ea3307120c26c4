/*
 * Hypertrace guest support library: emit QEMU trace events from a guest
 *
 * Link with libqemu-hypertrace-guest.a built for the QEMU target the
 * program runs on (<build>/<target>/hypertrace/guest) and -lpthread.
 * docs/specs/hypertrace.rst describes the channels underneath.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_HYPERTRACE_H
#define QEMU_HYPERTRACE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Environment variable read by qemu_hypertrace_init(NULL) in user mode: the
 * BASE path that was given to qemu-<arch> -hypertrace.
 */
#define QEMU_HYPERTRACE_ENV "QEMU_HYPERTRACE_BASE"

/*
 * qemu_hypertrace_init:
 * @base: where the channels are.  System mode: NULL finds the first
 *        hypertrace PCI device in /sys/bus/pci/devices, or the sysfs
 *        directory of one device (/sys/bus/pci/devices/0000:00:04.0).
 *        User mode: the BASE given to QEMU's -hypertrace option (QEMU
 *        answers the names BASE-config, BASE-data and BASE-control); NULL
 *        reads it from the QEMU_HYPERTRACE_BASE environment variable.
 *
 * Map the channels.  Thread-safe; calling it again once it succeeded does
 * nothing and returns 0.
 *
 * Returns: 0 on success; -1 with errno set on failure: ENODEV (no device or
 * files), EACCES (no permission; see the docs for non-root use), EBADMSG
 * (the config channel does not carry the hypertrace magic), EPROTO (ABI
 * version unsupported by this library), or the errno of a failed system call.
 */
int qemu_hypertrace_init(const char *base);

/* Unmap the channels; init may be called again afterwards. */
void qemu_hypertrace_fini(void);

/* Number of clients the channels have (0 before init). */
uint64_t qemu_hypertrace_max_clients(void);

/*
 * Number of arguments of the guest_hypertrace event: arg1, which
 * qemu_hypertrace() passes, plus the qemu_hypertrace_num_args() - 1 words of
 * qemu_hypertrace_data() (0 before init).
 */
uint64_t qemu_hypertrace_num_args(void);

/*
 * qemu_hypertrace_data:
 * @client: client index, below qemu_hypertrace_max_clients()
 *
 * Returns: the client's argument slot, qemu_hypertrace_num_args() - 1 words
 * in native byte order that become arg2, arg3, ... of the next event; NULL
 * with errno EINVAL when @client is out of range or init has not succeeded.
 */
uint64_t *qemu_hypertrace_data(uint64_t client);

/*
 * qemu_hypertrace:
 * @client: client index, below qemu_hypertrace_max_clients()
 * @arg1: first event argument
 *
 * Emit one guest_hypertrace event with @arg1 and the client's data slot.
 * One 8-byte store on 64-bit little-endian guests; 32-bit guests store the
 * high half of @arg1 into the data slot, then 4 bytes to the control
 * register.  An out-of-range @client (or a call before init) emits nothing
 * and sets errno to EINVAL.
 */
void qemu_hypertrace(uint64_t client, uint64_t arg1);

/*
 * Posted events: each client has a ring in the data channel (where QEMU
 * offers them: qemu_hypertrace_ring_records() is not 0) into which the
 * guest writes events that QEMU takes later, without a VM exit and
 * without leaving guest code.  QEMU traces each as guest_hypertrace_post,
 * with a timestamp of the guest's clock (the TSC on x86, the virtual
 * counter on AArch64, CLOCK_MONOTONIC elsewhere: qemu_hypertrace_clock())
 * taken when it was posted.  QEMU takes a client's posted events before
 * every event the client emits with qemu_hypertrace(), so the trace keeps
 * a client's events in the order of the calls; otherwise every few
 * milliseconds, and when the program or the VM stops.
 */

/*
 * qemu_hypertrace_post:
 * @client: client index, below qemu_hypertrace_max_clients()
 * @arg1: first event argument
 *
 * Queue one event with @arg1 and the client's data slot, as
 * qemu_hypertrace() would emit it, and return without a VM exit while the
 * client's ring has room.  When it is full, make QEMU take its records
 * (an event with arg1 = QEMU_HYPERTRACE_DRAIN_TAG << 32, the slot as it
 * is) and wait for room: nothing is lost.  Every millisecond or two of
 * posting it also flushes (qemu_hypertrace_flush()), so that the
 * timeline can place the posted events.  Where QEMU offers no rings,
 * emit the event with qemu_hypertrace() instead.
 *
 * Returns: 0; -1 with errno EINVAL, and nothing queued, when @client is
 * out of range or init has not succeeded.
 */
int qemu_hypertrace_post(uint64_t client, uint64_t arg1);

/*
 * qemu_hypertrace_flush:
 * @client: client index, below qemu_hypertrace_max_clients()
 *
 * Make QEMU take the client's posted events now (a drain, see above, if
 * the ring holds any), then fire one event with arg1 =
 * QEMU_HYPERTRACE_FLUSH_TAG << 32 and arg2 the guest's clock
 * (qemu_hypertrace_clock()) right before it: QEMU takes nothing at it, so
 * its host time is the store's, and it anchors the guest's clock on the
 * host's for the timeline.  The client's data slot is left as it was.
 * QEMU takes the records whoever posted them (another process of the
 * guest, in system mode), so a program that never posted may flush too.
 * Without rings, nothing happens.
 *
 * Returns: 0; -1 with errno EINVAL when @client is out of range or init
 * has not succeeded.
 */
int qemu_hypertrace_flush(uint64_t client);
#define QEMU_HYPERTRACE_FLUSH_TAG 0x6874666cu  /* "htfl": a flush */
#define QEMU_HYPERTRACE_DRAIN_TAG 0x68746472u  /* "htdr": a full ring */

/* Records in each client's ring; 0 where QEMU offers none (or before init) */
uint64_t qemu_hypertrace_ring_records(void);

/* The clock of posted events' timestamps (see above) */
uint64_t qemu_hypertrace_clock(void);

/*
 * Inline fast paths of qemu_hypertrace() and qemu_hypertrace_post(): no
 * call on 64-bit little-endian guests (posting: x86-64 and AArch64).
 * They read the library's state below, which is not an interface.
 * Define QEMU_HYPERTRACE_NO_INLINE to call the library's functions.
 */
struct qemu_hypertrace_ring_ {
    uint64_t *next;                 /* where the next record goes */
    uint64_t *start, *end;          /* the client's ring */
    const uint64_t *slot;           /* the client's arg2 ... */
    volatile uint32_t *head_word;   /* RING_HEAD in the data slot */
    uint32_t head;                  /* records published */
    uint32_t room_end;              /* head may reach it without asking */
    uint32_t words;                 /* words of a record: NUM_ARGS + 1 */
    uint32_t armed;
    uint64_t anchor;                /* the clock at the last flush */
#ifdef __GNUC__
} __attribute__((aligned(64)));     /* no cache line shared by two clients */
#else
};
#endif

struct qemu_hypertrace_fast_ {
    uint32_t clients;               /* 0 until init succeeded */
    uint32_t pad;
    uint64_t ctrl_stride;
    char *ctrl;
    struct qemu_hypertrace_ring_ *rings;    /* NULL without rings */
};
extern struct qemu_hypertrace_fast_ qemu_hypertrace_fast_;
int qemu_hypertrace_post_slow_(uint64_t client, uint64_t arg1);

#if !defined(QEMU_HYPERTRACE_NO_INLINE) && defined(__GNUC__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && __SIZEOF_POINTER__ == 8

static inline void qemu_hypertrace_inline_(uint64_t client, uint64_t arg1)
{
    struct qemu_hypertrace_fast_ *f = &qemu_hypertrace_fast_;

    if (client < __atomic_load_n(&f->clients, __ATOMIC_ACQUIRE)) {
        char *reg = f->ctrl + client * f->ctrl_stride;

        /* the data slot is written before the register */
        __atomic_thread_fence(__ATOMIC_RELEASE);
        *(volatile uint64_t *)reg = arg1; /* device memory */
        return;
    }
    (qemu_hypertrace)(client, arg1);
}
#define qemu_hypertrace(client, arg1) qemu_hypertrace_inline_(client, arg1)

#if defined(__x86_64__) || defined(__aarch64__)
static inline uint64_t qemu_hypertrace_clock_inline_(void)
{
#ifdef __x86_64__
    uint32_t lo, hi;

    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
#else
    uint64_t v;

    __asm__ volatile("mrs %0, cntvct_el0" : "=r"(v));
    return v;
#endif
}

static inline int qemu_hypertrace_post_inline_(uint64_t client,
                                               uint64_t arg1)
{
    struct qemu_hypertrace_fast_ *f = &qemu_hypertrace_fast_;
    struct qemu_hypertrace_ring_ *r;

    if (client < __atomic_load_n(&f->clients, __ATOMIC_ACQUIRE) &&
        f->rings) {
        r = &f->rings[client];
        if (r->head != r->room_end) {
            uint64_t *rec = r->next;
            uint32_t i;

            rec[0] = qemu_hypertrace_clock_inline_();
            rec[1] = arg1;
            for (i = 2; i < r->words; i++) {
                rec[i] = r->slot[i - 2];
            }
            rec += r->words;
            r->next = rec == r->end ? r->start : rec;
            __atomic_store_n(r->head_word, ++r->head, __ATOMIC_RELEASE);
            return 0;
        }
    }
    return qemu_hypertrace_post_slow_(client, arg1);
}
#define qemu_hypertrace_post(client, arg1) \
    qemu_hypertrace_post_inline_(client, arg1)
#endif
#endif

/*
 * Lining up the guest's own tracing (ftrace) with QEMU's trace: a marker
 * written into the guest's ftrace buffer and the event emitted right
 * after it are the same instant on the guest's trace clock and on the
 * host's, since the event is synchronous.  qemu-hypertrace-regions
 * --guest-trace reads both traces and maps the guest's onto the host's.
 *
 * arg1 of the events these functions emit: a tag in the high 32 bits.
 */
#define QEMU_HYPERTRACE_SYNC_TAG 0x68747379u   /* "htsy": a sync point */
#define QEMU_HYPERTRACE_MARK_TAG 0x68746d6bu   /* "htmk": a named mark */
/* the event right before a marker: arg1's low 32 bits are its event's */
#define QEMU_HYPERTRACE_BRACKET_TAG 0x68746272u /* "htbr" */

/*
 * qemu_hypertrace_mark:
 * @client: client index, below qemu_hypertrace_max_clients()
 * @arg1: first event argument (the data slot holds the others)
 * @text: the marker, a line of text
 *
 * Write @text into the guest's ftrace buffer (the trace_marker file of
 * tracefs, at /sys/kernel/tracing or /sys/kernel/debug/tracing), then emit
 * one event as qemu_hypertrace() does, whether the marker could be
 * written or not.  When there is a trace_marker, an event with arg1 =
 * QEMU_HYPERTRACE_BRACKET_TAG << 32 | (low 32 bits of @arg1) comes right
 * before the marker, so that two events bound the marker's host time.
 *
 * Returns: 1 when the marker was written; QEMU_HYPERTRACE_MARK_LATE when
 * it was, but the thread was switched out between the marker and the
 * event, or more of CLOCK_MONOTONIC passed between them than 100 us and
 * 25 system calls take, so that the two are not one instant; 0 when the
 * marker was not written (no tracefs mounted, or ftrace refused it: errno
 * says why), the event being emitted all the same; -1 with errno EINVAL,
 * and no event, when @client is out of range or init has not succeeded.
 */
int qemu_hypertrace_mark(uint64_t client, uint64_t arg1, const char *text);
#define QEMU_HYPERTRACE_MARK_LATE 2

/*
 * qemu_hypertrace_sync:
 * @client: client index, below qemu_hypertrace_max_clients()
 * @run: a number shared by the points of one sync session and by no other
 *       session (a random one), so that traces of two runs never pair up
 * @seq: the point's number in the session
 *
 * One sync point: qemu_hypertrace_mark() with the marker
 * "hypertrace-sync run=RUN seq=SEQ mono=NS" (RUN in 16 hex digits, NS the
 * guest's CLOCK_MONOTONIC in nanoseconds) and the event arg1 =
 * QEMU_HYPERTRACE_SYNC_TAG << 32 | SEQ, arg2 = RUN, arg3 = NS, as far as
 * the build's arguments go.  The client's data slot is overwritten.
 *
 * Returns: as qemu_hypertrace_mark().
 */
int qemu_hypertrace_sync(uint64_t client, uint64_t run, uint32_t seq);

/*
 * The trace_marker file that qemu_hypertrace_mark() writes, or NULL when
 * the guest has none (tracefs not mounted).
 */
const char *qemu_hypertrace_marker_path(void);

/*
 * qemu_hypertrace_strerror:
 * @errnum: an errno value set by this library
 *
 * Returns: a message that explains @errnum in hypertrace's terms.
 */
const char *qemu_hypertrace_strerror(int errnum);

#ifdef __cplusplus
}
#endif

#endif
