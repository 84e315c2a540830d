#!/bin/bash
# SPDX-License-Identifier: MIT
# Check-then-act: a disruptive remedy is decided again when the permission arrives, after
# every wait. A blocker (a condition in the rule's unless) that turns problem while the node
# waits for its permission, (a) queued behind another node's slot, (b) with its request in
# flight (etcd's answers held back by tests/helpers/slow-proxy.py), or (c) while the
# pre-reboot tasks run, means no reboot: the permission goes back, and in (c) the abort tasks
# ([reboot] abort_dir) run. Each time the positive control: without the blocker it reboots.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
setup 170
need_etcd
. "$top_srcdir/tests/integration/nodes-lib.sh"
start_etcd

# control NODE TAG SECONDS [WHAT]: the positive control once the blocker is gone: the node
# reboots and holds the permission for it. Skipped when it rebooted already (a failure above).
control() {
        controlled=""
        if node_rebooted "$1"; then
                controlled=already
                skip "$2 control: without the blocker the node reboots${4:+ $4}" "it rebooted already, while blocked"
                skip "$2 control: holding the permission for the reboot" "it rebooted already, while blocked"
                return
        fi
        ok "$2 control: without the blocker the node reboots${4:+ $4}" wait_for "$3" "node_rebooted $1"
        ok "$2 control: holding the permission for the reboot" node_holds "$1"
}

# ---- (a) the blocker turns problem while the node waits behind another node's slot ----------
node_add wa ga
node_reboot_rule wa
node_start wa
ok "(a) X holds the group's only slot" client_hold Xa ga
ok "(a) A is registered" wait_for 10 "node_registered wa"
touch "$(node_dir wa)/trigger"
ok "(a) A asks and waits in the queue" wait_for 15 "node_queued wa"
touch "$(node_dir wa)/blocked"
ok "(a) the blocker turns problem while A waits" wait_for 10 '[ "$(node_cond wa blocker)" = problem ]'
client_send Xa "release reboot"
ok "(a) X gives the slot back" client_sees Xa '^released' 10
ok "(a) A does not reboot (the blocker is problem)" never_within 6 "node_rebooted wa"
ok "(a) A does not keep a permission it cannot use" wait_for 10 "! node_holds wa"
ok "(a) ... and does not take it again" never_within 3 "node_holds wa"
rm -f "$(node_dir wa)/blocked"
control wa "(a)" 20

# ---- (b) the blocker turns problem while the request is in flight ------------------------------
# Every answer of etcd to node wb comes 3 s late: the grant is written in etcd at once, the
# node learns it 3 s later; the blocker (checked every second) turns problem in between.
start_slow_proxy pb
LEASE_TTL=12s REQUEST_TIMEOUT=20s node_add wb gb "$PROXY_URL"
node_reboot_rule wb
node_start wb
ok "(b) B is registered through the proxy" wait_for 10 "node_registered wb"
sleep 1   # its first view of the group is read
echo 3 > "$T/pb.delay"
touch "$(node_dir wb)/trigger"
if wait_for 30 "node_holds wb"; then
        t_grant=$(now_ms)
        pass "(b) the grant is written in etcd (its answer is still on the way)"
else
        t_grant=$(now_ms)
        fail "(b) the grant is written in etcd (its answer is still on the way)"
fi
touch "$(node_dir wb)/blocked"
wait_for 5 '[ "$(node_cond wb blocker)" = problem ]'
t_blocked=$(now_ms)
ok "(b) the blocker is problem before the answer arrives ($((t_blocked - t_grant)) ms after the grant)" \
        test $((t_blocked - t_grant)) -lt 2500
ok "(b) B does not reboot on the answer that comes after the blocker" never_within 8 "node_rebooted wb"
ok "(b) B gives the permission back" wait_for 15 "! node_holds wb"
ok "(b) ... and does not take it again while blocked" never_within 3 "node_holds wb"
echo 1 > "$T/pb.delay"
rm -f "$(node_dir wb)/blocked"
control wb "(b)" 30 "(answers still late)"

# ---- (c) the blocker turns problem while the pre-reboot tasks run ------------------------------
node_add wc gc
node_reboot_rule wc
C=$(node_dir wc)
mkdir -p "$C/abort.d"
write_file "$C/pre-reboot.d/10-slow" <<EOF
#!/bin/sh
touch $C/pre-started
sleep 4
touch $C/pre-done
EOF
write_file "$C/abort.d/10-mark" <<EOF
#!/bin/sh
echo "abort \${MEDIC_RULE:-}" >> $C/abort-ran
EOF
chmod 0755 "$C/pre-reboot.d/10-slow" "$C/abort.d/10-mark"
# abort_dir = $C/abort.d: write_config (tests/integration/lib.sh) points every node's there.
ok "(c) medicd accepts [reboot] abort_dir" grep -qx "abort_dir = $C/abort.d" "$C/medic.conf"
node_start wc
ok "(c) C is registered" wait_for 10 "node_registered wc"
touch "$C/trigger"
ok "(c) permission granted: the pre-reboot tasks run" wait_for 15 "[ -e $C/pre-started ]"
touch "$C/blocked"
ok "(c) the blocker turns problem while they run" wait_for 5 '[ "$(node_cond wc blocker)" = problem ]'
ok "(c) ... before they end" test ! -e "$C/pre-done"
ok "(c) the pre-reboot tasks end" wait_for 10 "[ -e $C/pre-done ]"
ok "(c) no reboot after the tasks (the blocker is problem)" never_within 6 "node_rebooted wc"
ok "(c) the permission is given back" wait_for 10 "! node_holds wc"
ok "(c) the abort tasks ran" wait_for 5 "[ -s $C/abort-ran ]"
rm -f "$C/blocked" "$C/pre-started" "$C/pre-done"
control wc "(c)" 30 "after its tasks"
if node_rebooted wc && [ -z "$controlled" ]; then
        ok "(c) control: the tasks ran again first" test -e "$C/pre-done"
else
        skip "(c) control: the tasks ran again first" "no control reboot"
fi
done_testing
