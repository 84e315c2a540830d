#!/bin/bash
# SPDX-License-Identifier: MIT
# medic.http and http_check against real HTTP servers on loopback: a small Python server
# written for the test (status codes, an echo of the request, a handler that never answers)
# over plain HTTP and over TLS with a test CA made with openssl, and a port nobody listens on.
. "$top_srcdir/tests/integration/lib.sh"
command -v openssl >/dev/null || { echo "1..0 # SKIP openssl is not installed"; exit 0; }
setup 90

# ---- servers -------------------------------------------------------------------------------
cat > "$T/server.py" <<'PY'
import http.server, socketserver, ssl, sys, time

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def reply(self, code, body):
        b = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(n).decode() if n else ""
        if self.path == "/ok":
            self.reply(200, "hello from medic's test server\n")
        elif self.path.startswith("/status/"):
            self.reply(int(self.path.split("/")[2]), "status page\n")
        elif self.path == "/echo":
            self.reply(200, "method=%s x-test=%s body=%s" % (self.command, self.headers.get("X-Test"), data))
        elif self.path == "/big":
            self.reply(200, "x" * 100000)
        elif self.path == "/never":
            time.sleep(3600)
        else:
            self.reply(404, "no such page\n")
    do_GET = do_POST = do_PUT = handle_any

class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

srv = S(("127.0.0.1", 0), H)
if len(sys.argv) > 2:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(sys.argv[1], "w") as f:
    f.write(str(srv.server_address[1]))
srv.serve_forever()
PY

# A test CA and a server certificate for 127.0.0.1.
test_pki "$T/tls"

python3 "$T/server.py" "$T/http.port" > "$T/http.log" 2>&1 &
track_pid $!
python3 "$T/server.py" "$T/https.port" "$T/tls/server.pem" "$T/tls/server.key" > "$T/https.log" 2>&1 &
track_pid $!
wait_for 10 "[ -s $T/http.port ] && [ -s $T/https.port ]" || bail_out "the test servers did not start"
HTTP="http://127.0.0.1:$(cat "$T/http.port")"
HTTPS="https://127.0.0.1:$(cat "$T/https.port")"
# A port nobody listens on: bound once, then closed.
REFUSED=$(free_port)
curl -sf "$HTTP/ok" >/dev/null || bail_out "the HTTP test server does not answer"

# ---- libcurl is loaded when the first HTTP client is made, not before ------------------------
# The local coordinator and no HTTP check: medicd maps no libcurl (nor the TLS libraries it
# brings). The same medicd below, with HTTP checks, maps it.
write_file "$T/checks/00-plain.lua" <<EOF
check "plain" { every = "1s", run = function() return ok("plain") end }
EOF
start_medicd
ok "no HTTP client: the check ran" wait_cond plain ok 10
ok "no HTTP client: libcurl is not mapped" bash -c "! grep -q 'libcurl' /proc/$MEDICD_PID/maps"
ok "no HTTP client: no TLS library is mapped" bash -c "! grep -Eq 'lib(ssl|crypto|gnutls)\\.' /proc/$MEDICD_PID/maps"
stop_medicd
rm -f "$T/checks/00-plain.lua"

