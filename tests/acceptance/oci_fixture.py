#!/usr/bin/env python3
"""Writes small OCI image layouts (image-spec 1.1) for the box validate tests.

The image holds a static busybox, /etc/passwd with a `sandbox` user, and a
workload script at /usr/local/bin/openshell-gpu-workload (also the image's
Entrypoint), in one gzip layer; options add a second layer with files,
whiteouts and opaque directories, or damage a blob. Python standard library
only. Prints the manifest digest (sha256:...) on stdout.

    oci_fixture.py LAYOUT --workload SCRIPT [--tag T] [--user U]
        [--add 1:PATH=TEXT]... [--add 2:PATH=TEXT]... [--whiteout PATH]...
        [--opaque DIR]... [--plain] [--arch A] [--corrupt layer|config|manifest]
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

APPLETS = ["sh", "cat", "echo", "sleep", "true", "false", "yes", "head", "dd", "printf",
           "id", "ls", "test", "env", "kill", "seq", "touch", "mkdir", "rm"]
WORKLOAD = "usr/local/bin/openshell-gpu-workload"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar"


def info(name, kind=tarfile.REGTYPE, mode=0o644, size=0, link=""):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.size, ti.linkname = kind, mode, size, link
    ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = 0, 0, 0, "", ""
    return ti


class Layer:
    def __init__(self):
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)
        self.dirs = set()

    def dir(self, path, mode=0o755):
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d and d not in self.dirs:
                self.dirs.add(d)
                self.tar.addfile(info(d + "/", tarfile.DIRTYPE, mode if i == len(parts) else 0o755))

    def file(self, path, data, mode=0o644):
        if "/" in path:
            self.dir(path.rsplit("/", 1)[0])
        self.tar.addfile(info(path, mode=mode, size=len(data)), io.BytesIO(data))

    def symlink(self, path, target):
        self.tar.addfile(info(path, tarfile.SYMTYPE, 0o777, link=target))

    def close(self):
        self.tar.close()
        return self.buf.getvalue()


def base_layer(args):
    layer = Layer()
    with open(args.busybox, "rb") as f:
        layer.file("bin/busybox", f.read(), 0o755)
    for applet in APPLETS:
        # absolute targets on purpose: image layers carry them, and box
        # resolves them inside the root
        layer.symlink("bin/" + applet, "/bin/busybox" if applet == "sh" else "busybox")
    layer.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"
               b"sandbox:x:1000:1000:sandbox:/home/sandbox:/bin/sh\n")
    layer.file("etc/group", b"root:x:0:\nsandbox:x:1000:\n")
    layer.dir("tmp", 0o1777 & 0o777)
    layer.dir("home/sandbox")
    with open(args.workload, "rb") as f:
        layer.file(WORKLOAD, f.read(), 0o755)
    for spec in args.add:
        if spec.startswith("1:"):
            path, text = spec[2:].split("=", 1)
            layer.file(path, text.encode())
    return layer.close()


def upper_layer(args):
    layer = Layer()
    for d in args.opaque:
        layer.dir(d)
        layer.file(d + "/.wh..wh..opq", b"")
    for p in args.whiteout:
        parent, name = p.rsplit("/", 1) if "/" in p else ("", p)
        layer.file((parent + "/" if parent else "") + ".wh." + name, b"")
    for spec in args.add:
        if spec.startswith("2:"):
            path, text = spec[2:].split("=", 1)
            layer.file(path, text.encode())
    return layer.close()


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def put_blob(layout, data, corrupt=False):
    digest = sha(data)
    path = os.path.join(layout, "blobs", "sha256", digest[7:])
    with open(path, "wb") as f:
        f.write(data[:-1] + bytes([data[-1] ^ 1]) if corrupt else data)
    return {"digest": digest, "size": len(data)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("layout")
    ap.add_argument("--workload", required=True)
    ap.add_argument("--tag")
    ap.add_argument("--user", default="sandbox")
    ap.add_argument("--busybox", default=os.environ.get("BUSYBOX", "/bin/busybox"))
    ap.add_argument("--add", action="append", default=[])
    ap.add_argument("--whiteout", action="append", default=[])
    ap.add_argument("--opaque", action="append", default=[])
    ap.add_argument("--plain", action="store_true", help="uncompressed layers")
    ap.add_argument("--arch", default="amd64")
    ap.add_argument("--corrupt", choices=["layer", "config", "manifest"])
    args = ap.parse_args()

    os.makedirs(os.path.join(args.layout, "blobs", "sha256"), exist_ok=True)
    tars = [base_layer(args)]
    if args.whiteout or args.opaque or any(a.startswith("2:") for a in args.add):
        tars.append(upper_layer(args))
    layers = []
    for i, t in enumerate(tars):
        blob = t if args.plain else gzip.compress(t, mtime=0)
        d = put_blob(args.layout, blob, corrupt=args.corrupt == "layer" and i == len(tars) - 1)
        d["mediaType"] = MT_LAYER if args.plain else MT_LAYER_GZ
        layers.append(d)
    config = {
        "architecture": args.arch, "os": "linux",
        "config": {"User": args.user, "Env": ["PATH=/usr/local/bin:/bin"],
                   "Entrypoint": ["/" + WORKLOAD], "WorkingDir": "/home/sandbox"},
        "rootfs": {"type": "layers", "diff_ids": [sha(t) for t in tars]},
    }
    cfg = json.dumps(config, sort_keys=True).encode()
    cdesc = put_blob(args.layout, cfg, corrupt=args.corrupt == "config")
    cdesc["mediaType"] = MT_CONFIG
    manifest = {"schemaVersion": 2, "mediaType": MT_MANIFEST, "config": cdesc, "layers": layers}
    mbytes = json.dumps(manifest, sort_keys=True).encode()
    mdesc = put_blob(args.layout, mbytes, corrupt=args.corrupt == "manifest")
    mdesc["mediaType"] = MT_MANIFEST
    if args.tag:
        mdesc["annotations"] = {"org.opencontainers.image.ref.name": args.tag}

    with open(os.path.join(args.layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    index_path = os.path.join(args.layout, "index.json")
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": []}
    if os.path.exists(index_path):
        with open(index_path) as f:
            index = json.load(f)
    index["manifests"].append(mdesc)
    with open(index_path + ".tmp", "w") as f:
        json.dump(index, f)
    os.replace(index_path + ".tmp", index_path)
    print(mdesc["digest"])


if __name__ == "__main__":
    sys.exit(main())
