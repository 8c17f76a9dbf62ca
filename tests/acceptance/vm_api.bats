#!/usr/bin/env bats
# box vm list, register and delete against a local region server
# (tests/vm/region_server.py) and a file server holding real raw disks:
# happy paths, --wait, every failure class and its exit status, the token's
# secrecy, and injected faults (a GET retried, a cut POST never resent).

load vm_helpers

setup() {
    vm_setup
    GOOD=$(payload_for "$PAYLOADS/valid-seed-nvidia-firmware1.json" "$FILES/good.raw")
}

teardown() {
    vm_teardown
}

@test "list: v2 with the organization shows global and owned images; --global only global" {
    run vm register "$GOOD"
    [ "$status" -eq 0 ]
    run vm list --json
    [ "$status" -eq 0 ]
    [ "$(json_get 'len(d["images"])')" = 3 ]
    run vm list --global --json
    [ "$status" -eq 0 ]
    [ "$(json_get 'sorted(i["metadata"]["name"] for i in d["images"])')" = \
        "['global-ubuntu2204-k8s', 'global-ubuntu2204-nvidia']" ]
    grep -q "^GET /api/v2/regions/$REGION/images auth=yes$" "$TMP/region.log"
    run vm list --scope owned --json
    [ "$(json_get '[i["metadata"]["name"] for i in d["images"]]')" = \
        "['test-ubuntu-2204-nvidia-565-firmware1']" ]
    grep -q "organizationID=$ORG&scope=owned" "$TMP/region.log"
    run vm list
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "ID "*"NAME"*"STATE"* ]]
    [[ "$output" == *"global-ubuntu2204-nvidia"*"NVIDIA 580.82.07"* ]]
}

@test "list: --status filters, repeated; a bad value is a usage error" {
    vm register "$GOOD" >/dev/null
    run vm list --scope available --status ready --json
    [ "$(json_get '{i["status"]["state"] for i in d["images"]}')" = "{'ready'}" ]
    [ "$(json_get 'len(d["images"])')" = 2 ]
    run vm list --status ready --status creating --json
    [ "$status" -eq 0 ]
    grep -q "status=ready&status=creating" "$TMP/region.log"
    run vm list --status done
    [ "$status" -eq 1 ]
    [[ "$output" == *"--status \`done\`: not pending, creating, ready or failed"* ]]
}

@test "list: an organization the token cannot read is dropped silently: empty, exit 0" {
    NSCALE_ORGANIZATION_ID=$ORG_NONE run vm list --scope owned --json
    [ "$status" -eq 0 ]
    [ "$(json_get 'd["images"]')" = "[]" ]
}

@test "register: POSTs once, prints the id, the image is pending, then listed" {
    run --separate-stderr vm register "$GOOD"
    [ "$status" -eq 0 ]
    id=$output
    [[ "$stderr" == *"registered \`test-ubuntu-2204-nvidia-565-firmware1\` as image $id (pending)"* ]]
    [ "$(grep -c '^POST /api/' "$TMP/region.log")" = 1 ]
    grep -q "^POST /api/v1/organizations/$ORG/regions/$REGION/images auth=yes$" "$TMP/region.log"
    # the region really read the first sector, without a token
    grep -q "^FILE GET /good.raw range=bytes=0-511$" "$TMP/region.log"
    [ "$(server_state "[i['spec']['gpu']['models'] for i in s['images'] if i['metadata']['id'] == '$id']")" = \
        "[['A100', 'H100', 'H200']]" ]
}

@test "register --wait: pending -> creating -> ready over successive polls" {
    run --separate-stderr vm register "$GOOD" --wait --wait-interval 100 --json
    [ "$status" -eq 0 ]
    [ "$(json_get 'd["image"]["status"]["state"]')" = ready ]
    id=$(json_get 'd["image"]["metadata"]["id"]')
    [[ "$stderr" == *"image $id: pending"*"image $id: creating"*"image $id: ready"* ]]
    [ "$(grep -c "^GET /api/v2/regions/$REGION/images?organizationID=$ORG&scope=owned" "$TMP/region.log")" = 3 ]
}

