#!/usr/bin/env bash
# The slow tier: builds one template for real with `box vm build` (the base
# image first, when OUT has none), then checks the result from outside:
# `box vm check`, a boot with `box vm smoke`, the facts against the image,
# and the cleanup read straight from the ext4 root with debugfs (no mount).
#
#   tests/vm/smoke.sh BOX_VM OUT TEMPLATE
#
# Prints the times of each step; exits non-zero on the first failure.
# VM_BUILD_VARS: more `k=v` template variables, space-separated (cpus=2);
# VM_BUILD_TIMEOUT: the build's limit in seconds (default 3600).
set -euo pipefail

box_vm=${1:?usage: smoke.sh BOX_VM OUT TEMPLATE}
out=${2:?usage: smoke.sh BOX_VM OUT TEMPLATE}
template=${3:?usage: smoke.sh BOX_VM OUT TEMPLATE}

fail() {
    echo "vm-smoke: FAIL: $*" >&2
    exit 1
}

[ "$(id -u)" -eq 0 ] || fail "needs root (mmdebstrap builds the base image as root)"
for tool in packer qemu-system-x86_64 qemu-img mmdebstrap debugfs jq openssl sfdisk; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (run scripts/install-deps)"
done

secs() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(secs)" 'BEGIN { printf "%.1f", b - a }'; }

mkdir -p "$out"
t0=$(secs)
vars=()
for kv in ${VM_BUILD_VARS:-}; do
    vars+=(--var "$kv")
done
"$box_vm" build "$template" --output-dir "$out" --timeout "${VM_BUILD_TIMEOUT:-3600}" "${vars[@]}" | tee "$out/$template.build.txt"
build_s=$(elapsed "$t0")
image=$(sed -n 's/^image: *//p' "$out/$template.build.txt")
facts=$(sed -n 's/^facts: *//p' "$out/$template.build.txt")
for f in "$image" "$facts" "$image.sha256"; do
    [ -f "$f" ] || fail "the build left no \`$f\`"
done

"$box_vm" check "$image"

# The facts describe this very file.
sha=$(openssl dgst -sha256 -r "$image" | cut -d' ' -f1)
[ "$(jq -r .sha256 "$facts")" = "$sha" ] || fail "facts sha256 differs from the image's $sha"
[ "$(jq -r .size "$facts")" = "$(stat -c %s "$image")" ] || fail "facts size differs"
[ "$(jq -r .format "$facts")" = raw ] || fail "facts format is not raw"
[ "$(jq -r .image "$facts")" = "$(basename "$image")" ] || fail "facts image name differs"
grep -q "^$sha  $(basename "$image")\$" "$image.sha256" || fail "$image.sha256 does not match"
jq -e '.kernel | test("^[0-9]")' "$facts" >/dev/null || fail "facts kernel"

# Read the root file system without mounting it.
start=$(sfdisk -J "$image" | jq '.partitiontable.partitions[] | select(.type == "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709") | .start')
root="$image?offset=$((start * 512))"
cat_file() { debugfs -R "cat $1" "$root" 2>/dev/null; }
[ -z "$(cat_file /etc/machine-id)" ] || fail "/etc/machine-id is not empty"
! debugfs -R "ls /etc/ssh" "$root" 2>/dev/null | grep -q ssh_host_ || fail "SSH host keys left in the image"
cat_file /etc/ssh/sshd_config.d/10-box-no-password.conf | grep -qx 'PasswordAuthentication no' ||
    fail "password SSH is not switched off"
cat_file /etc/shadow | grep -q '^builder:!' || fail "the build user is not locked"
[ -z "$(cat_file /etc/sudoers.d/90-box-build)" ] || fail "the build user's sudo rule is left"
cat_file /etc/modprobe.d/blacklist-nouveau.conf | grep -qx 'blacklist nouveau' || fail "nouveau not blacklisted"
kernel=$(jq -r .kernel "$facts")
if jq -e '.gpu != null' "$facts" >/dev/null; then
    [ "$(cat_file /etc/modprobe.d/nvidia.conf)" = 'options nvidia NVreg_EnableGpuFirmware=1' ] ||
        fail "/etc/modprobe.d/nvidia.conf does not hold exactly the firmware option"
    jq -e '.gpu.vendor == "NVIDIA" and .gpu.firmware_option == true and (.gpu.driver | test("^[0-9]+\\.[0-9]+"))' \
        "$facts" >/dev/null || fail "facts gpu"
    debugfs -R "ls /lib/modules/$kernel/updates/dkms" "$root" 2>/dev/null | grep -q 'nvidia\.ko' ||
        fail "no DKMS-built nvidia module for $kernel in the image"
fi

t1=$(secs)
"$box_vm" smoke "$image" --timeout 900 --serial-log "$out/$template.serial.log"
smoke_s=$(elapsed "$t1")
[ "$(openssl dgst -sha256 -r "$image" | cut -d' ' -f1)" = "$sha" ] || fail "booting changed the image"

# The region API end to end with this image: the payload generated from its
# facts, validated, registered with the local region server (which reads
# the image's first sector over HTTP from a file server on loopback) and
# waited for until ready, then listed.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
api=$(mktemp -d)
region=62f35744-1abd-47b8-a850-cfaa03fd3ca6
org=c72d8d75-efcc-4280-ae87-ca4ccc414c53
token="tok-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
(umask 077 && printf '{"%s": {"%s": "user"}}\n' "$token" "$org" >"$api/tokens.json")
python3 "$repo/tests/vm/region_server.py" --port-file "$api/port" --log "$api/region.log" \
    --tokens "$api/tokens.json" --region "$region" --files "$(dirname "$image")" \
    --files-port-file "$api/files-port" &
server=$!
trap 'kill "$server" 2>/dev/null; rm -rf "$api"' EXIT
for _ in $(seq 200); do
    [ -s "$api/port" ] && [ -s "$api/files-port" ] && break
    sleep 0.05
done
models=()
jq -e '.gpu != null' "$facts" >/dev/null && models=(--gpu-model H100)
"$box_vm" payload --facts "$facts" --uri "http://127.0.0.1:$(cat "$api/files-port")/$(basename "$image")" \
    "${models[@]}" >"$api/payload.json"
"$box_vm" validate "$api/payload.json"
export NSCALE_SERVICE_TOKEN=$token NSCALE_REGION_ID=$region NSCALE_ORGANIZATION_ID=$org
NSCALE_REGION_SERVICE_API_ENDPOINT="http://127.0.0.1:$(cat "$api/port")"
export NSCALE_REGION_SERVICE_API_ENDPOINT
"$box_vm" register "$api/payload.json" --check-uri --wait --wait-interval 100 --json >"$api/reg.json"
id=$(jq -r .image.metadata.id "$api/reg.json")
[ "$(jq -r .image.status.state "$api/reg.json")" = ready ] || fail "registration did not end ready"
"$box_vm" list --scope owned --json | jq -e --arg id "$id" '.images[] | select(.metadata.id == $id)' \
    >/dev/null || fail "the registered image $id is not listed"
grep -q "^FILE GET /$(basename "$image") range=bytes=0-511\$" "$api/region.log" ||
    fail "the region did not read the image's first sector"
echo "vm-smoke: registered with the local region server as $id: $(jq -c '{name: .image.metadata.name, os: .image.spec.os, gpu: .image.spec.gpu, software: .image.spec.softwareVersions}' "$api/reg.json")"

echo "vm-smoke: $template OK: build ${build_s} s, boot to marker in the smoke step ${smoke_s} s"
jq -c '{image, sha256, size, os, kernel, gpu, packages}' "$facts"
