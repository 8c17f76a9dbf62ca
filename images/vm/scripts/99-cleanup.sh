#!/usr/bin/env bash
# Leaves an image that is safe to share: the build user locked, password SSH
# off, no machine-id (systemd makes one on first boot), no SSH host keys (a
# unit regenerates them on first boot, before sshd starts), no apt lists,
# logs or shell history. The build user's sudo rule, login shell and account
# expiry go in the template's shutdown command, the last thing run over SSH.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

: "${BUILD_USER:?BUILD_USER is not set}"

passwd -l "$BUILD_USER"
rm -f "/home/$BUILD_USER/.ssh/authorized_keys"

mkdir -p /etc/ssh/sshd_config.d
cat >/etc/ssh/sshd_config.d/10-box-no-password.conf <<'CONF'
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
CONF
grep -qE '^Include /etc/ssh/sshd_config.d/\*.conf' /etc/ssh/sshd_config ||
    die "/etc/ssh/sshd_config does not include sshd_config.d"
[ "$(sshd -T -f /etc/ssh/sshd_config 2>/dev/null | awk '$1 == "passwordauthentication" {print $2}')" = no ] ||
    die "sshd -T does not report passwordauthentication no"

cat >/etc/systemd/system/box-ssh-host-keys.service <<'UNIT'
[Unit]
Description=Generate SSH host keys on first boot
ConditionPathExistsGlob=!/etc/ssh/ssh_host_*_key
Before=ssh.service

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
UNIT
systemctl enable box-ssh-host-keys.service
rm -f /etc/ssh/ssh_host_*

truncate -s 0 /etc/machine-id
[ -L /var/lib/dbus/machine-id ] || rm -f /var/lib/dbus/machine-id

apt-get clean
rm -rf /var/lib/apt/lists/* "$STATE_DIR" /tmp/* /var/tmp/*
rm -f /root/.bash_history "/home/$BUILD_USER/.bash_history"
find /var/log -type f \( -name '*.gz' -o -name '*.[0-9]' \) -delete
find /var/log -type f -exec truncate -s 0 {} +
journalctl --rotate --vacuum-time=1s >/dev/null 2>&1 || true
echo "cleanup: $BUILD_USER locked, password SSH off, machine-id and host keys cleared"
