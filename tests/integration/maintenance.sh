#!/bin/bash
# SPDX-License-Identifier: MIT
# The maintenance remedy with the local coordinator: permission, drain tasks, the node held
# out while the condition stays (also across a restart of medicd), undrain tasks and the
# release once it is ok again; a failing drain is undone, escalated and gives the permission
# back.
. "$top_srcdir/tests/integration/lib.sh"
setup 90

mkdir -p "$T/drain.d" "$T/undrain.d"
cat > "$T/notify" <<EOF
#!/bin/sh
echo "\$1 \$MEDIC_RULE" >> $T/notified
EOF
chmod 0755 "$T/notify"
sed -i "/^\[reboot\]/a notify_command = $T/notify" "$T/medic.conf"
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
done_testing
