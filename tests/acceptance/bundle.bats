#!/usr/bin/env bats
# box bundle create, verify, inspect and stage on valid bundles.

load bundle_helpers

setup() {
    bundle_setup
}

teardown() {
    bundle_teardown
}

T=openshell-gpu-runtime-bundle_0.1.0_amd64

@test "bundle: --help works standalone and after the 'bundle' word" {
    run bb --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"Usage: box bundle COMMAND"* ]]
    run bb bundle --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"stage   TARBALL --dest DIR"* ]]
    run bb bundle verify --help
    [ "$status" -eq 0 ]
}

@test "bundle: box hands 'box bundle' over, and does not load the heavy libraries itself" {
    box=${BOX_FRONT:-$BATS_TEST_DIRNAME/../../build/box}
    [ -x "$box" ] || skip "box is not built"
    [ "$(dirname "$(realpath "$box")")" = "$(dirname "$(realpath "$BOX_BUNDLE")")" ] ||
        skip "box and box-bundle are not side by side"
    run "$box" bundle verify "$VALID" --arch amd64
    [ "$status" -eq 0 ]
    [[ "$output" == "ok: $VALID: openshell-gpu-runtime-bundle"* ]]
    command -v ldd >/dev/null || skip "ldd is missing"
    run ldd "$box"
    [ "$status" -eq 0 ]
    [[ "$output" != *libarchive* && "$output" != *libcurl* && "$output" != *libcrypto* ]]
    [[ "$output" != *libdeflate* ]]
}

@test "bundle: usage errors exit 2" {
    run bb
    [ "$status" -eq 2 ]
    run bb frobnicate
    [ "$status" -eq 2 ]
    [[ "$output" == *"unknown command"* ]]
    run bb verify
    [ "$status" -eq 2 ]
    run bb stage "$VALID"
    [ "$status" -eq 2 ]
    [[ "$output" == *"--dest DIR is required"* ]]
    run bb verify "$VALID" --max-entries=12x
    [ "$status" -eq 2 ]
    run bb create --from "$TMP/root" --arch amd64 --name n --version 1 -o "$TMP/x.tgz" \
        --component broken
    [ "$status" -eq 2 ]
}

@test "bundle: create is deterministic and honours SOURCE_DATE_EPOCH" {
    create_bundle "$TMP/root" amd64 "$TMP/a.tar.gz"
    touch "$TMP/root/usr/bin/"*
    create_bundle "$TMP/root" amd64 "$TMP/b.tar.gz"
    cmp "$TMP/a.tar.gz" "$TMP/b.tar.gz"
    # gzip header: no timestamp
    [ "$(od -An -tx1 -j4 -N4 "$TMP/a.tar.gz" | tr -d ' ')" = 00000000 ]
    SOURCE_DATE_EPOCH=1773837296 create_bundle "$TMP/root" amd64 "$TMP/c.tar.gz"
    ! cmp -s "$TMP/a.tar.gz" "$TMP/c.tar.gz"
    run tar -tvzf "$TMP/c.tar.gz"
    [[ "${lines[0]}" == *"root/root"*"2026-03-18"*" $T/" ]]
    [[ "${lines[1]}" == *" $T/manifest.json" ]]
    tar -xzOf "$TMP/c.tar.gz" "$T/manifest.json" | grep -q '"created_at": "2026-03-18T12:34:56Z"'
    run env SOURCE_DATE_EPOCH=yesterday "$BOX_BUNDLE" create --from "$TMP/root" --arch amd64 \
        --name n --version 1 -o "$TMP/d.tar.gz"
    [ "$status" -eq 2 ]
}

@test "bundle: create lists every file and symlink, sorted, with hashes" {
    tar -xzOf "$VALID" "$T/manifest.json" >"$TMP/m.json"
    python3 - "$TMP/m.json" "$TMP/root" <<'PY'
import hashlib, json, os, sys
m = json.load(open(sys.argv[1]))
root = sys.argv[2]
assert m["schema_version"] == 1 and m["architecture"] == "amd64"
assert list(m["components"]) == ["libnvidia_container", "nvidia_container_toolkit"]
paths = [f["path"] for f in m["files"]]
assert paths == sorted(paths), paths
for f in m["files"]:
    full = os.path.join(root, f["path"])
    if f["entry_type"] == "file":
        data = open(full, "rb").read()
        assert f["sha256"] == hashlib.sha256(data).hexdigest() and f["size"] == len(data)
    else:
        assert f["target"] == os.readlink(full)
assert len(m["files"]) == 8
PY
}