@test "register --wait: an import that fails exits 7; a slow one times out with 5" {
    fault import-fail
    run vm register "$GOOD" --wait --wait-interval 100
    [ "$status" -eq 7 ]
    [[ "$output" == *"the import failed"* ]]
    run vm register "$GOOD" --wait --wait-timeout 1 --wait-interval 2000
    [ "$status" -eq 5 ]
    [[ "$output" == *"is still pending after 1 s (--wait-timeout)"* ]]
}

@test "delete: 202 and gone from the list; again: not found, exit 3" {
    id=$(vm register "$GOOD" 2>/dev/null)
    run vm delete "$id"
    [ "$status" -eq 0 ]
    [ "$output" = "deletion of image $id accepted" ]
    grep -q "^DELETE /api/v1/organizations/$ORG/regions/$REGION/images/$id auth=yes$" "$TMP/region.log"
    run vm list --scope owned --json
    [ "$(json_get 'd["images"]')" = "[]" ]
    run vm delete "$id"
    [ "$status" -eq 3 ]
    [[ "$output" == *"not found (404 not_found"*"no image $id in region $REGION"* ]]
    run vm delete not-a-uuid
    [ "$status" -eq 1 ]
}

@test "401: a wrong token is an authentication failure, exit 2" {
    NSCALE_SERVICE_TOKEN=tok-wrong run vm list
    [ "$status" -eq 2 ]
    [[ "$output" == *"authentication failed (401 access_denied: authentication failed)"* ]]
    [[ "$output" == *"token from the environment is wrong, expired or revoked"* ]]
    [[ "$output" != *tok-wrong* ]]
    # the server answers 401 to a request without any token as well
    run python3 -c 'import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=10)
except urllib.error.HTTPError as e:
    print(e.code)' "$ENDPOINT/api/v2/regions/$REGION/images"
    [ "$output" = 401 ]
}

@test "403: a reader cannot register; the message names permission and organization" {
    NSCALE_SERVICE_TOKEN=$TOKEN_READER run vm register "$GOOD"
    [ "$status" -eq 2 ]
    [[ "$output" == *"permission denied (403 forbidden"* ]]
    [[ "$output" == *"no region:images create permission in organization $ORG"* ]]
    [[ "$output" == *"organization id is wrong, or no role"* ]]
    [[ "$output" == *"A working \`box vm list\` proves nothing"* ]]
    # ... although the same token lists images without complaint
    NSCALE_SERVICE_TOKEN=$TOKEN_READER run vm list --global
    [ "$status" -eq 0 ]
    # a wrong organization id: 403 too, for a token that can register elsewhere
    NSCALE_ORGANIZATION_ID=$ORG_NONE run --separate-stderr vm register "$GOOD" --json
    [ "$status" -eq 2 ]
    [ "$(json_get 'd["class"]')" = auth ]
    [ "$(grep -c '^POST /api/' "$TMP/region.log")" = 2 ]
    [ "$(server_state "len(s['images'])")" = 2 ]
}

@test "404: an unknown region, exit 3" {
    NSCALE_REGION_ID=11111111-2222-3333-4444-555555555555 run vm list
    [ "$status" -eq 3 ]
    [[ "$output" == *"not found (404 not_found: region 11111111-2222-3333-4444-555555555555 not found)"* ]]
    [[ "$output" == *"is region 11111111-2222-3333-4444-555555555555 served at $ENDPOINT?"* ]]
}

@test "400: the server's error_description is shown, exit 1" {
    fault post-400
    run vm register "$GOOD"
    [ "$status" -eq 1 ]
    [[ "$output" == *'the server refused the request (400 invalid_request: the request body is not valid: "/spec/architecture" value is not one of the allowed values)'* ]]
}

