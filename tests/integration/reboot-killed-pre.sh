#!/bin/bash
# SPDX-License-Identifier: MIT
# medicd killed (SIGKILL, a crash, a power cut) while the pre-reboot tasks run, before the
# reboot intent is recorded. Afterwards the node must not keep the coordinator's slot for a
# reboot that is no longer going on: once the trigger clears, the local slot is free again.
# Devices are test files (tests/integration/lib.sh); nothing can reboot this machine.
. "$top_srcdir/tests/integration/lib.sh"
setup 60

reboot_test_files 1
sed -i "/^\[reboot\]/a methods = sysrq\nsysrq_deadline = 30s\nsettle = 1s" "$T/medic.conf"
reboot_rule_files 1h
cat > "$T/pre-reboot.d/10-drain" <<EOF
#!/bin/sh
echo \$\$ > $T/draining
exec sleep 60
EOF
chmod 0755 "$T/pre-reboot.d/10-drain"
holder() { jget 'd["holder"]' < "$T/state/coordinator.json"; }

start_medicd
touch "$T/trigger"
ok "the reboot starts: the pre-reboot task runs" wait_for 10 "test -s $T/draining"
is "$(holder)" reboot-for-updates "the local slot is taken for the rule"
kill_medicd
kill -KILL "$(cat "$T/draining")" 2>/dev/null    # the task has its own process group
rm -f "$T/trigger"
mark=$(log_mark)
start_medicd
ok "the trigger is gone after the restart" wait_for 10 "[ \"\$(ctl_json conditions | jget 'find(d[\"conditions\"], \"wants-reboot\")[\"state\"]')\" = ok ]"
sleep 2
is "$(holder)" null "no reboot is going on: the local slot is free again"
is "$(ctl_json status | jget 'd["reboot"]["phase"]')" idle "medicctl status: idle"
is "$(wc -c < "$T/sysrq-trigger")" 0 "nothing was written to the sysrq trigger"
done_testing
