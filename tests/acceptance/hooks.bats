#!/usr/bin/env bats
# OCI hooks: when they run, where, with which state, environment and
# limits; and what a failing hook does to the lifecycle.
# shellcheck disable=SC2016,SC2154

load helpers

setup_file() { acc_setup_file; }
teardown_file() { acc_teardown_file; }
setup() {
    acc_setup
    HOOKS=$BUNDLE.hooks
    mkdir -p "$HOOKS" "$BUNDLE/rootfs/hooks"
}
teardown() { acc_teardown; }

# entry NAME [BOXCHECK ARGS...]: a hook recording into $HOOKS/NAME, with its
# own environment HOOK_NAME=NAME besides the marker.
entry() {
    local name=$1
    shift
    hook_entry "$HOOKS/$name" "$@" | jq -c --arg n "HOOK_NAME=$name" '.env += [$n]'
}

# add_hook KIND JSON: append a hook to .hooks[KIND].
add_hook() {
    set_config '.hooks[$k] += [$h]' --arg k "$1" --argjson h "$2"
}

# ran NAME [DIR]: the hook has run (its stdin record exists).
ran() {
    [ -e "${2:-$HOOKS}/$1.stdin" ]
}

# hook_state NAME FIELD [DIR]: a field of the state the hook received.
hook_state() {
    jq -r ".$2" "${3:-$HOOKS}/$1.stdin"
}

# hook_report NAME [DIR]: what the hook's process reported.
hook_report() {
    cat "${2:-$HOOKS}/$1.report"
}

# assert_own_env NAME [DIR]: the hook saw exactly its configured environment.
assert_own_env() {
    local vars
    vars=$(hook_report "$@" | grep '^env\.' | cut -d= -f1 | sort | tr '\n' ' ')
    [ "$vars" = "env.BOXTEST env.HOOK_NAME " ] || fail "$1's environment: $vars"
    assert_kv env.HOOK_NAME "$1" "$(hook_report "$@")"
}

@test "hooks: all six run once, in their phase, each with the state and its own env" {
    for kind in prestart createRuntime createContainer poststart poststop; do
        add_hook "$kind" "$(entry "$kind" -- append "$HOOKS/log" "$kind")"
    done
    add_hook startContainer "$(HOOK_BOXCHECK=/bin/boxcheck hook_entry /hooks/startContainer \
        -- append /hooks/log startContainer | jq -c '.env += ["HOOK_NAME=startContainer"]')"
    inside=$BUNDLE/rootfs/hooks
    set_args /bin/boxcheck wait /go 60

    box_create "$ID"
    pid=$(pid_of "$ID")
    for kind in prestart createRuntime createContainer; do
        ran "$kind" || fail "$kind did not run during create"
        [ "$(hook_state "$kind" status)" = creating ]
    done
    ! ran startContainer "$inside" || fail "startContainer ran during create"
    # runc 1.1 runs poststart hooks during create (fixed in 1.2).
    if ! is_peer '^runc version 1\.1\.'; then
        ! ran poststart || fail "poststart ran during create"
    fi

    box start "$ID"
    wait_for 20 ran poststart
    ran startContainer "$inside"
    [ "$(hook_state startContainer status "$inside")" = created ]
    poststart_status=$(hook_state poststart status)
    if is_box; then
        [ "$poststart_status" = running ] || fail "poststart got status $poststart_status"
    else
        [[ $poststart_status =~ ^(created|running)$ ]]
    fi
    ! ran poststop || fail "poststop ran before delete"

    touch "$BUNDLE/rootfs/go"
    wait_status "$ID" stopped
    box delete "$ID"
    ran poststop
    [ "$(hook_state poststop status)" = stopped ]

    for kind in prestart createRuntime createContainer poststart poststop; do
        [ "$(hook_state "$kind" id)" = "$ID" ]
        [ "$(hook_state "$kind" bundle)" = "$BUNDLE" ]
        if is_box; then
            [ "$(hook_state "$kind" rootfs)" = "$BUNDLE/rootfs" ] ||
                fail "$kind: rootfs $(hook_state "$kind" rootfs)"
        fi
        [ "$(hook_state "$kind" ociVersion)" != null ]
        assert_own_env "$kind"
    done
    [ "$(hook_state startContainer id "$inside")" = "$ID" ]
    assert_own_env startContainer "$inside"
    [ "$(sort "$HOOKS/log" | tr '\n' ' ')" = "createContainer createRuntime poststart poststop prestart " ] ||
        fail "hooks ran: $(cat "$HOOKS/log")"
    [ "$(cat "$inside/log")" = startContainer ] || fail "startContainer ran: $(cat "$inside/log")"

    # The state's pid is the container's, as the host sees it.
    for kind in prestart createRuntime poststart; do
        [ "$(hook_state "$kind" pid)" = "$pid" ] || fail "$kind got pid $(hook_state "$kind" pid)"
    done
    if is_box; then
        [ "$(hook_state createContainer pid)" = "$pid" ]
        [ "$(hook_state startContainer pid "$inside")" = "$pid" ]
    fi
}

