#!/usr/bin/env bash
# Writes what the image is, as found inside it, to $FACTS_FILE (key=value,
# the format box vm build reads; see src/lib/vm/facts.h).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

: "${FACTS_FILE:?FACTS_FILE is not set}"
# shellcheck source=/dev/null
. /etc/os-release
kernel=$(boot_kernel)
family=$ID
[[ " ${ID_LIKE:-} " == *" debian "* ]] && family=debian

pkgver() {
    local v
    v=$(dpkg-query -W -f='${Version}' "$1")
    v=${v#*:}
    [[ $v == *-* ]] && v=${v%-*}
    printf '%s\n' "$v"
}

{
    echo "architecture=$(uname -m)"
    echo "os.family=$family"
    echo "os.distro=$ID"
    echo "os.version=$VERSION_ID"
    echo "os.codename=$VERSION_CODENAME"
    echo "os.variant=server"
    echo "kernel=$kernel"
    if [ -f "$STATE_DIR/gpu" ]; then
        echo "gpu.vendor=NVIDIA"
        echo "gpu.driver=$(sed -n 's/^driver=//p' "$STATE_DIR/gpu")"
        echo "gpu.firmware_option=$(sed -n 's/^firmware_option=//p' "$STATE_DIR/gpu")"
    fi
    if [ -f "$STATE_DIR/kubernetes-version" ]; then
        echo "package.kubernetes=$(cat "$STATE_DIR/kubernetes-version")"
    fi
    if [ -f "$STATE_DIR/kubernetes-packages" ]; then
        while read -r p; do
            echo "package.$p=$(pkgver "$p")"
        done <"$STATE_DIR/kubernetes-packages"
    fi
    for p in $(dpkg-query -W -f='${Package}\n' 'nvidia-dkms-*' 'nvidia-kernel-dkms' 2>/dev/null); do
        [ "$(dpkg-query -W -f='${db:Status-Status}' "$p")" = installed ] &&
            echo "package.$p=$(pkgver "$p")"
    done
    echo "package.linux-image=$kernel"
} >"$FACTS_FILE.tmp"
mv "$FACTS_FILE.tmp" "$FACTS_FILE"
cat "$FACTS_FILE"
