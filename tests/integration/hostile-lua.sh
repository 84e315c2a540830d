#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile Lua cannot stop the daemon (issue 13): a pattern with catastrophic backtracking at
# the top level of a check file (loaded by SIGHUP) or in a check's run, and a check returning
# huge messages and details every second. The control socket answers during and after; the
# old set is kept and the error names file:line; results are capped before they are stored.
. "$top_srcdir/tests/integration/lib.sh"
setup 150

write_file "$T/checks/10-state.lua" <<'EOF'
check "state" {
  every = "1m",
  run = function() return ok("fine") end,
}
EOF

check_names() { ctl_json conditions | jget '" ".join(sorted(c["name"] for c in d["conditions"]))'; }

# status_ms: how long `medicctl status` takes to answer, in milliseconds (a failure prints 99999).
status_ms() {
        local t0 t1
        t0=$(now_ms)
        ctl status >/dev/null 2>&1 || { echo 99999; return; }
        t1=$(now_ms)
        echo $(( t1 - t0 ))
}

start_medicd
ok "condition 'state' is ok" wait_cond state ok 5

# ---- 1. backtracking at the top level of a check file, SIGHUP ----
write_file "$T/checks/20-backtrack.lua" <<'EOF'
-- catastrophic backtracking on line 3
local s = string.rep("a", 30000)
string.find(s, string.rep("a*", 30) .. "b")
check "never" { every = "1m", run = function() return ok() end }
EOF
mark=$(log_mark)
kill -HUP "$MEDICD_PID"
sleep 0.2
ms=$(status_ms)
ok "status answers within 2 s while the hostile file loads (${ms} ms)" test "$ms" -lt 2000
ok "failed reload: log names 20-backtrack.lua:3" \
        wait_for 5 'log_has_since "$mark" "20-backtrack\.lua:3:.*pattern too complex"'
ok "daemon still running" daemon_alive
is "$(check_names)" "state" "failed reload: the old set is kept"
like "$(ctl_json status | jget 'd["last_reload"]["errors"]')" '20-backtrack\.lua:3:' \
        "status: last_reload.errors names 20-backtrack.lua:3"

# gsub and match at the top level are bounded the same way.
write_file "$T/checks/20-backtrack.lua" <<'EOF'
local s = string.rep("a", 30000)
local x = s:gsub(".-.-.-.-.-.-b", "")
check "never" { every = "1m", run = function() return ok() end }
EOF
mark=$(log_mark)
kill -HUP "$MEDICD_PID"
sleep 0.2
ms=$(status_ms)
ok "gsub: status answers within 2 s (${ms} ms)" test "$ms" -lt 2000
ok "gsub: log names 20-backtrack.lua:2" \
        wait_for 5 'log_has_since "$mark" "20-backtrack\.lua:2:.*pattern too complex"'
is "$(check_names)" "state" "gsub: the old set is kept"

# A top level that never ends: the file's load budget is 1 s, the set's 3 s.
write_file "$T/checks/20-backtrack.lua" <<'EOF'
while true do end
EOF
mark=$(log_mark)
kill -HUP "$MEDICD_PID"
sleep 0.2
ms=$(status_ms)
ok "busy top level: status answers within 2 s (${ms} ms)" test "$ms" -lt 2000
ok "busy top level: the error names 20-backtrack.lua and the timeout" \
        wait_for 5 'log_has_since "$mark" "20-backtrack\.lua: execution timeout after 1s"'
is "$(check_names)" "state" "busy top level: the old set is kept"
for f in 21 22 23; do
        write_file "$T/checks/$f-forever.lua" <<'EOF'
local x = 0
while true do x = x + 1 end
EOF
done
t0=$(now_ms)
out=$(ctl reload 2>&1)
t1=$(now_ms)
ok "four busy files: the reload ends within 4.5 s ($(( t1 - t0 )) ms)" test $(( t1 - t0 )) -lt 4500
like "$out" '2[23]-forever\.lua: not loaded: loading the files took longer than 3s in all' \
        "four busy files: the last is not run at all once the set's 3 s are spent"
rm -f "$T"/checks/2[123]-forever.lua

