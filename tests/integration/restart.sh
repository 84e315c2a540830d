#!/bin/bash
# SPDX-License-Identifier: MIT
# State survives a crash (SIGKILL): conditions keep their `since`, a rule does not fire again
# within its retry window, rate-limit counts persist. A corrupt state.json is moved aside.
. "$top_srcdir/tests/integration/lib.sh"
setup 90

echo ok > "$T/state-file"

write_file "$T/checks/10-state.lua" <<EOF
check "state" {
  every = "1s",
  run = function()
    local s = medic.read("$T/state-file") or ""
    if s:match("problem") then
      return problem("state file says problem")
    end
    return ok("state file says ok")
  end,
}
EOF

write_file "$T/rules/10-fix.lua" <<EOF
rule "fix" {
  when = "state",
  remedy = command { "/bin/sh", "-c", "echo fired >> $T/fired" },
  limit = "3/1h",
  retry = "1m",
}
EOF

start_medicd
first_pid=$MEDICD_PID
ok "condition ok at first" wait_cond state ok 5
echo problem > "$T/state-file"
ok "condition becomes problem" wait_cond state problem 5
ok "remedy fires once" wait_for 5 '[ "$(count_lines "$T/fired")" -ge 1 ]'
ok "rules shows used = 1" wait_for 5 '[ "$(rule_get fix used)" = 1 ]'
since_before=$(cond_get state since)
fired_before=$(rule_get fix last_fired)
like "$since_before" '^[0-9]+$' "condition has a since ($since_before)"
# Let a check run or two pass so that `since` is clearly not "now".
sleep 2
ok "state.json exists" test -s "$T/state/state.json"

# ---- crash and start again ----
kill_medicd
ok "medicd was killed" sh -c "! kill -0 $first_pid 2>/dev/null"
rm -f "$T/medicd.sock"          # a crash leaves the socket behind; it must not matter
start_medicd
ok "medicd came back with a new pid" test "$MEDICD_PID" != "$first_pid"

is "$(cond_get state state)" problem "after restart: condition is problem"
is "$(cond_get state since)" "$since_before" "after restart: condition keeps its since"
is "$(rule_get fix used)" 1 "after restart: rule used is still 1"
is "$(rule_get fix last_fired)" "$fired_before" "after restart: last_fired unchanged"
# A few check runs later: still no second firing (retry is 1m, and the episode continues).
sleep 4
is "$(cond_get state state)" problem "after restart: condition still problem after more runs"
is "$(cond_get state since)" "$since_before" "after restart: since unchanged after more runs"
is "$(count_lines "$T/fired")" 1 "after restart: remedy did not run a second time"
is "$(rule_get fix used)" 1 "after restart: rules used unchanged (1)"

# A clean stop and start keeps the state too.
stop_medicd
ok "medicd stops on SIGTERM within 5 s" test $? -eq 0
start_medicd
is "$(cond_get state since)" "$since_before" "after clean restart: since unchanged"
sleep 2
is "$(count_lines "$T/fired")" 1 "after clean restart: remedy did not run again"
stop_medicd

# ---- corrupt state.json ----
printf '{"version": 1, "conditions": {"state": {"state": "prob' > "$T/state/state.json"
head -c 300 /dev/urandom >> "$T/state/state.json"
mark=$(log_mark)
if try_start_medicd; then
        pass "medicd starts with a corrupt state.json"
else
        fail "medicd starts with a corrupt state.json"
        done_testing
fi
ok "corrupt file moved aside as state.json.corrupt-*" \
        sh -c "ls '$T/state'/state.json.corrupt-* >/dev/null 2>&1"
ok "log has an error about the corrupt state" \
        wait_for 3 'log_since "$mark" | grep -E ": (error|err|crit|alert|emerg): " | grep -qiE "state|corrupt"'
diag "$(log_since "$mark" | grep -iE 'corrupt' | head -n 3)"
# Started clean: the condition comes back from a fresh run.
ok "after corrupt state: condition state is problem (fresh run)" wait_cond state problem 5
since_new=$(cond_get state since)
ok "after corrupt state: since is new ($since_new > $since_before)" test "${since_new:-0}" -gt "$since_before"
ok "daemon still running" daemon_alive
stop_medicd
ok "a fresh state.json was written" \
        sh -c "python3 -c 'import json,sys; json.load(open(sys.argv[1]))' '$T/state/state.json'"

done_testing
