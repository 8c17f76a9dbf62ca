#!/usr/bin/env bash
# Reboots into the upgraded kernel. The provisioner running this has
# expect_disconnect set; the next one waits for SSH to come back.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

echo "reboot: from $(uname -r) into $(boot_kernel)"
systemctl --no-block reboot
