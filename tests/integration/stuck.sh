#!/bin/bash
# SPDX-License-Identifier: MIT
# A rule held back longer than stuck_after ([reboot]) is escalated once per wait: the notify
# command hears "waiting-too-long", the journal gets its MESSAGE_ID, the history an entry,
# the metrics the waiting-since time. A rule that is not held back is never escalated, and
# with stuck_after = 0 nothing is. A blocker whose check has not reported yet blocks.
. "$top_srcdir/tests/integration/lib.sh"
setup 90
command -v curl >/dev/null || { echo "1..0 # SKIP curl is not installed"; exit 0; }

touch "$T/trigger" "$T/blocked"
write_file "$T/checks/10-node.lua" <<EOF
check "wants" { every = "1s", run = function()
  if medic.exists("$T/trigger") then return problem("wants a fix") end
  return ok("fine")
end }
check "blocker" { every = "1s", run = function()
  if medic.exists("$T/blocked") then return problem("an operator is logged in") end
  return ok("nobody")
end }
EOF
write_file "$T/rules/10-fix.lua" <<EOF
rule "held" { when = "wants", unless = { "blocker" }, retry = "1h",
  remedy = command { "/bin/sh", "-c", "echo held >> $T/fired" } }
rule "free" { when = "wants", retry = "1h",
  remedy = command { "/bin/sh", "-c", "echo free >> $T/fired" } }
EOF
write_config
notify_to_file
reboot_settings "stuck_after = 3s"
metrics_listen
# metric_rule NAME RULE: the value of NAME{rule="RULE"}.
metric_rule() {
        curl -sf --max-time 5 "$METRICS_URL" | awk -v n="$1{rule=\"$2\"}" '$1 == n { print $2; exit }'
}
escalations() { cat "$T/notified" 2>/dev/null | grep -c "^waiting-too-long $1\$"; }

t0=$(date +%s)
start_medicd
ok "the free rule fires" wait_for 10 "grep -qx free $T/fired"
ok "the held rule is blocked" wait_for 10 '[ "$(rule_get held status)" = blocked ]'
# Both checks report at start; a blocker that has not reported yet is not known to be clear.
is "$(grep -c held "$T/fired")" 0 "the held rule did not fire before its blocker reported"
ok "metrics: the held rule waits since it started" wait_for 5 \
        '[ "$(metric_rule medic_rule_waiting_since_timestamp_seconds held | cut -d. -f1)" -ge '"$t0"' ]'
is "$(metric_rule medic_rule_waiting_since_timestamp_seconds free)" 0 "metrics: the free rule does not wait"
is "$(metric_rule medic_rule_stuck held)" 0 "metrics: not stuck before stuck_after"
is "$(escalations held)" 0 "not escalated before stuck_after"
ok "after stuck_after the held rule is escalated to the notify command" wait_for 10 '[ "$(escalations held)" = 1 ]'
ok "the journal gets the escalation" \
        log_has 'Escalation \(waiting-too-long\) for rule held: held back for more than 3s: blocked by blocker'
like "$(history_reasons held waiting-too-long)" 'blocked by blocker' "the history says what holds it back"
is "$(metric_rule medic_rule_stuck held)" 1 "metrics: stuck"
is "$(ctl_json explain held | jget '[d["stuck"], d["waiting_since"] >= '"$t0"']')" '[true, true]' \
        "explain: stuck, and since when it waits"
sleep 4
is "$(escalations held)" 1 "once per wait: no second escalation while it still waits"
is "$(escalations free)" 0 "the rule that acted is never escalated"

mark=$(log_mark)
rm -f "$T/blocked"
ok "unblocked, the held rule fires" wait_for 10 "grep -qx held $T/fired"
ok "it says it is no longer held back" wait_for 5 "log_has_since $mark 'Rule held is no longer held back'"
ok "metrics: no longer waiting" wait_for 5 '[ "$(metric_rule medic_rule_waiting_since_timestamp_seconds held)" = 0 ]'
is "$(metric_rule medic_rule_stuck held)" 0 "metrics: no longer stuck"

# A new episode, and stuck_after = 0: nothing is escalated.
stop_medicd
: > "$T/notified"
rm -f "$T/fired" "$T/state/state.json"
touch "$T/blocked"
sed -i 's/^stuck_after = 3s$/stuck_after = 0/' "$T/medic.conf"
start_medicd
ok "blocked again" wait_for 10 '[ "$(rule_get held status)" = blocked ]'
ok "with stuck_after = 0 nothing is escalated" never_within 5 '[ -s "$T/notified" ]'
stop_medicd
done_testing
