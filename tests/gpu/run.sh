#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: the checks that need a real one.
#
#   sudo tests/gpu/run.sh [MANIFEST]
#
# 1. `box cdi generate` on the host, then `box cdi validate` and `box cdi
#    list` on the result (kept in a private directory: /etc/cdi is not
#    touched).
# 2. Containers from a static busybox root (plus the host's C library, as
#    nvidia-smi is dynamic):
#    - without devices: no /dev/nvidia* node, no driver library, nvidia-smi
#      absent;
#    - `--device nvidia.com/gpu=0`: `nvidia-smi -L` lists exactly one GPU;
#    - `--device nvidia.com/gpu=all`: as many as the host lists;
#    - `--device nvidia.com/gpu=<UUID of GPU 0>`: that GPU;
#    - the driver libraries resolve through the container's linker cache.
# 3. With MANIFEST (build/images/workloads.yaml from `make images`): `box
#    validate` runs every workload with the generated spec; each verdict must
#    match and the GPU workloads must really run (not be skipped). Then
#    cuda-basic runs once more without GPUs and must fail by the contract.
#
# BOX, BOX_VALIDATE: the executables (default: build/box, built when
# missing, and build/box-validate); BUSYBOX: a static busybox (default
# /bin/busybox). Prints a results block for docs/gpu-verification.md and exits
# non-zero when a check failed. Without an NVIDIA driver it says why it
# skipped and exits 0.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
manifest=${1:-}
say() { printf 'gpu: %s\n' "$*" >&2; }

if [ ! -e /proc/driver/nvidia/version ] || ! command -v nvidia-smi >/dev/null; then
    echo "SKIP tests/gpu: no NVIDIA driver on this machine (/proc/driver/nvidia/version, nvidia-smi)"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "tests/gpu: needs root (containers with device nodes)" >&2
    exit 1
fi
gpus=$(nvidia-smi -L | grep -c '^GPU ' || true)
if [ "$gpus" -lt 1 ]; then
    echo "SKIP tests/gpu: nvidia-smi lists no GPU"
    exit 0
fi

box=${BOX:-$repo/build/box}
[ -x "$box" ] || make -C "$repo" -j"$(nproc)" build/box >/dev/null
box_validate=${BOX_VALIDATE:-$repo/build/box-validate}
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || {
    echo "tests/gpu: no static busybox at $busybox (set BUSYBOX)" >&2
    exit 1
}
work=$(mktemp -d /tmp/box-gpu.XXXXXX)
state=$work/state
cleanup() {
    "$box" --root "$state" list -q 2>/dev/null | while read -r id; do
        "$box" --root "$state" delete --force "$id" || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

results=()
check() {
    results+=("$1: $2")
    say "$1: $2"
}
pass_if() { # pass_if NAME DETAIL COMMAND...
    local name=$1 detail=$2
    shift 2
    if "$@"; then check "$name" "PASS ($detail)"; else check "$name" "FAIL ($detail)"; fi
}

# ---- 1. the host's spec ------------------------------------------------------
mkdir -p "$work/cdi" "$state"
t0=$(date +%s%N)
if "$box" cdi generate --output "$work/cdi/nvidia.yaml" 2>"$work/gen.err"; then
    gen_ms=$((($(date +%s%N) - t0) / 1000000))
    check "box cdi generate" "PASS (${gen_ms} ms)"
else
    check "box cdi generate" "FAIL: $(cat "$work/gen.err")"
fi
if "$box" cdi validate "$work/cdi/nvidia.yaml" >"$work/validate.out" 2>&1; then
    check "box cdi validate" "PASS"
else
    check "box cdi validate" "FAIL: $(cat "$work/validate.out")"
fi
"$box" cdi list --cdi-spec-dir "$work/cdi" >"$work/list.out" 2>&1 || true
say "devices: $(paste -sd ' ' "$work/list.out")"
[ -n "${GPU_SPEC_COPY:-}" ] && cp "$work/cdi/nvidia.yaml" "$GPU_SPEC_COPY"

# ---- 2. containers -------------------------------------------------------------
# config_set FILE ARGS_JSON: process.args, no terminal, a writable root.
config_set() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
path, args = sys.argv[1], json.loads(sys.argv[2])
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = args
c["root"]["readonly"] = False
json.dump(c, open(path, "w"), indent=1)
EOF
}

bundle() { # bundle DIR SCRIPT
    local b=$1
    mkdir -p "$b/rootfs/bin" "$b/rootfs/proc" "$b/rootfs/dev" "$b/rootfs/etc" \
        "$b/rootfs/sys" "$b/rootfs/tmp" "$b/rootfs/lib64" "$b/rootfs/lib/x86_64-linux-gnu"
    cp "$busybox" "$b/rootfs/bin/busybox"
    for t in sh ls cat grep wc strings; do ln -sf busybox "$b/rootfs/bin/$t"; done
    cp -L /lib64/ld-linux-x86-64.so.2 "$b/rootfs/lib64/"
    local so
    for so in libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1; do
        if [ -e "/lib/x86_64-linux-gnu/$so" ]; then
            cp -L "/lib/x86_64-linux-gnu/$so" "$b/rootfs/lib/x86_64-linux-gnu/"
        fi
    done
    (cd "$b" && "$box" spec)
    config_set "$b/config.json" "$(python3 -c 'import json,sys; print(json.dumps(["/bin/sh", "-c", sys.argv[1]]))' "$2")"
}

