#!/usr/bin/env bats
# Real container engines with the runtime under test as their OCI runtime:
# podman 4 (`--runtime $BOX`, through conmon) and containerd 1.6 (`ctr run
# --runc-binary $BOX`, through the runc v2 shim), each with private
# configuration, storage and state (engines_helpers.bash), on an image built
# from $BUSYBOX.  Every test then checks that the runtime left nothing: no
# state, cgroup, monitor, shim or mount.  An engine that is not installed, or
# does not start, skips its tests and says why.
# shellcheck disable=SC2016,SC2154

load helpers
load engines_helpers

setup_file() {
    acc_setup_file || return
    eng_setup_file
}
teardown_file() {
    eng_teardown_file
    acc_teardown_file
}
setup() {
    acc_setup
    eng_setup
}
teardown() {
    eng_teardown
    acc_teardown
}

# pm_run ARGS...: `podman run`, stdin from /dev/null.
pm_run() {
    pm run "$@" </dev/null
}

# pm_field NAME TEMPLATE: a field of `podman inspect`, e.g. '{{.State.Pid}}'.
pm_field() {
    pm inspect --format "$2" "$1"
}

# pm_logs_have NAME LINE: the container has printed LINE.
pm_logs_have() {
    pm logs "$1" 2>/dev/null | grep -qxF -- "$2"
}

# pm_sleeper NAME [RUN OPTIONS...]: a detached container whose program sleeps.
pm_sleeper() {
    local name=$1
    shift
    pm_run -d --name "$name" "$@" "$ENG_IMAGE" sleep 1000 >/dev/null
}

# ctr_sleeper ID [RUN OPTIONS...]: a started task whose program sleeps.
ctr_sleeper() {
    local id=$1
    shift
    ctr_run -d "$@" "$ENG_IMAGE" "$id" sleep 1000 </dev/null >/dev/null
}

# in_pty COMMAND...: run COMMAND on a new pseudo-terminal (ctr's -t wants its
# own stdin to be one); prints what the terminal showed, returns COMMAND's
# exit status.
in_pty() {
    eng_cmd script -qec "$(printf '%q ' "$@")" /dev/null </dev/null
}

# limit_file CONTROLLER V1_FILE V2_FILE PID: the path of a resource file of
# PID's cgroup.
limit_file() {
    local dir
    dir=$(cgroup_dir "$4" "$1") || return
    if cgroup_v2_only; then
        printf '%s/%s\n' "$dir" "$3"
    else
        printf '%s/%s\n' "$dir" "$2"
    fi
}

# ---- podman -------------------------------------------------------------------

@test "podman: run prints the program's stdout and stderr and returns its exit status" {
    require_podman
    run --separate-stderr pm_run --rm "$ENG_IMAGE" sh -c 'echo out; echo err >&2; exit 3'
    assert_status 3
    [ "$output" = out ] || fail "stdout: expected 'out', got:\n$output"
    [ "$stderr" = err ] || fail "stderr: expected 'err', got:\n$stderr"
}

@test "podman: the GPU validation smoke images, pulled from their OCI layouts, meet the contract under box" {
    require_podman
    local images=$ACC_REPO/build/images name
    for name in smoke-pass smoke-fail; do
        [ -f "$images/$name/index.json" ] || skip "no $images/$name: run \`make images\` first"
        # The pull records blobs in a cache under /var/lib/containers that no
        # option moves: a private tmpfs there keeps the host's untouched.
        eng_cmd unshare --mount --propagation private \
            sh -c 'mount -t tmpfs tmpfs /var/lib && exec "$@"' sh \
            podman --root "$PM_DIR/root" --runroot "$PM_DIR/run" \
            pull -q "oci:$images/$name" >"$PM_DIR/pull-$name" 2>&1 ||
            fail "podman pull oci:$images/$name: $(cat "$PM_DIR/pull-$name")"
    done
    # The harness runs the workload explicitly, as the image's user.
    run --separate-stderr pm_run --rm "$(tail -n1 "$PM_DIR/pull-smoke-pass")" \
        /usr/local/bin/openshell-gpu-workload
    assert_status 0
    assert_line_present "OPENSHELL_GPU_WORKLOAD_SUCCESS smoke-pass"
    run --separate-stderr pm_run --rm "$(tail -n1 "$PM_DIR/pull-smoke-fail")" \
        /usr/local/bin/openshell-gpu-workload
    assert_status 42
    assert_contains "$stderr" "OPENSHELL_GPU_WORKLOAD_FAILURE smoke-fail"
    run pm_run --rm --entrypoint /bin/sh "$(tail -n1 "$PM_DIR/pull-smoke-pass")" \
        -c 'echo "$(id -un) $(id -u)"'
    assert_status 0
    [ "$output" = "sandbox 1000" ] || fail "the image's user: $output"
    pm rmi --force "$(tail -n1 "$PM_DIR/pull-smoke-pass")" "$(tail -n1 "$PM_DIR/pull-smoke-fail")" >/dev/null 2>&1 || true
}