@test "422: bytes 510-511 are not 55 aa; --check-uri finds it before any POST" {
    zeros=$(payload_for "$PAYLOADS/valid-seed-gpu-ready.json" "$FILES/zeros.raw")
    run vm register "$zeros"
    [ "$status" -eq 1 ]
    [[ "$output" == *"the server cannot use the image (422 unprocessable_content: image is not a raw disk image: no boot signature)"* ]]
    [[ "$output" == *"--check-uri"* ]]
    [ "$(grep -c '^POST /api/' "$TMP/region.log")" = 1 ]
    qcow=$(payload_for "$PAYLOADS/valid-seed-gpu-ready.json" "$FILES/image.qcow2")
    run vm register "$qcow" --check-uri
    [ "$status" -eq 1 ]
    [[ "$output" == *"(the region would answer 422): bytes 510-511 are 00 00, not 55 aa"* ]]
    [ "$(grep -c '^POST /api/' "$TMP/region.log")" = 1 ]
    grep -q "^FILE GET /image.qcow2 range=bytes=0-511$" "$TMP/region.log"
    missing=$(payload_for "$PAYLOADS/valid-seed-gpu-ready.json" "$FILES/missing.raw")
    run vm register "$missing" --check-uri
    [ "$status" -eq 1 ]
    [[ "$output" == *"answer 404 to a GET of bytes 0-511"* ]]
    run vm register "$GOOD" --check-uri
    [ "$status" -eq 0 ]
    [[ "$output" == *"spec.uri: bytes 510-511 are 55 aa"* ]]
}

@test "register: an invalid payload is refused with its pointers and nothing is sent" {
    run vm register "$PAYLOADS/invalid-gpu-vendor-case.json"
    [ "$status" -eq 1 ]
    [[ "$output" == *'error: /spec/gpu/vendor: "nvidia" is not one of NVIDIA, AMD (case-sensitive)'* ]]
    [[ "$output" == *"nothing was sent"* ]]
    ! grep -q '^POST /api/' "$TMP/region.log"
}

@test "--dry-run: prints the request with the token redacted and sends nothing" {
    run vm register "$GOOD" --dry-run
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "POST $ENDPOINT/api/v1/organizations/$ORG/regions/$REGION/images" ]
    [ "${lines[1]}" = "Authorization: Bearer <redacted>" ]
    [[ "$output" == *'"vendor": "NVIDIA"'* ]]
    [[ "$output" != *"$TOKEN"* ]]
    run vm register "$GOOD" --dry-run --json
    [ "$(json_get 'd["headers"]["Authorization"]')" = "Bearer <redacted>" ]
    [ "$(json_get 'd["body"]["metadata"]["name"]')" = test-ubuntu-2204-nvidia-565-firmware1 ]
    ! grep -q '^POST /api/' "$TMP/region.log"
}

@test "the token is never on a command line nor in any output" {
    fault delay 1 3
    "$BOX_VM" list >"$TMP/out.list" 2>&1 &
    pid=$!
    sleep 1
    ps -eo args >"$TMP/ps.txt"
    tr '\0' ' ' <"/proc/$pid/cmdline" >"$TMP/cmdline.txt" || true
    wait "$pid"
    grep -q "box-vm list" "$TMP/ps.txt"
    vm register "$GOOD" --dry-run >"$TMP/out.dry" 2>&1
    vm register "$GOOD" --json >"$TMP/out.reg" 2>&1
    NSCALE_SERVICE_TOKEN=$TOKEN_READER vm register "$GOOD" >"$TMP/out.403" 2>&1 || true
    vm list --json >"$TMP/out.json" 2>&1
    fault post-cut-after-body
    vm register "$GOOD" >"$TMP/out.cut" 2>&1 || true
    assert_no_token "$TMP"/ps.txt "$TMP"/cmdline.txt "$TMP"/out.* "$TMP/region.log"
    # and the check can fail: the token is in the server's own token file
    grep -qF "$TOKEN" "$TMP/tokens.json"
}

