#!/usr/bin/env bats
# Resources the payload feels: memory, devices, huge pages, real-time
# runtime, per-device I/O weights, kernel memory; each checked from the host
# (the cgroup files) and, where the kernel lets a test see it, from inside.
# shellcheck disable=SC2016,SC2154

load helpers

setup_file() { acc_setup_file; }
teardown_file() { acc_teardown_file; }
setup() { acc_setup; }
teardown() {
    [ -z "${LOOPDEV:-}" ] || losetup -d "$LOOPDEV" 2>/dev/null || true
    [ -z "${HUGEPAGES_WAS:-}" ] || echo "$HUGEPAGES_WAS" >/proc/sys/vm/nr_hugepages
    acc_teardown
}

@test "memory: a hog is OOM-killed at the limit, and what fits runs" {
    has_controller memory || skip "no memory controller"
    set_config '.linux.resources.memory = {"limit": 33554432, "swap": 33554432,
        "swappiness": 0}'
    if [ -z "$(cgroup_mount memory)" ] || [ ! -e "$(cgroup_mount memory)/memory.memsw.limit_in_bytes" ]; then
        set_config 'del(.linux.resources.memory.swap)'
    fi
    set_args /bin/boxcheck alloc 96
    run box_run "$ID"
    assert_status 137
    assert_line_absent "alloc=ok"
    local got
    got=$(grep '^alloc.progress=' <<<"$output" | tail -1 | cut -d= -f2)
    [ "${got:-0}" -le 32 ] || fail "touched ${got} MiB under a 32 MiB limit"
    set_args /bin/boxcheck alloc 8
    run box_run "$ID"
    assert_status 0
    assert_line_present "alloc=ok"
}

@test "devices: an allowed node opens (ENXIO without a driver), a denied one gives EPERM" {
    has_controller devices || cgroup_v2_only || skip "no devices controller"
    # fakegpu0 is created by the runtime from linux.devices (which also
    # allows it, as in runc); fakegpu1 is a host node bound in, which no
    # rule allows.
    mknod -m 666 "$ACC_DIR/fakegpu1" c 195 1
    set_config '.linux.devices = [
            {"path": "/dev/fakegpu0", "type": "c", "major": 195, "minor": 0, "fileMode": 438}]
        | .mounts += [{"destination": "/dev/fakegpu1", "type": "bind", "source": $n,
            "options": ["bind"]}]' --arg n "$ACC_DIR/fakegpu1"
    set_args /bin/boxcheck stat /dev/fakegpu0 -- open /dev/fakegpu0 rw -- open /dev/fakegpu1 rw
    run box_run "$ID"
    assert_status 0
    if char_driver 195; then # an NVIDIA driver is loaded: the GPU itself opens
        assert_line_present "open:/dev/fakegpu0=ok"
    else
        assert_line_present "open:/dev/fakegpu0=err:ENXIO"
    fi
    assert_line_present "open:/dev/fakegpu1=err:EPERM"
}

@test "update: new device rules on a pure cgroup v2 layout replace the eBPF program" {
    require_box "the layout is simulated for box's detection"
    grep -qw cgroup2 /proc/filesystems || skip "the kernel has no cgroup2 filesystem"
    [ -c /dev/kmsg ] || skip "no /dev/kmsg on the host to bind"
    without_namespace cgroup
    set_config '.mounts += [{"destination": "/dev/kmsgb", "type": "bind", "source": "/dev/kmsg",
        "options": ["bind"]}]'
    set_args /bin/boxcheck sleep 60
    local state=$ACC_DIR/v2state
    mkdir -p "$state"
    v2box() { v2_only env BOXTEST="$ACC_TAG" "$BOX" --root "$state" "$@"; }
    v2box create --bundle "$BUNDLE" "$ID" </dev/null >/dev/null 2>&1 3>&-
    v2box start "$ID"
    run v2box exec "$ID" /bin/boxcheck open /dev/kmsgb w
    assert_line_present "open:/dev/kmsgb=err:EPERM"
    echo '{"devices": [{"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}]}' |
        v2box update --resources - "$ID"
    run v2box exec "$ID" /bin/boxcheck open /dev/kmsgb w -- open /dev/null rw
    v2box delete --force "$ID"
    assert_line_present "open:/dev/kmsgb=ok"
    assert_line_present "open:/dev/null=ok"
}

