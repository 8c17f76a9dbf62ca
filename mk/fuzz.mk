# libFuzzer targets for the runtime's input parsers: config.json (seccomp
# included), the text parsers of lib/base/parse.h, and the in-root resolver.
# `make fuzz-runtime` runs each for FUZZ_SECONDS from the seeds in
# tests/fuzz/corpus/<target>/; a crash fails the target, its input is kept in
# $(BUILD)/fuzz/<target>-crash-*.

FUZZ_SECONDS ?= 20
FUZZ_CC      ?= clang
RT_FUZZ_CFLAGS := -g -O1 -std=gnu11 -D_GNU_SOURCE -Isrc -DBOX_VERSION='"$(VERSION)"' \
                  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                  -fno-omit-frame-pointer
RT_FUZZ_NAMES  := fuzz_config fuzz_parsers fuzz_resolve
RT_FUZZ_BIN    := $(addprefix $(BUILD)/fuzz/,$(RT_FUZZ_NAMES))
RT_FUZZ_BASE   := $(wildcard src/lib/base/*.c)
# spec.c needs seccomp.c, which needs launch.c (box_launch_send_fd_with), which
# embeds the trampoline.
RT_FUZZ_SPEC   := $(wildcard src/lib/runtime/spec*.c) \
                  src/lib/runtime/seccomp.c src/lib/runtime/launch.c

.PHONY: fuzz-runtime

$(BUILD)/fuzz/fuzz_config: tests/fuzz/fuzz_config.c $(RT_FUZZ_BASE) $(RT_FUZZ_SPEC) \
                           $(BUILD)/obj/trampoline_blob.o
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(RT_FUZZ_CFLAGS) -o $@ $^ -ljansson -lseccomp

$(BUILD)/fuzz/fuzz_parsers: tests/fuzz/fuzz_parsers.c $(RT_FUZZ_BASE)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(RT_FUZZ_CFLAGS) -o $@ $^

# Includes resolve.c itself, to reach the static openat2/walker switch.
$(BUILD)/fuzz/fuzz_resolve: tests/fuzz/fuzz_resolve.c $(filter-out %/resolve.c,$(RT_FUZZ_BASE)) \
                            src/lib/base/resolve.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(RT_FUZZ_CFLAGS) -o $@ $(filter-out %/resolve.c,$^)

fuzz: fuzz-runtime
fuzz-runtime:
	@if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' | \
	    $(FUZZ_CC) -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then \
	    echo "fuzz-runtime: skipped: $(FUZZ_CC) cannot build libFuzzer targets (install clang)"; \
	    exit 0; \
	fi; \
	$(MAKE) --no-print-directory $(RT_FUZZ_BIN) || exit 1; \
	status=0; \
	for name in $(RT_FUZZ_NAMES); do \
	    corpus=$(BUILD)/fuzz/corpus-$$name; log=$(BUILD)/fuzz/$$name.log; \
	    mkdir -p $$corpus; rm -f $(BUILD)/fuzz/$$name-crash-*; \
	    start=$$(date +%s); \
	    $(BUILD)/fuzz/$$name -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	        -max_len=65536 -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/$$name- \
	        $$corpus tests/fuzz/corpus/$$name >$$log 2>&1 & \
	    pid=$$!; wait $$pid; rc=$$?; rm -rf /tmp/boxfuzz-$$pid; \
	    runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $$log); \
	    secs=$$(( $$(date +%s) - start )); \
	    if [ $$rc -eq 0 ]; then \
	        echo "fuzz-runtime: $$name: ok, $${runs:-?} runs in $${secs}s"; \
	    else \
	        status=1; \
	        echo "fuzz-runtime: $$name: FAILED (exit $$rc) after $${secs}s, input: $$(ls $(BUILD)/fuzz/$$name-* 2>/dev/null | grep -v '\.log$$' | head -1)"; \
	        grep -E 'ERROR|SUMMARY|fuzz_|#[0-9]+ 0x' $$log | head -25; \
	    fi; \
	done; \
	exit $$status
