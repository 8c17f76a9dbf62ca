#!/usr/bin/env bash
# Container engines over the runtime under test ($BOX): podman (through
# conmon) and containerd (through its runc shim, driven with ctr).  Loaded by
# engines.bats after helpers.bash.
#
# Everything an engine keeps lives under one temporary directory, $ENG_DIR,
# kept apart from the suite's $ACC_DIR (the per-test residue check would take
# a daemon that names $ACC_DIR for a leak): configuration, image storage,
# state, sockets, locks, event logs and the runtime's own state root where the
# engine lets it be chosen.  The image is built from $BUSYBOX, so no registry
# is needed.  Nothing global is touched except what an engine cannot be told
# to put elsewhere; each test asserts that its containers left nothing there,
# and teardown_file removes the directories an engine made:
#   podman:     the runtime's default state root (podman 4 forwards no --root
#               to the runtime: `--runtime-flag` does not reach the cleanup
#               process that conmon starts); its cgroup parent libpod_parent;
#               the blob-info cache under /var/lib/containers, which only
#               `podman import` writes, and which it writes inside a private
#               mount namespace here.
#   containerd: the shims' socket directory /run/containerd/s (fixed in 1.6);
#               each container's cgroup parent /<namespace>.

# shellcheck disable=SC2154  # status, output, stderr come from bats' `run`

# Applets linked into the image's /bin.
ENG_APPLETS=(sh echo cat sleep ps id pwd hostname readlink ls tty grep true false env
    wc head stat touch mkdir test kill)

ENG_IMAGE=localhost/box-engines:test

# eng_cmd ARGS...: a command bounded in time, with bats' fd 3 closed so that
# nothing it leaves running (a monitor, a shim, a container) holds it.
eng_cmd() {
    timeout -k 5 "$ACC_TIMEOUT" "$@" 3>&-
}

# eng_poll SECONDS FUNCTION: call FUNCTION (which prints problems) until it
# prints nothing; print its last report and fail after SECONDS.  For what an
# engine finishes asynchronously (a monitor's exit, its cleanup process).
eng_poll() {
    local deadline=$((SECONDS + $1)) report
    while :; do
        report=$("$2")
        [ -z "$report" ] && return 0
        if [ "$SECONDS" -ge "$deadline" ]; then
            printf '%s\n' "$report"
            return 1
        fi
        sleep 0.1
    done
}

# eng_mounts_under DIR: mount points under DIR (leaked rootfs, shm, netns).
eng_mounts_under() {
    awk -v d="$1/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo
}

# eng_cgroups_named PATTERN: cgroup directories whose path matches the
# find(1) -path PATTERN, in every hierarchy.
eng_cgroups_named() {
    find /sys/fs/cgroup -mindepth 2 -maxdepth 12 -type d -path "$1" 2>/dev/null
}

# eng_rmdir_cgroups PATTERN: remove the (empty) cgroup directories matching
# PATTERN, deepest first.
eng_rmdir_cgroups() {
    local cg
    eng_cgroups_named "$1" | awk '{print length, $0}' | sort -rn | cut -d' ' -f2- |
        while IFS= read -r cg; do
            rmdir "$cg" 2>/dev/null
        done
    return 0
}

