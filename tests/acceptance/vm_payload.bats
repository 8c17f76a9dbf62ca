#!/usr/bin/env bats
# box vm validate and box vm payload: the validator over the payload corpus
# (tests/vm/payloads, each rule broken once) and payloads generated from the
# facts files that box vm build writes (tests/vm/facts). No server needed,
# except for the last test, which registers a generated payload.

load vm_helpers

FACTS="$VM_REPO/tests/vm/facts"

setup() {
    TMP=$(mktemp -d)
}

teardown() {
    vm_teardown
}

@test "validate: every valid corpus payload passes, exit 0" {
    for f in "$PAYLOADS"/valid-*.json; do
        run vm validate "$f"
        [ "$status" -eq 0 ]
        [ "$output" = "$f: ok (0 warnings)" ]
    done
}

@test "validate: every broken rule is refused at its pointer, exit 1" {
    n=0
    while IFS=$'\t' read -r name ptr text; do
        [[ $name == '#'* ]] && continue
        run vm validate "$PAYLOADS/invalid-$name.json"
        [ "$status" -eq 1 ]
        [[ "$output" == *"error: ${ptr:-(document)}: "*"$text"* ]] || {
            echo "invalid-$name.json: expected $ptr ... $text in: $output"
            return 1
        }
        n=$((n + 1))
    done <"$PAYLOADS/expect.txt"
    [ "$n" -ge 35 ]
}

@test "validate: all errors are reported, not just the first; --json for scripts" {
    python3 -c 'import json
d = json.load(open("'"$PAYLOADS"'/valid-seed-nvidia-firmware1.json"))
d["metadata"]["descripton"] = d["metadata"].pop("description")
d["spec"]["architecture"] = "amd64"
d["spec"]["gpu"]["vendor"] = "nvidia"
d["spec"]["gpu"]["models"] = ["H100-SXM"]
json.dump(d, open("'"$TMP"'/many.json", "w"))'
    run vm validate --json "$TMP/many.json"
    [ "$status" -eq 1 ]
    [ "$(json_get 'sorted(e["pointer"] for e in d["errors"])')" = \
        "['/metadata/descripton', '/spec/architecture', '/spec/gpu/models/0', '/spec/gpu/vendor']" ]
    [ "$(json_get 'd["ok"]')" = False ]
}

@test "validate: --allow-unknown turns unknown fields into warnings, nothing else" {
    run vm validate --allow-unknown "$PAYLOADS/invalid-description-typo.json"
    [ "$status" -eq 0 ]
    [[ "$output" == *"warning: /metadata/descripton: unknown field"*"did you mean \`description\`?"* ]]
    run vm validate --allow-unknown "$PAYLOADS/invalid-gpu-vendor-case.json"
    [ "$status" -eq 1 ]
}

@test "validate: oversized, binary and missing input is refused cleanly" {
    head -c 2000000 /dev/zero | tr '\0' ' ' >"$TMP/big.json"
    run vm validate "$TMP/big.json"
    [ "$status" -eq 1 ]
    [[ "$output" == *"more than the limit of 1048576"* ]]
    head -c 4096 /dev/urandom >"$TMP/binary.json"
    run vm validate "$TMP/binary.json"
    [ "$status" -eq 1 ]
    [[ "$output" == *"error: (document): not JSON"* ]]
    run vm validate "$TMP/none.json"
    [ "$status" -eq 1 ]
    run vm validate - <"$PAYLOADS/valid-minimal.json"
    [ "$status" -eq 0 ]
}

@test "payload: an NVIDIA image: driver from the module, kubernetes from kubelet, models from flags" {
    run --separate-stderr vm payload --facts "$FACTS/nvidia-firmware1.json" \
        --uri https://images.example.com/nvidia-gpu-firmware1.raw --gpu-model H100 --gpu-model H200 \
        --tag team=gpu
    [ "$status" -eq 0 ]
    printf '%s\n' "$output" >"$TMP/p.json"
    [ "$(json_get 'd["spec"]["gpu"]')" = "{'vendor': 'NVIDIA', 'driver': '580.95.05', 'models': ['H100', 'H200']}" ]
    [ "$(json_get 'd["spec"]["softwareVersions"]')" = "{'kubernetes': 'v1.30.0', 'containerd': 'v1.7.12'}" ]
    [ "$(json_get 'd["spec"]["os"]')" = "{'kernel': 'linux', 'family': 'debian', 'distro': 'ubuntu', 'version': '22.04', 'variant': 'server', 'codename': 'jammy'}" ]
    [ "$(json_get 'd["metadata"]["name"]')" = ubuntu2204-nvidia-gpu-firmware1-4dc8a386 ]
    [[ "$(json_get 'd["metadata"]["description"]')" == *"NVIDIA driver 580.95.05 with NVreg_EnableGpuFirmware=1"*"sha256 4dc8a386"* ]]
    [ "$(json_get 'd["metadata"]["tags"]')" = "[{'name': 'team', 'value': 'gpu'}]" ]
    [ "$stderr" = "" ]
    run vm validate "$TMP/p.json"
    [ "$status" -eq 0 ]
}

