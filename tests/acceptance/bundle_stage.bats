#!/usr/bin/env bats
# box bundle stage: the old tree or the new one, never a mix, never leftovers:
# multi-arch all-or-nothing, symlinked destinations, a full disk, SIGKILL in
# the middle, and two stagers at once.

load bundle_helpers

setup() {
    bundle_setup
    make_root "$TMP/root-arm" arm64
    create_bundle "$TMP/root-arm" arm64 "$TMP/arm.tar.gz"
}

teardown() {
    bundle_teardown
}

T=openshell-gpu-runtime-bundle_0.1.0

@test "stage: several architectures in one call" {
    run bb stage --tarball amd64="$VALID" --tarball arm64="$TMP/arm.tar.gz" --dest "$DEST"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Runtime bundle staged at $DEST/amd64/${T}_amd64"* ]]
    [[ "$output" == *"Runtime bundle staged at $DEST/arm64/${T}_arm64"* ]]
    [ -f "$DEST/arm64/${T}_arm64/usr/lib/aarch64-linux-gnu/libnvidia-container.so.1.17.8" ]
    [ "$(ls -A "$DEST" | tr '\n' ' ')" = "amd64 arm64 " ]
}

@test "stage: one bad architecture stages nothing" {
    run bb stage --tarball amd64="$VALID" --tarball arm64="$TMP/arm.tar.gz" --dest "$DEST"
    [ "$status" -eq 0 ]
    snapshot "$DEST" >"$TMP/dest.snap"
    make_root "$TMP/root2" amd64 v2
    create_bundle "$TMP/root2" amd64 "$TMP/v2.tar.gz"
    # the arm64 tarball is checked against arm64: an amd64 bundle there is refused
    run bb stage --tarball amd64="$TMP/v2.tar.gz" --tarball arm64="$VALID" --dest "$DEST"
    [ "$status" -eq 1 ]
    [[ "$output" == *"arm64 tarball \`$VALID\` failed; nothing was staged"* ]]
    [[ "$output" == *"runtime bundle validation failed: bundle architecture mismatch: expected arm64, got amd64"* ]]
    assert_untouched
    run bb stage --tarball amd64="$VALID" --tarball amd64="$VALID" --dest "$DEST"
    [ "$status" -eq 2 ]
    [[ "$output" == *"architecture amd64 given twice"* ]]
}

@test "stage: a failure on a new destination leaves no destination" {
    run bb stage "$(mutate extra-file)" --dest "$TMP/new/dest" --arch amd64
    [ "$status" -eq 1 ]
    [ ! -e "$TMP/new" ]
}

@test "stage: refuses a symlinked destination" {
    mkdir "$TMP/elsewhere"
    ln -s elsewhere "$TMP/linked"
    run bb stage "$VALID" --dest "$TMP/linked" --arch amd64
    [ "$status" -eq 3 ]
    [[ "$output" == *"destination \`$TMP/linked\` is a symlink"* ]]
    [ -z "$(ls -A "$TMP/elsewhere")" ]
    mkdir -p "$DEST"
    ln -s ../elsewhere "$DEST/amd64"
    run bb stage "$VALID" --dest "$DEST" --arch amd64
    [ "$status" -eq 3 ]
    [[ "$output" == *"refusing to replace \`$DEST/amd64\`: not a directory"* ]]
    [ -L "$DEST/amd64" ]
    [ -z "$(ls -A "$TMP/elsewhere")" ]
    [ "$(ls -A "$DEST")" = amd64 ]
}

@test "stage: a full disk leaves the old tree" {
    [ "$(id -u)" -eq 0 ] || skip "needs root to mount a small tmpfs"
    TMPFS="$TMP/small"
    mkdir -p "$TMPFS"
    mount -t tmpfs -o size=1m tmpfs "$TMPFS" || skip "cannot mount tmpfs here"
    DEST="$TMPFS/dest"
    stage_previous
    mkdir -p "$TMP/big/opt"
    head -c 3000000 /dev/urandom >"$TMP/big/opt/blob"
    cp -a "$TMP/root/." "$TMP/big/"
    create_bundle "$TMP/big" amd64 "$TMP/big.tar.gz"
    run bb stage "$TMP/big.tar.gz" --dest "$DEST" --arch amd64
    [ "$status" -eq 3 ]
    [[ "$output" == *"No space left on device"* ]]
    assert_untouched
}

@test "stage: SIGKILL in the middle leaves the old tree; the next stage cleans up" {
    stage_previous
    make_root "$TMP/big" amd64 v2
    mkdir -p "$TMP/big/opt"
    for i in $(seq 1 40); do head -c 2000000 /dev/urandom >"$TMP/big/opt/blob$i"; done
    create_bundle "$TMP/big" amd64 "$TMP/big.tar.gz"
    "$BOX_BUNDLE" stage "$TMP/big.tar.gz" --dest "$DEST" --arch amd64 >/dev/null 2>&1 &
    pid=$!
    kill -STOP "$pid"
    # Let it run in small steps until its private directory holds some payload.
    for _ in $(seq 1 2000); do
        if [ -n "$(find "$DEST" -path "*/.box-stage-*/opt/blob*" 2>/dev/null | head -1)" ]; then
            break
        fi
        kill -CONT "$pid"
        sleep 0.002
        kill -STOP "$pid"
    done
    [ -n "$(find "$DEST" -path "*/.box-stage-*/opt/blob*" | head -1)" ]
    kill -KILL "$pid"
    wait "$pid" || true
    diff "$TMP/dest.snap" <(snapshot "$DEST" | grep -v '\.box-stage-')
    [ -n "$(find "$DEST" -maxdepth 1 -name '.box-stage-*')" ]
    run bb stage "$VALID" --dest "$DEST" --arch amd64
    [ "$status" -eq 0 ]
    assert_untouched
}

@test "stage: two stagers at once end with one whole tree" {
    make_root "$TMP/root2" amd64 v2
    create_bundle "$TMP/root2" amd64 "$TMP/v2.tar.gz"
    run bb stage "$TMP/v2.tar.gz" --dest "$TMP/ref2" --arch amd64
    snapshot "$TMP/ref2" >"$TMP/v2.snap"
    run bb stage "$VALID" --dest "$TMP/ref1" --arch amd64
    snapshot "$TMP/ref1" >"$TMP/v1.snap"
    for round in 1 2 3 4 5; do
        "$BOX_BUNDLE" stage "$VALID" --dest "$DEST" --arch amd64 >"$TMP/a.out" 2>&1 &
        a=$!
        "$BOX_BUNDLE" stage "$TMP/v2.tar.gz" --dest "$DEST" --arch amd64 >"$TMP/b.out" 2>&1 &
        b=$!
        wait "$a"
        wait "$b"
        snapshot "$DEST" >"$TMP/now.snap"
        cmp -s "$TMP/now.snap" "$TMP/v1.snap" || cmp -s "$TMP/now.snap" "$TMP/v2.snap"
        [ "$(ls -A "$DEST")" = amd64 ]
    done
}
