#!/usr/bin/env bats
# Every way a runtime bundle must be refused (the contract, and the
# "Tarballs and image layers" cases of the security bar). Each case asserts
# the exact reason and exit status 1 from both verify and stage, an untouched
# sentinel tree outside the destination, and an unchanged previous stage.

load bundle_helpers

setup() {
    bundle_setup
}

teardown() {
    bundle_teardown
}

@test "bundle: rejects a '..' path" {
    expect_rejected "$(mutate dotdot)" "path escapes the bundle: ../../outside.txt"
}

@test "bundle: rejects an absolute path" {
    expect_rejected "$(mutate absolute)" "absolute path in tarball: /tmp/box-abs.txt"
}

@test "bundle: rejects several top-level entries" {
    expect_rejected "$(mutate two-top)" "expected a single top-level bundle directory: unexpected entry other"
}

@test "bundle: rejects a hidden top-level entry" {
    expect_rejected "$(mutate hidden-top)" "expected a single top-level bundle directory: hidden top-level entry .hidden-top-level"
}

@test "bundle: rejects a NUL in a pax name (read up to the NUL: a second nvidia-ctk)" {
    expect_rejected "$(mutate nul-name)" "duplicate path in tarball: openshell-gpu-runtime-bundle_0.1.0_amd64/usr/bin/nvidia-ctk"
}

@test "bundle: rejects a newline in a name" {
    expect_rejected "$(mutate newline-name)" "invalid path in tarball (control character in name): openshell-gpu-runtime-bundle_0.1.0_amd64/usr/bin/evil\\nname"
}

@test "bundle: rejects an overlong name" {
    expect_rejected "$(mutate long-name)" "invalid path in tarball (name too long): openshell-gpu-runtime-bundle_0.1.0_amd64/usr/nnnn"
}

@test "bundle: rejects a pax header renaming an entry out of the bundle" {
    expect_rejected "$(mutate pax-rename)" "path escapes the bundle: openshell-gpu-runtime-bundle_0.1.0_amd64/../../pax-escape"
}

@test "bundle: rejects an absolute symlink" {
    expect_rejected "$(mutate symlink-absolute)" "absolute symlink target: openshell-gpu-runtime-bundle_0.1.0_amd64/usr/lib/evil -> /etc/passwd"
}

@test "bundle: rejects an escaping symlink" {
    expect_rejected "$(mutate symlink-escape)" "symlink escapes the bundle: openshell-gpu-runtime-bundle_0.1.0_amd64/usr/lib/evil -> ../../../etc"
}

@test "bundle: rejects a symlink that escapes through a later symlink" {
    expect_rejected "$(mutate symlink-chain)" "symlink escapes the bundle: openshell-gpu-runtime-bundle_0.1.0_amd64/t -> a/b/s/../.."
}

@test "bundle: rejects a write through a symlink" {
    expect_rejected "$(mutate write-through-symlink)" "path through a symlink: openshell-gpu-runtime-bundle_0.1.0_amd64/usr/lnk/evil -> openshell-gpu-runtime-bundle_0.1.0_amd64/usr/lnk"
}

@test "bundle: rejects a hardlink out of the tree" {
    expect_rejected "$(mutate hardlink-out)" "hardlink escapes the bundle: openshell-gpu-runtime-bundle_0.1.0_amd64/usr/bin/hl -> ../../etc/passwd"
}

@test "bundle: rejects an absolute hardlink" {
    expect_rejected "$(mutate hardlink-absolute)" "hardlink escapes the bundle: openshell-gpu-runtime-bundle_0.1.0_amd64/usr/bin/hl -> /etc/passwd"
}

@test "bundle: rejects a hardlink to a symlink" {
    expect_rejected "$(mutate hardlink-to-symlink)" "hardlink target is not a regular file: openshell-gpu-runtime-bundle_0.1.0_amd64/usr/bin/hl -> openshell-gpu-runtime-bundle_0.1.0_amd64/usr/lib/x86_64-linux-gnu/libnvidia-container.so.1"
}

