#!/bin/bash
# SPDX-License-Identifier: MIT
# Detection latency of a flag file: medicd runs the shipped reboot-request check with one flag
# file of its own (reboot-request.conf in a temporary settings_dir); the file is created and
# removed N times (default 100) and each time the time from the write (or unlink) to the
# moment medicd logs the condition's new state is measured (medicd logs every state change at
# once; the log line is timestamped when it arrives). Prints p50/p99/max for both.
# POLL=1 takes the check's `watch` field out: the figure of the minute's poll alone (the
# behaviour before the watch), over a few trials. LINKS=1 also runs bench/links-latency.sh N
# (a link going down and up in network namespaces; needs root).
# Run from a built tree: bash bench/detect-latency.sh [N]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-100}
T=$(mktemp -d /tmp/medic-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
umask 022
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
verify_owner = $( [ "$(id -u)" = 0 ] && echo yes || echo no )
CONF
if [ "${POLL:-0}" = 1 ]; then
        grep -v '^ *watch = ' "$top/checks/reboot-request.lua" > "$T/checks/reboot-request.lua"
else
        cp "$top/checks/reboot-request.lua" "$T/checks/reboot-request.lua"
fi
mkdir "$T/flags"
printf 'files = { "%s" }\n' "$T/flags/reboot-request" > "$T/reboot-request.conf"

python3 - "$top/medicd" "$T/medic.conf" "$T/flags/reboot-request" "$n" "${POLL:-0}" <<'PY'
import os, queue, re, subprocess, sys, threading, time

medicd, conf, flag, n, poll = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1"
d = subprocess.Popen([medicd, "--config", conf], stderr=subprocess.PIPE,
                     env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
changes = queue.Queue()
def reader():
    for line in d.stderr:
        t = time.monotonic()
        m = re.search(rb"Condition reboot-request: \S+ -> (\w+)", line)
        if m:
            changes.put((t, m.group(1).decode()))
threading.Thread(target=reader, daemon=True).start()

def wait_state(want, limit):
    end = time.monotonic() + limit
    while True:
        try:
            t, state = changes.get(timeout=max(0.001, end - time.monotonic()))
        except queue.Empty:
            d.kill()
            raise SystemExit(f"reboot-request did not become {want} within {limit} s")
        if state == want:
            return t

limit = 70 if poll else 5
try:
    wait_state("ok", 10)
    created, removed = [], []
    for i in range(n):
        time.sleep(0.05)
        t0 = time.monotonic()
        with open(flag, "w") as f:
            f.write("bench\n")
        created.append((wait_state("problem", limit) - t0) * 1000)
        time.sleep(0.05)
        t0 = time.monotonic()
        os.unlink(flag)
        removed.append((wait_state("ok", limit) - t0) * 1000)
finally:
    d.terminate()
    d.wait()

def q(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))]

how = "the check's minute poll only (POLL=1)" if poll else "watched with inotify"
print(f"flag file, {n} trials, {how}; time until medicd logs the condition's new state")
print(f"created:  p50={q(created, .5):.2f} ms p99={q(created, .99):.2f} ms max={max(created):.2f} ms")
print(f"removed:  p50={q(removed, .5):.2f} ms p99={q(removed, .99):.2f} ms max={max(removed):.2f} ms")
PY
if [ "${LINKS:-0}" = 1 ]; then
        bash "$top/bench/links-latency.sh" "$n"
fi
