#!/usr/bin/env bats
# box validate: real OCI layouts (tests/acceptance/oci_fixture.py) run as
# real containers by box, runc and crun; the verdicts, the reports, and the
# negative cases of docs/gpu-validation.md. After every test: no work
# directory, no process in a container cgroup, no container cgroup left.
#
# Environment: BOX_VALIDATE (default build/box-validate), BOX (build/box),
# BUSYBOX (a static busybox, default /bin/busybox).

# shellcheck disable=SC2016,SC2154

bats_require_minimum_version 1.5.0

REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
: "${BOX_VALIDATE:=$REPO/build/box-validate}"
: "${BOX:=$REPO/build/box}"
: "${BUSYBOX:=/bin/busybox}"
FIXTURE=$BATS_TEST_DIRNAME/oci_fixture.py

fail() {
    printf '%b\n' "$*" >&2
    return 1
}

setup_file() {
    export V_SKIP=""
    if [ "$(id -u)" != 0 ]; then
        V_SKIP="needs root: box validate runs containers"
    elif [ ! -x "$BOX_VALIDATE" ] || [ ! -x "$BOX" ]; then
        V_SKIP="BOX_VALIDATE=$BOX_VALIDATE or BOX=$BOX is not built (make)"
    elif ! command -v python3 >/dev/null || ! command -v jq >/dev/null; then
        V_SKIP="python3 and jq are needed"
    fi
    [ -z "$V_SKIP" ] || return 0
    V_DIR=$(mktemp -d /tmp/boxval.XXXXXX)
    export V_DIR
    # Images shared by the tests, in one layout.
    LAYOUT=$V_DIR/images
    export LAYOUT
    image smoke-pass 'echo "uid=$(id -u) gid=$(id -g) cwd=$(pwd)"; echo OPENSHELL_GPU_WORKLOAD_SUCCESS smoke-pass'
    image smoke-fail 'echo OPENSHELL_GPU_WORKLOAD_FAILURE smoke-fail deliberate >&2; exit 42'
    image silent-zero 'echo all good; exit 0'
    image marker-then-fail 'echo OPENSHELL_GPU_WORKLOAD_SUCCESS marker-then-fail; exit 3'
    image stderr-only 'echo OPENSHELL_GPU_WORKLOAD_SUCCESS stderr-only >&2'
    image other-name 'echo OPENSHELL_GPU_WORKLOAD_SUCCESS smoke-pass'
    image fail-no-marker 'echo something broke >&2; exit 42'
}

teardown_file() {
    [ -n "${V_DIR:-}" ] && rm -rf "$V_DIR"
    return 0
}

setup() {
    [ -z "$V_SKIP" ] || skip "$V_SKIP"
    T=$V_DIR/t$BATS_TEST_NUMBER
    mkdir -p "$T/tmp"
}

# Nothing of box validate is left: work directories, processes in a
# container's cgroup, container cgroups. Only the containers of this test's
# box-validate runs count (their ids are validate-<pid>-<n>), so that other
# box-validate runs on the machine are left alone.
teardown() {
    [ -z "$V_SKIP" ] || return 0
    local left="" p pid
    left+=$(find "$T/tmp" -mindepth 1 -maxdepth 1 2>/dev/null | sed 's/^/file: /')
    for pid in $(cat "$T/pids" 2>/dev/null); do
        for p in $(grep -lE ":/(.*/)?validate-$pid-[0-9]+\$" /proc/[0-9]*/cgroup 2>/dev/null); do
            p=${p%/cgroup}
            left+=$'\n'"process: ${p#/proc/} $(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)"
            kill -KILL "${p#/proc/}" 2>/dev/null
        done
        left+=$(find /sys/fs/cgroup -maxdepth 6 -type d -name "validate-$pid-*" 2>/dev/null |
            sed 's/^/cgroup: /')
    done
    rm -rf "$T"
    [ -z "${left//$'\n'/}" ] || fail "left behind:\n$left"
}

# RECORD PIDFILE COMMAND...: runs COMMAND with its pid first appended to
# PIDFILE (for the residue check); the pid stays the same through the exec.
RECORD=(sh -c 'echo $$ >>"$0"; exec "$@"')

