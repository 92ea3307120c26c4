# SPDX-License-Identifier: GPL-2.0-or-later
#
# In the checkout: build into ./build (configured with the defaults on first
# use), forwarding every goal there.  Out-of-tree builds use the GNUmakefile
# that configure writes in their own directory instead.

BUILD := build
.DEFAULT_GOAL := all

Makefile configure: ;

$(BUILD)/GNUmakefile:
	./configure

%: $(BUILD)/GNUmakefile FORCE
	+$(MAKE) -C $(BUILD) $@

FORCE:
.PHONY: FORCE