@test "podman: podman's default seccomp profile is in force" {
    require_podman
    run pm_run --rm "$ENG_IMAGE" grep '^Seccomp:' /proc/self/status
    assert_status 0
    [ "$output" = "$(printf 'Seccomp:\t2')" ] || fail "expected mode 2 (filter), got:\n$output"
}

@test "podman: run --rm leaves no runtime state, cgroup, monitor or mount" {
    require_podman
    run pm_run --rm --cidfile "$PM_DIR/cid" "$ENG_IMAGE" true
    assert_status 0
    id=$(cat "$PM_DIR/cid")
    [ -n "$id" ] || fail "podman wrote no container id"
    r=$(eng_poll 10 pm_residue) || fail "left behind by run --rm:\n$r"
}

@test "podman: run -d, then exec in the running container" {
    require_podman
    pm_sleeper s
    id=$(pm_field s '{{.Id}}')
    pid=$(pm_field s '{{.State.Pid}}')
    [ "$(pm_field s '{{.OCIRuntime}}')" = "$BOX" ] ||
        fail "podman used runtime '$(pm_field s '{{.OCIRuntime}}')', not $BOX"
    # The runtime itself knows the container, running, with podman's pid.
    run "$BOX" state "$id"
    assert_status 0
    [ "$(jq -r .status <<<"$output")" = running ] || fail "runtime state:\n$output"
    [ "$(jq -r .pid <<<"$output")" = "$pid" ] || fail "runtime pid is not $pid:\n$output"

    run pm exec s sh -c 'tr "\0" " " </proc/1/cmdline; echo; exit 4'
    assert_status 4
    [ "$output" = "sleep 1000 " ] || fail "pid 1 in exec's pid namespace:\n$output"
    run pm exec --user 1000 --workdir /tmp --env FOO=bar s sh -c 'echo "$(id -u) $(pwd) $FOO"'
    assert_status 0
    [ "$output" = "1000 /tmp bar" ] || fail "user, cwd, env:\n$output"
}

@test "podman: run -t and exec -t get a terminal through the console socket" {
    require_podman
    run pm_run --rm -t "$ENG_IMAGE" sh -c 'tty; exit 5'
    assert_status 5
    assert_contains "$output" /dev/pts/
    pm_sleeper s
    run pm exec -t s sh -c 'tty' </dev/null
    assert_status 0
    assert_contains "$output" /dev/pts/
}

@test "podman: stop delivers SIGTERM and records the program's exit status" {
    require_podman
    pm_run -d --name s "$ENG_IMAGE" \
        sh -c 'trap "exit 7" TERM; echo ready; while :; do sleep 0.1; done' >/dev/null
    wait_for 20 pm_logs_have s ready
    run pm stop --time 30 s
    assert_status 0
    [ "$(pm_field s '{{.State.ExitCode}}')" = 7 ] ||
        fail "exit code: expected 7, got $(pm_field s '{{.State.ExitCode}}')"
}

@test "podman: stop falls back to SIGKILL when the program ignores SIGTERM" {
    require_podman
    # A pid 1 without a handler ignores SIGTERM.
    pm_sleeper s
    run pm stop --time 1 s
    assert_status 0
    [ "$(pm_field s '{{.State.ExitCode}}')" = 137 ] ||
        fail "exit code: expected 137, got $(pm_field s '{{.State.ExitCode}}')"
}

@test "podman: rm --force removes a running container and everything the runtime made" {
    require_podman
    pm_sleeper s
    id=$(pm_field s '{{.Id}}')
    run pm rm --force --time 0 s
    assert_status 0
    r=$(eng_poll 10 pm_residue) || fail "left behind by rm --force:\n$r"
    run "$BOX" state "$id"
    [ "$status" -ne 0 ] || fail "the runtime still knows $id:\n$output"
}

