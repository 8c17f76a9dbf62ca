# box-image and `make images`: the GPU validation images (smoke-pass,
# smoke-fail, cuda-basic) built offline into OCI image layouts under
# build/images/, with the workload manifest build/images/workloads.yaml.
# box-image is its own executable (libcrypto, zlib, jansson, libyaml), so
# `box run` never loads them; `box image ...` hands over to it.

IMAGE_TOOL_LIBS := -lcrypto -lz -ljansson -lyaml
# layout_read.c and unpack.c (reading, with libarchive) belong to box-validate.
OCI_SRC         := $(filter-out src/lib/oci/layout_read.c src/lib/oci/unpack.c,\
                             $(wildcard src/lib/oci/*.c))
OCI_OBJ         := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(OCI_SRC))
# The path rules and escaping of src/lib/image/util.c, and base's helpers.
IMAGE_TOOL_OBJ  := $(OCI_OBJ) $(BUILD)/obj/lib/image/util.o \
                   $(patsubst src/%.c,$(BUILD)/obj/%.o,$(wildcard src/lib/base/*.c))
BOX_IMAGE       := $(BUILD)/box-image

OCI_UNIT_SRC := $(filter-out tests/unit/test_oci_read%,$(wildcard tests/unit/test_oci_*.c))
OCI_UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(OCI_UNIT_SRC))

.PHONY: images install-image unit-oci acceptance-images

all: $(BOX_IMAGE)

$(BOX_IMAGE): $(BUILD)/obj/tools/box-image.o $(BUILD)/obj/tools/box-image-publish.o $(IMAGE_TOOL_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(IMAGE_TOOL_LIBS)

install: install-image
install-image: $(BOX_IMAGE)
	install -D -m 0755 $(BOX_IMAGE) $(DESTDIR)$(PREFIX)/bin/box-image

$(OCI_UNIT_BIN): $(BUILD)/tests/unit/%: tests/unit/%.c $(IMAGE_TOOL_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -MF $@.d $(LDFLAGS) -o $@ $< $(IMAGE_TOOL_OBJ) $(IMAGE_TOOL_LIBS) -lcmocka

unit: unit-oci
unit-oci: $(OCI_UNIT_BIN)
	@tests/run-unit unit-oci $(OCI_UNIT_BIN)

-include $(OCI_UNIT_BIN:=.d)

# The images. scripts/build-images decides what each image holds and skips
# cuda-basic, saying why, where nvcc is absent.
IMAGES_OUT ?= $(BUILD)/images
images: $(BOX_IMAGE)
	BOX_IMAGE=$(abspath $(BOX_IMAGE)) ./scripts/build-images $(IMAGES_OUT)

acceptance: acceptance-images
acceptance-images: $(BOX_IMAGE) $(BUILD)/box
	@command -v bats >/dev/null || { echo "acceptance-images: bats is not installed" >&2; exit 1; }
	BOX_IMAGE=$(abspath $(BOX_IMAGE)) BOX=$(abspath $(BUILD)/box) \
	    tests/run-bats acceptance-images --timing $(BATS_FLAGS) tests/acceptance/images.bats
