#!/usr/bin/env bats
# Bad input: ids, bundles, config.json, and setup errors inside the child.
# Each fails with a message, a non-zero exit, and leaves nothing behind.
# shellcheck disable=SC2016,SC2154

load helpers

setup_file() { acc_setup_file; }
teardown_file() { acc_teardown_file; }
setup() { acc_setup; }
teardown() { acc_teardown; }

# state_root_empty: the failed operation created nothing under the root.
state_root_empty() {
    local left
    left=$(ls -A "$BOX_ROOT")
    [ -z "$left" ] || fail "state root not empty: $left"
}

# create_fails [NEEDLE...]: create $ID from $BUNDLE fails with a message,
# leaving the state root empty; box must say it on one line of stderr that
# mentions each NEEDLE.
create_fails() {
    run --separate-stderr box_create "$ID"
    assert_failed
    if is_box; then
        assert_one_line_error "$@"
    fi
    state_root_empty
}

# The ids every verb must refuse.
bad_ids() {
    BAD_IDS=("" . .. ../x a/b "$(head -c 4096 /dev/zero | tr '\0' a)" "héllo" $'tab\tid'
        $'new\nline' "-x")
}

@test "ids: empty, dots, slashes, 4 KiB and non-ASCII ids are rejected by create" {
    bad_ids
    for id in "${BAD_IDS[@]}"; do
        run --separate-stderr box_create "$id"
        assert_failed
        if is_box; then
            assert_one_line_error
        fi
        state_root_empty
        [ ! -e "$ACC_DIR/x" ] || fail "create ../x wrote outside the state root"
    done
}

@test "ids: every verb rejects a bad id without touching the state root" {
    bad_ids
    box_create "$ID"
    for id in "${BAD_IDS[@]}"; do
        for verb in state start delete kill; do
            run box "$verb" "$id"
            assert_failed
        done
        run box delete --force "$id"
        assert_failed
        run box_run "$id"
        assert_failed
    done
    [ "$(status_of "$ID")" = created ] || fail "a bad id harmed $ID"
    [ "$(ls -A "$BOX_ROOT")" = "$ID" ]
    box delete "$ID"
}

@test "bundle: a missing bundle directory is an error" {
    BUNDLE=$ACC_DIR/no-such-bundle create_fails no-such-bundle
}

@test "bundle: a bundle without config.json is an error" {
    rm "$BUNDLE/config.json"
    create_fails config.json
}

@test "bundle: a missing root filesystem is an error" {
    rm -rf "$BUNDLE/rootfs"
    create_fails rootfs
}

@test "config: not JSON" {
    printf '{"ociVersion": "1.0.2", "process": {' >"$BUNDLE/config.json"
    create_fails config.json
}

@test "config: empty file" {
    : >"$BUNDLE/config.json"
    create_fails config.json
}

@test "config: missing process" {
    set_config 'del(.process)'
    create_fails process
}

@test "config: missing root" {
    set_config 'del(.root)'
    create_fails root
}

@test "config: relative cwd" {
    set_config '.process.cwd = "tmp"'
    create_fails cwd
}

@test "config: empty args" {
    set_config '.process.args = []'
    create_fails args
}

@test "config: a wrong type (args as a string)" {
    set_config '.process.args = "/bin/boxcheck report"'
    create_fails args
}

@test "config: unknown fields are ignored" {
    set_config '.futureField = {"a": [1, 2]} | .process.futureField = true
        | .linux.futureField = "x"'
    run box_run "$ID"
    assert_status 0
    assert_kv pid 1
}

@test "config: 100000 levels of nesting are refused, without a crash" {
    local open close
    open=$(head -c 100000 /dev/zero | tr '\0' '[')
    close=$(head -c 100000 /dev/zero | tr '\0' ']')
    jq -c . "$BUNDLE/config.json" >"$BUNDLE/flat.json"
    { printf '{"deep": %s%s, ' "$open" "$close"; tail -c +2 "$BUNDLE/flat.json"; } \
        >"$BUNDLE/config.json"
    create_fails
    [ "$status" -lt 128 ] || fail "create died of a signal ($status)"
}

@test "config: duplicate keys are rejected" {
    require_box "Go's encoding/json (runc) lets the last duplicate win"
    jq -c . "$BUNDLE/config.json" >"$BUNDLE/flat.json"
    { printf '{"hostname": "one", "hostname": "two", '; tail -c +2 "$BUNDLE/flat.json"; } \
        >"$BUNDLE/config.json"
    create_fails hostname
}

@test "config: a 100 MB config.json is refused" {
    require_box "runc reads a config.json of any size"
    jq -c . "$BUNDLE/config.json" >"$BUNDLE/flat.json"
    {
        printf '{"annotations": {"big": "'
        head -c $((100 * 1024 * 1024)) /dev/zero | tr '\0' a
        printf '"}, '
        tail -c +2 "$BUNDLE/flat.json"
    } >"$BUNDLE/config.json"
    create_fails config.json
    [ "$status" -lt 128 ] || fail "create died of a signal ($status)"
}

@test "child setup error: a missing executable is reported by create" {
    set_args /bin/nope
    create_fails
    assert_contains "$output$stderr" /bin/nope
    if is_box; then
        assert_contains "$stderr" 'exec `/bin/nope`: No such file or directory'
    fi
}

@test "child setup error: a non-executable file is reported by create" {
    set_args /etc/passwd
    create_fails
    assert_contains "$output$stderr" /etc/passwd
    if is_box; then
        assert_contains "$stderr" 'exec `/etc/passwd`: Permission denied'
    fi
}

@test "child setup error: a cwd that is a file is reported by create" {
    set_config '.process.cwd = "/etc/passwd"'
    create_fails
    assert_contains "$output$stderr" /etc/passwd
    if is_box; then
        assert_contains "$stderr" "Not a directory"
    fi
}

@test "child setup error: run reports it too and exits non-zero" {
    set_args /bin/nope
    run box_run "$ID"
    assert_failed
    assert_contains "$output" /bin/nope
    state_root_empty
}
