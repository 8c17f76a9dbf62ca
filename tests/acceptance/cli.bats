#!/usr/bin/env bats
# The command line beyond the lifecycle: list, spec, features, logging,
# version and help, usage errors.
# shellcheck disable=SC2016,SC2154

load helpers

setup_file() { acc_setup_file; }
teardown_file() { acc_teardown_file; }
setup() { acc_setup; }
teardown() { acc_teardown; }

@test "list: table, json and quiet" {
    set_args /bin/boxcheck sleep 60
    created=$(cid created)
    running=$(cid running)
    box_create "$created"
    start_detached "$running"
    wait_status "$running" running

    run --separate-stderr box list
    assert_status 0
    read -r -a header <<<"$(head -n 1 <<<"$output")"
    [ "${header[*]}" = "ID PID STATUS BUNDLE CREATED OWNER" ] || fail "header: ${header[*]}"
    grep -qE "^$created +[0-9]+ +created +$BUNDLE " <<<"$output" || fail "no row for $created:\n$output"
    grep -qE "^$running +[0-9]+ +running +$BUNDLE " <<<"$output" || fail "no row for $running:\n$output"

    run --separate-stderr box list --format json
    assert_status 0
    [ "$(jq -r --arg id "$created" '.[] | select(.id == $id) | .status' <<<"$output")" = created ]
    [ "$(jq -r --arg id "$running" '.[] | select(.id == $id) | .status' <<<"$output")" = running ]
    [ "$(jq -r --arg id "$running" '.[] | select(.id == $id) | .pid' <<<"$output")" = \
        "$(pid_of "$running")" ]
    [ "$(jq -r --arg id "$running" '.[] | select(.id == $id) | .bundle' <<<"$output")" = "$BUNDLE" ]
    [ "$(jq length <<<"$output")" -eq 2 ]

    run --separate-stderr box list -q
    assert_status 0
    [ "$(sort <<<"$output")" = "$(printf '%s\n' "$created" "$running" | sort)" ] ||
        fail "quiet list:\n$output"
    box delete --force "$created"
    box delete --force "$running"
}

@test "list: an empty root lists nothing" {
    run --separate-stderr box list --quiet
    assert_status 0
    [ -z "$output" ]
    run --separate-stderr box list --format json
    assert_status 0
    [[ $(jq -c . <<<"$output") =~ ^(\[\]|null)$ ]] || fail "empty json list: $output"
}

@test "spec: writes a runc-like default config.json into the bundle" {
    dir=$BUNDLE.spec
    mkdir "$dir"
    run box spec --bundle "$dir"
    assert_status 0
    jq -e . "$dir/config.json" >/dev/null
    [ "$(jq -c .process.args "$dir/config.json")" = '["sh"]' ]
    [ "$(jq -r .process.terminal "$dir/config.json")" = true ]
    [ "$(jq -r .root.path "$dir/config.json")" = rootfs ]
    [ "$(jq -r .ociVersion "$dir/config.json")" != null ]
    for ns in pid network ipc uts mount; do
        jq -e --arg ns "$ns" '.linux.namespaces | map(.type) | index($ns)' \
            "$dir/config.json" >/dev/null || fail "no $ns namespace in the default spec"
    done
    # Without --bundle, into the current directory.
    mkdir "$dir/cwd"
    (cd "$dir/cwd" && box spec)
    jq -e . "$dir/cwd/config.json" >/dev/null
}

@test "spec: an existing config.json is not overwritten" {
    cp "$BUNDLE/config.json" "$BUNDLE/before.json"
    run box spec --bundle "$BUNDLE"
    assert_failed
    cmp "$BUNDLE/config.json" "$BUNDLE/before.json"
}

@test "spec --rootless: a user namespace with mappings" {
    dir=$BUNDLE.rootless
    mkdir "$dir"
    box spec --rootless --bundle "$dir"
    jq -e '.linux.namespaces | map(.type) | index("user")' "$dir/config.json" >/dev/null
    [ "$(jq '.linux.uidMappings | length' "$dir/config.json")" -gt 0 ]
    [ "$(jq '.linux.gidMappings | length' "$dir/config.json")" -gt 0 ]
}

@test "spec: the default process has no inheritable or ambient capabilities" {
    require_box "runc's default spec (Debian's build) lists ambient capabilities"
    dir=$BUNDLE.spec
    mkdir "$dir"
    box spec --bundle "$dir"
    [ "$(jq '.process.capabilities.inheritable // [] | length' "$dir/config.json")" -eq 0 ]
    [ "$(jq '.process.capabilities.ambient // [] | length' "$dir/config.json")" -eq 0 ]
}

@test "features: a runtime-spec features document" {
    run --separate-stderr box features
    assert_status 0
    jq -e . <<<"$output" >/dev/null || fail "not JSON: $output"
    [[ $(jq -r .ociVersionMin <<<"$output") =~ ^1\. ]]
    [[ $(jq -r .ociVersionMax <<<"$output") =~ ^1\. ]]
    for hook in prestart createRuntime createContainer startContainer poststart poststop; do
        jq -e --arg h "$hook" '.hooks | index($h)' <<<"$output" >/dev/null ||
            fail "hook $hook not listed"
    done
    jq -e '.mountOptions | index("ro") and index("nosuid")' <<<"$output" >/dev/null
    for ns in pid network ipc uts mount; do
        jq -e --arg ns "$ns" '.linux.namespaces | index($ns)' <<<"$output" >/dev/null ||
            fail "namespace $ns not listed"
    done
    jq -e '.linux.capabilities | index("CAP_CHOWN") and index("CAP_SYS_ADMIN")' \
        <<<"$output" >/dev/null
}

@test "--log-format json: errors are JSON lines with level, msg and time" {
    log=$BUNDLE.log.json
    run box --log "$log" --log-format json state "$(cid nope)"
    assert_failed
    [ -s "$log" ] || fail "nothing logged"
    while IFS= read -r line; do
        jq -e 'has("level") and has("msg") and has("time")' <<<"$line" >/dev/null ||
            fail "log line: $line"
    done <"$log"
    [ "$(jq -r 'select(.level == "error") | .msg' "$log" | grep -c '')" -ge 1 ]
}

@test "--log: text format by default" {
    log=$BUNDLE.log.txt
    run box --log "$log" state "$(cid nope)"
    assert_failed
    [ -s "$log" ] || fail "nothing logged"
    ! jq -e . "$log" >/dev/null 2>&1 || fail "the default log format is JSON"
}

@test "--version and --help" {
    run "$BOX" --version
    assert_status 0
    [ -n "$output" ]
    run "$BOX" --help
    assert_status 0
    for verb in create start state kill delete run list spec features; do
        assert_contains "$output" "$verb"
    done
    if is_box; then
        assert_contains "$(head -n 1 <<<"$(box --version)")" box
    fi
}

@test "usage errors: unknown command, missing id" {
    run --separate-stderr box frobnicate
    assert_failed
    if is_box; then
        assert_one_line_error frobnicate
    fi
    for verb in create start state kill delete; do
        run --separate-stderr box "$verb"
        assert_failed
    done
}
