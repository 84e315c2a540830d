#!/bin/bash
# SPDX-License-Identifier: MIT
# Cost of one scan of /proc/*/maps for deleted shared libraries: medic.deleted_libraries()
# (C, lua/lua-procmaps.c) against the same scan written in Lua (deleted_libraries_lua in
# checks/deleted-libraries.lua), inside a running medicd. Starts PROCS extra processes
# (default 300) that map a copy of libz which is then deleted, so both scans have work.
# Run from a built tree: bash bench/deleted-libraries.sh [PROCS] [ROUNDS]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
procs=${1:-300}
rounds=${2:-20}
T=$(mktemp -d /tmp/medic-bench.XXXXXX)
pids=()
cleanup() {
        [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
        wait 2>/dev/null
        rm -rf "$T"
}
trap cleanup EXIT
umask 022
mkdir -p "$T/checks" "$T/rules" "$T/lib"
lib=$(ldconfig -p | sed -n 's/.*libz\.so\.1 .*=> //p' | head -1)
cp "$lib" "$T/lib/libbench.so.1"
for _ in $(seq "$procs"); do
        LD_PRELOAD="$T/lib/libbench.so.1" sleep 600 &
        pids+=($!)
done
sleep 0.5
rm -f "$T/lib/libbench.so.1"
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
# The bench check loads the shipped check file's text to get its Lua scan, then times both.
cat > "$T/checks/bench.lua" <<LUA
local env = setmetatable({ check = function() return function() end end }, { __index = _ENV })
assert(load(medic.read("$top/checks/deleted-libraries.lua"), "deleted-libraries.lua", "t", env))()
local function measure(f)
  local wall, cpu, n, procs = {}, {}, 0, 0
  for i = 1, $rounds do
    local w0, c0 = medic.now(), os.clock()
    local found, scanned = f()
    wall[i], cpu[i] = (medic.now() - w0) * 1000, (os.clock() - c0) * 1000
    n, procs = #found, scanned
  end
  table.sort(wall) table.sort(cpu)
  return string.format("scanned=%d found=%d wall p50=%.1f ms max=%.1f ms, cpu p50=%.1f ms",
                       procs, n, wall[(#wall + 1) // 2], wall[#wall], cpu[(#cpu + 1) // 2])
end
check "bench" { every = "1h", timeout = "5m", run = function()
  local c = measure(function() return medic.deleted_libraries() end)
  local s = measure(function() return env.deleted_libraries_c("/proc") end)
  local l = measure(function() return env.deleted_libraries_lua("/proc") end)
  -- the longest single call of a sliced scan: how long the C code holds the event loop
  local hold = 0
  for _ = 1, $rounds do
    local after = 0
    repeat
      local t0 = medic.now()
      local _, _, nxt = medic.deleted_libraries { after = after, max_ms = 5 }
      hold = math.max(hold, (medic.now() - t0) * 1000)
      after = nxt
    until not after
  end
  return ok("C, one call:       " .. c .. "\nC, 5 ms slices:    " .. s ..
            string.format(" (longest slice %.1f ms)", hold) .. "\nLua (10 ms slices): " .. l)
end }
LUA
"$top/medicd" --config "$T/medic.conf" 2>"$T/log" &
pid=$!
for _ in $(seq 600); do
        out=$("$top/medicctl" --socket "$T/medicd.sock" --json conditions 2>/dev/null |
              python3 -c 'import json,sys; c=[x for x in json.load(sys.stdin)["conditions"] if x["name"]=="bench"]; print(c[0]["state"] + "\n" + c[0]["message"] if c else "")' 2>/dev/null || true)
        [ -n "$out" ] && break
        sleep 0.5
done
echo "$(ls -d /proc/[0-9]* | wc -l) processes, $rounds rounds each"
echo "$out" | tail -n +2
