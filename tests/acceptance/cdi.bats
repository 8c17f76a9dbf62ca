#!/usr/bin/env bats
# CDI: `box cdi inject` against golden files for each edit type and spec
# version, the cdi commands, and devices injected into real containers by
# --device, cdi.k8s.io annotations and NVIDIA_VISIBLE_DEVICES, on this
# host's cgroup layout and on a pure cgroup v2 one. The CDI-0N tests are
# the security bar's NVIDIA toolkit classes (docs/cdi.md).
# shellcheck disable=SC2016,SC2154

load helpers

setup_file() { acc_setup_file; }
teardown_file() { acc_teardown_file; }
setup() {
    acc_setup
    CDI=$BUNDLE.cdi # a spec directory
    HOSTDEV=$BUNDLE.hostdev
    mkdir -p "$CDI" "$HOSTDEV"
    chmod 0755 "$CDI" "$HOSTDEV"
}
teardown() { acc_teardown; }

GOLDEN=$BATS_TEST_DIRNAME/cdi/golden

# spec NAME TEXT: a spec file in $CDI, as root would install it.
spec() {
    printf '%s\n' "$2" >"$CDI/$1"
    chmod 0644 "$CDI/$1"
}

# free_major: a char major no driver of this host registered, so that
# opening a node made with it gives ENXIO: 195 (NVIDIA's) unless taken, then
# the local and experimental ranges, then the dynamic ones.
free_major() {
    local m
    for m in 195 $(seq 60 63) $(seq 120 127) $(seq 240 254) $(seq 234 239) $(seq 384 511); do
        if ! char_driver "$m"; then
            echo "$m"
            return
        fi
    done
    return 1
}

# fake_nodes: $HOSTDEV/fake0 and fake1 (MAJOR:0, MAJOR:1), a data file.
fake_nodes() {
    MAJOR=$(free_major) || skip "no free char major on this host"
    mknod "$HOSTDEV/fake0" c "$MAJOR" 0
    mknod "$HOSTDEV/fake1" c "$MAJOR" 1
    mkdir -p "$HOSTDEV/data"
    echo from-the-host >"$HOSTDEV/data/hello"
}

# fake_spec KIND: a spec with device "0" (fake0, env, a read-only mount)
# and "1" (fake1), each node filled in from the host node.
fake_spec() {
    spec fake.json "$(jq -n --arg kind "$1" --arg h "$HOSTDEV" '{
        cdiVersion: "0.5.0", kind: $kind,
        containerEdits: {env: ["CDI_SPEC=1"]},
        devices: [
          {name: "0", containerEdits: {
             env: ["CDI_DEVICE=0"],
             deviceNodes: [{path: "/dev/fake0", hostPath: ($h + "/fake0")}],
             mounts: [{hostPath: ($h + "/data"), containerPath: "/cdi-data",
                       options: ["ro", "nosuid", "nodev", "bind"]}]}},
          {name: "1", containerEdits: {
             deviceNodes: [{path: "/dev/fake1", hostPath: ($h + "/fake1")}]}}]}')"
}

# probe_args: what the container checks; /fake1b is the host's fake1 bound
# in by the config (not by CDI), so the device cgroup must refuse it.
probe_args() {
    set_config '.mounts += [{"destination": "/fake1b", "type": "bind", "source": $s,
        "options": ["bind"]}]' --arg s "$HOSTDEV/fake1"
    set_args /bin/boxcheck stat /dev/fake0 -- open /dev/fake0 rw -- stat /dev/fake1 \
        -- open /fake1b rw -- read /cdi-data/hello -- report
}

assert_fake0_only() {
    assert_status 0
    assert_contains "$output" "stat:/dev/fake0=type=chr mode=0"
    assert_contains "$output" "rdev=$MAJOR:0"
    assert_line_present "open:/dev/fake0=err:ENXIO"
    assert_line_present "stat:/dev/fake1=err:ENOENT"
    assert_line_present "open:/fake1b=err:EPERM"
    assert_contains "$output" "read:/cdi-data/hello=ok:from-the-host"
    assert_kv env.CDI_SPEC 1
    assert_kv env.CDI_DEVICE 0
}