# eng_procs_matching STRING: "PID CMDLINE" of live processes whose command
# line contains STRING (letters, digits, space, '-' and '_' only).  The first
# character goes in brackets so that grep's own command line does not match.
eng_procs_matching() {
    local f pid pat="[${1:0:1}]${1:1}"
    while IFS= read -r f; do
        pid=${f#/proc/}
        pid=${pid%/cmdline}
        [ "$pid" = "$$" ] || [ "$pid" = "$BASHPID" ] && continue
        pid_alive "$pid" || continue
        printf '%s %s\n' "$pid" "$(tr '\0' ' ' <"$f" 2>/dev/null)"
    done < <(grep -laE -- "$pat" /proc/[0-9]*/cmdline 2>/dev/null)
    return 0
}

# ---- the image ----------------------------------------------------------------

# eng_make_rootfs_tar OUT: a root filesystem tarball from $BUSYBOX, with a
# passwd, a directory with content for tmpfs copy-up (/srv/marker) and the
# mount points a read-only root needs.
eng_make_rootfs_tar() {
    local r a
    r=$(mktemp -d "$ENG_DIR/rootfs.XXXXXX")
    mkdir -p "$r"/{bin,etc,proc,sys,dev,tmp,run,var/tmp,root,home/user,srv}
    chmod 1777 "$r/tmp" "$r/var/tmp"
    cp "$BUSYBOX" "$r/bin/busybox"
    for a in "${ENG_APPLETS[@]}"; do
        ln -s busybox "$r/bin/$a"
    done
    printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'user:x:1000:1000:user:/home/user:/bin/sh' \
        >"$r/etc/passwd"
    printf '%s\n' 'root:x:0:' 'user:x:1000:' >"$r/etc/group"
    echo from-image >"$r/srv/marker"
    tar --numeric-owner --owner=0 --group=0 -C "$r" -cf "$1" . && rm -rf "$r"
}

# eng_make_docker_archive ROOTFS_TAR REF OUT: a one-layer image in the
# `docker save` format (what `ctr image import` and `docker load` read).
eng_make_docker_archive() {
    local d diff cfg
    d=$(mktemp -d "$ENG_DIR/archive.XXXXXX")
    cp "$1" "$d/layer.tar"
    diff=$(sha256sum "$d/layer.tar" | cut -d' ' -f1)
    jq -nc --arg diff "sha256:$diff" '{
        architecture: "amd64", os: "linux",
        config: {Env: ["PATH=/bin"], Cmd: ["sh"]},
        rootfs: {type: "layers", diff_ids: [$diff]}}' >"$d/config.json"
    cfg=$(sha256sum "$d/config.json" | cut -d' ' -f1).json
    mv "$d/config.json" "$d/$cfg"
    jq -nc --arg cfg "$cfg" --arg ref "$2" \
        '[{Config: $cfg, RepoTags: [$ref], Layers: ["layer.tar"]}]' >"$d/manifest.json"
    tar -C "$d" -cf "$3" manifest.json "$cfg" layer.tar && rm -rf "$d"
}

# ---- podman ----------------------------------------------------------------------

# pm ARGS...: podman with this file's private configuration and storage, and
# $BOX as the OCI runtime.
pm() {
    eng_cmd podman --root "$PM_DIR/root" --runroot "$PM_DIR/run" --runtime "$BOX" "$@"
}

# _pm_write_config: containers.conf, storage.conf and registries.conf under
# $PM_DIR (scripts/podman-private-config says what each setting is for).
_pm_write_config() {
    "$BATS_TEST_DIRNAME/../../scripts/podman-private-config" "$PM_DIR" \
        "${PM_STORAGE_DRIVER:-overlay}" "$(basename "$BOX")"
}

# _pm_setup: podman's private directories and the image; sets PM_SKIP to why
# podman cannot be used, or to nothing.
_pm_setup() {
    local bin
    PM_SKIP=
    for bin in podman conmon; do
        command -v "$bin" >/dev/null || {
            PM_SKIP="$bin is not installed (Debian: podman; see scripts/install-deps)"
            return 0
        }
    done
    mkdir -p "$PM_DIR/tmp"
    # overlay where the file system under /tmp supports it, else vfs.
    for PM_STORAGE_DRIVER in overlay vfs; do
        _pm_write_config
        _pm_import && return 0
        rm -rf "$PM_DIR/root" "$PM_DIR/run"
    done
    PM_SKIP="podman import failed: $(tail -n 3 "$PM_DIR/import.log")"
    return 0
}

