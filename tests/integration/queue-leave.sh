#!/bin/bash
# SPDX-License-Identifier: MIT
# A blocked node does not starve the queue: three nodes, budget 1. X (a coord-client) holds;
# A queues at place 1, B at place 2; A becomes blocked; X releases: B gets the permission and
# reboots while A stays blocked. A, unblocked, joins at the back (behind X, which asked
# again meanwhile) and gets the permission after B (back from its reboot) and X are done.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
setup 120
need_etcd
. "$top_srcdir/tests/integration/nodes-lib.sh"
start_etcd

G=gq
node_add qa $G
node_add qb $G
node_reboot_rule qa
node_reboot_rule qb
node_start qa
node_start qb
ok "X holds the group's only slot" client_hold X $G
ok "A and B are registered" wait_for 10 "node_registered qa && node_registered qb"

touch "$(node_dir qa)/trigger"
ok "A queues" wait_for 15 "node_queued qa"
touch "$(node_dir qb)/trigger"
ok "B queues" wait_for 15 "node_queued qb"
is "$(queue_order $G | tr '\n' ' ')" "qa qb " "A is at place 1, B at place 2"

touch "$(node_dir qa)/blocked"
ok "A becomes blocked" wait_for 10 '[ "$(node_cond qa blocker)" = problem ]'
client_send X "release reboot"
ok "X gives the slot back" client_sees X '^released' 10

ok "B gets the permission while A is blocked" wait_for 15 "node_holds qb"
ok "B reboots" wait_for 10 "node_rebooted qb"
ok "A does not hold the permission" test -z "$(group_keys $G holders | grep -x qa)"
ok "A did not reboot" never_within 1 "node_rebooted qa"
is "$(node_cond qa blocker)" problem "A is still blocked"

# X asks again (it waits behind B's slot), then A is unblocked: A is behind X.
client_send X "acquire reboot"
ok "X queues again" wait_for 10 "group_keys $G queue | grep -qx X"
rm -f "$(node_dir qa)/blocked"
ok "A, unblocked, asks again" wait_for 15 "node_queued qa"
is "$(queue_order $G | tr '\n' ' ')" "X qa " "A rejoined at the back of the queue, behind X"
ok "A waits while B holds the slot" never_within 3 "node_holds qa"

# B "reboots" and comes back healthy: after the settle time it gives the slot back.
if node_holds qb; then
        node_boot qb
        ok "B, back from its reboot, releases the slot" wait_for 20 "! node_holds qb"
else
        skip "B, back from its reboot, releases the slot" "B never got the slot"
fi
ok "X, ahead of A, gets it next" client_sees X '^granted' 10
ok "A does not hold it while X does" never_within 2 "node_holds qa"
client_send X "release reboot"
client_wait X '^released' 10 >/dev/null
ok "A gets the permission after X" wait_for 15 "node_holds qa"
ok "A reboots" wait_for 10 "node_rebooted qa"
done_testing
