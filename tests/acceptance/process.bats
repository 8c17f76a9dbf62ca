#!/usr/bin/env bats
# The process as configured: identity, capabilities, limits, environment,
# working directory, and the descriptors it receives.
# shellcheck disable=SC2016,SC2154

load helpers

setup_file() { acc_setup_file; }
teardown_file() { acc_teardown_file; }
setup() { acc_setup; }
teardown() { acc_teardown; }

@test "crun CVE-2022-27650: capabilities are the sets as configured, none inheritable or ambient unless asked" {
    set_config '.process.capabilities = {
        "bounding": ["CAP_CHOWN", "CAP_KILL"],
        "effective": ["CAP_CHOWN", "CAP_KILL"],
        "permitted": ["CAP_CHOWN", "CAP_KILL"]}'
    set_args /bin/boxcheck report -- chown /etc/passwd 1000 1000 -- sethostname other
    run box_run "$ID"
    assert_status 0
    assert_kv cap.bnd 0000000000000021
    assert_kv cap.prm 0000000000000021
    assert_kv cap.eff 0000000000000021
    assert_kv cap.inh 0000000000000000
    assert_kv cap.amb 0000000000000000
    assert_line_present 'chown:/etc/passwd=ok'
    assert_line_present 'sethostname:other=err:EPERM'
}

@test "capabilities: an empty set leaves none at all" {
    set_config '.process.capabilities = {"bounding": [], "effective": [], "permitted": []}'
    set_args /bin/boxcheck report -- chown /etc/passwd 1000 1000
    run box_run "$ID"
    assert_status 0
    for set in bnd prm eff inh amb; do
        assert_kv "cap.$set" 0000000000000000
    done
    assert_line_present 'chown:/etc/passwd=err:EPERM'
}

@test "capabilities: inheritable and ambient when configured" {
    # Not root: for uid 0 execve() fills the permitted and effective sets from
    # the bounding set, whatever the config says.
    set_config '.process.user = {"uid": 1000, "gid": 1000}
        | .process.capabilities = {
        "bounding": ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
        "effective": ["CAP_NET_BIND_SERVICE"],
        "permitted": ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
        "inheritable": ["CAP_NET_BIND_SERVICE"],
        "ambient": ["CAP_NET_BIND_SERVICE"]}'
    run box_run "$ID"
    assert_status 0
    assert_kv cap.bnd 0000000000000420
    assert_kv cap.prm 0000000000000400
    assert_kv cap.eff 0000000000000400
    assert_kv cap.inh 0000000000000400
    assert_kv cap.amb 0000000000000400
}

@test "rlimits: as configured" {
    set_config '.process.rlimits = [
        {"type": "RLIMIT_NOFILE", "soft": 555, "hard": 666},
        {"type": "RLIMIT_NPROC", "soft": 1000, "hard": 2000},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]'
    run box_run "$ID"
    assert_status 0
    assert_kv rlimit.NOFILE 555:666
    assert_kv rlimit.NPROC 1000:2000
    assert_kv rlimit.CORE 0:0
}

@test "rlimits: 18446744073709551615 (Go's RLIM_INFINITY, docker's -1) is no limit" {
    # jq cannot write that integer: put it in with sed
    set_config '.process.rlimits = [{"type": "RLIMIT_CORE", "soft": "@MAX@", "hard": "@MAX@"}]'
    sed -i 's/"@MAX@"/18446744073709551615/g' "$BUNDLE/config.json"
    grep -q '"soft": *18446744073709551615' "$BUNDLE/config.json"
    run box_run "$ID"
    assert_status 0
    assert_kv rlimit.CORE unlimited:unlimited
}

@test "rlimits: an unknown type is refused" {
    set_config '.process.rlimits = [{"type": "RLIMIT_NOPE", "soft": 1, "hard": 1}]'
    run --separate-stderr box_create "$ID"
    assert_failed
    if is_box; then
        assert_one_line_error RLIMIT_NOPE
    fi
}