# _pm_import: the image, from the root filesystem tarball.
_pm_import() {
    # The import copies blobs, and the copy records them in a cache under
    # /var/lib/containers that no option moves: a private tmpfs there keeps
    # the host's untouched.
    eng_cmd unshare --mount --propagation private \
        sh -c 'mount -t tmpfs tmpfs /var/lib && exec "$@"' sh \
        podman --root "$PM_DIR/root" --runroot "$PM_DIR/run" \
        import "$ENG_DIR/rootfs.tar" "$ENG_IMAGE" >"$PM_DIR/import.log" 2>&1
}

# pm_container_ids [FROM]: the id of every container podman created in this
# file, or since line FROM of its event log.
pm_container_ids() {
    [ -f "$PM_DIR/events.log" ] || return 0
    tail -n "+${1:-1}" "$PM_DIR/events.log" |
        jq -r 'select(.Type == "container" and .Status == "create") | .ID' | sort -u
}

# pm_residue: one line per thing left by a removed container made since the
# test began (all of this file's in teardown_file): podman still has it, the
# runtime still knows it (in its default state root), its cgroup, its monitor
# or any process naming it, a mount under podman's directories.
pm_residue() {
    local id known
    known=$(pm ps --all --no-trunc --format '{{.ID}}' 2>/dev/null)
    for id in $(pm_container_ids "${PM_EVENTS_FROM:-1}"); do
        if grep -qxF -- "$id" <<<"$known"; then
            printf 'podman container: %s\n' "$id"
            continue
        fi
        "$BOX" state "$id" >/dev/null 2>&1 && printf 'runtime state: %s\n' "$id"
        eng_cgroups_named "*$id*" | sed 's/^/cgroup: /'
        eng_procs_matching "$id" | sed 's/^/process: /'
    done
    eng_mounts_under "$PM_DIR" | sed 's/^/mount: /'
    return 0
}

# pm_setup: mark where this test's events begin.
pm_setup() {
    PM_EVENTS_FROM=$(($(wc -l <"$PM_DIR/events.log" 2>/dev/null || echo 0) + 1))
}

# pm_teardown: remove what the test left, then assert that nothing remains.
pm_teardown() {
    local r
    pm rm --all --force --time 0 >/dev/null 2>&1
    r=$(eng_poll 10 pm_residue) || fail "left behind by podman with $BOX:\n$r"
}

pm_teardown_file() {
    local m PM_EVENTS_FROM=1
    pm rm --all --force --time 0 >/dev/null 2>&1
    pm rmi --all --force >/dev/null 2>&1
    eng_poll 10 pm_residue >/dev/null
    while read -r m; do
        umount -l "$m" 2>/dev/null
    done < <(eng_mounts_under "$PM_DIR" | sort -r)
    # podman's cgroupfs parent, with conmon's cgroup in it: created by the
    # first container when no podman had run here before.
    [ "$PM_CGROUP_PARENT_EXISTED" = 1 ] || eng_rmdir_cgroups '*/libpod_parent*'
}

# ---- containerd ------------------------------------------------------------------

# c_tr ARGS...: ctr against this file's containerd, in its namespace.
c_tr() {
    eng_cmd ctr --address "$CTD_DIR/containerd.sock" --namespace "$CTD_NS" "$@"
}

# ctr_run ARGS...: `ctr run` with $BOX as the shim's runtime binary, its state
# root and the I/O fifos under $CTD_DIR.
ctr_run() {
    c_tr run --runc-binary "$BOX" --runc-root "$CTD_DIR/runtime" --fifo-dir "$CTD_DIR/fifo" "$@"
}

# ctr_exec ARGS...: `ctr task exec` with the fifos under $CTD_DIR.
ctr_exec() {
    c_tr task exec --fifo-dir "$CTD_DIR/fifo" "$@"
}

# ctr_task_pid ID: the pid of a task's init, as containerd reports it.
ctr_task_pid() {
    c_tr task ls 2>/dev/null | awk -v id="$1" '$1 == id {print $2}'
}

