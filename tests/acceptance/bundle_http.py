#!/usr/bin/env python3
"""A small HTTP server for the fetch tests, on 127.0.0.1.

  bundle_http.py ROOT PORT_FILE LOG_FILE MODE

Serves files under ROOT, honours "Range: bytes=N-", writes its port to
PORT_FILE and one line per request to LOG_FILE ("GET /path range=N-").
MODE:
  ok              plain serving with ranges
  cut:N:K         the first K responses stop after N bytes (connection cut)
  norange-cut:N:K the same, and Range is ignored (always 200 with all bytes)
  cut-always:N    every response stops after N bytes"""
import http.server
import os
import sys
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        srv = self.server
        rng = self.headers.get("Range", "")
        with srv.lock:
            srv.count += 1
            count = srv.count
            with open(srv.log, "a") as f:
                f.write("GET %s range=%s\n" % (self.path, rng[6:] if rng.startswith("bytes=") else ""))
        path = os.path.join(srv.root, self.path.lstrip("/").split("?")[0])
        if not os.path.isfile(path):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = open(path, "rb").read()
        mode = srv.mode.split(":")
        start = 0
        if rng.startswith("bytes=") and mode[0] != "norange-cut":
            start = int(rng[6:].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % len(data))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = None
        if mode[0] in ("cut", "norange-cut") and count <= int(mode[2]):
            cut = int(mode[1])
        elif mode[0] == "cut-always":
            cut = int(mode[1])
        if cut is not None and cut < len(body):
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(body)


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # the cuts are on purpose


def main():
    root, port_file, log, mode = sys.argv[1:5]
    srv = Server(("127.0.0.1", 0), Handler)
    srv.root, srv.log, srv.mode, srv.count, srv.lock = root, log, mode, 0, threading.Lock()
    open(log, "a").close()
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()


main()