@test "user: uid, gid and additionalGids" {
    set_config '.process.user = {"uid": 1000, "gid": 1000, "additionalGids": [100, 20, 10]}'
    run box_run "$ID"
    assert_status 0
    assert_kv uid 1000
    assert_kv euid 1000
    assert_kv suid 1000
    assert_kv gid 1000
    assert_kv egid 1000
    assert_kv sgid 1000
    assert_kv groups 10,20,100
}

@test "user: umask" {
    set_config '.process.user.umask = 23' # 0027
    set_args /bin/boxcheck report -- write /tmp/made x -- stat /tmp/made
    run box_run "$ID"
    assert_status 0
    assert_kv umask 0027
    [[ $(kv stat:/tmp/made) == "type=reg mode=0640 "* ]] || fail "$(kv stat:/tmp/made)"
}

@test "env: exactly the configured variables, none of the caller's" {
    set_config '.process.env = ["PATH=/bin", "BOXTEST=" + $tag, "FOO=bar baz", "EMPTY=",
        "WITH_EQ=a=b"]' --arg tag "$ACC_TAG"
    ACC_LEAK=from-caller run box_run "$ID"
    assert_status 0
    assert_kv env.PATH /bin
    assert_kv env.FOO "bar baz"
    assert_kv env.EMPTY ""
    assert_kv env.WITH_EQ a=b
    extra=$(grep '^env\.' <<<"$output" | cut -d= -f1 |
        grep -vxE 'env\.(PATH|BOXTEST|FOO|EMPTY|WITH_EQ|HOME)' || true)
    [ -z "$extra" ] || fail "variables that were not configured: $extra"
}

@test "cwd: the process starts in the configured directory" {
    set_config '.process.cwd = "/home/user"'
    run box_run "$ID"
    assert_status 0
    assert_kv cwd /home/user
}

@test "noNewPrivileges and oomScoreAdj" {
    set_config '.process.noNewPrivileges = true | .process.oomScoreAdj = 500'
    run box_run "$ID"
    assert_status 0
    assert_kv no_new_privs 1
    assert_kv oom_score_adj 500
    # Lowering the score below the caller's needs CAP_SYS_RESOURCE.
    set_config '.process.noNewPrivileges = false | .process.oomScoreAdj = 7'
    run box_run "$(cid second)"
    assert_status 0
    assert_kv no_new_privs 0
    assert_kv oom_score_adj 7
}

