# box-validate: runs GPU validation images in sandboxes and asserts the
# contract of docs/gpu-validation.md. A separate executable, like box-bundle:
# libyaml, libarchive and libcrypto never load on the start path of `box`.
#
#   make unit-validate         unit tests of src/lib/oci (reading) and src/lib/validate
#   make acceptance-validate   tests/acceptance/validate.bats against build/box-validate
#   make bench-validate        box validate of the smoke manifest vs podman run with crun

VALIDATE_LIBS    := -lyaml -larchive -lcrypto -lcurl -ljansson -ldeflate -lz -lpthread
OCI_READ_SRC     := src/lib/oci/layout_read.c src/lib/oci/unpack.c src/lib/oci/digest.c
VALIDATE_SRC     := $(wildcard src/lib/validate/*.c)
VALIDATE_LIB_OBJ := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(OCI_READ_SRC) $(VALIDATE_SRC)) \
                    $(BUNDLE_LIB_OBJ) $(BUILD)/obj/lib/runtime/spec_json.o

VALIDATE_UNIT_SRC := $(wildcard tests/unit/test_validate_*.c tests/unit/test_oci_read*.c)
VALIDATE_UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(VALIDATE_UNIT_SRC))

.PHONY: install-validate unit-validate acceptance-validate bench-validate

all: $(BUILD)/box-validate

$(BUILD)/box-validate: $(BUILD)/obj/tools/box-validate.o $(VALIDATE_LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(VALIDATE_LIBS)

install: install-validate
install-validate: $(BUILD)/box-validate
	install -D -m 0755 $(BUILD)/box-validate $(DESTDIR)$(PREFIX)/bin/box-validate

$(VALIDATE_UNIT_BIN): $(BUILD)/tests/unit/%: tests/unit/%.c $(VALIDATE_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -MF $@.d $(LDFLAGS) -o $@ $< $(VALIDATE_LIB_OBJ) $(VALIDATE_LIBS) \
	    -lcmocka

unit: unit-validate
unit-validate: $(VALIDATE_UNIT_BIN)
	@tests/run-unit unit-validate $(VALIDATE_UNIT_BIN)

-include $(VALIDATE_UNIT_BIN:=.d)

# The suite needs root (it runs containers) and the static helpers of the
# runtime suite are not used: the images are built by tests/acceptance/oci_fixture.py.
acceptance: acceptance-validate
acceptance-validate: $(BUILD)/box $(BUILD)/box-validate images
	@if [ "$$(id -u)" != 0 ]; then \
	    echo "SKIP acceptance-validate: needs root (it runs containers)"; exit 0; \
	fi; \
	command -v bats >/dev/null || { echo "acceptance-validate: bats is not installed" >&2; exit 1; }; \
	BOX='$(abspath $(BUILD)/box)' BOX_VALIDATE='$(abspath $(BUILD)/box-validate)' \
	    tests/run-bats acceptance-validate --timing $(BATS_FLAGS) tests/acceptance/validate.bats

bench: bench-validate
bench-validate: $(BUILD)/box $(BUILD)/box-validate
	BOX=$(abspath $(BUILD)/box) BOX_VALIDATE=$(abspath $(BUILD)/box-validate) \
	    bench/validate/run.sh
