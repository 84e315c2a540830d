#!/bin/bash
# SPDX-License-Identifier: MIT
# Event-to-condition latency of the links check: medicd runs in a network namespace with a
# veth pair whose peer sits in a second namespace; the peer is downed and upped N times
# (default 200) and each time the time from the `ip link set` call to the `links`
# condition's state change is measured: medicd logs every state change at once, and the
# log line is timestamped when it arrives. Prints p50/p99/max.
# Needs root (network namespaces). Run from a built tree: bash bench/links-latency.sh [N]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-200}
[ "$(id -u)" = 0 ] || { echo "links-latency: needs root (network namespaces)" >&2; exit 1; }
NS=medic-bench-$$
PEER=medic-bpeer-$$
T=$(mktemp -d /tmp/medic-bench.XXXXXX)
cleanup() {
        ip netns del "$NS" 2>/dev/null
        ip netns del "$PEER" 2>/dev/null
        rm -rf "$T"
}
trap cleanup EXIT
umask 022
ip netns add "$NS"
ip netns add "$PEER"
# Different ifindexes on the two ends: the kernel reports the carrier change at once
# instead of batching it in linkwatch (up to 1 s), so this measures medicd, not linkwatch.
ip -n "$NS" link add va index 10 type veth peer name vb index 20 netns "$PEER"
ip -n "$NS" link set va up
ip -n "$PEER" link set vb up

mkdir -p "$T/checks" "$T/rules"
cat > "$T/medic.conf" <<CONF
[medic]
checks = $T/checks
rules = $T/rules
state_dir = $T/state
socket = $T/medicd.sock
stop_file = $T/stop
settings_dir = $T
dry_run = yes
log_level = info
CONF
cp "$top/checks/links.lua" "$T/checks/links.lua"
printf 'interfaces = { "va" }\nflapping = "off"\n' > "$T/links.conf"

python3 - "$top/medicd" "$T/medic.conf" "$NS" "$PEER" "$n" <<'PY'
import queue, re, subprocess, sys, threading, time

medicd, conf, ns, peer, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
# medicd logs every state change of a condition to stderr at once (unbuffered); a thread
# stamps each line as it arrives, so nothing polls the daemon while it works.
d = subprocess.Popen(["ip", "netns", "exec", ns, medicd, "--config", conf],
                     stderr=subprocess.PIPE, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
changes = queue.Queue()
def reader():
    for line in d.stderr:
        t = time.monotonic()
        m = re.search(rb"Condition links: \S+ -> (\w+)", line)
        if m:
            changes.put((t, m.group(1).decode()))
threading.Thread(target=reader, daemon=True).start()

def wait_state(want, limit=5.0):
    end = time.monotonic() + limit
    while True:
        try:
            t, state = changes.get(timeout=max(0.001, end - time.monotonic()))
        except queue.Empty:
            d.kill()
            raise SystemExit(f"links did not become {want} within {limit} s")
        if state == want:
            return t

try:
    wait_state("ok", 10)
    from_call, ip_run = [], []
    for i in range(n):
        for action, want in (("down", "problem"), ("up", "ok")):
            t0 = time.monotonic()
            subprocess.run(["ip", "-n", peer, "link", "set", "vb", action], check=True)
            t1 = time.monotonic()
            t2 = wait_state(want)
            from_call.append((t2 - t0) * 1000)
            ip_run.append((t1 - t0) * 1000)
finally:
    d.terminate()
    d.wait()

def q(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))]

print(f"{len(from_call)} link changes (peer down/up x {n}); time until medicd logs the condition's new state")
print(f"from the ip link set call:  p50={q(from_call, .5):.2f} ms p99={q(from_call, .99):.2f} ms max={max(from_call):.2f} ms")
print(f"(ip link set itself ran:    p50={q(ip_run, .5):.2f} ms p99={q(ip_run, .99):.2f} ms; the change often reaches the condition before ip exits)")
PY