@test "sysctl: set in the container's namespace, not on the host" {
    host=$(cat /proc/sys/net/ipv4/ip_forward)
    want=$((1 - host))
    set_config '.linux.sysctl = {"net.ipv4.ip_forward": $v}' --arg v "$want"
    set_args /bin/boxcheck read /proc/sys/net/ipv4/ip_forward
    run box_run "$ID"
    assert_status 0
    assert_line_present "read:/proc/sys/net/ipv4/ip_forward=ok:$want\\n"
    [ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$host" ]
}

@test "CVE-2024-21626: only stdio reaches the process of run; the caller's stray fd 7 does not" {
    set_args /bin/boxcheck fds
    run box_run "$ID" 7>"$BUNDLE.stray"
    assert_status 0
    fds=$(grep '^fd\.' <<<"$output" | cut -d= -f1 | tr '\n' ' ')
    [ "$fds" = "fd.0 fd.1 fd.2 " ] || fail "descriptors in the container: $fds\n$output"
}

@test "CVE-2024-21626: only stdio reaches the process of create and start; the caller's stray fds do not" {
    set_args /bin/boxcheck fds
    box_create "$ID" 7>"$BUNDLE.stray" 8<"$BUNDLE/config.json"
    box start "$ID" 9>"$BUNDLE.stray2"
    wait_status "$ID" stopped
    fds=$(out_of "$ID" | grep '^fd\.' | cut -d= -f1 | tr '\n' ' ')
    [ "$fds" = "fd.0 fd.1 fd.2 " ] || fail "descriptors in the container: $fds\n$(out_of "$ID")"
    box delete "$ID"
}

@test "CVE-2024-21626: --preserve-fds N passes the next N descriptors, no more" {
    set_args /bin/boxcheck fds
    echo one >"$BUNDLE.f3"
    echo two >"$BUNDLE.f4"
    echo three >"$BUNDLE.f5"
    rc=0
    BOXTEST="$ACC_TAG" timeout -k 5 "$ACC_TIMEOUT" "$BOX" --root "$BOX_ROOT" run \
        --preserve-fds 2 --bundle "$BUNDLE" "$ID" 3<"$BUNDLE.f3" 4<"$BUNDLE.f4" \
        5<"$BUNDLE.f5" </dev/null >"$BUNDLE.out" 2>&1 || rc=$?
    output=$(cat "$BUNDLE.out")
    [ "$rc" -eq 0 ] || fail "run failed ($rc): $output"
    fds=$(grep '^fd\.' <<<"$output" | cut -d= -f1 | tr '\n' ' ')
    [ "$fds" = "fd.0 fd.1 fd.2 fd.3 fd.4 " ] || fail "descriptors in the container: $fds\n$output"
    assert_kv fd.3 "$BUNDLE.f3"
    assert_kv fd.4 "$BUNDLE.f4"
}

# run_activated N ID [RUN ARGS...]: `run` with LISTEN_FDS=N and LISTEN_PID
# set to the runtime's own pid (sd_listen_fds), fds 3..6 open; output in
# $output.
run_activated() {
    local n=$1 id=$2 rc=0
    shift 2
    BOXTEST="$ACC_TAG" LISTEN_FDS=$n timeout -k 5 "$ACC_TIMEOUT" sh -c \
        'LISTEN_PID=$$ exec "$@"' sh "$BOX" --root "$BOX_ROOT" run "$@" --bundle "$BUNDLE" "$id" \
        3<"$BUNDLE.f3" 4<"$BUNDLE.f4" 5<"$BUNDLE.f5" 6<"$BUNDLE.f6" </dev/null >"$BUNDLE.out" 2>&1 ||
        rc=$?
    output=$(cat "$BUNDLE.out")
    return "$rc"
}

@test "CVE-2024-21626: LISTEN_FDS meant for box passes that many fds first, then --preserve-fds; no stray" {
    set_args /bin/boxcheck report
    for f in 3 4 5 6; do
        echo "$f" >"$BUNDLE.f$f"
    done
    run_activated 2 "$(cid two)" || fail "run failed: $output"
    fds=$(grep '^fd\.' <<<"$output" | cut -d= -f1 | sort -u | tr '\n' ' ')
    [ "$fds" = "fd.0 fd.1 fd.2 fd.3 fd.4 " ] || fail "descriptors in the container: $fds\n$output"
    assert_kv fd.3 "$BUNDLE.f3"
    assert_kv fd.4 "$BUNDLE.f4"
    assert_kv env.LISTEN_FDS 2
    assert_kv env.LISTEN_PID 1
    run_activated 2 "$(cid more)" --preserve-fds 1 || fail "run failed: $output"
    fds=$(grep '^fd\.' <<<"$output" | cut -d= -f1 | sort -u | tr '\n' ' ')
    [ "$fds" = "fd.0 fd.1 fd.2 fd.3 fd.4 fd.5 " ] || fail "with --preserve-fds 1: $fds\n$output"
    assert_kv fd.5 "$BUNDLE.f5"
    assert_kv env.LISTEN_FDS 2
    # LISTEN_PID of another process: the fds are strays, and nothing says
    # otherwise to the container.
    BOXTEST="$ACC_TAG" LISTEN_FDS=2 LISTEN_PID=1 timeout -k 5 "$ACC_TIMEOUT" "$BOX" \
        --root "$BOX_ROOT" run --bundle "$BUNDLE" "$(cid other)" 3<"$BUNDLE.f3" 4<"$BUNDLE.f4" \
        </dev/null >"$BUNDLE.out" 2>&1 || fail "run failed: $(cat "$BUNDLE.out")"
    output=$(cat "$BUNDLE.out")
    fds=$(grep '^fd\.' <<<"$output" | cut -d= -f1 | sort -u | tr '\n' ' ')
    [ "$fds" = "fd.0 fd.1 fd.2 " ] || fail "LISTEN_PID of another process: $fds"
    ! kv env.LISTEN_FDS >/dev/null || fail "LISTEN_FDS reached the container"
}

@test "stdio: stdin and stdout of run are the container's" {
    echo hello-stdin >"$BUNDLE.in"
    set_args /bin/boxcheck cat /dev/stdin
    rc=0
    box run --bundle "$BUNDLE" "$ID" <"$BUNDLE.in" >"$BUNDLE.out" 2>&1 || rc=$?
    [ "$rc" -eq 0 ]
    [ "$(cat "$BUNDLE.out")" = hello-stdin ]
}

@test "scheduler: SCHED_BATCH with nice, and SCHED_FLAG_RESET_ON_FORK" {
    set_config '.process.scheduler = {"policy": "SCHED_BATCH", "nice": 5,
        "flags": ["SCHED_FLAG_RESET_ON_FORK"]}'
    set_args /bin/boxcheck sched
    run box_run "$ID"
    assert_status 0
    assert_kv sched.policy 3
    assert_kv sched.nice 5
    assert_kv sched.flags 1
}