# _ctd_write_config: containerd's configuration under $CTD_DIR.
_ctd_write_config() {
    # Only what ctr needs: no CRI (it wants CNI and a pause image), no
    # snapshotters that cannot work on this file system, no tracing; the opt
    # plugin would make /opt/containerd.
    cat >"$CTD_DIR/config.toml" <<EOF
version = 2
root = "$CTD_DIR/root"
state = "$CTD_DIR/state"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "$CTD_DIR/containerd.sock"

[ttrpc]
  address = "$CTD_DIR/containerd.sock.ttrpc"

[debug]
  address = "$CTD_DIR/debug.sock"
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$CTD_DIR/opt"
EOF
}

# _ctd_setup: start a private containerd and import the image; sets CTD_SKIP
# to why containerd cannot be used, or to nothing, and CTD_PID.
_ctd_setup() {
    local bin deadline why
    CTD_SKIP=
    CTD_PID=
    for bin in containerd ctr containerd-shim-runc-v2; do
        command -v "$bin" >/dev/null || {
            CTD_SKIP="$bin is not installed (Debian: containerd; see scripts/install-deps)"
            return 0
        }
    done
    mkdir -p "$CTD_DIR/runtime" "$CTD_DIR/fifo"
    _ctd_write_config
    containerd --config "$CTD_DIR/config.toml" </dev/null >"$CTD_DIR/containerd.log" 2>&1 3>&- &
    CTD_PID=$!
    deadline=$((SECONDS + 20))
    until c_tr --connect-timeout 1s version >/dev/null 2>&1; do
        if ! kill -0 "$CTD_PID" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
            why=$(grep -E 'level=(error|fatal)' "$CTD_DIR/containerd.log" | tail -n 3)
            CTD_SKIP="containerd did not start: ${why:-$(tail -n 3 "$CTD_DIR/containerd.log")}"
            return 0
        fi
        sleep 0.05
    done
    if ! c_tr image import "$ENG_DIR/image.tar" >"$CTD_DIR/import.log" 2>&1; then
        CTD_SKIP="ctr image import failed: $(tail -n 3 "$CTD_DIR/import.log")"
    fi
    return 0
}

# ctd_residue: one line per thing left by removed tasks: a task or container
# containerd still has, the runtime's state, a cgroup, a shim, a mount.
ctd_residue() {
    local e
    c_tr task ls -q 2>/dev/null | sed 's/^/containerd task: /'
    c_tr container ls -q 2>/dev/null | sed 's/^/containerd container: /'
    for e in "$CTD_DIR/runtime/$CTD_NS"/*; do
        [ -e "$e" ] && printf 'runtime state: %s\n' "$e"
    done
    eng_cgroups_named "*/$CTD_NS/*" | sed 's/^/cgroup: /'
    eng_procs_matching "$CTD_NS" | sed 's/^/process: /'
    eng_mounts_under "$CTD_DIR" | sed 's/^/mount: /'
    return 0
}

# ctd_remove_all: kill and delete every task, then every container.
ctd_remove_all() {
    local id
    for id in $(c_tr task ls -q 2>/dev/null); do
        c_tr task kill --signal KILL "$id" >/dev/null 2>&1
        c_tr task delete --force "$id" >/dev/null 2>&1
    done
    for id in $(c_tr container ls -q 2>/dev/null); do
        c_tr container delete "$id" >/dev/null 2>&1
    done
}

ctd_teardown() {
    local r
    ctd_remove_all
    r=$(eng_poll 10 ctd_residue) || fail "left behind by containerd with $BOX:\n$r"
}

ctd_teardown_file() {
    local m _
    [ -n "${CTD_PID:-}" ] || return 0
    if kill -0 "$CTD_PID" 2>/dev/null; then
        ctd_remove_all
        c_tr image rm "$ENG_IMAGE" >/dev/null 2>&1
        eng_poll 10 ctd_residue >/dev/null
        kill "$CTD_PID" 2>/dev/null
        for _ in $(seq 100); do
            kill -0 "$CTD_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$CTD_PID" 2>/dev/null
    fi
    while read -r m; do
        umount -l "$m" 2>/dev/null
    done < <(eng_mounts_under "$CTD_DIR" | sort -r)
    # ctr puts a container in the cgroup /<namespace>/<id>; the runtime
    # removes <id>, the namespace's directory stays (as with runc).
    eng_rmdir_cgroups "*/$CTD_NS"
    if [ "${CTD_RUN_EXISTED:-0}" != 1 ]; then
        rmdir /run/containerd/s /run/containerd 2>/dev/null
    fi
    return 0
}

