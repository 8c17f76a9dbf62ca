#!/usr/bin/env bash
# Builds the offline base image the Packer templates boot from: a raw GPT disk
# with an EFI system partition (GRUB standalone, FAT made with mtools) and an
# ext4 root made with `mkfs.ext4 -d` from an mmdebstrap tree. No mounts, no
# loop devices: the partitions are built as plain files and written into the
# disk at their sfdisk offsets with dd.
#
#   build-base.sh --distro debian|ubuntu --output FILE.img [--size-gib N]
#                 [--mirror URL] [--user NAME]
#
# Writes FILE.img (raw; the .img name makes packer copy it with qemu-img,
# which keeps it sparse), FILE.img.sha256 and FILE.img.build-password (mode
# 0600: the build user's password, set with chpasswd from the same string,
# so the hash always matches). Everything is written under a temporary name and
# renamed at the end; on failure nothing is left behind.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
distro=debian
output=
size_gib=8
mirror=${BOX_VM_MIRROR:-}
user=builder

die() {
    echo "build-base: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case $1 in
    --distro) distro=${2:?--distro needs a value}; shift 2 ;;
    --output) output=${2:?--output needs a value}; shift 2 ;;
    --size-gib) size_gib=${2:?--size-gib needs a value}; shift 2 ;;
    --mirror) mirror=${2:?--mirror needs a value}; shift 2 ;;
    --user) user=${2:?--user needs a value}; shift 2 ;;
    *) die "unknown argument \`$1\`" ;;
    esac
done
[ -n "$output" ] || die "--output is required"
if ! [[ $size_gib =~ ^[0-9]+$ ]] || [ "$size_gib" -lt 2 ] || [ "$size_gib" -gt 256 ]; then
    die "--size-gib \`$size_gib\`: expected an integer from 2 to 256"
fi
[[ $user =~ ^[a-z][a-z0-9_-]{0,30}$ ]] || die "--user \`$user\`: not a valid user name"
[ "$(id -u)" -eq 0 ] || die "needs root (mmdebstrap builds the tree as root)"

