#!/usr/bin/env bash
# Shared helpers of the acceptance suite.  Every test drives the runtime named
# by $BOX (box by default, any runc-compatible runtime otherwise) with its
# state under a per-file temporary root, runs boxcheck inside the container,
# and asserts on what boxcheck reports.  After every test, and again after
# every file, a residue check asserts that nothing is left behind: no state
# directory, cgroup, mount or process.
#
# Each .bats file starts with:
#     load helpers
#     setup_file() { acc_setup_file; }
#     teardown_file() { acc_teardown_file; }
#     setup() { acc_setup; }
#     teardown() { acc_teardown; }
#
# Environment: BOX, BOXCHECK, BOXRECVTTY (paths to the binaries), BUSYBOX
# (a static busybox for the root filesystem, default /bin/busybox),
# ACC_TIMEOUT (seconds any one runtime command may take, default 60).

# jq filters are single-quoted on purpose; status, output and stderr come
# from bats' `run`.
# shellcheck disable=SC2016,SC2154

bats_require_minimum_version 1.5.0

ACC_REPO=$(cd "${BATS_TEST_DIRNAME:-.}/../.." && pwd)
: "${BOX:=$ACC_REPO/build/box}"
: "${BOXCHECK:=$ACC_REPO/build/tests/boxcheck}"
: "${BOXRECVTTY:=$(dirname "$BOXCHECK")/recvtty}"
: "${BUSYBOX:=/bin/busybox}"
: "${ACC_TIMEOUT:=60}"
export BOX BOXCHECK BOXRECVTTY BUSYBOX ACC_TIMEOUT

# Applets linked into the test root filesystem.
ACC_APPLETS=(sh ash true false sleep cat echo ls id hostname mkdir touch test env pwd ps
    kill grep wc head printf readlink stat)

# ---- assertions -------------------------------------------------------------

# fail MESSAGE...: print the message (escapes interpreted) and fail.
fail() {
    printf '%b\n' "$*" >&2
    return 1
}

# kv KEY [TEXT]: the value of the first KEY=value line of TEXT (default:
# $output); fails when there is none.
kv() {
    local key=$1 text=${2-$output} line
    while IFS= read -r line; do
        if [[ $line == "$key="* ]]; then
            printf '%s\n' "${line#"$key="}"
            return 0
        fi
    done <<<"$text"
    return 1
}

# assert_kv KEY EXPECTED [TEXT]: KEY=EXPECTED is reported.
assert_kv() {
    local got
    got=$(kv "$1" "${3-$output}") || fail "no '$1=' line in:\n${3-$output}" || return
    [ "$got" = "$2" ] || fail "$1: expected '$2', got '$got'"
}

# assert_line_present LINE [TEXT]: TEXT has exactly this line.
assert_line_present() {
    grep -qxF -- "$1" <<<"${2-$output}" || fail "no line '$1' in:\n${2-$output}"
}

# assert_line_absent LINE [TEXT]
assert_line_absent() {
    ! grep -qxF -- "$1" <<<"${2-$output}" || fail "unexpected line '$1' in:\n${2-$output}"
}

# assert_contains TEXT NEEDLE
assert_contains() {
    [[ $1 == *"$2"* ]] || fail "expected to find '$2' in:\n$1"
}

# assert_status EXPECTED: $status (from bats' run) equals EXPECTED.
assert_status() {
    [ "$status" -eq "$1" ] || fail "exit status: expected $1, got $status; output:\n$output"
}

# assert_failed: $status is non-zero and the output says something.
assert_failed() {
    [ "$status" -ne 0 ] || fail "expected a failure, got exit 0; output:\n$output" || return
    [ -n "$output${stderr:-}" ] || fail "failed (exit $status) without a message"
}

# assert_one_line_error NEEDLE...: a failure whose stderr ($stderr, from
# `run --separate-stderr`) is one line mentioning each NEEDLE.
assert_one_line_error() {
    local needle lines
    [ "$status" -ne 0 ] || fail "expected a failure, got exit 0; stdout:\n$output" || return
    lines=$(grep -c '' <<<"$stderr")
    [ -n "$stderr" ] && [ "$lines" -eq 1 ] ||
        fail "expected one line on stderr, got $lines:\n$stderr" || return
    for needle in "$@"; do
        assert_contains "$stderr" "$needle" || return
    done
}

# wait_for SECONDS COMMAND...: poll COMMAND until it succeeds; fail after SECONDS.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            fail "timed out waiting for: $*"
            return 1
        fi
        sleep 0.05
    done
}

