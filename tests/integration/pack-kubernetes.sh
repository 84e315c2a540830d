#!/bin/bash
# SPDX-License-Identifier: MIT
# The kubernetes pack (rules/examples/kubernetes/auto-healing.lua with ../hardware-maintenance.lua
# and the kubectl tasks) on three nodes of one group on a real etcd, holds and retry shortened
# by sed on copies, the runtime command and kubectl replaced by test stubs, the conditions
# (containerd-unresponsive, ipmi-critical) by checks of test files. The command first: a node
# it heals never reboots; one it does not heal escalates to the reboot, by sysrq (the node's
# ladder, sysrq before watchdog). The pack's budget (2, 90%) grants nothing in a group of three;
# with min_healthy lifted, two nodes are out at once (a reboot and a hardware maintenance that
# drains, holds, and uncordons once repaired) and a third waits (etcd polled: never three).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
setup 120
need_etcd
. "$top_srcdir/tests/integration/nodes-lib.sh"
. "$top_srcdir/tests/integration/packs-lib.sh"
start_etcd

G=gu
K="$PACKS/kubernetes"
ok "medicctl lint: the pack's rules with their checks are clean" \
        env MEDICD="$MEDICD" timeout 20 "$MEDICCTL" lint "$PACKS/containerd-check.lua" "$top_srcdir/checks/ipmi.lua" \
        "$K/auto-healing.lua" "$PACKS/hardware-maintenance.lua"

# The runtime command: logs its call; it heals the node (removes the condition's test file)
# when $N/heals exists.
write_file "$T/heal" <<EOF
#!/bin/sh
echo "\$MEDIC_NODE \$MEDIC_RULE \$MEDIC_CONDITION" >> $T/heal.log
[ -e "$T/nodes/\$MEDIC_NODE/heals" ] && rm -f "$T/nodes/\$MEDIC_NODE/containerd-unresponsive"
exit 0
EOF
chmod 0755 "$T/heal"
# copy_sed SRC DEST SED-EXPR...: a copy with each substitution, which must change the file.
copy_sed() {
        local src=$1 dst=$2 e
        shift 2
        cp "$src" "$dst.tmp"
        for e in "$@"; do
                sed "$e" "$dst.tmp" > "$dst.new"
                cmp -s "$dst.tmp" "$dst.new" && bail_out "$(basename "$src"): '$e' changes nothing"
                mv "$dst.new" "$dst.tmp"
        done
        chmod 0644 "$dst.tmp"
        mv "$dst.tmp" "$dst"
}

pack_kubectl
for n in ua ub uc; do
        N=$(node_dir $n)
        node_add $n $G
        node_conf $n coordinator "max_unavailable = 2"
        node_conf $n coordinator "min_healthy = 90%"
        sed -i 's/^methods = sysrq$/methods = sysrq watchdog/' "$N/medic.conf"
        grep -qx 'methods = sysrq watchdog' "$N/medic.conf" || bail_out "could not set the ladder"
        file_check $n containerd-unresponsive
        file_check $n ipmi-critical
        copy_sed "$K/auto-healing.lua" "$N/rules/60-kubernetes.lua" 's/holds    = "5m"/holds    = "2s"/' \
                's/retry    = "10m"/retry    = "3s"/' "s|\"/usr/share/medic/examples/kubernetes/restart-runtime\"|\"$T/heal\"|"
        copy_sed "$PACKS/hardware-maintenance.lua" "$N/rules/70-hardware.lua" 's/holds  = "2m"/holds  = "1s"/' \
                "s|/etc/medic/drain.d|$N/drain.d|" "s|/etc/medic/undrain.d|$N/undrain.d|"
        pack_task $n 10-cordon-drain drain.d
        pack_task $n 10-cordon-drain pre-reboot.d
        pack_task $n 90-uncordon undrain.d
        pack_task $n 90-uncordon post-reboot.d
        node_start $n
done
ok "the three nodes are registered" wait_for 15 "node_registered ua && node_registered ub && node_registered uc"
holders_poll $G
A=$(node_dir ua) B=$(node_dir ub) C=$(node_dir uc)
healed() { grep -c "^$1 runtime-restart containerd-unresponsive$" "$T/heal.log" 2>/dev/null; }

# ---- the command helps: no reboot ---------------------------------------------------------------
touch "$B/heals" "$B/containerd-unresponsive"
ok "B: the runtime command runs (after its holds)" wait_for 15 '[ "$(healed ub)" = 1 ]'
ok "B: it helped, the condition is ok" wait_for 10 '[ "$(node_cond ub containerd-unresponsive)" = ok ]'
ok "B does not ask for a reboot" never_within 5 "node_queued ub || node_holds ub || node_rebooted ub"
rm -f "$B/heals"

# ---- the command does not help: escalate to the reboot; the budget: 90% of 3 grants nothing ----
touch "$A/containerd-unresponsive"
ok "A: the runtime command runs" wait_for 15 '[ "$(healed ua)" = 1 ]'
ok "A: it did not help: the rule escalates, runtime-reboot asks" wait_for 20 "node_queued ua"
touch "$C/ipmi-critical"
ok "C: the hardware failure asks for a maintenance" wait_for 15 "node_queued uc"
ok "min_healthy 90% of 3 members: neither is granted" never_within 4 "node_holds ua || node_holds uc"
is "$(healed ua)" 1 "A's command ran once (limit 1/1h), then the reboot"

# ---- two at once, a third waits -------------------------------------------------------------------
on ua ctl coordinator set-budget $G max_unavailable=2 min_healthy=0 >/dev/null
ok "min_healthy lifted: A gets the slot and reboots" wait_for 20 "node_rebooted ua"
is "$(jget 'd["method"]' < "$A/state/reboot-intent.json")" sysrq "A: the node's ladder, sysrq first"
is "$(cat "$A/watchdog")" "" "A: the watchdog was not touched"
ok "C gets the other slot: drained" wait_for 20 "[ -n \"\$(kubectl_line '^drain uc ')\" ]"
ok "C was cordoned first" test "$(kubectl_line '^cordon uc$')" -lt "$(kubectl_line '^drain uc ')"
ok "A and C hold at once" eval "node_holds ua && node_holds uc"
touch "$B/containerd-unresponsive"
ok "B: the command again ... its limit is used: straight to the reboot, which asks" wait_for 20 "node_queued ub"
is "$(healed ub)" 1 "B's command did not run a second time within the hour"
ok "B waits: two of three are out (max_unavailable 2)" never_within 4 "node_holds ub || node_rebooted ub"
ok "C stays out while the hardware is failing" node_holds uc
is "$(kubectl_line '^uncordon uc$')" "" "C is not uncordoned yet"

# ---- A back: B's turn; C repaired: uncordoned, released ---------------------------------------
rm -f "$A/containerd-unresponsive"
node_boot ua
ok "A, back, is uncordoned" wait_for 10 "[ -n \"\$(kubectl_line '^uncordon ua$')\" ]"
ok "A gives the slot back" wait_for 20 "! node_holds ua"
ok "B gets it and reboots" wait_for 20 "node_rebooted ub"
rm -f "$C/ipmi-critical"
ok "C, repaired, is uncordoned" wait_for 15 "[ -n \"\$(kubectl_line '^uncordon uc$')\" ]"
ok "C gives the slot back" wait_for 15 "! node_holds uc"

max=$(holders_max $G)
diag "holders of $G: $(sort -n "$T/holders-$G" | uniq -c | tr -s ' \n' ' ')"
is "$max" 2 "etcd showed two holders at once, never three (polled every 0.2 s, $(count_lines "$T/holders-$G") reads)"
done_testing
