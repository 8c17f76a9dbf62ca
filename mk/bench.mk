# `make bench`: box against crun and runc, see docs/benchmarks.md.
# The harness is built without sanitizers even under SAN=1: their shadow memory
# would show up in the peak RSS that it reports.
BENCH_HARNESS := $(BUILD)/bench/boxbench

$(BENCH_HARNESS): bench/boxbench.c bench/boxbench_report.c bench/boxbench.h
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -fsanitize=%,$(CFLAGS)) -o $@ bench/boxbench.c bench/boxbench_report.c

bench: $(BUILD)/box $(BENCH_HARNESS)
	BOX=$(abspath $(BUILD)/box) BOXBENCH=$(abspath $(BENCH_HARNESS)) ./bench/run.sh