@test "bundle: rejects a directory, then a symlink, then a file at one path" {
    expect_rejected "$(mutate dir-symlink-file)" "duplicate path in tarball: openshell-gpu-runtime-bundle_0.1.0_amd64/x"
}

@test "bundle: rejects a character device" {
    expect_rejected "$(mutate char-device)" "device node not allowed: openshell-gpu-runtime-bundle_0.1.0_amd64/dev/nvidia0"
}

@test "bundle: rejects a block device" {
    expect_rejected "$(mutate block-device)" "device node not allowed: openshell-gpu-runtime-bundle_0.1.0_amd64/dev/sda"
}

@test "bundle: rejects a FIFO" {
    expect_rejected "$(mutate fifo)" "FIFO not allowed: openshell-gpu-runtime-bundle_0.1.0_amd64/fifo"
}

@test "bundle: rejects a sparse file" {
    expect_rejected "$(mutate sparse)" "sparse file not allowed: openshell-gpu-runtime-bundle_0.1.0_amd64/sparse"
}

@test "bundle: rejects a setuid file" {
    expect_rejected "$(mutate setuid)" "setuid or setgid bit set: openshell-gpu-runtime-bundle_0.1.0_amd64/usr/bin/nvidia-ctk"
}

@test "bundle: rejects a setgid file" {
    expect_rejected "$(mutate setgid)" "setuid or setgid bit set: openshell-gpu-runtime-bundle_0.1.0_amd64/usr/bin/nvidia-ctk"
}

@test "bundle: rejects file capabilities" {
    expect_rejected "$(mutate file-caps)" "file capabilities not allowed: openshell-gpu-runtime-bundle_0.1.0_amd64/usr/bin/nvidia-ctk"
}

@test "bundle: rejects a decompression bomb (ratio)" {
    expect_rejected "$(mutate bomb)" "compression ratio exceeds the limit of 200:1"
}

@test "bundle: rejects a truncated gzip stream" {
    expect_rejected "$(mutate truncated-gzip)" "truncated gzip stream"
}

@test "bundle: rejects trailing garbage after the gzip stream" {
    expect_rejected "$(mutate trailing-garbage)" "trailing garbage after gzip stream"
}

@test "bundle: rejects input that is not gzip" {
    expect_rejected "$(mutate not-gzip)" "not a gzip file"
}

@test "bundle: rejects data after the end of the tar archive" {
    expect_rejected "$(mutate trailing-tar-data)" "trailing data after the end of the tar archive"
}

@test "bundle: rejects a tar archive without its end marker" {
    expect_rejected "$(mutate no-end-marker)" "truncated tar archive: no end-of-archive marker"
}

@test "bundle: rejects a path twice in the tar" {
    expect_rejected "$(mutate duplicate-tar)" "duplicate path in tarball: openshell-gpu-runtime-bundle_0.1.0_amd64/usr/bin/nvidia-ctk"
}

@test "bundle: rejects a path twice in the manifest" {
    expect_rejected "$(mutate duplicate-manifest)" "duplicate path in manifest.json: usr/bin/nvidia-ctk"
}

@test "bundle: rejects an unlisted file" {
    expect_rejected "$(mutate extra-file)" "unlisted payload path present on disk: usr/bin/nvidia-container-extra"
}

@test "bundle: rejects a listed file missing" {
    expect_rejected "$(mutate missing-file)" "missing manifest-listed payload path: usr/bin/nvidia-ctk"
}

@test "bundle: rejects a size mismatch" {
    expect_rejected "$(mutate size-mismatch)" "size mismatch: usr/bin/nvidia-container-cli"
}

@test "bundle: rejects a checksum mismatch in the manifest" {
    expect_rejected "$(mutate checksum-mismatch)" "checksum mismatch: usr/bin/nvidia-container-cli"
}

@test "bundle: rejects payload bytes that changed" {
    expect_rejected "$(mutate content-changed)" "checksum mismatch: usr/bin/nvidia-container-cli"
}

