#!/usr/bin/env bats
# `box cdi generate` on a fake NVIDIA host (cdi_fakehost.bash), `box hook`,
# and the generated spec end to end through `box run --device`.
# shellcheck disable=SC2016,SC2154,SC2030,SC2031

load helpers
load cdi_fakehost

setup_file() {
    acc_setup_file
    [ -z "${ACC_SKIP_REASON:-}" ] || return 0
    command -v gcc >/dev/null || fail "gcc is needed to build the fake libraries" || return
    fakehost_build "$ACC_DIR/host"
}
teardown_file() { acc_teardown_file; }
setup() {
    acc_setup
    fakehost_vars "$ACC_DIR/host"
    SPECS=$ACC_DIR/specs.$BATS_TEST_NUMBER
    mkdir -p "$SPECS"
}
teardown() {
    rm -rf "$SPECS"
    acc_teardown
}

# gen [ARGS...]: generate over the fake host.
gen() {
    "$BOX" cdi generate --driver-root "$FAKE_DRIVER" --dev-root "$FAKE_DEV" \
        --proc-root "$FAKE_PROC" "$@"
}

# sorted JQ FILE: a jq query's lines, sorted.
sorted() {
    jq -r "$1" "$2" | sort
}

# expect_lines TEXT LINE...: TEXT is exactly these lines, in any order.
expect_lines() {
    local got want
    got=$(sort <<<"$1")
    shift
    want=$(printf '%s\n' "$@" | sort)
    [ "$got" = "$want" ] || fail "expected:\n$want\ngot:\n$got"
}

