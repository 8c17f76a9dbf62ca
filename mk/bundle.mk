# box-bundle: GPU runtime bundle tarballs (create, verify, stage, fetch,
# inspect). A separate executable so that libarchive, libcrypto, libcurl and
# libdeflate never load on the container start path of `box`.

BUNDLE_LIBS     := -larchive -lcrypto -lcurl -ljansson -ldeflate -lz -lpthread
IMAGE_SRC       := $(wildcard src/lib/image/*.c)
IMAGE_OBJ       := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(IMAGE_SRC))
BUNDLE_BASE_OBJ := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(wildcard src/lib/base/*.c))
BUNDLE_LIB_OBJ  := $(IMAGE_OBJ) $(BUNDLE_BASE_OBJ)

BUNDLE_UNIT_SRC := $(wildcard tests/unit/test_bundle_*.c)
BUNDLE_UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(BUNDLE_UNIT_SRC))

FUZZ_SECONDS    ?= 20
BUNDLE_FUZZ_SRC := $(wildcard tests/fuzz/fuzz_bundle_*.c)
BUNDLE_FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(BUNDLE_FUZZ_SRC))
FUZZ_CC         ?= clang
FUZZ_CFLAGS     := -g -O1 -std=gnu11 -D_GNU_SOURCE -Isrc -DBOX_VERSION='"$(VERSION)"' \
                   -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer

.PHONY: install-bundle unit-bundle acceptance-bundle fuzz-bundle bench-bundle

all: $(BUILD)/box-bundle

$(BUILD)/box-bundle: $(BUILD)/obj/tools/box-bundle.o $(BUNDLE_LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(BUNDLE_LIBS)

install: install-bundle
install-bundle: $(BUILD)/box-bundle
	install -D -m 0755 $(BUILD)/box-bundle $(DESTDIR)$(PREFIX)/bin/box-bundle

# Unit tests: pure functions of src/lib/image (manifest, paths, tree, gzip
# reader, extraction in hash-only mode); no root needed.
$(BUNDLE_UNIT_BIN): $(BUILD)/tests/unit/%: tests/unit/%.c $(BUNDLE_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -MF $@.d $(LDFLAGS) -o $@ $< $(BUNDLE_LIB_OBJ) $(BUNDLE_LIBS) -lcmocka

unit: unit-bundle
unit-bundle: $(BUNDLE_UNIT_BIN)
	@tests/run-unit unit-bundle $(BUNDLE_UNIT_BIN)

-include $(BUNDLE_UNIT_BIN:=.d)

acceptance: acceptance-bundle
acceptance-bundle: $(BUILD)/box-bundle
	@command -v bats >/dev/null || { echo "acceptance-bundle: bats is not installed" >&2; exit 1; }
	BOX_BUNDLE=$(abspath $(BUILD)/box-bundle) BOX_FRONT=$(abspath $(BUILD)/box) \
	    tests/run-bats acceptance-bundle --timing $(BATS_FLAGS) tests/acceptance/bundle*.bats

# libFuzzer targets: the manifest parser and the tar verifier, FUZZ_SECONDS each.
$(BUILD)/fuzz/fuzz_bundle_%: tests/fuzz/fuzz_bundle_%.c $(IMAGE_SRC) $(wildcard src/lib/base/*.c)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^ $(BUNDLE_LIBS)

fuzz: fuzz-bundle
fuzz-bundle:
	@if ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' | \
	    $(FUZZ_CC) -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then \
	    echo "fuzz-bundle: skipped: $(FUZZ_CC) cannot build libFuzzer targets (install clang)"; \
	else \
	    $(MAKE) --no-print-directory $(BUILD)/box-bundle $(BUNDLE_FUZZ_BIN) && \
	    tests/fuzz/run_bundle_fuzz.sh $(BUILD) $(FUZZ_SECONDS) $(BUNDLE_FUZZ_BIN); \
	fi

# Runs the ~500 MB benchmark: box-bundle stage against tar -xzf + sha256sum -c.
bench: bench-bundle
bench-bundle: $(BUILD)/box-bundle
	bench/bundle/run.sh $(BUILD)/box-bundle
