# SPDX-License-Identifier: GPL-2.0-or-later
#
# Included by the GNUmakefile that configure writes in the build directory.
# GNU make reads GNUmakefile before QEMU's Makefile, so these rules come
# first; every other goal is forwarded to QEMU's Makefile.

.DEFAULT_GOAL := all
# Without -j, QEMU's Makefile runs ninja -j1: use every core instead
QEMU_MAKE = $(MAKE) -f Makefile $(if $(filter -j%,$(MAKEFLAGS)),,-j$(NPROC))
NPROC := $(shell nproc 2>/dev/null || echo 2)
HOST_ARCH := $(shell uname -m)
# Guest libraries built by default: targets whose arch is the host's
NATIVE_GUEST_DIRS := $(patsubst %/Makefile,%,\
	$(wildcard $(HOST_ARCH)-*/hypertrace/guest/Makefile))

.PHONY: all tree install check check-quick check-asan compare-upstream demo \
	bench fuzz patches guest-libs firmware reconfigure FORCE

GNUmakefile Makefile $(HT_REPO)/scripts/build.mak: ;

# Re-apply patches/ when it changed, link new files (cheap otherwise)
tree:
	@$(HT_REPO)/scripts/assemble $(HT_PRISTINE) $(HT_TREE)

all: tree
	+$(QEMU_MAKE) all
	+$(MAKE) guest-libs firmware

# Debian's +ds source has no firmware blobs: link the ones Debian packages
# (seabios, qemu-system-data) into the data directory that binaries run
# from the build directory use (qemu-bundle/<prefix>/share/qemu), so that
# they and QEMU's own tests find them.  Nothing is installed.
FIRMWARE_DIRS := /usr/share/seabios /usr/share/qemu /usr/lib/ipxe/qemu
firmware:
	@for b in $$(find qemu-bundle -type d -path '*/share/qemu' -prune); do \
	    for d in $(FIRMWARE_DIRS); do \
	        for f in $$d/*.bin $$d/*.rom; do \
	            [ -e "$$f" ] && [ ! -e $$b/$${f##*/} ] && ln -s "$$f" $$b/ ; \
	        done; \
	    done; \
	done; true

guest-libs:
	+@for d in $(NATIVE_GUEST_DIRS); do $(MAKE) -s -C $$d || exit 1; done

install: all
	+$(QEMU_MAKE) install

check: all
	+$(HT_REPO)/tests/hypertrace/run $(CURDIR)

check-quick: all
	+$(HT_REPO)/tests/hypertrace/run --quick $(CURDIR)

# test-devices, test-baremetal and the hypertrace qtest against a build
# with ASan and UBSan in ./asan (a build of its own)
check-asan: tree
	+$(HT_REPO)/tests/hypertrace/asan $(CURDIR)

# QEMU's own suites (check-unit, check-qtest-x86_64, check-tcg) and an
# HPET-clocked Linux guest, on the unpatched base (built in ./pristine)
# and on this build
compare-upstream: all
	+$(HT_REPO)/tests/hypertrace/compare-upstream $(CURDIR) $(SUITES)

demo: all
	+$(HT_REPO)/tests/hypertrace/demo $(CURDIR)

bench: all
	+$(HT_REPO)/tests/hypertrace/bench $(CURDIR)

# QEMU's fuzzer (clang, ASan, UBSan) against the device, in ./fuzz;
# FUZZ_SECONDS and FUZZ_TARGET as tests/hypertrace/fuzz says
fuzz: tree
	+FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_TARGET=$(FUZZ_TARGET) FUZZ_SEEDS=$(FUZZ_SEEDS) \
	    $(HT_REPO)/tests/hypertrace/fuzz $(CURDIR)

patches: tree
	$(HT_REPO)/scripts/make-patches --pristine $(HT_PRISTINE) \
		$(if $(BUILD_EACH),--build-each) --out $(CURDIR)/patches

reconfigure:
	$(HT_REPO)/configure $(HT_CONFIGURE_ARGS)

%: tree FORCE
	+$(QEMU_MAKE) $@

FORCE:
