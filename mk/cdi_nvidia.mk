# CDI rows of `make bench` (NVIDIA): `box cdi generate` on the fake NVIDIA host, and
# `box run` with nvidia.com/gpu=all against the same run without devices.
.PHONY: bench-cdi
bench: bench-cdi
bench-cdi: $(BUILD)/box
	BOX=$(abspath $(BUILD)/box) bench/cdi.sh
