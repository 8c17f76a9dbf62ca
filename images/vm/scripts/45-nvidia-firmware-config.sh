#!/usr/bin/env bash
# GPU firmware (GSP) on: /etc/modprobe.d/nvidia.conf holds exactly
# "options nvidia NVreg_EnableGpuFirmware=1", and the initramfs is rebuilt so
# the option also applies when the module loads from it.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

conf=/etc/modprobe.d/nvidia.conf
# Debian links nvidia.conf to an alternative of the driver package: keep
# what it says under another name, then own the file.
if [ -L "$conf" ]; then
    cp --remove-destination "$(readlink -f "$conf")" /etc/modprobe.d/nvidia-packaged.conf
    rm -f "$conf"
fi
printf 'options nvidia NVreg_EnableGpuFirmware=1\n' >"$conf.tmp"
chmod 0644 "$conf.tmp"
mv "$conf.tmp" "$conf"
update-initramfs -u -k all
echo "nvidia-firmware-config: $conf written, initramfs rebuilt"
