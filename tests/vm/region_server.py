#!/usr/bin/env python3
"""A local region service for the box vm tests: the image endpoints of the
region API excerpt (region-api-images.yaml), on 127.0.0.1, standard library
only.

  region_server.py --port-file F --log F --tokens F --region UUID
                   [--files DIR --files-port-file F] [--fault KIND[:N]]...

--tokens names a JSON file {"<token>": {"<organization id>": "<role>"}} with
roles user, administrator (read, create, delete), reader, auditor (read).
Tokens are read from a file so that they never appear on a command line.

Implemented:
  POST   /api/v1/organizations/{org}/regions/{region}/images       200
  GET    /api/v1/organizations/{org}/regions/{region}/images       ready only
  DELETE /api/v1/organizations/{org}/regions/{region}/images/{id}  202
  GET    /api/v2/regions/{region}/images?organizationID=&scope=&status=
401 without or with an unknown token, 404 for an unknown region or image,
403 without the permission in that organization, 400 with the
error_description format for a body the schema refuses, 422 when bytes
510-511 of spec.uri (fetched with Range: bytes=0-511) are not 55 aa.
v2 without organizationID lists global images only; organizations the
token cannot read are dropped silently. A new image is pending; each GET
that lists its organization moves it on: pending -> creating -> ready.

--files serves DIR on a second loopback port with byte ranges (the disk
images that spec.uri points at).

Faults, from --fault or POST /_test/fault {"kind": K, "count": N,
"seconds": S}:
  post-cut-before-body  close the next POST without reading its body
  post-cut-after-body   read it, create the image, close without answering
  get-500               answer the next N GETs with 500
  get-cut               close the next N GETs without answering
  delay                 hold the next request S seconds before answering
  import-fail           the next image created ends in state failed
  post-400              refuse the next POST with a 400 naming /spec/architecture
GET /_test/state returns the images and the request counts."""
import argparse
import datetime
import http.server
import json
import math
import os
import re
import socket
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid

LABEL = re.compile(r"^[0-9A-Za-z](?:[0-9A-Za-z\-_.]{0,61}[0-9A-Za-z])?$")
SEMVER = re.compile(r"^v\d+\.\d+\.\d+$")
MODEL = re.compile(r"^\w+$", re.ASCII)
CAN = {
    "user": {"read", "create", "delete"},
    "administrator": {"read", "create", "delete"},
    "reader": {"read"},
    "auditor": {"read"},
}
STATES = ("pending", "creating", "ready", "failed")


class Invalid(Exception):
    pass


def need(obj, key, path, kind):
    if key not in obj:
        raise Invalid('"%s/%s" property "%s" is missing' % (path, key, key))
    return want(obj[key], "%s/%s" % (path, key), kind)


def want(value, path, kind):
    if not isinstance(value, kind) or isinstance(value, bool):
        raise Invalid('"%s" value must be of type %s' % (path, kind.__name__))
    return value


def one_of(value, path, allowed):
    if value not in allowed:
        raise Invalid('"%s" value is not one of the allowed values %s' % (path, json.dumps(allowed)))


