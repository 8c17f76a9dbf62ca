#!/usr/bin/env bash
# Benchmark box against crun and runc on one busybox bundle; see docs/benchmarks.md.
#
#   bench/run.sh                       what `make bench` runs
#   BENCH_ROUNDS=51 BENCH_SEQ=200 BENCH_SEQ_ROUNDS=9 bench/run.sh
#   BENCH_EXEC=0 BENCH_SECCOMP=0 BENCH_LIMITS=0 BENCH_PODMAN_ROUNDS=0 bench/run.sh  # without the extra rows
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
BENCH_EXEC=${BENCH_EXEC:-21}
BENCH_SECCOMP=${BENCH_SECCOMP:-1}
BENCH_LIMITS=${BENCH_LIMITS:-1}
BENCH_PODMAN_ROUNDS=${BENCH_PODMAN_ROUNDS:-5}
PODMAN=${PODMAN:-podman}
PODMAN_IMAGE=localhost/boxbench:latest
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

# The limits of the "run with memory, cpu, pids limits" row.
LIMITS='{"memory": {"limit": 268435456}, "cpu": {"shares": 512, "quota": 50000,
    "period": 100000}, "pids": {"limit": 128}}'

# derive_spec SRC DST ARGS_JSON [SECCOMP_FILE|limits]: DST/config.json from
# SRC's, with the root path made absolute (SRC's rootfs serves both), other
# args and, when given, a seccomp profile plus noNewPrivileges, or $LIMITS as
# linux.resources.
derive_spec() {
    local src=$1 dst=$2 args=$3 extra=${4:-} seccomp='' limits=null
    mkdir -p "$dst"
    if [ "$extra" = limits ]; then limits=$LIMITS; else seccomp=$extra; fi
    if command -v jq >/dev/null; then
        jq --arg root "$src/rootfs" --argjson args "$args" --arg sc "$seccomp" \
            --argjson prof "$(if [ -n "$seccomp" ]; then cat "$seccomp"; else echo null; fi)" \
            --argjson limits "$limits" \
            '.root.path = $root | .process.args = $args
             | if $sc == "" then . else .linux.seccomp = $prof | .process.noNewPrivileges = true end
             | if $limits == null then . else .linux.resources = $limits end' \
            "$src/config.json" >"$dst/config.json"
    else
        python3 - "$src" "$args" "$seccomp" "$limits" >"$dst/config.json" <<'EOF'
import json, sys
src, args, seccomp, limits = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
spec = json.load(open(src + "/config.json"))
spec["root"]["path"] = src + "/rootfs"
spec["process"]["args"] = json.loads(args)
if seccomp:
    spec["linux"]["seccomp"] = json.load(open(seccomp))
    spec["process"]["noNewPrivileges"] = True
if limits is not None:
    spec["linux"]["resources"] = limits
json.dump(spec, sys.stdout, indent=2)
EOF
    fi
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
    ln -s busybox "$bundle/rootfs/bin/sleep"
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

# ---- podman -------------------------------------------------------------------
# Everything podman keeps lives under WORK/podman: configuration, storage,
# state, locks, event log. What it cannot be told to put elsewhere: the
# runtime's default state root (it passes no --root; `run --rm` removes each
# container from it), its cgroup parent libpod_parent (removed at the end if it
# was not there before), and the blob-info cache under /var/lib/containers,
# which only `podman import` writes, and which it writes on a private tmpfs here.

podman_env() {
    export CONTAINERS_CONF=$1/podman/containers.conf
    export CONTAINERS_STORAGE_CONF=$1/podman/storage.conf
    export CONTAINERS_REGISTRIES_CONF=$1/podman/registries.conf
}

podman_write_config() {
    "$here/../scripts/podman-private-config" "$1" "$2" "$(basename "$BOX")"
}

# podman_setup WORK: the private configuration and the image (the bundle's
# rootfs plus /etc/passwd). Prints why podman cannot be used, or nothing.
podman_setup() {
    local work=$1 dir=$1/podman bin driver
    [ "$BENCH_PODMAN_ROUNDS" != 0 ] || {
        echo "BENCH_PODMAN_ROUNDS=0"
        return 0
    }
    for bin in "$PODMAN" conmon; do
        command -v "$bin" >/dev/null || {
            echo "$bin is not installed (Debian: podman)"
            return 0
        }
    done
    mkdir -p "$dir/tmp" "$dir/image/etc"
    cp -a "$work/bundle/rootfs/." "$dir/image/"
    echo 'root:x:0:0:root:/root:/bin/sh' >"$dir/image/etc/passwd"
    echo 'root:x:0:' >"$dir/image/etc/group"
    tar --numeric-owner --owner=0 --group=0 -C "$dir/image" -cf "$dir/rootfs.tar" .
    if [ -n "$(find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d -name libpod_parent 2>/dev/null)" ]; then
        : >"$dir/cgroup-parent-existed"
    fi
    podman_env "$work"
    # overlay where the file system supports it, else vfs.
    for driver in overlay vfs; do
        podman_write_config "$dir" "$driver"
        if unshare --mount --propagation private -- \
            sh -c 'mount -t tmpfs tmpfs /var/lib && exec "$@"' sh \
            "$PODMAN" import "$dir/rootfs.tar" "$PODMAN_IMAGE" >"$dir/import.log" 2>&1; then
            return 0
        fi
        rm -rf "$dir/root" "$dir/run"
    done
    echo "podman import failed: $(tail -n 3 "$dir/import.log" | tr '\n' ' ')"
}

podman_cleanup() {
    local work=$1 dir=$1/podman cg
    [ -f "$dir/containers.conf" ] && command -v "$PODMAN" >/dev/null || return 0
    podman_env "$work"
    "$PODMAN" rm --all --force --time 0 >/dev/null 2>&1 || true
    "$PODMAN" rmi --all --force >/dev/null 2>&1 || true
    if [ ! -e "$dir/cgroup-parent-existed" ]; then
        find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -type d -path '*/libpod_parent*' 2>/dev/null |
            sort -r | while IFS= read -r cg; do
            rmdir "$cg" 2>/dev/null || true
        done
    fi
}

# Delete every container left in WORKDIR/state, and podman's; run inside a
# private mount namespace, like the benchmark itself.
cleanup_containers() {
    local work=$1 root name path id
    hide_unified_controllers 2>/dev/null || true
    podman_cleanup "$work"
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
    echo "extra:   exec: $BENCH_EXEC x \`exec ID /bin/true\` into one \`sleep 3600\` container per runtime;" \
        "seccomp: bench/seccomp-default.json, one run after the warm run of each round;" \
        "limits: memory 256 MiB, cpu shares 512 quota 50000/100000, pids 128, one run likewise;" \
        "podman: $BENCH_PODMAN_ROUNDS x \`podman --runtime RT run --rm IMAGE /bin/true\`"
}

inner() {
    local work=$1 name path why
    local -a args=()

    # The cgroup view from before the bind mount is what the host really has.
    print_host
    hide_unified_controllers
    make_bundle "$work/bundle"
    mkdir -p "$work/state"
    derive_spec "$work/bundle" "$work/bundle-exec" '["/bin/sleep", "3600"]'
    derive_spec "$work/bundle" "$work/bundle-seccomp" '["/bin/true"]' "$here/seccomp-default.json"
    derive_spec "$work/bundle" "$work/bundle-limits" '["/bin/true"]' limits

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

    set -- --bundle "$work/bundle" --state "$work/state" --bare "$work/bundle/rootfs" \
        --rounds "$BENCH_ROUNDS" --seq "$BENCH_SEQ" --seq-rounds "$BENCH_SEQ_ROUNDS" \
        --idle-ms "$BENCH_IDLE_MS" --timeout "$BENCH_TIMEOUT"
    if [ -n "$BENCH_CSV" ]; then
        set -- "$@" --csv "$BENCH_CSV"
    fi
    [ "$BENCH_EXEC" = 0 ] || set -- "$@" --exec-bundle "$work/bundle-exec" --exec "$BENCH_EXEC"
    [ "$BENCH_SECCOMP" = 0 ] || set -- "$@" --seccomp-bundle "$work/bundle-seccomp"
    [ "$BENCH_LIMITS" = 0 ] || set -- "$@" --limits-bundle "$work/bundle-limits"
    why=$(podman_setup "$work")
    if [ -n "$why" ]; then
        echo "skip:    podman run --rm: $why"
    else
        echo "podman:  $("$PODMAN" --version), storage $(sed -n 's/^driver = //p' "$work/podman/storage.conf")," \
            "image $PODMAN_IMAGE from the bundle's rootfs"
        podman_env "$work"
        set -- "$@" --podman "$(command -v "$PODMAN")" --podman-image "$PODMAN_IMAGE" \
            --podman-rounds "$BENCH_PODMAN_ROUNDS"
    fi
    echo
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
        "${CC:-cc}" -std=gnu11 -O2 -Wall -Wextra -o "$BOXBENCH" "$here/boxbench.c" \
            "$here/boxbench_report.c"
    fi
    [ -x "$BOXBENCH" ] || die "no harness at $BOXBENCH"
    export BOXBENCH BOX CRUN RUNC BUSYBOX

    echo "command: BENCH_RUNTIMES='$BENCH_RUNTIMES' BENCH_ROUNDS=$BENCH_ROUNDS BENCH_SEQ=$BENCH_SEQ" \
        "BENCH_SEQ_ROUNDS=$BENCH_SEQ_ROUNDS BENCH_IDLE_MS=$BENCH_IDLE_MS BENCH_EXEC=$BENCH_EXEC" \
        "BENCH_SECCOMP=$BENCH_SECCOMP BENCH_LIMITS=$BENCH_LIMITS BENCH_PODMAN_ROUNDS=$BENCH_PODMAN_ROUNDS $0"
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
*) die "usage: $0 (environment: BENCH_ROUNDS BENCH_SEQ BENCH_SEQ_ROUNDS BENCH_IDLE_MS BENCH_RUNTIMES BENCH_CSV BENCH_EXEC BENCH_SECCOMP BENCH_LIMITS BENCH_PODMAN_ROUNDS)" ;;
esac