# ---- the file's setup and teardown ------------------------------------------------

eng_setup_file() {
    [ -z "${ACC_SKIP_REASON:-}" ] || return 0
    ENG_DIR=$(mktemp -d /tmp/boxeng.XXXXXX)
    chmod 0755 "$ENG_DIR"
    PM_DIR=$ENG_DIR/podman
    CTD_DIR=$ENG_DIR/containerd
    CTD_NS=boxeng${ACC_TAG#acc}
    export ENG_DIR PM_DIR CTD_DIR CTD_NS
    export CONTAINERS_CONF=$PM_DIR/containers.conf
    export CONTAINERS_STORAGE_CONF=$PM_DIR/storage.conf
    export CONTAINERS_REGISTRIES_CONF=$PM_DIR/registries.conf
    eng_make_rootfs_tar "$ENG_DIR/rootfs.tar" || fail "cannot build the image's root filesystem" ||
        return
    eng_make_docker_archive "$ENG_DIR/rootfs.tar" "$ENG_IMAGE" "$ENG_DIR/image.tar" ||
        fail "cannot build the image archive" || return
    PM_CGROUP_PARENT_EXISTED=0
    [ -n "$(eng_cgroups_named '*/libpod_parent')" ] && PM_CGROUP_PARENT_EXISTED=1
    CTD_RUN_EXISTED=0
    [ -d /run/containerd ] && CTD_RUN_EXISTED=1
    _pm_setup
    _ctd_setup
    export PM_SKIP PM_CGROUP_PARENT_EXISTED CTD_SKIP CTD_PID CTD_RUN_EXISTED
}

eng_teardown_file() {
    [ -n "${ENG_DIR:-}" ] && [ -d "$ENG_DIR" ] || return 0
    [ -z "${PM_SKIP:-}" ] && pm_teardown_file
    ctd_teardown_file
    rm -rf "$ENG_DIR"
}

# eng_setup / eng_teardown: per test, for the engine that the test's name
# starts with ("podman: ...", "containerd: ...").
eng_setup() {
    [ -z "${ACC_SKIP_REASON:-}" ] || return 0
    case "$BATS_TEST_DESCRIPTION" in
    podman:*) [ -n "${PM_SKIP:-}" ] || pm_setup ;;
    esac
}

eng_teardown() {
    [ -z "${ACC_SKIP_REASON:-}" ] || return 0
    case "$BATS_TEST_DESCRIPTION" in
    podman:*) [ -n "${PM_SKIP:-}" ] || pm_teardown ;;
    containerd:*) [ -n "${CTD_SKIP:-}" ] || ctd_teardown ;;
    esac
}

# require_podman / require_containerd: skip, saying why, when the engine
# could not be set up.
require_podman() {
    [ -z "${PM_SKIP:-}" ] || skip "podman: $PM_SKIP"
}

require_containerd() {
    [ -z "${CTD_SKIP:-}" ] || skip "containerd: $CTD_SKIP"
}

