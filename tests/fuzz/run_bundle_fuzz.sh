#!/usr/bin/env bash
# Seeds and runs the bundle libFuzzer targets for a bounded time each.
# Usage: tests/fuzz/run_bundle_fuzz.sh BUILD_DIR SECONDS FUZZER...
set -euo pipefail

build=$1 seconds=$2
shift 2
work="$build/fuzz/work"
seeds="$build/fuzz/seeds"
rm -rf "$work"
mkdir -p "$work/root/usr/bin" "$work/root/etc/nvidia-container-runtime" \
    "$work/root/usr/lib/x86_64-linux-gnu" "$seeds/manifest" "$seeds/tar"
for b in nvidia-cdi-hook nvidia-container-runtime nvidia-container-runtime-hook \
    nvidia-container-cli nvidia-ctk; do
    printf '%s\n' "$b" >"$work/root/usr/bin/$b"
done
printf 'config = true\n' >"$work/root/etc/nvidia-container-runtime/config.toml"
printf 'lib\n' >"$work/root/usr/lib/x86_64-linux-gnu/libnvidia-container.so.1.17.8"
ln -s libnvidia-container.so.1.17.8 "$work/root/usr/lib/x86_64-linux-gnu/libnvidia-container.so.1"
"$build/box-bundle" create --from "$work/root" --arch amd64 --name seed --version 1 \
    --component nvidia_container_toolkit=1@0123456789abcdef0123456789abcdef01234567 \
    --component libnvidia_container=1@89abcdef0123456789abcdef0123456789abcdef \
    -o "$work/seed.tar.gz" >/dev/null
tar -xzOf "$work/seed.tar.gz" seed_1_amd64/manifest.json >"$seeds/manifest/valid.json"
# tar fuzzer: a 0 byte then the raw tar (gzipped by the harness), a 1 byte then the gzip
{ printf '\0'; gzip -dc "$work/seed.tar.gz"; } >"$seeds/tar/valid-tar"
{ printf '\1'; cat "$work/seed.tar.gz"; } >"$seeds/tar/valid-gzip"

status=0
for fuzzer in "$@"; do
    name=$(basename "$fuzzer")
    case "$name" in
    *manifest*) seed="$seeds/manifest" max_len=65536 ;;
    *) seed="$seeds/tar" max_len=131072 ;;
    esac
    corpus="$build/fuzz/corpus-$name"
    mkdir -p "$corpus"
    echo "== $name: ${seconds}s"
    if ! "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$build/fuzz/$name-" \
        "$corpus" "$seed" 2>"$build/fuzz/$name.log"; then
        status=1
        tail -40 "$build/fuzz/$name.log"
    else
        grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$build/fuzz/$name.log" || true
    fi
done
rm -rf "$work"
exit "$status"
