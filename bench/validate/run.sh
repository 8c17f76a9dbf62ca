#!/usr/bin/env bash
# Benchmark `box validate` on the smoke manifest against running the same
# images through podman with crun; see docs/benchmarks.md ("box validate").
#
#   bench/validate/run.sh                      what `make bench-validate` runs
#   BENCH_VALIDATE_ROUNDS=21 bench/validate/run.sh
#
# The images: build/images/workloads.yaml when `make images` has written it
# (its oci: images that need no GPU), else smoke-pass and smoke-fail built
# here by tests/acceptance/oci_fixture.py from the static busybox. The
# script re-executes itself once in a private mount namespace, hides the
# cgroup2 controller list there for crun (hybrid hosts), and removes its
# temporary directory, podman's storage and containers on exit.
set -euo pipefail

self=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
here=$(dirname "$self")
repo=$(cd "$here/../.." && pwd)
BOX=${BOX:-$repo/build/box}
BOX_VALIDATE=${BOX_VALIDATE:-$repo/build/box-validate}
PODMAN=${PODMAN:-podman}
CRUN=${CRUN:-/usr/bin/crun}
BUSYBOX=${BUSYBOX:-/bin/busybox}
ROUNDS=${BENCH_VALIDATE_ROUNDS:-11}
UNIFIED=/sys/fs/cgroup/unified

say() { printf 'bench-validate: %s\n' "$*" >&2; }
die() {
    say "$*"
    exit 2
}

[ "$(id -u)" = 0 ] || die "needs root (it runs containers)"
if [ ! -x "$BOX_VALIDATE" ] || [ ! -x "$BOX" ]; then die "build box and box-validate first (make)"; fi
if [ -z "${BENCH_VALIDATE_INNER:-}" ]; then
    exec unshare --mount --propagation private env BENCH_VALIDATE_INNER=1 ${BENCH_VALIDATE_TRACE:+bash -x} "$self" "$@"
fi
if [ -e "$UNIFIED/cgroup.controllers" ] && [ "$(stat -f -c %T "$UNIFIED")" = cgroup2fs ]; then
    mount --bind /dev/null "$UNIFIED/cgroup.controllers"
fi

# Lowercase: podman names an image pulled from oci:DIR after DIR.
cd "$repo"
work=/tmp/boxbench-validate.$$.$RANDOM
mkdir -m 0700 "$work"
# Mounts podman left under a directory (its overlay storage), innermost first.
umount_under() {
    awk -v d="$1" 'index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r |
        while IFS= read -r m; do umount -l "$m" 2>/dev/null || true; done
}
cleanup() {
    if [ -f "$work/podman/containers.conf" ]; then
        podman_env
        "$PODMAN" rm --all --force --time 0 >/dev/null 2>&1 || true
        "$PODMAN" rmi --all --force >/dev/null 2>&1 || true
    fi
    umount_under "$work"
    rm -rf "$work"
}
trap cleanup EXIT

now_ns() { date +%s%N; }

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

ms() { awk -v n="$1" 'BEGIN {printf "%.1f", n / 1e6}'; }

