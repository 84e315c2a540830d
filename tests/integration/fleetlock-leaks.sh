#!/bin/bash
# SPDX-License-Identifier: MIT
# FleetLock slots that a stalled server takes late must not leak. The test server
# (tests/helpers/fleetlock-server.py) stalls as real ones do: it holds requests unanswered and
# processes them later, after medicd gave up on them, in the order they arrived.
#  (a) medicd is SIGKILLed while its pre-reboot is held up; the restarted medicd must give
#      back what that pre-reboot may have taken (steady-state at start, until confirmed).
#  (b) a pre-reboot times out, the rule gives up, medicd's steady-state is confirmed, and only
#      then the server processes the pre-reboot: medicd must still know that it may hold a
#      slot, and send steady-state again once the server answered, until confirmed.
#  (c) the whole server stalls: medicd's steady-states queue behind its pre-reboot and time
#      out, and are retried until one is confirmed after the late pre-reboot.
#  (d) the trigger clears while the pre-reboot is out: the rule stops asking at once, and
#      what the late pre-reboot takes is given back.
# Devices are test files (tests/integration/lib.sh); nothing can reboot this machine.
. "$top_srcdir/tests/integration/lib.sh"
setup 90
command -v curl >/dev/null || { echo "1..0 # SKIP curl is not installed"; exit 0; }
. "$top_srcdir/tests/integration/fleetlock-lib.sh"

fl_start
reboot_test_files
fl_medicd_conf 2s
sed -i "/^\[reboot\]/a methods = sysrq\nsysrq_deadline = 2s\nsettle = 2s\nsettle_timeout = 30s" "$T/medic.conf"
reboot_rule_files 1s
# The trigger is toggled on purpose here, many times: not a flapping condition.
sed -i 's/check "wants-reboot" { every = "1s",/check "wants-reboot" { every = "1s", flapping = "100\/1h",/' "$T/checks/10-node.lua"
N=$MEDIC_NODE
fl_state() { jget "d.get('$1')" < "$T/state/fleetlock.json" 2>/dev/null; }
local_status() { ctl_json coordinator status | jget "d['local']['$1']"; }
trigger_ok() { [ "$(cond_get wants-reboot state)" = ok ]; }

# ---- (a) killed while the pre-reboot is held up ----
start_medicd
fl_stall
touch "$T/trigger"
ok "(a) medicd's pre-reboot reaches the stalled server and is held there" wait_for 15 "[ \"\$(fl_held)\" = 1 ]"
is "$(fl_state maybe_held)" true "(a) STATE_DIR/fleetlock.json says 'may hold' while the pre-reboot is in flight"
kill_medicd
rm -f "$T/trigger"
mark=$(log_mark)
start_medicd
ok "(a) the restarted medicd sends steady-state at start (held behind the pre-reboot)" \
        wait_for 10 "[ \"\$(fl_held)\" -ge 2 ]"
# (medicd's retries may join the queue meanwhile: at least the two.)
ok "(a) the server ends its stall and processes what it held, in order" test "$(fl_resume)" -ge 2
is "$(fl_log "$N" | head -n 1 | jget '[d["path"], d["status"], d["late"]]')" \
        '["/v1/pre-reboot", 200, true]' "(a) the late pre-reboot took a slot for the node"
ok "(a) the server ends with no slot held by the node" wait_for 15 "[ \"\$(fl_holders '$MEDIC_GROUP')\" = '[]' ]"
ok "(a) medicd confirms the steady-state: nothing pending, may-hold cleared" wait_for 15 \
        "[ \"\$(local_status release_pending) \$(local_status maybe_held)\" = 'false false' ]"
is "$(fl_state maybe_held)" false "(a) and fleetlock.json says so"
ok "(a) medicd logged why it gave back a slot at start" log_has_since "$mark" 'FleetLock: .*(may have taken|owed from before)'

# ---- (b) a pre-reboot processed late, after medicd's confirmed steady-state ----
ok "(b) the trigger is clear again" wait_for 10 trigger_ok
fl_stall '{"count": 1, "paths": ["/v1/pre-reboot"]}'
mark=$(log_mark)
touch "$T/trigger"
ok "(b) the pre-reboot is held by the stalled server" wait_for 15 "[ \"\$(fl_held)\" = 1 ]"
steady=$(fl_count "$N" /v1/steady-state)
ok "(b) medicd gives up on the pre-reboot after request_timeout: unknown" wait_for 10 \
        "log_has_since $mark 'answered unknown for rule reboot-for-updates: no answer from the FleetLock server .* within 2s'"
