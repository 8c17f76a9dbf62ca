#!/usr/bin/env bash
# Kubernetes node tools from the distribution archive, pinned.
#
# KUBERNETES_PACKAGES: "name=VERSION ..." where VERSION is the upstream
# version (the Debian version without its revision, e.g. 1.6.20~ds1): the
# archive version whose upstream part is exactly that is installed and held;
# none, or a different one, fails the build. KUBERNETES_VERSION: the
# Kubernetes version the image declares; kubectl must report exactly it
# (without the leading v). Empty means the image declares none (Ubuntu
# 22.04's archive has no kubectl, only containerd); then no kubectl may be
# installed either. The Kubernetes project's own package repository is not
# used (see docs/vm-images.md).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

: "${KUBERNETES_PACKAGES:?KUBERNETES_PACKAGES is not set}"
: "${KUBERNETES_VERSION?KUBERNETES_VERSION is not set}"

upstream() {
    local v=${1#*:}
    [[ $v == *-* ]] && v=${v%-*}
    printf '%s\n' "$v"
}

apt-get update -q
install=() names=()
for pin in $KUBERNETES_PACKAGES; do
    name=${pin%%=*} want=${pin#*=}
    [[ $pin == *=* && $name =~ ^[a-z0-9][a-z0-9.+-]+$ && -n $want ]] ||
        die "KUBERNETES_PACKAGES: \`$pin\` is not name=version"
    found=
    while read -r v; do
        if [ "$(upstream "$v")" = "$want" ]; then
            found=$v
            break
        fi
    done < <(apt-cache madison "$name" | awk -F'|' '{gsub(/ /, "", $2); print $2}')
    [ -n "$found" ] || die "$name: no version $want in the archive (have: $(apt-cache madison \
"$name" | awk -F'|' '{gsub(/ /, "", $2); printf "%s ", $2}'))"
    install+=("$name=$found")
    names+=("$name")
done
apt_install "${install[@]}"
apt-mark hold "${names[@]}"

printf '%s\n' "${names[@]}" >"$STATE_DIR/kubernetes-packages"
if [ -z "$KUBERNETES_VERSION" ]; then
    ! command -v kubectl >/dev/null || die "kubectl is installed, but no Kubernetes version is declared"
    echo "kubernetes-tools: ${install[*]} (no Kubernetes version declared)"
    exit 0
fi
got=$(kubectl version --client -o json | sed -n 's/.*"gitVersion": *"v\([^"]*\)".*/\1/p')
[ "$got" = "$KUBERNETES_VERSION" ] ||
    die "kubectl reports $got, but the image declares Kubernetes $KUBERNETES_VERSION"
printf '%s\n' "$got" >"$STATE_DIR/kubernetes-version"
echo "kubernetes-tools: ${install[*]} (kubectl $got)"