def check_body(body):
    """The schema of imageCreate, as the server's validator applies it:
    unknown fields are ignored."""
    want(body, "", dict)
    md = need(body, "metadata", "", dict)
    name = need(md, "name", "/metadata", str)
    if not LABEL.match(name):
        raise Invalid('"/metadata/name" string doesn\'t match the regular expression')
    if "description" in md:
        want(md["description"], "/metadata/description", str)
    for i, tag in enumerate(want(md.get("tags", []), "/metadata/tags", list)):
        want(tag, "/metadata/tags/%d" % i, dict)
        need(tag, "name", "/metadata/tags/%d" % i, str)
        need(tag, "value", "/metadata/tags/%d" % i, str)
    spec = need(body, "spec", "", dict)
    need(spec, "uri", "/spec", str)
    one_of(need(spec, "architecture", "/spec", str), "/spec/architecture", ["x86_64", "aarch64"])
    one_of(need(spec, "virtualization", "/spec", str), "/spec/virtualization",
           ["virtualized", "baremetal", "any"])
    os_ = need(spec, "os", "/spec", dict)
    one_of(need(os_, "kernel", "/spec/os", str), "/spec/os/kernel", ["linux"])
    for key in ("family", "distro", "version"):
        need(os_, key, "/spec/os", str)
    for key, ver in want(spec.get("softwareVersions", {}), "/spec/softwareVersions", dict).items():
        if not isinstance(ver, str) or not SEMVER.match(ver):
            raise Invalid('"/spec/softwareVersions/%s" string doesn\'t match the regular expression' % key)
    if "gpu" in spec:
        gpu = want(spec["gpu"], "/spec/gpu", dict)
        one_of(need(gpu, "vendor", "/spec/gpu", str), "/spec/gpu/vendor", ["NVIDIA", "AMD"])
        need(gpu, "driver", "/spec/gpu", str)
        for i, m in enumerate(want(gpu.get("models", []), "/spec/gpu/models", list)):
            want(m, "/spec/gpu/models/%d" % i, str)