@test "payload: no driver, no gpu section; a gpu model for it is an error" {
    run vm payload --facts "$FACTS/base-gpu-ready.json" --uri https://x.example.com/base-gpu-ready.raw
    [ "$status" -eq 0 ]
    [ "$(json_get '"gpu" in d["spec"]')" = False ]
    [ "$(json_get 'd["metadata"]["name"]')" = debian12-base-gpu-ready-01234567 ]
    run vm payload --facts "$FACTS/base-gpu-ready.json" --uri https://x.example.com/a.raw --gpu-model H100
    [ "$status" -eq 1 ]
    [[ "$output" == *"--gpu-model: the image has no NVIDIA driver"* ]]
}

@test "payload: refuses what the region would refuse, naming the cause" {
    run vm payload --facts "$FACTS/nvidia-firmware1.json" --uri https://x.example.com/a.raw
    [ "$status" -eq 1 ]
    [[ "$output" == *"name the GPU models it is for with --gpu-model"* ]]
    run vm payload --facts "$FACTS/nvidia-firmware1.json" --uri https://x.example.com/a.raw --gpu-model H100-SXM
    [ "$status" -eq 1 ]
    [[ "$output" == *'--gpu-model "H100-SXM" may hold only letters'* ]]
    run vm payload --facts "$FACTS/nvidia-firmware1.json" --uri s3://bucket/a.raw --gpu-model H100
    [ "$status" -eq 1 ]
    run vm payload --facts "$FACTS/base-gpu-ready.json" --uri https://x.example.com/a.raw --name 'Bad Name'
    [ "$status" -eq 1 ]
    [[ "$output" == *"the payload would be refused: \`/metadata/name\`"* ]]
    run vm payload --facts "$FACTS/base-gpu-ready.json" --uri https://x.example.com/a.raw --virtualization vm
    [ "$status" -eq 1 ]
    [[ "$output" == *"/spec/virtualization"* ]]
}

@test "payload: facts that disagree with themselves or the region are refused" {
    python3 - "$FACTS" "$TMP" <<'PY'
import json, sys
src, out = sys.argv[1:3]
base = json.load(open(src + "/nvidia-firmware1.json"))
def w(name, **change):
    d = json.loads(json.dumps(base))
    for k, v in change.items():
        d[k] = v
    json.dump(d, open("%s/%s.json" % (out, name), "w"))
w("skew", packages={"kubelet": "1.30.0-1.1", "kubeadm": "1.29.3-1.1"})
w("qcow2", format="qcow2")
w("sha", sha256="xyz")
w("arch", architecture="amd64")
w("k8s", packages={"kubelet": "1.30"})
PY
    run vm payload --facts "$TMP/skew.json" --uri https://x.example.com/a.raw --gpu-model H100
    [ "$status" -eq 1 ]
    [[ "$output" == *"kubelet 1.30.0-1.1 and kubeadm 1.29.3-1.1 differ"* ]]
    run vm payload --facts "$TMP/qcow2.json" --uri https://x.example.com/a.raw --gpu-model H100
    [[ "$output" == *"facts \`format\`: \`qcow2\`: the region imports raw images only"* ]]
    run vm payload --facts "$TMP/sha.json" --uri https://x.example.com/a.raw --gpu-model H100
    [[ "$output" == *"facts \`sha256\`: not 64 lowercase hex digits"* ]]
    run vm payload --facts "$TMP/arch.json" --uri https://x.example.com/a.raw --gpu-model H100
    [[ "$output" == *"facts \`architecture\`: \`amd64\` is not x86_64 or aarch64"* ]]
    run vm payload --facts "$TMP/k8s.json" --uri https://x.example.com/a.raw --gpu-model H100
    [ "$status" -eq 1 ]
    [[ "$output" == *"facts \`packages.kubelet\`: \"1.30\" has no X.Y.Z version"* ]]
}

@test "payload: a URI whose file name is not the image's is noted on stderr" {
    run --separate-stderr vm payload --facts "$FACTS/base-gpu-ready.json" --uri https://x.example.com/other.raw
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"note: the URI's file name \`other.raw\` is not the image's \`base-gpu-ready.raw\`"* ]]
}

@test "payload -> register --check-uri --wait: a generated payload goes through" {
    vm_setup
    cp "$TMP/www/good.raw" "$TMP/www/nvidia-gpu-firmware1.raw"
    vm payload --facts "$FACTS/nvidia-firmware1.json" --uri "$FILES/nvidia-gpu-firmware1.raw" \
        --gpu-model H100 >"$TMP/gen.json"
    run --separate-stderr vm register "$TMP/gen.json" --check-uri --wait --wait-interval 100 --json
    [ "$status" -eq 0 ]
    [ "$(json_get 'd["image"]["status"]["state"]')" = ready ]
    [ "$(json_get 'd["image"]["spec"]["gpu"]["driver"]')" = 580.95.05 ]
}
