/*
 * QTest testcase for the hypertrace PCI device
 *
 * Events are observed through the log trace backend: QEMU runs with
 * "-trace guest_hypertrace -trace guest_hypertrace_post -d guest_errors
 * -D <file>" and the test reads
 * the file after each access (qtest accesses are synchronous and the log
 * is flushed per record).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/host-utils.h"
#include "qemu/timer.h"
#include "libqtest.h"
#include "libqos/pci.h"
#include "libqos/pci-pc.h"
#include "hw/pci/pci_regs.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qnum.h"
#include "hypertrace/abi.h"

#define N_ARGS CONFIG_HYPERTRACE_ARGS
#define STRIDE HYPERTRACE_PCI_STRIDE

typedef struct Fixture {
    QTestState *qts;
    QPCIBus *bus;
    QPCIDevice *dev;
    QPCIBar cfg, data, ctrl;
    uint64_t data_size, ctrl_size;
    char *log_path;
} Fixture;

static void fixture_start(Fixture *f, const char *extra)
{
    int fd;

    fd = g_file_open_tmp("hypertrace-test-XXXXXX.log", &f->log_path, NULL);
    g_assert(fd >= 0);
    close(fd);
    f->qts = qtest_initf("-trace guest_hypertrace -trace guest_hypertrace_post"
                         " -d guest_errors -D %s "
                         "-device hypertrace,addr=04.0%s",
                         f->log_path, extra);
    f->bus = qpci_new_pc(f->qts, NULL);
    f->dev = qpci_device_find(f->bus, QPCI_DEVFN(4, 0));
    g_assert(f->dev);
    qpci_device_enable(f->dev);
    f->cfg = qpci_iomap(f->dev, HYPERTRACE_PCI_CFG_BAR, NULL);
    f->data = qpci_iomap(f->dev, HYPERTRACE_PCI_DATA_BAR, &f->data_size);
    f->ctrl = qpci_iomap(f->dev, HYPERTRACE_PCI_CTRL_BAR, &f->ctrl_size);
}

static void fixture_stop(Fixture *f)
{
    g_free(f->dev);
    qpci_free_pc(f->bus);
    qtest_quit(f->qts);
    unlink(f->log_path);
    g_free(f->log_path);
}

static char *read_log(Fixture *f)
{
    char *text = NULL;

    g_assert(g_file_get_contents(f->log_path, &text, NULL, NULL));
    return text;
}

static int count_substr(const char *hay, const char *needle)
{
    int n = 0;

    while ((hay = strstr(hay, needle)) != NULL) {
        n++;
        hay += strlen(needle);
    }
    return n;
}

static int count_events(Fixture *f)
{
    g_autofree char *log = read_log(f);

    return count_substr(log, "guest_hypertrace cpu=");
}

/* The text the log backend prints for an event from qtest (no vCPU) */
static char *event_text(uint64_t client, uint64_t arg1, const uint64_t *slot)
{
    GString *s = g_string_new(NULL);
    int i;

    g_string_append_printf(s, "guest_hypertrace cpu=-1 arg1=%" PRIu64, arg1);
    for (i = 0; i < N_ARGS - 1; i++) {
        g_string_append_printf(s, " arg%d=0x%016" PRIx64, i + 2, slot[i]);
    }
    g_string_append_printf(s, " client=%" PRIu64 "\n", client);
    return g_string_free(s, false);
}

static void write_slot(Fixture *f, uint64_t client, const uint64_t *slot)
{
    int i;

    for (i = 0; i < N_ARGS - 1; i++) {
        qpci_io_writeq(f->dev, f->data, client * STRIDE + 8 * i, slot[i]);
    }
}

static void fire(Fixture *f, uint64_t client, uint64_t arg1)
{
    qpci_io_writeq(f->dev, f->ctrl, client * STRIDE, arg1);
}

