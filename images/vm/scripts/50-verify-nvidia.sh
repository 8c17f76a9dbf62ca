#!/usr/bin/env bash
# Proves, without a GPU, that the image will load the driver with GPU
# firmware on: DKMS built the module for the boot kernel, the module exposes
# NVreg_EnableGpuFirmware, modprobe's configuration carries the option, and
# the initramfs holds nvidia.conf with exactly that line. Records the driver
# version from the built module.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

line='options nvidia NVreg_EnableGpuFirmware=1'
kernel=$(boot_kernel)
dkms status -k "$kernel" | grep -E '^nvidia[^,]*/.*: installed' ||
    die "dkms status: no installed nvidia module for $kernel"
version=$(modinfo -k "$kernel" -F version nvidia) || die "modinfo: no nvidia module for $kernel"
[[ $version =~ ^[0-9]+(\.[0-9]+)+$ ]] || die "modinfo: nvidia version \`$version\` is not a version"
modinfo -k "$kernel" -p nvidia | grep '^NVreg_EnableGpuFirmware:' ||
    die "the nvidia module for $kernel has no NVreg_EnableGpuFirmware parameter"
[ "$(cat /etc/modprobe.d/nvidia.conf)" = "$line" ] ||
    die "/etc/modprobe.d/nvidia.conf does not hold exactly \`$line\`"
modprobe -c | grep -x "$line" || die "modprobe -c does not show \`$line\`"

initrd=/boot/initrd.img-$kernel
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
unmkinitramfs "$initrd" "$unpacked"
found=$(find "$unpacked" -path '*/etc/modprobe.d/nvidia.conf' | head -1)
[ -n "$found" ] || die "$initrd has no etc/modprobe.d/nvidia.conf"
[ "$(cat "$found")" = "$line" ] || die "nvidia.conf in $initrd does not hold exactly \`$line\`"

printf 'driver=%s\nfirmware_option=1\n' "$version" >"$STATE_DIR/gpu"
echo "verify-nvidia: driver $version for $kernel; $line in modprobe -c and in $initrd"
