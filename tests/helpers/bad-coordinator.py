#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A misbehaving coordinator for medic's fault-injection tests (Python standard library only).

    bad-coordinator.py --upstream HOST:PORT --port-file F --faults F [--log F] [--port P]

An HTTP proxy on 127.0.0.1 in front of a real coordinator: etcd's JSON gateway (/v3/...) or a
FleetLock server (tests/helpers/fleetlock-server.py). By default every request is passed
through unchanged (streams such as /v3/watch stay streams). The file given with --faults, read
again for every request (and every 0.2 s while a request is held or a stream is open), selects
faults per request path:

    {"faults": [{"path": "/v3/kv/txn", "match": "request_put", "fault": "garbage"}, ...]}

The first entry whose "path" equals the request's path (or is "*"), whose "match" (optional: a
string or a list of them) is in the request body and whose "exclude" (optional) is not, applies. "count" (optional)
limits it to that many requests (counted per entry while the file is unchanged). Faults:

  pass       forward unchanged (the default)
  delay      forward at once, answer "seconds" later (slow)
  late       forward only "seconds" later, after the client may have given up (processed
             late); answer if it still waits
  stall      never forward, never answer: hold the request until the client gives up or the
             fault is removed (then the connection is closed)
  close      read the request, close the connection without an answer
  reset      send the status line, headers and half of a JSON body, then reset the connection
             (RST: SO_LINGER 0). With "forward": true the request is forwarded first and the
             real answer is cut
  truncate   HTTP 200 with a JSON body cut in half (a correct Content-Length for the cut body);
             "forward": true cuts the real answer
  badlength  HTTP 200 whose Content-Length is larger than the body sent, then close
  types      HTTP 200, valid JSON with every field of the wrong type (strings for numbers and
             booleans, "false" for succeeded, arrays for objects, objects for arrays)
  mangle     forward, then change the real answer's types: booleans and numbers become strings
             ("false" stays a non-empty string), numeric strings become arrays
  b64        forward, then replace the kvs of the real answer (in a txn: of its first
             response) by keys and values that are not base64 or decode to binary garbage
  garbage    HTTP 200 with binary garbage (control bytes, NUL, invalid UTF-8, newlines)
  huge       HTTP 200 with a "mib" MiB body (default 64) starting as JSON, Content-Length set
  endless    HTTP 200, chunked, garbage lines without end until the client goes away
  status     HTTP "code" (default 500) with "body" if given, else a JSON error whose message is
             1 MiB of garbage; "forward": true forwards first (the coordinator did it)