@test "env file: 0600 is read; 0644 is refused before anything is sent" {
    unset NSCALE_SERVICE_TOKEN NSCALE_ORGANIZATION_ID
    printf '# region\nexport NSCALE_SERVICE_TOKEN="%s"\nNSCALE_ORGANIZATION_ID=%s\nOTHER=x\n' \
        "$TOKEN" "$ORG" >"$TMP/env"
    chmod 600 "$TMP/env"
    run vm list --scope owned --env-file "$TMP/env"
    [ "$status" -eq 0 ]
    chmod 644 "$TMP/env"
    run vm list --env-file "$TMP/env"
    [ "$status" -eq 1 ]
    [[ "$output" == *"env file \`$TMP/env\`: mode 0644 lets group or others read the token; refusing it (chmod 600"* ]]
    [ "$(grep -c '^GET ' "$TMP/region.log")" = 1 ]
    run vm list
    [ "$status" -eq 1 ]
    [[ "$output" == *"NSCALE_SERVICE_TOKEN is not set"* ]]
    assert_no_token <(printf '%s' "$output")
}

@test "settings: plain http to a remote host and a malformed region id are refused" {
    NSCALE_REGION_SERVICE_API_ENDPOINT=http://region.example.com run vm list
    [ "$status" -eq 1 ]
    [[ "$output" == *"plain http to a host that is not loopback"* ]]
    NSCALE_REGION_ID=../../x run vm list
    [ "$status" -eq 1 ]
    [[ "$output" == *"NSCALE_REGION_ID from the environment: \`../../x\` is not a UUID"* ]]
}

@test "fault: a 500 on GET is retried and the list succeeds" {
    fault get-500
    run --separate-stderr vm list --json
    [ "$status" -eq 0 ]
    [ "$(json_get 'd["attempts"]')" = 2 ]
    [[ "$stderr" == *"answered after 2 attempts"* ]]
    [ "$(grep -c '^GET /api/v2' "$TMP/region.log")" = 2 ]
}

@test "fault: a cut GET is retried; persistent 500s give up with exit 4" {
    fault get-cut
    run --separate-stderr vm list --json
    [ "$status" -eq 0 ]
    [ "$(json_get 'd["attempts"]')" = 2 ]
    fault get-500 10
    run vm list --retries 2
    [ "$status" -eq 4 ]
    [[ "$output" == *"server error (500 server_error: injected failure) after 3 attempts"* ]]
}

@test "fault: a POST cut before its body is read is not resent: exit 6, how to check" {
    fault post-cut-before-body
    run vm register "$GOOD"
    [ "$status" -eq 6 ]
    [[ "$output" == *"the image may have been created"* ]]
    [[ "$output" == *"Check with \`box vm list --scope owned\`"* ]]
    [ "$(grep -c '^POST /api/' "$TMP/region.log")" = 1 ]
}

@test "fault: a POST cut after the image was created: exit 6, and the list shows it" {
    fault post-cut-after-body
    run --separate-stderr vm register "$GOOD" --json
    [ "$status" -eq 6 ]
    [ "$(json_get 'd["class"]')" = unknown ]
    [ "$(grep -c '^POST /api/' "$TMP/region.log")" = 1 ]
    run vm list --scope owned --json
    [ "$(json_get '[i["metadata"]["name"] for i in d["images"]]')" = \
        "['test-ubuntu-2204-nvidia-565-firmware1']" ]
}

@test "network: a closed port fails with 4 after retries; a slow answer times out with 5" {
    fault delay 1 5
    run vm list --timeout 1 --retries 0
    [ "$status" -eq 5 ]
    [[ "$output" == *"timed out"* ]]
    stop_region
    run vm list --retries 1
    [ "$status" -eq 4 ]
    [[ "$output" == *"(2 attempts)"* ]]
    run vm register "$GOOD"
    [ "$status" -eq 4 ]
}

@test "the server accepts every valid corpus payload that the validator accepts" {
    for f in "$PAYLOADS"/valid-*.json; do
        p=$(payload_for "$f" "$FILES/good.raw")
        run vm register "$p"
        echo "$f: $output"
        [ "$status" -eq 0 ]
    done
}

@test "box vm hands over to box-vm" {
    run "$BOX_FRONT" vm list --global --json
    [ "$status" -eq 0 ]
    [ "$(json_get 'len(d["images"])')" = 2 ]
}