# ---- docker ----------------------------------------------------------------------
#
# docker.bats starts its own dockerd over its own containerd, with every
# directory it is told about under $DK_DIR ($ENG_DIR/docker): data root, exec
# root (the runtime's state root is <exec-root>/runtime-runc/moby), pid file,
# API socket, daemon.json, the client's configuration, the trust key (daemon
# option deprecated-key-path; 20.10 would write /etc/docker/key.json) and
# containerd's root, state and opt directories (dockerd's bundled containerd
# would make /opt/containerd, so it is not used: --containerd names ours).
# Bridge, iptables and masquerading are off, so the host's network is left
# alone.  Containers go under a cgroup parent of this file's own,
# /$DK_CGROUP/<id> (not dockerd's /docker, which a system dockerd shares);
# dk_teardown_file removes it from every hierarchy.  What dockerd and containerd still write outside $DK_DIR, whatever
# they are told, is recorded by dk_setup_file before they start and removed by
# dk_teardown_file only when this file created it:
#   /run/docker/plugins and /run/docker     dockerd's plugin socket directory
#                                           (fixed in 20.10)
#   /run/containerd/s and /run/containerd   the shims' sockets (containerd 1.6)
#   /etc/docker/key.json, /opt/containerd   not written with the options
#                                           above; checked all the same

# dk ARGS...: the docker client against this file's dockerd.
dk() {
    DOCKER_CONFIG="$DK_DIR/client" eng_cmd docker --host "unix://$DK_DIR/docker.sock" "$@"
}

# dk_run ARGS...: `docker run --runtime box`, stdin from /dev/null.
dk_run() {
    dk run --runtime box "$@" </dev/null
}

# dk_field NAME TEMPLATE: a field of `docker inspect`, e.g. '{{.State.Pid}}'.
dk_field() {
    dk inspect --format "$2" "$1"
}

# dk_state_root: where the runtime keeps dockerd's containers.
dk_state_root() {
    printf '%s/exec/runtime-runc/moby\n' "$DK_DIR"
}

# dk_state_entries: what the runtime keeps in its state root for dockerd's
# containers, one path a line; box's cache of compiled seccomp filters
# (.seccomp), shared by containers, is not any container's state.
dk_state_entries() {
    local e
    for e in "$(dk_state_root)"/* "$(dk_state_root)"/.[!.]*; do
        [ "$e" = "$(dk_state_root)/.seccomp" ] && continue
        [ -e "$e" ] || [ -L "$e" ] && printf '%s\n' "$e"
    done
    return 0
}

# _dk_globals: "PATH EXISTS" for each global path dockerd or its containerd
# may create (see above), EXISTS being 1 or 0.
_dk_globals() {
    local p
    for p in /etc/docker/key.json /opt/containerd /run/docker /run/docker/plugins \
        /run/containerd /run/containerd/s; do
        if [ -e "$p" ]; then echo "$p 1"; else echo "$p 0"; fi
    done
}

# _dk_write_config: daemon.json, with $BOX as the runtime "box".
_dk_write_config() {
    local major
    major=$(dockerd --version 2>/dev/null | sed -n 's/^Docker version \([0-9]*\)\..*/\1/p')
    # The trust key option is gone (and refused) from dockerd 23 on, which
    # no longer writes a key.
    jq -n --arg box "$BOX" --arg key "$DK_DIR/key.json" --argjson old "$([ "${major:-0}" -lt 23 ] && echo true || echo false)" '
        {runtimes: {box: {path: $box}}}
        + (if $old then {"deprecated-key-path": $key} else {} end)' >"$DK_DIR/daemon.json"
}

# _dk_why LOG: the last errors of a daemon's log.
_dk_why() {
    local why
    why=$(grep -E 'level=(error|fatal)' "$1" | tail -n 3)
    printf '%s\n' "${why:-$(tail -n 3 "$1")}"
}