# image TAG SCRIPT [FIXTURE OPTIONS...]: adds an image whose workload runs
# SCRIPT (sh) to $LAYOUT, tagged TAG; prints the manifest digest.
image() {
    local tag=$1 script=$2 file
    shift 2
    file=$(mktemp "$V_DIR/workload.XXXXXX")
    printf '#!/bin/sh\n%s\n' "$script" >"$file"
    python3 "$FIXTURE" "${LAYOUT:-$V_DIR/images}" --workload "$file" --tag "$tag" "$@"
}

# validate ARGS...: box validate with its work directory under this test's
# $T/tmp, bounded in time.
validate() {
    TMPDIR=$T/tmp timeout -k 5 300 "${RECORD[@]}" "$T/pids" "$BOX_VALIDATE" "$@"
}

# manifest FILE NAME=TAG:EXPECT...: a workload manifest over $LAYOUT.
manifest() {
    local file=$1 spec name rest
    shift
    {
        echo "schema_version: 1"
        echo "generated_by: validate.bats"
        echo "workloads:"
        for spec in "$@"; do
            name=${spec%%=*}
            rest=${spec#*=}
            printf '  - name: %s\n    image: "oci:%s:%s"\n    expect: %s\n' \
                "$name" "$LAYOUT" "${rest%%:*}" "${rest##*:}"
        done
    } >"$file"
}

# result NAME [JSON]: the result field of workload NAME in the JSON report.
result() {
    jq -r --arg n "$1" '.workloads[] | select(.name == $n) | .result' "${2:-$T/r.json}"
}

reason() {
    jq -r --arg n "$1" '.workloads[] | select(.name == $n) | .reason' "${2:-$T/r.json}"
}

@test "a passing image: SUCCESS on stdout and exit 0, run as the image's sandbox user" {
    run validate --image "oci:$LAYOUT:smoke-pass" --expect pass --json "$T/r.json"
    [ "$status" -eq 0 ] || fail "exit $status:\n$output"
    [[ $output == *"smoke-pass  pass    pass     ok"* ]] || fail "table:\n$output"
    [ "$(result smoke-pass)" = pass ]
    jq -e '.workloads[0].stdout.text | contains("uid=1000 gid=1000 cwd=/home/sandbox")' "$T/r.json" >/dev/null ||
        fail "not the sandbox user:\n$(jq .workloads[0].stdout "$T/r.json")"
    jq -e '.workloads[0].digest | test("^sha256:[0-9a-f]{64}$")' "$T/r.json" >/dev/null
    jq -e '.workloads[0].exit_code == 0 and .ok == true' "$T/r.json" >/dev/null
}

@test "the front door hands over: box validate" {
    run "$BOX" validate --help
    [ "$status" -eq 0 ]
    [[ $output == *"--manifest FILE"* ]]
    run env TMPDIR="$T/tmp" "$BOX" validate --image "oci:$LAYOUT:smoke-pass" --expect pass -q
    [ "$status" -eq 0 ] || fail "exit $status:\n$output"
}

@test "a failing image: exit 42 and the FAILURE marker on stderr is the verdict fail" {
    run validate --image "oci:$LAYOUT:smoke-fail" --expect fail --json "$T/r.json"
    [ "$status" -eq 0 ] || fail "exit $status:\n$output"
    [ "$(result smoke-fail)" = fail ]
    jq -e '.workloads[0].exit_code == 42' "$T/r.json" >/dev/null
    # The same image expected to pass is a mismatch, and the exit status says so.
    run validate --image "oci:$LAYOUT:smoke-fail" --expect pass --json "$T/r.json"
    [ "$status" -eq 1 ]
    [[ $output == *MISMATCH* ]]
}

@test "exit 0 without the marker is not a pass" {
    run validate --image "oci:$LAYOUT:silent-zero" --expect pass --json "$T/r.json"
    [ "$status" -eq 1 ]
    [ "$(result silent-zero)" = invalid ]
    [[ $(reason silent-zero) == *"exited 0 without the SUCCESS marker on stdout"* ]]
}

@test "the marker, then a non-zero exit, is not a pass" {
    run validate --image "oci:$LAYOUT:marker-then-fail" --expect pass --json "$T/r.json"
    [ "$status" -eq 1 ]
    [ "$(result marker-then-fail)" = invalid ]
    [[ $(reason marker-then-fail) == *"SUCCESS marker, then exited non-zero (exit 3)"* ]]
}

@test "the SUCCESS marker on stderr only is not a pass" {
    run validate --image "oci:$LAYOUT:stderr-only" --expect pass --json "$T/r.json"
    [ "$status" -eq 1 ]
    [ "$(result stderr-only)" = invalid ]
    [[ $(reason stderr-only) == *"on stderr, not stdout"* ]]
}

@test "a non-zero exit without the FAILURE marker is not the verdict fail" {
    run validate --image "oci:$LAYOUT:fail-no-marker" --expect fail --json "$T/r.json"
    [ "$status" -eq 1 ]
    [ "$(result fail-no-marker)" = invalid ]
}

@test "stale markers: another workload's name, a marker inside a line, a marker file of an earlier run" {
    # An image that prints the marker of another workload.
    run validate --image "oci:$LAYOUT:other-name" --expect pass --name other-name --json "$T/r.json"
    [ "$status" -eq 1 ]
    [[ $(reason other-name) == *"names another workload"* ]]
    # A marker that is not a whole line.
    LAYOUT=$T/img image inline 'echo "log: OPENSHELL_GPU_WORKLOAD_SUCCESS inline"' >/dev/null
    run validate --image "oci:$T/img:inline" --expect pass --json "$T/r.json"
    [ "$status" -eq 1 ]
    [ "$(result inline)" = invalid ]
    # The first run leaves a marker in /tmp and in its rootfs; the second
    # prints whatever it finds there and exits 0: each run gets a fresh
    # rootfs (read-only) and a fresh /tmp, so nothing reaches it.
    LAYOUT=$T/img image writer 'echo OPENSHELL_GPU_WORKLOAD_SUCCESS reader >/tmp/marker
        echo OPENSHELL_GPU_WORKLOAD_SUCCESS reader >/home/sandbox/marker 2>/dev/null
        echo OPENSHELL_GPU_WORKLOAD_SUCCESS writer' >/dev/null
    LAYOUT=$T/img image reader 'cat /tmp/marker /home/sandbox/marker 2>/dev/null; exit 0' >/dev/null
    LAYOUT=$T/img manifest "$T/m.yaml" writer=writer:pass reader=reader:pass
    run validate --manifest "$T/m.yaml" --json "$T/r.json"
    [ "$status" -eq 1 ]
    [ "$(result writer)" = pass ]
    [ "$(result reader)" = invalid ] || fail "the reader saw a stale marker:\n$output"
}

@test "a hanging workload is killed as a whole container at the timeout" {
    local tag=hang-$RANDOM$RANDOM a=7$RANDOM$RANDOM b=8$RANDOM$RANDOM
    LAYOUT=$T/img image "$tag" "sleep $a & sleep $b; echo OPENSHELL_GPU_WORKLOAD_SUCCESS $tag" >/dev/null
    run validate --image "oci:$T/img:$tag" --expect pass --timeout 2 --json "$T/r.json"
    [ "$status" -eq 1 ] || fail "exit $status:\n$output"
    [ "$(result "$tag")" = timeout ]
    [[ $(reason "$tag") == *"no exit within 2s"* ]]
    ! pgrep -fx "sleep ($a|$b)" >/dev/null || fail "left: $(pgrep -afx "sleep ($a|$b)")"
}

@test "Ctrl-C (SIGINT) kills and deletes the running container and still writes the report" {
    local tag=intr-$RANDOM$RANDOM a=7$RANDOM$RANDOM
    LAYOUT=$T/img image "$tag" "sleep $a; echo OPENSHELL_GPU_WORKLOAD_SUCCESS $tag" >/dev/null
    TMPDIR=$T/tmp "${RECORD[@]}" "$T/pids" "$BOX_VALIDATE" --image "oci:$T/img:$tag" --expect pass --timeout 120 \
        --json "$T/r.json" >"$T/out" 2>&1 &
    local v=$!
    local i
    for i in $(seq 200); do pgrep -fx "sleep $a" >/dev/null && break; sleep 0.1; done
    pgrep -fx "sleep $a" >/dev/null || fail "the workload never started: $(cat "$T/out")"
    kill -INT "$v"
    local rc=0
    wait "$v" || rc=$?
    [ "$rc" -eq 130 ] || fail "exit $rc: $(cat "$T/out")"
    ! pgrep -fx "sleep $a" >/dev/null || fail "left: $(pgrep -afx "sleep $a")"
    [[ $(reason "$tag") == *interrupted* ]] || fail "reason: $(reason "$tag")"
}

@test "an output flood is bounded and the verdict still comes from the marker after it" {
    LAYOUT=$T/img image flood 'yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 209715200
        echo; echo OPENSHELL_GPU_WORKLOAD_SUCCESS flood
        yes err | head -c 10485760 >&2' >/dev/null
    run validate --image "oci:$T/img:flood" --expect pass --capture-max 65536 --json "$T/r.json"
    [ "$status" -eq 0 ] || fail "exit $status:\n$output"
    jq -e '.workloads[0].stdout | .kept == 65536 and .bytes > 209715200 and
        .dropped == .bytes - .kept' "$T/r.json" >/dev/null || fail "$(jq '.workloads[0].stdout | del(.text)' "$T/r.json")"
    jq -e '.workloads[0].stderr | .kept == 65536 and .bytes == 10485760' "$T/r.json" >/dev/null
}

@test "whiteouts and opaque directories of a second layer are applied" {
    LAYOUT=$T/img image layered '
        [ ! -e /etc/removed ] || { echo "/etc/removed survived" >&2; exit 1; }
        [ ! -e /opt/old/a ] || { echo "/opt/old/a survived the opaque whiteout" >&2; exit 1; }
        [ "$(cat /opt/old/new)" = y ] || { echo "/opt/old/new missing" >&2; exit 1; }
        [ "$(cat /etc/kept)" = k ] || { echo "/etc/kept missing" >&2; exit 1; }
        if ls -a / /etc /opt /opt/old | grep -q "^\.wh\."; then echo "a whiteout file is visible" >&2; exit 1; fi
        echo OPENSHELL_GPU_WORKLOAD_SUCCESS layered' \
        --add 1:etc/removed=x --add 1:etc/kept=k --add 1:opt/old/a=x --add 1:opt/old/b=x \
        --whiteout etc/removed --opaque opt/old --add 2:opt/old/new=y >/dev/null
    run validate --image "oci:$T/img:layered" --expect pass --json "$T/r.json"
    [ "$status" -eq 0 ] || fail "exit $status:\n$output\n$(jq -r .workloads[0].stderr.text "$T/r.json")"
}

@test "a blob that does not match its digest is refused before anything runs" {
    local what
    for what in layer config manifest; do
        rm -rf "$T/img"
        LAYOUT=$T/img image "bad-$what" 'echo OPENSHELL_GPU_WORKLOAD_SUCCESS bad' --corrupt "$what" >/dev/null
        run validate --image "oci:$T/img:bad-$what" --expect pass --json "$T/r.json"
        [ "$status" -eq 1 ] || fail "$what: exit $status:\n$output"
        [ "$(result "bad-$what")" = error ]
        [[ $(reason "bad-$what") == *"does not match its digest"* ]] || fail "$what: $(reason "bad-$what")"
    done
}

@test "image references: by digest, by tag; a tag-only registry reference is refused" {
    local digest
    digest=$(LAYOUT=$T/img image bydigest 'echo OPENSHELL_GPU_WORKLOAD_SUCCESS bydigest')
    run validate --image "oci:$T/img@$digest" --expect pass --name bydigest --json "$T/r.json"
    [ "$status" -eq 0 ] || fail "exit $status:\n$output"
    [ "$(jq -r '.workloads[0].digest' "$T/r.json")" = "$digest" ]
    run validate --image "oci:$T/img:no-such-tag" --expect pass --json "$T/r.json"
    [ "$status" -eq 1 ]
    [[ $(reason no-such-tag) == *"no manifest tagged \`no-such-tag\`"* ]]
    run --separate-stderr validate --image registry.example:5000/openshell/smoke-pass:v1 --expect pass
    [ "$status" -eq 2 ]
    [[ $stderr == *"must be named by digest"* ]] || fail "$stderr"
    run --separate-stderr validate --image registry.example:5000/openshell/smoke-pass --expect pass
    [ "$status" -eq 2 ]
}

@test "a GPU workload on a host without a GPU is skipped, never passed" {
    [ ! -d /proc/driver/nvidia/gpus ] || skip "this host has an NVIDIA driver"
    run validate --image "oci:$LAYOUT:smoke-pass" --expect pass --gpu --json "$T/r.json" --junit "$T/r.xml"
    [ "$status" -eq 0 ] || fail "exit $status:\n$output"
    [ "$(result smoke-pass)" = skipped ]
    [[ $(reason smoke-pass) == *"no NVIDIA GPU"* ]]
    python3 -c 'import sys, xml.etree.ElementTree as E
c = E.parse(sys.argv[1]).getroot().find("testsuite/testcase")
assert c.find("skipped") is not None, "no <skipped>"' "$T/r.xml"
}

@test "--cdi-spec-dir: absolute paths only, at most 8; a GPU workload still needs a GPU" {
    run validate --image "oci:$LAYOUT:smoke-pass" --expect pass --gpu --cdi-spec-dir cdi
    [ "$status" -eq 2 ]
    [[ "$output" == *"--cdi-spec-dir: \`cdi\` is not an absolute path"* ]]
    local many=()
    for i in 1 2 3 4 5 6 7 8 9; do many+=(--cdi-spec-dir "/d$i"); done
    run validate --image "oci:$LAYOUT:smoke-pass" --expect pass --gpu "${many[@]}"
    [ "$status" -eq 2 ]
    [[ "$output" == *"--cdi-spec-dir: at most 8 directories"* ]]
    [ ! -d /proc/driver/nvidia/gpus ] || skip "this host has an NVIDIA driver"
    mkdir -p "$T/cdi"
    printf 'cdiVersion: 0.6.0\nkind: nvidia.com/gpu\ndevices: []\n' >"$T/cdi/nvidia.yaml"
    run validate --image "oci:$LAYOUT:smoke-pass" --expect pass --gpu --cdi-spec-dir "$T/cdi" \
        --json "$T/r.json"
    [ "$status" -eq 0 ] || fail "exit $status:\n$output"
    [ "$(result smoke-pass)" = skipped ]
    [[ $(reason smoke-pass) == *"no NVIDIA GPU"* ]]
}

@test "manifest: verdicts in order, JSON and JUnit reports, exit 1 on a mismatch" {
    manifest "$T/m.yaml" smoke-pass=smoke-pass:pass smoke-fail=smoke-fail:fail \
        silent-zero=silent-zero:pass marker-then-fail=marker-then-fail:pass
    run validate --manifest "$T/m.yaml" --json "$T/r.json" --junit "$T/r.xml"
    [ "$status" -eq 1 ] || fail "exit $status:\n$output"
    [ "$(jq -r '[.workloads[].result] | join(",")' "$T/r.json")" = pass,fail,invalid,invalid ]
    jq -e '.summary == {total: 4, matched: 2, mismatched: 2, skipped: 0} and .ok == false' "$T/r.json" >/dev/null
    python3 - "$T/r.xml" <<'EOF'
import sys, xml.etree.ElementTree as E
root = E.parse(sys.argv[1]).getroot()
s = root.find("testsuite")
assert (s.get("tests"), s.get("failures"), s.get("errors")) == ("4", "2", "0"), s.attrib
cases = {c.get("name"): c for c in s.findall("testcase")}
assert cases["smoke-pass"].find("failure") is None
assert "OPENSHELL_GPU_WORKLOAD_SUCCESS smoke-pass" in cases["smoke-pass"].find("system-out").text
assert cases["silent-zero"].find("failure") is not None
assert "FAILURE marker" not in (cases["smoke-fail"].find("system-out").text or "")
assert "deliberate" in cases["smoke-fail"].find("system-err").text
EOF
}

@test "reports stay valid with hostile output: markup, control bytes, invalid UTF-8" {
    LAYOUT=$T/img image hostile 'printf "<testcase name=\"x\"> & ]]> \001\033[31m \377\376 é\n"
        printf "\000\001 <b>\n" >&2
        echo OPENSHELL_GPU_WORKLOAD_SUCCESS hostile' >/dev/null
    run validate --image "oci:$T/img:hostile" --expect pass --json "$T/r.json" --junit "$T/r.xml"
    [ "$status" -eq 0 ] || fail "exit $status:\n$output"
    python3 - "$T/r.xml" "$T/r.json" <<'EOF'
import json, sys, xml.etree.ElementTree as E
case = E.parse(sys.argv[1]).getroot().find("testsuite/testcase")
out = case.find("system-out").text
assert '<testcase name="x"> & ]]>' in out, out
assert "\ufffd" in out and "é" in out, out
doc = json.load(open(sys.argv[2], encoding="utf-8"))
assert "\ufffd" in doc["workloads"][0]["stdout"]["text"]
EOF
}

@test "the harness refuses malformed manifests before running anything" {
    printf 'schema_version: 2\nworkloads: []\n' >"$T/m.yaml"
    run --separate-stderr validate --manifest "$T/m.yaml"
    [ "$status" -eq 2 ]
    [[ $stderr == *"schema_version \`2\` is not supported"* ]] || fail "$stderr"
    printf 'schema_version: 1\nworkloads:\n  - name: a\n    image: oci:x\n' >"$T/m.yaml"
    run --separate-stderr validate --manifest "$T/m.yaml"
    [ "$status" -eq 2 ]
    [[ $stderr == *"workloads[0] (a).expect: missing"* ]] || fail "$stderr"
    printf 'schema_version: 1\nworkloads:\n  - &a {name: a, image: "oci:x", expect: pass}\n  - *a\n' >"$T/m.yaml"
    run --separate-stderr validate --manifest "$T/m.yaml"
    [ "$status" -eq 2 ]
    [[ $stderr == *"aliases are not allowed"* ]] || fail "$stderr"
    run --separate-stderr validate --manifest "$T/no-such-file.yaml"
    [ "$status" -eq 2 ]
    [[ $stderr == *no-such-file.yaml* ]]
}

@test "parallel runs give the same verdicts as one at a time" {
    local a b
    manifest "$T/m.yaml" p1=smoke-pass:pass f1=smoke-fail:fail z1=silent-zero:pass \
        m1=marker-then-fail:pass s1=stderr-only:pass p2=smoke-pass:pass f2=smoke-fail:fail \
        n1=fail-no-marker:fail
    run validate --manifest "$T/m.yaml" --json "$T/r1.json"
    [ "$status" -eq 1 ]
    run validate --manifest "$T/m.yaml" --parallel 4 --json "$T/r4.json"
    [ "$status" -eq 1 ]
    a=$(jq -c '[.workloads[] | [.name, .result, .exit_code]]' "$T/r1.json")
    b=$(jq -c '[.workloads[] | [.name, .result, .exit_code]]' "$T/r4.json")
    [ "$a" = "$b" ] || fail "one at a time: $a\nparallel:     $b"
}

@test "the same images under runc give the same verdicts" {
    command -v runc >/dev/null || skip "runc is not installed"
    manifest "$T/m.yaml" smoke-pass=smoke-pass:pass smoke-fail=smoke-fail:fail \
        silent-zero=silent-zero:pass
    run validate --manifest "$T/m.yaml" --runtime runc --json "$T/r.json" --junit "$T/r.xml"
    [ "$status" -eq 1 ] || fail "exit $status:\n$output"
    [ "$(jq -r '[.workloads[].result] | join(",")' "$T/r.json")" = pass,fail,invalid ]
    [ "$(jq -r .runtime "$T/r.json")" = runc ]
}

@test "the same images under crun give the same verdicts, and its timeout kills the container" {
    command -v crun >/dev/null || skip "crun is not installed"
    # crun 1.8 refuses a hybrid host whose cgroup2 mount lists controllers:
    # hide the list in a private mount namespace (as bench/run.sh does).
    cat >"$T/crun" <<'EOF'
#!/bin/sh
f=/sys/fs/cgroup/unified/cgroup.controllers
[ -e "$f" ] || exec crun "$@"
exec unshare -m sh -c 'mount --bind /dev/null "$0" && exec crun "$@"' "$f" "$@"
EOF
    chmod +x "$T/crun"
    local tag=hang-$RANDOM$RANDOM a=6$RANDOM$RANDOM
    LAYOUT=$T/img image "$tag" "sleep $a; echo OPENSHELL_GPU_WORKLOAD_SUCCESS $tag" >/dev/null
    manifest "$T/m.yaml" smoke-pass=smoke-pass:pass smoke-fail=smoke-fail:fail \
        silent-zero=silent-zero:pass
    echo "  - {name: $tag, image: \"oci:$T/img:$tag\", expect: pass}" >>"$T/m.yaml"
    run validate --manifest "$T/m.yaml" --runtime crun --runtime-path "$T/crun" --timeout 3 \
        --json "$T/r.json"
    [ "$status" -eq 1 ] || fail "exit $status:\n$output"
    [ "$(jq -r '[.workloads[].result] | join(",")' "$T/r.json")" = pass,fail,invalid,timeout ] ||
        fail "$output"
    ! pgrep -fx "sleep $a" >/dev/null || fail "left: $(pgrep -afx "sleep $a")"
}

@test "registry round trip: push with skopeo to docker-registry on loopback, run by digest" {
    command -v skopeo >/dev/null || skip "skopeo is not installed (scripts/install-deps)"
    command -v docker-registry >/dev/null || skip "docker-registry is not installed (scripts/install-deps)"
    local port digest pid
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$T/registry"
    printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: "127.0.0.1:%s"}\n' \
        "$T/registry" "$port" >"$T/registry.yml"
    docker-registry serve "$T/registry.yml" >"$T/registry.log" 2>&1 3>&- &
    pid=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break
        sleep 0.1
    done
    skopeo --insecure-policy copy --quiet --dest-tls-verify=false --digestfile "$T/digest" \
        "oci:$LAYOUT:smoke-pass" "docker://127.0.0.1:$port/openshell/gpu-workload-smoke-pass:t1"
    digest=$(cat "$T/digest")
    manifest "$T/m.yaml"
    printf '  - name: smoke-pass\n    image: "127.0.0.1:%s/openshell/gpu-workload-smoke-pass@%s"\n    expect: pass\n' \
        "$port" "$digest" >>"$T/m.yaml"
    run validate --manifest "$T/m.yaml" --insecure-registry --json "$T/r.json"
    [ "$status" -eq 0 ] || { kill "$pid"; fail "exit $status:\n$output\n$(cat "$T/registry.log")"; }
    [ "$(jq -r '.workloads[0].digest' "$T/r.json")" = "$digest" ]
    # A digest the registry does not have: an error naming the copy.
    run validate --image "127.0.0.1:$port/openshell/gpu-workload-smoke-pass@sha256:$(printf '0%.0s' {1..64})" \
        --expect pass --insecure-registry --pull-timeout 20 --json "$T/r.json"
    kill "$pid"
    wait "$pid" || true
    [ "$status" -eq 1 ]
    [[ $(jq -r '.workloads[0].reason' "$T/r.json") == *"skopeo copy"* ]]
}