@test "hugetlb: the limit reaches the controller's file; a mapping past it is refused" {
    require_box "box's hugetlb placement (v1 hierarchy or the cgroup2 mount)"
    has_controller hugetlb || skip "no hugetlb controller"
    [ -d /sys/kernel/mm/hugepages/hugepages-2048kB ] || skip "no 2 MiB huge pages"
    HUGEPAGES_WAS=$(cat /proc/sys/vm/nr_hugepages)
    echo 4 >/proc/sys/vm/nr_hugepages
    [ "$(cat /proc/sys/vm/nr_hugepages)" -ge 4 ] || skip "cannot reserve 4 huge pages"
    set_config '.linux.resources.hugepageLimits = [{"pageSize": "2MB", "limit": 2097152}]'
    set_args /bin/boxcheck sleep 60
    start_detached "$ID"
    wait_status "$ID" running
    local pid dir
    pid=$(pid_of "$ID")
    if dir=$(cgroup_dir "$pid" hugetlb) && [ -e "$dir/hugetlb.2MB.limit_in_bytes" ]; then
        [ "$(cat "$dir/hugetlb.2MB.limit_in_bytes")" = 2097152 ] || fail "v1 limit not written"
    else
        dir=$(cgroup_mount "")$(awk -F: '$1 == 0 {print $3}' "/proc/$pid/cgroup")
        [ "$(cat "$dir/hugetlb.2MB.max")" = 2097152 ] || fail "hugetlb.2MB.max: $(cat "$dir/hugetlb.2MB.max")"
    fi
    run box exec "$ID" /bin/boxcheck hugemap 1 -- hugemap 2
    box delete --force "$ID"
    assert_line_present "hugemap=ok"
    assert_line_present "hugemap=err:ENOMEM"
}

@test "hugetlb: a page size the host lacks, or a malformed one, is refused naming the field" {
    require_box "exact error texts"
    has_controller hugetlb || skip "no hugetlb controller"
    set_config '.linux.resources.hugepageLimits = [{"pageSize": "4MB", "limit": 4194304}]'
    run --separate-stderr box_create "$ID"
    assert_one_line_error "hugepageLimits[0].pageSize" "4MB"
    set_config '.linux.resources.hugepageLimits = [{"pageSize": "2 MB", "limit": 1}]'
    run --separate-stderr box_create "$ID"
    assert_one_line_error "hugepageLimits[0].pageSize"
    set_config '.linux.resources.hugepageLimits = [{"pageSize": "2MB"}]'
    run --separate-stderr box_create "$ID"
    assert_one_line_error "hugepageLimits[0].limit"
}

@test "realtime: runtime and period reach cpu.rt_*, and SCHED_FIFO then runs inside" {
    local mnt
    mnt=$(cgroup_mount cpu)
    [ -n "$mnt" ] && [ -e "$mnt/cpu.rt_runtime_us" ] ||
        skip "no real-time group scheduling (v1 cpu with CONFIG_RT_GROUP_SCHED)"
    [ "$(cat "$mnt/cpu.rt_runtime_us")" -ge 20000 ] || skip "the root cpu cgroup has no rt budget"
    # Directly below the root, whose budget the kernel set at boot.
    set_config '.linux.cgroupsPath = $p
        | .linux.resources.cpu = {"realtimeRuntime": 20000, "realtimePeriod": 1000000}
        | .process.scheduler = {"policy": "SCHED_FIFO", "priority": 5}' --arg p "/$ID"
    set_args /bin/boxcheck sched
    run box_run "$ID"
    assert_status 0
    assert_kv sched.policy 1
    assert_kv sched.priority 5
}

@test "realtime: a parent cgroup without a budget is named; cgroup v2 refuses it" {
    require_box "exact error texts"
    local mnt
    mnt=$(cgroup_mount cpu)
    if [ -n "$mnt" ] && [ -e "$mnt/cpu.rt_runtime_us" ]; then
        set_config '.linux.cgroupsPath = $p | .linux.resources.cpu = {"realtimeRuntime": 10000}' \
            --arg p "/box-$ACC_TAG-rt/$ID"
        run --separate-stderr box_create "$ID"
        assert_one_line_error "realtimeRuntime" "box-$ACC_TAG-rt" "grants 0 us"
        # Like runc, a failed create removes the container's cgroup but not
        # the parents it made on the way.
        find /sys/fs/cgroup -mindepth 1 -maxdepth 2 -type d -name "box-$ACC_TAG-rt" -delete
    fi
    grep -qw cgroup2 /proc/filesystems || return 0
    set_config 'del(.linux.cgroupsPath) | .linux.resources.cpu = {"realtimeRuntime": 10000}'
    run --separate-stderr v2_only env BOXTEST="$ACC_TAG" "$BOX" --root "$BOX_ROOT" \
        create --bundle "$BUNDLE" "$ID"
    assert_one_line_error "realtimeRuntime" "cgroup v2"
}