# _dk_setup: start containerd and dockerd, load the image; sets DK_SKIP to why
# docker cannot be used, or to nothing, and DK_PID, DK_CTD_PID.
_dk_setup() {
    local bin deadline
    DK_SKIP=
    DK_PID=
    DK_CTD_PID=
    for bin in dockerd docker containerd ctr containerd-shim-runc-v2; do
        command -v "$bin" >/dev/null || {
            DK_SKIP="$bin is not installed (Debian: docker.io)"
            return 0
        }
    done
    mkdir -p "$DK_DIR/client" "$DK_DIR/containerd/opt"
    _dk_write_config
    CTD_DIR=$DK_DIR/containerd _ctd_write_config
    containerd --config "$DK_DIR/containerd/config.toml" </dev/null \
        >"$DK_DIR/containerd.log" 2>&1 3>&- &
    DK_CTD_PID=$!
    deadline=$((SECONDS + 20))
    until eng_cmd ctr --address "$DK_DIR/containerd/containerd.sock" --connect-timeout 1s \
        version >/dev/null 2>&1; do
        if ! kill -0 "$DK_CTD_PID" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
            DK_SKIP="containerd did not start: $(_dk_why "$DK_DIR/containerd.log")"
            return 0
        fi
        sleep 0.05
    done
    dockerd --config-file "$DK_DIR/daemon.json" --data-root "$DK_DIR/data" \
        --exec-root "$DK_DIR/exec" --pidfile "$DK_DIR/docker.pid" \
        -H "unix://$DK_DIR/docker.sock" --containerd "$DK_DIR/containerd/containerd.sock" \
        --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent "/$DK_CGROUP" --bridge none --iptables=false \
        --ip6tables=false --ip-masq=false </dev/null >"$DK_DIR/dockerd.log" 2>&1 3>&- &
    DK_PID=$!
    deadline=$((SECONDS + 30))
    until dk version >/dev/null 2>&1; do
        if ! kill -0 "$DK_PID" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
            DK_SKIP="dockerd did not start: $(_dk_why "$DK_DIR/dockerd.log")"
            return 0
        fi
        sleep 0.1
    done
    [ "$(cat "$DK_DIR/docker.pid" 2>/dev/null)" = "$DK_PID" ] ||
        DK_SKIP="dockerd's pid file does not hold its pid $DK_PID"
    if [ -z "$DK_SKIP" ] && ! dk load --input "$ENG_DIR/image.tar" >"$DK_DIR/load.log" 2>&1; then
        DK_SKIP="docker load failed: $(tail -n 3 "$DK_DIR/load.log")"
    fi
    return 0
}

# dk_shims: "PID CMDLINE" of the shims serving this file's containerd.
dk_shims() {
    eng_procs_matching "$DK_DIR/containerd/containerd.sock" | grep -F containerd-shim
    return 0
}

# dk_residue: one line per thing left by removed containers: a container
# dockerd or containerd still has, the runtime's state, a cgroup, a shim, a
# mount (under the data root, which dockerd itself keeps mounted).
dk_residue() {
    dk ps --all --quiet --no-trunc 2>/dev/null | sed 's/^/docker container: /'
    eng_cmd ctr --address "$DK_DIR/containerd/containerd.sock" --namespace moby \
        container ls -q 2>/dev/null | sed 's/^/containerd container: /'
    dk_state_entries | sed 's/^/runtime state: /'
    eng_cgroups_named "*/$DK_CGROUP/*" | sed 's/^/cgroup: /'
    dk_shims | sed 's/^/shim: /'
    eng_mounts_under "$DK_DIR" | grep -vxF "$DK_DIR/data" | sed 's/^/mount: /'
    return 0
}

# dk_remove_all: remove every container, running or not.
dk_remove_all() {
    local ids
    ids=$(dk ps --all --quiet --no-trunc 2>/dev/null)
    # shellcheck disable=SC2086  # one id per word
    [ -z "$ids" ] || dk rm --force $ids >/dev/null 2>&1
    return 0
}

dk_teardown() {
    local r
    dk_remove_all
    r=$(eng_poll 10 dk_residue) || fail "left behind by docker with $BOX:\n$r"
}

