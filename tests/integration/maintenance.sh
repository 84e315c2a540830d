#!/bin/bash
# SPDX-License-Identifier: MIT
# The maintenance remedy with the local coordinator: permission, drain tasks, the node held
# out while the condition stays (also across a restart of medicd), undrain tasks and the
# release once it is ok again; a failing drain is undone, escalated and gives the permission
# back. With a settle: the permission is kept after the undrain until the health checks have
# been ok for the settle time, a sick node keeps it (came-back-sick after settle_timeout), a
# restart during the settle settles again on fresh observations.
. "$top_srcdir/tests/integration/lib.sh"
setup 150

mkdir -p "$T/drain.d" "$T/undrain.d"
cat > "$T/notify" <<EOF
#!/bin/sh
echo "\$1 \$MEDIC_RULE" >> $T/notified
EOF
chmod 0755 "$T/notify"
sed -i "/^\[reboot\]/a notify_command = $T/notify\nmax_disruptions = 20/1h" "$T/medic.conf"
write_file "$T/drain.d/10-cordon" <<EOF
#!/bin/sh
echo "cordon \$MEDIC_RULE \$MEDIC_CONDITION" >> $T/tasks
EOF
write_file "$T/undrain.d/90-uncordon" <<EOF
#!/bin/sh
echo "uncordon \$MEDIC_RULE" >> $T/tasks
EOF
chmod 0755 "$T/drain.d/10-cordon" "$T/undrain.d/90-uncordon"
write_file "$T/checks/10-hw.lua" <<EOF
check "ipmi-critical" { every = "1s", run = function()
  if medic.exists("$T/broken") then return problem("PSU 2 Critical") end
  return ok("all sensors nominal")
end }
EOF
write_file "$T/rules/10-maint.lua" <<EOF
rule "hardware-failure" {
  when = "ipmi-critical",
  remedy = maintenance { drain = "$T/drain.d", undrain = "$T/undrain.d" },
  limit = "5/1h",
}
EOF
holder() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("holder"))' "$T/state/coordinator.json" 2>/dev/null; }

start_medicd
touch "$T/broken"
ok "the drain tasks run with the permission" wait_for 10 "grep -qx 'cordon hardware-failure ipmi-critical' $T/tasks"
is "$(holder)" hardware-failure "the local slot is held by the rule"
ok "the node is held out" wait_for 5 "[ \"\$(rule_get hardware-failure maintenance)\" = holding ]"
sleep 2
is "$(grep -c uncordon "$T/tasks")" 0 "no undrain while the condition stays"

stop_medicd
start_medicd
is "$(rule_get hardware-failure maintenance)" holding "a restart keeps the node held out"
ok "the drain does not run again after the restart" test "$(grep -c cordon "$T/tasks")" -eq 1

rm -f "$T/broken"
ok "repaired: the undrain tasks run" wait_for 10 "grep -qx 'uncordon hardware-failure' $T/tasks"
ok "the permission is given back" wait_for 5 '[ "$(holder)" = None ]'
is "$(rule_get hardware-failure maintenance)" null "maintenance is over"
ok "the history says so" wait_for 5 "ctl_json history | grep -q '\"decision\": \"done\"'"

# A failing drain: undone, escalated, permission back.
write_file "$T/drain.d/20-fail" <<'EOF'
#!/bin/sh
echo "cannot evict pod db-0" >&2
exit 1
EOF
chmod 0755 "$T/drain.d/20-fail"
mark=$(log_mark)
touch "$T/broken"
ok "a failing drain is reported" wait_for 10 "log_has_since $mark 'drain failed: .*cannot evict pod db-0'"
ok "it is undone with the undrain tasks" wait_for 10 "[ \$(grep -c uncordon $T/tasks) -eq 2 ]"
ok "the permission is given back" wait_for 5 '[ "$(holder)" = None ]'
ok "the failure is escalated" wait_for 5 "grep -q '^drain-failed hardware-failure' $T/notified"
rm -f "$T/broken"
stop_medicd

