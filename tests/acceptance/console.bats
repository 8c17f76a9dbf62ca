#!/usr/bin/env bats
# process.terminal with --console-socket: the pty master travels over the
# socket (SCM_RIGHTS) and the slave is the container's controlling terminal.
# shellcheck disable=SC2016,SC2154

load helpers

setup_file() {
    acc_setup_file
    [ -n "$ACC_SKIP_REASON" ] || [ -x "$BOXRECVTTY" ] ||
        fail "BOXRECVTTY=$BOXRECVTTY is missing; run \`make $BOXRECVTTY\`"
}
teardown_file() { acc_teardown_file; }
setup() {
    acc_setup
    SOCK=$BUNDLE.sock
    TTY_OUT=$BUNDLE.tty
}
teardown() { acc_teardown; }

# receiver [INPUT]: start the console receiver in the background; sets RECEIVER.
receiver() {
    "$BOXRECVTTY" "$SOCK" "$TTY_OUT" 30 "$@" 3>&- &
    RECEIVER=$!
    wait_for 10 test -S "$SOCK"
}

# tty_output: what the container printed on its terminal, without the CRs.
tty_output() {
    tr -d '\r' <"$TTY_OUT"
}

@test "--console-socket: the pty master arrives and is the container's terminal" {
    set_config '.process.terminal = true'
    set_args /bin/boxcheck tty -- stat /dev/console -- report
    receiver
    box_create "$ID" --console-socket "$SOCK"
    wait_for 10 test -e "$TTY_OUT.info"
    assert_kv fds 1 "$(cat "$TTY_OUT.info")"
    ptn=$(kv ptn "$(cat "$TTY_OUT.info")")
    [[ $ptn =~ ^[0-9]+$ ]] || fail "not a pty master: ptn=$ptn"
    box start "$ID"
    wait "$RECEIVER"
    output=$(tty_output)
    assert_kv isatty.0 1
    assert_kv isatty.1 1
    assert_kv isatty.2 1
    assert_line_present 'open:/dev/tty=ok'
    assert_kv sid 1
    [[ $(kv ttyname.0) =~ ^/dev/(pts/[0-9]+|console)$ ]] || fail "ttyname: $(kv ttyname.0)"
    [[ $(kv stat:/dev/console) == "type=chr "*" rdev=136:"* ]] ||
        fail "/dev/console: $(kv stat:/dev/console)"
    # The caller's descriptors are not the terminal's.
    wait_status "$ID" stopped
    box delete "$ID"
}

@test "--console-socket: input typed on the master reaches the process" {
    set_config '.process.terminal = true'
    set_args /bin/sh -c 'read line; echo "got=$line"'
    receiver hello-tty
    box_create "$ID" --console-socket "$SOCK"
    box start "$ID"
    wait "$RECEIVER"
    assert_line_present got=hello-tty "$(tty_output)"
    box delete --force "$ID"
}

@test "--console-socket: consoleSize sets the window size" {
    set_config '.process.terminal = true | .process.consoleSize = {"height": 31, "width": 97}'
    set_args /bin/boxcheck tty
    receiver
    box_create "$ID" --console-socket "$SOCK"
    box start "$ID"
    wait "$RECEIVER"
    assert_kv winsize 31x97 "$(tty_output)"
    box delete --force "$ID"
}

@test "CVE-2025-52565: a /dev/console planted as a symlink never gets the pty bound on its target" {
    # The image's own /dev (no tmpfs on it) has /dev/console as a link to a
    # file of the image, to a host file and, through .., to the host again.
    sentinel=$BUNDLE.sentinel
    echo untouched >"$sentinel"
    set_config '.process.terminal = true
        | .mounts |= map(select(.destination != "/dev"))'
    set_args /bin/boxcheck stat /dev/console -- stat /etc/target -- read /etc/target
    mkdir -p "$BUNDLE/rootfs/dev"
    echo image-file >"$BUNDLE/rootfs/etc/target"
    n=0
    for target in /etc/target "$sentinel" "../../../../../../../../../..$sentinel"; do
        n=$((n + 1))
        ln -sfn "$target" "$BUNDLE/rootfs/dev/console"
        rm -f "$SOCK" "$TTY_OUT" "$TTY_OUT.info"
        receiver
        box_create "$(cid "c$n")" --console-socket "$SOCK"
        box start "$(cid "c$n")"
        wait "$RECEIVER"
        output=$(tty_output)
        [[ $(kv stat:/dev/console) == "type=chr "*" rdev=136:"* ]] ||
            fail "$target: /dev/console: $(kv stat:/dev/console)"
        [[ $(kv stat:/etc/target) == "type=reg "* ]] ||
            fail "$target: the pty covers /etc/target: $(kv stat:/etc/target)"
        assert_line_present 'read:/etc/target=ok:image-file\n'
        [ "$(cat "$sentinel")" = untouched ] || fail "$target: the host file changed"
        ! grep -qF "$sentinel" /proc/self/mountinfo || fail "$target: a mount on the host file"
        wait_status "$(cid "c$n")" stopped
        box delete "$(cid "c$n")"
    done
}

@test "terminal: create without --console-socket is an error, leaves nothing" {
    set_config '.process.terminal = true'
    run --separate-stderr box_create "$ID"
    assert_failed
    if is_box; then
        assert_one_line_error console
    fi
    [ -z "$(ls -A "$BOX_ROOT")" ]
}

@test "terminal: a console socket that does not exist fails create, leaves nothing" {
    set_config '.process.terminal = true'
    run --separate-stderr box_create "$ID" --console-socket "$SOCK.missing"
    assert_failed
    if is_box; then
        assert_one_line_error "$SOCK.missing"
    fi
    [ -z "$(ls -A "$BOX_ROOT")" ]
}

@test "terminal: off, no --console-socket is needed and stdio is not a tty" {
    set_args /bin/boxcheck tty
    run box_run "$ID"
    assert_status 0
    assert_kv isatty.0 0
    assert_kv isatty.1 0
}

# in_terminal CMD...: CMD with a real terminal as its stdio (script(1)),
# stdin fed from our stdin; prints what appeared on that terminal.
in_terminal() {
    local cmd
    printf -v cmd '%q ' "$@"
    script -qec "$cmd" /dev/null | tr -d '\r'
    return "${PIPESTATUS[0]}"
}

@test "run in the foreground relays the container's terminal to the caller's (no console socket)" {
    command -v script >/dev/null || skip "script(1) is not installed"
    set_config '.process.terminal = true'
    set_args /bin/sh -c 'read line; echo "got=$line"; tty; exit 5'
    run in_terminal env BOXTEST="$ACC_TAG" "$BOX" --root "$BOX_ROOT" run --bundle "$BUNDLE" "$ID" \
        < <(sleep 0.5; echo hello-pty)
    assert_status 5
    assert_line_present "got=hello-pty"
    assert_contains "$output" "/dev/pts/"
}

@test "exec -t in the foreground relays the process's terminal to the caller's" {
    command -v script >/dev/null || skip "script(1) is not installed"
    set_args /bin/boxcheck sleep 120
    start_detached "$ID"
    wait_status "$ID" running
    run in_terminal env BOXTEST="$ACC_TAG" "$BOX" --root "$BOX_ROOT" exec -t "$ID" \
        /bin/sh -c 'read line; echo "got=$line"; tty; exit 6' < <(sleep 0.5; echo hello-exec)
    assert_status 6
    assert_line_present "got=hello-exec"
    assert_contains "$output" "/dev/pts/"
}
