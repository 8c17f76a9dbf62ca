# CDI rows of `make bench` (NVIDIA): `box cdi generate` on the fake NVIDIA host, and
# `box run` with nvidia.com/gpu=all against the same run without devices; on a
# host with an NVIDIA driver, the same rows again from that driver.
.PHONY: bench-cdi
bench: bench-cdi
bench-cdi: $(BUILD)/box
	BOX=$(abspath $(BUILD)/box) bench/cdi.sh
	@if [ -e /proc/driver/nvidia/version ]; then \
	    BOX=$(abspath $(BUILD)/box) BENCH_CDI_HOST=real bench/cdi.sh; \
	fi
