#!/usr/bin/env bash
# The NVIDIA driver from the distribution archive, built by DKMS for the
# kernel the image boots (the archive serves no precompiled module).
#   ubuntu: nvidia-headless-$NVIDIA_BRANCH-server (+ its DKMS package)
#   debian: nvidia-kernel-dkms and nvidia-smi from non-free
# The version that ends up built is recorded from the module itself by
# 50-verify-nvidia.sh, never taken from what was asked for.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

: "${DISTRO:?DISTRO is not set}"
: "${NVIDIA_BRANCH:?NVIDIA_BRANCH is not set}"
[[ $NVIDIA_BRANCH =~ ^[0-9]{3}$ ]] || die "NVIDIA_BRANCH \`$NVIDIA_BRANCH\`: expected e.g. 580"

kernel=$(boot_kernel)
apt-get update -q
case $DISTRO in
ubuntu)
    apt_install "linux-headers-$kernel" dkms "nvidia-headless-$NVIDIA_BRANCH-server" \
        "nvidia-dkms-$NVIDIA_BRANCH-server" "nvidia-utils-$NVIDIA_BRANCH-server"
    ;;
debian)
    apt_install "linux-headers-$kernel" dkms nvidia-kernel-dkms nvidia-smi firmware-nvidia-gsp
    ;;
*) die "DISTRO \`$DISTRO\`: expected ubuntu or debian" ;;
esac
dkms status -k "$kernel" | grep -E '^nvidia[^,]*/.*: installed' ||
    die "dkms did not build an nvidia module for $kernel: $(dkms status)"