# ---- the images -------------------------------------------------------------
# images.tsv: NAME  LAYOUT  :TAG or -  EXPECT (the rows podman runs too)
if [ -f "$repo/build/images/workloads.yaml" ]; then
    manifest=$repo/build/images/workloads.yaml
    source="build/images/workloads.yaml (make images)"
    "$BOX_VALIDATE" --manifest "$manifest" --json "$work/probe.json" -q >/dev/null 2>&1 || true
    # name, layout, tag (empty for oci:DIR@DIGEST: the layout's only manifest), expect
    jq -r '.workloads[] | select(.gpu | not) | select(.image | startswith("oci:"))
        | [.name, .image[4:], .expect] | @tsv' "$work/probe.json" |
        while IFS=$'\t' read -r name ref expect; do
            if [[ $ref == *@* ]]; then
                dir=${ref%%@*} tag=""
            elif [[ ${ref##*/} == *:* ]]; then
                dir=${ref%:*} tag=${ref##*:}
            else
                dir=$ref tag=""
            fi
            # as box validate reads it: from the manifest's directory, else the cwd
            case $dir in
            /*) ;;
            *) if [ -e "$repo/build/images/$dir/oci-layout" ]; then dir=$repo/build/images/$dir; else dir=$repo/$dir; fi ;;
            esac
            # ":TAG", or "-" for none (tab is IFS whitespace: an empty field would vanish)
            printf '%s\t%s\t%s\t%s\n' "$name" "$dir" "$([ -n "$tag" ] && echo ":$tag" || echo -)" "$expect"
        done >"$work/images.tsv"
else
    source="smoke-pass and smoke-fail built by tests/acceptance/oci_fixture.py"
    printf '#!/bin/sh\necho OPENSHELL_GPU_WORKLOAD_SUCCESS smoke-pass\n' >"$work/pass.sh"
    printf '#!/bin/sh\necho OPENSHELL_GPU_WORKLOAD_FAILURE smoke-fail deliberate >&2\nexit 42\n' \
        >"$work/fail.sh"
    for w in pass fail; do
        BUSYBOX=$BUSYBOX python3 "$repo/tests/acceptance/oci_fixture.py" "$work/images" \
            --workload "$work/$w.sh" --tag "smoke-$w" >/dev/null
    done
    manifest=$work/workloads.yaml
    {
        echo "schema_version: 1"
        echo "workloads:"
        echo "  - {name: smoke-pass, image: \"oci:images:smoke-pass\", expect: pass}"
        echo "  - {name: smoke-fail, image: \"oci:images:smoke-fail\", expect: fail}"
    } >"$manifest"
    printf 'smoke-pass\t%s\t:smoke-pass\tpass\nsmoke-fail\t%s\t:smoke-fail\tfail\n' \
        "$work/images" "$work/images" >"$work/images.tsv"
fi
[ -s "$work/images.tsv" ] || die "no image of $manifest can run without a GPU from an OCI layout"

# ---- box validate -----------------------------------------------------------
: >"$work/box.tsv"
for _ in $(seq "$ROUNDS"); do
    t0=$(now_ns)
    rc=0
    "$BOX_VALIDATE" --manifest "$manifest" --json "$work/r.json" -q || rc=$?
    t1=$(now_ns)
    [ "$rc" -eq 0 ] || die "box validate exited $rc: $(jq -c '[.workloads[] | .reason]' "$work/r.json")"
    jq -r --arg total "$((t1 - t0))" '[([.workloads[].phases_ms | .fetch + .unpack] | add),
        ([.workloads[].phases_ms.bundle] | add), ([.workloads[].phases_ms.run] | add), $total]
        | @tsv' "$work/r.json" >>"$work/box.tsv"
done

# ---- podman with crun ---------------------------------------------------------
podman_env() {
    export CONTAINERS_CONF=$work/podman/containers.conf
    export CONTAINERS_STORAGE_CONF=$work/podman/storage.conf
    export CONTAINERS_REGISTRIES_CONF=$work/podman/registries.conf
}

podman_why=""
if ! command -v "$PODMAN" >/dev/null || ! command -v conmon >/dev/null; then
    podman_why="podman is not installed (Debian: podman)"
elif [ ! -x "$CRUN" ]; then
    podman_why="crun is not installed"
else
    # podman's blob-info cache under /var/lib/containers, kept off the host
    [ -d /var/lib/containers ] && mount -t tmpfs tmpfs /var/lib/containers
    podman_env
    for driver in overlay vfs; do
        "$repo/scripts/podman-private-config" "$work/podman" "$driver" crun
        mkdir -p "$work/podman/tmp"
        IFS=$'\t' read -r name layout tag _ <"$work/images.tsv"
        if "$PODMAN" pull -q "oci:$layout${tag#-}" >"$work/podman-probe.log" 2>&1; then
            break
        fi
        podman_why="podman pull failed: $(tail -n 2 "$work/podman-probe.log" | tr '\n' ' ')"
        umount_under "$work/podman"
        rm -rf "$work/podman/root" "$work/podman/run"
    done
    [ -d "$work/podman/root" ] && podman_why=""
fi

: >"$work/podman.tsv"
if [ -z "$podman_why" ]; then
    for _ in $(seq "$ROUNDS"); do
        "$PODMAN" rmi --all --force >/dev/null 2>&1 || true
        t0=$(now_ns)
        while IFS=$'\t' read -r name layout tag _; do
            "$PODMAN" pull -q "oci:$layout${tag#-}" >"$work/id-$name"
        done <"$work/images.tsv"
        t1=$(now_ns)
        while IFS=$'\t' read -r name layout tag expect; do
            rc=0
            "$PODMAN" --runtime "$CRUN" run --rm --user sandbox "$(cat "$work/id-$name")" \
                /usr/local/bin/openshell-gpu-workload >/dev/null 2>&1 || rc=$?
            if { [ "$expect" = pass ] && [ "$rc" -ne 0 ]; } ||
                { [ "$expect" = fail ] && [ "$rc" -eq 0 ]; }; then
                die "podman run of $name exited $rc, expected $expect"
            fi
        done <"$work/images.tsv"
        t2=$(now_ns)
        printf '%s\t%s\t%s\n' "$((t1 - t0))" "$((t2 - t1))" "$((t2 - t0))" >>"$work/podman.tsv"
    done
fi

# ---- report -------------------------------------------------------------------
col() { cut -f"$2" "$1" | median; }
b_unpack=$(col "$work/box.tsv" 1)
b_bundle=$(col "$work/box.tsv" 2)
b_run=$(col "$work/box.tsv" 3)
b_total=$(col "$work/box.tsv" 4)
n=$(wc -l <"$work/images.tsv")
echo "box validate vs podman + crun: $n images ($source), $ROUNDS rounds, medians"
echo "kernel:  $(uname -srm), $(nproc) cpus; podman $("$PODMAN" --version 2>/dev/null | awk '{print $3}'), crun $("$CRUN" --version 2>/dev/null | head -n1 | awk '{print $3}')"
printf '%-44s %12s\n' "row" "ms"
printf '%-44s %12s\n' "box validate: image read + unpack" "$b_unpack"
printf '%-44s %12s\n' "box validate: bundle creation" "$b_bundle"
printf '%-44s %12s\n' "box validate: run (box run, verdict)" "$b_run"
printf '%-44s %12s\n' "box validate: end to end (process wall)" "$(ms "$b_total")"
if [ -n "$podman_why" ]; then
    echo "skip:    podman: $podman_why"
    exit 0
fi
p_pull=$(col "$work/podman.tsv" 1)
p_run=$(col "$work/podman.tsv" 2)
p_total=$(col "$work/podman.tsv" 3)
printf '%-44s %12s\n' "podman: pull oci: (image unpack)" "$(ms "$p_pull")"
printf '%-44s %12s\n' "podman: run --rm --runtime crun" "$(ms "$p_run")"
printf '%-44s %12s\n' "podman: end to end" "$(ms "$p_total")"
awk -v b="$b_total" -v p="$p_total" -v r="$p_run" 'BEGIN {
    printf "ratio:   podman end to end / box validate end to end = %.1fx (target >= 5x)\n", p / b
    printf "ratio:   podman run alone (image already unpacked) / box validate end to end = %.1fx\n", r / b
}'
