#!/usr/bin/env bash
# Brings every package up to date. A reboot follows (10-reboot.sh), so that
# the DKMS build later runs against the kernel the image will boot.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

apt-get update -q
apt-get full-upgrade "${APT_OPTS[@]}"
apt-get autoremove "${APT_OPTS[@]}" --purge
echo "system-update: booting kernel $(boot_kernel) after the reboot"
