#!/usr/bin/env bats
# Classes of past runtime CVEs, each as a test named after the CVE it proves
# box immune to: the runtime binary out of the container's reach
# (CVE-2019-5736), setup processes nobody may ptrace (CVE-2016-9962), leaked
# descriptors as cwd (CVE-2024-21626), symlinks in the rootfs leading out
# (CVE-2021-30465 and its kin), /dev/null swapped under masked paths
# (CVE-2025-31133), a /proc that is not procfs (CVE-2019-16884).
# docs/security.md lists every test with the line of the bar it covers.
# shellcheck disable=SC2016,SC2154

load helpers

setup_file() { acc_setup_file; }
teardown_file() { acc_teardown_file; }
setup() { acc_setup; }
teardown() { acc_teardown; }

@test "CVE-2019-5736: the created init does not run the on-disk runtime binary, nor can open it for writing" {
    box_create "$ID"
    pid=$(pid_of "$ID")
    exe=$(readlink "/proc/$pid/exe")
    [ "$(readlink -f "/proc/$pid/exe")" != "$(readlink -f "$BOX")" ] ||
        fail "the waiting init runs $exe, the runtime binary on disk"
    ! (: >>"/proc/$pid/exe") 2>/dev/null || fail "the init's executable $exe is writable"
    box delete "$ID"
}

@test "CVE-2019-5736: a #!/proc/self/exe image run beside a racer sharing its pid namespace cannot overwrite the runtime binary" {
    # CVE-2019-5736: a container whose entrypoint is #!/proc/self/exe runs
    # the runtime's own executable; a process in the same pid namespace holds
    # it by /proc/PID/exe and reopens it for writing.  The racer runs in one
    # container; the others join its pid namespace.
    sum=$(sha256sum <"$BOX")
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
    [ "$(sha256sum <"$BOX")" = "$sum" ] || fail "the runtime binary $BOX changed"
    box delete "$racer"
}

