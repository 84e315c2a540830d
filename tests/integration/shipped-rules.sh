#!/bin/bash
# SPDX-License-Identifier: MIT
# The shipped rules (rules/) leave the reboot ladder to the node: none of them sets methods,
# and with [reboot] methods = sysrq systemd the shipped reboot-required rule tries sysrq
# first. Devices are test files (tests/integration/lib.sh); nothing can reboot this machine.
. "$top_srcdir/tests/integration/lib.sh"
setup 60

# ---- no shipped rule (nor example) pins the ladder ----
for f in "$top_srcdir"/rules/*.lua "$top_srcdir"/rules/examples/*.lua "$top_srcdir"/rules/examples/*/*.lua; do
        pins=$(sed 's/--.*//' "$f" | grep -nw methods)
        is "$pins" "" "$(basename "$f") does not set methods (the node's [reboot] methods apply)"
done

# ---- the shipped rules with a node whose ladder starts with sysrq ----
reboot_test_files 1
# The test's own reboot-required check (a problem while $T/trigger exists) under the name the
# shipped rule waits for; the rules are the shipped ones.
reboot_rule_files
sed -i 's/"wants-reboot"/"reboot-required"/' "$T/checks/10-node.lua"
sed -i "s|^rules = .*|rules = $top_srcdir/rules|" "$T/medic.conf"
# sysrq's deadline outlasts the test: systemd can only come first or not at all.
sed -i "/^\[reboot\]/a methods = sysrq systemd\nsysrq_deadline = 5m\nsystemd_deadline = 5m" "$T/medic.conf"

start_medicd
is "$(rule_get reboot-required file)" "$top_srcdir/rules/50-reboot.lua" "the shipped rule reboot-required is loaded"
touch "$T/trigger"
ok "the shipped rule reboots the node" wait_for 15 "log_has 'Rebooting the node by [a-z]+ for rule reboot-required'"
first=$(grep -Eo 'Rebooting the node by [a-z]+ for rule reboot-required' "$T/medicd.log" | head -n 1)
is "$first" "Rebooting the node by sysrq for rule reboot-required" "the node's ladder: sysrq is tried first"
ok "sysrq: s, u, b written" wait_for 10 "[ \"\$(cat $T/sysrq-trigger)\" = sub ]"
if log_has 'Rebooting the node by systemd'; then
        fail "systemd was not tried (it comes after sysrq's deadline)"
else
        pass "systemd was not tried (it comes after sysrq's deadline)"
fi
is "$(jget 'd["method"]' < "$T/state/reboot-intent.json")" sysrq "the intent names sysrq"
done_testing
