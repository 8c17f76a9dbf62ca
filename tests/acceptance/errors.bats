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

@test "config: missing process.cwd" {
    set_config 'del(.process.cwd)'
    create_fails cwd
}

# with_number FILTER LITERAL: apply FILTER, which sets a field to the string
# "@N@", then put LITERAL there as a bare JSON number (jq would round big
# integers through a double).
with_number() {
    set_config "$1"
    sed -i "s/\"@N@\"/$2/" "$BUNDLE/config.json"
}

@test "config: out-of-range numbers are refused naming the field, never clamped or wrapped" {
    local cases=(
        '.process.user.uid = "@N@"|4294967296|process.user.uid'
        '.process.user.uid = "@N@"|-1|process.user.uid'
        '.process.user.gid = "@N@"|4294967295|process.user.gid'
        '.process.oomScoreAdj = "@N@"|1001|process.oomScoreAdj'
        '.process.oomScoreAdj = "@N@"|-1001|process.oomScoreAdj'
        '.process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": "@N@", "hard": 10}]|-1|process.rlimits[0].soft'
        '.process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": "@N@", "hard": 10}]|20|process.rlimits[0]'
        '.process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": 1, "hard": "@N@"}]|18446744073709551616|config.json'
        '.linux.resources.memory.limit = "@N@"|18446744073709551616|config.json'
        '.linux.resources.memory.limit = "@N@"|-2|linux.resources.memory.limit'
        '.linux.resources.pids.limit = "@N@"|9223372036854775808|config.json'
        '.linux.resources.cpu.quota = "@N@"|1.5|linux.resources.cpu.quota'
        '.process.consoleSize = {"height": "@N@", "width": 1}|65536|process.consoleSize.height'
    )
    local c filter literal field
    for c in "${cases[@]}"; do
        IFS='|' read -r filter literal field <<<"$c"
        cp "$ACC_DIR/template/config.json" "$BUNDLE/config.json"
        with_number "$filter" "$literal"
        create_fails "$field"
        [ "$status" -lt 128 ] || fail "$field=$literal: create died of a signal ($status)"
        assert_no_residue
    done
}

@test "config: 100000 mounts are refused, naming mounts, without a crash" {
    require_box "runc takes any number of mounts"
    jq -c '.mounts += [range(100000) | {"destination": "/m", "type": "tmpfs", "source": "tmpfs"}]' \
        "$ACC_DIR/template/config.json" >"$BUNDLE/config.json"
    create_fails mounts
    [ "$status" -lt 128 ] || fail "create died of a signal ($status)"
}