static void assert_alive(Fixture *f)
{
    QDict *rsp = qtest_qmp(f->qts, "{ 'execute': 'query-status' }");

    g_assert(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
}

static void check_config(uint32_t max_clients, uint64_t ring_size)
{
    Fixture f = { 0 };
    g_autofree char *opt = g_strdup_printf(",max-clients=%u,ring-size=%"
                                           PRIu64, max_clients, ring_size);
    uint64_t slots = (uint64_t)max_clients * STRIDE;
    uint64_t record = 8 * (N_ARGS + 1);
    uint64_t size = pow2ceil(slots + max_clients * ring_size);
    const struct {
        unsigned offset;
        uint64_t value;
    } words[] = {
        { HYPERTRACE_CFG_MAGIC, HYPERTRACE_MAGIC },
        { HYPERTRACE_CFG_VERSION, HYPERTRACE_VERSION },
        { HYPERTRACE_CFG_MAX_CLIENTS, max_clients },
        { HYPERTRACE_CFG_NUM_ARGS, N_ARGS },
        { HYPERTRACE_CFG_DATA_STRIDE, STRIDE },
        { HYPERTRACE_CFG_CTRL_STRIDE, STRIDE },
        { HYPERTRACE_CFG_DATA_SIZE, size },
        { HYPERTRACE_CFG_CTRL_SIZE, pow2ceil(slots) },
        { HYPERTRACE_CFG_DATA_BAR, HYPERTRACE_PCI_DATA_BAR },
        { HYPERTRACE_CFG_CTRL_BAR, HYPERTRACE_PCI_CTRL_BAR },
        { HYPERTRACE_CFG_FEATURES, ring_size ? HYPERTRACE_FEATURE_POST : 0 },
        { HYPERTRACE_CFG_RING_OFFSET, ring_size ? slots : 0 },
        { HYPERTRACE_CFG_RING_STRIDE, ring_size },
        { HYPERTRACE_CFG_RING_RECORDS, ring_size / record },
        { HYPERTRACE_CFG_RECORD_SIZE, ring_size ? record : 0 },
        { HYPERTRACE_CFG_WORDS * 8, 0 },        /* reserved words read 0 */
    };
    size_t i;

    fixture_start(&f, opt);
    for (i = 0; i < ARRAY_SIZE(words); i++) {
        g_assert_cmphex(qpci_io_readq(f.dev, f.cfg, words[i].offset), ==,
                        words[i].value);
    }
    g_assert_cmpuint(f.data_size, ==, size);
    g_assert_cmpuint(f.ctrl_size, ==, pow2ceil(slots));

    /* Little-endian whatever the access size */
    for (i = 0; i < 8; i++) {
        g_assert_cmphex(qpci_io_readb(f.dev, f.cfg, i), ==,
                        (uint8_t)"HYPTRACE"[i]);
    }
    g_assert_cmphex(qpci_io_readl(f.dev, f.cfg, 4), ==,
                    HYPERTRACE_MAGIC >> 32);
    g_assert_cmphex(qpci_io_readw(f.dev, f.cfg, 0x10), ==, max_clients);
    fixture_stop(&f);
}

/* The PCI identity the spec gives, and max-clients' default */
static void test_identity(void)
{
    Fixture f = { 0 };

    fixture_start(&f, "");
    g_assert_cmphex(qpci_config_readw(f.dev, PCI_VENDOR_ID), ==, 0x1b36);
    g_assert_cmphex(qpci_config_readw(f.dev, PCI_DEVICE_ID), ==, 0x0015);
    g_assert_cmpuint(qpci_config_readb(f.dev, PCI_REVISION_ID), ==,
                     HYPERTRACE_VERSION);
    g_assert_cmphex(qpci_config_readw(f.dev, PCI_CLASS_DEVICE), ==, 0x0880);
    g_assert_cmpuint(qpci_io_readq(f.dev, f.cfg, HYPERTRACE_CFG_MAX_CLIENTS),
                     ==, 16);
    fixture_stop(&f);
}

static void test_config(void)
{
    check_config(1, HYPERTRACE_DEFAULT_RING_SIZE);
    check_config(16, HYPERTRACE_DEFAULT_RING_SIZE);
    check_config(5, 4096);
    check_config(16, 0);
    check_config(HYPERTRACE_MAX_CLIENTS, 0);
    check_config(HYPERTRACE_MAX_CLIENTS, 4096);
}

static void test_event(void)
{
    Fixture f = { 0 };
    uint64_t slot[HYPERTRACE_MAX_ARGS] = { 0xcafe, 0xdead, 0xbeef, 4, 5, 6, 7,
                                           UINT64_MAX };
    g_autofree char *expect1 = event_text(0, 1, slot);
    g_autofree char *expect0 = event_text(0, 0, slot);
    g_autofree char *expect_max = event_text(0, UINT64_MAX, slot);
    g_autofree char *log = NULL;

    fixture_start(&f, "");
    g_assert_cmpint(count_events(&f), ==, 0);
    write_slot(&f, 0, slot);
    fire(&f, 0, 1);
    fire(&f, 0, 0);
    fire(&f, 0, UINT64_MAX);
    log = read_log(&f);
    g_assert_cmpint(count_substr(log, "guest_hypertrace cpu="), ==, 3);
    g_assert_nonnull(strstr(log, expect1));
    g_assert_nonnull(strstr(log, expect0));
    g_assert_nonnull(strstr(log, expect_max));
    fixture_stop(&f);
}

/*
 * The 4-byte event store of guests that cannot store 8 bytes at once: the
 * high half of arg1 comes from the slot, which QEMU leaves as it is.
 */
static void test_event32(void)
{
    Fixture f = { 0 };
    uint64_t slot[HYPERTRACE_MAX_ARGS] = { 0xcafe, 0xdead, 0xbeef, 4, 5, 6, 7,
                                           8 };
    g_autofree char *e_full = event_text(0, 0x89abcdef01234567ULL, slot);
    g_autofree char *e_low = event_text(0, 0xfedcba98ULL, slot);
    g_autofree char *e_c1 = event_text(1, 0x0000000500000006ULL, slot);
    g_autofree char *log = NULL;

    fixture_start(&f, ",max-clients=2");
    write_slot(&f, 0, slot);
    write_slot(&f, 1, slot);
    qpci_io_writel(f.dev, f.data, HYPERTRACE_SLOT_ARG1_HIGH, 0x89abcdef);
    qpci_io_writel(f.dev, f.ctrl, 0, 0x01234567);
    qpci_io_writel(f.dev, f.data, HYPERTRACE_SLOT_ARG1_HIGH, 0);
    qpci_io_writel(f.dev, f.ctrl, 0, 0xfedcba98);
    /* client 1 has a high word of its own */
    qpci_io_writel(f.dev, f.data, STRIDE + HYPERTRACE_SLOT_ARG1_HIGH, 5);
    qpci_io_writel(f.dev, f.ctrl, STRIDE, 6);
    /* an 8-byte store ignores the high word */
    qpci_io_writel(f.dev, f.data, HYPERTRACE_SLOT_ARG1_HIGH, 0x77);
    fire(&f, 0, 3);
    log = read_log(&f);
    g_assert_cmpint(count_substr(log, "guest_hypertrace cpu="), ==, 4);
    g_assert_nonnull(strstr(log, e_full));
    g_assert_nonnull(strstr(log, e_low));
    g_assert_nonnull(strstr(log, e_c1));
    g_assert_nonnull(strstr(log, "guest_hypertrace cpu=-1 arg1=3 "));
    g_assert_cmphex(qpci_io_readl(f.dev, f.data, HYPERTRACE_SLOT_ARG1_HIGH),
                    ==, 0x77);
    fixture_stop(&f);
}

/* Two clients: each event carries its own client's slot, slots unchanged */
static void test_clients(void)
{
    Fixture f = { 0 };
    uint64_t a[HYPERTRACE_MAX_ARGS], b[HYPERTRACE_MAX_ARGS];
    g_autofree char *ea = NULL, *eb = NULL, *log = NULL;
    int i;

    for (i = 0; i < HYPERTRACE_MAX_ARGS; i++) {
        a[i] = 0x1111111100000000ULL + i;
        b[i] = 0x2222222200000000ULL + i;
    }
    ea = event_text(0, 10, a);
    eb = event_text(1, 11, b);
    fixture_start(&f, ",max-clients=2");
    write_slot(&f, 0, a);
    write_slot(&f, 1, b);
    fire(&f, 1, 11);
    fire(&f, 0, 10);
    log = read_log(&f);
    g_assert_cmpint(count_substr(log, "guest_hypertrace cpu="), ==, 2);
    g_assert_nonnull(strstr(log, ea));
    g_assert_nonnull(strstr(log, eb));
    /* QEMU reads the slots; it never swaps or clears them */
    for (i = 0; i < N_ARGS - 1; i++) {
        g_assert_cmphex(qpci_io_readq(f.dev, f.data, 8 * i), ==, a[i]);
        g_assert_cmphex(qpci_io_readq(f.dev, f.data, STRIDE + 8 * i), ==,
                        b[i]);
    }
    fixture_stop(&f);
}

/* Every access that is not an event: logged, ignored, QEMU alive */
static void test_hostile(void)
{
    Fixture f = { 0 };
    uint64_t slot[HYPERTRACE_MAX_ARGS] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    g_autofree char *log = NULL;
    uint64_t off;

    fixture_start(&f, ",max-clients=3");
    write_slot(&f, 0, slot);

    /*
     * 1- and 2-byte writes, including one that ends on the 8-byte
     * boundary, and 4-byte writes anywhere but at a client's offset
     */
    qpci_io_writeb(f.dev, f.ctrl, 0, 1);
    qpci_io_writeb(f.dev, f.ctrl, 7, 1);
    qpci_io_writew(f.dev, f.ctrl, 0, 1);
    qpci_io_writel(f.dev, f.ctrl, 4, 1);
    qpci_io_writel(f.dev, f.ctrl, 2, 1);
    qpci_io_writel(f.dev, f.ctrl, 3 * STRIDE, 1);
    /* 8-byte writes at other offsets of client 0's page */
    qpci_io_writeq(f.dev, f.ctrl, 8, 1);
    qpci_io_writeq(f.dev, f.ctrl, 4, 1);
    qpci_io_writeq(f.dev, f.ctrl, STRIDE - 8, 1);
    /* clients at and above max-clients, up to the last word of the BAR */
    for (off = 3 * STRIDE; off < f.ctrl_size; off += STRIDE) {
        qpci_io_writeq(f.dev, f.ctrl, off, 1);
    }
    qpci_io_writeq(f.dev, f.ctrl, f.ctrl_size - 8, 1);
    /* reads of control */
    g_assert_cmpuint(qpci_io_readq(f.dev, f.ctrl, 0), ==, 0);
    g_assert_cmpuint(qpci_io_readb(f.dev, f.ctrl, 3), ==, 0);
    /* writes to config */
    qpci_io_writeq(f.dev, f.cfg, HYPERTRACE_CFG_MAGIC, 0);
    qpci_io_writeb(f.dev, f.cfg, HYPERTRACE_CFG_MAX_CLIENTS, 100);
    g_assert_cmphex(qpci_io_readq(f.dev, f.cfg, HYPERTRACE_CFG_MAGIC), ==,
                    HYPERTRACE_MAGIC);
    g_assert_cmpuint(qpci_io_readq(f.dev, f.cfg, HYPERTRACE_CFG_MAX_CLIENTS),
                     ==, 3);
    /* a config read crossing the end of the BAR */
    g_assert_cmpuint(qpci_io_readl(f.dev, f.cfg, HYPERTRACE_CFG_SIZE - 2), ==,
                     0);

    /*
     * The rest of a store split into pieces (a write that begins where an
     * ignored one ended) fires nothing, even on a register
     */
    qpci_io_writel(f.dev, f.ctrl, STRIDE - 4, 1);
    qpci_io_writel(f.dev, f.ctrl, STRIDE, 1);
    qpci_io_writeq(f.dev, f.ctrl, STRIDE - 8, 1);
    qpci_io_writeq(f.dev, f.ctrl, STRIDE, 1);

    assert_alive(&f);
    log = read_log(&f);
    g_assert_cmpint(count_substr(log, "guest_hypertrace cpu="), ==, 0);
    g_assert_cmpint(count_substr(log, "rest of a store"), ==, 2);
    g_assert_cmpint(count_substr(log, "hypertrace_ctrl_write: store of"), >=,
                    14);
    g_assert_cmpint(count_substr(log, "hypertrace_ctrl_read:"), ==, 2);
    g_assert_cmpint(count_substr(log, "hypertrace_config_write:"), ==, 2);
    /* client 0's slot is untouched, and the device still works */
    g_assert_cmpuint(qpci_io_readq(f.dev, f.data, 0), ==, 1);
    fire(&f, 2, 7);
    g_assert_cmpint(count_events(&f), ==, 1);
    fixture_stop(&f);
}

/* The monitor turns the event off and on at run time */
static void test_monitor(void)
{
    Fixture f = { 0 };
    g_autofree char *info = NULL;
    g_autofree char *info_off = NULL;
    QDict *rsp;

    fixture_start(&f, "");
    info = qtest_hmp(f.qts, "info trace-events guest_hypertrace");
    g_assert_nonnull(strstr(info, "guest_hypertrace : state 1"));

    g_free(qtest_hmp(f.qts, "trace-event guest_hypertrace off"));
    info_off = qtest_hmp(f.qts, "info trace-events guest_hypertrace");
    g_assert_nonnull(strstr(info_off, "guest_hypertrace : state 0"));
    fire(&f, 0, 1);
    g_assert_cmpint(count_events(&f), ==, 0);
    g_free(qtest_hmp(f.qts, "trace-event guest_hypertrace on"));
    fire(&f, 0, 2);
    g_assert_cmpint(count_events(&f), ==, 1);

    rsp = qtest_qmp(f.qts, "{ 'execute': 'trace-event-set-state',"
                    " 'arguments': { 'name': 'guest_hypertrace',"
                    " 'enable': false } }");
    g_assert(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
    fire(&f, 0, 3);
    g_assert_cmpint(count_events(&f), ==, 1);
    rsp = qtest_qmp(f.qts, "{ 'execute': 'trace-event-set-state',"
                    " 'arguments': { 'name': 'guest_hypertrace',"
                    " 'enable': true } }");
    qobject_unref(rsp);
    fire(&f, 0, 4);
    g_assert_cmpint(count_events(&f), ==, 2);
    fixture_stop(&f);
}

static void test_reset(void)
{
    Fixture f = { 0 };
    QDict *rsp;

    fixture_start(&f, "");
    qpci_io_writeq(f.dev, f.data, 0, 0x1234);
    qpci_io_writeq(f.dev, f.data, 15 * STRIDE, 0x5678);
    rsp = qtest_qmp(f.qts, "{ 'execute': 'system_reset' }");
    qobject_unref(rsp);
    qtest_qmp_eventwait(f.qts, "RESET");
    /* re-map: reset cleared the BARs and the command register */
    qpci_device_enable(f.dev);
    f.data = qpci_iomap(f.dev, HYPERTRACE_PCI_DATA_BAR, NULL);
    g_assert_cmpuint(qpci_io_readq(f.dev, f.data, 0), ==, 0);
    g_assert_cmpuint(qpci_io_readq(f.dev, f.data, 15 * STRIDE), ==, 0);
    fixture_stop(&f);
}

static void test_hotplug(void)
{
    Fixture f = { 0 };
    QPCIDevice *dev;
    QPCIBar cfg, ctrl;
    uint64_t slot[HYPERTRACE_MAX_ARGS] = { 0 };
    g_autofree char *log = NULL;
    g_autofree char *expect = event_text(1, 42, slot);

    fixture_start(&f, "");
    qtest_qmp_device_add(f.qts, "hypertrace", "ht1",
                         "{'addr': '0x5', 'max-clients': 2}");
    dev = qpci_device_find(f.bus, QPCI_DEVFN(5, 0));
    g_assert(dev);
    qpci_device_enable(dev);
    cfg = qpci_iomap(dev, HYPERTRACE_PCI_CFG_BAR, NULL);
    ctrl = qpci_iomap(dev, HYPERTRACE_PCI_CTRL_BAR, NULL);
    g_assert_cmpuint(qpci_io_readq(dev, cfg, HYPERTRACE_CFG_MAX_CLIENTS), ==,
                     2);
    qpci_io_writeq(dev, ctrl, STRIDE, 42);
    log = read_log(&f);
    g_assert_nonnull(strstr(log, expect));
    g_free(dev);

    qpci_unplug_acpi_device_test(f.qts, "ht1", 5);
    /* the first device is unaffected */
    fire(&f, 0, 43);
    g_assert_cmpint(count_events(&f), ==, 2);
    fixture_stop(&f);
}

/* "enabled" or "disabled", as QMP reports trace event @name */
static char *event_state(Fixture *f, const char *name)
{
    QDict *rsp = qtest_qmp(f->qts, "{ 'execute': 'trace-event-get-state',"
                           " 'arguments': { 'name': %s } }", name);
    QList *list = qdict_get_qlist(rsp, "return");
    QDict *info;
    char *state;

    g_assert(list && qlist_size(list) == 1);
    info = qobject_to(QDict, qlist_peek(list));
    state = g_strdup(qdict_get_str(info, "state"));
    qobject_unref(rsp);
    return state;
}

static void assert_state(Fixture *f, const char *name, const char *want)
{
    g_autofree char *state = event_state(f, name);

    g_assert_cmpstr(state, ==, want);
}

static void wait_migration(QTestState *qts)
{
    for (;;) {
        QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-migrate' }");
        QDict *ret = qdict_get_qdict(rsp, "return");
        const char *status = qdict_haskey(ret, "status") ?
                             qdict_get_str(ret, "status") : "none";

        g_assert_cmpstr(status, !=, "failed");
        if (!strcmp(status, "completed")) {
            qobject_unref(rsp);
            return;
        }
        qobject_unref(rsp);
        g_usleep(10000);
    }
}

/* Run @command ("migrate" or "migrate-incoming") with @uri to its end */
static void migrate(QTestState *qts, const char *command, const char *uri)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': %s, 'arguments': { 'uri': %s } }",
                           command, uri);

    g_assert(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
    if (!strcmp(command, "migrate")) {
        qtest_qmp_eventwait(qts, "STOP");
    }
    wait_migration(qts);
}

static void test_migrate(void)
{
    Fixture src = { 0 }, dst = { 0 };
    g_autofree char *file = NULL;
    g_autofree char *uri_out = NULL, *uri_in = NULL;
    int fd;

    fd = g_file_open_tmp("hypertrace-test-XXXXXX.mig", &file, NULL);
    g_assert(fd >= 0);
    close(fd);
    uri_out = g_strdup_printf("exec:cat > %s", file);
    uri_in = g_strdup_printf("exec:cat %s", file);

    fixture_start(&src, "");
    qpci_io_writeq(src.dev, src.data, 0, 0xaaaa);
    qpci_io_writeq(src.dev, src.data, 3 * STRIDE + 8, 0xbbbb);
    migrate(src.qts, "migrate", uri_out);

    fixture_start(&dst, " -incoming defer");
    migrate(dst.qts, "migrate-incoming", uri_in);
    g_assert_cmphex(qpci_io_readq(dst.dev, dst.data, 0), ==, 0xaaaa);
    g_assert_cmphex(qpci_io_readq(dst.dev, dst.data, 3 * STRIDE + 8), ==,
                    0xbbbb);
    fire(&dst, 0, 5);
    g_assert_cmpint(count_events(&dst), ==, 1);
    fixture_stop(&src);
    fixture_stop(&dst);

    /* A region open on the source is open on the destination */
    fixture_start(&src, ",max-clients=2,roi-events=pci_cfg_read");
    fire(&src, 1, 1);
    fire(&src, 1, 1);
    assert_state(&src, "pci_cfg_read", "enabled");
    migrate(src.qts, "migrate", uri_out);

    fixture_start(&dst, ",max-clients=2,roi-events=pci_cfg_read"
                  " -incoming defer");
    assert_state(&dst, "pci_cfg_read", "disabled");
    migrate(dst.qts, "migrate-incoming", uri_in);
    assert_state(&dst, "pci_cfg_read", "enabled");
    fire(&dst, 1, 0);                       /* the nested region */
    assert_state(&dst, "pci_cfg_read", "enabled");
    fire(&dst, 1, 0);
    assert_state(&dst, "pci_cfg_read", "disabled");
    {
        g_autofree char *log = read_log(&dst);

        g_assert_null(strstr(log, "none is open"));
    }
    fixture_stop(&src);
    fixture_stop(&dst);
    unlink(file);
}

/* QEMU refuses @props at startup, with @error in its message */
static void check_bad_device(const char *props, const char *error)
{
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    g_autofree char *cmd = g_strdup_printf(
        "%s -M pc -accel qtest -nodefaults -display none "
        "-device hypertrace,%s", qemu, props);
    g_autofree char *out = NULL, *err = NULL;
    int status;

    g_assert(g_spawn_command_line_sync(cmd, &out, &err, &status, NULL));
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    if (!strstr(err, error)) {
        g_error("-device hypertrace,%s: want '%s' in: %s", props, error, err);
    }
}

static void test_bad_clients(void)
{
    check_bad_device("max-clients=0",
                     "max-clients must be between 1 and 1024");
    check_bad_device("max-clients=1025", "max-clients");
    check_bad_device("max-clients=4294967295", "max-clients");
    check_bad_device("max-clients=-1", "max-clients");
    check_bad_device("max-clients=many", "max-clients");
}

static void test_bad_regions(void)
{
    check_bad_device("roi-events=no_such_event",
                     "roi-events pattern 'no_such_event' matches no trace"
                     " event");
    check_bad_device("roi-events=pci_cfg_read:nope*",
                     "roi-events pattern 'nope*' matches");
    check_bad_device("roi-events=pci_cfg_read,roi-begin=3,roi-end=3",
                     "roi-begin and roi-end must differ (both are 3)");
    check_bad_device("roi-events=pci_cfg_read,roi-pause=on",
                     "roi-pause=on needs roi-notify=on");
    check_bad_device("roi-events=pci_cfg_read,roi-begin=x", "roi-begin");
}

/*
 * roi-events: enabled while any client is inside a region, nesting
 * counted per client; an event enabled with -trace stays enabled; an end
 * with no open region changes nothing and is a guest error.
 */
static void test_regions(void)
{
    Fixture f = { 0 };
    g_autofree char *log = NULL;

    fixture_start(&f, ",max-clients=2,roi-events=pci_cfg_read:pci_cfg_wr*"
                  " -trace pci_cfg_write");
    assert_state(&f, "pci_cfg_read", "disabled");
    assert_state(&f, "pci_cfg_write", "enabled");

    fire(&f, 0, 7);                         /* no boundary */
    assert_state(&f, "pci_cfg_read", "disabled");
    fire(&f, 0, 1);
    assert_state(&f, "pci_cfg_read", "enabled");
    fire(&f, 1, 1);
    fire(&f, 0, 0);                         /* client 1 still inside */
    assert_state(&f, "pci_cfg_read", "enabled");
    fire(&f, 1, 1);                         /* nested */
    fire(&f, 1, 0);
    assert_state(&f, "pci_cfg_read", "enabled");
    fire(&f, 1, 0);                         /* the last open region */
    assert_state(&f, "pci_cfg_read", "disabled");
    assert_state(&f, "pci_cfg_write", "enabled");

    fire(&f, 0, 0);                         /* unbalanced */
    assert_state(&f, "pci_cfg_read", "disabled");
    log = read_log(&f);
    g_assert_cmpint(count_substr(log, "hypertrace: client 0 (vCPU -1) ends a"
                                 " region, but none is open on it"), ==, 1);
    g_assert_cmpint(count_events(&f), ==, 8);

    /* The unbalanced end did not leave a debt: one begin opens again */
    fire(&f, 1, 1);
    assert_state(&f, "pci_cfg_read", "enabled");

    /* A reset closes every region */
    qtest_system_reset(f.qts);
    assert_state(&f, "pci_cfg_read", "disabled");
    fixture_stop(&f);

    /* Other boundary values */
    fixture_start(&f, ",roi-events=pci_cfg_read,roi-begin=5,roi-end=6");
    fire(&f, 0, 1);
    assert_state(&f, "pci_cfg_read", "disabled");
    fire(&f, 0, 5);
    assert_state(&f, "pci_cfg_read", "enabled");
    fire(&f, 0, 0);
    assert_state(&f, "pci_cfg_read", "enabled");
    fire(&f, 0, 6);
    assert_state(&f, "pci_cfg_read", "disabled");
    fixture_stop(&f);
}

static QDict *wait_region(Fixture *f, uint64_t client, bool begin)
{
    QDict *ev = qtest_qmp_eventwait_ref(f->qts, "HYPERTRACE_REGION");
    QDict *data = qdict_get_qdict(ev, "data");

    g_assert_cmpstr(qdict_get_str(data, "device"), ==,
                    "/machine/peripheral/ht0");
    g_assert_cmpuint(qdict_get_int(data, "client"), ==, client);
    g_assert_cmpint(qdict_get_int(data, "vcpu"), ==, -1);
    g_assert(qdict_get_bool(data, "begin") == begin);
    return ev;
}

static void assert_status(Fixture *f, const char *want)
{
    QDict *rsp = qtest_qmp(f->qts, "{ 'execute': 'query-status' }");

    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(rsp, "return"), "status"),
                    ==, want);
    qobject_unref(rsp);
}

