# Acceptance suite: bats tests that drive a runtime binary as root against
# real namespaces, mounts, cgroups and processes (tests/acceptance/).
#
#   make acceptance                      the runtime suite against $(BUILD)/box
#   make acceptance BOX=/usr/sbin/runc   the same suite against another runtime
#   make acceptance BATS_FLAGS='--filter kill'
#
# Two small static helpers run inside containers or beside them: boxcheck (the
# in-container checker) and recvtty (the --console-socket receiver).  They are
# built without the sanitizers, which cannot link statically.

CHECKER_DIR    := tests/acceptance/checker
CHECKER_CFLAGS := $(filter-out -fsanitize=% -fno-omit-frame-pointer,$(CFLAGS))
BATS_FLAGS     ?=
# The runtime's files; bundle*.bats belong to box-bundle (mk/bundle.mk), vm_*.bats
# to box-vm (mk/vm-image.mk).
RUNTIME_BATS   := $(filter-out tests/acceptance/bundle% tests/acceptance/vm_%,$(wildcard tests/acceptance/*.bats))

BOXCHECK_SRC   := $(addprefix $(CHECKER_DIR)/,boxcheck.c boxcheck_report.c boxcheck_probes.c)

$(BUILD)/tests/boxcheck: $(BOXCHECK_SRC) $(CHECKER_DIR)/boxcheck.h
	@mkdir -p $(dir $@)
	$(CC) $(CHECKER_CFLAGS) -static -o $@ $(BOXCHECK_SRC)

$(BUILD)/tests/recvtty: $(CHECKER_DIR)/recvtty.c
	@mkdir -p $(dir $@)
	$(CC) $(CHECKER_CFLAGS) -static -o $@ $<

# With BOX given in the environment the suite drives that runtime and does
# not need box built.
ifeq ($(origin BOX),undefined)
ACCEPTANCE_BOX := $(abspath $(BUILD)/box)
acceptance: $(BUILD)/box
else
ACCEPTANCE_BOX := $(BOX)
endif

acceptance: $(BUILD)/tests/boxcheck $(BUILD)/tests/recvtty
	@if [ "$$(id -u)" != 0 ]; then \
	    echo "SKIP acceptance: needs root (namespaces, mounts, cgroups); see docs/privileges.md"; \
	    exit 0; \
	fi; \
	command -v bats >/dev/null || { echo "acceptance: bats is not installed" >&2; exit 1; }; \
	BOX='$(ACCEPTANCE_BOX)' \
	BOXCHECK='$(abspath $(BUILD)/tests/boxcheck)' \
	BOXRECVTTY='$(abspath $(BUILD)/tests/recvtty)' \
	tests/run-bats acceptance --timing $(BATS_FLAGS) $(RUNTIME_BATS)