# ---- the settle: the permission is kept until the node has been healthy for settle ------------
rm -f "$T/drain.d/20-fail"
# (a condition of its own: ipmi-critical, toggled above, is flapping)
write_file "$T/checks/20-app.lua" <<EOF
check "disk-critical" { every = "1s", run = function()
  if medic.exists("$T/disk-bad") then return problem("disk 3 failed") end
  return ok("disks nominal")
end }
check "app" { every = "1s", health = true, run = function()
  if medic.exists("$T/sick") then return problem("app is down") end
  return ok("app is up")
end }
EOF
write_file "$T/rules/20-disk.lua" <<EOF
rule "disk-failure" {
  when = "disk-critical",
  remedy = maintenance { drain = "$T/drain.d", undrain = "$T/undrain.d", settle = "5s", settle_timeout = "8s" },
  limit = "5/1h",
}
EOF
phase() { rule_get disk-failure maintenance; }
# htime DECISION: the time of the last history entry of disk-failure with DECISION.
htime() { ctl_json history --limit 500 | jget '[e["time"] for e in d["history"] if e.get("rule") == "disk-failure" and e.get("decision") == "'"$1"'"][-1]'; }
start_medicd
touch "$T/disk-bad"
ok "settle: drained and held out" wait_for 10 '[ "$(phase)" = holding ]'
rm -f "$T/disk-bad"
ok "repaired: undrained, the node settles" wait_for 10 '[ "$(phase)" = settling ]'
is "$(holder)" disk-failure "the slot is held while the node settles"
like "$(ctl_json explain disk-failure | jget 'd["reason"]')" "in maintenance \(settling for .*every health condition ok for 5s" \
        "explain: what the settle waits for"
like "$(ctl_json explain disk-failure | jget 'd["maintenance"]["waiting_for"]')" "ok for 5s" "explain: the maintenance object"
like "$(ctl status)" "maintenance: +settling for rule disk-failure since " "medicctl status: the settle, since when"
ok "healthy for 5s: the permission is given back" wait_for 15 '[ "$(holder)" = None ]'
t0=$(htime settling) t1=$(htime done)
ok "not released before 5s of health (settling at $t0, done at $t1)" test "$(( t1 - t0 ))" -ge 5
is "$(phase)" null "the maintenance is over"
is "$(ctl_json status | jget 'd["maintenance"]')" "[]" "status: no maintenance"

# A node sick after the maintenance keeps the permission; past settle_timeout it came back sick.
touch "$T/disk-bad"
ok "sick: drained and held out" wait_for 10 '[ "$(phase)" = holding ]'
touch "$T/sick"
rm -f "$T/disk-bad"
ok "sick: undrained, settling" wait_for 10 '[ "$(phase)" = settling ]'
ok "explain names the sick health check" \
        wait_for 3 "ctl_json explain disk-failure | jget 'd[\"reason\"]' | grep -q 'app is problem: app is down'"
ok "sick: the permission is kept" never_within 5 '[ "$(holder)" = None ]'
ok "not healthy within settle_timeout: came-back-sick is escalated" \
        wait_for 10 "grep -q '^came-back-sick disk-failure' $T/notified"
ok "the message says so" log_has "not healthy 8s after the maintenance: app is problem"
is "$(holder)" disk-failure "came back sick: the slot stays held"

# A restart during the settle does not release early: it settles again on fresh observations.
rm -f "$T/sick"
ok "healthy again" wait_for 10 "ctl_json explain disk-failure | grep -q 'healthy for'"
sleep 3
stop_medicd
start_medicd
is "$(phase)" settling "a restart keeps the node settling"
is "$(holder)" disk-failure "and the slot held"
ok "settling again after the restart (log)" wait_for 5 "log_has 'restarted during the settle; settling again on fresh observations'"
started=$(ctl_json status | jget 'd["started"]')
ok "5s of health observed after the restart: released" wait_for 15 '[ "$(holder)" = None ]'
t1=$(htime done)
ok "no early release after the restart (started at $started, done at $t1)" test "$(( t1 - started ))" -ge 5
is "$(grep -c '^came-back-sick' "$T/notified")" 1 "came-back-sick was escalated once"
stop_medicd
done_testing
