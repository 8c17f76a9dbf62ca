#!/usr/bin/env bats
# Rootless: box run by an unprivileged user, in a user namespace that maps
# root inside to that user, with `box spec --rootless` as it comes, state in
# the user's runtime directory and no cgroup of its own.
# shellcheck disable=SC2016,SC2154

load helpers

setup_file() { acc_setup_file; }
teardown_file() { acc_teardown_file; }

RUSER=65534 # nobody

setup() {
    acc_setup
    require_box "box-specific: rootless defaults"
    command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"
    as_user true 2>/dev/null || skip "cannot switch to uid $RUSER"
    as_user unshare -U true 2>/dev/null ||
        skip "this kernel does not let unprivileged users create user namespaces"
    XDG=$(mktemp -d /tmp/boxacc-xdg.XXXXXX)
    chown "$RUSER:$RUSER" "$XDG"
    chmod 0700 "$XDG"
    RB=$XDG/bundle
    mkdir -p "$RB"
    cp -a "$BUNDLE/rootfs" "$RB/rootfs"
    chown -R "$RUSER:$RUSER" "$RB"
}

teardown() {
    as_user "$BOX" delete --force "$ID" >/dev/null 2>&1 || true
    rm -rf "$XDG"
    acc_teardown
}

# as_user CMD...: CMD as the unprivileged user, with its runtime directory.
as_user() {
    setpriv --reuid="$RUSER" --regid="$RUSER" --clear-groups \
        env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin XDG_RUNTIME_DIR="${XDG:-/nonexistent}" \
        BOXTEST="${ACC_TAG:-}" "$@"
}

# rootless_config FILTER: `box spec --rootless` in $RB, edited by FILTER.
rootless_config() {
    as_user "$BOX" spec --rootless --bundle "$RB"
    jq ".process.terminal = false | $1" "$RB/config.json" >"$RB/config.json.new"
    mv "$RB/config.json.new" "$RB/config.json"
    chown "$RUSER:$RUSER" "$RB/config.json"
}

@test "rootless: box spec --rootless runs as it comes; root inside is the caller outside" {
    rootless_config '.process.args = ["/bin/boxcheck", "report", "--", "cat", "/proc/self/uid_map"]'
    run as_user "$BOX" run --bundle "$RB" "$ID"
    assert_status 0
    assert_kv uid 0
    grep -Eq "^ +0 +$RUSER +1$" <<<"$output" || fail "uid_map is not 0 -> $RUSER:\n$output"
    [ ! -e "$XDG/box/$ID" ] || fail "state left in $XDG/box/$ID"
}

@test "rootless: create, state, start, delete, with state in XDG_RUNTIME_DIR/box" {
    rootless_config '.process.args = ["/bin/boxcheck", "sleep", "60"]'
    as_user "$BOX" create --bundle "$RB" "$ID" </dev/null >/dev/null 2>&1
    [ -f "$XDG/box/$ID/state.json" ] || fail "no state under $XDG/box"
    run as_user "$BOX" state "$ID"
    assert_status 0
    [ "$(jq -r .status <<<"$output")" = created ] || fail "status: $output"
    as_user "$BOX" start "$ID"
    run as_user "$BOX" state "$ID"
    [ "$(jq -r .status <<<"$output")" = running ] || fail "status: $output"
    pid=$(jq -r .pid <<<"$output")
    [ "$(stat -c %u "/proc/$pid")" = "$RUSER" ] || fail "the init is not owned by uid $RUSER"
    as_user "$BOX" delete --force "$ID"
    [ ! -e "$XDG/box/$ID" ] || fail "state left after delete"
    pid_gone "$pid" || fail "the init survived delete"
}

@test "rootless: device nodes are bound from the host where mknod is not allowed" {
    rootless_config '.process.args = ["/bin/boxcheck", "stat", "/dev/null", "--", "open", "/dev/null", "rw"]'
    run as_user "$BOX" run --bundle "$RB" "$ID"
    assert_status 0
    [[ $(kv stat:/dev/null) == "type=chr "*" rdev=1:3" ]] || fail "/dev/null: $(kv stat:/dev/null)"
    assert_line_present "open:/dev/null=ok"
}

@test "rootless: cgroup limits are refused with a clear error, nothing left behind" {
    rootless_config '.process.args = ["/bin/true"] | .linux.resources = {"pids": {"limit": 10}}'
    run as_user "$BOX" run --bundle "$RB" "$ID"
    assert_failed
    assert_contains "$output" "linux.resources"
    [ ! -e "$XDG/box/$ID" ] || fail "state left behind"
}
