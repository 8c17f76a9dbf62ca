#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: builds box, generates the CDI spec of the
# host, and inside box containers runs `nvidia-smi -L` with one GPU and with
# all of them, and the cuda-basic workload when an image directory is given.
# Prints a results block for docs/gpu-verification.md. Without a GPU it
# exits 0 after saying why it skipped.
#
#   sudo tests/gpu/run.sh [CUDA_BASIC_ROOTFS]
#
# CUDA_BASIC_ROOTFS: a root filesystem whose /cuda-basic program runs a small
# CUDA kernel and prints "PASS" (the cuda-basic workload).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
image=${1:-}
say() { printf 'gpu: %s\n' "$*" >&2; }

if [ ! -e /proc/driver/nvidia/version ] || ! command -v nvidia-smi >/dev/null; then
    echo "SKIP tests/gpu: no NVIDIA driver on this machine (/proc/driver/nvidia/version, nvidia-smi)"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "tests/gpu: needs root (containers with device nodes)" >&2
    exit 1
fi
gpus=$(nvidia-smi -L | grep -c '^GPU ')
if [ "$gpus" -lt 1 ]; then
    echo "SKIP tests/gpu: nvidia-smi lists no GPU"
    exit 0
fi

make -C "$repo" -j"$(nproc)" build/box >/dev/null
box=$repo/build/box
work=$(mktemp -d /tmp/box-gpu.XXXXXX)
state=$work/state
cleanup() {
    "$box" --root "$state" list -q 2>/dev/null | while read -r id; do
        "$box" --root "$state" delete --force "$id" || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/cdi" "$state"
"$box" cdi generate --output "$work/cdi/nvidia.yaml"
"$box" cdi validate "$work/cdi/nvidia.yaml" >&2

# A bundle whose root is a copy of a static busybox plus whatever the spec
# mounts (nvidia-smi and the driver libraries come from the host).
bundle() {
    local b=$1 rootfs=${2:-}
    mkdir -p "$b"
    if [ -n "$rootfs" ]; then
        cp -a "$rootfs" "$b/rootfs"
    else
        mkdir -p "$b/rootfs/bin" "$b/rootfs/proc" "$b/rootfs/dev" "$b/rootfs/etc" \
            "$b/rootfs/sys" "$b/rootfs/tmp"
        cp /bin/busybox "$b/rootfs/bin/busybox"
        ln -s busybox "$b/rootfs/bin/sh"
        # nvidia-smi is dynamic: it needs the host's C library in the root
        mkdir -p "$b/rootfs/lib64" "$b/rootfs/lib/x86_64-linux-gnu"
        cp -L /lib64/ld-linux-x86-64.so.2 "$b/rootfs/lib64/"
        for so in libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1; do
            [ -e "/lib/x86_64-linux-gnu/$so" ] && cp -L "/lib/x86_64-linux-gnu/$so" \
                "$b/rootfs/lib/x86_64-linux-gnu/"
        done
    fi
    (cd "$b" && "$box" spec)
    jq --arg a "$3" '.process.terminal = false | .process.args = ["/bin/sh", "-c", $a]
        | .root.readonly = false' "$b/config.json" >"$b/c" && mv "$b/c" "$b/config.json"
}

# run_in NAME DEVICE COMMAND [ROOTFS]: the command's output inside a container.
run_in() {
    bundle "$work/$1" "${4:-}" "$3"
    "$box" --root "$state" run --bundle "$work/$1" --cdi-spec-dir "$work/cdi" \
        --device "nvidia.com/gpu=$2" "$1" </dev/null
}

results=()
check() {
    results+=("$1: $2")
    say "$1: $2"
}

one=$(run_in one 0 'nvidia-smi -L' 2>&1) || true
n_one=$(grep -c '^GPU ' <<<"$one" || true)
if [ "$n_one" = 1 ]; then
    check "nvidia-smi -L, gpu=0" "PASS (1 GPU visible of $gpus)"
else
    check "nvidia-smi -L, gpu=0" "FAIL ($n_one visible): $one"
fi
all=$(run_in all all 'nvidia-smi -L' 2>&1) || true
n_all=$(grep -c '^GPU ' <<<"$all" || true)
if [ "$n_all" = "$gpus" ]; then
    check "nvidia-smi -L, gpu=all" "PASS ($n_all of $gpus)"
else
    check "nvidia-smi -L, gpu=all" "FAIL ($n_all visible of $gpus): $all"
fi
if [ -n "$image" ]; then
    out=$(run_in cuda 0 /cuda-basic "$image" 2>&1) || true
    if grep -q PASS <<<"$out"; then
        check "cuda-basic, gpu=0" PASS
    else
        check "cuda-basic, gpu=0" "FAIL: $out"
    fi
else
    check "cuda-basic" "not run (no image directory given)"
fi

cat <<EOF2

---- paste into docs/gpu-verification.md ----
### $(date -u +%Y-%m-%d) $(hostname)
- GPU: $(nvidia-smi --query-gpu=name --format=csv,noheader | sort | uniq -c | sed 's/^ *//' | paste -sd ';')
- driver: $(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -n 1)
- box: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
$(printf -- '- %s\n' "${results[@]}")
---------------------------------------------
EOF2
! printf '%s\n' "${results[@]}" | grep -q FAIL
