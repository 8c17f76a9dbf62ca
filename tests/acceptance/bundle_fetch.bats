#!/usr/bin/env bats
# box bundle fetch against a real HTTP server on 127.0.0.1: cache naming,
# outer digest, resume after a cut connection, restart when ranges are not
# supported, and verification of what was fetched.

load bundle_helpers

setup() {
    bundle_setup
    # Large enough that a cut after 64 KiB lands mid-transfer.
    mkdir -p "$TMP/root/opt"
    head -c 1500000 /dev/urandom >"$TMP/root/opt/blob"
    create_bundle "$TMP/root" amd64 "$VALID"
    mkdir -p "$TMP/www/releases"
    cp "$VALID" "$TMP/www/releases/runtime-bundle.tar.gz"
    SHA=$(sha256sum "$VALID" | cut -d' ' -f1)
    CACHE="$TMP/cache"
    FETCHED="$CACHE/amd64-runtime-bundle.tar.gz"
}

teardown() {
    stop_server
    bundle_teardown
}

@test "fetch: downloads into <cache>/<arch>-<basename> and verifies" {
    start_server ok
    run bb fetch "$URL_BASE/releases/runtime-bundle.tar.gz?x=1" --arch amd64 --cache "$CACHE" \
        --sha256 "$SHA"
    [ "$status" -eq 0 ]
    [[ "$output" == *"fetched $FETCHED ("* ]]
    [[ "$output" == *"ok: $FETCHED: openshell-gpu-runtime-bundle 0.1.0 (amd64)"* ]]
    cmp "$VALID" "$FETCHED"
    [ "$(ls -A "$CACHE")" = amd64-runtime-bundle.tar.gz ]
}

@test "fetch: a wrong outer digest is refused and nothing stays in the cache" {
    start_server ok
    bad=$(printf '%064d' 0)
    run bb fetch "$URL_BASE/releases/runtime-bundle.tar.gz" --arch amd64 --cache "$CACHE" \
        --sha256 "$bad"
    [ "$status" -eq 1 ]
    [[ "$output" == *"runtime bundle validation failed: sha256 mismatch for $URL_BASE/releases/runtime-bundle.tar.gz: expected $bad, got $SHA"* ]]
    [ -z "$(ls -A "$CACHE")" ]
    run bb fetch "$URL_BASE/releases/runtime-bundle.tar.gz" --arch amd64 --cache "$CACHE" \
        --sha256 nothex
    [ "$status" -eq 2 ]
}

@test "fetch: resumes with a Range request after a cut mid-transfer" {
    start_server cut:65536:1
    run bb fetch "$URL_BASE/releases/runtime-bundle.tar.gz" --arch amd64 --cache "$CACHE" \
        --sha256 "$SHA" --json
    [ "$status" -eq 0 ]
    cmp "$VALID" "$FETCHED"
    grep -q "range=65536-" "$TMP/http.log"
    printf '%s' "$output" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["ok"] and r["resumed"] == 1 and r["restarted"] == 0 and r["bundle"]["ok"], r'
}

@test "fetch: restarts from zero when the server ignores ranges" {
    start_server norange-cut:65536:1
    run bb fetch "$URL_BASE/releases/runtime-bundle.tar.gz" --arch amd64 --cache "$CACHE" \
        --sha256 "$SHA" --json
    [ "$status" -eq 0 ]
    cmp "$VALID" "$FETCHED"
    printf '%s' "$output" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["ok"] and r["restarted"] == 1, r'
}

@test "fetch: gives up after repeated cuts, then a later fetch resumes the partial file" {
    start_server cut-always:65536
    run bb fetch "$URL_BASE/releases/runtime-bundle.tar.gz" --arch amd64 --cache "$CACHE" \
        --sha256 "$SHA" --retries 2
    [ "$status" -eq 3 ]
    [[ "$output" == *"giving up after 3 attempts"* ]]
    [ ! -e "$FETCHED" ]
    [ -s "$FETCHED.part" ]
    [ "$(grep -c GET "$TMP/http.log")" -eq 3 ]
    have=$(stat -c %s "$FETCHED.part")
    stop_server
    : >"$TMP/http.log"
    start_server ok
    run bb fetch "$URL_BASE/releases/runtime-bundle.tar.gz" --arch amd64 --cache "$CACHE" \
        --sha256 "$SHA"
    [ "$status" -eq 0 ]
    grep -q "range=$have-" "$TMP/http.log"
    cmp "$VALID" "$FETCHED"
    [ ! -e "$FETCHED.part" ]
}

@test "fetch: a cached file with the right digest is not downloaded again" {
    start_server ok
    run bb fetch "$URL_BASE/releases/runtime-bundle.tar.gz" --arch amd64 --cache "$CACHE" \
        --sha256 "$SHA"
    [ "$status" -eq 0 ]
    run bb fetch "$URL_BASE/releases/runtime-bundle.tar.gz" --arch amd64 --cache "$CACHE" \
        --sha256 "$SHA"
    [ "$status" -eq 0 ]
    [[ "$output" == *", cached)"* ]]
    [ "$(grep -c GET "$TMP/http.log")" -eq 1 ]
}

@test "fetch: HTTP errors and bad bundles fail" {
    start_server ok
    run bb fetch "$URL_BASE/releases/missing.tar.gz" --arch amd64 --cache "$CACHE"
    [ "$status" -eq 3 ]
    [[ "$output" == *"HTTP status 404"* ]]
    python3 "$BUNDLE_TAR" mutate "$VALID" "$TMP/www/releases/bad.tar.gz" extra-file
    run bb fetch "$URL_BASE/releases/bad.tar.gz" --arch amd64 --cache "$CACHE"
    [ "$status" -eq 1 ]
    [[ "$output" == *"runtime bundle validation failed: unlisted payload path present on disk: usr/bin/nvidia-container-extra"* ]]
    run bb fetch "$URL_BASE/releases/" --arch amd64 --cache "$CACHE"
    [ "$status" -eq 3 ]
    [[ "$output" == *"no usable file name in URL"* ]]
    run bb fetch "file:///etc/passwd" --arch amd64 --cache "$CACHE"
    [ "$status" -ne 0 ]
}
