#!/usr/bin/env bats
# cgroups: the container's cgroup, its limits as the host sees them in the
# cgroup files, and its removal.  Written for cgroup v1, v2 and hybrid.
# shellcheck disable=SC2016,SC2154

load helpers

setup_file() { acc_setup_file; }
teardown_file() { acc_teardown_file; }
setup() { acc_setup; }
teardown() { acc_teardown; }

# cg_file PID CONTROLLER V1_FILE V2_FILE: the content of the controller's
# file for PID's cgroup; skips when the machine lacks the controller.
cg_file() {
    local dir
    dir=$(cgroup_dir "$1" "$2") || skip "no $2 cgroup controller on this machine"
    if cgroup_v2_only || [ ! -e "$dir/$3" ]; then
        cat "$dir/$4"
    else
        cat "$dir/$3"
    fi
}

# has_controller NAME: the machine has the controller in a v1 hierarchy or
# enabled in the unified one.
has_controller() {
    [ -n "$(cgroup_mount "$1")" ] ||
        grep -qw "$1" "$(cgroup_mount "")/cgroup.controllers" 2>/dev/null
}

@test "cgroups: memory, cpu and pids limits are written to the container's cgroup" {
    for c in memory cpu pids; do
        has_controller "$c" || skip "no $c cgroup controller on this machine"
    done
    set_config '.linux.resources = {
        "memory": {"limit": 67108864},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000},
        "pids": {"limit": 42}}'
    set_args /bin/boxcheck sleep 60
    start_detached "$ID"
    wait_status "$ID" running
    pid=$(pid_of "$ID")

    [ "$(cg_file "$pid" memory memory.limit_in_bytes memory.max)" = 67108864 ]
    [ "$(cg_file "$pid" pids pids.max pids.max)" = 42 ]
    dir=$(cgroup_dir "$pid" cpu)
    if [ -e "$dir/cpu.cfs_quota_us" ]; then
        [ "$(cat "$dir/cpu.cfs_quota_us")" = 50000 ]
        [ "$(cat "$dir/cpu.cfs_period_us")" = 100000 ]
        [ "$(cat "$dir/cpu.shares")" = 512 ]
    else
        [ "$(cat "$dir/cpu.max")" = "50000 100000" ]
        # shares 512 of the default 1024: less than the default weight (100)
        [ "$(cat "$dir/cpu.weight")" -lt 100 ]
    fi
    for c in memory cpu pids; do
        grep -qx "$pid" "$(cgroup_dir "$pid" "$c")/cgroup.procs" ||
            fail "the init is not in its $c cgroup"
    done
    box delete --force "$ID"
}

@test "cgroups: the pids limit is enforced inside" {
    has_controller pids || skip "no pids cgroup controller on this machine"
    set_config '.linux.resources = {"pids": {"limit": 3}}'
    set_args /bin/boxcheck fork 6
    run box_run "$ID"
    assert_status 0
    # The init counts as one of the three.
    assert_kv forked 2
    assert_kv fork_error EAGAIN
}

@test "cgroups: cgroupsPath is honoured in every hierarchy and removed on delete" {
    path=/$(cid own)
    set_config '.linux.cgroupsPath = $p' --arg p "$path"
    set_args /bin/boxcheck sleep 60
    start_detached "$ID"
    wait_status "$ID" running
    pid=$(pid_of "$ID")
    mapfile -t dirs < <(cgroup_dirs "$pid")
    [ "${#dirs[@]}" -gt 0 ]
    for c in pids memory; do
        has_controller "$c" || continue
        [ "$(cgroup_dir "$pid" "$c")" = "$(cgroup_mount "$c")$path" ] ||
            [ "$(cgroup_dir "$pid" "$c")" = "$(cgroup_mount "")$path" ] ||
            fail "$c cgroup: $(cgroup_dir "$pid" "$c"), expected ...$path"
    done
    box delete --force "$ID"
    for d in "${dirs[@]}"; do
        case $d in */"$(cid own)") [ ! -d "$d" ] || fail "cgroup left: $d" ;; esac
    done
}

@test "cgroups: box puts a container without cgroupsPath at /box/<id> in every hierarchy" {
    require_box "runc places it relative to its own cgroup"
    set_args /bin/boxcheck sleep 60
    start_detached "$ID"
    wait_status "$ID" running
    pid=$(pid_of "$ID")
    while IFS=: read -r _ ctrls path; do
        [ "$path" = "/box/$ID" ] || fail "hierarchy '$ctrls': $path, expected /box/$ID"
    done <"/proc/$pid/cgroup"
    mapfile -t dirs < <(cgroup_dirs "$pid")
    box delete --force "$ID"
    for d in "${dirs[@]}"; do
        [ ! -d "$d" ] || fail "cgroup left: $d"
    done
}

@test "cgroups: a cgroupsPath with .. is refused, and exec --cgroup cannot name another cgroup" {
    require_box "runc cleans .. out of the path instead of refusing it"
    for p in /box/../../escape ../escape box/.. /a/../../../b; do
        set_config '.linux.cgroupsPath = $p' --arg p "$p"
        run --separate-stderr box_create "$ID"
        assert_one_line_error cgroupsPath
        [ -z "$(ls -A "$BOX_ROOT")" ]
    done
    # box has no exec --cgroup (runc's, to pick a sub-cgroup): it is refused
    # as unknown, so no path of the caller's places an exec'd process.
    set_config '.linux.cgroupsPath = $p' --arg p "/box/$ID"
    set_args /bin/boxcheck sleep 60
    start_detached "$ID"
    run --separate-stderr box exec --cgroup ../../escape "$ID" /bin/true </dev/null
    assert_status 255
    assert_contains "$stderr" "--cgroup"
    box delete --force "$ID"
}