static void test_regions_notify(void)
{
    const uint64_t slot[8] = { 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9 };
    Fixture f = { 0 };
    QDict *ev;
    QList *args;
    QListEntry *e;
    int i = 0;

    fixture_start(&f, ",id=ht0,max-clients=2,roi-notify=on");
    write_slot(&f, 1, slot);
    fire(&f, 1, 1);
    ev = wait_region(&f, 1, true);
    args = qdict_get_qlist(qdict_get_qdict(ev, "data"), "args");
    g_assert_cmpint(qlist_size(args), ==, N_ARGS);
    QLIST_FOREACH_ENTRY(args, e) {
        uint64_t want = i ? slot[i - 1] : 1;

        g_assert_cmpuint(qnum_get_uint(qobject_to(QNum, qlist_entry_obj(e))),
                         ==, want);
        i++;
    }
    qobject_unref(ev);
    assert_status(&f, "running");

    fire(&f, 0, 0);                         /* unbalanced: no event */
    fire(&f, 1, 0);
    qobject_unref(wait_region(&f, 1, false));
    fixture_stop(&f);

    /* roi-pause: paused when the event arrives, until cont */
    fixture_start(&f, ",id=ht0,roi-notify=on,roi-pause=on");
    fire(&f, 0, 1);
    qobject_unref(wait_region(&f, 0, true));
    assert_status(&f, "paused");
    qobject_unref(qtest_qmp(f.qts, "{ 'execute': 'cont' }"));
    assert_status(&f, "running");
    fire(&f, 0, 0);
    qobject_unref(wait_region(&f, 0, false));
    assert_status(&f, "paused");
    qobject_unref(qtest_qmp(f.qts, "{ 'execute': 'cont' }"));
    assert_status(&f, "running");
    fixture_stop(&f);
}

