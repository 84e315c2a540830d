#!/bin/bash
# SPDX-License-Identifier: MIT
# What medic says about the coordinator's permission must agree with etcd: `medicctl status
# --json` (coordinator.holder) and the metric medic_coordinator_holding say this node holds
# the permission exactly when etcd has its holder key, while rebooting, while settling after
# the (simulated) reboot, after the release and after a restart of medicd. And
# medic_coordinator_waiting is 1 while a rule waits for a permission another node holds, and
# 0 otherwise. The reboot is simulated as in reboot-ladder.sh (test files for the devices, a
# new boot id, medicd started again).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
setup 100
need_etcd
# A long lease: a re-registration (which reads the group afresh) must not hide a stale view.
LEASE_TTL=10s
start_etcd

reboot_test_files 1
reboot_settings "methods = sysrq" "sysrq_deadline = 30s" "settle = 2s" "settle_timeout = 60s" "max_disruptions = 5/1h"
use_etcd_backend
metrics_listen
reboot_rule_files --health 1s

# medicctl status names the rule of this node that holds the slot (from the permission owner).
status_holder() { ctl_json status | jget '"'"$MEDIC_NODE"'" if d["coordinator"].get("holder") == "reboot-for-updates" else d["coordinator"].get("holder") or ""'; }
client_saw() { client_wait "$@" >/dev/null; }
status_phase() { ctl_json status | jget 'd["reboot"]["phase"]'; }

# agree 1|0: etcd, medicctl status and the metric all say this node holds (1) or does not (0).
agree() {
        local want=""
        [ "$1" = 1 ] && want=$MEDIC_NODE
        [ "$(etcd_holders)" = "$want" ] && [ "$(status_holder)" = "$want" ] &&
                [ "$(metric medic_coordinator_holding)" = "$1" ]
}

# check_agree 1|0 WHEN: waits up to 10 s for agreement, then one test point per view.
check_agree() {
        local want=""
        [ "$1" = 1 ] && want=$MEDIC_NODE
        wait_for 10 "agree $1"
        is "$(etcd_holders)" "$want" "$2: etcd's holder key"
        is "$(status_holder)" "$want" "$2: medicctl status --json agrees with etcd"
        is "$(metric medic_coordinator_holding)" "$1" "$2: medic_coordinator_holding agrees with etcd"
}

# steady METRIC VALUE SECONDS: the metric has VALUE on every sample for SECONDS.
steady() {
        local end=$(( $(date +%s) + $3 )) v
        while [ "$(date +%s)" -lt "$end" ]; do
                v=$(metric "$1")
                if [ "$v" != "$2" ]; then
                        diag "$1 was '${v}' (expected $2) at $(date +%T.%N)"
                        return 1
                fi
                sleep 0.2
        done
}

# ---- holding while rebooting and while settling after the boot ----
start_medicd
ok "registered in etcd" wait_for 10 "[ \"\$(ctl_json status | jget 'd[\"coordinator\"][\"registered\"]')\" = true ]"
is "$(metric medic_coordinator_waiting)" 0 "nothing asked yet: medic_coordinator_waiting 0"
touch "$T/trigger"
ok "the reboot is under way (sysrq key written)" wait_for 15 'test -s "$T/sysrq-trigger"'
check_agree 1 "rebooting"
is "$(metric medic_coordinator_waiting)" 0 "rebooting: medic_coordinator_waiting 0"

stop_medicd
echo 22222222-2222-2222-2222-222222222222 > "$T/boot_id"
rm -f "$T/trigger"
touch "$T/sick"
start_medicd
ok "after the boot: settling" wait_for 10 '[ "$(status_phase)" = settling ]'
check_agree 1 "settling (sick after the boot)"
is "$(metric medic_coordinator_waiting)" 0 "settling: medic_coordinator_waiting 0"

# ---- released: nobody claims to hold ----
rm -f "$T/sick"
ok "healthy for the settle time: etcd has no holder any more" wait_for 20 '[ -z "$(etcd_holders)" ]'
ok "the reboot is done" wait_for 5 '[ "$(status_phase)" = idle ]'
check_agree 0 "after the release"

stop_medicd
start_medicd
ok "restarted: registered and has read the group" wait_for 10 \
        "ctl_json status | jget 'd[\"coordinator\"][\"registered\"] and \"budget_allowed\" in d[\"coordinator\"]' | grep -qx true"
check_agree 0 "after the release and a restart"
ok "after the release and a restart: medic_coordinator_holding stays 0" steady medic_coordinator_holding 0 3
is "$(status_holder)" "" "after the release and a restart: medicctl status still says no holder"

# ---- waiting while another node holds the group's only slot ----
client_start other "$MEDIC_GROUP" || bail_out "the simulated node did not start"
client_send other "health ok"
client_send other "acquire other-rule"
ok "another node takes the group's only slot" client_saw other '^granted' 10
is "$(metric medic_coordinator_waiting)" 0 "before the trigger: medic_coordinator_waiting 0"
touch "$T/trigger"
ok "the rule asks and waits: medic_coordinator_waiting 1" wait_for 10 '[ "$(metric medic_coordinator_waiting)" = 1 ]'
ok "medic_coordinator_waiting stays 1 while the other node holds the slot" steady medic_coordinator_waiting 1 4
is "$(etcd_holders)" other "etcd: only the other node holds"
is "$(metric medic_coordinator_holding)" 0 "waiting: medic_coordinator_holding 0"
is "$(status_holder)" "" "waiting: medicctl status says no holder"
: > "$T/sysrq-trigger"
client_send other "release other-rule"
ok "the other node gave the slot back" client_saw other '^released' 10
ok "this node gets the permission and reboots" wait_for 15 'test -s "$T/sysrq-trigger"'
is "$(metric medic_coordinator_waiting)" 0 "granted: medic_coordinator_waiting 0"
check_agree 1 "rebooting after waiting"
stop_medicd
done_testing
