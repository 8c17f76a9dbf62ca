#!/usr/bin/env bats
# exec: a new process in a running container, in its namespaces and cgroup,
# with the container's process settings unless overridden, and runc's exit
# statuses (the process's own; 255 when the runtime fails).
# shellcheck disable=SC2016,SC2154

load helpers

setup_file() { acc_setup_file; }
teardown_file() { acc_teardown_file; }
setup() { acc_setup; }
teardown() { acc_teardown; }

# running ID: a detached container whose init sleeps.
running() {
    set_args /bin/boxcheck sleep 120
    start_detached "$1"
    wait_status "$1" running
}

# bexec ARGS...: box exec with stdio to the test, stray fds closed.
bexec() {
    box exec "$@" </dev/null
}

@test "exec: joins every namespace and the cgroup of the container's init" {
    require_box "box-specific"
    running "$ID"
    pid=$(pid_of "$ID")
    run bexec "$ID" /bin/boxcheck report
    assert_status 0
    for ns in pid net ipc uts mnt cgroup; do
        want=$(readlink "/proc/$pid/ns/$ns")
        assert_kv "ns.$ns" "$want"
    done
    bexec --detach --pid-file "$BUNDLE.exec.pid" "$ID" /bin/boxcheck sleep 60 >/dev/null 2>&1
    xpid=$(cat "$BUNDLE.exec.pid")
    cmp <(cat "/proc/$xpid/cgroup") <(cat "/proc/$pid/cgroup") ||
        fail "exec cgroups differ from the init's:\n$(cat "/proc/$xpid/cgroup")"
}

@test "exec: the container's pid namespace; the program is not pid 1" {
    running "$ID"
    run bexec "$ID" /bin/boxcheck report
    assert_status 0
    pid_line=$(grep '^pid=' <<<"$output")
    [ "$pid_line" != "pid=1" ] || fail "exec process is pid 1"
}

@test "exec: the process's exit status, and 128+N when killed by signal N" {
    running "$ID"
    run bexec "$ID" /bin/boxcheck exit 7
    assert_status 7
    run bexec "$ID" /bin/sh -c 'kill -9 $$'
    assert_status 137
}

@test "exec: 255 and a message naming the problem when the runtime fails" {
    running "$ID"
    run bexec "$ID" /bin/nope
    assert_status 255
    assert_contains "$output" "/bin/nope"
    run bexec missing-container /bin/true
    assert_status 255
    assert_contains "$output" "does not exist"
}

@test "crun CVE-2026-30892: exec --user takes only UID[:GID] in range; 4294967295, -1, '1:', '1:x', ' 1' are refused" {
    running "$ID"
    for bad in 4294967295 -1 1: :1 x 1:x " 1" "1 " +1 0x1 4294967296 1:4294967295 1:-1 ""; do
        run --separate-stderr bexec --user "$bad" "$ID" /bin/boxcheck write /ran "$bad"
        assert_status 255
        assert_contains "$stderr" "--user"
        [ ! -e "$BUNDLE/rootfs/ran" ] || fail "--user '$bad' ran the process: $(cat "$BUNDLE/rootfs/ran")"
    done
    # The edges that are valid.
    run bexec --user 4294967294:4294967294 "$ID" /bin/boxcheck report
    assert_status 0
    assert_kv uid 4294967294
}

@test "exec: into a stopped container fails and leaves nothing" {
    set_args /bin/boxcheck exit 0
    start_detached "$ID"
    wait_status "$ID" stopped
    run bexec "$ID" /bin/true
    assert_status 255
    assert_contains "$output" "stopped"
}

@test "exec: --user, --additional-gids, --env and --cwd override the container's process" {
    running "$ID"
    run bexec --user 1000:1001 --additional-gids 7 --env EXTRA=yes --cwd /tmp "$ID" /bin/boxcheck report
    assert_status 0
    assert_kv uid 1000
    assert_kv gid 1001
    assert_contains "$output" "env.EXTRA=yes"
    assert_kv cwd /tmp
    grep -q '^groups=7$' <<<"$output" || fail "groups: $(grep '^groups=' <<<"$output")"
}

