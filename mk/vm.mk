# box-vm: GPU VM images (build, check, smoke). A separate executable so that
# libcurl and libcrypto stay off the container start path of `box`; `box vm`
# hands over to it. Links every .c under src/tools/vm/ and src/lib/vm/.

VM_LIBS      := -ljansson -lcurl -lcrypto -ldeflate -lz
VM_LIB_SRC   := $(wildcard src/lib/vm/*.c)
VM_TOOL_SRC  := $(wildcard src/tools/vm/*.c)
VM_LIB_OBJ   := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(VM_LIB_SRC)) \
                $(patsubst src/%.c,$(BUILD)/obj/%.o,$(wildcard src/lib/base/*.c)) \
                $(BUILD)/obj/lib/image/fetch.o $(BUILD)/obj/lib/image/decomp.o \
                $(BUILD)/obj/lib/image/util.o
VM_TOOL_OBJ  := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(VM_TOOL_SRC))

.PHONY: install-vm
all: $(BUILD)/box-vm

$(BUILD)/box-vm: $(VM_TOOL_OBJ) $(VM_LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(VM_LIBS)

install: install-vm
install-vm: $(BUILD)/box-vm
	install -D -m 0755 $(BUILD)/box-vm $(DESTDIR)$(PREFIX)/bin/box-vm
