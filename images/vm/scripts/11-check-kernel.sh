#!/usr/bin/env bash
# After the reboot: the running kernel must be the one the image boots, or
# DKMS would build for one kernel and the image boot another.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

want=$(boot_kernel)
[ "$(uname -r)" = "$want" ] || die "running kernel $(uname -r), but the image boots $want"
echo "check-kernel: running $want"