# ---- checks --------------------------------------------------------------------------------
write_file "$T/checks/10-http.lua" <<EOF
http_check "web-ok"      { url = "$HTTP/ok", match = "hello from medic", every = "1s" }
http_check "web-status"  { url = "$HTTP/status/503", every = "1s" }
http_check "web-created" { url = "$HTTP/status/201", expect_status = { 200, 201 }, every = "1s" }
http_check "web-body"    { url = "$HTTP/ok", match = "^goodbye", every = "1s" }
http_check "web-refused" { url = "http://127.0.0.1:$REFUSED/", every = "1s" }
http_check "web-down"    { url = "http://127.0.0.1:$REFUSED/", every = "1s", on_error = "problem" }
http_check "tls-ok"      { url = "$HTTPS/ok", ca_file = "$T/tls/ca.pem", every = "1s" }
http_check "tls-untrusted" { url = "$HTTPS/ok", every = "1s" }
http_check "tls-insecure"  { url = "$HTTPS/ok", insecure = true, every = "1s" }
EOF
write_file "$T/checks/20-api.lua" <<EOF
check "echo" { every = "1s", run = function()
  local r, err = medic.http { url = "$HTTP/echo", method = "PUT", body = "ping",
                              headers = { ["X-Test"] = "yes" }, timeout = "5s" }
  if not r then return unknown(err) end
  return ok(r.body, { status = r.status, duration = r.duration })
end }
check "big" { every = "1s", run = function()
  local r, err = medic.http { url = "$HTTP/big", max_body = 1000 }
  if not r then return unknown(err) end
  return ok(#r.body .. " " .. tostring(r.truncated))
end }
-- The request waits forever; the check's 2 s timeout bounds it.
check "never" { every = "30s", timeout = "2s", run = function()
  local t0 = medic.now()
  local r, err = medic.http { url = "$HTTP/never" }
  if not r then return unknown(string.format("%s (after %.1fs)", err, medic.now() - t0)) end
  return ok("answered?")
end }
local n = 0
check "tick" { every = "1s", run = function() n = n + 1; return ok(tostring(n)) end }
EOF

start_medicd
ok "http_check: 200 with a matching body is ok" wait_cond web-ok ok 10
like "$(cond_get web-ok message)" 'status 200 in [0-9.]+s' "the ok message has the status and the time"
ok "http_check: status 503 is a problem" wait_cond web-status problem 10
like "$(cond_get web-status message)" 'status 503, expected 200' "the message says what came and what was expected"
is "$(cond_get web-status 'c["details"]["status"]')" 503 "details carry the status"
ok "http_check: expect_status accepts a list" wait_cond web-created ok 10
ok "http_check: a body that does not match is a problem" wait_cond web-body problem 10
like "$(cond_get web-body message)" "body does not match '\\^goodbye'" "the message names the pattern"
ok "http_check: connection refused is unknown" wait_cond web-refused unknown 10
like "$(cond_get web-refused message)" "127\\.0\\.0\\.1:$REFUSED.*(refused|connect)" "the message is the connection error"
ok "http_check: on_error = problem makes it a problem" wait_cond web-down problem 10
ok "TLS with the test CA is ok" wait_cond tls-ok ok 10
ok "TLS without the CA is unknown" wait_cond tls-untrusted unknown 10
like "$(cond_get tls-untrusted message)" '[Cc]ertificate|SSL' "the message is the TLS error"
ok "TLS with insecure = true is ok" wait_cond tls-insecure ok 10
ok "with HTTP checks libcurl is mapped" grep -q 'libcurl\.so' "/proc/$MEDICD_PID/maps"

ok "medic.http sends method, headers and body" wait_cond echo ok 10
is "$(cond_get echo message)" "method=PUT x-test=yes body=ping" "the server saw PUT, the header and the body"
ok "max_body truncates" wait_cond big ok 10
is "$(cond_get big message)" "1000 true" "1000 bytes kept, truncated = true"

# The server that never answers: unknown within the check's 2 s timeout, and meanwhile the
# 1-second check keeps its schedule.
ok "a server that never answers: unknown" wait_cond never unknown 10
msg=$(cond_get never message)
diag "never: $msg"
like "$msg" 'timed out after 1\.[0-9]s \(after 1\.[0-9]s\)' "medic.http gave up before the check's 2 s timeout (nil, err)"
dur=$(cond_get never 'c["duration_ms"]')
ok "the run took less than its 2 s timeout (${dur} ms)" test "${dur:-99999}" -lt 2000
started=$(ctl_json status | jget 'd["started"]')
since=$(cond_get never since)
ok "unknown within 3 s of medicd's start (the first run starts within 1 s)" test $((since - started)) -le 3
a=$(cond_get tick message); sleep 3; b=$(cond_get tick message)
diag "tick: $a -> $b"
ok "the 1-second check kept running ($a -> $b in 3 s)" test $((b - a)) -ge 2
# While a request hangs, another run of the same check times out cleanly: run it again now.
ctl run-check never > "$T/run-check.out" 2>&1
like "$(cat "$T/run-check.out")" 'unknown' "run-check of the hanging request answers unknown"
ok "medicd is still running" daemon_alive

# A reload while a request hangs cancels it (no crash, no late completion).
ctl run-check never > /dev/null 2>&1 &
sleep 0.5
kill -HUP "$MEDICD_PID"
sleep 2
ok "reload during a hanging request: medicd still runs" daemon_alive
ok "and still answers" eval "ctl status >/dev/null"
stop_medicd
ok "no 'BUG' or crash in the log" bash -c "! grep -Eq 'BUG|assert|Lua panic' '$T/medicd.log'"
done_testing