# run_in NAME SCRIPT [DEVICE]: the script's output inside a container.
run_in() {
    bundle "$work/$1" "$2"
    local dev=()
    [ -n "${3:-}" ] && dev=(--cdi-spec-dir "$work/cdi" --device "nvidia.com/gpu=$3")
    "$box" --root "$state" run --bundle "$work/$1" "${dev[@]}" "$1" </dev/null 2>&1
}

none=$(run_in none 'ls /dev; ls /dev/nvidia* 2>/dev/null | wc -l; command -v nvidia-smi || echo no-smi') || true
if grep -q '^no-smi$' <<<"$none" && [ "$(sed -n '$!p' <<<"$none" | grep -c nvidia)" = 0 ]; then
    check "no --device: no GPU node, no nvidia-smi" PASS
else
    check "no --device: no GPU node, no nvidia-smi" "FAIL: $none"
fi

one=$(run_in one 'nvidia-smi -L' 0) || true
n=$(grep -c '^GPU ' <<<"$one" || true)
pass_if "nvidia-smi -L, gpu=0" "$n GPU listed of $gpus" [ "$n" = 1 ]
[ "$n" = 1 ] || say "$one"

all=$(run_in all 'nvidia-smi -L' all) || true
n=$(grep -c '^GPU ' <<<"$all" || true)
pass_if "nvidia-smi -L, gpu=all" "$n of $gpus" [ "$n" = "$gpus" ]
[ "$n" = "$gpus" ] || say "$all"

uuid=$(nvidia-smi --query-gpu=uuid --format=csv,noheader | head -n 1)
byid=$(run_in byid 'nvidia-smi --query-gpu=uuid --format=csv,noheader' "$uuid") || true
pass_if "nvidia-smi, gpu=$uuid" "saw $(head -n 1 <<<"$byid")" [ "$(head -n 1 <<<"$byid")" = "$uuid" ]

# The driver libraries are dlopen()ed (by nvidia-smi, by the CUDA runtime):
# the container's linker cache must name them.
libs=$(run_in libs 'strings /etc/ld.so.cache | grep -E "/(libcuda|libnvidia-ml)\.so\.1$"; ls /dev/nvidia*' all) || true
if grep -q '^/.*/libcuda\.so\.1$' <<<"$libs" && grep -q '^/.*/libnvidia-ml\.so\.1$' <<<"$libs"; then
    check "the container's ld.so.cache names libcuda.so.1 and libnvidia-ml.so.1" PASS
else
    check "the container's ld.so.cache names libcuda.so.1 and libnvidia-ml.so.1" "FAIL: $libs"
fi
say "nodes in a gpu=all container: $(grep '^/dev/nvidia' <<<"$libs" | paste -sd ' ')"

# ---- 3. the validation workloads ----------------------------------------------
if [ -n "$manifest" ]; then
    base=$(cd "$(dirname "$manifest")/../.." && pwd)
    if (cd "$base" && "$box_validate" --manifest "$manifest" --runtime-path "$box" \
        --cdi-spec-dir "$work/cdi" --json "$work/report.json") >"$work/validate.txt" 2>&1; then
        rc=0
    else
        rc=$?
    fi
    cat "$work/validate.txt" >&2
    [ -n "${GPU_REPORT_COPY:-}" ] && cp "$work/report.json" "$GPU_REPORT_COPY"
    verdicts=$(python3 - "$work/report.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
for w in r["workloads"]:
    print(w["name"], w["gpu"], w["result"], "matched" if w["matched"] else "MISMATCH")
EOF
    ) || verdicts="no report"
    say "verdicts: $verdicts"
    gpu_ran=$(grep -c ' True pass' <<<"$verdicts" || true)
    # both: the exit status, and a GPU workload that really ran
    ok=false
    [ "$rc" = 0 ] && [ "$gpu_ran" -ge 1 ] && ok=true
    pass_if "box validate $(basename "$manifest")" "exit $rc; GPU workloads that passed: $gpu_ran" "$ok"
    ref=$(sed -n '/name: "cuda-basic"/,/image:/s/^ *image: "\(.*\)"/\1/p' "$manifest")
    if (cd "$base" && "$box_validate" --image "$ref" --expect fail --name cuda-basic \
        --runtime-path "$box") >"$work/nogpu.txt" 2>&1; then
        check "cuda-basic without GPUs fails by the contract" PASS
    else
        check "cuda-basic without GPUs fails by the contract" "FAIL: $(cat "$work/nogpu.txt")"
    fi
else
    check "box validate" "not run (no manifest given)"
fi

cat <<EOF2

---- paste into docs/gpu-verification.md ----
### $(date -u +%Y-%m-%d) $(hostname)
- GPU: $(nvidia-smi --query-gpu=name --format=csv,noheader | sort | uniq -c | sed 's/^ *//' | paste -sd ';')
- driver: $(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -n 1)
- kernel: $(uname -r)
- box: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || "$box" --version | head -n 1)
$(printf -- '- %s\n' "${results[@]}")
---------------------------------------------
EOF2
! printf '%s\n' "${results[@]}" | grep -q FAIL
