# `make unit`: the cmocka unit tests, one binary per tests/unit/test_<module>.c,
# each linked against the library. tests/unit/test_bundle_* have their own
# rules (mk/bundle.mk), as do tests/unit/test_vm_* (mk/vm-image.mk); both are left
# out here.
UNIT_SRC  := $(filter-out tests/unit/test_bundle_% tests/unit/test_vm_%,$(wildcard tests/unit/test_*.c))
UNIT_BIN  := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRC))
UNIT_LIBS := $(BOX_LIBS) -lcmocka

$(UNIT_BIN): $(BUILD)/tests/unit/%: tests/unit/%.c $(BUILD)/libbox.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -MF $@.d $(LDFLAGS) -o $@ $< $(BUILD)/libbox.a $(UNIT_LIBS)

# Every binary runs even after a failure; the target fails if any did.
unit: $(UNIT_BIN)
	@tests/run-unit unit $(UNIT_BIN)

-include $(UNIT_BIN:=.d)
