#!/usr/bin/env bats
# kill: exactly the named signal reaches the container; bad signals never do.
# shellcheck disable=SC2016,SC2154

load helpers

setup_file() { acc_setup_file; }
teardown_file() { acc_teardown_file; }
setup() { acc_setup; }
teardown() { acc_teardown; }

# start_signals ID: a running container whose init reports every signal.
start_signals() {
    set_args /bin/boxcheck signals 60
    start_detached "$1"
    wait_output "$1" ready
}

# container_processes: pids that carry this file's marker, the runtime's own
# commands aside (containers only, since `box` runs with the marker too but
# has returned by now).
container_processes() {
    acc_processes | awk '{print $1}'
}

@test "kill: delivers exactly the named signal, by name, SIG name and number" {
    start_signals "$ID"
    box kill "$ID" HUP
    wait_output "$ID" signal=1
    box kill "$ID" SIGUSR1
    wait_output "$ID" signal=10
    box kill "$ID" 12
    wait_output "$ID" signal=12
    box kill "$ID" SIGWINCH
    wait_output "$ID" signal=28
    box kill "$ID"
    wait_output "$ID" signal=15
    wait_status "$ID" stopped
    expected=$(printf '%s\n' ready signal=1 signal=10 signal=12 signal=28 signal=15)
    [ "$(out_of "$ID")" = "$expected" ] || fail "received:\n$(out_of "$ID")\nexpected:\n$expected"
    box delete "$ID"
}

@test "kill: KILL, SIGKILL and 9 are accepted" {
    set_args /bin/boxcheck sleep 60
    for sig in KILL SIGKILL 9; do
        id=$(cid "$sig")
        start_detached "$id"
        wait_status "$id" running
        box kill "$id" "$sig"
        wait_status "$id" stopped
        box delete "$id"
    done
}

@test "kill: malformed signals are rejected and nothing reaches the container" {
    start_signals "$ID"
    for sig in SIGFOO FOO 65 -1 9abc 99999999999999999999 SIG "SIGKILL " " 9"; do
        run --separate-stderr box kill "$ID" "$sig"
        assert_failed
        if is_box; then
            assert_one_line_error
        fi
    done
    [ "$(status_of "$ID")" = running ]
    box kill "$ID" TERM
    wait_status "$ID" stopped
    [ "$(out_of "$ID")" = "$(printf '%s\n' ready signal=15)" ] ||
        fail "received:\n$(out_of "$ID")"
    box delete "$ID"
}

@test "kill: a created container dies and reads as stopped" {
    box_create "$ID"
    box kill "$ID" KILL
    wait_status "$ID" stopped
    [ ! -s "$(io "$ID").out" ] || fail "the program ran: $(out_of "$ID")"
    box delete "$ID"
}

@test "kill: a stopped container is an error" {
    set_args /bin/boxcheck exit 0
    start_detached "$ID"
    wait_status "$ID" stopped
    run box kill "$ID" KILL
    assert_failed
    run box kill "$(cid nope)" KILL
    assert_failed
    box delete "$ID"
}

@test "kill --all: reaches every process of the container" {
    # Without a pid namespace the init's death does not take its children
    # along; only --all reaches them.
    without_namespace pid
    set_args /bin/sh -c '/bin/boxcheck sleep 60 & /bin/boxcheck sleep 60 & echo up; wait'
    start_detached "$ID"
    wait_output "$ID" up
    wait_for 10 eval '[ "$(container_processes | wc -l)" -ge 3 ]'
    box kill --all "$ID" KILL
    wait_status "$ID" stopped
    wait_for 10 eval '[ -z "$(container_processes)" ]'
    box delete "$ID"
}
