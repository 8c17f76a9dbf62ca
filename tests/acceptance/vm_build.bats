#!/usr/bin/env bats
# box vm build|check|smoke, the fast tier: the templates pass packer's own
# checks, the scripts pass shellcheck, `box vm check` judges real disks made
# with sfdisk and mtools, `box vm smoke` boots a small UEFI disk under QEMU,
# and a build that times out or is interrupted leaves no process and no file.
# The slow tier (real image builds) is `make vm-smoke` / `make vm-smoke-ubuntu`.
#
# Environment: BOX_VM (box-vm), BOX_FRONT (box, for the hand-over).

bats_require_minimum_version 1.5.0

REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
: "${BOX_VM:=$REPO/build/box-vm}"
: "${BOX_FRONT:=$REPO/build/box}"
VM_DIR=$REPO/images/vm

setup() {
    T=$(mktemp -d)
}

teardown() {
    # Nothing a test started may outlive it.
    if [ -f "$T/pids" ]; then
        while read -r p; do
            kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
        done <"$T/pids"
    fi
    rm -rf "$T"
}

need() {
    command -v "$1" >/dev/null || skip "$1 is not installed (scripts/install-deps installs it)"
}

# make_disk FILE [esp-type]: an 8 MiB GPT disk, partition 1 a 4 MiB FAT
# EFI system partition holding FILE.efi as EFI/BOOT/BOOTX64.EFI when that
# exists. No mounts: mkfs.vfat -C, mcopy, dd.
make_disk() {
    local disk=$1 type=${2:-C12A7328-F81F-11D2-BA4B-00A0C93EC93B}
    truncate -s 8M "$disk"
    printf 'label: gpt\nstart=2048, size=8192, type=%s\nstart=10240, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n' \
        "$type" | sfdisk --quiet "$disk"
    rm -f "$disk.esp"
    mkfs.vfat -C "$disk.esp" 4096 >/dev/null
    if [ -f "$disk.efi" ]; then
        mmd -i "$disk.esp" ::/EFI ::/EFI/BOOT
        mcopy -i "$disk.esp" "$disk.efi" ::/EFI/BOOT/BOOTX64.EFI
    fi
    dd if="$disk.esp" of="$disk" bs=512 seek=2048 conv=notrunc status=none
    rm -f "$disk.esp"
}

# A base image box vm build accepts: a disk with its .sha256 and password.
make_base() {
    make_disk "$1"
    printf '%s  %s\n' "$(openssl dgst -sha256 -r "$1" | cut -d' ' -f1)" "$(basename "$1")" >"$1.sha256"
    printf 'abcdef0123\n' >"$1.build-password"
}

# A stand-in for packer: writes its group and pids, starts two members that
# ignore SIGTERM, and never finishes on its own.
make_hanging_packer() {
    cat >"$T/packer" <<SH
#!/bin/sh
trap '' TERM
sleep 300 &
echo \$! >>"$T/pids"
sh -c 'trap "" TERM; sleep 300' &
echo \$! >>"$T/pids"
echo \$\$ >>"$T/pids"
echo "packer: pretending to build"
wait
SH
    chmod +x "$T/packer"
}

assert_no_leftovers() {
    local p
    while read -r p; do
        if kill -0 "$p" 2>/dev/null; then
            echo "process $p is still alive: $(tr '\0' ' ' </proc/"$p"/cmdline)" >&2
            return 1
        fi
    done <"$T/pids"
    if compgen -G "$T/out/.build-*" >/dev/null || compgen -G "$T/out/*.raw*" >/dev/null; then
        echo "left in the output directory: $(ls -A "$T/out")" >&2
        return 1
    fi
}

