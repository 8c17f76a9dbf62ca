#!/usr/bin/env bats
# box image: the GPU validation images built offline into OCI layouts,
# reproducibly; rebuilt only when their fingerprint changes; runnable; and
# published to a real registry and resolved back by digest.
# shellcheck disable=SC2154

bats_require_minimum_version 1.5.0
load images_helpers

setup() { images_setup; }
teardown() { images_teardown; }

@test "build: a smoke image is a valid OCI layout with the contract's config" {
    run build_smoke smoke-pass "$TMP/sp"
    [ "$status" -eq 0 ]
    [[ "$output" == *"smoke-pass: built"* ]]
    [ "$(jq -r .imageLayoutVersion "$TMP/sp/oci-layout")" = 1.0.0 ]
    [ "$(jq -r '.manifests | length' "$TMP/sp/index.json")" = 1 ]
    fpr=$(jq -r .fingerprint "$TMP/sp/box-image.json")
    [[ "$fpr" =~ ^[0-9a-f]{12}$ ]]
    [ "$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$TMP/sp/index.json")" = "$fpr" ]
    # Every blob is named by its own sha256.
    for b in "$TMP"/sp/blobs/sha256/*; do
        [ "$(sha256sum "$b" | cut -d' ' -f1)" = "$(basename "$b")" ]
    done
    # skopeo reads the layout, and the config is the contract's.
    run skopeo inspect --config "oci:$TMP/sp"
    [ "$status" -eq 0 ]
    [ "$(jq -r '.config.Entrypoint | join(" ")' <<<"$output")" = "$WORKLOAD" ]
    [ "$(jq -r .config.User <<<"$output")" = sandbox ]
    [ "$(jq -r '.config.Labels["org.opencontainers.image.revision"]' <<<"$output")" = "$fpr" ]
    [ "$(jq -r '.rootfs.diff_ids | length' <<<"$output")" = 1 ]
    [ "$(jq -r .architecture <<<"$output")" = amd64 ]
    # The layer: sorted, mtime 0, numeric owners without names, /tmp 1777.
    unpack "$TMP/sp" "$TMP/root"
    [ "$(stat -c %a "$TMP/root/tmp")" = 1777 ]
    [ "$(stat -c %u "$TMP/root/home/sandbox")" = 1000 ]
    grep -qx 'sandbox:x:1000:1000:sandbox:/home/sandbox:/bin/sh' "$TMP/root/etc/passwd"
    [ "$(readlink "$TMP/root/bin/sh")" = busybox ]
    m=$(manifest_digest "$TMP/sp")
    layer=$(jq -r '.layers[0].digest' "$TMP/sp/blobs/sha256/${m#sha256:}")
    listing=$(tar -tzvf "$TMP/sp/blobs/sha256/${layer#sha256:}")
    [ "$(tar -tzf "$TMP/sp/blobs/sha256/${layer#sha256:}")" = "$(tar -tzf "$TMP/sp/blobs/sha256/${layer#sha256:}" | LC_ALL=C sort)" ]
    ! grep -v ' 1970-01-01 00:00 ' <<<"$listing"
    # Owners are numeric only: tar shows "0/0", never "root/root".
    [ -z "$(awk '$2 !~ /^[0-9]+\/[0-9]+$/' <<<"$listing")" ]
}

@test "build: two builds of the same inputs are byte-identical" {
    build_smoke smoke-pass "$TMP/a"
    build_smoke smoke-pass "$TMP/b"
    [ "$(manifest_digest "$TMP/a")" = "$(manifest_digest "$TMP/b")" ]
    diff -r "$TMP/a" "$TMP/b"
    # SOURCE_DATE_EPOCH is an input: another epoch, another image.
    SOURCE_DATE_EPOCH=1700000000 build_smoke smoke-pass "$TMP/c"
    [ "$(manifest_digest "$TMP/a")" != "$(manifest_digest "$TMP/c")" ]
}

@test "build: no change is not rebuilt; one byte of workload changed is" {
    mkdir -p "$TMP/src"
    cp "$IMG_SRC/smoke-pass/workload.sh" "$TMP/src/workload.sh"
    build_smoke smoke-pass "$TMP/out" "$TMP/src"
    d1=$(manifest_digest "$TMP/out")
    before=$(stat -c '%i %Y' "$TMP"/out/blobs/sha256/* "$TMP/out/index.json")
    sleep 1
    run build_smoke smoke-pass "$TMP/out" "$TMP/src"
    [ "$status" -eq 0 ]
    [[ "$output" == *"smoke-pass: up to date"* ]]
    [ "$before" = "$(stat -c '%i %Y' "$TMP"/out/blobs/sha256/* "$TMP/out/index.json")" ]
    # One byte more in the workload: a new fingerprint and a new digest.
    fpr1=$(jq -r .fingerprint "$TMP/out/box-image.json")
    printf '#' >>"$TMP/src/workload.sh"
    run build_smoke smoke-pass "$TMP/out" "$TMP/src"
    [ "$status" -eq 0 ]
    [[ "$output" == *"smoke-pass: built"* ]]
    [ "$(manifest_digest "$TMP/out")" != "$d1" ]
    [ "$(jq -r .fingerprint "$TMP/out/box-image.json")" != "$fpr1" ]
    [ -z "$(leftovers "$TMP")" ]
    # --force rebuilds the same bytes.
    d2=$(manifest_digest "$TMP/out")
    run bi build --force --name smoke-pass --output "$TMP/out" --busybox /bin/busybox \
        --input busybox-static=test --add "$WORKLOAD=$TMP/src/workload.sh"
    [[ "$output" == *"built"* ]]
    [ "$(manifest_digest "$TMP/out")" = "$d2" ]
}

@test "run: smoke-pass prints the SUCCESS marker on stdout and exits 0 as the sandbox user" {
    build_smoke smoke-pass "$TMP/sp"
    run_image "$TMP/sp"
    [ "$status" -eq 0 ]
    [ "$output" = "OPENSHELL_GPU_WORKLOAD_SUCCESS smoke-pass" ]
    [[ "$stderr" == *"uid 1000"* ]]
}

@test "run: smoke-fail prints the FAILURE marker on stderr only and exits 42" {
    build_smoke smoke-fail "$TMP/sf"
    run_image "$TMP/sf"
    [ "$status" -eq 42 ]
    [ -z "$output" ]
    [[ "$stderr" == *"OPENSHELL_GPU_WORKLOAD_FAILURE smoke-fail "* ]]
}

@test "make images: layouts and workloads.yaml in the contract's shape" {
    run env BOX_IMAGE="$BOX_IMAGE" "$IMG_REPO/scripts/build-images" "$TMP/images"
    [ "$status" -eq 0 ]
    y="$TMP/images/workloads.yaml"
    python3 - "$y" "$TMP/images" <<'PY'
import json, subprocess, sys, yaml
m = yaml.safe_load(open(sys.argv[1]))
assert m["schema_version"] == 1, m
assert m["generated_by"] == "make images"
assert set(m["source"]) == {"path", "input_fingerprint", "inputs"}
assert len(m["source"]["input_fingerprint"]) == 12
names = [w["name"] for w in m["workloads"]]
assert names[:2] == ["smoke-pass", "smoke-fail"], names
for w in m["workloads"]:
    assert w["command"] == ["/usr/local/bin/openshell-gpu-workload"]
    assert w["expect"] == ("fail" if w["name"] == "smoke-fail" else "pass")
    assert w["requirements"]["gpu"] is (w["name"] == "cuda-basic")
    layout = sys.argv[2] + "/" + w["name"]
    digest = json.load(open(layout + "/index.json"))["manifests"][0]["digest"]
    assert w["image"] == "oci:" + layout + "@" + digest, w["image"]
PY
    if [[ "$output" == *"cuda-basic: skipped"* ]]; then
        ! grep -q cuda-basic "$y"
    else
        grep -q 'name: "cuda-basic"' "$y"
    fi
}

@test "cuda-basic: the binary, its libraries and the driver's, no driver library; it fails clearly without a GPU" {
    nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
    [ -x "$nvcc" ] || skip "nvcc not found: cuda-basic cannot be built here"
    BOX_IMAGE="$BOX_IMAGE" "$IMG_REPO/scripts/build-images" "$TMP/images" >/dev/null
    unpack "$TMP/images/cuda-basic" "$TMP/root"
    [ -x "$TMP/root$WORKLOAD" ]
    [ -z "$(find "$TMP/root" -name 'libcuda*' -o -name 'libnvidia*')" ]
    [ -f "$TMP/root/lib64/ld-linux-x86-64.so.2" ]
    # what the binary needs, and what the injected libcuda.so.1 needs besides
    for lib in libc.so.6 libm.so.6 libstdc++.so.6 libgcc_s.so.1 libdl.so.2 libpthread.so.0 librt.so.1; do
        [ -f "$TMP/root/lib/x86_64-linux-gnu/$lib" ]
    done
    [ "$(find "$TMP/root" -type f | wc -l)" -eq 11 ] # the binary, the loader, 7 libraries, passwd, group
    [ -e /dev/nvidiactl ] && skip "a GPU driver is present: the no-driver failure cannot be shown"
    run_image "$TMP/images/cuda-basic"
    [ "$status" -eq 1 ]
    [[ "$output" == *"cuda-basic: cuda runtime 13."* ]]
    [[ "$output" != *OPENSHELL_GPU_WORKLOAD_SUCCESS* ]]
    # the loader's own reason, not only the CUDA error
    [[ "$stderr" == *"OPENSHELL_GPU_WORKLOAD_FAILURE cuda-basic stage=driver load error=libcuda.so.1: cannot open shared object file"* ]]
    [[ "$stderr" == *"hint: libcuda.so.1 must be injected"* ]]
}

@test "build: hostile or wrong inputs are rejected by name and leave nothing behind" {
    printf 'not an elf\n' >"$TMP/notelf"
    chmod +x "$TMP/notelf"
    run bi build --name x --output "$TMP/o1" --elf "$WORKLOAD=$TMP/notelf"
    [ "$status" -eq 1 ]
    [[ "$output" == *"--elf \`$WORKLOAD\`: \`$TMP/notelf\`: not a usable ELF file"* ]]
    run bi build --name x --output "$TMP/o2" --add "/a/../../etc/passwd=$TMP/notelf"
    [ "$status" -eq 1 ]
    [[ "$output" == *'`/a/../../etc/passwd`'* ]]
    run bi build --name x --output "$TMP/o7" --add "$WORKLOAD=$TMP/notelf" --lib libnope.so.9
    [ "$status" -eq 3 ]
    [[ "$output" == *"--lib \`libnope.so.9\`: not found in the library directories"* ]]
    run bi build --name x --output "$TMP/o8" --add "$WORKLOAD=$TMP/notelf" --lib ../lib/libc.so.6
    [ "$status" -eq 2 ]
    [[ "$output" == *"--lib: \`../lib/libc.so.6\` is not a library name"* ]]
    run bi build --name x --output "$TMP/o3" --busybox /bin/busybox
    [ "$status" -eq 1 ]
    [[ "$output" == *"no executable \`$WORKLOAD\`"* ]]
    run bi build --name Bad_Name --output "$TMP/o4" --add "$WORKLOAD=$TMP/notelf"
    [ "$status" -eq 2 ]
    run bi build --name x --output "$TMP/o5" --add "$WORKLOAD=$TMP/missing"
    [ "$status" -eq 3 ]
    [[ "$output" == *"missing"* ]]
    run bi build --name x --output "$TMP/o6" --add "$WORKLOAD=$TMP/notelf" --add "$WORKLOAD=$TMP/notelf"
    [ "$status" -eq 1 ]
    [[ "$output" == *"given twice"* ]]
    [ "$(ls "$TMP")" = notelf ]
}

@test "manifest: a layout that is not the named image is rejected" {
    build_smoke smoke-pass "$TMP/sp"
    run bi manifest --output "$TMP/w.yaml" --workload "smoke-fail=$TMP/sp,expect=fail"
    [ "$status" -eq 1 ]
    [[ "$output" == *"holds \`smoke-pass\`, not \`smoke-fail\`"* ]]
    run bi manifest --output "$TMP/w.yaml" --workload "smoke-pass=$TMP/nothing,expect=pass"
    [ "$status" -ne 0 ]
    [ ! -e "$TMP/w.yaml" ]
}

@test "publish: push to a real registry and resolve back by digest, unchanged" {
    build_smoke smoke-pass "$TMP/sp"
    build_smoke smoke-fail "$TMP/sf"
    bi manifest --output "$TMP/local.yaml" --workload "smoke-pass=$TMP/sp,expect=pass" \
        --workload "smoke-fail=$TMP/sf,expect=fail"
    registry_start
    run bi publish --registry "$REG" --tls-verify=false --manifest "$TMP/local.yaml" \
        --output "$TMP/published.yaml"
    [ "$status" -eq 0 ]
    for n in sp:smoke-pass sf:smoke-fail; do
        dir=${n%%:*} name=${n#*:}
        d=$(manifest_digest "$TMP/$dir")
        fpr=$(jq -r .fingerprint "$TMP/$dir/box-image.json")
        grep -qF "image: \"$REG/openshell/gpu-workload-$name@$d\"" "$TMP/published.yaml"
        # The fingerprint tag names the same digest.
        [ "$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$REG/openshell/gpu-workload-$name:$fpr")" = "$d" ]
        # Pulled back by digest into a new layout: the same manifest and blobs.
        skopeo copy --quiet --src-tls-verify=false --preserve-digests \
            "docker://$REG/openshell/gpu-workload-$name@$d" "oci:$TMP/back-$name"
        [ "$(manifest_digest "$TMP/back-$name")" = "$d" ]
        diff -r "$TMP/$dir/blobs" "$TMP/back-$name/blobs"
    done
    # The published manifest parses, and publishing it again is refused
    # (its images are registry references, not layouts).
    run bi publish --registry "$REG" --tls-verify=false --manifest "$TMP/published.yaml" \
        --output "$TMP/again.yaml"
    [ "$status" -eq 1 ]
    [[ "$output" == *"is not oci:DIR@sha256:HEX"* ]]
    [ ! -e "$TMP/again.yaml" ]
    registry_stop
}

@test "publish: an unreachable registry fails within the timeout and writes nothing" {
    build_smoke smoke-pass "$TMP/sp"
    bi manifest --output "$TMP/local.yaml" --workload "smoke-pass=$TMP/sp,expect=pass"
    port=$(free_port)
    run bi publish --registry "127.0.0.1:$port" --tls-verify=false --timeout 60 \
        --manifest "$TMP/local.yaml" --output "$TMP/published.yaml"
    [ "$status" -eq 3 ]
    [[ "$output" == *"push \`smoke-pass\`"* ]]
    [ ! -e "$TMP/published.yaml" ]
    ! pgrep -f "skopeo copy.*127.0.0.1:$port" >/dev/null
}