# dk_wait_gone PID SECONDS: wait for PID to exit; fails if it has not.
dk_wait_gone() {
    local deadline=$((SECONDS + $2))
    while pid_alive "$1"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

# dk_stop_daemons: stop dockerd, then containerd, by pid (SIGTERM, SIGKILL
# after 15 s); prints what did not stop on SIGTERM.
dk_stop_daemons() {
    local pid name
    for name in dockerd containerd; do
        if [ "$name" = dockerd ]; then pid=${DK_PID:-}; else pid=${DK_CTD_PID:-}; fi
        if [ -z "$pid" ] || ! pid_alive "$pid"; then
            continue
        fi
        kill -TERM "$pid" 2>/dev/null
        dk_wait_gone "$pid" 15 && continue
        echo "$name (pid $pid) ignored SIGTERM for 15 s"
        kill -KILL "$pid" 2>/dev/null
        dk_wait_gone "$pid" 5
    done
    return 0
}

# dk_global_residue: global paths this file created, and its cgroup parent.
dk_global_residue() {
    local name had
    while read -r name had; do
        if [ "$had" = 0 ] && [ -e "$name" ]; then
            echo "global: $name"
        fi
    done <"$ENG_DIR/docker-globals"
    eng_cgroups_named "*/$DK_CGROUP" | sed 's/^/cgroup: /'
}

# dk_remove_globals: remove what dk_global_residue reports; directories only
# when empty, so that nothing of another user goes.
dk_remove_globals() {
    local name had
    eng_rmdir_cgroups "*/$DK_CGROUP*"
    while read -r name had; do
        [ "$had" = 0 ] || continue
        case $name in
        /etc/docker/key.json) rm -f "$name" ;;
        /opt/containerd) rm -rf "$name" ;;
        *) rmdir "$name" 2>/dev/null ;;
        esac
    done < <(tac "$ENG_DIR/docker-globals") # deepest first: plugins before /run/docker
    return 0
}

dk_setup_file() {
    [ -z "${ACC_SKIP_REASON:-}" ] || return 0
    ENG_DIR=$(mktemp -d /tmp/boxeng.XXXXXX)
    chmod 0755 "$ENG_DIR"
    DK_DIR=$ENG_DIR/docker
    DK_CGROUP=boxdocker${ACC_TAG#acc}
    mkdir -p "$DK_DIR"
    export ENG_DIR DK_DIR DK_CGROUP
    _dk_globals >"$ENG_DIR/docker-globals"
    eng_make_rootfs_tar "$ENG_DIR/rootfs.tar" || fail "cannot build the image's root filesystem" ||
        return
    eng_make_docker_archive "$ENG_DIR/rootfs.tar" "$ENG_IMAGE" "$ENG_DIR/image.tar" ||
        fail "cannot build the image archive" || return
    _dk_setup
    export DK_SKIP DK_PID DK_CTD_PID
}

# dk_teardown_file: remove every container and the image, stop the daemons,
# undo their mounts and the global paths this file created; fails, after
# cleaning, on whatever was left.
dk_teardown_file() {
    local m r
    [ -n "${ENG_DIR:-}" ] && [ -d "$ENG_DIR" ] || return 0
    r=$(
        if [ -n "${DK_PID:-}" ] && pid_alive "$DK_PID"; then
            dk_remove_all
            dk rmi --force "$ENG_IMAGE" >/dev/null 2>&1
            eng_poll 10 dk_residue
        fi
        dk_stop_daemons
        dk_shims | sed 's/^/shim: /'
        eng_mounts_under "$ENG_DIR" | sed 's/^/mount: /'
    )
    while read -r m; do
        umount -l "$m" 2>/dev/null
    done < <(eng_mounts_under "$ENG_DIR" | sort -r)
    dk_remove_globals
    r=$(printf '%s\n' "$r"; dk_global_residue)
    r=$(grep . <<<"$r")
    rm -rf "$ENG_DIR"
    [ -z "$r" ] || fail "left behind by docker:\n$r"
}

# require_docker: skip, saying why, when docker could not be set up.
require_docker() {
    [ -z "${DK_SKIP:-}" ] || skip "docker: $DK_SKIP"
}