def first_sector(uri):
    """Bytes 0-511 of the image, the way the region reads them."""
    req = urllib.request.Request(uri, headers={"Range": "bytes=0-511"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        data = resp.read(512)
        total = resp.headers.get("Content-Range", "").rpartition("/")[2]
        size = int(total) if total.isdigit() else int(resp.headers.get("Content-Length", 0))
    return data, size


class Region:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.region = args.region
        self.log_path = args.log
        with open(args.tokens) as f:
            self.tokens = json.load(f)
        self.faults = []
        for spec in args.fault or []:
            kind, _, count = spec.partition(":")
            self.faults.append({"kind": kind, "count": int(count or 1), "seconds": 1.0})
        self.counts = {}
        self.images = [
            self.image(None, "global-ubuntu2204-k8s", "ready", gpu=None),
            self.image(None, "global-ubuntu2204-nvidia", "ready",
                       gpu={"vendor": "NVIDIA", "driver": "580.82.07", "models": ["H100"]}),
        ]

    @staticmethod
    def image(org, name, state, gpu, spec=None, description=None, tags=None, size_gib=10):
        spec = dict(spec or {
            "architecture": "x86_64", "virtualization": "virtualized",
            "os": {"kernel": "linux", "family": "debian", "distro": "ubuntu", "version": "22.04"},
            "softwareVersions": {"kubernetes": "v1.30.0"},
        })
        spec.pop("uri", None)
        spec["sizeGiB"] = size_gib
        if gpu:
            spec["gpu"] = gpu
        md = {"id": str(uuid.uuid4()), "name": name,
              "creationTime": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
        if description is not None:
            md["description"] = description
        if tags:
            md["tags"] = tags
        return {"org": org, "fail": False,
                "doc": {"metadata": md, "spec": spec, "status": {"state": state}}}

    def take_fault(self, kinds):
        with self.lock:
            for f in self.faults:
                if f["kind"] in kinds and f["count"] > 0:
                    f["count"] -= 1
                    return dict(f)
        return None

    def log(self, line):
        with self.lock:
            with open(self.log_path, "a") as f:
                f.write(line + "\n")

    def count(self, key):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "region-test"

    def log_message(self, fmt, *args):
        pass

    # ---- plumbing ----------------------------------------------------------

    def send_json(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, code, description):
        self.send_json(status, {"error": code, "error_description": description,
                                "trace_id": uuid.uuid4().hex})

    def cut(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > (1 << 20):
            raise Invalid("request body too large")
        return self.rfile.read(n)

    def roles(self):
        """The token's organizations and roles, or None (401)."""
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return None
        return self.server.region.tokens.get(auth[7:])

    def handle_one(self, method):
        region = self.server.region
        url = urllib.parse.urlsplit(self.path)
        region.log("%s %s auth=%s" % (method, self.path,
                                      "yes" if "Authorization" in self.headers else "no"))
        region.count(method)
        if url.path.startswith("/_test/"):
            return self.control(method, url)
        delay = region.take_fault({"delay"})
        if delay:
            threading.Event().wait(delay["seconds"])
        if method == "GET" and region.take_fault({"get-cut"}):
            return self.cut()
        if method == "GET" and region.take_fault({"get-500"}):
            return self.error(500, "server_error", "injected failure")
        roles = self.roles()
        if roles is None:
            return self.error(401, "access_denied", "authentication failed")
        m = re.fullmatch(r"/api/v1/organizations/([^/]+)/regions/([^/]+)/images(?:/([^/]+))?",
                         url.path)
        if m:
            return self.v1(method, m.group(1), m.group(2), m.group(3), roles)
        m = re.fullmatch(r"/api/v2/regions/([^/]+)/images", url.path)
        if m and method == "GET":
            return self.v2(m.group(1), urllib.parse.parse_qs(url.query), roles)
        return self.error(404, "not_found", "the requested resource does not exist")

    def do_GET(self):
        self.handle_one("GET")

    def do_POST(self):
        self.handle_one("POST")

    def do_DELETE(self):
        self.handle_one("DELETE")

    # ---- test control ------------------------------------------------------

    def control(self, method, url):
        region = self.server.region
        if url.path == "/_test/fault" and method == "POST":
            f = json.loads(self.read_body() or b"{}")
            with region.lock:
                region.faults.append({"kind": f["kind"], "count": int(f.get("count", 1)),
                                      "seconds": float(f.get("seconds", 1))})
            return self.send_json(200, {"ok": True})
        if url.path == "/_test/state" and method == "GET":
            with region.lock:
                doc = {"counts": region.counts,
                       "images": [dict(i["doc"], org=i["org"]) for i in region.images]}
            return self.send_json(200, doc)
        return self.error(404, "not_found", "no such control endpoint")

    # ---- the API -----------------------------------------------------------

    def advance(self, orgs):
        """Each listing moves the organization's images one state on."""
        with self.server.region.lock:
            for img in self.server.region.images:
                st = img["doc"]["status"]
                if img["org"] in orgs and st["state"] in ("pending", "creating"):
                    st["state"] = ("creating" if st["state"] == "pending"
                                   else "failed" if img["fail"] else "ready")

    def v2(self, region_id, query, roles):
        region = self.server.region
        if region_id != region.region:
            return self.error(404, "not_found", "region %s not found" % region_id)
        scope = query.get("scope", ["available"])[-1]
        if scope not in ("owned", "available"):
            return self.error(400, "invalid_request",
                              'parameter "scope" in query has an error: value is not one of the allowed values')
        statuses = query.get("status", [])
        for s in statuses:
            if s not in STATES:
                return self.error(400, "invalid_request",
                                  'parameter "status" in query has an error: value is not one of the allowed values')
        # Organizations the token cannot read are dropped without a word.
        orgs = {o for o in query.get("organizationID", []) if o in roles}
        with region.lock:
            out = [i["doc"] for i in region.images if not i.get("hidden")
                   and ((i["org"] is None and scope == "available") or i["org"] in orgs)
                   and (not statuses or i["doc"]["status"]["state"] in statuses)]
            body = json.loads(json.dumps(out))
        self.send_json(200, body)
        self.advance(orgs)

    def v1(self, method, org, region_id, image_id, roles):
        region = self.server.region
        if region_id != region.region:
            return self.error(404, "not_found", "region %s not found" % region_id)
        action = {"GET": "read", "POST": "create", "DELETE": "delete"}[method]
        if action not in CAN.get(roles.get(org, ""), set()):
            return self.error(403, "forbidden", "user credentials do not have the required privileges")
        if method == "GET" and image_id is None:
            with region.lock:
                out = [i["doc"] for i in region.images if not i.get("hidden")
                       and i["org"] in (None, org) and i["doc"]["status"]["state"] == "ready"]
                body = json.loads(json.dumps(out))
            return self.send_json(200, body)
        if method == "POST" and image_id is None:
            return self.create(org)
        if method == "DELETE" and image_id is not None:
            return self.delete(org, image_id)
        return self.error(405, "method_not_allowed", "method not allowed")

    def create(self, org):
        region = self.server.region
        if region.take_fault({"post-cut-before-body"}):
            return self.cut()
        if region.take_fault({"post-400"}):
            self.read_body()
            return self.error(400, "invalid_request", 'the request body is not valid: '
                              '"/spec/architecture" value is not one of the allowed values')
        try:
            raw = self.read_body()
            body = json.loads(raw)
            check_body(body)
        except Invalid as e:
            return self.error(400, "invalid_request", "the request body is not valid: %s" % e)
        except ValueError as e:
            return self.error(400, "invalid_request", "the request body is not valid: %s" % e)
        spec = body["spec"]
        gpu = spec.get("gpu")
        if gpu is not None and not gpu.get("models"):
            return self.error(400, "invalid_request", "gpu models must be specified")
        try:
            data, size = first_sector(spec["uri"])
        except (urllib.error.URLError, OSError, ValueError) as e:
            return self.error(422, "unprocessable_content", "unable to read image: %s" % e)
        if len(data) < 512 or data[510:512] != b"\x55\xaa":
            return self.error(422, "unprocessable_content",
                              "image is not a raw disk image: no boot signature")
        models = ",".join(gpu["models"]) if gpu else ""
        img = region.image(org, body["metadata"]["name"], "pending",
                           gpu=dict(gpu) if gpu else None, spec=spec,
                           description=body["metadata"].get("description"),
                           tags=body["metadata"].get("tags"),
                           size_gib=max(1, math.ceil(size / (1 << 30))))
        img["hidden"] = bool(models) and not all(MODEL.match(m) for m in gpu["models"])
        img["fail"] = region.take_fault({"import-fail"}) is not None
        with region.lock:
            region.images.append(img)
        if region.take_fault({"post-cut-after-body"}):
            return self.cut()
        self.send_json(200, img["doc"])

    def delete(self, org, image_id):
        region = self.server.region
        with region.lock:
            for i, img in enumerate(region.images):
                if img["doc"]["metadata"]["id"] == image_id and img["org"] == org:
                    del region.images[i]
                    break
            else:
                img = None
        if img is None:
            return self.error(404, "not_found", "image %s not found" % image_id)
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


class Files(http.server.BaseHTTPRequestHandler):
    """Static files with byte ranges: the disk images spec.uri points at."""
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        rng = self.headers.get("Range", "")
        self.server.region.log("FILE GET %s range=%s" % (self.path, rng))
        name = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/")
        if "/" in name or name.startswith("."):
            name = ""
        try:
            f = open("%s/%s" % (self.server.root, name), "rb")
        except OSError:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        # Only the bytes asked for are read: images are gigabytes.
        with f:
            size = os.fstat(f.fileno()).st_size
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng)
            start, end = 0, size - 1
            if m and int(m.group(1)) < size:
                start = int(m.group(1))
                end = min(int(m.group(2)) if m.group(2) else size - 1, size - 1)
                self.send_response(206)
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(end - start + 1))
            self.end_headers()
            f.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = f.read(min(left, 1 << 20))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # cut connections are on purpose


def serve(handler, port_file, **attrs):
    srv = Server(("127.0.0.1", 0), handler)
    for k, v in attrs.items():
        setattr(srv, k, v)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, port_file)
    return t


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--tokens", required=True)
    p.add_argument("--region", required=True)
    p.add_argument("--files")
    p.add_argument("--files-port-file")
    p.add_argument("--fault", action="append")
    args = p.parse_args()
    region = Region(args)
    open(args.log, "a").close()
    if args.files:
        serve(Files, args.files_port_file, root=args.files, region=region)
    serve(Handler, args.port_file, region=region).join()


if __name__ == "__main__":
    sys.exit(main())