# file_has_line FILE LINE: FILE exists and has exactly this line.
file_has_line() {
    [ -f "$1" ] && grep -qxF -- "$2" "$1"
}

# pid_alive PID: the process exists and is not a zombie.
pid_alive() {
    local state
    state=$(awk '$1 == "State:" {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# pid_gone PID: no such process, or only its zombie.
pid_gone() {
    ! pid_alive "$1"
}

# ---- the runtime under test -------------------------------------------------

# is_box: $BOX is box (and not another runtime).
is_box() {
    [ "${BOX_IS_BOX:-0}" = 1 ]
}

# require_box WHAT: skip unless $BOX is box; for box-only behaviour such as
# exact error texts or box's cgroup layout.
require_box() {
    is_box || skip "box-only: $1 (BOX=$BOX is another runtime)"
}

# is_peer VERSION_REGEX: $BOX is not box, and the first line of its
# `--version` matches VERSION_REGEX.
is_peer() {
    ! is_box && grep -qE -- "$1" <<<"$BOX_VERSION"
}

# skip_for_peer VERSION_REGEX REASON: skip when the first line of `$BOX --version`
# matches VERSION_REGEX.  For a verified bug or a missing feature of a peer
# runtime, named in REASON, so that the suite still validates against that
# peer everywhere else.
skip_for_peer() {
    if is_peer "$1"; then
        skip "$BOX_VERSION: $2"
    fi
}

# box ARGS...: the runtime with this file's state root, bounded in time.  The
# marker in its environment lets the residue check find any process it leaves.
# fd 3 (bats' own output) never reaches it: a container holding it would
# stall bats.
box() {
    BOXTEST="$ACC_TAG" timeout -k 5 "$ACC_TIMEOUT" "$BOX" --root "$BOX_ROOT" "$@" 3>&-
}

# cid NAME: a container id unique to this file and test.
cid() {
    printf '%s-%s-%s\n' "$ACC_TAG" "${BATS_TEST_NUMBER:-0}" "$1"
}

# io ID: the prefix of the files that hold a container's stdout (.out) and
# stderr (.err), with the runtime's own messages.  Any id maps to a plain
# file name, even a hostile one ("../x", "a/b", 4 KiB).
io() {
    local name
    name=$(printf '%s' "$1" | tr -c 'A-Za-z0-9._-' _ | head -c 120)
    printf '%s/io/io-%s\n' "$ACC_DIR" "$name"
}

# box_create ID [CREATE ARGS...]: create ID from $BUNDLE.  The container's
# stdio goes to files (never to a pipe that bats waits on, which a container
# that unexpectedly lives would hold open); on failure the runtime's stdout
# and stderr are replayed on stdout and stderr, for `run --separate-stderr`.
box_create() {
    local id=$1 rc=0
    shift
    box create --bundle "$BUNDLE" "$@" "$id" </dev/null >"$(io "$id").out" 2>"$(io "$id").err" ||
        rc=$?
    if [ "$rc" -ne 0 ]; then
        cat "$(io "$id").out"
        cat "$(io "$id").err" >&2
    fi
    return "$rc"
}

# box_run ID [RUN ARGS...]: `run` in the foreground from $BUNDLE; prints the
# container's stdout, then its stderr and the runtime's messages; returns
# run's exit status.
box_run() {
    local id=$1 rc=0
    shift
    box run --bundle "$BUNDLE" "$@" "$id" </dev/null >"$(io "$id").out" 2>"$(io "$id").err" ||
        rc=$?
    cat "$(io "$id").out" "$(io "$id").err"
    return "$rc"
}

# out_of ID: what the container has written to stdout so far.
out_of() {
    cat "$(io "$1").out" 2>/dev/null
}

# status_of ID: the status reported by `state`.
status_of() {
    box state "$1" 2>/dev/null | jq -r .status
}

# pid_of ID: the pid reported by `state`.
pid_of() {
    box state "$1" 2>/dev/null | jq -r .pid
}

# has_status ID STATUS
has_status() {
    [ "$(status_of "$1")" = "$2" ]
}

# wait_status ID STATUS [SECONDS]
wait_status() {
    wait_for "${3:-20}" has_status "$1" "$2"
}

# wait_output ID LINE [SECONDS]: the container has printed LINE.
wait_output() {
    wait_for "${3:-20}" file_has_line "$(io "$1").out" "$2"
}

# start_detached ID [CREATE ARGS...]: create, then start, ID.
start_detached() {
    box_create "$@" || return
    box start "$1"
}

# ---- cgroups -----------------------------------------------------------------

# cgroup_v2_only: the machine has only the unified hierarchy.
cgroup_v2_only() {
    [ -f /sys/fs/cgroup/cgroup.controllers ]
}

# has_controller NAME: a v1 hierarchy of it, or it in cgroup2's controllers.
has_controller() {
    [ -n "$(cgroup_mount "$1")" ] ||
        grep -qw "$1" "$(cgroup_mount "")/cgroup.controllers" 2>/dev/null
}

# char_driver MAJOR: a driver registered that character major, so that a
# node made with it opens (a real NVIDIA driver has 195) instead of ENXIO.
char_driver() {
    awk '/^Block/ {exit} $2 != "" {print $1}' /proc/devices | grep -qx "$1"
}

# Pure cgroup v2, on any host whose kernel has cgroup2: in a private mount
# namespace the v1 hierarchies are unmounted and cgroup2 alone is mounted at
# /sys/fs/cgroup, which is what box then detects and uses.
v2_only() {
    unshare -m sh -c 'mount --make-rprivate / && umount -l /sys/fs/cgroup &&
        mount -t cgroup2 none /sys/fs/cgroup && exec "$@"' sh "$@"
}

# cgroup_mount CONTROLLERS: the mount point of the v1 hierarchy holding these
# comma-separated controllers, or of the v2 hierarchy for "".
cgroup_mount() {
    awk -v want="$1" '{
        for (i = 7; $i != "-"; i++) {}
        fstype = $(i + 1); opts = $(i + 3)
        if (want == "") { if (fstype == "cgroup2") { print $5; exit } next }
        if (fstype != "cgroup") next
        n = split(want, w, ","); m = split(opts, o, ","); ok = 1
        for (a = 1; a <= n; a++) {
            found = 0
            for (b = 1; b <= m; b++) if (o[b] == w[a]) found = 1
            if (!found) ok = 0
        }
        if (ok) { print $5; exit }
    }' /proc/self/mountinfo
}

# cgroup_dirs PID: the host directory of each cgroup PID belongs to.
cgroup_dirs() {
    local _ ctrls path mnt
    while IFS=: read -r _ ctrls path; do
        mnt=$(cgroup_mount "$ctrls")
        [ -n "$mnt" ] && printf '%s%s\n' "$mnt" "$path"
    done <"/proc/$1/cgroup"
    return 0
}

# cgroup_dir PID CONTROLLER: the directory holding CONTROLLER's files for PID
# (its v1 hierarchy, else the unified one where the controller is enabled).
cgroup_dir() {
    local _ ctrls path mnt
    while IFS=: read -r _ ctrls path; do
        if [[ ,$ctrls, == *",$2,"* ]]; then
            mnt=$(cgroup_mount "$ctrls") && printf '%s%s\n' "$mnt" "$path"
            return
        fi
    done <"/proc/$1/cgroup"
    while IFS=: read -r _ ctrls path; do
        if [ -z "$ctrls" ]; then
            mnt=$(cgroup_mount "")
            grep -qw "$2" "$mnt$path/cgroup.controllers" 2>/dev/null || return 1
            printf '%s%s\n' "$mnt" "$path"
            return
        fi
    done <"/proc/$1/cgroup"
    return 1
}

# ---- bundles ----------------------------------------------------------------

# make_bundle DIR: a bundle with a fresh copy of the test root filesystem and
# the normalized config (process: boxcheck report, terminal off).
make_bundle() {
    mkdir -p "$1" &&
        cp -a "$ACC_DIR/template/rootfs" "$1/rootfs" &&
        cp "$ACC_DIR/template/config.json" "$1/config.json"
}

# set_config FILTER [JQ OPTIONS...]: edit $BUNDLE/config.json with jq, e.g.
#     set_config '.process.cwd = $d' --arg d /tmp
set_config() {
    local cfg="$BUNDLE/config.json"
    jq "${@:2}" "$1" "$cfg" >"$cfg.new" && mv "$cfg.new" "$cfg"
}

# json_array ARG...: the arguments as a JSON array of strings.
json_array() {
    local a
    for a in "$@"; do
        jq -n --arg a "$a" '$a'
    done | jq -cs .
}

# set_args ARG...: the container's process.args.
set_args() {
    set_config '.process.args = $a' --argjson a "$(json_array "$@")"
}

# without_namespace TYPE: drop a namespace from the config.
without_namespace() {
    set_config 'del(.linux.namespaces[] | select(.type == $t))' --arg t "$1"
}

# hook_entry PREFIX [EXTRA BOXCHECK ARGS...]: a hook object that runs boxcheck
# as a hook recording into PREFIX (see boxcheck's `hook`), with the marker
# environment so that a stray hook is found by the residue check.
hook_entry() {
    local prefix=$1 path=${HOOK_BOXCHECK:-$BOXCHECK}
    shift
    jq -nc --arg path "$path" --arg tag "BOXTEST=$ACC_TAG" --arg p "$prefix" \
        --argjson more "$(json_array "$@")" \
        '{path: $path, args: (["boxcheck", "hook", $p] + $more), env: [$tag]}'
}

_acc_make_template() {
    local t="$ACC_DIR/template" r="$ACC_DIR/template/rootfs" a
    mkdir -p "$r"/{bin,etc,proc,sys,dev,tmp,root,home/user,run}
    chmod 1777 "$r/tmp"
    cp "$BUSYBOX" "$r/bin/busybox"
    cp "$BOXCHECK" "$r/bin/boxcheck"
    for a in "${ACC_APPLETS[@]}"; do
        ln -s busybox "$r/bin/$a"
    done
    printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'user:x:1000:1000:user:/home/user:/bin/sh' \
        'nobody:x:65534:65534:nobody:/:/bin/false' >"$r/etc/passwd"
    printf '%s\n' 'root:x:0:' 'users:x:100:' 'user:x:1000:' 'nogroup:x:65534:' >"$r/etc/group"
    "$BOX" spec --bundle "$t" >"$ACC_DIR/spec.log" 2>&1 ||
        fail "\`$BOX spec --bundle $t\` failed; every test builds on it:\n$(cat "$ACC_DIR/spec.log")" ||
        return
    jq --arg tag "BOXTEST=$ACC_TAG" '
        .process.terminal = false
        | .process.args = ["/bin/boxcheck", "report"]
        | .process.env = ["PATH=/bin", $tag]
        | .process.cwd = "/"
        | .root = {path: "rootfs", readonly: false}
        | .hostname = "boxtest"' "$t/config.json" >"$t/config.json.new" &&
        mv "$t/config.json.new" "$t/config.json"
}

# ---- residue ------------------------------------------------------------------

# A pattern that matches $ACC_DIR but not itself: grep's own command line
# holds the pattern, so it never finds itself.
_acc_self_safe_pattern() {
    printf '%s[%s]\n' "${ACC_DIR%?}" "${ACC_DIR: -1}"
}

# acc_processes: "PID CMDLINE" of every process left by this file: it carries
# the marker in its environment (containers, the runtime and its helpers),
# names the temporary directory on its command line (hooks, receivers), or
# sits in a cgroup named after one of this file's containers (an init that
# never reached its program).
acc_processes() {
    local pid
    {
        grep -lazxF "BOXTEST=$ACC_TAG" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3
        grep -laE "$(_acc_self_safe_pattern)" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3
        acc_cgroups | while IFS= read -r cg; do
            cat "$cg/cgroup.procs" 2>/dev/null
        done
    } | sort -un | while IFS= read -r pid; do
        if [ "$pid" = "$$" ] || [ "$pid" = "$BASHPID" ] || ! pid_alive "$pid"; then
            continue
        fi
        printf '%s %s\n' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
    done
}

# acc_cgroups: cgroup directories named after this file's containers, in
# every hierarchy (cgroup v1, v2, hybrid).
acc_cgroups() {
    find /sys/fs/cgroup -mindepth 1 -maxdepth 10 -type d -name "*$ACC_TAG*" 2>/dev/null
}

# acc_mounts: mount points in this mount namespace under the temporary dir.
acc_mounts() {
    awk -v d="$ACC_DIR" 'index($5, d) == 1 || index($4, d) == 1 {print $5}' \
        /proc/self/mountinfo
}

# residue_report: one line per thing left behind; empty when clean.
residue_report() {
    local e
    for e in "$BOX_ROOT"/* "$BOX_ROOT"/.[!.]*; do
        # The compiled seccomp filters are a cache shared by containers,
        # not the state of one.
        [ "$e" = "$BOX_ROOT/.seccomp" ] && continue
        [ -e "$e" ] || [ -L "$e" ] && printf 'state: %s\n' "$e"
    done
    acc_cgroups | sed 's/^/cgroup: /'
    acc_mounts | sed 's/^/mount: /'
    acc_processes | sed 's/^/process: /'
    return 0
}

# residue_purge: remove what residue_report finds, so that one test's
# leftovers do not fail the next.
residue_purge() {
    local pid m cg _
    while read -r pid _; do
        kill -KILL "$pid" 2>/dev/null
    done < <(acc_processes)
    while read -r m; do
        umount -l "$m" 2>/dev/null
    done < <(acc_mounts | sort -r)
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        [ -z "$(acc_cgroups)" ] && break
        while read -r cg; do
            rmdir "$cg" 2>/dev/null
        done < <(acc_cgroups | awk '{print length, $0}' | sort -rn | cut -d' ' -f2-)
        sleep 0.1
    done
    rm -rf "${BOX_ROOT:?}"/* "$BOX_ROOT"/.[!.]* 2>/dev/null
    return 0
}

# assert_no_residue: nothing of this file is left (run after the deletes).
assert_no_residue() {
    local r
    r=$(residue_report)
    [ -z "$r" ] || fail "left behind:\n$r"
}

# delete_all: force-delete every container under this file's state root.
delete_all() {
    local d id
    for d in "$BOX_ROOT"/*/; do
        [ -d "$d" ] || continue
        id=$(basename "$d")
        box delete --force "$id" >/dev/null 2>&1 || true
    done
}

# ---- setup and teardown -------------------------------------------------------

# _acc_unmet: why this machine cannot run the suite; empty when it can.
_acc_unmet() {
    if [ "$(id -u)" != 0 ]; then
        echo "needs root: namespaces, mounts and cgroups (docs/privileges.md)"
    elif [ ! -x "$BUSYBOX" ]; then
        echo "BUSYBOX=$BUSYBOX is missing (Debian: busybox-static)"
    elif command -v ldd >/dev/null && ldd "$BUSYBOX" >/dev/null 2>&1; then
        echo "BUSYBOX=$BUSYBOX is dynamically linked; the test rootfs needs a static one"
    fi
}

acc_setup_file() {
    # bats 1.8 cannot skip from setup_file: every test skips instead.
    ACC_SKIP_REASON=$(_acc_unmet)
    export ACC_SKIP_REASON
    [ -z "$ACC_SKIP_REASON" ] || return 0
    [ -x "$BOX" ] || fail "BOX=$BOX is not an executable; run \`make\` or set BOX" || return
    [ -x "$BOXCHECK" ] || fail "BOXCHECK=$BOXCHECK is missing; run \`make $BOXCHECK\`" || return
    command -v jq >/dev/null || fail "jq is not installed" || return
    ACC_DIR=$(mktemp -d /tmp/boxacc.XXXXXX)
    chmod 0755 "$ACC_DIR"
    ACC_TAG=acc$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')
    BOX_ROOT=$ACC_DIR/root
    BOX_VERSION=$("$BOX" --version 2>/dev/null | head -n 1)
    BOX_IS_BOX=0
    if grep -qiw box <<<"$BOX_VERSION"; then
        BOX_IS_BOX=1
    fi
    export ACC_DIR ACC_TAG BOX_ROOT BOX_IS_BOX BOX_VERSION
    mkdir -p "$BOX_ROOT" "$ACC_DIR/io"
    _acc_make_template
}

acc_teardown_file() {
    [ -n "${ACC_DIR:-}" ] && [ -d "$ACC_DIR" ] || return 0
    delete_all
    local r
    r=$(residue_report)
    residue_purge
    rm -rf "$ACC_DIR"
    [ -z "$r" ] || fail "left behind by this file:\n$r"
}

acc_setup() {
    [ -z "${ACC_SKIP_REASON:-}" ] || skip "$ACC_SKIP_REASON"
    # BUNDLE and ID are the test's default bundle and container id.
    # shellcheck disable=SC2034
    BUNDLE=$ACC_DIR/t$BATS_TEST_NUMBER
    # shellcheck disable=SC2034
    ID=$(cid c)
    make_bundle "$BUNDLE"
}

# Force-deletes what the test left, then asserts that the runtime's delete
# left nothing; purges the rest so that the next test starts clean.
acc_teardown() {
    local r
    [ -z "${ACC_SKIP_REASON:-}" ] || return 0
    delete_all
    r=$(residue_report)
    residue_purge
    rm -rf "$ACC_DIR/t$BATS_TEST_NUMBER" "$ACC_DIR/t$BATS_TEST_NUMBER".* 2>/dev/null
    [ -z "$r" ] || fail "left behind after delete --force:\n$r"
}