@test "bundle: create refuses what verify would refuse" {
    rm "$TMP/root/usr/bin/nvidia-ctk"
    run bb create --from "$TMP/root" --arch amd64 --name n --version 1 -o "$TMP/x.tar.gz" \
        --component "$TOOLKIT" --component "$LIBNV"
    [ "$status" -ne 0 ]
    [[ "$output" == *"required runtime asset missing from manifest.json: usr/bin/nvidia-ctk"* ]]
    [ ! -e "$TMP/x.tar.gz" ]
    run bb create --from "$TMP/root" --arch amd64 --name n --version 1 -o "$TMP/x.tar.gz" \
        --profile none
    [ "$status" -eq 0 ]
    ln -s /etc/passwd "$TMP/root/usr/bin/evil"
    run bb create --from "$TMP/root" --arch amd64 --name n --version 1 -o "$TMP/y.tar.gz" \
        --profile none
    [ "$status" -ne 0 ]
    [[ "$output" == *"points outside the bundle"* ]]
    rm "$TMP/root/usr/bin/evil"
    chmod u+s "$TMP/root/usr/bin/nvidia-cdi-hook"
    run bb create --from "$TMP/root" --arch amd64 --name n --version 1 -o "$TMP/y.tar.gz" \
        --profile none
    [ "$status" -ne 0 ]
    [[ "$output" == *"setuid or setgid bit set"* ]]
}

@test "bundle: verify accepts a valid bundle, with a --json report" {
    run bb verify "$VALID" --arch amd64
    [ "$status" -eq 0 ]
    [[ "$output" == "ok: $VALID: openshell-gpu-runtime-bundle 0.1.0 (amd64), 7 files, 1 symlinks,"* ]]
    run bb verify "$VALID" --arch amd64 --json
    [ "$status" -eq 0 ]
    printf '%s' "$output" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["ok"] is True and r["architecture"] == "amd64", r
assert r["top_dir"] == "openshell-gpu-runtime-bundle_0.1.0_amd64"
assert r["manifest"]["files"] == 7 and r["manifest"]["symlinks"] == 1
assert r["manifest"]["components"]["nvidia_container_toolkit"]["version"] == "1.17.8-openshell.1"
assert r["stream"]["files"] == 8 and r["stream"]["symlinks"] == 1'
}

@test "bundle: verify --json reports a rejection" {
    python3 "$BUNDLE_TAR" mutate "$VALID" "$TMP/bad.tar.gz" size-mismatch
    run bash -c '"$1" verify "$2" --arch amd64 --json 2>/dev/null' _ "$BOX_BUNDLE" "$TMP/bad.tar.gz"
    [ "$status" -eq 1 ]
    printf '%s' "$output" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["ok"] is False and r["rejected"] is True, r
assert r["error"] == "runtime bundle validation failed: size mismatch: usr/bin/nvidia-container-cli", r'
}

@test "bundle: verify takes the host architecture by default" {
    case "$(uname -m)" in
    x86_64) host=amd64 other=arm64 ;;
    aarch64) host=arm64 other=amd64 ;;
    *) skip "host architecture $(uname -m) has no bundle architecture" ;;
    esac
    make_root "$TMP/root-$host" "$host"
    make_root "$TMP/root-$other" "$other"
    create_bundle "$TMP/root-$host" "$host" "$TMP/host.tar.gz"
    create_bundle "$TMP/root-$other" "$other" "$TMP/other.tar.gz"
    run bb verify "$TMP/host.tar.gz"
    [ "$status" -eq 0 ]
    run bb verify "$TMP/other.tar.gz"
    [ "$status" -eq 1 ]
    [[ "$output" == *"bundle architecture mismatch: expected $host, got $other"* ]]
    run bb verify "$TMP/other.tar.gz" --arch "$other"
    [ "$status" -eq 0 ]
}

@test "bundle: inspect prints the manifest summary" {
    run bb inspect "$VALID"
    [ "$status" -eq 0 ]
    [[ "$output" == *"bundle:       openshell-gpu-runtime-bundle"* ]]
    [[ "$output" == *"architecture: amd64"* ]]
    [[ "$output" == *"files:        7 ("* ]]
    [[ "$output" == *"component:    nvidia_container_toolkit 1.17.8-openshell.1 (0123456789abcdef"* ]]
    run bb inspect "$VALID" --json
    [ "$status" -eq 0 ]
    printf '%s' "$output" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["ok"] and r["manifest"]["name"] == "openshell-gpu-runtime-bundle"'
    # inspect reads the manifest only: an arm64 bundle inspects anywhere
    python3 "$BUNDLE_TAR" mutate "$VALID" "$TMP/arm.tar.gz" wrong-arch
    run bb inspect "$TMP/arm.tar.gz"
    [ "$status" -eq 0 ]
    [[ "$output" == *"architecture: arm64"* ]]
}

@test "bundle: stage writes DEST/<arch>/<bundle dir>, identical to the install root" {
    run bb stage "$VALID" --dest "$DEST" --arch amd64
    [ "$status" -eq 0 ]
    [ "$output" = "Runtime bundle staged at $DEST/amd64/$T" ]
    [ -f "$DEST/amd64/$T/manifest.json" ]
    [ -f "$DEST/amd64/$T/usr/bin/nvidia-container-cli" ]
    [ ! -L "$DEST/amd64/$T/usr/bin/nvidia-container-cli" ]
    [ "$(readlink "$DEST/amd64/$T/usr/lib/x86_64-linux-gnu/libnvidia-container.so.1")" = \
        libnvidia-container.so.1.17.8 ]
    [ "$(stat -c %a "$DEST/amd64/$T/usr/bin/nvidia-ctk")" = 755 ]
    [ "$(stat -c %a "$DEST/amd64/$T/etc/nvidia-container-runtime/config.toml")" = 644 ]
    [ "$(stat -c %a "$DEST/amd64")" = 755 ]
    diff -r "$TMP/root" "$DEST/amd64/$T" | grep -v "Only in $DEST/amd64/$T: manifest.json" | \
        { ! grep -q .; }
    [ "$(ls -A "$DEST")" = amd64 ]
}