/*
 * Posted records (docs/specs/hypertrace.rst): record i of a client's ring
 * has timestamp ts and arguments arg1, arg1 + 1, ...
 */
#define RECORD_SIZE (8 * (N_ARGS + 1))

static uint64_t ring_at(Fixture *f, uint64_t client, uint32_t i)
{
    uint64_t offset = qpci_io_readq(f->dev, f->cfg, HYPERTRACE_CFG_RING_OFFSET);
    uint64_t stride = qpci_io_readq(f->dev, f->cfg, HYPERTRACE_CFG_RING_STRIDE);
    uint64_t records = qpci_io_readq(f->dev, f->cfg,
                                     HYPERTRACE_CFG_RING_RECORDS);

    return offset + client * stride + (i % records) * RECORD_SIZE;
}

static void put_record(Fixture *f, uint64_t client, uint32_t i, uint64_t ts,
                       uint64_t arg1)
{
    uint64_t at = ring_at(f, client, i);
    int k;

    qpci_io_writeq(f->dev, f->data, at, ts);
    for (k = 0; k < N_ARGS; k++) {
        qpci_io_writeq(f->dev, f->data, at + 8 * (k + 1), arg1 + k);
    }
}

static void ring_set(Fixture *f, uint64_t client, unsigned word, uint32_t v)
{
    qpci_io_writel(f->dev, f->data, client * STRIDE + word, v);
}