@test "scheduler: SCHED_DEADLINE with runtime, deadline and period" {
    set_config '.process.scheduler = {"policy": "SCHED_DEADLINE",
        "runtime": 1000000, "deadline": 10000000, "period": 10000000}'
    set_args /bin/boxcheck sched
    run box_run "$ID"
    assert_status 0
    assert_kv sched.policy 6
    assert_kv sched.runtime 1000000
}

@test "scheduler: bad values are refused before anything starts, naming the field" {
    require_box "exact error texts"
    local bad
    for bad in '{"policy": "SCHED_ISO"}' '{"policy": "SCHED_FIFO"}' \
        '{"policy": "SCHED_OTHER", "priority": 3}' '{"policy": "SCHED_OTHER", "nice": 20}' \
        '{"policy": "SCHED_DEADLINE", "runtime": 5, "deadline": 2}' \
        '{"policy": "SCHED_OTHER", "flags": ["SCHED_FLAG_BOGUS"]}' '{"nice": 1}'; do
        set_config ".process.scheduler = $bad"
        run --separate-stderr box_create "$ID"
        assert_one_line_error "process.scheduler" || fail "accepted: $bad"
    done
}

@test "ioPriority: the class and level as configured" {
    set_config '.process.ioPriority = {"class": "IOPRIO_CLASS_IDLE", "priority": 0}'
    set_args /bin/boxcheck sched
    run box_run "$ID"
    assert_status 0
    assert_kv ioprio.class 3
    set_config '.process.ioPriority = {"class": "IOPRIO_CLASS_BE", "priority": 6}'
    run box_run "$ID"
    assert_status 0
    assert_kv ioprio.class 2
    assert_kv ioprio.level 6
}

@test "ioPriority: an unknown class or a level past 7 is refused" {
    require_box "exact error texts"
    set_config '.process.ioPriority = {"class": "IOPRIO_CLASS_FAST", "priority": 0}'
    run --separate-stderr box_create "$ID"
    assert_one_line_error "process.ioPriority.class" "IOPRIO_CLASS_FAST"
    set_config '.process.ioPriority = {"class": "IOPRIO_CLASS_BE", "priority": 8}'
    run --separate-stderr box_create "$ID"
    assert_one_line_error "process.ioPriority.priority"
}

@test "personality: LINUX32 reaches the program, and exec'd processes too" {
    set_config '.linux.personality = {"domain": "LINUX32"}'
    set_args /bin/boxcheck sched
    run box_run "$ID"
    assert_status 0
    assert_kv personality 0x8
    set_args /bin/boxcheck signals
    box_create "$ID"
    box start "$ID"
    run box exec "$ID" /bin/boxcheck sched
    box delete -f "$ID"
    assert_kv personality 0x8
}

@test "personality: an unknown domain or any flag is refused" {
    require_box "exact error texts"
    set_config '.linux.personality = {"domain": "BSD"}'
    run --separate-stderr box_create "$ID"
    assert_one_line_error "linux.personality.domain" "BSD"
    set_config '.linux.personality = {"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"]}'
    run --separate-stderr box_create "$ID"
    assert_one_line_error "linux.personality.flags"
}