@test "templates: packer validate accepts both" {
    need packer
    for t in "$VM_DIR"/*.pkr.hcl; do
        PKR_VAR_build_password=abcdef0123 run -0 packer validate \
            -var base_image=/dev/null -var base_image_checksum=none "$t"
    done
    [ "$(ls "$VM_DIR"/*.pkr.hcl | wc -l)" -eq 2 ]
}

@test "templates: packer validate rejects a missing variable and a broken template" {
    need packer
    PKR_VAR_build_password=abcdef0123 run -1 packer validate -var base_image=/dev/null \
        "$VM_DIR/base-gpu-ready.pkr.hcl"
    [[ $output == *base_image_checksum* ]]
    sed 's/disk_interface   = "virtio-scsi"/disk_interfaces = "virtio-scsi"/' \
        "$VM_DIR/base-gpu-ready.pkr.hcl" >"$T/broken.pkr.hcl"
    PKR_VAR_build_password=abcdef0123 run -1 packer validate -var base_image=/dev/null \
        -var base_image_checksum=none "$T/broken.pkr.hcl"
}

@test "templates: packer fmt -check finds nothing to change" {
    need packer
    run -0 packer fmt -check "$VM_DIR"
    [ -z "$output" ]
}

@test "templates: UEFI q35 virtio-scsi raw under TCG, no required_plugins" {
    for t in "$VM_DIR"/*.pkr.hcl; do
        grep -q 'accelerator      = "tcg"' "$t"
        grep -q 'machine_type     = "q35"' "$t"
        grep -q 'disk_interface   = "virtio-scsi"' "$t"
        grep -q 'format           = "raw"' "$t"
        grep -q '"-bios", var.firmware' "$t"
        grep -q '"-cpu", "max"' "$t"
        ! grep -q required_plugins "$t"
    done
}

@test "scripts: shellcheck clean, each with set -euo pipefail" {
    need shellcheck
    run -0 shellcheck -x "$VM_DIR"/scripts/*.sh "$VM_DIR"/base/*.sh "$VM_DIR"/keys/*.sh "$REPO"/tests/vm/*.sh
    for s in "$VM_DIR"/scripts/*.sh "$VM_DIR"/base/*.sh "$VM_DIR"/keys/*.sh; do
        grep -qx 'set -euo pipefail' "$s" || { echo "$s: no set -euo pipefail" >&2; false; }
    done
}

@test "scripts: the firmware file holds exactly the one option line" {
    grep -Fq "printf 'options nvidia NVreg_EnableGpuFirmware=1\\n' >\"\$conf.tmp\"" \
        "$VM_DIR/scripts/45-nvidia-firmware-config.sh"
}

@test "keys: the pinned Ubuntu keyring passes its check; a changed one is refused" {
    need gpg
    run -0 "$VM_DIR/keys/check-ubuntu-keyring.sh" "$VM_DIR/keys/ubuntu-archive-keyring.gpg"
    cp "$VM_DIR/keys/ubuntu-archive-keyring.gpg" "$T/k.gpg"
    printf 'x' >>"$T/k.gpg"
    run -1 "$VM_DIR/keys/check-ubuntu-keyring.sh" "$T/k.gpg"
    [[ $output == *"sha256"* ]]
}

@test "check: a GPT disk with a FAT EFI system partition passes" {
    need sfdisk
    need mkfs.vfat
    make_disk "$T/good.raw"
    run -0 "$BOX_VM" check "$T/good.raw"
    [[ $output == *"ok:"*"GPT with 2 partitions"*"EFI system partition 1 (FAT"* ]]
    run -0 "$BOX_VM" check --json "$T/good.raw"
    [ "$(jq -r .ok <<<"$output")" = true ]
    [ "$(jq -r .esp.first_lba <<<"$output")" = 2048 ]
    run -0 "$BOX_FRONT" vm check "$T/good.raw"
}

@test "check: bytes 510-511 not 55 aa" {
    need sfdisk
    make_disk "$T/d.raw"
    printf '\0\0' | dd of="$T/d.raw" bs=1 seek=510 conv=notrunc status=none
    run -1 "$BOX_VM" check "$T/d.raw"
    [[ $output == *"bytes 510-511 are 00 00, not 55 aa"* ]]
}

@test "check: a GPT header with a bad CRC" {
    need sfdisk
    make_disk "$T/d.raw"
    printf 'X' | dd of="$T/d.raw" bs=1 seek=$((512 + 60)) conv=notrunc status=none
    run -1 "$BOX_VM" check "$T/d.raw"
    [[ $output == *"primary GPT header: header CRC32 is"* ]]
}

@test "check: no EFI system partition" {
    need sfdisk
    make_disk "$T/d.raw" 0FC63DAF-8483-4772-8E79-3D69D8477DE4
    run -1 "$BOX_VM" check "$T/d.raw"
    [[ $output == *"no EFI system partition"* ]]
}

@test "check: an EFI system partition without a file system" {
    need sfdisk
    make_disk "$T/d.raw"
    dd if=/dev/zero of="$T/d.raw" bs=512 seek=2048 count=1 conv=notrunc status=none
    run -1 "$BOX_VM" check "$T/d.raw"
    [[ $output == *"EFI system partition (GPT partition 1): no FAT boot sector"* ]]
}

@test "check: a truncated copy, a grown one, and a missing file" {
    need sfdisk
    make_disk "$T/d.raw"
    cp "$T/d.raw" "$T/e.raw"
    truncate -s 4M "$T/d.raw"
    run -1 "$BOX_VM" check "$T/d.raw"
    [[ $output == *"primary GPT header: LBAs point past the end of the image (8192 sectors)"* ]]
    truncate -s 9M "$T/e.raw"
    run -1 "$BOX_VM" check "$T/e.raw"
    [[ $output == *"backup header at LBA 16383, but the last sector is 18431 (truncated or resized image)"* ]]
    run -1 "$BOX_VM" check "$T/none.raw"
    [[ $output == *"No such file"* ]]
    run -2 "$BOX_VM" check
}

@test "smoke: a UEFI disk on virtio-scsi boots under QEMU to its serial marker" {
    need qemu-system-x86_64
    need grub-mkstandalone
    [ -r /usr/share/ovmf/OVMF.fd ] || skip "OVMF is not installed (package ovmf)"
    printf 'serial --unit=0 --speed=115200\nterminal_output serial\necho "BOX-VM-READY grub"\nsleep 600\n' \
        >"$T/grub.cfg"
    grub-mkstandalone -O x86_64-efi -o "$T/d.raw.efi" --modules="serial echo sleep" \
        --install-modules="serial echo sleep terminal" --locales= --fonts= --themes= \
        "boot/grub/grub.cfg=$T/grub.cfg"
    make_disk "$T/d.raw"
    sum=$(openssl dgst -sha256 -r "$T/d.raw")
    run -0 "$BOX_VM" smoke "$T/d.raw" --timeout 240 --accel tcg --serial-log "$T/serial.log"
    [[ $output == *"booted (UEFI, q35, virtio-scsi, tcg) in"*"BOX-VM-READY grub"* ]]
    grep -q "BOX-VM-READY grub" "$T/serial.log"
    # writes went to an overlay: the image is unchanged
    [ "$(openssl dgst -sha256 -r "$T/d.raw")" = "$sum" ]
    ! pgrep -f "file=$T/d.raw" >/dev/null
}

@test "smoke: no marker before the timeout fails and leaves no qemu" {
    need qemu-system-x86_64
    [ -r /usr/share/ovmf/OVMF.fd ] || skip "OVMF is not installed (package ovmf)"
    make_disk "$T/d.raw"
    run -1 "$BOX_VM" smoke "$T/d.raw" --timeout 8 --marker NEVER-PRINTED
    [[ $output == *"no \`NEVER-PRINTED\` on the serial console: qemu timed out after 8 s"* ]]
    ! pgrep -f "file=$T/d.raw" >/dev/null
}

@test "smoke: argument errors" {
    run -2 "$BOX_VM" smoke
    run -2 "$BOX_VM" smoke x.raw --timeout 0
    [[ $output == *"--timeout"* ]]
    run -2 "$BOX_VM" smoke x.raw --accel hvf
    run -1 "$BOX_VM" smoke "$T/none.raw" --accel tcg
    [[ $output == *"No such file"* ]]
}

@test "build: bad template names and variables are refused before anything runs" {
    run -2 "$BOX_VM" build ../../etc/passwd --output-dir "$T/out"
    [[ $output == *"not a template name"* ]]
    run -2 "$BOX_VM" build no-such-template --output-dir "$T/out"
    [[ $output == *"no such template"*"available: "*"base-gpu-ready"*"nvidia-gpu-firmware1"* ]]
    run -2 "$BOX_VM" build base-gpu-ready --var base_image=/tmp/x --output-dir "$T/out"
    [[ $output == *"--var \`base_image\`: set by box vm build itself"* ]]
    run -2 "$BOX_VM" build base-gpu-ready --var 'Bad=1' --output-dir "$T/out"
    [[ $output == *"expected key=value"* ]]
    run -2 "$BOX_VM" build base-gpu-ready --var novalue --output-dir "$T/out"
    run -2 "$BOX_VM" build base-gpu-ready --var distro=fedora --output-dir "$T/out"
    [[ $output == *"not debian or ubuntu"* ]]
    run -2 "$BOX_VM" build base-gpu-ready --var $'memory=1\n2' --output-dir "$T/out"
    [[ $output == *"control or non-ASCII"* ]]
    run -2 "$BOX_VM" build base-gpu-ready --timeout 0 --output-dir "$T/out"
    run -2 "$BOX_VM" build --output-dir "$T/out"
    [ ! -e "$T/out" ]
}

@test "build: a timeout kills packer's whole process group and leaves nothing" {
    need sfdisk
    make_hanging_packer
    make_base "$T/base.img"
    BOX_VM_PACKER=$T/packer run -1 "$BOX_VM" build base-gpu-ready --base "$T/base.img" \
        --output-dir "$T/out" --timeout 3 --quiet
    [[ $output == *"packer build: timed out after"*"process group"*"killed"* ]]
    [[ $output == *"packer: pretending to build"* ]]
    [ "$(wc -l <"$T/pids")" -eq 3 ]
    assert_no_leftovers
}

@test "build: SIGINT stops the build, kills the group, exits 130" {
    need sfdisk
    make_hanging_packer
    make_base "$T/base.img"
    BOX_VM_PACKER=$T/packer "$BOX_VM" build base-gpu-ready --base "$T/base.img" \
        --output-dir "$T/out" --quiet 2>"$T/err" &
    local pid=$!
    for _ in $(seq 100); do
        [ -f "$T/pids" ] && [ "$(wc -l <"$T/pids")" -eq 3 ] && break
        sleep 0.1
    done
    kill -INT "$pid"
    local rc=0
    wait "$pid" || rc=$?
    [ "$rc" -eq 130 ]
    grep -q "interrupted" "$T/err"
    assert_no_leftovers
}

@test "build: a base image that does not match its sha256 is refused" {
    need sfdisk
    make_base "$T/base.img"
    printf 'x' | dd of="$T/base.img" bs=1 seek=100000 conv=notrunc status=none
    BOX_VM_PACKER=/bin/false run -1 "$BOX_VM" build base-gpu-ready --base "$T/base.img" \
        --output-dir "$T/out" --quiet
    [[ $output == *"base image \`$T/base.img\`: sha256"*"but"*"says"* ]]
    touch "$T/pids"
    assert_no_leftovers
}

@test "build: packer that succeeds without an image fails the build cleanly" {
    need sfdisk
    make_base "$T/base.img"
    printf '#!/bin/sh\necho "packer: $*" | grep -o "vm_name=[^ ]*"\nexit 0\n' >"$T/packer"
    chmod +x "$T/packer"
    BOX_VM_PACKER=$T/packer run -1 "$BOX_VM" build base-gpu-ready --base "$T/base.img" \
        --output-dir "$T/out" --quiet
    [[ $output == *"packer left no image"* ]]
    touch "$T/pids"
    assert_no_leftovers
}

@test "build: the build password reaches packer in its environment, not its arguments" {
    need sfdisk
    make_base "$T/base.img"
    printf '#!/bin/sh\nprintf "%%s\\n" "$@" >"%s/args"\nprintf "%%s\\n" "$PKR_VAR_build_password" >"%s/pw"\nexit 1\n' \
        "$T" "$T" >"$T/packer"
    chmod +x "$T/packer"
    BOX_VM_PACKER=$T/packer run -1 "$BOX_VM" build base-gpu-ready --base "$T/base.img" \
        --output-dir "$T/out" --quiet --var kubernetes_version=1.20.2
    [ "$(cat "$T/pw")" = abcdef0123 ]
    ! grep -q abcdef0123 "$T/args"
    grep -qx "base_image=$T/base.img" "$T/args"
    grep -qx "base_image_checksum=none" "$T/args"
    grep -qx "kubernetes_version=1.20.2" "$T/args"
    grep -qx "distro=debian" "$T/args"
    [[ $output == *"packer build: exited with status 1"* ]]
}
