#!/usr/bin/env bash
# Checks the pinned Ubuntu archive keyring before mmdebstrap trusts it.
#
# The keyring is not a Debian package, so the repository carries it:
# ubuntu-archive-keyring.gpg is the key file
# etc/apt/trusted.gpg.d/ubuntu-keyring-2018-archive.gpg of Ubuntu's
# ubuntu-keyring 2021.03.26 package, holding exactly one key,
#   Ubuntu Archive Automatic Signing Key (2018) <ftpmaster@ubuntu.com>
#   F6EC B376 2474 EDA9 D21B  7022 8719 20D1 991B C93C
# the key that signs jammy's InRelease. Both the file's SHA-256 and its key
# fingerprints are checked: a changed file, or one carrying another key, is
# refused before any package is fetched.
set -euo pipefail

keyring=${1:?usage: check-ubuntu-keyring.sh KEYRING}
want_sha256=bfdb0512804d0740816d836bb05b1ef8b27609771d7b9962c95bcc57bfaac230
want_fprs=F6ECB3762474EDA9D21B7022871920D1991BC93C

[ -f "$keyring" ] || {
    echo "check-ubuntu-keyring: \`$keyring\`: no such file" >&2
    exit 1
}
sha=$(openssl dgst -sha256 -r "$keyring" | cut -d' ' -f1)
if [ "$sha" != "$want_sha256" ]; then
    echo "check-ubuntu-keyring: \`$keyring\`: sha256 $sha, expected $want_sha256" >&2
    exit 1
fi
gnupghome=$(mktemp -d)
trap 'rm -rf "$gnupghome"' EXIT
fprs=$(GNUPGHOME=$gnupghome gpg --show-keys --with-colons "$keyring" 2>/dev/null | awk -F: '$1 == "pub" { p = 1; next } p && $1 == "fpr" { print $10; p = 0 }' | sort | tr '\n' ' ')
if [ "${fprs% }" != "$want_fprs" ]; then
    echo "check-ubuntu-keyring: \`$keyring\`: primary keys [${fprs% }], expected [$want_fprs]" >&2
    exit 1
fi