@test "cdi generate: finds exactly what the fake host has, by index, UUID and all" {
    gen --format json >"$SPECS/nvidia.json"
    local s=$SPECS/nvidia.json v=$FAKE_VERSION l=$FAKE_LIBDIR
    [ "$(jq -r .cdiVersion "$s")" = 0.5.0 ] || fail "cdiVersion: $(jq -r .cdiVersion "$s")"
    [ "$(jq -r .kind "$s")" = nvidia.com/gpu ]
    expect_lines "$(jq -r '.devices[].name' "$s")" 0 1 "$FAKE_UUID0" "$FAKE_UUID1" all
    # index 0 is the first GPU in PCI order: nvidia0 and its DRM nodes; no decoy nvidia7
    expect_lines "$(jq -r '.devices[] | select(.name == "0") | .containerEdits.deviceNodes[] |
        .path + " " + .hostPath' "$s")" \
        "/dev/nvidia0 $FAKE_DEV/dev/nvidia0" "/dev/dri/card1 $FAKE_DEV/dev/dri/card1" \
        "/dev/dri/renderD128 $FAKE_DEV/dev/dri/renderD128"
    expect_lines "$(jq -r --arg u "$FAKE_UUID1" '.devices[] | select(.name == $u) |
        .containerEdits.deviceNodes[].path' "$s")" /dev/nvidia1
    expect_lines "$(jq -r '.devices[] | select(.name == "all") |
        .containerEdits.deviceNodes[].path' "$s")" \
        /dev/nvidia0 /dev/nvidia1 /dev/dri/card1 /dev/dri/renderD128
    expect_lines "$(sorted '.containerEdits.deviceNodes[].path' "$s")" \
        /dev/nvidiactl /dev/nvidia-modeset /dev/nvidia-uvm /dev/nvidia-uvm-tools
    # libraries of this version only (not libnvidia-old.so.470.1), one found only
    # through the linker cache; binaries; this version's GSP firmware; the socket
    expect_lines "$(sorted '.containerEdits.mounts[].containerPath' "$s")" \
        "${FAKE_LIBS[@]}" "${FAKE_BINS[@]}" "${FAKE_FIRMWARE[@]}" "${FAKE_SOCKETS[@]}"
    [ "$(jq -r '[.containerEdits.mounts[].options | join(",")] | unique | .[]' "$s")" = \
        ro,nosuid,nodev,rbind,rprivate ]
    # hostPath is on the host, the symlinked binary resolved inside the driver root
    [ "$(jq -r '.containerEdits.mounts[] | select(.containerPath == "/usr/bin/nvidia-smi") |
        .hostPath' "$s")" = "$FAKE_DRIVER/usr/lib/nvidia/bin/nvidia-smi" ]
    [ "$(jq -r '.containerEdits.mounts[] | select(.containerPath | endswith("libcuda.so.'"$v"'")) |
        .hostPath' "$s")" = "$FAKE_DRIVER$l/libcuda.so.$v" ]
    # the hooks name box itself: soname links from the real SONAMEs, the cache folders
    [ "$(jq -r '[.containerEdits.hooks[].path] | unique | .[]' "$s")" = "$BOX" ]
    expect_lines "$(jq -r '.containerEdits.hooks[0].args[3:][]' "$s" | grep -v '^--link$')" \
        "libcuda.so.$v::$l/libcuda.so.1" "libcuda.so.1::$l/libcuda.so" \
        "libnvidia-ml.so.$v::$l/libnvidia-ml.so.1" "libnvidia-ml.so.1::$l/libnvidia-ml.so" \
        "libnvidia-ptxjitcompiler.so.$v::$l/libnvidia-ptxjitcompiler.so.1" \
        "libnvidia-ptxjitcompiler.so.1::$l/libnvidia-ptxjitcompiler.so" \
        "libnvidia-nvvm.so.$v::$FAKE_NVVMDIR/libnvidia-nvvm.so.4" \
        "libnvidia-nvvm.so.4::$FAKE_NVVMDIR/libnvidia-nvvm.so"
    [ "$(jq -c '.containerEdits.hooks[1].args' "$s")" = \
        "[\"box\",\"hook\",\"update-ldcache\",\"--folder\",\"$l\",\"--folder\",\"$FAKE_NVVMDIR\"]" ]
    run "$BOX" cdi validate "$s"
    assert_status 0
}

@test "cdi generate: a driver under its own prefix: its programs (not shell wrappers) on PATH, its firmware" {
    # /opt/nvidia/{lib64,bin,firmware}, as some images install the driver,
    # with /usr/bin/nvidia-smi a shell wrapper that execs the real one: the
    # wrapper would not run in a container that lacks /opt/nvidia/bin.
    local d=$ACC_DIR/prefixed v=$FAKE_VERSION
    fakehost_lib "$d/opt/nvidia/lib64" "libcuda.so.$v" libcuda.so.1
    fakehost_lib "$d/opt/nvidia/lib64" "libnvidia-ml.so.$v" libnvidia-ml.so.1
    mkdir -p "$d/etc" "$d/usr/bin" "$d/opt/nvidia/firmware/nvidia/$v"
    echo /opt/nvidia/lib64 >"$d/etc/ld.so.conf"
    ldconfig -r "$d"
    fakehost_bin "$d/opt/nvidia/bin/nvidia-smi"
    fakehost_bin "$d/opt/nvidia/bin/nvidia-debugdump"
    printf '#!/bin/sh\nexec /opt/nvidia/bin/nvidia-smi "$@"\n' >"$d/usr/bin/nvidia-smi"
    printf '#!/bin/sh\nexit 0\n' >"$d/usr/bin/nvidia-persistenced"
    chmod 755 "$d/usr/bin/nvidia-smi" "$d/usr/bin/nvidia-persistenced"
    head -c 64 /dev/urandom >"$d/opt/nvidia/firmware/nvidia/$v/gsp_ga10x.bin"
    "$BOX" cdi generate --driver-root "$d" --dev-root "$FAKE_DEV" --proc-root "$FAKE_PROC" \
        --format json >"$SPECS/p.json"
    expect_lines "$(jq -r '.containerEdits.mounts[] | select(.containerPath | test("lib64") | not) |
        .containerPath + " " + .hostPath' "$SPECS/p.json")" \
        "/usr/bin/nvidia-smi $d/opt/nvidia/bin/nvidia-smi" \
        "/usr/bin/nvidia-debugdump $d/opt/nvidia/bin/nvidia-debugdump" \
        "/lib/firmware/nvidia/$v/gsp_ga10x.bin $d/opt/nvidia/firmware/nvidia/$v/gsp_ga10x.bin"
    run "$BOX" cdi validate "$SPECS/p.json"
    assert_status 0
}

@test "cdi generate: YAML by default, the same spec as JSON" {
    gen >"$SPECS/nvidia.yaml"
    gen --format json >"$SPECS/nvidia.json"
    head -n 1 "$SPECS/nvidia.yaml" | grep -qx 'cdiVersion: "0.5.0"'
    python3 -c 'import json, sys, yaml
a = yaml.safe_load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
sys.exit(0 if a == b else "YAML and JSON differ")' "$SPECS/nvidia.yaml" "$SPECS/nvidia.json"
    run "$BOX" cdi validate "$SPECS/nvidia.yaml"
    assert_status 0
}

@test "cdi generate: --output writes atomically; the format follows the extension" {
    printf 'old\n' >"$SPECS/nvidia.json"
    gen --output "$SPECS/nvidia.json"
    jq -e '.kind == "nvidia.com/gpu"' "$SPECS/nvidia.json" >/dev/null
    gen -o "$SPECS/nvidia.yaml"
    grep -qx 'kind: nvidia.com/gpu' "$SPECS/nvidia.yaml"
    expect_lines "$(ls -A "$SPECS")" nvidia.json nvidia.yaml
    [ "$(stat -c %a "$SPECS/nvidia.yaml")" = 644 ]
    run --separate-stderr gen --output "$SPECS/missing/nvidia.yaml"
    assert_one_line_error "--output" "missing/nvidia.yaml"
    expect_lines "$(ls -A "$SPECS")" nvidia.json nvidia.yaml
}

@test "cdi generate: --device-name-strategy and --hook-path" {
    gen --format json --device-name-strategy uuid --hook-path /opt/box/bin/box >"$SPECS/u.json"
    expect_lines "$(jq -r '.devices[].name' "$SPECS/u.json")" "$FAKE_UUID0" "$FAKE_UUID1" all
    # no name starting with a digit, but node hostPaths still need 0.5.0
    [ "$(jq -r .cdiVersion "$SPECS/u.json")" = 0.5.0 ]
    [ "$(jq -r '[.. | .path? // empty | select(startswith("/opt"))] | unique | .[]' \
        "$SPECS/u.json")" = /opt/box/bin/box ]
    gen --format json --device-name-strategy index >"$SPECS/i.json"
    expect_lines "$(jq -r '.devices[].name' "$SPECS/i.json")" 0 1 all
    run --separate-stderr gen --device-name-strategy index,serial
    assert_one_line_error "--device-name-strategy" "serial"
    run --separate-stderr gen --format toml
    assert_one_line_error "--format" "toml"
    run --separate-stderr gen --hook-path relative/box
    assert_one_line_error "--hook-path" "relative/box"
}

@test "cdi generate: bad roots fail with one line naming what is missing" {
    run --separate-stderr "$BOX" cdi generate --driver-root "$ACC_DIR/nowhere"
    assert_one_line_error "--driver-root" "nowhere" "No such file"
    run --separate-stderr gen --proc-root "$FAKE_DRIVER"
    assert_one_line_error "no NVIDIA GPU" "--proc-root" "/proc/driver/nvidia/gpus"
    run --separate-stderr gen --dev-root "$FAKE_DRIVER"
    assert_one_line_error "/dev/nvidia0" "--dev-root"
    run --separate-stderr gen --driver-root "$BUNDLE/rootfs"
    assert_one_line_error "libcuda.so.$FAKE_VERSION" "--driver-root"
    # a GPU whose information names a minor with no node; a broken information file
    local p=$ACC_DIR/proc.$BATS_TEST_NUMBER
    cp -a "$FAKE_PROC" "$p"
    sed -i 's/Device Minor: .*/Device Minor: \t 9/' "$p/proc/driver/nvidia/gpus/$FAKE_PCI1/information"
    run --separate-stderr gen --proc-root "$p" -o "$SPECS/x.yaml"
    assert_one_line_error "$FAKE_PCI1" "/dev/nvidia9"
    sed -i 's/GPU UUID: .*/GPU UUID: nope/' "$p/proc/driver/nvidia/gpus/$FAKE_PCI1/information"
    run --separate-stderr gen --proc-root "$p" -o "$SPECS/x.yaml"
    assert_one_line_error "GPU UUID" "nope" "information"
    # a corrupt linker cache is named
    local d=$ACC_DIR/drv.$BATS_TEST_NUMBER
    cp -a "$FAKE_DRIVER" "$d"
    head -c 100 "$FAKE_DRIVER/etc/ld.so.cache" >"$d/etc/ld.so.cache"
    run --separate-stderr gen --driver-root "$d" --dev-root "$FAKE_DEV" -o "$SPECS/x.yaml"
    assert_one_line_error "ld.so.cache" "do not fit"
    rm -rf "$p" "$d"
    [ -z "$(ls -A "$SPECS")" ] || fail "a failed generate left: $(ls -A "$SPECS")"
}

@test "cdi generate: the version from libcuda's name when proc has none" {
    local p=$ACC_DIR/proc.$BATS_TEST_NUMBER
    cp -a "$FAKE_PROC" "$p"
    rm "$p/proc/driver/nvidia/version"
    gen --proc-root "$p" --format json >"$SPECS/n.json"
    jq -r '.containerEdits.mounts[].containerPath' "$SPECS/n.json" |
        grep -qx "/lib/firmware/nvidia/$FAKE_VERSION/gsp_ga10x.bin"
    rm -rf "$p"
}

# state ROOTFS: the OCI state a hook receives.
state() {
    jq -nc --arg r "$1" --arg b "$(dirname "$1")" \
        '{ociVersion: "1.2.0", id: "x", status: "creating", pid: 1, bundle: $b, root: {path: $r}}'
}

@test "hook create-symlinks: links inside the root only, never through the image's symlinks" {
    local r=$BUNDLE/rootfs sentinel=$ACC_DIR/sentinel.$BATS_TEST_NUMBER
    mkdir -p "$sentinel" "$r/usr/lib"
    # the image plants an absolute symlink to a host directory, and a relative one
    ln -s "$sentinel" "$r/usr/lib/x86_64-linux-gnu"
    mkdir -p "$r$sentinel"
    ln -s ../../.."$sentinel" "$r/usr/escape"
    state "$r" | "$BOX" hook create-symlinks --link libcuda.so.1::/usr/lib/x86_64-linux-gnu/libcuda.so \
        --link target::/usr/escape/link --link ../card1::/dev/dri/by-path/pci-x-card
    [ -z "$(ls -A "$sentinel")" ] || fail "written outside the root: $(ls -A "$sentinel")"
    [ "$(readlink "$r$sentinel/libcuda.so")" = libcuda.so.1 ]
    [ "$(readlink "$r$sentinel/link")" = target ]
    [ "$(readlink "$r/dev/dri/by-path/pci-x-card")" = ../card1 ]
    # an existing link is replaced, a directory in the way is an error
    state "$r" | "$BOX" hook create-symlinks --link other::/usr/escape/link
    [ "$(readlink "$r$sentinel/link")" = other ]
    mkdir -p "$r/in/way"
    run --separate-stderr "$BOX" hook create-symlinks --link x::/in/way < <(state "$r")
    assert_one_line_error "/in/way" "directory"
    run --separate-stderr "$BOX" hook create-symlinks --link x::/a/../b < <(state "$r")
    assert_one_line_error "clean absolute path"
    run --separate-stderr "$BOX" hook create-symlinks --link x::/y < <(echo '{"bundle": 1}')
    assert_one_line_error "state"
    [ -z "$(ls -A "$sentinel")" ]
}

@test "hook update-ldcache: writes the root's cache itself, never through the image's links" {
    local r=$BUNDLE/rootfs l=$FAKE_LIBDIR sentinel=$ACC_DIR/sentinel.$BATS_TEST_NUMBER
    mkdir -p "$r$l" "$r$FAKE_NVVMDIR" "$sentinel" "$r/opt/img"
    cp "$FAKE_DRIVER$l/libcuda.so.$FAKE_VERSION" "$r$l/"
    ln -s "libcuda.so.$FAKE_VERSION" "$r$l/libcuda.so.1"
    cp "$FAKE_DRIVER$FAKE_NVVMDIR/libnvidia-nvvm.so.$FAKE_VERSION" "$r$FAKE_NVVMDIR/"
    # the image's own cache (made by the real ldconfig) names a library of
    # its own and a stale libcuda.so.1 elsewhere
    cp "$FAKE_DRIVER$l/libnvidia-old.so.470.1" "$r/opt/img/"
    cp "$FAKE_DRIVER$l/libcuda.so.$FAKE_VERSION" "$r/opt/img/libcuda.so.1"
    mkdir -p "$r/etc"
    printf '/opt/img\n' >"$r/etc/ld.so.conf"
    ldconfig -r "$r"
    rm "$r/etc/ld.so.conf"
    # an image ldconfig that must never run, and a conf.d that leads to the host
    printf '#!/bin/sh\ntouch %s/image-ldconfig-ran\n' "$sentinel" >"$r/bin/ldconfig"
    chmod 755 "$r/bin/ldconfig"
    ln -s "$sentinel" "$r/etc/ld.so.conf.d"
    mkdir -p "$r$sentinel"
    state "$r" | "$BOX" hook update-ldcache --folder "$l" --folder "$FAKE_NVVMDIR"
    [ -z "$(ls -A "$sentinel")" ] || fail "written outside the root: $(ls -A "$sentinel")"
    grep -qx "$FAKE_NVVMDIR" "$r$sentinel/000-box-cdi.conf"
    local p
    p=$(ldconfig -p -C "$r/etc/ld.so.cache")
    assert_contains "$p" "libcuda.so.1 (libc6,x86-64) => $l/libcuda.so.1"
    assert_contains "$p" "libnvidia-nvvm.so.4 (libc6,x86-64) => $FAKE_NVVMDIR/libnvidia-nvvm.so.$FAKE_VERSION"
    assert_contains "$p" "libnvidia-old.so.1 (libc6,x86-64) => /opt/img/libnvidia-old.so.1"
    [[ $p != *"/opt/img/libcuda.so.1"* ]] || fail "the image's libcuda.so.1 is still in the cache:\n$p"
    # unchanged: the same file stays
    local ino
    ino=$(stat -c %i "$r/etc/ld.so.cache")
    state "$r" | "$BOX" hook update-ldcache --folder "$l" --folder "$FAKE_NVVMDIR"
    [ "$(stat -c %i "$r/etc/ld.so.cache")" = "$ino" ] || fail "an unchanged cache was rewritten"
    # --ldconfig: that static host ldconfig, chrooted, instead (Ubuntu's
    # /sbin/ldconfig is a shell script around ldconfig.real)
    local ldc=/sbin/ldconfig
    [ -x /sbin/ldconfig.real ] && ldc=/sbin/ldconfig.real
    rm "$r/etc/ld.so.cache"
    state "$r" | "$BOX" hook update-ldcache --folder "$l" --ldconfig "$ldc"
    ldconfig -p -C "$r/etc/ld.so.cache" | grep -q "libcuda.so.1 (libc6,x86-64) => $l/libcuda.so.1"
    [ -z "$(ls -A "$sentinel")" ] || fail "written outside the root: $(ls -A "$sentinel")"
    run --separate-stderr "$BOX" hook update-ldcache --folder "$l" --ldconfig /bin/sh < <(state "$r")
    assert_one_line_error "ldconfig" "/bin/sh" "static"
    run --separate-stderr "$BOX" hook update-ldcache --folder 'a
b' < <(state "$r")
    assert_failed
    run --separate-stderr "$BOX" hook update-ldcache --folder "$l" --link x < <(state "$r")
    assert_one_line_error "update-ldcache" "unknown option \`--link\`"
}

# ---- end to end: the generated spec through box run --device ---------------------

# require_device_injection: skip unless `box run` takes --device.
require_device_injection() {
    require_box "CDI injection"
    "$BOX" run --help 2>&1 | grep -q -- '--device' ||
        skip "box run --device is not supported by this build"
}

# e2e_bundle: the bundle runs a shell with the host's glibc copied in, so that
# a dynamic program can dlopen libcuda.so.1 inside the container.
e2e_bundle() {
    local r=$BUNDLE/rootfs so
    mkdir -p "$r/lib64" "$r/lib/x86_64-linux-gnu" "$r$FAKE_LIBDIR"
    cp -L /lib64/ld-linux-x86-64.so.2 "$r/lib64/"
    for so in libc.so.6 libdl.so.2; do
        cp -L "/lib/x86_64-linux-gnu/$so" "$r/lib/x86_64-linux-gnu/"
    done
    cat >"$ACC_DIR/dlcuda.c" <<'C'
#include <dlfcn.h>
#include <stdio.h>
/* dlopen each SONAME SYMBOL pair (default: libcuda.so.1) and call its
 * fake_SYMBOL function. */
int main(int argc, char **argv)
{
    char *def[] = {argv[0], "libcuda.so.1", "libcuda_so_1"};
    if (argc < 3) {
        argv = def;
        argc = 3;
    }
    int rc = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        char fn[256];
        snprintf(fn, sizeof(fn), "fake_%s", argv[i + 1]);
        void *h = dlopen(argv[i], RTLD_NOW);
        if (!h) {
            printf("dlopen: %s\n", dlerror());
            rc = 1;
            continue;
        }
        int (*f)(void) = (int (*)(void))dlsym(h, fn);
        printf("%s: %d\n", argv[i], f ? f() : -1);
    }
    return rc;
}
C
    gcc -o "$r/bin/dlcuda" "$ACC_DIR/dlcuda.c" -ldl
    mknod -m 666 "$r/denied-nvidia1" c 195 1
    gen -o "$SPECS/nvidia.yaml"
}

@test "run --device nvidia.com/gpu=0: one GPU node, cgroup rules, read-only libraries, soname links and cache" {
    require_device_injection
    e2e_bundle
    set_args /bin/sh -c 'stat -c "%n %t:%T" /dev/nvidia*; ls /dev/nvidia1 2>&1;
        cat /dev/nvidia0 2>&1; cat /denied-nvidia1 2>&1;
        readlink /usr/lib/x86_64-linux-gnu/libcuda.so.1; /bin/dlcuda;
        /bin/dlcuda libnvidia-nvvm.so.4 libnvidia_nvvm_so_4;
        grep " /usr/lib/x86_64-linux-gnu/libcuda.so.'"$FAKE_VERSION"' " /proc/self/mountinfo'
    run box_run "$ID" --cdi-spec-dir "$SPECS" --device nvidia.com/gpu=0
    assert_status 0
    assert_line_present "/dev/nvidia0 c3:0"
    assert_line_present "/dev/nvidiactl c3:ff"
    assert_contains "$output" "/dev/nvidia1: No such file or directory"
    if char_driver 195; then # a real NVIDIA driver: nvidia0 opens (reading it fails)
        [[ $output != *"/dev/nvidia0': "* ]] || fail "nvidia0 did not open:\n$output"
    else
        assert_contains "$output" "/dev/nvidia0': No such device or address"
    fi
    assert_contains "$output" "/denied-nvidia1': Operation not permitted"
    assert_line_present "libcuda.so.$FAKE_VERSION"
    assert_line_present "libcuda.so.1: 42"
    # only the cache leads there: nvidia/extra is no directory of the loader's
    assert_line_present "libnvidia-nvvm.so.4: 42"
    grep "libcuda.so.$FAKE_VERSION" <<<"$output" | grep -q ' ro,' ||
        fail "libcuda is not mounted read-only:\n$output"
    ldconfig -p -C "$BUNDLE/rootfs/etc/ld.so.cache" | grep -q "libcuda.so.1 (libc6,x86-64)"
}

# prefixed_driver DIR: a driver root whose /opt/nvidia/lib64 holds exactly
# this version's libcuda and libnvidia-ml with all their links, as a driver
# installed under its own prefix has them.
prefixed_driver() {
    local d=$1 v=$FAKE_VERSION l=$1/opt/nvidia/lib64
    fakehost_lib "$l" "libcuda.so.$v" libcuda.so.1
    fakehost_lib "$l" "libnvidia-ml.so.$v" libnvidia-ml.so.1
    ln -s "libcuda.so.$v" "$l/libcuda.so.1"
    ln -s libcuda.so.1 "$l/libcuda.so"
    ln -s "libnvidia-ml.so.$v" "$l/libnvidia-ml.so.1"
    ln -s libnvidia-ml.so.1 "$l/libnvidia-ml.so"
    mkdir -p "$d/etc"
    echo /opt/nvidia/lib64 >"$d/etc/ld.so.conf"
    ldconfig -r "$d"
}

@test "cdi generate: a directory of exactly this driver's libraries and links is mounted whole" {
    local d=$ACC_DIR/whole l=/opt/nvidia/lib64
    prefixed_driver "$d"
    gen_prefixed() {
        "$BOX" cdi generate --driver-root "$d" --dev-root "$FAKE_DEV" --proc-root "$FAKE_PROC" \
            --format json >"$SPECS/w.json"
    }
    gen_prefixed
    # one mount for the directory, none per library, no links to make there
    expect_lines "$(jq -r '.containerEdits.mounts[] | .containerPath + " " + .hostPath' \
        "$SPECS/w.json")" "$l $d$l"
    [ "$(jq '[.containerEdits.hooks[]? | select(.args[2] == "create-symlinks")] | length' \
        "$SPECS/w.json")" = 0 ]
    [ "$(jq -c '.containerEdits.hooks[] | select(.args[2] == "update-ldcache") | .args[3:]' \
        "$SPECS/w.json")" = "[\"--folder\",\"$l\"]" ]
    run "$BOX" cdi validate "$SPECS/w.json"
    assert_status 0
    # anything else in the directory, and it is mounted file by file again
    for extra in "touch $d$l/README" "ln -s elsewhere $d$l/libcuda.so.9" \
        "rm $d$l/libnvidia-ml.so" "mkdir $d$l/sub"; do
        rm -rf "$d"
        prefixed_driver "$d"
        eval "$extra"
        gen_prefixed
        [ "$(jq -r --arg l "$l" '[.containerEdits.mounts[].containerPath | select(. == $l)] |
            length' "$SPECS/w.json")" = 0 ] || fail "mounted whole after \`$extra\`"
        jq -r '.containerEdits.mounts[].containerPath' "$SPECS/w.json" |
            grep -qx "$l/libcuda.so.$FAKE_VERSION" || fail "no libcuda mount after \`$extra\`"
    done
}

@test "run --device: a directory mounted whole is read-only, and its libraries load through the cache" {
    require_device_injection
    local d=$ACC_DIR/whole2 l=/opt/nvidia/lib64
    prefixed_driver "$d"
    e2e_bundle
    "$BOX" cdi generate --driver-root "$d" --dev-root "$FAKE_DEV" --proc-root "$FAKE_PROC" \
        -o "$SPECS/nvidia.yaml"
    set_args /bin/sh -c "ls $l; /bin/dlcuda libcuda.so.1 libcuda_so_1 libnvidia-ml.so.1 \
        libnvidia_ml_so_1; touch $l/x 2>&1; grep ' $l ' /proc/self/mountinfo"
    run box_run "$ID" --cdi-spec-dir "$SPECS" --device nvidia.com/gpu=0
    assert_status 0
    assert_line_present "libcuda.so.1: 42"
    assert_line_present "libnvidia-ml.so.1: 42"
    assert_line_present libcuda.so
    assert_contains "$output" "Read-only file system"
    [ "$(grep -c " $l " <<<"$output")" = 1 ] || fail "not one mount at $l:\n$output"
}

@test "run --device nvidia.com/gpu=all: every GPU; the spec's env reaches the process" {
    require_device_injection
    e2e_bundle
    jq '.containerEdits.env = ["NVIDIA_FAKE_HOST=1"]' <(gen --format json) >"$SPECS/nvidia.json"
    rm "$SPECS/nvidia.yaml"
    set_args /bin/sh -c 'ls /dev/nvidia0 /dev/nvidia1 /dev/dri/by-path; env'
    run box_run "$ID" --cdi-spec-dir "$SPECS" --device nvidia.com/gpu=all
    assert_status 0
    assert_line_present /dev/nvidia0
    assert_line_present /dev/nvidia1
    assert_line_present "pci-$FAKE_PCI0-card"
    assert_line_present NVIDIA_FAKE_HOST=1
}

@test "run --device: box's own hooks run inside box (no exec), any other program is executed" {
    require_device_injection
    e2e_bundle
    # The same box binary, seen through a noexec bind mount: a hook there
    # cannot be executed, so the run succeeds only if box runs it itself.
    local ne=$ACC_DIR/noexec.$BATS_TEST_NUMBER
    mkdir -p "$ne"
    mount --bind "$(dirname "$BOX")" "$ne"
    mount -o remount,bind,noexec "$ne"
    gen --hook-path "$ne/$(basename "$BOX")" -o "$SPECS/nvidia.yaml"
    set_args /bin/sh -c 'readlink /usr/lib/x86_64-linux-gnu/libcuda.so.1; /bin/dlcuda'
    run box_run "$ID" --cdi-spec-dir "$SPECS" --device nvidia.com/gpu=all
    umount "$ne"
    assert_status 0
    assert_line_present "libcuda.so.$FAKE_VERSION"
    assert_line_present "libcuda.so.1: 42"
    # A copy of box is another program: it is executed, and here cannot be.
    cp "$BOX" "$ACC_DIR/box-copy"
    mount --bind "$ACC_DIR" "$ne"
    mount -o remount,bind,noexec "$ne"
    gen --hook-path "$ne/box-copy" -o "$SPECS/nvidia.yaml"
    run --separate-stderr box_create "$(cid copy)" --cdi-spec-dir "$SPECS" --device nvidia.com/gpu=0
    umount "$ne"
    assert_one_line_error "createContainer[" "$ne/box-copy" "Permission denied"
}
