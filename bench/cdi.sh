#!/usr/bin/env bash
# CDI rows of `make bench` (docs/benchmarks.md): `box cdi generate` on the
# fake NVIDIA host of the test suite, and `box run` of /bin/true with
# nvidia.com/gpu=all from that host's spec against the same run without
# devices, interleaved round by round; medians and their ratio.
#
#   bench/cdi.sh                 what `make bench` runs
#   BENCH_CDI_ROUNDS=51 bench/cdi.sh
#   BENCH_CDI_HOST=real bench/cdi.sh   the same rows from this host's own
#                                      driver (a machine with an NVIDIA GPU)
#   BENCH_CDI_STEPS=1 bench/cdi.sh     then where the cost goes: the spec cut
#                                      down to its nodes, plus its mounts,
#                                      plus each hook (docs/gpu-verification.md)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
BOX=${BOX:-$repo/build/box}
BUSYBOX=${BUSYBOX:-/bin/busybox}
ROUNDS=${BENCH_CDI_ROUNDS:-21}
HOST=${BENCH_CDI_HOST:-fake}
STEPS=${BENCH_CDI_STEPS:-0}

say() { printf 'bench cdi: %s\n' "$*" >&2; }
if [ "$(id -u)" != 0 ]; then
    say "skipped: needs root (mknod for the fake host, containers)"
    exit 0
fi
tools="gcc ldconfig python3"
[ "$HOST" = real ] && tools=python3
for tool in $tools; do
    command -v "$tool" >/dev/null || {
        say "skipped: $tool is not installed"
        exit 0
    }
done

work=$(mktemp -d /tmp/box-bench-cdi.XXXXXX)
state=$work/state
cleanup() {
    "$BOX" --root "$state" list -q 2>/dev/null | while read -r id; do
        "$BOX" --root "$state" delete --force "$id" >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

if [ "$HOST" = real ]; then
    [ -e /proc/driver/nvidia/version ] || {
        say "skipped: BENCH_CDI_HOST=real, but no NVIDIA driver is loaded here"
        exit 0
    }
    host_label="this host, $(nvidia-smi -L 2>/dev/null | grep -c '^GPU ') GPU"
else
    # shellcheck source=tests/acceptance/cdi_fakehost.bash
    . "$repo/tests/acceptance/cdi_fakehost.bash"
    fakehost_build "$work/host"
    host_label="fake host, 2 GPUs"
fi

now_us() {
    local t
    t=$(date +%s%N)
    echo $((t / 1000))
}

# median: of the numbers on stdin.
median() {
    sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
}

gen() {
    if [ "$HOST" = real ]; then
        "$BOX" cdi generate "$@"
    else
        "$BOX" cdi generate --driver-root "$FAKE_DRIVER" --dev-root "$FAKE_DEV" \
            --proc-root "$FAKE_PROC" "$@"
    fi
}

: >"$work/gen.us"
for _ in $(seq "$ROUNDS"); do
    t0=$(now_us)
    gen --output "$work/nvidia.yaml"
    echo $(($(now_us) - t0)) >>"$work/gen.us"
done
printf '%-44s %10s us\n' "box cdi generate ($host_label)" "$(median <"$work/gen.us")"

if ! "$BOX" run --help 2>&1 | grep -q -- '--device'; then
    say "run rows skipped: this box has no run --device"
    exit 0
fi
mkdir -p "$work/cdi" "$work/bundle/rootfs/bin" "$state"
mv "$work/nvidia.yaml" "$work/cdi/"
cp "$BUSYBOX" "$work/bundle/rootfs/bin/busybox"
ln -s busybox "$work/bundle/rootfs/bin/true"
(cd "$work/bundle" && "$BOX" spec)
python3 - "$work/bundle/config.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"].update(terminal=False, args=["/bin/true"])
c["root"]["readonly"] = False
json.dump(c, open(sys.argv[1], "w"))
EOF

: >"$work/plain.us"
: >"$work/gpu.us"
for i in $(seq "$ROUNDS"); do
    t0=$(now_us)
    "$BOX" --root "$state" run --bundle "$work/bundle" "p$i" </dev/null >/dev/null
    echo $(($(now_us) - t0)) >>"$work/plain.us"
    t0=$(now_us)
    "$BOX" --root "$state" run --bundle "$work/bundle" --cdi-spec-dir "$work/cdi" \
        --device nvidia.com/gpu=all "g$i" </dev/null >/dev/null
    echo $(($(now_us) - t0)) >>"$work/gpu.us"
done
plain=$(median <"$work/plain.us")
gpu=$(median <"$work/gpu.us")
printf '%-44s %10s us\n' "box run /bin/true" "$plain"
printf '%-44s %10s us\n' "box run /bin/true --device nvidia.com/gpu=all" "$gpu"
awk -v g="$gpu" -v p="$plain" 'BEGIN {printf "%-44s %10.2fx (target <= 1.10x)\n", "gpu=all / no devices", g / p}'

[ "$STEPS" = 1 ] || exit 0
# The same spec cut down: each step keeps the spec-level containerEdits up
# to it (the nodes, then the mounts, then each hook in its order), timed
# round by round beside a run without devices.
gen --format json --output "$work/full.json"
python3 - "$work/full.json" "$work/steps" <<'EOF'
import copy, json, os, sys
spec = json.load(open(sys.argv[1]))
edits = spec["containerEdits"]
mounts, hooks = edits.get("mounts", []), edits.get("hooks", [])
steps = [("nodes", [], 0), ("+ mounts", mounts, 0)]
steps += [("+ hook " + h["args"][2], mounts, i + 1) for i, h in enumerate(hooks)]
for n, (name, m, nhooks) in enumerate(steps):
    s = copy.deepcopy(spec)
    e = s["containerEdits"]
    e.pop("mounts", None)
    e.pop("hooks", None)
    if m:
        e["mounts"] = m
    if nhooks:
        e["hooks"] = hooks[:nhooks]
    os.makedirs("%s/%d" % (sys.argv[2], n))
    json.dump(s, open("%s/%d/nvidia.json" % (sys.argv[2], n), "w"))
    with open("%s/%d/name" % (sys.argv[2], n), "w") as f:
        f.write("%s (%d mounts, %d hooks)" % (name, len(m), nhooks))
EOF
nsteps=$(find "$work/steps" -mindepth 1 -maxdepth 1 -type d | wc -l)
: >"$work/s-none.us"
for i in $(seq "$ROUNDS"); do
    t0=$(now_us)
    "$BOX" --root "$state" run --bundle "$work/bundle" "sp$i" </dev/null >/dev/null
    echo $(($(now_us) - t0)) >>"$work/s-none.us"
    for n in $(seq 0 $((nsteps - 1))); do
        t0=$(now_us)
        "$BOX" --root "$state" run --bundle "$work/bundle" --cdi-spec-dir "$work/steps/$n" \
            --device nvidia.com/gpu=all "s$n-$i" </dev/null >/dev/null
        echo $(($(now_us) - t0)) >>"$work/s-$n.us"
    done
done
printf '%-52s %10s us\n' "steps: no devices" "$(median <"$work/s-none.us")"
for n in $(seq 0 $((nsteps - 1))); do
    printf '%-52s %10s us\n' "steps: $(cat "$work/steps/$n/name")" "$(median <"$work/s-$n.us")"
done
