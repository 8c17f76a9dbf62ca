#!/usr/bin/env bash
# Shared by the provisioning scripts (sourced): apt without prompts, the
# kernel the image boots, and a uniform failure message.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
STATE_DIR=/var/lib/box-build

die() {
    echo "${0##*/}: $*" >&2
    exit 1
}

apt_install() {
    apt-get install "${APT_OPTS[@]}" --no-install-recommends "$@"
}

# The kernel the image boots: what /vmlinuz (or /boot/vmlinuz) points to, the
# kernel the standalone GRUB on the ESP loads.
boot_kernel() {
    local link
    for link in /vmlinuz /boot/vmlinuz; do
        if [ -L "$link" ]; then
            basename "$(readlink -f "$link")" | sed 's/^vmlinuz-//'
            return 0
        fi
    done
    die "no /vmlinuz or /boot/vmlinuz link: cannot tell which kernel boots"
}

mkdir -p "$STATE_DIR"
