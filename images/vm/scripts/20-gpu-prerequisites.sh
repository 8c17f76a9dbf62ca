#!/usr/bin/env bash
# GPU prerequisites: nouveau never binds (blacklisted, modeset off, also in
# the initramfs), and the PCI tools are present.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

apt_install pciutils kmod initramfs-tools
cat >/etc/modprobe.d/blacklist-nouveau.conf <<'CONF'
blacklist nouveau
options nouveau modeset=0
CONF
update-initramfs -u -k all
kernel=$(boot_kernel)
lsinitramfs "/boot/initrd.img-$kernel" | grep -x 'etc/modprobe.d/blacklist-nouveau.conf' ||
    die "blacklist-nouveau.conf is not in /boot/initrd.img-$kernel"
modprobe -c | grep -x 'blacklist nouveau' || die "modprobe -c does not show the nouveau blacklist"
echo "gpu-prerequisites: nouveau blacklisted (initramfs of $kernel rebuilt)"