# Then the trigger clears: the rule stops wanting and gives back what it may hold.
rm -f "$T/trigger"
ok "(b) the rule gives up: medicd sends steady-state, the server answers it at once" wait_for 10 \
        "[ \"\$(fl_count '$N' /v1/steady-state)\" -gt $steady ]"
ok "(b) medicd has that steady-state confirmed" wait_for 10 "[ \"\$(local_status release_pending)\" = false ]"
is "$(local_status maybe_held)" true "(b) but still says 'may hold': its pre-reboot was not answered"
is "$(fl_state maybe_held)" true "(b) fleetlock.json too"
ctl_json coordinator status | jget 'd["local"]' | sed 's/^/# coordinator status: /'
is "$(fl_holders "$MEDIC_GROUP")" '[]' "(b) the server holds no slot yet"
steady=$(fl_count "$N" /v1/steady-state)
is "$(fl_resume)" 1 "(b) the server ends its stall: the pre-reboot is processed late"
is "$(fl_log "$N" | grep '"late": true' | tail -n 1 | jget '[d["path"], d["status"]]')" \
        '["/v1/pre-reboot", 200]' "(b) the late pre-reboot took a slot for the node"
ok "(b) medicd sends steady-state again after that answer" wait_for 10 \
        "[ \"\$(fl_count '$N' /v1/steady-state)\" -gt $steady ]"
ok "(b) the server ends with no slot held by the node" wait_for 15 "[ \"\$(fl_holders '$MEDIC_GROUP')\" = '[]' ]"
ok "(b) medicd confirms it: nothing pending, may-hold cleared" wait_for 15 \
        "[ \"\$(local_status release_pending) \$(local_status maybe_held)\" = 'false false' ]"
is "$(fl_state maybe_held)" false "(b) and fleetlock.json says so"

# ---- (c) the whole server stalls ----
ok "(c) the trigger is clear again" wait_for 10 trigger_ok
fl_stall
mark=$(log_mark)
touch "$T/trigger"
ok "(c) the pre-reboot is held by the stalled server" wait_for 15 "[ \"\$(fl_held)\" = 1 ]"
ok "(c) medicd gives up on the pre-reboot after request_timeout: unknown" wait_for 10 \
        "log_has_since $mark 'answered unknown for rule reboot-for-updates: no answer from the FleetLock server .* within 2s'"
rm -f "$T/trigger"
ok "(c) the rule gives up: its steady-state is held too" wait_for 15 "[ \"\$(fl_held)\" -ge 2 ]"
ok "(c) medicd's steady-state times out and is retried" wait_for 15 \
        "log_has_since $mark 'cannot give back the slot of $N .* retrying'"
is "$(local_status maybe_held)" true "(c) medicd may hold a slot meanwhile"
ok "(c) the server ends its stall: the pre-reboot, then the steady-states, late" test "$(fl_resume)" -ge 2
ok "(c) the server ends with no slot held by the node" wait_for 15 "[ \"\$(fl_holders '$MEDIC_GROUP')\" = '[]' ]"
ok "(c) medicd confirms it: nothing pending, may-hold cleared" wait_for 20 \
        "[ \"\$(local_status release_pending) \$(local_status maybe_held)\" = 'false false' ]"
is "$(fl_last "$N" 'd["path"]')" /v1/steady-state "(c) the node's last request was a steady-state"
# ---- (d) the trigger clears while the pre-reboot is out ----
ok "(d) the trigger is clear again" wait_for 10 trigger_ok
fl_stall '{"count": 1, "paths": ["/v1/pre-reboot"]}'
mark=$(log_mark)
touch "$T/trigger"
ok "(d) the pre-reboot is held by the stalled server" wait_for 15 "[ \"\$(fl_held)\" = 1 ]"
rm -f "$T/trigger"
ok "(d) the rule stops asking at once, before any answer" wait_for 10 \
        "log_has_since $mark 'Rule reboot-for-updates stops asking for permission'"
is "$(local_status maybe_held)" true "(d) medicd may hold a slot meanwhile"
is "$(fl_resume)" 1 "(d) the server ends its stall: the pre-reboot is processed late"
ok "(d) the server ends with no slot held by the node" wait_for 15 "[ \"\$(fl_holders '$MEDIC_GROUP')\" = '[]' ]"
ok "(d) medicd confirms it: nothing pending, may-hold cleared" wait_for 20 \
        "[ \"\$(local_status release_pending) \$(local_status maybe_held)\" = 'false false' ]"
ok "(d) nothing was rebooted" test ! -s "$T/sysrq-trigger"
stop_medicd
done_testing
