#!/usr/bin/env bash
# Benchmark box against crun and runc on one busybox bundle; see docs/benchmarks.md.
#
#   bench/run.sh                       what `make bench` runs
#   BENCH_ROUNDS=51 BENCH_SEQ=200 BENCH_SEQ_ROUNDS=9 bench/run.sh
#
# The script re-executes itself once inside a private mount namespace (so the
# cgroup workaround below costs nothing per run and leaves the host untouched),
# then hands the measuring to boxbench, a small C harness. Every container and
# the temporary directory are removed on exit, also on failure or Ctrl-C.
set -euo pipefail

self=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
here=$(dirname "$self")
repo=$(dirname "$here")

BOX=${BOX:-$repo/build/box}
CRUN=${CRUN:-/usr/bin/crun}
RUNC=${RUNC:-/usr/sbin/runc}
BUSYBOX=${BUSYBOX:-/bin/busybox}
BENCH_RUNTIMES=${BENCH_RUNTIMES:-box crun runc}
BENCH_ROUNDS=${BENCH_ROUNDS:-21}
BENCH_SEQ=${BENCH_SEQ:-100}
BENCH_SEQ_ROUNDS=${BENCH_SEQ_ROUNDS:-5}
BENCH_IDLE_MS=${BENCH_IDLE_MS:-50}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-30}
BENCH_CSV=${BENCH_CSV:-}
UNIFIED=/sys/fs/cgroup/unified

say() { printf 'bench: %s\n' "$*" >&2; }
die() {
    say "$*"
    exit 2
}

runtime_path() {
    case $1 in
    box) printf '%s\n' "$BOX" ;;
    crun) printf '%s\n' "$CRUN" ;;
    runc) printf '%s\n' "$RUNC" ;;
    *) return 1 ;;
    esac
}

# v2, hybrid (v1 plus a cgroup2 mount at $UNIFIED) or v1.
cgroup_layout() {
    if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
        echo v2
    elif [ -d "$UNIFIED" ] && [ "$(stat -f -c %T "$UNIFIED")" = cgroup2fs ]; then
        echo hybrid
    else
        echo v1
    fi
}

# crun 1.8 refuses a hybrid host whose cgroup2 mount lists any controller.
# Hiding the list, in this private mount namespace only, lets it run; every
# runtime runs under the same view so that the comparison stays fair.
hide_unified_controllers() {
    if [ "$(cgroup_layout)" = hybrid ] && [ -e "$UNIFIED/cgroup.controllers" ]; then
        mount --bind /dev/null "$UNIFIED/cgroup.controllers"
    fi
}

# Edit the spec from `runc spec`: no terminal, run busybox's true applet.
edit_spec() {
    local file=$1
    if command -v jq >/dev/null; then
        jq '.process.terminal = false | .process.args = ["/bin/true"]' "$file" >"$file.new"
    elif command -v python3 >/dev/null; then
        python3 - "$file" >"$file.new" <<'EOF'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["process"]["terminal"] = False
spec["process"]["args"] = ["/bin/true"]
json.dump(spec, sys.stdout, indent=2)
EOF
    else
        die "need jq or python3 to edit config.json"
    fi
    mv "$file.new" "$file"
}

make_bundle() {
    local bundle=$1 specgen
    [ -x "$BUSYBOX" ] || die "no $BUSYBOX (Debian: apt-get install busybox-static)"
    # A dynamic busybox would need its libraries inside the rootfs.
    if file -L "$BUSYBOX" 2>/dev/null | grep -q 'dynamically linked'; then
        die "$BUSYBOX is dynamically linked (Debian: apt-get install busybox-static)"
    fi
    mkdir -p "$bundle/rootfs/bin" "$bundle/rootfs/proc" "$bundle/rootfs/dev" "$bundle/rootfs/sys"
    cp "$BUSYBOX" "$bundle/rootfs/bin/busybox"
    ln -s busybox "$bundle/rootfs/bin/true"
    ln -s busybox "$bundle/rootfs/bin/sh"
    if [ -x "$RUNC" ]; then
        specgen=$RUNC
    elif [ -x "$CRUN" ]; then
        specgen=$CRUN
    else
        die "need runc or crun to write config.json (\`runc spec\`)"
    fi
    (cd "$bundle" && "$specgen" spec)
    edit_spec "$bundle/config.json"
}