# ---- the real validation images (make images) ---------------------------------

real_manifest() {
    [ -f "$REPO/build/images/workloads.yaml" ] ||
        skip "build/images/workloads.yaml is missing: run \`make images\` (make acceptance-validate does)"
}

@test "make images: smoke-pass passes, smoke-fail fails as expected, cuda-basic runs only with a GPU" {
    real_manifest
    run bash -c "cd '$REPO' && TMPDIR='$T/tmp' '$BOX' validate --manifest build/images/workloads.yaml --json '$T/r.json' --junit '$T/r.xml'"
    [ "$status" -eq 0 ] || fail "exit $status:\n$output"
    [ "$(result smoke-pass)" = pass ]
    [ "$(result smoke-fail)" = fail ]
    jq -e '.workloads[] | select(.name == "smoke-fail") | .exit_code == 42' "$T/r.json" >/dev/null
    if [ -d /proc/driver/nvidia/gpus ]; then
        [ "$(result cuda-basic)" = pass ] || fail "cuda-basic: $(reason cuda-basic)"
    else
        [ "$(result cuda-basic)" = skipped ]
    fi
    # every image ran by the digest the manifest names
    jq -e '[.workloads[] | select(.result != "skipped") | .digest as $d | .image | endswith($d)] | all' \
        "$T/r.json" >/dev/null || fail "$(jq -c '[.workloads[] | [.image, .digest]]' "$T/r.json")"
}

@test "make images: the smoke images under runc give the same verdicts" {
    real_manifest
    command -v runc >/dev/null || skip "runc is not installed"
    run bash -c "cd '$REPO' && TMPDIR='$T/tmp' exec sh -c 'echo \$\$ >>\"\$0\"; exec \"\$@\"' '$T/pids' '$BOX_VALIDATE' --manifest build/images/workloads.yaml --runtime runc --json '$T/r.json'"
    [ "$status" -eq 0 ] || fail "exit $status:\n$output"
    [ "$(jq -r '[.workloads[] | .result] | join(",")' "$T/r.json")" = pass,fail,skipped ]
}
