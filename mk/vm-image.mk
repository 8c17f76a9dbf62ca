# GPU VM images, the opt-in slow tier and the lint of the templates (the
# unit and fast acceptance tests are in mk/vm.mk):
#
#   make vm-smoke         Debian 12 image: box vm build base-gpu-ready, then
#                         box vm check and box vm smoke (a few minutes)
#   make vm-smoke-ubuntu  Ubuntu 22.04 + NVIDIA 580 (DKMS) image, the same way
#
# VM_OUT (default $(BUILD)/vm) keeps the base images between runs.

VM_OUT          ?= $(BUILD)/vm

.PHONY: vm-smoke vm-smoke-ubuntu

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
