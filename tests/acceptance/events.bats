#!/usr/bin/env bats
# events: resource usage as JSON lines (`--stats` once, or every interval)
# and OOM kills as they happen, as `runc events` reports them.
# shellcheck disable=SC2016,SC2154

load helpers

setup_file() { acc_setup_file; }
teardown_file() { acc_teardown_file; }
setup() { acc_setup; }
teardown() { acc_teardown; }

# lines_at_least FILE N: FILE has N lines or more.
lines_at_least() {
    [ "$(grep -c '' "$1" 2>/dev/null)" -ge "$2" ]
}

@test "events --stats: one JSON line with the container's cpu, memory and pids usage" {
    set_config '.linux.resources = {"pids": {"limit": 50}, "memory": {"limit": 67108864}}'
    set_args /bin/boxcheck sleep 60
    start_detached "$ID"
    wait_status "$ID" running
    run box events --stats "$ID"
    assert_status 0
    [ "$(grep -c '' <<<"$output")" -eq 1 ] || fail "expected one line:\n$output"
    jq -e --arg id "$ID" '.type == "stats" and .id == $id' <<<"$output" >/dev/null ||
        fail "not a stats event: $output"
    jq -e '.data.pids.current >= 1 and .data.pids.limit == 50' <<<"$output" >/dev/null ||
        fail "pids: $(jq -c .data.pids <<<"$output")"
    jq -e '.data.memory.usage.usage > 0 and .data.memory.usage.limit == 67108864' \
        <<<"$output" >/dev/null || fail "memory: $(jq -c .data.memory.usage <<<"$output")"
    jq -e '.data.cpu.usage.total > 0' <<<"$output" >/dev/null ||
        fail "cpu: $(jq -c .data.cpu <<<"$output")"
    box delete --force "$ID"
}

@test "events: stats every interval until the container stops, then exit 0" {
    set_args /bin/boxcheck sleep 60
    start_detached "$ID"
    wait_status "$ID" running
    local out=$ACC_DIR/events.out
    BOXTEST="$ACC_TAG" timeout 20 "$BOX" --root "$BOX_ROOT" events --interval 100ms "$ID" \
        >"$out" 2>&1 3>&- &
    local ev=$!
    wait_for 10 lines_at_least "$out" 3
    box kill "$ID" KILL
    local rc=0
    wait "$ev" || rc=$?
    [ "$rc" -eq 0 ] || fail "events exited $rc: $(cat "$out")"
    jq -e -s 'all(.type == "stats")' "$out" >/dev/null || fail "not all JSON stats lines"
    box delete --force "$ID"
}

@test "events: an OOM kill inside the container is reported as it happens" {
    has_controller memory || skip "no memory controller"
    set_config '.linux.resources.memory = {"limit": 33554432, "swappiness": 0}'
    set_args /bin/sh -c 'while [ ! -e /tmp/go ]; do sleep 0.05; done; /bin/boxcheck alloc 96; sleep 60'
    start_detached "$ID"
    wait_status "$ID" running
    local out=$ACC_DIR/events.out
    BOXTEST="$ACC_TAG" timeout 30 "$BOX" --root "$BOX_ROOT" events --interval 10s "$ID" \
        >"$out" 2>&1 3>&- &
    local ev=$!
    sleep 0.3
    box exec "$ID" /bin/touch /tmp/go
    wait_for 15 grep -q '"oom"' "$out"
    box delete --force "$ID"
    wait "$ev" || true
    jq -e --arg id "$ID" 'select(.type == "oom") | .id == $id' "$out" >/dev/null ||
        fail "no oom event: $(cat "$out")"
}

@test "events: a stopped or unknown container, and a bad interval, are refused" {
    run box events --stats nosuch
    assert_failed
    assert_contains "$output" "nosuch"
    set_args /bin/true
    box_create "$ID"
    box start "$ID"
    wait_status "$ID" stopped
    run box events "$ID"
    assert_failed
    run box events --interval 5 "$ID"
    assert_failed
    run box events --interval 0s "$ID"
    assert_failed
    assert_contains "$output" "--interval"
    run box events --interval soon "$ID"
    assert_failed
    assert_contains "$output" "--interval"
    box delete "$ID"
}

@test "events --stats on a pure cgroup v2 layout reads cpu.stat" {
    require_box "the layout is simulated for box's detection"
    grep -qw cgroup2 /proc/filesystems || skip "the kernel has no cgroup2 filesystem"
    without_namespace cgroup
    set_args /bin/sh -c 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 60'
    local state=$ACC_DIR/v2state
    mkdir -p "$state"
    v2box() { v2_only env BOXTEST="$ACC_TAG" "$BOX" --root "$state" "$@"; }
    v2box create --bundle "$BUNDLE" "$ID" </dev/null >/dev/null 2>&1 3>&-
    v2box start "$ID"
    sleep 0.5
    run v2box events --stats "$ID"
    v2box delete --force "$ID"
    assert_status 0
    jq -e '.data.cpu.usage.total > 0' <<<"$output" >/dev/null || fail "cpu: $output"
}