@test "blockIO: a per-device weight reaches the bfq weight file of that device" {
    require_box "the host's per-device weight file"
    local mnt
    mnt=$(cgroup_mount blkio)
    [ -n "$mnt" ] || skip "no v1 blkio hierarchy"
    grep -qw bfq /sys/block/*/queue/scheduler 2>/dev/null || skip "the kernel has no bfq"
    truncate -s 8M "$ACC_DIR/disk.img"
    LOOPDEV=$(losetup --find --show "$ACC_DIR/disk.img") || skip "no loop device"
    local name=${LOOPDEV#/dev/}
    echo bfq >"/sys/block/$name/queue/scheduler" || skip "cannot switch $name to bfq"
    local majmin
    majmin=$(cat "/sys/block/$name/dev")
    set_config '.linux.resources.blockIO = {"weightDevice":
        [{"major": $maj, "minor": $min, "weight": 333}]}' \
        --argjson maj "${majmin%:*}" --argjson min "${majmin#*:}"
    set_args /bin/boxcheck sleep 60
    start_detached "$ID"
    wait_status "$ID" running
    local dir
    dir=$(cgroup_dir "$(pid_of "$ID")" blkio)
    grep -qx "$majmin 333" "$dir/blkio.bfq.weight_device" ||
        fail "blkio.bfq.weight_device: $(cat "$dir/blkio.bfq.weight_device")"
    box delete --force "$ID"
}

@test "blockIO: a device weight the scheduler cannot take, and leaf weights, are refused" {
    require_box "exact error texts"
    [ -n "$(cgroup_mount blkio)" ] || cgroup_v2_only || skip "no blkio or io controller"
    local dev majmin
    dev=$(lsblk -dn -o NAME,MAJ:MIN | awk '$1 !~ /^(ram|loop|zram)/ {print $1; exit}')
    [ -n "$dev" ] && ! grep -q '\[bfq\]' "/sys/block/$dev/queue/scheduler" ||
        skip "no block device without bfq"
    majmin=$(cat "/sys/block/$dev/dev")
    set_config '.linux.resources.blockIO = {"weightDevice":
        [{"major": $maj, "minor": $min, "weight": 333}]}' \
        --argjson maj "${majmin%:*}" --argjson min "${majmin#*:}"
    run --separate-stderr box_create "$ID"
    assert_one_line_error "blockIO.weightDevice[0]" "$majmin"
    set_config '.linux.resources.blockIO = {"leafWeight": 300}'
    run --separate-stderr box_create "$ID"
    assert_one_line_error "blockIO.leafWeight"
}

@test "memory: kernel and kernelTCP limits are accepted (deprecated; kept where the kernel has them)" {
    has_controller memory || skip "no memory controller"
    set_config '.linux.resources.memory = {"limit": 67108864, "kernel": 33554432,
        "kernelTCP": 16777216}'
    set_args /bin/boxcheck alloc 4
    run box_run "$ID"
    assert_status 0
    assert_line_present "alloc=ok"
}

@test "update: runc's --blkio-weight and --cpu-rt-* flags reach the cgroup files" {
    local mnt
    mnt=$(cgroup_mount cpu)
    [ -n "$mnt" ] && [ -e "$mnt/cpu.rt_runtime_us" ] || skip "no v1 real-time group scheduling"
    [ "$(cat "$mnt/cpu.rt_runtime_us")" -ge 20000 ] || skip "the root cpu cgroup has no rt budget"
    set_config '.linux.cgroupsPath = $p' --arg p "/$ID"
    set_args /bin/boxcheck sleep 60
    start_detached "$ID"
    wait_status "$ID" running
    box update --cpu-rt-period 1000000 --cpu-rt-runtime 15000 "$ID"
    [ "$(cat "$mnt/$ID/cpu.rt_runtime_us")" = 15000 ] || fail "rt runtime not updated"
    local blkio
    blkio=$(cgroup_mount blkio)
    if [ -n "$blkio" ] && [ -e "$blkio/$ID/blkio.bfq.weight" ]; then
        box update --blkio-weight 321 "$ID"
        grep -q 321 "$blkio/$ID/blkio.bfq.weight" || fail "blkio weight: $(cat "$blkio/$ID/blkio.bfq.weight")"
    fi
    run box update --l3-cache-schema L3:0=f "$ID"
    assert_failed
    assert_contains "$output" "RDT"
    box delete --force "$ID"
}
