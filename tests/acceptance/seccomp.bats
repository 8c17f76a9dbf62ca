#!/usr/bin/env bats
# linux.seccomp: the filter as configured, seen from inside the container
# (denied system calls fail with the configured errno, killed processes die
# of SIGSYS, the checker sees seccomp mode 2), invalid profiles refused
# before anything is made, and SCMP_ACT_NOTIFY handing its fd to a listener.
# shellcheck disable=SC2016,SC2154

load helpers

setup_file() { acc_setup_file; }
teardown_file() { acc_teardown_file; }
setup() { acc_setup; }
teardown() { acc_teardown; }

# What the runtime does after the filter is loaded (init: sendto, sendmsg,
# close, execveat; trampoline: accept4, close, fcntl, write, execve, exit),
# then what busybox sh and its applets need here (from strace, with the
# usual alternatives of other libc builds and architectures).
ALLOW_LIST=(accept4 close execve execveat exit exit_group fcntl sendmsg sendto write
    access arch_prctl brk chdir clock_gettime clock_nanosleep clone clone3 dup dup2 dup3
    faccessat faccessat2 fork fstat futex getcwd getdents64 getegid geteuid getgid
    getgroups getpgid getpgrp getpid getppid getrandom getresgid getresuid getrlimit
    gettid gettimeofday getuid ioctl kill lseek lstat madvise mmap mprotect munmap
    nanosleep newfstatat open openat pipe pipe2 poll ppoll prctl pread64 prlimit64 read
    readlink readlinkat readv rseq rt_sigaction rt_sigprocmask rt_sigreturn sendfile
    set_robust_list set_tid_address setpgid sigaltstack stat statx sysinfo tgkill umask
    uname utimensat vfork wait4 waitid writev)

# set_seccomp JSON: linux.seccomp of the bundle's config.
set_seccomp() {
    set_config '.linux.seccomp = $s' --argjson s "$1"
}

# deny_profile ACTION [EXTRA]: defaultAction ALLOW, mkdir and mkdirat get
# ACTION (EXTRA: more members of the rule, e.g. "errnoRet": 38).
deny_profile() {
    printf '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "%s"%s}]}' "$1" "${2:+, $2}"
}

@test "seccomp: a denied mkdir fails with errnoRet while the rest works" {
    set_seccomp "$(deny_profile SCMP_ACT_ERRNO '"errnoRet": 38')"
    set_args /bin/sh -c 'mkdir /tmp/denied; echo "mkdir=$?"; touch /tmp/file && echo touch=ok;
        test -d /tmp/denied || echo no-dir; exec /bin/boxcheck report'
    run box_run "$ID"
    assert_status 0
    assert_contains "$output" "Function not implemented" # ENOSYS, errno 38
    assert_line_present mkdir=1
    assert_line_present touch=ok
    assert_line_present no-dir
    # the filter holds in the program, mode 2 (filter), one filter
    assert_kv seccomp 2
    assert_kv seccomp_filters 1
    assert_kv no_new_privs 1
    [ ! -e "$BUNDLE/rootfs/tmp/denied" ] || fail "mkdir went through"
}

@test "seccomp: errnoRet defaults to EPERM" {
    set_seccomp "$(deny_profile SCMP_ACT_ERRNO)"
    set_args /bin/sh -c 'mkdir /tmp/denied; echo "mkdir=$?"'
    run box_run "$ID"
    assert_status 0
    assert_contains "$output" "Operation not permitted"
    assert_line_present mkdir=1
}

@test "seccomp: without noNewPrivileges the filter is loaded all the same" {
    set_config '.process.noNewPrivileges = false'
    set_seccomp "$(deny_profile SCMP_ACT_ERRNO '"errnoRet": 13')"
    set_args /bin/sh -c 'mkdir /tmp/denied; echo "mkdir=$?"; exec /bin/boxcheck report'
    run box_run "$ID"
    assert_status 0
    assert_contains "$output" "Permission denied" # EACCES, errno 13
    assert_line_present mkdir=1
    assert_kv seccomp 2
    assert_kv no_new_privs 0
}