Every request is logged to --log as one JSON line when it ends: path, fault, forwarded (and
when, seconds after the request arrived), upstream status, "held" (seconds from arrival until
the client went away or the answer was complete) and "client_gone". Prints the port to
--port-file once it listens.
"""
import argparse
import json
import os
import select
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GARBAGE = bytes(range(256)) * 4 + b"\n\x00\x1b[31m\xff\xfe<html>\r\n" * 16
WRONG_TYPES = {
    "header": {"cluster_id": [], "member_id": {"x": 1}, "revision": "not-a-number", "raft_term": True},
    "succeeded": "false", "responses": {"response_range": "none"},
    "kvs": {"key": 1}, "count": [], "more": "no",
    "ID": {"id": 7}, "TTL": "forever", "result": [1, 2], "error": 5, "message": ["x"],
    "token": 42, "members": "none", "kind": 17, "value": ["failed_lock"],
}
B64_BAD = [
    {"key": "!!!not base64***", "value": "%%%", "mod_revision": "5", "create_revision": "5"},
    {"key": "L21lZGljL2dyb3Vwcy8=", "value": "AAECAwQFBgcICQoLDA0ODw==", "mod_revision": "x"},
    {"key": "/////w==", "value": "gICAgP/+", "create_revision": []},
    {"key": None, "value": 7},
]


class Faults:
    def __init__(self, path):
        self.path = path
        self.mtime = None
        self.rules = []
        self.used = {}
        self.lock = threading.Lock()

    def load(self):
        try:
            st = os.stat(self.path)
        except OSError:
            self.rules, self.mtime, self.used = [], None, {}
            return
        if (st.st_mtime_ns, st.st_ino, st.st_size) == self.mtime:
            return
        try:
            with open(self.path) as f:
                rules = json.load(f).get("faults", [])
        except (OSError, ValueError, AttributeError):
            return  # half written: keep the last one
        self.rules, self.mtime, self.used = rules, (st.st_mtime_ns, st.st_ino, st.st_size), {}

    def pick(self, path, body, consume=True):
        """The fault entry for a request (a dict; {"fault": "pass"} when none applies)."""
        text = body.decode("latin-1")
        with self.lock:
            self.load()
            for i, r in enumerate(self.rules):
                if r.get("path") not in ("*", path):
                    continue
                match = r.get("match") or []
                if any(m not in text for m in ([match] if isinstance(match, str) else match)):
                    continue
                if r.get("exclude") and r["exclude"] in text:
                    continue
                if "count" in r and self.used.get(i, 0) >= int(r["count"]):
                    continue
                if consume:
                    self.used[i] = self.used.get(i, 0) + 1
                return dict(r, index=i)
        return {"fault": "pass"}

    def still(self, path, entry):
        """Is the entry (or another fault of the same kind) still set for path?"""
        with self.lock:
            self.load()
            return any(r.get("path") in ("*", path) and r.get("fault") == entry.get("fault") for r in self.rules)


def mangle(o):
    if isinstance(o, bool):
        return "false" if not o else "true"
    if isinstance(o, (int, float)):
        return str(o) + "x"
    if isinstance(o, str) and o.lstrip("-").isdigit():
        return [o]
    if isinstance(o, dict):
        return {k: mangle(v) for k, v in o.items()}
    if isinstance(o, list):
        return [mangle(v) for v in o]
    return o


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "bad-coordinator/1"

    def log_message(self, fmt, *args):
        pass

    # ---- plumbing ------------------------------------------------------------------------

    def client_gone(self):
        """True when the client closed its side (or reset it)."""
        try:
            r, _, _ = select.select([self.connection], [], [], 0)
            if not r:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def wait(self, seconds, entry=None):
        """Sleeps up to seconds (forever if None); returns early when the client goes away or,
        with entry, when the fault is removed. True when the client went away."""
        end = None if seconds is None else time.monotonic() + seconds
        while end is None or time.monotonic() < end:
            if self.client_gone():
                return True
            if entry is not None and not self.faults.still(self.path, entry):
                return False
            time.sleep(0.05)
        return self.client_gone()

    def upstream(self, body):
        """Sends the request to the upstream; returns the connected socket."""
        host, port = self.server.upstream
        s = socket.create_connection((host, port), timeout=10)
        head = ["%s %s HTTP/1.1" % (self.command, self.path)]
        for k, v in self.headers.items():
            if k.lower() not in ("connection", "content-length", "keep-alive", "expect"):
                head.append("%s: %s" % (k, v))
        head += ["Content-Length: %d" % len(body), "Connection: close", "", ""]
        s.sendall("\r\n".join(head).encode("latin-1") + body)
        return s

    def fetch(self, body):
        """Forwards the request, reads the whole answer: (status, headers list, body bytes)."""
        s = self.upstream(body)
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        s.close()
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 502
        headers = [tuple(x.split(": ", 1)) for x in lines[1:] if ": " in x]
        if any(k.lower() == "transfer-encoding" and "chunked" in v for k, v in headers):
            rest = dechunk(rest)
        return status, headers, rest

    def relay(self, body, entry):
        """Pass-through: the upstream's bytes go to the client as they come (a stream stays a
        stream). A fault set for this path meanwhile resets the connection."""
        s = self.upstream(body)
        self.rec["forwarded"] = round(time.monotonic() - self.t0, 3)
        first = True
        try:
            while True:
                r, _, _ = select.select([s, self.connection], [], [], 0.2)
                if s in r:
                    b = s.recv(65536)
                    if not b:
                        break
                    if first:
                        first = False
                        try:
                            self.rec["upstream_status"] = int(b.split(b" ", 2)[1])
                        except (IndexError, ValueError):
                            pass
                    self.connection.sendall(b)
                elif self.connection in r and self.client_gone():
                    self.rec["client_gone"] = True
                    break
                if self.faults.pick(self.path, body, consume=False)["fault"] in ("reset", "garbage", "endless"):
                    self.rec["cut"] = True
                    self.reset()
                    break
        except OSError:
            self.rec["client_gone"] = True
        finally:
            s.close()
        self.close_connection = True

    def answer(self, status, body, ctype="application/json", length=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def reset(self):
        try:
            self.wfile.flush()
        except OSError:
            pass
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    # ---- the request ---------------------------------------------------------------------

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()

    def handle_any(self):
        self.t0 = time.monotonic()
        self.faults = self.server.faults
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n > 0 else b""
        entry = self.faults.pick(self.path, body)
        kind = entry.get("fault", "pass")
        self.rec = {"time": time.time(), "path": self.path, "fault": kind, "body": body[:200].decode("latin-1")}
        try:
            self.inject(kind, entry, body)
        except OSError as e:
            self.rec["client_gone"] = True
            self.rec["error"] = str(e)
            self.close_connection = True
        self.rec["held"] = round(time.monotonic() - self.t0, 3)
        self.server.log(self.rec)

    def inject(self, kind, entry, body):
        forward = entry.get("forward", False)
        if kind == "pass":
            return self.relay(body, entry)
        if kind == "delay":
            status, headers, data = self.fetch(body)
            self.rec.update(forwarded=0, upstream_status=status)
            if self.wait(float(entry.get("seconds", 5))):
                self.rec["client_gone"] = True
                self.close_connection = True
                return
            return self.answer(status, data)
        if kind == "late":
            gone = self.wait(float(entry.get("seconds", 5)))
            status, headers, data = self.fetch(body)
            self.rec.update(forwarded=round(time.monotonic() - self.t0, 3), upstream_status=status)
            if gone or self.client_gone():
                self.rec["client_gone"] = True
                self.close_connection = True
                return
            return self.answer(status, data)
        if kind == "stall":
            self.rec["client_gone"] = self.wait(None, entry)
            self.close_connection = True
            return
        if kind == "close":
            self.close_connection = True
            return
        real = None
        if forward or kind in ("mangle", "b64"):
            status, headers, real = self.fetch(body)
            self.rec.update(forwarded=0, upstream_status=status)
        canned = json.dumps({"header": {"cluster_id": "1", "revision": "999"}, "succeeded": True,
                             "responses": [{"response_range": {"kvs": [], "count": "0"}}] * 4}).encode()
        if kind == "reset":
            data = real if real is not None else canned
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:len(data) // 2])
            return self.reset()
        if kind == "truncate":
            data = real if real is not None else canned
            return self.answer(200, data[:max(1, len(data) // 2)])
        if kind == "badlength":
            data = real if real is not None else canned
            self.answer(200, data, length=len(data) + 4096)
            self.close_connection = True
            return
        if kind == "types":
            return self.answer(200, json.dumps(WRONG_TYPES).encode())
        if kind == "mangle":
            try:
                data = json.dumps(mangle(json.loads(real))).encode()
            except ValueError:
                data = real
            return self.answer(status, data)
        if kind == "b64":
            try:
                data = json.loads(real)
                if isinstance(data.get("responses"), list) and data["responses"]:
                    data["responses"][0] = {"response_range": {"kvs": B64_BAD, "count": "4"}}
                if "kvs" in data:
                    data["kvs"] = B64_BAD
                data = json.dumps(data).encode()
            except (ValueError, AttributeError):
                data = real
            return self.answer(status, data)
        if kind == "garbage":
            return self.answer(200, GARBAGE, ctype="text/html")
        if kind == "huge":
            size = int(float(entry.get("mib", 64)) * 1024 * 1024)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            head = b'{"header":{"revision":"1"},"kvs":[{"key":"'
            self.wfile.write(head)
            chunk = b"A" * 65536
            sent = len(head)
            while sent < size:
                b = chunk[:size - sent]
                self.wfile.write(b)
                sent += len(b)
            self.wfile.flush()
            self.rec["sent"] = sent
            return
        if kind == "endless":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            line = b'{"result":{"header":{"revision":"x"},"events":"' + b"B" * 8000 + b'"}}\n' + GARBAGE
            sent = 0
            t_end = time.monotonic() + float(entry.get("seconds", 120))
            while time.monotonic() < t_end:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                sent += len(line)
            self.rec["sent"] = sent
            self.close_connection = True
            return
        if kind == "status":
            code = int(entry.get("code", 500))
            if "body" in entry:
                data = entry["body"].encode()
            else:
                junk = GARBAGE.decode("latin-1") * 200
                data = json.dumps({"error": junk, "message": junk, "code": 14, "kind": junk, "value": junk}).encode()
            return self.answer(code, data)
        return self.answer(500, b'{"error":"bad-coordinator: no such fault %s"}' % kind.encode())


def dechunk(data):
    out = b""
    while data:
        size, _, data = data.partition(b"\r\n")
        try:
            n = int(size.split(b";")[0], 16)
        except ValueError:
            break
        if n == 0:
            break
        out += data[:n]
        data = data[n + 2:]
    return out


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def log(self, rec):
        if not self.log_path:
            return
        with self.log_lock, open(self.log_path, "a") as f:
            f.write(json.dumps(rec, sort_keys=True) + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--upstream", required=True, help="HOST:PORT of the real coordinator")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", required=True)
    p.add_argument("--faults", required=True, help="the fault file (JSON), read for every request")
    p.add_argument("--log")
    args = p.parse_args()
    srv = Server(("127.0.0.1", args.port), Handler)
    host, _, port = args.upstream.rpartition(":")
    srv.upstream = (host or "127.0.0.1", int(port))
    srv.faults = Faults(args.faults)
    srv.log_path = args.log
    srv.log_lock = threading.Lock()
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(tmp, args.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
