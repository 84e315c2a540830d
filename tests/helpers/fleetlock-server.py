#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A small FleetLock server for medic's tests (Python standard library only).

The FleetLock protocol as Zincati documents it and airlock serves it: POST /v1/pre-reboot and
POST /v1/steady-state with the header "fleet-lock-protocol: true" and the body
{"client_params": {"id": ID, "group": GROUP}}. Each group is a counting semaphore with a fixed
number of slots; locking is recursive (a holder asking again gets 200) and only the holder can
unlock (steady-state of a non-holder is 200 and changes nothing). 200 carries an empty body;
errors carry {"kind": ..., "value": ...}:

  400 bad_request               no "fleet-lock-protocol: true" header, or a body that is not
                                {"client_params": {...}}
  400 invalid_client_identity   empty or missing id or group, a group not matching
                                ^[a-zA-Z0-9.-]+$, or an id given with --reject-id
  400 unknown_group             a group the server was not started with
  500 failed_lock               "all N semaphore slots currently locked" (airlock's text)

Test controls (not part of the protocol):
  GET  /test/state              {"groups": {G: {"slots": N, "holders": [...]}}, "requests": N}
  POST /test/fault              {"count": N, "delay": S, "status": C, "kind": K, "value": V,
                                 "raw": TEXT, "apply": bool}: the next N FleetLock requests
                                are delayed by S seconds (after being applied when "apply" is
                                true, the default) and/or answered with the given error.
  POST /test/stall              {"count": N, "paths": [P, ...]}: the server stalls as real ones
                                do (an etcd without a leader, say): FleetLock requests are
                                accepted and held, neither applied nor answered. Without
                                "count" every request is held until /test/resume; with it the
                                next N only (later ones are served at once). "paths" limits
                                the stall to those endpoints. /test/state counts them as "held".
  POST /test/resume             ends the stall: the held requests are processed now, late, in
                                the order they arrived (applied, logged with "late": true, and
                                answered if their client still waits; it may have given up
                                long ago). Requests arriving meanwhile queue behind them.
                                Answers {"processed": N}.

Usage: fleetlock-server.py --port-file F --group NAME=SLOTS [--group ...] [--log F]
                           [--state F] [--reject-id ID] [--port P]
                           [--cert PEM --key PEM [--client-ca PEM]]
Every FleetLock request is appended to --log as one JSON line. --state keeps the holders in a
file, so that a restarted server remembers them. With --cert and --key it serves HTTPS; with
--client-ca it also requires a client certificate signed by that CA.
"""
import argparse
import json
import os
import re
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GROUP_RE = re.compile(r"^[a-zA-Z0-9.-]+$")
MAX_BODY = 64 * 1024


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.slots = {}
        self.holders = {}
        for g in args.group:
            name, _, n = g.partition("=")
            self.slots[name] = int(n or "1")
            self.holders[name] = []
        self.reject = set(args.reject_id or [])
        self.log_path = args.log
        self.state_path = args.state
        self.faults = []
        self.requests = 0
        # The stall: None (off) or {"count": N or None, "paths": [...] or None}; held is the
        # queue of requests waiting for /test/resume (threading.Event each), in arrival order.
        self.stall = None
        self.held = []
        self.flushing = False
        if self.state_path and os.path.exists(self.state_path):
            with open(self.state_path) as f:
                saved = json.load(f)
            for g, h in saved.items():
                if g in self.holders:
                    self.holders[g] = list(h)

    def save(self):
        if not self.state_path:
            return
        tmp = self.state_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.holders, f)
        os.replace(tmp, self.state_path)

    def log(self, entry):
        if not self.log_path:
            return
        with open(self.log_path, "a") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")


def error(status, kind, value):
    return status, {"kind": kind, "value": value}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fleetlock-test/1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, obj=None, raw=None):
        body = b""
        if raw is not None:
            body = raw.encode()
        elif obj is not None:
            body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if raw is not None else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            return None
        return self.rfile.read(n) if n > 0 else b""

    def do_GET(self):
        st = self.server.st
        if self.path == "/test/state":
            with st.lock:
                groups = {g: {"slots": st.slots[g], "holders": sorted(st.holders[g])} for g in st.slots}
                self.send(200, {"groups": groups, "requests": st.requests, "held": len(st.held)})
            return
        self.send(*error(404, "bad_request", "no such endpoint %s" % self.path))

    def do_POST(self):
        st = self.server.st
        body = self.read_body()
        if self.path == "/test/fault":
            f = json.loads(body or b"{}")
            with st.lock:
                st.faults.extend([f] * int(f.get("count", 1)))
            self.send(200, {})
            return
        if self.path == "/test/stall":
            f = json.loads(body or b"{}")
            with st.lock:
                st.stall = {"count": f.get("count"), "paths": f.get("paths")}
            self.send(200, {})
            return
        if self.path == "/test/resume":
            self.send(200, {"processed": self.resume()})
            return
        if self.path not in ("/v1/pre-reboot", "/v1/steady-state"):
            self.send(*error(404, "bad_request", "no such endpoint %s" % self.path))
            return
        with st.lock:
            st.requests += 1
            turn = self.hold()
        late = turn is not None
        if late:
            turn["go"].wait()
        try:
            self.process(body, late)
        finally:
            if late:
                turn["done"].set()

    def hold(self):
        """Under st.lock: queues this request when the server stalls (or is still working
        through held ones: order is kept). Returns its turn, or None to serve it now."""
        st = self.server.st
        s = st.stall
        stalled = s is not None and (s["count"] is None or s["count"] > 0) and \
            (not s["paths"] or self.path in s["paths"])
        if not stalled and not st.flushing:
            return None
        if stalled and s["count"] is not None:
            s["count"] -= 1
        turn = {"go": threading.Event(), "done": threading.Event()}
        st.held.append(turn)
        return turn

    def resume(self):
        """Ends the stall and processes the held requests one after another, in arrival order."""
        st = self.server.st
        n = 0
        with st.lock:
            st.stall = None
            st.flushing = True
        while True:
            with st.lock:
                if not st.held:
                    st.flushing = False
                    return n
                turn = st.held.pop(0)
            turn["go"].set()
            turn["done"].wait(10)
            n += 1

    def process(self, body, late=False):
        st = self.server.st
        with st.lock:
            fault = st.faults.pop(0) if st.faults else None
        header = self.headers.get("fleet-lock-protocol")
        status, answer, ident = self.fleetlock(self.path, header, body, apply=not fault or fault.get("apply", True))
        raw = None
        if fault:
            if fault.get("delay"):
                time.sleep(float(fault["delay"]))
            if fault.get("raw") is not None:
                status, answer, raw = int(fault.get("status", 502)), None, fault["raw"]
            elif fault.get("kind"):
                status, answer = int(fault.get("status", 500)), {"kind": fault["kind"], "value": fault.get("value", "")}
        try:
            parsed = json.loads(body)
        except Exception:
            parsed = body.decode(errors="replace") if body is not None else None
        st.log({"time": time.time(), "path": self.path, "header": header, "body": parsed,
                "id": ident[0], "group": ident[1], "status": status,
                "kind": answer.get("kind") if answer else None, "late": late})
        try:
            self.send(status, answer, raw)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def fleetlock(self, path, header, body, apply=True):
        """Returns (status, error object or None, (id, group))."""
        st = self.server.st
        ident = (None, None)
        if header != "true":
            return error(400, "bad_request", "missing 'fleet-lock-protocol: true' header") + (ident,)
        try:
            req = json.loads(body)
            params = req["client_params"]
            if not isinstance(params, dict):
                raise ValueError("client_params is not an object")
        except Exception as e:
            return error(400, "bad_request", "malformed request body: %s" % e) + (ident,)
        node, group = params.get("id"), params.get("group")
        ident = (node, group)
        if not isinstance(node, str) or not node:
            return error(400, "invalid_client_identity", "empty or missing client id") + (ident,)
        if not isinstance(group, str) or not GROUP_RE.match(group):
            return error(400, "invalid_client_identity", "invalid group %r" % (group,)) + (ident,)
        if node in st.reject:
            return error(400, "invalid_client_identity", "client id %r is not allowed" % node) + (ident,)
        with st.lock:
            if group not in st.slots:
                return error(400, "unknown_group", "unknown group %r" % group) + (ident,)
            holders = st.holders[group]
            if path == "/v1/pre-reboot":
                if node in holders:
                    return 200, None, ident
                if len(holders) >= st.slots[group]:
                    return error(500, "failed_lock", "all %d semaphore slots currently locked" % st.slots[group]) + (ident,)
                if apply:
                    holders.append(node)
                    st.save()
                return 200, None, ident
            if node in holders and apply:
                holders.remove(node)
                st.save()
            return 200, None, ident


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", required=True)
    p.add_argument("--group", action="append", default=[])
    p.add_argument("--log")
    p.add_argument("--state")
    p.add_argument("--reject-id", action="append")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--client-ca")
    args = p.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        if args.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.client_ca)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.daemon_threads = True
    srv.st = State(args)
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