@test "bundle: stage replaces the previous tree" {
    stage_previous
    make_root "$TMP/root2" amd64 v2
    create_bundle "$TMP/root2" amd64 "$TMP/v2.tar.gz"
    run bb stage "$TMP/v2.tar.gz" --dest "$DEST" --arch amd64
    [ "$status" -eq 0 ]
    [ "$(cat "$DEST/amd64/$T/usr/bin/nvidia-ctk")" = "nvidia-ctk v2" ]
    [ "$(ls -A "$DEST")" = amd64 ]
    [ "$(ls -A "$DEST/amd64")" = "$T" ]
}

@test "bundle: accepts upstream-shaped tarballs made with tar" {
    python3 "$BUNDLE_TAR" upstream "$TMP/up" "$TMP/up.tar.gz" amd64
    run bb verify "$TMP/up.tar.gz" --arch amd64
    [ "$status" -eq 0 ]
    run bb stage "$TMP/up.tar.gz" --dest "$DEST" --arch amd64
    [ "$status" -eq 0 ]
    [[ "$output" == *"Runtime bundle staged at $DEST/amd64/$T"* ]]
    [ -f "$DEST/amd64/$T/usr/lib/x86_64-linux-gnu/libnvidia-container.so.1" ]
    python3 "$BUNDLE_TAR" upstream "$TMP/up-arm" "$TMP/up-arm.tar.gz" arm64
    run bb verify "$TMP/up-arm.tar.gz" --arch arm64
    [ "$status" -eq 0 ]
}

@test "bundle: accepts the manifest anywhere, './' prefixes, in-bundle hardlinks, multi-member gzip" {
    for case in manifest-last dot-prefix hardlink-inside concatenated-members; do
        python3 "$BUNDLE_TAR" mutate "$VALID" "$TMP/$case.tar.gz" "$case"
        run bb verify "$TMP/$case.tar.gz" --arch amd64
        [ "$status" -eq 0 ]
        run bb stage "$TMP/$case.tar.gz" --dest "$TMP/d-$case" --arch amd64
        [ "$status" -eq 0 ]
    done
    [ "$(stat -c %i "$TMP/d-hardlink-inside/amd64/$T/usr/bin/nvidia-ctk")" = \
        "$(stat -c %i "$TMP/d-hardlink-inside/amd64/$T/usr/bin/nvidia-ctk-link")" ]
}

@test "bundle: the zlib path gives the same tree as the fast path" {
    run bb stage "$VALID" --dest "$TMP/fast" --arch amd64
    [ "$status" -eq 0 ]
    run bb stage "$VALID" --dest "$TMP/slow" --arch amd64 --zlib
    [ "$status" -eq 0 ]
    diff <(snapshot "$TMP/fast") <(snapshot "$TMP/slow")
}

@test "bundle: profiles: none, and a profile file" {
    rm -rf "$TMP/bare"
    mkdir -p "$TMP/bare/opt/tool"
    printf 'tool\n' >"$TMP/bare/opt/tool/run"
    bb create --from "$TMP/bare" --arch amd64 --name tool --version 2 --profile none \
        -o "$TMP/bare.tar.gz" >/dev/null
    run bb verify "$TMP/bare.tar.gz" --arch amd64
    [ "$status" -eq 1 ]
    [[ "$output" == *"missing required manifest field: components.nvidia_container_toolkit"* ]]
    run bb verify "$TMP/bare.tar.gz" --arch amd64 --profile none
    [ "$status" -eq 0 ]
    printf '{"regular_files": ["opt/tool/run"], "directories": ["opt"]}' >"$TMP/p.json"
    run bb verify "$TMP/bare.tar.gz" --arch amd64 --profile "$TMP/p.json"
    [ "$status" -eq 0 ]
    printf '{"regular_files": ["opt/tool/missing"]}' >"$TMP/p2.json"
    run bb verify "$TMP/bare.tar.gz" --arch amd64 --profile "$TMP/p2.json"
    [ "$status" -eq 1 ]
    [[ "$output" == *"runtime bundle validation failed: missing required path: opt/tool/missing"* ]]
    printf '{"regular_file": []}' >"$TMP/p3.json"
    run bb verify "$TMP/bare.tar.gz" --arch amd64 --profile "$TMP/p3.json"
    [ "$status" -eq 2 ]
    [[ "$output" == *"unknown key \`regular_file\`"* ]]
}