# ---- inject: golden files ---------------------------------------------------------------------

@test "cdi inject: each edit type and spec version gives its golden config" {
    local n=0 c dir
    for c in "$GOLDEN"/*/; do
        c=${c%/}
        [ -f "$c/want.json" ] || continue
        dir=$BUNDLE.g$n
        mkdir -p "$dir" && chmod 0755 "$dir"
        cp "$c"/spec.* "$dir/" && chmod 0644 "$dir"/spec.*
        run --separate-stderr "$BOX" cdi inject --device "$(cat "$c/device")" \
            --cdi-spec-dir "$dir" <"$GOLDEN/../config.json"
        [ "$status" -eq 0 ] || fail "$(basename "$c"): exit $status: $stderr" || return
        diff <(jq -S . "$c/want.json") <(jq -S . <<<"$output") ||
            fail "$(basename "$c"): output differs from want.json" || return
        n=$((n + 1))
    done
    [ "$n" -ge 10 ] || fail "only $n golden cases ran"
}

@test "cdi inject: a spec declaring too low a version fails naming the file and the field" {
    local n=0 c dir
    for c in "$GOLDEN"/*/; do
        c=${c%/}
        [ -f "$c/error" ] || continue
        dir=$BUNDLE.g$n
        mkdir -p "$dir" && chmod 0755 "$dir"
        cp "$c/spec.json" "$dir/" && chmod 0644 "$dir/spec.json"
        run --separate-stderr "$BOX" cdi inject --device "$(cat "$c/device")" \
            --cdi-spec-dir "$dir" <"$GOLDEN/../config.json"
        assert_one_line_error "$dir/spec.json" "$(cat "$c/error")" "unresolvable" || return
        run --separate-stderr "$BOX" cdi validate "$dir/spec.json"
        assert_one_line_error "$dir/spec.json" "$(cat "$c/error")" || return
        n=$((n + 1))
    done
    [ "$n" -ge 5 ] || fail "only $n cases ran"
}

@test "cdi inject: a config that requests nothing comes out byte for byte, no spec read" {
    spec broken.json '{"not": "a spec"}'
    run --separate-stderr "$BOX" cdi inject --cdi-spec-dir "$CDI" <"$GOLDEN/../config.json"
    assert_status 0
    diff "$GOLDEN/../config.json" <(printf '%s\n' "$output")
    # The same directory, read: the broken file is reported.
    run --separate-stderr "$BOX" cdi inject --cdi-spec-dir "$CDI" --device a.com/b=c \
        <"$GOLDEN/../config.json"
    assert_one_line_error "unresolvable CDI devices \`a.com/b=c\`" "$CDI/broken.json" \
        "unknown field \`not\`"
}

@test "cdi validate and list: NVIDIA-style YAML and JSON specs; bad names and usage fail" {
    spec nvidia.yaml "$(sed -n '/^---$/,$p' "$GOLDEN/hostpath-0.5.0/spec.yaml")"
    spec other.json "$(cat "$GOLDEN/env-0.3.0/spec.json")"
    run "$BOX" cdi validate "$CDI/nvidia.yaml" "$CDI/other.json"
    assert_status 0
    assert_line_present "$CDI/nvidia.yaml: ok: cdiVersion 0.5.0, kind nvidia.com/gpu, 1 device"
    run "$BOX" cdi validate --format yaml - <"$CDI/nvidia.yaml"
    assert_status 0
    run "$BOX" cdi list --cdi-spec-dir "$CDI"
    assert_status 0
    assert_line_present "$(printf 'nvidia.com/gpu=0\t%s' "$CDI/nvidia.yaml")"
    assert_line_present "$(printf 'example.com/test=env\t%s' "$CDI/other.json")"
    run "$BOX" cdi list --cdi-spec-dir "$CDI" --format json
    [ "$(jq -r '.[] | select(.spec | endswith("other.json")) | .name' <<<"$output")" = \
        example.com/test=env ] || fail "list --format json: $output"
    run --separate-stderr "$BOX" cdi inject --device nvidia.com/gpu <"$GOLDEN/../config.json"
    assert_one_line_error "nvidia.com/gpu" "--device"
    run --separate-stderr "$BOX" cdi frob
    assert_one_line_error "unknown command \`frob\`"
    run --separate-stderr "$BOX" cdi validate "$CDI/missing.json"
    assert_one_line_error "$CDI/missing.json"
}