@test "CVE-2024-21626: cwd /proc/self/fd/N never starts the process outside its root" {
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

@test "CVE-2024-21626: a cwd through a symlink to a host path stays inside the rootfs" {
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

@test "CVE-2024-21626: the container cannot see the runtime's state root or the bundle" {
    set_args /bin/boxcheck stat "$BOX_ROOT" -- stat "$BUNDLE/config.json"
    run box_run "$ID"
    assert_status 0
    assert_line_present "stat:$BOX_ROOT=err:ENOENT"
    assert_line_present "stat:$BUNDLE/config.json=err:ENOENT"
}

@test "CVE-2019-5736: a #!/proc/self/exe program run by many box exec cannot overwrite the runtime binary" {
    # The racer is the container's init; every `box exec` lands in its pid
    # namespace, where the racer reopens each newcomer's /proc/PID/exe for
    # writing.  The exec'd program is #!/proc/self/exe: were box's own
    # binary what the process runs, the interpreter would be box.
    sum=$(sha256sum <"$BOX")
    set_args /bin/boxcheck exe-race 120 /stop
    start_detached "$ID"
    wait_output "$ID" exe-race:ready
    # The control: a short-lived writable program the racer must catch.
    mkdir "$BUNDLE/rootfs/ctl"
    cp "$BUSYBOX" "$BUNDLE/rootfs/ctl/busybox"
    box exec "$ID" /ctl/busybox sleep 0.5 </dev/null >/dev/null 2>&1
    wait_output "$ID" exe-race:writable=/ctl/busybox 10
    printf '#!/proc/self/exe\n' >"$BUNDLE/rootfs/evil"
    chmod 0755 "$BUNDLE/rootfs/evil"
    for _ in $(seq 1 25); do
        box exec "$ID" /evil </dev/null >/dev/null 2>&1 || true
    done
    touch "$BUNDLE/rootfs/stop"
    wait_status "$ID" stopped
    output=$(out_of "$ID")
    bad=$(grep '^exe-race:writable=' <<<"$output" | grep -vE '=/(bin|ctl)/' || true)
    [ -z "$bad" ] || fail "writable from inside the container:\n$bad"
    [ "$(sha256sum <"$BOX")" = "$sum" ] || fail "the runtime binary $BOX changed"
    box delete "$ID"
}

@test "CVE-2016-9962: the init is not dumpable during setup; root of the container's user namespace cannot open its memory" {
    # A process with the init's own credentials and every capability in the
    # container's user namespace passes every ptrace check but one: the
    # init's memory was made outside that namespace, so only its dumpable
    # flag decides.  The createContainer hook is such a process.  Root maps
    # to host root: a mapping to another uid would change the init's
    # credentials, and the kernel would clear the flag by itself.
    [ -e /proc/self/ns/user ] || skip "the kernel has no user namespaces"
    [ "$(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 1)" -gt 0 ] ||
        skip "user namespaces are disabled (user.max_user_namespaces = 0)"
    hooks=$BUNDLE.hooks
    mkdir -m 1777 "$hooks"
    root=$BUNDLE/rootfs
    # The probes' verdicts go to a file: a hook's stdout is the runtime's.
    probe='exec "$1" open "$2/proc/1/environ" r -- open "$2/proc/1/mem" r \
        -- open "$2/proc/self/environ" r >"$3"'
    hook=$(jq -nc --arg s "$probe" --arg b "$BOXCHECK" --arg r "$root" --arg o "$hooks/cc.out" \
        --arg tag "BOXTEST=$ACC_TAG" '{path: "/bin/sh", args: ["sh", "-c", $s, "sh", $b, $r, $o],
        env: [$tag]}')
    set_config '.linux.namespaces += [{"type": "user"}]
        | .linux.uidMappings = [{"containerID": 0, "hostID": 0, "size": 65536}]
        | .linux.gidMappings = [{"containerID": 0, "hostID": 0, "size": 65536}]
        | .mounts |= map(select(.type != "cgroup"))
        | .hooks.createContainer = [$h]' --argjson h "$hook"
    set_args /bin/boxcheck sleep 60
    box_create "$ID"
    report=$(cat "$hooks/cc.out")
    assert_line_present "open:$root/proc/self/environ=ok" "$report"
    for f in environ mem; do
        v=$(kv "open:$root/proc/1/$f" "$report")
        [[ $v == err:EACCES || $v == err:EPERM ]] ||
            fail "the setup init's $f opened from its user namespace: $v"
    done
    # The control: once the program runs (dumpable again), the same probe
    # from a process of that namespace succeeds.
    box start "$ID"
    wait_status "$ID" running
    run box exec "$ID" /bin/boxcheck open /proc/1/environ r </dev/null
    assert_status 0
    assert_line_present "open:/proc/1/environ=ok"
    box delete --force "$ID"
}

@test "CVE-2021-30465, CVE-2025-52881: every device node box makes replaces a planted symlink, no /dev link is followed; the host file is untouched" {
    sentinel=$BUNDLE.sentinel
    mkdir "$sentinel"
    echo untouched >"$sentinel/keep"
    chmod 0600 "$sentinel/keep"
    before=$(stat -c '%F %a %u %g %s %i %Y' "$sentinel/keep")
    # No tmpfs on /dev: the image's own /dev is where box makes its files.
    set_config '.mounts |= map(select(.destination | startswith("/dev") | not))'
    dev=$BUNDLE/rootfs/dev
    mkdir -p "$dev"
    for n in null zero full random urandom tty fd stdin stdout stderr core; do
        ln -s "$sentinel/keep" "$dev/$n"
    done
    ln -s "../../../../../../../../../../..$sentinel/keep" "$dev/ptmx"
    set_args /bin/boxcheck stat /dev/null -- stat /dev/zero -- stat /dev/full \
        -- stat /dev/random -- stat /dev/urandom -- stat /dev/tty -- write /dev/null x
    run box_run "$ID"
    [ "$(ls -A "$sentinel")" = keep ] || fail "made on the host: $(ls -A "$sentinel")"
    [ "$(cat "$sentinel/keep")" = untouched ] || fail "the host file changed"
    [ "$(stat -c '%F %a %u %g %s %i %Y' "$sentinel/keep")" = "$before" ] ||
        fail "the host file's metadata changed: $(stat -c '%F %a %u %g %s %i %Y' "$sentinel/keep")"
    assert_status 0
    for d in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
        IFS=: read -r name maj min <<<"$d"
        line=$(kv "stat:/dev/$name")
        [[ $line == "type=chr "*" rdev=$maj:$min" ]] || fail "/dev/$name: $line"
    done
    assert_line_present 'write:/dev/null=ok'
}

@test "CVE-2021-30465, CVE-2024-45310: /dev/pts, /dev/shm and /dev/mqueue planted as symlinks to the host are mounted inside or refused" {
    sentinel=$BUNDLE.sentinel
    mkdir -p "$sentinel/pts" "$sentinel/shm"
    set_config '.mounts |= map(select(.destination != "/dev"))'
    dev=$BUNDLE/rootfs/dev
    mkdir -p "$dev"
    ln -s "../../../../../../../../../../..$sentinel/pts" "$dev/pts"
    ln -s "$sentinel/shm" "$dev/shm"
    ln -s "$sentinel" "$dev/mqueue"
    set_args /bin/boxcheck report
    run box_run "$ID"
    # Refusing is as good as staying inside; reaching the host is not.
    [ "$(ls -A "$sentinel" | tr '\n' ' ')" = "pts shm " ] || fail "made on the host: $(ls -A "$sentinel")"
    [ -z "$(ls -A "$sentinel/pts" "$sentinel/shm" | grep -v ':$' | grep -v '^$' || true)" ] ||
        fail "written on the host: $(ls -A "$sentinel"/*)"
    if [ "$status" -ne 0 ]; then
        assert_contains "$output" /dev/
    fi
    ! grep -qF "$sentinel" /proc/self/mountinfo || fail "a mount landed on the host's $sentinel"
}

@test "CVE-2025-31133: masked paths get the host's /dev/null even when the container's is swapped for a symlink or a file" {
    secret=$BUNDLE.secret
    echo host-secret >"$secret"
    echo image-secret >"$BUNDLE/rootfs/secret-file"
    set_config '.linux.maskedPaths = ["/secret-file", "/proc/interrupts"]'
    set_args /bin/boxcheck stat /secret-file -- read /secret-file -- read /proc/interrupts \
        -- stat /proc/interrupts
    # A racer through a shared volume, played by a createContainer hook: it
    # runs in the container's mounts after /dev is made and before the
    # masks are applied.
    root=$BUNDLE/rootfs
    for how in symlink file; do
        if [ "$how" = symlink ]; then
            script='rm -f "$1/dev/null" && ln -s "$2" "$1/dev/null"'
        else
            script='rm -f "$1/dev/null" && echo not-null >"$1/dev/null"'
        fi
        hook=$(jq -nc --arg s "$script" --arg r "$root" --arg x "$secret" \
            --arg tag "BOXTEST=$ACC_TAG" \
            '{path: "/bin/sh", args: ["sh", "-c", $s, "sh", $r, $x], env: [$tag]}')
        set_config '.hooks.createContainer = [$h]' --argjson h "$hook"
        run box_run "$(cid "$how")"
        assert_status 0
        for p in /secret-file /proc/interrupts; do
            [[ $(kv "stat:$p") == "type=chr "*" rdev=1:3" ]] ||
                fail "$how: $p is not the null device: $(kv "stat:$p")"
            assert_line_present "read:$p=ok:"
        done
        [ "$(cat "$secret")" = host-secret ]
    done
}

# assert_bounding_set TEXT: boxcheck's read of /realproc/self/status shows
# the bounding set of CAP_CHOWN and CAP_KILL alone.
assert_bounding_set() {
    local bnd
    bnd=$(grep -o 'CapBnd:[[:space:]]*[0-9a-f]*' <<<"$1" | tr -d '[:space:]')
    [ "$bnd" = CapBnd:0000000000000021 ] || fail "bounding set: $bnd"
}

@test "CVE-2019-16884: a fake /proc in the image cannot widen the capabilities of the container or of exec" {
    # Without a proc mount the image's /proc stays, with whatever it holds:
    # a cap_last_cap of 0 must not stop box dropping the rest of the
    # bounding set (for root, execve grants the bounding set).
    set_config '.mounts |= map(select(.destination != "/proc" and .destination != "/sys"
            and .destination != "/sys/fs/cgroup"))
        | .linux.maskedPaths = [] | .linux.readonlyPaths = []
        | .process.capabilities = {"bounding": ["CAP_CHOWN", "CAP_KILL"],
            "effective": ["CAP_CHOWN", "CAP_KILL"], "permitted": ["CAP_CHOWN", "CAP_KILL"]}'
    mkdir -p "$BUNDLE/rootfs/proc/sys/kernel"
    echo 0 >"$BUNDLE/rootfs/proc/sys/kernel/cap_last_cap"
    set_config '.mounts += [{"destination": "/realproc", "type": "proc", "source": "proc"}]'
    set_args /bin/boxcheck read /realproc/self/status -- sethostname other -- mknod /tmp/node c 1 3
    run box_run "$ID"
    assert_status 0
    assert_bounding_set "$output"
    assert_line_present 'sethostname:other=err:EPERM'
    assert_line_present 'mknod:/tmp/node=err:EPERM'
    set_args /bin/boxcheck sleep 60
    start_detached "$(cid exec)"
    wait_status "$(cid exec)" running
    run box exec "$(cid exec)" /bin/boxcheck read /realproc/self/status </dev/null
    assert_status 0
    assert_bounding_set "$output"
    box delete --force "$(cid exec)"
}

@test "CVE-2019-16884: only a new procfs may be mounted on /proc; a host directory or the host's /proc is refused" {
    fake=$BUNDLE.fakeproc
    mkdir -p "$fake/sys/kernel"
    echo 0 >"$fake/sys/kernel/cap_last_cap"
    for src in "$fake" /proc; do
        for dest in /proc //proc/ /proc/. /tmp/../proc; do
            make_bundle "$BUNDLE.b"
            BUNDLE=$BUNDLE.b set_config '.mounts += [{"destination": $d, "type": "bind",
                "source": $s, "options": ["rbind"]}]' --arg d "$dest" --arg s "$src"
            BUNDLE=$BUNDLE.b run --separate-stderr box_create "$ID"
            assert_failed
            if is_box; then
                assert_one_line_error "mounts[" proc
            fi
            [ -z "$(ls -A "$BOX_ROOT")" ] || fail "state left: $(ls -A "$BOX_ROOT")"
            rm -rf "$BUNDLE.b"
        done
    done
    set_config '.mounts += [{"destination": "/proc", "type": "tmpfs", "source": "tmpfs"}]'
    run --separate-stderr box_create "$ID"
    assert_failed
    [ -z "$(ls -A "$BOX_ROOT")" ]
}
