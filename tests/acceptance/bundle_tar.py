#!/usr/bin/env python3
"""Builds the tarballs of the bundle acceptance tests.

  bundle_tar.py mutate IN OUT CASE   rewrite the valid bundle IN with one fault
  bundle_tar.py upstream DIR OUT ARCH  the upstream test fixture, made with tar

Each CASE changes one thing, so that the rejection reason is predictable."""
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

CLI = "usr/bin/nvidia-container-cli"
CTK = "usr/bin/nvidia-ctk"


def load(path):
    with tarfile.open(path, "r:gz") as t:
        out = []
        for m in t.getmembers():
            data = t.extractfile(m).read() if m.isfile() else None
            out.append([m, data])
    return out


def top_of(members):
    return members[0][0].name.rstrip("/").split("/")[0]


def find(members, rel):
    name = top_of(members) + "/" + rel
    for item in members:
        if item[0].name.rstrip("/") == name:
            return item
    raise KeyError(name)


def manifest(members):
    item = find(members, "manifest.json")
    return item, json.loads(item[1])


def set_manifest(members, m, raw=None):
    item, _ = manifest(members)
    item[1] = raw if raw is not None else json.dumps(m, indent=2).encode()
    item[0].size = len(item[1])


def entry(m, rel):
    for f in m["files"]:
        if f["path"] == rel:
            return f
    raise KeyError(rel)


def info(name, kind=tarfile.REGTYPE, size=0, mode=0o644, **kw):
    ti = tarfile.TarInfo(name)
    ti.type, ti.size, ti.mode, ti.mtime = kind, size, mode, 0
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti


def add_file(members, name, data=b"x\n", at=None, **kw):
    item = [info(name, size=len(data), **kw), data]
    members.insert(len(members) if at is None else at, item)
    return item