# Delete every container left in WORKDIR/state; run inside a private mount
# namespace, like the benchmark itself.
cleanup_containers() {
    local work=$1 root name path id
    hide_unified_controllers 2>/dev/null || true
    for root in "$work"/state/*/; do
        [ -d "$root" ] || continue
        root=${root%/}
        name=$(basename "$root")
        path=$(runtime_path "$name") || continue
        [ -x "$path" ] || continue
        {
            "$path" --root "$root" list -q 2>/dev/null || true
            for id in "$root"/boxbench-*; do
                [ -e "$id" ] && basename "$id"
            done
        } | sort -u | while read -r id; do
            [ -n "$id" ] || continue
            say "cleanup: $name delete -f $id"
            "$path" --root "$root" delete -f "$id" >/dev/null 2>&1 || true
        done
    done
}

print_host() {
    local layout
    layout=$(cgroup_layout)
    echo "kernel:  $(uname -srm), $(nproc) cpus"
    case $layout in
    hybrid)
        echo "cgroups: hybrid: v1 controllers + cgroup2 at $UNIFIED" \
            "(controllers: $(tr '\n' ' ' <"$UNIFIED/cgroup.controllers" | sed 's/ *$//;s/^$/none/'));" \
            "cgroup.controllers hidden by a bind mount of /dev/null for every runtime"
        ;;
    v2) echo "cgroups: v2 (unified)" ;;
    v1) echo "cgroups: v1 (legacy)" ;;
    esac
    echo "bundle:  busybox $("$BUSYBOX" 2>&1 | head -n1 | awk '{print $2}') static, args [/bin/true]," \
        "namespaces from \`runc spec\`: pid network ipc uts mount"
    echo "rounds:  $BENCH_ROUNDS x (run after ${BENCH_IDLE_MS} ms idle, run, create/start/delete)," \
        "$BENCH_SEQ_ROUNDS x $BENCH_SEQ runs in sequence; medians; runtimes alternate within each round"
}

inner() {
    local work=$1 name path
    local -a args=()

    # The cgroup view from before the bind mount is what the host really has.
    print_host
    hide_unified_controllers
    make_bundle "$work/bundle"
    mkdir -p "$work/state"

    for name in $BENCH_RUNTIMES; do
        path=$(runtime_path "$name")
        case $path in /*) ;; *) path=$PWD/$path ;; esac
        if [ ! -x "$path" ]; then
            if [ "$name" = box ]; then
                echo "skip:    box: $path not built (make -C $repo)"
            else
                echo "skip:    $name: $path not installed"
            fi
            continue
        fi
        echo "runtime: $name = $path ($("$path" --version 2>&1 | head -n1))"
        args+=("$name=$path")
    done
    [ "${#args[@]}" -gt 0 ] || die "no runtime to measure"
    echo

    set -- --bundle "$work/bundle" --state "$work/state" --bare "$work/bundle/rootfs" \
        --rounds "$BENCH_ROUNDS" --seq "$BENCH_SEQ" --seq-rounds "$BENCH_SEQ_ROUNDS" \
        --idle-ms "$BENCH_IDLE_MS" --timeout "$BENCH_TIMEOUT"
    if [ -n "$BENCH_CSV" ]; then
        set -- "$@" --csv "$BENCH_CSV"
    fi
    "$BOXBENCH" "$@" "${args[@]}"
}

outer() {
    local rc=0 name
    for name in $BENCH_RUNTIMES; do
        runtime_path "$name" >/dev/null || die "unknown runtime \`$name\` in BENCH_RUNTIMES (box, crun, runc)"
    done
    [ "$(id -u)" = 0 ] || die "runs containers as root: run it as root"
    command -v unshare >/dev/null || die "needs unshare (util-linux)"

    work=$(mktemp -d "${TMPDIR:-/tmp}/boxbench.XXXXXX")
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    if [ -z "${BOXBENCH:-}" ]; then
        BOXBENCH=$work/boxbench
        "${CC:-cc}" -std=gnu11 -O2 -Wall -Wextra -o "$BOXBENCH" "$here/boxbench.c"
    fi
    [ -x "$BOXBENCH" ] || die "no harness at $BOXBENCH"
    export BOXBENCH BOX CRUN RUNC BUSYBOX

    echo "command: BENCH_RUNTIMES='$BENCH_RUNTIMES' BENCH_ROUNDS=$BENCH_ROUNDS BENCH_SEQ=$BENCH_SEQ" \
        "BENCH_SEQ_ROUNDS=$BENCH_SEQ_ROUNDS BENCH_IDLE_MS=$BENCH_IDLE_MS $0"
    unshare --mount --propagation private -- "${BASH:-bash}" "$self" --inner "$work" || rc=$?
    return "$rc"
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "${work:-}" ] && [ -d "$work" ]; then
        unshare --mount --propagation private -- "${BASH:-bash}" "$self" --cleanup "$work" || true
        rm -rf --one-file-system "$work"
    fi
    exit "$rc"
}

work=
case ${1:-} in
--inner) inner "$2" ;;
--cleanup) cleanup_containers "$2" ;;
"") outer ;;
*) die "usage: $0 (environment: BENCH_ROUNDS BENCH_SEQ BENCH_SEQ_ROUNDS BENCH_IDLE_MS BENCH_RUNTIMES BENCH_CSV)" ;;
esac