# ---- real containers --------------------------------------------------------------------------

@test "run --device: node, env and mount reach the container; the cgroup allows only that node" {
    fake_nodes
    fake_spec example.com/fake
    probe_args
    run box_run "$ID" --device example.com/fake=0 --cdi-spec-dir "$CDI"
    assert_fake0_only
    # create stores the edited config: what hooks and exec read.
    box_create "$ID" --device example.com/fake=0 --cdi-spec-dir "$CDI"
    [ "$(jq -r '.annotations | length' "$BUNDLE/config.json")" = 0 ]
    run box state "$ID"
    assert_status 0
    box delete "$ID"
}

@test "run: a cdi.k8s.io annotation requests the device" {
    fake_nodes
    fake_spec example.com/fake
    probe_args
    set_config '.annotations["cdi.k8s.io/test"] = "example.com/fake=0"'
    run box_run "$ID" --cdi-spec-dir "$CDI"
    assert_fake0_only
}

@test "run: NVIDIA_VISIBLE_DEVICES requests GPUs by index; void and a missing spec request none" {
    fake_nodes
    fake_spec nvidia.com/gpu
    probe_args
    set_config '.process.env += ["NVIDIA_VISIBLE_DEVICES=0"]'
    run box_run "$ID" --cdi-spec-dir "$CDI"
    assert_fake0_only
    set_config '.process.env += ["NVIDIA_VISIBLE_DEVICES=void"]'
    run box_run "$ID" --cdi-spec-dir "$CDI"
    assert_status 0
    assert_line_present "stat:/dev/fake0=err:ENOENT"
    # No nvidia.com/gpu spec: an image's NVIDIA_VISIBLE_DEVICES=all is inert.
    rm "$CDI/fake.json"
    set_config '.process.env += ["NVIDIA_VISIBLE_DEVICES=all"]'
    run box_run "$ID" --cdi-spec-dir "$CDI"
    assert_status 0
    assert_line_present "stat:/dev/fake0=err:ENOENT"
}

v2_only() {
    unshare -m sh -c 'mount --make-rprivate / && umount -l /sys/fs/cgroup &&
        mount -t cgroup2 none /sys/fs/cgroup && exec "$@"' sh "$@"
}

@test "run --device on a pure cgroup v2 layout: the eBPF device program allows only the node" {
    require_box "the layout is simulated for box's detection"
    grep -qw cgroup2 /proc/filesystems || skip "the kernel has no cgroup2 filesystem"
    fake_nodes
    fake_spec example.com/fake
    probe_args
    without_namespace cgroup
    run v2_only env BOXTEST="$ACC_TAG" "$BOX" --root "$BOX_ROOT" run --bundle "$BUNDLE" \
        --device example.com/fake=0 --cdi-spec-dir "$CDI" "$ID"
    assert_fake0_only
}

@test "create: an unresolvable device fails naming it and the directories searched, no residue" {
    fake_nodes
    fake_spec example.com/fake
    run --separate-stderr box_create "$ID" --device example.com/fake=7 --cdi-spec-dir "$CDI" \
        --cdi-spec-dir "$CDI.none"
    assert_one_line_error "unresolvable CDI devices \`example.com/fake=7\`" \
        "searched $CDI, $CDI.none"
    [ ! -e "$BOX_ROOT/$ID" ] || fail "state directory left behind"
}

