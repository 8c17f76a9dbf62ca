# Shared setup of the box vm tests (bats): a local region server and a file
# server on loopback (tests/vm/region_server.py), started per test on
# ephemeral ports and stopped by pid. They drive the real box-vm binary,
# given by BOX_VM (make acceptance-vm sets it). No root needed.
# shellcheck shell=bash disable=SC2154,SC2034 # bats sets status/output; tests read the rest

bats_require_minimum_version 1.5.0

VM_REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
BOX_VM=${BOX_VM:-$VM_REPO/build/box-vm}
BOX_FRONT=${BOX_FRONT:-$VM_REPO/build/box}
REGION_SERVER="$VM_REPO/tests/vm/region_server.py"
PAYLOADS="$VM_REPO/tests/vm/payloads"
REGION=62f35744-1abd-47b8-a850-cfaa03fd3ca6
ORG=c72d8d75-efcc-4280-ae87-ca4ccc414c53
ORG_READ=0b9d2f3e-5c1a-4e8b-9f00-6a7d1c2b3e4f
ORG_NONE=9e8d7c6b-5a49-4838-a726-150f0e0d0c0b

vm() {
    "$BOX_VM" "$@"
}

# A raw disk with a GPT (and so a protective MBR: 55 aa at 510), and two
# files the region must refuse: zeros, and a qcow2 header.
make_disks() {
    mkdir -p "$TMP/www"
    truncate -s 4M "$TMP/www/good.raw"
    printf 'label: gpt\n,,U\n' | sfdisk -q "$TMP/www/good.raw" >/dev/null
    head -c 1048576 /dev/zero >"$TMP/www/zeros.raw"
    { printf 'QFI\373'; head -c 4092 /dev/zero; } >"$TMP/www/image.qcow2"
}

# vm_setup: tokens with random values (never on any command line), the
# servers, and the NSCALE_* settings pointing at them.
vm_setup() {
    TMP=$(mktemp -d)
    TOKEN="tok-user-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
    TOKEN_READER="tok-reader-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
    (
        umask 077
        printf '{"%s": {"%s": "user", "%s": "reader"}, "%s": {"%s": "reader"}}\n' \
            "$TOKEN" "$ORG" "$ORG_READ" "$TOKEN_READER" "$ORG" >"$TMP/tokens.json"
    )
    make_disks
    start_region
    export NSCALE_SERVICE_TOKEN=$TOKEN
    export NSCALE_REGION_SERVICE_API_ENDPOINT=$ENDPOINT
    export NSCALE_ORGANIZATION_ID=$ORG
    export NSCALE_REGION_ID=$REGION
}

# start_region: sets ENDPOINT, FILES, SERVER_PID. Faults are armed with `fault`.
start_region() {
    rm -f "$TMP/port" "$TMP/files-port"
    python3 "$REGION_SERVER" --port-file "$TMP/port" --log "$TMP/region.log" \
        --tokens "$TMP/tokens.json" --region "$REGION" --files "$TMP/www" \
        --files-port-file "$TMP/files-port" 3>&- &
    SERVER_PID=$!
    local i
    for i in $(seq 1 200); do
        [ -s "$TMP/port" ] && [ -s "$TMP/files-port" ] && break
        sleep 0.05
    done
    [ -s "$TMP/port" ] && [ -s "$TMP/files-port" ]
    ENDPOINT="http://127.0.0.1:$(cat "$TMP/port")"
    FILES="http://127.0.0.1:$(cat "$TMP/files-port")"
}

stop_region() {
    if [ -n "${SERVER_PID:-}" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}

vm_teardown() {
    stop_region
    rm -rf "$TMP"
}

# fault KIND [COUNT] [SECONDS]: arm a fault through the control endpoint.
fault() {
    python3 - "$ENDPOINT/_test/fault" "$1" "${2:-1}" "${3:-1}" <<'PY'
import json, sys, urllib.request
url, kind, count, seconds = sys.argv[1:5]
body = json.dumps({"kind": kind, "count": int(count), "seconds": float(seconds)}).encode()
urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=10).read()
PY
}

# server_state EXPR: evaluates a Python expression over the server's state
# `s` ({"counts": {...}, "images": [...]}) and prints the result.
server_state() {
    python3 - "$ENDPOINT/_test/state" "$1" <<'PY'
import json, sys, urllib.request
s = json.load(urllib.request.urlopen(sys.argv[1], timeout=10))
print(eval(sys.argv[2]))
PY
}

# payload_for SOURCE URI: a corpus payload with spec.uri replaced; prints
# the new file's path.
payload_for() {
    local out
    out="$TMP/$(basename "$1")"
    python3 - "$1" "$2" "$out" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
doc["spec"]["uri"] = sys.argv[2]
json.dump(doc, open(sys.argv[3], "w"), indent=2)
PY
    printf '%s\n' "$out"
}

# json_get EXPR: evaluates a Python expression over the JSON document `d`
# read from $output.
json_get() {
    python3 -c 'import json, sys; d = json.loads(sys.argv[2]); print(eval(sys.argv[1]))' "$1" "$output"
}

# Asserts that the token appears in no output seen so far.
assert_no_token() {
    if grep -rqF -e "$TOKEN" -e "$TOKEN_READER" "$@"; then
        echo "the token leaked into: $*" >&2
        return 1
    fi
}
