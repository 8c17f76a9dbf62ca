#!/usr/bin/env bats
# The lifecycle: create, start, state, delete, run, and what each leaves.
# shellcheck disable=SC2016,SC2154

load helpers

setup_file() { acc_setup_file; }
teardown_file() { acc_teardown_file; }
setup() { acc_setup; }
teardown() { acc_teardown; }

@test "run: the process runs as pid 1 and its output reaches the caller" {
    run box_run "$ID"
    assert_status 0
    assert_kv argv.0 /bin/boxcheck
    assert_kv argv.1 report
    assert_kv pid 1
    assert_kv cwd /
    assert_kv env.BOXTEST "$ACC_TAG"
    run box state "$ID"
    assert_failed
}

@test "create then start: the program runs only after start, from another process" {
    set_args /bin/boxcheck write /ran started
    box_create "$ID"
    # create has returned: the init exists and waits, the program has not run
    assert_kv status created "$(box state "$ID" | jq -r '"status=" + .status')"
    pid=$(pid_of "$ID")
    [ "$pid" -gt 0 ]
    pid_alive "$pid"
    sleep 0.3
    [ ! -e "$BUNDLE/rootfs/ran" ] || fail "the program ran before start"
    [ ! -s "$(io "$ID").out" ] || fail "output before start: $(out_of "$ID")"

    box start "$ID"
    wait_for 20 test -s "$BUNDLE/rootfs/ran"
    [ "$(cat "$BUNDLE/rootfs/ran")" = started ]
    wait_status "$ID" stopped
    assert_line_present "write:/ran=ok" "$(out_of "$ID")"
    box delete "$ID"
}

@test "status: created -> running -> stopped, in state and <root>/<id>/state.json" {
    set_args /bin/boxcheck wait /go 60
    state_file=$BOX_ROOT/$ID/state.json
    box_create "$ID"
    run box state "$ID"
    assert_status 0
    [ "$(jq -r .status <<<"$output")" = created ]
    jq -e . "$state_file" >/dev/null || fail "$state_file is not JSON"
    jq -e --arg id "$ID" '[.. | strings] | index($id)' "$state_file" >/dev/null ||
        fail "$state_file does not name $ID"

    box start "$ID"
    wait_status "$ID" running
    jq -e . "$state_file" >/dev/null

    touch "$BUNDLE/rootfs/go"
    wait_status "$ID" stopped
    jq -e . "$state_file" >/dev/null
    run box state "$ID"
    assert_status 0
    [ "$(jq -r .status <<<"$output")" = stopped ]

    box delete "$ID"
    [ ! -e "$BOX_ROOT/$ID" ] || fail "state directory left: $(ls -la "$BOX_ROOT/$ID")"
    run box state "$ID"
    assert_failed
}

@test "status: creating while createRuntime hooks run" {
    require_box "runc 1.1 does not answer state before create completes"
    hook=$(hook_entry "$BUNDLE.cr" -- wait "$BUNDLE.go" 60)
    set_config '.hooks.createRuntime = [$h]' --argjson h "$hook"
    box_create "$ID" 3>&- &
    creator=$!
    wait_for 20 test -e "$BUNDLE.cr.stdin"
    run box state "$ID"
    touch "$BUNDLE.go"
    wait "$creator"
    assert_status 0
    [ "$(jq -r .status <<<"$output")" = creating ] || fail "state during create: $output"
    [ "$(status_of "$ID")" = created ]
    box delete "$ID"
}

