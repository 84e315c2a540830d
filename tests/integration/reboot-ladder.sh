#!/bin/bash
# SPDX-License-Identifier: MIT
# The reboot remedy on the host, safely: every device is a test file (sysrq trigger, sysrq
# switch, watchdog, boot id) and the system bus is not reachable, so nothing can reboot this
# machine. The real reboots are proven in the VM test bed (tests/vm/). Covered here: the
# durable intent, the ladder's order and deadlines, the permission kept while the reboot is
# pending or stuck, a "reboot" seen through a new boot id, post-reboot tasks, the health gate
# before the release, pre-reboot task failure, reboot-loop protection and the notify command.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
setup 150
need_etcd
start_etcd

reboot_test_files
cat > "$T/notify" <<EOF
#!/bin/sh
echo "\$1 rule=\$MEDIC_RULE node=\$MEDIC_NODE reason=\$MEDIC_REASON" >> $T/notified
EOF
chmod 0755 "$T/notify"
medicd_on_etcd
sed -i "/^\[reboot\]/a methods = systemd sysrq watchdog\nsystemd_deadline = 2s\nsysrq_deadline = 6s\nwatchdog_deadline = 3s\nsettle = 3s\nsettle_timeout = 30s\nmax_disruptions = 2/1h\nnotify_command = $T/notify" "$T/medic.conf"

reboot_rule_files --health 1s
holders() { etcdget --prefix --keys-only "/medic/groups/$MEDIC_GROUP/holders/"; }

start_medicd
touch "$T/trigger"
ok "permission granted and the reboot starts" wait_for 10 "log_has 'reboots the node: running the pre-reboot tasks'"
ok "the intent is recorded with the boot id" wait_for 5 \
        "grep -q 11111111-1111-1111-1111-111111111111 $T/state/reboot-intent.json"
ok "systemd first: it fails without a bus and the ladder goes on at once" \
        wait_for 5 "log_has 'The systemd reboot failed.*trying the next method'"
ok "sysrq was enabled (the switch was 0)" wait_for 5 "grep -qx 1 $T/sysrq-enable"
ok "sysrq: s, u, b written with pauses" wait_for 10 "[ \"\$(cat $T/sysrq-trigger)\" = sub ]"
is "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["method"])' "$T/state/reboot-intent.json")" sysrq \
        "the intent names the method being tried"
ok "sysrq's deadline passes: the watchdog is next" wait_for 10 "log_has 'The sysrq reboot did not happen within 6s'"
ok "the watchdog got its last pet" wait_for 5 "[ \$(stat -c %s $T/watchdog) -eq 1 ]"
ok "every method failed: it says so loudly" wait_for 10 "log_has 'crit: Reboot for rule reboot-for-updates failed'"
ok "the notify command was told" wait_for 5 "grep -q '^reboot-stuck rule=reboot-for-updates node=$MEDIC_NODE' $T/notified"
is "$(holders | sed 's|.*/||')" "$MEDIC_NODE" "the permission is kept while the node did not reboot"
is "$(ctl_json status | jget 'd["reboot"]["phase"]')" stuck "medicctl status: the reboot is stuck"
ok "no second reboot starts while stuck" test "$(grep -c 'reboots the node' "$T/medicd.log")" -eq 1

# The "reboot": a new boot id, the machine comes back, medicd starts again.
stop_medicd
echo 22222222-2222-2222-2222-222222222222 > "$T/boot_id"
rm -f "$T/trigger"
touch "$T/sick"
write_file "$T/post-reboot.d/10-mark" <<EOF
#!/bin/sh
echo "post \$MEDIC_RULE" >> $T/post-ran
EOF
chmod 0755 "$T/post-reboot.d/10-mark"
mark=$(log_mark)
start_medicd
ok "the new boot is recognised" wait_for 5 "log_has_since $mark 'came back from the reboot for rule reboot-for-updates'"
ok "post-reboot tasks ran" wait_for 5 "grep -qx 'post reboot-for-updates' $T/post-ran"
ok "sick after the boot: the permission is kept" sleep 4
is "$(holders | sed 's|.*/||')" "$MEDIC_NODE" "still holding while a health condition fails"
rm -f "$T/sick"
ok "healthy for the settle time: the permission is released" wait_for 15 '[ -z "$(holders)" ]'
ok "the release is logged" log_has "Reboot for rule reboot-for-updates done: healthy for 3s"
ok "the intent is gone" test ! -e "$T/state/reboot-intent.json"
is "$(ctl_json status | jget 'd["reboot"]["phase"]')" idle "medicctl status: idle again"

# A failing pre-reboot task aborts and gives the permission back.
write_file "$T/pre-reboot.d/10-drain" <<'EOF'
#!/bin/sh
echo "cannot drain: pods without a controller" >&2
exit 1
EOF
chmod 0755 "$T/pre-reboot.d/10-drain"
mark=$(log_mark)
touch "$T/trigger"
ok "a failing pre-reboot task aborts the reboot" wait_for 10 "log_has_since $mark 'aborted: a pre-reboot task failed.*cannot drain'"
ok "the permission is given back" wait_for 5 '[ -z "$(holders)" ]'
ok "the abort is escalated" wait_for 5 "grep -q '^reboot-aborted rule=reboot-for-updates' $T/notified"

# Reboot-loop protection: two disruptions in the hour are used up: the node is parked.
ok "the third disruption parks the node" wait_for 10 "log_has_since $mark 'Node parked: 2 disruptive remedies within 1h'"
is "$(ctl_json status | jget 'd["parked"]')" true "medicctl status: parked"
ok "parked is escalated" wait_for 5 "grep -q '^parked ' $T/notified"
ok "the parked notification names the rule that caused it" grep -q '^parked rule=reboot-for-updates ' "$T/notified"
is "$(ctl_json status | jget 'd["parked_rule"]')" reboot-for-updates "medicctl status: parked_rule"
like "$(ctl status)" 'parked by rule: *reboot-for-updates' "medicctl status (human): parked by rule"
is "$(ctl_json explain reboot-for-updates | jget 'd["decision"]')" parked "explain: parked"
stop_medicd
mark=$(log_mark)
start_medicd
is "$(ctl_json status | jget 'd["parked"]')" true "parked survives a restart"
is "$(ctl_json status | jget 'd["parked_rule"]')" reboot-for-updates "the rule that parked it survives a restart"
rm -f "$T/trigger" "$T/pre-reboot.d/10-drain"
ctl unpark >/dev/null
is "$(ctl_json status | jget 'd["parked"]')" false "medicctl unpark clears it"
done_testing
