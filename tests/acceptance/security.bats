#!/usr/bin/env bats
# Classes of past runtime CVEs, each as a test that the runtime is immune:
# the runtime binary out of the container's reach (CVE-2019-5736), leaked
# descriptors as cwd (CVE-2024-21626), symlinks in the rootfs leading out.
# shellcheck disable=SC2016,SC2154

load helpers

setup_file() { acc_setup_file; }
teardown_file() { acc_teardown_file; }
setup() { acc_setup; }
teardown() { acc_teardown; }

@test "the created init does not run the on-disk runtime binary" {
    box_create "$ID"
    pid=$(pid_of "$ID")
    exe=$(readlink "/proc/$pid/exe")
    [ "$(readlink -f "/proc/$pid/exe")" != "$(readlink -f "$BOX")" ] ||
        fail "the waiting init runs $exe, the runtime binary on disk"
    ! (: >>"/proc/$pid/exe") 2>/dev/null || fail "the init's executable $exe is writable"
    box delete "$ID"
}

@test "a racer sharing the pid namespace never gets the runtime binary open for writing" {
    # CVE-2019-5736: a container whose entrypoint is #!/proc/self/exe runs
    # the runtime's own executable; a process in the same pid namespace holds
    # it by /proc/PID/exe and reopens it for writing.  The racer runs in one
    # container; the others join its pid namespace.
    racer=$(cid racer)
    set_args /bin/boxcheck exe-race 60 /stop
    start_detached "$racer"
    wait_output "$racer" exe-race:ready
    pidns=/proc/$(pid_of "$racer")/ns/pid

    make_bundle "$BUNDLE.evil"
    BUNDLE=$BUNDLE.evil set_config '.linux.namespaces |= map(
        if .type == "pid" then .path = $p else . end)' --arg p "$pidns"
    # First a control: a short-lived writable program the racer must catch,
    # or it proves nothing.
    mkdir "$BUNDLE.evil/rootfs/ctl"
    cp "$BUSYBOX" "$BUNDLE.evil/rootfs/ctl/busybox"
    BUNDLE=$BUNDLE.evil set_args /ctl/busybox sleep 0.5
    BUNDLE=$BUNDLE.evil box_run "$(cid control)" >/dev/null
    wait_output "$racer" exe-race:writable=/ctl/busybox 10

    printf '#!/proc/self/exe\n' >"$BUNDLE.evil/rootfs/evil"
    chmod 0755 "$BUNDLE.evil/rootfs/evil"
    BUNDLE=$BUNDLE.evil set_args /evil
    for n in $(seq 1 10); do
        BUNDLE=$BUNDLE.evil box_run "$(cid "evil$n")" >/dev/null || true
    done
    touch "$BUNDLE/rootfs/stop"
    wait_status "$racer" stopped
    output=$(out_of "$racer")
    # Only the container's own files may be writable.
    bad=$(grep '^exe-race:writable=' <<<"$output" | grep -vE '=/(bin|ctl)/' || true)
    [ -z "$bad" ] || fail "writable from inside the container:\n$bad"
    box delete "$racer"
}

@test "cwd /proc/self/fd/N never starts the process outside its root" {
    for n in 3 4 5 6 7 8 9; do
        set_config '.process.cwd = $c' --arg c "/proc/self/fd/$n"
        run box_run "$(cid "fd$n")"
        if [ "$status" -eq 0 ]; then
            # getcwd() fails with ENOENT (glibc) or prints "(unreachable)"
            # (the kernel) for a directory outside the process's root.
            cwd=$(kv cwd) || fail "no cwd reported: $output"
            [[ $cwd != *unreachable* ]] && [[ $cwd != err:* ]] ||
                fail "cwd /proc/self/fd/$n put the process outside its root (getcwd: $cwd)"
        fi
    done
}

@test "a cwd through a symlink to a host path stays inside the rootfs" {
    sentinel=$BUNDLE.sentinel
    mkdir "$sentinel"
    ln -s "$sentinel" "$BUNDLE/rootfs/abs-link"
    ln -s "../../../../../../../../../..$sentinel" "$BUNDLE/rootfs/rel-link"
    for link in abs-link rel-link; do
        set_config '.process.cwd = $c' --arg c "/$link"
        set_args /bin/boxcheck write planted x
        run box_run "$(cid "$link")"
        [ -z "$(ls -A "$sentinel")" ] || fail "cwd /$link reached the host: $(ls -A "$sentinel")"
    done
}

@test "the container cannot see the runtime's state root or the bundle" {
    set_args /bin/boxcheck stat "$BOX_ROOT" -- stat "$BUNDLE/config.json"
    run box_run "$ID"
    assert_status 0
    assert_line_present "stat:$BOX_ROOT=err:ENOENT"
    assert_line_present "stat:$BUNDLE/config.json=err:ENOENT"
}