# The mirror: the one apt on this machine uses, unless given.
if [ -z "$mirror" ]; then
    mirror=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)\/*$/\1/p' /etc/apt/sources.list.d/*.sources \
        2>/dev/null | head -1)
    [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi
base_url=${mirror%/debian}

case $distro in
debian)
    suite=bookworm
    sources="deb $base_url/debian bookworm main contrib non-free non-free-firmware
deb $base_url/debian bookworm-updates main contrib non-free non-free-firmware
deb $base_url/debian-security bookworm-security main contrib non-free non-free-firmware"
    packages=linux-image-amd64,systemd-resolved
    keyring_args=()
    ;;
ubuntu)
    suite=jammy
    sources="deb $base_url/ubuntu jammy main restricted universe
deb $base_url/ubuntu jammy-updates main restricted universe
deb $base_url/ubuntu jammy-security main restricted universe"
    packages=linux-image-virtual
    keyring=$here/../keys/ubuntu-archive-keyring.gpg
    "$here/../keys/check-ubuntu-keyring.sh" "$keyring"
    keyring_args=(--keyring="$keyring")
    ;;
*) die "--distro \`$distro\`: expected debian or ubuntu" ;;
esac
packages=$packages,e2fsprogs,initramfs-tools,systemd-sysv,udev,kmod,openssh-server,sudo,ca-certificates,iproute2

work=$(mktemp -d "${output}.work.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

root_uuid=$(cat /proc/sys/kernel/random/uuid)
esp_id=$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')
esp_uuid="${esp_id:0:4}-${esp_id:4:4}"
esp_uuid=${esp_uuid^^}
password=$(od -An -N18 -tx1 /dev/urandom | tr -d ' \n')
umask 077
printf '%s\n' "$password" >"$work/password"
umask 022

# The tree. The customize hook runs on the host with the tree as $1.
cat >"$work/customize.sh" <<HOOK
#!/bin/sh
set -eu
r=\$1
echo box-vm >"\$r/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 box-vm\n' >"\$r/etc/hosts"
mkdir -p "\$r/boot/efi"
printf 'UUID=$root_uuid / ext4 errors=remount-ro 0 1\nUUID=$esp_uuid /boot/efi vfat umask=0077,nofail 0 2\n' >"\$r/etc/fstab"
printf '%s\n' "$sources" >"\$r/etc/apt/sources.list"
rm -f "\$r"/etc/apt/sources.list.d/*.list "\$r"/etc/apt/sources.list.d/*.sources
mkdir -p "\$r/etc/systemd/network"
printf '[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n' >"\$r/etc/systemd/network/10-dhcp.network"
chroot "\$r" systemctl enable systemd-networkd systemd-resolved
ln -sf ../run/systemd/resolve/stub-resolv.conf "\$r/etc/resolv.conf"
cat >"\$r/etc/systemd/system/box-boot-marker.service" <<'UNIT'
[Unit]
Description=Print the boot marker on the serial console
After=multi-user.target ssh.service
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo "BOX-VM-READY \$\$(uname -r)" >/dev/ttyS0'
[Install]
WantedBy=multi-user.target
UNIT
chroot "\$r" systemctl enable box-boot-marker.service
chroot "\$r" useradd -m -s /bin/bash -G sudo "$user"
chroot "\$r" chpasswd <"$work/password.line"
printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$user" >"\$r/etc/sudoers.d/90-box-build"
chmod 0440 "\$r/etc/sudoers.d/90-box-build"
HOOK
umask 077
printf '%s:%s\n' "$user" "$password" >"$work/password.line"
umask 022

echo "build-base: mmdebstrap $distro $suite from $base_url" >&2
mmdebstrap --quiet --mode=root --variant=apt --include="$packages" "${keyring_args[@]}" \
    --customize-hook="sh $work/customize.sh \"\$1\"" \
    "$suite" "$work/root" - <<<"$sources"

# Sizes in 512-byte sectors: 1 MiB alignment, a 64 MiB ESP, the rest root,
# and 1 MiB at the end for the backup GPT.
mib=2048
esp_start=$mib
esp_size=$((64 * mib))
root_start=$((esp_start + esp_size))
total=$((size_gib * 1024 * mib))
root_size=$((total - root_start - mib))

mkfs.ext4 -q -F -L root -U "$root_uuid" -d "$work/root" "$work/root.img" "$((root_size / 2))k"

# no_timer_check: under TCG on a busy host the kernel's IO-APIC timer check
# can fail and panic ("IO-APIC + timer doesn't work").
cat >"$work/grub.cfg" <<CFG
set timeout=0
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
search --no-floppy --fs-uuid --set=root $root_uuid
set args="root=UUID=$root_uuid ro console=tty0 console=ttyS0,115200n8 no_timer_check"
if [ -e /vmlinuz ]; then
    linux /vmlinuz \$args
    initrd /initrd.img
else
    linux /boot/vmlinuz \$args
    initrd /boot/initrd.img
fi
boot
CFG
grub-mkstandalone -O x86_64-efi -o "$work/BOOTX64.EFI" \
    --modules="part_gpt ext2 fat search search_fs_uuid linux serial terminal test echo" \
    "boot/grub/grub.cfg=$work/grub.cfg"
mkfs.vfat -C -n ESP -i "$esp_id" "$work/esp.img" "$((esp_size / 2))" >/dev/null
mmd -i "$work/esp.img" ::/EFI ::/EFI/BOOT
mcopy -i "$work/esp.img" "$work/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI

truncate -s "$((total * 512))" "$work/disk.raw"
sfdisk --quiet "$work/disk.raw" <<PART
label: gpt
start=$esp_start, size=$esp_size, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI System"
start=$root_start, size=$root_size, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name="root"
PART
dd if="$work/esp.img" of="$work/disk.raw" bs=512 seek="$esp_start" conv=notrunc,sparse status=none
dd if="$work/root.img" of="$work/disk.raw" bs=1M seek="$((root_start / mib))" conv=notrunc,sparse \
    status=none

# openssl hashes several times faster than coreutils' sha256sum here.
sha=$(openssl dgst -sha256 -r "$work/disk.raw" | cut -d' ' -f1)
printf '%s  %s\n' "$sha" "$(basename "$output")" >"$work/disk.sha256"
mv "$work/password" "$output.build-password"
mv "$work/disk.sha256" "$output.sha256"
mv "$work/disk.raw" "$output"
echo "build-base: wrote $output ($distro $suite, ${size_gib} GiB, sha256 $sha)" >&2
