# CDI: the libFuzzer target of the spec parser (JSON and YAML) and the
# edits. `make fuzz-cdi` (part of `make fuzz`) runs it for FUZZ_SECONDS
# from the seeds in tests/fuzz/corpus/fuzz_cdi_spec/ (the first byte of a
# seed picks the format: even JSON, odd YAML); a crash keeps its input in
# $(BUILD)/fuzz/fuzz_cdi_spec-crash-*.

# Read before mk/fuzz.mk: its variables are not set yet, so the sources are
# named here (spec.c for the mount options, which pulls seccomp and launch).
CDI_FUZZ_SRC := $(wildcard src/lib/cdi/*.c) $(wildcard src/lib/base/*.c) \
                $(wildcard src/lib/runtime/spec*.c) src/lib/runtime/seccomp.c \
                src/lib/runtime/launch.c

.PHONY: fuzz-cdi

$(BUILD)/fuzz/fuzz_cdi_spec: tests/fuzz/fuzz_cdi_spec.c $(CDI_FUZZ_SRC) $(BUILD)/obj/trampoline_blob.o
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(RT_FUZZ_CFLAGS) -o $@ $^ -ljansson -lseccomp -lyaml

fuzz: fuzz-cdi
fuzz-cdi:
	@if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' | \
	    $(FUZZ_CC) -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then \
	    echo "fuzz-cdi: skipped: $(FUZZ_CC) cannot build libFuzzer targets (install clang)"; \
	    exit 0; \
	fi; \
	$(MAKE) --no-print-directory $(BUILD)/fuzz/fuzz_cdi_spec || exit 1; \
	name=fuzz_cdi_spec; corpus=$(BUILD)/fuzz/corpus-$$name; log=$(BUILD)/fuzz/$$name.log; \
	mkdir -p $$corpus; rm -f $(BUILD)/fuzz/$$name-crash-*; \
	if $(BUILD)/fuzz/$$name -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -max_len=65536 -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/$$name- \
	    $$corpus tests/fuzz/corpus/$$name >$$log 2>&1; then \
	    echo "fuzz-cdi: $$name: ok, $$(sed -n 's/^stat::number_of_executed_units: *//p' $$log) runs"; \
	else \
	    echo "fuzz-cdi: $$name: FAILED, input: $$(ls $(BUILD)/fuzz/$$name-* | grep -v '\.log$$' | head -1)"; \
	    grep -E 'ERROR|SUMMARY|fuzz_|#[0-9]+ 0x' $$log | head -25; \
	    exit 1; \
	fi