@test "state: the runtime-spec fields, with the bundle's annotations" {
    set_args /bin/boxcheck sleep 60
    set_config '.annotations = {"org.example.acc": "yes"}'
    box_create "$ID"
    run box state "$ID"
    assert_status 0
    [ "$(jq -r .ociVersion <<<"$output")" != null ]
    [ "$(jq -r .id <<<"$output")" = "$ID" ]
    [ "$(jq -r .status <<<"$output")" = created ]
    [ "$(jq -r .pid <<<"$output")" -gt 0 ]
    [ "$(jq -r .bundle <<<"$output")" = "$BUNDLE" ]
    [ "$(jq -r .rootfs <<<"$output")" = "$BUNDLE/rootfs" ]
    [ "$(jq -r '.annotations["org.example.acc"]' <<<"$output")" = yes ]
    jq -e 'has("owner")' <<<"$output" >/dev/null
    created=$(jq -r .created <<<"$output")
    [[ $created =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$ ]] ||
        fail "created is not RFC 3339: $created"
    box delete --force "$ID"
}

@test "state: a forged state.json pointing at a stranger's pid is refused; kill and delete never signal it" {
    set_args /bin/boxcheck sleep 60
    start_detached "$ID"
    wait_status "$ID" running
    (exec sleep 300) 3>&- &
    stranger=$!
    # The pid alone changes, as after a recycled pid: the start time kept
    # in the state is the init's, not the stranger's.
    state=$BOX_ROOT/$ID/state.json
    jq -c --argjson p "$stranger" '.pid = $p' "$state" >"$state.new" && mv "$state.new" "$state"
    [ "$(status_of "$ID")" = stopped ] || fail "the stranger reads as the container: $(box state "$ID")"
    run box kill "$ID" KILL
    assert_failed
    run box exec "$ID" /bin/true </dev/null
    assert_failed
    box delete --force "$ID"
    pid_alive "$stranger" || fail "delete --force killed the stranger"
    kill "$stranger"
    wait "$stranger" || true
}

@test "state: an unknown container is an error" {
    run --separate-stderr box state "$(cid nope)"
    assert_failed
    [ -n "$stderr" ]
    if is_box; then
        assert_one_line_error "$(cid nope)"
    fi
}

@test "state machine: start of a missing, running or stopped container fails with a message naming the state, and harms nothing" {
    run --separate-stderr box start "$(cid nope)"
    assert_failed
    if is_box; then
        assert_one_line_error "$(cid nope)" "does not exist"
    fi
    set_args /bin/boxcheck sleep 60
    box_create "$ID"
    box start "$ID"
    wait_status "$ID" running
    run --separate-stderr box start "$ID"
    assert_failed
    if is_box; then
        assert_one_line_error "$ID" running "cannot start"
    fi
    [ "$(status_of "$ID")" = running ]
    box kill "$ID" KILL
    wait_status "$ID" stopped
    run --separate-stderr box start "$ID"
    assert_failed
    if is_box; then
        assert_one_line_error "$ID" stopped "cannot start"
    fi
    box delete "$ID"
}

@test "delete: removes the state, the cgroup and the processes" {
    set_args /bin/boxcheck sleep 60
    start_detached "$ID"
    wait_status "$ID" running
    pid=$(pid_of "$ID")
    mapfile -t cgroups < <(cgroup_dirs "$pid" | grep -F -- "$ID")
    [ "${#cgroups[@]}" -gt 0 ] || fail "no cgroup named after $ID:\n$(cgroup_dirs "$pid")"

    run box delete "$ID"
    assert_failed
    [ "$(status_of "$ID")" = running ] || fail "delete without --force harmed a running container"
    pid_alive "$pid"

    box delete --force "$ID"
    [ ! -e "$BOX_ROOT/$ID" ]
    for cg in "${cgroups[@]}"; do
        [ ! -d "$cg" ] || fail "cgroup left: $cg"
    done
    wait_for 10 pid_gone "$pid"
    run box state "$ID"
    assert_failed
}

@test "delete: a created container deletes; delete --force is idempotent" {
    box_create "$ID"
    pid=$(pid_of "$ID")
    box delete "$ID"
    [ ! -e "$BOX_ROOT/$ID" ]
    wait_for 10 pid_gone "$pid"
    run box delete --force "$ID"
    assert_status 0
    run box delete "$ID"
    assert_failed
}

