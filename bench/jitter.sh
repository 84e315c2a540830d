#!/bin/bash
# SPDX-License-Identifier: MIT
# Schedule jitter of a 1-second check while other checks misbehave: one spins in a busy
# loop until its 2 s timeout, one waits on a command that never ends. Run from a built
# tree: bash bench/jitter.sh [SECONDS]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
T=$(mktemp -d /tmp/medic-bench.XXXXXX)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$T"' EXIT
umask 022
mkdir -p "$T/checks" "$T/rules"
cat > "$T/medic.conf" <<CONF
[medic]
checks = checks
rules = rules
state_dir = state
socket = medicd.sock
stop_file = stop
dry_run = yes
verify_owner = $( [ "$(id -u)" = 0 ] && echo yes || echo no )
CONF
cat > "$T/checks/busy.lua" <<'LUA'
check "busy" { every = "3s", timeout = "2s", run = function() while true do end end }
LUA
cat > "$T/checks/hang.lua" <<'LUA'
check "hang" { every = "3s", timeout = "2s", run = function() medic.exec { "sleep", "60" } return ok() end }
LUA
cat > "$T/checks/tick.lua" <<LUA
check "tick" { every = "1s", run = function()
  medic.exec { "/bin/sh", "-c", "date +%s.%N >> $T/ticks" } return ok() end }
LUA
"$top/medicd" --config "$T/medic.conf" 2>"$T/log" &
pid=$!
sleep "$secs"
python3 - "$T/ticks" "$secs" <<'PY'
import sys
t = [float(x) for x in open(sys.argv[1]).read().split()]
d = sorted(abs((b - a) - 1.0) * 1000 for a, b in zip(t, t[1:]))
q = lambda p: d[min(len(d) - 1, int(p * len(d)))]
print(f"ticks={len(t)} over {sys.argv[2]} s; deviation from 1 s: p50={q(0.5):.1f} ms p99={q(0.99):.1f} ms max={d[-1]:.1f} ms")
PY