@test "podman: a container joins another's network and pid namespaces by path" {
    require_podman
    pm_sleeper a
    pid=$(pm_field a '{{.State.Pid}}')
    run pm_run --rm --network container:a --pid container:a "$ENG_IMAGE" \
        sh -c 'readlink /proc/self/ns/net; readlink /proc/self/ns/pid'
    assert_status 0
    assert_line_present "$(readlink "/proc/$pid/ns/net")"
    assert_line_present "$(readlink "/proc/$pid/ns/pid")"
    [ "$(readlink "/proc/$pid/ns/net")" != "$(readlink /proc/self/ns/net)" ] ||
        fail "the first container shares the host's network namespace"
}

@test "podman: --memory and --pids-limit reach the container's cgroup" {
    require_podman
    pm_sleeper s --memory 64m --pids-limit 50
    id=$(pm_field s '{{.Id}}')
    pid=$(pm_field s '{{.State.Pid}}')
    mem=$(limit_file memory memory.limit_in_bytes memory.max "$pid") ||
        fail "no memory cgroup for pid $pid:\n$(cat "/proc/$pid/cgroup")"
    [[ $mem == */libpod-$id/* ]] || fail "not podman's cgroup path: $mem"
    [ "$(cat "$mem")" = 67108864 ] || fail "$mem: $(cat "$mem")"
    pids=$(limit_file pids pids.max pids.max "$pid") || fail "no pids cgroup for pid $pid"
    [ "$(cat "$pids")" = 50 ] || fail "$pids: $(cat "$pids")"
}

@test "podman: --ulimit core=-1:-1 (written as 18446744073709551615) is no limit inside" {
    require_podman
    # (nofile and nproc too: with any --ulimit podman drops containers.conf's
    # defaults and asks for 1048576 of each, past what this machine allows)
    run pm_run --rm --ulimit core=-1:-1 --ulimit nofile=1024:20000 \
        --ulimit nproc=4096:4096 "$ENG_IMAGE" sh -c 'ulimit -c; ulimit -Hc'
    assert_status 0
    [ "$output" = "$(printf 'unlimited\nunlimited')" ] || fail "got: $output"
}

@test "podman: the runtime's error reaches the user, with exit status 127 for a missing program" {
    require_podman
    run -127 --separate-stderr pm_run --rm "$ENG_IMAGE" /nonexistent
    assert_status 127
    assert_contains "$stderr" /nonexistent
}

@test "podman: --tmpfs mounts a tmpfs holding a copy of the image's directory (tmpcopyup)" {
    require_podman
    run pm_run --rm --tmpfs /srv "$ENG_IMAGE" sh -c 'cat /srv/marker; grep " /srv " /proc/mounts'
    assert_status 0
    assert_line_present from-image
    [[ $output == *"tmpfs /srv tmpfs "* ]] || fail "/srv is not a tmpfs:\n$output"
}

@test "podman: --read-only makes the root read-only, with tmpfs on /tmp, /run and /var/tmp" {
    require_podman
    run pm_run --rm --read-only "$ENG_IMAGE" \
        sh -c 'touch /tmp/a /run/a /var/tmp/a && echo writable; touch /x 2>/dev/null; echo "root=$?"'
    assert_status 0
    assert_line_present writable
    assert_line_present root=1
}

@test "podman: --device makes the device node in the container" {
    require_podman
    run pm_run --rm --device /dev/null:/dev/xnull "$ENG_IMAGE" \
        sh -c 'stat -c "%F %t:%T" /dev/xnull && echo x >/dev/xnull && echo written'
    assert_status 0
    assert_line_present "character special file 1:3"
    assert_line_present written
}

@test "podman: pause freezes the container and unpause thaws it" {
    require_podman
    pm_sleeper s
    run pm pause s
    assert_status 0
    [ "$(pm_field s '{{.State.Status}}')" = paused ] ||
        fail "status after pause: $(pm_field s '{{.State.Status}}')"
    run pm unpause s
    assert_status 0
    run pm exec s true
    assert_status 0
}

@test "podman: update changes the memory limit of a running container" {
    require_podman
    pm_sleeper s --memory 64m
    pid=$(pm_field s '{{.State.Pid}}')
    run pm update --memory 128m s
    assert_status 0
    mem=$(limit_file memory memory.limit_in_bytes memory.max "$pid")
    [ "$(cat "$mem")" = 134217728 ] || fail "$mem: $(cat "$mem")"
}

# ---- containerd ---------------------------------------------------------------

@test "containerd: ctr run prints the program's output and returns its exit status; --rm leaves nothing" {
    require_containerd
    run --separate-stderr ctr_run --rm "$ENG_IMAGE" c1 sh -c 'echo out; echo err >&2; exit 3'
    assert_status 3
    [ "$output" = out ] || fail "stdout: expected 'out', got:\n$output"
    [ "$stderr" = err ] || fail "stderr: expected 'err', got:\n$stderr"
    r=$(eng_poll 10 ctd_residue) || fail "left behind by ctr run --rm:\n$r"
}

@test "containerd: ctr run --seccomp puts the task under containerd's default profile" {
    require_containerd
    run ctr_run --rm --seccomp "$ENG_IMAGE" c1s grep '^Seccomp:' /proc/self/status </dev/null
    assert_status 0
    [ "$output" = "$(printf 'Seccomp:\t2')" ] || fail "expected mode 2 (filter), got:\n$output"
}

@test "containerd: ctr task exec runs in the running task" {
    require_containerd
    ctr_sleeper c2
    pid=$(ctr_task_pid c2)
    run "$BOX" --root "$CTD_DIR/runtime/$CTD_NS" state c2
    assert_status 0
    [ "$(jq -r .status <<<"$output")" = running ] || fail "runtime state:\n$output"
    [ "$(jq -r .pid <<<"$output")" = "$pid" ] || fail "runtime pid is not $pid:\n$output"
    run ctr_exec --exec-id e1 c2 sh -c 'tr "\0" " " </proc/1/cmdline; echo; exit 4'
    assert_status 4
    [ "$output" = "sleep 1000 " ] || fail "pid 1 in exec's pid namespace:\n$output"
    run ctr_exec --exec-id e2 --user 1000 --cwd /tmp c2 sh -c 'echo "$(id -u) $(pwd)"'
    assert_status 0
    [ "$output" = "1000 /tmp" ] || fail "user, cwd:\n$output"
}

@test "containerd: ctr task kill delivers SIGTERM and ctr run returns the exit status" {
    require_containerd
    ctr_run --rm "$ENG_IMAGE" c3 sh -c 'trap "exit 9" TERM; echo ready; while :; do sleep 0.1; done' \
        </dev/null >"$CTD_DIR/c3.out" 2>&1 &
    bg=$!
    wait_for 20 file_has_line "$CTD_DIR/c3.out" ready
    run c_tr task kill c3
    assert_status 0
    rc=0
    wait "$bg" || rc=$?
    [ "$rc" -eq 9 ] || fail "ctr run: expected exit status 9, got $rc:\n$(cat "$CTD_DIR/c3.out")"
}

@test "containerd: ctr run -t and task exec -t get a terminal through the console socket" {
    require_containerd
    command -v script >/dev/null || skip "script (Debian: bsdutils) is not installed"
    run in_pty ctr --address "$CTD_DIR/containerd.sock" --namespace "$CTD_NS" run --rm -t \
        --runc-binary "$BOX" --runc-root "$CTD_DIR/runtime" --fifo-dir "$CTD_DIR/fifo" \
        "$ENG_IMAGE" c4 sh -c 'tty; exit 5'
    assert_status 5
    assert_contains "$output" /dev/pts/
    ctr_sleeper c4b
    run in_pty ctr --address "$CTD_DIR/containerd.sock" --namespace "$CTD_NS" task exec -t \
        --fifo-dir "$CTD_DIR/fifo" --exec-id t1 c4b sh -c 'tty; exit 6'
    assert_status 6
    assert_contains "$output" /dev/pts/
}

@test "containerd: a task joins another's network namespace by path (--with-ns)" {
    require_containerd
    ctr_sleeper c5
    pid=$(ctr_task_pid c5)
    run ctr_run --rm --with-ns "network:/proc/$pid/ns/net" "$ENG_IMAGE" c5b \
        readlink /proc/self/ns/net </dev/null
    assert_status 0
    [ "$output" = "$(readlink "/proc/$pid/ns/net")" ] ||
        fail "expected $(readlink "/proc/$pid/ns/net"), got:\n$output"
}

@test "containerd: ctr task ps lists the task's processes" {
    require_containerd
    ctr_sleeper c6
    pid=$(ctr_task_pid c6)
    run c_tr task ps c6
    assert_status 0
    grep -qE "^$pid[[:space:]]" <<<"$output" || fail "pid $pid is not listed:\n$output"
}