@test "createContainer hooks from CDI run after mounts and /proc, before the read-only root" {
    fake_nodes
    local hooks=$BUNDLE.hooks r=$BUNDLE/rootfs
    mkdir -p "$hooks"
    # The hook fails (and so create) unless /proc of the new pid namespace
    # and the CDI mount are in place; it writes into the root, which only
    # works before the root is remounted read-only.
    spec hook.json "$(jq -n --arg b "$BOXCHECK" --arg p "$hooks/cc" --arg r "$r" \
        --arg d "$HOSTDEV" --arg tag "BOXTEST=$ACC_TAG" '{
        cdiVersion: "0.5.0", kind: "example.com/hook",
        devices: [{name: "h", containerEdits: {
          mounts: [{hostPath: ($d + "/data"), containerPath: "/cdi-data", options: ["bind"]}],
          hooks: [{hookName: "createContainer", path: $b, env: [$tag],
                   args: ["boxcheck", "wait", ($r + "/proc/1/stat"), "0.1"]},
                  {hookName: "createContainer", path: $b, env: [$tag],
                   args: ["boxcheck", "wait", ($r + "/cdi-data/hello"), "0.1"]},
                  {hookName: "createContainer", path: $b, env: [$tag],
                   args: ["boxcheck", "hook", $p, "--", "write", ($r + "/written-by-hook"),
                          "x"]}]}}]}')"
    set_config '.root.readonly = true'
    set_args /bin/boxcheck read /written-by-hook -- write /ro-probe y
    run box_run "$ID" --device example.com/hook=h --cdi-spec-dir "$CDI"
    assert_status 0
    [ -f "$hooks/cc.stdin" ] || fail "the hook did not run"
    # Written by the hook before the root was made read-only ...
    assert_contains "$output" "read:/written-by-hook=ok:x"
    # ... which the container itself then finds read-only.
    assert_contains "$output" "EROFS"
    # The same hook fails create when what it waits for is not there.
    rm "$HOSTDEV/data/hello"
    run --separate-stderr box_create "$ID" --device example.com/hook=h --cdi-spec-dir "$CDI"
    assert_one_line_error "createContainer"
}

# ---- the security bar: NVIDIA toolkit classes -------------------------------------------------

@test "CDI-01: a symlink planted at a CDI device node path never makes box write outside the root" {
    fake_nodes
    local sentinel=$BUNDLE.sentinel
    # The same path exists on the host and inside the root: box must pick
    # the one inside.
    mkdir -p "$sentinel" "$BUNDLE/rootfs/opt" "$BUNDLE/rootfs$sentinel"
    echo untouched >"$sentinel/file"
    echo image >"$BUNDLE/rootfs$sentinel/file"
    ln -s "$sentinel" "$BUNDLE/rootfs/opt/dir"       # a planted parent directory
    ln -s "$sentinel/file" "$BUNDLE/rootfs/opt/node" # a planted final component
    spec s.json "$(jq -n --arg h "$HOSTDEV" '{cdiVersion: "0.5.0", kind: "example.com/s",
        devices: [{name: "x", containerEdits: {deviceNodes: [
          {path: "/opt/dir/fake0", hostPath: ($h + "/fake0")},
          {path: "/opt/node", hostPath: ($h + "/fake0")}]}}]}')"
    set_args /bin/boxcheck stat /opt/node -- stat /opt/dir/fake0
    run box_run "$ID" --device example.com/s=x --cdi-spec-dir "$CDI"
    assert_status 0
    assert_contains "$output" "stat:/opt/node=type=chr"
    assert_contains "$output" "stat:/opt/dir/fake0=type=chr"
    [ "$(ls -A "$sentinel")" = file ] || fail "box wrote into the host: $(ls -A "$sentinel")"
    [ -c "$BUNDLE/rootfs$sentinel/fake0" ] || fail "the node is not where the symlink leads in the root"
    [ "$(cat "$sentinel/file")" = untouched ] && [ -f "$sentinel/file" ] ||
        fail "the host sentinel file was changed"
}

