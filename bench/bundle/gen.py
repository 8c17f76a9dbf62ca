#!/usr/bin/env python3
"""Generates the install root of the bundle benchmark: the NVIDIA payload
the default profile requires plus thousands of library-like files, some of
them large, about TOTAL_MB in all. Deterministic for a given seed.

Content mixes incompressible blocks with text-like blocks, so that gzip
shrinks it to roughly 40% - about what it does to shared libraries."""
import os
import random
import sys

def text_pool(rng, size):
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz_") for _ in range(rng.randint(3, 12)))
             for _ in range(600)]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words) + (b"(" if rng.random() < 0.1 else b" ")
        if rng.random() < 0.05:
            out += b"%d\n" % rng.randint(0, 1 << 30)
    return bytes(out[:size])

def content(rng, pool, size):
    out = bytearray()
    while len(out) < size:
        block = min(4096, size - len(out))
        if rng.random() < 0.10:
            out += rng.randbytes(block)
        else:
            at = rng.randrange(0, len(pool) - block)
            out += pool[at:at + block]
    return bytes(out)

def main():
    root, total_mb = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 500
    rng = random.Random(20260318)
    pool = text_pool(rng, 8 << 20)
    required = ["usr/bin/nvidia-cdi-hook", "usr/bin/nvidia-container-runtime",
                "usr/bin/nvidia-container-runtime-hook", "usr/bin/nvidia-container-cli",
                "usr/bin/nvidia-ctk", "etc/nvidia-container-runtime/config.toml",
                "usr/lib/x86_64-linux-gnu/libnvidia-container.so.1.17.8"]
    budget = total_mb << 20
    files = [(p, 2 << 20) for p in required]
    large = 8
    files += [("usr/lib/x86_64-linux-gnu/large/libbig%d.so" % i, (budget * 45 // 100) // large)
              for i in range(large)]
    left = budget - sum(s for _, s in files)
    i = 0
    while left > 0:
        size = min(left, int(rng.lognormvariate(10.5, 1.2)) + 1)
        files.append(("usr/share/payload/d%02d/f%05d.bin" % (i % 64, i), size))
        left -= size
        i += 1
    for path, size in files:
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(content(rng, pool, size))
        if path.startswith("usr/bin/"):
            os.chmod(full, 0o755)
    os.symlink("libnvidia-container.so.1.17.8",
               os.path.join(root, "usr/lib/x86_64-linux-gnu/libnvidia-container.so.1"))
    print("%d files, %d MiB" % (len(files), total_mb))

main()
