#!/usr/bin/env bats
# docker with the runtime under test as the runtime "box" (`docker run
# --runtime box`): dockerd 20.10 hands it to containerd's runc shim as its
# binary.  The file starts its own containerd and dockerd, with private
# directories, no bridge and no iptables, and loads an image built from
# $BUSYBOX (engines_helpers.bash, which also lists the global paths dockerd
# writes whatever it is told, and how teardown_file removes them).  Every
# test checks that the runtime left nothing: no state, cgroup, shim or mount;
# the last one stops the daemons by pid and checks the same of them.  Without
# docker (Debian: docker.io), or when dockerd does not start, every test skips
# and says why.
# shellcheck disable=SC2016,SC2154

load helpers
load engines_helpers

setup_file() {
    acc_setup_file || return
    dk_setup_file
}
teardown_file() {
    dk_teardown_file
    acc_teardown_file
}
setup() {
    acc_setup
}
teardown() {
    # Not after the last test, which stops dockerd.
    if [ -z "${ACC_SKIP_REASON:-}" ] && [ -z "${DK_SKIP:-}" ] && pid_alive "$DK_PID"; then
        dk_teardown
    fi
    acc_teardown
}

# dk_sleeper NAME [RUN OPTIONS...]: a detached container whose program sleeps.
dk_sleeper() {
    local name=$1
    shift
    dk_run -d --name "$name" "$@" "$ENG_IMAGE" sleep 1000 >/dev/null
}

# dk_logs_have NAME LINE: the container has printed LINE.
dk_logs_have() {
    dk logs "$1" 2>/dev/null | grep -qxF -- "$2"
}

@test "docker: run prints the program's stdout and stderr and returns its exit status" {
    require_docker
    run --separate-stderr dk_run --rm "$ENG_IMAGE" sh -c 'echo out; echo err >&2; exit 3'
    assert_status 3
    [ "$output" = out ] || fail "stdout: expected 'out', got:\n$output"
    [ "$stderr" = err ] || fail "stderr: expected 'err', got:\n$stderr"
}

@test "docker: docker's default seccomp profile is in force" {
    require_docker
    run dk_run --rm "$ENG_IMAGE" grep '^Seccomp:' /proc/self/status
    assert_status 0
    [ "$output" = "$(printf 'Seccomp:\t2')" ] || fail "expected mode 2 (filter), got:\n$output"
}

@test "docker: run --rm leaves no runtime state, cgroup, shim or mount" {
    require_docker
    run dk_run --rm --cidfile "$DK_DIR/cid" "$ENG_IMAGE" true
    assert_status 0
    id=$(cat "$DK_DIR/cid")
    [ -n "$id" ] || fail "docker wrote no container id"
    r=$(eng_poll 10 dk_residue) || fail "left behind by run --rm:\n$r"
    run "$BOX" --root "$(dk_state_root)" state "$id"
    [ "$status" -ne 0 ] || fail "the runtime still knows $id:\n$output"
}

@test "docker: run -d, then exec in the running container" {
    require_docker
    dk_sleeper s1
    id=$(dk_field s1 '{{.Id}}')
    pid=$(dk_field s1 '{{.State.Pid}}')
    [ "$(dk_field s1 '{{.HostConfig.Runtime}}')" = box ] ||
        fail "docker used runtime '$(dk_field s1 '{{.HostConfig.Runtime}}')', not box"
    # The runtime itself knows the container, running, with docker's pid, in
    # the cgroup dockerd asked for.
    run "$BOX" --root "$(dk_state_root)" state "$id"
    assert_status 0
    [ "$(jq -r .status <<<"$output")" = running ] || fail "runtime state:\n$output"
    [ "$(jq -r .pid <<<"$output")" = "$pid" ] || fail "runtime pid is not $pid:\n$output"
    grep -q ":/$DK_CGROUP/$id\$" "/proc/$pid/cgroup" ||
        fail "not in the cgroup /$DK_CGROUP/$id:\n$(cat "/proc/$pid/cgroup")"

    run dk exec s1 sh -c 'tr "\0" " " </proc/1/cmdline; echo; exit 4'
    assert_status 4
    [ "$output" = "sleep 1000 " ] || fail "pid 1 in exec's pid namespace:\n$output"
    run dk exec --user 1000 --workdir /tmp --env FOO=bar s1 sh -c 'echo "$(id -u) $(pwd) $FOO"'
    assert_status 0
    [ "$output" = "1000 /tmp bar" ] || fail "user, cwd, env:\n$output"
}

@test "docker: stop delivers SIGTERM and records the exit status; rm leaves nothing" {
    require_docker
    dk_run -d --name s2 "$ENG_IMAGE" \
        sh -c 'trap "exit 7" TERM; echo ready; while :; do sleep 0.1; done' >/dev/null
    id=$(dk_field s2 '{{.Id}}')
    wait_for 20 dk_logs_have s2 ready
    run dk stop --time 30 s2
    assert_status 0
    [ "$(dk_field s2 '{{.State.ExitCode}}')" = 7 ] ||
        fail "exit code: expected 7, got $(dk_field s2 '{{.State.ExitCode}}')"
    run dk rm s2
    assert_status 0
    r=$(eng_poll 10 dk_residue) || fail "left behind by stop and rm:\n$r"
    run "$BOX" --root "$(dk_state_root)" state "$id"
    [ "$status" -ne 0 ] || fail "the runtime still knows $id:\n$output"
}

@test "docker: stop falls back to SIGKILL when the program ignores SIGTERM" {
    require_docker
    # A pid 1 without a handler ignores SIGTERM.
    dk_sleeper s3
    run dk stop --time 1 s3
    assert_status 0
    [ "$(dk_field s3 '{{.State.ExitCode}}')" = 137 ] ||
        fail "exit code: expected 137, got $(dk_field s3 '{{.State.ExitCode}}')"
}

@test "docker: rm --force removes a running container and everything the runtime made" {
    require_docker
    dk_sleeper s4
    id=$(dk_field s4 '{{.Id}}')
    run dk rm --force s4
    assert_status 0
    r=$(eng_poll 10 dk_residue) || fail "left behind by rm --force:\n$r"
    run "$BOX" --root "$(dk_state_root)" state "$id"
    [ "$status" -ne 0 ] || fail "the runtime still knows $id:\n$output"
}

# Last: the daemons go, and with them everything of theirs.  teardown_file
# does the same (and more) when this test is filtered out or fails early.
@test "docker: dockerd and containerd stop by pid and leave no shim, mount or state" {
    require_docker
    dk_sleeper s5
    dk_remove_all
    r=$(dk_stop_daemons)
    [ -z "$r" ] || fail "$r"
    pid_gone "$DK_PID" || fail "dockerd (pid $DK_PID) still runs"
    pid_gone "$DK_CTD_PID" || fail "containerd (pid $DK_CTD_PID) still runs"
    r=$(dk_shims)
    [ -z "$r" ] || fail "shims left:\n$r"
    r=$(eng_mounts_under "$DK_DIR")
    [ -z "$r" ] || fail "mounts left:\n$r"
    r=$(dk_state_entries)
    [ -z "$r" ] || fail "runtime state left:\n$r"
    r=$(eng_cgroups_named "*/$DK_CGROUP/*")
    [ -z "$r" ] || fail "cgroups left:\n$r"
}
