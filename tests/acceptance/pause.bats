#!/usr/bin/env bats
# pause, resume and ps: the container's processes frozen and thawed through
# its cgroup, and listed from it.
# shellcheck disable=SC2016,SC2154

load helpers

setup_file() { acc_setup_file; }
teardown_file() { acc_teardown_file; }
setup() { acc_setup; }
teardown() { acc_teardown; }

@test "pause freezes every process (state paused, no progress), resume thaws them" {
    set_args /bin/sh -c 'i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done'
    start_detached "$ID"
    wait_status "$ID" running
    sleep 0.3
    box pause "$ID"
    [ "$(box state "$ID" | jq -r .status)" = paused ] || fail "state: $(box state "$ID")"
    a=$(cat "$BUNDLE/rootfs/tmp/count")
    sleep 0.4
    b=$(cat "$BUNDLE/rootfs/tmp/count")
    [ "$a" = "$b" ] || fail "the container kept running while paused: $a -> $b"
    run box pause "$ID"
    assert_failed
    assert_contains "$output" "paused"
    box resume "$ID"
    [ "$(box state "$ID" | jq -r .status)" = running ] || fail "state after resume"
    sleep 0.4
    c=$(cat "$BUNDLE/rootfs/tmp/count")
    [ "$c" != "$b" ] || fail "no progress after resume"
}

@test "delete --force of a paused container kills and removes everything" {
    set_args /bin/boxcheck sleep 60
    start_detached "$ID"
    wait_status "$ID" running
    pid=$(pid_of "$ID")
    box pause "$ID"
    run box delete "$ID"
    assert_failed
    box delete --force "$ID"
    wait_for 10 pid_gone "$pid" || fail "the init survived"
}

@test "ps lists the container's processes, as a table and as a JSON array of pids" {
    set_args /bin/sh -c 'sleep 60 & sleep 60'
    start_detached "$ID"
    wait_status "$ID" running
    run box ps --format json "$ID"
    assert_status 0
    n=$(jq length <<<"$output")
    [ "$n" -ge 2 ] || fail "ps found $n processes: $output"
    jq -e --argjson p "$(pid_of "$ID")" 'index($p) != null' <<<"$output" >/dev/null ||
        fail "the init is not listed: $output"
    run box ps "$ID"
    assert_status 0
    assert_contains "$output" sleep
}
