/*
 * Hypertrace guest ABI: layout of the config, data and control channels
 *
 * This header is shared by QEMU (the hypertrace PCI device and linux-user)
 * and by the guest support library, so it depends on nothing but
 * <stdint.h>.  docs/specs/hypertrace.rst describes the same layout.
 *
 * Every field of every channel is a little-endian 64-bit word, whatever
 * the endianness of the guest or of the host.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HYPERTRACE_ABI_H
#define HYPERTRACE_ABI_H

#include <stdint.h>

/* "HYPTRACE" when the little-endian word is read as bytes */
#define HYPERTRACE_MAGIC            UINT64_C(0x4543415254505948)
#define HYPERTRACE_VERSION          UINT64_C(1)

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
#define HYPERTRACE_CFG_WORDS        10
#define HYPERTRACE_CFG_SIZE         0x1000

/* PCI identity and BAR numbers of the system-mode device */
#define HYPERTRACE_PCI_VENDOR_ID    0x1af4
#define HYPERTRACE_PCI_DEVICE_ID    0x10f0
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

#endif
