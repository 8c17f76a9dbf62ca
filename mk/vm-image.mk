# GPU VM images, the build half: unit tests of src/lib/vm (disk checks,
# facts, spawn), the fast acceptance tier and the opt-in slow tier.
#
#   make unit-vm          cmocka tests of src/lib/vm
#   make acceptance-vm    packer validate/fmt, shellcheck, box vm check on
#                         synthetic disks, spawn timeouts, argument errors
#   make vm-smoke         Debian 12 image: box vm build base-gpu-ready, then
#                         box vm check and box vm smoke (a few minutes)
#   make vm-smoke-ubuntu  Ubuntu 22.04 + NVIDIA 580 (DKMS) image, the same way
#
# VM_OUT (default $(BUILD)/vm) keeps the base images between runs.

VM_OUT          ?= $(BUILD)/vm
VM_UNIT_SRC     := $(wildcard tests/unit/test_vm_*.c)
VM_UNIT_BIN     := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(VM_UNIT_SRC))
# Listed here, not taken from mk/vm.mk, which make reads after this file.
VM_UNIT_OBJ     := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(wildcard src/lib/vm/*.c) \
                   $(wildcard src/lib/base/*.c) src/lib/image/fetch.c src/lib/image/decomp.c \
                   src/lib/image/util.c)
VM_UNIT_LIBS    := -ljansson -lcurl -lcrypto -ldeflate -lz -lcmocka

.PHONY: unit-vm acceptance-vm vm-smoke vm-smoke-ubuntu

$(VM_UNIT_BIN): $(BUILD)/tests/unit/%: tests/unit/%.c $(VM_UNIT_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -MF $@.d $(LDFLAGS) -o $@ $< $(VM_UNIT_OBJ) $(VM_UNIT_LIBS)

unit: unit-vm
unit-vm: $(VM_UNIT_BIN)
	@tests/run-unit unit-vm $(VM_UNIT_BIN)

-include $(VM_UNIT_BIN:=.d)

acceptance: acceptance-vm
acceptance-vm: $(BUILD)/box-vm $(BUILD)/box
	@command -v bats >/dev/null || { echo "acceptance-vm: bats is not installed" >&2; exit 1; }
	BOX_VM=$(abspath $(BUILD)/box-vm) BOX_FRONT=$(abspath $(BUILD)/box) \
	    tests/run-bats acceptance-vm --timing $(BATS_FLAGS) tests/acceptance/vm_build.bats

vm-smoke: $(BUILD)/box-vm
	tests/vm/smoke.sh $(abspath $(BUILD)/box-vm) $(abspath $(VM_OUT)) base-gpu-ready

vm-smoke-ubuntu: $(BUILD)/box-vm
	tests/vm/smoke.sh $(abspath $(BUILD)/box-vm) $(abspath $(VM_OUT)) nvidia-gpu-firmware1

# Part of `make lint`: the scripts under images/vm (the top-level lint only
# looks under scripts, bench, .ci and tests) and packer's own format check.
.PHONY: lint-vm
lint: lint-vm
lint-vm:
	shellcheck -x images/vm/scripts/*.sh images/vm/base/*.sh images/vm/keys/*.sh
	packer fmt -check images/vm