@test "CDI-02: a symlink planted at a CDI mount target keeps the mount inside the root" {
    fake_nodes
    local sentinel=$BUNDLE.sentinel
    mkdir -p "$sentinel" "$BUNDLE/rootfs/cdi" "$BUNDLE/rootfs$sentinel"
    ln -s "$sentinel" "$BUNDLE/rootfs/cdi/target"
    spec s.json "$(jq -n --arg h "$HOSTDEV" '{cdiVersion: "0.3.0", kind: "example.com/s",
        devices: [{name: "x", containerEdits: {mounts: [
          {hostPath: ($h + "/data"), containerPath: "/cdi/target", options: ["ro", "bind"]}]}}]}')"
    set_args /bin/boxcheck read /cdi/target/hello
    run box_run "$ID" --device example.com/s=x --cdi-spec-dir "$CDI"
    assert_status 0
    assert_contains "$output" "read:/cdi/target/hello=ok:from-the-host"
    [ -z "$(ls -A "$sentinel")" ] || fail "the mount reached the host: $(ls -A "$sentinel")"
    ! grep -qF " $sentinel " /proc/self/mountinfo || fail "a mount is on the host sentinel"
}

@test "CDI-03: a spec mount whose containerPath climbs out with .. is refused before anything runs" {
    fake_nodes
    spec s.json "$(jq -n --arg h "$HOSTDEV" '{cdiVersion: "0.3.0", kind: "example.com/s",
        devices: [{name: "x", containerEdits: {mounts: [
          {hostPath: ($h + "/data"), containerPath: "/../../../../../tmp/cdi-escape",
           options: ["bind"]}]}}]}')"
    run --separate-stderr box_create "$ID" --device example.com/s=x --cdi-spec-dir "$CDI"
    assert_one_line_error "$CDI/s.json" "devices[0].containerEdits.mounts[0].containerPath" \
        "must not contain \`..\`"
    [ ! -e /tmp/cdi-escape ] || fail "/tmp/cdi-escape exists on the host"
    [ ! -e "$BOX_ROOT/$ID" ] || fail "state directory left behind"
}

@test "CDI-04: CDI hooks get exactly their own env, no LD_PRELOAD, and a cwd outside the root" {
    local hooks=$BUNDLE.hooks
    mkdir -p "$hooks"
    spec h.json "$(jq -n --arg b "$BOXCHECK" --arg hk "$hooks" --arg tag "BOXTEST=$ACC_TAG" '{
        cdiVersion: "0.3.0", kind: "example.com/h",
        devices: [{name: "x", containerEdits: {hooks: [
          {hookName: "createContainer", path: $b, args: ["boxcheck", "hook", ($hk + "/cc")],
           env: [$tag, "HOOK_ONLY=1"]},
          {hookName: "prestart", path: $b, args: ["boxcheck", "hook", ($hk + "/pre")],
           env: [$tag, "HOOK_ONLY=1"]}]}}]}')"
    set_config '.process.env += ["LD_PRELOAD=/image/evil.so"]'
    run env LD_PRELOAD=/nonexistent-box-test.so BOXTEST="$ACC_TAG" timeout 60 "$BOX" \
        --root "$BOX_ROOT" run --bundle "$BUNDLE" --device example.com/h=x --cdi-spec-dir "$CDI" \
        "$ID"
    assert_status 0
    local h report vars cwd
    for h in cc pre; do
        report=$(cat "$hooks/$h.report")
        vars=$(grep '^env\.' <<<"$report" | cut -d= -f1 | sort | tr '\n' ' ')
        [ "$vars" = "env.BOXTEST env.HOOK_ONLY " ] || fail "$h hook env: $vars"
        cwd=$(kv cwd "$report")
        [[ $cwd != "$BUNDLE/rootfs"* ]] || fail "$h hook ran inside the root: $cwd"
    done
}