@test "hooks: runtime namespace for prestart, createRuntime, poststart, poststop; the container's for the others" {
    host_mnt=$(readlink /proc/self/ns/mnt)
    for kind in prestart createRuntime createContainer poststart poststop; do
        add_hook "$kind" "$(entry "$kind")"
    done
    add_hook startContainer "$(HOOK_BOXCHECK=/bin/boxcheck hook_entry /hooks/startContainer)"
    set_args /bin/boxcheck report
    box_create "$ID"
    box start "$ID"
    wait_status "$ID" stopped
    box delete "$ID"
    container_mnt=$(kv ns.mnt "$(out_of "$ID")")
    for kind in prestart createRuntime poststart poststop; do
        assert_kv ns.mnt "$host_mnt" "$(hook_report "$kind")"
        # Host hooks never start inside the container's root filesystem.
        cwd=$(kv cwd "$(hook_report "$kind")")
        [[ $cwd != "$BUNDLE/rootfs"* ]] || fail "$kind ran in $cwd"
    done
    assert_kv ns.mnt "$container_mnt" "$(hook_report createContainer)"
    assert_kv ns.mnt "$container_mnt" "$(hook_report startContainer "$BUNDLE/rootfs/hooks")"
}

@test "NVIDIA CVE-2025-23266: the image's LD_PRELOAD never reaches a hook, and hooks start outside the rootfs" {
    # The container's environment asks for a preload from the image; were it
    # passed to a hook (as to nvidia-ctk's createContainer hook), the host
    # would load the image's library.
    set_config '.process.env += ["LD_PRELOAD=/lib/evil.so", "LD_LIBRARY_PATH=/lib"]'
    for kind in prestart createRuntime createContainer poststart poststop; do
        add_hook "$kind" "$(entry "$kind")"
    done
    set_args /bin/boxcheck exit 0
    ACC_LEAK=1 LD_LIBRARY_PATH=/from-caller box_create "$ID"
    box start "$ID"
    wait_status "$ID" stopped
    box delete "$ID"
    for kind in prestart createRuntime createContainer poststart poststop; do
        assert_own_env "$kind"
        cwd=$(kv cwd "$(hook_report "$kind")")
        [[ $cwd != "$BUNDLE/rootfs" && $cwd != "$BUNDLE/rootfs/"* ]] || fail "$kind ran in $cwd"
        [ "$cwd" != / ] || [ "$kind" != createContainer ] ||
            fail "createContainer ran in /, the container's root once pivoted"
    done
}

@test "hooks: a hook without env gets an empty environment, not the caller's" {
    skip_for_peer '^runc version' "a hook without env inherits runc's own environment"
    add_hook prestart "$(entry prestart | jq -c 'del(.env)')"
    ACC_LEAK=1 box_create "$ID"
    vars=$(hook_report prestart | grep '^env\.' || true)
    [ -z "$vars" ] || fail "the hook saw: $vars"
    box delete "$ID"
}