@test "exec: --cap adds a capability the container's process lacks" {
    running "$ID"
    run bexec "$ID" /bin/boxcheck report
    before=$(grep '^cap.eff=' <<<"$output")
    run bexec --cap CAP_SYS_TIME "$ID" /bin/boxcheck report
    assert_status 0
    after=$(grep '^cap.eff=' <<<"$output")
    [ "$before" != "$after" ] || fail "effective capabilities unchanged: $after"
}

@test "exec: --process FILE runs that process object" {
    running "$ID"
    cat >"$BUNDLE.process.json" <<'JSON'
{"args": ["/bin/boxcheck", "report"], "cwd": "/", "env": ["ONLY=this"], "user": {"uid": 5, "gid": 6}}
JSON
    run bexec --process "$BUNDLE.process.json" "$ID"
    assert_status 0
    assert_kv uid 5
    assert_kv gid 6
    assert_contains "$output" "env.ONLY=this"
}

@test "CVE-2024-21626: exec passes only stdio and --preserve-fds to the process; the caller's stray fds never" {
    running "$ID"
    run box exec "$ID" /bin/boxcheck fds 7>"$BUNDLE.stray" </dev/null
    assert_status 0
    fds=$(grep '^fd\.' <<<"$output" | cut -d= -f1 | tr '\n' ' ')
    [ "$fds" = "fd.0 fd.1 fd.2 " ] || fail "descriptors in the exec process: $fds"
    run box exec --preserve-fds 1 "$ID" /bin/boxcheck fds 3>"$BUNDLE.kept" </dev/null
    assert_status 0
    fds=$(grep '^fd\.' <<<"$output" | cut -d= -f1 | tr '\n' ' ')
    [ "$fds" = "fd.0 fd.1 fd.2 fd.3 " ] || fail "with --preserve-fds 1: $fds"
}

@test "exec: --detach returns at once and --pid-file names the running process" {
    running "$ID"
    bexec --detach --pid-file "$BUNDLE.exec.pid" "$ID" /bin/boxcheck sleep 60 >/dev/null 2>&1 ||
        fail "exec --detach failed"
    xpid=$(cat "$BUNDLE.exec.pid")
    pid_alive "$xpid" || fail "exec process $xpid is not running"
    cmp <(cat "/proc/$xpid/cgroup") <(cat "/proc/$(pid_of "$ID")/cgroup") ||
        fail "the detached process is not in the container's cgroup"
    box delete --force "$ID"
    wait_for 10 pid_gone "$xpid" || fail "exec process $xpid survived delete --force"
}

@test "CVE-2019-5736: an exec'd process never runs or waits in the on-disk runtime binary" {
    require_box "box-specific"
    running "$ID"
    bexec --detach --pid-file "$BUNDLE.exec.pid" "$ID" /bin/boxcheck sleep 60 >/dev/null 2>&1
    xpid=$(cat "$BUNDLE.exec.pid")
    exe=$(readlink "/proc/$xpid/exe")
    [ "$exe" != "$(readlink -f "$BOX")" ] || fail "exec process runs $exe"
}

@test "exec --tty: the pty comes from the container and its master reaches the console socket" {
    [ -x "${BOXRECVTTY:-}" ] || skip "the console receiver (recvtty) is not built"
    running "$ID"
    sock=$BUNDLE.sock
    "$BOXRECVTTY" "$sock" "$BUNDLE.tty" 30 3>&- &
    rpid=$!
    wait_for 10 test -S "$sock" || fail "the console receiver did not start"
    run bexec --tty --console-socket "$sock" "$ID" /bin/boxcheck tty
    wait "$rpid" || true
    assert_status 0
    output=$(tr -d '\r' <"$BUNDLE.tty")
    assert_kv isatty.0 1
    assert_kv isatty.1 1
    [[ $(kv ttyname.0) =~ ^/dev/pts/[0-9]+$ ]] || fail "ttyname: $(kv ttyname.0)"
}
