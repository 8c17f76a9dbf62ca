#!/usr/bin/env bash
# The bundle benchmark: `box bundle stage` on a generated ~500 MB bundle
# (thousands of files, some large) against the standard-tool pipeline that
# does the same work, `tar -xzf` then `sha256sum -c` over every file, run
# alternately. Prints MB/s, wall time and peak RSS of each run, the medians
# and the ratio; then the peak RSS of box on a bundle ten times smaller, to
# show that memory does not grow with the bundle.
#
# Usage: bench/bundle/run.sh [path/to/box-bundle]
# Environment: BENCH_DIR (default build/bench-bundle), RUNS (default 5),
# BUNDLE_MB (default 500). The generated input is kept for later runs.
set -euo pipefail

BOX_BUNDLE=$(realpath "${1:-build/box-bundle}")
HERE=$(cd "$(dirname "$0")" && pwd)
BENCH_DIR=${BENCH_DIR:-build/bench-bundle}
RUNS=${RUNS:-5}
BUNDLE_MB=${BUNDLE_MB:-500}
SMALL_MB=$((BUNDLE_MB / 10))
ARCH=amd64

for tool in tar sha256sum python3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench-bundle: skipped: $tool is missing" >&2; exit 0; }
done

mkdir -p "$BENCH_DIR"
BENCH_DIR=$(realpath "$BENCH_DIR")
need_kb=$(( (BUNDLE_MB * (2 * RUNS + 3) + 2 * SMALL_MB) * 1024 ))
free_kb=$(df -Pk "$BENCH_DIR" | awk 'NR == 2 { print $4 }')
if [ "$free_kb" -lt "$need_kb" ]; then
    echo "bench-bundle: skipped: needs $((need_kb / 1024)) MiB free in $BENCH_DIR" >&2
    exit 0
fi

# make_bundle NAME MB: generated install root -> NAME.tar.gz (cached) + NAME.sums
make_bundle() {
    local name=$1 mb=$2 root="$BENCH_DIR/$1-root"
    if [ ! -s "$BENCH_DIR/$name.tar.gz" ]; then
        rm -rf "$root"
        python3 "$HERE/gen.py" "$root" "$mb" >/dev/null
        SOURCE_DATE_EPOCH=1773837296 "$BOX_BUNDLE" create --from "$root" --arch "$ARCH" \
            --name bench --version "$mb" \
            --component nvidia_container_toolkit=1.17.8@0123456789abcdef0123456789abcdef01234567 \
            --component libnvidia_container=1.17.8@89abcdef0123456789abcdef0123456789abcdef \
            -o "$BENCH_DIR/$name.tar.gz" >/dev/null
        rm -rf "$root"
    fi
    # sha256sum -c input: every regular file of the manifest, relative to the tree.
    tar -xzOf "$BENCH_DIR/$name.tar.gz" "bench_${mb}_$ARCH/manifest.json" | python3 -c '
import json, sys
m = json.load(sys.stdin)
top = sys.argv[1]
for f in m["files"]:
    if f["entry_type"] == "file":
        print("%s  %s/%s" % (f["sha256"], top, f["path"]))' "bench_${mb}_$ARCH" \
        >"$BENCH_DIR/$name.sums"
}

# timed OUT CMD...: runs CMD, appends "wall_s maxrss_kb" to OUT
timed() {
    local out=$1
    shift
    sync
    /usr/bin/time -f "%e %M" -o "$out.one" "$@" >/dev/null
    cat "$out.one" >>"$out"
}

echo "bench-bundle: generating a ${BUNDLE_MB} MB bundle in $BENCH_DIR (cached after the first run)"
make_bundle big "$BUNDLE_MB"
make_bundle small "$SMALL_MB"
payload_mb=$(python3 -c 'import json,sys,subprocess
m=json.loads(subprocess.run(["tar","-xzOf",sys.argv[1],sys.argv[2]],capture_output=True).stdout)
print("%.1f" % (sum(f.get("size",0) for f in m["files"]) / 1e6))' \
    "$BENCH_DIR/big.tar.gz" "bench_${BUNDLE_MB}_$ARCH/manifest.json")
files=$(wc -l <"$BENCH_DIR/big.sums")
tgz_mb=$(du -m "$BENCH_DIR/big.tar.gz" | cut -f1)

work="$BENCH_DIR/runs"
rm -rf "$work"
mkdir -p "$work"
: >"$work/box.t"
: >"$work/pipe.t"
: >"$work/zlib.t"
# Every run writes a fresh tree and nothing is deleted until the end: ext4
# makes file creation slow for a while after mass deletion, which would
# penalise whichever run came next.
for i in $(seq 1 "$RUNS"); do
    timed "$work/box.t" "$BOX_BUNDLE" stage "$BENCH_DIR/big.tar.gz" --dest "$work/box-$i" --arch "$ARCH"
    mkdir -p "$work/pipe-$i"
    # shellcheck disable=SC2016 # expanded by the inner shell
    timed "$work/pipe.t" bash -c 'tar -xzf "$1" -C "$2" && cd "$2" && sha256sum -c --quiet "$3"' \
        _ "$BENCH_DIR/big.tar.gz" "$work/pipe-$i" "$BENCH_DIR/big.sums"
done
timed "$work/zlib.t" "$BOX_BUNDLE" stage "$BENCH_DIR/big.tar.gz" --dest "$work/zlib" --arch "$ARCH" --zlib
: >"$work/small.t"
timed "$work/small.t" "$BOX_BUNDLE" stage "$BENCH_DIR/small.tar.gz" --dest "$work/small" --arch "$ARCH"

python3 - "$work" "$payload_mb" "$RUNS" "$files" "$tgz_mb" "$SMALL_MB" <<'PY'
import statistics, sys
work, mb, runs, files, tgz, small_mb = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
def load(name):
    return [tuple(float(x) for x in line.split()) for line in open("%s/%s.t" % (work, name)) if line.strip()]
box, pipe, zlib, small = load("box"), load("pipe"), load("zlib"), load("small")
print("\nbundle: %.0f MB payload, %s files, %s MB gzip; %d alternating runs each\n" % (mb, files, tgz, runs))
print("%-34s %9s %9s %10s" % ("", "wall s", "MB/s", "peak RSS"))
def row(label, t):
    print("%-34s %9.2f %9.0f %7.0f MiB" % (label, t[0], mb / t[0], t[1] / 1024))
for i in range(runs):
    row("box bundle stage      run %d" % (i + 1), box[i])
    row("tar -xzf + sha256sum  run %d" % (i + 1), pipe[i])
med = lambda xs, k: statistics.median(x[k] for x in xs)
print()
row("box bundle stage      median", (med(box, 0), med(box, 1)))
row("tar -xzf + sha256sum  median", (med(pipe, 0), med(pipe, 1)))
row("box bundle stage --zlib (1 run)", zlib[0])
print("%-34s %9s %9s %7.0f MiB" % ("box, bundle of %s MB (memory)" % small_mb, "", "", small[0][1] / 1024))
print("\nratio (pipeline / box, median wall): %.2fx" % (med(pipe, 0) / med(box, 0)))
PY

rm -rf "$work"