@test "seccomp: defaultAction SCMP_ACT_ERRNO with an allow list" {
    set_seccomp "$(jq -nc --argjson names "$(json_array "${ALLOW_LIST[@]}")" '{
        defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 1,
        architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32",
                        "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
        syscalls: [{names: $names, action: "SCMP_ACT_ALLOW"}]}')"
    set_args /bin/sh -c 'echo hello; id -u; cat /etc/group | wc -l; ls /bin | grep -c busybox;
        mkdir /tmp/denied; echo "mkdir=$?"; hostname; exit 7'
    run box_run "$ID"
    assert_status 7
    assert_line_present hello
    assert_line_present 0
    assert_line_present 4
    assert_line_present 1
    assert_contains "$output" "Operation not permitted"
    assert_line_present mkdir=1
    assert_line_present boxtest
}

@test "seccomp: SCMP_ACT_KILL_PROCESS ends the container with 128+SIGSYS" {
    set_seccomp "$(deny_profile SCMP_ACT_KILL_PROCESS)"
    set_args /bin/mkdir /tmp/killed
    run box_run "$ID"
    assert_status 159
    [ ! -e "$BUNDLE/rootfs/tmp/killed" ] || fail "mkdir went through"
    # and detached, the state says stopped
    id2=$(cid detached)
    start_detached "$id2"
    wait_status "$id2" stopped
    box delete "$id2"
}

@test "seccomp: an argument comparison denies only the matching call" {
    # chmod(path, mode) here, fchmodat(dirfd, path, mode) elsewhere: mode
    # 0700 (448) is denied, any other mode is not.
    set_seccomp '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 30,
         "args": [{"index": 1, "value": 448, "op": "SCMP_CMP_EQ"}]},
        {"names": ["fchmodat", "fchmodat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 30,
         "args": [{"index": 2, "value": 448, "op": "SCMP_CMP_EQ"}]}]}'
    set_args /bin/sh -c 'touch /tmp/f; chmod 700 /tmp/f; echo "a=$?"; chmod 750 /tmp/f;
        echo "b=$?"; exec /bin/boxcheck stat /tmp/f'
    run box_run "$ID"
    assert_status 0
    assert_contains "$output" "Read-only file system" # EROFS, errno 30
    assert_line_present a=1
    assert_line_present b=0
    [[ $(kv stat:/tmp/f) == "type=reg mode=0750 "* ]] || fail "$(kv stat:/tmp/f)"
}

@test "seccomp: an invalid profile fails create, names the field, leaves nothing" {
    set_seccomp '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
        {"names": ["rmdir"], "action": "SCMP_ACT_FOO"}]}'
    run --separate-stderr box_create "$ID"
    assert_failed
    if is_box; then
        assert_one_line_error 'linux.seccomp.syscalls[1].action' SCMP_ACT_FOO
    fi
    run box state "$ID"
    assert_failed
    assert_no_residue
    # an unknown operator, architecture or flag alike
    set_seccomp '{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]}'
    run --separate-stderr box_create "$ID"
    assert_failed
    if is_box; then
        assert_one_line_error 'linux.seccomp.architectures[0]' SCMP_ARCH_Z80
    fi
    assert_no_residue
}

@test "seccomp: unknown system call names are skipped" {
    set_seccomp '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["no_such_syscall_42", "mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}'
    set_args /bin/sh -c 'mkdir /tmp/denied; echo "mkdir=$?"'
    run box_run "$ID"
    assert_status 0
    assert_line_present mkdir=1
}

@test "features: seccomp is enabled with its actions, operators, archs and flags" {
    require_box "the features document of this build"
    run box features
    assert_status 0
    [ "$(jq -r .linux.seccomp.enabled <<<"$output")" = true ] || fail "seccomp not enabled"
    jq -e '.linux.seccomp | (.actions | index("SCMP_ACT_NOTIFY"))
        and (.operators | index("SCMP_CMP_MASKED_EQ")) and (.archs | index("SCMP_ARCH_X86_64"))
        and (.supportedFlags | index("SECCOMP_FILTER_FLAG_LOG"))
        and ((.knownFlags | length) >= (.supportedFlags | length))' <<<"$output" >/dev/null ||
        fail "incomplete: $(jq -c .linux.seccomp <<<"$output")"
}

