# box-vm: GPU VM images (build, check, smoke) and the region API (`box vm
# ...`). A separate executable so that libcurl and libcrypto never load on the
# container start path of box. Every .c under src/lib/vm/ and src/tools/vm/ is
# linked into it, with the sha256 helpers of src/lib/image.
#
#   make unit-vm         cmocka tests of src/lib/vm (validator, generator,
#                        settings, disk checks, facts, spawn)
#   make acceptance-vm   bats: a local region server (no root), packer
#                        validate/fmt, box vm check on synthetic disks, spawn
#   make fuzz-vm         the payload validator under libFuzzer
# The opt-in image builds (vm-smoke, vm-smoke-ubuntu) are in mk/vm-image.mk.

VM_LIBS      := -lcurl -ljansson -lcrypto -ldeflate -lz
VM_LIB_SRC   := $(wildcard src/lib/vm/*.c)
VM_TOOL_SRC  := $(wildcard src/tools/vm/*.c)
VM_LIB_OBJ   := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(VM_LIB_SRC) $(wildcard src/lib/base/*.c) \
                  src/lib/image/fetch.c src/lib/image/decomp.c src/lib/image/util.c)
VM_TOOL_OBJ  := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(VM_TOOL_SRC))

VM_UNIT_SRC  := $(wildcard tests/unit/test_vm_*.c)
VM_UNIT_BIN  := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(VM_UNIT_SRC))
VM_CORPUS    := $(abspath tests/vm/payloads)

.PHONY: unit-vm acceptance-vm fuzz-vm install-vm

all: $(BUILD)/box-vm

$(BUILD)/box-vm: $(VM_TOOL_OBJ) $(VM_LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(VM_LIBS)

install: install-vm
install-vm: $(BUILD)/box-vm
	install -D -m 0755 $(BUILD)/box-vm $(DESTDIR)$(PREFIX)/bin/box-vm

$(VM_UNIT_BIN): $(BUILD)/tests/unit/%: tests/unit/%.c $(VM_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DVM_CORPUS='"$(VM_CORPUS)"' -MMD -MP -MF $@.d $(LDFLAGS) -o $@ $< \
	    $(VM_LIB_OBJ) $(VM_LIBS) -lcmocka

-include $(VM_UNIT_BIN:=.d)

unit: unit-vm
unit-vm: $(VM_UNIT_BIN)
	@tests/run-unit unit-vm $(VM_UNIT_BIN)

# No root needed: a region server and a file server on loopback.
acceptance: acceptance-vm
acceptance-vm: $(BUILD)/box-vm $(BUILD)/box
	@command -v bats >/dev/null || { echo "acceptance-vm: bats is not installed" >&2; exit 1; }
	BOX_VM=$(abspath $(BUILD)/box-vm) BOX_FRONT=$(abspath $(BUILD)/box) \
	    tests/run-bats acceptance-vm --timing $(BATS_FLAGS) $(wildcard tests/acceptance/vm*.bats)

VM_FUZZ_CFLAGS := -g -O1 -std=gnu11 -D_GNU_SOURCE -Isrc -DBOX_VERSION='"$(VERSION)"' \
                  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                  -fno-omit-frame-pointer

$(BUILD)/fuzz/fuzz_vm_payload: tests/fuzz/fuzz_vm_payload.c $(VM_LIB_SRC) \
                               $(wildcard src/lib/base/*.c) src/lib/image/fetch.c \
                               src/lib/image/decomp.c src/lib/image/util.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(VM_FUZZ_CFLAGS) -o $@ $^ $(VM_LIBS)

fuzz: fuzz-vm
fuzz-vm:
	@if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' | \
	    $(FUZZ_CC) -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then \
	    echo "fuzz-vm: skipped: $(FUZZ_CC) cannot build libFuzzer targets (install clang)"; \
	    exit 0; \
	fi; \
	$(MAKE) --no-print-directory $(BUILD)/fuzz/fuzz_vm_payload || exit 1; \
	corpus=$(BUILD)/fuzz/corpus-fuzz_vm_payload; mkdir -p $$corpus; \
	cp tests/vm/payloads/*.json tests/vm/facts/*.json $$corpus/; \
	if $(BUILD)/fuzz/fuzz_vm_payload -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	    -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/fuzz/fuzz_vm_payload- $$corpus \
	    >$(BUILD)/fuzz/fuzz_vm_payload.log 2>&1; then \
	    echo "fuzz-vm: fuzz_vm_payload: ok, $$(sed -n 's/^stat::number_of_executed_units: *//p' \
	        $(BUILD)/fuzz/fuzz_vm_payload.log) runs"; \
	else \
	    echo "fuzz-vm: fuzz_vm_payload: FAILED"; tail -40 $(BUILD)/fuzz/fuzz_vm_payload.log; \
	    exit 1; \
	fi