@test "cgroups: run removes the cgroup when the container exits" {
    set_args /bin/boxcheck exit 0
    run box_run "$ID"
    assert_status 0
    [ -z "$(acc_cgroups)" ] || fail "left: $(acc_cgroups)"
}


@test "cgroups: a pure cgroup v2 layout: placed by clone, removed on exit, bound without a cgroup namespace" {
    require_box "the layout is simulated for box's detection"
    grep -qw cgroup2 /proc/filesystems || skip "the kernel has no cgroup2 filesystem"
    without_namespace cgroup
    set_args /bin/sh -c 'cat /proc/self/cgroup; grep " /sys/fs/cgroup " /proc/self/mountinfo'
    run v2_only env BOXTEST="$ACC_TAG" "$BOX" --root "$BOX_ROOT" run --bundle "$BUNDLE" "$ID"
    assert_status 0
    assert_contains "$output" "0::/box/$ID"
    assert_contains "$output" "cgroup2"
    [ ! -e "$(cgroup_mount "")/box/$ID" ] || fail "cgroup2 directory left behind"
}

@test "cgroups: a pure cgroup v2 layout with a cgroup namespace shows the container its own root" {
    require_box "the layout is simulated for box's detection"
    grep -qw cgroup2 /proc/filesystems || skip "the kernel has no cgroup2 filesystem"
    set_args /bin/sh -c 'grep "^0::" /proc/self/cgroup; ls /sys/fs/cgroup/cgroup.procs'
    run v2_only env BOXTEST="$ACC_TAG" "$BOX" --root "$BOX_ROOT" run --bundle "$BUNDLE" "$ID"
    assert_status 0
    assert_line_present "0::/"
    assert_contains "$output" "/sys/fs/cgroup/cgroup.procs"
}

@test "update: flags and a LinuxResources file change the running container's limits, and stick" {
    has_controller pids || skip "no pids controller"
    set_args /bin/boxcheck sleep 60
    start_detached "$ID"
    wait_status "$ID" running
    pid=$(pid_of "$ID")
    box update --pids-limit 33 "$ID"
    [ "$(cg_file "$pid" pids pids.max pids.max)" = 33 ] || fail "pids.max not updated"
    echo '{"memory": {"limit": 67108864}}' | box update --resources - "$ID"
    if has_controller memory; then
        v=$(cg_file "$pid" memory memory.limit_in_bytes memory.max)
        [ "$v" = 67108864 ] || fail "memory limit: $v"
    fi
    [ "$(cg_file "$pid" pids pids.max pids.max)" = 33 ] || fail "the second update undid the first"
    run box update --pids-limit lots "$ID"
    assert_failed
    assert_contains "$output" "--pids-limit"
}

@test "cgroups: on a pure cgroup v2 layout the device rules are an eBPF program on the container's cgroup" {
    require_box "the layout is simulated for box's detection"
    grep -qw cgroup2 /proc/filesystems || skip "the kernel has no cgroup2 filesystem"
    [ -c /dev/kmsg ] || skip "no /dev/kmsg on the host to bind"
    without_namespace cgroup
    set_config '.mounts += [{"destination": "/dev/kmsgb", "type": "bind", "source": "/dev/kmsg",
        "options": ["bind"]}]'
    set_args /bin/boxcheck open /dev/kmsgb w -- open /dev/null rw -- open /dev/zero r
    run v2_only env BOXTEST="$ACC_TAG" "$BOX" --root "$BOX_ROOT" run --bundle "$BUNDLE" "$ID"
    assert_status 0
    assert_line_present "open:/dev/kmsgb=err:EPERM"
    assert_line_present "open:/dev/null=ok"
    assert_line_present "open:/dev/zero=ok"
    # The same node allowed by a rule opens: the program, not something
    # else, was refusing it.
    set_config '.linux.resources.devices += [{"allow": true, "type": "c", "major": 1,
        "minor": 11, "access": "w"}]'
    run v2_only env BOXTEST="$ACC_TAG" "$BOX" --root "$BOX_ROOT" run --bundle "$BUNDLE" "$ID"
    assert_status 0
    assert_line_present "open:/dev/kmsgb=ok"
}

@test "cgroups: blockIO throttles reach blkio (v1) or io.max (v2), naming the device" {
    dev=$(awk '$1 !~ /^(ram|loop|zram)/ {print $1; exit}' <(lsblk -dn -o NAME,MAJ:MIN 2>/dev/null))
    majmin=$(lsblk -dn -o NAME,MAJ:MIN 2>/dev/null | awk -v d="$dev" '$1 == d {print $2}')
    [ -n "$majmin" ] || skip "no block device to throttle"
    maj=${majmin%:*} min=${majmin#*:}
    set_config '.linux.resources.blockIO = {"throttleReadBpsDevice":
        [{"major": $maj, "minor": $min, "rate": 1048576}]}' --argjson maj "$maj" --argjson min "$min"
    set_args /bin/boxcheck sleep 60
    start_detached "$ID"
    wait_status "$ID" running
    pid=$(pid_of "$ID")
    if dir=$(cgroup_dir "$pid" blkio) && [ -e "$dir/blkio.throttle.read_bps_device" ]; then
        grep -qx "$maj:$min 1048576" "$dir/blkio.throttle.read_bps_device" ||
            fail "read_bps_device: $(cat "$dir/blkio.throttle.read_bps_device")"
    elif dir=$(cgroup_dir "$pid" io); then
        grep -q "^$maj:$min rbps=1048576" "$dir/io.max" || fail "io.max: $(cat "$dir/io.max")"
    else
        skip "neither a blkio hierarchy nor the io controller"
    fi
}
