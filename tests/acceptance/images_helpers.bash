# Shared setup of the image acceptance tests (bats). They drive the real
# box-image binary, given by BOX_IMAGE (make acceptance-images sets it), the
# real skopeo and a real docker-registry on loopback.
# shellcheck shell=bash disable=SC2154,SC2034 # bats sets status/output; tests read the rest

IMG_REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
BOX_IMAGE=${BOX_IMAGE:-$IMG_REPO/build/box-image}
IMG_SRC=$IMG_REPO/e2e/gpu/images
WORKLOAD=/usr/local/bin/openshell-gpu-workload

bi() {
    "$BOX_IMAGE" "$@"
}

# build_smoke NAME OUT [SRCDIR]: one smoke image, as scripts/build-images does.
build_smoke() {
    local name=$1 out=$2 srcdir=${3:-$IMG_SRC/$1}
    bi build --name "$name" --output "$out" --busybox /bin/busybox \
        --input busybox-static=test --add "$WORKLOAD=$srcdir/workload.sh"
}

# manifest_digest LAYOUT: the manifest digest index.json names.
manifest_digest() {
    jq -r '.manifests[0].digest' "$1/index.json"
}

# unpack LAYOUT DIR: the one layer of the image into DIR (mode 0755, as a
# runtime's root would be).
unpack() {
    local layout=$1 dir=$2 m layer
    m=$(manifest_digest "$layout")
    layer=$(jq -r '.layers[0].digest' "$layout/blobs/sha256/${m#sha256:}")
    mkdir -p "$dir"
    chmod 0755 "$dir"
    tar -xzf "$layout/blobs/sha256/${layer#sha256:}" -C "$dir"
}

# run_image LAYOUT: unpack it and run the entrypoint as the sandbox user
# (uid 1000) in a chroot; bats' run captures stdout and stderr apart.
run_image() {
    local root="$TMP/root-$RANDOM"
    unpack "$1" "$root"
    run --separate-stderr chroot --userspec=1000:1000 "$root" "$WORKLOAD"
    rm -rf "$root"
}

# leftovers DIR: temporary directories a build left beside its output.
leftovers() {
    find "$1" -maxdepth 1 \( -name '*.tmp-*' -o -name '*.old-*' -o -name '.*.tmp.*' \) -print
}

# ---- the registry -------------------------------------------------------------

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# registry_start: docker-registry serving $TMP/registry on 127.0.0.1:$REG_PORT.
registry_start() {
    REG_PORT=$(free_port)
    REG="127.0.0.1:$REG_PORT"
    mkdir -p "$TMP/registry"
    cat >"$TMP/registry.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $TMP/registry
  delete:
    enabled: true
http:
  addr: $REG
YML
    docker-registry serve "$TMP/registry.yml" >"$TMP/registry.log" 2>&1 &
    REG_PID=$!
    local i
    for i in $(seq 1 100); do
        curl -fsS "http://$REG/v2/" >/dev/null 2>&1 && return 0
        kill -0 "$REG_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "docker-registry did not start:" >&2
    cat "$TMP/registry.log" >&2
    return 1
}

registry_stop() {
    [ -n "${REG_PID:-}" ] || return 0
    kill "$REG_PID" 2>/dev/null || true
    wait "$REG_PID" 2>/dev/null || true
    ! kill -0 "$REG_PID" 2>/dev/null
    REG_PID=
}

images_setup() {
    TMP=$(mktemp -d)
    REG_PID=
}

images_teardown() {
    registry_stop
    rm -rf "$TMP"
}
