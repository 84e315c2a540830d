#!/bin/bash
# SPDX-License-Identifier: MIT
# The maintenance remedy decided again after its drain tasks (rule_recheck()): when a blocker
# (the rule's unless) turned problem, or the local stop file appeared, while the drain ran, the
# maintenance is abandoned: the undrain tasks run, the local slot is given back and the history
# says "abandoned". Positive control first: with nothing changed it goes on to hold the node.
. "$top_srcdir/tests/integration/lib.sh"
setup 80

write_config "flapping = 100/1h"     # each case below clears the trigger and sets it again
mkdir -p "$T/drain.d" "$T/undrain.d"
reboot_settings "max_disruptions = 20/1h"
# The drain takes 3 s: time for a blocker check (every second) to see the change.
write_file "$T/drain.d/10-cordon" <<EOF
#!/bin/sh
echo "start \$MEDIC_RULE" >> $T/drain
sleep 3
echo "end \$MEDIC_RULE" >> $T/drain
EOF
write_file "$T/undrain.d/90-uncordon" <<EOF
#!/bin/sh
echo "uncordon \$MEDIC_RULE" >> $T/undrain
EOF
chmod 0755 "$T/drain.d/10-cordon" "$T/undrain.d/90-uncordon"
write_file "$T/checks/10-hw.lua" <<EOF
check "ipmi-critical" { every = "1s", run = function()
  if medic.exists("$T/broken") then return problem("PSU 2 Critical") end
  return ok("all sensors nominal")
end }
check "blocker" { every = "1s", run = function()
  if medic.exists("$T/blocked") then return problem("a long job is running") end
  return ok("no job")
end }
EOF
write_file "$T/rules/10-maint.lua" <<EOF
rule "hardware-failure" {
  when = "ipmi-critical",
  unless = { "blocker" },
  remedy = maintenance { drain = "$T/drain.d", undrain = "$T/undrain.d" },
  limit = "10/1h",
}
EOF
phase() { rule_get hardware-failure maintenance; }
abandoned() { history_reasons hardware-failure abandoned; }
# n_entries DECISION: how many history entries of the rule have that decision.
n_entries() { history_reasons hardware-failure "$1" | grep -c . ; }
# episode_end: the trigger clears and the node is back in service.
episode_end() {
        rm -f "$T/broken"
        wait_cond ipmi-critical ok
}

start_medicd

# ---- control: nothing changes while the drain runs: the node is held out -----------------------
touch "$T/broken"
ok "control: the drain tasks run" wait_for 10 "[ \$(count_lines $T/drain) -ge 1 ]"
is "$(local_holder)" hardware-failure "control: the local slot is held for the rule"
ok "control: after the drain the node is held out" wait_for 10 '[ "$(phase)" = holding ]'
is "$(count_lines "$T/undrain")" 0 "control: no undrain"
is "$(abandoned)" "" "control: nothing abandoned"
episode_end
ok "control: repaired, undrained" wait_for 10 "[ \$(count_lines $T/undrain) -eq 1 ]"
ok "control: the slot is free again" wait_for 5 '[ "$(local_holder)" = null ]'
is "$(n_entries done)" 1 "control: the history says the maintenance is done"

# ---- (1) a blocker turns problem while the drain tasks run ------------------------------------
touch "$T/broken"
ok "(1) the drain tasks run" wait_for 10 "[ \$(count_lines $T/drain) -ge 3 ]"
touch "$T/blocked"
ok "(1) the blocker turns problem while they run" wait_cond blocker problem 5
ok "(1) ... before the drain ends" test "$(count_lines "$T/drain")" -eq 3
ok "(1) the drain ends" wait_for 10 "[ \$(count_lines $T/drain) -eq 4 ]"
ok "(1) the maintenance is abandoned: the undrain tasks run" wait_for 10 "[ \$(count_lines $T/undrain) -eq 2 ]"
ok "(1) the local slot is given back" wait_for 5 '[ "$(local_holder)" = null ]'
is "$(status_holder)" null "(1) medicctl status: no holder"
is "$(phase)" null "(1) the rule is not in maintenance"
like "$(abandoned)" "blocker" "(1) the history has an 'abandoned' entry naming the blocker"
is "$(n_entries undone)" 1 "(1) ... then an 'undone' entry once undrained"
is "$(n_entries done)" 1 "(1) ... and no 'done' entry for the abandoned maintenance"
sleep 3
ok "(1) it does not start again while blocked" test "$(count_lines "$T/drain")" -eq 4 -a "$(local_holder)" = null
episode_end
rm -f "$T/blocked"
wait_cond blocker ok

# ---- (2) the local stop file appears while the drain tasks run ---------------------------------
touch "$T/broken"
ok "(2) the drain tasks run" wait_for 10 "[ \$(count_lines $T/drain) -ge 5 ]"
touch "$T/stop"
ok "(2) medicctl status: stopped" wait_for 5 '[ "$(ctl_json status | jget "d[\"coordinator\"][\"stopped\"]")" = true ]'
ok "(2) ... before the drain ends" test "$(count_lines "$T/drain")" -eq 5
ok "(2) the drain ends" wait_for 10 "[ \$(count_lines $T/drain) -eq 6 ]"
ok "(2) the maintenance is abandoned: the undrain tasks run" wait_for 10 "[ \$(count_lines $T/undrain) -eq 3 ]"
ok "(2) the local slot is given back" wait_for 5 '[ "$(local_holder)" = null ]'
is "$(status_holder)" null "(2) medicctl status: no holder"
is "$(phase)" null "(2) the rule is not in maintenance"
like "$(abandoned | tail -n 1)" "stop file" "(2) the history has an 'abandoned' entry naming the stop file"
is "$(abandoned | grep -c .)" 2 "(2) two abandoned maintenances in all"
is "$(n_entries undone)/$(n_entries done)" 2/1 "(2) two undone, still the one done"
episode_end
rm -f "$T/stop"
stop_medicd
done_testing
