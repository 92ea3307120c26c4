/*
 * Hypertrace guest ABI: layout of the config, data and control channels
 *
 * This header is shared by QEMU (the hypertrace PCI device and linux-user)
 * and by the guest support library, so it depends on nothing but
 * <stdint.h>.  docs/specs/hypertrace.rst describes the same layout.
 *
 * Every field of every channel is little-endian, whatever the endianness
 * of the guest or of the host: 64-bit words, except the 32-bit
 * HYPERTRACE_SLOT_ARG1_HIGH.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HYPERTRACE_ABI_H
#define HYPERTRACE_ABI_H

#include <stdint.h>

/* "HYPTRACE" when the little-endian word is read as bytes */
#define HYPERTRACE_MAGIC            UINT64_C(0x4543415254505948)
/*
 * Version 2 added the 4-byte event store for guests that cannot store 8
 * bytes at once (HYPERTRACE_SLOT_ARG1_HIGH).  Version 3 moved the device
 * to its PCI id in QEMU's own range (1b36:0015); the channels are laid out
 * as in version 2.
 */
#define HYPERTRACE_VERSION          UINT64_C(3)

/* Word offsets (in bytes) inside the config channel */
#define HYPERTRACE_CFG_MAGIC        0x00
#define HYPERTRACE_CFG_VERSION      0x08
#define HYPERTRACE_CFG_MAX_CLIENTS  0x10
#define HYPERTRACE_CFG_NUM_ARGS     0x18
#define HYPERTRACE_CFG_DATA_STRIDE  0x20
#define HYPERTRACE_CFG_CTRL_STRIDE  0x28
#define HYPERTRACE_CFG_DATA_SIZE    0x30
#define HYPERTRACE_CFG_CTRL_SIZE    0x38
#define HYPERTRACE_CFG_DATA_BAR     0x40
#define HYPERTRACE_CFG_CTRL_BAR     0x48
/*
 * Posted records (version 3 still: a guest that does not know these words
 * sees the interface it knew, and they read as 0 where QEMU has no rings)
 */
#define HYPERTRACE_CFG_FEATURES     0x50
#define HYPERTRACE_CFG_RING_OFFSET  0x58
#define HYPERTRACE_CFG_RING_STRIDE  0x60
#define HYPERTRACE_CFG_RING_RECORDS 0x68
#define HYPERTRACE_CFG_RECORD_SIZE  0x70
#define HYPERTRACE_CFG_WORDS        15
#define HYPERTRACE_CFG_SIZE         0x1000

/* FEATURES: each client has a ring of posted records */
#define HYPERTRACE_FEATURE_POST     UINT64_C(1)

/*
 * Byte offset, inside a client's data slot, of the 32-bit word that gives
 * the high half of arg1 when the event is fired by a 4-byte control
 * store.  The argument words arg2..argN start at offset 0 and take at
 * most (HYPERTRACE_MAX_ARGS - 1) * 8 bytes, so this follows them.
 */
#define HYPERTRACE_SLOT_ARG1_HIGH   0x40
/* Bytes of a data slot that the ABI uses: data strides are at least this */
#define HYPERTRACE_SLOT_SIZE        0x48

/*
 * A client's ring: 32-bit words of its data slot, after those above.  The
 * guest publishes records by storing RING_HEAD (release), QEMU hands them
 * back by storing RING_TAIL (release); both count records modulo 2^32.
 * QEMU takes no record of a client whose RING_ARM is not RING_ARMED.
 * Record i of the ring is at (i % RING_RECORDS) * RECORD_SIZE in it: the
 * guest's timestamp, then arg1 .. argN, 64-bit little-endian words.
 */
#define HYPERTRACE_SLOT_RING_HEAD   0x80
#define HYPERTRACE_SLOT_RING_ARM    0x84
#define HYPERTRACE_SLOT_RING_TAIL   0xc0
#define HYPERTRACE_RING_ARMED       0x74736f70u     /* "post" */
/* Data strides with rings are at least this */
#define HYPERTRACE_SLOT_RING_SIZE   0x100

/* arg1 of the guest library's flush: QEMU takes the client's records */
#define HYPERTRACE_FLUSH_TAG        0x6874666cu     /* "htfl" */

/* PCI identity and BAR numbers of the system-mode device */
#define HYPERTRACE_PCI_VENDOR_ID    0x1b36
#define HYPERTRACE_PCI_DEVICE_ID    0x0015
/*
 * The id of ABI versions 1 and 2: a guest that finds a device there finds
 * a QEMU of another version, not the absence of hypertrace.
 */
#define HYPERTRACE_PCI_OLD_VENDOR_ID 0x1af4
#define HYPERTRACE_PCI_OLD_DEVICE_ID 0x10f0
#define HYPERTRACE_PCI_CFG_BAR      0
#define HYPERTRACE_PCI_DATA_BAR     2
#define HYPERTRACE_PCI_CTRL_BAR     4

/*
 * Client stride of the device's data and control BARs: one 64 KiB page per
 * client, so that a guest kernel with 4, 16 or 64 KiB pages can map each
 * client into a different process.
 */
#define HYPERTRACE_PCI_STRIDE       0x10000

/* Upper bound on max-clients, for the device and for linux-user */
#define HYPERTRACE_MAX_CLIENTS      1024

/* Upper bound on the number of event arguments (tracetool allows 10) */
#define HYPERTRACE_MAX_ARGS         9

/*
 * Upper bound on the client stride and on each channel's size; the guest
 * library refuses a config channel that declares more.
 */
#define HYPERTRACE_MAX_STRIDE       0x100000
#define HYPERTRACE_MAX_CHANNEL_SIZE 0x40000000

/* Default and bounds of a client's ring (ring-size), in bytes */
#define HYPERTRACE_DEFAULT_RING_SIZE 0x10000
#define HYPERTRACE_MAX_RING_SIZE    0x1000000

#endif