# A seccomp agent: takes one connection on $1, writes what it received to
# $2 (the container process state) and "fd=yes" to $2.fd when the fd came
# with it, then, with $3 = serve, answers the first notification with
# -EROFS and records it.
write_listener() {
    cat >"$1" <<'EOF'
import array, fcntl, json, os, socket, struct, sys

path, out = sys.argv[1], sys.argv[2]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
srv.settimeout(30)
open(out + ".ready", "w").close()
conn, _ = srv.accept()
conn.settimeout(30)
data, fds = b"", []
while True:
    msg, anc, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(4))
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds += array.array("i", payload[: len(payload) - len(payload) % 4]).tolist()
    if not msg:
        break
    data += msg
with open(out, "w") as f:
    f.write(data.decode())
with open(out + ".fd", "w") as f:
    f.write("fd=%s\n" % ("yes" if len(fds) == 1 else "no"))
if sys.argv[3:] != ["serve"]:
    sys.exit(0)
# struct seccomp_notif (80 bytes) and seccomp_notif_resp (24 bytes)
NOTIF_RECV, NOTIF_SEND = 0xC0502100, 0xC0182101
req = bytearray(80)
fcntl.ioctl(fds[0], NOTIF_RECV, req)
ident, pid, _, nr = struct.unpack_from("=QIIi", req)
fcntl.ioctl(fds[0], NOTIF_SEND, bytearray(struct.pack("=Qqii", ident, 0, -30, 0)))
with open(out + ".served", "w") as f:
    f.write("served nr=%d\n" % nr)
EOF
}