def tar_bytes(members, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for ti, data in members:
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def gz(raw):
    return gzip.compress(raw, compresslevel=6, mtime=0)


# Cases that edit the members; each returns nothing or raw tar/gzip bytes.
def c_dotdot(ms):
    add_file(ms, "../../outside.txt")


def c_absolute(ms):
    add_file(ms, "/tmp/box-abs.txt")


def c_two_top(ms):
    add_file(ms, "other/file.txt")


def c_hidden_top(ms):
    add_file(ms, ".hidden-top-level", at=0)


def c_nul_name(ms):
    # libarchive ends a pax path at the NUL; the entry becomes a second nvidia-ctk.
    top = top_of(ms)
    item = add_file(ms, top + "/usr/bin/zz-nul")
    item[0].pax_headers = {"path": top + "/" + CTK + "\x00/../../../evil"}


def c_newline_name(ms):
    add_file(ms, top_of(ms) + "/usr/bin/evil\nname")


def c_long_name(ms):
    add_file(ms, top_of(ms) + "/usr/" + "n" * 300)


def c_pax_rename(ms):
    top = top_of(ms)
    item = add_file(ms, top + "/usr/bin/harmless")
    item[0].pax_headers = {"path": top + "/../../pax-escape"}


def c_symlink_absolute(ms):
    ms.append([info(top_of(ms) + "/usr/lib/evil", tarfile.SYMTYPE, linkname="/etc/passwd"), None])


def c_symlink_escape(ms):
    ms.append([info(top_of(ms) + "/usr/lib/evil", tarfile.SYMTYPE, linkname="../../../etc"), None])


def c_symlink_chain(ms):
    # t -> a/b/s/../.. looks inside, but s -> ../.. makes it climb out. t comes
    # first, so only the check at the end of the stream can see it.
    top = top_of(ms)
    ms.append([info(top + "/t", tarfile.SYMTYPE, linkname="a/b/s/../.."), None])
    ms.append([info(top + "/a/b", tarfile.DIRTYPE, mode=0o755), None])
    ms.append([info(top + "/a/b/s", tarfile.SYMTYPE, linkname="../.."), None])
    list_symlink(ms, "t", "a/b/s/../..")
    list_symlink(ms, "a/b/s", "../..")


def c_write_through_symlink(ms):
    top = top_of(ms)
    ms.append([info(top + "/usr/lnk", tarfile.SYMTYPE, linkname="bin"), None])
    add_file(ms, top + "/usr/lnk/evil")
    list_symlink(ms, "usr/lnk", "bin")
    list_file(ms, "usr/lnk/evil", b"x\n")


def c_hardlink_out(ms):
    ms.append([info(top_of(ms) + "/usr/bin/hl", tarfile.LNKTYPE, linkname="../../etc/passwd"), None])


def c_hardlink_absolute(ms):
    ms.append([info(top_of(ms) + "/usr/bin/hl", tarfile.LNKTYPE, linkname="/etc/passwd"), None])


def c_hardlink_to_symlink(ms):
    top = top_of(ms)
    target = top + "/usr/lib/x86_64-linux-gnu/libnvidia-container.so.1"
    ms.append([info(top + "/usr/bin/hl", tarfile.LNKTYPE, linkname=target), None])


def c_dir_symlink_file(ms):
    top = top_of(ms)
    ms.append([info(top + "/x", tarfile.DIRTYPE, mode=0o755), None])
    ms.append([info(top + "/x", tarfile.SYMTYPE, linkname="/tmp"), None])
    add_file(ms, top + "/x/f")


def c_char_device(ms):
    ms.append([info(top_of(ms) + "/dev/nvidia0", tarfile.CHRTYPE, devmajor=195, devminor=0), None])


def c_block_device(ms):
    ms.append([info(top_of(ms) + "/dev/sda", tarfile.BLKTYPE, devmajor=8, devminor=0), None])


def c_fifo(ms):
    ms.append([info(top_of(ms) + "/fifo", tarfile.FIFOTYPE), None])


def c_sparse(ms):
    item = add_file(ms, top_of(ms) + "/sparse", b"s" * 512)
    item[0].pax_headers = {"GNU.sparse.size": "1048576", "GNU.sparse.map": "4096,512"}


def c_setuid(ms):
    find(ms, CTK)[0].mode = 0o4755


def c_setgid(ms):
    find(ms, CTK)[0].mode = 0o2755


def c_file_caps(ms):
    find(ms, CTK)[0].pax_headers = {
        "SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00"}


def c_duplicate_tar(ms):
    item = find(ms, CTK)
    ms.append([info(item[0].name, size=len(item[1]), mode=0o755), item[1]])


def c_duplicate_manifest(ms):
    _, m = manifest(ms)
    m["files"].append(dict(entry(m, CTK)))
    set_manifest(ms, m)


def c_extra_file(ms):
    add_file(ms, top_of(ms) + "/usr/bin/nvidia-container-extra", b"extra\n")


def c_missing_file(ms):
    ms.remove(find(ms, CTK))


def c_size_mismatch(ms):
    _, m = manifest(ms)
    entry(m, CLI)["size"] += 1
    set_manifest(ms, m)


def c_checksum_mismatch(ms):
    _, m = manifest(ms)
    entry(m, CLI)["sha256"] = "0" * 64
    set_manifest(ms, m)


def c_content_changed(ms):
    item = find(ms, CLI)
    item[1] = item[1].upper()


def c_manifest_too_large(ms):
    _, m = manifest(ms)
    raw = json.dumps(m).encode() + b" " * (16 << 20)
    set_manifest(ms, m, raw)


def c_wrong_arch(ms):
    _, m = manifest(ms)
    m["architecture"] = "arm64"
    set_manifest(ms, m)


def c_malformed_manifest(ms):
    set_manifest(ms, None, b"{ invalid json\n")


def c_missing_manifest(ms):
    ms.remove(manifest(ms)[0])


def c_missing_created_at(ms):
    _, m = manifest(ms)
    del m["created_at"]
    set_manifest(ms, m)


def c_missing_component(ms):
    _, m = manifest(ms)
    del m["components"]["libnvidia_container"]
    set_manifest(ms, m)


def c_manifest_escape(ms):
    _, m = manifest(ms)
    m["files"].append({"path": "../outside", "entry_type": "symlink"})
    set_manifest(ms, m)


def c_symlink_target_mismatch(ms):
    _, m = manifest(ms)
    entry(m, "usr/lib/x86_64-linux-gnu/libnvidia-container.so.1")["target"] = "elsewhere.so"
    set_manifest(ms, m)


def c_cli_unlisted(ms):
    # upstream: the asset is in the tarball but not in the manifest
    _, m = manifest(ms)
    m["files"] = [f for f in m["files"] if f["path"] != CLI]
    set_manifest(ms, m)


def c_cli_symlink(ms):
    # upstream: the required binary is a symlink to a listed regular file
    top = top_of(ms)
    item = find(ms, CLI)
    data = item[1]
    ms.remove(item)
    add_file(ms, top + "/" + CLI + ".real", data, mode=0o755)
    ms.append([info(top + "/" + CLI, tarfile.SYMTYPE, linkname="nvidia-container-cli.real"), None])
    _, m = manifest(ms)
    m["files"] = [f for f in m["files"] if f["path"] != CLI]
    m["files"].append({"path": CLI, "entry_type": "symlink", "target": "nvidia-container-cli.real"})
    m["files"].append({"path": CLI + ".real", "entry_type": "file",
                       "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
    set_manifest(ms, m)


def c_manifest_last(ms):
    item, _ = manifest(ms)
    ms.remove(item)
    ms.append(item)


def c_dot_prefix(ms):
    ms.insert(0, [info(".", tarfile.DIRTYPE, mode=0o755), None])
    for item in ms[1:]:
        item[0].name = "./" + item[0].name


def c_hardlink_inside(ms):
    item = find(ms, CTK)
    _, m = manifest(ms)
    e = dict(entry(m, CTK))
    e["path"] = CTK + "-link"
    m["files"].append(e)
    set_manifest(ms, m)
    ms.append([info(item[0].name + "-link", tarfile.LNKTYPE, linkname=item[0].name), None])


def list_file(ms, rel, data):
    _, m = manifest(ms)
    m["files"].append({"path": rel, "entry_type": "file",
                       "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
    set_manifest(ms, m)


def list_symlink(ms, rel, target):
    _, m = manifest(ms)
    m["files"].append({"path": rel, "entry_type": "symlink", "target": target})
    set_manifest(ms, m)


def c_bomb(ms):
    data = bytes(100 << 20)
    list_file(ms, "zeros", data)
    add_file(ms, top_of(ms) + "/zeros", data)


def drop(rel_paths):
    def case(ms):
        _, m = manifest(ms)
        m["files"] = [f for f in m["files"] if f["path"] not in rel_paths]
        set_manifest(ms, m)
        for rel in rel_paths:
            ms.remove(find(ms, rel))
    return case


# Cases on the bytes of the archive itself.
def r_truncated_gzip(raw_tar, tgz):
    return tgz[: len(tgz) // 2]


def r_trailing_garbage(raw_tar, tgz):
    return tgz + b"garbage after the gzip stream"


def r_not_gzip(raw_tar, tgz):
    return raw_tar


def r_trailing_tar_data(raw_tar, tgz):
    return gz(raw_tar + b"\x01" * 512)


def r_no_end_marker(raw_tar, tgz):
    # Drop the two zero blocks and the record padding after the last member.
    end = len(raw_tar)
    while end >= 512 and raw_tar[end - 512:end] == bytes(512):
        end -= 512
    return gz(raw_tar[:end])


def r_concatenated_members(raw_tar, tgz):
    half = len(raw_tar) // 2
    return gz(raw_tar[:half]) + gz(raw_tar[half:])


LIB = "usr/lib/x86_64-linux-gnu/libnvidia-container"
CASES = {name[2:].replace("_", "-"): fn for name, fn in list(globals().items())
         if name.startswith(("c_", "r_")) and callable(fn)}
for p in ["usr/bin/nvidia-cdi-hook", "usr/bin/nvidia-container-runtime",
          "usr/bin/nvidia-container-runtime-hook", CLI, CTK,
          "etc/nvidia-container-runtime/config.toml"]:
    CASES["omit-" + os.path.basename(p)] = drop([p])
CASES["omit-libnvidia-container"] = drop([LIB + ".so.1", LIB + ".so.1.17.8"])


def mutate(src, dst, case):
    ms = load(src)
    fn = CASES[case]
    if fn.__name__.startswith("r_"):
        raw = tar_bytes(ms)
        out = fn(raw, gz(raw))
    else:
        fn(ms)
        out = gz(tar_bytes(ms))
    with open(dst, "wb") as f:
        f.write(out)


def upstream(workdir, out, arch):
    """The fixture of upstream's bats tests: files written by hand, tar -czf."""
    name = "openshell-gpu-runtime-bundle_0.1.0_" + arch
    root = os.path.join(workdir, name)
    multiarch = "x86_64-linux-gnu" if arch == "amd64" else "aarch64-linux-gnu"
    payload = {"usr/bin/nvidia-cdi-hook": b"cdi-hook\n", "usr/bin/nvidia-container-runtime": b"runtime\n",
               "usr/bin/nvidia-container-runtime-hook": b"runtime-hook\n", CLI: b"container-cli\n",
               CTK: b"ctk\n", "etc/nvidia-container-runtime/config.toml": b"config = true\n",
               "usr/lib/%s/libnvidia-container.so.1" % multiarch: b"libnvidia-container\n"}
    files = []
    for rel, data in payload.items():
        os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
        with open(os.path.join(root, rel), "wb") as f:
            f.write(data)
        files.append({"path": rel, "entry_type": "file",
                      "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
    m = {"schema_version": 1, "bundle_name": "openshell-gpu-runtime-bundle", "bundle_version": "0.1.0",
         "architecture": arch, "created_at": "2026-03-18T12:34:56Z",
         "components": {"nvidia_container_toolkit": {"version": "1.17.8-openshell.1",
                                                     "commit": "0123456789abcdef0123456789abcdef01234567"},
                        "libnvidia_container": {"version": "1.17.8-openshell.1",
                                                "commit": "89abcdef0123456789abcdef0123456789abcdef"}},
         "files": files}
    with open(os.path.join(root, "manifest.json"), "w") as f:
        json.dump(m, f, indent=2)
    subprocess.run(["tar", "-czf", out, "-C", workdir, name], check=True)


if __name__ == "__main__":
    if sys.argv[1] == "mutate":
        mutate(sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1] == "upstream":
        upstream(sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1] == "cases":
        print("\n".join(sorted(CASES)))
    else:
        sys.exit("usage: bundle_tar.py mutate IN OUT CASE | upstream DIR OUT ARCH | cases")