@test "bundle: rejects a symlink target that differs from the manifest" {
    expect_rejected "$(mutate symlink-target-mismatch)" "symlink target mismatch: usr/lib/x86_64-linux-gnu/libnvidia-container.so.1 (listed elsewhere.so, found libnvidia-container.so.1.17.8)"
}

@test "bundle: rejects an oversized manifest" {
    expect_rejected "$(mutate manifest-too-large)" "manifest.json larger than 16777216 bytes"
}

@test "bundle: rejects the wrong architecture" {
    expect_rejected "$(mutate wrong-arch)" "bundle architecture mismatch: expected amd64, got arm64"
}

@test "bundle: rejects a malformed manifest" {
    expect_rejected "$(mutate malformed-manifest)" "malformed manifest.json"
}

@test "bundle: rejects a missing manifest" {
    expect_rejected "$(mutate missing-manifest)" "missing bundle manifest.json"
}

@test "bundle: rejects a missing manifest field" {
    expect_rejected "$(mutate missing-created-at)" "missing required manifest field: created_at"
}

@test "bundle: rejects a missing component" {
    expect_rejected "$(mutate missing-component)" "missing required manifest field: components.libnvidia_container"
}

@test "bundle: rejects a manifest path that escapes" {
    expect_rejected "$(mutate manifest-escape)" "invalid manifest-listed payload path: ../outside"
}

@test "bundle: rejects a required asset in the tarball but not in the manifest" {
    expect_rejected "$(mutate cli-unlisted)" "required runtime asset missing from manifest.json: usr/bin/nvidia-container-cli"
}

@test "bundle: rejects a required binary that is a symlink" {
    expect_rejected "$(mutate cli-symlink)" "invalid required binary entry type: usr/bin/nvidia-container-cli"
}

@test "bundle: rejects a bundle without nvidia-cdi-hook" {
    expect_rejected "$(mutate omit-nvidia-cdi-hook)" "required runtime asset missing from manifest.json: usr/bin/nvidia-cdi-hook"
}

@test "bundle: rejects a bundle without nvidia-container-runtime" {
    expect_rejected "$(mutate omit-nvidia-container-runtime)" "required runtime asset missing from manifest.json: usr/bin/nvidia-container-runtime"
}

@test "bundle: rejects a bundle without nvidia-container-runtime-hook" {
    expect_rejected "$(mutate omit-nvidia-container-runtime-hook)" "required runtime asset missing from manifest.json: usr/bin/nvidia-container-runtime-hook"
}

@test "bundle: rejects a bundle without nvidia-container-cli" {
    expect_rejected "$(mutate omit-nvidia-container-cli)" "required runtime asset missing from manifest.json: usr/bin/nvidia-container-cli"
}

@test "bundle: rejects a bundle without nvidia-ctk" {
    expect_rejected "$(mutate omit-nvidia-ctk)" "required runtime asset missing from manifest.json: usr/bin/nvidia-ctk"
}

@test "bundle: rejects a bundle without config.toml" {
    expect_rejected "$(mutate omit-config.toml)" "required runtime asset missing from manifest.json: etc/nvidia-container-runtime/config.toml"
}

@test "bundle: rejects a bundle without libnvidia-container" {
    expect_rejected "$(mutate omit-libnvidia-container)" \
        "missing required library subtree: usr/lib/x86_64-linux-gnu/libnvidia-container*.so*"
}

@test "bundle: rejects a bundle over the total size limit" {
    expect_rejected "$VALID" "uncompressed size exceeds the limit of 2048 bytes" --max-size 2048
}

@test "bundle: rejects a bundle over the entry count limit" {
    expect_rejected "$VALID" "too many entries in tarball (limit 5)" --max-entries 5
}

@test "bundle: rejects a missing tarball" {
    expect_rejected "$TMP/nope.tar.gz" "tarball not found: $TMP/nope.tar.gz"
}

@test "bundle: rejects an unsupported architecture" {
    run bb verify "$VALID" --arch riscv64
    [ "$status" -eq 1 ]
    [[ "$output" == *"runtime bundle validation failed: unsupported runtime bundle architecture: riscv64"* ]]
}