static uint32_t ring_get(Fixture *f, uint64_t client, unsigned word)
{
    return qpci_io_readl(f->dev, f->data, client * STRIDE + word);
}

/* Post @n records on @client from record @first, as a guest does */
static void post(Fixture *f, uint64_t client, uint32_t first, uint32_t n,
                 uint64_t ts, uint64_t arg1)
{
    uint32_t i;

    for (i = 0; i < n; i++) {
        put_record(f, client, first + i, ts + i, arg1 + 0x10 * i);
    }
    ring_set(f, client, HYPERTRACE_SLOT_RING_HEAD, first + n);
}

/* The log backend's line for a record */
static char *post_text(uint64_t client, uint64_t ts, uint64_t arg1)
{
    GString *s = g_string_new(NULL);
    int k;

    g_string_append_printf(s, "guest_hypertrace_post client=%" PRIu64
                           " timestamp=%" PRIu64 " arg1=%" PRIu64,
                           client, ts, arg1);
    for (k = 1; k < N_ARGS; k++) {
        g_string_append_printf(s, " arg%d=0x%016" PRIx64, k + 1, arg1 + k);
    }
    g_string_append_c(s, '\n');
    return g_string_free(s, false);
}

/* The @n records of post() are in the log, in order, after @from */
static const char *assert_posted(const char *log, const char *from,
                                 uint64_t client, uint32_t n, uint64_t ts,
                                 uint64_t arg1)
{
    const char *at = from;
    uint32_t i;

    for (i = 0; i < n; i++) {
        g_autofree char *want = post_text(client, ts + i, arg1 + 0x10 * i);
        const char *found = strstr(at, want);

        if (!found) {
            g_error("record %u of client %" PRIu64 " missing or out of"
                    " order: %s", i, client, want);
        }
        at = found + strlen(want);
    }
    return at;
}