@test "hooks: a failing prestart, createRuntime or createContainer hook tears create down, leaves nothing and names the hook" {
    for kind in prestart createRuntime createContainer; do
        make_bundle "$BUNDLE.$kind"
        BUNDLE=$BUNDLE.$kind add_hook "$kind" "$(entry "$kind" -- exit 3)"
        BUNDLE=$BUNDLE.$kind run --separate-stderr box_create "$ID"
        assert_failed
        ran "$kind"
        if is_box; then
            assert_one_line_error "$kind[0]" "$BOXCHECK" "exit status 3"
        fi
        [ -z "$(ls -A "$BOX_ROOT")" ] || fail "$kind: state left: $(ls -A "$BOX_ROOT")"
        assert_no_residue
    done
}

@test "hooks: a hook that hangs past its timeout is killed, fails create naming the hook, and leaves no process" {
    add_hook prestart "$(entry prestart -- sleep 30 | jq -c '.timeout = 1')"
    run --separate-stderr box_create "$ID"
    assert_failed
    [ "$status" -ne 124 ] || fail "create hung until the test's own timeout"
    ran prestart
    if is_box; then
        assert_one_line_error prestart
    fi
    wait_for 10 eval '[ -z "$(acc_processes)" ]'
}

@test "hooks: a hook flooding 100 MB on stdout and stderr neither wedges create nor reaches its message whole" {
    # The flood ends with a marker line; a hook that fails after it has the
    # end of its output in the message, bounded to one line.
    flood='head -c 52428800 /dev/zero; head -c 52428800 /dev/zero >&2; echo; echo flood-end; exit 4'
    for kind in prestart createContainer; do
        make_bundle "$BUNDLE.$kind"
        BUNDLE=$BUNDLE.$kind add_hook "$kind" "$(jq -nc --arg s "$flood" --arg tag "BOXTEST=$ACC_TAG" \
            '{path: "/bin/sh", args: ["sh", "-c", $s], env: [$tag], timeout: 50}')"
        BUNDLE=$BUNDLE.$kind run --separate-stderr box_create "$ID"
        assert_failed
        [ "$status" -ne 124 ] || fail "$kind: create hung until the test's own timeout"
        if is_box; then
            assert_one_line_error "$kind" "exit status 4" flood-end
            [ "${#stderr}" -lt 8192 ] || fail "$kind: a message of ${#stderr} bytes"
        fi
        [ -z "$(ls -A "$BOX_ROOT")" ] || fail "$kind: state left: $(ls -A "$BOX_ROOT")"
        assert_no_residue
    done
    # A hook that floods and succeeds lets create go on.
    add_hook prestart "$(jq -nc --arg tag "BOXTEST=$ACC_TAG" \
        '{path: "/bin/sh", args: ["sh", "-c", "head -c 104857600 /dev/zero"], env: [$tag]}')"
    box_create "$ID"
    [ "$(status_of "$ID")" = created ]
    box delete "$ID"
}

@test "hooks: a missing hook executable fails create, leaves nothing" {
    add_hook createRuntime '{"path": "/no/such/hook"}'
    run --separate-stderr box_create "$ID"
    assert_failed
    if is_box; then
        assert_one_line_error /no/such/hook
    fi
    [ -z "$(ls -A "$BOX_ROOT")" ]
}

@test "hooks: a failing poststop hook only warns; delete completes" {
    add_hook poststop "$(entry poststop -- exit 3)"
    set_args /bin/boxcheck exit 0
    start_detached "$ID"
    wait_status "$ID" stopped
    run box delete "$ID"
    assert_status 0
    ran poststop
    [ ! -e "$BOX_ROOT/$ID" ]
}

@test "hooks: a failing poststart hook only warns; the container runs on" {
    skip_for_peer '^runc version 1\.1\.' "runs poststart during create and fails it when the hook fails (runtime-spec: warn)"
    add_hook poststart "$(entry poststart -- exit 3)"
    set_args /bin/boxcheck sleep 60
    box_create "$ID"
    run box start "$ID"
    assert_status 0
    ran poststart
    [ "$(status_of "$ID")" = running ]
    box delete --force "$ID"
}