@test "CDI-05: a world-writable or foreign-owned spec file is refused, with a warning" {
    fake_nodes
    fake_spec example.com/fake
    chmod 0666 "$CDI/fake.json"
    run --separate-stderr box_create "$ID" --device example.com/fake=0 --cdi-spec-dir "$CDI"
    assert_one_line_error "unresolvable" "$CDI/fake.json" "writable by group or others"
    run --separate-stderr "$BOX" cdi list --cdi-spec-dir "$CDI"
    assert_status 0
    assert_contains "$stderr" "refused"
    [ -z "$output" ] || fail "listed a refused spec: $output"
    chmod 0644 "$CDI/fake.json"
    chown 65534 "$CDI/fake.json"
    run --separate-stderr box_create "$ID" --device example.com/fake=0 --cdi-spec-dir "$CDI"
    assert_one_line_error "owned by uid 65534"
    chown 0 "$CDI/fake.json"
    chmod 0777 "$CDI"
    run --separate-stderr box_create "$ID" --device example.com/fake=0 --cdi-spec-dir "$CDI"
    assert_one_line_error "$CDI" "writable by group or others"
    [ ! -e "$BOX_ROOT/$ID" ] || fail "state directory left behind"
}

@test "CDI-06: hostile specs (unknown field, huge, deep YAML, alias bomb) fail without side effects" {
    local f
    spec unknown.json '{"cdiVersion": "0.3.0", "kind": "a.com/b", "devices": [{"name": "x",
        "containerEdits": {"env": ["A=1"], "deviceNodes": [{"path": "/dev/x", "evil": 1}]}}]}'
    head -c $((5 << 20)) /dev/zero | tr '\0' ' ' >"$CDI/huge.json"
    chmod 0644 "$CDI/huge.json"
    spec deep.yaml "$(printf 'a: '; head -c 20000 /dev/zero | tr '\0' '['; echo)"
    {
        echo 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]'
        for i in 1 2 3 4 5 6 7 8 9; do
            p=$((i - 1))
            echo "a$i: &a$i [*a$p, *a$p, *a$p, *a$p, *a$p, *a$p, *a$p, *a$p, *a$p, *a$p]"
        done
    } >"$CDI/bomb.yaml"
    chmod 0644 "$CDI/bomb.yaml"
    declare -A want=([unknown.json]="deviceNodes[0]: unknown field \`evil\`"
        [huge.json]="more than the limit" [deep.yaml]="deeper than 64"
        [bomb.yaml]="alias expansion")
    for f in "${!want[@]}"; do
        run --separate-stderr timeout 20 "$BOX" cdi validate "$CDI/$f"
        assert_one_line_error "$CDI/$f" "${want[$f]}" || return
    done
    run --separate-stderr box_create "$ID" --device a.com/b=x --cdi-spec-dir "$CDI"
    assert_one_line_error "unresolvable CDI devices \`a.com/b=x\`" "4 spec files refused"
    [ ! -e "$BOX_ROOT/$ID" ] || fail "state directory left behind"
}

@test "CDI-07: a device defined by two specs in one directory is a conflict and is not used" {
    fake_nodes
    fake_spec example.com/fake
    cp "$CDI/fake.json" "$CDI/copy.json"
    run --separate-stderr box_create "$ID" --device example.com/fake=0 --cdi-spec-dir "$CDI"
    assert_one_line_error "example.com/fake=0" "$CDI/copy.json" "$CDI/fake.json" "conflict"
    # In a later directory the same device simply wins.
    mkdir -p "$CDI.2" && chmod 0755 "$CDI.2"
    mv "$CDI/copy.json" "$CDI.2/"
    probe_args
    run box_run "$ID" --device example.com/fake=0 --cdi-spec-dir "$CDI" --cdi-spec-dir "$CDI.2"
    assert_fake0_only
}