/*
 * QEMU takes a client's records before its event, traces them in order,
 * and hands the space back; a ring that is not armed is left alone; the
 * timer takes a quiet client's records; records wrap around the ring
 */
static void test_post(void)
{
    Fixture f = { 0 };
    g_autofree char *event = NULL;
    g_autofree char *log = NULL;
    uint64_t slot[HYPERTRACE_MAX_ARGS] = { 0 };
    uint32_t records;
    const char *at;
    int k;

    fixture_start(&f, ",max-clients=3,ring-size=4096");
    records = qpci_io_readq(f.dev, f.cfg, HYPERTRACE_CFG_RING_RECORDS);
    g_assert_cmpuint(records, ==, 4096 / RECORD_SIZE);
    for (k = 0; k < N_ARGS - 1; k++) {
        slot[k] = 0x7700 + k;
    }
    write_slot(&f, 1, slot);

    ring_set(&f, 1, HYPERTRACE_SLOT_RING_ARM, HYPERTRACE_RING_ARMED);
    post(&f, 1, 0, 3, 100, 0x5000);
    g_assert_cmpint(count_substr(log = read_log(&f), "guest_hypertrace_post"),
                    ==, 0);
    g_free(log);
    fire(&f, 1, 7);
    log = read_log(&f);
    at = assert_posted(log, log, 1, 3, 100, 0x5000);
    event = event_text(1, 7, slot);
    g_assert_nonnull(strstr(at, event));
    g_assert_cmpuint(ring_get(&f, 1, HYPERTRACE_SLOT_RING_TAIL), ==, 3);
    g_free(log);

    /* not armed: nothing taken */
    post(&f, 2, 0, 2, 200, 0x6000);
    fire(&f, 2, 8);
    log = read_log(&f);
    g_assert_null(strstr(log, "guest_hypertrace_post client=2"));
    g_assert_cmpuint(ring_get(&f, 2, HYPERTRACE_SLOT_RING_TAIL), ==, 0);
    g_free(log);

    /* a quiet client: the timer takes them within a few ms */
    ring_set(&f, 0, HYPERTRACE_SLOT_RING_ARM, HYPERTRACE_RING_ARMED);
    post(&f, 0, 0, 2, 300, 0x8000);
    qtest_clock_step(f.qts, 5 * SCALE_MS);
    log = read_log(&f);
    assert_posted(log, log, 0, 2, 300, 0x8000);
    g_assert_cmpuint(ring_get(&f, 0, HYPERTRACE_SLOT_RING_TAIL), ==, 2);
    g_free(log);

    /* a whole ring at once, across its end */
    post(&f, 1, 3, records, 1000, 0x100000);
    fire(&f, 1, 9);
    log = read_log(&f);
    at = assert_posted(log, log, 1, records, 1000, 0x100000);
    g_assert_cmpuint(ring_get(&f, 1, HYPERTRACE_SLOT_RING_TAIL), ==,
                     3 + records);
    fixture_stop(&f);
}

