# box: build, test, benchmark. `make help` lists the targets.
PREFIX   ?= /usr/local
BUILD    ?= build
CC       ?= gcc
SAN      ?=
VERSION  := 0.1.0

WARN     := -Wall -Wextra -Wshadow -Wformat=2 -Wno-unused-parameter -Wno-format-truncation \
            -Werror=implicit-function-declaration -Werror=format-security \
            -Werror=incompatible-pointer-types -Werror=int-conversion -Werror=return-type
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -D_GNU_SOURCE -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
            -fno-strict-aliasing $(WARN) -Isrc -DBOX_VERSION='"$(VERSION)"'
ifeq ($(SAN),1)
CFLAGS   += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=address,undefined
endif

# The runtime links only what starting a container needs (libyaml: CDI spec files).
BOX_LIBS := -ljansson -lseccomp -lyaml

BASE_SRC    := $(wildcard src/lib/base/*.c)
RUNTIME_SRC := $(wildcard src/lib/runtime/*.c)
CDI_SRC     := $(wildcard src/lib/cdi/*.c)
CLI_SRC     := $(wildcard src/cli/*.c)
LIB_OBJ     := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(BASE_SRC) $(RUNTIME_SRC) $(CDI_SRC))
CLI_OBJ     := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(CLI_SRC))

.PHONY: all test unit acceptance bench lint fuzz install clean help demo
all: $(BUILD)/box

help:
	@echo "make            build $(BUILD)/box"
	@echo "make test       lint, unit and acceptance tests, both again under ASan+UBSan, fuzz 5 s each"
	@echo "make unit       cmocka unit tests"
	@echo "make acceptance bats suite driving $(BUILD)/box as root"
	@echo "make bench      box vs crun vs runc; box bundle stage vs tar + sha256sum"
	@echo "make fuzz       libFuzzer targets, each for a bounded time"
	@echo "make lint       clang-format, cppcheck, shellcheck"
	@echo "make demo       the main job: build the validation images, run them with box validate"
	@echo "make install PREFIX=/usr/local"

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libbox.a: $(LIB_OBJ) $(BUILD)/obj/trampoline_blob.o
	@rm -f $@
	ar rcs $@ $^

# The trampoline: a tiny static program that a container's init execs from a
# sealed memfd, so that no container process ever runs the on-disk box binary
# (CVE-2019-5736). It is embedded into box.
$(BUILD)/box-trampoline: src/trampoline/trampoline.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -Os -static -nostdlib -nostartfiles -fno-stack-protector \
	    -fno-asynchronous-unwind-tables -fno-builtin -fno-pie -no-pie \
	    -Wl,--build-id=none -Wl,-z,noexecstack -s -o $@ $<

$(BUILD)/obj/trampoline_blob.o: src/trampoline/blob.S $(BUILD)/box-trampoline
	@mkdir -p $(dir $@)
	$(CC) -c -DTRAMPOLINE_PATH='"$(BUILD)/box-trampoline"' -o $@ $<

# Linked statically (as a PIE): no dynamic loader work on every container
# start, and a smaller resident set. Sanitizer builds link dynamically.
ifeq ($(SAN),1)
BOX_LINK :=
else
BOX_LINK := -static-pie
endif

$(BUILD)/box: $(CLI_OBJ) $(BUILD)/libbox.a
	$(CC) $(LDFLAGS) $(BOX_LINK) -o $@ $(CLI_OBJ) $(BUILD)/libbox.a $(BOX_LIBS)

-include $(wildcard mk/*.mk)
-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# The fuzz targets are built and run briefly too, so that none of them rots.
test: lint unit acceptance san
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=5

demo: $(BUILD)/box
	./scripts/demo

install: $(BUILD)/box
	install -D -m 0755 $(BUILD)/box $(DESTDIR)$(PREFIX)/bin/box

LINT_C  := $(shell find src tests -name '*.[ch]' 2>/dev/null)
LINT_SH := $(shell grep -rlE '^\#!/usr/bin/env bash|^\#!/bin/(ba)?sh' scripts bench .ci tests 2>/dev/null | grep -v '\.bats$$')
lint:
	clang-format --dry-run --Werror $(LINT_C)
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
	    --suppress=missingIncludeSystem --suppress=unknownMacro -Isrc $(filter %.c,$(LINT_C))
	shellcheck -x $(LINT_SH)

clean:
	rm -rf $(BUILD)
