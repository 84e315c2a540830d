#!/bin/bash
# SPDX-License-Identifier: MIT
# medicd itself with the etcd coordinator: it registers and publishes its health, asks for
# permission before a disruptive remedy, is refused while a stop switch is set, and gives the
# permission back when its remedy is done; medicctl coordinator works through it.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
setup 90
need_etcd
start_etcd

cat >> "$T/medic.conf" <<EOF
endpoints = $ETCD_URL
lease_ttl = 3s

[metrics]
textfile = $T/medic.prom
EOF
sed -i 's/^backend = local/backend = etcd/' "$T/medic.conf"
reboot_rule_files --health 1s
# A command_check marked health = true is a health check like check{} with health = true.
write_file "$T/checks/20-cmd.lua" <<EOF
command_check "cmd-health" { "/bin/sh", "-c", "test ! -e $T/cmd-sick", every = "1s", health = true }
EOF
member() { etcdget --print-value-only "/medic/groups/$MEDIC_GROUP/members/$MEDIC_NODE"; }
member_healthy() { member | jget 'd["healthy"]'; }
start_medicd
ok "medicd registered in etcd" wait_for 10 "etcdget --keys-only /medic/groups/$MEDIC_GROUP/members/$MEDIC_NODE | grep -q ."
ok "published as healthy" wait_for 5 "[ \"\$(member_healthy)\" = true ]"
touch "$T/sick"
ok "a failing health condition is published" wait_for 5 \
        "[ \"\$(member_healthy)\" = false ]"
like "$(member)" 'disk-ok' "the summary names the condition"
rm -f "$T/sick"
wait_for 5 "[ \"\$(member_healthy)\" = true ]"
touch "$T/cmd-sick"
ok "a failing command_check with health = true is published as unhealthy" wait_for 5 \
        "[ \"\$(member_healthy)\" = false ]"
like "$(member)" 'cmd-health' "the summary names the command check"
rm -f "$T/cmd-sick"
wait_for 5 "[ \"\$(member_healthy)\" = true ]"

out=$(ctl coordinator status)
like "$out" "$MEDIC_NODE +yes +yes +no" "medicctl coordinator status lists the node alive, healthy, not holding"
is "$(ctl_json coordinator status | jget 'd["budget"]["allowed"]')" 1 "medicctl coordinator status --json: budget"

ok "metrics: the group's budget from etcd" wait_for 5 "grep -qx 'medic_coordinator_budget_allowed 1' $T/medic.prom"

# A stop switch refuses the request.
ctl coordinator stop --group "$MEDIC_GROUP" >/dev/null
ok "metrics: the group's stop switch, from the watch" wait_for 5 "grep -qx 'medic_coordinator_stop{scope=\"group\"} 1' $T/medic.prom"
mark=$(log_mark)
touch "$T/trigger"
ok "with the group stopped the coordinator refuses" wait_for 10 \
        "log_has_since $mark 'answered denied for rule reboot-for-updates.*stop switch'"
ok "nothing was granted" test -z "$(etcdget --prefix --keys-only /medic/groups/$MEDIC_GROUP/holders/)"
if log_has_since "$mark" 'Rule reboot-for-updates fires'; then fail "the remedy did not run"; else pass "the remedy did not run"; fi

# Resumed: permission is granted, the remedy runs, permission goes back.
mark=$(log_mark)
ctl coordinator resume --group "$MEDIC_GROUP" >/dev/null
ok "after resume permission is granted" wait_for 10 "log_has_since $mark 'answered granted for rule reboot-for-updates'"
ok "the remedy ran after the grant" wait_for 5 "log_has_since $mark 'Rule reboot-for-updates fires'"
ok "the reboot keeps the permission (the ladder and the release after the boot: reboot-ladder.sh)" \
        test -n "$(etcdget --prefix --keys-only /medic/groups/$MEDIC_GROUP/holders/)"
rm -f "$T/trigger"

# Not root: changes are refused, status is allowed.
if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
        out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$MEDICCTL" --socket "$T/medicd.sock" coordinator stop 2>&1); rc=$?
        ok "coordinator stop as nobody is refused (exit $rc)" test "$rc" -ne 0
        like "$out" 'permission denied' "the refusal says why"
else
        skip "coordinator stop as nobody is refused" "no user nobody or no setpriv"
        skip "the refusal says why" "no user nobody or no setpriv"
fi
ok "no stop switch was set" test -z "$(etcdget --prefix --keys-only /medic/stop)"
stop_medicd
done_testing