@test "delete: the init killed from outside reads as stopped and deletes" {
    set_args /bin/boxcheck sleep 60
    start_detached "$ID"
    wait_status "$ID" running
    kill -KILL "$(pid_of "$ID")"
    wait_status "$ID" stopped
    box delete "$ID"
}

@test "delete: \`..\` and \`.\` never touch the state root" {
    box_create "$ID"
    for bad in .. . ../"$(basename "$BOX_ROOT")" ""; do
        run box delete --force "$bad"
        assert_failed
    done
    [ -d "$BOX_ROOT/$ID" ] || fail "a bad delete removed $ID's state"
    [ "$(status_of "$ID")" = created ]
    box delete "$ID"
}

@test "run: exits with the container's status" {
    set_args /bin/boxcheck exit 0
    run box_run "$(cid zero)"
    assert_status 0
    set_args /bin/boxcheck exit 3
    run box_run "$(cid three)"
    assert_status 3
    set_args /bin/boxcheck exit 255
    run box_run "$(cid max)"
    assert_status 255
}

@test "run: killed by SIGKILL exits 137 (128+signal)" {
    set_args /bin/boxcheck sleep 60
    box_run "$ID" 3>&- &
    runner=$!
    wait_status "$ID" running
    box kill "$ID" KILL
    rc=0
    wait "$runner" || rc=$?
    [ "$rc" -eq 137 ] || fail "run exited $rc, expected 137: $(cat "$(io "$ID")".*)"
    run box state "$ID"
    assert_failed
}

@test "run: killed by SIGTERM exits 143" {
    # As pid 1 of a pid namespace the process would ignore SIGTERM (no
    # handler); in the host's pid namespace it dies of it.
    without_namespace pid
    set_args /bin/boxcheck sleep 60
    box_run "$ID" 3>&- &
    runner=$!
    wait_status "$ID" running
    box kill "$ID" TERM
    rc=0
    wait "$runner" || rc=$?
    [ "$rc" -eq 143 ] || fail "run exited $rc, expected 143: $(cat "$(io "$ID")".*)"
}

@test "run --detach: returns while the container runs" {
    set_args /bin/boxcheck report -- sleep 60
    box run --detach --bundle "$BUNDLE" "$ID" </dev/null >"$(io "$ID").out" 2>&1
    wait_status "$ID" running
    wait_output "$ID" pid=1
    box kill "$ID" KILL
    wait_status "$ID" stopped
    box delete "$ID"
}

@test "--pid-file: holds the init's pid" {
    set_args /bin/boxcheck sleep 60
    box_create "$ID" --pid-file "$BUNDLE.pid"
    [ "$(cat "$BUNDLE.pid")" -eq "$(pid_of "$ID")" ]
    box delete --force "$ID"
    box run --detach --bundle "$BUNDLE" --pid-file "$BUNDLE.pid2" "$(cid r)" \
        </dev/null >"$(io "$(cid r)").out" 2>&1
    [ "$(cat "$BUNDLE.pid2")" -eq "$(pid_of "$(cid r)")" ]
}

@test "several containers at once, each in its own namespaces" {
    set_args /bin/boxcheck report -- sleep 60
    ids=()
    for n in 1 2 3 4; do
        ids+=("$(cid "m$n")")
    done
    for id in "${ids[@]}"; do
        start_detached "$id" 3>&- &
    done
    wait
    pids=()
    for id in "${ids[@]}"; do
        wait_status "$id" running
        wait_output "$id" pid=1
        pids+=("$(pid_of "$id")")
    done
    [ "$(printf '%s\n' "${pids[@]}" | sort -u | wc -l)" -eq 4 ]
    nss=$(for id in "${ids[@]}"; do kv ns.pid "$(out_of "$id")"; done | sort -u | wc -l)
    [ "$nss" -eq 4 ] || fail "pid namespaces shared between containers"
    run box list --quiet
    for id in "${ids[@]}"; do
        assert_line_present "$id"
    done
    for id in "${ids[@]}"; do
        box delete --force "$id" 3>&- &
    done
    wait
    assert_no_residue
}