# ---- 1b. backtracking in a check's run, on a long line; ordinary patterns still work ----
write_file "$T/checks/20-backtrack.lua" <<'EOF'
check "long-line" {
  every = "1s",
  timeout = "5s",
  run = function()
    local line = string.rep("a", 30000)
    -- linear patterns on long subjects are fine
    local n = 0
    for w in (line .. "\n" .. line):gmatch("[^\n]+") do n = n + #w end
    assert(n == 60000, "gmatch")
    assert(line:match("^(a+)$") == line, "match")
    assert(select(2, line:gsub("a", "b")) == 30000, "gsub")
    assert(("key=value"):match("^(%w+)=(%w+)$") == "key", "captures")
    string.match(line, "(a*)(a*)(a*)(a*)(a*)(a*)(a*)(a*)(a*)(a*)b")
    return ok("not reached")
  end,
}
EOF
kill -HUP "$MEDICD_PID"
ok "long-line check is loaded" wait_for 5 '[ "$(check_names)" = "long-line state" ]'
ok "long-line check ends unknown" wait_cond long-line unknown 10
like "$(cond_get long-line message)" 'pattern too complex' "long-line: the message says the pattern is too complex"
like "$(cond_get long-line message)" '20-backtrack\.lua:13' "long-line: the message names file:line"
worst=0
for i in 1 2 3 4 5; do
        ms=$(status_ms)
        [ "$ms" -gt "$worst" ] && worst=$ms
        sleep 0.3
done
ok "status answers within 2 s while the check runs every second (worst ${worst} ms)" test "$worst" -lt 2000
rm -f "$T/checks/20-backtrack.lua"

# ---- 2. huge messages and details every second ----
write_file "$T/checks/30-huge.lua" <<'EOF'
local big = string.rep("x", 10 * 1024 * 1024)
local blob = string.rep("y", 1024 * 1024)
check "huge" {
  every = "1s",
  run = function() return problem(big, { blob = blob }) end,
}
EOF
write_config "lua_memory_limit = 256M"
mark=$(log_mark)
kill -HUP "$MEDICD_PID"
ok "huge check is loaded and reports a problem" wait_cond huge problem 10
sleep 3
worst=0
for i in 1 2 3 4 5; do
        ms=$(status_ms)
        [ "$ms" -gt "$worst" ] && worst=$ms
        sleep 0.3
done
ok "status answers within 2 s under huge results (worst ${worst} ms)" test "$worst" -lt 2000
len=$(cond_get huge 'len(c["message"])')
ok "the message is capped (${len} bytes)" test "${len:-99999999}" -le 4200
like "$(cond_get huge message)" '\[truncated 10481664 bytes\]$' "the message ends with the truncation marker"
dlen=$(cond_get huge 'len(json.dumps(c["details"]))')
ok "the details are capped (${dlen} bytes)" test "${dlen:-99999999}" -le 66000
like "$(cond_get huge 'json.dumps(c["details"])')" 'truncated' "the details say they were truncated"
size=$(stat -c %s "$T/state/state.json")
ok "state.json stays small (${size} bytes)" test "$size" -lt 200000
n=$(log_since "$mark" | grep -c 'huge.*truncated')
is "$n" 1 "the truncation is logged once for the check"
ok "daemon still running" daemon_alive

# An error with a huge message is capped the same way, in the log too.
write_file "$T/checks/30-huge.lua" <<'EOF'
local big = string.rep("e", 5 * 1024 * 1024)
check "huge" {
  every = "1s",
  run = function() error(big, 0) end,
}
EOF
kill -HUP "$MEDICD_PID"
ok "huge error: the check ends unknown" wait_for 10 '[ "$(cond_get huge state)" = unknown ] && [ "$(cond_get huge "len(c[\"message\"])")" -lt 5000 ]'
like "$(cond_get huge message)" '^e+… \[truncated 5238784 bytes\]$' "huge error: capped with the marker"
mark=$(log_mark)
sleep 3
grown=$(( $(log_mark) - mark ))
ok "huge error: the log grows by less than 100 KB in 3 s (${grown} bytes)" test "$grown" -lt 100000
stop_medicd

# ---- 3. a state file with 100,000 firing times in descending order ----
rm -f "$T/checks/30-huge.lua"
write_config
python3 - "$T/state/state.json" <<'PY'
import json, sys, time
now = int(time.time()) * 1000000
fired = [now - i * 1000000 for i in range(100000)]          # newest first
json.dump({"version": 1, "conditions": {},
           "rules": {"busy": {"fired": fired, "last_fired": now // 1000000}},
           "disruptions": fired}, open(sys.argv[1], "w"))
PY
t0=$(now_ms)
start_medicd
t1=$(now_ms)
ok "medicd answers within 3 s of starting on 100,000 descending firing times ($(( t1 - t0 )) ms)" \
        test $(( t1 - t0 )) -lt 3000
ok "the state file is written back with at most 1024 firing times" \
        wait_for 10 '[ "$(jget "len(d[\"rules\"][\"busy\"][\"fired\"])" < "$T/state/state.json")" -le 1024 ]'

done_testing