@test "seccomp: SCMP_ACT_NOTIFY hands the fd and the state to listenerPath" {
    command -v python3 >/dev/null || skip "python3 is not installed (the test's listener)"
    sock=$ACC_DIR/t$BATS_TEST_NUMBER.agent.sock
    got=$ACC_DIR/t$BATS_TEST_NUMBER.agent.json
    write_listener "$ACC_DIR/t$BATS_TEST_NUMBER.agent.py"
    python3 "$ACC_DIR/t$BATS_TEST_NUMBER.agent.py" "$sock" "$got" serve 3>&- &
    agent=$!
    wait_for 10 test -e "$got.ready"
    set_seccomp "$(jq -nc --arg sock "$sock" '{defaultAction: "SCMP_ACT_ALLOW",
        listenerPath: $sock, listenerMetadata: "agent-meta-1",
        syscalls: [{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_NOTIFY"}]}')"
    set_args /bin/sh -c 'mkdir /tmp/notified; echo "mkdir=$?"'
    run box_run "$ID"
    wait "$agent" || fail "the listener failed (exit $?)"
    assert_status 0
    # the agent's answer, -EROFS, is what mkdir returned
    assert_contains "$output" "Read-only file system"
    assert_line_present mkdir=1
    [ "$(cat "$got.fd")" = fd=yes ] || fail "the listener got no fd: $(cat "$got.fd")"
    grep -q '^served nr=' "$got.served" || fail "no notification served"
    st=$(cat "$got")
    [ "$(jq -r .state.id <<<"$st")" = "$ID" ] || fail "state.id is not $ID: $st"
    [ "$(jq -c .fds <<<"$st")" = '["seccompFd"]' ] || fail "fds: $st"
    [ "$(jq -r .metadata <<<"$st")" = agent-meta-1 ] || fail "metadata: $st"
    [ "$(jq -r .state.status <<<"$st")" = creating ] || fail "state.status: $st"
    [ "$(jq -r .pid <<<"$st")" = "$(jq -r .state.pid <<<"$st")" ] || fail "pid: $st"
    [ "$(jq -r .pid <<<"$st")" -gt 1 ] || fail "pid: $st"
    jq -e '.ociVersion | type == "string"' <<<"$st" >/dev/null || fail "ociVersion: $st"
}

@test "seccomp: a listenerPath nobody listens on fails create and leaves nothing" {
    set_seccomp "$(jq -nc --arg sock "$ACC_DIR/nobody.sock" '{defaultAction: "SCMP_ACT_ALLOW",
        listenerPath: $sock, syscalls: [{names: ["mkdir"], action: "SCMP_ACT_NOTIFY"}]}')"
    run --separate-stderr box_create "$ID"
    assert_failed
    if is_box; then
        assert_one_line_error linux.seccomp.listenerPath nobody.sock
    fi
    assert_no_residue
}

@test "seccomp: exec'd processes run under the container's filter" {
    set_config '.process.noNewPrivileges = false'
    set_seccomp "$(deny_profile SCMP_ACT_ERRNO '"errnoRet": 38')"
    set_args /bin/boxcheck sleep 120
    start_detached "$ID"
    wait_status "$ID" running
    # loaded before the credentials (no noNewPrivileges), and as a user
    run box exec --user 1000:1000 "$ID" /bin/sh -c 'mkdir /tmp/denied; echo "mkdir=$?"' </dev/null
    assert_status 0
    assert_contains "$output" "Function not implemented"
    assert_line_present mkdir=1
    # loaded last (no_new_privs set)
    run box exec --no-new-privs "$ID" /bin/sh -c 'mkdir /tmp/denied; echo "mkdir=$?";
        exec /bin/boxcheck report' </dev/null
    assert_status 0
    assert_line_present mkdir=1
    assert_kv seccomp 2
    assert_kv no_new_privs 1
    box kill "$ID" KILL
    wait_status "$ID" stopped
    box delete "$ID"
}

@test "seccomp: exec into a container with SCMP_ACT_NOTIFY is refused, not left unfiltered" {
    require_box "box does not pass an exec's listener fd on yet"
    command -v python3 >/dev/null || skip "python3 is not installed (the test's listener)"
    sock=$ACC_DIR/t$BATS_TEST_NUMBER.agent.sock
    got=$ACC_DIR/t$BATS_TEST_NUMBER.agent.json
    write_listener "$ACC_DIR/t$BATS_TEST_NUMBER.agent.py"
    python3 "$ACC_DIR/t$BATS_TEST_NUMBER.agent.py" "$sock" "$got" 3>&- &
    agent=$!
    wait_for 10 test -e "$got.ready"
    set_seccomp "$(jq -nc --arg sock "$sock" '{defaultAction: "SCMP_ACT_ALLOW",
        listenerPath: $sock, syscalls: [{names: ["mkdir", "mkdirat"], action: "SCMP_ACT_NOTIFY"}]}')"
    set_args /bin/boxcheck sleep 120
    start_detached "$ID"
    wait "$agent" || fail "the listener failed (exit $?)"
    wait_status "$ID" running
    run --separate-stderr box exec "$ID" /bin/true </dev/null
    assert_status 255
    assert_one_line_error linux.seccomp SCMP_ACT_NOTIFY
    box kill "$ID" KILL
    wait_status "$ID" stopped
    box delete "$ID"
}

@test "seccomp: a compiled filter is kept and reused; a cache entry that does not match is not" {
    require_box "box's compiled-filter cache"
    set_seccomp "$(deny_profile SCMP_ACT_ERRNO '"errnoRet": 38')"
    set_args /bin/sh -c 'mkdir /tmp/denied; echo "mkdir=$?"'
    run box_run "$ID"
    assert_line_present mkdir=1
    mapfile -t files < <(find "$BOX_ROOT/.seccomp" -type f)
    [ "${#files[@]}" -eq 1 ] || fail "cache entries: ${files[*]}"
    before=$(stat -c %Y.%i "${files[0]}")
    run box_run "$ID"
    assert_line_present mkdir=1
    [ "$(stat -c %Y.%i "${files[0]}")" = "$before" ] || fail "the entry was rewritten, not reused"
    # An entry that is not this profile's (here: garbage) is compiled anew.
    printf 'boxbpf1\nnot a filter' >"${files[0]}"
    run box_run "$ID"
    assert_line_present mkdir=1
    [ ! -e "$BUNDLE/rootfs/tmp/denied" ] || fail "mkdir went through"
}
