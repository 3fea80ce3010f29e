# SPDX-License-Identifier: BSD-2-Clause
# Makefile: builds libstdpkt, the tools, the C unit tests and the fuzz targets; runs the demo and the tests.
#
# Every lib/*.c goes into the library, every tools/NAME.c becomes $(BUILD)/bin/NAME,
# every tests/unit/NAME.c becomes $(BUILD)/tests/NAME, every fuzz/NAME.c a libFuzzer
# target $(BUILD)/fuzz/NAME.  Adding a file needs no change here.
#   make SAN=1     builds with ASan+UBSan into build-san/
#   make check     installs what the tests need, builds, runs every test
#   make demo      the README's main demo

CC      ?= cc
SAN     ?=
ifeq ($(SAN),1)
BUILD   ?= build-san
CC      := clang
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
BUILD   ?= build
SANFLAGS =
endif
OPT     ?= -O2 -g
CFLAGS  += $(OPT) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Ilib $(SANFLAGS) -pthread
LDFLAGS += $(SANFLAGS) -pthread
LDLIBS  += -lpcap -lmnl
FUSE_CFLAGS := $(shell pkg-config --cflags fuse3 2>/dev/null)
FUSE_LIBS   := $(shell pkg-config --libs fuse3 2>/dev/null)

LIB_SRC  := $(wildcard lib/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
TOOLS    := $(patsubst tools/%.c,$(BUILD)/bin/%,$(wildcard tools/*.c))
UNITS    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/*.c))
FUZZ     := $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(filter-out fuzz/replay.c,$(wildcard fuzz/*.c)))

all: $(TOOLS) $(UNITS)

$(BUILD)/%.o: %.c $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(if $(findstring ethpipefs,$<),$(FUSE_CFLAGS)) -c -o $@ $<

$(BUILD)/bin/%: $(BUILD)/tools/%.o $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(if $(findstring ethpipefs,$@),$(FUSE_LIBS))

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# libFuzzer targets need clang; the suite replays their corpora with the
# standalone driver (fuzz/replay.c) so that plain gcc builds test them too.
fuzz: $(FUZZ)
$(BUILD)/fuzz/%: fuzz/%.c $(LIB_SRC) $(wildcard lib/*.h fuzz/*.h)
	@mkdir -p $(dir $@)
	clang $(OPT) -std=c11 -D_GNU_SOURCE -Ilib -fsanitize=fuzzer,address,undefined -o $@ $< $(LIB_SRC) $(LDLIBS)

$(BUILD)/fuzz-replay/%: fuzz/%.c fuzz/replay.c $(wildcard fuzz/*.h) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< fuzz/replay.c $(LIB_OBJ) $(LDLIBS)

REPLAYS := $(patsubst fuzz/%.c,$(BUILD)/fuzz-replay/%,$(filter-out fuzz/replay.c,$(wildcard fuzz/*.c)))
replays: $(REPLAYS)

deps:
	@scripts/install-deps

check: deps
	$(MAKE) all replays
	BUILD=$(BUILD) tests/run

check-san: deps
	$(MAKE) SAN=1 all replays
	BUILD=build-san tests/run

demo: deps all
	examples/demo.sh

clean:
	rm -rf build build-san

.PHONY: all fuzz replays deps check check-san demo clean
.SECONDARY:
