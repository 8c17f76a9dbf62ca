#!/usr/bin/env bats
# Mounts: as configured, seen from inside; masked and read-only paths; /dev;
# paths in the rootfs that try to lead out of it.
# shellcheck disable=SC2016,SC2154

load helpers

setup_file() { acc_setup_file; }
teardown_file() { acc_teardown_file; }
setup() { acc_setup; }
teardown() { acc_teardown; }

# add_mount JSON: append one mount to the config.
add_mount() {
    set_config '.mounts += [$m]' --argjson m "$1"
}

# mount_line TARGET: the report's `mount=` line for TARGET (the last, the top).
mount_line() {
    grep "^mount=$1 " <<<"$output" | tail -n 1
}

# assert_mount_has TARGET FSTYPE OPTION...: TARGET is mounted with FSTYPE and
# each OPTION among its mount or superblock options.
assert_mount_has() {
    local line opts opt
    line=$(mount_line "$1")
    [ -n "$line" ] || fail "$1 is not a mount point:\n$(grep '^mount=' <<<"$output")" || return
    read -r _ fstype mopts sopts <<<"$line"
    [ "$fstype" = "$2" ] || fail "$1: fstype $fstype, expected $2" || return
    opts=",$mopts,$sopts,"
    for opt in "${@:3}"; do
        [[ $opts == *",$opt,"* ]] || fail "$1: no option $opt in $mopts $sopts" || return
    done
}

@test "mounts: proc at /proc, and a tmpfs with its options" {
    add_mount '{"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "nodev", "noexec", "mode=1770", "size=1m"]}'
    set_args /bin/boxcheck report -- stat /scratch -- write /scratch/f ok
    run box_run "$ID"
    assert_status 0
    assert_mount_has /proc proc
    assert_mount_has /scratch tmpfs nosuid nodev noexec size=1024k mode=1770
    assert_line_present "write:/scratch/f=ok"
    [[ $(kv stat:/scratch) == "type=dir mode=1770 "* ]] || fail "$(kv stat:/scratch)"
}

@test "mounts: a bind mount read-only, and one read-write" {
    mkdir "$BUNDLE.ro" "$BUNDLE.rw"
    echo host >"$BUNDLE.ro/hello"
    add_mount "$(jq -nc --arg s "$BUNDLE.ro" \
        '{destination: "/ro", type: "bind", source: $s, options: ["rbind", "ro"]}')"
    add_mount "$(jq -nc --arg s "$BUNDLE.rw" \
        '{destination: "/rw", type: "bind", source: $s, options: ["rbind", "rw"]}')"
    set_args /bin/boxcheck read /ro/hello -- write /ro/new x -- write /ro/hello x \
        -- write /rw/new inside
    run box_run "$ID"
    assert_status 0
    assert_line_present 'read:/ro/hello=ok:host\n'
    assert_line_present 'write:/ro/new=err:EROFS'
    assert_line_present 'write:/ro/hello=err:EROFS'
    assert_line_present 'write:/rw/new=ok'
    [ "$(cat "$BUNDLE.ro/hello")" = host ]
    [ ! -e "$BUNDLE.ro/new" ]
    [ "$(cat "$BUNDLE.rw/new")" = inside ]
}

@test "mounts: a file bind-mounted onto a file" {
    echo from-host >"$BUNDLE.file"
    add_mount "$(jq -nc --arg s "$BUNDLE.file" \
        '{destination: "/etc/injected", type: "bind", source: $s, options: ["bind", "ro"]}')"
    set_args /bin/boxcheck read /etc/injected -- stat /etc/injected
    run box_run "$ID"
    assert_status 0
    assert_line_present 'read:/etc/injected=ok:from-host\n'
    [[ $(kv stat:/etc/injected) == "type=reg "* ]]
}

@test "maskedPaths: files read empty, directories show nothing, missing ones are skipped" {
    mkdir -p "$BUNDLE/rootfs/secret-dir"
    echo secret >"$BUNDLE/rootfs/secret-dir/key"
    echo secret >"$BUNDLE/rootfs/secret-file"
    set_config '.linux.maskedPaths = ["/secret-dir", "/secret-file", "/proc/interrupts",
        "/does/not/exist"]'
    set_args /bin/boxcheck ls /secret-dir -- read /secret-file -- read /proc/interrupts \
        -- write /secret-dir/new x
    run box_run "$ID"
    assert_status 0
    # A masked directory shows nothing of what it hides: empty, or unreadable.
    listing=$(kv ls:/secret-dir)
    [ -z "$listing" ] || [[ $listing == err:* ]] || fail "masked directory lists: $listing"
    assert_line_present 'read:/secret-file=ok:'
    assert_line_present 'read:/proc/interrupts=ok:'
    [[ $(kv write:/secret-dir/new) == err:* ]] || fail "masked directory is writable"
    [ "$(cat "$BUNDLE/rootfs/secret-file")" = secret ]
    [ ! -e "$BUNDLE/rootfs/secret-dir/new" ]
}

@test "readonlyPaths: writes fail with EROFS, reads work" {
    mkdir -p "$BUNDLE/rootfs/ro-dir"
    echo data >"$BUNDLE/rootfs/ro-dir/file"
    set_config '.linux.readonlyPaths = ["/ro-dir", "/proc/sys"]'
    set_args /bin/boxcheck read /ro-dir/file -- write /ro-dir/file x -- write /ro-dir/new x \
        -- open /proc/sys/kernel/hostname w -- write /rootfs-is-rw yes
    run box_run "$ID"
    assert_status 0
    assert_line_present 'read:/ro-dir/file=ok:data\n'
    assert_line_present 'write:/ro-dir/file=err:EROFS'
    assert_line_present 'write:/ro-dir/new=err:EROFS'
    assert_line_present 'open:/proc/sys/kernel/hostname=err:EROFS'
    assert_line_present 'write:/rootfs-is-rw=ok'
}

@test "root.readonly: the root is read-only, its tmpfs mounts are not" {
    set_config '.root.readonly = true'
    add_mount '{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]}'
    set_args /bin/boxcheck write /new x -- write /tmp/new x
    run box_run "$ID"
    assert_status 0
    assert_line_present 'write:/new=err:EROFS'
    assert_line_present 'write:/tmp/new=ok'
    [ ! -e "$BUNDLE/rootfs/new" ]
}

@test "/dev: the default devices and links" {
    set_args /bin/boxcheck stat /dev/null -- stat /dev/zero -- stat /dev/full \
        -- stat /dev/random -- stat /dev/urandom -- stat /dev/tty -- open /dev/null w \
        -- read /dev/null -- stat /dev/fd -- stat /dev/stdin -- stat /dev/stdout \
        -- stat /dev/stderr -- stat /dev/ptmx
    run box_run "$ID"
    assert_status 0
    for dev in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
        IFS=: read -r name maj min <<<"$dev"
        line=$(kv "stat:/dev/$name")
        [[ $line == "type=chr mode=0666 "* ]] || fail "/dev/$name: $line"
        [[ $line == *" rdev=$maj:$min" ]] || fail "/dev/$name: $line"
    done
    assert_line_present 'open:/dev/null=ok'
    assert_line_present 'read:/dev/null=ok:'
    for link in fd stdin stdout stderr; do
        [[ $(kv "stat:/dev/$link") == type=lnk* ]] || fail "/dev/$link: $(kv "stat:/dev/$link")"
    done
    [[ $(kv stat:/dev/ptmx) != err:* ]] || fail "/dev/ptmx: $(kv stat:/dev/ptmx)"
}

@test "mounts: a bad mount option fails create and leaves nothing" {
    add_mount '{"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
        "options": ["size=notanumber"]}'
    run box_create "$ID"
    assert_failed
    [ -z "$(ls -A "$BOX_ROOT")" ]
}

@test "mounts: a missing bind source fails create and leaves nothing" {
    add_mount "$(jq -nc --arg s "$BUNDLE.missing" \
        '{destination: "/data", type: "bind", source: $s, options: ["rbind"]}')"
    run box_create "$ID"
    assert_failed
    assert_contains "$output" "$BUNDLE.missing"
    [ -z "$(ls -A "$BOX_ROOT")" ]
}

@test "CVE-2021-30465: mount destinations through rootfs symlinks stay inside the rootfs" {
    sentinel=$BUNDLE.sentinel
    mkdir "$sentinel"
    ln -s "$sentinel" "$BUNDLE/rootfs/abs-link"
    ln -s "../../../../../../../../../../..$sentinel" "$BUNDLE/rootfs/rel-link"
    add_mount '{"destination": "/abs-link/made", "type": "tmpfs", "source": "tmpfs"}'
    add_mount '{"destination": "/rel-link/made", "type": "tmpfs", "source": "tmpfs"}'
    set_args /bin/boxcheck report
    run box_run "$ID"
    # Refusing is as good as staying inside; reaching the host is not.
    [ -z "$(ls -A "$sentinel")" ] || fail "a mount target was created on the host: $(ls -A "$sentinel")"
    if [ "$status" -eq 0 ]; then
        [ -n "$(mount_line "$sentinel/made")" ] ||
            fail "the tmpfs is not at the in-root path:\n$(grep '^mount=' <<<"$output")"
    fi
}

@test "CVE-2019-16884, CVE-2021-30465: /proc as a symlink in the rootfs is refused, never mounted elsewhere" {
    sentinel=$BUNDLE.sentinel
    mkdir "$sentinel"
    rmdir "$BUNDLE/rootfs/proc"
    ln -s "../../../../../../../../../../..$sentinel" "$BUNDLE/rootfs/proc"
    run box_run "$ID"
    [ -z "$(ls -A "$sentinel")" ] || fail "proc escaped to the host: $(ls -A "$sentinel")"
    if is_box; then
        assert_failed
        assert_contains "$output" /proc
    fi
}

@test "CVE-2021-30465: /sys as a symlink in the rootfs is refused, never mounted elsewhere" {
    sentinel=$BUNDLE.sentinel
    mkdir "$sentinel"
    for link in "$sentinel" "../../../../../../../../../..$sentinel"; do
        rm -rf "$BUNDLE/rootfs/sys"
        ln -sfn "$link" "$BUNDLE/rootfs/sys"
        run box_run "$(cid "$(basename "$link")")"
        [ -z "$(ls -A "$sentinel")" ] || fail "sysfs escaped to the host: $(ls -A "$sentinel")"
        ! grep -qF "$sentinel" /proc/self/mountinfo || fail "a mount on the host's $sentinel"
        if is_box; then
            assert_failed
            assert_contains "$output" /sys
        fi
    done
}

@test "mounts: tmpcopyup copies the image's directory into the tmpfs, and writes stay there" {
    mkdir -p "$BUNDLE/rootfs/opt/sub"
    printf from-image >"$BUNDLE/rootfs/opt/sub/file"
    ln -s /opt/sub/file "$BUNDLE/rootfs/opt/link"
    set_config '.mounts += [{"destination": "/opt", "type": "tmpfs", "source": "tmpfs",
        "options": ["tmpcopyup", "nosuid", "mode=755"]}]'
    set_args /bin/boxcheck read /opt/sub/file -- read /opt/link -- write /opt/new x -- report
    run box_run "$ID"
    assert_status 0
    assert_line_present "read:/opt/sub/file=ok:from-image"
    assert_line_present "read:/opt/link=ok:from-image"
    [ ! -e "$BUNDLE/rootfs/opt/new" ] || fail "a write under the tmpfs reached the image"
    grep -q '^mount=/opt tmpfs' <<<"$output" || fail "no tmpfs on /opt: $(grep '^mount=' <<<"$output")"
}
