#!/usr/bin/env bats
# Namespaces: new ones as configured, shared ones when left out, joined ones
# by path.
# shellcheck disable=SC2016,SC2154

load helpers

setup_file() { acc_setup_file; }
teardown_file() { acc_teardown_file; }
setup() { acc_setup; }
teardown() { acc_teardown; }

host_ns() {
    readlink "/proc/self/ns/$1"
}

@test "namespaces: pid 1 in new pid, net, ipc, uts and mount namespaces" {
    run box_run "$ID"
    assert_status 0
    assert_kv pid 1
    assert_kv ppid 0
    for ns in pid net ipc uts mnt; do
        got=$(kv "ns.$ns")
        [ "$got" != "$(host_ns "$ns")" ] || fail "ns.$ns is the host's: $got"
    done
    # No user namespace was asked for.
    assert_kv ns.user "$(host_ns user)"
}

@test "namespaces: hostname is set inside, the host's stays" {
    host_before=$(hostname)
    set_config '.hostname = "acc-host"'
    run box_run "$ID"
    assert_status 0
    assert_kv hostname acc-host
    [ "$(hostname)" = "$host_before" ]
}

@test "namespaces: domainname is set inside, the host's stays" {
    skip_for_peer '^runc version 1\.1\.' "no domainname support (came with runc 1.2)"
    host_before=$(cat /proc/sys/kernel/domainname)
    set_config '.domainname = "acc.domain"'
    run box_run "$ID"
    assert_status 0
    assert_kv domainname acc.domain
    [ "$(cat /proc/sys/kernel/domainname)" = "$host_before" ]
}

@test "namespaces: one left out of the config is the host's" {
    without_namespace network
    without_namespace ipc
    run box_run "$ID"
    assert_status 0
    assert_kv ns.net "$(host_ns net)"
    assert_kv ns.ipc "$(host_ns ipc)"
    [ "$(kv ns.uts)" != "$(host_ns uts)" ]
}

@test "namespaces: a cgroup namespace roots the container's cgroup view" {
    [ -e /proc/self/ns/cgroup ] || skip "the kernel has no cgroup namespaces"
    set_config '.linux.namespaces |=
        if any(.type == "cgroup") then . else . + [{"type": "cgroup"}] end'
    run box_run "$ID"
    assert_status 0
    [ "$(kv ns.cgroup)" != "$(host_ns cgroup)" ]
    while IFS= read -r line; do
        [[ $line == */ ]] || fail "cgroup path not at the namespace's root: $line"
    done < <(grep '^cgroup=' <<<"$output")
}

@test "namespaces: joining another container's net and ipc by path" {
    first=$(cid first)
    set_args /bin/boxcheck report -- sleep 60
    start_detached "$first"
    wait_output "$first" pid=1
    pid=$(pid_of "$first")

    set_args /bin/boxcheck report
    set_config '.linux.namespaces |= map(
            if .type == "network" then .path = $net
            elif .type == "ipc" then .path = $ipc else . end)' \
        --arg net "/proc/$pid/ns/net" --arg ipc "/proc/$pid/ns/ipc"
    run box_run "$ID"
    assert_status 0
    assert_kv ns.net "$(kv ns.net "$(out_of "$first")")"
    assert_kv ns.ipc "$(kv ns.ipc "$(out_of "$first")")"
    [ "$(kv ns.uts)" != "$(kv ns.uts "$(out_of "$first")")" ]
    [ "$(kv ns.pid)" != "$(kv ns.pid "$(out_of "$first")")" ]
    box delete --force "$first"
}

@test "namespaces: a path that is not a namespace is refused" {
    set_config '.linux.namespaces |= map(if .type == "network" then .path = "/tmp" else . end)'
    run --separate-stderr box_create "$ID"
    assert_failed
    if is_box; then
        assert_one_line_error /tmp
    fi
}

@test "namespaces: a path to the wrong kind of namespace is refused" {
    set_config '.linux.namespaces |= map(
        if .type == "network" then .path = "/proc/self/ns/ipc" else . end)'
    run --separate-stderr box_create "$ID"
    assert_failed
}

@test "namespaces: a user namespace maps the container's root to an unprivileged host uid" {
    [ -e /proc/self/ns/user ] || skip "the kernel has no user namespaces"
    [ "$(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 1)" -gt 0 ] ||
        skip "user namespaces are disabled (user.max_user_namespaces = 0)"
    set_config '.linux.namespaces += [{"type": "user"}]
        | .linux.uidMappings = [{"containerID": 0, "hostID": 200000, "size": 65536}]
        | .linux.gidMappings = [{"containerID": 0, "hostID": 200000, "size": 65536}]
        | .mounts |= map(select(.type != "cgroup"))'
    set_args /bin/boxcheck report -- sleep 60
    start_detached "$ID"
    wait_output "$ID" pid=1
    output=$(out_of "$ID")
    assert_kv uid 0
    assert_kv gid 0
    [ "$(kv ns.user)" != "$(readlink /proc/self/ns/user)" ]
    pid=$(pid_of "$ID")
    read -r _ ruid euid _ < <(grep '^Uid:' "/proc/$pid/status")
    [ "$ruid" = 200000 ] && [ "$euid" = 200000 ] || fail "host uid of the container's root: $ruid/$euid"
    grep -qE '^ +0 +200000 +65536$' "/proc/$pid/uid_map" || fail "uid_map: $(cat "/proc/$pid/uid_map")"
    box delete --force "$ID"
}

@test "timeOffsets: the container's monotonic and boot clocks are shifted, the host's are not" {
    [ -e /proc/self/ns/time ] || skip "the kernel has no time namespaces"
    set_config '.linux.namespaces += [{"type": "time"}]
        | .linux.timeOffsets = {"monotonic": {"secs": 864000, "nanosecs": 0},
                                "boottime": {"secs": 1728000, "nanosecs": 5}}'
    set_args /bin/boxcheck sched
    run box_run "$ID"
    assert_status 0
    local up mono boot
    up=$(cut -d. -f1 /proc/uptime)
    mono=$(kv clock.monotonic)
    boot=$(kv clock.boottime)
    [ "$mono" -ge 864000 ] && [ "$mono" -lt $((864000 + up + 60)) ] ||
        fail "monotonic: $mono with host uptime $up"
    [ "$boot" -ge 1728000 ] && [ "$boot" -lt $((1728000 + up + 60)) ] ||
        fail "boottime: $boot with host uptime $up"
    [ "$(cut -d. -f1 /proc/uptime)" -lt 864000 ] || fail "the host's clock moved"
}

@test "timeOffsets: refused without a new time namespace, or for another clock" {
    require_box "exact error texts"
    set_config '.linux.timeOffsets = {"monotonic": {"secs": 10}}'
    run --separate-stderr box_create "$ID"
    assert_one_line_error "linux.timeOffsets" "time namespace"
    set_config '.linux.namespaces += [{"type": "time"}]
        | .linux.timeOffsets = {"realtime": {"secs": 10}}'
    run --separate-stderr box_create "$ID"
    assert_one_line_error "linux.timeOffsets.realtime"
    set_config '.linux.timeOffsets = {"boottime": {"secs": 1, "nanosecs": 1000000000}}'
    run --separate-stderr box_create "$ID"
    assert_one_line_error "linux.timeOffsets.boottime.nanosecs"
}

@test "intelRdt: refused with a clear error, not silently ignored" {
    require_box "exact error texts"
    set_config '.linux.intelRdt = {"closID": "gpu", "l3CacheSchema": "L3:0=ff"}'
    run --separate-stderr box_create "$ID"
    assert_one_line_error "linux.intelRdt"
}