/*
 * A head more than a ring past the tail is a guest error and is skipped,
 * whatever it is; QEMU's own count decides, not a RING_TAIL the guest
 * overwrote
 */
static void test_post_hostile(void)
{
    Fixture f = { 0 };
    g_autofree char *log = NULL;
    uint32_t records;

    fixture_start(&f, ",max-clients=2,ring-size=4096");
    records = qpci_io_readq(f.dev, f.cfg, HYPERTRACE_CFG_RING_RECORDS);
    ring_set(&f, 1, HYPERTRACE_SLOT_RING_ARM, HYPERTRACE_RING_ARMED);
    ring_set(&f, 1, HYPERTRACE_SLOT_RING_HEAD, records + 1);
    fire(&f, 1, 1);
    ring_set(&f, 1, HYPERTRACE_SLOT_RING_HEAD, records);    /* 2^32 - 1 */
    fire(&f, 1, 2);
    ring_set(&f, 1, HYPERTRACE_SLOT_RING_TAIL, 0x12345678);
    post(&f, 1, records, 2, 50, 0x9000);
    fire(&f, 1, 3);
    log = read_log(&f);
    g_assert_cmpint(count_substr(log, "published records up to"), ==, 2);
    g_assert_cmpint(count_substr(log, "guest_hypertrace_post"), ==, 2);
    assert_posted(log, log, 1, 2, 50, 0x9000);
    g_assert_cmpint(count_events(&f), ==, 3);
    g_assert_cmpuint(ring_get(&f, 1, HYPERTRACE_SLOT_RING_TAIL), ==,
                     records + 2);
    assert_alive(&f);
    fixture_stop(&f);
}

