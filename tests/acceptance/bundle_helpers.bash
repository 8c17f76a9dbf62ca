# Shared setup of the bundle acceptance tests (bats). They drive the real
# box-bundle binary, given by BOX_BUNDLE (make acceptance-bundle sets it).
# shellcheck shell=bash disable=SC2154,SC2034 # bats sets status/output; tests read the rest

BOX_BUNDLE=${BOX_BUNDLE:-$BATS_TEST_DIRNAME/../../build/box-bundle}
BUNDLE_TAR="$BATS_TEST_DIRNAME/bundle_tar.py"
BUNDLE_HTTP="$BATS_TEST_DIRNAME/bundle_http.py"
TOOLKIT=nvidia_container_toolkit=1.17.8-openshell.1@0123456789abcdef0123456789abcdef01234567
LIBNV=libnvidia_container=1.17.8-openshell.1@89abcdef0123456789abcdef0123456789abcdef

bb() {
    "$BOX_BUNDLE" "$@"
}

# make_root DIR ARCH [TAG]: an install root with the NVIDIA payload; TAG
# changes the file contents so that two roots give two different trees.
make_root() {
    local dir=$1 arch=$2 tag=${3:-v1} multiarch=x86_64-linux-gnu
    [ "$arch" = arm64 ] && multiarch=aarch64-linux-gnu
    mkdir -p "$dir/usr/bin" "$dir/etc/nvidia-container-runtime" "$dir/usr/lib/$multiarch"
    local b
    for b in nvidia-cdi-hook nvidia-container-runtime nvidia-container-runtime-hook \
        nvidia-container-cli nvidia-ctk; do
        printf '%s %s\n' "$b" "$tag" >"$dir/usr/bin/$b"
        chmod 0755 "$dir/usr/bin/$b"
    done
    printf 'config = true\n' >"$dir/etc/nvidia-container-runtime/config.toml"
    printf 'libnvidia-container %s\n' "$tag" >"$dir/usr/lib/$multiarch/libnvidia-container.so.1.17.8"
    ln -s libnvidia-container.so.1.17.8 "$dir/usr/lib/$multiarch/libnvidia-container.so.1"
}

# create_bundle ROOT ARCH OUT [ARGS...]
create_bundle() {
    local root=$1 arch=$2 out=$3
    shift 3
    bb create --from "$root" --arch "$arch" --name openshell-gpu-runtime-bundle --version 0.1.0 \
        --component "$TOOLKIT" --component "$LIBNV" -o "$out" "$@" >/dev/null
}

# snapshot DIR: types, modes, sizes, link targets and hashes of a tree.
snapshot() {
    (
        cd "$1" || exit 1
        find . -printf '%y %m %s %p -> %l\n' | LC_ALL=C sort
        find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum
    )
}

bundle_setup() {
    TMP=$(mktemp -d)
    make_root "$TMP/root" amd64
    VALID="$TMP/valid.tar.gz"
    create_bundle "$TMP/root" amd64 "$VALID"
    DEST="$TMP/dest"
    # A tree outside the destination that no case may touch.
    mkdir -p "$TMP/sentinel/sub"
    printf 'sentinel\n' >"$TMP/sentinel/file"
    printf 'deep\n' >"$TMP/sentinel/sub/file"
    ln -s file "$TMP/sentinel/link"
    snapshot "$TMP/sentinel" >"$TMP/sentinel.snap"
}

bundle_teardown() {
    if [ -n "${TMPFS:-}" ] && mountpoint -q "$TMPFS"; then
        umount "$TMPFS"
    fi
    rm -rf "$TMP" /tmp/box-abs.txt
}

# A previous, valid stage that failures must leave exactly as it is.
stage_previous() {
    run bb stage "$VALID" --dest "$DEST" --arch amd64
    [ "$status" -eq 0 ]
    snapshot "$DEST" >"$TMP/dest.snap"
}

assert_untouched() {
    diff "$TMP/sentinel.snap" <(snapshot "$TMP/sentinel")
    [ ! -e "$TMP/outside.txt" ]
    [ ! -e "$TMP/pax-escape" ]
    [ ! -e /tmp/box-abs.txt ]
    if [ -e "$TMP/dest.snap" ]; then
        diff "$TMP/dest.snap" <(snapshot "$DEST")
    fi
    # nothing but the staged architectures: no private directory left over
    if [ -d "$DEST" ]; then
        [ -z "$(find "$DEST" -mindepth 1 -maxdepth 1 -name '.box-stage-*')" ]
    fi
}

# mutate CASE: a copy of the valid bundle with one fault; prints its path.
mutate() {
    python3 "$BUNDLE_TAR" mutate "$VALID" "$TMP/$1.tar.gz" "$1"
    printf '%s\n' "$TMP/$1.tar.gz"
}

# expect_rejected TARBALL REASON [ARGS...]: verify and stage both refuse it
# with exactly that reason, exit 1, and change nothing.
expect_rejected() {
    local tarball=$1 reason=$2
    shift 2
    run bb verify "$tarball" --arch amd64 "$@"
    printf 'verify: %s\n' "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"runtime bundle validation failed: $reason"* ]]
    stage_previous
    run bb stage "$tarball" --dest "$DEST" --arch amd64 "$@"
    printf 'stage: %s\n' "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"runtime bundle validation failed: $reason"* ]]
    assert_untouched
}

# start_server MODE: the test HTTP server over $TMP/www; sets URL_BASE.
start_server() {
    mkdir -p "$TMP/www"
    python3 "$BUNDLE_HTTP" "$TMP/www" "$TMP/port" "$TMP/http.log" "$1" 3>&- &
    SERVER_PID=$!
    local i
    for i in $(seq 1 100); do
        [ -s "$TMP/port" ] && break
        sleep 0.05
    done
    [ -s "$TMP/port" ]
    URL_BASE="http://127.0.0.1:$(cat "$TMP/port")"
}

stop_server() {
    if [ -n "${SERVER_PID:-}" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
    rm -f "$TMP/port"
}