/* Records left in the ring are taken when the VM stops and at reset */
static void test_post_stop_reset(void)
{
    Fixture f = { 0 };
    g_autofree char *log = NULL;
    QDict *rsp;

    fixture_start(&f, ",max-clients=2");
    ring_set(&f, 0, HYPERTRACE_SLOT_RING_ARM, HYPERTRACE_RING_ARMED);
    post(&f, 0, 0, 2, 10, 0xa000);
    rsp = qtest_qmp(f.qts, "{ 'execute': 'stop' }");
    qobject_unref(rsp);
    qtest_qmp_eventwait(f.qts, "STOP");
    post(&f, 0, 2, 3, 20, 0xb000);
    rsp = qtest_qmp(f.qts, "{ 'execute': 'system_reset' }");
    qobject_unref(rsp);
    qtest_qmp_eventwait(f.qts, "RESET");
    log = read_log(&f);
    assert_posted(log, assert_posted(log, log, 0, 2, 10, 0xa000), 0, 3, 20,
                  0xb000);
    qpci_device_enable(f.dev);
    f.data = qpci_iomap(f.dev, HYPERTRACE_PCI_DATA_BAR, NULL);
    g_assert_cmpuint(ring_get(&f, 0, HYPERTRACE_SLOT_RING_HEAD), ==, 0);
    g_assert_cmpuint(ring_get(&f, 0, HYPERTRACE_SLOT_RING_ARM), ==, 0);
    g_assert_cmpuint(ring_get(&f, 0, HYPERTRACE_SLOT_RING_TAIL), ==, 0);
    fixture_stop(&f);
}

static void test_bad_rings(void)
{
    check_bad_device("ring-size=100", "ring-size must be 0 (no rings) or a"
                     " multiple of 8 from 4 KiB to 16 MiB (got 100)");
    check_bad_device("ring-size=4100", "(got 4100)");
    check_bad_device("ring-size=32M", "(got 33554432)");
    check_bad_device("ring-size=0,post-file=/nonexistent/x",
                     "post-file needs rings");
    check_bad_device("post-file=/nonexistent/x", "post-file: Could not create");
    check_bad_device("max-clients=64,ring-size=16M",
                     "the rings of max-clients clients of ring-size bytes");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/hypertrace/identity", test_identity);
    qtest_add_func("/hypertrace/config", test_config);
    qtest_add_func("/hypertrace/bad-max-clients", test_bad_clients);
    qtest_add_func("/hypertrace/bad-regions", test_bad_regions);
    qtest_add_func("/hypertrace/bad-rings", test_bad_rings);
    qtest_add_func("/hypertrace/regions-notify", test_regions_notify);
#ifdef CONFIG_TRACE_LOG
    qtest_add_func("/hypertrace/event", test_event);
    qtest_add_func("/hypertrace/event32", test_event32);
    qtest_add_func("/hypertrace/clients", test_clients);
    qtest_add_func("/hypertrace/hostile", test_hostile);
    qtest_add_func("/hypertrace/hotplug", test_hotplug);
    qtest_add_func("/hypertrace/migrate", test_migrate);
    qtest_add_func("/hypertrace/monitor", test_monitor);
    qtest_add_func("/hypertrace/regions", test_regions);
    qtest_add_func("/hypertrace/post", test_post);
    qtest_add_func("/hypertrace/post-hostile", test_post_hostile);
    qtest_add_func("/hypertrace/post-stop-reset", test_post_stop_reset);
#endif
    qtest_add_func("/hypertrace/reset", test_reset);
    return g_test_run();
}
